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

/// Relocates the payload and jumps to it. Never returns.
pub fn boot(w: &World<'_>, blob: &[u8]) -> Result<Infallible, Error> {
    let strategy = w.args.strategy.unwrap_or(Strategy::IndList);
    if strategy == Strategy::Legacy {
        return Err(Error::input(
            "strategy=legacy is a benchmark baseline (MMU off); boot with ind-list or contiguous",
        ));
    }
    let kernel = w.args.copy.unwrap_or(CopyKernel::CopyPage);
    if blob.len() as u64 > SZ_2M {
        return Err(Error::input(format_args!(
            "DTB of {} bytes: Linux takes at most 2 MiB (arm64 booting.rst)",
            blob.len()
        )));
    }
    let (seg, header) = payload_segment(w)?;
    let segments = [seg];
    // Control area, reserved with the tables before the sources are
    // scattered: the DTB copy at a 2 MiB boundary (so it cannot straddle
    // one, as arm64 booting.rst wants), the park vectors (2 KiB aligned),
    // the routine, its runs (one per segment).
    let code = copy::handoff_code(strategy, kernel);
    let vectors = copy::park_vectors();
    let dtb_len = region::align_up(blob.len() as u64, SZ_4K).unwrap_or(u64::MAX);
    let vectors_len = region::align_up(vectors.len() as u64, SZ_4K).unwrap_or(u64::MAX);
    let code_len = region::align_up(code.len() as u64, SZ_4K).unwrap_or(u64::MAX);
    let runs_len = (segments.len() * core::mem::size_of::<CopyRun>()) as u64;
    let wl = workload::prepare(
        w,
        &segments,
        strategy == Strategy::Contiguous,
        Purpose::Boot,
        dtb_len + vectors_len + code_len + runs_len,
    )?;
    let runs: &[CopyRun] = match (strategy, &wl.contig) {
        (Strategy::Contiguous, Some((_, runs))) => runs,
        (Strategy::Contiguous, None) => {
            return Err(Error::input("strategy=contiguous needs the 4k granule"));
        }
        _ => &[],
    };
    let control = wl.control;
    let dtb_at = control.start;
    let vectors_at = dtb_at + dtb_len;
    let code_at = vectors_at + vectors_len;
    let runs_at = code_at + code_len;

    hand_on_dtb(blob, dtb_at, &w.foreign.join(" "))?;
    // SAFETY: control-area addresses, outside every other range in use.
    unsafe {
        core::ptr::copy_nonoverlapping(vectors.as_ptr(), vectors_at as *mut u8, vectors.len());
        core::ptr::copy_nonoverlapping(code.as_ptr(), code_at as *mut u8, code.len());
        core::ptr::copy_nonoverlapping(runs.as_ptr(), runs_at as *mut CopyRun, runs.len());
    }
    let control_used = Region::new(control.start, runs_at + runs_len);
    // In memory for the next stage (MMU off) and for the routine itself,
    // which keeps fetching from the control page after the MMU goes off.
    hw::clean_inval(control_used);
    hw::sync_icache(Region::new(vectors_at, code_at + code.len() as u64));

    let entry = seg.dest.start;
    println!(
        "handoff: {} ({}) {} bytes -> {}, entry {entry:#x}, DTB {dtb_at:#x}, control {control_used}{}",
        strategy.name(),
        kernel.name(),
        seg.src.len(),
        seg.dest,
        if header.is_some() {
            ", arm64 Image"
        } else {
            ""
        }
    );
    Record::new(&mut Console, "handoff")
        .str("strategy", strategy.name())
        .str("copy", kernel.name())
        .u64("bytes", seg.src.len())
        .regions("dest", &[seg.dest])
        .hex("entry", entry)
        .hex("dtb", dtb_at)
        .regions("control", &[control_used])
        .bool("image", header.is_some())
        .u64("el", w.el as u64)
        .end();

    let input = match strategy {
        Strategy::IndList | Strategy::Legacy => copy::Input::List(wl.head),
        Strategy::Contiguous => {
            let map = &wl.contig.as_ref().expect("checked above").0;
            workload::switch(w, &wl, Some(map));
            workload::verify_live(w, map, "contiguous map")?;
            // SAFETY: the runs were copied to the control area above.
            copy::Input::Runs(unsafe {
                core::slice::from_raw_parts(runs_at as *const CopyRun, runs.len())
            })
        }
    };
    // From here the stage's own memory may be overwritten: exceptions go
    // to the park vectors in the control area (semihosting exit 3, else a
    // wait loop), not into the stage.
    arch::set_vbar(vectors_at);
    // SAFETY: the routine, its runs, the list, the sources, the tables and
    // the DTB copy all lie outside the destination (the plan and the
    // control-area placement ensured it); the live map reaches them all.
    unsafe { copy::handoff(code_at, input, wl.line, dtb_at, entry) }
}
