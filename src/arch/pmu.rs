//! The PMU, set up once for every measured copy: the cycle counter and one
//! event counter on INST_RETIRED. Counting at EL2 needs the NSH filter bit.
//! Under QEMU TCG the cycle counter follows virtual time and INST_RETIRED
//! counts only with `-icount shift=N`, so a zero instruction count is
//! reported as "unknown", never as zero.

use core::arch::asm;

use aarch64_cpu::registers::{ID_AA64DFR0_EL1, MDCR_EL2};
use tock_registers::interfaces::{ReadWriteable, Readable};

/// PMCR_EL0 bits: enable, reset event counters, reset cycle counter,
/// 64-bit cycle counter.
const PMCR_E: u64 = 1 << 0;
const PMCR_P: u64 = 1 << 1;
const PMCR_C: u64 = 1 << 2;
const PMCR_LC: u64 = 1 << 6;
/// PMCNTENSET_EL0: the cycle counter (bit 31) and event counter 0.
const CNTEN_CYCLES: u64 = 1 << 31;
const CNTEN_EVENT0: u64 = 1 << 0;
/// PMEVTYPER/PMCCFILTR filter: also count at EL2.
const FILTER_NSH: u64 = 1 << 27;
/// Common architectural event: instruction architecturally executed.
pub const EVENT_INST_RETIRED: u64 = 0x08;

#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub cycles: u64,
    pub insns: u64,
}

/// Whether a PMUv3 is implemented (ID_AA64DFR0_EL1.PMUVer).
pub fn present() -> bool {
    let v = ID_AA64DFR0_EL1.read(ID_AA64DFR0_EL1::PMUVer);
    v != 0 && v != 0xf
}

/// PMCR_EL0.N: how many event counters are implemented.
const PMCR_N_SHIFT: u64 = 11;
const PMCR_N_MASK: u64 = 0x1f;

/// Resets and starts both counters.
pub fn start() {
    if !present() {
        return;
    }
    if super::current_el() == 2 {
        // Counters at or above MDCR_EL2.HPMN belong to EL2 and ignore
        // PMCR_EL0.E: give every counter to the normal range, so event
        // counter 0 is enabled whatever the firmware left in HPMN.
        let pmcr: u64;
        // SAFETY: reading PMCR_EL0 has no side effects.
        unsafe { asm!("mrs {}, pmcr_el0", out(reg) pmcr, options(nostack, nomem)) };
        MDCR_EL2.modify(MDCR_EL2::HPMN.val((pmcr >> PMCR_N_SHIFT) & PMCR_N_MASK));
    }
    // SAFETY: PMU registers only; the stage owns the PMU and the filters
    // count at EL1 and EL2 whichever the stage runs at.
    unsafe {
        asm!(
            "msr pmcntenclr_el0, {all}",
            "msr pmevtyper0_el0, {ev}",
            "msr pmccfiltr_el0, {filt}",
            "msr pmcr_el0, {pmcr}",
            "msr pmcntenset_el0, {en}",
            "isb",
            all = in(reg) u64::from(u32::MAX),
            ev = in(reg) EVENT_INST_RETIRED | FILTER_NSH,
            filt = in(reg) FILTER_NSH,
            pmcr = in(reg) PMCR_E | PMCR_P | PMCR_C | PMCR_LC,
            en = in(reg) CNTEN_CYCLES | CNTEN_EVENT0,
            options(nostack),
        );
    }
}

/// Reads both counters (they keep running).
pub fn read() -> Counts {
    if !present() {
        return Counts::default();
    }
    let (cycles, insns): (u64, u64);
    // SAFETY: reading PMU counters has no side effects.
    unsafe {
        asm!(
            "isb",
            "mrs {c}, pmccntr_el0",
            "mrs {i}, pmevcntr0_el0",
            c = out(reg) cycles,
            i = out(reg) insns,
            options(nostack, nomem),
        );
    }
    Counts { cycles, insns }
}
