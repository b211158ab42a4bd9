//! Secondary CPUs for a relocation split across CPUs (`cpus=`): starting
//! them the way the DTB says (PSCI CPU_ON, or the spin table's
//! `cpu-release-addr`), their entry (`asm/smp.S`), the per-CPU slots
//! through which the boot CPU hands them work and they report, and their
//! side of each run: the boot CPU's map in their own registers, their
//! share copied with the same loops, the MMU off again. A secondary that
//! is told to stop, or faults, ends in `park` (`asm/entry.S`) with its
//! MMU and caches off and what it wrote cleaned to the PoC; the hand-off
//! moves parked CPUs on from there. At `mode=boot`'s hand-off a secondary
//! leaves the stage for good instead (`OP_HANDOFF`): it jumps to its
//! routine in the control area (asm/handoff.S), which copies its share of
//! the final copy and ends in the holding pen.
//!
//! # Synchronisation
//! Every shared word has exactly one writer per phase and its own
//! [`SLOT_ALIGN`]-byte block, so no cache line has two writers. Words are
//! `AtomicU64`s used with `load(Acquire)`/`store(Release)` only (`ldar` /
//! `stlr`: no exclusives, which need a global monitor memory accessed with
//! the MMU off may not have). Because the writer or the reader may run
//! with the MMU off (Device accesses that bypass the caches), a writer
//! cleans what it wrote to the PoC (payload first, then the word that
//! publishes it) and sends an event; a reader cleans and invalidates the
//! block before each read, so a stale line of its own cannot hide the
//! write. Secondaries wait with `wfe`; the boot CPU's waits are bounded
//! by the generic timer (`workload::smp`).

use core::arch::global_asm;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};

use aarch64_cpu::registers::HCR_EL2;
use tock_registers::interfaces::Readable;

use mmu_reloc::bootargs::{self, CopyKernel, Strategy};
use mmu_reloc::mmu::Regime;
use mmu_reloc::platform::PsciMethod;
use mmu_reloc::pmu::INST_RETIRED;
use mmu_reloc::region::Region;
use mmu_reloc::relocate::{CopyRun, ListShare};

use super::copy::{self, Share};
use super::mmu::{self as hw, MmuRegs};

/// CPU slots, the boot CPU's (index 0) included.
pub const CPUS_MAX: usize = bootargs::CPUS_MAX as usize;
/// Each secondary's stack.
const SMP_STACK_SIZE: usize = 16 << 10;
/// Alignment of every shared block: larger than any D-cache line the
/// stage runs with (checked at start: [`line_fits`]).
pub const SLOT_ALIGN: usize = 256;

global_asm!(
    include_str!("../../asm/smp.S"),
    MPIDR_AFF_MASK = const super::MPIDR_AFF_MASK,
    CPUS_MAX = const CPUS_MAX,
    CPTR_EL2_RES1 = const super::CPTR_EL2_RES1,
    CPACR_FPEN = const super::CPACR_FPEN,
    SCTLR_EL1_MMU_OFF = const super::SCTLR_EL1_MMU_OFF,
    SCTLR_EL2_MMU_OFF = const super::SCTLR_EL2_MMU_OFF,
    SMP_STACK_SIZE = const SMP_STACK_SIZE,
);

unsafe extern "C" {
    fn smp_secondary_entry();
    fn park() -> !;
}

#[repr(C, align(4096))]
struct Stacks([[u8; SMP_STACK_SIZE]; CPUS_MAX - 1]);

/// The secondaries' stacks (asm/smp.S: index i runs on slice i - 1), in
/// the stage's bss: outside every destination.
#[unsafe(no_mangle)]
static mut smp_stacks: Stacks = Stacks([[0; SMP_STACK_SIZE]; CPUS_MAX - 1]);

/// MPIDR affinity of each started CPU by index (0: the boot CPU, unused
/// by asm/smp.S); all ones where none.
#[unsafe(no_mangle)]
static mut smp_mpidr: [u64; CPUS_MAX] = [u64::MAX; CPUS_MAX];

/// The boot CPU's HCR_EL2, for secondaries entering at EL2.
#[unsafe(no_mangle)]
static mut smp_hcr_el2: u64 = 0;

/// The boot CPU's exception level: a secondary at another one parks.
static mut SMP_BOOT_EL: u64 = 0;

/// A shared block: one writer, its own cache lines.
#[repr(C, align(256))]
struct Block<T>(T);
const _: () = assert!(core::mem::align_of::<Block<u64>>() == SLOT_ALIGN);

/// What a secondary does next.
pub const OP_RUN: u64 = 1;
pub const OP_PARK: u64 = 2;
/// `mode=boot`: the map, then the control area's routine for good
/// ([`Jump`]).
pub const OP_HANDOFF: u64 = 3;

/// A secondary's state, as it reports it in its [`Status`].
pub mod state {
    /// Not started (or not yet arrived).
    pub const OFFLINE: u64 = 0;
    /// Arrived, MMU off, waiting for a command.
    pub const ONLINE: u64 = 1;
    /// The run's map is live on it; waiting for the release.
    pub const READY: u64 = 2;
    /// Its share is copied and cleaned to the PoC.
    pub const DONE: u64 = 3;
    /// MMU off again, waiting for the next command.
    pub const IDLE: u64 = 4;
    /// It faulted: the fault is in its status; it is parked.
    pub const FAULT: u64 = 5;
    /// Told to stop: parked.
    pub const PARKED: u64 = 6;
    /// It entered at another exception level than the boot CPU: parked.
    pub const BAD_EL: u64 = 7;
    /// On its way to the control area's hand-off routine (`OP_HANDOFF`);
    /// it answers no command any more.
    pub const HANDED: u64 = 8;

    /// The state's name, for error messages.
    pub fn name(state: u64) -> &'static str {
        match state {
            OFFLINE => "nothing",
            ONLINE => "online",
            READY => "ready",
            DONE => "done",
            IDLE => "idle",
            FAULT => "a fault",
            PARKED => "parked",
            BAD_EL => "a wrong EL",
            HANDED => "handed off",
            _ => "an unknown state",
        }
    }
}

/// What one secondary copies in one run.
#[derive(Clone, Copy)]
pub struct Work {
    pub strategy: Strategy,
    pub kernel: CopyKernel,
    pub list: ListShare,
    /// The run array (contiguous strategy): address and count.
    pub runs: (u64, u64),
    pub line: u64,
    /// The map to run under (`None`: MMU off).
    pub map: Option<MmuRegs>,
    pub regime: Regime,
    /// The run's id for the model plugin's markers (`arch::model_mark`),
    /// set around this CPU's share as the boot CPU sets them around its
    /// own, outside the PMU window.
    pub run: u64,
    /// `OP_HANDOFF` only: where to go with the share.
    pub jump: Option<Jump>,
}

/// Where a secondary goes at `mode=boot`'s hand-off: its `HANDOFF_SHARE`
/// routine in the control area (asm/handoff.S), with the words it uses
/// there. All of them lie in the control area, outside every destination.
#[derive(Clone, Copy)]
pub struct Jump {
    pub code: u64,
    /// The control area's park vectors (VBAR from here on).
    pub vectors: u64,
    /// Its done word (1 arrived, 2 share copied).
    pub done: u64,
    pub go: u64,
    pub abort: u64,
    /// The pen's `pen` entry.
    pub pen: u64,
}

struct Command {
    seq: AtomicU64,
    op: AtomicU64,
    work: UnsafeCell<Option<Work>>,
}

/// A fault a secondary took, as its vectors saw it.
#[derive(Clone, Copy, Default)]
pub struct RawFault {
    pub kind: u64,
    pub el: u64,
    pub esr: u64,
    pub elr: u64,
    pub far: u64,
    pub lr: u64,
    /// In a copy loop: pages done (x9) and the destination cursor (x12).
    pub in_copy: bool,
    pub mmu_on: bool,
    pub pages: u64,
    pub dest_cursor: u64,
}

/// What a secondary reports; written by it alone.
struct Status {
    seq: AtomicU64,
    state: AtomicU64,
    pages: UnsafeCell<u64>,
    /// INST_RETIRED across its share (0: the PMU does not count it).
    insns: UnsafeCell<u64>,
    el: UnsafeCell<u64>,
    fault: UnsafeCell<RawFault>,
}

/// Per-CPU memory shared between the boot CPU and the secondaries.
struct Slots {
    commands: [Block<Command>; CPUS_MAX],
    status: [Block<Status>; CPUS_MAX],
    /// The release of the work: the run's sequence number.
    go: Block<AtomicU64>,
    /// Raised by a CPU that faulted: the others stop at their next page.
    abort: Block<AtomicU64>,
    /// Set by each secondary around its copy loop (for its fault report).
    copying: [Block<AtomicU64>; CPUS_MAX],
}

// SAFETY: the fields are written by one CPU per phase under the protocol
// of the module comment; the UnsafeCells are published by a Release store
// of the word that follows them and read after the Acquire load of it.
unsafe impl Sync for Slots {}

const fn command_block() -> Block<Command> {
    Block(Command {
        seq: AtomicU64::new(0),
        op: AtomicU64::new(0),
        work: UnsafeCell::new(None),
    })
}

const fn status_block() -> Block<Status> {
    Block(Status {
        seq: AtomicU64::new(0),
        state: AtomicU64::new(state::OFFLINE),
        pages: UnsafeCell::new(0),
        insns: UnsafeCell::new(0),
        el: UnsafeCell::new(0),
        fault: UnsafeCell::new(RawFault {
            kind: 0,
            el: 0,
            esr: 0,
            elr: 0,
            far: 0,
            lr: 0,
            in_copy: false,
            mmu_on: false,
            pages: 0,
            dest_cursor: 0,
        }),
    })
}

const fn flag() -> Block<AtomicU64> {
    Block(AtomicU64::new(0))
}

static SLOTS: Slots = Slots {
    commands: [const { command_block() }; CPUS_MAX],
    status: [const { status_block() }; CPUS_MAX],
    go: flag(),
    abort: flag(),
    copying: [const { flag() }; CPUS_MAX],
};

fn block_of<T>(b: &Block<T>) -> Region {
    let start = b as *const Block<T> as u64;
    Region::new(start, start + core::mem::size_of::<Block<T>>() as u64)
}

/// Writes back and drops `r`'s lines so a reader with its MMU off (or a
/// stale line) sees memory.
fn publish(r: Region) {
    hw::clean_inval(r);
}

/// Drops any line of `r` this CPU holds, so the next read sees what the
/// writer cleaned to the PoC. This CPU never writes `r`, so nothing of
/// its own is lost.
fn refresh(r: Region) {
    hw::clean_inval(r);
}

/// Whether every shared block covers whole lines of this CPU's D-cache
/// and whole write-back granules (CTR_EL0.CWG: a write-back may write
/// that much; when CWG is 0 the architecture allows up to 2 KiB).
pub fn line_fits() -> bool {
    write_granule() as usize <= SLOT_ALIGN
}

/// The most a line fill or write-back of this CPU's D-cache may cover:
/// the larger of the smallest line and the write-back granule.
pub fn write_granule() -> u64 {
    let cwg = super::sysreg::ctr_el0().read(super::sysreg::CTR_EL0::CWG);
    let granule = if cwg == 0 { 2048 } else { 4 << cwg };
    hw::dcache_line().max(granule)
}

/// Where secondaries enter: the physical address of `asm/smp.S`'s entry
/// (the stage runs identity mapped or with the MMU off).
pub fn entry_point() -> u64 {
    smp_secondary_entry as *const () as u64
}

/// Records the CPUs to start (index 1.. in `mpidrs` order) and the boot
/// CPU's EL2 regime, and cleans the tables to the PoC for CPUs that read
/// them with the MMU off. Resets every slot to OFFLINE.
pub fn prepare(mpidrs: &[u64]) {
    let table = &raw mut smp_mpidr;
    // SAFETY: the boot CPU alone writes the table, before any secondary
    // is started; asm/smp.S reads it from memory afterwards.
    unsafe {
        for i in 0..CPUS_MAX {
            let v = if i == 0 {
                super::boot_mpidr()
            } else {
                mpidrs.get(i - 1).copied().unwrap_or(u64::MAX)
            };
            core::ptr::write_volatile((table as *mut u64).add(i), v);
        }
        if super::current_el() == 2 {
            core::ptr::write_volatile(&raw mut smp_hcr_el2, HCR_EL2.get());
        }
        core::ptr::write_volatile(&raw mut SMP_BOOT_EL, super::current_el() as u64);
    }
    let start = table as u64;
    publish(Region::new(start, start + (CPUS_MAX * 8) as u64));
    for word in [&raw const smp_hcr_el2, &raw const SMP_BOOT_EL] {
        publish(Region::new(word as u64, word as u64 + 8));
    }
    for i in 1..CPUS_MAX {
        let s = &SLOTS.status[i].0;
        s.state.store(state::OFFLINE, Ordering::Release);
        s.seq.store(0, Ordering::Release);
        publish(block_of(&SLOTS.status[i]));
    }
}

/// Starts CPU `mpidr` at [`entry_point`] with PSCI CPU_ON (SMC64
/// 0xC4000003) through `conduit`.
pub fn psci_cpu_on(conduit: PsciMethod, mpidr: u64) -> Result<(), smccc::psci::Error> {
    let entry = entry_point();
    match conduit {
        PsciMethod::Hvc => smccc::psci::cpu_on::<smccc::Hvc>(mpidr, entry, 0),
        PsciMethod::Smc => smccc::psci::cpu_on::<smccc::Smc>(mpidr, entry, 0),
    }
}

/// Starts a spin-table CPU: writes [`entry_point`] to its
/// `cpu-release-addr`, cleans it to the PoC (the CPU polls memory with
/// its MMU off), then `sev`, as Linux's smp_spin_table.c does.
pub fn spin_table_release(release: u64) {
    // SAFETY: the DTB names `release` as the word this CPU polls; it is
    // reserved memory nothing else of the stage writes.
    unsafe { core::ptr::write_volatile(release as *mut u64, entry_point()) };
    hw::clean_inval(Region::new(release, release + 8));
    aarch64_cpu::asm::sev();
}

/// The state CPU `i` last reported, with the sequence number it refers to.
/// The number is read first: a CPU stores it before the first state of a
/// run, so the state read after it is that run's (or a later one's).
pub fn status(i: usize) -> (u64, u64) {
    let b = &SLOTS.status[i];
    refresh(block_of(b));
    let seq = b.0.seq.load(Ordering::Acquire);
    (seq, b.0.state.load(Ordering::Acquire))
}

/// The pages CPU `i` copied in its last run, read after it reported DONE.
pub fn pages(i: usize) -> u64 {
    let b = &SLOTS.status[i];
    refresh(block_of(b));
    // SAFETY: published before the DONE state this reader saw.
    unsafe { *b.0.pages.get() }
}

/// The instructions CPU `i` retired in its last share (INST_RETIRED on its
/// own PMU), read after it reported DONE; `None` where its PMU does not
/// count them (QEMU without `-icount`).
pub fn insns(i: usize) -> Option<u64> {
    let b = &SLOTS.status[i];
    refresh(block_of(b));
    // SAFETY: published before the DONE state this reader saw.
    let n = unsafe { *b.0.insns.get() };
    (n != 0).then_some(n)
}

/// Counts this CPU's retired instructions around `f` on counter 0 of its
/// own PMU (programmed here for INST_RETIRED alone when the caller did not
/// already, `program`); 0 where the PMU does not implement the event.
pub fn count_insns<R>(program: bool, f: impl FnOnce() -> R) -> (R, u64) {
    let c = super::pmu::caps();
    if !mmu_reloc::pmu::implemented(c.pmceid0, c.pmceid1, INST_RETIRED) || c.counters == 0 {
        return (f(), 0);
    }
    if program {
        super::pmu::start(&[INST_RETIRED]);
    }
    let (mut a, mut b) = ([0u64; 1], [0u64; 1]);
    super::pmu::read(&mut a, true);
    let r = f();
    super::pmu::read(&mut b, false);
    (r, b[0].wrapping_sub(a[0]))
}

/// The EL CPU `i` entered at (after it reported ONLINE or BAD_EL).
pub fn entered_el(i: usize) -> u64 {
    let b = &SLOTS.status[i];
    refresh(block_of(b));
    // SAFETY: published before the state this reader saw.
    unsafe { *b.0.el.get() }
}

/// The fault CPU `i` reported (after its FAULT state was seen).
pub fn fault(i: usize) -> RawFault {
    let b = &SLOTS.status[i];
    refresh(block_of(b));
    // SAFETY: published before the FAULT state this reader saw.
    unsafe { *b.0.fault.get() }
}

/// Sends CPU `i` command `op` (with `work` for OP_RUN) as number `seq`.
pub fn command(i: usize, seq: u64, op: u64, work: Option<Work>) {
    let b = &SLOTS.commands[i];
    // SAFETY: the secondary reads `work` only after it sees `seq`, which
    // is stored (and cleaned) after `work` is cleaned to the PoC.
    unsafe { *b.0.work.get() = work };
    b.0.op.store(op, Ordering::Release);
    publish(block_of(b));
    b.0.seq.store(seq, Ordering::Release);
    publish(block_of(b));
    aarch64_cpu::asm::sev();
}

/// Clears the abort word before a run.
pub fn clear_abort() {
    SLOTS.abort.0.store(0, Ordering::Release);
    publish(block_of(&SLOTS.abort));
}

/// Raises the abort word: every CPU still copying stops at its next page
/// (a secondary that faulted, or the boot CPU giving up on one).
pub fn raise_abort() {
    SLOTS.abort.0.store(1, Ordering::Release);
    publish(block_of(&SLOTS.abort));
}

/// Whether a CPU raised the abort word.
pub fn aborted() -> bool {
    refresh(block_of(&SLOTS.abort));
    SLOTS.abort.0.load(Ordering::Acquire) != 0
}

/// The abort word the share loops poll.
pub fn abort_word() -> *const u64 {
    SLOTS.abort.0.as_ptr()
}

/// Releases run `seq` to every CPU waiting in READY.
pub fn release(seq: u64) {
    SLOTS.go.0.store(seq, Ordering::Release);
    publish(block_of(&SLOTS.go));
    aarch64_cpu::asm::sev();
}

/// The index of the secondary running this, if it is one: its MPIDR in
/// the table of started CPUs (the boot CPU is never found there).
pub fn this_secondary() -> Option<usize> {
    let me = super::boot_mpidr();
    let table = &raw const smp_mpidr;
    // SAFETY: the table is written only before secondaries start.
    (1..CPUS_MAX).find(|&i| unsafe { core::ptr::read_volatile((table as *const u64).add(i)) } == me)
}

// ---- the secondary's side -------------------------------------------------

fn report(i: usize, seq: u64, st: u64) {
    let b = &SLOTS.status[i];
    publish(block_of(b)); // what went before (pages, fault, el) first
    b.0.seq.store(seq, Ordering::Release);
    b.0.state.store(st, Ordering::Release);
    publish(block_of(b));
    aarch64_cpu::asm::sev();
}

/// This secondary's own stack: the memory it writes besides its status.
fn own_stack(i: usize) -> Region {
    let base = &raw const smp_stacks as u64 + ((i - 1) * SMP_STACK_SIZE) as u64;
    Region::new(base, base + SMP_STACK_SIZE as u64)
}

/// Turns this secondary's MMU and caches off, its stack, status and the
/// abort word cleaned to the PoC first (the destinations were cleaned line
/// by line by the copy loop).
fn mmu_off(i: usize, regime: Regime) {
    if !hw::enabled(regime) {
        return;
    }
    let keep = [
        own_stack(i),
        block_of(&SLOTS.status[i]),
        block_of(&SLOTS.copying[i]),
        block_of(&SLOTS.abort),
    ]
    .map(|r| [r.start, r.end]);
    // SAFETY: `keep` covers everything this CPU wrote with the caches on
    // that anyone reads later; it runs identity mapped.
    unsafe { hw::disable_pairs(regime, &keep) };
}

fn wait_command(i: usize, seen: u64) -> (u64, u64) {
    let b = &SLOTS.commands[i];
    loop {
        refresh(block_of(b));
        let seq = b.0.seq.load(Ordering::Acquire);
        if seq != seen {
            refresh(block_of(b));
            return (seq, b.0.op.load(Ordering::Acquire));
        }
        aarch64_cpu::asm::wfe();
    }
}

fn wait_go(seq: u64) {
    loop {
        refresh(block_of(&SLOTS.go));
        if SLOTS.go.0.load(Ordering::Acquire) == seq {
            return;
        }
        aarch64_cpu::asm::wfe();
    }
}

/// One run on secondary `i`: its map, the release, its share, DONE, MMU
/// off, IDLE.
fn run(i: usize, seq: u64, work: Work) {
    if let Some(regs) = work.map {
        // SAFETY: the boot CPU's map identity-maps all RAM (the stage, this
        // stack, the slots, sources, list and destinations).
        unsafe { hw::enable_regs(work.regime, regs, &[own_stack(i)]) };
    }
    report(i, seq, state::READY);
    wait_go(seq);
    let share = match work.strategy {
        Strategy::Contiguous => Share::Runs(
            // SAFETY: the boot CPU keeps the run array alive and unchanged
            // until every CPU reported IDLE.
            unsafe {
                core::slice::from_raw_parts(work.runs.0 as *const CopyRun, work.runs.1 as usize)
            },
        ),
        _ => Share::List(work.list),
    };
    SLOTS.copying[i].0.store(1, Ordering::Relaxed);
    super::model_mark(true, work.run);
    // SAFETY: the boot CPU planned the share outside everything in use
    // and keeps it alive until this CPU reports IDLE.
    let (pages, insns) = count_insns(true, || unsafe {
        copy::run_share(work.strategy, work.kernel, share, work.line, abort_word())
    });
    super::model_mark(false, work.run);
    SLOTS.copying[i].0.store(0, Ordering::Relaxed);
    // SAFETY: only this CPU writes its status.
    unsafe {
        *SLOTS.status[i].0.pages.get() = pages;
        *SLOTS.status[i].0.insns.get() = insns;
    }
    report(i, seq, state::DONE);
    mmu_off(i, work.regime);
    report(i, seq, state::IDLE);
}

/// `OP_HANDOFF` on secondary `i`: the final copy's map (or none, as the
/// boot CPU runs it), exceptions to the park vectors, HANDED, then its
/// routine in the control area, which never comes back to the stage.
fn hand_off(i: usize, seq: u64, work: Work, jump: Jump) -> ! {
    if let Some(regs) = work.map {
        // SAFETY: the boot CPU's map for the final copy identity-maps the
        // stage, this stack, the control area, sources and list.
        unsafe { hw::enable_regs(work.regime, regs, &[own_stack(i)]) };
    }
    super::mask_all();
    super::set_vbar(jump.vectors);
    report(i, seq, state::HANDED);
    let share = match work.strategy {
        Strategy::Contiguous => Share::Runs(
            // SAFETY: the boot CPU put this run array in the control area,
            // which nothing overwrites before the next stage.
            unsafe {
                core::slice::from_raw_parts(work.runs.0 as *const CopyRun, work.runs.1 as usize)
            },
        ),
        _ => Share::List(work.list),
    };
    let (a0, a1, a3) = copy::share_args(share);
    // The stage's lines this CPU dirtied go to memory before the stage is
    // overwritten (a cacheable overwrite would take them coherently
    // anyway; with the MMU off it would not).
    hw::clean_inval(own_stack(i));
    // SAFETY: a position-independent HANDOFF_SHARE routine the boot CPU
    // copied to `code` and made visible to instruction fetch:
    // (x0, x1, line, x3, abort, done, go, pen) -> never.
    unsafe {
        let f: extern "C" fn(u64, u64, u64, u64, u64, u64, u64, u64) -> ! =
            core::mem::transmute(jump.code as usize);
        f(
            a0, a1, work.line, a3, jump.abort, jump.done, jump.go, jump.pen,
        )
    }
}

/// Rust entry of a secondary (asm/smp.S), on its own stack, MMU off.
#[unsafe(no_mangle)]
extern "C" fn smp_secondary_main(index: u64) -> ! {
    let i = index as usize;
    let el = super::current_el() as u64;
    // SAFETY: only this CPU writes its status.
    unsafe { *SLOTS.status[i].0.el.get() = el };
    // SAFETY: written and cleaned by the boot CPU before it started us.
    let boot_el = unsafe { core::ptr::read_volatile(&raw const SMP_BOOT_EL) };
    if el != boot_el {
        // Another regime than the boot CPU's map and copy loops assume.
        report(i, 0, state::BAD_EL);
        // SAFETY: MMU off; the status is cleaned; `park` never returns.
        unsafe { park() }
    }
    // As on the boot CPU: an SError from a stray write is reported.
    super::unmask_serror();
    report(i, 0, state::ONLINE);
    let mut seen = 0;
    loop {
        let (seq, op) = wait_command(i, seen);
        seen = seq;
        // SAFETY: published before `seq` (see `command`).
        let work = unsafe { *SLOTS.commands[i].0.work.get() };
        match (op, work) {
            (OP_RUN, Some(w)) => run(i, seq, w),
            (OP_HANDOFF, Some(w @ Work { jump: Some(j), .. })) => hand_off(i, seq, w, j),
            _ => {
                report(i, seq, state::PARKED);
                // SAFETY: the MMU is off between runs; everything this CPU
                // wrote is cleaned (`mmu_off`, `report`).
                unsafe { park() }
            }
        }
    }
}

/// A fault on secondary `i` (from `exception::rust_exception`): recorded
/// in its status, the abort word raised so the others stop at their next
/// page, MMU off, parked.
pub fn secondary_fault(i: usize, mut f: RawFault) -> ! {
    let regime = super::current_regime();
    f.in_copy = SLOTS.copying[i].0.load(Ordering::Relaxed) != 0;
    f.mmu_on = hw::enabled(regime);
    // SAFETY: only this CPU writes its status.
    unsafe { *SLOTS.status[i].0.fault.get() = f };
    raise_abort();
    let seq = SLOTS.status[i].0.seq.load(Ordering::Acquire);
    report(i, seq, state::FAULT);
    mmu_off(i, regime);
    // SAFETY: MMU off, what it wrote is cleaned; `park` never returns.
    unsafe { park() }
}

/// `RawFault::kind` of a panic on a secondary (not a vector index).
pub const KIND_PANIC: u64 = u64::MAX;

/// A panic on secondary `i`: reported like a fault, kind [`KIND_PANIC`].
pub fn secondary_panic(i: usize) -> ! {
    secondary_fault(
        i,
        RawFault {
            kind: KIND_PANIC,
            el: super::current_el().into(),
            ..Default::default()
        },
    )
}
