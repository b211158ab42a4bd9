//! `mode=boot`: relocate the real payload (the initrd QEMU or a bootloader
//! loaded) to its destination and enter it the way kexec does. Everything
//! the final copy needs (the routine, its runs, the DTB handed on) goes to
//! a control area outside every destination, because the destination may
//! cover the stage itself. The payload is an arm64 Image, a raw blob at
//! `dest=`, or a FIT image (`fit`: kernel, ramdisk and maybe a device tree).
//! With `cpus=` above 1 the final copy is split across the CPUs, each
//! running its part from the control area (`final_on_team`).

use alloc::vec::Vec;

use mmu_reloc::bootargs::{CopyKernel, Inject, Strategy};
use mmu_reloc::fdt::{self, Fdt};
use mmu_reloc::fit as fit_image;
use mmu_reloc::platform;
use mmu_reloc::record::Record;
use mmu_reloc::region::{self, Region, SZ_2M, SZ_4K};
use mmu_reloc::relocate::{CopyRun, ImageHeader, ListShare, Segment, SegmentSource, split_runs};

use core::convert::Infallible;

use mmu_reloc::exit::Error;

use crate::arch::{self, copy, mmu as hw, smp};
use crate::board::console::Console;
use crate::println;
use crate::workload::smp::{self as smp_team, Team};
use crate::workload::{self, Purpose, Workload, World};

mod cpus;
mod fit;

/// `/chosen` properties that described the payload the stage consumes.
const INITRD_PROPS: [&str; 2] = ["linux,initrd-start", "linux,initrd-end"];

/// The lowest 2 MiB-aligned base whose Image destination lies in one RAM
/// bank and misses reserved memory (on a Pi 4 the bottom page is the spin
/// table, reserved). The destination may cover the stage and the DTB.
fn default_base(w: &World<'_>, h: &ImageHeader, initrd: Region) -> Option<u64> {
    fit_image::lowest_base(&w.platform.ram, &w.platform.reserved, |base| {
        Some(alloc::vec![h.segment(initrd, base)?.dest])
    })
}

/// The payload's segment: an arm64 Image goes to a 2 MiB-aligned base
/// (`dest=`, or the lowest one clear of reserved memory) plus its text
/// offset; anything else needs `dest=`.
fn payload_segment(w: &World<'_>) -> Result<(Segment, Option<ImageHeader>), Error> {
    let Some(initrd) = w.platform.initrd else {
        return Err(Error::input(
            "mode=boot needs a payload: pass the next stage with -initrd",
        ));
    };
    let mut head = [0u8; 64];
    if initrd.len() >= head.len() as u64 {
        // SAFETY: the DTB says the initrd lies at `initrd`, in RAM.
        unsafe {
            core::ptr::copy_nonoverlapping(initrd.start as *const u8, head.as_mut_ptr(), head.len())
        };
    }
    match ImageHeader::parse(&head) {
        Some(h) => {
            let base = w.args.dest.or_else(|| default_base(w, &h, initrd)).ok_or_else(|| {
                Error::input(format_args!(
                    "no 2 MiB-aligned base in RAM takes the Image ({:#x} bytes) clear of reserved memory; give dest=",
                    h.load_len(initrd.len()).unwrap_or(0)
                ))
            })?;
            if !base.is_multiple_of(SZ_2M) {
                return Err(Error::input(format_args!(
                    "dest={base:#x}: an arm64 Image needs a 2 MiB-aligned base"
                )));
            }
            let seg = h.segment(initrd, base).ok_or_else(|| {
                Error::input(format_args!("Image at {initrd}: destination overflows"))
            })?;
            Ok((seg, Some(h)))
        }
        None => {
            let Some(dest) = w.args.dest else {
                return Err(Error::input(format_args!(
                    "payload at {initrd} is not an arm64 Image: say where it goes with dest="
                )));
            };
            let len = region::align_up(initrd.len(), SZ_4K).unwrap_or(u64::MAX);
            let dest = Region::from_len(dest, len)
                .ok_or_else(|| Error::input(format_args!("dest={dest:#x} + {len:#x} overflows")))?;
            let seg = Segment {
                src: SegmentSource::Phys(initrd),
                dest,
            };
            Ok((seg, None))
        }
    }
}

/// What `mode=boot` relocates: the segments (the first one's start is the
/// entry), whether the first is an arm64 Image, the relocated ramdisk for
/// `linux,initrd-*` and the FIT configuration it came from.
struct Payload {
    segments: Vec<Segment>,
    image: bool,
    /// `[start, start + true length)` of the relocated ramdisk.
    initrd: Option<Region>,
    fit: Option<&'static str>,
    /// The FIT configuration's device tree (verified), replacing the live
    /// one.
    fdt: Option<&'static [u8]>,
}

/// A FIT (kernel, ramdisk, maybe fdt) or a single blob (an Image, or raw
/// at `dest=`).
fn payload(w: &World<'_>) -> Result<Payload, Error> {
    if let Some(initrd) = w.platform.initrd.filter(|i| fit::is_fit(*i)) {
        return fit::payload(w, initrd);
    }
    let (seg, header) = payload_segment(w)?;
    Ok(Payload {
        segments: alloc::vec![seg],
        image: header.is_some(),
        initrd: None,
        fit: None,
        fdt: None,
    })
}

/// Points the copy's `linux,initrd-start/-end` at the relocated ramdisk,
/// or NOPs them when there is none (the payload they described is
/// consumed).
fn hand_on_initrd(copy: &mut [u8], offsets: &[usize], initrd: Option<Region>) -> Result<(), Error> {
    let Some(r) = initrd else {
        for &off in offsets {
            fdt::nop_property(copy, off)
                .map_err(|e| Error::input(format_args!("DTB copy: {e}")))?;
        }
        return Ok(());
    };
    let [start, end] = offsets else {
        return Err(Error::input(
            "DTB copy: no linux,initrd-start/-end to point at the ramdisk",
        ));
    };
    for (off, v) in [(*start, r.start), (*end, r.end)] {
        fdt::set_uint_property(copy, off, v).map_err(|e| {
            Error::input(format_args!(
                "DTB copy: linux,initrd-* cannot hold {v:#x}: {e}"
            ))
        })?;
    }
    Ok(())
}

/// Copies the DTB to `at` (a slot of `room` bytes); in the copy, the
/// initrd properties follow the relocated ramdisk (`hand_on_initrd`).
/// Memory reservations are kept.
fn hand_on_dtb(
    blob: &[u8],
    (at, room): (u64, u64),
    foreign: &str,
    initrd: Option<Region>,
) -> Result<(), Error> {
    // SAFETY: `at` is the start of the control area, outside everything
    // else and `room` bytes large, at least the blob.
    let slot = unsafe { core::slice::from_raw_parts_mut(at as *mut u8, room as usize) };
    let copy = &mut slot[..blob.len()];
    copy.copy_from_slice(blob);
    let (offsets, bootargs): (Vec<usize>, Option<usize>) = {
        let f = Fdt::new(copy).map_err(|e| Error::input(format_args!("DTB copy: {e}")))?;
        let chosen = f.find("/chosen");
        let prop = |name: &str| chosen.and_then(|c| f.prop(c, name)).map(|p| p.blob_offset);
        (
            INITRD_PROPS.iter().filter_map(|p| prop(p)).collect(),
            prop("bootargs"),
        )
    };
    hand_on_initrd(copy, &offsets, initrd)?;
    // The next stage gets only the words the stage did not own.
    if let Some(off) = bootargs {
        fdt::shrink_string_property(copy, off, foreign)
            .map_err(|e| Error::input(format_args!("DTB copy bootargs: {e}")))?;
    }
    Ok(())
}

/// The control area's layout: the DTB copy at its 2 MiB-aligned start (so
/// it cannot straddle a 2 MiB boundary, as arm64 booting.rst wants), with
/// room for one more /memreserve/ entry (the pen's), the park vectors
/// (2 KiB aligned), the routine, the secondaries' routine (`cpus=`), the
/// holding pen, the sync piece (`cpus=`: `copy::FinalSync`), the runs
/// (one per segment, and with `cpus=` every CPU's share of them after).
/// Each piece starts on a 4 KiB boundary.
#[derive(Clone, Copy)]
struct ControlLayout {
    dtb_len: u64,
    vectors_len: u64,
    code_len: u64,
    share_len: u64,
    pen_len: u64,
    sync_len: u64,
    runs_len: u64,
}

/// Physical addresses of the pieces once the area is placed.
struct ControlArea {
    dtb_at: u64,
    vectors_at: u64,
    code_at: u64,
    share_at: u64,
    pen_at: u64,
    sync_at: u64,
    runs_at: u64,
    /// The part in use, `[dtb_at, runs_at + runs_len)`.
    used: Region,
}

/// What goes into the control area besides the DTB: the park vectors, the
/// boot CPU's routine and the secondaries' (empty with one CPU), the pen's
/// bytes, the runs it must hold, and whether it needs the sync piece.
struct Pieces<'a> {
    vectors: &'a [u8],
    code: &'a [u8],
    share: &'a [u8],
    pen: usize,
    runs: usize,
    sync: bool,
}

impl ControlLayout {
    fn new(blob: &[u8], p: &Pieces<'_>) -> Self {
        let page = |len: usize| region::align_up(len as u64, SZ_4K).unwrap_or(u64::MAX);
        let sync = if p.sync {
            core::mem::size_of::<copy::FinalSync>()
        } else {
            0
        };
        ControlLayout {
            dtb_len: page(blob.len() + fdt::RSV_ENTRY),
            vectors_len: page(p.vectors.len()),
            code_len: page(p.code.len()),
            share_len: page(p.share.len()),
            pen_len: page(p.pen),
            sync_len: page(sync),
            runs_len: (p.runs * core::mem::size_of::<CopyRun>()) as u64,
        }
    }

    fn bytes(&self) -> u64 {
        self.dtb_len
            + self.vectors_len
            + self.code_len
            + self.share_len
            + self.pen_len
            + self.sync_len
            + self.runs_len
    }

    fn place(&self, start: u64) -> ControlArea {
        let vectors_at = start + self.dtb_len;
        let code_at = vectors_at + self.vectors_len;
        let share_at = code_at + self.code_len;
        let pen_at = share_at + self.share_len;
        let sync_at = pen_at + self.pen_len;
        let runs_at = sync_at + self.sync_len;
        ControlArea {
            dtb_at: start,
            vectors_at,
            code_at,
            share_at,
            pen_at,
            sync_at,
            runs_at,
            used: Region::new(start, runs_at + self.runs_len),
        }
    }
}

/// The strategy and copy kernel `mode=boot` uses.
fn boot_choice(w: &World<'_>) -> Result<(Strategy, CopyKernel), Error> {
    let strategy = w.args.strategy.unwrap_or(Strategy::IndList);
    if strategy == Strategy::Legacy {
        return Err(Error::input(
            "strategy=legacy is a benchmark baseline (MMU off); boot with ind-list or contiguous",
        ));
    }
    let kernel = w.args.copy.unwrap_or(CopyKernel::CopyPage);
    copy::require(kernel)?;
    Ok((strategy, kernel))
}

/// The DTB handed on: the live one, or a FIT configuration's fdt fixed up
/// from it (`fixed`, kept by the caller). Linux takes at most 2 MiB.
fn dtb_handed_on<'b>(
    live: &'b [u8],
    fit_fdt: Option<&[u8]>,
    fixed: &'b mut Option<Vec<u8>>,
) -> Result<&'b [u8], Error> {
    if let Some(f) = fit_fdt {
        *fixed = Some(fit_image::fixup_fdt(f, live)?);
    }
    let blob = fixed.as_deref().unwrap_or(live);
    // The copy handed on grows by the pen's /memreserve/ entry.
    if (blob.len() + fdt::RSV_ENTRY) as u64 > SZ_2M {
        return Err(Error::input(format_args!(
            "DTB of {} bytes (+{} for the stage's /memreserve/ entry): Linux takes at most 2 MiB (arm64 booting.rst)",
            blob.len(),
            fdt::RSV_ENTRY
        )));
    }
    Ok(blob)
}

/// Fills the control area: the DTB handed on, the park vectors, the
/// routine and its runs, the holding pen, cleaned to the PoC (the next
/// stage and the pen run with the MMU off) and made visible to instruction
/// fetch (the routine keeps fetching from there after the MMU goes off).
fn fill_control(
    w: &World<'_>,
    blob: &[u8],
    (c, l): (&ControlArea, &ControlLayout),
    p: &Pieces<'_>,
    runs: &[CopyRun],
    initrd: Option<Region>,
) -> Result<cpus::Pen, Error> {
    hand_on_dtb(blob, (c.dtb_at, l.dtb_len), &w.foreign.join(" "), initrd)?;
    let pen = cpus::install(w, (c.pen_at, l.pen_len), c.vectors_at, dtb_copy(c, l))?;
    // SAFETY: control-area addresses, outside every other range in use,
    // sized for these pieces by `ControlLayout`.
    unsafe {
        let put = |from: &[u8], at: u64| {
            core::ptr::copy_nonoverlapping(from.as_ptr(), at as *mut u8, from.len())
        };
        put(p.vectors, c.vectors_at);
        put(p.code, c.code_at);
        put(p.share, c.share_at);
        core::ptr::copy_nonoverlapping(runs.as_ptr(), c.runs_at as *mut CopyRun, runs.len());
    }
    hw::clean_inval(c.used);
    hw::sync_icache(Region::new(c.vectors_at, c.pen_at + l.pen_len));
    Ok(pen)
}

/// The DTB copy's slot at the start of the control area (the blob and
/// room for the pen's /memreserve/ entry).
fn dtb_copy<'c>(c: &ControlArea, l: &ControlLayout) -> &'c mut [u8] {
    // SAFETY: the control area's first `dtb_len` bytes hold only the DTB
    // copy, which nothing else references while this slice is used.
    unsafe { core::slice::from_raw_parts_mut(c.dtb_at as *mut u8, l.dtb_len as usize) }
}

/// The human line and the `handoff` record.
fn report(
    w: &World<'_>,
    (strategy, kernel): (Strategy, CopyKernel),
    p: &Payload,
    fit_fdt: bool,
    c: &ControlArea,
    secondaries: &cpus::Report,
    n: usize,
) {
    let entry = p.segments[0].dest.start;
    let bytes: u64 = p.segments.iter().map(|s| s.src.len()).sum();
    let dests: Vec<Region> = p.segments.iter().map(|s| s.dest).collect();
    println!(
        "handoff: {} ({}{}) {bytes} bytes -> {}, entry {entry:#x}, DTB {:#x}, control {}{}{}",
        strategy.name(),
        kernel.name(),
        if n > 1 {
            alloc::format!(", {n} CPUs")
        } else {
            alloc::string::String::new()
        },
        dests[0],
        c.dtb_at,
        c.used,
        if p.image { ", arm64 Image" } else { "" },
        p.initrd
            .map_or(alloc::string::String::new(), |r| alloc::format!(
                ", initrd {r}"
            ))
    );
    for c in &secondaries.cpus {
        println!("handoff: {}", cpus::Human(c));
    }
    Record::new(&mut Console, "handoff")
        .str("strategy", strategy.name())
        .str("copy", kernel.name())
        .u64("bytes", bytes)
        .regions("dest", &dests)
        .hex("entry", entry)
        .hex("dtb", c.dtb_at)
        .regions("control", &[c.used])
        .bool("image", p.image)
        .opt_str("fit", p.fit)
        .bool("fit_fdt", fit_fdt)
        .regions("initrd", p.initrd.as_slice())
        .u64("el", w.regime.el().into())
        .u64("cpus", n as u64)
        .hex("pen", c.pen_at)
        .opt_u64("parked_cpu", arch::parked_cpu())
        .json("pen_cpus", |o| cpus::write_json(o, &secondaries.cpus))
        .strs("warnings", secondaries.warnings.iter().map(|s| s.as_str()))
        .end();
}

/// The final copy on several CPUs: each CPU's share (the runs split into
/// per-CPU arrays in the control area, after the boot CPU's), the sync
/// piece filled and cleaned, every secondary sent to its routine and
/// waited for there; then the boot CPU's routine, which never returns.
fn final_on_team(
    w: &World<'_>,
    team: &Team,
    (c, pen): (&ControlArea, &cpus::Pen),
    (wl, choice, input): (&Workload, (Strategy, CopyKernel), copy::Input<'_>),
    map: Option<hw::MmuRegs>,
    entry: u64,
) -> Result<Infallible, Error> {
    let n = team.cpus();
    let mut shares = FinalShares::split(w, wl, c, input, n)?;
    let sync = copy::SyncAddrs::at(c.sync_at);
    let pages = mmu_reloc::relocate::balanced(wl.bytes / SZ_4K, n)[0].end;
    let mut ns = Team::final_ns(pages);
    if w.args.inject == Inject::SecondaryHang {
        shares.hang_last(c);
        // A test waits for the deadline: 2 s, not 10 s and more, still
        // far more than any share of a test payload takes.
        ns = HANG_DEADLINE_NS;
    }
    let mut params = copy::FinalParams {
        dtb: c.dtb_at,
        entry,
        go: sync.go,
        abort: sync.abort,
        ticks: (ns as u128 * arch::counter_hz() as u128 / 1_000_000_000) as u64,
        count: (n - 1) as u64,
        conduit: pen.conduit(),
        cpus: [copy::FinalCpu::default(); copy::FINAL_CPUS_MAX - 1],
    };
    for (i, &mpidr) in team.mpidrs().iter().enumerate().skip(1) {
        let (ack, psci) = pen.ack_of(mpidr).ok_or_else(|| {
            Error::input(format_args!(
                "cpus=: CPU {mpidr:#x} has no entry in the pen"
            ))
        })?;
        params.cpus[i - 1] = copy::FinalCpu {
            done: sync.done(i),
            ack,
            psci: psci.into(),
            mpidr,
        };
    }
    // SAFETY: the sync piece of the control area, sized for FinalSync and
    // used by nothing else; no secondary knows it yet.
    unsafe { sync.init(&params) };
    let (go, abort) = (sync.go, sync.abort);
    team.hand_off(
        choice,
        |i| {
            let (list, runs) = shares.of(i);
            smp::Work {
                strategy: choice.0,
                kernel: choice.1,
                list,
                runs,
                line: wl.line,
                map,
                regime: w.regime,
                // The final copy is not a measured run: no model markers.
                run: 0,
                jump: Some(smp::Jump {
                    code: c.share_at,
                    vectors: c.vectors_at,
                    done: sync.done(i),
                    go,
                    abort,
                    pen: pen.entry(),
                }),
            }
        },
        |i| {
            let at = sync.done(i);
            hw::clean_inval(Region::new(at, at + 8));
            // SAFETY: an aligned word of the sync piece, written by CPU i.
            unsafe { core::ptr::read_volatile(at as *const u64) != 0 }
        },
    )?;
    // From here the stage's own memory may be overwritten, as with one
    // CPU.
    arch::mask_all();
    arch::set_vbar(c.vectors_at);
    let own = shares.boot();
    // SAFETY: as the single-CPU hand-off; every secondary runs its routine
    // in the control area (arrived) and waits for the go word the routine
    // writes; the parameter block is filled and cleaned.
    unsafe { copy::handoff_smp(c.code_at, own, wl.line, sync.params) }
}

/// The final copy's deadline under `inject=secondary-hang`.
const HANG_DEADLINE_NS: u64 = 2_000_000_000;

/// Each CPU's share of the final copy.
enum FinalShares<'c> {
    List(Vec<ListShare>),
    /// Per-CPU run arrays, in the control area.
    Runs(Vec<&'c [CopyRun]>),
}

impl<'c> FinalShares<'c> {
    fn split(
        w: &World<'_>,
        wl: &Workload,
        c: &ControlArea,
        input: copy::Input<'_>,
        n: usize,
    ) -> Result<Self, Error> {
        let runs = match input {
            copy::Input::List(_) => return Ok(FinalShares::List(wl.plan.list_shares(n))),
            copy::Input::Runs(r) => r,
        };
        let mut split = split_runs(runs, n);
        smp_team::inject_runs(w, &mut split);
        let total: usize = split.iter().map(Vec::len).sum();
        let run = core::mem::size_of::<CopyRun>() as u64;
        let room = ((c.used.end - c.runs_at) / run) as usize;
        if runs.len() + total > room {
            return Err(Error::verify(format_args!(
                "cpus={n}: {} runs and {total} after the split, room for {room}",
                runs.len()
            )));
        }
        // After the boot CPU's single-CPU array, which stays untouched.
        let mut at = c.runs_at + core::mem::size_of_val(runs) as u64;
        let mut out = Vec::new();
        for share in &split {
            // SAFETY: the control area's runs piece has room for every
            // share (`Pieces::runs`, checked above), past the original.
            let placed = unsafe {
                let to = at as *mut CopyRun;
                core::ptr::copy_nonoverlapping(share.as_ptr(), to, share.len());
                core::slice::from_raw_parts(to as *const CopyRun, share.len())
            };
            at += core::mem::size_of_val(placed) as u64;
            out.push(placed);
        }
        hw::clean_inval(Region::new(c.runs_at, at));
        Ok(FinalShares::Runs(out))
    }

    /// `inject=secondary-hang`: the last CPU's list share starts at the
    /// first word of the runs piece (page aligned, unused by the list
    /// strategy), which is an IND_INDIRECTION entry naming its own page.
    /// `HANDOFF_SHARE` runs as always (arrived, go, the walker), but the
    /// walker follows that entry to the same word forever: no page is
    /// copied, no abort check is reached (it comes after a page), `done`
    /// stays 1, and the boot CPU's bounded wait in `HANDOFF_SMP` runs
    /// out. The real list is untouched; only that share's start moves.
    fn hang_last(&mut self, c: &ControlArea) {
        let FinalShares::List(l) = self else {
            unreachable!("inject=secondary-hang is refused for the runs")
        };
        let Some(last) = l.last_mut() else { return };
        // SAFETY: the runs piece of the control area (page aligned), which
        // the list strategy leaves unused; nothing else reads it.
        last.first_slot = unsafe { smp_team::loop_page(c.runs_at) };
    }

    /// CPU `i`'s share as `smp::Work` carries it.
    fn of(&self, i: usize) -> (ListShare, (u64, u64)) {
        match self {
            FinalShares::List(l) => (l[i], (0, 0)),
            FinalShares::Runs(r) => (
                ListShare::default(),
                (r[i].as_ptr() as u64, r[i].len() as u64),
            ),
        }
    }

    fn boot(&self) -> copy::Share<'c> {
        match self {
            FinalShares::List(l) => copy::Share::List(l[0]),
            FinalShares::Runs(r) => copy::Share::Runs(r[0]),
        }
    }
}

/// Relocates the payload and jumps to it. Returns only with an error.
pub fn boot(w: &World<'_>, live: &[u8]) -> Result<Infallible, Error> {
    let (strategy, kernel) = boot_choice(w)?;
    let n = platform::cpus_wanted(w.args.cpus, w.platform.cpu_ids.len() as u32)
        .map_err(|e| Error::input(format_args!("{e}")))? as usize;
    let payload = payload(w)?;
    let segments = &payload.segments;
    let mut fixed = None;
    let blob = dtb_handed_on(live, payload.fdt, &mut fixed)?;
    // The control area is reserved with the tables, before the sources
    // are scattered.
    let line = hw::dcache_line();
    let (code, share) = if n > 1 {
        copy::handoff_smp_code(strategy, kernel, line)
    } else {
        (copy::handoff_code(strategy, kernel, line), &[][..])
    };
    let pieces = Pieces {
        vectors: copy::park_vectors(),
        code,
        share,
        pen: cpus::bytes(w),
        // With cpus=, the shares' arrays follow the boot CPU's: each
        // share boundary cuts at most one run in two.
        runs: if n > 1 {
            2 * segments.len() + copy::FINAL_CPUS_MAX
        } else {
            segments.len()
        },
        sync: n > 1,
    };
    let layout = ControlLayout::new(blob, &pieces);
    let contiguous = strategy == Strategy::Contiguous;
    let mut wl = workload::prepare(w, segments, contiguous, Purpose::Boot, layout.bytes())?;
    // The test hooks, as in a benchmark: one source of the boot CPU's
    // share or of the last CPU's points at no memory.
    match (n, w.args.inject) {
        (1, Inject::SecondaryCopyFault) => {
            return Err(Error::input(
                "inject=secondary-copy-fault needs a secondary: give cpus= above 1",
            ));
        }
        (1, Inject::SecondaryHang) => {
            return Err(Error::input(
                "inject=secondary-hang needs a secondary: give cpus= above 1",
            ));
        }
        (_, Inject::SecondaryHang) if contiguous => {
            return Err(Error::input(
                "inject=secondary-hang needs strategy=ind-list (a list slot is what hangs)",
            ));
        }
        (1, Inject::CopyFault) => workload::inject_copy_fault(w, &mut wl),
        _ => {}
    }
    let contig = match (contiguous, &wl.contig) {
        (true, None) => return Err(Error::input("strategy=contiguous needs the 4k granule")),
        (true, Some(c)) => Some(c),
        (false, _) => None,
    };
    let runs: &[CopyRun] = contig.map_or(&[], |c| &c.runs);
    let c = layout.place(wl.control.start);
    let pen = fill_control(w, blob, (&c, &layout), &pieces, runs, payload.initrd)?;
    // The CPUs that share the final copy start now, with the MMU off.
    let team = Team::start(w)?;
    if let Some(t) = &team {
        t.inject_list(w, &wl);
    }
    let ours: &[u64] = team.as_ref().map_or(&[], |t| &t.mpidrs()[1..]);
    // Every other secondary leaves for the pen before the stage may go.
    let secondaries = cpus::hand_back(w, &pen, dtb_copy(&c, &layout), ours)?;
    report(
        w,
        (strategy, kernel),
        &payload,
        fixed.is_some(),
        &c,
        &secondaries,
        n,
    );

    let input = match contig {
        None => copy::Input::List(wl.head),
        Some(cm) => {
            workload::switch(w, &wl, Some(&cm.map));
            workload::verify_live(w, &cm.map, "contiguous map")?;
            // SAFETY: `fill_control` copied the runs to `runs_at`.
            copy::Input::Runs(unsafe {
                core::slice::from_raw_parts(c.runs_at as *const CopyRun, runs.len())
            })
        }
    };
    let entry = segments[0].dest.start;
    if let Some(team) = &team {
        let map = contig.map(|cm| hw::MmuRegs::of(w.regime, &cm.map));
        return final_on_team(
            w,
            team,
            (&c, &pen),
            (&wl, (strategy, kernel), input),
            map,
            entry,
        );
    }
    // From here the stage's own memory may be overwritten: exceptions go
    // to the park vectors in the control area (with semihosting a line
    // naming the CPU and ESR, then exit 3; else a wait loop), not into
    // the stage.
    arch::mask_all();
    arch::set_vbar(c.vectors_at);
    // SAFETY: the routine, its runs, the list, the sources, the tables and
    // the DTB copy all lie outside the destination (the plan and the
    // control-area placement ensured it); the live map reaches them all.
    unsafe { copy::handoff(c.code_at, input, wl.line, c.dtb_at, entry) }
}
