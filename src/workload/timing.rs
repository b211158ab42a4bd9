//! Timing in one place: [`timed`] for anything built, [`cost`] for the
//! phases of a run around the copy (map build, final cache maintenance,
//! verification: generic timer plus INST_RETIRED), [`measure`] for a
//! measured copy (generic timer plus the PMU's cycle and instruction
//! counters).

use mmu_reloc::pmu::{self as plan, Event, INST_RETIRED, MAX_COUNTERS};

use crate::arch::{self, cell::BootCpuCell, pmu};

/// One measurement: wall time from the generic timer, cycles and
/// instructions from the PMU (`None` when it cannot count them), and the
/// PMU events of the trial's group (`events[..n]` counted `group[..n]`,
/// none when the PMU was not counting).
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Run id, 1 up in the order measured: the model plugin's `model`
    /// line for this run carries the same id.
    pub run: u64,
    pub ns: u64,
    pub cycles: Option<u64>,
    pub insns: Option<u64>,
    pub events: [Option<(Event, u64)>; MAX_COUNTERS],
}

impl Sample {
    /// The counted events, in group order.
    pub fn events(&self) -> impl Iterator<Item = (Event, u64)> + '_ {
        self.events.iter().flatten().copied()
    }
}

/// Runs `f` and returns its result with the nanoseconds it took.
pub fn timed<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let t0 = arch::counter();
    let r = f();
    (r, arch::ticks_to_ns(arch::counter() - t0))
}

/// What one phase of a run cost: nanoseconds, and instructions when the
/// PMU counts them (`None` otherwise, e.g. QEMU without `-icount`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Cost {
    pub ns: u64,
    pub insns: Option<u64>,
}

/// Runs `f` between two timer reads and INST_RETIRED reads (the PMU set
/// up for that event alone); never inside a [`measure`] window, and not a
/// model-plugin run.
pub fn cost<R>(f: impl FnOnce() -> R) -> (R, Cost) {
    let c = pmu::caps();
    let counted = plan::implemented(c.pmceid0, c.pmceid1, INST_RETIRED);
    let n = if counted {
        pmu::start(&[INST_RETIRED])
    } else {
        0
    };
    let (mut e0, mut e1) = ([0u64; 1], [0u64; 1]);
    pmu::read(&mut e0[..n], true);
    let t0 = arch::counter();
    let r = f();
    let t1 = arch::counter();
    pmu::read(&mut e1[..n], false);
    let insns = e1[0].wrapping_sub(e0[0]);
    (
        r,
        Cost {
            ns: arch::ticks_to_ns(t1 - t0),
            // Zero instructions across any phase means not counting.
            insns: (n == 1 && insns != 0).then_some(insns),
        },
    )
}

/// The last run id handed out by [`measure`].
static LAST_RUN: BootCpuCell<u64> = BootCpuCell::new(0);

/// The id the next [`measure`] gives its run: secondaries of a run on
/// several CPUs (`cpus=`) mark their shares with it for the model plugin.
pub fn next_run() -> u64 {
    LAST_RUN.get() + 1
}

/// The PMU event groups of a benchmark, planned once from what the CPU
/// implements; trial `t` counts `plan::group(&groups, t)`.
pub fn event_groups() -> alloc::vec::Vec<alloc::vec::Vec<Event>> {
    let c = pmu::caps();
    plan::plan(c.pmceid0, c.pmceid1, c.counters)
}

/// Runs `f` between two timer reads and PMU snapshots counting `group`,
/// inside the model plugin's run markers (outside the PMU window, so
/// counts do not move).
pub fn measure<R>(group: &[Event], f: impl FnOnce() -> R) -> (R, Sample) {
    measure_marked(group, true, f)
}

/// [`measure`], with the model plugin's run markers only if `mark`: a run
/// on several CPUs (`cpus=`) marks each CPU's own share instead, so that
/// the plugin's per-vCPU figures are the shares alone, not the boot
/// CPU's wait for the others.
pub fn measure_marked<R>(group: &[Event], mark: bool, f: impl FnOnce() -> R) -> (R, Sample) {
    let run = LAST_RUN.get() + 1;
    LAST_RUN.set(run);
    if mark {
        arch::model_mark(true, run);
    }
    let n = pmu::start(group);
    let (mut e0, mut e1) = ([0u64; MAX_COUNTERS], [0u64; MAX_COUNTERS]);
    let cy0 = pmu::read(&mut e0[..n], true);
    let t0 = arch::counter();
    let r = f();
    let t1 = arch::counter();
    let cy1 = pmu::read(&mut e1[..n], false);
    if mark {
        arch::model_mark(false, run);
    }
    let mut counts = [0u64; MAX_COUNTERS];
    for (d, (a, b)) in counts.iter_mut().zip(e0.iter().zip(&e1)) {
        *d = b.wrapping_sub(*a);
    }
    // A PMU that reads zero instructions or memory accesses across a copy
    // is not counting: none of this run's event figures is a measurement.
    let counted = plan::measured(&group[..n], &counts[..n]);
    let mut events = [None; MAX_COUNTERS];
    if counted {
        for (slot, (e, c)) in events.iter_mut().zip(group.iter().zip(counts)).take(n) {
            *slot = Some((*e, c));
        }
    }
    let insns = events
        .iter()
        .flatten()
        .find(|(e, _)| *e == INST_RETIRED)
        .map(|(_, c)| *c);
    (
        r,
        Sample {
            run,
            ns: arch::ticks_to_ns(t1 - t0),
            cycles: pmu::present().then(|| cy1.wrapping_sub(cy0)),
            insns,
            events,
        },
    )
}
