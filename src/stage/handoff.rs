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

use super::relocation::{self, Purpose};
use super::{EXIT_INPUT, World, fail};
use crate::arch::{copy, mmu as hw};
use crate::board::console::Console;
use crate::println;

/// `/chosen` properties that described the payload the stage consumes.
const INITRD_PROPS: [&str; 2] = ["linux,initrd-start", "linux,initrd-end"];

fn bad(msg: core::fmt::Arguments<'_>) -> ! {
    fail(EXIT_INPUT, msg)
}

/// The payload's segment: an arm64 Image goes to a 2 MiB-aligned base
/// (`dest=` or the bottom of RAM) plus its text offset; anything else needs
/// `dest=`.
fn payload_segment(w: &World<'_>) -> (Segment, Option<ImageHeader>) {
    let Some(initrd) = w.platform.initrd else {
        bad(format_args!(
            "mode=boot needs a payload: pass the next stage with -initrd"
        ));
    };
    let mut head = [0u8; 64];
    if initrd.len() >= head.len() as u64 {
        // SAFETY: the DTB says the initrd lies at `initrd`, in RAM.
        unsafe {
            core::ptr::copy_nonoverlapping(initrd.start as *const u8, head.as_mut_ptr(), head.len())
        };
    }
    let ram_base = w.platform.ram.first().map_or(0, |r| r.start);
    match ImageHeader::parse(&head) {
        Some(h) => {
            let base = w.args.dest.unwrap_or(ram_base);
            if !base.is_multiple_of(SZ_2M) {
                bad(format_args!(
                    "dest={base:#x}: an arm64 Image needs a 2 MiB-aligned base"
                ));
            }
            let seg = h
                .segment(initrd, base)
                .unwrap_or_else(|| bad(format_args!("Image at {initrd}: destination overflows")));
            (seg, Some(h))
        }
        None => {
            let Some(dest) = w.args.dest else {
                bad(format_args!(
                    "payload at {initrd} is not an arm64 Image: say where it goes with dest="
                ));
            };
            let len = region::align_up(initrd.len(), SZ_4K).unwrap_or(u64::MAX);
            let dest = Region::from_len(dest, len)
                .unwrap_or_else(|| bad(format_args!("dest={dest:#x} + {len:#x} overflows")));
            let seg = Segment {
                src: SegmentSource::Phys(initrd),
                dest,
            };
            (seg, None)
        }
    }
}

/// Copies the DTB to `at` and NOPs the initrd properties in the copy: the
/// payload they describe is consumed. Memory reservations are kept.
fn hand_on_dtb(blob: &[u8], at: u64) {
    // SAFETY: `at` is the start of the control area, outside everything
    // else and large enough for the blob.
    let copy = unsafe { core::slice::from_raw_parts_mut(at as *mut u8, blob.len()) };
    copy.copy_from_slice(blob);
    let offsets: Vec<usize> = {
        let f = Fdt::new(copy).unwrap_or_else(|e| bad(format_args!("DTB copy: {e}")));
        let chosen = f.find("/chosen");
        INITRD_PROPS
            .iter()
            .filter_map(|p| chosen.and_then(|c| f.prop(c, p)).map(|p| p.blob_offset))
            .collect()
    };
    for off in offsets {
        fdt::nop_property(copy, off).unwrap_or_else(|e| bad(format_args!("DTB copy: {e}")));
    }
}

/// Relocates the payload and jumps to it. Never returns.
pub fn boot(w: &World<'_>, blob: &[u8]) -> ! {
    let strategy = w.args.strategy.unwrap_or(Strategy::IndList);
    let kernel = w.args.copy.unwrap_or(CopyKernel::CopyPage);
    let (seg, header) = payload_segment(w);
    let segments = [seg];
    // Control area: the DTB copy, then the routine, then the runs (one per
    // segment); 2 MiB aligned so the DTB sits alone in its 2 MiB block as
    // arm64 booting.rst asks. Reserved with the tables, before the sources
    // are scattered.
    let code = copy::handoff_code(strategy, kernel);
    let dtb_len = region::align_up(blob.len() as u64, SZ_4K).unwrap_or(u64::MAX);
    let code_len = region::align_up(code.len() as u64, SZ_4K).unwrap_or(u64::MAX);
    let runs_len = (segments.len() * core::mem::size_of::<CopyRun>()) as u64;
    let wl = relocation::prepare(
        w,
        &segments,
        strategy == Strategy::Contiguous,
        Purpose::Boot,
        dtb_len + code_len + runs_len,
    );
    let runs: &[CopyRun] = match (strategy, &wl.contig) {
        (Strategy::Contiguous, Some((_, runs))) => runs,
        (Strategy::Contiguous, None) => {
            bad(format_args!("strategy=contiguous needs the 4k granule"))
        }
        _ => &[],
    };
    let control = wl.control;
    let (dtb_at, code_at, runs_at) = (
        control.start,
        control.start + dtb_len,
        control.start + dtb_len + code_len,
    );

    hand_on_dtb(blob, dtb_at);
    // SAFETY: control-area addresses, outside every other range in use.
    unsafe {
        core::ptr::copy_nonoverlapping(code.as_ptr(), code_at as *mut u8, code.len());
        core::ptr::copy_nonoverlapping(runs.as_ptr(), runs_at as *mut CopyRun, runs.len());
    }
    let control_used = Region::new(control.start, runs_at + runs_len);
    // In memory for the next stage (MMU off) and for the routine itself,
    // which keeps fetching from the control page after the MMU goes off.
    hw::clean_inval(control_used);
    hw::sync_icache(Region::new(code_at, code_at + code.len() as u64));

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
        Strategy::IndList => copy::Input::List(wl.head),
        Strategy::Contiguous => {
            let map = &wl.contig.as_ref().expect("checked above").0;
            relocation::switch(w, &wl, Some(map));
            // SAFETY: the runs were copied to the control area above.
            copy::Input::Runs(unsafe {
                core::slice::from_raw_parts(runs_at as *const CopyRun, runs.len())
            })
        }
    };
    // SAFETY: the routine, its runs, the list, the sources, the tables and
    // the DTB copy all lie outside the destination (the plan and the
    // control-area placement ensured it); the live map reaches them all.
    unsafe { copy::handoff(code_at, input, wl.line, dtb_at, entry) }
}
