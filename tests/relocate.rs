//! Relocation in QEMU: every strategy and copy kernel, MMU on and off,
//! verified byte for byte by the stage (page hashes, guard pages), and the
//! A/B report's records.

mod common;

use common::Qemu;
use serde_json::Value;

fn results(run: &common::Run) -> Vec<&Value> {
    run.all("result")
}

#[test]
fn bench_runs_every_configuration_verified() {
    let run = Qemu::virt().append("size=4M segments=3 trials=2").run();
    run.expect_status(0);
    let res = results(&run);
    // (ind-list, contiguous) x kernels x MMU on/off, plus legacy x kernels
    // (MMU off only), each twice.
    assert_eq!(res.len(), (2 * 2 * 2 + 2) * 2, "configurations x trials");
    for r in &res {
        assert_eq!(r["verified"], true, "{r}");
        assert_eq!(r["bytes"], 4 << 20);
        assert_eq!(r["pages"], 1024);
        assert_eq!(r["segments"], 3);
        assert!(r["guard_bytes_checked"].as_u64().unwrap() > 0);
        assert!(r["ns"].as_u64().unwrap() > 0);
        // Without -icount the PMU cannot count instructions: null, not 0.
        assert!(r["insns"].is_null(), "{r}");
        match (r["mmu"].as_bool().unwrap(), r["strategy"].as_str().unwrap()) {
            (true, "legacy") => panic!("legacy runs with the MMU off only: {r}"),
            (false, _) => assert!(r["granule"].is_null() && r["table_bytes"].is_null()),
            (true, "contiguous") => assert_eq!(r["src_layout"], "va-contiguous"),
            (true, _) => assert_eq!(r["granule"], "4k"),
        }
    }
    let summaries = run.all("summary");
    assert_eq!(summaries.len(), 10);
    assert!(
        summaries
            .iter()
            .all(|s| s["verified"] == true && s["trials"] == 2)
    );
    // The contiguous map costs about one 4 KiB table per 512 source pages.
    let maps = run.all("map");
    let contig = maps
        .iter()
        .find(|m| m["name"] == "contiguous")
        .expect("contiguous map record");
    let linear = maps.iter().find(|m| m["name"] == "linear").unwrap();
    let extra = contig["table_bytes"].as_u64().unwrap() - linear["table_bytes"].as_u64().unwrap();
    assert!(
        (2 * 4096..=6 * 4096).contains(&extra),
        "contiguous map adds {extra} bytes for 1024 pages"
    );
    assert_eq!(linear["verified"], true);
}

#[test]
fn icount_gives_exact_instruction_counts() {
    let go = || {
        Qemu::virt()
            .args(["-icount", "shift=0,align=off,sleep=off"])
            .append("size=1M segments=1 mmu=on strategy=ind-list")
            .run()
    };
    let (a, b) = (go(), go());
    a.expect_status(0);
    let insns = |r: &common::Run| -> Vec<u64> {
        results(r)
            .iter()
            .map(|x| x["insns"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(insns(&a), insns(&b), "icount runs repeat exactly");
    let per_page: Vec<u64> = insns(&a).iter().map(|i| i / 256).collect();
    // copy_page: 12 instructions per 64 bytes (768 per page); ldp-q half that.
    assert!(
        per_page[0] > 768 && per_page[1] > 384 && per_page[1] < per_page[0],
        "{per_page:?}"
    );
}

#[test]
fn el2_and_other_granules() {
    let run = Qemu::virt()
        .args(["-M", "virt,virtualization=on", "-cpu", "max", "-m", "2G"])
        .append("size=2M granule=16k leaf=16k copy=ldp-q trials=1")
        .run();
    run.expect_status(0);
    assert_eq!(run.record("platform")["el"], 2);
    for r in results(&run) {
        assert_eq!(r["verified"], true);
        if r["mmu"] == true && r["strategy"] == "ind-list" {
            assert_eq!(r["granule"], "16k");
            assert_eq!(r["leaf"], 16384);
        }
    }
}

#[test]
fn payload_too_large_is_an_error() {
    Qemu::virt()
        .args(["-m", "256M"])
        .append("size=512M")
        .run()
        .expect_error("does not fit");
}

#[test]
fn fault_inside_copy_loops_is_reported_with_progress() {
    for (machine, el) in [("virt", "EL1"), ("virt,virtualization=on", "EL2")] {
        for strategy in ["ind-list", "contiguous", "legacy"] {
            for mmu in ["on", "off"] {
                if strategy == "legacy" && mmu == "on" {
                    continue;
                }
                let run = Qemu::virt()
                    .args(["-M", machine])
                    .append(&format!(
                        "size=1M segments=2 copy=ldp-q strategy={strategy} mmu={mmu} inject=copy-fault"
                    ))
                    .run();
                run.expect_status(3);
                let msg = run.record("error")["msg"].as_str().unwrap().to_string();
                let abort = if mmu == "on" {
                    "translation fault"
                } else {
                    "synchronous external abort"
                };
                for needle in [
                    format!("at {el}"),
                    "data abort, same EL".to_string(),
                    abort.to_string(),
                    "ESR=0x96".to_string(),
                    "FAR=0xc0000000".to_string(),
                    format!("in {strategy} loop (ldp-q, MMU {mmu}) after "),
                    "destination cursor 0x".to_string(),
                ] {
                    assert!(
                        msg.contains(&needle),
                        "{machine} {strategy} mmu={mmu}: {msg:?} lacks {needle:?}"
                    );
                }
                // The fault came after some pages were done, not at the start.
                assert!(!msg.contains("after 0 pages"), "{msg}");
            }
        }
    }
}

#[test]
fn leaf_sweep_switches_maps_break_before_make() {
    let run = Qemu::virt()
        .append(
            "size=1M segments=1 trials=1 copy=copy_page mmu=on strategy=ind-list leaves=1g,2m,4k",
        )
        .run();
    run.expect_status(0);
    let leaves: Vec<u64> = results(&run)
        .iter()
        .map(|r| r["leaf"].as_u64().unwrap())
        .collect();
    assert_eq!(leaves, [1 << 30, 2 << 20, 4096]);
    assert!(results(&run).iter().all(|r| r["verified"] == true));
    // Each map was built in the same table area and checked with AT when
    // switched to; smaller leaves need more tables.
    let tables: Vec<u64> = results(&run)
        .iter()
        .map(|r| r["table_bytes"].as_u64().unwrap())
        .collect();
    assert!(tables[0] < tables[1] && tables[1] < tables[2], "{tables:?}");
    let sweep_maps = run
        .all("map")
        .into_iter()
        .filter(|m| m["name"] == "linear-sweep")
        .count();
    assert_eq!(sweep_maps, 3);
}

#[test]
fn host_report_from_two_boots() {
    // Two boots, as one would collect across reboots, fed to the report.
    let icount = ["-icount", "shift=0,align=off,sleep=off"];
    let a = Qemu::virt()
        .args(icount)
        .append("size=1M segments=1 trials=2 mmu=off")
        .run();
    let b = Qemu::virt()
        .args(icount)
        .append("size=1M segments=1 trials=1 mmu=off")
        .run();
    a.expect_status(0);
    b.expect_status(0);
    let dir = common::scratch("report");
    let log = dir.join("runs.log");
    std::fs::write(&log, format!("{}\n{}", a.output, b.output)).unwrap();
    let out = dir.join("out");
    let st = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/report.py"))
        .arg("--out")
        .arg(&out)
        .arg(&log)
        .output()
        .expect("run python3 scripts/report.py");
    let stdout = String::from_utf8_lossy(&st.stdout);
    assert!(
        st.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&st.stderr)
    );
    // legacy, ind-list and contiguous x 2 kernels, MMU off: 6 configurations
    // x 3 runs.
    let results = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(results.lines().count(), 1 + 6 * 3, "{results}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let rows = summary["summary"].as_array().unwrap();
    assert_eq!(rows.len(), 6);
    for r in rows {
        assert_eq!(r["n"], 3);
        assert_eq!(r["verified"], true);
        // -icount: time is instructions, but read from the generic timer
        // (62.5 MHz on cortex-a72), so two runs may differ by one tick.
        let spread = r["max_ns"].as_u64().unwrap() - r["min_ns"].as_u64().unwrap();
        assert!(spread <= 16, "more than one timer tick apart: {r}");
        assert!(r["insns_per_page"].as_u64().unwrap() > 600);
    }
    // Instruction counts, though, repeat exactly across runs and boots.
    let mut insns: std::collections::HashMap<(String, String), Vec<String>> = Default::default();
    let header: Vec<&str> = results.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    for line in results.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let key = (f[col("strategy")].to_string(), f[col("copy")].to_string());
        insns
            .entry(key)
            .or_default()
            .push(f[col("insns")].to_string());
    }
    for (key, v) in &insns {
        assert!(v.iter().all(|i| i == &v[0]), "{key:?}: {v:?}");
    }
    assert!(
        std::fs::read_to_string(out.join("report.svg"))
            .unwrap()
            .contains("<svg")
    );
}
