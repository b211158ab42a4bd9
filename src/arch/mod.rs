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
pub mod pmu;
pub mod semihosting;
pub mod sysreg;

pub use cell::BootCpuCell;

use core::arch::global_asm;

use aarch64_cpu::registers::*;
use mmu_reloc::cpu::CpuInfo;
use mmu_reloc::exit::ExitStatus;
use mmu_reloc::mmu::Regime;
use mmu_reloc::region::Region;
use tock_registers::interfaces::{Readable, Writeable};

/// Image header flags: bit 0 little-endian (0), bits 1-2 page size 4K (1),
/// bit 3 "may be placed anywhere in RAM" (1).
const HEADER_FLAGS: u64 = (1 << 1) | (1 << 3);
const CPACR_FPEN: u64 = CPACR_EL1::FPEN::TrapNothing.value;
/// CPTR_EL2 with HCR_EL2.E2H = 0: bits 13, 12, 9 and 7:0 are RES1; TFP
/// (bit 10) stays 0.
const CPTR_EL2_RES1: u64 = 0x33ff;
const R_AARCH64_RELATIVE: u64 = 1027;
/// SCTLR_EL1 with the MMU off: only the RES1 bits of ARMv8.0 (29, 28, 23,
/// 22, 20, 11), like Linux's INIT_SCTLR_EL1_MMU_OFF.
const SCTLR_EL1_MMU_OFF: u64 =
    (1 << 29) | (1 << 28) | (1 << 23) | (1 << 22) | (1 << 20) | (1 << 11);
/// SCTLR_EL2 (E2H = 0) with the MMU off: its RES1 bits (29, 28, 23, 22, 18,
/// 16, 11, 5, 4), like Linux's INIT_SCTLR_EL2_MMU_OFF.
const SCTLR_EL2_MMU_OFF: u64 = (1 << 29)
    | (1 << 28)
    | (1 << 23)
    | (1 << 22)
    | (1 << 18)
    | (1 << 16)
    | (1 << 11)
    | (1 << 5)
    | (1 << 4);

global_asm!(
    include_str!("../../asm/entry.S"),
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

/// At EL2, whether HCR_EL2.E2H is set (VHE): the stage programs the EL2
/// regime as E2H = 0 and refuses otherwise.
pub fn el2_host_mode() -> bool {
    current_regime() == Regime::El2 && HCR_EL2.is_set(HCR_EL2::E2H)
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
