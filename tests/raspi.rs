//! The same image on QEMU's Raspberry Pi 4: entered at EL2 at the Pi
//! firmware's load address, console on the mini UART named by the Pi DTB,
//! no PSCI; the map and a relocation must verify there too.

mod common;

use common::Qemu;

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
    assert_eq!(res.len(), 8);
    assert!(res.iter().all(|r| r["verified"] == true));
}
