//! Handing out single pages of free RAM for source and list pages, either
//! top-down or in a seeded shuffle that scatters them over all of free RAM
//! the way a long-running kernel's page allocator does. The shuffle is a
//! keyed permutation of page indices, so it needs no memory per page and
//! never gives a page twice.

use alloc::vec::Vec;

use super::segment::{GOLDEN_GAMMA, mix64};
use crate::region::{Region, SZ_4K, subtract_all};

/// `from` minus `holes`, each piece shrunk to whole pages: the pages an
/// allocator may hand out.
pub fn free_pages(from: &[Region], holes: &[Region]) -> Vec<Region> {
    subtract_all(from, holes)
        .iter()
        .filter_map(|r| r.shrink_to(SZ_4K))
        .collect()
}

/// The order pages come out of a [`PageAllocator`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Highest address first.
    TopDown,
    /// A permutation of every free page chosen by `seed`.
    Shuffled { seed: u64 },
}

/// Single pages from a fixed set of free regions, each at most once.
#[derive(Clone, Debug)]
pub struct PageAllocator {
    free: Vec<Region>,
    /// `ends[i]`: pages in `free[..=i]`, to find the page at an index.
    ends: Vec<u64>,
    handed_out: u64,
    order: Order,
}

impl PageAllocator {
    /// Over the whole pages of `free` (any order, may overlap).
    pub fn new(free: &[Region], order: Order) -> Self {
        let free = free_pages(free, &[]);
        let ends = free
            .iter()
            .scan(0, |sum, r| {
                *sum += r.len() / SZ_4K;
                Some(*sum)
            })
            .collect();
        PageAllocator {
            free,
            ends,
            handed_out: 0,
            order,
        }
    }

    pub fn total_pages(&self) -> u64 {
        self.ends.last().copied().unwrap_or(0)
    }

    pub fn remaining_pages(&self) -> u64 {
        self.total_pages() - self.handed_out
    }

    /// The next page's physical address, or `None` when all are given out.
    pub fn alloc(&mut self) -> Option<u64> {
        let total = self.total_pages();
        if self.handed_out == total {
            return None;
        }
        let index = match self.order {
            Order::TopDown => total - 1 - self.handed_out,
            Order::Shuffled { seed } => permute(self.handed_out, total, seed),
        };
        self.handed_out += 1;
        let region = self.ends.partition_point(|&end| end <= index);
        let before = region.checked_sub(1).map_or(0, |r| self.ends[r]);
        Some(self.free[region].start + (index - before) * SZ_4K)
    }
}

/// `index`'s image under a seeded bijection of `0..total`: a four-round
/// Feistel network on the smallest even bit width holding `total`, walked
/// along its cycle until it lands inside the range (at most 4x on average).
fn permute(index: u64, total: u64, seed: u64) -> u64 {
    let bits = 64 - (total - 1).leading_zeros();
    let half = bits.div_ceil(2).max(1);
    let mask = (1u64 << half) - 1;
    let mut x = index;
    loop {
        let (mut left, mut right) = (x >> half, x & mask);
        for round in 0..4u64 {
            let f = mix64(right ^ seed.wrapping_add(round.wrapping_mul(GOLDEN_GAMMA))) & mask;
            (left, right) = (right, left ^ f);
        }
        x = (left << half) | right;
        if x < total {
            return x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use std::collections::BTreeSet;

    #[test]
    fn permute_is_a_bijection_for_awkward_sizes() {
        for total in [1u64, 2, 3, 5, 17, 64, 1000, 4097] {
            let seen: BTreeSet<u64> = (0..total).map(|i| permute(i, total, 7)).collect();
            assert_eq!(seen.len() as u64, total);
            assert!(seen.iter().all(|&x| x < total));
        }
    }

    #[test]
    fn top_down_goes_from_the_top_across_regions() {
        let free = [Region::new(0x1000, 0x3000), Region::new(0x8000, 0x9800)];
        let mut a = PageAllocator::new(&free, Order::TopDown);
        assert_eq!(a.total_pages(), 3);
        let got: Vec<u64> = core::iter::from_fn(|| a.alloc()).collect();
        assert_eq!(got, vec![0x8000, 0x2000, 0x1000]);
        assert_eq!(a.remaining_pages(), 0);
    }

    #[test]
    fn shuffled_hands_out_every_page_once_in_a_seeded_order() {
        let free = [
            Region::new(0x10_0000, 0x20_0000),
            Region::new(0x40_0000, 0x40_5000),
        ];
        let run = |seed| {
            let mut a = PageAllocator::new(&free, Order::Shuffled { seed });
            core::iter::from_fn(|| a.alloc()).collect::<Vec<u64>>()
        };
        let (one, again, other) = (run(1), run(1), run(2));
        assert_eq!(one, again);
        assert_ne!(one, other);
        let set: BTreeSet<u64> = one.iter().copied().collect();
        assert_eq!(set.len(), 256 + 5);
        assert!(
            one.iter()
                .all(|p| p % SZ_4K == 0 && free.iter().any(|r| r.contains(*p)))
        );
        // Scattered, not sequential: few neighbours are handed out in a row.
        let runs = one.windows(2).filter(|w| w[1] == w[0] + SZ_4K).count();
        assert!(runs < 16, "{runs} sequential pairs");
    }

    #[test]
    fn empty_allocator_gives_nothing() {
        let mut a = PageAllocator::new(&[Region::new(0x1001, 0x1fff)], Order::Shuffled { seed: 0 });
        assert_eq!(a.alloc(), None);
    }
}
