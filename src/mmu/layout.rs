//! Planning a map before any memory is touched: granule geometry, input
//! checks and rounding, T0SZ and start level, the choice of leaves, and
//! counting the tables that choice needs (twice, by two methods).
//!
//! Leaves are chosen greedily in VA order: at each address the largest
//! allowed leaf whose VA and PA are both aligned and that fits. That gives
//! the fewest leaves and, because a table is needed exactly where no
//! allowed block can cover its whole range, the fewest tables.

extern crate alloc;

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use super::{Granule, Machine, Mapping, MemKind, MmuError, Policy, Regime};
use crate::cpu::parange_bits;
use crate::region::{Region, align_down, align_up};

/// Widest VA without LPA2 (T0SZ = 16).
pub const MAX_VA_BITS: u32 = 48;
/// T0SZ limits without FEAT_TTST, valid for all three granules.
pub const MIN_T0SZ: u32 = 64 - MAX_VA_BITS;
pub const MAX_T0SZ: u32 = 39;
const MIN_VA_BITS: u32 = 64 - MAX_T0SZ;
/// Output addresses are used up to this many bits (no LPA/LPA2).
const MAX_PA_BITS: u32 = super::descriptor::OA_BITS;
/// log2 of a descriptor's size.
const DESCRIPTOR_SHIFT: u32 = 3;
/// The level of page descriptors.
pub(super) const LAST_LEVEL: u8 = 3;

/// Sizes that follow from the granule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Geometry {
    pub granule: Granule,
    /// log2 of the granule.
    pub page_shift: u32,
    /// VA bits resolved per level.
    pub stride: u32,
    /// The lowest level that may hold a block (no LPA/LPA2: level 1 for
    /// 4K, level 2 for 16K and 64K).
    pub first_leaf_level: u8,
}

impl Geometry {
    pub fn of(granule: Granule) -> Self {
        let page_shift = granule.bytes().trailing_zeros();
        Geometry {
            granule,
            page_shift,
            stride: page_shift - DESCRIPTOR_SHIFT,
            first_leaf_level: match granule {
                Granule::K4 => 1,
                Granule::K16 | Granule::K64 => 2,
            },
        }
    }

    /// log2 of the VA range one entry at `level` covers.
    pub fn entry_shift(self, level: u8) -> u32 {
        self.page_shift + u32::from(LAST_LEVEL - level) * self.stride
    }

    pub fn entry_size(self, level: u8) -> u64 {
        1 << self.entry_shift(level)
    }

    /// Bytes of one table (every table, the root included, takes a granule).
    pub fn table_bytes(self) -> u64 {
        self.granule.bytes()
    }

    pub fn is_leaf_level(self, level: u8) -> bool {
        (self.first_leaf_level..=LAST_LEVEL).contains(&level)
    }

    /// Entries in one contiguous-hint group at `level` (Arm ARM D8.6.1).
    pub fn contig_entries(self, level: u8) -> Option<u64> {
        match (self.granule, level) {
            (Granule::K4, 1..=3) => Some(16),
            (Granule::K16, 3) => Some(128),
            (Granule::K16, 2) => Some(32),
            (Granule::K64, 2..=3) => Some(32),
            _ => None,
        }
    }

    /// The initial lookup level for a `va_bits` VA (the Arm ARM's
    /// `AArch64.S1StartLevel`).
    pub fn start_level(self, va_bits: u32) -> u8 {
        let below_root = (va_bits - 1 - self.page_shift) / self.stride;
        LAST_LEVEL - below_root as u8
    }

    /// The level whose leaf is `size` bytes, if it may hold one.
    fn leaf_level_of(self, size: u64) -> Option<u8> {
        (self.first_leaf_level..=LAST_LEVEL).find(|&l| self.entry_size(l) == size)
    }
}

/// Leaf sizes the granule offers, largest first: 4K: 1 GiB, 2 MiB, 4 KiB;
/// 16K: 32 MiB, 16 KiB; 64K: 512 MiB, 64 KiB.
pub fn leaf_sizes(granule: Granule) -> impl Iterator<Item = u64> {
    let geom = Geometry::of(granule);
    (geom.first_leaf_level..=LAST_LEVEL).map(move |l| geom.entry_size(l))
}

/// How many tables `mappings` need under `policy` on `machine`, the root
/// included: the theoretical minimum for the layout (see [`Plan`]).
pub fn count_tables(
    mappings: &[Mapping],
    policy: &Policy,
    machine: &Machine,
) -> Result<usize, MmuError> {
    Ok(Plan::new(mappings, policy, machine)?.count_tables())
}

/// The same count by the independent method ([`Plan::min_tables`]).
pub fn min_tables(
    mappings: &[Mapping],
    policy: &Policy,
    machine: &Machine,
) -> Result<usize, MmuError> {
    Ok(Plan::new(mappings, policy, machine)?.min_tables())
}

/// `pa - va` of a mapping, modulo 2^64.
pub(super) fn delta(m: &Mapping) -> u64 {
    m.pa.wrapping_sub(m.va)
}

/// A checked, rounded, merged map ready to count, place and write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub granule: Granule,
    pub regime: Regime,
    pub contig: bool,
    /// Largest leaf in use, bytes.
    pub max_leaf: u64,
    pub va_bits: u32,
    pub t0sz: u32,
    pub start_level: u8,
    pub levels: u8,
    /// Output address bits in use: the machine's, at most 48.
    pub pa_bits: u32,
    /// TCR_ELx.IPS/PS encoding of `pa_bits`.
    pub ips: u8,
    /// What is mapped: sorted by VA, disjoint, granule-aligned, with
    /// touching mappings of the same kind and `pa - va` merged.
    pub mappings: Vec<Mapping>,
    pub(super) geom: Geometry,
    /// Level of the largest leaf allowed.
    pub(super) top_leaf_level: u8,
}

/// Consecutive leaves of one level from one mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Run {
    pub va: u64,
    pub pa: u64,
    pub level: u8,
    pub count: u64,
    pub kind: MemKind,
}

impl Run {
    pub fn virt_end(&self, geom: Geometry) -> u64 {
        self.va + self.count * geom.entry_size(self.level)
    }
}

impl Plan {
    /// Checks the policy against the machine and the mappings against
    /// each other, rounds identity mappings to the granule and picks T0SZ.
    pub fn new(mappings: &[Mapping], policy: &Policy, machine: &Machine) -> Result<Plan, MmuError> {
        let granule = policy.granule;
        if !machine.granules[granule as usize] {
            return Err(MmuError::GranuleUnsupported {
                granule,
                supported: machine.granules,
            });
        }
        let geom = Geometry::of(granule);
        let top_leaf_level = match policy.max_leaf {
            None => geom.first_leaf_level,
            Some(size) => geom.leaf_level_of(size).ok_or(MmuError::BadMaxLeaf {
                granule,
                max_leaf: size,
            })?,
        };
        if parange_bits_encoding(machine.pa_bits).is_none() {
            return Err(MmuError::BadPaBits {
                pa_bits: machine.pa_bits,
            });
        }
        let pa_bits = machine.pa_bits.min(MAX_PA_BITS);
        let ips = parange_bits_encoding(pa_bits).ok_or(MmuError::BadPaBits { pa_bits })?;

        let mappings = normalize(mappings, granule)?;
        if let Some(m) = mappings.iter().find(|m| (m.pa + m.len - 1) >> pa_bits != 0) {
            return Err(MmuError::PaTooLarge {
                pa: m.pa + m.len - 1,
                pa_bits,
            });
        }
        let top_va = mappings.last().map_or(0, |m| m.va + m.len - 1);
        let needed = u64::BITS - top_va.leading_zeros();
        if needed > MAX_VA_BITS {
            return Err(MmuError::VaTooLarge { va: top_va });
        }
        let va_bits = needed.max(MIN_VA_BITS);
        let start_level = geom.start_level(va_bits);
        Ok(Plan {
            granule,
            regime: machine.regime,
            contig: policy.contig,
            max_leaf: geom.entry_size(top_leaf_level),
            va_bits,
            t0sz: 64 - va_bits,
            start_level,
            levels: LAST_LEVEL + 1 - start_level,
            pa_bits,
            ips,
            mappings,
            geom,
            top_leaf_level,
        })
    }

    /// The leaves, as runs in VA order.
    pub(super) fn runs(&self) -> Runs<'_> {
        Runs {
            plan: self,
            index: 0,
            pos: self.mappings.first().map_or(0, |m| m.va),
        }
    }

    /// Whether the leaf at `va` in `run` gets the contiguous hint: its
    /// whole aligned group lies in the run (same mapping, same level, so
    /// same attributes) and PA is aligned like VA.
    pub(super) fn contiguous(&self, run: &Run, va: u64) -> bool {
        match self.contig_group(run) {
            Some(group) => {
                let start = align_down(va, group);
                start >= run.va && start + group <= run.virt_end(self.geom)
            }
            None => false,
        }
    }

    /// Bytes of a contiguous group for leaves of `run`, if they may use one.
    fn contig_group(&self, run: &Run) -> Option<u64> {
        let entries = self
            .geom
            .contig_entries(run.level)
            .filter(|_| self.contig)?;
        let group = entries * self.geom.entry_size(run.level);
        run.pa
            .wrapping_sub(run.va)
            .is_multiple_of(group)
            .then_some(group)
    }

    /// Tables the leaves need, counted from the leaf runs: one per distinct
    /// `(level, VA range)` holding at least one entry, the root included.
    pub fn count_tables(&self) -> usize {
        let mut last_key: [Option<u64>; 4] = [None; 4];
        let mut tables = 1u64;
        for run in self.runs() {
            let end = run.virt_end(self.geom);
            for level in self.start_level + 1..=run.level {
                let shift = self.geom.entry_shift(level - 1);
                let (first, last) = (run.va >> shift, (end - 1) >> shift);
                tables += last - first + 1;
                if last_key[level as usize] == Some(first) {
                    tables -= 1;
                }
                last_key[level as usize] = Some(last);
            }
        }
        tables as usize
    }

    /// The same count by a second, independent method, from the mappings
    /// alone: a level-L table is needed for each parent-entry range that
    /// holds mapped bytes but cannot be one block (level not allowed, range
    /// not wholly inside one mapping, or PA misaligned). Host tests assert
    /// it equals [`Plan::count_tables`].
    pub fn min_tables(&self) -> usize {
        let mut tables = 1u64;
        let mut partial: BTreeSet<(u8, u64)> = BTreeSet::new();
        for level in self.start_level + 1..=LAST_LEVEL {
            let parent = level - 1;
            let size = self.geom.entry_size(parent);
            let shift = self.geom.entry_shift(parent);
            let block_ok = parent >= self.top_leaf_level && self.geom.is_leaf_level(parent);
            for m in &self.mappings {
                let end = m.va + m.len;
                // Ranges wholly inside this mapping belong to it alone.
                let inside_first = m.va.div_ceil(size);
                let inside_end = end / size;
                if inside_end > inside_first && !(block_ok && delta(m).is_multiple_of(size)) {
                    tables += inside_end - inside_first;
                }
                // Ranges it only partly covers may be shared with a neighbour.
                for key in [m.va >> shift, (end - 1) >> shift] {
                    if !(key >= inside_first && key < inside_end) {
                        partial.insert((level, key));
                    }
                }
            }
        }
        (tables + partial.len() as u64) as usize
    }

    /// Leaves per size (largest first, every size the policy allows) and
    /// how many contiguous groups they form.
    pub fn leaf_counts(&self) -> Vec<super::LeafCount> {
        let mut counts: Vec<super::LeafCount> = (self.top_leaf_level..=LAST_LEVEL)
            .map(|l| super::LeafCount {
                size: self.geom.entry_size(l),
                leaves: 0,
                contig_groups: 0,
            })
            .collect();
        for run in self.runs() {
            let c = &mut counts[usize::from(run.level - self.top_leaf_level)];
            c.leaves += run.count;
            if let Some(group) = self.contig_group(&run) {
                let first = align_up(run.va, group).unwrap_or(u64::MAX);
                let last = align_down(run.virt_end(self.geom), group);
                c.contig_groups += last.saturating_sub(first) / group;
            }
        }
        counts
    }
}

/// Iterator over a plan's leaf runs.
pub(super) struct Runs<'a> {
    plan: &'a Plan,
    index: usize,
    pos: u64,
}

impl Iterator for Runs<'_> {
    type Item = Run;

    fn next(&mut self) -> Option<Run> {
        let plan = self.plan;
        let geom = plan.geom;
        let m = *plan.mappings.get(self.index)?;
        let end = m.va + m.len;
        let d = delta(&m);
        let va = self.pos;
        let fits = |l: u8| {
            let size = geom.entry_size(l);
            va.is_multiple_of(size) && d.is_multiple_of(size) && end - va >= size
        };
        // No leaf above the root: a map that fits one root table cannot
        // use a block as large as the root's whole range.
        let top = plan.top_leaf_level.max(plan.start_level);
        // The granule always fits: mappings are granule-aligned.
        let level = (top..=LAST_LEVEL).find(|&l| fits(l)).unwrap_or(LAST_LEVEL);
        let size = geom.entry_size(level);
        let mut limit = va + (end - va) / size * size;
        if level > top {
            // The run stops where the next larger leaf could start.
            let bigger = geom.entry_size(level - 1);
            if d.is_multiple_of(bigger) {
                limit = limit.min(align_down(va, bigger) + bigger);
            }
        }
        let run = Run {
            va,
            pa: va.wrapping_add(d),
            level,
            count: (limit - va) / size,
            kind: m.kind,
        };
        self.pos = limit;
        if limit == end {
            self.index += 1;
            if let Some(next) = plan.mappings.get(self.index) {
                self.pos = next.va;
            }
        }
        Some(run)
    }
}

/// The TCR IPS/PS encoding of a PARange size.
fn parange_bits_encoding(pa_bits: u32) -> Option<u8> {
    (0u8..8).find(|&enc| parange_bits(u64::from(enc)) == Some(pa_bits))
}

/// Rounds identity mappings (RAM inward, devices outward), checks the
/// others are aligned, sorts by VA, merges agreeing overlaps and touching
/// neighbours, and rejects disagreeing overlaps.
fn normalize(input: &[Mapping], granule: Granule) -> Result<Vec<Mapping>, MmuError> {
    let align = granule.bytes();
    // (rounded, as given) pairs; the given one is for error messages.
    let mut spans: Vec<(Mapping, Mapping)> = Vec::with_capacity(input.len());
    for m in input.iter().filter(|m| m.len != 0) {
        let overflow = MmuError::Overflow { mapping: *m };
        let virt = m.virt().ok_or(overflow)?;
        m.pa.checked_add(m.len).ok_or(overflow)?;
        let rounded: Region = if m.va == m.pa {
            match m.kind {
                MemKind::Normal => match virt.shrink_to(align) {
                    Some(r) => r,
                    None => continue,
                },
                MemKind::Device => virt.grow_to(align).ok_or(overflow)?,
            }
        } else if virt.is_aligned(align) && m.pa.is_multiple_of(align) {
            virt
        } else {
            return Err(MmuError::Misaligned {
                mapping: *m,
                granule,
            });
        };
        let pa = rounded.start.wrapping_add(delta(m));
        spans.push((
            Mapping {
                va: rounded.start,
                pa,
                len: rounded.len(),
                kind: m.kind,
            },
            *m,
        ));
    }
    spans.sort_unstable_by_key(|(r, _)| r.va);

    let mut out: Vec<Mapping> = Vec::with_capacity(spans.len());
    // The given mapping that reaches furthest into `out.last()`.
    let mut last_given: Option<Mapping> = None;
    for (r, given) in spans {
        if let (Some(last), Some(prev)) = (out.last_mut(), last_given) {
            let last_end = last.va + last.len;
            let agrees = last.kind == r.kind && delta(last) == delta(&r);
            if r.va <= last_end && agrees {
                let end = last_end.max(r.va + r.len);
                last.len = end - last.va;
                if r.va + r.len >= last_end {
                    last_given = Some(given);
                }
                continue;
            }
            if r.va < last_end {
                return Err(MmuError::Overlap {
                    first: prev,
                    second: given,
                });
            }
        }
        out.push(r);
        last_given = Some(given);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::{SZ_1G, SZ_2M, SZ_4K};
    use alloc::vec;

    const ALL: [bool; 3] = [true; 3];

    fn machine() -> Machine {
        Machine {
            pa_bits: 48,
            granules: ALL,
            regime: Regime::El1,
        }
    }

    fn policy(granule: Granule, max_leaf: Option<u64>) -> Policy {
        Policy {
            granule,
            max_leaf,
            contig: false,
        }
    }

    fn ram(start: u64, len: u64) -> Mapping {
        Mapping {
            va: start,
            pa: start,
            len,
            kind: MemKind::Normal,
        }
    }

    #[test]
    fn start_levels_follow_the_arm_arm() {
        let g4 = Geometry::of(Granule::K4);
        let g16 = Geometry::of(Granule::K16);
        let g64 = Geometry::of(Granule::K64);
        assert_eq!(
            [25, 30, 31, 39, 40, 48].map(|b| g4.start_level(b)),
            [2, 2, 1, 1, 0, 0]
        );
        assert_eq!(
            [25, 26, 36, 37, 47, 48].map(|b| g16.start_level(b)),
            [3, 2, 2, 1, 1, 0]
        );
        assert_eq!(
            [25, 29, 30, 42, 43, 48].map(|b| g64.start_level(b)),
            [3, 3, 2, 2, 1, 1]
        );
    }

    #[test]
    fn leaf_and_contig_sizes() {
        assert_eq!(
            leaf_sizes(Granule::K4).collect::<Vec<_>>(),
            vec![SZ_1G, SZ_2M, SZ_4K]
        );
        assert_eq!(
            leaf_sizes(Granule::K16).collect::<Vec<_>>(),
            vec![32 << 20, 16 << 10]
        );
        assert_eq!(
            leaf_sizes(Granule::K64).collect::<Vec<_>>(),
            vec![512 << 20, 64 << 10]
        );
        let g16 = Geometry::of(Granule::K16);
        assert_eq!(
            (g16.contig_entries(2), g16.contig_entries(3)),
            (Some(32), Some(128))
        );
    }

    #[test]
    fn small_map_gets_the_largest_t0sz() {
        let plan = Plan::new(&[ram(0, SZ_2M)], &policy(Granule::K4, None), &machine()).unwrap();
        assert_eq!(
            (plan.va_bits, plan.t0sz, plan.start_level, plan.levels),
            (25, MAX_T0SZ, 2, 2)
        );
        let empty = Plan::new(&[], &policy(Granule::K4, None), &machine()).unwrap();
        assert_eq!(
            (empty.t0sz, empty.count_tables(), empty.min_tables()),
            (MAX_T0SZ, 1, 1)
        );
    }

    #[test]
    fn ips_follows_pa_bits_capped_at_48() {
        for (bits, ips, used) in [
            (32, 0, 32),
            (40, 2, 40),
            (44, 4, 44),
            (48, 5, 48),
            (52, 5, 48),
        ] {
            let m = Machine {
                pa_bits: bits,
                ..machine()
            };
            let plan = Plan::new(&[], &policy(Granule::K4, None), &m).unwrap();
            assert_eq!((plan.ips, plan.pa_bits), (ips, used));
        }
        let bad = Machine {
            pa_bits: 39,
            ..machine()
        };
        assert_eq!(
            Plan::new(&[], &policy(Granule::K4, None), &bad),
            Err(MmuError::BadPaBits { pa_bits: 39 })
        );
    }

    #[test]
    fn greedy_runs_ramp_up_and_down() {
        // 4 KiB below a 2 MiB boundary, two 2 MiB blocks, 8 KiB after.
        let start = SZ_1G - SZ_4K;
        let m = ram(start, SZ_4K + 2 * SZ_2M + 2 * SZ_4K);
        let plan = Plan::new(&[m], &policy(Granule::K4, None), &machine()).unwrap();
        let runs: Vec<(u64, u8, u64)> = plan.runs().map(|r| (r.va, r.level, r.count)).collect();
        assert_eq!(
            runs,
            vec![(start, 3, 1), (SZ_1G, 2, 2), (SZ_1G + 2 * SZ_2M, 3, 2)]
        );
    }

    #[test]
    fn identity_rounding_and_merging() {
        let maps = [
            ram(0x4000_0100, 0x3000), // -> [0x4000_1000, 0x4000_3000)
            Mapping {
                va: 0x900_0010,
                pa: 0x900_0010,
                len: 8,
                kind: MemKind::Device,
            }, // -> one page
            Mapping {
                va: 0x900_0800,
                pa: 0x900_0800,
                len: 8,
                kind: MemKind::Device,
            }, // same page: merged
            ram(0x4000_3000, 0x1000), // touches: merged
            ram(0x5000_0001, 0x10),   // less than a page: dropped
        ];
        let plan = Plan::new(&maps, &policy(Granule::K4, None), &machine()).unwrap();
        let got: Vec<(u64, u64, MemKind)> = plan
            .mappings
            .iter()
            .map(|m| (m.va, m.len, m.kind))
            .collect();
        assert_eq!(
            got,
            vec![
                (0x900_0000, 0x1000, MemKind::Device),
                (0x4000_1000, 0x3000, MemKind::Normal)
            ]
        );
    }

    #[test]
    fn disagreeing_overlap_is_an_error() {
        let a = ram(0x4000_0000, 0x10_0000);
        let b = Mapping {
            va: 0x4008_0000,
            pa: 0x8000_0000,
            len: 0x1000,
            kind: MemKind::Normal,
        };
        let err = Plan::new(&[a, b], &policy(Granule::K4, None), &machine()).unwrap_err();
        assert_eq!(
            err,
            MmuError::Overlap {
                first: a,
                second: b
            }
        );
        let dev = Mapping {
            va: 0x4000_0000,
            pa: 0x4000_0000,
            len: 8,
            kind: MemKind::Device,
        };
        assert!(matches!(
            Plan::new(&[a, dev], &policy(Granule::K4, None), &machine()),
            Err(MmuError::Overlap { .. })
        ));
    }

    #[test]
    fn non_identity_must_be_aligned() {
        let m = Mapping {
            va: 0x80_0000_0000,
            pa: 0x4000_1000,
            len: 0x1000,
            kind: MemKind::Normal,
        };
        assert!(Plan::new(&[m], &policy(Granule::K4, None), &machine()).is_ok());
        let err = Plan::new(&[m], &policy(Granule::K64, None), &machine()).unwrap_err();
        assert_eq!(
            err,
            MmuError::Misaligned {
                mapping: m,
                granule: Granule::K64
            }
        );
        assert!(err.to_string().contains("64k"));
    }

    #[test]
    fn limits_are_errors_with_the_value_named() {
        let only_4k_64k = Machine {
            granules: [true, false, true],
            ..machine()
        };
        let err = Plan::new(&[], &policy(Granule::K16, None), &only_4k_64k).unwrap_err();
        assert_eq!(
            err.to_string(),
            "granule 16k is not supported by this CPU (supported: 4k 64k)"
        );
        let err = Plan::new(&[], &policy(Granule::K16, Some(SZ_2M)), &machine()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "max leaf 0x200000 is not a leaf size of the 16k granule (allowed: 0x2000000 0x4000)"
        );
        let high = ram(1 << 44, SZ_2M);
        let m44 = Machine {
            pa_bits: 44,
            ..machine()
        };
        let err = Plan::new(&[high], &policy(Granule::K4, None), &m44).unwrap_err();
        assert_eq!(
            err,
            MmuError::PaTooLarge {
                pa: (1 << 44) + SZ_2M - 1,
                pa_bits: 44
            }
        );
        let far = Mapping {
            va: 1 << 48,
            pa: 0,
            len: SZ_4K,
            kind: MemKind::Normal,
        };
        assert_eq!(
            Plan::new(&[far], &policy(Granule::K4, None), &machine()),
            Err(MmuError::VaTooLarge {
                va: (1 << 48) + SZ_4K - 1
            })
        );
        let wrap = ram(u64::MAX - 10, 100);
        assert!(matches!(
            Plan::new(&[wrap], &policy(Granule::K4, None), &machine()),
            Err(MmuError::Overflow { .. })
        ));
    }

    #[test]
    fn table_counts_for_large_ram() {
        // 1 TiB needs a 40-bit VA: a level-0 root with two entries, each
        // pointing at a level-1 table of 512 x 1 GiB blocks.
        let tib = ram(0, 1 << 40);
        let plan = Plan::new(&[tib], &policy(Granule::K4, None), &machine()).unwrap();
        assert_eq!(
            (plan.start_level, plan.count_tables(), plan.min_tables()),
            (0, 3, 3)
        );
        // 512 GiB fits a level-1 root alone.
        let half = Plan::new(&[ram(0, 1 << 39)], &policy(Granule::K4, None), &machine()).unwrap();
        assert_eq!((half.start_level, half.count_tables()), (1, 1));
        // 2 MiB blocks: root + 2 level-1 + 1024 level-2 tables.
        let plan = Plan::new(&[tib], &policy(Granule::K4, Some(SZ_2M)), &machine()).unwrap();
        assert_eq!((plan.count_tables(), plan.min_tables()), (1027, 1027));
        // 16K: level-1 root (64 GiB entries) and 16 level-2 tables of 32 MiB blocks.
        let plan = Plan::new(&[tib], &policy(Granule::K16, None), &machine()).unwrap();
        assert_eq!(
            (plan.start_level, plan.count_tables(), plan.min_tables()),
            (1, 17, 17)
        );
        // 64K: a level-2 root of 2048 x 512 MiB blocks, nothing else.
        let plan = Plan::new(&[tib], &policy(Granule::K64, None), &machine()).unwrap();
        assert_eq!(
            (plan.start_level, plan.count_tables(), plan.min_tables()),
            (2, 1, 1)
        );
    }
}
