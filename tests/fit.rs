//! `mode=boot` with a FIT image (scripts/fit/boot.its: Debian's cloud
//! kernel and a busybox initramfs, built with Debian's mkimage): the stage
//! checks the hashes, relocates kernel and ramdisk as one kimage list,
//! points `linux,initrd-*` at the relocated ramdisk, and Linux unpacks it
//! and runs its `/init`, which prints the sha256 of a file inside the
//! initramfs and powers off.

mod common;

use std::time::Duration;

use common::{Dtb, Qemu, Run, dt_reg, dt_str, dump_virt_dtb, fit_marker, fit_payload, scratch};
use sha2::{Digest, Sha256};

const TIMEOUT: Duration = Duration::from_secs(180);

/// Linux's own words for unpacking the initramfs and running its init.
const UNPACKED: [&str; 2] = [
    "Trying to unpack rootfs image as initramfs...",
    "Run /init as init process",
];

fn boot(machine: &str, append: &str) -> Run {
    Qemu::virt()
        .args(["-M", machine, "-m", "1G", "-initrd"])
        .arg(fit_payload().to_str().unwrap())
        .append(append)
        .timeout(TIMEOUT)
        .run()
}

/// Linux powered the machine off (PSCI SYSTEM_OFF): QEMU exits 0. The
/// stage itself ends at the hand-off, so it prints no `exit` record.
fn exits_cleanly(run: &Run) {
    assert_eq!(run.status, Some(0), "{}", run.output);
    assert!(run.all("exit").is_empty(), "{}", run.output);
}

/// The hand-off moved kernel and ramdisk, Linux ran the relocated
/// initramfs's `/init`, the checksum is right.
fn check(run: &Run, strategy: &str, el: u64) {
    let marker = fit_marker();
    assert!(
        run.output.contains(&marker),
        "no {marker:?}; output:\n{}",
        run.output
    );
    for line in UNPACKED {
        assert!(run.output.contains(line), "no {line:?}:\n{}", run.output);
    }
    assert!(
        !run.output.contains("Initramfs unpacking failed"),
        "{}",
        run.output
    );
    let h = run.record("handoff");
    assert_eq!(h["strategy"], strategy);
    assert_eq!(h["el"], el);
    assert_eq!(h["fit"], "conf-1");
    assert_eq!(h["image"], true);
    // Two segments: the kernel (entry at its start), then the ramdisk
    // page-aligned above the kernel's image_size; initrd = the ramdisk's
    // true length inside its destination.
    let dest = h["dest"].as_array().unwrap();
    assert_eq!(dest.len(), 2, "{h}");
    assert_eq!(h["entry"], format!("{:#x}", dest[0][0].as_u64().unwrap()));
    assert_eq!(dest[1][0], dest[0][1]);
    let initrd = &h["initrd"][0];
    assert_eq!(initrd[0], dest[1][0]);
    assert!(initrd[1].as_u64() <= dest[1][1].as_u64());
    // Linux freed the relocated ramdisk: its whole pages (the start is
    // page-aligned, the partial last page stays reserved).
    let kib = (initrd[1].as_u64().unwrap() - initrd[0].as_u64().unwrap()) / 4096 * 4;
    assert!(
        run.output
            .contains(&format!("Freeing initrd memory: {kib}K")),
        "{}",
        run.output
    );
    // Only the words the stage does not own reach Linux.
    let cmdline = run
        .output
        .lines()
        .find(|l| l.contains("Kernel command line:"))
        .unwrap();
    assert!(!cmdline.contains("mode="), "{cmdline}");
}

#[test]
fn fit_boots_to_initramfs_ind_list_el1() {
    let run = boot("virt", "mode=boot strategy=ind-list console=ttyAMA0");
    exits_cleanly(&run);
    check(&run, "ind-list", 1);
}

#[test]
fn fit_boots_to_initramfs_contiguous_el1() {
    let run = boot(
        "virt",
        "mode=boot strategy=contiguous copy=ldp-q console=ttyAMA0",
    );
    exits_cleanly(&run);
    check(&run, "contiguous", 1);
}

#[test]
fn fit_boots_to_initramfs_ind_list_el2() {
    let run = boot(
        "virt,virtualization=on",
        "mode=boot strategy=ind-list console=ttyAMA0",
    );
    exits_cleanly(&run);
    check(&run, "ind-list", 2);
    assert!(run.output.contains("CPU: All CPU(s) started at EL2"));
}

#[test]
fn fit_boots_to_initramfs_contiguous_el2() {
    let run = boot(
        "virt,virtualization=on",
        "mode=boot strategy=contiguous console=ttyAMA0",
    );
    exits_cleanly(&run);
    check(&run, "contiguous", 2);
    assert!(run.output.contains("CPU: All CPU(s) started at EL2"));
}

/// The Pi has no PSCI: Linux turns the power-off into a halt ("reboot:
/// System halted"), so the harness stops QEMU once that line is seen.
fn raspi(strategy: &str) {
    let marker = fit_marker();
    let run = Qemu::raspi4b()
        .arg("-initrd")
        .arg(fit_payload().to_str().unwrap())
        .append(&format!(
            "mode=boot strategy={strategy} earlycon=pl011,0xfe201000 console=ttyAMA0"
        ))
        .until(&[&marker, "reboot: System halted"])
        .timeout(TIMEOUT)
        .run();
    assert!(run.matched, "{}", run.output);
    check(&run, strategy, 2);
}

#[test]
fn fit_boots_to_initramfs_on_raspi4b_ind_list() {
    raspi("ind-list");
}

#[test]
fn fit_boots_to_initramfs_on_raspi4b_contiguous() {
    raspi("contiguous");
}

/// A configuration with an `fdt`: QEMU virt's own DTB with another model
/// name and a wrong `/memory` (256 MiB). The stage hands on that tree with
/// the live `/memory` (1 GiB) and `/chosen` (command line, initrd) carried
/// over: Linux reports the FIT's model, sees all of the RAM and runs the
/// initramfs.
#[test]
fn fit_with_fdt_hands_on_the_fixed_up_tree() {
    const MODEL: &str = "mmu-reloc FIT fdt";
    let dir = scratch("fit-fdt");
    let mut fdt = Dtb::parse(&dump_virt_dtb(&dir, "virt", "1G", "ignored"));
    fdt.root.set("model", dt_str(MODEL));
    fdt.node_mut("/memory")
        .set("reg", dt_reg(2, 2, &[(0x4000_0000, 256 << 20)]).unwrap());
    let fdt = fdt.to_bytes();

    let mut fit = Dtb::parse(&std::fs::read(fit_payload()).unwrap());
    let digest = Sha256::digest(&fdt).to_vec();
    fit.add_fit_fdt(fdt, "sha256", digest);
    let path = dir.join("boot-fdt.itb");
    std::fs::write(&path, fit.to_bytes()).unwrap();

    let run = Qemu::virt()
        .args(["-m", "1G", "-initrd"])
        .arg(path.to_str().unwrap())
        .append("mode=boot console=ttyAMA0")
        .timeout(TIMEOUT)
        .run();
    exits_cleanly(&run);
    check(&run, "ind-list", 1);
    assert_eq!(run.record("handoff")["fit_fdt"], true);
    assert!(
        run.output.contains(&format!("Machine model: {MODEL}")),
        "{}",
        run.output
    );
    let mem = run.output.lines().find(|l| l.contains("Memory: ")).unwrap();
    assert!(mem.contains("K/1048576K available"), "{mem}");
}
