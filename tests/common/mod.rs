//! In-QEMU test harness: the stage image under test and the tests' QEMU
//! machines. Running QEMU (timeout, kill on drop) and reading the stage's
//! records live in the shared host crate (`host/`, also used by xtask).
#![allow(dead_code)]

pub mod pi4;

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use mmu_reloc::fdt::build::Tree;
pub use mmu_reloc_host::Run;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The ELF and raw Image under test: `MMU_RELOC_ELF` (scripts/test.sh sets
/// it after building) or a release build into a separate target dir.
pub fn stage() -> &'static (PathBuf, PathBuf) {
    static STAGE: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    STAGE.get_or_init(|| {
        let elf = match std::env::var_os("MMU_RELOC_ELF") {
            Some(p) => PathBuf::from(p),
            None => mmu_reloc_host::build_stage(
                Path::new(env!("CARGO")),
                Some(&manifest_dir().join("target/qemu-tests")),
            )
            .unwrap_or_else(|e| panic!("{e}")),
        };
        let image = mmu_reloc_host::make_image(&elf).unwrap_or_else(|e| panic!("{e}"));
        (elf, image)
    })
}

pub fn image() -> &'static Path {
    &stage().1
}

pub fn elf() -> &'static Path {
    &stage().0
}

/// A scratch directory for generated files, unique per test.
pub fn scratch(name: &str) -> PathBuf {
    let d = manifest_dir().join("target/test-scratch").join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The tests' machines with the Image under test as `-kernel`; later
/// `arg`s win over the defaults (see [`mmu_reloc_host::Qemu`]).
pub struct Qemu;

impl Qemu {
    /// `-M virt -cpu cortex-a72 -m 1G` with semihosting.
    pub fn virt() -> mmu_reloc_host::Qemu {
        mmu_reloc_host::Qemu::virt().kernel(image())
    }

    /// QEMU's Raspberry Pi 4 with Debian's Pi 4 DTB (console on the mini
    /// UART, EL2, one TCG thread).
    pub fn raspi4b() -> mmu_reloc_host::Qemu {
        mmu_reloc_host::Qemu::raspi4b(&rpi4_dtb()).kernel(image())
    }
}

/// The Debian arm64 cloud kernel (an uncompressed Image), fetched once
/// into target/payloads by scripts/fetch-payloads.sh.
pub fn linux_image() -> PathBuf {
    static FETCH: OnceLock<PathBuf> = OnceLock::new();
    FETCH
        .get_or_init(|| {
            let path = manifest_dir().join("target/payloads/vmlinuz-cloud-arm64");
            if !path.exists() {
                let ok = Command::new("bash")
                    .arg(manifest_dir().join("scripts/fetch-payloads.sh"))
                    .status()
                    .expect("run scripts/fetch-payloads.sh")
                    .success();
                assert!(ok && path.exists(), "fetching the Debian kernel failed");
            }
            path
        })
        .clone()
}

/// The Raspberry Pi 4 DTB from Debian's arm64 kernel package, fetched
/// with the kernel.
pub fn rpi4_dtb() -> PathBuf {
    linux_image();
    manifest_dir().join("target/payloads/bcm2711-rpi-4-b.dtb")
}

/// The FIT test payload (the cloud kernel + a busybox initramfs, see
/// scripts/fit/boot.its), built once by scripts/fetch-payloads.sh, which
/// rebuilds it when its recipe changed.
pub fn fit_payload() -> PathBuf {
    static BUILD: OnceLock<PathBuf> = OnceLock::new();
    BUILD
        .get_or_init(|| {
            // The kernel first: one script run at a time.
            linux_image();
            let ok = Command::new("bash")
                .arg(manifest_dir().join("scripts/fetch-payloads.sh"))
                .stdout(Stdio::null())
                .status()
                .expect("run scripts/fetch-payloads.sh")
                .success();
            let path = manifest_dir().join("target/payloads/fit/boot.itb");
            assert!(ok && path.exists(), "building the FIT payload failed");
            path
        })
        .clone()
}

/// The line the FIT's initramfs `/init` prints when it runs: the sha256 of
/// the busybox binary packed into the initramfs, computed here from the
/// tree it was packed from.
pub fn fit_marker() -> String {
    use sha2::{Digest, Sha256};
    fit_payload();
    let busybox = manifest_dir().join("target/payloads/fit/root/bin/busybox");
    let digest = Sha256::digest(std::fs::read(busybox).expect("the initramfs tree"));
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("FIT-INITRAMFS-OK sha256={hex}")
}

/// Dumps QEMU virt's DTB for the given machine options and command line.
pub fn dump_virt_dtb(dir: &Path, machine: &str, mem: &str, cmdline: &str) -> Vec<u8> {
    dump_virt_dtb_smp(dir, machine, mem, cmdline, 1)
}

/// [`dump_virt_dtb`] of a machine with `smp` CPUs.
pub fn dump_virt_dtb_smp(dir: &Path, machine: &str, mem: &str, cmdline: &str, smp: u32) -> Vec<u8> {
    let path = dir.join("virt.dtb");
    // dumpdtb exits at once; the timeout is there in case it ever does not.
    let ok = Command::new("timeout")
        .args(["-k", "5", "60", "qemu-system-aarch64"])
        .args(["-M", &format!("{machine},dumpdtb={}", path.display())])
        .args(["-cpu", "cortex-a72", "-m", mem, "-display", "none"])
        .args(["-smp", &smp.to_string()])
        .arg("-kernel")
        .arg(image())
        .args(["-append", cmdline])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "qemu dumpdtb failed");
    std::fs::read(path).unwrap()
}

/// Instructions as the little-endian bytes a loader copies.
pub fn words(code: &[u32]) -> Vec<u8> {
    code.iter().flat_map(|c| c.to_le_bytes()).collect()
}

/// `movz xRD, #(imm's halfword hw), lsl #(16 * hw)`.
pub fn movz(rd: u32, imm: u64, hw: u32) -> u32 {
    0xd280_0000 | (hw << 21) | (((imm >> (16 * hw)) as u32 & 0xffff) << 5) | rd
}

/// `movk xRD, #(imm's halfword hw), lsl #(16 * hw)`.
pub fn movk(rd: u32, imm: u64, hw: u32) -> u32 {
    0xf280_0000 | (hw << 21) | (((imm >> (16 * hw)) as u32 & 0xffff) << 5) | rd
}

/// A stand-in for a bootloader's `booti`: x0 = `dtb`, x1-x3 = 0, jump to
/// `entry`. QEMU's generic loader starts a CPU at an address but sets no
/// registers, so tests that load the Image elsewhere run this first.
pub fn trampoline(dtb: u64, entry: u64) -> Vec<u8> {
    let mut code = Vec::new();
    for (rd, v) in [(0, dtb), (16, entry)] {
        code.push(movz(rd, v, 0));
        code.extend((1..4).map(|hw| movk(rd, v, hw)));
    }
    code.extend([movz(1, 0, 0), movz(2, 0, 0), movz(3, 0, 0)]);
    code.push(0xd61f_0200); // br x16
    words(&code)
}

/// Boots the Image at `load` via the generic loader and the trampoline,
/// with `dtb` loaded as plain data (QEMU does not fix it up, so a test can
/// hand the stage a broken tree).
pub fn boot_elsewhere(name: &str, dtb: &[u8], load: u64, extra: &[&str]) -> Run {
    const RAM_BASE: u64 = 0x4000_0000;
    // Clear of QEMU's own DTB at the RAM base and of `load`.
    let dtb_at = RAM_BASE + (8 << 20);
    let tramp_at = RAM_BASE + (12 << 20);
    let dir = scratch(name);
    let dtb_path = dir.join("boot.dtb");
    let tramp_path = dir.join("trampoline.bin");
    std::fs::write(&dtb_path, dtb).unwrap();
    std::fs::write(&tramp_path, trampoline(dtb_at, load)).unwrap();
    Qemu::virt()
        .no_kernel()
        .args(extra)
        .arg("-device")
        .arg(format!(
            "loader,file={},addr={dtb_at:#x}",
            dtb_path.display()
        ))
        .arg("-device")
        .arg(format!(
            "loader,file={},addr={tramp_at:#x},cpu-num=0",
            tramp_path.display()
        ))
        .arg("-device")
        .arg(format!("loader,file={},addr={load:#x}", image().display()))
        .run()
}

/// Device trees as plain data, for tests that hand the stage a tree QEMU
/// would never make: the library's one tree model (`mmu_reloc::fdt::build`),
/// read with the stage's own reader, edited, written back as a fresh
/// blob. Header fields can then be broken with [`set_header`]. `Dtb` only
/// turns the library's `Result`/`Option` into test panics.
pub use mmu_reloc::fdt::build::N as DtNode;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dtb(pub Tree);

impl Deref for Dtb {
    type Target = Tree;
    fn deref(&self) -> &Tree {
        &self.0
    }
}

impl DerefMut for Dtb {
    fn deref_mut(&mut self) -> &mut Tree {
        &mut self.0
    }
}

impl Dtb {
    /// Reads a valid blob (panics on a malformed one: inputs are QEMU's).
    pub fn parse(blob: &[u8]) -> Dtb {
        Dtb(Tree::parse(blob).expect("a valid DTB to edit"))
    }

    /// The node at an absolute path; panics if there is none.
    pub fn node_mut(&mut self, path: &str) -> &mut DtNode {
        self.0
            .node_mut(path)
            .unwrap_or_else(|| panic!("no node {path}"))
    }

    /// Removes the node at `path`; panics if there is none.
    pub fn remove_node(&mut self, path: &str) {
        assert!(self.0.remove_node(path), "no node {path}");
    }

    /// In a FIT tree: adds an uncompressed arm64 `flat_dt` image `fdt-1`
    /// holding `data`, with one hash node (`algo`, `value`), and names it
    /// as `conf-1`'s `fdt`.
    pub fn add_fit_fdt(&mut self, data: Vec<u8>, algo: &str, value: Vec<u8>) {
        let mut hash = DtNode::new("hash-1");
        hash.set("algo", dt_str(algo)).set("value", value);
        let mut image = DtNode::new("fdt-1");
        image
            .set("data", data)
            .set("type", dt_str("flat_dt"))
            .set("arch", dt_str("arm64"))
            .set("compression", dt_str("none"));
        image.kids.push(hash);
        self.node_mut("/images").kids.push(image);
        self.node_mut("/configurations/conf-1")
            .set("fdt", dt_str("fdt-1"));
    }
}

/// Byte offsets of the DTB header fields: the library's.
#[allow(unused_imports)] // each test file uses some
pub use mmu_reloc::fdt::header::{
    LAST_COMP_VERSION as HDR_LAST_COMP_VERSION, MAGIC as HDR_MAGIC,
    OFF_DT_STRINGS as HDR_OFF_DT_STRINGS, OFF_DT_STRUCT as HDR_OFF_DT_STRUCT,
    OFF_MEM_RSVMAP as HDR_OFF_MEM_RSVMAP, SIZE_DT_STRINGS as HDR_SIZE_DT_STRINGS,
    SIZE_DT_STRUCT as HDR_SIZE_DT_STRUCT, TOTALSIZE as HDR_TOTALSIZE, VERSION as HDR_VERSION,
};

pub fn header(blob: &[u8], field: usize) -> u32 {
    u32::from_be_bytes(blob[field..field + 4].try_into().unwrap())
}

pub fn set_header(blob: &mut [u8], field: usize, v: u32) {
    blob[field..field + 4].copy_from_slice(&v.to_be_bytes());
}

/// A string property's value (NUL-terminated).
pub fn dt_str(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// A property of big-endian cells.
pub fn dt_cells(cells: &[u32]) -> Vec<u8> {
    cells.iter().flat_map(|c| c.to_be_bytes()).collect()
}

/// Encodes `(address, size)` pairs as a `reg` with `ac` address and `sc`
/// size cells; `None` if a value does not fit.
pub fn dt_reg(ac: u32, sc: u32, entries: &[(u64, u64)]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for &(a, s) in entries {
        out.extend(dt_number(a, ac)?);
        out.extend(dt_number(s, sc)?);
    }
    Some(out)
}

/// `v` as `cells` big-endian cells; `None` if it does not fit.
pub fn dt_number(v: u64, cells: u32) -> Option<Vec<u8>> {
    match cells {
        1 => u32::try_from(v).ok().map(|v| v.to_be_bytes().to_vec()),
        2 => Some(v.to_be_bytes().to_vec()),
        _ => None,
    }
}

/// Reads `cells` (1 or 2) big-endian cells at the start of `b`.
pub fn dt_read(b: &[u8], cells: u32) -> u64 {
    b.chunks_exact(4).take(cells as usize).fold(0, |acc, c| {
        (acc << 32) | u32::from_be_bytes(c.try_into().unwrap()) as u64
    })
}
