//! Access to physical memory for the pure builders (page tables, kimage
//! list, payload placement). On the target it is a raw identity access; on
//! the host a sparse simulated memory, so every builder is tested against
//! the same trait it runs against.

/// Byte and word access to physical addresses. Implementations decide what
/// "physical" means; callers never form pointers themselves.
pub trait PhysMem {
    fn read_u64(&self, phys: u64) -> u64;
    fn write_u64(&mut self, phys: u64, value: u64);
    fn read_bytes(&self, phys: u64, out: &mut [u8]);
    fn write_bytes(&mut self, phys: u64, data: &[u8]);
    /// Sets `len` bytes at `phys` to `byte`.
    fn fill(&mut self, phys: u64, len: u64, byte: u8);
    /// `[phys, phys + len)` (whole cache lines) is about to be written for
    /// the first time by its new owner, e.g. fresh page tables. A machine
    /// whose caches may still hold dirty lines of a previous owner drops
    /// them here, so none can be evicted over what is written with the
    /// caches off. Nothing to do by default.
    fn claim_fresh(&mut self, _phys: u64, _len: u64) {}
}

/// Host-only sparse memory: 4 KiB pages created on first write, reading
/// unwritten memory gives zero. Also records every written page so tests
/// can assert that nothing was written outside where it should be.
/// Accesses go a page-sized piece at a time: one map lookup per page, not
/// per byte, so tests can zero and fill megabytes of tables cheaply.
/// Built for unit tests and, with the `sim` feature, for host tools such as
/// the fuzz targets; never for the stage.
#[cfg(any(test, feature = "sim"))]
pub mod sim {
    extern crate std;
    use super::PhysMem;
    use core::ops::Range;
    use std::boxed::Box;
    use std::collections::BTreeMap;

    const PAGE: u64 = 4096;

    #[derive(Default)]
    pub struct SparseMem {
        pages: BTreeMap<u64, Box<[u8; PAGE as usize]>>,
    }

    impl SparseMem {
        pub fn new() -> Self {
            Self::default()
        }

        /// Start addresses of every page ever written.
        pub fn written_pages(&self) -> impl Iterator<Item = u64> + '_ {
            self.pages.keys().copied()
        }

        fn page_mut(&mut self, phys: u64) -> &mut [u8; PAGE as usize] {
            self.pages
                .entry(phys & !(PAGE - 1))
                .or_insert_with(|| Box::new([0; PAGE as usize]))
        }
    }

    /// One page's share of an access.
    struct Piece {
        /// Where it starts.
        phys: u64,
        /// Its bytes in the caller's buffer.
        buf: Range<usize>,
        /// The same bytes inside the page.
        page: Range<usize>,
    }

    /// Splits `len` bytes at `phys` at page boundaries. An access may end
    /// at the top of the address space but not wrap past it.
    fn pieces(phys: u64, len: u64) -> impl Iterator<Item = Piece> {
        let (mut at, mut done, mut left) = (phys, 0usize, len);
        core::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            let offset = (at & (PAGE - 1)) as usize;
            let n = (PAGE - offset as u64).min(left);
            let piece = Piece {
                phys: at,
                buf: done..done + n as usize,
                page: offset..offset + n as usize,
            };
            left -= n;
            done += n as usize;
            if left > 0 {
                at = at.checked_add(n).expect("access wraps the address space");
            }
            Some(piece)
        })
    }

    impl PhysMem for SparseMem {
        fn read_u64(&self, phys: u64) -> u64 {
            let mut b = [0u8; 8];
            self.read_bytes(phys, &mut b);
            u64::from_le_bytes(b)
        }

        fn write_u64(&mut self, phys: u64, value: u64) {
            self.write_bytes(phys, &value.to_le_bytes());
        }

        fn read_bytes(&self, phys: u64, out: &mut [u8]) {
            for p in pieces(phys, out.len() as u64) {
                let dst = &mut out[p.buf];
                match self.pages.get(&(p.phys & !(PAGE - 1))) {
                    Some(page) => dst.copy_from_slice(&page[p.page]),
                    None => dst.fill(0),
                }
            }
        }

        fn write_bytes(&mut self, phys: u64, data: &[u8]) {
            for p in pieces(phys, data.len() as u64) {
                self.page_mut(p.phys)[p.page].copy_from_slice(&data[p.buf]);
            }
        }

        fn fill(&mut self, phys: u64, len: u64, byte: u8) {
            for p in pieces(phys, len) {
                self.page_mut(p.phys)[p.page].fill(byte);
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use proptest::prelude::*;
        use std::vec;
        use std::vec::Vec;

        #[test]
        fn unwritten_reads_zero_and_creates_nothing() {
            let m = SparseMem::new();
            let mut b = [0xaau8; 10000];
            m.read_bytes(0x1ffe, &mut b);
            assert!(b.iter().all(|x| *x == 0));
            assert_eq!(m.read_u64(0xfff), 0);
            assert_eq!(m.written_pages().count(), 0);
        }

        #[test]
        fn access_across_pages_round_trips() {
            let mut m = SparseMem::new();
            let data: Vec<u8> = (0..9000u32).map(|i| (i * 7) as u8).collect();
            m.write_bytes(0x10ff9, &data);
            let mut back = vec![0u8; data.len()];
            m.read_bytes(0x10ff9, &mut back);
            assert_eq!(back, data);
            assert_eq!(
                m.written_pages().collect::<Vec<_>>(),
                [0x10000, 0x11000, 0x12000, 0x13000]
            );
            m.write_u64(0x13ffc, 0x1122_3344_5566_7788);
            assert_eq!(m.read_u64(0x13ffc), 0x1122_3344_5566_7788);
            assert_eq!(m.written_pages().last(), Some(0x14000));
        }

        #[test]
        fn fill_touches_exactly_its_pages() {
            let mut m = SparseMem::new();
            m.fill(0x2fff, 0x1002, 0x5a);
            assert_eq!(
                m.written_pages().collect::<Vec<_>>(),
                [0x2000, 0x3000, 0x4000]
            );
            let mut b = [0u8; 0x1004];
            m.read_bytes(0x2ffe, &mut b);
            assert_eq!(b[0], 0);
            assert!(b[1..0x1003].iter().all(|x| *x == 0x5a));
            assert_eq!(b[0x1003], 0);
            m.fill(0x9000, 0, 1);
            m.write_bytes(0x9000, &[]);
            assert_eq!(
                m.written_pages().count(),
                3,
                "empty accesses create no page"
            );
        }

        #[test]
        fn access_may_end_at_the_top_of_the_address_space() {
            let mut m = SparseMem::new();
            m.write_u64(u64::MAX - 7, 42);
            assert_eq!(m.read_u64(u64::MAX - 7), 42);
            m.fill(u64::MAX - 4096, 4097, 1);
            assert_eq!(m.written_pages().count(), 2);
        }

        #[test]
        #[should_panic(expected = "wraps")]
        fn access_wrapping_the_address_space_panics() {
            SparseMem::new().write_u64(u64::MAX - 3, 1);
        }

        #[derive(Debug, Clone)]
        enum Op {
            /// Address, length, seed of the bytes.
            Write(u64, usize, u8),
            Fill(u64, u64, u8),
            Read(u64, usize),
        }

        const MODEL_BASE: u64 = 0x7000;
        /// Every address `op` can touch, from `MODEL_BASE`.
        const MODEL_LEN: usize = 0x4000 + 9000;

        fn op() -> impl Strategy<Value = Op> {
            // A few pages, so pieces start, end and span page boundaries.
            let at = MODEL_BASE..MODEL_BASE + 0x4000;
            prop_oneof![
                (at.clone(), 0usize..9000, any::<u8>()).prop_map(|(a, n, s)| Op::Write(a, n, s)),
                (at.clone(), 0u64..9000, any::<u8>()).prop_map(|(a, n, b)| Op::Fill(a, n, b)),
                (at, 0usize..9000).prop_map(|(a, n)| Op::Read(a, n)),
            ]
        }

        proptest! {
            /// Same behaviour as a byte-at-a-time model: contents, zero for
            /// unwritten bytes, and the set of written pages.
            #[test]
            fn matches_a_bytewise_model(ops in proptest::collection::vec(op(), 1..24)) {
                let mut m = SparseMem::new();
                // Byte at MODEL_BASE + i, None while never written.
                let mut model: Vec<Option<u8>> = vec![None; MODEL_LEN];
                let at = |a: u64| (a - MODEL_BASE) as usize;
                for op in ops {
                    match op {
                        Op::Write(a, n, seed) => {
                            // Position-dependent bytes catch a piece copied
                            // from or to the wrong offset.
                            let d: Vec<u8> = (0..n).map(|i| seed ^ (i * 31 + i / 4096) as u8).collect();
                            m.write_bytes(a, &d);
                            for (i, b) in d.iter().enumerate() {
                                model[at(a) + i] = Some(*b);
                            }
                        }
                        Op::Fill(a, n, b) => {
                            m.fill(a, n, b);
                            model[at(a)..at(a + n)].fill(Some(b));
                        }
                        Op::Read(a, n) => {
                            let mut got = vec![0xeeu8; n];
                            m.read_bytes(a, &mut got);
                            let want: Vec<u8> =
                                model[at(a)..at(a) + n].iter().map(|x| x.unwrap_or(0)).collect();
                            prop_assert_eq!(got, want);
                        }
                    }
                }
                let mut pages: Vec<u64> = (0..MODEL_LEN)
                    .filter(|i| model[*i].is_some())
                    .map(|i| (MODEL_BASE + i as u64) & !(PAGE - 1))
                    .collect();
                pages.dedup();
                prop_assert_eq!(m.written_pages().collect::<Vec<_>>(), pages);
            }
        }
    }
}
