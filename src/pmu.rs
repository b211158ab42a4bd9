//! Which PMU events to count, decided from what the CPU says it implements
//! (PMCEID0/1_EL0) and how many event counters it has (PMCR_EL0.N): the
//! Cortex-A72 events that show what the kexec-list argument is about (TLB
//! refills, cache refills, memory and bus accesses) beside INST_RETIRED.
//! Pure: the bench programs the counters, this only plans and judges.
//!
//! More events than counters: the events rotate across trials, one group
//! per trial, INST_RETIRED pinned in every group so each run keeps its
//! instruction count. An event not implemented, or not in this trial's
//! group, is absent from the run's record, never zero.

extern crate alloc;

use alloc::vec::Vec;

/// A common architectural or microarchitectural event (Arm ARM D11.10;
/// Cortex-A72 TRM 11.8 lists these as implemented).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub code: u16,
    /// The `result` record's key for its count.
    pub key: &'static str,
}

pub const INST_RETIRED: Event = Event {
    code: 0x08,
    key: "pmu_inst_retired",
};
pub const L1D_CACHE_REFILL: Event = Event {
    code: 0x03,
    key: "pmu_l1d_cache_refill",
};
pub const L1D_TLB_REFILL: Event = Event {
    code: 0x05,
    key: "pmu_l1d_tlb_refill",
};
pub const MEM_ACCESS: Event = Event {
    code: 0x13,
    key: "pmu_mem_access",
};
pub const L2D_CACHE_REFILL: Event = Event {
    code: 0x17,
    key: "pmu_l2d_cache_refill",
};
pub const BUS_ACCESS: Event = Event {
    code: 0x19,
    key: "pmu_bus_access",
};
pub const L2D_TLB_REFILL: Event = Event {
    code: 0x2d,
    key: "pmu_l2d_tlb_refill",
};

/// The events the benchmark asks for, in the order groups are formed.
/// CPU_CYCLES is the cycle counter's, not an event counter's.
pub const WANTED: [Event; 7] = [
    INST_RETIRED,
    L1D_TLB_REFILL,
    L2D_TLB_REFILL,
    L1D_CACHE_REFILL,
    L2D_CACHE_REFILL,
    MEM_ACCESS,
    BUS_ACCESS,
];

/// Whether PMCEID says `e` is implemented: PMCEID0_EL0 bits [31:0] cover
/// events 0x00-0x1f, PMCEID1_EL0 bits [31:0] events 0x20-0x3f.
pub fn implemented(pmceid0: u64, pmceid1: u64, e: Event) -> bool {
    let (word, bit) = match e.code {
        c @ 0x00..=0x1f => (pmceid0, c),
        c @ 0x20..=0x3f => (pmceid1, c - 0x20),
        _ => return false,
    };
    word >> bit & 1 == 1
}

/// The event groups, one per trial in turn, each fitting in `counters`.
/// Empty when there is no event counter or no wanted event implemented.
pub fn plan(pmceid0: u64, pmceid1: u64, counters: usize) -> Vec<Vec<Event>> {
    let have: Vec<Event> = WANTED
        .into_iter()
        .filter(|e| implemented(pmceid0, pmceid1, *e))
        .collect();
    if counters == 0 || have.is_empty() {
        return Vec::new();
    }
    let pin = counters > 1 && have.first() == Some(&INST_RETIRED);
    let (pinned, rest) = if pin {
        (&have[..1], &have[1..])
    } else {
        (&have[..0], &have[..])
    };
    if rest.is_empty() {
        return alloc::vec![pinned.to_vec()];
    }
    rest.chunks(counters - pinned.len())
        .map(|chunk| pinned.iter().chain(chunk).copied().collect())
        .collect()
}

/// The group counted in `trial` (trials rotate through the plan).
pub fn group(plan: &[Vec<Event>], trial: usize) -> &[Event] {
    if plan.is_empty() {
        &[]
    } else {
        &plan[trial % plan.len()]
    }
}

/// Most event counters any PMUv3 has (PMCR_EL0.N is 5 bits, counter 31
/// is the cycle counter).
pub const MAX_COUNTERS: usize = 31;

/// Judges one run's counts (`group[i]` counted `counts[i]`): a PMU that
/// says it counts INST_RETIRED or MEM_ACCESS but reads 0 across a copy is
/// not counting at all (filtered out at this EL, or an emulator), so no
/// figure of that run is a measurement.
pub fn measured(group: &[Event], counts: &[u64]) -> bool {
    !group
        .iter()
        .zip(counts)
        .any(|(e, c)| (*e == INST_RETIRED || *e == MEM_ACCESS) && *c == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PMCEID bits for `events`.
    fn ceid(events: &[Event]) -> (u64, u64) {
        events.iter().fold((0, 0), |(a, b), e| match e.code {
            c @ 0..=0x1f => (a | 1 << c, b),
            c => (a, b | 1 << (c - 0x20)),
        })
    }

    #[test]
    fn a72_with_six_counters_rotates_in_two_groups_keeping_inst_retired() {
        let (c0, c1) = ceid(&WANTED);
        let p = plan(c0, c1, 6);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].len(), 6);
        assert_eq!(p[1], [INST_RETIRED, BUS_ACCESS]);
        assert!(p.iter().all(|g| g[0] == INST_RETIRED));
        // Every wanted event is counted in some trial, exactly once a cycle.
        for e in WANTED.iter().skip(1) {
            assert_eq!(p.iter().filter(|g| g.contains(e)).count(), 1, "{e:?}");
        }
        assert_eq!(group(&p, 0), &p[0][..]);
        assert_eq!(group(&p, 3), &p[1][..]);
    }

    #[test]
    fn only_what_pmceid_says_is_planned() {
        // QEMU TCG with -icount: SW_INCR, INST_RETIRED, CPU_CYCLES.
        let (c0, c1) = (1 << 0x00 | 1 << 0x08 | 1 << 0x11, 0);
        assert_eq!(plan(c0, c1, 6), [[INST_RETIRED].to_vec()]);
        // Without icount QEMU drops INST_RETIRED too: nothing to count.
        assert!(plan(1 << 0x11, 0, 6).is_empty());
        let (c0, c1) = ceid(&[L2D_TLB_REFILL]);
        assert_eq!(c1, 1 << 13);
        assert!(implemented(c0, c1, L2D_TLB_REFILL));
        assert!(!implemented(c0, c1, L1D_TLB_REFILL));
    }

    #[test]
    fn no_counters_or_one_counter() {
        let (c0, c1) = ceid(&WANTED);
        assert!(plan(c0, c1, 0).is_empty());
        let p = plan(c0, c1, 1);
        assert_eq!(p.len(), WANTED.len());
        assert!(p.iter().all(|g| g.len() == 1));
        assert!(group(&[], 5).is_empty());
    }

    #[test]
    fn zero_instructions_or_memory_accesses_mean_not_counting() {
        assert!(measured(&[INST_RETIRED, L1D_TLB_REFILL], &[1000, 0]));
        assert!(!measured(&[INST_RETIRED, L1D_TLB_REFILL], &[0, 0]));
        assert!(!measured(&[MEM_ACCESS], &[0]));
        assert!(measured(&[L2D_TLB_REFILL], &[0]));
    }
}
