//! The study command end to end, in QEMU: a quick matrix (exact boots twice,
//! two wall-clock boots) writes every file, the files parse, the terminal
//! shows no records, exact instruction counts repeat within a study and
//! across two studies, and a study compared with itself reports no change.
//! Every QEMU boot inside has the runner's timeout (kill on drop).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-scratch/xtask")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.parent().unwrap()).unwrap();
    d
}

/// Runs the xtask binary (the stage comes from MMU_RELOC_ELF, which
/// `cargo xtask test` sets, or is built).
fn xtask(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("run xtask");
    assert!(
        out.status.success(),
        "xtask {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn csv(path: &Path) -> Vec<Vec<String>> {
    // The files quote only the map labels; split those out first.
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let mut out = Vec::new();
            let mut cur = String::new();
            let mut quoted = false;
            for c in l.chars() {
                match c {
                    '"' => quoted = !quoted,
                    ',' if !quoted => out.push(std::mem::take(&mut cur)),
                    c => cur.push(c),
                }
            }
            out.push(cur);
            out
        })
        .collect()
}

fn check_files(dir: &Path) -> Value {
    for f in [
        "records.jsonl",
        "results.csv",
        "summary.csv",
        "report.json",
        "summary.md",
        "insns_per_page.svg",
        "wallclock.svg",
        "ratios.svg",
    ] {
        assert!(dir.join(f).exists(), "{f} missing in {}", dir.display());
    }
    for f in ["insns_per_page.svg", "wallclock.svg", "ratios.svg"] {
        let s = std::fs::read_to_string(dir.join(f)).unwrap();
        assert!(
            s.starts_with("<svg") && s.trim_end().ends_with("</svg>"),
            "{f}"
        );
        assert!(!s.contains("4k/1073741824"), "{f} labels maps in words");
    }
    // Every record line parses; results.csv has one row per result.
    let jsonl = std::fs::read_to_string(dir.join("records.jsonl")).unwrap();
    let records: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let results = records.iter().filter(|r| r["record"] == "result").count();
    let rows = csv(&dir.join("results.csv"));
    assert_eq!(rows.len(), 1 + results);
    assert!(rows.iter().all(|r| r.len() == rows[0].len()));
    let summary = csv(&dir.join("summary.csv"));
    assert!(summary.len() > 1 && summary.iter().all(|r| r.len() == summary[0].len()));
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(
        md.contains("Instructions per 4 KiB page") && md.contains("A/B"),
        "{md}"
    );
    json(&dir.join("report.json"))
}

#[test]
fn study_files_parse_counts_repeat_and_baseline_against_itself_is_unchanged() {
    let a = scratch("a");
    let out = xtask(&["bench", "--quick", "--out", a.to_str().unwrap()]);
    let term = String::from_utf8_lossy(&out.stdout);
    assert!(
        !term.contains("{\"record\""),
        "records on the terminal:\n{term}"
    );
    assert!(
        term.contains("insns/page") && term.contains("files in"),
        "{term}"
    );
    let report = check_files(&a);

    let env = &report["environment"];
    for k in [
        "qemu_version",
        "cpu",
        "machine",
        "host_cpu",
        "stage_commit",
        "study_seconds",
    ] {
        assert!(!env[k].is_null(), "environment lacks {k}: {env}");
    }
    let boots = env["boots"].as_array().unwrap();
    assert!(boots.iter().all(|b| {
        b["command_line"]
            .as_str()
            .unwrap()
            .contains("qemu-system-aarch64")
    }));
    assert!(
        boots.iter().any(
            |b| b["kind"] == "exact" && b["command_line"].as_str().unwrap().contains("-icount")
        )
    );
    assert!(boots.iter().all(|b| b["bootargs"].is_string()));

    // Exact: two boots, every configuration's count identical.
    let exact = report["exact"].as_array().unwrap();
    assert!(exact.len() >= 10, "{exact:?}");
    for e in exact {
        assert_eq!(e["repeats"], true, "{e}");
        assert_eq!(e["boots"], 2, "{e}");
        assert!(e["floor_ratio"].as_f64().unwrap() > 1.0, "{e}");
    }
    // Wall-clock: warm-ups reported, not counted; every A/B has an interval.
    for w in report["wall"].as_array().unwrap() {
        assert_eq!(w["warmup_ns"].as_array().unwrap().len(), 2, "{w}");
        assert_eq!(w["n"], 4, "{w}");
        assert_eq!(w["verified"], true);
    }
    let cmps = report["comparisons"].as_array().unwrap();
    assert!(cmps.len() >= 10);
    for c in cmps {
        let (lo, hi) = (
            c["ci95"][0].as_f64().unwrap(),
            c["ci95"][1].as_f64().unwrap(),
        );
        assert!(lo <= hi);
        if lo <= 1.0 && 1.0 <= hi {
            assert_eq!(c["verdict"], "no measurable difference", "{c}");
        }
    }

    // A second study against the first: the instruction counts are the same.
    let b = scratch("b");
    xtask(&[
        "bench",
        "--quick",
        "--out",
        b.to_str().unwrap(),
        "--baseline",
        a.to_str().unwrap(),
    ]);
    let rb = check_files(&b);
    let changes = rb["baseline"]["changes"].as_array().unwrap();
    let exact_changes: Vec<&Value> = changes.iter().filter(|c| c["kind"] == "exact").collect();
    assert_eq!(exact_changes.len(), exact.len());
    for c in exact_changes {
        assert_eq!(
            c["changed"], false,
            "instruction count changed between studies: {c}"
        );
    }

    // The first study's records through `report`, against itself: no change.
    let c = scratch("c");
    let out = xtask(&[
        "report",
        "--out",
        c.to_str().unwrap(),
        "--baseline",
        a.to_str().unwrap(),
        a.join("records.jsonl").to_str().unwrap(),
    ]);
    let term = String::from_utf8_lossy(&out.stdout);
    assert!(term.contains("configurations changed"), "{term}");
    let rc = json(&c.join("report.json"));
    let changes = rc["baseline"]["changes"].as_array().unwrap();
    assert!(!changes.is_empty());
    for ch in changes {
        assert_eq!(ch["changed"], false, "{ch}");
    }
    assert!(rc["baseline"]["unmatched"].as_array().unwrap().is_empty());
}

#[test]
fn report_reads_a_board_capture_and_bad_input_is_a_one_line_error() {
    // A Pi 4 serial capture: no semihosting, CR/LF, noise, a record cut by
    // a line of other output; real times and real instruction counts.
    let d = scratch("board");
    std::fs::create_dir_all(&d).unwrap();
    let mut log = String::from("\u{0}U-Boot-ish noise\r\n");
    log += "{\"record\":\"platform\",\"el\":2,\"model\":\"Raspberry Pi 4 Model B Rev 1.4\",\"core\":\"Cortex-A72\",\"semihosting\":false}\r\n";
    for t in 0..4u64 {
        for (s, mmu, ns) in [
            ("ind-list", true, 19_000_000u64),
            ("legacy", false, 382_000_000),
        ] {
            log += &format!(
                "{{\"record\":\"result\",\"strategy\":\"{s}\",\"copy\":\"copy_page\",\"mmu\":{mmu},\"src_layout\":\"page-list\",\
                 \"granule\":{g},\"leaf\":{l},\"table_bytes\":null,\"bytes\":26214400,\"pages\":6400,\"segments\":4,\"trial\":{t},\
                 \"warmup\":{w},\"ns\":{n},\"cycles\":null,\"insns\":{i},\"verified\":true,\"guard_bytes_checked\":4096}}\r\n",
                g = if mmu { "\"4k\"" } else { "null" },
                l = if mmu { "1073741824" } else { "null" },
                n = ns + t * 100_000,
                i = 6400 * 1035,
                w = t == 0,
            );
        }
    }
    log += "{\"record\":\"result\",\"strategy\":\"ind-list\",[ 12.5] mmc0: timeout\r\n";
    log += "{\"record\":\"exit\",\"status\":0}\r\n";
    let path = d.join("pi4.log");
    std::fs::write(&path, log).unwrap();
    let out = xtask(&[
        "report",
        "--out",
        d.join("out").to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("damaged record skipped"), "{err}");
    let r = json(&d.join("out/report.json"));
    assert!(
        r["exact"].as_array().unwrap().is_empty(),
        "a board's times are not icount"
    );
    let kexec = r["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["group"] == "kexec")
        .expect("before/after comparison");
    assert!(
        kexec["measurable"] == true && kexec["ratio"].as_f64().unwrap() < 0.06,
        "{kexec}"
    );
    let md = std::fs::read_to_string(d.join("out/summary.md")).unwrap();
    assert!(
        md.contains("Raspberry Pi 4") && md.contains("25 MiB"),
        "{md}"
    );

    for bad in [
        &["bench", "--trials", "x"][..],
        &["report", "/nonexistent.log"],
        &["frobnicate"],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(bad)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{bad:?}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.starts_with("xtask: "), "{bad:?}: {e}");
    }
}
