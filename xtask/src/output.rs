//! The report's files and the terminal text, all from one [`Study`]:
//! results.csv (one row per run), summary.csv (one per configuration),
//! report.json (environment, figures, comparisons), the SVG plots and a
//! summary.md short enough to paste into a mailing-list reply.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::analysis::{
    Change, Comparison, Exact, FLOOR_INSNS_PER_PAGE, RunRow, Study, Wall, size_label,
};
use crate::model;
use crate::plots::{self, Bar, Series};

type Baseline = (PathBuf, Vec<Change>, Vec<String>);

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv_row(fields: &[String]) -> String {
    let mut s = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    s
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

fn ms(ns: f64) -> f64 {
    ns / 1e6
}

fn ci_json(ci: Option<mmu_reloc::stats::Interval>) -> Value {
    ci.map_or(Value::Null, |c| json!([c.lo, c.hi]))
}

fn results_csv(s: &Study) -> String {
    let mut out = csv_row(
        &[
            "boot",
            "kind",
            "strategy",
            "copy",
            "map",
            "granule",
            "leaf",
            "src_layout",
            "bytes",
            "pages",
            "segments",
            "trial",
            "warmup",
            "ns",
            "cycles",
            "insns",
            "insns_per_page",
            "split_walk",
            "split_copy",
            "split_cmo",
            "table_bytes",
            "map_ns",
            "map_insns",
            "final_ns",
            "final_insns",
            "verify_ns",
            "verify_insns",
            "verified",
            "guard_bytes_checked",
        ]
        .map(String::from),
    );
    for r in &s.runs {
        let v = &r.record;
        out += &csv_row(&[
            (r.boot + 1).to_string(),
            r.kind.clone(),
            r.key.strategy.clone(),
            r.key.copy.clone(),
            r.key.map.clone(),
            v["granule"].as_str().unwrap_or("").into(),
            opt(v["leaf"].as_u64()),
            v["src_layout"].as_str().unwrap_or("").into(),
            r.key.bytes.to_string(),
            r.pages.to_string(),
            opt(v["segments"].as_u64()),
            r.trial.to_string(),
            r.warmup.to_string(),
            r.ns.to_string(),
            opt(r.cycles),
            opt(r.insns),
            opt(r.insns.map(|i| format!("{:.1}", i as f64 / r.pages as f64))),
            opt(r.split.map(|sp| sp.walk)),
            opt(r.split.map(|sp| sp.copy)),
            opt(r.split.map(|sp| sp.cmo)),
            opt(v["table_bytes"].as_u64()),
            opt(v["map_ns"].as_u64()),
            opt(v["map_insns"].as_u64()),
            opt(v["final_ns"].as_u64()),
            opt(v["final_insns"].as_u64()),
            opt(v["verify_ns"].as_u64()),
            opt(v["verify_insns"].as_u64()),
            r.verified.to_string(),
            opt(v["guard_bytes_checked"].as_u64()),
        ]);
    }
    out
}

/// `csv` with `header` and one row of `cells` per data line appended at
/// the right (the modelled columns; nothing when `header` is empty).
fn with_columns(
    csv: String,
    header: Vec<String>,
    cells: impl Iterator<Item = Vec<String>>,
) -> String {
    if header.is_empty() {
        return csv;
    }
    let mut out = String::new();
    for (line, extra) in csv.lines().zip(std::iter::once(header).chain(cells)) {
        out += line;
        out.push(',');
        out += &csv_row(&extra);
    }
    out
}

fn summary_csv(s: &Study) -> String {
    let mut out = csv_row(
        &[
            "kind",
            "strategy",
            "copy",
            "map",
            "bytes",
            "n",
            "boots",
            "warmup_median_ns",
            "median_ns",
            "ci_low_ns",
            "ci_high_ns",
            "min_ns",
            "max_ns",
            "stddev_ns",
            "mib_per_s",
            "insns_per_page",
            "walk_per_page",
            "copy_per_page",
            "cmo_per_page",
            "floor_ratio",
            "repeats",
            "verified",
        ]
        .map(String::from),
    );
    for e in &s.exact {
        out += &csv_row(&[
            "exact".into(),
            e.key.strategy.clone(),
            e.key.copy.clone(),
            e.key.map.clone(),
            e.key.bytes.to_string(),
            e.runs.to_string(),
            e.boots.to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            format!("{:.1}", e.per_page),
            opt(e.split.map(|sp| format!("{:.2}", sp[0]))),
            opt(e.split.map(|sp| format!("{:.2}", sp[1]))),
            opt(e.split.map(|sp| format!("{:.2}", sp[2]))),
            opt(e.floor_ratio().map(|r| format!("{r:.3}"))),
            (e.repeats() && e.split_ok()).to_string(),
            e.verified.to_string(),
        ]);
    }
    for w in &s.wall {
        let warm = mmu_reloc::stats::summarize(&w.warmup_ns).map(|s| s.median);
        out += &csv_row(&[
            "wall".into(),
            w.key.strategy.clone(),
            w.key.copy.clone(),
            w.key.map.clone(),
            w.key.bytes.to_string(),
            w.summary.n.to_string(),
            w.boots.to_string(),
            opt(warm),
            w.summary.median.to_string(),
            opt(w.ci.map(|c| format!("{:.0}", c.lo))),
            opt(w.ci.map(|c| format!("{:.0}", c.hi))),
            w.summary.min.to_string(),
            w.summary.max.to_string(),
            format!("{:.0}", w.summary.stddev),
            format!("{:.1}", w.mib_per_s()),
            opt(w.insns_per_page.map(|v| format!("{v:.1}"))),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            w.verified.to_string(),
        ]);
    }
    out
}

fn exact_json(e: &Exact) -> Value {
    json!({"strategy": e.key.strategy, "copy": e.key.copy, "map": e.key.map, "bytes": e.key.bytes,
           "insns_per_page": e.per_page, "floor_insns_per_page": FLOOR_INSNS_PER_PAGE,
           "floor_ratio": e.floor_ratio(), "runs": e.runs, "boots": e.boots,
           "split_per_page": e.split.map(|[w, c, m]| json!({"walk": w, "copy": c, "cmo": m})),
           "split_adds_up_and_repeats": e.split.map(|_| e.split_ok()),
           "repeats": e.repeats(), "min_insns": e.min, "max_insns": e.max, "verified": e.verified})
}

fn wall_json(w: &Wall) -> Value {
    json!({"strategy": w.key.strategy, "copy": w.key.copy, "map": w.key.map, "bytes": w.key.bytes,
           "n": w.summary.n, "boots": w.boots, "warmup_ns": w.warmup_ns,
           "median_ns": w.summary.median, "median_ci95_ns": ci_json(w.ci),
           "min_ns": w.summary.min, "max_ns": w.summary.max, "mean_ns": w.summary.mean,
           "stddev_ns": w.summary.stddev, "mib_per_s": w.mib_per_s(),
           "insns_per_page": w.insns_per_page, "verified": w.verified})
}

fn cmp_json(c: &Comparison) -> Value {
    json!({"group": c.group, "comparison": c.label, "a": c.a.name(), "b": c.b.name(),
           "bytes": c.a.bytes, "ratio": c.ratio, "ci95": [c.ci.lo, c.ci.hi],
           "paired": c.paired, "measurable": c.measurable(), "verdict": c.verdict()})
}

fn change_json(c: &Change) -> Value {
    json!({"kind": c.kind, "configuration": c.key.name(), "bytes": c.key.bytes, "old": c.old,
           "new": c.new, "ratio": c.ratio, "ci95": ci_json(c.ci), "changed": c.changed(),
           "verdict": c.verdict()})
}

/// Writes every file; returns their names.
pub fn write_all(
    out: &Path,
    s: &Study,
    env: &Value,
    base: Option<&Baseline>,
) -> Result<Vec<String>, String> {
    let mut files = vec!["records.jsonl".to_string()];
    let mut put = |name: &str, text: &str| -> Result<(), String> {
        crate::write(&out.join(name), text)?;
        files.push(name.into());
        Ok(())
    };
    let m = &s.model;
    let runs = s.runs.iter().map(|r| model::results_cells(m, r));
    put(
        "results.csv",
        &with_columns(results_csv(s), model::results_header(m), runs),
    )?;
    let confs = (s.exact.iter().map(|e| ("exact", &e.key)))
        .chain(s.wall.iter().map(|w| ("wall", &w.key)))
        .map(|(kind, key)| model::summary_cells(m, kind, key));
    put(
        "summary.csv",
        &with_columns(summary_csv(s), model::summary_header(m), confs),
    )?;
    let report = json!({
        "environment": env,
        "floor_insns_per_page": FLOOR_INSNS_PER_PAGE,
        "floor": "128 ldp q + 128 stp q + 64 dc civac per 4 KiB page (64-byte lines)",
        "exact": s.exact.iter().map(exact_json).collect::<Vec<_>>(),
        "wall": s.wall.iter().map(wall_json).collect::<Vec<_>>(),
        "ab_bytes": s.main_bytes,
        "comparisons": s.comparisons.iter().map(cmp_json).collect::<Vec<_>>(),
        "baseline": base.map(|(d, ch, un)| json!({
            "dir": d.display().to_string(),
            "changes": ch.iter().map(change_json).collect::<Vec<_>>(),
            "unmatched": un,
        })),
        "errors": s.errors,
        "model": model::json(&s.model),
    });
    put(
        "report.json",
        &(serde_json::to_string_pretty(&report).unwrap() + "\n"),
    )?;
    put("summary.md", &summary_md(s, env))?;
    for (name, r) in plots_of(out, s) {
        r?;
        if out.join(name).exists() {
            files.push(name.into());
        }
    }
    Ok(files)
}

fn plots_of(out: &Path, s: &Study) -> Vec<(&'static str, Result<(), String>)> {
    let exact: Vec<Bar> = s
        .exact
        .iter()
        .map(|e| Bar {
            label: format!(
                "{} {} {} ({})",
                e.key.strategy,
                e.key.copy,
                e.key.map,
                size_label(e.key.bytes)
            ),
            value: e.per_page,
            interval: None,
        })
        .collect();
    let main = s.main_bytes.unwrap_or(0);
    let wall: Vec<Bar> = s
        .wall
        .iter()
        .filter(|w| w.key.bytes == main)
        .map(|w| Bar {
            label: format!("{} {} {}", w.key.strategy, w.key.copy, w.key.map),
            value: ms(w.summary.median as f64),
            interval: w.ci.map(|c| (ms(c.lo), ms(c.hi))),
        })
        .collect();
    let ratios: Vec<Bar> = s
        .comparisons
        .iter()
        .map(|c| Bar {
            label: c.label.clone(),
            value: c.ratio,
            interval: Some((c.ci.lo, c.ci.hi)),
        })
        .collect();
    // Throughput against size: every configuration seen at 2+ sizes.
    let mut series: Vec<Series> = Vec::new();
    for w in &s.wall {
        let label = format!("{} {} {}", w.key.strategy, w.key.copy, w.key.map);
        let mbs = |ns: f64| mmu_reloc::stats::mib_per_s(w.key.bytes, ns as u64);
        let ci =
            w.ci.map_or((w.mib_per_s(), w.mib_per_s()), |c| (mbs(c.hi), mbs(c.lo)));
        let p = (w.key.bytes, w.mib_per_s(), ci);
        match series.iter_mut().find(|x| x.label == label) {
            Some(x) => x.points.push(p),
            None => series.push(Series {
                label,
                points: vec![p],
            }),
        }
    }
    series.retain(|x| x.points.len() > 1);
    for x in &mut series {
        x.points.sort_by_key(|p| p.0);
    }
    vec![
        (
            "insns_per_page.svg",
            plots::bars(
                &out.join("insns_per_page.svg"),
                "Instructions per 4 KiB page (QEMU -icount, exact)",
                "instructions per 4 KiB page",
                &exact,
                Some((FLOOR_INSNS_PER_PAGE as f64, "floor 320")),
                None,
            ),
        ),
        (
            "wallclock.svg",
            plots::bars(
                &out.join("wallclock.svg"),
                &format!(
                    "Relocation time, {} (median, bootstrap 95% CI; QEMU TCG host time)",
                    size_label(main)
                ),
                "ms",
                &wall,
                None,
                None,
            ),
        ),
        (
            "ratios.svg",
            plots::bars(
                &out.join("ratios.svg"),
                "A/B: time of A / time of B (bootstrap 95% CI, whiskers clipped at 2.5); 1.0 = no difference",
                "ratio",
                &ratios,
                Some((1.0, "1.0")),
                Some(2.5),
            ),
        ),
        (
            "sweep.svg",
            plots::sweep(
                &out.join("sweep.svg"),
                "Throughput against payload size (QEMU TCG host time)",
                &series,
            ),
        ),
    ]
}

fn exact_table(s: &Study) -> String {
    let mut t = String::new();
    if s.exact.is_empty() {
        return t;
    }
    let _ = writeln!(
        t,
        "Instructions per 4 KiB page, exact (QEMU -icount shift=0), incl. list walk and one dc civac per line;\n\
         floor {FLOOR_INSNS_PER_PAGE} = 128 ldp q + 128 stp q + 64 dc civac"
    );
    let split = s.exact.iter().any(|e| e.split.is_some());
    if split {
        let _ = writeln!(
            t,
            "split per page, counted by the qemu/model plugin (walk + copy + cmo = insns/page in every run):\n\
             walk = list walk, loop control, per-line clean loop and measuring glue; copy = the copy kernel;\n\
             cmo = cache-maintenance instructions (dc civac/ivac)"
        );
    }
    let _ = writeln!(
        t,
        "{:<11} {:<10} {:<42} {:>8} {:>10} {:>7} {:>6} {:>5} {:>8}  repeats",
        "strategy", "copy", "map", "payload", "insns/page", "walk", "copy", "cmo", "x floor"
    );
    let part = |e: &Exact, i: usize| e.split.map_or("-".into(), |sp| format!("{:.1}", sp[i]));
    for e in &s.exact {
        let _ = writeln!(
            t,
            "{:<11} {:<10} {:<42} {:>8} {:>10.1} {:>7} {:>6} {:>5} {:>8}  {}",
            e.key.strategy,
            e.key.copy,
            e.key.map,
            size_label(e.key.bytes),
            e.per_page,
            part(e, 0),
            part(e, 1),
            part(e, 2),
            e.floor_ratio().map_or("n/a".into(), |r| format!("{r:.2}")),
            if !e.repeats() {
                format!("NO: {}..{} instructions", e.min, e.max)
            } else if !e.split_ok() {
                format!("SPLIT NO: {} runs do not add up or repeat", e.split_bad)
            } else {
                format!("yes ({} runs, {} boots)", e.runs, e.boots)
            }
        );
    }
    if s.exact.iter().any(|e| e.floor_ratio().is_none()) {
        let _ = writeln!(
            t,
            "mops: FEAT_MOPS CPYFP/CPYFM/CPYFE move a page in as many steps as the CPU chooses (the rest is\n\
             the walk and one 4-instruction dc civac loop per line): not comparable per instruction (n/a)"
        );
    }
    t
}

/// The phases of one exact run per (strategy, map): the map build (once
/// per boot, charged to every run under that map), the copy per kernel,
/// the final cache maintenance and the verification, in instructions.
fn cost_table(s: &Study) -> String {
    let mut t = String::new();
    let exact: Vec<&RunRow> = s.runs.iter().filter(|r| r.kind == "exact").collect();
    let mut kernels: Vec<&str> = exact.iter().map(|r| r.key.copy.as_str()).collect();
    kernels.sort();
    kernels.dedup();
    // In the exact table's order.
    let mut rows: Vec<(&str, &str)> = Vec::new();
    for e in &s.exact {
        let k = (e.key.strategy.as_str(), e.key.map.as_str());
        if !rows.contains(&k) {
            rows.push(k);
        }
    }
    if rows.is_empty() {
        return t;
    }
    let insns = |r: &RunRow, f: &str| r.record[f].as_u64().map_or("-".into(), |v| v.to_string());
    let _ = writeln!(
        t,
        "Cost of one run, exact instructions (first run of each configuration): map build (once per boot,\n\
         charged to every run under the map), copy loop per kernel, final cache maintenance, verification"
    );
    let mut head = format!("{:<11} {:<42} {:>10}", "strategy", "map", "map build");
    for k in &kernels {
        let _ = write!(head, " {:>14}", format!("copy {k}"));
    }
    let _ = writeln!(t, "{head} {:>6} {:>10}", "final", "verify");
    for (strategy, map) in rows {
        let of = |k: &str| {
            exact.iter().find(|r| {
                (
                    r.key.strategy.as_str(),
                    r.key.map.as_str(),
                    r.key.copy.as_str(),
                ) == (strategy, map, k)
            })
        };
        let Some(any) = kernels.iter().find_map(|k| of(k)) else {
            continue;
        };
        let mut line = format!("{strategy:<11} {map:<42} {:>10}", insns(any, "map_insns"));
        for k in &kernels {
            let _ = write!(line, " {:>14}", of(k).map_or("-".into(), |r| opt(r.insns)));
        }
        let _ = writeln!(
            t,
            "{line} {:>6} {:>10}",
            insns(any, "final_insns"),
            insns(any, "verify_insns")
        );
    }
    t
}

fn wall_table(s: &Study, bytes: u64) -> String {
    let mut t = String::new();
    let rows: Vec<&Wall> = s.wall.iter().filter(|w| w.key.bytes == bytes).collect();
    let Some(first) = rows.first() else {
        return t;
    };
    let _ = writeln!(
        t,
        "Wall-clock, {} payload: {} counted runs per configuration over {} boot(s), each boot's first run a warm-up (not counted)",
        size_label(bytes),
        first.summary.n,
        first.boots
    );
    let _ = writeln!(
        t,
        "{:<11} {:<10} {:<42} {:>4} {:>9} {:>19} {:>8} {:>8} {:>8} {:>8}",
        "strategy",
        "copy",
        "map",
        "n",
        "median ms",
        "95% CI of median",
        "min ms",
        "max ms",
        "warm-up",
        "MiB/s"
    );
    for w in rows {
        let warm = mmu_reloc::stats::summarize(&w.warmup_ns)
            .map_or("-".into(), |s| format!("{:.2}", ms(s.median as f64)));
        let _ = writeln!(
            t,
            "{:<11} {:<10} {:<42} {:>4} {:>9.2} {:>19} {:>8.2} {:>8.2} {:>8} {:>8.0}",
            w.key.strategy,
            w.key.copy,
            w.key.map,
            w.summary.n,
            ms(w.summary.median as f64),
            w.ci.map_or("-".into(), |c| format!(
                "[{:.2}, {:.2}]",
                ms(c.lo),
                ms(c.hi)
            )),
            ms(w.summary.min as f64),
            ms(w.summary.max as f64),
            warm,
            w.mib_per_s()
        );
    }
    t
}

fn ab_table(s: &Study) -> String {
    let mut t = String::new();
    if s.comparisons.is_empty() {
        return t;
    }
    let _ = writeln!(
        t,
        "A/B, time of A / time of B: ratio of medians, bootstrap 95% CI resampling (boot, trial) pairs\n\
         (runs of one trial ran back to back; * = unpaired); an interval holding 1.0 is no measurable difference"
    );
    let _ = writeln!(
        t,
        "{:<70} {:>6} {:>16}  verdict",
        "A / B", "ratio", "95% CI"
    );
    for c in &s.comparisons {
        let _ = writeln!(
            t,
            "{:<70} {:>6.3} {:>16}{} {}",
            c.label,
            c.ratio,
            format!("[{:.3}, {:.3}]", c.ci.lo, c.ci.hi),
            if c.paired { " " } else { "*" },
            c.verdict()
        );
    }
    t
}

fn sweep_table(s: &Study) -> String {
    let mut sizes: Vec<u64> = s.wall.iter().map(|w| w.key.bytes).collect();
    sizes.sort();
    sizes.dedup();
    let mut t = String::new();
    if sizes.len() < 2 {
        return t;
    }
    let _ = writeln!(t, "Size sweep, copy_page, MiB/s at the median [95% CI]");
    let mut keys: Vec<(String, String)> = s
        .wall
        .iter()
        .filter(|w| w.key.copy == "copy_page")
        .map(|w| (w.key.strategy.clone(), w.key.map.clone()))
        .collect();
    keys.dedup();
    let mut seen = Vec::new();
    let _ = write!(t, "{:<54}", "configuration");
    for b in &sizes {
        let _ = write!(t, " {:>20}", size_label(*b));
    }
    t.push('\n');
    for k in keys {
        if seen.contains(&k) {
            continue;
        }
        seen.push(k.clone());
        let _ = write!(t, "{:<54}", format!("{} {}", k.0, k.1));
        for b in &sizes {
            let cell = s
                .wall
                .iter()
                .find(|w| {
                    w.key.bytes == *b
                        && w.key.copy == "copy_page"
                        && w.key.strategy == k.0
                        && w.key.map == k.1
                })
                .map_or("-".into(), |w| {
                    let m = |ns: f64| mmu_reloc::stats::mib_per_s(*b, ns as u64);
                    match w.ci {
                        Some(c) => format!("{:.0} [{:.0}, {:.0}]", w.mib_per_s(), m(c.hi), m(c.lo)),
                        None => format!("{:.0}", w.mib_per_s()),
                    }
                });
            let _ = write!(t, " {cell:>20}");
        }
        t.push('\n');
    }
    t
}

fn baseline_table(b: &Baseline) -> String {
    let (dir, changes, unmatched) = b;
    let mut t = String::new();
    let n = changes.iter().filter(|c| c.changed()).count();
    let _ = writeln!(
        t,
        "Against baseline {}: {n} of {} configurations changed",
        dir.display(),
        changes.len()
    );
    let _ = writeln!(
        t,
        "{:<6} {:<68} {:>8} {:>12} {:>12}  verdict",
        "kind", "configuration", "payload", "old", "new"
    );
    for c in changes {
        let (o, nw) = if c.kind == "exact" {
            (format!("{:.1}", c.old), format!("{:.1}", c.new))
        } else {
            (
                format!("{:.2} ms", ms(c.old)),
                format!("{:.2} ms", ms(c.new)),
            )
        };
        let _ = writeln!(
            t,
            "{:<6} {:<68} {:>8} {:>12} {:>12}  {}",
            c.kind,
            c.key.name(),
            size_label(c.key.bytes),
            o,
            nw,
            c.verdict()
        );
    }
    for u in unmatched {
        let _ = writeln!(t, "  {u}");
    }
    t
}

/// What the terminal shows at the end of a study or report.
pub fn terminal(s: &Study, env: &Value, base: Option<&Baseline>) -> String {
    let mut t = String::from("\n");
    for part in [
        exact_table(s),
        cost_table(s),
        model::table(s),
        s.main_bytes.map_or(String::new(), |b| wall_table(s, b)),
        ab_table(s),
        sweep_table(s),
        base.map_or(String::new(), baseline_table),
    ] {
        if !part.is_empty() {
            t += &part;
            t.push('\n');
        }
    }
    if env["qemu_version"].is_string() {
        t += "QEMU TCG models no caches or TLBs: wall-clock figures are host time and MMU on/off \
              differences seen on silicon do not show here; instruction counts are exact.\n";
    }
    for e in &s.errors {
        let _ = writeln!(t, "error record: {}", e["msg"]);
    }
    t
}

/// A paste-ready summary in the style of the kexec cover letters: what
/// ran where, before/after and the ratio, instruction counts.
fn summary_md(s: &Study, env: &Value) -> String {
    let mut t = String::new();
    let plat = s
        .boots
        .iter()
        .flat_map(|b| b.records.iter())
        .find(|r| r["record"] == "platform");
    let where_ = match env["qemu_version"].as_str() {
        Some(v) => format!(
            "{v}, -M {} -cpu {} -m {} (TCG), host {}",
            env["machine"].as_str().unwrap_or("?"),
            env["cpu"].as_str().unwrap_or("?"),
            env["memory"].as_str().unwrap_or("?"),
            env["host_cpu"].as_str().unwrap_or("?")
        ),
        None => format!(
            "{} ({}), from console logs",
            plat.and_then(|p| p["model"].as_str())
                .unwrap_or("unknown board"),
            plat.and_then(|p| p["core"].as_str()).unwrap_or("?")
        ),
    };
    let _ = writeln!(t, "mmu-reloc relocation study\n");
    let _ = writeln!(t, "    Where:   {where_}");
    if let Some(c) = env["stage_commit"].as_str() {
        let _ = writeln!(t, "    Stage:   mmu-reloc {c}");
    }
    if let Some(b) = s.main_bytes {
        let segs = s
            .runs
            .iter()
            .find(|r| r.key.bytes == b)
            .and_then(|r| r.record["segments"].as_u64());
        let _ = writeln!(
            t,
            "    Payload: {} in {} segments, source pages scattered (kexec_load style)",
            size_label(b),
            opt(segs)
        );
    }
    if let Some(sec) = env["study_seconds"].as_f64() {
        let _ = writeln!(
            t,
            "    Study:   {} boots in {sec:.0} s (`cargo xtask bench`)",
            s.boots.len()
        );
    }
    t.push('\n');
    if let Some(b) = s.main_bytes {
        let kexec: Vec<&Comparison> = s
            .comparisons
            .iter()
            .filter(|c| c.group == "kexec")
            .collect();
        if !kexec.is_empty() {
            let _ = writeln!(t, "Relocation of {} (median, 95% CI):\n", size_label(b));
            for c in kexec {
                let med = |k: &crate::analysis::Key| {
                    s.wall
                        .iter()
                        .find(|w| &w.key == k)
                        .map_or(String::new(), |w| {
                            format!(
                                "{:.2} ms{}",
                                ms(w.summary.median as f64),
                                w.ci.map_or(String::new(), |c| format!(
                                    " [{:.2}, {:.2}]",
                                    ms(c.lo),
                                    ms(c.hi)
                                ))
                            )
                        })
                };
                let _ = writeln!(
                    t,
                    "    {:<10} before: legacy, MMU off (Linux <= 5.12)  {}",
                    c.a.copy,
                    med(&c.b)
                );
                let _ = writeln!(
                    t,
                    "    {:<10} after:  ind-list, MMU on, {}  {}",
                    "",
                    c.a.map,
                    med(&c.a)
                );
                let _ = writeln!(
                    t,
                    "    {:<10} after/before: {:.3} [{:.3}, {:.3}]: {}\n",
                    "",
                    c.ratio,
                    c.ci.lo,
                    c.ci.hi,
                    c.verdict()
                );
            }
        }
        let _ = writeln!(t, "A/B (time of A / time of B, 95% CI):\n");
        for c in s.comparisons.iter().filter(|c| c.group != "kexec") {
            let _ = writeln!(
                t,
                "    {:<62} {:.3} [{:.3}, {:.3}] {}",
                c.label,
                c.ratio,
                c.ci.lo,
                c.ci.hi,
                c.verdict()
            );
        }
        t.push('\n');
    }
    if !s.exact.is_empty() {
        let _ = writeln!(
            t,
            "Instructions per 4 KiB page (exact, -icount; floor {FLOOR_INSNS_PER_PAGE}):\n"
        );
        for e in &s.exact {
            let _ = writeln!(
                t,
                "    {:<10} {:<9} {:<42} {:>7.1} ({}){}",
                e.key.strategy,
                e.key.copy,
                e.key.map,
                e.per_page,
                e.floor_ratio()
                    .map_or("not comparable per instruction".into(), |r| format!(
                        "{r:.2}x floor"
                    )),
                e.split.map_or(String::new(), |[w, c, m]| format!(
                    ": walk {w:.1}, copy {c:.1}, cmo {m:.1}"
                ))
            );
        }
        t.push('\n');
    }
    t += &model::md(s);
    if env["qemu_version"].is_string() {
        t += "QEMU TCG models no caches or TLBs, so MMU on/off differences seen on\n\
              silicon (25 MB: 0.382 s MMU off, 0.019 s MMU on, Cortex-A72) do not\n\
              show here; times are host time, instruction counts are exact.\n";
    }
    t
}
