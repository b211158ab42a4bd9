//! The platform as the DTB describes it: RAM, reserved memory, the console
//! UART, PSCI, CPUs, the command line and the initrd. Nothing here is a
//! board constant; every address comes from the tree. Pure: takes a parsed
//! [`Fdt`], returns values or an error naming what is wrong.

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;

use crate::fdt::{Fdt, FdtError, Node, NodePath, Prop};
use crate::region::{self, Region};

/// UART models the stage can drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UartKind {
    /// Arm PrimeCell PL011 (`arm,pl011`): QEMU virt, Pi 4 with disable-bt.
    Pl011,
    /// BCM2835 auxiliary mini UART (`brcm,bcm2835-aux-uart`): Pi 4 default.
    MiniUart,
}

impl UartKind {
    pub const fn name(self) -> &'static str {
        match self {
            UartKind::Pl011 => "pl011",
            UartKind::MiniUart => "bcm2835-aux-uart",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uart {
    pub kind: UartKind,
    /// CPU physical address of the register block (after `ranges`).
    pub regs: Region,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciMethod {
    Hvc,
    Smc,
}

impl PsciMethod {
    pub const fn name(self) -> &'static str {
        match self {
            PsciMethod::Hvc => "hvc",
            PsciMethod::Smc => "smc",
        }
    }
}

/// A CPU whose `enable-method` is `spin-table`: its MPIDR affinity (`reg`)
/// and the `cpu-release-addr` it waits at for the kernel's entry point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpinCpu {
    pub mpidr: u64,
    pub release: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform<'a> {
    pub model: &'a str,
    /// RAM from every `/memory` node: sorted, disjoint, non-empty.
    pub ram: Vec<Region>,
    /// `/reserved-memory` children with a static `reg`, and `/memreserve/`.
    pub reserved: Vec<Region>,
    /// The `no-map` subset of `/reserved-memory`: never mapped, not even
    /// as Normal memory (speculative reads there can fault on some boards).
    pub no_map: Vec<Region>,
    pub bootargs: &'a str,
    pub initrd: Option<Region>,
    pub console: Option<Uart>,
    pub psci: Option<PsciMethod>,
    pub cpus: u32,
    /// The `spin-table` CPUs under `/cpus`.
    pub spin_table: Vec<SpinCpu>,
    /// MPIDR affinities of the `/cpus` children whose `enable-method` is
    /// `psci` (the next kernel starts them with CPU_ON).
    pub psci_cpus: Vec<u64>,
    /// MPIDR affinity (`reg`) of every CPU node under `/cpus` that has a
    /// one-entry `reg`, in DTB order: the CPUs `cpus=` can bring up.
    pub cpu_ids: Vec<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlatformError<'a> {
    Fdt(FdtError),
    NoMemory,
    /// `#address-cells`/`#size-cells` outside 1..=2 (or 0..=2 for size).
    BadCells {
        node: &'a str,
        address: u32,
        size: u32,
    },
    /// A `reg` whose length is not a whole number of entries.
    BadReg {
        node: &'a str,
        len: usize,
    },
    ZeroSizeMemory {
        node: &'a str,
        start: u64,
    },
    OverflowingRegion {
        node: &'a str,
        start: u64,
        size: u64,
    },
    OverlappingMemory {
        a: Region,
        b: Region,
    },
    /// `stdout-path` names no node.
    StdoutMissing {
        path: &'a str,
    },
    /// `stdout-path` names a node the stage cannot drive.
    StdoutUnsupported {
        path: &'a str,
        compatible: &'a str,
    },
    /// A node's address cannot be translated to a CPU address.
    Untranslatable {
        node: &'a str,
    },
    BadInitrd {
        start: u64,
        end: u64,
    },
    BadString {
        node: &'a str,
        prop: &'static str,
    },
    /// A spin-table CPU without a usable `reg` or `cpu-release-addr`.
    BadSpinTable {
        node: &'a str,
    },
}

impl fmt::Display for PlatformError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PlatformError::Fdt(e) => write!(f, "{e}"),
            PlatformError::BadSpinTable { node } => write!(
                f,
                "DTB node '{node}': enable-method spin-table needs a one-entry reg and a 64-bit cpu-release-addr"
            ),
            PlatformError::NoMemory => {
                f.write_str("DTB has no /memory node with a reg: RAM unknown")
            }
            PlatformError::BadCells {
                node,
                address,
                size,
            } => write!(
                f,
                "DTB node '{node}': #address-cells={address} #size-cells={size} unsupported (need 1 or 2)"
            ),
            PlatformError::BadReg { node, len } => {
                write!(
                    f,
                    "DTB node '{node}': reg of {len} bytes is not a whole number of entries"
                )
            }
            PlatformError::ZeroSizeMemory { node, start } => {
                write!(
                    f,
                    "DTB node '{node}': memory region at {start:#x} has size 0"
                )
            }
            PlatformError::OverflowingRegion { node, start, size } => write!(
                f,
                "DTB node '{node}': region {start:#x} + {size:#x} overflows the address space"
            ),
            PlatformError::OverlappingMemory { a, b } => {
                write!(f, "DTB memory regions {a} and {b} overlap")
            }
            PlatformError::StdoutMissing { path } => {
                write!(f, "DTB /chosen/stdout-path '{path}' names no node")
            }
            PlatformError::StdoutUnsupported { path, compatible } => write!(
                f,
                "DTB /chosen/stdout-path '{path}' is '{compatible}': no driver (supported: arm,pl011, brcm,bcm2835-aux-uart)"
            ),
            PlatformError::Untranslatable { node } => {
                write!(
                    f,
                    "DTB node '{node}': address not translatable through parent ranges"
                )
            }
            PlatformError::BadInitrd { start, end } => {
                write!(
                    f,
                    "DTB /chosen initrd [{start:#x}, {end:#x}) is empty or inverted"
                )
            }
            PlatformError::BadString { node, prop } => {
                write!(f, "DTB node '{node}': property {prop} is not a string")
            }
        }
    }
}

impl From<FdtError> for PlatformError<'_> {
    fn from(e: FdtError) -> Self {
        PlatformError::Fdt(e)
    }
}

type Result<'a, T> = core::result::Result<T, PlatformError<'a>>;

/// `#address-cells`, `#size-cells` a node gives its children (spec
/// defaults 2 and 1).
fn cells<'a>(fdt: &Fdt<'a>, node: Node<'a>) -> Result<'a, (u32, u32)> {
    let get = |name, default| {
        fdt.prop(node, name)
            .map_or(Some(default), |p| p.as_uint().map(|v| v as u32))
    };
    let (a, s) = (get("#address-cells", 2), get("#size-cells", 1));
    match (a, s) {
        (Some(a @ 1..=2), Some(s @ 0..=2)) => Ok((a, s)),
        _ => Err(PlatformError::BadCells {
            node: node.name,
            address: a.unwrap_or(0),
            size: s.unwrap_or(0),
        }),
    }
}

fn read_cells(b: &[u8], n: u32) -> u64 {
    b.chunks_exact(4).take(n as usize).fold(0, |acc, c| {
        (acc << 32) | u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as u64
    })
}

/// The `(address, size)` entries of `node`'s `reg` under `(ac, sc)` cells.
fn regs<'a>(fdt: &Fdt<'a>, node: Node<'a>, (ac, sc): (u32, u32)) -> Result<'a, Vec<(u64, u64)>> {
    let Some(reg) = fdt.prop(node, "reg") else {
        return Ok(Vec::new());
    };
    let entry = 4 * (ac + sc) as usize;
    if reg.value.len() % entry != 0 {
        return Err(PlatformError::BadReg {
            node: node.name,
            len: reg.value.len(),
        });
    }
    Ok(reg
        .value
        .chunks_exact(entry)
        .map(|e| (read_cells(e, ac), read_cells(&e[4 * ac as usize..], sc)))
        .collect())
}

fn region_of<'a>(node: &'a str, (start, size): (u64, u64)) -> Result<'a, Region> {
    Region::from_len(start, size).ok_or(PlatformError::OverflowingRegion { node, start, size })
}

/// Translates `addr` from the address space of `chain`'s last node's
/// parent up to the CPU's, through each ancestor's `ranges`.
fn translate<'a>(fdt: &Fdt<'a>, chain: &[Node<'a>], mut addr: u64) -> Result<'a, u64> {
    let target = chain.last().map_or("", |n| n.name);
    // chain = [root, a, b, node]: node's reg is in b's space; b's ranges map
    // b-space to a-space, a's ranges map a-space to root space.
    for i in (1..chain.len().saturating_sub(1)).rev() {
        let bus = chain[i];
        let (child_ac, child_sc) = cells(fdt, bus)?;
        let (parent_ac, _) = cells(fdt, chain[i - 1])?;
        let Some(ranges) = fdt.prop(bus, "ranges") else {
            return Err(PlatformError::Untranslatable { node: target });
        };
        if ranges.value.is_empty() {
            continue; // identity
        }
        let entry = 4 * (child_ac + parent_ac + child_sc) as usize;
        let hit = ranges.value.chunks_exact(entry).find_map(|e| {
            let child = read_cells(e, child_ac);
            let parent = read_cells(&e[4 * child_ac as usize..], parent_ac);
            let size = read_cells(&e[4 * (child_ac + parent_ac) as usize..], child_sc);
            (addr >= child && addr - child < size).then(|| parent + (addr - child))
        });
        addr = hit.ok_or(PlatformError::Untranslatable { node: target })?;
    }
    Ok(addr)
}

/// Resolves `/chosen/stdout-path` (a path or an alias, with an optional
/// `:options` suffix) to a UART. `Ok(None)` when there is no stdout-path.
pub fn console<'a>(fdt: &Fdt<'a>) -> Result<'a, Option<Uart>> {
    let Some(chosen) = fdt.find("/chosen") else {
        return Ok(None);
    };
    let Some(prop) = fdt.prop(chosen, "stdout-path") else {
        return Ok(None);
    };
    let full = prop.as_str().ok_or(PlatformError::BadString {
        node: "chosen",
        prop: "stdout-path",
    })?;
    let path = full.split(':').next().unwrap_or(full);
    let resolved = if path.starts_with('/') {
        Some(path)
    } else {
        fdt.find("/aliases")
            .and_then(|a| fdt.prop(a, path))
            .and_then(|p| p.as_str())
    };
    let node_path: NodePath<'a> = resolved
        .and_then(|p| fdt.find_path(p))
        .ok_or(PlatformError::StdoutMissing { path: full })?;
    let node = node_path.node();
    // A UART the firmware left `disabled` may be unclocked or its pins
    // muxed elsewhere: writing to it could wait forever. No console then.
    if let Some(status) = fdt.prop(node, "status").and_then(|p| p.as_str())
        && !matches!(status, "okay" | "ok")
    {
        return Ok(None);
    }
    let compat = fdt.prop(node, "compatible");
    let kind = compat.and_then(|c| {
        c.str_list().find_map(|s| match s {
            "arm,pl011" => Some(UartKind::Pl011),
            "brcm,bcm2835-aux-uart" => Some(UartKind::MiniUart),
            _ => None,
        })
    });
    let Some(kind) = kind else {
        return Err(PlatformError::StdoutUnsupported {
            path: full,
            compatible: compat
                .and_then(|c| c.str_list().next())
                .unwrap_or("no compatible"),
        });
    };
    let chain = node_path.chain();
    let parent = chain
        .get(chain.len().wrapping_sub(2))
        .copied()
        .unwrap_or(fdt.root());
    let &(bus_addr, size) = regs(fdt, node, cells(fdt, parent)?)?
        .first()
        .ok_or(PlatformError::Untranslatable { node: node.name })?;
    let start = translate(fdt, chain, bus_addr)?;
    let regs = region_of(node.name, (start, size.max(1)))?;
    Ok(Some(Uart { kind, regs }))
}

/// `/chosen/linux,initrd-start/end`, if both are there and well formed.
/// Allocates nothing (the stage checks it before its heap exists).
pub fn initrd(fdt: &Fdt<'_>) -> Option<Region> {
    initrd_checked(fdt).ok().flatten()
}

fn initrd_checked<'a>(fdt: &Fdt<'a>) -> Result<'a, Option<Region>> {
    let chosen = fdt.find("/chosen");
    let prop = |name| {
        chosen
            .and_then(|c| fdt.prop(c, name))
            .and_then(|p| p.as_uint())
    };
    match (prop("linux,initrd-start"), prop("linux,initrd-end")) {
        (Some(start), Some(end)) if end > start => Ok(Some(Region::new(start, end))),
        (Some(start), Some(end)) => Err(PlatformError::BadInitrd { start, end }),
        _ => Ok(None),
    }
}

/// Whether a child of the root describes RAM: `device_type = "memory"`, or
/// no `device_type` and the name `memory` (with or without a unit address).
pub fn is_memory_node<'a>(fdt: &Fdt<'a>, node: Node<'a>) -> bool {
    fdt.prop(node, "device_type")
        .and_then(|p| p.as_str())
        .map_or(node.name.split('@').next() == Some("memory"), |t| {
            t == "memory"
        })
}

/// Everything the stage needs from the tree.
pub fn discover<'a>(fdt: &Fdt<'a>) -> Result<'a, Platform<'a>> {
    let root = fdt.root();
    let root_cells = cells(fdt, root)?;
    let model = fdt
        .prop(root, "model")
        .and_then(|p| p.as_str())
        .unwrap_or("unknown");

    let mut ram = Vec::new();
    for node in fdt.children(root) {
        if !is_memory_node(fdt, node) {
            continue;
        }
        for r in regs(fdt, node, root_cells)? {
            if r.1 == 0 {
                return Err(PlatformError::ZeroSizeMemory {
                    node: node.name,
                    start: r.0,
                });
            }
            ram.push(region_of(node.name, r)?);
        }
    }
    if ram.is_empty() {
        return Err(PlatformError::NoMemory);
    }
    if let Some((a, b)) = region::first_overlap(&ram) {
        return Err(PlatformError::OverlappingMemory { a, b });
    }
    region::normalize(&mut ram);

    let mut reserved = Vec::new();
    let mut no_map = Vec::new();
    if let Some(rm) = fdt.find("/reserved-memory") {
        let rm_cells = cells(fdt, rm)?;
        for child in fdt.children(rm) {
            let unmapped = fdt.prop(child, "no-map").is_some();
            for r in regs(fdt, child, rm_cells)? {
                let r = region_of(child.name, r)?;
                reserved.push(r);
                if unmapped {
                    no_map.push(r);
                }
            }
        }
    }
    region::normalize(&mut no_map);
    for entry in fdt.reservations() {
        reserved.push(region_of("/memreserve/", entry?)?);
    }
    // A spin-table CPU waits at its cpu-release-addr (maybe in the stage's
    // holding pen): nothing the stage writes may land on that page, even
    // where the DTB forgot to reserve it.
    let spin_table = spin_table(fdt)?;
    for c in &spin_table {
        let page = c.release & !(region::SZ_4K - 1);
        reserved.push(region_of("cpu-release-addr", (page, region::SZ_4K))?);
    }
    region::normalize(&mut reserved);

    let chosen = fdt.find("/chosen");
    let chosen_str = |prop| match chosen.and_then(|c| fdt.prop(c, prop)) {
        None => Ok(""),
        Some(p) => p.as_str().ok_or(PlatformError::BadString {
            node: "chosen",
            prop,
        }),
    };
    let bootargs = chosen_str("bootargs")?;
    let initrd = initrd_checked(fdt)?;

    let psci =
        fdt.find("/psci")
            .and_then(|n| match fdt.prop(n, "method").and_then(|p| p.as_str()) {
                Some("hvc") => Some(PsciMethod::Hvc),
                Some("smc") => Some(PsciMethod::Smc),
                _ => None,
            });
    let cpus = fdt.find("/cpus").map_or(0, |c| {
        fdt.children(c).filter(|n| is_cpu(fdt, *n)).count() as u32
    });

    let cpu_ids = cpu_ids(fdt)?;

    Ok(Platform {
        model,
        ram,
        reserved,
        no_map,
        bootargs,
        initrd,
        console: console(fdt)?,
        psci,
        cpus,
        spin_table,
        psci_cpus: psci_cpus(fdt)?,
        cpu_ids,
    })
}

/// Whether `/cpus` child `n` is a CPU (and not, say, `cpu-map`).
fn is_cpu<'a>(fdt: &Fdt<'a>, n: Node<'a>) -> bool {
    fdt.prop(n, "device_type").and_then(|p| p.as_str()) == Some("cpu")
        || n.name.split('@').next() == Some("cpu")
}

/// A CPU node's MPIDR affinity: its one-entry `reg` (no size: `#size-cells`
/// is 0 under `/cpus`); `None` for any other `reg`.
fn cpu_reg<'a>(fdt: &Fdt<'a>, n: Node<'a>, ac: u32) -> Result<'a, Option<u64>> {
    Ok(match regs(fdt, n, (ac, 0))?.as_slice() {
        [(mpidr, _)] => Some(*mpidr),
        _ => None,
    })
}

/// The MPIDR affinity of each CPU node with a one-entry `reg`.
fn cpu_ids<'a>(fdt: &Fdt<'a>) -> Result<'a, Vec<u64>> {
    let Some(cpus) = fdt.find("/cpus") else {
        return Ok(Vec::new());
    };
    let (ac, _) = cells(fdt, cpus)?;
    let mut out = Vec::new();
    for n in fdt.children(cpus).filter(|n| is_cpu(fdt, *n)) {
        out.extend(cpu_reg(fdt, n, ac)?);
    }
    Ok(out)
}

/// Why `cpus=` cannot be met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpusError {
    /// More CPUs asked for than the DTB lists.
    TooMany { asked: u32, listed: u32 },
}

impl fmt::Display for CpusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CpusError::TooMany { asked, listed } => write!(
                f,
                "cpus={asked}: the DTB lists {listed} CPU(s) with a reg under /cpus"
            ),
        }
    }
}

/// The MPIDR affinities of the `/cpus` children with `enable-method =
/// "psci"`. A node without a one-entry `reg` is skipped: PSCI cannot
/// address it, and the next kernel will not either.
fn psci_cpus<'a>(fdt: &Fdt<'a>) -> Result<'a, Vec<u64>> {
    let Some(cpus) = fdt.find("/cpus") else {
        return Ok(Vec::new());
    };
    let (ac, _) = cells(fdt, cpus)?;
    Ok(fdt
        .children(cpus)
        .filter(|n| fdt.prop(*n, "enable-method").and_then(|p| p.as_str()) == Some("psci"))
        .filter_map(|n| match regs(fdt, n, (ac, 0)).ok()?.as_slice() {
            [(mpidr, _)] => Some(*mpidr),
            _ => None,
        })
        .collect())
}

/// Why a spin-table CPU's `cpu-release-addr` cannot be found or rewritten
/// in a DTB (the one handed on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseAddrError {
    Fdt(FdtError),
    /// No `/cpus`, or its `#address-cells` is not 1 or 2.
    NoCpus,
    /// No `/cpus` child has `reg = <mpidr>`.
    NoCpu {
        mpidr: u64,
    },
    /// The node's `enable-method` is not `spin-table`.
    NotSpinTable {
        mpidr: u64,
    },
    /// `cpu-release-addr` missing (`len` None) or not 8 bytes (one 64-bit
    /// value, or two 32-bit cells holding one).
    BadSize {
        mpidr: u64,
        len: Option<usize>,
    },
}

impl fmt::Display for ReleaseAddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ReleaseAddrError::Fdt(e) => write!(f, "{e}"),
            ReleaseAddrError::NoCpus => f.write_str("no /cpus node with 1 or 2 #address-cells"),
            ReleaseAddrError::NoCpu { mpidr } => write!(f, "no /cpus node with reg {mpidr:#x}"),
            ReleaseAddrError::NotSpinTable { mpidr } => {
                write!(f, "cpu {mpidr:#x}: enable-method is not spin-table")
            }
            ReleaseAddrError::BadSize { mpidr, len: None } => {
                write!(f, "cpu {mpidr:#x}: no cpu-release-addr")
            }
            ReleaseAddrError::BadSize {
                mpidr,
                len: Some(len),
            } => write!(
                f,
                "cpu {mpidr:#x}: cpu-release-addr of {len} bytes (a 64-bit address needs 8)"
            ),
        }
    }
}

impl From<FdtError> for ReleaseAddrError {
    fn from(e: FdtError) -> Self {
        ReleaseAddrError::Fdt(e)
    }
}

/// The `cpu-release-addr` property (8 bytes) of the spin-table CPU whose
/// `reg` is `mpidr`. Nodes with a malformed `reg` cannot be that CPU and
/// are passed over.
pub fn release_addr_prop<'a>(
    fdt: &Fdt<'a>,
    mpidr: u64,
) -> core::result::Result<Prop<'a>, ReleaseAddrError> {
    let cpus = fdt.find("/cpus").ok_or(ReleaseAddrError::NoCpus)?;
    let (ac, _) = cells(fdt, cpus).map_err(|_| ReleaseAddrError::NoCpus)?;
    let node = fdt
        .children(cpus)
        .find(|n| matches!(regs(fdt, *n, (ac, 0)).as_deref(), Ok([(m, _)]) if *m == mpidr))
        .ok_or(ReleaseAddrError::NoCpu { mpidr })?;
    if fdt.prop(node, "enable-method").and_then(|p| p.as_str()) != Some("spin-table") {
        return Err(ReleaseAddrError::NotSpinTable { mpidr });
    }
    match fdt.prop(node, "cpu-release-addr") {
        Some(p) if p.value.len() == 8 => Ok(p),
        p => Err(ReleaseAddrError::BadSize {
            mpidr,
            len: p.map(|p| p.value.len()),
        }),
    }
}

/// Points the spin-table CPU `mpidr`'s `cpu-release-addr` at `addr`, in
/// place (the value keeps its 8 bytes, so nothing moves); returns the
/// address it had. The blob is untouched on error.
pub fn set_release_addr(
    blob: &mut [u8],
    mpidr: u64,
    addr: u64,
) -> core::result::Result<u64, ReleaseAddrError> {
    let (off, old) = {
        let f = Fdt::new(blob)?;
        let p = release_addr_prop(&f, mpidr)?;
        (p.blob_offset, p.as_uint().unwrap_or(0))
    };
    crate::fdt::set_uint_property(blob, off, addr)?;
    Ok(old)
}

/// How many CPUs `cpus=` means (`None`: `all`) on a DTB listing `listed`
/// usable CPUs; `all` is at least the boot CPU.
pub fn cpus_wanted(asked: Option<u32>, listed: u32) -> core::result::Result<u32, CpusError> {
    match asked {
        None => Ok(listed.max(1)),
        Some(n) if n > listed.max(1) => Err(CpusError::TooMany { asked: n, listed }),
        Some(n) => Ok(n),
    }
}

/// The CPUs `/cpus` brings up through a spin table (`enable-method =
/// "spin-table"`), as the next kernel will look for them.
fn spin_table<'a>(fdt: &Fdt<'a>) -> Result<'a, Vec<SpinCpu>> {
    let Some(cpus) = fdt.find("/cpus") else {
        return Ok(Vec::new());
    };
    let (ac, _) = cells(fdt, cpus)?;
    let mut out = Vec::new();
    for n in fdt.children(cpus) {
        if fdt.prop(n, "enable-method").and_then(|p| p.as_str()) != Some("spin-table") {
            continue;
        }
        let bad = PlatformError::BadSpinTable { node: n.name };
        let mpidr = cpu_reg(fdt, n, ac)?.ok_or(bad)?;
        let release = fdt
            .prop(n, "cpu-release-addr")
            .filter(|p| p.value.len() == 8)
            .and_then(|p| p.as_uint())
            .ok_or(bad)?;
        out.push(SpinCpu { mpidr, release });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fdt::build::{N, dtb};

    fn virt(mem: Option<N>) -> N {
        let mut root = N::new("")
            .u32("#address-cells", 2)
            .u32("#size-cells", 2)
            .str("model", "linux,dummy-virt")
            .kid(
                N::new("chosen")
                    .str("bootargs", "mode=info")
                    .str("stdout-path", "/pl011@9000000")
                    .u32("linux,initrd-start", 0x4800_0000)
                    .u32("linux,initrd-end", 0x4810_0000),
            )
            .kid(
                N::new("psci")
                    .str("compatible", "arm,psci-1.0")
                    .str("method", "hvc"),
            )
            .kid(
                N::new("cpus")
                    .kid(N::new("cpu@0").str("device_type", "cpu"))
                    .kid(N::new("cpu@1").str("device_type", "cpu")),
            )
            .kid(
                N::new("pl011@9000000")
                    .str("compatible", "arm,pl011\0arm,primecell")
                    .reg64(&[(0x900_0000, 0x1000)]),
            )
            .kid(
                N::new("reserved-memory")
                    .u32("#address-cells", 2)
                    .u32("#size-cells", 2)
                    .with_prop("ranges", &[])
                    .kid(
                        N::new("fw@50000000")
                            .reg64(&[(0x5000_0000, 0x10_0000)])
                            .with_prop("no-map", &[]),
                    )
                    .kid(N::new("cma").cells("size", &[0, 0x100_0000])),
            );
        if let Some(m) = mem {
            root = root.kid(m);
        }
        root
    }

    #[test]
    fn cpus_wanted_is_bounded_by_the_dtb() {
        assert_eq!(cpus_wanted(Some(1), 0), Ok(1));
        assert_eq!(cpus_wanted(None, 4), Ok(4));
        assert_eq!(cpus_wanted(None, 0), Ok(1));
        assert_eq!(cpus_wanted(Some(4), 4), Ok(4));
        assert_eq!(
            cpus_wanted(Some(5), 4).unwrap_err().to_string(),
            "cpus=5: the DTB lists 4 CPU(s) with a reg under /cpus"
        );
    }

    #[test]
    fn spin_table_cpus_are_found_with_their_release_addresses() {
        let cpu = |n: u32, release: Option<u64>| {
            let c = N::new(&format!("cpu@{n}"))
                .str("device_type", "cpu")
                .u32("reg", n);
            match release {
                Some(r) => c
                    .str("enable-method", "spin-table")
                    .cells("cpu-release-addr", &[(r >> 32) as u32, r as u32]),
                None => c.str("enable-method", "psci"),
            }
        };
        let tree = |kids| with_cpus(1, kids);
        let b = tree(alloc::vec![
            cpu(0, Some(0xd8)),
            cpu(1, Some(0xe0)),
            cpu(2, None)
        ]);
        let p = discover(&Fdt::new(&b).unwrap()).unwrap();
        assert_eq!(
            p.spin_table,
            [
                SpinCpu {
                    mpidr: 0,
                    release: 0xd8
                },
                SpinCpu {
                    mpidr: 1,
                    release: 0xe0
                }
            ]
        );
        // Every CPU with a reg, whatever its enable method, in DTB order.
        assert_eq!(p.cpu_ids, [0, 1, 2]);
        // Their page is kept from every writer, reserved in the DTB or not.
        assert!(
            p.reserved.contains(&Region::new(0, 0x1000)),
            "{:?}",
            p.reserved
        );
        // A spin-table CPU without its release address is a broken tree.
        let broken = N::new("cpu@3")
            .str("device_type", "cpu")
            .u32("reg", 3)
            .str("enable-method", "spin-table");
        let b = tree(alloc::vec![broken]);
        let e = discover(&Fdt::new(&b).unwrap()).unwrap_err();
        assert!(e.to_string().contains("'cpu@3'"), "{e}");
    }

    /// A `/cpus` with `#address-cells = ac` and the given children, in the
    /// virt test tree.
    fn with_cpus(ac: u32, kids: alloc::vec::Vec<N>) -> alloc::vec::Vec<u8> {
        let mut cpus = N::new("cpus")
            .u32("#address-cells", ac)
            .u32("#size-cells", 0);
        for k in kids {
            cpus = cpus.kid(k);
        }
        let mut root = virt(Some(mem(&[(0x4000_0000, 1 << 30)])));
        root.kids.retain(|k| k.name != "cpus");
        dtb(&root.kid(cpus), &[])
    }

    fn spin_cpu(reg: &[u32], release: &[u8]) -> N {
        N::new(&format!("cpu@{}", reg.last().unwrap()))
            .str("device_type", "cpu")
            .cells("reg", reg)
            .str("enable-method", "spin-table")
            .with_prop("cpu-release-addr", release)
    }

    #[test]
    fn release_addr_is_rewritten_in_place() {
        // Two 32-bit cells (as dtc writes <0x0 0xe0>) and one 64-bit value
        // are the same 8 bytes; a 2-cell reg with Aff3 set is matched whole.
        let b = with_cpus(
            2,
            alloc::vec![
                spin_cpu(&[0, 0], &0xd8u64.to_be_bytes()),
                spin_cpu(&[0, 1], &[0, 0, 0, 0, 0, 0, 0, 0xe0]),
                spin_cpu(&[0x1, 0x100], &0x1_0000_00f0u64.to_be_bytes()),
                N::new("cpu@3")
                    .cells("reg", &[0, 3])
                    .str("enable-method", "psci"),
            ],
        );
        let mut e = b.clone();
        assert_eq!(set_release_addr(&mut e, 1, 0x7f00_1018), Ok(0xe0));
        assert_eq!(
            set_release_addr(&mut e, 0x1_0000_0100, 0x2_0000_0000),
            Ok(0x1_0000_00f0)
        );
        assert_eq!(e.len(), b.len(), "nothing moved");
        let p = discover(&Fdt::new(&e).unwrap()).unwrap();
        let releases: alloc::vec::Vec<_> =
            p.spin_table.iter().map(|c| (c.mpidr, c.release)).collect();
        assert_eq!(
            releases,
            [(0, 0xd8), (1, 0x7f00_1018), (0x1_0000_0100, 0x2_0000_0000)]
        );
        assert_eq!(p.psci_cpus, [3]);
    }

    #[test]
    fn release_addr_edit_refuses_hostile_trees_and_leaves_them_alone() {
        let one_cell = with_cpus(
            1,
            alloc::vec![
                spin_cpu(&[1], &[0, 0, 0, 0xe0]),
                spin_cpu(&[2], &[0; 12]),
                N::new("cpu@3")
                    .u32("reg", 3)
                    .str("enable-method", "spin-table"),
                N::new("cpu@4").u32("reg", 4).str("enable-method", "psci"),
                // A reg of the wrong length is passed over, not a panic.
                spin_cpu(&[0, 5], &[0; 8]),
            ],
        );
        for (mpidr, want) in [
            (
                1,
                ReleaseAddrError::BadSize {
                    mpidr: 1,
                    len: Some(4),
                },
            ),
            (
                2,
                ReleaseAddrError::BadSize {
                    mpidr: 2,
                    len: Some(12),
                },
            ),
            (
                3,
                ReleaseAddrError::BadSize {
                    mpidr: 3,
                    len: None,
                },
            ),
            (4, ReleaseAddrError::NotSpinTable { mpidr: 4 }),
            (5, ReleaseAddrError::NoCpu { mpidr: 5 }),
            (9, ReleaseAddrError::NoCpu { mpidr: 9 }),
        ] {
            let mut e = one_cell.clone();
            assert_eq!(set_release_addr(&mut e, mpidr, 0x1000), Err(want));
            assert_eq!(e, one_cell, "cpu {mpidr}: the blob changed on error");
            assert!(!want.to_string().is_empty());
        }
        // No /cpus at all; /cpus with 3 address cells; not a DTB.
        let mut root = virt(Some(mem(&[(0x4000_0000, 1 << 30)])));
        root.kids.retain(|k| k.name != "cpus");
        let mut none = dtb(&root, &[]);
        assert_eq!(
            set_release_addr(&mut none, 0, 8),
            Err(ReleaseAddrError::NoCpus)
        );
        let mut three = with_cpus(3, alloc::vec![]);
        assert_eq!(
            set_release_addr(&mut three, 0, 8),
            Err(ReleaseAddrError::NoCpus)
        );
        let mut junk = alloc::vec![0u8; 64];
        assert!(matches!(
            set_release_addr(&mut junk, 0, 8),
            Err(ReleaseAddrError::Fdt(_))
        ));
    }

    #[test]
    fn a_disabled_stdout_uart_is_no_console() {
        for (status, expected) in [
            ("okay", true),
            ("ok", true),
            ("disabled", false),
            ("fail", false),
        ] {
            let mut root = virt(Some(mem(&[(0x4000_0000, 1 << 30)])));
            let uart = root
                .kids
                .iter_mut()
                .find(|k| k.name == "pl011@9000000")
                .unwrap();
            *uart = uart.clone().str("status", status);
            let b = dtb(&root, &[]);
            let f = Fdt::new(&b).unwrap();
            assert_eq!(console(&f).unwrap().is_some(), expected, "status {status}");
        }
    }

    fn mem(regs: &[(u64, u64)]) -> N {
        N::new("memory@40000000")
            .str("device_type", "memory")
            .reg64(regs)
    }

    #[test]
    fn qemu_virt_like_tree() {
        let b = dtb(
            &virt(Some(mem(&[(0x4000_0000, 1 << 30)]))),
            &[(0x4400_0000, 0x1000)],
        );
        let f = Fdt::new(&b).unwrap();
        let p = discover(&f).unwrap();
        assert_eq!(p.model, "linux,dummy-virt");
        assert_eq!(p.ram, [Region::new(0x4000_0000, 0x8000_0000)]);
        assert_eq!(
            p.reserved,
            [
                Region::new(0x4400_0000, 0x4400_1000),
                Region::new(0x5000_0000, 0x5010_0000)
            ]
        );
        assert_eq!(p.no_map, [Region::new(0x5000_0000, 0x5010_0000)]);
        assert_eq!(p.bootargs, "mode=info");
        assert_eq!(p.initrd, Some(Region::new(0x4800_0000, 0x4810_0000)));
        assert_eq!(p.psci, Some(PsciMethod::Hvc));
        assert_eq!(p.cpus, 2);
        assert_eq!(
            p.console,
            Some(Uart {
                kind: UartKind::Pl011,
                regs: Region::new(0x900_0000, 0x900_1000)
            })
        );
    }

    #[test]
    fn missing_overlapping_and_zero_memory() {
        let b = dtb(&virt(None), &[]);
        assert_eq!(
            discover(&Fdt::new(&b).unwrap()),
            Err(PlatformError::NoMemory)
        );
        let b = dtb(
            &virt(Some(mem(&[(0x4000_0000, 1 << 30), (0x6000_0000, 1 << 30)]))),
            &[],
        );
        assert!(matches!(
            discover(&Fdt::new(&b).unwrap()),
            Err(PlatformError::OverlappingMemory { .. })
        ));
        let b = dtb(&virt(Some(mem(&[(0x4000_0000, 0)]))), &[]);
        assert!(matches!(
            discover(&Fdt::new(&b).unwrap()),
            Err(PlatformError::ZeroSizeMemory { .. })
        ));
    }

    #[test]
    fn one_cell_addresses_and_ranges_translation() {
        // Pi 4 style: 1-cell root, a soc bus mapping 0x7e000000 -> 0xfe000000.
        let root = N::new("")
            .u32("#address-cells", 1)
            .u32("#size-cells", 1)
            .kid(N::new("aliases").str("serial1", "/soc/serial@7e215040"))
            .kid(N::new("chosen").str("stdout-path", "serial1:115200n8"))
            .kid(
                N::new("memory@0")
                    .str("device_type", "memory")
                    .cells("reg", &[0, 0x3c00_0000]),
            )
            .kid(
                N::new("soc")
                    .u32("#address-cells", 1)
                    .u32("#size-cells", 1)
                    .cells("ranges", &[0x7e00_0000, 0xfe00_0000, 0x180_0000])
                    .kid(
                        N::new("serial@7e215040")
                            .str("compatible", "brcm,bcm2835-aux-uart")
                            .cells("reg", &[0x7e21_5040, 0x40]),
                    ),
            );
        let b = dtb(&root, &[]);
        let f = Fdt::new(&b).unwrap();
        let p = discover(&f).unwrap();
        assert_eq!(p.ram, [Region::new(0, 0x3c00_0000)]);
        assert_eq!(
            p.console,
            Some(Uart {
                kind: UartKind::MiniUart,
                regs: Region::new(0xfe21_5040, 0xfe21_5080)
            })
        );
    }

    #[test]
    fn stdout_errors() {
        let root = N::new("")
            .kid(N::new("chosen").str("stdout-path", "/nowhere"))
            .kid(mem(&[(0x4000_0000, 1 << 30)]));
        let b = dtb(&root, &[]);
        assert!(matches!(
            console(&Fdt::new(&b).unwrap()),
            Err(PlatformError::StdoutMissing { .. })
        ));
        let root = N::new("")
            .kid(N::new("chosen").str("stdout-path", "/uart"))
            .kid(N::new("uart").str("compatible", "ns16550a"));
        let b = dtb(&root, &[]);
        let e = console(&Fdt::new(&b).unwrap()).unwrap_err();
        assert!(alloc::format!("{e}").contains("ns16550a"));
    }

    #[test]
    fn bad_cells() {
        let root = N::new("").u32("#address-cells", 3).kid(mem(&[(0, 1)]));
        let b = dtb(&root, &[]);
        assert!(matches!(
            discover(&Fdt::new(&b).unwrap()),
            Err(PlatformError::BadCells { .. })
        ));
    }
}
