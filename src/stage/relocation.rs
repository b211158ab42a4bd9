//! A relocation workload on the running machine: validate the segments,
//! reserve the page-table area (top-down, outside every destination), place
//! the payload in scattered source pages and build the kimage list, build
//! the linear and contiguous maps, then run any strategy with the MMU on or
//! off and verify every destination byte and every guard.

use alloc::vec::Vec;

use mmu_reloc::bootargs::{CopyKernel, Strategy};
use mmu_reloc::cpu::Granule;
use mmu_reloc::mmu::{self, BuiltMap, Machine, Mapping, MemKind, Policy};
use mmu_reloc::physmem::PhysMem;
use mmu_reloc::record::Record;
use mmu_reloc::region::{self, Region, SZ_1G, SZ_2M, SZ_4K};
use mmu_reloc::relocate::{
    self, CopyRun, Environment, Order, PAGE_BYTES, Plan, PlanOptions, Segment, check_guards,
    fill_guards,
};

use super::{EXIT_INPUT, EXIT_VERIFY, World, fail, linear_map};
use crate::arch::{self, copy, mem::IdentityMem, mmu as hw};
use crate::bench::{self, Sample};
use crate::board::console::Console;

/// Guard bytes on each side of every destination, list-page run and the
/// table area.
const GUARD_BYTES: u64 = SZ_4K;
/// Poison written over destinations before each run, so a copy that did
/// not happen cannot verify.
const POISON: u8 = 0x5a;

/// Everything a run needs, prepared once.
pub struct Workload {
    pub plan: Plan,
    pub head: u64,
    pub hashes: Vec<u64>,
    pub linear: BuiltMap,
    /// Linear maps with other largest-leaf policies (`leaves=`), same
    /// mappings, for the ind-list MMU-on sweep.
    pub sweep: Vec<BuiltMap>,
    /// The map with the sources laid out contiguously, and its runs.
    pub contig: Option<(BuiltMap, Vec<CopyRun>)>,
    /// One run per source page, for the contiguous loop with the MMU off
    /// (without a map the sources are not contiguous).
    pub page_runs: Vec<CopyRun>,
    /// What the workload reads or writes besides the stage: sources, list
    /// pages, destinations, guards, tables (normalized).
    pub touched: Vec<Region>,
    /// The control area (empty unless asked for).
    pub control: Region,
    pub bytes: u64,
    pub line: u64,
}

fn bad(e: impl core::fmt::Display) -> ! {
    fail(EXIT_INPUT, format_args!("{e}"))
}

/// The contiguous map needs 4 KiB pages: sources are 4 KiB pages.
fn contig_policy(w: &World<'_>) -> Option<Policy> {
    w.cpu.supports(Granule::K4).then(|| Policy {
        granule: Granule::K4,
        max_leaf: w
            .args
            .leaf
            .filter(|l| mmu::leaf_sizes(Granule::K4).any(|s| s == *l)),
        contig: w.args.contig,
    })
}

/// Where the contiguous window starts: the first 1 GiB boundary above RAM.
fn window_base(w: &World<'_>) -> u64 {
    let top = w.platform.ram.iter().map(|r| r.end).max().unwrap_or(0);
    region::align_up(top, SZ_1G).unwrap_or(top)
}

/// What the relocation is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The stage keeps running: destinations must miss it and the DTB.
    Bench,
    /// The last thing the stage does (`mode=boot`): destinations may cover
    /// the stage and the DTB, because the final copy runs from a control
    /// page with its own DTB copy (see `handoff`). Sources, list pages and
    /// tables still avoid both: they are written while the stage runs.
    Boot,
}

/// Prepares `segments`; the MMU is off on entry and on (linear map) on
/// return.
///
/// `control_bytes` (for `Purpose::Boot`) reserves a 2 MiB-aligned control
/// area below the tables, outside every destination, source and list page.
pub fn prepare(
    w: &World<'_>,
    segments: &[Segment],
    want_contig: bool,
    purpose: Purpose,
    control_bytes: u64,
) -> Workload {
    let machine = Machine::from_cpu(&w.cpu, linear_map::regime(w.el));
    let policy = linear_map::policy(w);
    let identity = linear_map::identity_mappings(w);
    let pages = segments.iter().map(|s| s.pages()).sum::<u64>();

    // Table bytes: the linear map exactly; the contiguous map at most its
    // identity part plus one L3 table per 512 pages and their parents.
    let linear_bytes = mmu::count_tables(&identity, &policy, &machine).unwrap_or_else(|e| bad(e))
        as u64
        * policy.granule.bytes();
    let contig_policy = if want_contig { contig_policy(w) } else { None };
    let contig_bytes = contig_policy.as_ref().map_or(0, |p| {
        let ident = mmu::count_tables(&identity, p, &machine).unwrap_or_else(|e| bad(e)) as u64;
        (ident + pages.div_ceil(512) + pages.div_ceil(512 * 512) + 4) * SZ_4K
    });
    // `leaves=`: more linear maps, one per largest-leaf policy, for the
    // ind-list MMU-on sweep.
    let sweep_policies: Vec<Policy> = w
        .args
        .leaves
        .iter()
        .map(|l| Policy {
            max_leaf: Some(*l),
            ..policy
        })
        .collect();
    let sweep_bytes: u64 = sweep_policies
        .iter()
        .map(|p| {
            mmu::count_tables(&identity, p, &machine).unwrap_or_else(|e| bad(e)) as u64
                * p.granule.bytes()
        })
        .sum();
    let table_bytes = linear_bytes + contig_bytes + sweep_bytes;

    let (stage, dtb) = match purpose {
        Purpose::Bench => (alloc::vec![w.stage], w.dtb),
        Purpose::Boot => (Vec::new(), Region::default()),
    };
    let env = Environment {
        ram: w.platform.ram.clone(),
        reserved: w.platform.reserved.clone(),
        dtb,
        stage,
        table_bytes,
    };
    let validated = relocate::validate(&env, segments).unwrap_or_else(|e| bad(e));

    // Tables first, top-down, outside the stage, the DTB, reserved memory,
    // every destination (with its guards) and every in-memory source.
    let mut keep_out = linear_map::forbidden(w, &[]);
    for s in segments {
        keep_out.extend(s.dest.grow_to(SZ_4K).and_then(|d| {
            Region::from_len(
                d.start.saturating_sub(GUARD_BYTES),
                d.len() + 2 * GUARD_BYTES,
            )
        }));
        if let relocate::SegmentSource::Phys(src) = s.src {
            keep_out.push(src);
        }
    }
    region::normalize(&mut keep_out);
    let control_len = region::align_up(control_bytes, Granule::K64.bytes()).unwrap_or(u64::MAX);
    let align = if control_len > 0 {
        SZ_2M
    } else {
        Granule::K64.bytes()
    };
    let area = mmu::place_tables(control_len + table_bytes, align, &w.platform.ram, &keep_out)
        .unwrap_or_else(|e| bad(format_args!("page tables: {e}")));
    let control = Region::new(area.start, area.start + control_len);
    let tables = Region::new(control.end, area.end);

    let plan = validated
        .plan(&PlanOptions {
            forbidden: alloc::vec![w.stage, w.dtb],
            table: Some(area),
            guard_len: GUARD_BYTES,
            order: Order::Shuffled { seed: w.args.seed },
        })
        .unwrap_or_else(|e| bad(e));

    // Everything the workload touches; a table must stay clear of all of it.
    let mut touched: Vec<Region> = segments.iter().map(|s| s.dest).collect();
    touched.extend(
        plan.sources()
            .iter()
            .chain(plan.list_pages())
            .map(|p| Region::new(*p, p + SZ_4K)),
    );
    touched.extend_from_slice(plan.guards());
    region::normalize(&mut touched);
    if let Some(r) = touched
        .iter()
        .chain(&keep_out)
        .find(|r| r.overlaps(&tables))
    {
        fail(
            EXIT_VERIFY,
            format_args!("page-table area {tables} overlaps {r}"),
        );
    }
    touched.push(area);
    region::normalize(&mut touched);
    // What the tables were kept out of, for the map records.
    let forbidden = keep_out;

    log::debug!(
        "plan: {} segments, {} source pages (shuffled, seed {}), {} list pages, tables {tables}, control {control}",
        segments.len(),
        plan.sources().len(),
        w.args.seed,
        plan.list_pages().len()
    );
    let t0 = arch::counter();
    let linear = mmu::build(
        &mut IdentityMem,
        &identity,
        &policy,
        &machine,
        &[tables],
        &[],
    )
    .unwrap_or_else(|e| bad(format_args!("page tables: {e}")));
    let linear_ns = arch::ticks_to_ns(arch::counter() - t0);
    linear_map::enable_verified(w, &linear, &forbidden, linear_ns);
    let mut built: Vec<Region> = alloc::vec![linear.tables];
    let sweep: Vec<BuiltMap> = sweep_policies
        .iter()
        .map(|p| {
            let t0 = arch::counter();
            let map = mmu::build(&mut IdentityMem, &identity, p, &machine, &[tables], &built)
                .unwrap_or_else(|e| bad(format_args!("page tables: {e}")));
            let ns = arch::ticks_to_ns(arch::counter() - t0);
            // Verified when it is first switched to (it is not live yet).
            linear_map::report_unverified(&map, &forbidden, ns, "linear-sweep");
            built.push(map.tables);
            map
        })
        .collect();

    // Payload into the scattered sources, the list, hashes, guards.
    let mut mem = IdentityMem;
    plan.load(&mut mem);
    let head = plan.write_list(&mut mem);
    let hashes = plan.hash_sources(&mem);
    fill_guards(&mut mem, plan.guards());
    super::containment::watch_guards(plan.guards());

    let contig = contig_policy.map(|p| {
        let base = window_base(w);
        let cplan = plan.contiguous(base);
        let mut mappings = identity.clone();
        mappings.extend(Mapping::pages(base, cplan.pages, SZ_4K, MemKind::Normal));
        let t0 = arch::counter();
        let map = mmu::build(&mut mem, &mappings, &p, &machine, &[tables], &built)
            .unwrap_or_else(|e| bad(format_args!("contiguous map: {e}")));
        let ns = arch::ticks_to_ns(arch::counter() - t0);
        (map, cplan.runs, ns)
    });
    let contig = contig.map(|(map, runs, ns)| {
        // Verified when it is first switched to (it is not live yet).
        linear_map::report_unverified(&map, &forbidden, ns, "contiguous");
        (map, runs)
    });

    let page_runs = plan
        .sources()
        .iter()
        .zip(plan.dest_pages())
        .map(|(src, dest)| CopyRun {
            src: *src,
            dest,
            len: SZ_4K,
        })
        .collect();

    Workload {
        bytes: pages * SZ_4K,
        plan,
        head,
        hashes,
        linear,
        sweep,
        contig,
        page_runs,
        touched,
        control,
        line: hw::dcache_line(),
    }
}

/// One measured relocation. It exists only if every destination byte and
/// every guard verified: any mismatch ends the run with an error instead.
pub struct Outcome {
    pub strategy: Strategy,
    pub kernel: CopyKernel,
    pub mmu: bool,
    pub sample: Sample,
    pub pages: u64,
    pub guard_bytes: u64,
    /// The map the copy ran under (`None`: MMU off).
    pub map: Option<(Granule, u64, u64)>,
    pub src_layout: &'static str,
}

/// Checks the live map with `AT`; a wrong translation ends the run.
pub fn verify_live(w: &World<'_>, map: &BuiltMap, what: &str) {
    let v = linear_map::verify(w.el, map, w.args.seed);
    if v.failures != 0 {
        fail(
            EXIT_VERIFY,
            format_args!("{what}: {} of {} AT checks wrong", v.failures, v.probes),
        );
    }
}

/// Switches from the live map to `to` through MMU-off (break-before-make
/// for the whole map); `None` leaves the MMU off.
pub fn switch(w: &World<'_>, wl: &Workload, to: Option<&BuiltMap>) {
    let mut keep = wl.touched.clone();
    keep.push(w.stage);
    log::trace!(
        "switch: MMU off (cleaning {} ranges), then {}",
        keep.len(),
        to.map_or("stay off", |m| if m.root == wl.linear.root {
            "linear map"
        } else {
            "contiguous map"
        })
    );
    if hw::enabled(w.el) {
        // SAFETY: `keep` covers the stage and everything the workload wrote.
        unsafe { hw::disable(w.el, &keep) };
    }
    if let Some(map) = to {
        // SAFETY: MMU off; every map here identity-maps RAM and the console.
        unsafe { hw::enable(w.el, map, &keep) };
    }
}

fn poison(wl: &Workload) {
    let mut mem = IdentityMem;
    for s in wl.plan.segments() {
        mem.fill(s.dest.start, s.dest.len(), POISON);
    }
}

/// One benchmark configuration. `sweep` picks a `leaves=` map for the
/// ind-list loop with the MMU on (`None`: the linear map).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Config {
    pub strategy: Strategy,
    pub kernel: CopyKernel,
    pub mmu: bool,
    pub sweep: Option<usize>,
}

/// Runs one configuration and verifies every destination page and guard.
/// Ends with the linear map live.
pub fn run(w: &World<'_>, wl: &Workload, c: Config) -> Outcome {
    let Config {
        strategy,
        kernel,
        mmu: mmu_on,
        sweep,
    } = c;
    poison(wl);
    let linear = sweep.and_then(|i| wl.sweep.get(i)).unwrap_or(&wl.linear);
    let (input, map, src_layout) = match (strategy, mmu_on) {
        (Strategy::IndList, true) => (copy::Input::List(wl.head), Some(linear), "page-list"),
        (Strategy::IndList, false) => (copy::Input::List(wl.head), None, "page-list"),
        (Strategy::Contiguous, true) => match &wl.contig {
            Some((m, runs)) => (copy::Input::Runs(runs), Some(m), "va-contiguous"),
            None => fail(
                EXIT_INPUT,
                format_args!("contiguous strategy needs the 4k granule"),
            ),
        },
        (Strategy::Contiguous, false) => (copy::Input::Runs(&wl.page_runs), None, "page-runs"),
        (Strategy::Legacy, false) => (copy::Input::List(wl.head), None, "page-list"),
        (Strategy::Legacy, true) => fail(
            EXIT_INPUT,
            format_args!("strategy=legacy is Linux's MMU-off loop: use it with mmu=off"),
        ),
    };
    // Every configuration starts alike: caches cleaned and invalidated,
    // TLB empty (switching goes through MMU-off even to the same map), so
    // no run inherits warm lines or translations from the last one.
    switch(w, wl, map);
    let switched = map.is_some_and(|m| m.root != wl.linear.root);
    if let Some(m) = map.filter(|_| switched) {
        verify_live(w, m, "switched-to map");
    }
    // SAFETY: the plan put every source and list page outside every
    // destination, and destinations outside the stage, DTB and tables;
    // the live translation (or none) reaches all of them.
    let (pages, sample) = bench::measure(|| unsafe { copy::run(strategy, kernel, input, wl.line) });
    if switched || !mmu_on {
        switch(w, wl, Some(&wl.linear));
    }
    let mem = IdentityMem;
    if let Err(m) = wl.plan.verify_destinations(&mem, &wl.hashes) {
        let at = first_bad_byte(wl, m.page).unwrap_or(m.page);
        fail(
            EXIT_VERIFY,
            format_args!(
                "{} ({}, MMU {}): destination differs from the payload at {at:#x} (page {:#x})",
                strategy.name(),
                kernel.name(),
                if mmu_on { "on" } else { "off" },
                m.page
            ),
        );
    }
    let guards = check_guards(&mem, wl.plan.guards());
    if let Some(a) = guards.first_modified {
        fail(
            EXIT_VERIFY,
            format_args!(
                "{}: write outside the destinations, guard byte at {a:#x}",
                strategy.name()
            ),
        );
    }
    if pages * SZ_4K != wl.bytes {
        fail(
            EXIT_VERIFY,
            format_args!(
                "{}: copied {pages} pages of {}",
                strategy.name(),
                wl.bytes / SZ_4K
            ),
        );
    }
    Outcome {
        strategy,
        kernel,
        mmu: mmu_on,
        sample,
        pages,
        guard_bytes: guards.checked,
        map: map.map(|m| (m.granule, largest_leaf(m), m.table_bytes)),
        src_layout,
    }
}

/// `inject=copy-fault`: makes one source a copy loop reads point past the
/// end of RAM (unmapped, and not memory at all), so the loop
/// takes a data abort with the MMU on or off.
pub fn inject_copy_fault(w: &World<'_>, wl: &mut Workload) {
    let top = w.platform.ram.iter().map(|r| r.end).max().unwrap_or(0);
    let hole = region::align_up(top, SZ_1G).unwrap_or(top) + SZ_1G;
    // The list: the third IND_SOURCE entry of the first list page, so two
    // pages are complete when the loop faults.
    let mut mem = IdentityMem;
    if let Some(&page) = wl.plan.list_pages().first() {
        let sources = (0..relocate::ENTRIES_PER_PAGE)
            .map(|i| page + 8 * i)
            .filter(|a| mem.read_u64(*a) & relocate::IND_SOURCE != 0);
        if let Some(a) = sources.clone().nth(2).or(sources.max()) {
            mem.write_u64(a, hole | relocate::IND_SOURCE);
        }
    }
    // The runs: the last run's source (the others complete first).
    for runs in [
        wl.contig.as_mut().map(|c| &mut c.1),
        Some(&mut wl.page_runs),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(r) = runs.last_mut() {
            r.src = hole;
        }
    }
}

fn largest_leaf(m: &BuiltMap) -> u64 {
    m.leaf_counts
        .iter()
        .filter(|l| l.leaves > 0)
        .map(|l| l.size)
        .max()
        .unwrap_or(0)
}

/// The first destination byte that differs from its source, within `page`.
fn first_bad_byte(wl: &Workload, page: u64) -> Option<u64> {
    let i = wl.plan.dest_pages().position(|d| d == page)?;
    let src = *wl.plan.sources().get(i)?;
    let mem = IdentityMem;
    let (mut a, mut b) = ([0u8; PAGE_BYTES], [0u8; PAGE_BYTES]);
    mem.read_bytes(src, &mut a);
    mem.read_bytes(page, &mut b);
    a.iter()
        .zip(b.iter())
        .position(|(x, y)| x != y)
        .map(|o| page + o as u64)
}

/// The `result` record of one run.
pub fn record(o: &Outcome, wl: &Workload, segments: usize, trial: u32) {
    Record::new(&mut Console, "result")
        .u64("run", o.sample.run)
        .str("strategy", o.strategy.name())
        .str("copy", o.kernel.name())
        .bool("mmu", o.mmu)
        .str("src_layout", o.src_layout)
        .opt_str("granule", o.map.map(|m| m.0.name()))
        .opt_u64("leaf", o.map.map(|m| m.1))
        .opt_u64("table_bytes", o.map.map(|m| m.2))
        .u64("bytes", wl.bytes)
        .u64("pages", o.pages)
        .u64("segments", segments as u64)
        .u64("trial", trial as u64)
        .u64("ns", o.sample.ns)
        .opt_u64("cycles", o.sample.cycles)
        .opt_u64("insns", o.sample.insns)
        // An Outcome exists only for a run that verified.
        .bool("verified", true)
        .u64("guard_bytes_checked", o.guard_bytes)
        .end();
}
