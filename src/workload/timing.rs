//! Timing in one place: [`timed`] for anything built (maps), [`measure`]
//! for a measured copy (generic timer plus the PMU's cycle and
//! instruction counters).

use crate::arch::{self, pmu};

/// One measurement: wall time from the generic timer, cycles and
/// instructions from the PMU (`None` when it cannot count them).
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub ns: u64,
    pub cycles: Option<u64>,
    pub insns: Option<u64>,
}

/// Runs `f` and returns its result with the nanoseconds it took.
pub fn timed<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let t0 = arch::counter();
    let r = f();
    (r, arch::ticks_to_ns(arch::counter() - t0))
}

/// Runs `f` between two timer reads and PMU snapshots.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Sample) {
    pmu::start();
    let c0 = pmu::read();
    let t0 = arch::counter();
    let r = f();
    let t1 = arch::counter();
    let c1 = pmu::read();
    let present = pmu::present();
    let insns = c1.insns.wrapping_sub(c0.insns);
    (
        r,
        Sample {
            ns: arch::ticks_to_ns(t1 - t0),
            cycles: present.then(|| c1.cycles.wrapping_sub(c0.cycles)),
            // INST_RETIRED reads 0 when it is not counted (QEMU without
            // -icount shift=N): unknown, not zero.
            insns: (present && insns != 0).then_some(insns),
        },
    )
}
