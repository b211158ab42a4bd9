//! Everything that touches the aarch64 machine directly: the entry and
//! vector assembly, system registers, MMU and cache maintenance, the copy
//! loops, semihosting, timing. Logic that only interprets numbers lives in
//! the library (`mmu_reloc::cpu`). Depends on the library only: faults go
//! to a handler the stage registers (`exception::set_handler`).

pub mod cell;
pub mod copy;
pub mod exception;
pub mod mem;
pub mod mmu;
pub mod pen;
pub mod pmu;
pub mod semihosting;
pub mod smp;
pub mod sysreg;

pub use cell::BootCpuCell;

use core::arch::{asm, global_asm};

use aarch64_cpu::registers::*;
use mmu_reloc::cpu::CpuInfo;
use mmu_reloc::exit::ExitStatus;
use mmu_reloc::mmu::Regime;
use mmu_reloc::region::Region;
use tock_registers::interfaces::{Readable, Writeable};

/// Image header flags: bit 0 little-endian (0), bits 1-2 page size 4K (1),
/// bit 3 "may be placed anywhere in RAM" (1).
const HEADER_FLAGS: u64 = (1 << 1) | (1 << 3);
pub(crate) const CPACR_FPEN: u64 = CPACR_EL1::FPEN::TrapNothing.value;
/// CPTR_EL2 with HCR_EL2.E2H = 0: bits 13, 12, 9 and 7:0 are RES1; TFP
/// (bit 10) stays 0.
pub(crate) const CPTR_EL2_RES1: u64 = 0x33ff;
const R_AARCH64_RELATIVE: u64 = 1027;
/// SCTLR_EL1 with the MMU off: only the RES1 bits of ARMv8.0 (29, 28, 23,
/// 22, 20, 11), like Linux's INIT_SCTLR_EL1_MMU_OFF.
pub(crate) const SCTLR_EL1_MMU_OFF: u64 =
    (1 << 29) | (1 << 28) | (1 << 23) | (1 << 22) | (1 << 20) | (1 << 11);
/// SCTLR_EL2 (E2H = 0) with the MMU off: its RES1 bits (29, 28, 23, 22, 18,
/// 16, 11, 5, 4), like Linux's INIT_SCTLR_EL2_MMU_OFF.
pub(crate) const SCTLR_EL2_MMU_OFF: u64 = (1 << 29)
    | (1 << 28)
    | (1 << 23)
    | (1 << 22)
    | (1 << 18)
    | (1 << 16)
    | (1 << 11)
    | (1 << 5)
    | (1 << 4);

/// HCR_EL2 as the stage runs at EL2 without VHE: RW (bit 31, EL1 is
/// AArch64) and AMO (bit 5: physical SErrors are taken to EL2, else one
/// raised while the stage runs would stay pending for the next kernel's
/// EL1); E2H, TGE and every trap clear.
const HCR_EL2_NVHE: u64 = (1 << 31) | (1 << 5);
/// HCR_EL2.E2H (bit 34): set only where ID_AA64MMFR4_EL1.E2H0 says it is
/// RES1, so that the stage can say why it stops.
const HCR_EL2_E2H: u64 = 1 << 34;
/// ID_AA64MMFR4_EL1.E2H0 (bits 27:24, signed): negative when the CPU has
/// no E2H = 0 regime (Arm ARM D23.2, FEAT_E2H0).
const MMFR4_E2H0_SHIFT: u64 = 24;
/// MPIDR_EL1 Aff3 (39:32) and Aff2:Aff1:Aff0 (23:0).
const MPIDR_AFF_MASK: u64 = 0xff_00ff_ffff;
/// Busy-wait turns (2 instructions each) between claiming the boot CPU
/// and checking the claim held: about 1 ms on a 2 GHz core, far longer
/// than two CPUs released together need to reach the claim.
const CLAIM_SETTLE_LOOPS: u64 = 1 << 20;

global_asm!(
    include_str!("../../asm/entry.S"),
    HCR_EL2_NVHE = const HCR_EL2_NVHE,
    HCR_EL2_E2H = const HCR_EL2_E2H,
    HCR_EL2_E2H_BIT = const HCR_EL2_E2H.trailing_zeros(),
    MMFR4_E2H0_SHIFT = const MMFR4_E2H0_SHIFT,
    MPIDR_AFF_MASK = const MPIDR_AFF_MASK,
    CLAIM_SETTLE_LOOPS = const CLAIM_SETTLE_LOOPS,
    HEADER_FLAGS = const HEADER_FLAGS,
    CPACR_FPEN = const CPACR_FPEN,
    CPTR_EL2_RES1 = const CPTR_EL2_RES1,
    R_AARCH64_RELATIVE = const R_AARCH64_RELATIVE,
    SCTLR_EL1_MMU_OFF = const SCTLR_EL1_MMU_OFF,
    SCTLR_EL2_MMU_OFF = const SCTLR_EL2_MMU_OFF,
    SYS_WRITE0 = const semihosting::SYS_WRITE0,
    SYS_EXIT = const semihosting::SYS_EXIT,
    ADP_STOPPED_APPLICATION_EXIT = const semihosting::ADP_STOPPED_APPLICATION_EXIT,
    EXIT_INPUT = const ExitStatus::Input.code(),
);

/// `hint` numbers marking a measured run's start and end for the QEMU
/// model plugin (`qemu/model/src/decode.rs` recognises the same numbers).
/// Both are unallocated hints: NOPs on silicon and in QEMU.
pub const MODEL_HINT_RUN_START: u32 = 124;
pub const MODEL_HINT_RUN_END: u32 = 125;

/// Marks the start (`start`) or end of measured run `run` for the model
/// plugin, which reads the id from x0 (and, at the start, the bounds of
/// the copy kernels' code-range table from x1 and x2). Costs a few
/// instructions elsewhere, outside the PMU window.
pub fn model_mark(start: bool, run: u64) {
    // SAFETY: an unallocated HINT executes as a NOP; x0-x2 are only read.
    // Not `nomem`: the mark must stay where it is relative to the measured
    // code.
    unsafe {
        if start {
            let (lo, hi) = copy::model_range_table();
            asm!("hint #{n}", n = const MODEL_HINT_RUN_START, in("x0") run, in("x1") lo, in("x2") hi, options(nostack, preserves_flags));
        } else {
            asm!("hint #{n}", n = const MODEL_HINT_RUN_END, in("x0") run, options(nostack, preserves_flags));
        }
    }
}

/// The exception level the stage runs at (it never changes EL).
pub fn current_el() -> u8 {
    CurrentEL.read(CurrentEL::EL) as u8
}

/// The translation regime the stage runs in: EL1&0 at EL1, EL2 (E2H = 0)
/// at EL2 (asm/entry.S stops at EL3 before any Rust runs).
pub fn current_regime() -> Regime {
    if current_el() == 1 {
        Regime::El1
    } else {
        Regime::El2
    }
}

/// At EL2, whether HCR_EL2.E2H is set (VHE). `asm/entry.S` clears it
/// wherever the CPU allows, so this is true only on a CPU without FEAT_E2H0
/// (E2H RES1), which the stage refuses.
pub fn el2_host_mode() -> bool {
    current_regime() == Regime::El2 && HCR_EL2.is_set(HCR_EL2::E2H)
}

/// Lets asynchronous aborts (SError) be taken, so that one raised by a
/// stray write is reported by the vectors instead of staying pending.
pub fn unmask_serror() {
    // SAFETY: only clears PSTATE.A; the vectors handle SError.
    unsafe { core::arch::asm!("msr daifclr, #4", options(nomem, nostack)) };
}

/// Masks every exception class again (D, A, I, F), as the arm64 boot
/// protocol wants them when the next stage is entered.
pub fn mask_all() {
    // SAFETY: only sets PSTATE.DAIF.
    unsafe { core::arch::asm!("msr daifset, #0xf", options(nomem, nostack)) };
}

/// The MPIDR affinity of a CPU that entered the Image besides the boot
/// CPU and is parked inside the stage (`asm/entry.S`), if any.
pub fn parked_cpu() -> Option<u64> {
    unsafe extern "C" {
        static parked_cpu: u64;
    }
    // SAFETY: an aligned word in .data that only parking CPUs write; read
    // volatile because they write it behind the compiler's back.
    let v = unsafe { core::ptr::read_volatile(&raw const parked_cpu) };
    (v != u64::MAX).then_some(v)
}

/// The MPIDR affinity of the CPU running the stage.
pub fn boot_mpidr() -> u64 {
    MPIDR_EL1.get() & MPIDR_AFF_MASK
}

/// Points the current EL's vector table at `addr` (2 KiB aligned).
pub fn set_vbar(addr: u64) {
    match current_regime() {
        Regime::El1 => VBAR_EL1.set(addr),
        Regime::El2 => VBAR_EL2.set(addr),
    }
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}

/// The CPU's identification, decoded from MIDR_EL1 and ID_AA64MMFR0_EL1.
pub fn cpu_info() -> CpuInfo {
    CpuInfo::decode(MIDR_EL1.get(), ID_AA64MMFR0_EL1.get())
}

/// The generic timer: (count, frequency in Hz).
pub fn counter() -> u64 {
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    CNTPCT_EL0.get()
}

pub fn counter_hz() -> u64 {
    CNTFRQ_EL0.get()
}

/// Generic-timer ticks to nanoseconds.
pub fn ticks_to_ns(ticks: u64) -> u64 {
    (ticks as u128 * 1_000_000_000 / counter_hz().max(1) as u128) as u64
}

/// Runs `poll` until it returns `Some`, for at most `ns` nanoseconds on
/// the generic timer (one last poll after the bound), with a `yield` hint
/// between polls so that an emulator running every CPU on one thread
/// schedules the others.
pub fn bounded<T>(ns: u64, mut poll: impl FnMut() -> Option<T>) -> Option<T> {
    let start = counter();
    loop {
        if let Some(v) = poll() {
            return Some(v);
        }
        if ticks_to_ns(counter() - start) > ns {
            return poll();
        }
        // SAFETY: a hint; no architectural effect.
        unsafe { core::arch::asm!("yield", options(nomem, nostack)) };
    }
}

/// Waits for an interrupt forever: the end of the road when nothing can
/// stop the machine.
pub fn halt() -> ! {
    loop {
        aarch64_cpu::asm::wfi();
    }
}

/// Bounds of the stage in memory, from the linker script.
pub fn stage_bounds() -> Region {
    unsafe extern "C" {
        static _head: u8;
        static _end: u8;
    }
    // Only the addresses of the linker-defined symbols are taken.
    Region::new(&raw const _head as u64, &raw const _end as u64)
}

/// The heap area reserved by the linker script.
pub fn heap_bounds() -> Region {
    unsafe extern "C" {
        static __heap_start: u8;
        static __heap_end: u8;
    }
    // Only the addresses of the linker-defined symbols are taken.
    Region::new(&raw const __heap_start as u64, &raw const __heap_end as u64)
}
