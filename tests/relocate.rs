//! Relocation in QEMU: every strategy and copy kernel, MMU on and off,
//! verified byte for byte by the stage (page hashes, guard pages), and the
//! A/B report's records (the host report is tested in xtask/tests).

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
    // (ind-list, contiguous) x 3 kernels x MMU on/off, plus legacy x the
    // two kernels that leave the clean to the walker (MMU off only), each
    // twice.
    assert_eq!(res.len(), (2 * 3 * 2 + 2) * 2, "configurations x trials");
    for r in &res {
        assert_eq!(r["verified"], true, "{r}");
        assert_eq!(r["bytes"], 4 << 20);
        assert_eq!(r["pages"], 1024);
        assert_eq!(r["segments"], 3);
        assert!(r["guard_bytes_checked"].as_u64().unwrap() > 0);
        assert_eq!(r["warmup"], r["trial"] == 0, "{r}");
        assert!(r["ns"].as_u64().unwrap() > 0);
        // Without -icount the PMU cannot count instructions: null, not 0.
        assert!(r["insns"].is_null(), "{r}");
        for f in ["map_insns", "final_insns", "verify_insns"] {
            assert!(r[f].is_null(), "{f}: {r}");
        }
        // The phases around the copy: the map build only with the MMU on.
        assert!(r["verify_ns"].as_u64().unwrap() > 0, "{r}");
        assert!(r["final_ns"].is_u64(), "{r}");
        assert_eq!(r["map_ns"].is_u64(), r["mmu"] == true, "{r}");
        match (r["mmu"].as_bool().unwrap(), r["strategy"].as_str().unwrap()) {
            (true, "legacy") => panic!("legacy runs with the MMU off only: {r}"),
            (false, _) => assert!(r["granule"].is_null() && r["table_bytes"].is_null()),
            (true, "contiguous") => assert_eq!(r["src_layout"], "va-contiguous"),
            (true, _) => assert_eq!(r["granule"], "4k"),
        }
    }
    let summaries = run.all("summary");
    assert_eq!(summaries.len(), 14);
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
    // Trials run in a seeded shuffled order: the same in both boots.
    let insns = |r: &common::Run| -> Vec<(String, u64)> {
        results(r)
            .iter()
            .map(|x| {
                (
                    x["copy"].as_str().unwrap().to_string(),
                    x["insns"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(insns(&a), insns(&b), "icount runs repeat exactly");
    let per_page = |copy: &str| insns(&a).iter().find(|x| x.0 == copy).unwrap().1 / 256;
    // copy_page: 12 instructions per 64 bytes (768 per page); ldp-q half
    // that; ldp-q-dc about 5 per 64 bytes with its cleans.
    let (linux, ldpq, fused) = (
        per_page("copy_page"),
        per_page("ldp-q"),
        per_page("ldp-q-dc"),
    );
    assert!(
        linux > 768 && ldpq > 384 && ldpq < linux && fused < ldpq,
        "{linux} {ldpq} {fused}"
    );
}

/// Instructions per 4 KiB page of each `result` record of `run`, by
/// (strategy, MMU on).
fn insns_per_page(run: &common::Run) -> Vec<(String, bool, f64)> {
    results(run)
        .iter()
        .map(|r| {
            (
                r["strategy"].as_str().unwrap().to_string(),
                r["mmu"].as_bool().unwrap(),
                r["insns"].as_u64().unwrap() as f64 / r["pages"].as_u64().unwrap() as f64,
            )
        })
        .collect()
}

/// The fused kernel, with the MMU on and off: at most 400 instructions per
/// page including the walk and the dc civac of every 64-byte line (the
/// floor is 320), and the list walk within 3% of the contiguous loop.
#[test]
fn ldp_q_dc_is_within_400_instructions_per_page() {
    let run = Qemu::virt()
        .icount()
        .append("size=2M segments=3 trials=1 copy=ldp-q-dc")
        .run();
    run.expect_status(0);
    assert_eq!(run.record("platform")["dcache_line"], 64);
    let counts = insns_per_page(&run);
    assert_eq!(counts.len(), 4, "{counts:?}");
    for (strategy, mmu, per_page) in &counts {
        assert!(
            *per_page >= 320.0 && *per_page <= 400.0,
            "{strategy} MMU {mmu}: {per_page} instructions per page"
        );
    }
    let on = |s: &str| counts.iter().find(|c| c.0 == s && c.1).unwrap().2;
    let (list, contig) = (on("ind-list"), on("contiguous"));
    assert!(
        list <= contig * 1.03,
        "ind-list {list} vs contiguous {contig} per page"
    );
    assert!(results(&run).iter().all(|r| r["verified"] == true));
    // The cost breakdown, counted: the contiguous map costs more to build
    // than the linear one (a table entry per source page); verifying
    // hashes every byte, so it costs more than the copy.
    let field = |s: &str, mmu: bool, f: &str| {
        results(&run)
            .iter()
            .find(|r| r["strategy"] == s && r["mmu"] == mmu)
            .map(|r| r[f].as_u64())
            .unwrap()
    };
    let (linear, contig) = (
        field("ind-list", true, "map_insns").unwrap(),
        field("contiguous", true, "map_insns").unwrap(),
    );
    assert!(
        contig > linear && linear > 0,
        "map builds {linear} {contig}"
    );
    assert_eq!(field("ind-list", false, "map_insns"), None);
    for s in ["ind-list", "contiguous"] {
        assert!(field(s, true, "final_insns").unwrap() > 0);
        assert!(field(s, true, "verify_insns").unwrap() > field(s, true, "insns").unwrap());
    }
}

/// Its build for 128-byte and longer lines (one dc per 128 bytes): QEMU's
/// A64FX has 256-byte lines.
#[test]
fn ldp_q_dc_on_long_cache_lines() {
    let run = Qemu::virt()
        .args(["-cpu", "a64fx"])
        .icount()
        .append("size=1M trials=1 copy=ldp-q-dc")
        .run();
    run.expect_status(0);
    assert_eq!(run.record("platform")["dcache_line"], 256);
    for (strategy, mmu, per_page) in insns_per_page(&run) {
        // 256 ldp/stp q and 32 dc civac, one per 128 bytes.
        assert!(
            (288.0..=370.0).contains(&per_page),
            "{strategy} MMU {mmu}: {per_page} instructions per page"
        );
    }
    assert!(results(&run).iter().all(|r| r["verified"] == true));
}

/// FEAT_MOPS (`-cpu max` has it): CPYFP/CPYFM/CPYFE per page, verified;
/// `copy=all` includes it there, never with legacy. Its count is the three
/// CPY instructions (however many bytes each moves) plus the walk and the
/// by-line clean, so it is reported, not compared per instruction.
#[test]
fn mops_copies_verified_where_the_cpu_has_it() {
    let run = Qemu::virt()
        .args(["-cpu", "max"])
        .icount()
        .append("size=1M trials=1 copy=all strategy=all mmu=both")
        .run();
    run.expect_status(0);
    let res = results(&run);
    assert!(res.iter().all(|r| r["verified"] == true));
    let mops: Vec<_> = res.iter().filter(|r| r["copy"] == "mops").collect();
    assert_eq!(mops.len(), 4, "ind-list and contiguous, MMU on and off");
    assert!(mops.iter().all(|r| r["strategy"] != "legacy"));
    for r in mops {
        let per_page = r["insns"].as_u64().unwrap() / r["pages"].as_u64().unwrap();
        // 64 lines x 4 instructions of dc civac loop, a few for the walk
        // and the CPY sequence.
        assert!((256..400).contains(&per_page), "{per_page}: {r}");
    }
}

/// `size=` as a list: one payload after the other in one boot, each
/// prepared with the MMU off and every configuration verified on it.
#[test]
fn size_list_runs_each_payload_in_one_boot() {
    let run = Qemu::virt()
        .append("size=1M,3M segments=2 trials=1 copy=ldp-q")
        .run();
    run.expect_status(0);
    let res = results(&run);
    let bytes: Vec<u64> = res.iter().map(|r| r["bytes"].as_u64().unwrap()).collect();
    // 4 ind-list/contiguous x MMU configurations + legacy, per payload,
    // the first payload's first.
    assert_eq!(bytes.len(), 2 * 5);
    assert!(bytes[..5].iter().all(|&b| b == 1 << 20), "{bytes:?}");
    assert!(bytes[5..].iter().all(|&b| b == 3 << 20), "{bytes:?}");
    assert!(res.iter().all(|r| r["verified"] == true));
    assert_eq!(run.all("summary").len(), 2 * 5);
}

/// `granule=` as a list: the whole benchmark once per granule in one boot
/// (sizes within each pass), every run verified. 32 MiB under the 64k
/// granule once split the table area so the contiguous map's 4 KiB tables
/// did not fit.
#[test]
fn granule_list_runs_each_granule_in_one_boot() {
    let run = Qemu::virt()
        .append("granule=4k,64k size=1M,32M trials=1 copy=copy_page mmu=on")
        .run();
    run.expect_status(0);
    let res = results(&run);
    let seen: Vec<(String, u64)> = res
        .iter()
        .filter(|r| r["strategy"] == "ind-list")
        .map(|r| {
            (
                r["granule"].as_str().unwrap().to_string(),
                r["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, u64)> = [("4k", 1), ("4k", 32), ("64k", 1), ("64k", 32)]
        .iter()
        .map(|(g, m)| (g.to_string(), m << 20))
        .collect();
    assert_eq!(seen, want);
    assert_eq!(
        res.len(),
        2 * 2 * 2,
        "ind-list and contiguous per size per granule"
    );
    assert!(res.iter().all(|r| r["verified"] == true));
    // A leaf the second granule lacks: refused before the first pass runs.
    let bad = Qemu::virt()
        .append("granule=4k,64k leaves=2m size=1M trials=1 copy=copy_page mmu=on")
        .run();
    bad.expect_error("not a leaf size of the 64k granule");
    assert!(results(&bad).is_empty(), "{}", bad.output);
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
    // Largest leaf first (the trial ran them in a shuffled order).
    let mut res = results(&run);
    res.sort_by_key(|r| std::cmp::Reverse(r["leaf"].as_u64().unwrap()));
    let leaves: Vec<u64> = res.iter().map(|r| r["leaf"].as_u64().unwrap()).collect();
    assert_eq!(leaves, [1 << 30, 2 << 20, 4096]);
    assert!(res.iter().all(|r| r["verified"] == true));
    // Each map was built in the same table area and checked with AT when
    // switched to; smaller leaves need more tables.
    let tables: Vec<u64> = res
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
