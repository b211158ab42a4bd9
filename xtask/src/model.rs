//! The model plugin (`qemu/model`) in the study: `--model a72|n1|FILE|none`,
//! the plugin's QEMU arguments, the join of its per-run `model` lines to
//! the stage's `result` records (by `run`, within one boot), the modelled
//! figures per configuration and their place in every output. Everything
//! here is **modelled, not measured**, and says so; a run without a model
//! line has no modelled figures (never zeros).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::analysis::{Boot, Key, RunRow, Study, size_label};

/// The per-run counters the report shows, per MiB copied: (plugin key,
/// short column title).
pub const COUNTERS: [(&str, &str); 8] = [
    ("model_l1_tlb_misses", "L1TLB miss"),
    ("model_walks", "walks"),
    ("model_walk_mem_accesses", "walk reads"),
    ("model_l1d_misses", "L1D miss"),
    ("model_l2_misses", "L2 miss"),
    ("model_prefetches", "prefetch"),
    ("model_prefetches_useful", "pf useful"),
    ("model_device_accesses", "Device"),
];

/// What `--model` asked for: a label for the report and the plugin's
/// arguments (`preset=a72`, or a parameter file's `name=value` lines).
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    pub label: String,
    pub args: String,
}

/// `--model` argument: `none` is `None`; `a72`/`n1` a preset; anything else
/// a parameter file (`name=value` per line, `#` comments; may set
/// `preset=`). The plugin checks names and values itself.
pub fn parse_spec(s: &str) -> Result<Option<Spec>, String> {
    match s {
        "none" => return Ok(None),
        "a72" | "n1" => {
            return Ok(Some(Spec {
                label: s.into(),
                args: format!("preset={s}"),
            }));
        }
        _ => {}
    }
    let text = std::fs::read_to_string(s).map_err(|e| {
        format!("--model: '{s}' is not a72, n1, none or a readable parameter file ({e})")
    })?;
    let mut args = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.split('#').next().unwrap_or("").trim();
        if l.is_empty() {
            continue;
        }
        let ok = l
            .split_once('=')
            .is_some_and(|(k, v)| !k.trim().is_empty() && !v.trim().is_empty() && !l.contains(','));
        if !ok {
            return Err(format!(
                "--model {s}:{}: expected name=value, got '{l}'",
                i + 1
            ));
        }
        let (k, v) = l.split_once('=').unwrap();
        args.push(format!("{}={}", k.trim(), v.trim()));
    }
    if args.is_empty() {
        return Err(format!("--model {s}: no name=value lines"));
    }
    Ok(Some(Spec {
        label: format!("{s} ({})", args.join(" ")),
        args: args.join(","),
    }))
}

/// Checks QEMU's plugin support and builds the plugin if needed.
pub fn prepare() -> Result<PathBuf, String> {
    mmu_reloc_host::plugin_support(Path::new(mmu_reloc_host::qemu::QEMU))?;
    mmu_reloc_host::model_plugin(&crate::cargo())
}

/// The plugin's arguments for the instruction split alone (no model).
pub const SPLIT_ONLY: &str = "model=off";

/// QEMU arguments that load the plugin with `args` and send its lines to
/// stderr (read with the console's records, and kept in the boot's log).
pub fn qemu_args(so: &Path, args: &str) -> Vec<String> {
    vec![
        "-plugin".into(),
        format!("{},{args}", so.display()),
        "-d".into(),
        "plugin".into(),
    ]
}

/// The boot ran with the model (its `model_params` line is there).
pub fn loaded(records: &[Value]) -> bool {
    records.iter().any(|r| r["record"] == "model_params")
}

/// One boot's `model` lines by the stage's run id: the boot CPU's (the
/// lowest vCPU that reported the run; with `cpus=` each secondary reports
/// its own share under the same id, see [`per_vcpu`]).
pub fn join(records: &[Value]) -> BTreeMap<u64, Value> {
    per_vcpu(records)
        .into_iter()
        .filter_map(|(run, by_vcpu)| Some((run, by_vcpu.into_values().next()?)))
        .collect()
}

/// One boot's `model` lines by run id, then by vCPU.
pub fn per_vcpu(records: &[Value]) -> BTreeMap<u64, BTreeMap<u64, Value>> {
    by_run_and_vcpu(records, |r| r["record"] == "model" && r["modelled"] == true)
}

/// The plugin's per-run lines that `keep` accepts, by run id, then by
/// vCPU (the first line of each pair).
pub fn by_run_and_vcpu(
    records: &[Value],
    keep: impl Fn(&Value) -> bool,
) -> BTreeMap<u64, BTreeMap<u64, Value>> {
    let mut out: BTreeMap<u64, BTreeMap<u64, Value>> = BTreeMap::new();
    for r in records.iter().filter(|r| keep(r)) {
        if let Some(run) = r["run"].as_u64() {
            let vcpu = r["vcpu"].as_u64().unwrap_or(0);
            out.entry(run)
                .or_default()
                .entry(vcpu)
                .or_insert_with(|| r.clone());
        }
    }
    out
}

/// Modelled figures of one configuration.
#[derive(Clone, Debug)]
pub struct Fig {
    /// `exact` or `wall` (as the measured tables group runs).
    pub kind: &'static str,
    pub key: Key,
    pub preset: String,
    /// Runs with a model line; whether the runs of boots with the same
    /// bootargs gave the same counts (under icount they must); whether
    /// boots with other bootargs (another map beside it, another seed)
    /// gave other counts, the figures then being the median.
    pub runs: usize,
    pub identical: bool,
    pub varies_across_boots: bool,
    /// [`COUNTERS`] per MiB copied (median over the runs).
    pub per_mib: Vec<f64>,
    pub cycles_per_page: f64,
    /// Modelled time of one run, ms.
    pub ms: f64,
    /// Cycles per page over those of ind-list on its largest-leaf map
    /// (same copy kernel and size).
    pub ratio: Option<f64>,
}

/// Everything modelled in a study.
#[derive(Clone, Debug, Default)]
pub struct Model {
    pub figs: Vec<Fig>,
    /// Runs of boots that loaded the model but have no model line.
    pub missing: usize,
    /// `model_error` lines, with their boot (1-based).
    pub errors: Vec<(usize, String)>,
    /// The first `model_params` line (every parameter).
    pub params: Option<Value>,
}

impl Model {
    pub fn is_empty(&self) -> bool {
        self.figs.is_empty()
    }

    pub fn fig(&self, kind: &str, key: &Key) -> Option<&Fig> {
        let kind = if kind == "exact" { "exact" } else { "wall" };
        self.figs.iter().find(|f| f.kind == kind && &f.key == key)
    }
}

fn median(v: &[u64]) -> u64 {
    mmu_reloc::stats::summarize(v).map_or(0, |s| s.median)
}

pub fn analyse(boots: &[Boot], runs: &[RunRow]) -> Model {
    let mut m = Model::default();
    for (i, b) in boots.iter().enumerate() {
        for r in b.records.iter().filter(|r| r["record"] == "model_error") {
            m.errors
                .push((i + 1, r["msg"].as_str().unwrap_or("?").to_string()));
        }
        if m.params.is_none() {
            m.params = b
                .records
                .iter()
                .find(|r| r["record"] == "model_params")
                .cloned();
        }
    }
    let loaded: Vec<bool> = boots.iter().map(|b| loaded(&b.records)).collect();
    m.missing = runs
        .iter()
        .filter(|r| r.model.is_none() && loaded.get(r.boot) == Some(&true))
        .count();
    let mut g: BTreeMap<(&'static str, Key), Vec<&RunRow>> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.model.is_some() && !r.warmup) {
        let kind = if r.kind == "exact" { "exact" } else { "wall" };
        g.entry((kind, r.key.clone())).or_default().push(r);
    }
    for ((kind, key), rs) in g {
        let models: Vec<&Value> = rs.iter().filter_map(|r| r.model.as_ref()).collect();
        let counts =
            |k: &str| -> Vec<u64> { models.iter().map(|v| v[k].as_u64().unwrap_or(0)).collect() };
        let mib = key.bytes as f64 / (1u64 << 20) as f64;
        let pages = rs[0].pages as f64;
        let same = |a: &Value, b: &Value| {
            COUNTERS
                .iter()
                .chain(&[("model_cycles", "")])
                .all(|(k, _)| a[*k] == b[*k])
        };
        let bootargs = |r: &RunRow| {
            let b = &boots[r.boot];
            b.meta
                .as_ref()
                .map(|m| m["bootargs"].clone())
                .or_else(|| {
                    let p = b.records.iter().find(|x| x["record"] == "platform");
                    p.map(|p| p["bootargs"].clone())
                })
                .unwrap_or(Value::Null)
        };
        let pairs = || {
            rs.iter().zip(&models).flat_map(|(ra, a)| {
                rs.iter()
                    .zip(&models)
                    .map(move |(rb, b)| (bootargs(ra) == bootargs(rb), same(a, b)))
            })
        };
        let identical = pairs().all(|(sb, eq)| !sb || eq);
        let varies_across_boots = pairs().any(|(_, eq)| !eq);
        m.figs.push(Fig {
            kind,
            preset: models[0]["preset"].as_str().unwrap_or("?").to_string(),
            runs: models.len(),
            identical,
            varies_across_boots,
            per_mib: COUNTERS
                .iter()
                .map(|(k, _)| median(&counts(k)) as f64 / mib)
                .collect(),
            cycles_per_page: median(&counts("model_cycles")) as f64 / pages,
            ms: median(&counts("model_ns")) as f64 / 1e6,
            ratio: None,
            key,
        });
    }
    // The reference of each (kind, copy, size): ind-list, MMU on, largest leaf.
    let refs: Vec<(&'static str, Key, f64)> = m
        .figs
        .iter()
        .filter(|f| f.key.strategy == "ind-list" && f.key.map != "MMU off")
        .map(|f| (f.kind, f.key.clone(), f.cycles_per_page))
        .collect();
    for f in &mut m.figs {
        f.ratio = refs
            .iter()
            .filter(|(k, r, _)| *k == f.kind && r.copy == f.key.copy && r.bytes == f.key.bytes)
            .min_by(|a, b| a.1.cmp(&b.1))
            .map(|(_, _, c)| f.cycles_per_page / c);
    }
    m
}

/// The terminal's modelled table (empty without the model).
pub fn table(s: &Study) -> String {
    let m = &s.model;
    let mut t = String::new();
    if m.is_empty() && m.errors.is_empty() && m.missing == 0 {
        return t;
    }
    let preset = m.figs.first().map_or("?", |f| f.preset.as_str());
    let _ = writeln!(
        t,
        "MODELLED, not measured: the qemu/model plugin (preset {preset}) on the {} boots; per MiB copied:\n\
         L1 TLB misses, table walks, walk memory reads, L1D and L2 misses, prefetches issued and useful,\n\
         Device accesses (MMU off); modelled cycles per 4 KiB page, ms per run, ratio to ind-list on its largest leaves",
        if m.figs.iter().all(|f| f.kind == "exact") {
            "exact"
        } else {
            "model"
        }
    );
    let _ = write!(
        t,
        "{:<11} {:<10} {:<42} {:>8}",
        "strategy", "copy", "map", "payload"
    );
    for (_, h) in COUNTERS {
        let _ = write!(t, " {h:>10}");
    }
    let _ = writeln!(
        t,
        " {:>11} {:>9} {:>9}  repeats",
        "cycles/page", "model ms", "vs ind-list"
    );
    for f in &m.figs {
        let _ = write!(
            t,
            "{:<11} {:<10} {:<42} {:>8}",
            f.key.strategy,
            f.key.copy,
            f.key.map,
            size_label(f.key.bytes)
        );
        for v in &f.per_mib {
            let _ = write!(t, " {v:>10.1}");
        }
        let _ = writeln!(
            t,
            " {:>11.1} {:>9.3} {:>9}  {}",
            f.cycles_per_page,
            f.ms,
            f.ratio.map_or("-".into(), |r| format!("{r:.2}")),
            match (f.identical, f.varies_across_boots) {
                (true, false) => format!("yes ({} runs)", f.runs),
                (true, true) => format!(
                    "yes ({} runs; other bootargs, other counts: median)",
                    f.runs
                ),
                (false, _) => format!("NO ({} runs, median shown)", f.runs),
            }
        );
    }
    if m.missing > 0 {
        let _ = writeln!(
            t,
            "{} run(s) of boots with the model have no model line: no modelled figures for them",
            m.missing
        );
    }
    for (b, e) in &m.errors {
        let _ = writeln!(t, "model_error (boot {b}): {e}");
    }
    t
}

/// summary.csv columns appended after the measured ones (none without the
/// model).
pub fn summary_header(m: &Model) -> Vec<String> {
    if m.is_empty() {
        return vec![];
    }
    let mut h: Vec<String> = COUNTERS
        .iter()
        .map(|(k, _)| format!("{k}_per_mib"))
        .collect();
    h.extend(
        [
            "model_cycles_per_page",
            "model_ms",
            "model_ratio_to_ind_list_largest_leaf",
            "model_runs",
            "model_preset",
        ]
        .map(String::from),
    );
    h
}

pub fn summary_cells(m: &Model, kind: &str, key: &Key) -> Vec<String> {
    if m.is_empty() {
        return vec![];
    }
    match m.fig(kind, key) {
        None => vec![String::new(); COUNTERS.len() + 5],
        Some(f) => {
            let mut c: Vec<String> = f.per_mib.iter().map(|v| format!("{v:.2}")).collect();
            c.push(format!("{:.1}", f.cycles_per_page));
            c.push(format!("{:.4}", f.ms));
            c.push(f.ratio.map_or(String::new(), |r| format!("{r:.4}")));
            c.push(f.runs.to_string());
            c.push(f.preset.clone());
            c
        }
    }
}

/// results.csv columns: the run's raw model counts.
pub fn results_header(m: &Model) -> Vec<String> {
    if m.is_empty() {
        return vec![];
    }
    COUNTERS
        .iter()
        .map(|(k, _)| k.to_string())
        .chain(["model_cycles".into(), "model_ns".into()])
        .collect()
}

pub fn results_cells(m: &Model, r: &RunRow) -> Vec<String> {
    if m.is_empty() {
        return vec![];
    }
    COUNTERS
        .iter()
        .map(|(k, _)| *k)
        .chain(["model_cycles", "model_ns"])
        .map(|k| {
            r.model
                .as_ref()
                .and_then(|v| v[k].as_u64())
                .map_or(String::new(), |n| n.to_string())
        })
        .collect()
}

/// report.json's `model` (null without the model).
pub fn json(m: &Model) -> Value {
    if m.is_empty() && m.errors.is_empty() {
        return Value::Null;
    }
    json!({
        "modelled": true,
        "note": "modelled by the qemu/model QEMU plugin, not measured",
        "parameters": m.params,
        "missing_model_lines": m.missing,
        "errors": m.errors.iter().map(|(b, e)| json!({"boot": b, "msg": e})).collect::<Vec<_>>(),
        "configurations": m.figs.iter().map(|f| {
            let mut o = json!({"kind": f.kind, "strategy": f.key.strategy, "copy": f.key.copy,
                "map": f.key.map, "bytes": f.key.bytes, "preset": f.preset, "runs": f.runs,
                "identical": f.identical, "varies_across_boots": f.varies_across_boots, "model_cycles_per_page": f.cycles_per_page,
                "model_ms": f.ms, "model_ratio_to_ind_list_largest_leaf": f.ratio});
            for ((k, _), v) in COUNTERS.iter().zip(&f.per_mib) {
                o[format!("{k}_per_mib")] = json!(v);
            }
            o
        }).collect::<Vec<_>>(),
    })
}

/// summary.md's modelled section (empty without the model).
pub fn md(s: &Study) -> String {
    let m = &s.model;
    let mut t = String::new();
    if m.is_empty() {
        return t;
    }
    let _ = writeln!(
        t,
        "MODELLED, not measured (qemu/model plugin, preset {}): per MiB copied, cycles per page:\n",
        m.figs[0].preset
    );
    for f in &m.figs {
        let _ = writeln!(
            t,
            "    {:<10} {:<9} {:<42} walks {:>6.1}  L1D miss {:>7.0}  useful pf {:>7.0}  Device {:>7.0}  {:>7.0} cycles/page{}",
            f.key.strategy,
            f.key.copy,
            f.key.map,
            f.per_mib[1],
            f.per_mib[3],
            f.per_mib[6],
            f.per_mib[7],
            f.cycles_per_page,
            f.ratio.map_or(String::new(), |r| format!(" (x{r:.2})"))
        );
    }
    t.push('\n');
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::analyse;

    fn result(run: u64, strategy: &str, leaf: Option<u64>) -> Value {
        json!({"record":"result","run":run,"strategy":strategy,"copy":"copy_page","mmu":leaf.is_some(),
               "src_layout":"page-list","granule":leaf.map(|_|"4k"),"leaf":leaf,"bytes":1u64<<20,
               "pages":256,"trial":0,"ns":1000,"insns":256*1035,"verified":true})
    }

    fn model(run: u64, walks: u64, cycles: u64) -> Value {
        json!({"record":"model","modelled":true,"preset":"a72","vcpu":0,"run":run,
               "model_l1_tlb_misses":walks*2,"model_walks":walks,"model_walk_mem_accesses":walks*3,
               "model_l1d_misses":100,"model_l2_misses":50,"model_prefetches":400,
               "model_prefetches_useful":300,"model_device_accesses":0,"model_cycles":cycles,
               "model_ns":cycles})
    }

    fn boot(with_model: bool) -> Vec<Value> {
        let mut v = vec![
            json!({"record":"host-boot","kind":"exact","icount":true}),
            json!({"record":"platform","model":"linux,dummy-virt"}),
        ];
        if with_model {
            v.push(json!({"record":"model_params","modelled":true,"preset":"a72"}));
        }
        v
    }

    #[test]
    fn a_model_line_per_run_joins_by_run() {
        let mut recs = boot(true);
        recs.push(result(1, "ind-list", Some(1 << 30)));
        recs.push(result(2, "ind-list", Some(4096)));
        // Plugin lines come after the console's (stderr), in any order.
        recs.push(model(2, 512, 2_000_000));
        recs.push(model(1, 1, 1_000_000));
        let s = analyse(&recs);
        assert_eq!(s.runs[0].model.as_ref().unwrap()["model_walks"], 1);
        assert_eq!(s.runs[1].model.as_ref().unwrap()["model_walks"], 512);
        assert_eq!(s.model.figs.len(), 2);
        assert_eq!(s.model.missing, 0);
        let big = &s.model.figs[0];
        assert_eq!(big.key.map, "4k granule, 1 GiB leaves");
        assert_eq!((big.per_mib[1], big.cycles_per_page), (1.0, 1e6 / 256.0));
        assert_eq!(s.model.figs[1].ratio, Some(2.0));
        assert!(table(&s).contains("MODELLED, not measured"));
        let cells = summary_cells(&s.model, "exact", &s.runs[1].key);
        assert_eq!(cells[1], "512.00");
        assert_eq!(summary_header(&s.model).len(), cells.len());
    }

    #[test]
    fn a_missing_model_line_is_absent_not_zero() {
        let mut recs = boot(true);
        recs.push(result(1, "ind-list", Some(1 << 30)));
        recs.push(result(2, "legacy", None));
        recs.push(model(1, 1, 1_000_000));
        let s = analyse(&recs);
        assert!(s.runs[1].model.is_none());
        assert_eq!(s.model.missing, 1);
        assert_eq!(s.model.figs.len(), 1);
        let cells = summary_cells(&s.model, "exact", &s.runs[1].key);
        assert!(cells.iter().all(String::is_empty), "{cells:?}");
        assert!(
            results_cells(&s.model, &s.runs[1])
                .iter()
                .all(String::is_empty)
        );
        assert!(table(&s).contains("1 run(s) of boots with the model have no model line"));
        // Without the model at all: no columns, no table, no JSON.
        let mut plain = boot(false);
        plain.push(result(1, "ind-list", Some(1 << 30)));
        let p = analyse(&plain);
        assert!(p.model.is_empty() && p.model.missing == 0);
        assert!(summary_header(&p.model).is_empty() && table(&p).is_empty());
        assert_eq!(json(&p.model), Value::Null);
    }

    #[test]
    fn a_model_error_line_is_reported_and_joins_nothing() {
        let mut recs = boot(true);
        recs.push(result(1, "ind-list", Some(1 << 30)));
        recs.push(json!({"record":"model_error","modelled":true,"msg":"cannot read SCTLR"}));
        let s = analyse(&recs);
        assert!(s.runs[0].model.is_none());
        assert_eq!(s.model.errors, vec![(1, "cannot read SCTLR".to_string())]);
        assert_eq!(s.model.missing, 1);
        assert!(table(&s).contains("model_error (boot 1): cannot read SCTLR"));
        assert_eq!(json(&s.model)["errors"][0]["msg"], "cannot read SCTLR");
    }

    #[test]
    fn counts_repeat_per_bootargs() {
        let mut recs = Vec::new();
        for (args, walks) in [("a", 1), ("a", 1), ("b", 3)] {
            recs.push(json!({"record":"host-boot","kind":"exact","icount":true,"bootargs":args}));
            recs.push(json!({"record":"model_params","modelled":true,"preset":"a72"}));
            recs.push(result(1, "ind-list", Some(1 << 30)));
            recs.push(model(1, walks, 1_000_000));
        }
        let s = analyse(&recs);
        let f = &s.model.figs[0];
        assert!(f.identical && f.varies_across_boots && f.runs == 3, "{f:?}");
        assert_eq!(f.per_mib[1], 1.0, "the median");
        // The same bootargs, other counts: not repeatable.
        recs.push(json!({"record":"host-boot","kind":"exact","icount":true,"bootargs":"a"}));
        recs.push(json!({"record":"model_params","modelled":true,"preset":"a72"}));
        recs.push(result(1, "ind-list", Some(1 << 30)));
        recs.push(model(1, 2, 1_000_000));
        assert!(!analyse(&recs).model.figs[0].identical);
    }

    #[test]
    fn model_specs() {
        assert_eq!(parse_spec("none").unwrap(), None);
        assert_eq!(parse_spec("a72").unwrap().unwrap().args, "preset=a72");
        assert!(parse_spec("z80").unwrap_err().contains("not a72, n1, none"));
        let dir = std::env::temp_dir().join(format!("xtask-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("p.txt");
        std::fs::write(&f, "# slower DRAM\npreset = n1\nmem_ns=90 # ns\n\n").unwrap();
        let s = parse_spec(f.to_str().unwrap()).unwrap().unwrap();
        assert_eq!(s.args, "preset=n1,mem_ns=90");
        std::fs::write(&f, "mem_ns\n").unwrap();
        assert!(
            parse_spec(f.to_str().unwrap())
                .unwrap_err()
                .contains(":1: expected name=value")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
