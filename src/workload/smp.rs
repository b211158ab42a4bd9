//! A relocation on several CPUs (`cpus=`): the boot CPU starts the other
//! CPUs the way the DTB says (once per boot), and for each run splits the
//! work (`mmu_reloc::relocate::split`), hands every secondary its share
//! with the run's map, releases them all at once, copies its own share,
//! and waits for every CPU to report done. Every wait is bounded by the
//! generic timer; a CPU that does not come up, answer or finish is an
//! error naming its number and MPIDR, never a hang. A fault on a
//! secondary is reported with its number (exit status 3, as a fault on
//! the boot CPU). When the team is dropped, every secondary still
//! listening is sent to `park` (asm/entry.S), where the hand-off finds
//! the CPUs parked in the stage. At `mode=boot` the team instead sends
//! every secondary to its routine in the control area (`Team::hand_off`)
//! and waits until each is there: from then on none runs the stage.
//!
//! CPUs that entered the Image by themselves (a loader that released all
//! of them, see asm/entry.S) are parked on `park_mailbox`, which belongs
//! to the hand-off: `cpus=` above 1 refuses to run then, naming the CPU.

use alloc::vec::Vec;

use core::cell::Cell;

use mmu_reloc::bootargs::{CopyKernel, Inject, Strategy};
use mmu_reloc::exit::{Error, ExitStatus};
use mmu_reloc::mmu::{BuiltMap, Regime};
use mmu_reloc::platform::{self, PsciMethod};
use mmu_reloc::pmu::{Event, INST_RETIRED};
use mmu_reloc::region::Region;
use mmu_reloc::relocate::{CopyRun, IND_INDIRECTION, IND_SOURCE, ListShare, balanced, split_runs};

use crate::arch::exception::{CopyContext, Fault};
use crate::arch::smp::{self, RawFault, state};
use crate::arch::{self, copy, mmu as hw};
use crate::println;

use super::timing::measure_marked;
use super::{Sample, Workload, World};

/// How long a started CPU may take to arrive, or to answer a command.
const ANSWER_NS: u64 = 5_000_000_000;
/// How long a share may take: this much, plus [`PAGE_NS`] per page.
const SHARE_NS: u64 = 10_000_000_000;
const PAGE_NS: u64 = 1_000_000;
/// How long a share may take under `inject=secondary-hang` (a test of
/// the bounded wait that need not last [`SHARE_NS`]).
const HANG_SHARE_NS: u64 = 2_000_000_000;

/// One CPU's part of a run: pages copied, instructions retired (`None`:
/// its PMU does not count them).
pub type Share = (u64, Option<u64>);

/// How `cpus=` is met on this machine.
pub struct Team {
    /// MPIDR affinity by CPU number: 0 is the boot CPU.
    mpidrs: Vec<u64>,
    regime: Regime,
    /// The last command's sequence number.
    seq: Cell<u64>,
}

/// `cpus=n` refused because a CPU entered the Image by itself and parked
/// on the hand-off's mailbox (see the module comment), if one did.
fn self_entered(n: u32) -> Option<Error> {
    arch::parked_cpu().map(|p| {
        Error::input(format_args!(
            "cpus={n}: CPU {p:#x} entered the Image by itself and is parked in the stage, which cannot start it again; use cpus=1 (or release only the boot CPU into the Image)"
        ))
    })
}

/// How one secondary is started.
#[derive(Clone, Copy)]
enum Method {
    Psci(PsciMethod),
    SpinTable(u64),
}

fn method(w: &World<'_>, mpidr: u64) -> Option<Method> {
    let spin = w.platform.spin_table.iter().find(|c| c.mpidr == mpidr);
    match (spin, w.platform.psci) {
        (Some(c), _) => Some(Method::SpinTable(c.release)),
        // An hvc at EL2 would trap to the stage itself.
        (None, Some(PsciMethod::Hvc)) if w.regime == Regime::El2 => None,
        (None, Some(m)) => Some(Method::Psci(m)),
        (None, None) => None,
    }
}

impl Team {
    /// The CPUs `cpus=` asks for, started and waiting with their MMU off;
    /// `None` for one CPU. Runs with the MMU off (before any map).
    pub fn start(w: &World<'_>) -> Result<Option<Team>, Error> {
        let listed = w.platform.cpu_ids.len() as u32;
        let n = platform::cpus_wanted(w.args.cpus, listed)
            .map_err(|e| Error::input(format_args!("{e}")))?;
        if n == 1 {
            return Ok(None);
        }
        if let Some(e) = self_entered(n) {
            return Err(e);
        }
        if !smp::line_fits() {
            return Err(Error::input(format_args!(
                "cpus={n}: a D-cache write-back granule of {} bytes (CTR_EL0) exceeds the {}-byte CPU slots",
                smp::write_granule(),
                smp::SLOT_ALIGN
            )));
        }
        let boot = arch::boot_mpidr();
        let mut mpidrs = alloc::vec![boot];
        mpidrs.extend(
            w.platform
                .cpu_ids
                .iter()
                .filter(|m| **m != boot)
                .take(n as usize - 1),
        );
        if mpidrs.len() < n as usize {
            return Err(Error::input(format_args!(
                "cpus={n}: the DTB lists only {} CPU(s) besides the boot CPU (MPIDR {boot:#x})",
                mpidrs.len() - 1
            )));
        }
        smp::prepare(&mpidrs[1..]);
        let team = Team {
            mpidrs,
            regime: w.regime,
            seq: Cell::new(0),
        };
        for (i, &m) in team.mpidrs.iter().enumerate().skip(1) {
            team.start_one(w, i, m)?;
        }
        let names: Vec<alloc::string::String> = team
            .mpidrs
            .iter()
            .map(|m| alloc::format!("{m:#x}"))
            .collect();
        println!(
            "smp: {n} CPUs copy each run (MPIDR {}; boot CPU first)",
            names.join(", ")
        );
        Ok(Some(team))
    }

    fn start_one(&self, w: &World<'_>, i: usize, mpidr: u64) -> Result<(), Error> {
        let n = self.mpidrs.len();
        match method(w, mpidr) {
            Some(Method::SpinTable(release)) => smp::spin_table_release(release),
            Some(Method::Psci(conduit)) => smp::psci_cpu_on(conduit, mpidr).map_err(|e| {
                Error::input(format_args!(
                    "cpus={n}: PSCI CPU_ON ({}) of CPU {i} (MPIDR {mpidr:#x}) failed: {e}",
                    conduit.name()
                ))
            })?,
            None => {
                return Err(Error::input(format_args!(
                    "cpus={n}: CPU {i} (MPIDR {mpidr:#x}) has no enable method the stage can use (a spin-table, or PSCI by smc at EL2 / hvc or smc at EL1)"
                )));
            }
        }
        let arrived = arch::bounded(ANSWER_NS, || match smp::status(i).1 {
            state::OFFLINE => None,
            s => Some(s),
        });
        match arrived {
            Some(state::ONLINE) => Ok(()),
            Some(state::BAD_EL) => Err(Error::input(format_args!(
                "cpus={n}: CPU {i} (MPIDR {mpidr:#x}) entered at EL{}, the boot CPU runs at EL{}",
                smp::entered_el(i),
                self.regime.el()
            ))),
            // A CPU released into the Image with the boot CPU may park
            // only now (it elects itself later than the boot CPU got here):
            // that, not the release, is why it is silent.
            _ => Err(self_entered(n as u32)
                .unwrap_or_else(|| self.silent(i, "come up", ExitStatus::Input))),
        }
    }

    /// CPU `i` did not `what` in time: exit status 1 (bad input: a DTB
    /// that names a CPU that does not come up) or 2 (a run that failed).
    fn silent(&self, i: usize, what: &str, status: ExitStatus) -> Error {
        let (seq, st) = smp::status(i);
        let last = match self.seq.get() {
            0 => alloc::format!("it reported {}", state::name(st)),
            n => alloc::format!("it last reported {} for run {seq} of {n}", state::name(st)),
        };
        Error::new(
            status,
            format_args!(
                "cpus={}: CPU {i} (MPIDR {:#x}) did not {what} within the time allowed ({last})",
                self.mpidrs.len(),
                self.mpidrs[i],
            ),
        )
    }

    /// How many CPUs copy each run.
    pub fn cpus(&self) -> usize {
        self.mpidrs.len()
    }

    /// MPIDR affinity by CPU number (0: the boot CPU).
    pub fn mpidrs(&self) -> &[u64] {
        &self.mpidrs
    }

    /// How long the final copy of `mode=boot` may take once the boot CPU
    /// copied its share: as a share of a benchmark run of `pages` pages.
    pub fn final_ns(pages: u64) -> u64 {
        SHARE_NS + pages * PAGE_NS
    }

    /// `mode=boot`: sends every secondary to its hand-off routine with
    /// `work(i)` and waits (bounded) until `arrived(i)` says it runs there,
    /// so that no CPU executes the stage once the final copy starts. A
    /// fault on the way is reported as in a run.
    pub fn hand_off(
        &self,
        (strategy, kernel): (Strategy, CopyKernel),
        work: impl Fn(usize) -> smp::Work,
        arrived: impl Fn(usize) -> bool,
    ) -> Result<(), Error> {
        let seq = self.seq.get() + 1;
        self.seq.set(seq);
        for i in 1..self.cpus() {
            smp::command(i, seq, smp::OP_HANDOFF, Some(work(i)));
        }
        for i in 1..self.cpus() {
            let there = arch::bounded(ANSWER_NS, || match smp::status(i) {
                (s, state::FAULT) if s == seq => Some(false),
                _ => arrived(i).then_some(true),
            });
            match there {
                Some(true) => {}
                Some(false) => return Err(self.fault_error(i, (strategy, kernel), (0, 0))),
                None => {
                    return Err(self.silent(i, "reach its hand-off routine", ExitStatus::Verify));
                }
            }
        }
        Ok(())
    }

    /// Waits until CPU `i` reports one of `want` (or FAULT) for run `seq`.
    fn wait(&self, i: usize, seq: u64, want: &[u64], ns: u64, what: &str) -> Result<u64, Error> {
        arch::bounded(ns, || match smp::status(i) {
            (s, st) if s == seq && (want.contains(&st) || st == state::FAULT) => Some(st),
            _ => None,
        })
        .ok_or_else(|| self.silent(i, what, ExitStatus::Verify))
    }

    /// The fault CPU `i` reported, as the boot CPU's would read.
    /// `copied`: the pages the other CPUs had copied when they stopped.
    fn fault_error(
        &self,
        i: usize,
        (strategy, kernel): (Strategy, CopyKernel),
        (copied, total): (u64, u64),
    ) -> Error {
        let RawFault {
            kind,
            el,
            esr,
            elr,
            far,
            lr,
            in_copy,
            mmu_on,
            pages,
            dest_cursor,
        } = smp::fault(i);
        if kind == smp::KIND_PANIC {
            return Error::new(
                ExitStatus::Panic,
                format_args!(
                    "CPU {i} (MPIDR {:#x}): panic on a secondary (in a copy loop: {in_copy})",
                    self.mpidrs[i]
                ),
            );
        }
        let f = Fault {
            kind,
            el: el as u8,
            esr,
            elr,
            far,
            lr,
            copy: in_copy.then_some(CopyContext {
                strategy,
                kernel,
                mmu_on,
                pages,
                dest_cursor,
            }),
        };
        let copied = copied + if in_copy { pages } else { 0 };
        Error::new(
            ExitStatus::Exception,
            format_args!(
                "CPU {i} (MPIDR {:#x}): {f}; the CPUs stopped with {copied} of {total} pages copied",
                self.mpidrs[i]
            ),
        )
    }

    /// Runs one configuration's copy on every CPU: `map` is live on the
    /// boot CPU (or `None`, MMU off) and is installed on each secondary
    /// before the release. Returns the pages copied by all, the sample
    /// from the release to the last CPU's report, and each CPU's share
    /// (pages, and instructions retired on its own PMU where it counts).
    pub fn copy(
        &self,
        w: &World<'_>,
        wl: &Workload,
        (strategy, kernel): (Strategy, CopyKernel),
        input: &copy::Input<'_>,
        map: Option<&BuiltMap>,
        events: &[Event],
    ) -> Result<(u64, Sample, Vec<Share>), Error> {
        let n = self.cpus();
        let (list, runs) = split_input(w, wl, input, n);
        let share = |i: usize| match input {
            copy::Input::List(_) => copy::Share::List(list[i]),
            copy::Input::Runs(_) => copy::Share::Runs(&runs[i]),
        };
        let regs = map.map(|m| hw::MmuRegs::of(self.regime, m));
        let seq = self.seq.get() + 1;
        self.seq.set(seq);
        smp::clear_abort();
        // The id `measure_marked` below gives this run.
        let run = super::timing::next_run();
        for i in 1..n {
            let (list, runs) = match share(i) {
                copy::Share::List(l) => (l, (0, 0)),
                copy::Share::Runs(r) => (ListShare::default(), (r.as_ptr() as u64, r.len() as u64)),
            };
            let work = smp::Work {
                strategy,
                kernel,
                list,
                runs,
                line: wl.line,
                map: regs,
                regime: self.regime,
                run,
                jump: None,
            };
            smp::command(i, seq, smp::OP_RUN, Some(work));
        }
        let mut faulted = None;
        for i in 1..n {
            if self.wait(i, seq, &[state::READY], ANSWER_NS, "install the map")? == state::FAULT {
                faulted.get_or_insert(i);
            }
        }
        let pages_max = balanced(wl.bytes / mmu_reloc::region::SZ_4K, n)[0].end;
        let share_ns = if w.args.inject == Inject::SecondaryHang {
            HANG_SHARE_NS
        } else {
            SHARE_NS + pages_max * PAGE_NS
        };
        let (done, sample) = measure_marked(events, false, || {
            smp::release(seq);
            let boot_share = || {
                // SAFETY: as the single-CPU run: every source and list page
                // lies outside every destination, destinations outside the
                // stage, DTB and tables; the live translation reaches them.
                unsafe {
                    copy::run_boot_share(strategy, kernel, share(0), wl.line, smp::abort_word())
                }
            };
            // Counter 0 counts INST_RETIRED in every group that has it.
            // The model plugin's markers go round this CPU's share, as
            // each secondary's go round its own.
            crate::arch::model_mark(true, run);
            let own = if events.first() == Some(&INST_RETIRED) {
                smp::count_insns(false, boot_share)
            } else {
                (boot_share(), 0)
            };
            crate::arch::model_mark(false, run);
            let mut states = alloc::vec![state::DONE; n];
            for (i, st) in states.iter_mut().enumerate().skip(1) {
                *st = self
                    .wait(
                        i,
                        seq,
                        &[state::DONE, state::IDLE],
                        share_ns,
                        "finish its share",
                    )
                    // The others stop copying before the error is told.
                    .inspect_err(|_| smp::raise_abort())?;
            }
            Ok::<_, Error>((own, states))
        });
        let ((own, own_insns), states) = done?;
        let mut shares = alloc::vec![(own, (own_insns != 0).then_some(own_insns))];
        for (i, &st) in states.iter().enumerate().skip(1) {
            if st == state::FAULT {
                faulted.get_or_insert(i);
                continue;
            }
            shares.push((smp::pages(i), smp::insns(i)));
            if self.wait(i, seq, &[state::IDLE], ANSWER_NS, "turn its MMU off")? == state::FAULT {
                faulted.get_or_insert(i);
            }
        }
        if let Some(i) = faulted {
            let copied = shares.iter().map(|s| s.0).sum();
            let total = wl.bytes / mmu_reloc::region::SZ_4K;
            return Err(self.fault_error(i, (strategy, kernel), (copied, total)));
        }
        if smp::aborted() {
            return Err(Error::verify(
                "cpus=: the abort word was raised without a fault",
            ));
        }
        let pages = shares.iter().map(|s| s.0).sum();
        Ok((pages, sample, shares))
    }

    /// `inject=secondary-hang` in a benchmark: the list slot of the last
    /// CPU's third page (or its last) becomes an IND_INDIRECTION to a page
    /// that points at itself, so that CPU never finishes a list run and
    /// the boot CPU's bounded wait (shortened to [`HANG_SHARE_NS`]) gives
    /// up with an error naming it. The runs of the contiguous strategy
    /// are left alone: they cannot loop without copying.
    pub fn inject_hang(&self, w: &World<'_>, wl: &Workload) {
        if w.args.inject == Inject::SecondaryHang {
            self.point_slot(wl, self.cpus() - 1, heap_loop_page() | IND_INDIRECTION);
        }
    }

    /// For `inject=`: the list slot of a page in CPU `cpu`'s share (its
    /// third page, or its last if it has fewer) is pointed at `hole`.
    pub fn inject_list(&self, w: &World<'_>, wl: &Workload) {
        let Some(cpu) = inject_target(w, self.cpus()) else {
            return;
        };
        self.point_slot(wl, cpu, super::fault_hole(w) | IND_SOURCE);
    }

    /// Writes `entry` into the list slot of CPU `cpu`'s third page (or its
    /// last if it has fewer).
    fn point_slot(&self, wl: &Workload, cpu: usize, entry: u64) {
        let shares = balanced(wl.bytes / mmu_reloc::region::SZ_4K, self.cpus());
        let r = &shares[cpu];
        if r.is_empty() {
            return;
        }
        let page = (r.start + 2).min(r.end - 1);
        if let Some(slot) = wl.plan.page_slot(page) {
            let mut mem = crate::arch::mem::IdentityMem;
            mmu_reloc::physmem::PhysMem::write_u64(&mut mem, slot, entry);
        }
    }
}

/// `inject=secondary-hang`: makes the page at `at` a list page whose
/// first entry is an IND_INDIRECTION to the page itself, cleaned to the
/// PoC (the walker may run with its MMU off). A list walker that reaches
/// it loops there for good, copying nothing (the abort check comes after
/// a page). Returns `at`.
///
/// # Safety
/// `at` is a page-aligned, writable word that nothing else uses.
pub unsafe fn loop_page(at: u64) -> u64 {
    debug_assert_eq!(at % mmu_reloc::region::SZ_4K, 0);
    // SAFETY: the caller's word.
    unsafe { core::ptr::write_volatile(at as *mut u64, at | IND_INDIRECTION) };
    hw::clean_inval(Region::new(at, at + 8));
    at
}

/// A fresh heap page made a [`loop_page`] (a benchmark's hang).
fn heap_loop_page() -> u64 {
    let page = mmu_reloc::region::SZ_4K as usize;
    let layout = core::alloc::Layout::from_size_align(page, page).expect("a page layout");
    // SAFETY: a non-zero size; the page is never freed (the boot ends
    // with the error this injection is for).
    let p = unsafe { alloc::alloc::alloc_zeroed(layout) } as u64;
    assert!(p != 0, "out of heap for inject=secondary-hang");
    // SAFETY: the page just allocated, used by nothing else.
    unsafe { loop_page(p) }
}

/// The CPU `inject=` aims at with `n` CPUs: `copy-fault` the boot CPU,
/// `secondary-copy-fault` the last one.
fn inject_target(w: &World<'_>, n: usize) -> Option<usize> {
    match w.args.inject {
        Inject::None | Inject::SecondaryHang => None,
        Inject::CopyFault => Some(0),
        Inject::SecondaryCopyFault => Some(n - 1),
    }
}

/// For `inject=` on the runs: the share's last page reads `hole`, so
/// its earlier pages complete first.
pub fn inject_runs(w: &World<'_>, runs: &mut [Vec<CopyRun>]) {
    let Some(cpu) = inject_target(w, runs.len()) else {
        return;
    };
    let hole = super::fault_hole(w);
    let share = &mut runs[cpu];
    if let Some(last) = share.last_mut() {
        let page = mmu_reloc::region::SZ_4K;
        if last.len > page {
            last.len -= page;
            let faulting = CopyRun {
                src_va: hole,
                dest_pa: last.dest_pa + last.len,
                len: page,
            };
            share.push(faulting);
        } else {
            last.src_va = hole;
        }
    }
}

impl Drop for Team {
    /// Sends every secondary still listening to `park` (bounded: one that
    /// does not answer is reported and left).
    fn drop(&mut self) {
        let seq = self.seq.get() + 1;
        self.seq.set(seq);
        let mut parked = 0;
        for i in 1..self.cpus() {
            match smp::status(i).1 {
                state::FAULT | state::PARKED | state::BAD_EL | state::OFFLINE | state::HANDED => {
                    continue;
                }
                _ => smp::command(i, seq, smp::OP_PARK, None),
            }
            match self.wait(i, seq, &[state::PARKED], ANSWER_NS, "park") {
                Ok(state::PARKED) => parked += 1,
                _ => log::warn!(
                    "smp: CPU {i} (MPIDR {:#x}) did not park within the time allowed",
                    self.mpidrs[i]
                ),
            }
        }
        log::debug!("smp: {parked} secondaries told to park did so");
    }
}

/// The shares of a run on `n` CPUs: slices of the shared list, or (the
/// contiguous strategy) each CPU's run array, cleaned to the PoC because
/// secondaries may read it with their MMU off.
fn split_input(
    w: &World<'_>,
    wl: &Workload,
    input: &copy::Input<'_>,
    n: usize,
) -> (Vec<ListShare>, Vec<Vec<CopyRun>>) {
    match input {
        copy::Input::List(_) => (wl.plan.list_shares(n), Vec::new()),
        copy::Input::Runs(r) => {
            let mut runs = split_runs(r, n);
            inject_runs(w, &mut runs);
            for r in &runs {
                let start = r.as_ptr() as u64;
                hw::clean_inval(Region::new(
                    start,
                    start + core::mem::size_of_val(r.as_slice()) as u64,
                ));
            }
            (alloc::vec![ListShare::default(); n], runs)
        }
    }
}
