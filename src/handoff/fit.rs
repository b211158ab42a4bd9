//! `mode=boot` with a FIT image as the initrd: resolve its default
//! configuration, check every hash before anything moves, and turn the
//! kernel and the ramdisk into segments (its fdt, if any, is fixed up into
//! the DTB handed on by the hand-off). The parsing, hashing and placement
//! rules live in the library (`mmu_reloc::fit`); this is only the glue
//! between the bytes the loader left in RAM and the hand-off.

use mmu_reloc::exit::Error;
use mmu_reloc::fit::{self, BootSet};
use mmu_reloc::region::{Region, SZ_2M};
use mmu_reloc::relocate::{Segment, SegmentSource};

use super::Payload;
use crate::arch::mmu as hw;
use crate::workload::{World, timing};

/// Whether the initrd at `initrd` starts with an FDT header (a FIT).
pub fn is_fit(initrd: Region) -> bool {
    let mut head = [0u8; 8];
    if initrd.len() < head.len() as u64 {
        return false;
    }
    // SAFETY: the DTB says the initrd lies at `initrd`, in RAM.
    unsafe {
        core::ptr::copy_nonoverlapping(initrd.start as *const u8, head.as_mut_ptr(), head.len())
    };
    fit::looks_like_fit(&head)
}

/// Where the FIT's images go: `dest=` (which must be 2 MiB aligned, as
/// for a plain Image), else the FIT's `load`s or the lowest 2 MiB base
/// where every destination lies in RAM clear of reserved memory
/// (`lowest_base`).
fn base(w: &World<'_>, set: &BootSet<'_>) -> Result<u64, Error> {
    match w.args.dest {
        Some(d) if !d.is_multiple_of(SZ_2M) => Err(Error::input(format_args!(
            "dest={d:#x}: an arm64 Image needs a 2 MiB-aligned base"
        ))),
        Some(d) => Ok(d),
        None => {
            let dests = |base| Some(set.place(base).ok()?.destinations().collect());
            // When no base works, the placement at the bottom of RAM is
            // what gets reported (by `place` or by the validator).
            Ok(
                fit::lowest_base(&w.platform.ram, &w.platform.reserved, dests)
                    .unwrap_or(w.platform.ram.first().map_or(0, |r| r.start)),
            )
        }
    }
}

/// Parses and verifies the FIT lying at `initrd` and places its images
/// (see [`base`]).
pub fn payload(w: &World<'_>, initrd: Region) -> Result<Payload, Error> {
    // SAFETY: the DTB says the initrd lies at `initrd`, in RAM; nothing
    // writes there before the sources are loaded (it is a forbidden range
    // for every allocation), and `'static` ends with the hand-off.
    let bytes: &'static [u8] =
        unsafe { core::slice::from_raw_parts(initrd.start as *const u8, initrd.len() as usize) };
    let set: BootSet<'static> = fit::parse(bytes)?;
    // Before any byte moves: every hash of every image of the configuration.
    let (verified, ns) = timing::timed(|| set.verify());
    verified?;
    log::info!(
        "FIT configuration '{}': {} images, {} bytes, every hash verified in {} us (MMU {})",
        set.config,
        set.images().count(),
        set.images().map(|i| i.data.len()).sum::<usize>(),
        ns / 1000,
        if hw::enabled(w.regime) { "on" } else { "off" }
    );
    let p = set.place(base(w, &set)?)?;
    let phys = |range: &core::ops::Range<usize>| {
        Region::new(
            initrd.start + range.start as u64,
            initrd.start + range.end as u64,
        )
    };
    let mut segments = alloc::vec![Segment {
        src: SegmentSource::Phys(phys(&set.kernel.range)),
        dest: p.kernel,
    }];
    let mut ramdisk = None;
    if let (Some(r), Some(dest)) = (&set.ramdisk, p.ramdisk) {
        segments.push(Segment {
            src: SegmentSource::Phys(phys(&r.range)),
            dest,
        });
        ramdisk = Some(Region::new(dest.start, dest.start + p.ramdisk_len));
    }
    Ok(Payload {
        segments,
        image: true,
        initrd: ramdisk,
        fit: Some(set.config),
        fdt: set.fdt.as_ref().map(|f| f.data),
    })
}
