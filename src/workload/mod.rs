//! A relocation workload on the running machine: validate the segments,
//! reserve the page-table area (top-down, outside every destination), place
//! the payload in scattered source pages and build the kimage list, build
//! the linear and contiguous maps, then run any strategy with the MMU on or
//! off and verify every destination byte and every guard. Used by the
//! benchmark and the hand-off; it knows nothing of either, and reports
//! failures as `mmu_reloc::exit::Error`.

use alloc::vec::Vec;

use mmu_reloc::bootargs::{CopyKernel, Strategy};
use mmu_reloc::cpu::Granule;
use mmu_reloc::mmu::{self, BuiltMap, Machine, Mapping, MemKind, Policy, Regime};
use mmu_reloc::physmem::PhysMem;
use mmu_reloc::pmu::Event;
use mmu_reloc::record::Record;
use mmu_reloc::region::{self, Region, SZ_1G, SZ_2M, SZ_4K};
use mmu_reloc::relocate::{
    self, CopyRun, Environment, Order, PAGE_BYTES, Plan, PlanOptions, Segment, check_guards,
    fill_guards,
};

use mmu_reloc::bootargs::BootArgs;
use mmu_reloc::cpu::CpuInfo;
use mmu_reloc::exit::Error;
use mmu_reloc::matrix::{self, Config};
use mmu_reloc::platform::Platform;

use crate::arch::{copy, mem::IdentityMem, mmu as hw};
use crate::board::console::Console;

pub mod containment;
pub mod linear_map;
pub mod smp;
pub mod timing;

pub use timing::{Cost, Sample, cost, event_groups, measure, timed};

/// What was learned before `mode=` runs.
#[derive(Clone)]
pub struct World<'a> {
    /// The translation regime the stage runs in (EL1 or EL2).
    pub regime: Regime,
    pub load: u64,
    pub stage: Region,
    pub dtb: Region,
    pub platform: Platform<'a>,
    pub cpu: CpuInfo,
    pub args: BootArgs,
    /// Command-line words that belong to the next stage.
    pub foreign: Vec<&'a str>,
}

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
    pub contig: Option<ContigMap>,
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
    /// What building each map cost, by root: the linear map, the `leaves=`
    /// maps and the contiguous map (measured once, when built).
    pub map_costs: Vec<(u64, Cost)>,
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

/// The maps a workload needs, and the table bytes reserved for them.
struct MapPlan {
    machine: Machine,
    policy: Policy,
    identity: Vec<Mapping>,
    /// `leaves=`: one more linear map per largest-leaf policy.
    sweep: Vec<Policy>,
    /// The contiguous map's policy (4k granule), when one is wanted.
    contig: Option<Policy>,
    table_bytes: u64,
}

/// Table bytes: the linear maps exactly; the contiguous map at most its
/// identity part plus what its window of `pages` can add.
fn plan_maps(w: &World<'_>, pages: u64, want_contig: bool) -> Result<MapPlan, Error> {
    let machine = Machine::from_cpu(&w.cpu, w.regime);
    let policy = linear_map::policy(w);
    let identity = linear_map::identity_mappings(w);
    let bytes = |p: &Policy| -> Result<u64, Error> {
        Ok(mmu::count_tables(&identity, p, &machine)? as u64 * p.granule.bytes())
    };
    let mut table_bytes = bytes(&policy)?;
    let contig = if want_contig { contig_policy(w) } else { None };
    if let Some(p) = &contig {
        // Its 4 KiB tables go where the linear map's larger ones left room:
        // a whole number of the linear granule keeps that room in one
        // piece (else `granule=64k size=32M` split it and failed).
        let contig_bytes = bytes(p)? + mmu::window_tables_max(pages) * SZ_4K;
        table_bytes += region::align_up(contig_bytes, policy.granule.bytes()).unwrap_or(u64::MAX);
    }
    let sweep: Vec<Policy> = w
        .args
        .leaves
        .iter()
        .map(|l| Policy {
            max_leaf: Some(*l),
            ..policy
        })
        .collect();
    for p in &sweep {
        table_bytes += bytes(p)?;
    }
    Ok(MapPlan {
        machine,
        policy,
        identity,
        sweep,
        contig,
        table_bytes,
    })
}

/// What no table may occupy: the stage, the DTB, reserved memory, every
/// destination with its guards and every in-memory source.
fn keep_out(w: &World<'_>, segments: &[Segment]) -> Vec<Region> {
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
    keep_out
}

/// The area carved top-down for the control area (2 MiB aligned, when
/// asked for) and the tables above it.
struct Reserved {
    area: Region,
    control: Region,
    tables: Region,
}

fn reserve(
    w: &World<'_>,
    keep_out: &[Region],
    control_bytes: u64,
    table_bytes: u64,
) -> Result<Reserved, Error> {
    let control_len = region::align_up(control_bytes, Granule::K64.bytes()).unwrap_or(u64::MAX);
    let align = if control_len > 0 {
        SZ_2M
    } else {
        Granule::K64.bytes()
    };
    let area = mmu::place_tables(control_len + table_bytes, align, &w.platform.ram, keep_out)?;
    let control = Region::new(area.start, area.start + control_len);
    Ok(Reserved {
        area,
        control,
        tables: Region::new(control.end, area.end),
    })
}

/// Everything the workload touches (destinations, sources, list pages,
/// guards, the reserved area); no table may overlap any of it.
fn touched(
    segments: &[Segment],
    plan: &Plan,
    keep_out: &[Region],
    r: &Reserved,
) -> Result<Vec<Region>, Error> {
    let mut touched: Vec<Region> = segments.iter().map(|s| s.dest).collect();
    touched.extend(
        plan.sources()
            .iter()
            .chain(plan.list_pages())
            .map(|p| Region::new(*p, p + SZ_4K)),
    );
    touched.extend_from_slice(plan.guards());
    region::normalize(&mut touched);
    if let Some(o) = touched
        .iter()
        .chain(keep_out)
        .find(|o| o.overlaps(&r.tables))
    {
        return Err(Error::verify(format_args!(
            "page-table area {} overlaps {o}",
            r.tables
        )));
    }
    touched.push(r.area);
    region::normalize(&mut touched);
    Ok(touched)
}

/// Builds the linear map, turns the MMU on under it (checked with `AT`),
/// then builds the `leaves=` maps beside it (checked when switched to).
fn build_linear(
    w: &World<'_>,
    mp: &MapPlan,
    tables: Region,
    forbidden: &[Region],
    costs: &mut Vec<(u64, Cost)>,
) -> Result<(BuiltMap, Vec<BuiltMap>), Error> {
    let (linear, c) = cost(|| {
        mmu::build(
            &mut IdentityMem,
            &mp.identity,
            &mp.policy,
            &mp.machine,
            &[tables],
            &[],
        )
    });
    let linear = linear?;
    costs.push((linear.root, c));
    linear_map::enable_verified(w, &linear, forbidden, c.ns)?;
    let mut built: Vec<Region> = alloc::vec![linear.tables];
    let mut sweep = Vec::with_capacity(mp.sweep.len());
    for p in &mp.sweep {
        let (map, c) = cost(|| {
            mmu::build(
                &mut IdentityMem,
                &mp.identity,
                p,
                &mp.machine,
                &[tables],
                &built,
            )
        });
        let map = map?;
        costs.push((map.root, c));
        linear_map::report_unverified(&map, forbidden, c.ns, "linear-sweep");
        built.push(map.tables);
        sweep.push(map);
    }
    Ok((linear, sweep))
}

/// Builds the contiguous map: the identity part plus the sources laid out
/// in a window above RAM (checked with `AT` when first switched to).
fn build_contig(
    w: &World<'_>,
    mp: &MapPlan,
    plan: &Plan,
    tables: Region,
    built: &[Region],
    forbidden: &[Region],
    costs: &mut Vec<(u64, Cost)>,
) -> Result<Option<ContigMap>, Error> {
    let Some(p) = mp.contig else {
        return Ok(None);
    };
    let base = window_base(w);
    let cplan = plan.contiguous(base);
    let mut mappings = mp.identity.clone();
    mappings.extend(Mapping::pages(base, cplan.pages, SZ_4K, MemKind::Normal));
    let (map, c) = cost(|| {
        mmu::build(
            &mut IdentityMem,
            &mappings,
            &p,
            &mp.machine,
            &[tables],
            built,
        )
    });
    let map = map.map_err(|e| Error::input(format_args!("contiguous map: {e}")))?;
    costs.push((map.root, c));
    linear_map::report_unverified(&map, forbidden, c.ns, "contiguous");
    Ok(Some(ContigMap {
        map,
        runs: cplan.runs,
    }))
}

/// One run per source page, for the contiguous loop with the MMU off
/// (without a map the sources are not contiguous): the source is the
/// physical page, which is also its address with the MMU off.
fn page_runs(plan: &Plan) -> Vec<CopyRun> {
    plan.sources()
        .iter()
        .zip(plan.dest_pages())
        .map(|(phys, dest)| CopyRun {
            src_va: *phys,
            dest_pa: dest,
            len: SZ_4K,
        })
        .collect()
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
) -> Result<Workload, Error> {
    let pages = segments.iter().map(|s| s.pages()).sum::<u64>();
    let mp = plan_maps(w, pages, want_contig)?;
    let (stage, dtb) = match purpose {
        Purpose::Bench => (alloc::vec![w.stage], w.dtb),
        Purpose::Boot => (Vec::new(), Region::default()),
    };
    let env = Environment {
        ram: w.platform.ram.clone(),
        reserved: w.platform.reserved.clone(),
        dtb,
        stage,
        table_bytes: mp.table_bytes,
    };
    let validated = relocate::validate(&env, segments)?;
    // Tables first, top-down; the sources and list pages avoid them.
    let keep_out = keep_out(w, segments);
    let r = reserve(w, &keep_out, control_bytes, mp.table_bytes)?;
    let plan = validated.plan(&PlanOptions {
        forbidden: alloc::vec![w.stage, w.dtb],
        table: Some(r.area),
        guard_len: GUARD_BYTES,
        order: Order::Shuffled { seed: w.args.seed },
    })?;
    let touched = touched(segments, &plan, &keep_out, &r)?;
    log::debug!(
        "plan: {} segments, {} source pages (shuffled, seed {}), {} list pages, tables {}, control {}",
        segments.len(),
        plan.sources().len(),
        w.args.seed,
        plan.list_pages().len(),
        r.tables,
        r.control
    );
    // What the tables were kept out of, for the map records.
    let forbidden = keep_out;
    let mut map_costs = Vec::new();
    let (linear, sweep) = build_linear(w, &mp, r.tables, &forbidden, &mut map_costs)?;

    // Payload into the scattered sources, the list, hashes, guards.
    let mut mem = IdentityMem;
    plan.load(&mut mem);
    let head = plan.write_list(&mut mem);
    let hashes = plan.hash_sources(&mem);
    fill_guards(&mut mem, plan.guards());
    containment::watch_guards(plan.guards());

    let mut built: Vec<Region> = alloc::vec![linear.tables];
    built.extend(sweep.iter().map(|m| m.tables));
    let contig = build_contig(w, &mp, &plan, r.tables, &built, &forbidden, &mut map_costs)?;
    Ok(Workload {
        bytes: pages * SZ_4K,
        page_runs: page_runs(&plan),
        plan,
        head,
        hashes,
        linear,
        sweep,
        contig,
        touched,
        control: r.control,
        line: hw::dcache_line(),
        map_costs,
    })
}

/// The contiguous map and the runs that read its window.
pub struct ContigMap {
    pub map: BuiltMap,
    pub runs: Vec<CopyRun>,
}

/// The map a copy ran under, as the records report it.
#[derive(Clone, Copy)]
pub struct MapShape {
    pub granule: Granule,
    /// The largest leaf the map uses, in bytes.
    pub leaf: u64,
    pub table_bytes: u64,
}

impl MapShape {
    fn of(m: &BuiltMap) -> Self {
        MapShape {
            granule: m.granule,
            leaf: largest_leaf(m),
            table_bytes: m.table_bytes,
        }
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
    pub map: Option<MapShape>,
    pub src_layout: &'static str,
    /// The phases around the copy, each measured on its own.
    pub phases: Phases,
    /// How many CPUs copied (`cpus=`); `sample` spans the release of the
    /// work to the last CPU's report, its PMU counts are the boot CPU's.
    pub cpus: usize,
    /// With `cpus=` above 1, each CPU's share, boot CPU first (empty for
    /// one CPU).
    pub shares: Vec<smp::Share>,
}

/// The cost of a run besides its copy loop (`sample`), so MMU-on
/// configurations are charged for their tables.
#[derive(Clone, Copy)]
pub struct Phases {
    /// Building the map the copy ran under (measured once per boot, when
    /// the map was built; `None` with the MMU off).
    pub map: Option<Cost>,
    /// The final cache maintenance after the copy: the hand-off's I-cache
    /// invalidation (the loop cleaned every destination line itself).
    pub finish: Cost,
    /// Checking every destination byte and guard.
    pub verify: Cost,
}

/// Checks the live map with `AT`; a wrong translation ends the run.
pub fn verify_live(w: &World<'_>, map: &BuiltMap, what: &str) -> Result<(), Error> {
    let v = linear_map::verify(w.regime, map, w.args.seed);
    if v.failures != 0 {
        return Err(Error::verify(format_args!(
            "{what}: {} of {} AT checks wrong",
            v.failures, v.probes
        )));
    }
    Ok(())
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
    if hw::enabled(w.regime) {
        // SAFETY: `keep` covers the stage and everything the workload wrote.
        unsafe { hw::disable(w.regime, &keep) };
    }
    if let Some(map) = to {
        // SAFETY: MMU off; every map here identity-maps RAM and the console.
        unsafe { hw::enable(w.regime, map, &keep) };
    }
}

fn poison(wl: &Workload) {
    let mut mem = IdentityMem;
    for s in wl.plan.segments() {
        mem.fill(s.dest.start, s.dest.len(), POISON);
    }
}

/// What one configuration copies from, under which map (`None`: MMU
/// off), and how its sources are laid out (the `src_layout` field).
struct Setup<'w> {
    input: copy::Input<'w>,
    map: Option<&'w BuiltMap>,
    src_layout: &'static str,
}

fn setup<'w>(wl: &'w Workload, c: Config) -> Result<Setup<'w>, Error> {
    let linear = c.sweep.and_then(|i| wl.sweep.get(i)).unwrap_or(&wl.linear);
    let list = copy::Input::List(wl.head);
    let (input, map, src_layout) = match (c.strategy, c.mmu) {
        (Strategy::IndList, true) => (list, Some(linear), "page-list"),
        (Strategy::IndList | Strategy::Legacy, false) => (list, None, "page-list"),
        (Strategy::Contiguous, true) => match &wl.contig {
            Some(cm) => (copy::Input::Runs(&cm.runs), Some(&cm.map), "va-contiguous"),
            None => return Err(Error::input("contiguous strategy needs the 4k granule")),
        },
        (Strategy::Contiguous, false) => (copy::Input::Runs(&wl.page_runs), None, "page-runs"),
        (Strategy::Legacy, true) => {
            return Err(Error::input(
                "strategy=legacy is Linux's MMU-off loop: use it with mmu=off",
            ));
        }
    };
    Ok(Setup {
        input,
        map,
        src_layout,
    })
}

/// Checks a finished run: every destination byte, every guard, the page
/// count. Returns the guard bytes checked.
fn verify_run(wl: &Workload, c: Config, pages: u64) -> Result<u64, Error> {
    let mem = IdentityMem;
    let strategy = c.strategy.name();
    if let Err(m) = wl.plan.verify_destinations(&mem, &wl.hashes) {
        let at = first_bad_byte(wl, m.page).unwrap_or(m.page);
        return Err(Error::verify(format_args!(
            "{strategy} ({}, MMU {}): destination differs from the payload at {at:#x} (page {:#x})",
            c.kernel.name(),
            if c.mmu { "on" } else { "off" },
            m.page
        )));
    }
    let guards = check_guards(&mem, wl.plan.guards());
    if let Some(a) = guards.first_modified {
        return Err(Error::verify(format_args!(
            "{strategy}: write outside the destinations, guard byte at {a:#x}"
        )));
    }
    if pages * SZ_4K != wl.bytes {
        return Err(Error::verify(format_args!(
            "{strategy}: copied {pages} pages of {}",
            wl.bytes / SZ_4K
        )));
    }
    Ok(guards.checked)
}

/// Runs one configuration and verifies every destination page and guard.
/// Ends with the linear map live.
/// `events` is the PMU event group this run counts (see
/// [`timing::event_groups`]).
/// `team`: the CPUs that share the copy (`cpus=`; `None`: the boot CPU
/// alone, the loop of today).
pub fn run(
    w: &World<'_>,
    wl: &Workload,
    c: Config,
    events: &[Event],
    team: Option<&smp::Team>,
) -> Result<Outcome, Error> {
    poison(wl);
    let Setup {
        input,
        map,
        src_layout,
    } = setup(wl, c)?;
    // Every configuration starts alike: caches cleaned and invalidated,
    // TLB empty (switching goes through MMU-off even to the same map), so
    // no run inherits warm lines or translations from the last one.
    switch(w, wl, map);
    let switched = map.is_some_and(|m| m.root != wl.linear.root);
    if let Some(m) = map.filter(|_| switched) {
        verify_live(w, m, "switched-to map")?;
    }
    let (pages, sample, shares) = match team {
        Some(t) => t.copy(w, wl, (c.strategy, c.kernel), &input, map, events)?,
        None => {
            // SAFETY: the plan put every source and list page outside every
            // destination, and destinations outside the stage, DTB and
            // tables; the live translation (or none) reaches all of them.
            let (pages, sample) = measure(events, || unsafe {
                copy::run(c.strategy, c.kernel, input, wl.line)
            });
            (pages, sample, Vec::new())
        }
    };
    let ((), finish) = cost(hw::invalidate_icache_all);
    if switched || !c.mmu {
        switch(w, wl, Some(&wl.linear));
    }
    let (guard_bytes, verify) = cost(|| verify_run(wl, c, pages));
    let guard_bytes = guard_bytes?;
    let map_cost = map.and_then(|m| wl.map_costs.iter().find(|(root, _)| *root == m.root));
    Ok(Outcome {
        strategy: c.strategy,
        kernel: c.kernel,
        mmu: c.mmu,
        sample,
        pages,
        guard_bytes,
        map: map.map(MapShape::of),
        src_layout,
        phases: Phases {
            map: map_cost.map(|(_, c)| *c),
            finish,
            verify,
        },
        cpus: team.map_or(1, |t| t.cpus()),
        shares,
    })
}

/// `inject=copy-fault`: makes one source a copy loop reads point past the
/// end of RAM (unmapped, and not memory at all), so the loop
/// takes a data abort with the MMU on or off.
pub fn inject_copy_fault(w: &World<'_>, wl: &mut Workload) {
    let hole = fault_hole(w);
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
        wl.contig.as_mut().map(|c| &mut c.runs),
        Some(&mut wl.page_runs),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(r) = runs.last_mut() {
            r.src_va = hole;
        }
    }
}

/// Where `inject=` points a source: past the end of RAM (unmapped, and
/// not memory at all), so the copy loop takes a data abort with the MMU
/// on or off.
fn fault_hole(w: &World<'_>) -> u64 {
    let top = w.platform.ram.iter().map(|r| r.end).max().unwrap_or(0);
    region::align_up(top, SZ_1G).unwrap_or(top) + SZ_1G
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

/// `[a,b,...]` for a record field.
fn json_list(w: &mut dyn core::fmt::Write, it: impl Iterator<Item = u64>) -> core::fmt::Result {
    w.write_char('[')?;
    for (k, x) in it.enumerate() {
        write!(w, "{}{x}", if k == 0 { "" } else { "," })?;
    }
    w.write_char(']')
}

/// The `result` record of one run.
pub fn record(o: &Outcome, wl: &Workload, segments: usize, trial: u32) {
    let mut console = Console;
    let r = Record::new(&mut console, "result")
        .u64("run", o.sample.run)
        .str("strategy", o.strategy.name())
        .str("copy", o.kernel.name())
        .bool("mmu", o.mmu)
        .str("src_layout", o.src_layout)
        .opt_str("granule", o.map.map(|m| m.granule.name()))
        .opt_u64("leaf", o.map.map(|m| m.leaf))
        .opt_u64("table_bytes", o.map.map(|m| m.table_bytes))
        .u64("bytes", wl.bytes)
        .u64("pages", o.pages)
        .u64("segments", segments as u64)
        .u64("cpus", o.cpus as u64)
        .u64("trial", trial as u64)
        .bool("warmup", matrix::is_warmup(trial))
        .u64("ns", o.sample.ns)
        .opt_u64("cycles", o.sample.cycles)
        .opt_u64("insns", o.sample.insns);
    // `pmu_<event>` for each event this trial's group counted; the others
    // are absent, never zero.
    let r = o.sample.events().fold(r, |r, (e, c)| r.u64(e.key, c));
    let p = &o.phases;
    let r = r
        .opt_u64("map_ns", p.map.map(|c| c.ns))
        .opt_u64("map_insns", p.map.and_then(|c| c.insns))
        .u64("final_ns", p.finish.ns)
        .opt_u64("final_insns", p.finish.insns)
        .u64("verify_ns", p.verify.ns)
        .opt_u64("verify_insns", p.verify.insns);
    // cpus= above 1: each CPU's pages and, where every CPU's PMU counted
    // them, its instructions (boot CPU first).
    let r = if o.shares.is_empty() {
        r
    } else {
        r.json("share_pages", |v| {
            json_list(v, o.shares.iter().map(|s| s.0))
        })
    };
    let insns: Option<Vec<u64>> = o.shares.iter().map(|s| s.1).collect();
    let r = match insns.filter(|v| !v.is_empty()) {
        Some(v) => r.json("share_insns", |w| json_list(w, v.iter().copied())),
        None => r,
    };
    // An Outcome exists only for a run that verified.
    r.bool("verified", true)
        .u64("guard_bytes_checked", o.guard_bytes)
        .end();
}
