//! The throwaway linear map in QEMU: every granule and leaf policy, odd RAM
//! sizes, EL1 and EL2, checked by the stage with `AT` and asserted here on
//! the `map` record; unsupported requests are errors, not fallbacks.

mod common;

use common::{Qemu, Run};
use serde_json::Value;

fn regions(v: &Value) -> Vec<(u64, u64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_u64().unwrap(), p[1].as_u64().unwrap()))
        .collect()
}

/// The map is verified, minimal, and its tables sit in RAM, outside every
/// forbidden range, at the top of RAM (top-down allocation).
fn check_map(run: &Run) -> &Value {
    run.expect_status(0);
    let map = run.record("map");
    assert_eq!(map["verified"], true, "{}", run.output);
    assert!(map["probes"].as_u64().unwrap() > 500);
    assert_eq!(map["table_bytes"], map["min_table_bytes"], "{}", run.output);
    let (t0, t1) = regions(&map["tables"])[0];
    assert_eq!((t1 - t0), map["table_bytes"].as_u64().unwrap());
    for (f0, f1) in regions(&map["forbidden"]) {
        assert!(
            t1 <= f0 || t0 >= f1,
            "tables [{t0:#x},{t1:#x}) in forbidden [{f0:#x},{f1:#x})"
        );
    }
    let ram = regions(&run.record("platform")["ram"]);
    let top = ram.iter().map(|r| r.1).max().unwrap();
    assert!(
        ram.iter().any(|r| r.0 <= t0 && t1 <= r.1),
        "tables outside RAM"
    );
    assert!(
        top - t1 < (16 << 20),
        "tables not carved from the top: end {t1:#x}, RAM top {top:#x}"
    );
    assert_eq!(run.record("caches")["coherent"], true);
    map
}

fn leaf(map: &Value, size: u64) -> u64 {
    map["leaf_counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["size"] == size)
        .map_or(0, |l| l["count"].as_u64().unwrap())
}

#[test]
fn default_map_uses_1g_blocks_at_el1_and_el2() {
    for machine in ["virt", "virt,virtualization=on"] {
        let run = Qemu::virt()
            .args(["-M", machine, "-m", "3G"])
            .append("mode=info")
            .run();
        let map = check_map(&run);
        assert_eq!(map["granule"], "4k");
        assert_eq!(
            leaf(map, 1 << 30),
            3,
            "3 GiB at a 1 GiB boundary is three 1 GiB blocks"
        );
        // root + the UART's L2 and L3 tables
        assert_eq!(map["table_bytes"], 3 * 4096);
    }
}

#[test]
fn ram_not_a_multiple_of_1g() {
    let run = Qemu::virt().args(["-m", "1500M"]).append("mode=info").run();
    let map = check_map(&run);
    assert_eq!(leaf(map, 1 << 30), 1);
    assert_eq!(leaf(map, 2 << 20), 238, "476 MiB of 2 MiB blocks");
}

#[test]
fn every_granule_on_cpu_max() {
    for (g, el) in [
        ("4k", "virt"),
        ("16k", "virt"),
        ("64k", "virt,virtualization=on"),
        ("16k", "virt,virtualization=on"),
    ] {
        let run = Qemu::virt()
            .args(["-cpu", "max", "-M", el, "-m", "2100M"])
            .append(&format!("mode=info granule={g}"))
            .run();
        let map = check_map(&run);
        assert_eq!(map["granule"], g);
        assert_eq!(
            run.record("platform")["granules"],
            serde_json::json!(["4k", "16k", "64k"])
        );
    }
}

#[test]
fn every_leaf_policy() {
    for (args, largest) in [
        ("leaf=1g", 1u64 << 30),
        ("leaf=2m", 2 << 20),
        ("leaf=4k", 4096),
        ("leaf=2m contig=off", 2 << 20),
        ("granule=16k leaf=32m", 32 << 20),
        ("granule=16k leaf=16k", 16 << 10),
        ("granule=64k leaf=512m", 512 << 20),
        ("granule=64k leaf=64k", 64 << 10),
    ] {
        let run = Qemu::virt()
            .args(["-cpu", "max", "-m", "1G"])
            .append(&format!("mode=info {args}"))
            .run();
        let map = check_map(&run);
        let sizes: Vec<u64> = map["leaf_counts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["count"].as_u64().unwrap() > 0)
            .map(|l| l["size"].as_u64().unwrap())
            .collect();
        assert_eq!(sizes.iter().max(), Some(&largest), "{args}: {sizes:?}");
        if args.contains("contig=off") {
            assert!(
                map["leaf_counts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|l| l["contig_groups"] == 0)
            );
        }
    }
}

#[test]
fn unsupported_requests_are_errors() {
    Qemu::virt()
        .args(["-cpu", "cortex-a57"])
        .append("mode=info granule=16k")
        .run()
        .expect_error("granule 16k is not supported");
    Qemu::virt()
        .append("mode=info leaf=32m")
        .run()
        .expect_error("is not a leaf size of the 4k granule");
}
