//! The bootable stage in QEMU: entry at EL1 and EL2, platform discovery
//! from the DTB, position independence, and bad input ending in an error
//! record and a non-zero exit.

mod common;

use common::{Qemu, boot_elsewhere, dump_virt_dtb, scratch};
use mmu_reloc::fdt::{Fdt, nop_property};

#[test]
fn info_at_el1() {
    let run = Qemu::virt().append("mode=info").run();
    run.expect_status(0);
    let p = run.record("platform");
    assert_eq!(p["el"], 1);
    assert_eq!(p["model"], "linux,dummy-virt");
    assert_eq!(p["psci"], "hvc");
    assert_eq!(p["console"], "pl011");
    assert_eq!(p["bootargs"], "mode=info");
    assert_eq!(
        p["granules"],
        serde_json::json!(["4k", "64k"]),
        "cortex-a72 has no 16k"
    );
    assert_eq!(p["pa_bits"], 44);
    assert_eq!(p["midr"], "0x410fd083");
}

#[test]
fn info_at_el2() {
    let run = Qemu::virt()
        .args(["-M", "virt,virtualization=on"])
        .append("mode=info")
        .run();
    run.expect_status(0);
    let p = run.record("platform");
    assert_eq!(p["el"], 2);
    assert_eq!(p["psci"], "smc", "at EL2 QEMU's PSCI conduit is smc");
}

#[test]
fn ram_size_follows_dash_m() {
    for (m, bytes) in [("128M", 128u64 << 20), ("1G", 1 << 30), ("3G", 3 << 30)] {
        let run = Qemu::virt().args(["-m", m]).append("mode=info").run();
        run.expect_status(0);
        let p = run.record("platform");
        assert_eq!(p["ram_bytes"], bytes, "-m {m}");
        assert_eq!(
            p["ram"],
            serde_json::json!([[0x4000_0000u64, 0x4000_0000 + bytes]])
        );
    }
}

#[test]
fn smp_reports_cpus_and_parks_secondaries() {
    let run = Qemu::virt().args(["-smp", "4"]).append("mode=info").run();
    run.expect_status(0);
    assert_eq!(run.record("platform")["cpus"], 4);
}

#[test]
fn runs_where_it_is_loaded() {
    // -kernel puts the Image at RAM base + 2 MiB; the trampoline runs it from
    // a 4 KiB-aligned address near the top of 2 GiB of RAM instead.
    let dtb = dump_virt_dtb(&scratch("pie"), "virt", "2G", "mode=info");
    for load in [0x7f00_1000u64, 0x4123_4000] {
        let run = boot_elsewhere("pie", &dtb, load, &["-m", "2G"]);
        run.expect_status(0);
        let p = run.record("platform");
        assert_eq!(p["load"], format!("{load:#x}"));
        assert_eq!(p["ram_bytes"], 2u64 << 30);
    }
    let run = Qemu::virt().append("mode=info").run();
    assert_eq!(run.record("platform")["load"], "0x40200000");
}

#[test]
fn dtb_without_memory_is_an_error() {
    let mut dtb = dump_virt_dtb(&scratch("nomem"), "virt", "1G", "mode=info");
    let offsets: Vec<usize> = {
        let f = Fdt::new(&dtb).unwrap();
        let mem = f.find("/memory").expect("QEMU's DTB has /memory");
        f.props(mem).map(|p| p.blob_offset).collect()
    };
    for off in offsets {
        nop_property(&mut dtb, off).unwrap();
    }
    boot_elsewhere("nomem", &dtb, 0x4100_0000, &[]).expect_error("no /memory");
}

#[test]
fn bad_bootargs_value_is_an_error() {
    Qemu::virt()
        .append("mode=info size=12q")
        .run()
        .expect_error("size=");
    Qemu::virt().append("log=loud").run().expect_error("log=");
}

#[test]
fn foreign_bootargs_are_left_alone() {
    let run = Qemu::virt().append("mode=info console=ttyAMA0 quiet").run();
    run.expect_status(0);
    assert!(
        run.output
            .contains("'console=ttyAMA0' is not a stage option"),
        "{}",
        run.output
    );
}

#[test]
fn el3_entry_stops_with_a_message() {
    // secure=on with an ELF enters at EL3 with no DTB.
    let run = Qemu::virt()
        .no_kernel()
        .args(["-M", "virt,secure=on", "-kernel"])
        .arg(common::elf().to_str().unwrap())
        .run();
    run.expect_error("EL3");
}
