//! `cargo xtask scaling`: what a second CPU does to a relocation (`cpus=`;
//! a benchmark, it prints figures and asserts nothing about them).
//!
//! - Wall-clock: QEMU virt `-smp 2` with multi-threaded TCG (one host
//!   thread per vCPU), boots alternating `cpus=1` and `cpus=2`, each boot
//!   `trials=` interleaved trials of both strategies (`copy=ldp-q-dc`,
//!   MMU on) whose first is a warm-up and not counted. Per strategy and
//!   CPU count: median time, its bootstrap 95% interval, MiB/s at the
//!   median; the ratio of medians 2 CPUs / 1 CPU with a bootstrap interval
//!   (unpaired: the two sides ran in different boots). This machine has 2
//!   cores shared with other work: host time, not silicon.
//! - Instructions: `-smp 2 -icount shift=0,align=off,sleep=off` (icount
//!   runs the vCPUs in turn on one thread, so it says nothing of time),
//!   `cpus=2`: each CPU's INST_RETIRED over its own share (`share_insns`
//!   of the `result` record), per page, and whether the two are within 1%
//!   of each other; and one `cpus=1` boot for the single-CPU count.
//! - Modelled (`--model a72` by default, `--model none` to skip): one
//!   `cpus=2` boot with the model plugin, which keeps a TLB, cache and
//!   prefetcher model per vCPU; each CPU marks its own share, so the
//!   plugin reports each CPU's modelled instructions and cycles. This
//!   boot runs multi-threaded TCG, not icount: with a single TCG thread
//!   QEMU 10.0 hands plugin callbacks the index of the vCPU that
//!   translated a block, not of the one running it (accel/tcg/plugin-gen.c
//!   `gen_cpu_index` without CF_PARALLEL), so a share run on code the
//!   other CPU translated would be charged to the wrong model. The share's
//!   instruction stream, hence its model, does not depend on timing. A
//!   model: the CPUs share no cache level and no bus in it (no contention
//!   term), so it says what each CPU's share costs alone, not what two
//!   CPUs achieve together.

use std::time::Duration;

use mmu_reloc::stats::{self, BOOTSTRAP_RESAMPLES};
use mmu_reloc_host::{Qemu, Run};
use serde_json::Value;

use crate::take_opt;

const STRATEGIES: [&str; 2] = ["ind-list", "contiguous"];
const COPY: &str = "ldp-q-dc";

struct Options {
    boots: usize,
    trials: u32,
    size: String,
    icount_size: String,
    model: Option<crate::model::Spec>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut a = args.to_vec();
    let num = |v: Option<String>, d: usize, what: &str| -> Result<usize, String> {
        v.map_or(Ok(d), |s| {
            s.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(format!("scaling: {what} '{s}' is not a positive count"))
        })
    };
    let o = Options {
        boots: num(take_opt(&mut a, "--boots")?, 3, "--boots")?,
        trials: num(take_opt(&mut a, "--trials")?, 6, "--trials")? as u32,
        size: take_opt(&mut a, "--size")?.unwrap_or_else(|| "16M".into()),
        icount_size: take_opt(&mut a, "--icount-size")?.unwrap_or_else(|| "4M".into()),
        model: crate::model::parse_spec(&take_opt(&mut a, "--model")?.unwrap_or("a72".into()))?,
    };
    if o.trials < 2 {
        return Err("scaling: --trials needs 2 or more (the first is a warm-up)".into());
    }
    if let Some(x) = a.first() {
        return Err(format!("scaling: unknown argument '{x}'"));
    }
    Ok(o)
}

fn boot(image: &std::path::Path, extra: &[&str], bootargs: &str) -> Result<Run, String> {
    let q = Qemu::virt()
        .kernel(image)
        .args(["-smp", "2"])
        .args(extra)
        .timeout(Duration::from_secs(600))
        .append(bootargs);
    let cmd = q.command_line();
    let r = q.run();
    if r.status != Some(0) {
        return Err(format!(
            "scaling: boot failed (status {:?}): {cmd}\n{}",
            r.status, r.output
        ));
    }
    Ok(r)
}

fn results(r: &Run) -> impl Iterator<Item = &Value> {
    r.records.iter().filter(|v| v["record"] == "result")
}

/// MiB/s for an interval bound (nanoseconds as a real number).
fn mib_s(bytes: u64, ns: f64) -> f64 {
    stats::mib_per_s(bytes, ns.round() as u64)
}

pub fn main(args: &[String]) -> Result<u8, String> {
    let o = parse(args)?;
    let elf = crate::stage_elf(None)?;
    let image = mmu_reloc_host::make_image(&elf)?;
    let qemu = mmu_reloc_host::qemu_version().ok_or("qemu-system-aarch64 not found")?;
    println!(
        "cpus= scaling on {qemu}, -M virt -cpu cortex-a72 -smp 2; copy={COPY}, MMU on; host load {}",
        std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    );

    // Wall-clock, multi-threaded TCG, boots alternating 1 and 2 CPUs.
    // samples[strategy][cpus - 1]: counted runs' ns.
    let mut samples = vec![[Vec::new(), Vec::new()]; STRATEGIES.len()];
    let mut bytes = 0;
    for b in 0..o.boots {
        for cpus in [1u64, 2] {
            eprintln!(
                "scaling: wall-clock boot {} of {}, cpus={cpus}",
                2 * b + cpus as usize,
                2 * o.boots
            );
            let r = boot(
                &image,
                &["-accel", "tcg,thread=multi"],
                &format!(
                    "size={} trials={} copy={COPY} mmu=on cpus={cpus} seed={}",
                    o.size,
                    o.trials,
                    b + 1
                ),
            )?;
            for v in results(&r).filter(|v| v["warmup"] == false) {
                let s = STRATEGIES
                    .iter()
                    .position(|s| v["strategy"] == *s)
                    .ok_or("scaling: a result of an unexpected strategy")?;
                bytes = v["bytes"].as_u64().unwrap_or(0);
                samples[s][cpus as usize - 1].push(v["ns"].as_u64().unwrap_or(0));
            }
        }
    }
    println!();
    println!(
        "Wall-clock, {} payload, multi-threaded TCG: {} boots per CPU count x {} counted trials (first of each boot a warm-up)",
        o.size,
        o.boots,
        o.trials - 1
    );
    println!(
        "{:<11} {:>4} {:>4} {:>10} {:>22} {:>8} {:>20}",
        "strategy", "cpus", "n", "median ms", "95% CI of median", "MiB/s", "MiB/s 95% CI"
    );
    for (s, name) in STRATEGIES.iter().enumerate() {
        for (k, v) in samples[s].iter().enumerate() {
            let Some(sum) = stats::summarize(v) else {
                continue;
            };
            let ci = stats::bootstrap_median_ci(v, BOOTSTRAP_RESAMPLES, 1)
                .ok_or("scaling: no interval")?;
            println!(
                "{:<11} {:>4} {:>4} {:>10.3} {:>22} {:>8.0} {:>20}",
                name,
                k + 1,
                sum.n,
                sum.median as f64 / 1e6,
                format!("[{:.3}, {:.3}]", ci.lo / 1e6, ci.hi / 1e6),
                mib_s(bytes, sum.median as f64),
                format!("[{:.0}, {:.0}]", mib_s(bytes, ci.hi), mib_s(bytes, ci.lo)),
            );
        }
    }
    println!();
    println!(
        "time with 2 CPUs / time with 1 CPU: ratio of medians, bootstrap 95% CI (unpaired: different boots)"
    );
    for (s, name) in STRATEGIES.iter().enumerate() {
        let [one, two] = &samples[s];
        if let Some((r, ci)) = stats::bootstrap_ratio_ci(two, one, BOOTSTRAP_RESAMPLES, 7) {
            let verdict = crate::analysis::ratio_verdict("2 CPUs", r, &ci);
            println!("{name:<11} {r:.3} [{:.3}, {:.3}]  {verdict}", ci.lo, ci.hi);
        }
    }

    // Instructions per CPU, under icount.
    eprintln!("scaling: icount boots");
    let args = &["-icount", "shift=0,align=off,sleep=off"];
    let two = boot(
        &image,
        args,
        &format!("size={} trials=2 copy={COPY} mmu=on cpus=2", o.icount_size),
    )?;
    let one = boot(
        &image,
        args,
        &format!("size={} trials=2 copy={COPY} mmu=on cpus=1", o.icount_size),
    )?;
    println!();
    println!(
        "Instructions under -icount shift=0 ({} payload, second trial): each CPU's INST_RETIRED over its own share",
        o.icount_size
    );
    println!(
        "{:<11} {:>14} {:>14} {:>12} {:>12} {:>8} {:>10} {:>14}",
        "strategy",
        "CPU 0 insns",
        "CPU 1 insns",
        "CPU 0 /page",
        "CPU 1 /page",
        "spread",
        "within 1%",
        "1 CPU /page"
    );
    let mut all_within = true;
    for name in STRATEGIES {
        let pick = |r: &Run| {
            results(r)
                .filter(|v| v["strategy"] == name && v["warmup"] == false)
                .last()
                .cloned()
        };
        let (Some(v), Some(u)) = (pick(&two), pick(&one)) else {
            return Err(format!("scaling: no counted {name} result under icount"));
        };
        let nums = |k: &str| -> Vec<u64> {
            v[k].as_array()
                .map(|a| a.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default()
        };
        let (insns, pages) = (nums("share_insns"), nums("share_pages"));
        if insns.len() != 2 || pages.len() != 2 {
            return Err(format!(
                "scaling: the {name} result has no per-CPU counts (share_insns): {v}"
            ));
        }
        let (lo, hi) = (insns[0].min(insns[1]), insns[0].max(insns[1]));
        let spread = (hi - lo) as f64 / lo.max(1) as f64;
        let within = spread <= 0.01;
        all_within &= within;
        let single = u["insns"].as_u64().unwrap_or(0) as f64
            / u["pages"].as_u64().unwrap_or(1).max(1) as f64;
        println!(
            "{:<11} {:>14} {:>14} {:>12.1} {:>12.1} {:>7.3}% {:>10} {:>14.1}",
            name,
            insns[0],
            insns[1],
            insns[0] as f64 / pages[0].max(1) as f64,
            insns[1] as f64 / pages[1].max(1) as f64,
            spread * 100.0,
            if within { "yes" } else { "no" },
            single
        );
    }
    println!(
        "(1 CPU /page: the single-CPU run's INST_RETIRED, the copy loop only. Under icount the vCPUs run in turn on one host thread: these counts say nothing about time.)"
    );
    if !all_within {
        println!("note: the CPUs' counts differ by more than 1%");
    }
    if let Some(spec) = &o.model {
        eprintln!("scaling: model boot");
        let mut args = crate::model::qemu_args(&crate::model::prepare()?, &spec.args);
        args.extend(["-accel", "tcg,thread=multi"].map(String::from));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = boot(
            &image,
            &args,
            &format!("size={} trials=2 copy={COPY} mmu=on cpus=2", o.icount_size),
        )?;
        modelled(&r, &spec.label, &o.icount_size)?;
    }
    Ok(0)
}

/// Per CPU of the `cpus=2` model boot's last counted run of each
/// strategy: its pages and the plugin's modelled instructions and cycles.
fn modelled(two: &Run, label: &str, size: &str) -> Result<(), String> {
    let models = crate::model::per_vcpu(&two.records);
    println!();
    println!(
        "MODELLED ({label} preset; each CPU's share on its own model, no shared cache or bus contention term), {size} payload, cpus=2, multi-threaded TCG:"
    );
    println!(
        "{:<11} {:>4} {:>8} {:>14} {:>16} {:>12} {:>10}",
        "strategy", "cpu", "pages", "model insns", "model cycles", "cycles/page", "L1D miss"
    );
    for name in STRATEGIES {
        let v = results(two)
            .filter(|v| v["strategy"] == name && v["warmup"] == false)
            .last()
            .ok_or(format!(
                "scaling: no counted {name} result in the model boot"
            ))?;
        let run = v["run"]
            .as_u64()
            .ok_or(format!("scaling: the {name} result has no run id: {v}"))?;
        let pages: Vec<u64> = v["share_pages"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let by_vcpu = models.get(&run).ok_or(format!(
            "scaling: the plugin reported no model for run {run}"
        ))?;
        if by_vcpu.len() != pages.len() {
            return Err(format!(
                "scaling: run {run}: the plugin modelled {} CPU(s), the stage reports {} shares",
                by_vcpu.len(),
                pages.len()
            ));
        }
        for (cpu, m) in by_vcpu.values().enumerate() {
            let cycles = m["model_cycles"].as_f64().unwrap_or(0.0);
            let p = pages[cpu].max(1);
            println!(
                "{:<11} {:>4} {:>8} {:>14} {:>16.0} {:>12.1} {:>10}",
                name,
                cpu,
                p,
                m["model_insns"].as_u64().unwrap_or(0),
                cycles,
                cycles / p as f64,
                m["model_l1d_misses"].as_u64().unwrap_or(0),
            );
        }
    }
    println!("(modelled by the plugin, not measured: a model of each share alone)");
    Ok(())
}
