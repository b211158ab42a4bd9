//! The two data-side TLB levels: a fully associative L1 that holds only
//! some sizes (a larger leaf is held as a piece of the largest size it
//! can hold, the piece containing the address), and a set-associative L2
//! indexed by the virtual page number at each size it holds. Both LRU.

use crate::params::{SizeMask, piece};

/// A cached translation: `[va, va + size)` -> `[pa, pa + size)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub va: u64,
    pub pa: u64,
    pub size: u64,
    /// Device memory (MAIR attribute) rather than Normal.
    pub device: bool,
}

impl Entry {
    fn covers(&self, va: u64) -> bool {
        va & !(self.size - 1) == self.va
    }

    pub fn translate(&self, va: u64) -> u64 {
        self.pa | (va & (self.size - 1))
    }

    /// The piece of this translation of `size` bytes that contains `va`.
    fn piece(&self, va: u64, size: u64) -> Entry {
        let off = va & (self.size - 1) & !(size - 1);
        Entry {
            va: self.va | off,
            pa: self.pa | off,
            size,
            device: self.device,
        }
    }
}

/// A set-associative LRU TLB (a fully associative one has one set).
pub struct Tlb {
    sets: usize,
    ways: usize,
    sizes: SizeMask,
    /// (entry, last use); `None` is an empty way.
    slots: Vec<Option<(Entry, u64)>>,
    /// Sizes present, to probe only those.
    present: SizeMask,
    clock: u64,
}

impl Tlb {
    pub fn new(entries: u32, ways: u32, sizes: SizeMask) -> Tlb {
        let ways = ways.max(1) as usize;
        Tlb {
            sets: (entries as usize / ways).max(1),
            ways,
            sizes,
            slots: vec![None; entries.max(1) as usize],
            present: 0,
            clock: 0,
        }
    }

    fn set_of(&self, va: u64, size: u64) -> usize {
        ((va >> size.trailing_zeros()) % self.sets as u64) as usize
    }

    pub fn lookup(&mut self, va: u64) -> Option<Entry> {
        self.clock += 1;
        let mut present = self.present;
        while present != 0 {
            let size = 1u64 << present.trailing_zeros();
            present &= present - 1;
            let s = self.set_of(va, size) * self.ways;
            for slot in &mut self.slots[s..s + self.ways] {
                if let Some((e, used)) = slot
                    && e.size == size
                    && e.covers(va)
                {
                    *used = self.clock;
                    return Some(*e);
                }
            }
        }
        None
    }

    /// Like `lookup`, without touching LRU state (a prefetcher's probe).
    pub fn peek(&self, va: u64) -> Option<Entry> {
        let mut present = self.present;
        while present != 0 {
            let size = 1u64 << present.trailing_zeros();
            present &= present - 1;
            let s = self.set_of(va, size) * self.ways;
            let hit = self.slots[s..s + self.ways]
                .iter()
                .flatten()
                .find(|(e, _)| e.size == size && e.covers(va));
            if let Some((e, _)) = hit {
                return Some(*e);
            }
        }
        None
    }

    /// Inserts the piece of `leaf` containing `va` that this TLB can hold;
    /// returns it (None if the leaf is smaller than every size it holds).
    pub fn insert(&mut self, leaf: &Entry, va: u64) -> Option<Entry> {
        let size = piece(self.sizes, leaf.size)?;
        let e = leaf.piece(va, size);
        self.clock += 1;
        let s = self.set_of(e.va, size) * self.ways;
        let ways = &mut self.slots[s..s + self.ways];
        let victim = ways
            .iter()
            .position(|w| w.is_none())
            .or_else(|| (0..ways.len()).min_by_key(|i| ways[*i].map_or(0, |(_, used)| used)))
            .unwrap_or(0);
        ways[victim] = Some((e, self.clock));
        self.present |= size;
        Some(e)
    }

    pub fn flush(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
        self.present = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;

    fn leaf(va: u64, size: u64) -> Entry {
        Entry {
            va,
            pa: va,
            size,
            device: false,
        }
    }

    #[test]
    fn l1_splits_a_1g_block_into_1m_pieces() {
        let p = Params::a72();
        let mut l1 = Tlb::new(p.l1_tlb_entries, p.l1_tlb_entries, p.l1_tlb_sizes);
        let block = leaf(0x4000_0000, 1 << 30);
        let e = l1.insert(&block, 0x4012_3456).unwrap();
        assert_eq!((e.va, e.size), (0x4010_0000, 1 << 20));
        assert!(l1.lookup(0x401f_ffff).is_some());
        // The next megabyte of the same block is another L1 entry.
        assert!(l1.lookup(0x4020_0000).is_none());
        assert_eq!(
            l1.lookup(0x4010_0008).unwrap().translate(0x4010_0008),
            0x4010_0008
        );
    }

    #[test]
    fn l2_holds_1g_whole_and_covers_everything() {
        let p = Params::a72();
        let mut l2 = Tlb::new(p.l2_tlb_entries, p.l2_tlb_ways, p.l2_tlb_sizes);
        l2.insert(&leaf(0x4000_0000, 1 << 30), 0x4000_0000);
        for va in (0x4000_0000u64..0x8000_0000).step_by(7 << 20) {
            assert!(l2.lookup(va).is_some(), "{va:#x}");
        }
        assert!(l2.lookup(0x8000_0000).is_none());
    }

    #[test]
    fn fully_associative_lru_fits_then_thrashes() {
        let mut l1 = Tlb::new(32, 32, Params::a72().l1_tlb_sizes);
        let fill = |l1: &mut Tlb, pages: u64| {
            let mut misses = 0;
            for round in 0..3 {
                for i in 0..pages {
                    let va = i << 12;
                    if l1.lookup(va).is_none() {
                        misses += 1;
                        l1.insert(&leaf(va, 4096), va);
                    }
                }
                let _ = round;
            }
            misses
        };
        assert_eq!(fill(&mut l1, 32), 32); // cold misses only
        l1.flush();
        assert_eq!(fill(&mut l1, 33), 99); // LRU with one too many: all miss
    }

    #[test]
    fn set_associative_conflicts() {
        // 1024 entries, 4-way: 256 sets; five pages 256 pages apart share
        // a set and thrash it, four do not.
        let p = Params::a72();
        let mut l2 = Tlb::new(p.l2_tlb_entries, p.l2_tlb_ways, p.l2_tlb_sizes);
        let run = |l2: &mut Tlb, n: u64| {
            let mut misses = 0;
            for _ in 0..4 {
                for i in 0..n {
                    let va = (i * 256) << 12;
                    if l2.lookup(va).is_none() {
                        misses += 1;
                        l2.insert(&leaf(va, 4096), va);
                    }
                }
            }
            misses
        };
        assert_eq!(run(&mut l2, 4), 4);
        l2.flush();
        assert_eq!(run(&mut l2, 5), 20);
    }
}
