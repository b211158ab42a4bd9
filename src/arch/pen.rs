//! The holding pen (asm/pen.S) the secondaries move to before `mode=boot`
//! overwrites the stage: copying it with its table (laid out by
//! `mmu_reloc::pen`), sending the CPUs there (the stage's park mailbox,
//! the firmware's release addresses) and waiting, bounded by the generic
//! timer, for each to acknowledge or, with PSCI, to be OFF. The pen never
//! calls back.

use core::arch::global_asm;

use mmu_reloc::pen::{self, PenEntry, PenHeader, PsciState};
use mmu_reloc::region::Region;
use smccc::psci::{self, AffinityState, LowestAffinityLevel};

use super::mmu::clean_inval;

/// PSCI 0.2 CPU_OFF (SMC32).
const PSCI_CPU_OFF: u32 = 0x8400_0002;

global_asm!(
    include_str!("../../asm/pen.S"),
    MPIDR_AFF_MASK = const super::MPIDR_AFF_MASK,
    PSCI_CPU_OFF = const PSCI_CPU_OFF,
    CONDUIT_SMC = const pen::CONDUIT_SMC,
    CONDUIT_HVC = const pen::CONDUIT_HVC,
    METHOD_SPIN = const pen::METHOD_SPIN,
    METHOD_PSCI = const pen::METHOD_PSCI,
    ACK_FROM_STAGE = const pen::ACK_FROM_STAGE,
    ACK_FROM_FIRMWARE = const pen::ACK_FROM_FIRMWARE,
    HEADER_VECTORS = const pen::HEADER_VECTORS,
    HEADER_SIZE = const core::mem::size_of::<PenHeader>(),
    ENTRY_SIZE = const core::mem::size_of::<PenEntry>(),
    ENTRY_ACK = const pen::ENTRY_ACK,
    ENTRY_SLOT = const pen::ENTRY_SLOT,
);

unsafe extern "C" {
    static pen: u8;
    static pen_released: u8;
    static pen_end: u8;
    static mut park_mailbox: u64;
}

/// The pen's code; its table goes right after it (8-byte aligned).
pub fn code() -> &'static [u8] {
    let (start, end) = (&raw const pen, &raw const pen_end);
    // SAFETY: [pen, pen_end) is the routine in the stage's text.
    unsafe { core::slice::from_raw_parts(start, end as usize - start as usize) }
}

/// Offset of the entry for CPUs coming from the firmware's spin loop.
pub fn released_offset() -> u64 {
    &raw const pen_released as u64 - &raw const pen as u64
}

/// Bytes of the pen with a table of `n` entries.
pub fn bytes(n: usize) -> usize {
    code().len() + core::mem::size_of::<PenHeader>() + n * core::mem::size_of::<PenEntry>()
}

/// The pen copied to `at` with its table; returns the entries' address.
/// The caller cleans the area to the PoC before any CPU is sent there.
///
/// # Safety
/// `at` is 8-byte aligned with [`bytes`]`(entries.len())` writable bytes
/// that nothing else uses.
pub unsafe fn install(at: u64, header: PenHeader, entries: &[PenEntry]) -> u64 {
    let code = code();
    let table = at + code.len() as u64;
    let first = table + core::mem::size_of::<PenHeader>() as u64;
    // SAFETY: the caller's slot; the code's length is a multiple of 8, so
    // the table is aligned.
    unsafe {
        core::ptr::copy_nonoverlapping(code.as_ptr(), at as *mut u8, code.len());
        core::ptr::write(table as *mut PenHeader, header);
        core::ptr::copy_nonoverlapping(entries.as_ptr(), first as *mut PenEntry, entries.len());
    }
    first
}

/// Writes `v` to the word at `addr` and cleans it to the PoC, for CPUs
/// that read it with their MMU off.
///
/// # Safety
/// `addr` is an aligned word no one else writes now.
unsafe fn write_to_poc(addr: u64, v: u64) {
    // SAFETY: the caller's word.
    unsafe { core::ptr::write_volatile(addr as *mut u64, v) };
    clean_inval(Region::new(addr, addr + 8));
}

/// Sends every CPU parked in the stage (asm/entry.S `park`) to the pen at
/// `at`: writes the mailbox they poll and signals an event. Late entrants
/// find the mailbox set and go straight there.
pub fn send_parked(at: u64) {
    // SAFETY: an aligned word in the stage's .data that only this CPU
    // writes; the parked CPUs read it from memory.
    unsafe { write_to_poc(&raw mut park_mailbox as u64, at) };
    aarch64_cpu::asm::sev();
}

/// Sends the CPUs still waiting in the firmware's spin loop to `target`
/// (the pen's `pen_released`): writes it into each original release
/// address, cleaned to the PoC, then one event (the spin-table protocol).
///
/// # Safety
/// Each address is a `cpu-release-addr` of the live DTB: an aligned word
/// that the spin-table protocol gives to the stage now.
pub unsafe fn send_spinning(releases: impl Iterator<Item = u64>, target: u64) {
    for r in releases {
        // SAFETY: the caller's release address.
        unsafe { write_to_poc(r, target) };
    }
    aarch64_cpu::asm::sev();
}

/// Zeroes an original release address once its CPU is in the pen, so that
/// it no longer points at the control area: the firmware's word is back
/// as the spin-table protocol starts it.
///
/// # Safety
/// As for [`send_spinning`].
pub unsafe fn rearm(release: u64) {
    // SAFETY: the caller's release address.
    unsafe { write_to_poc(release, 0) };
}

/// The acknowledgement word of entry `e` at `entry_at`, from memory: the
/// pen writes it with the MMU off, so the boot CPU drops any copy its
/// caches hold (a speculative fill) before each read.
fn read_ack(entry_at: u64) -> u64 {
    let addr = entry_at + pen::ENTRY_ACK as u64;
    clean_inval(Region::new(addr, addr + 8));
    // SAFETY: an aligned word of the pen's table in the control area.
    unsafe { core::ptr::read_volatile(addr as *const u64) }
}

/// PSCI AFFINITY_INFO (64-bit, 0xC4000004) for one CPU.
fn affinity_info(conduit: u64, mpidr: u64) -> PsciState {
    let answer = match conduit {
        pen::CONDUIT_SMC => psci::affinity_info::<smccc::Smc>(mpidr, LowestAffinityLevel::All),
        pen::CONDUIT_HVC => psci::affinity_info::<smccc::Hvc>(mpidr, LowestAffinityLevel::All),
        _ => return PsciState::Error(i64::from(psci::Error::NotSupported) as i32),
    };
    match answer {
        Ok(AffinityState::On) => PsciState::On,
        Ok(AffinityState::Off) => PsciState::Off,
        Ok(AffinityState::OnPending) => PsciState::OnPending,
        Err(e) => PsciState::Error(i64::from(e) as i32),
    }
}

/// What the boot CPU saw of each entry: its acknowledgement and, for PSCI
/// CPUs, AFFINITY_INFO's last answer.
#[derive(Clone, Copy)]
pub struct Seen {
    pub ack: u64,
    pub psci: Option<PsciState>,
}

/// Waits until every entry that `expects_ack` has acknowledged and every
/// PSCI CPU is settled (OFF, or an error), or until
/// [`pen::ACK_TIMEOUT_NS`] passed; entries whose MPIDR is in `later` (they
/// copy a share of the final copy first) are not waited for. `yield`
/// hints let an emulator running all CPUs on one thread schedule the
/// others. Returns what it saw, in table order.
pub fn wait(
    entries_at: u64,
    table: &[PenEntry],
    conduit: u64,
    parked: Option<u64>,
    later: &[u64],
) -> alloc::vec::Vec<Seen> {
    let stride = core::mem::size_of::<PenEntry>() as u64;
    let at = |i: usize| entries_at + i as u64 * stride;
    let mut seen: alloc::vec::Vec<Seen> = table
        .iter()
        .map(|e| Seen {
            ack: pen::ACK_NONE,
            psci: (e.method == pen::METHOD_PSCI).then_some(PsciState::On),
        })
        .collect();
    let waited = |e: &PenEntry| !later.contains(&e.mpidr);
    super::bounded(pen::ACK_TIMEOUT_NS, || {
        let mut done = true;
        for (i, (e, s)) in table.iter().zip(seen.iter_mut()).enumerate() {
            if !waited(e) {
                continue;
            }
            if s.ack == pen::ACK_NONE {
                s.ack = read_ack(at(i));
                done &= s.ack != pen::ACK_NONE || !pen::expects_ack(e, parked);
            }
            if s.psci.is_some_and(|st| !st.settled()) {
                let now = affinity_info(conduit, e.mpidr);
                s.psci = Some(now);
                done &= now.settled();
            }
        }
        done.then_some(())
    });
    seen
}
