//! The PMU, set up once for every measured copy: the cycle counter and one
//! event counter on INST_RETIRED. Counting at EL2 needs the NSH filter bit.
//! Under QEMU TCG the cycle counter follows virtual time and INST_RETIRED
//! counts only with `-icount shift=N`, so a zero instruction count is
//! reported as "unknown", never as zero.

use core::arch::asm;

use aarch64_cpu::registers::{ID_AA64DFR0_EL1, MDCR_EL2};
use mmu_reloc::mmu::Regime;
use tock_registers::interfaces::{ReadWriteable, Readable};

use super::sysreg::{PMCNTEN, PMCR_EL0, PMEVTYPER, pmcr_el0};

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

/// Resets and starts both counters.
pub fn start() {
    if !present() {
        return;
    }
    if super::current_regime() == Regime::El2 {
        // Counters at or above MDCR_EL2.HPMN belong to EL2 and ignore
        // PMCR_EL0.E: give every counter to the normal range, so event
        // counter 0 is enabled whatever the firmware left in HPMN.
        MDCR_EL2.modify(MDCR_EL2::HPMN.val(pmcr_el0().read(PMCR_EL0::N)));
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
            ev = in(reg) (PMEVTYPER::EVT.val(EVENT_INST_RETIRED) + PMEVTYPER::NSH::SET).value,
            filt = in(reg) PMEVTYPER::NSH::SET.value,
            pmcr = in(reg) (PMCR_EL0::E::SET + PMCR_EL0::P::SET + PMCR_EL0::C::SET + PMCR_EL0::LC::SET).value,
            en = in(reg) (PMCNTEN::C::SET + PMCNTEN::P0::SET).value,
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
