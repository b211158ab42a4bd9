//! Timing, PMU and the benchmark driver in one place: every measured copy
//! goes through [`measure`], every figure is reported as a `result` record
//! and summarized in one human table from the same samples.

pub mod pmu;

use alloc::vec::Vec;

use mmu_reloc::bootargs::{CopyKernel, OnOff, Strategy};
use mmu_reloc::cpu::Granule;
use mmu_reloc::record::Record;
use mmu_reloc::region::{self, Region, SZ_4K};
use mmu_reloc::relocate::{self, Environment, Segment, SegmentSource};
use mmu_reloc::stats;

use crate::arch;
use crate::board::BootCpuCell;
use crate::board::console::Console;
use crate::println;
use crate::stage::relocation::{self, Config};
use crate::stage::{EXIT_INPUT, World, fail};

/// One measurement: wall time from the generic timer, cycles and
/// instructions from the PMU (`None` when it cannot count them).
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Run id, 1 up in the order measured: the model plugin's `model`
    /// line for this run carries the same id.
    pub run: u64,
    pub ns: u64,
    pub cycles: Option<u64>,
    pub insns: Option<u64>,
}

/// The last run id handed out by [`measure`].
static LAST_RUN: BootCpuCell<u64> = BootCpuCell::new(0);

/// Runs `f` between two timer reads and PMU snapshots, inside the model
/// plugin's run markers (outside the PMU window, so counts do not move).
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Sample) {
    let run = LAST_RUN.get() + 1;
    LAST_RUN.set(run);
    arch::model_mark(true, run);
    pmu::start();
    let c0 = pmu::read();
    let t0 = arch::counter();
    let r = f();
    let t1 = arch::counter();
    let c1 = pmu::read();
    arch::model_mark(false, run);
    let present = pmu::present();
    let insns = c1.insns.wrapping_sub(c0.insns);
    (
        r,
        Sample {
            run,
            ns: arch::ticks_to_ns(t1 - t0),
            cycles: present.then(|| c1.cycles.wrapping_sub(c0.cycles)),
            // INST_RETIRED reads 0 when it is not counted (QEMU without
            // -icount shift=N): unknown, not zero.
            insns: (present && insns != 0).then_some(insns),
        },
    )
}

/// The configurations a benchmark runs, from bootargs: with `leaves=`, the
/// ind-list MMU-on runs go once per largest-leaf policy instead.
fn configs(w: &World<'_>) -> Vec<Config> {
    let strategies: &[Strategy] = match w.args.strategy {
        Some(Strategy::IndList) => &[Strategy::IndList],
        Some(Strategy::Contiguous) => &[Strategy::Contiguous],
        Some(Strategy::Legacy) => &[Strategy::Legacy],
        None => &[Strategy::IndList, Strategy::Contiguous, Strategy::Legacy],
    };
    let kernels: &[CopyKernel] = match w.args.copy {
        Some(CopyKernel::CopyPage) => &[CopyKernel::CopyPage],
        Some(CopyKernel::LdpQ) => &[CopyKernel::LdpQ],
        None => &CopyKernel::ALL,
    };
    let mmu: &[bool] = match w.args.mmu {
        OnOff::On => &[true],
        OnOff::Off => &[false],
        OnOff::Both => &[true, false],
    };
    let sweeps: Vec<Option<usize>> = if w.args.leaves.is_empty() {
        alloc::vec![None]
    } else {
        (0..w.args.leaves.len()).map(Some).collect()
    };
    let mut out = Vec::new();
    for &mmu in mmu {
        for &strategy in strategies {
            if strategy == Strategy::Legacy && mmu {
                continue; // Linux only ever ran it with the MMU off
            }
            for &kernel in kernels {
                let swept = strategy == Strategy::IndList && mmu;
                for &sweep in if swept { &sweeps[..] } else { &[None][..] } {
                    out.push(Config {
                        strategy,
                        kernel,
                        mmu,
                        sweep,
                    });
                }
            }
        }
    }
    out
}

/// `mode=bench`: a synthetic payload relocated by every configuration,
/// trials interleaved (each trial runs every configuration once, so drift
/// in the host hits all of them alike).
pub fn run(w: &World<'_>) -> ! {
    let env = Environment {
        ram: w.platform.ram.clone(),
        reserved: w.platform.reserved.clone(),
        dtb: w.dtb,
        stage: alloc::vec![w.stage],
        table_bytes: 0,
    };
    let usable = env.usable_ram();
    let base = usable.first().map_or(0, |r| r.start);
    let segments = if w.args.segs.is_empty() {
        placed_segments(w, &usable, base)
    } else {
        explicit_segments(w)
    };
    let configs = configs(w);
    let want_contig = configs
        .iter()
        .any(|c| c.strategy == Strategy::Contiguous && c.mmu);
    let mut wl = relocation::prepare(w, &segments, want_contig, relocation::Purpose::Bench, 0);
    if w.args.inject_copy_fault {
        relocation::inject_copy_fault(w, &mut wl);
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

    let mut samples: Vec<Vec<relocation::Outcome>> = configs.iter().map(|_| Vec::new()).collect();
    for trial in 0..w.args.trials {
        for (i, &c) in configs.iter().enumerate() {
            let o = relocation::run(w, &wl, c);
            relocation::record(&o, &wl, segments.len(), trial);
            samples[i].push(o);
        }
    }
    summary(&configs, &samples, wl.bytes);
    crate::stage::exit(crate::stage::EXIT_OK)
}
/// `size=` in `segments=`, placed from the bottom of usable RAM up.
fn placed_segments(w: &World<'_>, usable: &[Region], base: u64) -> Vec<Segment> {
    relocate::synthetic_layout(
        usable,
        base,
        w.args.size,
        w.args.segments as usize,
        2 << 20,
        w.args.seed,
    )
    .unwrap_or_else(|| {
        fail(
            EXIT_INPUT,
            format_args!(
                "size={} in segments={}: does not fit in {} MiB of usable RAM",
                w.args.size,
                w.args.segments,
                region::total_len(usable) >> 20
            ),
        )
    })
}

/// `segs=`: the destinations exactly as given, for the validator to judge.
fn explicit_segments(w: &World<'_>) -> Vec<Segment> {
    w.args
        .segs
        .iter()
        .enumerate()
        .map(|(i, &(base, size))| {
            let dest = region::align_up(size, SZ_4K)
                .and_then(|len| Region::from_len(base, len))
                .unwrap_or_else(|| {
                    fail(
                        EXIT_INPUT,
                        format_args!(
                            "segs: {base:#x}+{size:#x} runs past the 64-bit address space"
                        ),
                    )
                });
            Segment {
                src: SegmentSource::Synthetic {
                    len: size,
                    seed: w.args.seed.wrapping_add(i as u64),
                },
                dest,
            }
        })
        .collect()
}

/// One configuration's figures, from which both the table row and the
/// `summary` record are printed.
struct Row {
    config: Config,
    /// Granule, largest leaf and table bytes of the map (None: MMU off).
    map: Option<(Granule, u64, u64)>,
    ns: stats::Summary,
    cycles_per_page: Option<u64>,
    insns_per_page: Option<u64>,
}

fn summary(configs: &[Config], samples: &[Vec<relocation::Outcome>], bytes: u64) {
    let pages = (bytes / SZ_4K).max(1);
    let per_page = |v: &[u64]| stats::summarize(v).map(|s| s.median / pages);
    let rows: Vec<Row> = configs
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
        .collect();
    // The baseline: Linux <= 5.12's loop (legacy, copy_page, MMU off), or
    // the list walk with the MMU off when legacy did not run.
    let baseline = [Strategy::Legacy, Strategy::IndList]
        .iter()
        .find_map(|s| {
            rows.iter().find(|r| {
                let c = r.config;
                (c.strategy, c.kernel, c.mmu) == (*s, CopyKernel::CopyPage, false)
            })
        })
        .map(|r| (r.config.strategy, r.ns.median));
    let fmt_opt =
        |v: Option<u64>| v.map_or(alloc::string::String::from("-"), |v| alloc::format!("{v}"));

    // "off", or the live map's granule and largest leaf, e.g. "4k/1G".
    let map_label = |m: Option<(Granule, u64, u64)>| match m {
        None => alloc::string::String::from("off"),
        Some((g, leaf, _)) => alloc::format!("{}/{}", g.name(), size_name(leaf)),
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
    for r in &rows {
        let Config {
            strategy, kernel, ..
        } = r.config;
        let speedup = baseline.map_or(alloc::string::String::from("-"), |(_, b)| {
            alloc::format!("{:.2}x", b as f64 / r.ns.median.max(1) as f64)
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
    if let Some((s, _)) = baseline {
        println!(
            "vs base: median time of {}/copy_page/MMU off over this row's.",
            s.name()
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
    for r in &rows {
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
            .opt_str("granule", r.map.map(|m| m.0.name()))
            .opt_u64("leaf", r.map.map(|m| m.1))
            .opt_u64("table_bytes", r.map.map(|m| m.2))
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
}

/// 4096 -> "4K", 2 MiB -> "2M", 1 GiB -> "1G".
fn size_name(bytes: u64) -> alloc::string::String {
    const UNITS: [(u32, &str); 4] = [(40, "T"), (30, "G"), (20, "M"), (10, "K")];
    for (shift, unit) in UNITS {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return alloc::format!("{}{unit}", bytes >> shift);
        }
    }
    alloc::format!("{bytes}")
}
