//! `mode=boot`: relocate the real payload (the initrd QEMU or a bootloader
//! loaded) to its destination and enter it the way kexec does. Everything
//! the final copy needs (the routine, its runs, the DTB handed on) goes to
//! a control area outside every destination, because the destination may
//! cover the stage itself.

use alloc::vec::Vec;

use mmu_reloc::bootargs::{CopyKernel, Strategy};
use mmu_reloc::fdt::{self, Fdt};
use mmu_reloc::record::Record;
use mmu_reloc::region::{self, Region, SZ_2M, SZ_4K};
use mmu_reloc::relocate::{CopyRun, ImageHeader, Segment, SegmentSource};

use core::convert::Infallible;

use mmu_reloc::exit::Error;

use crate::arch::{self, copy, mmu as hw};
use crate::board::console::Console;
use crate::println;
use crate::workload::{self, Purpose, World};

/// `/chosen` properties that described the payload the stage consumes.
const INITRD_PROPS: [&str; 2] = ["linux,initrd-start", "linux,initrd-end"];

/// The lowest 2 MiB-aligned base whose Image destination lies in one RAM
/// bank and misses reserved memory (on a Pi 4 the bottom page is the spin
/// table, reserved). The destination may cover the stage and the DTB.
fn default_base(w: &World<'_>, h: &ImageHeader, initrd: Region) -> Option<u64> {
    w.platform.ram.iter().find_map(|bank| {
        let mut base = region::align_up(bank.start, SZ_2M)?;
        while base < bank.end {
            let dest = h.segment(initrd, base)?.dest;
            if !bank.covers(&dest) {
                return None;
            }
            if !w.platform.reserved.iter().any(|r| r.overlaps(&dest)) {
                return Some(base);
            }
            base = base.checked_add(SZ_2M)?;
        }
        None
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

/// Copies the DTB to `at` and NOPs the initrd properties in the copy: the
/// payload they describe is consumed. Memory reservations are kept.
fn hand_on_dtb(blob: &[u8], at: u64, foreign: &str) -> Result<(), Error> {
    // SAFETY: `at` is the start of the control area, outside everything
    // else and large enough for the blob.
    let copy = unsafe { core::slice::from_raw_parts_mut(at as *mut u8, blob.len()) };
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
    for off in offsets {
        fdt::nop_property(copy, off).map_err(|e| Error::input(format_args!("DTB copy: {e}")))?;
    }
    // The next stage gets only the words the stage did not own.
    if let Some(off) = bootargs {
        fdt::shrink_string_property(copy, off, foreign)
            .map_err(|e| Error::input(format_args!("DTB copy bootargs: {e}")))?;
    }
    Ok(())
}

/// The control area's layout: the DTB copy at its 2 MiB-aligned start (so
/// it cannot straddle a 2 MiB boundary, as arm64 booting.rst wants), the
/// park vectors (2 KiB aligned), the routine, its runs (one per segment).
/// Each piece starts on a 4 KiB boundary.
#[derive(Clone, Copy)]
struct ControlLayout {
    dtb_len: u64,
    vectors_len: u64,
    code_len: u64,
    runs_len: u64,
}

/// Physical addresses of the pieces once the area is placed.
struct ControlArea {
    dtb_at: u64,
    vectors_at: u64,
    code_at: u64,
    runs_at: u64,
    /// The part in use, `[dtb_at, runs_at + runs_len)`.
    used: Region,
}

impl ControlLayout {
    fn new(blob: &[u8], vectors: &[u8], code: &[u8], runs: usize) -> Self {
        let page = |len: usize| region::align_up(len as u64, SZ_4K).unwrap_or(u64::MAX);
        ControlLayout {
            dtb_len: page(blob.len()),
            vectors_len: page(vectors.len()),
            code_len: page(code.len()),
            runs_len: (runs * core::mem::size_of::<CopyRun>()) as u64,
        }
    }

    fn bytes(&self) -> u64 {
        self.dtb_len + self.vectors_len + self.code_len + self.runs_len
    }

    fn place(&self, start: u64) -> ControlArea {
        let vectors_at = start + self.dtb_len;
        let code_at = vectors_at + self.vectors_len;
        let runs_at = code_at + self.code_len;
        ControlArea {
            dtb_at: start,
            vectors_at,
            code_at,
            runs_at,
            used: Region::new(start, runs_at + self.runs_len),
        }
    }
}

/// The strategy and copy kernel `mode=boot` uses, and the DTB limit.
fn check_boot_args(w: &World<'_>, blob: &[u8]) -> Result<(Strategy, CopyKernel), Error> {
    let strategy = w.args.strategy.unwrap_or(Strategy::IndList);
    if strategy == Strategy::Legacy {
        return Err(Error::input(
            "strategy=legacy is a benchmark baseline (MMU off); boot with ind-list or contiguous",
        ));
    }
    if blob.len() as u64 > SZ_2M {
        return Err(Error::input(format_args!(
            "DTB of {} bytes: Linux takes at most 2 MiB (arm64 booting.rst)",
            blob.len()
        )));
    }
    Ok((strategy, w.args.copy.unwrap_or(CopyKernel::CopyPage)))
}

/// Fills the control area: the DTB handed on, the park vectors, the
/// routine and its runs, cleaned to the PoC (the next stage runs with the
/// MMU off) and made visible to instruction fetch (the routine keeps
/// fetching from there after the MMU goes off).
fn fill_control(
    w: &World<'_>,
    blob: &[u8],
    c: &ControlArea,
    code: &[u8],
    runs: &[CopyRun],
) -> Result<(), Error> {
    let vectors = copy::park_vectors();
    hand_on_dtb(blob, c.dtb_at, &w.foreign.join(" "))?;
    // SAFETY: control-area addresses, outside every other range in use,
    // sized for these pieces by `ControlLayout`.
    unsafe {
        core::ptr::copy_nonoverlapping(vectors.as_ptr(), c.vectors_at as *mut u8, vectors.len());
        core::ptr::copy_nonoverlapping(code.as_ptr(), c.code_at as *mut u8, code.len());
        core::ptr::copy_nonoverlapping(runs.as_ptr(), c.runs_at as *mut CopyRun, runs.len());
    }
    hw::clean_inval(c.used);
    hw::sync_icache(Region::new(c.vectors_at, c.code_at + code.len() as u64));
    Ok(())
}

/// The human line and the `handoff` record.
fn report(
    w: &World<'_>,
    (strategy, kernel): (Strategy, CopyKernel),
    seg: &Segment,
    image: bool,
    c: &ControlArea,
) {
    let entry = seg.dest.start;
    println!(
        "handoff: {} ({}) {} bytes -> {}, entry {entry:#x}, DTB {:#x}, control {}{}",
        strategy.name(),
        kernel.name(),
        seg.src.len(),
        seg.dest,
        c.dtb_at,
        c.used,
        if image { ", arm64 Image" } else { "" }
    );
    Record::new(&mut Console, "handoff")
        .str("strategy", strategy.name())
        .str("copy", kernel.name())
        .u64("bytes", seg.src.len())
        .regions("dest", &[seg.dest])
        .hex("entry", entry)
        .hex("dtb", c.dtb_at)
        .regions("control", &[c.used])
        .bool("image", image)
        .u64("el", w.regime.el().into())
        .end();
}

/// Relocates the payload and jumps to it. Returns only with an error.
pub fn boot(w: &World<'_>, blob: &[u8]) -> Result<Infallible, Error> {
    let (strategy, kernel) = check_boot_args(w, blob)?;
    let (seg, header) = payload_segment(w)?;
    let segments = [seg];
    // The control area is reserved with the tables, before the sources
    // are scattered.
    let code = copy::handoff_code(strategy, kernel);
    let layout = ControlLayout::new(blob, copy::park_vectors(), code, segments.len());
    let contiguous = strategy == Strategy::Contiguous;
    let wl = workload::prepare(w, &segments, contiguous, Purpose::Boot, layout.bytes())?;
    let contig = match (contiguous, &wl.contig) {
        (true, None) => return Err(Error::input("strategy=contiguous needs the 4k granule")),
        (true, Some(c)) => Some(c),
        (false, _) => None,
    };
    let runs: &[CopyRun] = contig.map_or(&[], |c| &c.runs);
    let c = layout.place(wl.control.start);
    fill_control(w, blob, &c, code, runs)?;
    report(w, (strategy, kernel), &seg, header.is_some(), &c);

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
    // From here the stage's own memory may be overwritten: exceptions go
    // to the park vectors in the control area (semihosting exit 3, else a
    // wait loop), not into the stage.
    arch::set_vbar(c.vectors_at);
    // SAFETY: the routine, its runs, the list, the sources, the tables and
    // the DTB copy all lie outside the destination (the plan and the
    // control-area placement ensured it); the live map reaches them all.
    unsafe { copy::handoff(c.code_at, input, wl.line, c.dtb_at, seg.dest.start) }
}
