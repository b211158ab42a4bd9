//! One set-associative, physically indexed, LRU, write-back cache level.
//! It only keeps lines; the hierarchy (`core`) decides what moves where.

#[derive(Clone, Copy, Debug, Default)]
struct Way {
    /// Line address (physical address / line size); valid if `used > 0`.
    line: u64,
    used: u64,
    dirty: bool,
    /// Brought in by the prefetcher and not yet touched by a demand access.
    prefetched: bool,
}

/// What a lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub prefetched: bool,
}

/// A line pushed out by an insertion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evicted {
    pub line: u64,
    pub dirty: bool,
}

pub struct Cache {
    sets: u64,
    ways: usize,
    slots: Vec<Way>,
    clock: u64,
}

impl Cache {
    pub fn new(bytes: u64, ways: u32, line_bytes: u64) -> Cache {
        let lines = (bytes / line_bytes).max(1);
        let ways = ways.max(1) as usize;
        Cache {
            sets: (lines / ways as u64).max(1),
            ways,
            slots: vec![Way::default(); lines as usize],
            clock: 0,
        }
    }

    fn set(&mut self, line: u64) -> &mut [Way] {
        let s = (line % self.sets) as usize * self.ways;
        &mut self.slots[s..s + self.ways]
    }

    fn find(&mut self, line: u64) -> Option<&mut Way> {
        self.set(line)
            .iter_mut()
            .find(|w| w.used > 0 && w.line == line)
    }

    /// A demand access: updates LRU, clears the prefetched mark (reporting
    /// it), marks dirty on a store.
    pub fn access(&mut self, line: u64, store: bool) -> Option<Hit> {
        self.clock += 1;
        let clock = self.clock;
        let w = self.find(line)?;
        w.used = clock;
        w.dirty |= store;
        let prefetched = core::mem::take(&mut w.prefetched);
        Some(Hit { prefetched })
    }

    pub fn contains(&mut self, line: u64) -> bool {
        self.find(line).is_some()
    }

    /// Inserts a line that is not present; returns the victim if a valid
    /// line had to go.
    pub fn insert(&mut self, line: u64, dirty: bool, prefetched: bool) -> Option<Evicted> {
        self.clock += 1;
        let clock = self.clock;
        let set = self.set(line);
        let victim = set
            .iter_mut()
            .min_by_key(|w| w.used)
            .expect("a set has at least one way");
        let out = (victim.used > 0).then_some(Evicted {
            line: victim.line,
            dirty: victim.dirty,
        });
        *victim = Way {
            line,
            used: clock,
            dirty,
            prefetched,
        };
        out
    }

    /// Marks a present line dirty (a write-back from the level above);
    /// false if it is not present.
    pub fn mark_dirty(&mut self, line: u64) -> bool {
        self.find(line).map(|w| w.dirty = true).is_some()
    }

    /// Removes a line; `Some(dirty)` if it was present.
    pub fn remove(&mut self, line: u64) -> Option<bool> {
        let w = self.find(line)?;
        let dirty = w.dirty;
        *w = Way::default();
        Some(dirty)
    }

    /// Cleans a present line; true if it was dirty.
    pub fn clean(&mut self, line: u64) -> bool {
        self.find(line)
            .is_some_and(|w| core::mem::take(&mut w.dirty))
    }

    pub fn flush(&mut self) {
        self.slots.iter_mut().for_each(|w| *w = Way::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(c: &mut Cache, lines: u64, stride: u64, rounds: u32) -> u64 {
        let mut misses = 0;
        for _ in 0..rounds {
            for i in 0..lines {
                let l = i * stride;
                if c.access(l, false).is_none() {
                    misses += 1;
                    c.insert(l, false, false);
                }
            }
        }
        misses
    }

    #[test]
    fn a_stride_that_fits_misses_only_cold() {
        // 32 KiB, 2-way, 64 B: 256 sets. 512 consecutive lines fill it.
        let mut c = Cache::new(32 << 10, 2, 64);
        assert_eq!(sweep(&mut c, 512, 1, 4), 512);
    }

    #[test]
    fn a_stride_that_thrashes_misses_every_time() {
        // Three lines 256 apart share one set of a 2-way cache: LRU evicts
        // each just before it is needed again.
        let mut c = Cache::new(32 << 10, 2, 64);
        assert_eq!(sweep(&mut c, 3, 256, 4), 12);
        // Two of them fit.
        c.flush();
        assert_eq!(sweep(&mut c, 2, 256, 4), 2);
    }

    #[test]
    fn dirty_victims_and_maintenance() {
        let mut c = Cache::new(128, 1, 64); // 2 sets, direct mapped
        assert_eq!(c.insert(0, true, false), None);
        assert_eq!(
            c.insert(2, false, false),
            Some(Evicted {
                line: 0,
                dirty: true
            })
        );
        assert!(c.mark_dirty(2));
        assert!(c.clean(2));
        assert!(!c.clean(2));
        assert_eq!(c.remove(2), Some(false));
        assert_eq!(c.remove(2), None);
    }

    #[test]
    fn prefetched_mark_is_reported_once() {
        let mut c = Cache::new(1024, 2, 64);
        c.insert(5, false, true);
        assert_eq!(c.access(5, false), Some(Hit { prefetched: true }));
        assert_eq!(c.access(5, false), Some(Hit { prefetched: false }));
    }
}
