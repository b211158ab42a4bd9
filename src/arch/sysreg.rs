//! System registers aarch64-cpu does not define, each defined once with
//! `register_bitfields!` and read into a `LocalRegisterCopy`: the cache
//! type register, ID_AA64ISAR2_EL1 (FEAT_MOPS) and the PMU registers the
//! benchmark programs.

use core::arch::asm;

use tock_registers::{LocalRegisterCopy, register_bitfields};

register_bitfields! {u64,
    /// Cache Type Register.
    pub CTR_EL0 [
        /// Cache writeback granule: log2 of the largest block a write-back
        /// may write, in 4-byte words (0: not given, up to 2 KiB).
        CWG OFFSET(24) NUMBITS(4) [],
        /// log2 of the smallest D-cache line, in 4-byte words.
        DminLine OFFSET(16) NUMBITS(4) [],
        /// log2 of the smallest I-cache line, in 4-byte words.
        IminLine OFFSET(0) NUMBITS(4) []
    ],
    /// Instruction Set Attribute Register 2.
    pub ID_AA64ISAR2_EL1 [
        /// FEAT_MOPS: 1 = the CPY*/SET* memory copy and set instructions.
        MOPS OFFSET(16) NUMBITS(4) []
    ],
    /// Performance Monitors Control Register.
    pub PMCR_EL0 [
        /// Number of event counters implemented.
        N OFFSET(11) NUMBITS(5) [],
        /// Long cycle counter: overflow at 64 bits.
        LC OFFSET(6) NUMBITS(1) [],
        /// Reset the cycle counter.
        C OFFSET(2) NUMBITS(1) [],
        /// Reset the event counters.
        P OFFSET(1) NUMBITS(1) [],
        /// Enable.
        E OFFSET(0) NUMBITS(1) []
    ],
    /// PMCNTENSET_EL0 / PMCNTENCLR_EL0: one bit per counter.
    pub PMCNTEN [
        /// The cycle counter.
        C OFFSET(31) NUMBITS(1) [],
        /// Event counter 0.
        P0 OFFSET(0) NUMBITS(1) []
    ],
    /// PMEVTYPER<n>_EL0 and PMCCFILTR_EL0 (which has no event field).
    pub PMEVTYPER [
        /// Count at EL2 as well (non-secure).
        NSH OFFSET(27) NUMBITS(1) [],
        /// The event counted.
        EVT OFFSET(0) NUMBITS(16) []
    ]
}

/// CTR_EL0 as read now.
pub fn ctr_el0() -> LocalRegisterCopy<u64, CTR_EL0::Register> {
    let v: u64;
    // SAFETY: reading CTR_EL0 has no side effects.
    unsafe { asm!("mrs {}, ctr_el0", out(reg) v, options(nomem, nostack)) };
    LocalRegisterCopy::new(v)
}

/// ID_AA64ISAR2_EL1 as read now (ARMv8.7's name; reads as zero on CPUs
/// before it, where the encoding is a reserved ID register).
pub fn id_aa64isar2_el1() -> LocalRegisterCopy<u64, ID_AA64ISAR2_EL1::Register> {
    let v: u64;
    // SAFETY: reading an ID register has no side effects.
    unsafe { asm!("mrs {}, id_aa64isar2_el1", out(reg) v, options(nomem, nostack)) };
    LocalRegisterCopy::new(v)
}

/// PMCR_EL0 as read now.
pub fn pmcr_el0() -> LocalRegisterCopy<u64, PMCR_EL0::Register> {
    let v: u64;
    // SAFETY: reading PMCR_EL0 has no side effects.
    unsafe { asm!("mrs {}, pmcr_el0", out(reg) v, options(nomem, nostack)) };
    LocalRegisterCopy::new(v)
}
