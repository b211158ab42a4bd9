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
/// last: the final copy split across all four CPUs, the secondaries
/// going to the pen after their share.
const SMP_BOOT: &str = "mode=boot cpus=4";

/// The same with the relocation on the boot CPU alone: every secondary
/// goes to the pen before the copy (the pen's own verdicts, and CPUs that
/// entered the Image by themselves, which `cpus=` above 1 refuses).
const PEN_BOOT: &str = "mode=boot";

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
    assert_eq!(run.record("handoff")["cpus"], 4);
    let (cpus, warnings) = secondaries(&run);
    assert!(warnings.is_empty(), "{warnings:?}");
    let ids: Vec<&str> = cpus.iter().map(|c| c["cpu"].as_str().unwrap()).collect();
    assert_eq!(ids, ["0x1", "0x2", "0x3"], "{cpus:?}");
    for c in &cpus {
        assert_eq!(c["method"], "psci", "{c}");
        // Each copied a share, then the pen turned it OFF; the final
        // routine waited for AFFINITY_INFO to say so.
        assert_eq!(c["state"], "final-copy", "{c}");
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
fn raspi4b_hand_off(stage_args: &str, until: &[&str]) -> common::Run {
    // The cloud kernel has no mini-UART driver: it prints on the PL011.
    Qemu::raspi4b()
        .arg("-initrd")
        .arg(linux_image().to_str().unwrap())
        .append(&format!("{stage_args} {PI4_LINUX}"))
        .until(until)
        .timeout(Duration::from_secs(240))
        .run()
}

/// Linux's console on a Pi 4 (the cloud kernel has no mini-UART driver).
const PI4_LINUX: &str = "earlycon=pl011,0xfe201000 console=ttyAMA0";

/// Every secondary waits in the pen, at a slot of the control area (kept
/// by /memreserve/) that the DTB handed on names as its release address:
/// Linux can bring them up only from there. `from`: where they came to
/// the pen from before the copy, or `None` for the final copy's CPUs
/// (they reach it after their share).
fn check_spin_table_pen(run: &common::Run, cpus: &[serde_json::Value], from: Option<&str>) {
    let h = run.record("handoff");
    let control = &h["control"][0];
    let (lo, hi) = (control[0].as_u64().unwrap(), control[1].as_u64().unwrap());
    for (c, id) in cpus.iter().zip(["0x1", "0x2", "0x3"]) {
        assert_eq!(c["cpu"], id, "{c}");
        assert_eq!(c["method"], "spin-table", "{c}");
        match from {
            Some(from) => {
                assert_eq!(c["from"], from, "{c}");
                assert_eq!(c["state"], "pen", "{c}");
            }
            None => {
                assert!(c["from"].is_null(), "{c}");
                assert_eq!(c["state"], "final-copy", "{c}");
            }
        }
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
    let run = raspi4b_hand_off(SMP_BOOT, &[ALL_FOUR]);
    check_pi4(&run, None);
    assert_eq!(run.record("handoff")["cpus"], 4);
}

/// `cpus=2`: CPU 1 copies a share and reaches the pen afterwards, CPUs 2
/// and 3 come to the pen from QEMU's spin loop before the copy; Linux
/// brings all of them up from their slots.
#[test]
fn linux_brings_up_four_cpus_after_a_two_cpu_final_copy_on_raspi4b() {
    let run = raspi4b_hand_off("mode=boot cpus=2", &[ALL_FOUR]);
    assert!(
        run.matched,
        "Linux did not bring up 4 CPUs:\n{}",
        run.output
    );
    assert_eq!(run.record("handoff")["cpus"], 2);
    let (cpus, warnings) = secondaries(&run);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(cpus.len(), 3, "{cpus:?}");
    check_spin_table_pen(&run, &cpus[..1], None);
    let control = &run.record("handoff")["control"][0];
    for c in &cpus[1..] {
        assert_eq!(c["from"], "firmware", "{c}");
        assert_eq!(c["state"], "pen", "{c}");
        let release = c["release"].as_str().unwrap();
        let release = u64::from_str_radix(release.trim_start_matches("0x"), 16).unwrap();
        assert!(
            (control[0].as_u64().unwrap()..control[1].as_u64().unwrap()).contains(&release),
            "{c}: release address outside the control area {control}"
        );
    }
    assert!(
        !run.output.contains("failed to come online"),
        "{}",
        run.output
    );
}

/// Linux brought every CPU up, each from the slot of the pen it waited
/// at, and nothing was worth a warning.
fn check_pi4(run: &common::Run, from: Option<&str>) {
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
    check_pi4(&run, None);
}

/// The same with the relocation on the boot CPU alone: CPUs 1-3 come to
/// the pen from the armstub's spin table before the copy.
#[test]
fn linux_brings_up_the_firmwares_secondaries_from_the_pen_after_one_cpu_copied() {
    let run = linux_as_firmware(
        "handoff-pi4-firmware-1cpu",
        0b0001,
        &format!("{PEN_BOOT} {PI4_LINUX}"),
        |_| {},
        &[ALL_FOUR],
    );
    check_pi4(&run, Some("firmware"));
}

/// A loader that released all four CPUs into the Image at once: three
/// park in the stage, come to the pen through its mailbox, and Linux
/// brings them up from there.
#[test]
fn linux_brings_up_cpus_that_had_parked_in_the_stage() {
    let run = linux_as_firmware(
        "handoff-pi4-parked",
        0b1111,
        &format!("{PEN_BOOT} {PI4_LINUX}"),
        |_| {},
        &[ALL_FOUR],
    );
    check_pi4(&run, Some("stage"));
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
        &format!("{PEN_BOOT} {PI4_LINUX}"),
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
    check_spin_table_pen(&run, &cpus[..3], Some("firmware"));
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
        &format!("{PEN_BOOT} {PI4_LINUX}"),
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
        &format!("{PEN_BOOT} console=ttyAMA0"),
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
        .append(&format!("{PEN_BOOT} {PI4_LINUX}"))
        .run();
    run.expect_error(
        "DTB handed on: cpu 0x1: no cpu-release-addr: spin-table cpu 0x1 could not be handed on",
    );
    assert!(run.all("handoff").is_empty(), "{}", run.output);
}

/// A payload that checks every byte of itself once it runs: a few
/// instructions (position independent, MMU off) hash the data after them,
/// 64-bit words in order (h = (h ^ w) * K, so a missing, stale or
/// misplaced page changes it), compare with the hash the host stored and
/// end QEMU through semihosting with 0 if they agree, 9 if not.
/// Assembled from:
/// ```text
///     adr  x1, data ; ldr x2, words ; ldr x3, expected ; ldr x6, K
///     mov  x4, #0
/// 1:  ldr  x5, [x1], #8 ; eor x4, x4, x5 ; mul x4, x4, x6
///     subs x2, x2, #1 ; b.ne 1b
///     mov  x0, #0x18 ; adr x1, ok ; cmp x4, x3 ; b.eq 2f ; adr x1, bad
/// 2:  hlt  #0xf000 ; b .
/// ```
fn self_checking_blob(data_bytes: usize, seed: u64, wrong_hash: bool) -> Vec<u8> {
    const K: u64 = 0x0000_0100_0000_01b3; // FNV-1 64-bit prime
    const CODE: [u32; 18] = [
        0x1000_0401, // adr  x1, #0x80 (the data)
        0x5800_0222, // ldr  x2, words
        0x5800_0243, // ldr  x3, expected
        0x5800_0266, // ldr  x6, K
        0xd280_0004, // mov  x4, #0
        0xf840_8425, // ldr  x5, [x1], #8
        0xca05_0084, // eor  x4, x4, x5
        0x9b06_7c84, // mul  x4, x4, x6
        0xf100_0442, // subs x2, x2, #1
        0x54ff_ff81, // b.ne the ldr
        0xd280_0300, // mov  x0, #0x18 (SYS_EXIT)
        0x1000_01a1, // adr  x1, ok
        0xeb03_009f, // cmp  x4, x3
        0x5400_0040, // b.eq the hlt
        0x1000_01c1, // adr  x1, bad
        0xd45e_0000, // hlt  #0xf000
        0x1400_0000, // b    .
        0xd503_201f, // nop
    ];
    let mut x = seed | 1;
    let data: Vec<u64> = (0..data_bytes / 8)
        .map(|_| {
            // xorshift64: no page repeats another
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        })
        .collect();
    let hash = data.iter().fold(0u64, |h, &w| (h ^ w).wrapping_mul(K));
    let mut blob = common::words(&CODE);
    let consts = [
        data.len() as u64,
        if wrong_hash { !hash } else { hash },
        K,
        0x20026, // ADP_Stopped_ApplicationExit, status 0
        0,
        0x20026, // ... status 9
        9,
    ];
    blob.extend(consts.iter().flat_map(|c| c.to_le_bytes()));
    assert_eq!(blob.len(), 0x80);
    blob.extend(data.iter().flat_map(|w| w.to_le_bytes()));
    blob
}

/// `mode=boot cpus=4` with the self-checking blob at `dest=` over the
/// stage (0x40200000 on virt), 8 MiB of data split across four CPUs.
fn blob_hand_off(name: &str, machine: &str, args: &str, wrong_hash: bool) -> common::Run {
    let dir = scratch(name);
    let path = dir.join("blob.bin");
    std::fs::write(&path, self_checking_blob(8 << 20, 0x5eed, wrong_hash)).unwrap();
    Qemu::virt()
        .args(["-M", machine, "-smp", "4", "-initrd"])
        .arg(path.to_str().unwrap())
        .append(&format!("mode=boot dest=0x40200000 {args}"))
        .timeout(Duration::from_secs(180))
        .run()
}

/// The blob ran and found every one of its bytes where it belongs after
/// a final copy on four CPUs; the secondaries reached the pen first.
fn check_blob(run: &common::Run, strategy: &str) {
    assert_eq!(
        run.status,
        Some(0),
        "the payload found itself damaged (9) or did not run:\n{}",
        run.output
    );
    let h = run.record("handoff");
    assert_eq!(h["strategy"], strategy, "{h}");
    assert_eq!(h["cpus"], 4, "{h}");
    assert_eq!(h["image"], false, "{h}");
    let (cpus, warnings) = secondaries(run);
    assert!(warnings.is_empty(), "{warnings:?}");
    let states: Vec<&str> = cpus.iter().map(|c| c["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["final-copy"; 3], "{cpus:?}");
    assert!(
        !run.output.contains("\"record\":\"error\""),
        "{}",
        run.output
    );
}

#[test]
fn every_byte_arrives_after_an_ind_list_hand_off_on_four_cpus() {
    let run = blob_hand_off(
        "handoff-blob-ind-list",
        "virt",
        "strategy=ind-list cpus=4",
        false,
    );
    check_blob(&run, "ind-list");
}

/// The contiguous loop runs under the contiguous map: the secondaries
/// install it too before they leave the stage. At EL2, with the fused
/// kernel.
#[test]
fn every_byte_arrives_after_a_contiguous_hand_off_on_four_cpus_at_el2() {
    let run = blob_hand_off(
        "handoff-blob-contig",
        "virt,virtualization=on",
        "strategy=contiguous copy=ldp-q-dc cpus=4",
        false,
    );
    check_blob(&run, "contiguous");
    assert_eq!(run.record("handoff")["el"], 2);
}

/// The check above can fail: the same blob with a wrong stored hash
/// reports itself damaged (status 9).
#[test]
fn the_self_checking_blob_notices_a_wrong_hash() {
    let run = blob_hand_off("handoff-blob-wrong", "virt", "cpus=4", true);
    assert_eq!(run.status, Some(9), "{}", run.output);
}

/// A fault during the final copy on four CPUs (`inject=`: a source of
/// the last CPU's share, or of the boot CPU's, points past RAM): it lands
/// in the control area's park vectors, which name the CPU (`cpu`: the
/// last of `-smp 4` is MPIDR 0x3, the boot CPU 0x0) and its ESR, print
/// the `error` record and end the run with status 3 through
/// semihosting; the payload (which would exit 0 or 9) is never entered.
fn fault_in_final_copy(name: &str, machine: &str, strategy: &str, inject: &str, cpu: &str) {
    let run = blob_hand_off(
        name,
        machine,
        &format!("strategy={strategy} cpus=4 inject={inject}"),
        false,
    );
    assert_eq!(run.status, Some(3), "{}", run.output);
    assert_eq!(run.record("handoff")["cpus"], 4);
    let prefix =
        format!("mmu-reloc: error: CPU {cpu} took an exception during the final copy (ESR 0x");
    let line = run
        .output
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no fault line naming CPU {cpu}:\n{}", run.output));
    // A data abort (EC 0x25, same EL) for the unmapped source.
    let esr = line
        .strip_prefix(prefix.as_str())
        .and_then(|r| r.strip_suffix(')'))
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or_else(|| panic!("no ESR in {line:?}"));
    assert_eq!(esr >> 26, 0x25, "{line}");
    let e = run.record("error");
    assert_eq!(
        e["msg"],
        line.trim_start_matches("mmu-reloc: error: "),
        "{}",
        run.output
    );
    assert_eq!(run.record("exit")["status"], 3, "{}", run.output);
}

#[test]
fn a_fault_on_a_secondary_in_the_final_list_copy_stops_the_boot() {
    fault_in_final_copy(
        "handoff-blob-fault-list",
        "virt",
        "ind-list",
        "secondary-copy-fault",
        "0x3",
    );
}

#[test]
fn a_fault_on_a_secondary_in_the_final_contiguous_copy_stops_the_boot() {
    fault_in_final_copy(
        "handoff-blob-fault-contig",
        "virt,virtualization=on",
        "contiguous",
        "secondary-copy-fault",
        "0x3",
    );
}

/// The boot CPU's own share faulting is named too (MPIDR 0x0).
#[test]
fn a_fault_on_the_boot_cpu_in_the_final_copy_on_four_cpus_names_it() {
    fault_in_final_copy(
        "handoff-blob-fault-boot",
        "virt",
        "contiguous",
        "copy-fault",
        "0x0",
    );
}

/// The boot CPU's wait for the secondaries is bounded: with the last
/// CPU's share made to loop for ever in its list walk
/// (`inject=secondary-hang`, which also cuts the deadline to 2 s), the
/// boot CPU raises the abort word, names that CPU (MPIDR 0x3 on `-smp
/// 4`) in the error line and record, and ends with status 2; the payload
/// (which would exit 0 or 9) never runs.
#[test]
fn a_secondary_that_never_finishes_its_final_share_stops_the_boot() {
    let run = blob_hand_off(
        "handoff-blob-hang",
        "virt",
        "strategy=ind-list cpus=4 inject=secondary-hang",
        false,
    );
    assert_eq!(run.status, Some(2), "{}", run.output);
    assert_eq!(run.record("handoff")["cpus"], 4);
    let msg = "hand-off: CPU 0x3 did not finish its share of the final copy or reach the pen in time; the next stage was not entered";
    assert!(
        run.output
            .lines()
            .any(|l| l == format!("mmu-reloc: error: {msg}")),
        "{}",
        run.output
    );
    assert_eq!(run.record("error")["msg"], msg, "{}", run.output);
    assert_eq!(run.record("exit")["status"], 2, "{}", run.output);
}
