//! `mode=boot`: the stage relocates a real Linux kernel (Debian's arm64
//! cloud Image, passed with -initrd) over itself and hands off to it the
//! way kexec does; the kernel must boot and see the machine truthfully.

mod common;

use std::time::Duration;

use common::pi4::linux_as_firmware;
use common::{Dtb, Qemu, linux_image, scratch, trampoline};

const BOOTED: [&str; 3] = [
    "Booting Linux on physical CPU",
    "Machine model: linux,dummy-virt",
    "Memory: ",
];

/// Linux's own word that it was entered at EL2 (it keeps EL2 for KVM).
const AT_EL2: &str = "CPU: All CPU(s) started at EL2";

fn boot(machine: &str, append: &str) -> common::Run {
    let kernel = linux_image();
    let mut until = BOOTED.to_vec();
    if machine.contains("virtualization=on") {
        until.push(AT_EL2);
    }
    Qemu::virt()
        .args(["-M", machine, "-m", "1G", "-initrd"])
        .arg(kernel.to_str().unwrap())
        .append(append)
        .until(&until)
        .timeout(Duration::from_secs(180))
        .run()
}

fn check(run: &common::Run, strategy: &str, el: u64) {
    assert!(
        run.matched,
        "Linux did not report booting; output:\n{}",
        run.output
    );
    let h = run.record("handoff");
    assert_eq!(h["strategy"], strategy);
    assert_eq!(h["el"], el);
    assert_eq!(h["image"], true);
    // The usual kexec case: the kernel's destination covers the stage.
    let stage = &run.record("platform")["stage"][0];
    let dest = &h["dest"][0];
    assert!(
        dest[0].as_u64() < stage[1].as_u64() && stage[0].as_u64() < dest[1].as_u64(),
        "destination {dest} does not overlap the stage {stage}"
    );
    // Linux sees all of -m 1G ...
    let mem = run.output.lines().find(|l| l.contains("Memory: ")).unwrap();
    assert!(mem.contains("K/1048576K available"), "{mem}");
    // ... only the words the stage does not own ...
    let cmdline = run
        .output
        .lines()
        .find(|l| l.contains("Kernel command line:"))
        .unwrap();
    assert!(
        !cmdline.contains("mode=") && !cmdline.contains("strategy="),
        "{cmdline}"
    );
    // ... and no initrd: the stage consumed it and removed its properties.
    assert!(!run.output.contains("initramfs"), "{}", run.output);
    assert!(
        !run.output.contains("\"record\":\"error\""),
        "{}",
        run.output
    );
}

#[test]
fn linux_boots_after_ind_list_relocation_at_el1() {
    let run = boot("virt", "mode=boot strategy=ind-list console=ttyAMA0");
    check(&run, "ind-list", 1);
}

#[test]
fn linux_boots_after_contiguous_relocation_at_el1() {
    let run = boot(
        "virt",
        "mode=boot strategy=contiguous copy=ldp-q console=ttyAMA0",
    );
    check(&run, "contiguous", 1);
}

/// Also the fused kernel (`ldp-q-dc`, cleans interleaved in the copy) as
/// the final copy.
#[test]
fn linux_boots_after_ind_list_relocation_at_el2() {
    let run = boot(
        "virt,virtualization=on",
        "mode=boot strategy=ind-list copy=ldp-q-dc console=ttyAMA0",
    );
    check(&run, "ind-list", 2);
    assert_eq!(run.record("handoff")["copy"], "ldp-q-dc");
    assert!(run.output.contains(AT_EL2), "{}", run.output);
}

#[test]
fn linux_boots_after_contiguous_relocation_at_el2() {
    let run = boot(
        "virt,virtualization=on",
        "mode=boot strategy=contiguous console=ttyAMA0",
    );
    check(&run, "contiguous", 2);
    assert!(run.output.contains(AT_EL2), "{}", run.output);
}

#[test]
fn boot_without_payload_is_an_error() {
    Qemu::virt()
        .append("mode=boot")
        .run()
        .expect_error("-initrd");
}

/// Linux's line once it brought every CPU of a 4-CPU machine up itself.
const ALL_FOUR: &str = "smp: Brought up 1 node, 4 CPUs";

/// The stage's command line for the 4-CPU hand-offs below, Linux's words
/// last. The relocation itself runs on the boot CPU.
const SMP_BOOT: &str = "mode=boot";

/// The `handoff` record's `pen_cpus` and `warnings`, checked to be lists.
fn secondaries(run: &common::Run) -> (Vec<serde_json::Value>, Vec<String>) {
    let h = run.record("handoff");
    let cpus = h["pen_cpus"].as_array().expect("pen_cpus").clone();
    let warnings = h["warnings"].as_array().expect("warnings");
    let warnings = warnings
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    (cpus, warnings)
}

/// `-smp 4` on QEMU virt: the secondaries never came up (PSCI keeps them
/// off until CPU_ON), so AFFINITY_INFO finds each OFF at once; Linux must
/// then start all three itself.
fn virt_smp4(machine: &str, el: u64) {
    let mut until = vec![ALL_FOUR];
    if el == 2 {
        until.push(AT_EL2);
    }
    let run = Qemu::virt()
        .args(["-M", machine, "-smp", "4", "-initrd"])
        .arg(linux_image().to_str().unwrap())
        .append(&format!("{SMP_BOOT} console=ttyAMA0"))
        .until(&until)
        .timeout(Duration::from_secs(180))
        .run();
    assert!(
        run.matched,
        "Linux did not bring up 4 CPUs:\n{}",
        run.output
    );
    assert_eq!(run.record("handoff")["el"], el);
    let (cpus, warnings) = secondaries(&run);
    assert!(warnings.is_empty(), "{warnings:?}");
    let ids: Vec<&str> = cpus.iter().map(|c| c["cpu"].as_str().unwrap()).collect();
    assert_eq!(ids, ["0x1", "0x2", "0x3"], "{cpus:?}");
    for c in &cpus {
        assert_eq!(c["method"], "psci", "{c}");
        assert_eq!(c["state"], "off", "{c}");
        assert!(c["release"].is_null(), "{c}");
    }
    assert!(
        !run.output.contains("failed to come online"),
        "{}",
        run.output
    );
}

#[test]
fn linux_brings_up_four_cpus_after_hand_off_at_el1() {
    virt_smp4("virt", 1);
}

#[test]
fn linux_brings_up_four_cpus_after_hand_off_at_el2() {
    virt_smp4("virt,virtualization=on", 2);
}

/// QEMU raspi4b booted by QEMU itself (`-kernel`, Debian's Pi 4 DTB):
/// QEMU keeps CPUs 1-3 in its own spin loop at 0xe0/0xe8/0xf0 (the DTB's
/// release addresses) until the stage sends them to its pen.
fn raspi4b_hand_off(until: &[&str]) -> common::Run {
    // The cloud kernel has no mini-UART driver: it prints on the PL011.
    Qemu::raspi4b()
        .arg("-initrd")
        .arg(linux_image().to_str().unwrap())
        .append(&format!("{SMP_BOOT} {PI4_LINUX}"))
        .until(until)
        .timeout(Duration::from_secs(240))
        .run()
}

/// Linux's console on a Pi 4 (the cloud kernel has no mini-UART driver).
const PI4_LINUX: &str = "earlycon=pl011,0xfe201000 console=ttyAMA0";

/// Every secondary waits in the pen, at a slot of the control area (kept
/// by /memreserve/) that the DTB handed on names as its release address:
/// Linux can bring them up only from there.
fn check_spin_table_pen(run: &common::Run, cpus: &[serde_json::Value], from: &str) {
    let h = run.record("handoff");
    let control = &h["control"][0];
    let (lo, hi) = (control[0].as_u64().unwrap(), control[1].as_u64().unwrap());
    for (c, id) in cpus.iter().zip(["0x1", "0x2", "0x3"]) {
        assert_eq!(c["cpu"], id, "{c}");
        assert_eq!(c["method"], "spin-table", "{c}");
        assert_eq!(c["from"], from, "{c}");
        assert_eq!(c["state"], "pen", "{c}");
        let release = c["release"].as_str().unwrap();
        let release = u64::from_str_radix(release.trim_start_matches("0x"), 16).unwrap();
        assert!(
            (lo..hi).contains(&release) && release % 8 == 0,
            "{c}: release address outside the control area {control}"
        );
    }
}

#[test]
fn linux_brings_up_four_cpus_from_the_pen_on_raspi4b() {
    let run = raspi4b_hand_off(&[ALL_FOUR]);
    check_pi4(&run, "firmware");
}

/// Linux brought every CPU up, each from the slot of the pen it waited
/// at, and nothing was worth a warning.
fn check_pi4(run: &common::Run, from: &str) {
    assert!(
        run.matched,
        "Linux did not bring up 4 CPUs:\n{}",
        run.output
    );
    assert_eq!(run.record("handoff")["el"], 2);
    let (cpus, warnings) = secondaries(run);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(cpus.len(), 3, "{cpus:?}");
    check_spin_table_pen(run, &cpus, from);
    assert!(
        !run.output.contains("failed to come online"),
        "{}",
        run.output
    );
}

/// Started as the Pi firmware starts a kernel: CPUs 1-3 wait in its
/// armstub's spin table at 0xe0/0xe8/0xf0 and come to the pen from there.
#[test]
fn linux_brings_up_the_firmwares_secondaries_from_the_pen() {
    let run = linux_as_firmware(
        "handoff-pi4-firmware",
        0b0001,
        &format!("{SMP_BOOT} {PI4_LINUX}"),
        |_| {},
        &[ALL_FOUR],
    );
    check_pi4(&run, "firmware");
}

/// A loader that released all four CPUs into the Image at once: three
/// park in the stage, come to the pen through its mailbox, and Linux
/// brings them up from there.
#[test]
fn linux_brings_up_cpus_that_had_parked_in_the_stage() {
    let run = linux_as_firmware(
        "handoff-pi4-parked",
        0b1111,
        &format!("{SMP_BOOT} {PI4_LINUX}"),
        |_| {},
        &[ALL_FOUR],
    );
    check_pi4(&run, "stage");
    assert!(!run.record("handoff")["parked_cpu"].is_null());
}

/// A fifth spin-table CPU for a Pi 4 DTB, which the board (and QEMU's
/// raspi4b) does not have, waiting at 0xf8 (past the firmware's table).
fn ghost_cpu() -> common::DtNode {
    common::DtNode::new("cpu@4")
        .str("device_type", "cpu")
        .str("compatible", "arm,cortex-a72")
        .u32("reg", 4)
        .str("enable-method", "spin-table")
        .cells("cpu-release-addr", &[0, 0xf8])
}

/// A DTB naming a fifth spin-table CPU the board does not have (release
/// address 0xf8): the stage waits for it in vain, says so in one line of
/// the `handoff` record and hands its node on as it was; Linux still gets
/// the four real CPUs (and gives up on the fifth itself).
#[test]
fn a_cpu_that_never_answers_is_a_warning_and_keeps_its_release_address() {
    let run = linux_as_firmware(
        "handoff-pi4-ghost",
        0b0001,
        &format!("{SMP_BOOT} {PI4_LINUX}"),
        |dtb| dtb.node_mut("/cpus").kids.push(ghost_cpu()),
        &[ALL_FOUR, "CPU4: failed to come online"],
    );
    assert!(run.matched, "{}", run.output);
    let (cpus, warnings) = secondaries(&run);
    assert_eq!(
        warnings,
        [
            "cpu 0x4 did not reach the holding pen within 1000 ms: left as the DTB had it (cpu-release-addr 0xf8)"
        ]
    );
    assert_eq!(cpus.len(), 4, "{cpus:?}");
    check_spin_table_pen(&run, &cpus[..3], "firmware");
    assert_eq!(cpus[3]["cpu"], "0x4");
    assert_eq!(cpus[3]["state"], "missing");
    assert!(cpus[3]["from"].is_null());
    assert_eq!(cpus[3]["release"], "0xf8");
}

/// The same fifth CPU when CPUs had entered the Image by themselves: the
/// stage cannot tell a core that is not there from one still running the
/// stage, so it refuses to overwrite itself (one-line error, status 1).
#[test]
fn a_silent_cpu_while_cpus_ran_the_stage_is_an_error() {
    let run = linux_as_firmware(
        "handoff-pi4-stuck",
        0b0011,
        &format!("{SMP_BOOT} {PI4_LINUX}"),
        |dtb| dtb.node_mut("/cpus").kids.push(ghost_cpu()),
        &[],
    );
    run.expect_error(
        "cpu 0x4 did not reach the holding pen within 1000 ms while CPUs may still run the stage the hand-off overwrites",
    );
    assert!(run.all("handoff").is_empty(), "{}", run.output);
    assert!(!run.output.contains("Booting Linux"), "{}", run.output);
}

/// QEMU virt with 4 CPUs booted as a loader would (`common::trampoline`),
/// its DTB dumped, given a fifth PSCI CPU node (`reg = <4>`) the machine
/// does not have, and loaded as data with Debian's kernel as the payload.
/// PSCI answers AFFINITY_INFO for it with INVALID_PARAMETERS: the stage
/// cannot wait for it, says so in one line and goes on; Linux brings up
/// the four real CPUs and fails on the fifth itself.
#[test]
fn a_cpu_psci_does_not_know_is_a_warning() {
    const LOAD: u64 = 0x4020_0000;
    const TRAMP_AT: u64 = 0x4010_0000;
    const DTB_AT: u64 = 0x4800_0000;
    const PAYLOAD_AT: u64 = 0x4900_0000;
    let dir = scratch("handoff-virt-psci-ghost");
    let kernel = linux_image();
    let len = std::fs::metadata(&kernel).unwrap().len();
    let mut dtb = Dtb::parse(&common::dump_virt_dtb_smp(
        &dir,
        "virt",
        "1G",
        &format!("{SMP_BOOT} console=ttyAMA0"),
        4,
    ));
    let mut ghost = dtb.node_mut("/cpus/cpu@3").clone();
    ghost.name = "cpu@4".into();
    ghost.set("reg", vec![0, 0, 0, 4]);
    ghost.remove("phandle");
    dtb.node_mut("/cpus").kids.push(ghost);
    let chosen = dtb.node_mut("/chosen");
    chosen.set("linux,initrd-start", PAYLOAD_AT.to_be_bytes().to_vec());
    chosen.set(
        "linux,initrd-end",
        (PAYLOAD_AT + len).to_be_bytes().to_vec(),
    );
    std::fs::write(dir.join("boot.dtb"), dtb.to_bytes()).unwrap();
    std::fs::write(dir.join("stub.bin"), trampoline(DTB_AT, LOAD)).unwrap();
    let loader = |file: &std::path::Path, at: u64, extra: &str| {
        format!("loader,file={},addr={at:#x}{extra}", file.display())
    };
    let run = Qemu::virt()
        .no_kernel()
        .args(["-smp", "4", "-device"])
        .arg(loader(&dir.join("boot.dtb"), DTB_AT, ""))
        .arg("-device")
        .arg(loader(&dir.join("stub.bin"), TRAMP_AT, ",cpu-num=0"))
        .arg("-device")
        .arg(loader(common::image(), LOAD, ""))
        .arg("-device")
        .arg(loader(&kernel, PAYLOAD_AT, ""))
        .until(&[ALL_FOUR])
        .timeout(Duration::from_secs(180))
        .run();
    assert!(run.matched, "{}", run.output);
    let (cpus, warnings) = secondaries(&run);
    assert_eq!(
        warnings,
        ["cpu 0x4: PSCI AFFINITY_INFO returned error -2; not waited for"]
    );
    let states: Vec<&str> = cpus.iter().map(|c| c["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["off", "off", "off", "unknown"], "{cpus:?}");
}

/// A FIT whose `fdt` (the Pi 4 DTB handed on instead of the live one)
/// lost cpu@1's `cpu-release-addr`: the stage cannot tell the next kernel
/// where that CPU waits, so it stops with a one-line error before any CPU
/// is sent anywhere.
#[test]
fn a_dtb_handed_on_without_a_release_address_is_an_error() {
    use sha2::{Digest, Sha256};
    let dir = scratch("handoff-fit-no-release");
    let mut fdt = Dtb::parse(&std::fs::read(common::rpi4_dtb()).unwrap());
    fdt.node_mut("/cpus/cpu@1").remove("cpu-release-addr");
    let fdt = fdt.to_bytes();
    let mut fit = Dtb::parse(&std::fs::read(common::fit_payload()).unwrap());
    let digest = Sha256::digest(&fdt).to_vec();
    fit.add_fit_fdt(fdt, "sha256", digest);
    let path = dir.join("boot-fdt.itb");
    std::fs::write(&path, fit.to_bytes()).unwrap();
    let run = Qemu::raspi4b()
        .arg("-initrd")
        .arg(path.to_str().unwrap())
        .append(&format!("{SMP_BOOT} {PI4_LINUX}"))
        .run();
    run.expect_error(
        "DTB handed on: cpu 0x1: no cpu-release-addr: spin-table cpu 0x1 could not be handed on",
    );
    assert!(run.all("handoff").is_empty(), "{}", run.output);
}
