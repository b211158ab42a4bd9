//! The machine-independent half of a kexec-style relocation: what gets
//! moved (segments), whether it may be moved (validation), where the payload
//! waits meanwhile (scattered source pages and list pages), the Linux kimage
//! `IND_*` list that tells the copy loop what to do, and the checks after the
//! copy (page hashes, guard pages). Plain logic over
//! [`PhysMem`](crate::physmem::PhysMem): no `asm!`,
//! no system registers, no page tables (`crate::mmu` builds those), no copy
//! loops (`asm/` holds them).
//!
//! # Flow
//! ```text
//! let ok    = validate(&env, &segments)?;           // nothing written yet
//! let plan  = ok.plan(&PlanOptions { .. })?;         // sources + list pages chosen
//! plan.load(&mut mem);                               // payload -> scattered sources
//! let head  = plan.write_list(&mut mem);             // kimage list
//! let want  = plan.hash_sources(&mem);
//! fill_guards(&mut mem, plan.guards());
//! /* asm copy: ind-list loop gets `head`; contiguous: `plan.contiguous(va_base)` */
//! plan.verify_destinations(&mem, &want)?;            // Err names the first bad page
//! check_guards(&mem, plan.guards());                 // first modified byte, bytes checked
//! ```
//! Before the copy runs with the MMU off, the caller cleans
//! [`Plan::sources`] and [`Plan::list_pages`] to the point of coherency: they
//! were written through the cache.
//!
//! # What the indirection-list loop receives
//! One 64-bit value, the *head entry* from [`Plan::write_list`] (`x0` of
//! `reloc_ind_list_*` in `asm/copy.S`): the first list page's physical
//! address `| IND_INDIRECTION`, or just `IND_DONE` when there is nothing to
//! copy. Entries are read as Linux's arm64 `relocate_kernel.S` (and
//! [`walk_list`], its host model) reads them: `ptr = none; entry = head;`
//! then, until `entry & IND_DONE`, with `addr = entry & !0xfff`:
//! `IND_SOURCE` copies 4 KiB from `addr` to `dest` and advances `dest` by
//! 4096, `IND_INDIRECTION` sets `ptr = addr`, `IND_DESTINATION` sets
//! `dest = addr`; then `entry = *ptr; ptr += 8`. Every entry written here
//! carries exactly one flag, so the order the loop tests them in does not
//! matter, and every segment starts with an `IND_DESTINATION`. Every list
//! page and source page lies outside every destination, so the loop may
//! overwrite destinations in any order; all must be reachable at their
//! physical address (MMU off, or an identity map).
//!
//! # What the contiguous loop receives
//! Pavel Tatashin's MMU-on strategy. The `mmu` module maps
//! [`Plan::sources`]`[i]` at `va_base + i * 4096`, so the scattered sources
//! read as one virtually contiguous buffer; [`Plan::contiguous`]`(va_base)`
//! then gives one [`CopyRun`] per segment: `#[repr(C)]` `{ src_va, dest_pa, len }`,
//! three `u64`s, the triples `reloc_contig_*` reads (`x0` = pointer to the
//! first run, `x1` = number of runs). Each run copies `len` bytes from
//! virtual `src` to physical `dest` (identity mapped); `src - va_base`,
//! `dest` and `len` are multiples of 4096; runs never overlap.
//! [`copy_contiguous`] is its host model.

mod guard;
mod hash;
mod kimage;
mod pages;
mod plan;
mod segment;
mod split;
mod validate;

#[cfg(test)]
mod tests;

pub use guard::{GUARD_MAGIC, GuardCheck, check_guards, fill_guards, guard_word};
pub use hash::{HashMismatch, hash_pages, page_hash, verify_pages, xxh64};
pub use kimage::{
    ENTRIES_PER_PAGE, IND_DESTINATION, IND_DESTINATION_BIT, IND_DONE, IND_DONE_BIT,
    IND_INDIRECTION, IND_INDIRECTION_BIT, IND_SOURCE, IND_SOURCE_BIT, WalkError, WalkStats,
    list_pages_needed, relocate_on_host, walk_list, write_list,
};
pub use pages::{Order, PageAllocator, free_pages};
pub use plan::{ContiguousPlan, CopyRun, Plan, PlanOptions, copy_contiguous};
pub use segment::{ImageHeader, Segment, SegmentSource, synthetic_fill, synthetic_layout};
pub use split::{ListShare, balanced, list_shares, page_slot, split_runs, walk_share};
pub use validate::{Environment, RelocError, Validated, validate};

/// One page of bytes, the unit every list entry and copy works in.
pub const PAGE_BYTES: usize = crate::region::SZ_4K as usize;
