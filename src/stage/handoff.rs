//! `mode=boot`: relocate the real payload (the initrd QEMU or a bootloader
//! loaded) to its destination and enter it the way kexec does. Everything
//! the final copy needs (the routine, its runs, the DTB handed on) goes to
//! a control area outside every destination, because the destination may
//! cover the stage itself.

use alloc::vec::Vec;

use mmu_reloc::bootargs::{CopyKernel, Strategy};
use mmu_reloc::fdt::{self, Fdt};
use mmu_reloc::fit;
use mmu_reloc::record::Record;
use mmu_reloc::region::{self, Region, SZ_2M, SZ_4K};
use mmu_reloc::relocate::{CopyRun, ImageHeader, Segment, SegmentSource};

use super::fit_boot;
use super::relocation::{self, Purpose};
use super::{EXIT_INPUT, World, fail};
use crate::arch::{self, copy, mmu as hw};
use crate::board::console::Console;
use crate::println;

/// `/chosen` properties that described the payload the stage consumes.
const INITRD_PROPS: [&str; 2] = ["linux,initrd-start", "linux,initrd-end"];

fn bad(msg: core::fmt::Arguments<'_>) -> ! {
    fail(EXIT_INPUT, msg)
}

/// The lowest 2 MiB-aligned base whose Image destination lies in one RAM
/// bank and misses reserved memory (on a Pi 4 the bottom page is the spin
/// table, reserved). The destination may cover the stage and the DTB.
fn default_base(w: &World<'_>, h: &ImageHeader, initrd: Region) -> Option<u64> {
    fit::lowest_base(&w.platform.ram, &w.platform.reserved, |base| {
        Some(alloc::vec![h.segment(initrd, base)?.dest])
    })
}

/// The payload's segment: an arm64 Image goes to a 2 MiB-aligned base
/// (`dest=`, or the lowest one clear of reserved memory) plus its text
/// offset; anything else needs `dest=`.
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
    match ImageHeader::parse(&head) {
        Some(h) => {
            let base = w.args.dest.or_else(|| default_base(w, &h, initrd)).unwrap_or_else(|| {
                bad(format_args!(
                    "no 2 MiB-aligned base in RAM takes the Image ({:#x} bytes) clear of reserved memory; give dest=",
                    h.load_len(initrd.len()).unwrap_or(0)
                ))
            });
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

/// What `mode=boot` relocates: the segments (the first one's start is the
/// entry), whether the first is an arm64 Image, the relocated ramdisk for
/// `linux,initrd-*` and the FIT configuration it came from.
struct Payload {
    segments: Vec<Segment>,
    image: bool,
    initrd: Option<Region>,
    fit: Option<&'static str>,
    /// The FIT configuration's device tree, replacing the live one.
    fdt: Option<&'static [u8]>,
}

/// A FIT (kernel, ramdisk) or a single blob (an Image, or raw at `dest=`).
fn payload(w: &World<'_>) -> Payload {
    match w.platform.initrd.filter(|i| fit_boot::is_fit(*i)) {
        Some(initrd) => {
            let p = fit_boot::payload(w, initrd).unwrap_or_else(|e| bad(format_args!("{e}")));
            Payload {
                segments: p.segments,
                image: true,
                initrd: p.initrd,
                fit: Some(p.config),
                fdt: p.fdt,
            }
        }
        None => {
            let (seg, header) = payload_segment(w);
            Payload {
                segments: alloc::vec![seg],
                image: header.is_some(),
                initrd: None,
                fit: None,
                fdt: None,
            }
        }
    }
}

/// Copies the DTB to `at`. In the copy, the initrd properties point at the
/// relocated ramdisk (`initrd`), or are NOP'ed when there is none (the
/// payload they described is consumed). Memory reservations are kept.
fn hand_on_dtb(blob: &[u8], at: u64, foreign: &str, initrd: Option<Region>) {
    // SAFETY: `at` is the start of the control area, outside everything
    // else and large enough for the blob.
    let copy = unsafe { core::slice::from_raw_parts_mut(at as *mut u8, blob.len()) };
    copy.copy_from_slice(blob);
    let (offsets, bootargs): (Vec<usize>, Option<usize>) = {
        let f = Fdt::new(copy).unwrap_or_else(|e| bad(format_args!("DTB copy: {e}")));
        let chosen = f.find("/chosen");
        let prop = |name: &str| chosen.and_then(|c| f.prop(c, name)).map(|p| p.blob_offset);
        (
            INITRD_PROPS.iter().filter_map(|p| prop(p)).collect(),
            prop("bootargs"),
        )
    };
    match initrd {
        Some(r) => {
            let [Some(start), Some(end)] = [offsets.first(), offsets.get(1)] else {
                bad(format_args!(
                    "DTB copy: no linux,initrd-start/-end to point at the ramdisk"
                ));
            };
            for (off, v) in [(*start, r.start), (*end, r.end)] {
                fdt::set_uint_property(copy, off, v).unwrap_or_else(|e| {
                    bad(format_args!(
                        "DTB copy: linux,initrd-* cannot hold {v:#x}: {e}"
                    ))
                });
            }
        }
        None => {
            for off in offsets {
                fdt::nop_property(copy, off).unwrap_or_else(|e| bad(format_args!("DTB copy: {e}")));
            }
        }
    }
    // The next stage gets only the words the stage did not own.
    if let Some(off) = bootargs {
        fdt::shrink_string_property(copy, off, foreign)
            .unwrap_or_else(|e| bad(format_args!("DTB copy bootargs: {e}")));
    }
}

/// Relocates the payload and jumps to it. Never returns.
pub fn boot(w: &World<'_>, blob: &[u8]) -> ! {
    let strategy = w.args.strategy.unwrap_or(Strategy::IndList);
    if strategy == Strategy::Legacy {
        bad(format_args!(
            "strategy=legacy is a benchmark baseline (MMU off); boot with ind-list or contiguous"
        ));
    }
    let kernel = w.args.copy.unwrap_or(CopyKernel::CopyPage);
    let payload = payload(w);
    let segments = &payload.segments;
    // A FIT's fdt replaces the live DTB, fixed up from it.
    let fixed = payload
        .fdt
        .map(|f| fit::fixup_fdt(f, blob).unwrap_or_else(|e| bad(format_args!("{e}"))));
    let blob = fixed.as_deref().unwrap_or(blob);
    if blob.len() as u64 > SZ_2M {
        bad(format_args!(
            "DTB of {} bytes: Linux takes at most 2 MiB (arm64 booting.rst)",
            blob.len()
        ));
    }
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
    let wl = relocation::prepare(
        w,
        segments,
        strategy == Strategy::Contiguous,
        Purpose::Boot,
        dtb_len + vectors_len + code_len + runs_len,
    );
    let runs: &[CopyRun] = match (strategy, &wl.contig) {
        (Strategy::Contiguous, Some((_, runs))) => runs,
        (Strategy::Contiguous, None) => {
            bad(format_args!("strategy=contiguous needs the 4k granule"))
        }
        _ => &[],
    };
    let control = wl.control;
    let dtb_at = control.start;
    let vectors_at = dtb_at + dtb_len;
    let code_at = vectors_at + vectors_len;
    let runs_at = code_at + code_len;

    hand_on_dtb(blob, dtb_at, &w.foreign.join(" "), payload.initrd);
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

    let entry = segments[0].dest.start;
    let bytes: u64 = segments.iter().map(|s| s.src.len()).sum();
    let dests: Vec<Region> = segments.iter().map(|s| s.dest).collect();
    println!(
        "handoff: {} ({}) {bytes} bytes -> {}, entry {entry:#x}, DTB {dtb_at:#x}, control {control_used}{}{}",
        strategy.name(),
        kernel.name(),
        dests[0],
        if payload.image { ", arm64 Image" } else { "" },
        payload
            .initrd
            .map_or(alloc::string::String::new(), |r| alloc::format!(
                ", initrd {r}"
            ))
    );
    Record::new(&mut Console, "handoff")
        .str("strategy", strategy.name())
        .str("copy", kernel.name())
        .u64("bytes", bytes)
        .regions("dest", &dests)
        .hex("entry", entry)
        .hex("dtb", dtb_at)
        .regions("control", &[control_used])
        .bool("image", payload.image)
        .opt_str("fit", payload.fit)
        .bool("fit_fdt", fixed.is_some())
        .regions("initrd", payload.initrd.as_slice())
        .u64("el", w.el as u64)
        .end();

    let input = match strategy {
        Strategy::IndList | Strategy::Legacy => copy::Input::List(wl.head),
        Strategy::Contiguous => {
            let map = &wl.contig.as_ref().expect("checked above").0;
            relocation::switch(w, &wl, Some(map));
            relocation::verify_live(w, map, "contiguous map");
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
