//! `mode=bench`, the benchmark driver: every configuration runs as a
//! workload (measured by `workload::measure`), every figure is reported as
//! a `result` record and summarized in one human table and the `summary`
//! records from the same samples.

use alloc::vec::Vec;

use alloc::string::String;

use mmu_reloc::bootargs::{Inject, SegArg, Strategy};
use mmu_reloc::exit::Error;
use mmu_reloc::matrix::{self, Config};
use mmu_reloc::mmu::{self, Machine, Policy};
use mmu_reloc::pmu;
use mmu_reloc::record::Record;
use mmu_reloc::region::{self, Region, SZ_4K, SizeName};
use mmu_reloc::relocate::{self, Environment, Segment, SegmentSource};
use mmu_reloc::stats;

use crate::arch::copy;
use crate::board::console::Console;
use crate::println;
use crate::workload::{self, MapShape, World, linear_map};

/// `mode=bench`: a synthetic payload relocated by every configuration,
/// trials interleaved (each trial runs every configuration once, in a
/// seeded shuffled order, so drift in the host hits all of them alike and
/// no configuration always follows the same one); trial 0 is each
/// configuration's warm-up, flagged in its record.
pub fn run(w: &World<'_>) -> Result<(), Error> {
    // `granule=4k,64k`: the whole benchmark once per granule, in order,
    // each pass with its own linear map and prepared like the first, with
    // the MMU off.
    if w.args.granules.len() < 2 {
        return pass(w, true);
    }
    let worlds: Vec<World<'_>> = w
        .args
        .granules
        .iter()
        .map(|g| {
            let mut wg = w.clone();
            wg.args.granule = Some(*g);
            wg.args.granules = alloc::vec![*g];
            wg
        })
        .collect();
    // Every granule's maps are checked (CPU support, leaf sizes) before
    // the first pass runs, so a bad pair stops the boot at once.
    for wg in &worlds {
        check_maps(wg)?;
    }
    for (i, wg) in worlds.iter().enumerate() {
        pass(wg, i + 1 == worlds.len())?;
    }
    Ok(())
}

/// Whether the linear map and every `leaves=` map of `w`'s granule can be
/// built on this CPU (the builder's own checks, nothing built).
fn check_maps(w: &World<'_>) -> Result<(), Error> {
    let machine = Machine::from_cpu(&w.cpu, w.regime);
    let identity = linear_map::identity_mappings(w);
    let policy = linear_map::policy(w);
    mmu::count_tables(&identity, &policy, &machine)?;
    for l in &w.args.leaves {
        let p = Policy {
            max_leaf: Some(*l),
            ..policy
        };
        mmu::count_tables(&identity, &p, &machine)?;
    }
    Ok(())
}

/// The benchmark on every `size=` payload (or the `segs=` one) under the
/// world's granule; `last`: the last pass of the boot (the linear map stays
/// live after it, else the MMU is switched off for the next pass).
fn pass(w: &World<'_>, last: bool) -> Result<(), Error> {
    let env = Environment {
        ram: w.platform.ram.clone(),
        reserved: w.platform.reserved.clone(),
        dtb: w.dtb,
        stage: alloc::vec![w.stage],
        table_bytes: 0,
    };
    let usable = env.usable_ram();
    let base = usable.first().map_or(0, |r| r.start);
    // One payload per `size=` entry (or the `segs=` destinations), each
    // placed and checked before anything runs.
    let payloads: Vec<Vec<Segment>> = if w.args.segs.is_empty() {
        w.args
            .sizes
            .iter()
            .map(|&size| placed_segments(w, &usable, base, size))
            .collect::<Result<_, _>>()?
    } else {
        alloc::vec![explicit_segments(w)?]
    };
    if let Some(k) = w.args.copy {
        copy::require(k)?;
    }
    let configs = matrix::configs(&w.args, copy::has_mops());
    if configs.is_empty() {
        return Err(Error::input(
            "nothing to run: strategy=legacy runs with mmu=off and copy=copy_page or ldp-q",
        ));
    }
    if w.args.inject == Inject::SecondaryHang
        && !configs.iter().any(|c| c.strategy != Strategy::Contiguous)
    {
        return Err(Error::input(
            "inject=secondary-hang needs a list strategy (ind-list or legacy): a list slot is what hangs",
        ));
    }
    // The other CPUs (cpus=) start now, with the MMU off, once per boot.
    let team = workload::smp::Team::start(w)?;
    let secondary_injection = match w.args.inject {
        Inject::SecondaryCopyFault => Some("secondary-copy-fault"),
        Inject::SecondaryHang => Some("secondary-hang"),
        Inject::None | Inject::CopyFault => None,
    };
    if let (None, Some(name)) = (&team, secondary_injection) {
        return Err(Error::input(format_args!(
            "inject={name} needs a secondary: give cpus= above 1"
        )));
    }
    for (n, segments) in payloads.iter().enumerate() {
        let wl = payload(w, &configs, segments, team.as_ref())?;
        // The next payload is prepared like the first: with the MMU off.
        if n + 1 < payloads.len() || !last {
            workload::switch(w, &wl, None);
        }
    }
    Ok(())
}

/// Every configuration on one payload, `trials=` times; the workload is
/// returned with the linear map live.
fn payload(
    w: &World<'_>,
    configs: &[Config],
    segments: &[Segment],
    team: Option<&workload::smp::Team>,
) -> Result<workload::Workload, Error> {
    let want_contig = configs
        .iter()
        .any(|c| c.strategy == Strategy::Contiguous && c.mmu);
    let mut wl = workload::prepare(w, segments, want_contig, workload::Purpose::Bench, 0)?;
    match team {
        None if w.args.inject == Inject::CopyFault => workload::inject_copy_fault(w, &mut wl),
        None => {}
        Some(t) => {
            t.inject_list(w, &wl);
            t.inject_hang(w, &wl);
        }
    }
    println!(
        "bench: {} MiB in {} segments, {} source pages scattered, {} list pages; {} configurations x {} trials",
        wl.bytes >> 20,
        segments.len(),
        wl.plan.sources().len(),
        wl.plan.list_pages().len(),
        configs.len(),
        w.args.trials
    );

    let mut samples: Vec<Vec<workload::Outcome>> = configs.iter().map(|_| Vec::new()).collect();
    // More PMU events than counters: each trial counts one group in turn.
    let groups = workload::event_groups();
    for trial in 0..w.args.trials {
        let events = pmu::group(&groups, trial as usize);
        for i in matrix::trial_order(configs.len(), w.args.seed, trial) {
            let o = workload::run(w, &wl, configs[i], events, team)?;
            workload::record(&o, &wl, segments.len(), trial);
            samples[i].push(o);
        }
    }
    summary(configs, &samples, wl.bytes);
    Ok(wl)
}
/// `size` bytes in `segments=`, placed from the bottom of usable RAM up.
fn placed_segments(
    w: &World<'_>,
    usable: &[Region],
    base: u64,
    size: u64,
) -> Result<Vec<Segment>, Error> {
    relocate::synthetic_layout(
        usable,
        base,
        size,
        w.args.segments as usize,
        2 << 20,
        w.args.seed,
    )
    .ok_or_else(|| {
        Error::input(format_args!(
            "size={size} in segments={}: does not fit in {} MiB of usable RAM",
            w.args.segments,
            region::total_len(usable) >> 20
        ))
    })
}

/// `segs=`: the destinations exactly as given, for the validator to judge.
fn explicit_segments(w: &World<'_>) -> Result<Vec<Segment>, Error> {
    w.args
        .segs
        .iter()
        .enumerate()
        .map(|(i, &SegArg { base, size })| {
            let dest = region::align_up(size, SZ_4K)
                .and_then(|len| Region::from_len(base, len))
                .ok_or_else(|| {
                    Error::input(format_args!(
                        "segs: {base:#x}+{size:#x} runs past the 64-bit address space"
                    ))
                })?;
            Ok(Segment {
                src: SegmentSource::Synthetic {
                    len: size,
                    seed: w.args.seed.wrapping_add(i as u64),
                },
                dest,
            })
        })
        .collect()
}

/// One configuration's figures, from which both the table row and the
/// `summary` record are printed.
struct Row {
    config: Config,
    /// The map the copies ran under (None: MMU off).
    map: Option<MapShape>,
    ns: stats::Summary,
    cycles_per_page: Option<u64>,
    insns_per_page: Option<u64>,
}

/// Per-configuration statistics over its trials.
fn rows(configs: &[Config], samples: &[Vec<workload::Outcome>], bytes: u64) -> Vec<Row> {
    let pages = (bytes / SZ_4K).max(1);
    let per_page = |v: &[u64]| stats::summarize(v).map(|s| s.median / pages);
    configs
        .iter()
        .zip(samples)
        .filter_map(|(c, outs)| {
            let ns: Vec<u64> = outs.iter().map(|o| o.sample.ns).collect();
            let cycles: Vec<u64> = outs.iter().filter_map(|o| o.sample.cycles).collect();
            let insns: Vec<u64> = outs.iter().filter_map(|o| o.sample.insns).collect();
            Some(Row {
                config: *c,
                map: outs.first().and_then(|o| o.map),
                ns: stats::summarize(&ns)?,
                cycles_per_page: per_page(&cycles),
                insns_per_page: per_page(&insns),
            })
        })
        .collect()
}

/// The human table, one line per row; `vs base` against `baseline`.
fn print_table(rows: &[Row], baseline: Option<&Row>, bytes: u64) {
    let fmt_opt = |v: Option<u64>| v.map_or(String::from("-"), |v| alloc::format!("{v}"));
    // "off", or the live map's granule and largest leaf, e.g. "4k/1G".
    let map_label = |m: Option<MapShape>| match m {
        None => String::from("off"),
        Some(m) => alloc::format!("{}/{}", m.granule.name(), SizeName(m.leaf)),
    };
    println!();
    println!(
        "{:<11} {:<9} {:<8} {:>6} {:>10} {:>10} {:>9} {:>8} {:>12} {:>10}  verified",
        "strategy",
        "copy",
        "MMU map",
        "trials",
        "median ms",
        "min ms",
        "MiB/s",
        "vs base",
        "cycles/page",
        "insns/page"
    );
    for r in rows {
        let Config {
            strategy, kernel, ..
        } = r.config;
        let speedup = baseline.map_or(String::from("-"), |b| {
            alloc::format!("{:.2}x", b.ns.median as f64 / r.ns.median.max(1) as f64)
        });
        println!(
            "{:<11} {:<9} {:<8} {:>6} {:>10.3} {:>10.3} {:>9.1} {:>8} {:>12} {:>10}  {}",
            strategy.name(),
            kernel.name(),
            map_label(r.map),
            r.ns.n,
            r.ns.median as f64 / 1e6,
            r.ns.min as f64 / 1e6,
            stats::mib_per_s(bytes, r.ns.median),
            speedup,
            fmt_opt(r.cycles_per_page),
            fmt_opt(r.insns_per_page),
            // A run that did not verify ended the benchmark with an error.
            "yes"
        );
    }
}

/// Footnotes: what `vs base` means and how far QEMU's times can be trusted.
fn print_notes(rows: &[Row], baseline: Option<&Row>) {
    if let Some(b) = baseline {
        println!(
            "vs base: median time of {}/copy_page/MMU off over this row's.",
            b.config.strategy.name()
        );
    }
    if rows.iter().all(|r| r.insns_per_page.is_none()) {
        // No instruction counts means no -icount: times are host time.
        let spread = rows
            .iter()
            .map(|r| r.ns.max as f64 / r.ns.min.max(1) as f64)
            .fold(1.0, f64::max);
        println!(
            "Times without -icount follow the host (under QEMU TCG: noisy; max/min of one configuration here up to {spread:.2}x). \
             For exact, repeatable counts run with -icount shift=0,align=off,sleep=off."
        );
    }
    println!(
        "QEMU models no caches or TLBs: MMU on/off differences seen on silicon do not show here."
    );
}

/// The `summary` record of one row.
fn summary_record(r: &Row, bytes: u64) {
    let Config {
        strategy,
        kernel,
        mmu,
        ..
    } = r.config;
    Record::new(&mut Console, "summary")
        .str("strategy", strategy.name())
        .str("copy", kernel.name())
        .bool("mmu", mmu)
        .opt_str("granule", r.map.map(|m| m.granule.name()))
        .opt_u64("leaf", r.map.map(|m| m.leaf))
        .opt_u64("table_bytes", r.map.map(|m| m.table_bytes))
        .u64("trials", r.ns.n as u64)
        .u64("bytes", bytes)
        .u64("median_ns", r.ns.median)
        .u64("min_ns", r.ns.min)
        .u64("max_ns", r.ns.max)
        .f64("stddev_ns", r.ns.stddev)
        .f64("mib_per_s", stats::mib_per_s(bytes, r.ns.median))
        .opt_u64("cycles_per_page", r.cycles_per_page)
        .opt_u64("insns_per_page", r.insns_per_page)
        .bool("verified", true)
        .end();
}

/// The human table and the `summary` records, from the same rows.
fn summary(configs: &[Config], samples: &[Vec<workload::Outcome>], bytes: u64) {
    let rows = rows(configs, samples, bytes);
    let row_configs: Vec<Config> = rows.iter().map(|r| r.config).collect();
    let baseline = matrix::baseline(&row_configs).map(|i| &rows[i]);
    print_table(&rows, baseline, bytes);
    print_notes(&rows, baseline);
    for r in &rows {
        summary_record(r, bytes);
    }
}
