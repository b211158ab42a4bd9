//! The PMU, programmed for every measured copy: the cycle counter and one
//! event counter per event of the trial's group (`mmu_reloc::pmu` plans
//! the groups from PMCEID0/1 and PMCR.N; with more events than counters
//! they rotate across trials). Counting at EL2 needs the NSH filter bit,
//! MDCR_EL2.HPMN covering every counter and HPMD/HCCD clear.
//!
//! Under QEMU TCG the cycle counter follows virtual time; PMCEID says
//! INST_RETIRED only with `-icount shift=N` and no cache or TLB event at
//! all, so none of those is programmed or reported there.

use core::arch::asm;

use aarch64_cpu::registers::{ID_AA64DFR0_EL1, MDCR_EL2};
use mmu_reloc::mmu::Regime;
use mmu_reloc::pmu::{Event, MAX_COUNTERS};
use tock_registers::interfaces::{ReadWriteable, Readable};

use super::sysreg::{PMCNTEN, PMCR_EL0, PMEVTYPER, pmcr_el0};

/// MDCR_EL2.HPMD (bit 17, FEAT_PMUv3p1): event counting prohibited at
/// EL2 when set. HCCD (bit 23, FEAT_PMUv3p5): the cycle counter likewise.
/// RES0 where not implemented, so clearing them is always right.
const MDCR_EL2_HPMD: u64 = 1 << 17;
const MDCR_EL2_HCCD: u64 = 1 << 23;

/// What the PMU offers: PMCEID0/1_EL0 and PMCR_EL0.N.
#[derive(Clone, Copy, Debug, Default)]
pub struct Caps {
    pub pmceid0: u64,
    pub pmceid1: u64,
    pub counters: usize,
}

/// Whether a PMUv3 is implemented (ID_AA64DFR0_EL1.PMUVer).
pub fn present() -> bool {
    let v = ID_AA64DFR0_EL1.read(ID_AA64DFR0_EL1::PMUVer);
    v != 0 && v != 0xf
}

/// The PMU's capabilities (all zero without a PMU).
pub fn caps() -> Caps {
    if !present() {
        return Caps::default();
    }
    let (c0, c1): (u64, u64);
    // SAFETY: reading the PMU's ID registers has no side effects.
    unsafe {
        asm!(
            "mrs {0}, pmceid0_el0",
            "mrs {1}, pmceid1_el0",
            out(reg) c0,
            out(reg) c1,
            options(nomem, nostack)
        )
    };
    Caps {
        pmceid0: c0,
        pmceid1: c1,
        counters: (pmcr_el0().read(PMCR_EL0::N) as usize).min(MAX_COUNTERS),
    }
}

/// Selects event counter `n` for the PMXEV* accessors.
///
/// # Safety
/// `n` must be below PMCR_EL0.N.
unsafe fn select(n: usize) {
    // SAFETY: the caller keeps `n` in range; PMSELR only picks a counter.
    unsafe { asm!("msr pmselr_el0, {}", "isb", in(reg) n, options(nostack)) };
}

/// Resets and starts the cycle counter and one counter per event of
/// `group`; returns how many event counters run (at most PMCR_EL0.N).
pub fn start(group: &[Event]) -> usize {
    if !present() {
        return 0;
    }
    let counters = caps().counters;
    let n = group.len().min(counters);
    // MDCR_EL2.HPMN = 0 is CONSTRAINED UNPREDICTABLE without FEAT_HPMN0:
    // with no event counter leave MDCR_EL2 as the firmware set it.
    if super::current_regime() == Regime::El2 && counters > 0 {
        // Counters at or above MDCR_EL2.HPMN belong to EL2 and ignore
        // PMCR_EL0.E: give every counter to the normal range; and let the
        // counters count at EL2, where the stage runs.
        MDCR_EL2.modify(MDCR_EL2::HPMN.val(pmcr_el0().read(PMCR_EL0::N)));
        let v: u64 = MDCR_EL2.get() & !(MDCR_EL2_HPMD | MDCR_EL2_HCCD);
        // SAFETY: clears two counting-prohibit bits of MDCR_EL2.
        unsafe { asm!("msr mdcr_el2, {}", "isb", in(reg) v, options(nostack)) };
    }
    // SAFETY: PMU registers only; the stage owns the PMU.
    unsafe { asm!("msr pmcntenclr_el0, {}", in(reg) u64::from(u32::MAX), options(nostack)) };
    for (i, e) in group.iter().take(n).enumerate() {
        let ty = (PMEVTYPER::EVT.val(e.code.into()) + PMEVTYPER::NSH::SET).value;
        // SAFETY: `i` < n <= PMCR_EL0.N; the filter counts at EL1 and EL2.
        unsafe {
            select(i);
            asm!("msr pmxevtyper_el0, {}", in(reg) ty, options(nostack));
        }
    }
    let enable = PMCNTEN::C::SET.value | ((1u64 << n) - 1);
    // SAFETY: PMU registers only; the cycle filter counts at EL1 and EL2.
    unsafe {
        asm!(
            "msr pmccfiltr_el0, {filt}",
            "msr pmcr_el0, {pmcr}",
            "msr pmcntenset_el0, {en}",
            "isb",
            filt = in(reg) PMEVTYPER::NSH::SET.value,
            pmcr = in(reg) (PMCR_EL0::E::SET + PMCR_EL0::P::SET + PMCR_EL0::C::SET + PMCR_EL0::LC::SET).value,
            en = in(reg) enable,
            options(nostack),
        );
    }
    n
}

/// Reads the cycle counter (returned) and the event counters [`start`]
/// set up into `events` (one per counter; they keep running). Counter 0
/// (INST_RETIRED when counted) is read nearest the measured code, by its
/// own name: last when `opening` the window, first when closing it, so
/// reading the others is not counted as the copy's. Writes in place: a
/// returned array would be copied inside the counted window.
pub fn read(events: &mut [u64], opening: bool) -> u64 {
    if !present() {
        return 0;
    }
    let cycles: u64;
    // SAFETY: reading PMU counters has no side effects.
    unsafe { asm!("isb", "mrs {}, pmccntr_el0", out(reg) cycles, options(nostack, nomem)) };
    let rest = |events: &mut [u64]| {
        for (i, slot) in events.iter_mut().enumerate().skip(1) {
            // SAFETY: `start` programmed as many counters as `events` has,
            // at most PMCR_EL0.N; reading a counter has no side effects.
            unsafe {
                select(i);
                asm!(
                    "mrs {}, pmxevcntr_el0",
                    out(reg) * slot,
                    options(nostack, nomem)
                );
            }
        }
    };
    if opening {
        rest(events);
    }
    if let Some(first) = events.first_mut() {
        // SAFETY: reading a counter has no side effects.
        unsafe {
            asm!(
                "mrs {}, pmevcntr0_el0",
                out(reg) * first,
                options(nostack, nomem)
            )
        };
    }
    if !opening {
        rest(events);
    }
    cycles
}
