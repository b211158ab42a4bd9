//! The measured copy loops of `asm/copy.S` and the hand-off routines of
//! `asm/handoff.S` (both built on the walkers of `asm/macros.S`), and which
//! loop is running (for the exception report). The loops take physical
//! destinations and work with the MMU on (identity or contiguous map) or
//! off.

use core::arch::global_asm;
use core::mem::{offset_of, size_of};

use mmu_reloc::bootargs::{CopyKernel, Strategy};
use mmu_reloc::relocate::{
    CopyRun, IND_DESTINATION_BIT, IND_DONE_BIT, IND_INDIRECTION_BIT, IND_SOURCE_BIT, ListShare,
    PAGE_BYTES,
};

use mmu_reloc::exit::{Error, ExitStatus};

use super::BootCpuCell;

/// One contiguous-strategy run as `CONTIG_WALK` (asm/macros.S) reads it:
/// `ldr` of `len` at RUN_LEN, then one `ldp` of the first two fields
/// (`src_va`, `dest_pa`) advancing by RUN_SIZE.
const RUN_LEN: usize = offset_of!(CopyRun, len);
const RUN_SIZE: usize = size_of::<CopyRun>();
const _: () = assert!(
    offset_of!(CopyRun, src_va) == 0 && offset_of!(CopyRun, dest_pa) == 8 && RUN_SIZE == 24
);

/// Assembles `file` after asm/cache.S and asm/macros.S, with the constants
/// the walkers read, plus `extra` operands.
macro_rules! walker_asm {
    ($file:literal $(, $name:ident = const $value:expr)* $(,)?) => {
        global_asm!(
            concat!(
                include_str!("../../asm/cache.S"),
                include_str!("../../asm/macros.S"),
                include_str!($file)
            ),
            PAGE_SIZE = const PAGE_BYTES,
            PAGE_MASK = const !(PAGE_BYTES as u64 - 1),
            IND_DESTINATION_BIT = const IND_DESTINATION_BIT,
            IND_INDIRECTION_BIT = const IND_INDIRECTION_BIT,
            IND_DONE_BIT = const IND_DONE_BIT,
            IND_SOURCE_BIT = const IND_SOURCE_BIT,
            RUN_LEN = const RUN_LEN,
            RUN_SIZE = const RUN_SIZE,
            $($name = const $value,)*
        );
    };
}

walker_asm!("../../asm/copy.S");
walker_asm!(
    "../../asm/handoff.S",
    SCTLR_MCI = const super::mmu::SCTLR_MCI,
    SYS_EXIT = const super::semihosting::SYS_EXIT,
    SYS_WRITE0 = const super::semihosting::SYS_WRITE0,
    ADP_STOPPED_APPLICATION_EXIT = const super::semihosting::ADP_STOPPED_APPLICATION_EXIT,
    EXIT_EXCEPTION = const ExitStatus::Exception.code(),
    EXIT_VERIFY = const ExitStatus::Verify.code(),
    FP_DTB = const offset_of!(FinalParams, dtb),
    FP_GO = const offset_of!(FinalParams, go),
    FP_ABORT = const offset_of!(FinalParams, abort),
    FP_TICKS = const offset_of!(FinalParams, ticks),
    FP_COUNT = const offset_of!(FinalParams, count),
    FP_CONDUIT = const offset_of!(FinalParams, conduit),
    FP_CPUS = const offset_of!(FinalParams, cpus),
    FC_DONE = const offset_of!(FinalCpu, done),
    FC_ACK = const offset_of!(FinalCpu, ack),
    FC_PSCI = const offset_of!(FinalCpu, psci),
    FC_MPIDR = const offset_of!(FinalCpu, mpidr),
    FC_SIZE = const size_of::<FinalCpu>(),
    PSCI_AFFINITY_INFO = const PSCI_AFFINITY_INFO,
    PSCI_OFF = const PSCI_OFF,
    CONDUIT_SMC = const mmu_reloc::pen::CONDUIT_SMC,
    FAULT_SLOTS = const FINAL_CPUS_MAX,
    FAULT_SLOT = const FAULT_SLOT,
    DEADLINE_REPORT = const DEADLINE_REPORT,
);

/// Offset in the park vectors (asm/handoff.S) of the deadline report
/// `HANDOFF_SMP` branches to, right past the 16 entries.
const DEADLINE_REPORT: usize = 0x800;

/// Bytes of one CPU's slot in the park vectors' text buffer (a multiple
/// of 16). The longest text is the deadline report's: the line, the
/// `error` record repeating its message and the `exit` record, with a
/// 10-digit MPIDR affinity (Aff3 set) and the NUL, 329 bytes; the fault
/// report with a 16-digit ESR takes 239.
const FAULT_SLOT: usize = 384;

// The reports write the exit status as one decimal digit.
const _: () = assert!(ExitStatus::Exception.code() < 10 && ExitStatus::Verify.code() < 10);

/// PSCI 0.2 AFFINITY_INFO (SMC64) and its answer OFF.
const PSCI_AFFINITY_INFO: u64 = 0xC400_0004;
const PSCI_OFF: u64 = 1;

/// CPU slots of a hand-off on several CPUs, the boot CPU's included.
pub const FINAL_CPUS_MAX: usize = mmu_reloc::bootargs::CPUS_MAX as usize;

/// One word of a hand-off on several CPUs with its own cache lines (one
/// writer each; larger than any D-cache line: `arch::smp::line_fits`).
#[repr(C, align(256))]
pub struct SyncWord(pub u64);

/// What the boot CPU's final routine (`HANDOFF_SMP`) waits for, per
/// secondary: its done word, its pen entry's ack word, whether it is a
/// PSCI CPU (then AFFINITY_INFO must say OFF) and its MPIDR affinity.
#[derive(Clone, Copy, Default)]
#[repr(C)]
pub struct FinalCpu {
    pub done: u64,
    pub ack: u64,
    pub psci: u64,
    pub mpidr: u64,
}

/// The parameter block of `HANDOFF_SMP` (written by the boot CPU before
/// any secondary is told to go there; never written again).
#[repr(C)]
pub struct FinalParams {
    pub dtb: u64,
    pub entry: u64,
    /// Address of the go word.
    pub go: u64,
    /// Address of the abort word the share walkers poll.
    pub abort: u64,
    /// Generic-timer ticks the boot CPU waits, from the end of its own
    /// share, for every secondary to be done and in the pen.
    pub ticks: u64,
    /// Secondaries in `cpus`.
    pub count: u64,
    /// The pen's PSCI conduit (`mmu_reloc::pen::CONDUIT_*`).
    pub conduit: u64,
    pub cpus: [FinalCpu; FINAL_CPUS_MAX - 1],
}
const _: () = assert!(offset_of!(FinalParams, entry) == offset_of!(FinalParams, dtb) + 8);

/// Where the words of a [`FinalSync`] placed at some address lie (the
/// piece is only ever reached through these addresses: other CPUs write
/// parts of it).
#[derive(Clone, Copy)]
pub struct SyncAddrs {
    at: u64,
    pub go: u64,
    pub abort: u64,
    pub params: u64,
}

impl SyncAddrs {
    pub fn at(at: u64) -> Self {
        SyncAddrs {
            at,
            go: at + offset_of!(FinalSync, go) as u64,
            abort: at + offset_of!(FinalSync, abort) as u64,
            params: at + offset_of!(FinalSync, params) as u64,
        }
    }

    /// CPU `i`'s done word.
    pub fn done(&self, i: usize) -> u64 {
        self.at + (offset_of!(FinalSync, done) + i * size_of::<SyncWord>()) as u64
    }

    /// Zeroes every word, writes `params` and cleans the piece to the PoC
    /// (secondaries may read it with their MMU off).
    ///
    /// # Safety
    /// [`size_of::<FinalSync>`] writable bytes at the address, aligned,
    /// that no other CPU uses yet.
    pub unsafe fn init(&self, params: &FinalParams) {
        let len = size_of::<FinalSync>();
        // SAFETY: the caller's piece.
        unsafe {
            core::ptr::write_bytes(self.at as *mut u8, 0, len);
            core::ptr::copy_nonoverlapping(params, self.params as *mut FinalParams, 1);
        }
        super::mmu::clean_inval(mmu_reloc::region::Region::new(
            self.at,
            self.at + len as u64,
        ));
    }
}

/// The control area's sync piece for a hand-off on several CPUs.
#[repr(C, align(4096))]
pub struct FinalSync {
    /// Written by the boot CPU: 1 releases the secondaries' copies.
    pub go: SyncWord,
    /// Raised by the boot CPU when it gives up waiting.
    pub abort: SyncWord,
    /// Written by secondary i: 1 arrived in the control area, 2 done.
    pub done: [SyncWord; FINAL_CPUS_MAX],
    pub params: FinalParams,
}

unsafe extern "C" {
    fn reloc_ind_list_copy_page(head: u64, unused: u64, line: u64) -> u64;
    fn reloc_ind_list_ldpq(head: u64, unused: u64, line: u64) -> u64;
    fn reloc_legacy_copy_page(head: u64, unused: u64, line: u64) -> u64;
    fn reloc_legacy_ldpq(head: u64, unused: u64, line: u64) -> u64;
    fn reloc_contig_copy_page(runs: *const CopyRun, n: usize, line: u64) -> u64;
    fn reloc_contig_ldpq(runs: *const CopyRun, n: usize, line: u64) -> u64;
    fn reloc_ind_list_ldpq_dc64(head: u64, unused: u64, line: u64) -> u64;
    fn reloc_ind_list_ldpq_dc128(head: u64, unused: u64, line: u64) -> u64;
    fn reloc_contig_ldpq_dc64(runs: *const CopyRun, n: usize, line: u64) -> u64;
    fn reloc_contig_ldpq_dc128(runs: *const CopyRun, n: usize, line: u64) -> u64;
    fn reloc_ind_list_mops(head: u64, unused: u64, line: u64) -> u64;
    fn reloc_contig_mops(runs: *const CopyRun, n: usize, line: u64) -> u64;
}

/// The share loops (asm/copy.S, `share_*`): (x0, x1, line, x3, abort).
/// List: x0 = first slot, x1 = pages, x3 = first destination. Runs: x0 =
/// run array, x1 = runs, x3 unused.
type ShareFn = unsafe extern "C" fn(u64, u64, u64, u64, *const u64) -> u64;

unsafe extern "C" {
    fn share_ind_list_copy_page(
        slot: u64,
        pages: u64,
        line: u64,
        dest: u64,
        abort: *const u64,
    ) -> u64;
    fn share_ind_list_ldpq(slot: u64, pages: u64, line: u64, dest: u64, abort: *const u64) -> u64;
    fn share_legacy_copy_page(
        slot: u64,
        pages: u64,
        line: u64,
        dest: u64,
        abort: *const u64,
    ) -> u64;
    fn share_legacy_ldpq(slot: u64, pages: u64, line: u64, dest: u64, abort: *const u64) -> u64;
    fn share_ind_list_ldpq_dc64(
        slot: u64,
        pages: u64,
        line: u64,
        dest: u64,
        abort: *const u64,
    ) -> u64;
    fn share_ind_list_ldpq_dc128(
        slot: u64,
        pages: u64,
        line: u64,
        dest: u64,
        abort: *const u64,
    ) -> u64;
    fn share_ind_list_mops(slot: u64, pages: u64, line: u64, dest: u64, abort: *const u64) -> u64;
    fn share_contig_copy_page(runs: u64, n: u64, line: u64, unused: u64, abort: *const u64) -> u64;
    fn share_contig_ldpq(runs: u64, n: u64, line: u64, unused: u64, abort: *const u64) -> u64;
    fn share_contig_ldpq_dc64(runs: u64, n: u64, line: u64, unused: u64, abort: *const u64) -> u64;
    fn share_contig_ldpq_dc128(runs: u64, n: u64, line: u64, unused: u64, abort: *const u64)
    -> u64;
    fn share_contig_mops(runs: u64, n: u64, line: u64, unused: u64, abort: *const u64) -> u64;
}

unsafe extern "C" {
    static model_copy_ranges: u8;
    static model_copy_ranges_end: u8;
}

/// Bounds of the table of copy-kernel code ranges (`COPY_KERNEL` in
/// asm/macros.S: (start, end) pairs of u64) that the model plugin reads to
/// tell copy instructions from the walk around them.
pub fn model_range_table() -> (u64, u64) {
    // Only the addresses of the assembly-defined symbols are taken.
    (
        &raw const model_copy_ranges as u64,
        &raw const model_copy_ranges_end as u64,
    )
}

/// The build of a kernel that runs on a CPU whose smallest D-cache line
/// is `line` bytes (CTR_EL0.DminLine). `ldp-q-dc` interleaves one `dc
/// civac` per 64 bytes (64-byte lines) or per 128 bytes (lines of 128
/// bytes or more: one dc per line is enough and any address in it will
/// do); with lines under 64 bytes, which no arm64 core we know of has, it
/// is the `ldp-q` loop followed by the walker's by-line clean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Build {
    CopyPage,
    LdpQ,
    LdpQDc64,
    LdpQDc128,
    Mops,
}

fn build(kernel: CopyKernel, line: u64) -> Build {
    match kernel {
        CopyKernel::CopyPage => Build::CopyPage,
        CopyKernel::LdpQ => Build::LdpQ,
        CopyKernel::LdpQDc if line >= 128 => Build::LdpQDc128,
        CopyKernel::LdpQDc if line == 64 => Build::LdpQDc64,
        CopyKernel::LdpQDc => Build::LdpQ,
        CopyKernel::Mops => Build::Mops,
    }
}

/// Whether this CPU can run `kernel`: `mops` needs FEAT_MOPS
/// (ID_AA64ISAR2_EL1.MOPS).
pub fn available(kernel: CopyKernel) -> bool {
    kernel != CopyKernel::Mops || has_mops()
}

/// Whether the CPU has FEAT_MOPS.
pub fn has_mops() -> bool {
    super::sysreg::id_aa64isar2_el1().read(super::sysreg::ID_AA64ISAR2_EL1::MOPS) >= 1
}

/// `copy=` asked for a kernel this CPU cannot run: the one-line error.
pub fn require(kernel: CopyKernel) -> Result<(), Error> {
    if available(kernel) {
        return Ok(());
    }
    Err(Error::input(format_args!(
        "copy={}: this CPU has no FEAT_MOPS (ID_AA64ISAR2_EL1.MOPS = 0); use copy_page, ldp-q or ldp-q-dc",
        kernel.name()
    )))
}

/// `[start, end)` of a routine in the stage's text.
fn span(start: *const u8, end: *const u8) -> &'static [u8] {
    // SAFETY: the caller names a routine's start and end labels.
    unsafe { core::slice::from_raw_parts(start, end as usize - start as usize) }
}

/// One routine's bytes, from its start and end labels.
macro_rules! routine {
    ($start:ident, $end:ident) => {{
        unsafe extern "C" {
            static $start: u8;
            static $end: u8;
        }
        span(&raw const $start, &raw const $end)
    }};
}

/// The park vector table of asm/handoff.S, to be copied to a 2 KiB-aligned
/// place in the control area.
pub fn park_vectors() -> &'static [u8] {
    routine!(handoff_vectors, handoff_vectors_end)
}

/// The bytes of the self-contained hand-off routine (asm/handoff.S) for
/// `strategy` and `kernel` (built for D-cache lines of `line` bytes), to
/// be copied to a control page.
pub fn handoff_code(strategy: Strategy, kernel: CopyKernel, line: u64) -> &'static [u8] {
    match (strategy, build(kernel, line)) {
        (Strategy::IndList, Build::CopyPage) => {
            routine!(handoff_ind_list_copy_page, handoff_ind_list_copy_page_end)
        }
        (Strategy::IndList, Build::LdpQ) => {
            routine!(handoff_ind_list_ldpq, handoff_ind_list_ldpq_end)
        }
        (Strategy::IndList, Build::LdpQDc64) => {
            routine!(handoff_ind_list_ldpq_dc64, handoff_ind_list_ldpq_dc64_end)
        }
        (Strategy::IndList, Build::LdpQDc128) => {
            routine!(handoff_ind_list_ldpq_dc128, handoff_ind_list_ldpq_dc128_end)
        }
        (Strategy::Contiguous, Build::CopyPage) => {
            routine!(handoff_contig_copy_page, handoff_contig_copy_page_end)
        }
        (Strategy::Contiguous, Build::LdpQ) => {
            routine!(handoff_contig_ldpq, handoff_contig_ldpq_end)
        }
        (Strategy::Contiguous, Build::LdpQDc64) => {
            routine!(handoff_contig_ldpq_dc64, handoff_contig_ldpq_dc64_end)
        }
        (Strategy::Contiguous, Build::LdpQDc128) => {
            routine!(handoff_contig_ldpq_dc128, handoff_contig_ldpq_dc128_end)
        }
        (Strategy::IndList, Build::Mops) => {
            routine!(handoff_ind_list_mops, handoff_ind_list_mops_end)
        }
        (Strategy::Contiguous, Build::Mops) => {
            routine!(handoff_contig_mops, handoff_contig_mops_end)
        }
        (Strategy::Legacy, _) => unreachable!("no hand-off for the MMU-off-only legacy loop"),
    }
}

/// The routines of a hand-off on several CPUs (asm/handoff.S) for
/// `strategy` and `kernel` built for `line`-byte lines: the boot CPU's
/// (`HANDOFF_SMP`) and the secondaries' (`HANDOFF_SHARE`).
pub fn handoff_smp_code(
    strategy: Strategy,
    kernel: CopyKernel,
    line: u64,
) -> (&'static [u8], &'static [u8]) {
    use Build::{CopyPage, LdpQ, LdpQDc64, LdpQDc128, Mops};
    use Strategy::{Contiguous, IndList};
    match (strategy, build(kernel, line)) {
        (IndList, CopyPage) => (
            routine!(
                handoff_smp_ind_list_copy_page,
                handoff_smp_ind_list_copy_page_end
            ),
            routine!(
                handoff_share_ind_list_copy_page,
                handoff_share_ind_list_copy_page_end
            ),
        ),
        (IndList, LdpQ) => (
            routine!(handoff_smp_ind_list_ldpq, handoff_smp_ind_list_ldpq_end),
            routine!(handoff_share_ind_list_ldpq, handoff_share_ind_list_ldpq_end),
        ),
        (IndList, LdpQDc64) => (
            routine!(
                handoff_smp_ind_list_ldpq_dc64,
                handoff_smp_ind_list_ldpq_dc64_end
            ),
            routine!(
                handoff_share_ind_list_ldpq_dc64,
                handoff_share_ind_list_ldpq_dc64_end
            ),
        ),
        (IndList, LdpQDc128) => (
            routine!(
                handoff_smp_ind_list_ldpq_dc128,
                handoff_smp_ind_list_ldpq_dc128_end
            ),
            routine!(
                handoff_share_ind_list_ldpq_dc128,
                handoff_share_ind_list_ldpq_dc128_end
            ),
        ),
        (IndList, Mops) => (
            routine!(handoff_smp_ind_list_mops, handoff_smp_ind_list_mops_end),
            routine!(handoff_share_ind_list_mops, handoff_share_ind_list_mops_end),
        ),
        (Contiguous, CopyPage) => (
            routine!(
                handoff_smp_contig_copy_page,
                handoff_smp_contig_copy_page_end
            ),
            routine!(
                handoff_share_contig_copy_page,
                handoff_share_contig_copy_page_end
            ),
        ),
        (Contiguous, LdpQ) => (
            routine!(handoff_smp_contig_ldpq, handoff_smp_contig_ldpq_end),
            routine!(handoff_share_contig_ldpq, handoff_share_contig_ldpq_end),
        ),
        (Contiguous, LdpQDc64) => (
            routine!(
                handoff_smp_contig_ldpq_dc64,
                handoff_smp_contig_ldpq_dc64_end
            ),
            routine!(
                handoff_share_contig_ldpq_dc64,
                handoff_share_contig_ldpq_dc64_end
            ),
        ),
        (Contiguous, LdpQDc128) => (
            routine!(
                handoff_smp_contig_ldpq_dc128,
                handoff_smp_contig_ldpq_dc128_end
            ),
            routine!(
                handoff_share_contig_ldpq_dc128,
                handoff_share_contig_ldpq_dc128_end
            ),
        ),
        (Contiguous, Mops) => (
            routine!(handoff_smp_contig_mops, handoff_smp_contig_mops_end),
            routine!(handoff_share_contig_mops, handoff_share_contig_mops_end),
        ),
        (Strategy::Legacy, _) => unreachable!("no hand-off for the MMU-off-only legacy loop"),
    }
}

/// The registers x0, x1, x3 a share walker takes for `share` (x2 is the
/// line, x4 the abort word).
pub fn share_args(share: Share<'_>) -> (u64, u64, u64) {
    match share {
        Share::Runs(r) => (r.as_ptr() as u64, r.len() as u64, 0),
        Share::List(l) => (l.first_slot, l.pages, l.dest),
    }
}

/// Calls the boot CPU's routine of a hand-off on several CPUs copied to
/// `code`, with its own share and the parameter block at `params`; it
/// never returns.
///
/// # Safety
/// As [`handoff`]; `params` holds a filled [`FinalParams`] in the
/// control area and every secondary it names waits in its routine.
pub unsafe fn handoff_smp(code: u64, share: Share<'_>, line: u64, params: u64) -> ! {
    let (a0, a1, a3) = share_args(share);
    // SAFETY: the caller placed a position-independent handoff_smp_*
    // routine at `code`: (x0, x1, line, x3, params) -> never.
    unsafe {
        let f: extern "C" fn(u64, u64, u64, u64, u64) -> ! = core::mem::transmute(code as usize);
        f(a0, a1, line, a3, params)
    }
}

/// Calls a hand-off routine copied to `code`; it never returns.
///
/// # Safety
/// `code` must hold a `handoff_code` copy made visible to instruction
/// fetch; its inputs, the DTB and the code must lie outside every
/// destination; the live translation (if any) must map all of them and the
/// destinations identity.
pub unsafe fn handoff(code: u64, input: Input<'_>, line: u64, dtb: u64, entry: u64) -> ! {
    let (a0, a1) = match input {
        Input::List(head) => (head, 0),
        Input::Runs(r) => (r.as_ptr() as u64, r.len() as u64),
    };
    // SAFETY: the caller placed a position-independent handoff_* routine
    // at `code`; its signature is (x0, x1, line, dtb, entry) -> never.
    unsafe {
        let f: extern "C" fn(u64, u64, u64, u64, u64) -> ! = core::mem::transmute(code as usize);
        f(a0, a1, line, dtb, entry)
    }
}

/// The loop currently running, for `rust_exception`.
pub static RUNNING: BootCpuCell<Option<Running>> = BootCpuCell::new(None);

/// Which measured loop is running.
#[derive(Clone, Copy)]
pub struct Running {
    pub strategy: Strategy,
    pub kernel: CopyKernel,
}

/// What a copy loop works on.
pub enum Input<'a> {
    /// A kimage list head entry.
    List(u64),
    /// `(src, dest, len)` runs.
    Runs(&'a [CopyRun]),
}

/// Runs one loop; returns the pages it copied. The list strategies take
/// `Input::List`, the contiguous one `Input::Runs`.
///
/// # Safety
/// Every source must be readable and every destination writable at the
/// addresses given, under the current translation (or none), and nothing
/// the stage still needs may lie in a destination.
pub unsafe fn run(strategy: Strategy, kernel: CopyKernel, input: Input<'_>, line: u64) -> u64 {
    RUNNING.set(Some(Running { strategy, kernel }));
    use Build::{CopyPage, LdpQ, LdpQDc64, LdpQDc128, Mops};
    // SAFETY: the caller guarantees the list/runs describe valid memory.
    let pages = unsafe {
        match (strategy, input, build(kernel, line)) {
            (Strategy::IndList, Input::List(head), CopyPage) => {
                reloc_ind_list_copy_page(head, 0, line)
            }
            (Strategy::IndList, Input::List(head), LdpQ) => reloc_ind_list_ldpq(head, 0, line),
            (Strategy::Legacy, Input::List(head), CopyPage) => {
                reloc_legacy_copy_page(head, 0, line)
            }
            (Strategy::IndList, Input::List(head), LdpQDc64) => {
                reloc_ind_list_ldpq_dc64(head, 0, line)
            }
            (Strategy::IndList, Input::List(head), LdpQDc128) => {
                reloc_ind_list_ldpq_dc128(head, 0, line)
            }
            (Strategy::IndList, Input::List(head), Mops) => reloc_ind_list_mops(head, 0, line),
            (Strategy::Legacy, Input::List(head), LdpQ) => reloc_legacy_ldpq(head, 0, line),
            (Strategy::Contiguous, Input::Runs(r), CopyPage) => {
                reloc_contig_copy_page(r.as_ptr(), r.len(), line)
            }
            (Strategy::Contiguous, Input::Runs(r), LdpQ) => {
                reloc_contig_ldpq(r.as_ptr(), r.len(), line)
            }
            (Strategy::Contiguous, Input::Runs(r), LdpQDc64) => {
                reloc_contig_ldpq_dc64(r.as_ptr(), r.len(), line)
            }
            (Strategy::Contiguous, Input::Runs(r), LdpQDc128) => {
                reloc_contig_ldpq_dc128(r.as_ptr(), r.len(), line)
            }
            (Strategy::Contiguous, Input::Runs(r), Mops) => {
                reloc_contig_mops(r.as_ptr(), r.len(), line)
            }
            (Strategy::Legacy, _, LdpQDc64 | LdpQDc128 | Mops) => {
                unreachable!("the matrix runs legacy with the walker's clean only")
            }
            _ => unreachable!("strategy and input disagree"),
        }
    };
    RUNNING.set(None);
    pages
}

/// One CPU's share of a relocation (`cpus=`), as the share loops take it.
#[derive(Clone, Copy)]
pub enum Share<'a> {
    /// A slice of the shared kimage list.
    List(ListShare),
    /// A per-CPU run array.
    Runs(&'a [CopyRun]),
}

impl Share<'_> {
    /// Whether there is nothing to copy (the loop is then not called: a
    /// list share always copies its first page).
    pub fn is_empty(&self) -> bool {
        match self {
            Share::List(l) => l.pages == 0,
            Share::Runs(r) => r.is_empty(),
        }
    }
}

/// The share loop for `strategy` and `kernel` built for `line`-byte lines.
fn share_fn(strategy: Strategy, kernel: CopyKernel, line: u64) -> ShareFn {
    use Build::{CopyPage, LdpQ, LdpQDc64, LdpQDc128, Mops};
    match (strategy, build(kernel, line)) {
        (Strategy::IndList, CopyPage) => share_ind_list_copy_page,
        (Strategy::IndList, LdpQ) => share_ind_list_ldpq,
        (Strategy::IndList, LdpQDc64) => share_ind_list_ldpq_dc64,
        (Strategy::IndList, LdpQDc128) => share_ind_list_ldpq_dc128,
        (Strategy::IndList, Mops) => share_ind_list_mops,
        (Strategy::Legacy, CopyPage) => share_legacy_copy_page,
        (Strategy::Legacy, LdpQ) => share_legacy_ldpq,
        (Strategy::Legacy, LdpQDc64 | LdpQDc128 | Mops) => {
            unreachable!("the matrix runs legacy with the walker's clean only")
        }
        (Strategy::Contiguous, CopyPage) => share_contig_copy_page,
        (Strategy::Contiguous, LdpQ) => share_contig_ldpq,
        (Strategy::Contiguous, LdpQDc64) => share_contig_ldpq_dc64,
        (Strategy::Contiguous, LdpQDc128) => share_contig_ldpq_dc128,
        (Strategy::Contiguous, Mops) => share_contig_mops,
    }
}

/// Copies one share with the loop for `strategy` and `kernel`; returns the
/// pages copied (fewer than the share when `abort` was raised). Touches no
/// state of the boot CPU: secondaries call it (`arch::smp`).
///
/// # Safety
/// As [`run`]; `abort` must point at a readable word for the whole copy.
pub unsafe fn run_share(
    strategy: Strategy,
    kernel: CopyKernel,
    share: Share<'_>,
    line: u64,
    abort: *const u64,
) -> u64 {
    if share.is_empty() {
        return 0;
    }
    let f = share_fn(strategy, kernel, line);
    debug_assert_eq!(
        strategy == Strategy::Contiguous,
        matches!(share, Share::Runs(_)),
        "strategy and share disagree"
    );
    let (a0, a1, a3) = share_args(share);
    // SAFETY: the caller guarantees the share describes valid memory and
    // `abort` stays readable; the loop's signature is ShareFn.
    unsafe { f(a0, a1, line, a3, abort) }
}

/// [`run_share`] on the boot CPU, with the loop recorded for the fault
/// report as [`run`] does.
///
/// # Safety
/// As [`run_share`].
pub unsafe fn run_boot_share(
    strategy: Strategy,
    kernel: CopyKernel,
    share: Share<'_>,
    line: u64,
    abort: *const u64,
) -> u64 {
    RUNNING.set(Some(Running { strategy, kernel }));
    // SAFETY: forwarded from the caller.
    let pages = unsafe { run_share(strategy, kernel, share, line, abort) };
    RUNNING.set(None);
    pages
}
