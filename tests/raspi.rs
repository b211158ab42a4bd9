//! The same image on QEMU's Raspberry Pi 4: entered at EL2 at the Pi
//! firmware's load address, console on the mini UART named by the Pi DTB,
//! no PSCI; the map and a relocation must verify there too.

mod common;

use std::time::Duration;

use common::{Qemu, linux_image};

#[test]
fn info_on_raspi4b() {
    let run = Qemu::raspi4b().append("mode=info").run();
    run.expect_status(0);
    let p = run.record("platform");
    assert_eq!(p["model"], "Raspberry Pi 4 Model B");
    assert_eq!(p["el"], 2);
    assert_eq!(p["console"], "bcm2835-aux-uart");
    assert_eq!(p["psci"], "none");
    assert_eq!(p["cpus"], 4);
    assert_eq!(p["ram_bytes"], 960u64 << 20);
    assert_eq!(run.record("map")["verified"], true);
    assert_eq!(run.record("caches")["coherent"], true);
}

#[test]
fn bench_on_raspi4b() {
    let run = Qemu::raspi4b().append("size=2M trials=1").run();
    run.expect_status(0);
    let res = run.all("result");
    // (ind-list, contiguous) x 3 kernels x MMU on/off + legacy x 2 (the
    // A72 has no FEAT_MOPS).
    assert_eq!(res.len(), 14);
    assert!(res.iter().all(|r| r["verified"] == true));
}

#[test]
fn linux_boots_on_raspi4b_after_relocation() {
    // The cloud kernel has no mini-UART driver: it prints on the PL011.
    let kernel = linux_image();
    let run = Qemu::raspi4b()
        .arg("-initrd")
        .arg(kernel.to_str().unwrap())
        .append("mode=boot earlycon=pl011,0xfe201000 console=ttyAMA0")
        .until(&[
            "Booting Linux on physical CPU",
            "Machine model: Raspberry Pi 4 Model B",
            "Memory: ",
        ])
        .timeout(Duration::from_secs(180))
        .run();
    assert!(run.matched, "{}", run.output);
    let h = run.record("handoff");
    assert_eq!(h["el"], 2);
    // The bottom page is the spin table (/memreserve/): the default base is
    // the next 2 MiB boundary.
    assert_eq!(h["entry"], "0x200000");
    // The stage's own words are not passed on.
    assert!(
        run.output
            .contains("Kernel command line: earlycon=pl011,0xfe201000 console=ttyAMA0\n"),
        "{}",
        run.output
    );
}
