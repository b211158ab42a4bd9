//! `mode=boot` with a FIT image as the initrd: resolve its default
//! configuration, check every hash before anything moves, and turn the
//! kernel and the ramdisk into segments (its fdt, if any, is fixed up into
//! the DTB handed on by `handoff`). The parsing, hashing and placement
//! rules live in the library (`mmu_reloc::fit`); this is only the glue
//! between the bytes the loader left in RAM and the hand-off.

use alloc::vec::Vec;

use mmu_reloc::fit::{self, BootSet};
use mmu_reloc::region::{Region, SZ_2M};
use mmu_reloc::relocate::{Segment, SegmentSource};

use super::World;
use crate::arch;

/// The FIT's images as segments (kernel first: its start is the entry)
/// and where the relocated ramdisk will lie, for `linux,initrd-*`.
pub struct FitPayload {
    pub segments: Vec<Segment>,
    /// `[start, start + true length)` of the relocated ramdisk.
    pub initrd: Option<Region>,
    /// The configuration's device tree (verified), to replace the live one.
    pub fdt: Option<&'static [u8]>,
    pub config: &'static str,
}

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

/// Parses and verifies the FIT lying at `initrd` and places its images:
/// at `dest=` (or the FIT's `load`s), else at the lowest 2 MiB base where
/// every destination lies in RAM clear of reserved memory (`lowest_base`).
/// Any failure is returned as the message of the stage's one error.
pub fn payload(w: &World<'_>, initrd: Region) -> Result<FitPayload, alloc::string::String> {
    use alloc::string::ToString;
    // SAFETY: the DTB says the initrd lies at `initrd`, in RAM; nothing
    // writes there before the sources are loaded (it is a forbidden range
    // for every allocation), and `'static` ends with the hand-off.
    let bytes: &'static [u8] =
        unsafe { core::slice::from_raw_parts(initrd.start as *const u8, initrd.len() as usize) };
    let set: BootSet<'static> = fit::parse(bytes).map_err(|e| e.to_string())?;
    // Before any byte moves: every hash of every image of the configuration.
    let t0 = arch::counter();
    set.verify().map_err(|e| e.to_string())?;
    log::info!(
        "FIT configuration '{}': {} images, {} bytes, every hash verified in {} us (MMU {})",
        set.config,
        set.images().count(),
        set.images().map(|i| i.data.len()).sum::<usize>(),
        arch::ticks_to_ns(arch::counter() - t0) / 1000,
        if arch::mmu::enabled(w.el) {
            "on"
        } else {
            "off"
        }
    );
    let base = match w.args.dest {
        Some(d) if !d.is_multiple_of(SZ_2M) => {
            return Err(alloc::format!(
                "dest={d:#x}: an arm64 Image needs a 2 MiB-aligned base"
            ));
        }
        Some(d) => d,
        None => {
            let dests = |base| Some(set.place(base).ok()?.destinations().collect());
            // When no base works, the placement at the bottom of RAM is
            // what gets reported (by `place` below or by the validator).
            fit::lowest_base(&w.platform.ram, &w.platform.reserved, dests)
                .unwrap_or(w.platform.ram.first().map_or(0, |r| r.start))
        }
    };
    let p = set.place(base).map_err(|e| e.to_string())?;
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
    let mut rd = None;
    if let (Some(r), Some(dest)) = (&set.ramdisk, p.ramdisk) {
        segments.push(Segment {
            src: SegmentSource::Phys(phys(&r.range)),
            dest,
        });
        rd = Some(Region::new(dest.start, dest.start + p.ramdisk_len));
    }
    Ok(FitPayload {
        segments,
        initrd: rd,
        fdt: set.fdt.as_ref().map(|f| f.data),
        config: set.config,
    })
}
