//! Physical address ranges and the arithmetic on them: overlap, alignment,
//! sorting, merging and subtracting. Every other module asks this one; none
//! does range maths by hand.

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;

/// Bytes in 4 KiB, 2 MiB and 1 GiB, named once.
pub const SZ_4K: u64 = 1 << 12;
pub const SZ_2M: u64 = 1 << 21;
pub const SZ_1G: u64 = 1 << 30;

/// A half-open physical range `[start, end)`. `end` may be `u64::MAX + 1`
/// only in spirit: ranges ending at the top of the address space are not
/// representable and never occur on the machines this stage targets.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Region {
    pub start: u64,
    pub end: u64,
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:#x}, {:#x})", self.start, self.end)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl Region {
    /// `[start, end)`; an `end` below `start` gives an empty region at `start`.
    pub const fn new(start: u64, end: u64) -> Self {
        Region {
            start,
            end: if end < start { start } else { end },
        }
    }

    /// `[start, start + len)`, or `None` when that overflows.
    pub fn from_len(start: u64, len: u64) -> Option<Self> {
        start.checked_add(len).map(|end| Region { start, end })
    }

    pub const fn len(&self) -> u64 {
        self.end - self.start
    }

    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    pub const fn contains(&self, addr: u64) -> bool {
        addr >= self.start && addr < self.end
    }

    /// Whether `other` lies wholly inside `self` (an empty `other` does).
    pub const fn covers(&self, other: &Region) -> bool {
        other.is_empty() || (other.start >= self.start && other.end <= self.end)
    }

    /// Whether the two share at least one byte.
    pub const fn overlaps(&self, other: &Region) -> bool {
        !self.is_empty() && !other.is_empty() && self.start < other.end && other.start < self.end
    }

    pub fn intersect(&self, other: &Region) -> Option<Region> {
        let r = Region::new(self.start.max(other.start), self.end.min(other.end));
        (!r.is_empty()).then_some(r)
    }

    /// Both ends aligned to `align` (a power of two).
    pub const fn is_aligned(&self, align: u64) -> bool {
        self.start & (align - 1) == 0 && self.end & (align - 1) == 0
    }

    /// The largest `align`-aligned region inside `self`, if any.
    pub fn shrink_to(&self, align: u64) -> Option<Region> {
        let start = align_up(self.start, align)?;
        let end = align_down(self.end, align);
        (start < end).then_some(Region { start, end })
    }

    /// The smallest `align`-aligned region around `self`.
    pub fn grow_to(&self, align: u64) -> Option<Region> {
        Some(Region {
            start: align_down(self.start, align),
            end: align_up(self.end, align)?,
        })
    }

    /// What is left of `self` after removing `other`: up to two pieces.
    pub fn subtract(&self, other: &Region) -> [Option<Region>; 2] {
        if !self.overlaps(other) {
            return [(!self.is_empty()).then_some(*self), None];
        }
        let below = Region::new(self.start, other.start);
        let above = Region::new(other.end, self.end);
        [
            (!below.is_empty() && other.start > self.start).then_some(below),
            (!above.is_empty() && other.end < self.end).then_some(above),
        ]
    }
}

/// `addr` rounded down to a multiple of `align` (a power of two).
pub const fn align_down(addr: u64, align: u64) -> u64 {
    addr & !(align - 1)
}

/// `addr` rounded up to a multiple of `align` (a power of two), or `None`
/// on overflow.
pub const fn align_up(addr: u64, align: u64) -> Option<u64> {
    match addr.checked_add(align - 1) {
        Some(v) => Some(v & !(align - 1)),
        None => None,
    }
}

/// Sorts and merges overlapping or touching regions, dropping empty ones.
pub fn normalize(regions: &mut Vec<Region>) {
    regions.retain(|r| !r.is_empty());
    regions.sort_unstable();
    let mut out: Vec<Region> = Vec::with_capacity(regions.len());
    for r in regions.iter() {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(*r),
        }
    }
    *regions = out;
}

/// `from` minus every region of `holes`, normalized.
pub fn subtract_all(from: &[Region], holes: &[Region]) -> Vec<Region> {
    let mut out: Vec<Region> = from.to_vec();
    normalize(&mut out);
    for hole in holes {
        let mut next = Vec::with_capacity(out.len() + 1);
        for r in &out {
            next.extend(r.subtract(hole).into_iter().flatten());
        }
        out = next;
    }
    out
}

/// The first pair of regions in `regions` that overlap, if any.
pub fn first_overlap(regions: &[Region]) -> Option<(Region, Region)> {
    let mut sorted: Vec<Region> = regions.iter().copied().filter(|r| !r.is_empty()).collect();
    sorted.sort_unstable();
    sorted
        .windows(2)
        .find(|w| w[0].overlaps(&w[1]))
        .map(|w| (w[0], w[1]))
}

/// Total bytes of a set of disjoint regions.
pub fn total_len(regions: &[Region]) -> u64 {
    regions.iter().map(Region::len).sum()
}

/// A byte count in the largest binary unit that divides it: 4096 is
/// `4K`, 2 MiB `2M`, 1 GiB `1G`; anything else is printed in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeName(pub u64);

impl fmt::Display for SizeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u32, &str); 4] = [(40, "T"), (30, "G"), (20, "M"), (10, "K")];
        let bytes = self.0;
        for (shift, unit) in UNITS {
            if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
                return write!(f, "{}{unit}", bytes >> shift);
            }
        }
        write!(f, "{bytes}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_names() {
        let name = |b| alloc::format!("{}", SizeName(b));
        assert_eq!(name(SZ_4K), "4K");
        assert_eq!(name(SZ_2M), "2M");
        assert_eq!(name(SZ_1G), "1G");
        assert_eq!(name(3 * SZ_1G), "3G");
        assert_eq!(name(1 << 40), "1T");
        assert_eq!(name(SZ_2M + SZ_4K), "2052K");
        assert_eq!(name(100), "100");
        assert_eq!(name(0), "0");
    }
    use proptest::prelude::*;

    #[test]
    fn subtract_middle_gives_two_pieces() {
        let r = Region::new(0x1000, 0x5000);
        let [a, b] = r.subtract(&Region::new(0x2000, 0x3000));
        assert_eq!(a, Some(Region::new(0x1000, 0x2000)));
        assert_eq!(b, Some(Region::new(0x3000, 0x5000)));
    }

    #[test]
    fn subtract_cover_gives_nothing() {
        let r = Region::new(0x1000, 0x2000);
        assert_eq!(r.subtract(&Region::new(0, 0x10000)), [None, None]);
    }

    #[test]
    fn touching_regions_do_not_overlap_but_merge() {
        let a = Region::new(0, 0x1000);
        let b = Region::new(0x1000, 0x2000);
        assert!(!a.overlaps(&b));
        let mut v = alloc::vec![b, a];
        normalize(&mut v);
        assert_eq!(v, alloc::vec![Region::new(0, 0x2000)]);
    }

    #[test]
    fn alignment_helpers() {
        assert_eq!(align_up(0x1001, SZ_4K), Some(0x2000));
        assert_eq!(align_up(u64::MAX, SZ_4K), None);
        assert_eq!(align_down(0x1fff, SZ_4K), 0x1000);
        assert_eq!(
            Region::new(0x1001, 0x3fff).shrink_to(SZ_4K),
            Some(Region::new(0x2000, 0x3000))
        );
        assert_eq!(Region::new(0x1001, 0x1fff).shrink_to(SZ_4K), None);
        assert!(Region::new(SZ_2M, SZ_1G).is_aligned(SZ_2M));
    }

    fn region() -> impl Strategy<Value = Region> {
        (0u64..1 << 40, 0u64..1 << 32).prop_map(|(s, l)| Region::new(s, s + l))
    }

    proptest! {
        #[test]
        fn overlap_is_symmetric_and_matches_intersection(a in region(), b in region()) {
            prop_assert_eq!(a.overlaps(&b), b.overlaps(&a));
            prop_assert_eq!(a.overlaps(&b), a.intersect(&b).is_some());
        }

        #[test]
        fn subtract_keeps_exactly_the_bytes_outside(a in region(), b in region(), probe in 0u64..1 << 41) {
            let pieces = a.subtract(&b);
            let in_pieces = pieces.iter().flatten().any(|p| p.contains(probe));
            prop_assert_eq!(in_pieces, a.contains(probe) && !b.contains(probe));
            for p in pieces.iter().flatten() {
                prop_assert!(!p.overlaps(&b));
                prop_assert!(a.covers(p));
            }
        }

        #[test]
        fn subtract_all_is_disjoint_from_holes(
            from in proptest::collection::vec(region(), 0..8),
            holes in proptest::collection::vec(region(), 0..8),
            probe in 0u64..1 << 41,
        ) {
            let left = subtract_all(&from, &holes);
            prop_assert!(first_overlap(&left).is_none());
            let expect = from.iter().any(|r| r.contains(probe)) && !holes.iter().any(|h| h.contains(probe));
            prop_assert_eq!(left.iter().any(|r| r.contains(probe)), expect);
        }

        #[test]
        fn shrink_and_grow_are_aligned_and_nest(a in region(), shift in 12u32..31) {
            let align = 1u64 << shift;
            if let Some(s) = a.shrink_to(align) {
                prop_assert!(s.is_aligned(align));
                prop_assert!(a.covers(&s));
            }
            let g = a.grow_to(align).unwrap();
            prop_assert!(g.is_aligned(align));
            prop_assert!(g.covers(&a));
        }

        #[test]
        fn normalize_gives_sorted_disjoint_same_bytes(
            mut v in proptest::collection::vec(region(), 0..10),
            probe in 0u64..1 << 41,
        ) {
            let expect = v.iter().any(|r| r.contains(probe));
            normalize(&mut v);
            prop_assert!(v.windows(2).all(|w| w[0].end < w[1].start));
            prop_assert_eq!(v.iter().any(|r| r.contains(probe)), expect);
        }
    }
}
