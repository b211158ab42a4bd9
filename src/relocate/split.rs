//! Splitting one relocation across CPUs (`cpus=`): which pages each CPU
//! copies, for both strategies, so that every destination page is copied
//! exactly once and the shares are balanced. Pure: the copy loops
//! (`asm/macros.S`, the walkers with `share=1`) consume what is computed
//! here.
//!
//! # The split
//! The payload's pages are numbered in copy order (list order, which is
//! segment order: destination order within each segment). CPU `i` of `n`
//! takes the contiguous range [`balanced`] gives it: `total / n` pages,
//! one more for the first `total % n` CPUs. So shares differ by at most
//! one page, whatever the segment boundaries (a share may start or end
//! inside a segment, and span several).
//!
//! # The IND_* list: a slice of the shared list, not a list per CPU
//! Each CPU walks the one list Linux's `kimage_add_entry` layout built
//! ([`super::write_list`]), starting at the slot of its first
//! `IND_SOURCE` entry with the destination cursor that entry would have
//! had, and stops after its page count ([`ListShare`]). Chosen over
//! per-CPU lists because the list the walk reads stays the one the
//! single-CPU loop reads (same pages, same entries, same
//! `IND_INDIRECTION` links and `IND_DESTINATION` changes inside a share),
//! no list pages are added to the plan, and a share costs three numbers.
//! The walker's extra cost is the page-count compare per page.
//!
//! # The contiguous runs: split by pages
//! Each CPU gets its own run array ([`split_runs`]): the pieces of the
//! original runs that fall in its page range, in order; a run cut by a
//! share boundary becomes two runs. The walker is the unchanged
//! `CONTIG_WALK`.

use alloc::vec::Vec;
use core::ops::Range;

use super::kimage::{ADDR_MASK, DATA_PER_PAGE};
use super::{CopyRun, IND_DESTINATION, IND_DONE, IND_INDIRECTION, IND_SOURCE, Plan};
use crate::physmem::PhysMem;
use crate::region::SZ_4K;

/// One CPU's slice of the kimage list: the walker reads the entry at
/// `first_slot` (an `IND_SOURCE`), continues with the next slot, starts
/// with destination cursor `dest`, and stops after `pages` source pages
/// (or at `IND_DONE`). `pages == 0` is a CPU with nothing to copy; the
/// other fields are then 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ListShare {
    /// Physical address of the list slot holding the share's first entry.
    pub first_slot: u64,
    /// Destination of the share's first page.
    pub dest: u64,
    pub pages: u64,
}

/// Page ranges (in copy order) of `cpus` shares of `total` pages: the
/// first `total % cpus` shares take one page more. `cpus` must be > 0.
pub fn balanced(total: u64, cpus: usize) -> Vec<Range<u64>> {
    let n = cpus.max(1) as u64;
    let (each, extra) = (total / n, total % n);
    let mut start = 0;
    (0..n)
        .map(|i| {
            let len = each + u64::from(i < extra);
            let r = start..start + len;
            start += len;
            r
        })
        .collect()
}

/// The list address of data entry `index` as [`super::write_list`] lays
/// the entries out (511 data entries per page, the last slot a link).
fn slot_of(list_pages: &[u64], index: u64) -> Option<u64> {
    let page = list_pages.get((index / DATA_PER_PAGE) as usize)?;
    Some(page + (index % DATA_PER_PAGE) * 8)
}

/// The list slot and destination of page `page` (copy order) of the list
/// for `segments` written in `list_pages`.
pub fn page_slot(list_pages: &[u64], segments: &[(u64, u64)], page: u64) -> Option<(u64, u64)> {
    let mut before = 0;
    for (k, &(dest, pages)) in segments.iter().enumerate() {
        if page < before + pages {
            // k destination entries and `page` sources precede its entry.
            let slot = slot_of(list_pages, page + k as u64 + 1)?;
            return Some((slot, dest + (page - before) * SZ_4K));
        }
        before += pages;
    }
    None
}

/// Shares of the list written in `list_pages` for segments of `segments`
/// `(destination start, pages)` in list order, one per CPU (see the module
/// comment). `None` if `list_pages` cannot hold that list.
pub fn list_shares(
    list_pages: &[u64],
    segments: &[(u64, u64)],
    cpus: usize,
) -> Option<Vec<ListShare>> {
    let total = segments.iter().map(|s| s.1).sum();
    balanced(total, cpus)
        .into_iter()
        .map(|r| {
            if r.is_empty() {
                return Some(ListShare::default());
            }
            let (first_slot, dest) = page_slot(list_pages, segments, r.start)?;
            Some(ListShare {
                first_slot,
                dest,
                pages: r.end - r.start,
            })
        })
        .collect()
}

impl Plan {
    /// (destination start, pages) of each segment, in list order.
    fn segment_pages(&self) -> Vec<(u64, u64)> {
        self.segments()
            .iter()
            .map(|s| (s.dest.start, s.pages()))
            .collect()
    }

    /// This plan's list split over `cpus` CPUs (see [`list_shares`]).
    pub fn list_shares(&self, cpus: usize) -> Vec<ListShare> {
        list_shares(self.list_pages(), &self.segment_pages(), cpus)
            .expect("a plan's list pages hold its list")
    }

    /// The list slot holding page `page`'s `IND_SOURCE` entry (copy order).
    pub fn page_slot(&self, page: u64) -> Option<u64> {
        page_slot(self.list_pages(), &self.segment_pages(), page).map(|(slot, _)| slot)
    }
}

/// `runs` split over `cpus` CPUs by pages (see the module comment): one
/// run array per CPU, empty for a CPU with nothing to copy. Every run's
/// `len` must be a multiple of 4 KiB.
pub fn split_runs(runs: &[CopyRun], cpus: usize) -> Vec<Vec<CopyRun>> {
    let total = runs.iter().map(|r| r.len / SZ_4K).sum();
    balanced(total, cpus)
        .into_iter()
        .map(|share| {
            let mut out = Vec::new();
            let mut first = 0; // page number of the run's first page
            for run in runs {
                let pages = run.len / SZ_4K;
                let (lo, hi) = (share.start.max(first), share.end.min(first + pages));
                if lo < hi {
                    let off = (lo - first) * SZ_4K;
                    out.push(CopyRun {
                        src_va: run.src_va + off,
                        dest_pa: run.dest_pa + off,
                        len: (hi - lo) * SZ_4K,
                    });
                }
                first += pages;
            }
            out
        })
        .collect()
}

/// A host model of the share walker (`IND_LIST_WALK` with `share=1`):
/// `copy_page(mem, src, dest)` per page; returns the pages copied.
pub fn walk_share<M: PhysMem>(
    mem: &mut M,
    share: &ListShare,
    mut copy_page: impl FnMut(&mut M, u64, u64),
) -> u64 {
    if share.pages == 0 {
        return 0;
    }
    let mut entry = mem.read_u64(share.first_slot);
    let mut ptr = share.first_slot + 8;
    let mut dest = share.dest;
    let mut copied = 0;
    while entry & IND_DONE == 0 {
        let addr = entry & ADDR_MASK;
        if entry & IND_INDIRECTION != 0 {
            ptr = addr;
        } else if entry & IND_DESTINATION != 0 {
            dest = addr;
        } else if entry & IND_SOURCE != 0 {
            copy_page(mem, addr, dest);
            dest += SZ_4K;
            copied += 1;
            if copied == share.pages {
                break;
            }
        }
        entry = mem.read_u64(ptr);
        ptr += 8;
    }
    copied
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::physmem::sim::SparseMem;
    use crate::relocate::{list_pages_needed, walk_list, write_list};
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// Pages per segment, destinations 1 GiB apart, sources and list pages
    /// elsewhere: the list written as the plan writes it.
    fn layout(segments: &[u64]) -> (SparseMem, u64, Vec<u64>, Vec<(u64, u64)>) {
        let mut mem = SparseMem::new();
        let total: u64 = segments.iter().sum();
        let list: Vec<u64> = (0..list_pages_needed(total, segments.len() as u64))
            // Not in address order: links must be followed, not assumed.
            .map(|i| 0x7000_0000 - i * 3 * SZ_4K)
            .collect();
        let segs: Vec<(u64, u64)> = segments
            .iter()
            .enumerate()
            .map(|(k, &p)| (0x1_0000_0000 * (k as u64 + 1), p))
            .collect();
        let mut src = 0x2000_0000;
        let mut entries = Vec::new();
        for &(dest, pages) in &segs {
            entries.push(dest | IND_DESTINATION);
            for _ in 0..pages {
                entries.push(src | IND_SOURCE);
                src += 2 * SZ_4K;
            }
        }
        let head = write_list(&mut mem, &list, entries);
        (mem, head, list, segs)
    }

    fn all_copies(mem: &mut SparseMem, head: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        walk_list(mem, head, 1 << 20, |_, s, d| out.push((s, d))).unwrap();
        out
    }

    #[test]
    fn balanced_shares_differ_by_at_most_one_page() {
        assert_eq!(balanced(10, 4), [0..3, 3..6, 6..8, 8..10]);
        assert_eq!(balanced(2, 4), [0..1, 1..2, 2..2, 2..2]);
        let one = balanced(7, 1);
        assert_eq!((one.len(), one[0].clone()), (1, 0..7));
    }

    #[test]
    fn a_share_may_start_on_a_list_page_link() {
        // 511 data entries fill page 0: the destination and 510 sources;
        // the 511th source is the first entry of page 1.
        let (mut mem, head, list, segs) = layout(&[1020]);
        let shares = list_shares(&list, &segs, 2).unwrap();
        assert_eq!(shares[1].first_slot, list[1]);
        assert_eq!(shares[1].dest, segs[0].0 + 510 * SZ_4K);
        let mut got = Vec::new();
        for s in &shares {
            walk_share(&mut mem, s, |_, a, b| got.push((a, b)));
        }
        assert_eq!(got, all_copies(&mut mem, head));
    }

    #[test]
    fn run_cut_by_a_share_boundary_becomes_two() {
        let runs = [CopyRun {
            src_va: 0x1000_0000,
            dest_pa: 0x4000_0000,
            len: 5 * SZ_4K,
        }];
        let s = split_runs(&runs, 2);
        assert_eq!(s[0].len(), 1);
        assert_eq!(s[0][0].len, 3 * SZ_4K);
        assert_eq!(s[1][0].src_va, 0x1000_0000 + 3 * SZ_4K);
        assert_eq!(s[1][0].dest_pa, 0x4000_0000 + 3 * SZ_4K);
        assert_eq!(s[1][0].len, 2 * SZ_4K);
    }

    fn assert_balanced(counts: &[u64]) -> Result<(), TestCaseError> {
        let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        prop_assert!(hi - lo <= 1, "unbalanced: {counts:?}");
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Every (source, destination) pair of the whole list is copied by
        /// exactly one share, in list order, and shares are balanced.
        #[test]
        fn list_shares_copy_every_page_once(
            segments in proptest::collection::vec(0u64..700, 0..6),
            cpus in 1usize..=8,
        ) {
            let (mut mem, head, list, segs) = layout(&segments);
            let shares = list_shares(&list, &segs, cpus).unwrap();
            prop_assert_eq!(shares.len(), cpus);
            let mut got = Vec::new();
            let mut counts = Vec::new();
            for s in &shares {
                let n = walk_share(&mut mem, s, |_, a, b| got.push((a, b)));
                prop_assert_eq!(n, s.pages);
                counts.push(n);
            }
            let want = all_copies(&mut mem, head);
            let dests: BTreeSet<u64> = got.iter().map(|p| p.1).collect();
            prop_assert_eq!(dests.len(), got.len(), "a destination copied twice");
            prop_assert_eq!(got, want);
            assert_balanced(&counts)?;
        }

        /// The runs' pages, split, are the runs' pages: each exactly once,
        /// in order, shares balanced, every piece page-granular.
        #[test]
        fn split_runs_copy_every_page_once(
            lens in proptest::collection::vec(0u64..40, 0..8),
            cpus in 1usize..=8,
        ) {
            let mut va = 0x10_0000_0000;
            let runs: Vec<CopyRun> = lens.iter().enumerate().map(|(k, &p)| {
                let r = CopyRun { src_va: va, dest_pa: 0x1_0000_0000 * (k as u64 + 1), len: p * SZ_4K };
                va += p * SZ_4K;
                r
            }).collect();
            let pages = |rs: &[CopyRun]| -> Vec<(u64, u64)> {
                rs.iter().flat_map(|r| (0..r.len / SZ_4K).map(move |i| (r.src_va + i * SZ_4K, r.dest_pa + i * SZ_4K))).collect()
            };
            let shares = split_runs(&runs, cpus);
            prop_assert_eq!(shares.len(), cpus);
            let mut got = Vec::new();
            let mut counts = Vec::new();
            for s in &shares {
                prop_assert!(s.iter().all(|r| r.len > 0 && r.len % SZ_4K == 0));
                let p = pages(s);
                counts.push(p.len() as u64);
                got.extend(p);
            }
            let dests: BTreeSet<u64> = got.iter().map(|p| p.1).collect();
            prop_assert_eq!(dests.len(), got.len(), "a destination copied twice");
            prop_assert_eq!(got, pages(&runs));
            assert_balanced(&counts)?;
        }
    }
}
