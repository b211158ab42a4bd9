//! The holding pen (asm/pen.S) that CPUs parked inside the stage move to
//! before `mode=boot` overwrites it, and the table it reads. The stage
//! fills the table from the DTB's enable methods; the pen never calls back.

use core::arch::global_asm;

use mmu_reloc::platform::{PsciMethod, SpinCpu};

/// PSCI 0.2 CPU_OFF (SMC32).
const PSCI_CPU_OFF: u32 = 0x8400_0002;
const CONDUIT_NONE: u64 = 0;
const CONDUIT_SMC: u64 = 1;
const CONDUIT_HVC: u64 = 2;

/// The header asm/pen.S reads right after its code, then `count` entries.
#[repr(C)]
pub struct PenHeader {
    pub conduit: u64,
    pub count: u64,
}

/// One spin-table CPU: its MPIDR affinity and `cpu-release-addr`.
#[repr(C)]
pub struct PenEntry {
    pub mpidr: u64,
    pub release: u64,
}

// asm/pen.S walks the table with `ldp ..., #16`: two words per item.
const _: () = assert!(core::mem::size_of::<PenHeader>() == 16);
const _: () = assert!(core::mem::size_of::<PenEntry>() == 16);
const _: () = assert!(core::mem::offset_of!(PenHeader, count) == 8);
const _: () = assert!(core::mem::offset_of!(PenEntry, release) == 8);

global_asm!(
    include_str!("../../asm/pen.S"),
    MPIDR_AFF_MASK = const super::MPIDR_AFF_MASK,
    PSCI_CPU_OFF = const PSCI_CPU_OFF,
    CONDUIT_SMC = const CONDUIT_SMC,
    CONDUIT_HVC = const CONDUIT_HVC,
);

unsafe extern "C" {
    static pen: u8;
    static pen_end: u8;
    static mut park_mailbox: u64;
}

/// How long the boot CPU gives parked CPUs to leave the stage once sent to
/// the pen: each needs a handful of instructions after the event.
const LEAVE_NS: u64 = 10_000_000;

/// The pen's code; its table goes right after it (8-byte aligned).
pub fn code() -> &'static [u8] {
    let (start, end) = (&raw const pen, &raw const pen_end);
    // SAFETY: [pen, pen_end) is the routine in the stage's text.
    unsafe { core::slice::from_raw_parts(start, end as usize - start as usize) }
}

/// The table's header for `psci`.
pub fn header(psci: Option<PsciMethod>, count: usize) -> PenHeader {
    PenHeader {
        conduit: match psci {
            None => CONDUIT_NONE,
            Some(PsciMethod::Smc) => CONDUIT_SMC,
            Some(PsciMethod::Hvc) => CONDUIT_HVC,
        },
        count: count as u64,
    }
}

/// The entry for a spin-table CPU.
pub fn entry(c: &SpinCpu) -> PenEntry {
    PenEntry {
        mpidr: c.mpidr,
        release: c.release,
    }
}

/// Sends every CPU parked in the stage to the pen copied at `at`: writes
/// the mailbox they poll (with the MMU off, so it is cleaned to the PoC)
/// and signals an event. Late entrants find the mailbox set and go
/// straight there.
pub fn release_parked(at: u64) {
    let mailbox = &raw mut park_mailbox;
    // SAFETY: an aligned word in the stage's .data that only this CPU
    // writes; the parked CPUs read it from memory.
    unsafe { core::ptr::write_volatile(mailbox, at) };
    let start = mailbox as u64;
    super::mmu::clean_inval(mmu_reloc::region::Region::new(start, start + 8));
    aarch64_cpu::asm::sev();
}

/// Gives CPUs parked in the stage (if any entered) time to leave it, with
/// `yield` hints so that an emulator running all CPUs on one thread
/// schedules them. Bounded by the generic timer.
pub fn wait_for_parked() {
    if super::parked_cpu().is_none() {
        return;
    }
    let start = super::counter();
    while super::ticks_to_ns(super::counter() - start) < LEAVE_NS {
        // SAFETY: a hint; no architectural effect.
        unsafe { core::arch::asm!("yield", options(nomem, nostack)) };
    }
}
