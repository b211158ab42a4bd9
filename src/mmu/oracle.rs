//! The page-table oracle: what a built map must translate, made by the
//! caller from the raw inputs (not from the builder's plan), and the
//! lookup every judge of a map uses (the host tests in `mmu::tests`, the
//! `pagetable` fuzz target). Built for tests and, with the `sim` feature,
//! for host tools.

extern crate alloc;

use alloc::vec::Vec;

use super::{Expected, Mapping, MemKind};
use crate::region::Region;

/// One stretch of VA that must translate: `pa = va + offset` (wrapping),
/// with memory of `kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stretch {
    pub va: Region,
    pub offset: u64,
    pub kind: MemKind,
}

impl Stretch {
    pub fn new(va: Region, pa: u64, kind: MemKind) -> Self {
        Stretch {
            va,
            offset: pa.wrapping_sub(va.start),
            kind,
        }
    }
}

/// Every stretch that must translate, sorted by start. Stretches may
/// overlap only where they agree (a builder must refuse disagreeing
/// mappings), which [`Oracle::lookup`] checks.
#[derive(Clone, Debug, Default)]
pub struct Oracle {
    stretches: Vec<Stretch>,
}

impl Oracle {
    pub fn new(mut stretches: Vec<Stretch>) -> Self {
        stretches.retain(|s| !s.va.is_empty());
        stretches.sort_unstable_by_key(|s| s.va.start);
        Oracle { stretches }
    }

    /// From mappings, each rounded as the API documents ([`rounded`]).
    pub fn from_mappings(mappings: &[Mapping], granule_bytes: u64) -> Self {
        Self::new(
            mappings
                .iter()
                .filter(|m| m.len != 0)
                .filter_map(|m| {
                    let va = rounded(m, granule_bytes)?;
                    Some(Stretch {
                        va,
                        offset: m.pa.wrapping_sub(m.va),
                        kind: m.kind,
                    })
                })
                .collect(),
        )
    }

    pub fn stretches(&self) -> &[Stretch] {
        &self.stretches
    }

    /// The first stretch holding `va`.
    pub fn stretch_at(&self, va: u64) -> Option<&Stretch> {
        self.stretches.iter().find(|s| s.va.contains(va))
    }

    /// What `va` must translate to (`None`: a hole). Panics if two
    /// stretches holding it disagree: the builder accepted an overlap it
    /// must have refused.
    pub fn lookup(&self, va: u64) -> Option<Expected> {
        let mut hits = self.stretches.iter().filter(|s| s.va.contains(va));
        let first = hits.next()?;
        for s in hits {
            assert_eq!(
                (first.offset, first.kind),
                (s.offset, s.kind),
                "accepted a disagreeing overlap at {va:#x}"
            );
        }
        Some(Expected {
            pa: va.wrapping_add(first.offset),
            kind: first.kind,
        })
    }

    /// Bytes of VA that must translate (overlaps counted once).
    pub fn bytes(&self) -> u64 {
        let mut union: Vec<Region> = self.stretches.iter().map(|s| s.va).collect();
        crate::region::normalize(&mut union);
        union.iter().map(|r| r.len()).sum()
    }
}

/// A mapping's VA range as the API documents the rounding: an identity
/// Normal mapping shrinks to the granule, an identity Device mapping
/// grows to it, any other mapping is taken as given.
pub fn rounded(m: &Mapping, granule_bytes: u64) -> Option<Region> {
    let r = m.virt()?;
    if m.va != m.pa {
        return Some(r);
    }
    match m.kind {
        MemKind::Normal => r.shrink_to(granule_bytes),
        MemKind::Device => r.grow_to(granule_bytes),
    }
}
