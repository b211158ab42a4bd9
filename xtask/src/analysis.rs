//! From records to figures: runs grouped by configuration, the exact
//! instruction table (icount boots), wall-clock summaries with bootstrap
//! intervals, the A/B comparisons and the comparison with a baseline study.
//! Pure: no files, no QEMU, no terminal. Statistics come from the stage
//! library's `stats` (one home: the guest and the host compute medians the
//! same way).

use std::collections::BTreeMap;

use mmu_reloc::stats::{self, BOOTSTRAP_RESAMPLES, Interval};
use serde_json::Value;

/// Host-side boot record the study writes before each boot's records.
pub const HOST_BOOT: &str = "host-boot";

/// Instructions per 4 KiB page no copy can go below: the widest pairs
/// (`ldp q`/`stp q`, 32 bytes each) and one `dc civac` per 64-byte line
/// (the Cortex-A72 TRM's and QEMU's line size for every -cpu used here).
pub const PAGE: u64 = 4096;
pub const PAIR_BYTES: u64 = 32;
pub const LINE_BYTES: u64 = 64;
pub const FLOOR_INSNS_PER_PAGE: u64 = 2 * PAGE / PAIR_BYTES + PAGE / LINE_BYTES;

/// One boot's records and what the host knows about it.
#[derive(Clone, Debug, Default)]
pub struct Boot {
    pub meta: Option<Value>,
    pub records: Vec<Value>,
}

impl Boot {
    /// Instruction counts are exact (QEMU `-icount shift=N`): said by the
    /// host record, or, for a log without one, QEMU virt (model
    /// `linux,dummy-virt`) with instruction counts (its PMU counts them only
    /// under icount). A board's counts are real but its times are too.
    pub fn icount(&self) -> bool {
        if let Some(m) = &self.meta {
            return m["icount"] == true;
        }
        let virt = self
            .records
            .iter()
            .any(|r| r["record"] == "platform" && r["model"] == "linux,dummy-virt");
        virt && self
            .records
            .iter()
            .any(|r| r["record"] == "result" && r["insns"].is_u64())
    }

    pub fn kind(&self) -> &str {
        match &self.meta {
            Some(m) => m["kind"].as_str().unwrap_or("wall"),
            None if self.icount() => "exact",
            None => "wall",
        }
    }
}

/// Splits records into boots: a host boot record starts one, and so does a
/// `platform` record in a boot that already has one.
pub fn boots(records: &[Value]) -> Vec<Boot> {
    let mut out: Vec<Boot> = Vec::new();
    for r in records {
        let new = r["record"] == HOST_BOOT
            || (r["record"] == "platform"
                && out
                    .last()
                    .is_none_or(|b| b.records.iter().any(|x| x["record"] == "platform")));
        if new || out.is_empty() {
            out.push(Boot::default());
        }
        let b = out.last_mut().unwrap();
        if r["record"] == HOST_BOOT {
            b.meta = Some(r.clone());
        } else {
            b.records.push(r.clone());
        }
    }
    out
}

/// `1073741824` -> `1 GiB`.
pub fn size_label(bytes: u64) -> String {
    for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    format!("{bytes} B")
}

/// What a configuration ran on: `MMU off`, or the live map in words.
pub fn map_label(r: &Value) -> String {
    if r["mmu"] != true {
        return "MMU off".into();
    }
    let g = r["granule"].as_str().unwrap_or("?");
    let leaf = r["leaf"].as_u64().map_or("?".into(), size_label);
    let mut s = format!("{g} granule, {leaf} leaves");
    if r["src_layout"] == "va-contiguous" {
        s.push_str(", 4 KiB source pages");
    }
    s
}

/// A configuration: what the A/B compares.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub bytes: u64,
    order: (u8, u8, String, u8, String),
    pub strategy: String,
    pub copy: String,
    pub map: String,
}

impl Key {
    pub fn of(r: &Value) -> Key {
        let strategy = r["strategy"].as_str().unwrap_or("?").to_string();
        let copy = r["copy"].as_str().unwrap_or("?").to_string();
        let rank = match strategy.as_str() {
            "ind-list" => 0,
            "contiguous" => 1,
            "legacy" => 2,
            _ => 3,
        };
        let mmu_off = u8::from(r["mmu"] != true);
        // Larger leaves first within a granule.
        let leaf_rank = r["leaf"]
            .as_u64()
            .map_or(0, |l| 64 - l.trailing_zeros() as u8);
        Key {
            bytes: r["bytes"].as_u64().unwrap_or(0),
            order: (
                mmu_off,
                rank,
                r["granule"].as_str().unwrap_or("").to_string(),
                leaf_rank,
                copy.clone(),
            ),
            map: map_label(r),
            strategy,
            copy,
        }
    }

    pub fn name(&self) -> String {
        format!("{} {} {}", self.strategy, self.copy, self.map)
    }
}

/// A run's instructions split by the model plugin (its `split` line, a
/// count, not a model): the list walk with everything else in the PMU
/// window, the copy kernel's own instructions, the cache-maintenance
/// instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    pub walk: u64,
    pub copy: u64,
    pub cmo: u64,
}

impl Split {
    pub fn total(&self) -> u64 {
        self.walk + self.copy + self.cmo
    }

    /// Per page, in the order walk, copy, cmo.
    pub fn per_page(&self, pages: u64) -> [f64; 3] {
        let p = pages.max(1) as f64;
        [self.walk, self.copy, self.cmo].map(|v| v as f64 / p)
    }
}

/// One boot's `split` lines by the stage's run id (only those whose copy
/// ranges the plugin knew).
/// With `cpus=` each secondary reports its share under the same id: the
/// boot CPU's (the lowest vCPU) is the run's, as its PMU count is.
pub fn splits(records: &[Value]) -> BTreeMap<u64, Split> {
    crate::model::by_run_and_vcpu(records, |r| {
        r["record"] == "split" && r["copy_ranges"].as_u64().unwrap_or(0) > 0
    })
    .into_iter()
    .filter_map(|(run, by_vcpu)| {
        let r = by_vcpu.into_values().next()?;
        Some((
            run,
            Split {
                walk: r["split_walk"].as_u64()?,
                copy: r["split_copy"].as_u64()?,
                cmo: r["split_cmo"].as_u64()?,
            },
        ))
    })
    .collect()
}

/// A `result` record with where it came from.
#[derive(Clone, Debug)]
pub struct RunRow {
    pub boot: usize,
    pub kind: String,
    pub key: Key,
    pub trial: u64,
    pub warmup: bool,
    pub pages: u64,
    pub ns: u64,
    pub cycles: Option<u64>,
    pub insns: Option<u64>,
    pub verified: bool,
    pub record: Value,
    /// The model plugin's line of this run (`run` within the boot), if the
    /// boot ran with the model: modelled, not measured.
    pub model: Option<Value>,
    /// The run's instruction split, if the boot loaded the plugin.
    pub split: Option<Split>,
}

pub fn runs(boots: &[Boot]) -> Vec<RunRow> {
    let mut out = Vec::new();
    for (i, b) in boots.iter().enumerate() {
        let kind = b.kind().to_string();
        let results: Vec<&Value> = b
            .records
            .iter()
            .filter(|r| r["record"] == "result")
            .collect();
        let models = crate::model::join(&b.records);
        let splits = splits(&b.records);
        for r in results {
            let key = Key::of(r);
            let trial = r["trial"].as_u64().unwrap_or(0);
            out.push(RunRow {
                boot: i,
                kind: kind.clone(),
                // The stage flags each configuration's first run in a boot
                // (it warms QEMU's translation cache): reported, not
                // counted (wall-clock only; exact counts repeat anyway).
                warmup: kind != "exact" && r["warmup"] == true,
                key,
                trial,
                pages: r["pages"].as_u64().unwrap_or(0).max(1),
                ns: r["ns"].as_u64().unwrap_or(0),
                cycles: r["cycles"].as_u64(),
                insns: r["insns"].as_u64(),
                verified: r["verified"] == true,
                model: r["run"].as_u64().and_then(|n| models.get(&n).cloned()),
                split: r["run"].as_u64().and_then(|n| splits.get(&n).copied()),
                record: r.clone(),
            });
        }
    }
    out
}

/// Exact instruction counts of one configuration.
#[derive(Clone, Debug)]
pub struct Exact {
    pub key: Key,
    pub runs: usize,
    pub boots: usize,
    /// Instructions per page of the first run.
    pub per_page: f64,
    pub min: u64,
    pub max: u64,
    pub verified: bool,
    /// The first run's split per page (walk, copy, cmo), if every run has one.
    pub split: Option<[f64; 3]>,
    /// Runs whose split does not add up to their PMU count, or differs
    /// from the first run's.
    pub split_bad: usize,
}

impl Exact {
    /// Every run's split adds up to its PMU count and repeats.
    pub fn split_ok(&self) -> bool {
        self.split_bad == 0
    }

    /// Every run and boot gave the same count.
    pub fn repeats(&self) -> bool {
        self.min == self.max
    }
    /// The count over the floor; `None` for `mops`, whose CPY instructions
    /// each move as many bytes as the CPU chooses: not comparable per
    /// instruction.
    pub fn floor_ratio(&self) -> Option<f64> {
        (self.key.copy != "mops").then(|| self.per_page / FLOOR_INSNS_PER_PAGE as f64)
    }
}

pub fn exact(runs: &[RunRow]) -> Vec<Exact> {
    let mut g: BTreeMap<Key, Vec<&RunRow>> = BTreeMap::new();
    for r in runs
        .iter()
        .filter(|r| r.kind == "exact" && r.insns.is_some())
    {
        g.entry(r.key.clone()).or_default().push(r);
    }
    g.into_iter()
        .map(|(key, rs)| {
            let v: Vec<u64> = rs.iter().filter_map(|r| r.insns).collect();
            let mut boots: Vec<usize> = rs.iter().map(|r| r.boot).collect();
            boots.dedup();
            let first = rs[0].split;
            let split_bad = rs
                .iter()
                .filter(|r| match r.split {
                    Some(sp) => Some(sp.total()) != r.insns || Some(sp) != first,
                    None => first.is_some(),
                })
                .count();
            Exact {
                split: first.map(|sp| sp.per_page(rs[0].pages)),
                split_bad,
                per_page: v[0] as f64 / rs[0].pages as f64,
                min: *v.iter().min().unwrap(),
                max: *v.iter().max().unwrap(),
                runs: v.len(),
                boots: boots.len(),
                verified: rs.iter().all(|r| r.verified),
                key,
            }
        })
        .collect()
}

/// Wall-clock figures of one configuration (warm-ups left out).
#[derive(Clone, Debug)]
pub struct Wall {
    pub key: Key,
    pub ns: Vec<u64>,
    /// (boot, trial) of each `ns`: runs of one trial of one boot ran
    /// back to back (trials interleave the configurations).
    pub at: Vec<(usize, u64)>,
    pub warmup_ns: Vec<u64>,
    pub summary: stats::Summary,
    pub ci: Option<Interval>,
    pub boots: usize,
    pub verified: bool,
    /// Instructions per page when the PMU counted them (a board).
    pub insns_per_page: Option<f64>,
}

impl Wall {
    pub fn mib_per_s(&self) -> f64 {
        stats::mib_per_s(self.key.bytes, self.summary.median)
    }
}

fn seed_of(s: &str) -> u64 {
    // FNV-1a: a stable seed per label, so intervals repeat from report to
    // report over the same samples.
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

pub fn wall(runs: &[RunRow]) -> Vec<Wall> {
    let mut g: BTreeMap<Key, Vec<&RunRow>> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.kind != "exact") {
        g.entry(r.key.clone()).or_default().push(r);
    }
    g.into_iter()
        .filter_map(|(key, rs)| {
            let ns: Vec<u64> = rs.iter().filter(|r| !r.warmup).map(|r| r.ns).collect();
            let at = rs
                .iter()
                .filter(|r| !r.warmup)
                .map(|r| (r.boot, r.trial))
                .collect();
            let warmup_ns = rs.iter().filter(|r| r.warmup).map(|r| r.ns).collect();
            let mut boots: Vec<usize> = rs.iter().map(|r| r.boot).collect();
            boots.dedup();
            let insns: Vec<u64> = rs
                .iter()
                .filter(|r| !r.warmup)
                .filter_map(|r| r.insns)
                .collect();
            Some(Wall {
                summary: stats::summarize(&ns)?,
                ci: stats::bootstrap_median_ci(&ns, BOOTSTRAP_RESAMPLES, seed_of(&key.name())),
                insns_per_page: stats::summarize(&insns)
                    .map(|s| s.median as f64 / rs[0].pages as f64),
                boots: boots.len(),
                verified: rs.iter().all(|r| r.verified),
                warmup_ns,
                ns,
                at,
                key,
            })
        })
        .collect()
}

/// One A/B: time of `a` over time of `b`.
#[derive(Clone, Debug)]
pub struct Comparison {
    pub group: &'static str,
    pub label: String,
    pub a: Key,
    pub b: Key,
    pub ratio: f64,
    pub ci: Interval,
    /// The interval resampled (boot, trial) pairs; false: each side alone.
    pub paired: bool,
}

impl Comparison {
    pub fn measurable(&self) -> bool {
        !self.ci.contains(1.0)
    }

    /// What a reader should take from it.
    pub fn verdict(&self) -> String {
        ratio_verdict("A", self.ratio, &self.ci)
    }
}

/// What a reader should take from a time ratio `a` / B with interval `ci`:
/// no measurable difference when `ci` holds 1.0, else faster or slower.
pub fn ratio_verdict(a: &str, ratio: f64, ci: &Interval) -> String {
    if ci.contains(1.0) {
        "no measurable difference".into()
    } else if ratio < 1.0 {
        format!("{a} faster: {:.2}x", 1.0 / ratio)
    } else {
        format!("{a} slower: {ratio:.2}x the time")
    }
}

fn compare(
    walls: &[Wall],
    group: &'static str,
    label: String,
    a: impl Fn(&Key) -> bool,
    b: impl Fn(&Key) -> bool,
) -> Option<Comparison> {
    let wa = walls.iter().find(|w| a(&w.key))?;
    let wb = walls.iter().find(|w| b(&w.key))?;
    // Pair the runs of one trial of one boot when every run has its
    // partner: host load shared by the pair then cancels.
    let pairs: Vec<(u64, u64)> = wa
        .at
        .iter()
        .zip(&wa.ns)
        .filter_map(|(at, &na)| {
            let j = wb.at.iter().position(|x| x == at)?;
            Some((na, wb.ns[j]))
        })
        .collect();
    let paired = pairs.len() >= 3 && pairs.len() == wa.ns.len() && pairs.len() == wb.ns.len();
    let seed = seed_of(&label);
    let (ratio, ci) = if paired {
        let (a, b): (Vec<u64>, Vec<u64>) = pairs.into_iter().unzip();
        stats::bootstrap_paired_ratio_ci(&a, &b, BOOTSTRAP_RESAMPLES, seed)?
    } else {
        stats::bootstrap_ratio_ci(&wa.ns, &wb.ns, BOOTSTRAP_RESAMPLES, seed)?
    };
    Some(Comparison {
        paired,
        group,
        label,
        a: wa.key.clone(),
        b: wb.key.clone(),
        ratio,
        ci,
    })
}

/// The A/B table for payload size `bytes`: strategies, MMU on/off, the
/// kexec before/after (Linux <= 5.12's MMU-off loop against the list walk
/// with the MMU on), leaf sizes and copy kernels.
pub fn comparisons(walls: &[Wall], bytes: u64) -> Vec<Comparison> {
    let at = |k: &Key| k.bytes == bytes;
    let off = |k: &Key| k.map == "MMU off";
    // The default (largest-leaf) map each strategy ran with the MMU on.
    let main_map = |strategy: &str, copy: &str| -> Option<String> {
        walls
            .iter()
            .map(|w| &w.key)
            .filter(|k| at(k) && k.strategy == strategy && k.copy == copy && !off(k))
            .min()
            .map(|k| k.map.clone())
    };
    let mut out = Vec::new();
    let mut copies: Vec<&str> = walls
        .iter()
        .filter(|w| at(&w.key))
        .map(|w| w.key.copy.as_str())
        .collect();
    copies.sort();
    copies.dedup();
    let is =
        |k: &Key, s: &str, c: &str, m: &str| at(k) && k.strategy == s && k.copy == c && k.map == m;
    for &c in &copies {
        let il = main_map("ind-list", c).unwrap_or_default();
        let co = main_map("contiguous", c).unwrap_or_default();
        let mut push = |g, l: String, a: &dyn Fn(&Key) -> bool, b: &dyn Fn(&Key) -> bool| {
            out.extend(compare(walls, g, l, a, b));
        };
        push(
            "strategy",
            format!("ind-list / contiguous, {c}, MMU on"),
            &|k| is(k, "ind-list", c, &il),
            &|k| is(k, "contiguous", c, &co),
        );
        push(
            "strategy",
            format!("ind-list / contiguous, {c}, MMU off"),
            &|k| is(k, "ind-list", c, "MMU off"),
            &|k| is(k, "contiguous", c, "MMU off"),
        );
        for (s, m) in [("ind-list", &il), ("contiguous", &co)] {
            push(
                "mmu",
                format!("MMU on / MMU off, {s}, {c}"),
                &|k| is(k, s, c, m),
                &|k| is(k, s, c, "MMU off"),
            );
        }
        push(
            "kexec",
            format!("ind-list MMU on / legacy MMU off, {c}"),
            &|k| is(k, "ind-list", c, &il),
            &|k| is(k, "legacy", c, "MMU off"),
        );
        let mut leaves: Vec<&Key> = walls
            .iter()
            .map(|w| &w.key)
            .filter(|k| at(k) && k.strategy == "ind-list" && k.copy == c && !off(k) && k.map != il)
            .collect();
        leaves.sort();
        for k in leaves {
            let m = k.map.clone();
            // "4k granule, 4 KiB leaves" against "4k granule, 1 GiB leaves"
            // reads as "4 KiB / 1 GiB leaves, 4k granule".
            let label = match (m.split_once(", "), il.split_once(", ")) {
                (Some((g1, l1)), Some((g2, l2))) if g1 == g2 => {
                    format!(
                        "{} / {l2}, {g1}, ind-list, {c}",
                        l1.trim_end_matches(" leaves")
                    )
                }
                _ => format!("{m} / {il}, ind-list, {c}"),
            };
            push("leaves", label, &|x| is(x, "ind-list", c, &m), &|x| {
                is(x, "ind-list", c, &il)
            });
        }
    }
    // Every other kernel against Linux's copy_page when both ran.
    let base = "copy_page";
    let others = copies.iter().copied().filter(|&c| c != base);
    for fast in others.filter(|_| copies.contains(&base)) {
        let mut seen = Vec::new();
        for w in walls.iter().filter(|w| at(&w.key) && w.key.copy == base) {
            let (s, m) = (w.key.strategy.clone(), w.key.map.clone());
            if seen.contains(&(s.clone(), m.clone()))
                || (s == "ind-list"
                    && !off(&w.key)
                    && Some(&m) != main_map("ind-list", base).as_ref())
            {
                continue;
            }
            seen.push((s.clone(), m.clone()));
            out.extend(compare(
                walls,
                "copy",
                format!("{fast} / {base}, {s}, {m}"),
                |k| is(k, &s, fast, &m),
                |k| is(k, &s, base, &m),
            ));
        }
    }
    out
}

/// A configuration's change against a baseline study.
#[derive(Clone, Debug)]
pub struct Change {
    pub key: Key,
    pub kind: &'static str,
    /// New over old: median time (wall) or instructions per page (exact).
    pub ratio: f64,
    pub ci: Option<Interval>,
    pub old: f64,
    pub new: f64,
}

impl Change {
    pub fn changed(&self) -> bool {
        match self.kind {
            "exact" => self.old != self.new,
            _ => self.ci.is_some_and(|ci| !ci.contains(1.0)),
        }
    }

    pub fn verdict(&self) -> String {
        match (self.kind, self.changed()) {
            ("exact", false) => "same instruction count".into(),
            ("exact", true) => format!("{:+.1} instructions per page", self.new - self.old),
            (_, false) => "within the noise".into(),
            (_, true) if self.ratio < 1.0 => {
                format!("faster: {:.2}x, outside the noise", 1.0 / self.ratio)
            }
            (_, true) => format!("slower: {:.2}x the time, outside the noise", self.ratio),
        }
    }
}

/// Per configuration present in both: exact counts compared exactly,
/// wall-clock medians by the bootstrap interval of new/old. Also the keys
/// only one side has.
pub fn against_baseline(
    old: (&[Exact], &[Wall]),
    new: (&[Exact], &[Wall]),
) -> (Vec<Change>, Vec<String>) {
    let mut out = Vec::new();
    let mut unmatched = Vec::new();
    for e in new.0 {
        match old.0.iter().find(|o| o.key == e.key) {
            Some(o) => out.push(Change {
                key: e.key.clone(),
                kind: "exact",
                ratio: e.per_page / o.per_page,
                ci: None,
                old: o.per_page,
                new: e.per_page,
            }),
            None => unmatched.push(format!(
                "new (exact): {} {}",
                e.key.name(),
                size_label(e.key.bytes)
            )),
        }
    }
    for w in new.1 {
        match old.1.iter().find(|o| o.key == w.key) {
            Some(o) => {
                let r = stats::bootstrap_ratio_ci(
                    &w.ns,
                    &o.ns,
                    BOOTSTRAP_RESAMPLES,
                    seed_of(&w.key.name()),
                );
                if let Some((ratio, ci)) = r {
                    out.push(Change {
                        key: w.key.clone(),
                        kind: "wall",
                        ratio,
                        ci: Some(ci),
                        old: o.summary.median as f64,
                        new: w.summary.median as f64,
                    });
                }
            }
            None => unmatched.push(format!(
                "new (wall): {} {}",
                w.key.name(),
                size_label(w.key.bytes)
            )),
        }
    }
    for e in old
        .0
        .iter()
        .filter(|o| !new.0.iter().any(|n| n.key == o.key))
    {
        unmatched.push(format!(
            "gone (exact): {} {}",
            e.key.name(),
            size_label(e.key.bytes)
        ));
    }
    for w in old
        .1
        .iter()
        .filter(|o| !new.1.iter().any(|n| n.key == o.key))
    {
        unmatched.push(format!(
            "gone (wall): {} {}",
            w.key.name(),
            size_label(w.key.bytes)
        ));
    }
    (out, unmatched)
}

/// Everything the report needs, from the records of every boot.
pub struct Study {
    pub boots: Vec<Boot>,
    pub runs: Vec<RunRow>,
    pub exact: Vec<Exact>,
    pub wall: Vec<Wall>,
    /// The payload size of the A/B table: the one with most wall samples.
    pub main_bytes: Option<u64>,
    pub comparisons: Vec<Comparison>,
    pub errors: Vec<Value>,
    /// Modelled figures (the model plugin), empty without it.
    pub model: crate::model::Model,
}

pub fn analyse(records: &[Value]) -> Study {
    let boots = boots(records);
    let runs = runs(&boots);
    let exact = exact(&runs);
    let wall = wall(&runs);
    let mut per_size: BTreeMap<u64, usize> = BTreeMap::new();
    for w in &wall {
        *per_size.entry(w.key.bytes).or_default() += w.ns.len();
    }
    let main_bytes = per_size
        .iter()
        .max_by_key(|(b, n)| (**n, **b))
        .map(|(b, _)| *b);
    let comparisons = main_bytes.map_or(Vec::new(), |b| comparisons(&wall, b));
    let errors = records
        .iter()
        .filter(|r| r["record"] == "error")
        .cloned()
        .collect();
    let model = crate::model::analyse(&boots, &runs);
    Study {
        model,
        boots,
        runs,
        exact,
        wall,
        main_bytes,
        comparisons,
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn result(
        strategy: &str,
        copy: &str,
        leaf: Option<u64>,
        trial: u64,
        ns: u64,
        insns: Option<u64>,
    ) -> Value {
        json!({"record":"result","strategy":strategy,"copy":copy,"mmu":leaf.is_some(),
               "src_layout":"page-list","granule":leaf.map(|_|"4k"),"leaf":leaf,"bytes":4096*16,
               "pages":16,"trial":trial,"warmup":trial == 0,"ns":ns,"insns":insns,"verified":true})
    }

    #[test]
    fn labels_say_what_the_map_is() {
        assert_eq!(size_label(1 << 30), "1 GiB");
        assert_eq!(size_label(3 << 20), "3 MiB");
        assert_eq!(size_label(1000), "1000 B");
        let r = result("ind-list", "ldp-q", Some(1 << 30), 0, 1, None);
        assert_eq!(map_label(&r), "4k granule, 1 GiB leaves");
        assert_eq!(
            map_label(&result("legacy", "ldp-q", None, 0, 1, None)),
            "MMU off"
        );
    }

    #[test]
    fn boots_warmups_and_exact_counts() {
        let mut recs = vec![json!({"record":"host-boot","kind":"exact","icount":true})];
        recs.push(json!({"record":"platform","model":"linux,dummy-virt"}));
        for t in 0..2 {
            recs.push(result(
                "ind-list",
                "copy_page",
                Some(1 << 30),
                t,
                100,
                Some(16 * 1035),
            ));
        }
        // A board log without a host record: times are real.
        recs.push(json!({"record":"platform","model":"Raspberry Pi 4 Model B"}));
        for t in 0..4 {
            recs.push(result(
                "ind-list",
                "copy_page",
                None,
                t,
                1000 + t,
                Some(16 * 900),
            ));
        }
        let s = analyse(&recs);
        assert_eq!(s.boots.len(), 2);
        assert!(s.boots[0].icount() && !s.boots[1].icount());
        assert_eq!(s.exact.len(), 1);
        assert_eq!(s.exact[0].per_page, 1035.0);
        assert!(s.exact[0].repeats());
        assert_eq!(FLOOR_INSNS_PER_PAGE, 320);
        assert_eq!(s.wall.len(), 1);
        let w = &s.wall[0];
        assert_eq!(
            (w.warmup_ns.clone(), w.ns.clone()),
            (vec![1000], vec![1001, 1002, 1003])
        );
        assert_eq!(w.summary.median, 1002);
        assert_eq!(w.insns_per_page, Some(900.0));
    }

    #[test]
    fn splits_join_by_run_and_must_add_up_and_repeat() {
        let split = |run: u64, walk: u64, copy: u64, cmo: u64| {
            json!({"record":"split","vcpu":0,"run":run,"split_insns":walk + copy + cmo,
                   "split_walk":walk,"split_copy":copy,"split_cmo":cmo,"copy_ranges":12})
        };
        let boot = |insns: [u64; 2], splits: Vec<Value>| {
            let mut recs = vec![json!({"record":"host-boot","kind":"exact","icount":true})];
            recs.push(json!({"record":"platform","model":"linux,dummy-virt"}));
            for (t, i) in insns.into_iter().enumerate() {
                let mut r = result("ind-list", "copy_page", Some(1 << 30), t as u64, 1, Some(i));
                r["run"] = json!(t + 1);
                recs.push(r);
            }
            recs.extend(splits);
            recs
        };
        // Walk 200, copy 769, cmo 64 per page over 16 pages, both runs.
        let good = vec![split(1, 3200, 12304, 1024), split(2, 3200, 12304, 1024)];
        let s = analyse(&boot([16528, 16528], good.clone()));
        assert_eq!(
            s.runs[1].split,
            Some(Split {
                walk: 3200,
                copy: 12304,
                cmo: 1024
            })
        );
        assert_eq!(s.exact[0].split, Some([200.0, 769.0, 64.0]));
        assert!(s.exact[0].split_ok());
        // A split that does not add up to the PMU's count.
        let s = analyse(&boot([16528, 16529], good));
        assert!(!s.exact[0].repeats() && s.exact[0].split_bad == 1);
        // Adds up, but not the same split as the first run.
        let other = vec![split(1, 3200, 12304, 1024), split(2, 3201, 12303, 1024)];
        let s = analyse(&boot([16528, 16528], other));
        assert!(s.exact[0].repeats() && !s.exact[0].split_ok());
        // A run without a split line where the first had one.
        let s = analyse(&boot([16528, 16528], vec![split(1, 3200, 12304, 1024)]));
        assert_eq!(s.exact[0].split_bad, 1);
        // No plugin: no split, nothing to check.
        let s = analyse(&boot([16528, 16528], vec![]));
        assert!(s.exact[0].split.is_none() && s.exact[0].split_ok());
        // A split line without the stage's copy ranges is not a split.
        let mut blind = split(1, 3200, 12304, 1024);
        blind["copy_ranges"] = json!(0);
        assert!(splits(&[blind]).is_empty());
    }

    #[test]
    fn comparisons_and_baseline_verdicts() {
        let mut recs = vec![json!({"record":"platform","model":"board"})];
        for t in 0..12 {
            recs.push(result(
                "ind-list",
                "copy_page",
                Some(1 << 30),
                t,
                100 + t % 3,
                None,
            ));
            recs.push(result(
                "contiguous",
                "copy_page",
                Some(1 << 30),
                t,
                100 + (t + 1) % 3,
                None,
            ));
            recs.push(result("ind-list", "copy_page", None, t, 300 + t % 3, None));
        }
        let s = analyse(&recs);
        let find = |l: &str| s.comparisons.iter().find(|c| c.label == l).unwrap();
        assert_eq!(
            find("ind-list / contiguous, copy_page, MMU on").verdict(),
            "no measurable difference"
        );
        assert!(find("ind-list / contiguous, copy_page, MMU on").paired);
        let mmu = find("MMU on / MMU off, ind-list, copy_page");
        assert!(
            mmu.measurable() && mmu.verdict() == "A faster: 2.98x",
            "{mmu:?}"
        );
        let (changes, unmatched) = against_baseline((&s.exact, &s.wall), (&s.exact, &s.wall));
        assert!(unmatched.is_empty());
        assert_eq!(changes.len(), 3);
        assert!(
            changes
                .iter()
                .all(|c| !c.changed() && c.verdict() == "within the noise")
        );
    }
}
