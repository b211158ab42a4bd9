//! Entry states QEMU's own boot code never produces but loaders and boards
//! do: SPSel = 0, HCR_EL2.E2H left set, a boot CPU that is not MPIDR 0,
//! several CPUs released into the Image at once, and the Raspberry Pi 4
//! firmware's own hand-over (armstub at EL3 dropping to EL2h, its DTB with
//! `/memory` filled in). Each builds the state with a few instructions that
//! run before the Image, as a bootloader would.

mod common;

use common::{Dtb, Qemu, dt_reg, dt_str, image, movk, movz, rpi4_dtb, scratch, trampoline};

/// `msr spsel, #0`: run on SP_EL0 (EL2t/EL1t).
const MSR_SPSEL_0: u32 = 0xd500_40bf;
/// `mrs x9, hcr_el2`
const MRS_X9_HCR_EL2: u32 = 0xd53c_1109;
/// `orr x9, x9, #(1 << 34)`: HCR_EL2.E2H
const ORR_X9_E2H: u32 = 0xb25e_0129;
/// `msr hcr_el2, x9`
const MSR_HCR_EL2_X9: u32 = 0xd51c_1109;
const ISB: u32 = 0xd503_3fdf;

fn words(code: &[u32]) -> Vec<u8> {
    code.iter().flat_map(|c| c.to_le_bytes()).collect()
}

/// QEMU virt at EL2 (`virtualization=on`), the Image and QEMU's own DTB
/// loaded as data, and `prelude` run on CPU 0 before the usual booti-like
/// trampoline (x0 = DTB, x1-x3 = 0, branch to the Image).
fn virt_el2_with_prelude(name: &str, cpu: &str, prelude: &[u32], cmdline: &str) -> common::Run {
    const LOAD: u64 = 0x4020_0000;
    const DTB_AT: u64 = 0x4800_0000;
    const TRAMP_AT: u64 = 0x4010_0000;
    let dir = scratch(name);
    let machine = "virt,virtualization=on";
    let dtb = common::dump_virt_dtb(&dir, machine, "1G", cmdline);
    let mut code = words(prelude);
    code.extend(trampoline(DTB_AT, LOAD));
    std::fs::write(dir.join("boot.dtb"), &dtb).unwrap();
    std::fs::write(dir.join("stub.bin"), &code).unwrap();
    Qemu::virt()
        .no_kernel()
        .args(["-M", machine, "-cpu", cpu])
        .arg("-device")
        .arg(format!(
            "loader,file={},addr={DTB_AT:#x}",
            dir.join("boot.dtb").display()
        ))
        .arg("-device")
        .arg(format!(
            "loader,file={},addr={TRAMP_AT:#x},cpu-num=0",
            dir.join("stub.bin").display()
        ))
        .arg("-device")
        .arg(format!("loader,file={},addr={LOAD:#x}", image().display()))
        .run()
}

/// Entered in EL2t (SPSel = 0): the stack the vectors use must be the one
/// the stage set up, so a fault in a copy loop is reported, not a hang.
#[test]
fn spsel_0_entry_still_reports_a_fault() {
    let run = virt_el2_with_prelude(
        "entry-spsel0",
        "cortex-a72",
        &[MSR_SPSEL_0],
        "size=1M segments=2 trials=1 strategy=ind-list copy=ldp-q mmu=on inject=copy-fault",
    );
    run.expect_status(3);
    assert_eq!(run.record("platform")["el"], 2, "{}", run.output);
    assert!(
        run.output.contains("in ind-list loop (ldp-q, MMU on)"),
        "no copy-loop fault report:\n{}",
        run.output
    );
}

/// A loader that left HCR_EL2.E2H set on a CPU that also has the E2H = 0
/// regime (FEAT_E2H0): the stage writes HCR_EL2 itself and runs nVHE.
#[test]
fn e2h_left_set_by_the_loader_is_cleared() {
    let run = virt_el2_with_prelude(
        "entry-e2h",
        "max",
        &[MRS_X9_HCR_EL2, ORR_X9_E2H, MSR_HCR_EL2_X9, ISB],
        "size=2M trials=1",
    );
    run.expect_status(0);
    assert_eq!(run.record("platform")["el"], 2);
    assert!(
        run.all("result")
            .iter()
            .all(|r| r["verified"] == serde_json::Value::Bool(true)),
        "{}",
        run.output
    );
}

/// The Pi 4 firmware's armstub, reduced to what the stage can see: every
/// CPU starts at 0 at EL3, takes SCR_EL3 = NS|RW|HCE and `eret`s to EL2h
/// with DAIF masked. Those in `enter_mask` (by Aff0) go to `entry` with
/// x0 = `dtb`; the others wait in the spin table the Pi 4 DTB describes
/// (`cpu-release-addr` 0xd8 + 8 x Aff0), as the firmware's own stub does.
fn armstub(enter_mask: u64, dtb: u64, entry: u64) -> Vec<u8> {
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
fn raspi4b_as_firmware(name: &str, enter_mask: u64, dtb: &[u8]) -> mmu_reloc_host::Qemu {
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
fn firmware_dtb(banks: &[(u64, u64)], bootargs: &str) -> Vec<u8> {
    let mut dtb = Dtb::parse(&std::fs::read(rpi4_dtb()).unwrap());
    // The root is #address-cells = 2, #size-cells = 1.
    dtb.node_mut("/memory")
        .set("reg", dt_reg(2, 1, banks).unwrap());
    dtb.node_mut("/chosen").set("bootargs", dt_str(bootargs));
    dtb.to_bytes()
}

const PI4_2GB: [(u64, u64); 2] = [(0, 0x3b40_0000), (0x4000_0000, 0x4000_0000)];

#[test]
fn raspi4b_started_like_the_firmware_runs_info_and_bench() {
    for args in ["mode=info", "size=2M trials=1"] {
        let run = raspi4b_as_firmware(
            "entry-firmware",
            0b0001,
            &firmware_dtb(&PI4_2GB, &format!("{args} console=serial0,115200")),
        )
        .run();
        run.expect_status(0);
        let p = run.record("platform");
        assert_eq!(p["el"], 2);
        assert_eq!(p["load"], "0x200000");
        assert_eq!(p["ram_bytes"], 0x3b40_0000u64 + 0x4000_0000, "{p}");
        assert_eq!(p["ram"].as_array().unwrap().len(), 2, "{p}");
    }
}

/// The boot CPU is whichever enters first, not MPIDR 0.
#[test]
fn a_boot_cpu_other_than_cpu0_runs() {
    let run = raspi4b_as_firmware("entry-cpu2", 0b0100, &firmware_dtb(&PI4_2GB, "mode=info")).run();
    run.expect_status(0);
    assert_eq!(run.record("platform")["boot_cpu"], "0x2", "{}", run.output);
}

/// A loader that releases all four CPUs into the Image at once: one runs,
/// the others park.
#[test]
fn cpus_entering_together_elect_one() {
    let run = raspi4b_as_firmware("entry-all", 0b1111, &firmware_dtb(&PI4_2GB, "mode=info")).run();
    run.expect_status(0);
    assert_eq!(run.all("platform").len(), 1, "{}", run.output);
}

/// The Pi 4 firmware's hand-over with an `initramfs` line in config.txt:
/// the payload in RAM and named by `/chosen/linux,initrd-*`.
fn firmware_dtb_with_payload(banks: &[(u64, u64)], bootargs: &str, at: u64, len: u64) -> Vec<u8> {
    let mut dtb = Dtb::parse(&firmware_dtb(banks, bootargs));
    let chosen = dtb.node_mut("/chosen");
    chosen.set("linux,initrd-start", at.to_be_bytes().to_vec());
    chosen.set("linux,initrd-end", (at + len).to_be_bytes().to_vec());
    dtb.to_bytes()
}

/// Relocates Debian's kernel over the stage and checks that Linux brings
/// up all four CPUs through the spin table: the ones the firmware kept
/// in its stub, and (`enter_mask` = all) the ones that had entered the
/// Image and waited in the stage's holding pen.
fn linux_gets_every_cpu(name: &str, enter_mask: u64) {
    const PAYLOAD_AT: u64 = 0x1000_0000;
    let kernel = common::linux_image();
    let len = std::fs::metadata(&kernel).unwrap().len();
    let dtb = firmware_dtb_with_payload(
        &PI4_2GB,
        "mode=boot earlycon=pl011,0xfe201000 console=ttyAMA0",
        PAYLOAD_AT,
        len,
    );
    let run = raspi4b_as_firmware(name, enter_mask, &dtb)
        .arg("-device")
        .arg(format!(
            "loader,file={},addr={PAYLOAD_AT:#x}",
            kernel.display()
        ))
        .until(&["SMP: Total of 4 processors activated"])
        .timeout(std::time::Duration::from_secs(240))
        .run();
    assert!(run.matched, "{}", run.output);
    assert_eq!(run.record("handoff")["el"], 2);
    assert!(
        !run.output.contains("failed to come online"),
        "{}",
        run.output
    );
}

#[test]
fn linux_brings_up_the_firmwares_secondaries_after_relocation() {
    linux_gets_every_cpu("entry-linux-firmware", 0b0001);
}

#[test]
fn linux_brings_up_cpus_that_waited_in_the_pen() {
    linux_gets_every_cpu("entry-linux-pen", 0b1111);
}

/// `cpus=4` on the Pi 4 as its firmware starts it: the three CPUs the
/// armstub keeps in its spin table are released at their
/// `cpu-release-addr` (at EL2, like the boot CPU) and share the copy.
#[test]
fn cpus_from_the_firmwares_spin_table_share_the_copy() {
    let run = raspi4b_as_firmware(
        "entry-smp",
        0b0001,
        &firmware_dtb(&PI4_2GB, "size=2M trials=1 strategy=ind-list cpus=4"),
    )
    .run();
    run.expect_status(0);
    let res = run.all("result");
    assert!(!res.is_empty(), "{}", run.output);
    for r in &res {
        assert_eq!(r["verified"], true, "{r}");
        assert_eq!(r["cpus"], 4, "{r}");
    }
}

/// CPUs that entered the Image by themselves are parked in the stage on
/// the hand-off's mailbox: `cpus=` above 1 refuses, naming one of them.
#[test]
fn cpus_that_entered_by_themselves_are_refused_by_name() {
    let run = raspi4b_as_firmware(
        "entry-smp-all",
        0b1111,
        &firmware_dtb(&PI4_2GB, "size=2M trials=1 cpus=2"),
    )
    .run();
    run.expect_status(1);
    let msg = run.record("error")["msg"].as_str().unwrap();
    assert!(
        msg.starts_with("cpus=2: CPU 0x") && msg.contains("entered the Image by itself"),
        "{msg}"
    );
}
