//! An ascending stream prefetcher on physical line addresses: a stream is
//! confirmed after `train` accesses to consecutive lines, then each trigger
//! asks for the next `degree` lines, never past a `page_bytes` boundary
//! (physical pages of a virtual stream need not be adjacent, so hardware
//! prefetchers stop there).

pub struct Prefetcher {
    /// (next expected line, confidence, last use)
    streams: Vec<(u64, u32, u64)>,
    train: u32,
    degree: u64,
    /// Page size in lines (0: unlimited).
    page_lines: u64,
    clock: u64,
}

impl Prefetcher {
    pub fn new(streams: u32, train: u32, degree: u32, page_bytes: u64, line_bytes: u64) -> Self {
        Prefetcher {
            streams: vec![(u64::MAX, 0, 0); streams.max(1) as usize],
            train: train.max(1),
            degree: degree as u64,
            page_lines: page_bytes / line_bytes,
            clock: 0,
        }
    }

    /// Trains on a demand access to `line` (an L1 miss, or the first hit on
    /// a prefetched line); returns the lines to prefetch.
    pub fn train(&mut self, line: u64) -> core::ops::Range<u64> {
        self.clock += 1;
        let clock = self.clock;
        let conf = match self.streams.iter_mut().find(|s| s.0 == line) {
            Some(s) => {
                s.0 = line + 1;
                s.1 = s.1.saturating_add(1);
                s.2 = clock;
                s.1
            }
            None => {
                let s = self
                    .streams
                    .iter_mut()
                    .min_by_key(|s| s.2)
                    .expect("at least one stream");
                *s = (line + 1, 1, clock);
                1
            }
        };
        if conf < self.train {
            return line + 1..line + 1;
        }
        let mut end = line + 1 + self.degree;
        if let Some(page) = line.checked_div(self.page_lines) {
            end = end.min((page + 1) * self.page_lines);
        }
        line + 1..end
    }

    pub fn flush(&mut self) {
        self.streams.iter_mut().for_each(|s| *s = (u64::MAX, 0, 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trains_then_runs_ahead_and_stops_at_the_page() {
        // 64-byte lines, 4 KiB pages: 64 lines per page.
        let mut p = Prefetcher::new(4, 2, 4, 4096, 64);
        assert!(p.train(60).is_empty()); // first sighting
        assert_eq!(p.train(61), 62..64); // confirmed; stops at line 64
        assert_eq!(p.train(62), 63..64);
        assert!(p.train(63).is_empty()); // last line of the page
        // Unlimited: runs on.
        let mut p = Prefetcher::new(4, 2, 4, 0, 64);
        p.train(60);
        assert_eq!(p.train(61), 62..66);
    }

    #[test]
    fn random_lines_never_trigger() {
        let mut p = Prefetcher::new(8, 2, 4, 4096, 64);
        for l in [5u64, 900, 77, 4000, 12, 3000, 640, 81] {
            assert!(p.train(l).is_empty());
        }
    }
}
