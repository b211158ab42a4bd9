//! `mode=boot`: the stage relocates a real Linux kernel (Debian's arm64
//! cloud Image, passed with -initrd) over itself and hands off to it the
//! way kexec does; the kernel must boot and see the machine truthfully.

mod common;

use std::time::Duration;

use common::{Qemu, linux_image};

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
