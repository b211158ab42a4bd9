//! QEMU raspi4b started the way the Raspberry Pi 4 firmware starts a
//! kernel: a reduced copy of its armstub on all four CPUs, the Image at
//! 0x200000, Debian's Pi 4 DTB as the firmware fills it, loaded as data
//! (so QEMU does not rewrite it). For the entry tests and the hand-off
//! tests that need a DTB of their own.

use super::{
    Dtb, Qemu, Run, dt_reg, dt_str, image, linux_image, movk, movz, rpi4_dtb, scratch, words,
};

/// The Pi 4 firmware's armstub, reduced to what the stage can see: every
/// CPU starts at 0 at EL3, takes SCR_EL3 = NS|RW|HCE and `eret`s to EL2h
/// with DAIF masked. Those in `enter_mask` (by Aff0) go to `entry` with
/// x0 = `dtb`; the others wait in the spin table the Pi 4 DTB describes
/// (`cpu-release-addr` 0xd8 + 8 x Aff0), as the firmware's own stub does.
pub fn armstub(enter_mask: u64, dtb: u64, entry: u64) -> Vec<u8> {
    /// SCR_EL3: NS (0), RES1 (4, 5), HCE (8), RW (10).
    const SCR_EL3: u64 = 1 | (1 << 4) | (1 << 5) | (1 << 8) | (1 << 10);
    /// SPSR_EL3: D, A, I, F masked, EL2h.
    const SPSR_EL2H: u64 = 0x3c9;
    let mut code = Vec::new();
    for (rd, v) in [
        (6, enter_mask),
        (7, SCR_EL3),
        (8, SPSR_EL2H),
        (16, entry),
        (0, dtb),
        (1, 0),
        (2, 0),
        (3, 0),
    ] {
        code.extend(mov_imm(rd, v));
    }
    code.extend([
        0xd538_00a4, // mrs  x4, mpidr_el1
        0x9240_1c84, // and  x4, x4, #0xff
        0x9ac4_24c5, // lsr  x5, x6, x4
        0xd51e_115f, // msr  cptr_el3, xzr: FP not trapped to EL3
        0xd51e_1107, // msr  scr_el3, x7
        0xd51e_4008, // msr  spsr_el3, x8
        0x1000_00a9, // adr  x9, spin (+5 instructions)
        0xf240_00bf, // tst  x5, #1
        0x9a89_1209, // csel x9, x16, x9, ne: entering, or the spin table
        0xd51e_4029, // msr  elr_el3, x9
        0xd69f_03e0, // eret
        0xd37d_f08b, // spin: lsl x11, x4, #3
        0x9103_616b, // add  x11, x11, #0xd8: this CPU's release address
        0xd503_205f, // 1: wfe
        0xf940_016a, // ldr  x10, [x11]
        0xb4ff_ffca, // cbz  x10, 1b
        0xd61f_0140, // br   x10
    ]);
    let bytes = words(&code);
    assert!(
        bytes.len() <= 0xd8,
        "the stub must end below the spin table"
    );
    bytes
}

/// `movz`/`movk` of the non-zero halfwords of `v` into `rd` (at least one).
fn mov_imm(rd: u32, v: u64) -> Vec<u32> {
    let halves: Vec<u32> = (0..4).filter(|hw| (v >> (16 * hw)) & 0xffff != 0).collect();
    match halves.split_first() {
        None => vec![movz(rd, 0, 0)],
        Some((&first, rest)) => std::iter::once(movz(rd, v, first))
            .chain(rest.iter().map(|&hw| movk(rd, v, hw)))
            .collect(),
    }
}

/// QEMU raspi4b started as the Pi firmware starts a kernel: no `-kernel`
/// (all four CPUs start at 0 at EL3 and run [`armstub`]), the Image at
/// 0x200000, `dtb` loaded as data (so QEMU does not rewrite its
/// `/memory`). Returns the machine, to run or to load more into.
pub fn raspi4b_as_firmware(name: &str, enter_mask: u64, dtb: &[u8]) -> mmu_reloc_host::Qemu {
    const LOAD: u64 = 0x20_0000;
    const DTB_AT: u64 = 0x0800_0000;
    let dir = scratch(name);
    std::fs::write(dir.join("board.dtb"), dtb).unwrap();
    std::fs::write(dir.join("armstub.bin"), armstub(enter_mask, DTB_AT, LOAD)).unwrap();
    Qemu::raspi4b()
        .no_kernel()
        .no_dtb()
        .arg("-device")
        .arg(format!(
            "loader,file={},addr=0x0",
            dir.join("armstub.bin").display()
        ))
        .arg("-device")
        .arg(format!(
            "loader,file={},addr={DTB_AT:#x}",
            dir.join("board.dtb").display()
        ))
        .arg("-device")
        .arg(format!("loader,file={},addr={LOAD:#x}", image().display()))
}

/// Debian's Pi 4 DTB as the firmware hands it on a 2 GB board: `/memory`
/// filled in with the GPU's share cut out, `cmdline.txt` in
/// `/chosen/bootargs`.
pub fn firmware_dtb(banks: &[(u64, u64)], bootargs: &str) -> Vec<u8> {
    let mut dtb = Dtb::parse(&std::fs::read(rpi4_dtb()).unwrap());
    // The root is #address-cells = 2, #size-cells = 1.
    dtb.node_mut("/memory")
        .set("reg", dt_reg(2, 1, banks).unwrap());
    dtb.node_mut("/chosen").set("bootargs", dt_str(bootargs));
    dtb.to_bytes()
}

pub const PI4_2GB: [(u64, u64); 2] = [(0, 0x3b40_0000), (0x4000_0000, 0x4000_0000)];

/// The Pi 4 firmware's hand-over with an `initramfs` line in config.txt:
/// the payload in RAM and named by `/chosen/linux,initrd-*`.
fn firmware_dtb_with_payload(dtb: &[u8], at: u64, len: u64) -> Vec<u8> {
    let mut dtb = Dtb::parse(dtb);
    let chosen = dtb.node_mut("/chosen");
    chosen.set("linux,initrd-start", at.to_be_bytes().to_vec());
    chosen.set("linux,initrd-end", (at + len).to_be_bytes().to_vec());
    dtb.to_bytes()
}

/// `mode=boot` of Debian's kernel (the payload at 256 MiB, as the
/// firmware's `initramfs` line would leave it) on a 2 GB board started
/// like the firmware, with `edit` applied to its DTB; runs until Linux
/// printed every line of `until` (or 240 s).
pub fn linux_as_firmware(
    name: &str,
    enter_mask: u64,
    bootargs: &str,
    edit: impl FnOnce(&mut Dtb),
    until: &[&str],
) -> Run {
    const PAYLOAD_AT: u64 = 0x1000_0000;
    let kernel = linux_image();
    let len = std::fs::metadata(&kernel).unwrap().len();
    let mut dtb = Dtb::parse(&firmware_dtb(&PI4_2GB, bootargs));
    edit(&mut dtb);
    let dtb = firmware_dtb_with_payload(&dtb.to_bytes(), PAYLOAD_AT, len);
    raspi4b_as_firmware(name, enter_mask, &dtb)
        .arg("-device")
        .arg(format!(
            "loader,file={},addr={PAYLOAD_AT:#x}",
            kernel.display()
        ))
        .until(until)
        .timeout(std::time::Duration::from_secs(240))
        .run()
}
