//! Entry states QEMU's own boot code never produces but loaders and boards
//! do: SPSel = 0, HCR_EL2.E2H left set, a boot CPU that is not MPIDR 0,
//! several CPUs released into the Image at once, and the Raspberry Pi 4
//! firmware's own hand-over (armstub at EL3 dropping to EL2h, its DTB with
//! `/memory` filled in). Each builds the state with a few instructions that
//! run before the Image, as a bootloader would.

mod common;

use common::pi4::{PI4_2GB, firmware_dtb, raspi4b_as_firmware};
use common::{Qemu, image, scratch, trampoline, words};

/// `msr spsel, #0`: run on SP_EL0 (EL2t/EL1t).
const MSR_SPSEL_0: u32 = 0xd500_40bf;
/// `mrs x9, hcr_el2`
const MRS_X9_HCR_EL2: u32 = 0xd53c_1109;
/// `orr x9, x9, #(1 << 34)`: HCR_EL2.E2H
const ORR_X9_E2H: u32 = 0xb25e_0129;
/// `msr hcr_el2, x9`
const MSR_HCR_EL2_X9: u32 = 0xd51c_1109;
const ISB: u32 = 0xd503_3fdf;

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
