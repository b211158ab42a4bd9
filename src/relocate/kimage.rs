//! The kimage entry list in Linux's format, and a host model of the loop in
//! arm64 `relocate_kernel.S` that consumes it.
//!
//! An entry is a page-aligned physical address OR one flag. List pages hold
//! [`ENTRIES_PER_PAGE`] entries; as Linux's `kimage_add_entry` does, a page
//! takes 511 data entries and, once another entry has to follow, its last
//! slot links to the next page. `IND_DONE` goes in the slot after the last
//! data entry (possibly the last slot). Each segment starts with an
//! `IND_DESTINATION` entry, as `kimage_load_normal_segment` sets one per
//! segment, then one `IND_SOURCE` per page.

use super::PAGE_BYTES;
use crate::physmem::PhysMem;
use crate::region::SZ_4K;

/// Flag bit numbers, for `tbz`/`tbnz` in the copy loops.
pub const IND_DESTINATION_BIT: u32 = 0;
pub const IND_INDIRECTION_BIT: u32 = 1;
pub const IND_DONE_BIT: u32 = 2;
pub const IND_SOURCE_BIT: u32 = 3;
/// Set the copy destination to this page.
pub const IND_DESTINATION: u64 = 1 << IND_DESTINATION_BIT;
/// Continue reading entries from this page.
pub const IND_INDIRECTION: u64 = 1 << IND_INDIRECTION_BIT;
/// End of the list.
pub const IND_DONE: u64 = 1 << IND_DONE_BIT;
/// Copy this page to the destination, which then advances one page.
pub const IND_SOURCE: u64 = 1 << IND_SOURCE_BIT;
/// 64-bit entries in one list page.
pub const ENTRIES_PER_PAGE: u64 = SZ_4K / 8;

pub(super) const ADDR_MASK: u64 = !(SZ_4K - 1);
/// Entries a page holds besides its link to the next page.
pub(super) const DATA_PER_PAGE: u64 = ENTRIES_PER_PAGE - 1;

/// List pages for this many source pages and segments (one
/// `IND_DESTINATION` each). `IND_DONE` never needs a page of its own.
pub const fn list_pages_needed(source_pages: u64, segments: u64) -> u64 {
    (source_pages + segments).div_ceil(DATA_PER_PAGE)
}

/// Writes `entries` (data entries: destinations and sources) into
/// `pages` and terminates the list; returns the head entry, the first
/// page `| IND_INDIRECTION`, or `IND_DONE` when `entries` is empty (pages
/// then stay untouched).
///
/// # Panics
/// If `pages` holds fewer than [`list_pages_needed`] pages for `entries`.
pub fn write_list<M: PhysMem>(
    mem: &mut M,
    pages: &[u64],
    entries: impl IntoIterator<Item = u64>,
) -> u64 {
    let mut entries = entries.into_iter().peekable();
    if entries.peek().is_none() {
        return IND_DONE;
    }
    let mut page = 0;
    let mut slot = 0;
    for entry in entries {
        if slot == DATA_PER_PAGE {
            let next = *pages
                .get(page + 1)
                .expect("kimage list: too few list pages");
            mem.write_u64(pages[page] + slot * 8, next | IND_INDIRECTION);
            page += 1;
            slot = 0;
        }
        mem.write_u64(pages[page] + slot * 8, entry);
        slot += 1;
    }
    mem.write_u64(pages[page] + slot * 8, IND_DONE);
    pages[0] | IND_INDIRECTION
}

/// What a walk saw: `entries` counts the head and every entry read up to,
/// not including, `IND_DONE`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalkStats {
    pub entries: u64,
    pub sources: u64,
    pub indirections: u64,
    pub destinations: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkError {
    /// More than the allowed entries without `IND_DONE`: a cycle or a
    /// missing terminator.
    Runaway { entries: u64 },
}

/// Interprets the list at `head` as arm64 `relocate_kernel.S` does:
/// destination pointer starting at 0, flags tested source, then
/// indirection, then destination, entries without a known flag skipped,
/// until `IND_DONE`. `copy_page(mem, src, dest)` stands for `copy_page`.
/// Stops with an error after `max_entries` entries.
pub fn walk_list<M: PhysMem>(
    mem: &mut M,
    head: u64,
    max_entries: u64,
    mut copy_page: impl FnMut(&mut M, u64, u64),
) -> Result<WalkStats, WalkError> {
    let mut stats = WalkStats::default();
    let mut entry = head;
    let mut ptr = 0;
    let mut dest = 0;
    while entry & IND_DONE == 0 {
        if stats.entries == max_entries {
            return Err(WalkError::Runaway {
                entries: stats.entries,
            });
        }
        stats.entries += 1;
        let addr = entry & ADDR_MASK;
        if entry & IND_SOURCE != 0 {
            copy_page(mem, addr, dest);
            dest += SZ_4K;
            stats.sources += 1;
        } else if entry & IND_INDIRECTION != 0 {
            ptr = addr;
            stats.indirections += 1;
        } else if entry & IND_DESTINATION != 0 {
            dest = addr;
            stats.destinations += 1;
        }
        entry = mem.read_u64(ptr);
        ptr += 8;
    }
    Ok(stats)
}

/// [`walk_list`] doing the copies: the relocation, on the host.
pub fn relocate_on_host<M: PhysMem>(
    mem: &mut M,
    head: u64,
    max_entries: u64,
) -> Result<WalkStats, WalkError> {
    walk_list(mem, head, max_entries, copy_page)
}

/// One page from `src` to `dest`, what the assembly's `copy_page` does.
pub(super) fn copy_page<M: PhysMem>(mem: &mut M, src: u64, dest: u64) {
    let mut page = [0u8; PAGE_BYTES];
    mem.read_bytes(src, &mut page);
    mem.write_bytes(dest, &page);
}
