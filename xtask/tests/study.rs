//! The study command end to end, in QEMU: a quick matrix (exact boots twice,
//! two wall-clock boots) writes every file, the files parse, the terminal
//! shows no records, exact instruction counts repeat within a study and
//! across two studies, and a study compared with itself reports no change;
//! with `--model a72` the modelled columns are there and parse, with
//! `--model none` they are absent, and a plugin's output file joins its log.
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
    let out = xtask(&[
        "bench",
        "--quick",
        "--model",
        "a72",
        "--out",
        a.to_str().unwrap(),
    ]);
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
    check_model(&a, &report, &term);

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
        // The plugin's split adds up to the PMU count in every run.
        assert_eq!(e["split_adds_up_and_repeats"], true, "{e}");
        let sp = &e["split_per_page"];
        assert_eq!(sp["cmo"], 64.0, "one dc per 64-byte line: {e}");
        if e["copy"] == "copy_page" {
            assert_eq!(sp["copy"], 769.0, "copy_page's loop per page: {e}");
        }
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
    let out = xtask(&[
        "bench",
        "--quick",
        "--model",
        "none",
        "--out",
        b.to_str().unwrap(),
        "--baseline",
        a.to_str().unwrap(),
    ]);
    let rb = check_files(&b);
    // Without the model: no modelled column anywhere, never zeros; the
    // split (counted, not modelled) is there all the same.
    assert!(rb["model"].is_null(), "{}", rb["model"]);
    for e in rb["exact"].as_array().unwrap() {
        assert_eq!(e["split_adds_up_and_repeats"], true, "{e}");
    }
    assert!(!String::from_utf8_lossy(&out.stdout).contains("MODELLED"));
    for f in ["summary.csv", "results.csv"] {
        let head = &csv(&b.join(f))[0];
        assert!(
            !head.iter().any(|h| h.starts_with("model_")),
            "{f}: {head:?}"
        );
    }
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

/// The modelled columns of a `--model a72` study: labelled, one model line
/// per exact run, figures that parse and make sense (MMU off: Device
/// accesses, no walks; 4 KiB leaves: more walks than 1 GiB blocks).
fn check_model(dir: &Path, report: &Value, term: &str) {
    assert!(term.contains("MODELLED, not measured"), "{term}");
    let m = &report["model"];
    assert_eq!(m["modelled"], true, "{m}");
    assert_eq!(m["missing_model_lines"], 0, "{m}");
    assert_eq!(m["parameters"]["preset"], "a72", "{m}");
    let confs = m["configurations"].as_array().unwrap();
    assert_eq!(confs.len(), report["exact"].as_array().unwrap().len());
    let f = |c: &Value, k: &str| c[k].as_f64().unwrap_or_else(|| panic!("{k} in {c}"));
    let find = |s: &str, map: &str| {
        confs
            .iter()
            .find(|c| c["strategy"] == s && c["map"] == map && c["copy"] == "copy_page")
            .unwrap_or_else(|| panic!("{s} {map} in {confs:?}"))
    };
    for c in confs {
        assert_eq!(
            c["identical"], true,
            "model counts repeat under icount: {c}"
        );
        assert!(f(c, "model_cycles_per_page") > 0.0, "{c}");
    }
    let (g1, k4, off) = (
        find("ind-list", "4k granule, 1 GiB leaves"),
        find("ind-list", "4k granule, 4 KiB leaves"),
        find("legacy", "MMU off"),
    );
    assert!(f(k4, "model_walks_per_mib") > 10.0 * f(g1, "model_walks_per_mib").max(1.0));
    assert_eq!(f(off, "model_walks_per_mib"), 0.0);
    assert!(f(off, "model_device_accesses_per_mib") > 0.0);
    assert!(
        f(off, "model_ratio_to_ind_list_largest_leaf") > 5.0,
        "{off}"
    );
    // summary.csv: modelled cells on the exact rows, empty on the wall rows.
    let rows = csv(&dir.join("summary.csv"));
    let col = |name: &str| rows[0].iter().position(|h| h == name).unwrap();
    let (kind, cyc) = (col("kind"), col("model_cycles_per_page"));
    for r in &rows[1..] {
        match r[kind].as_str() {
            "exact" => assert!(r[cyc].parse::<f64>().unwrap() > 0.0, "{r:?}"),
            _ => assert!(r[cyc].is_empty(), "{r:?}"),
        }
    }
    let runs = csv(&dir.join("results.csv"));
    let walks = runs[0].iter().position(|h| h == "model_walks").unwrap();
    assert!(runs[1..].iter().any(|r| r[walks].parse::<u64>().is_ok()));
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(md.contains("MODELLED, not measured"), "{md}");

    // The plugin's lines in a file of their own (as `-D FILE` writes them),
    // given after the console log: `report` joins them to that boot.
    let log = std::fs::read_to_string(dir.join("logs/boot-01.log")).unwrap();
    let (console, plugin): (Vec<&str>, Vec<&str>) =
        log.lines().partition(|l| !l.contains("\"modelled\":true"));
    assert!(!plugin.is_empty(), "model lines in the boot's log");
    let d = scratch("split");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("console.log"), console.join("\n")).unwrap();
    std::fs::write(d.join("model.jsonl"), plugin.join("\n")).unwrap();
    xtask(&[
        "report",
        "--out",
        d.join("out").to_str().unwrap(),
        d.join("console.log").to_str().unwrap(),
        d.join("model.jsonl").to_str().unwrap(),
    ]);
    let r = json(&d.join("out/report.json"));
    assert_eq!(r["model"]["missing_model_lines"], 0, "{}", r["model"]);
    assert_eq!(
        r["model"]["configurations"].as_array().unwrap().len(),
        r["exact"].as_array().unwrap().len()
    );
}

/// `cargo run --release -- --model a72 ...` hands over to `cargo xtask run`:
/// one boot with the plugin, the console on the terminal, then the study's
/// tables with the MODELLED one and its files.
#[test]
fn run_with_a_model_prints_and_writes_the_modelled_figures() {
    let d = scratch("run");
    let out = xtask(&[
        "run",
        "--model",
        "n1",
        "--out",
        d.to_str().unwrap(),
        "-icount",
        "shift=0,align=off,sleep=off",
        "-append",
        "size=1M trials=1 copy=copy_page mmu=on strategy=ind-list",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let term = String::from_utf8_lossy(&out.stdout);
    assert!(
        term.contains("\"record\":\"result\""),
        "the console streams: {term}"
    );
    assert!(
        term.contains("MODELLED, not measured") && term.contains("(preset n1)"),
        "{term}"
    );
    let report = json(&d.join("report.json"));
    assert_eq!(
        report["model"]["missing_model_lines"], 0,
        "{}",
        report["model"]
    );
    let head = &csv(&d.join("results.csv"))[0];
    assert!(head.iter().any(|h| h == "model_walks"), "{head:?}");
    assert_eq!(report["exact"][0]["split_adds_up_and_repeats"], true);
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

    let params = d.join("bad-params.txt");
    std::fs::write(&params, "warp=9\n").unwrap();
    let params = params.to_str().unwrap();
    let scratch_out = d.join("bad-model");
    for (bad, says) in [
        (&["bench", "--trials", "x"][..], "--trials"),
        (&["report", "/nonexistent.log"], "cannot read"),
        (&["frobnicate"], "unknown command"),
        (&["bench", "--model", "z80"], "not a72, n1, none"),
        // The plugin refuses the parameter: QEMU's one line, exit 1.
        (
            &[
                "bench",
                "--quick",
                "--model",
                params,
                "--out",
                scratch_out.to_str().unwrap(),
            ],
            "model: unknown parameter \"warp\"",
        ),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(bad)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{bad:?}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(
            e.lines()
                .any(|l| l.starts_with("xtask: ") && l.contains(says)),
            "{bad:?}: {e}"
        );
    }
}
