//! The model plugin (qemu/model) on the real stage: walk counts follow the
//! leaf size, MMU-off runs are all Device, counts repeat under -icount.
//! The plugin is built by scripts/test.sh (`MMU_RELOC_MODEL` names it).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Qemu, Run};
use mmu_reloc_host::plugin_support;
use serde_json::Value;

/// The plugin: `MMU_RELOC_MODEL` (scripts/test.sh builds it), or built
/// here once (the host crate's one builder), so a plain `cargo test` runs
/// these too.
fn plugin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let p = BUILT
        .get_or_init(|| {
            mmu_reloc_host::model_plugin(Path::new(env!("CARGO"))).unwrap_or_else(|e| panic!("{e}"))
        })
        .clone();
    assert!(p.exists(), "model plugin {} missing", p.display());
    plugin_support(Path::new("qemu-system-aarch64")).unwrap_or_else(|e| panic!("{e}"));
    p
}

/// A benchmark boot with the plugin; returns the run and its per-run model
/// lines keyed by the stage's run id.
fn boot(bootargs: &str, extra: &[&str]) -> (Run, Vec<(Value, Value)>) {
    let so = plugin();
    let run = Qemu::virt()
        .args(["-plugin", so.to_str().unwrap(), "-d", "plugin"])
        .args(extra)
        .append(bootargs)
        .run();
    run.expect_status(0);
    let models = run.all("model");
    let joined = run
        .all("result")
        .into_iter()
        .map(|r| {
            let m = models
                .iter()
                .find(|m| m["run"] == r["run"])
                .unwrap_or_else(|| panic!("no model line for run {}:\n{}", r["run"], run.output));
            assert_eq!(m["modelled"], true);
            (r.clone(), (*m).clone())
        })
        .collect();
    (run, joined)
}

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"))
}

#[test]
fn leaves_of_4k_walk_once_per_source_and_destination_page() {
    let (_, runs) = boot(
        "size=16M leaf=4k strategy=ind-list copy=copy_page mmu=on trials=1",
        &[],
    );
    let [(r, m)] = &runs[..] else {
        panic!("one run expected: {runs:?}")
    };
    assert_eq!(r["leaf"], 4096);
    let pages = n(r, "pages");
    let walks = n(m, "model_walks") as f64;
    let expect = 2.0 * pages as f64;
    assert!(
        (walks - expect).abs() <= 0.1 * expect,
        "{walks} walks for {pages} source + {pages} destination pages: {m}"
    );
    // A 4 KiB leaf is three levels deep (T0SZ puts the walk at level 1).
    assert!(n(m, "model_walk_mem_accesses") >= 3 * n(m, "model_walks") - 10);
}

#[test]
fn gigabyte_blocks_need_a_few_dozen_walks() {
    let (_, runs) = boot(
        "size=16M strategy=ind-list copy=copy_page mmu=on trials=1",
        &[],
    );
    let [(r, m)] = &runs[..] else {
        panic!("one run expected: {runs:?}")
    };
    assert_eq!(r["leaf"], 1 << 30);
    let walks = n(m, "model_walks");
    assert!((1..=36).contains(&walks), "{walks} walks: {m}");
    assert!(n(m, "model_prefetches_useful") > 0, "{m}");
}

#[test]
fn mmu_off_is_all_device_and_never_walks() {
    let (_, runs) = boot("size=4M copy=copy_page mmu=off trials=1", &[]);
    assert_eq!(runs.len(), 3, "ind-list, contiguous, legacy");
    for (r, m) in &runs {
        assert_eq!(r["mmu"], false);
        assert_eq!(n(m, "model_walks"), 0, "{m}");
        assert_eq!(n(m, "model_l1_tlb_misses"), 0, "{m}");
        assert_eq!(n(m, "model_l1d_misses") + n(m, "model_l2_misses"), 0, "{m}");
        assert_eq!(n(m, "model_prefetches"), 0, "{m}");
        let accesses = n(m, "model_loads") + n(m, "model_stores");
        assert!(accesses >= n(r, "bytes") / 16, "{m}");
        assert_eq!(n(m, "model_device_accesses"), accesses, "{m}");
    }
}

#[test]
fn identical_boots_give_identical_counts_under_icount() {
    let args = "size=4M copy=copy_page trials=1";
    let icount = ["-icount", "shift=0,align=off,sleep=off"];
    let (_, a) = boot(args, &icount);
    let (_, b) = boot(args, &icount);
    assert_eq!(a.len(), 5);
    let models = |v: &[(Value, Value)]| v.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>();
    assert_eq!(models(&a), models(&b));
}

/// Each run's `split` line of a boot with the plugin (`args` after the
/// path) under -icount, checked against its `result` record: walk + copy
/// + cache maintenance = the PMU's INST_RETIRED. Returns (result, split).
fn split_boot(args: &str, bootargs: &str) -> Vec<(Value, Value)> {
    let so = plugin();
    let run = Qemu::virt()
        .args([
            "-plugin",
            &format!("{},{args}", so.display()),
            "-d",
            "plugin",
        ])
        .args(["-icount", "shift=0,align=off,sleep=off"])
        .append(bootargs)
        .run();
    run.expect_status(0);
    let splits = run.all("split");
    run.all("result")
        .into_iter()
        .map(|r| {
            let s = splits
                .iter()
                .find(|s| s["run"] == r["run"])
                .unwrap_or_else(|| panic!("no split line for run {}:\n{}", r["run"], run.output));
            assert!(
                n(s, "copy_ranges") >= 10,
                "the stage's copy-kernel table: {s}"
            );
            let parts = n(s, "split_walk") + n(s, "split_copy") + n(s, "split_cmo");
            assert_eq!(parts, n(s, "split_insns"), "{s}");
            assert_eq!(parts, n(r, "insns"), "split {s} against the PMU's {r}");
            (r.clone(), (*s).clone())
        })
        .collect()
}

#[test]
fn the_split_adds_up_to_the_pmu_count_and_repeats_between_boots() {
    let bootargs = "size=1M trials=1 leaves=1g,4k";
    let a = split_boot("model=off", bootargs);
    let b = split_boot("model=off", bootargs);
    // The full model instruments far more, and counts the same.
    let c = split_boot("preset=a72", bootargs);
    assert_eq!(a.len(), 17, "every strategy x kernel x map x MMU state");
    let splits = |v: &[(Value, Value)]| v.iter().map(|(_, s)| s.clone()).collect::<Vec<_>>();
    assert_eq!(splits(&a), splits(&b));
    assert_eq!(splits(&a), splits(&c));
    for (r, s) in &a {
        let pages = n(r, "pages");
        // One dc civac (ivac before the copy for legacy) per 64-byte line.
        assert_eq!(n(s, "split_cmo"), pages * 64, "{r} {s}");
        // What each kernel's loop does per page (asm/macros.S): copy_page
        // 12 instructions per 64 bytes plus the end address; ldp-q 12 per
        // 128 bytes plus it; ldp-q-dc 4 per 64 bytes (its dc is cmo) and
        // 2 per 512-byte turn plus 3 around the loop.
        let per_page = match r["copy"].as_str().unwrap() {
            "copy_page" => 1 + 64 * 12,
            "ldp-q" => 1 + 32 * 12,
            "ldp-q-dc" => 2 + 8 * (8 * 4 + 2) + 1,
            k => panic!("kernel {k}"),
        };
        assert_eq!(n(s, "split_copy"), pages * per_page, "{r} {s}");
    }
}

#[test]
fn bad_parameters_are_one_line_errors() {
    let so = plugin();
    for (arg, msg) in [
        ("preset=z80", "unknown preset"),
        ("l2_ways=3", "inconsistent parameters"),
        ("mlp=0", "inconsistent parameters"),
        ("warp=9", "unknown parameter"),
        ("model=maybe", "expected on or off"),
    ] {
        let run = Qemu::virt()
            .args([
                "-plugin",
                &format!("{},{arg}", so.display()),
                "-d",
                "plugin",
            ])
            .append("mode=info")
            .run();
        assert_eq!(run.status, Some(1), "{arg}: {}", run.output);
        assert!(run.output.contains(msg), "{arg}: {}", run.output);
    }
}

#[test]
fn a_qemu_without_plugins_is_named() {
    let dir = common::scratch("model-noplugin");
    let fake = dir.join("qemu-system-aarch64");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'usage: qemu-system-aarch64 [options]'\n",
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&fake).status().unwrap();
    let e = plugin_support(&fake).unwrap_err();
    assert!(e.contains("no TCG plugin support"), "{e}");
    plugin_support(Path::new("qemu-system-aarch64")).unwrap();
}

/// The plugin must not change what the guest does. QEMU's inline
/// per-vCPU scoreboard adds, once used for the split, aborted QEMU as soon
/// as a second vCPU started by PSCI CPU_ON ran (`cpus=2` on virt) and
/// broke a contiguous copy on raspi4b (`cpus=4`); every run here must
/// verify, and with multi-threaded TCG (where QEMU hands callbacks the
/// executing vCPU's index) each CPU's share is modelled on its own vCPU.
#[test]
fn several_cpus_with_the_plugin_verify_and_are_modelled_per_cpu() {
    let so = plugin();
    let bootargs = "size=1M trials=1 copy=ldp-q-dc mmu=on cpus=2";
    let run = Qemu::virt()
        .args(["-plugin", &format!("{},model=off", so.display())])
        .args(["-d", "plugin", "-smp", "2"])
        .args(["-icount", "shift=0,align=off,sleep=off"])
        .append(bootargs)
        .run();
    run.expect_status(0);
    assert!(!run.all("result").is_empty(), "{}", run.output);
    for r in run.all("result") {
        assert_eq!(r["verified"], true, "{r}");
    }

    let run = Qemu::virt()
        .args(["-plugin", so.to_str().unwrap(), "-d", "plugin", "-smp", "2"])
        .args(["-accel", "tcg,thread=multi"])
        .append(bootargs)
        .run();
    run.expect_status(0);
    let models = run.all("model");
    for r in run.all("result") {
        assert_eq!(r["verified"], true, "{r}");
        let mut vcpus: Vec<u64> = models
            .iter()
            .filter(|m| m["run"] == r["run"])
            .map(|m| {
                // Each CPU's share is about half the pages: about half
                // the run's stores (the plugin counts 16 B per access of
                // an `stp q`), not the whole run's nor none.
                let stores = n(m, "model_stores");
                let half = n(r, "bytes") / 16 / 2;
                assert!(
                    stores > half / 2 && stores < half * 3 / 2,
                    "vCPU share of {} bytes: {m}",
                    n(r, "bytes")
                );
                n(m, "vcpu")
            })
            .collect();
        vcpus.sort();
        assert_eq!(vcpus, [0, 1], "one model line per CPU for run {}", r["run"]);
    }

    let run = Qemu::raspi4b()
        .args([
            "-plugin",
            &format!("{},model=off", so.display()),
            "-d",
            "plugin",
        ])
        .append("size=1M trials=1 copy=ldp-q-dc mmu=on cpus=4")
        .run();
    run.expect_status(0);
    assert!(!run.all("result").is_empty(), "{}", run.output);
    for r in run.all("result") {
        assert_eq!(r["verified"], true, "{r}");
    }
}
