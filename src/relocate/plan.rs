//! Placement, as `kexec_load` does it: the payload first goes into source
//! pages scattered over free RAM, never inside a destination (the invariant
//! Linux's `kimage_alloc_page` keeps), and so do the list pages. The plan
//! also fixes the guard regions and what each copy strategy receives.

use alloc::vec::Vec;
use core::iter;

use super::PAGE_BYTES;
use super::guard::{GUARD_WORD_BYTES, halos};
use super::hash::{HashMismatch, hash_pages, verify_pages};
use super::kimage::{IND_DESTINATION, IND_SOURCE, copy_page, write_list};
use super::pages::{Order, PageAllocator, free_pages};
use super::segment::Segment;
use super::validate::{RelocError, Validated, payload_holes};
use crate::physmem::PhysMem;
use crate::region::{Region, SZ_4K, align_up, normalize, subtract_all, total_len};

/// What the caller keeps away from the plan's pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanOptions {
    /// Never used for source or list pages (anything the caller still owns).
    pub forbidden: Vec<Region>,
    /// The page-table area: never used, and guarded like a destination.
    pub table: Option<Region>,
    /// Guard bytes on each side of every destination, list page run and the
    /// table, rounded up to pages; 0 for none. Source and list pages are
    /// kept out of guards.
    pub guard_len: u64,
    pub order: Order,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            forbidden: Vec::new(),
            table: None,
            guard_len: SZ_4K,
            order: Order::Shuffled { seed: 0 },
        }
    }
}

/// Where every page of a validated payload waits before the copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    segments: Vec<Segment>,
    /// One per destination page, in destination (= list) order.
    sources: Vec<u64>,
    list_pages: Vec<u64>,
    guards: Vec<Region>,
}

/// One contiguous-strategy copy: `len` bytes from `src_va` to physical
/// `dest_pa`. Laid out as the triples the assembly loop reads (offsets
/// passed to it as constants).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyRun {
    /// Where the loop reads, as the live translation sees it: a window VA
    /// under the contiguous map; with the MMU off (one run per page) the
    /// physical page, which is then its own address.
    pub src_va: u64,
    /// Where it writes: physical, identity-mapped (or the MMU is off).
    pub dest_pa: u64,
    pub len: u64,
}

/// What Pavel Tatashin's MMU-on strategy needs: `pages[i]` mapped at
/// `va_base + i * 4096`, and one run per segment reading that window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContiguousPlan<'a> {
    pub va_base: u64,
    pub pages: &'a [u64],
    pub runs: Vec<CopyRun>,
}

impl Validated<'_> {
    /// Chooses list pages, then source pages, from usable RAM minus
    /// destinations, in-memory sources, `opts.forbidden`, the table and the
    /// guards. List pages go first so their own guards can be kept free of
    /// sources.
    pub fn plan(&self, opts: &PlanOptions) -> Result<Plan, RelocError> {
        let guard = align_up(opts.guard_len, SZ_4K).unwrap_or(u64::MAX);
        let mut guarded: Vec<Region> = self.segments.iter().map(|s| s.dest).collect();
        guarded.extend(opts.table);
        let mut in_use = payload_holes(self.segments);
        in_use.extend_from_slice(&opts.forbidden);
        in_use.extend(opts.table);
        let mut holes = in_use.clone();
        holes.extend(halos(&guarded, guard));
        let usable = self.env.usable_ram();
        let list_pool = free_pages(&usable, &holes);

        let mut alloc = PageAllocator::new(&list_pool, opts.order);
        let list_pages: Vec<u64> = iter::from_fn(|| alloc.alloc())
            .take(self.list_pages() as usize)
            .collect();
        let mut list_runs: Vec<Region> = list_pages
            .iter()
            .map(|&p| Region::new(p, p + SZ_4K))
            .collect();
        normalize(&mut list_runs);
        let mut source_holes = halos(&list_runs, guard);
        source_holes.extend_from_slice(&list_runs);
        let source_pool = free_pages(&list_pool, &source_holes);

        let mut alloc = PageAllocator::new(&source_pool, opts.order);
        let sources: Vec<u64> = iter::from_fn(|| alloc.alloc())
            .take(self.source_pages() as usize)
            .collect();
        if list_pages.len() as u64 != self.list_pages()
            || sources.len() as u64 != self.source_pages()
        {
            return Err(RelocError::OutOfMemory {
                needed: (self.source_pages() + self.list_pages()) * SZ_4K,
                available: list_pages.len() as u64 * SZ_4K + total_len(&source_pool),
                source_pages: self.source_pages(),
                list_pages: self.list_pages(),
                table_bytes: 0,
            });
        }

        // Guards: free usable RAM around what the copy touches. Sources are
        // already outside every halo; whatever else is in use is cut out.
        // Usable RAM may end mid-word (a DTB's end, a bank's end), so each
        // guard shrinks to whole words: the fill must not write past it.
        guarded.extend_from_slice(&list_runs);
        in_use.extend_from_slice(&list_runs);
        let around: Vec<Region> = halos(&guarded, guard)
            .iter()
            .flat_map(|h| usable.iter().filter_map(|u| h.intersect(u)))
            .collect();
        let guards = subtract_all(&around, &in_use)
            .iter()
            .filter_map(|g| g.shrink_to(GUARD_WORD_BYTES))
            .collect();

        Ok(Plan {
            segments: self.segments.to_vec(),
            sources,
            list_pages,
            guards,
        })
    }
}

impl Plan {
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Source pages, one per destination page, in destination order.
    pub fn sources(&self) -> &[u64] {
        &self.sources
    }

    /// The kimage list's indirection pages, in list order.
    pub fn list_pages(&self) -> &[u64] {
        &self.list_pages
    }

    /// Free regions next to every destination, list page run and the table,
    /// in whole 8-byte words: fill them before the copy and check them after.
    pub fn guards(&self) -> &[Region] {
        &self.guards
    }

    /// Every destination page, in list order (matching [`Plan::sources`]).
    pub fn dest_pages(&self) -> impl Iterator<Item = u64> + '_ {
        self.segments
            .iter()
            .flat_map(|s| (s.dest.start..s.dest.end).step_by(PAGE_BYTES))
    }

    /// Each segment with its slice of [`Plan::sources`].
    fn segment_sources(&self) -> impl Iterator<Item = (&Segment, &[u64])> + '_ {
        let mut rest = &self.sources[..];
        self.segments.iter().map(move |s| {
            let (mine, tail) = rest.split_at(s.pages() as usize);
            rest = tail;
            (s, mine)
        })
    }

    /// Writes each segment's payload (zero-padded to its destination) into
    /// its source pages. In-memory sources are read through `mem`.
    pub fn load(&self, mem: &mut impl PhysMem) {
        let mut page = [0u8; PAGE_BYTES];
        for (seg, sources) in self.segment_sources() {
            for (k, &src) in sources.iter().enumerate() {
                seg.page_content(mem, k as u64, &mut page);
                mem.write_bytes(src, &page);
            }
        }
    }

    /// Builds the kimage list in [`Plan::list_pages`]: per segment one
    /// `IND_DESTINATION`, then an `IND_SOURCE` per page. Returns the head
    /// entry the indirection-list loop receives.
    pub fn write_list(&self, mem: &mut impl PhysMem) -> u64 {
        let entries = self.segment_sources().flat_map(|(seg, sources)| {
            iter::once(seg.dest.start | IND_DESTINATION)
                .chain(sources.iter().map(|&s| s | IND_SOURCE))
        });
        write_list(mem, &self.list_pages, entries)
    }

    /// Entries a walk of this plan's list reads before `IND_DONE`, head
    /// included: a bound for [`super::walk_list`].
    pub fn list_entries(&self) -> u64 {
        let data = self.sources.len() + self.segments.len();
        if data == 0 {
            0
        } else {
            (data + self.list_pages.len()) as u64
        }
    }

    /// The source pages to map contiguously from `va_base` on, and the
    /// per-segment runs reading them (with `va_base` 0, each run's `src` is
    /// its offset in the window).
    pub fn contiguous(&self, va_base: u64) -> ContiguousPlan<'_> {
        let mut src = va_base;
        let runs = self
            .segments
            .iter()
            .map(|s| {
                let run = CopyRun {
                    src_va: src,
                    dest_pa: s.dest.start,
                    len: s.dest.len(),
                };
                src += s.dest.len();
                run
            })
            .collect();
        ContiguousPlan {
            va_base,
            pages: &self.sources,
            runs,
        }
    }

    /// Hashes of the source pages, taken before the copy.
    pub fn hash_sources(&self, mem: &impl PhysMem) -> Vec<u64> {
        hash_pages(mem, self.sources.iter().copied())
    }

    /// Checks every destination page against the source hashes; the error
    /// names the first bad destination page.
    pub fn verify_destinations(
        &self,
        mem: &impl PhysMem,
        source_hashes: &[u64],
    ) -> Result<u64, HashMismatch> {
        verify_pages(mem, self.dest_pages(), source_hashes)
    }
}

impl ContiguousPlan<'_> {
    /// (source page, destination page) for every page the runs copy, in
    /// copy order, as the virtual window resolves them.
    pub fn page_copies(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.runs.iter().flat_map(move |run| {
            (0..run.len).step_by(PAGE_BYTES).map(move |off| {
                (
                    self.pages[((run.src_va - self.va_base + off) / SZ_4K) as usize],
                    run.dest_pa + off,
                )
            })
        })
    }
}

/// The contiguous loop on the host: copies each run out of the virtual
/// window `plan.pages` forms.
pub fn copy_contiguous(mem: &mut impl PhysMem, plan: &ContiguousPlan<'_>) {
    for (src, dest) in plan.page_copies() {
        copy_page(mem, src, dest);
    }
}
