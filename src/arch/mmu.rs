//! Programming the MMU for the regime the stage runs in (EL1&0 at EL1, EL2
//! with HCR_EL2.E2H = 0 at EL2) from a [`BuiltMap`], cache maintenance in
//! both directions, and checking the live map with `AT`.
//!
//! Switching maps never edits a live table: the MMU goes off (caches
//! cleaned), the new tables are installed with the TLB invalidated, the MMU
//! comes back on. That is break-before-make at the granularity of the
//! whole map.

use core::arch::{asm, global_asm};

use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::*;
use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};

use mmu_reloc::cpu::Granule;
use mmu_reloc::cpu::{AtTranslation, decode_par};
use mmu_reloc::mmu::{BuiltMap, MAIR_VALUE, Regime};
use mmu_reloc::region::Region;

use super::sysreg::{CTR_EL0, ctr_el0};

/// SCTLR_ELx M, C and I (the same bits at EL1 and EL2), for the
/// assembly that turns them off.
pub const SCTLR_MCI: u64 =
    SCTLR_EL1::M::SET.value | SCTLR_EL1::C::SET.value | SCTLR_EL1::I::SET.value;
const _: () = assert!(
    SCTLR_MCI == SCTLR_EL2::M::SET.value | SCTLR_EL2::C::SET.value | SCTLR_EL2::I::SET.value
);

global_asm!(
    concat!(include_str!("../../asm/cache.S"), include_str!("../../asm/mmu.S")),
    SCTLR_MCI = const SCTLR_MCI
);

unsafe extern "C" {
    fn mmu_off_el1(ranges: *const [u64; 2], n: usize, line: u64);
    fn mmu_off_el2(ranges: *const [u64; 2], n: usize, line: u64);
}

/// Smallest D-cache line in bytes (CTR_EL0.DminLine is log2 of words).
pub fn dcache_line() -> u64 {
    4 << ctr_el0().read(CTR_EL0::DminLine)
}

fn for_each_line(r: Region, line: u64, mut f: impl FnMut(u64)) {
    let mut a = r.start & !(line - 1);
    while a < r.end {
        f(a);
        a += line;
    }
}

/// Cleans and invalidates `r` to the point of coherency.
pub fn clean_inval(r: Region) {
    // SAFETY: cleaning writes dirty lines back; it never loses data.
    for_each_line(r, dcache_line(), |a| unsafe {
        asm!("dc civac, {}", in(reg) a, options(nostack))
    });
    barrier::dsb(barrier::SY);
}

/// Invalidates `r` to the point of coherency, dropping any cached copy,
/// dirty or not. Only for memory whose contents in the caches do not
/// matter: with the caches off, or whole lines about to be overwritten.
pub fn invalidate(r: Region) {
    // SAFETY: callers pass ranges whose cached contents may be discarded.
    for_each_line(r, dcache_line(), |a| unsafe {
        asm!("dc ivac, {}", in(reg) a, options(nostack))
    });
    barrier::dsb(barrier::SY);
}

/// Makes instructions just written at `r` (through the D-cache) visible
/// to instruction fetch: clean to the PoU, invalidate the I-cache lines.
pub fn sync_icache(r: Region) {
    // SAFETY: cache maintenance by VA on memory the stage just wrote.
    for_each_line(r, dcache_line(), |a| unsafe {
        asm!("dc cvau, {}", in(reg) a, options(nostack))
    });
    barrier::dsb(barrier::ISH);
    // SAFETY: invalidating instruction cache lines only drops cached state.
    for_each_line(r, icache_line(), |a| unsafe {
        asm!("ic ivau, {}", in(reg) a, options(nostack))
    });
    barrier::dsb(barrier::ISH);
    barrier::isb(barrier::SY);
}

/// Invalidates every I-cache to the PoU across the Inner Shareable
/// domain, as the hand-off does after the copy (asm/handoff.S).
pub fn invalidate_icache_all() {
    // SAFETY: invalidating instruction caches only drops cached state.
    unsafe { asm!("ic ialluis", "dsb sy", "isb", options(nostack)) };
}

/// Smallest I-cache line in bytes (CTR_EL0.IminLine is log2 of words).
pub fn icache_line() -> u64 {
    4 << ctr_el0().read(CTR_EL0::IminLine)
}

/// Whether the MMU is on in `regime`.
pub fn enabled(regime: Regime) -> bool {
    match regime {
        Regime::El1 => SCTLR_EL1.is_set(SCTLR_EL1::M),
        Regime::El2 => SCTLR_EL2.is_set(SCTLR_EL2::M),
    }
}

fn tcr_el1(map: &BuiltMap) -> u64 {
    let tg0 = match map.granule {
        Granule::K4 => TCR_EL1::TG0::KiB_4,
        Granule::K16 => TCR_EL1::TG0::KiB_16,
        Granule::K64 => TCR_EL1::TG0::KiB_64,
    };
    (TCR_EL1::T0SZ.val(map.t0sz as u64)
        + TCR_EL1::IRGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
        + TCR_EL1::ORGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
        + TCR_EL1::SH0::Inner
        + tg0
        + TCR_EL1::EPD1::DisableTTBR1Walks
        // Unused (EPD1), but a reserved TG1 encoding is best avoided.
        + TCR_EL1::TG1::KiB_4
        + TCR_EL1::IPS.val(map.ips as u64))
    .value
}

fn tcr_el2(map: &BuiltMap) -> u64 {
    let tg0 = match map.granule {
        Granule::K4 => TCR_EL2::TG0::KiB_4,
        Granule::K16 => TCR_EL2::TG0::KiB_16,
        Granule::K64 => TCR_EL2::TG0::KiB_64,
    };
    /// TCR_EL2 bits 31 and 23 are RES1 when E2H = 0.
    const TCR_EL2_RES1: u64 = (1 << 31) | (1 << 23);
    (TCR_EL2::T0SZ.val(map.t0sz as u64)
        + TCR_EL2::IRGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
        + TCR_EL2::ORGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
        + TCR_EL2::SH0::Inner
        + tg0
        + TCR_EL2::PS.val(map.ips as u64))
    .value
        | TCR_EL2_RES1
}

/// Installs `map` and turns the MMU, D-cache and I-cache on.
///
/// `written` are the ranges written with the caches off that will be read
/// with them on (the tables, the stage, anything filled meanwhile): their
/// lines are invalidated first so no stale line can shadow memory.
///
/// # Safety
/// The MMU must be off. `map` must map, with Normal memory, everything the
/// stage touches from now on (its image, stack, heap, the DTB, the
/// console), identity for the stage itself so execution continues.
pub unsafe fn enable(regime: Regime, map: &BuiltMap, written: &[Region]) {
    // SAFETY: forwarded from the caller.
    unsafe { enable_regs(regime, MmuRegs::of(regime, map), written) }
}

/// What a CPU's translation registers hold for a map: every CPU that
/// shares the map (`cpus=`) writes the same values into its own registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmuRegs {
    pub tcr: u64,
    pub ttbr0: u64,
}

impl MmuRegs {
    pub fn of(regime: Regime, map: &BuiltMap) -> Self {
        MmuRegs {
            tcr: match regime {
                Regime::El1 => tcr_el1(map),
                Regime::El2 => tcr_el2(map),
            },
            ttbr0: map.root,
        }
    }
}

/// [`enable`] from the register values (no allocation: secondaries call
/// it on their own small stacks).
///
/// # Safety
/// As [`enable`], for the map `regs` came from.
pub unsafe fn enable_regs(regime: Regime, regs: MmuRegs, written: &[Region]) {
    // With the caches off nothing is dirty, so invalidating drops only
    // stale copies.
    written.iter().for_each(|r| invalidate(*r));
    match regime {
        Regime::El1 => {
            MAIR_EL1.set(MAIR_VALUE);
            TCR_EL1.set(regs.tcr);
            TTBR0_EL1.set(regs.ttbr0);
            barrier::isb(barrier::SY);
            // SAFETY: invalidating TLBs and the I-cache only drops cached state.
            unsafe {
                asm!(
                    "tlbi vmalle1",
                    "dsb nsh",
                    "ic iallu",
                    "dsb nsh",
                    "isb",
                    options(nostack)
                )
            };
            SCTLR_EL1
                .modify(SCTLR_EL1::M::Enable + SCTLR_EL1::C::Cacheable + SCTLR_EL1::I::Cacheable);
        }
        Regime::El2 => {
            MAIR_EL2.set(MAIR_VALUE);
            TCR_EL2.set(regs.tcr);
            TTBR0_EL2.set(regs.ttbr0);
            barrier::isb(barrier::SY);
            // SAFETY: as above, for the EL2 regime.
            unsafe {
                asm!(
                    "tlbi alle2",
                    "dsb nsh",
                    "ic iallu",
                    "dsb nsh",
                    "isb",
                    options(nostack)
                )
            };
            SCTLR_EL2
                .modify(SCTLR_EL2::M::Enable + SCTLR_EL2::C::Cacheable + SCTLR_EL2::I::Cacheable);
        }
    }
    barrier::isb(barrier::SY);
}

/// Cleans `keep` to the PoC and turns the MMU and caches off.
///
/// # Safety
/// `keep` must cover every range written with the caches on that is read
/// later (at least the stage image, heap and stack). Execution continues
/// at the same addresses, so the stage must be identity mapped.
pub unsafe fn disable(regime: Regime, keep: &[Region]) {
    let pairs: alloc::vec::Vec<[u64; 2]> = keep.iter().map(|r| [r.start, r.end]).collect();
    // SAFETY: forwarded from the caller.
    unsafe { disable_pairs(regime, &pairs) }
}

/// [`disable`] with the ranges as `[start, end)` pairs (no allocation:
/// secondaries call it on their own small stacks).
///
/// # Safety
/// As [`disable`].
pub unsafe fn disable_pairs(regime: Regime, keep: &[[u64; 2]]) {
    // SAFETY: the asm reads only `keep`, cleans each range and clears
    // SCTLR M/C/I without a store in between (see asm/mmu.S).
    unsafe {
        match regime {
            Regime::El1 => mmu_off_el1(keep.as_ptr(), keep.len(), dcache_line()),
            Regime::El2 => mmu_off_el2(keep.as_ptr(), keep.len(), dcache_line()),
        }
    }
}

/// What `AT S1ExR` says about `va`: the PA and the MAIR attribute byte, or
/// the fault status code.
pub fn translate(regime: Regime, va: u64) -> Result<AtTranslation, u8> {
    // SAFETY: AT only writes PAR_EL1; it never faults for a stage 1 read.
    unsafe {
        match regime {
            Regime::El1 => asm!("at s1e1r, {}", in(reg) va, options(nostack)),
            Regime::El2 => asm!("at s1e2r, {}", in(reg) va, options(nostack)),
        }
    }
    barrier::isb(barrier::SY);
    decode_par(PAR_EL1.get(), va)
}
