//! One vCPU's modelled data side: TLBs, table walks, L1D and L2 caches,
//! the prefetcher, Device accesses, and the counts the cost is computed
//! from. Pure Rust: the plugin feeds it events, tests feed it traces.

use crate::cache::Cache;
use crate::params::Params;
use crate::prefetch::Prefetcher;
use crate::tlb::{Entry, Tlb};
use crate::walk::{Descriptors, Regime};

/// Event counts; the cost (`cycles`) is computed from them alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub insns: u64,
    pub loads: u64,
    pub stores: u64,
    pub l1_tlb_misses: u64,
    pub l2_tlb_misses: u64,
    pub walks: u64,
    pub walk_mem_accesses: u64,
    /// Demand L1D misses (loads, stores and walk reads).
    pub l1d_misses: u64,
    /// Demand L2 misses (loads, stores and walk reads).
    pub l2_misses: u64,
    /// Loads and walk reads that missed L1D and hit L2 / missed L2: these
    /// stall; stores retire into the store buffer and do not.
    pub load_l2_hits: u64,
    pub load_l2_misses: u64,
    /// Of `load_l2_misses`, those outstanding together with an earlier
    /// one (memory-level parallelism, `mlp`): bandwidth, no latency.
    pub load_l2_misses_overlapped: u64,
    pub prefetches: u64,
    pub prefetches_useful: u64,
    pub device_accesses: u64,
    /// Lines moved between L2 and DRAM (fills, prefetches, write-backs).
    pub dram_lines: u64,
    pub writebacks: u64,
    pub cache_maintenance: u64,
    /// Fetch redirects (translation blocks) executed with SCTLR.I = 0.
    pub uncached_fetches: u64,
}

/// The cost terms, in cycles, that add up to `total`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Cost {
    pub insns: f64,
    pub l2_hits: f64,
    pub mem: f64,
    pub device: f64,
    pub bandwidth: f64,
    pub l2_tlb: f64,
    pub ifetch: f64,
    /// What the overlap of fetch with the rest takes off (`fetch_overlap`).
    pub hidden: f64,
    pub total: f64,
}

impl Counts {
    /// back   = cpi*insns + l2_hit*load_l2_hits
    ///        + mem*(load_l2_misses - load_l2_misses_overlapped)
    ///        + device*device_accesses + line*dram_lines
    ///        + l2_tlb_hit*l1_tlb_misses
    /// fetch  = mem*ifetch_uncached*uncached_fetches
    /// cycles = max(back, fetch) with `fetch_overlap` (the front end
    ///          fetches ahead while the back end waits), back + fetch
    ///          without it.
    /// Walk reads are loads (they go through the caches like any load).
    /// No other overlap: the model has no out-of-order engine.
    pub fn cost(&self, p: &Params) -> Cost {
        let mut c = Cost {
            insns: p.cpi * self.insns as f64,
            l2_hits: p.l2_hit_cycles * self.load_l2_hits as f64,
            mem: p.mem_cycles()
                * self
                    .load_l2_misses
                    .saturating_sub(self.load_l2_misses_overlapped) as f64,
            device: p.device_cycles() * self.device_accesses as f64,
            bandwidth: p.line_cycles() * self.dram_lines as f64,
            l2_tlb: p.l2_tlb_hit_cycles * self.l1_tlb_misses as f64,
            ifetch: p.mem_cycles() * p.ifetch_uncached * self.uncached_fetches as f64,
            hidden: 0.0,
            total: 0.0,
        };
        let back = c.insns + c.l2_hits + c.mem + c.device + c.bandwidth + c.l2_tlb;
        c.total = if p.fetch_overlap == 1 {
            back.max(c.ifetch)
        } else {
            back + c.ifetch
        };
        c.hidden = back + c.ifetch - c.total;
        c
    }
}

/// A data-cache maintenance operation by VA to the point of coherency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmo {
    /// DC CIVAC: write back if dirty, then invalidate.
    CleanInvalidate,
    /// DC IVAC: invalidate (dirty data is discarded).
    Invalidate,
    /// DC CVAC/CVAU/CVAP: write back if dirty, keep the line.
    Clean,
}

/// Translation state the model follows (from SCTLR, TTBR0, TCR, MAIR).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Translation {
    /// SCTLR.M: stage 1 translation on.
    pub mmu: bool,
    /// SCTLR.I: instruction fetches cacheable.
    pub icache: bool,
    pub regime: Regime,
}

pub struct Core {
    pub p: Params,
    pub counts: Counts,
    pub tr: Translation,
    l1_tlb: Tlb,
    l2_tlb: Tlb,
    l1d: Cache,
    l2: Cache,
    /// Load streams (fill L1D and L2) and store streams (fill L2 only),
    /// as the Cortex-A72 TRM (6.4.9) describes its load/store prefetcher.
    pf: Prefetcher,
    pf_store: Prefetcher,
    line_shift: u32,
    /// The group of demand load misses now outstanding together: the
    /// instruction count at its first miss, and its size (`mlp`).
    mlp_start: u64,
    mlp_n: u32,
}

impl Core {
    pub fn new(p: Params) -> Core {
        Core {
            l1_tlb: Tlb::new(p.l1_tlb_entries, p.l1_tlb_entries, p.l1_tlb_sizes),
            l2_tlb: Tlb::new(p.l2_tlb_entries, p.l2_tlb_ways, p.l2_tlb_sizes),
            l1d: Cache::new(p.l1d_bytes, p.l1d_ways, p.line_bytes),
            l2: Cache::new(p.l2_bytes, p.l2_ways, p.line_bytes),
            // VA streams (`pf_cross`) are bounded by translations, not pages.
            pf: Prefetcher::new(
                p.pf_streams,
                p.pf_train,
                p.pf_degree,
                if p.pf_cross > 0 { 0 } else { p.pf_page_bytes },
                p.line_bytes,
            ),
            pf_store: Prefetcher::new(
                p.pf_streams,
                p.pf_train,
                p.pf_degree,
                p.pf_page_bytes,
                p.line_bytes,
            ),
            line_shift: p.line_bytes.trailing_zeros(),
            mlp_start: 0,
            mlp_n: 0,
            counts: Counts::default(),
            tr: Translation::default(),
            p,
        }
    }

    /// Empties TLBs, caches and prefetch streams (the state the stage
    /// establishes before every measured run) and zeroes the counts.
    pub fn reset(&mut self) {
        self.flush_tlbs();
        self.l1d.flush();
        self.l2.flush();
        self.pf.flush();
        self.pf_store.flush();
        self.counts = Counts::default();
        self.mlp_start = 0;
        self.mlp_n = 0;
    }

    pub fn flush_tlbs(&mut self) {
        self.l1_tlb.flush();
        self.l2_tlb.flush();
    }

    /// A change of SCTLR/TTBR0/TCR/MAIR: TLBs are flushed when the
    /// translation changes (the guest does break-before-make anyway).
    pub fn set_translation(&mut self, tr: Translation) {
        if tr != self.tr {
            self.flush_tlbs();
            self.tr = tr;
        }
    }

    pub fn insns(&mut self, n: u64) {
        self.counts.insns += n;
        if !self.tr.icache {
            self.counts.uncached_fetches += 1;
        }
    }

    /// Translates `va` through the TLBs, walking on a miss. `None`: MMU
    /// off, or a translation fault (the access is then not modelled).
    fn translate(&mut self, va: u64, mem: &mut dyn Descriptors) -> Option<Entry> {
        if let Some(e) = self.l1_tlb.lookup(va) {
            return Some(e);
        }
        self.counts.l1_tlb_misses += 1;
        if let Some(e) = self.l2_tlb.lookup(va) {
            self.l1_tlb.insert(&e, va);
            return Some(e);
        }
        self.counts.l2_tlb_misses += 1;
        self.counts.walks += 1;
        let walk = self.tr.regime.walk(va, mem);
        for pa in &walk.reads {
            self.counts.walk_mem_accesses += 1;
            self.cached(*pa, false, None, mem);
        }
        let leaf = walk.leaf?;
        let e = Entry {
            va: leaf.va,
            pa: leaf.pa,
            size: leaf.size,
            device: leaf.device,
        };
        self.l2_tlb.insert(&e, va);
        self.l1_tlb.insert(&e, va);
        Some(e)
    }

    /// One data access of the guest (`store`: a write).
    pub fn access(&mut self, va: u64, store: bool, mem: &mut dyn Descriptors) {
        if store {
            self.counts.stores += 1;
        } else {
            self.counts.loads += 1;
        }
        if !self.tr.mmu {
            // Stage 1 off: every data access is Device-nGnRnE.
            self.counts.device_accesses += 1;
            return;
        }
        let Some(e) = self.translate(va, mem) else {
            return;
        };
        if e.device {
            self.counts.device_accesses += 1;
        } else {
            self.cached(e.translate(va), store, Some(va), mem);
        }
    }

    /// A demand access to Normal cacheable memory at `pa`.
    /// `va`: the virtual address of a demand access (None: a walk read),
    /// for load streams that follow virtual addresses (`pf_cross`).
    fn cached(&mut self, pa: u64, store: bool, va: Option<u64>, mem: &mut dyn Descriptors) {
        let line = pa >> self.line_shift;
        if let Some(hit) = self.l1d.access(line, store) {
            if hit.prefetched {
                self.counts.prefetches_useful += 1;
                self.prefetch(line, store, va, mem);
            }
            return;
        }
        self.counts.l1d_misses += 1;
        match self.l2.access(line, false) {
            Some(hit) => {
                if hit.prefetched {
                    self.counts.prefetches_useful += 1;
                }
                if !store {
                    self.counts.load_l2_hits += 1;
                }
            }
            None => {
                self.counts.l2_misses += 1;
                if !store {
                    self.counts.load_l2_misses += 1;
                    if va.is_none() {
                        // A walk read: the access it translates waits for it.
                        self.mlp_n = 0;
                    } else if self.overlaps_outstanding_miss() {
                        self.counts.load_l2_misses_overlapped += 1;
                    }
                }
                self.fill_l2(line, false);
            }
        }
        self.fill_l1(line, store, false);
        self.prefetch(line, store, va, mem);
    }

    /// Whether a demand load miss now joins the group of misses already
    /// outstanding (then it pays no latency of its own), or starts a new
    /// group. Instructions are counted per block, so the window is as
    /// fine as the guest's translation blocks. Dependence between loads is
    /// not tracked, and prefetches and store fills take no slots: an
    /// optimistic reading of the TRM's six fill requests.
    fn overlaps_outstanding_miss(&mut self) -> bool {
        let now = self.counts.insns;
        if self.mlp_n > 0
            && self.mlp_n < self.p.mlp
            && now.saturating_sub(self.mlp_start) <= self.p.mlp_window
        {
            self.mlp_n += 1;
            return true;
        }
        self.mlp_start = now;
        self.mlp_n = 1;
        false
    }

    fn prefetch(&mut self, line: u64, store: bool, va: Option<u64>, mem: &mut dyn Descriptors) {
        if store {
            for l in self.pf_store.train(line) {
                if !self.l1d.contains(l) && !self.l2.contains(l) {
                    self.counts.prefetches += 1;
                    self.fill_l2(l, true);
                }
            }
            return;
        }
        if self.p.pf_cross > 0 {
            if let Some(va) = va {
                self.prefetch_va(va, mem);
            }
            return;
        }
        for l in self.pf.train(line) {
            if self.l1d.contains(l) {
                continue;
            }
            self.counts.prefetches += 1;
            if self.l2.access(l, false).is_none() {
                self.fill_l2(l, true);
            }
            self.fill_l1(l, false, true);
        }
    }

    /// A load stream on virtual lines that may run into the next page:
    /// `pf_cross` 1 takes its translation only from a TLB (no walk: the
    /// prefetch is dropped), 2 walks for it.
    fn prefetch_va(&mut self, va: u64, mem: &mut dyn Descriptors) {
        let shift = self.line_shift;
        for l in self.pf.train(va >> shift) {
            let v = l << shift;
            let e = match self.p.pf_cross {
                1 => self.l1_tlb.peek(v).or_else(|| self.l2_tlb.peek(v)),
                _ => self.translate(v, mem),
            };
            let Some(e) = e.filter(|e| !e.device) else {
                return;
            };
            let pl = e.translate(v) >> shift;
            if self.l1d.contains(pl) {
                continue;
            }
            self.counts.prefetches += 1;
            if self.l2.access(pl, false).is_none() {
                self.fill_l2(pl, true);
            }
            self.fill_l1(pl, false, true);
        }
    }

    fn fill_l2(&mut self, line: u64, prefetched: bool) {
        self.counts.dram_lines += 1;
        if let Some(v) = self.l2.insert(line, false, prefetched)
            && v.dirty
        {
            self.writeback();
        }
    }

    fn fill_l1(&mut self, line: u64, dirty: bool, prefetched: bool) {
        if let Some(v) = self.l1d.insert(line, dirty, prefetched)
            && v.dirty
            && !self.l2.mark_dirty(v.line)
        {
            // Not inclusive: a dirty L1 victim absent from L2 goes on out.
            self.writeback();
        }
    }

    fn writeback(&mut self) {
        self.counts.writebacks += 1;
        self.counts.dram_lines += 1;
    }

    /// DC CIVAC / IVAC / CVAC on the line holding `va`.
    pub fn maintain(&mut self, va: u64, op: Cmo, mem: &mut dyn Descriptors) {
        self.counts.cache_maintenance += 1;
        let pa = if self.tr.mmu {
            match self.translate(va, mem) {
                Some(e) => e.translate(va),
                None => return,
            }
        } else {
            va
        };
        let line = pa >> self.line_shift;
        let dirty = match op {
            Cmo::Clean => self.l1d.clean(line) | self.l2.clean(line),
            Cmo::CleanInvalidate | Cmo::Invalidate => {
                let d1 = self.l1d.remove(line).unwrap_or(false);
                let d2 = self.l2.remove(line).unwrap_or(false);
                d1 | d2
            }
        };
        if dirty && op != Cmo::Invalidate {
            self.writeback();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::walk::tests::identity;

    fn on(leaf: u64) -> (Core, crate::walk::tests::Mem) {
        on_with(Params::a72(), leaf)
    }

    /// A core with parameters `p`, MMU on over an identity map of `leaf`s.
    fn on_with(p: Params, leaf: u64) -> (Core, crate::walk::tests::Mem) {
        let (regime, mem) = identity(leaf);
        let mut c = Core::new(p);
        c.set_translation(Translation {
            mmu: true,
            icache: true,
            regime,
        });
        (c, mem)
    }

    /// Copies `pages` 4 KiB pages from `src` to `dst` 8 bytes at a time,
    /// cleaning each destination line, as the stage's loops do.
    fn copy(c: &mut Core, mem: &mut crate::walk::tests::Mem, src: u64, dst: u64, pages: u64) {
        for p in 0..pages {
            for off in (0..4096).step_by(8) {
                c.access(src + p * 4096 + off, false, mem);
                c.access(dst + p * 4096 + off, true, mem);
            }
            for off in (0..4096).step_by(64) {
                c.maintain(dst + p * 4096 + off, Cmo::CleanInvalidate, mem);
            }
        }
    }

    #[test]
    fn a_1g_leaf_covers_everything_with_one_walk() {
        let (mut c, mut m) = on(1 << 30);
        copy(&mut c, &mut m, 0x4000_0000, 0x6000_0000, 64);
        assert_eq!(c.counts.walks, 1);
        assert_eq!(c.counts.walk_mem_accesses, 1);
        // Two 1 MiB pieces in the L1 TLB (source and destination); each
        // further MiB touched is one more L1 miss that hits the L2 TLB.
        assert_eq!(c.counts.l1_tlb_misses, 2);
    }

    #[test]
    fn leaves_of_4k_walk_once_per_page() {
        let (mut c, mut m) = on(4096);
        copy(&mut c, &mut m, 0x4000_0000, 0x6000_0000, 256);
        // 256 source + 256 destination pages: one walk each (the L2 TLB
        // holds 1024, so nothing is walked twice).
        assert_eq!(c.counts.walks, 512);
        assert_eq!(c.counts.walk_mem_accesses, 3 * 512);
    }

    #[test]
    fn the_1m_split_shows_in_the_l1_tlb_only() {
        let (mut c, mut m) = on(1 << 30);
        // One load per MiB over 64 MiB: each is an L1 TLB miss (a new 1 MiB
        // piece), but only the first walks.
        for mib in 0..64u64 {
            c.access(0x4000_0000 + (mib << 20), false, &mut m);
        }
        assert_eq!(c.counts.l1_tlb_misses, 64);
        assert_eq!(c.counts.l2_tlb_misses, 1);
        assert_eq!(c.counts.walks, 1);
    }

    #[test]
    fn a_stream_prefetches_up_to_the_page_end() {
        let (mut c, mut m) = on(1 << 30);
        for off in (0..4096).step_by(64) {
            c.access(0x4000_0000 + off, false, &mut m);
        }
        // One miss for the walk's descriptor, two train the stream; the
        // other 62 lines of the page were prefetched and used; nothing
        // beyond the page was fetched.
        assert_eq!(c.counts.l1d_misses, 3);
        assert_eq!(c.counts.prefetches, 62);
        assert_eq!(c.counts.prefetches_useful, 62);
        // The next page starts cold again.
        c.access(0x4000_1000, false, &mut m);
        assert_eq!(c.counts.l1d_misses, 4);
        // Without the page limit the stream runs into it.
        let mut p = Params::a72();
        p.pf_page_bytes = 0;
        let (mut c, mut m) = on_with(p, 1 << 30);
        for off in (0..8192).step_by(64) {
            c.access(0x4000_0000 + off, false, &mut m);
        }
        assert_eq!(c.counts.l1d_misses, 3);
    }

    #[test]
    fn virtual_streams_cross_pages_only_when_allowed() {
        // Eight 4 KiB pages read line by line, VA-contiguous.
        let run = |cross: u32| {
            let mut p = Params::a72();
            p.pf_cross = cross;
            let (mut c, mut m) = on_with(p, 4096);
            for off in (0..8 * 4096).step_by(64) {
                c.access(0x4000_0000 + off, false, &mut m);
            }
            c.counts
        };
        let (phys, tlb_only, walking) = (run(0), run(1), run(2));
        // Stopping at each page, and crossing only into pages the TLB
        // already holds (none here), both miss the first line of each page.
        assert_eq!(phys.prefetches_useful, tlb_only.prefetches_useful);
        // Walking for the next page keeps the stream going: fewer misses,
        // and the walks happen ahead of the demand accesses.
        assert!(walking.l1d_misses < phys.l1d_misses, "{walking:?} {phys:?}");
        assert!(walking.prefetches_useful > phys.prefetches_useful);
        // One walk per page; the stream walks one page past the last.
        assert_eq!(walking.walks, 9);
        assert_eq!(phys.walks, 8);
    }

    #[test]
    fn store_streams_prefetch_into_l2_only() {
        let (mut c, mut m) = on(1 << 30);
        for off in (0..4096).step_by(64) {
            c.access(0x4000_0000 + off, true, &mut m);
        }
        // Every line misses L1D (stores prefetch to L2 only), but after two
        // training misses the rest of the page is found in L2.
        assert_eq!(c.counts.l1d_misses, 1 + 64); // walk read + every line
        assert_eq!(c.counts.l2_misses, 1 + 2);
        assert_eq!(c.counts.prefetches, 62);
        assert_eq!(c.counts.prefetches_useful, 62);
    }

    #[test]
    fn device_accesses_never_hit() {
        let mut c = Core::new(Params::a72());
        let mut m = crate::walk::tests::Mem::default();
        for _ in 0..3 {
            for off in (0..4096).step_by(8) {
                c.access(0x4000_0000 + off, false, &mut m);
            }
        }
        assert_eq!(c.counts.device_accesses, 3 * 512);
        assert_eq!(c.counts.walks, 0);
        assert_eq!(c.counts.l1d_misses + c.counts.l2_misses, 0);
        let cost = c.counts.cost(&c.p);
        assert_eq!(cost.device, 3.0 * 512.0 * c.p.device_cycles());
    }

    #[test]
    fn cost_is_the_documented_sum() {
        let mut p = Params::a72();
        let mut c = Counts {
            insns: 1000,
            load_l2_hits: 10,
            load_l2_misses: 3,
            load_l2_misses_overlapped: 1,
            device_accesses: 2,
            dram_lines: 64,
            l1_tlb_misses: 5,
            uncached_fetches: 7,
            ..Counts::default()
        };
        // 1.5 GHz: 120 ns = 180 cycles; 64 B at 12.8 GB/s = 7.5 cycles.
        let back = 1000.0 + 21.0 * 10.0 + 180.0 * 2.0 + 180.0 * 2.0 + 7.5 * 64.0 + 6.0 * 5.0;
        let fetch = 180.0 * 7.0;
        // The fetch term hides behind the back end, or adds to it.
        let cost = c.cost(&p);
        assert!((cost.total - back).abs() < 1e-6, "{cost:?}");
        assert!((cost.hidden - fetch).abs() < 1e-6, "{cost:?}");
        p.fetch_overlap = 0;
        assert!((c.cost(&p).total - (back + fetch)).abs() < 1e-6);
        assert_eq!(c.cost(&p).hidden, 0.0);
        // A front end slower than the back end is what remains.
        p.fetch_overlap = 1;
        c.uncached_fetches = 100;
        assert!((c.cost(&p).total - 180.0 * 100.0).abs() < 1e-6);
    }

    /// Loads line 0 of each of `n` pages, `gap` instructions apart: each is
    /// a demand miss the prefetcher cannot have covered (the first is
    /// preceded by the walk of the 1 GiB block, a read that misses too).
    fn scattered_misses(p: Params, n: u64, gap: u64) -> Counts {
        let (mut c, mut m) = on_with(p, 1 << 30);
        for i in 0..n {
            c.insns(gap);
            c.access(0x4000_0000 + i * 4096, false, &mut m);
        }
        c.counts
    }

    #[test]
    fn independent_misses_overlap_up_to_mlp() {
        // The walk read, then 12 misses close together: two groups of six.
        let c = scattered_misses(Params::a72(), 12, 4);
        assert_eq!(c.load_l2_misses, 1 + 12);
        assert_eq!(c.load_l2_misses_overlapped, 10);
        // Three latencies: the walk read and one per group.
        let p = Params::a72();
        assert_eq!(c.cost(&p).mem, 3.0 * p.mem_cycles());
        // mlp=1: every miss pays.
        let mut p1 = Params::a72();
        p1.mlp = 1;
        assert_eq!(scattered_misses(p1, 12, 4).load_l2_misses_overlapped, 0);
        // Farther apart than the window: none overlap.
        let far = scattered_misses(Params::a72(), 12, 200);
        assert_eq!(far.load_l2_misses_overlapped, 0);
        // The window's edge: `mlp_window` instructions apart still overlap.
        let w = Params::a72().mlp_window;
        assert_eq!(
            scattered_misses(Params::a72(), 2, w).load_l2_misses_overlapped,
            1
        );
        assert_eq!(
            scattered_misses(Params::a72(), 2, w + 1).load_l2_misses_overlapped,
            0
        );
    }

    #[test]
    fn walk_reads_never_overlap() {
        // 4 KiB leaves: each new page walks first; the walk's reads and the
        // load after them are a dependent chain. Every walk read that
        // misses pays, and so does the first demand miss after it.
        let (mut c, mut m) = on_with(Params::a72(), 4096);
        for i in 0..4u64 {
            c.insns(4);
            c.access(0x4000_0000 + i * (1 << 21), false, &mut m);
        }
        assert_eq!(c.counts.load_l2_misses_overlapped, 0, "{:?}", c.counts);
        assert!(c.counts.walks >= 4);
    }

    #[test]
    fn clean_writes_back_dirty_lines_once() {
        let (mut c, mut m) = on(1 << 30);
        c.access(0x4000_0000, true, &mut m);
        c.maintain(0x4000_0000, Cmo::CleanInvalidate, &mut m);
        c.maintain(0x4000_0000, Cmo::CleanInvalidate, &mut m);
        assert_eq!(c.counts.writebacks, 1);
        c.access(0x4000_0040, true, &mut m);
        c.maintain(0x4000_0040, Cmo::Invalidate, &mut m);
        assert_eq!(c.counts.writebacks, 1);
        // The line is gone: the next load misses.
        let before = c.counts.l1d_misses;
        c.access(0x4000_0040, false, &mut m);
        assert_eq!(c.counts.l1d_misses, before + 1);
    }

    #[test]
    fn tlbs_follow_translation_changes() {
        let (mut c, mut m) = on(1 << 30);
        c.access(0x4000_0000, false, &mut m);
        let mut tr = c.tr;
        tr.regime.ttbr0 ^= 0; // same: no flush
        c.set_translation(tr);
        c.access(0x4000_0000, false, &mut m);
        assert_eq!(c.counts.walks, 1);
        c.flush_tlbs(); // TLBI
        c.access(0x4000_0000, false, &mut m);
        assert_eq!(c.counts.walks, 2);
    }
}
