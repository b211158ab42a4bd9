//! Addresses worth checking in a live map and what each must translate
//! to, taken from the mappings alone (never from the tables), so the
//! target can compare `AT` results and [`walk`](super::walk) against an
//! expectation neither of them produced.

extern crate alloc;

use alloc::vec::Vec;

use super::layout::delta;
use super::{BuiltMap, MemKind};

/// The expected result of translating a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    pub pa: u64,
    pub kind: MemKind,
}

/// One address to translate; `expect` is `None` for a hole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub va: u64,
    pub expect: Option<Expected>,
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny deterministic generator
/// so probe sets repeat from boot to boot without a `rand` dependency.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
    const MIX1: u64 = 0xbf58_476d_1ce4_e5b9;
    const MIX2: u64 = 0x94d0_49bb_1331_11eb;

    pub const fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(Self::GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(Self::MIX1);
        z = (z ^ (z >> 27)).wrapping_mul(Self::MIX2);
        z ^ (z >> 31)
    }

    /// A value in `[0, bound)` (`bound` > 0); the modulo bias is
    /// irrelevant for choosing probe addresses.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}

/// What `va` must translate to under `map`'s mappings.
pub fn expected(map: &BuiltMap, va: u64) -> Option<Expected> {
    let i = map.mappings.partition_point(|m| m.va + m.len <= va);
    let m = map.mappings.get(i).filter(|m| m.va <= va)?;
    Some(Expected {
        pa: va.wrapping_add(delta(m)),
        kind: m.kind,
    })
}

/// Each mapping's first and last byte and the bytes just outside it, the
/// table area's ends and the bytes just outside it, then `random`
/// pseudo-random addresses from `seed` (half inside mappings, half
/// anywhere in the VA range, 8-byte aligned). Sorted, without duplicates,
/// all below 2^va_bits.
pub fn probes(map: &BuiltMap, seed: u64, random: usize) -> Vec<Probe> {
    let va_limit = 1u64 << map.va_bits;
    let mut vas: Vec<u64> = Vec::with_capacity(4 * map.mappings.len() + 4 + random);
    for m in &map.mappings {
        let end = m.va + m.len;
        vas.extend([m.va.wrapping_sub(1), m.va, end - 1, end]);
    }
    let t = map.tables;
    vas.extend([t.start.wrapping_sub(1), t.start, t.end - 1, t.end]);
    let mut rng = SplitMix64::new(seed);
    const WORD: u64 = 8;
    for i in 0..random {
        let va = match map.mappings.len() {
            n if n > 0 && i.is_multiple_of(2) => {
                let m = &map.mappings[rng.below(n as u64) as usize];
                m.va + rng.below(m.len)
            }
            _ => rng.below(va_limit),
        };
        vas.push(va & !(WORD - 1));
    }
    vas.retain(|&va| va < va_limit);
    vas.sort_unstable();
    vas.dedup();
    vas.into_iter()
        .map(|va| Probe {
            va,
            expect: expected(map, va),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        // First outputs for seed 0 from the reference C implementation.
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(r.next_u64(), 0x06c4_5d18_8009_454f);
    }
}
