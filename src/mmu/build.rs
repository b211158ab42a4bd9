//! Placing the table area and writing the tables: count first, carve one
//! contiguous granule-aligned area top-down out of free RAM, zero it, then
//! write every table through [`PhysMem`]. Nothing outside that area is
//! written.

extern crate alloc;

use alloc::vec::Vec;

use super::descriptor;
use super::layout::{LAST_LEVEL, Plan};
use super::{Granule, Machine, Mapping, MmuError, Policy, Regime};
use crate::physmem::PhysMem;
use crate::region::{Region, align_down, align_up, subtract_all};

/// Leaves of one size in a built map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeafCount {
    /// Bytes one leaf maps.
    pub size: u64,
    pub leaves: u64,
    /// Groups of leaves carrying the contiguous hint together.
    pub contig_groups: u64,
}

/// A written map: what the arch code needs to program TCR/TTBR0, and what
/// the report and the checks need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltMap {
    /// Physical address of the root table: the first table of the area.
    pub root: u64,
    pub granule: Granule,
    pub regime: Regime,
    pub t0sz: u32,
    pub va_bits: u32,
    pub start_level: u8,
    pub levels: u8,
    /// Output address bits the tables use (at most 48).
    pub pa_bits: u32,
    /// TCR_ELx.IPS/PS encoding of `pa_bits`.
    pub ips: u8,
    /// Largest leaf allowed, bytes.
    pub max_leaf: u64,
    pub contig: bool,
    /// The table area; every table is one granule inside it.
    pub tables: Region,
    pub table_count: usize,
    /// Bytes of tables written (`tables.len()`).
    pub table_bytes: u64,
    /// The table bytes the layout needs, by the independent count
    /// ([`Plan::min_tables`]); equal to `table_bytes` unless there is a bug.
    pub min_table_bytes: u64,
    pub leaf_counts: Vec<LeafCount>,
    /// What is mapped, after rounding and merging (sorted by VA).
    pub mappings: Vec<Mapping>,
}

/// Plans, places and writes a map in one call; see [`Plan::build`].
pub fn build<M: PhysMem>(
    mem: &mut M,
    mappings: &[Mapping],
    policy: &Policy,
    machine: &Machine,
    free: &[Region],
    forbidden: &[Region],
) -> Result<BuiltMap, MmuError> {
    Plan::new(mappings, policy, machine)?.build(mem, free, forbidden)
}

/// The highest `align`-aligned range of `bytes` inside `free` that misses
/// every `forbidden` range: tables go as far from low memory (where
/// payloads and firmware tend to live) as possible.
pub fn place_tables(
    bytes: u64,
    align: u64,
    free: &[Region],
    forbidden: &[Region],
) -> Result<Region, MmuError> {
    let mut best: Option<u64> = None;
    let mut largest = 0;
    for r in subtract_all(free, forbidden) {
        let (Some(start), end) = (align_up(r.start, align), align_down(r.end, align)) else {
            continue;
        };
        if end <= start {
            continue;
        }
        largest = largest.max(end - start);
        // The start is aligned too (bytes need not be a multiple of align).
        if end - start >= bytes && align_down(end - bytes, align) >= start {
            best = best.max(Some(align_down(end - bytes, align)));
        }
    }
    best.map(|start| Region::new(start, start + bytes))
        .ok_or(MmuError::NoRoomForTables {
            needed: bytes,
            largest,
        })
}

impl Plan {
    /// Places the tables top-down in `free` minus `forbidden` (and below
    /// the output address limit), zeroes the area and writes the tables,
    /// root first.
    pub fn build<M: PhysMem>(
        &self,
        mem: &mut M,
        free: &[Region],
        forbidden: &[Region],
    ) -> Result<BuiltMap, MmuError> {
        let count = self.count_tables();
        let table_bytes = self.geom.table_bytes();
        let bytes = count as u64 * table_bytes;
        let unreachable = Region::new(1 << self.pa_bits, u64::MAX);
        let mut avoid: Vec<Region> = forbidden.to_vec();
        avoid.push(unreachable);
        let tables = place_tables(bytes, table_bytes, free, &avoid)?;
        mem.claim_fresh(tables.start, bytes);
        mem.fill(tables.start, bytes, 0);
        let used = self.write_tables(mem, tables.start, count)?;
        debug_assert_eq!(used, count, "tables written differ from tables counted");
        Ok(BuiltMap {
            root: tables.start,
            granule: self.granule,
            regime: self.regime,
            t0sz: self.t0sz,
            va_bits: self.va_bits,
            start_level: self.start_level,
            levels: self.levels,
            pa_bits: self.pa_bits,
            ips: self.ips,
            max_leaf: self.max_leaf,
            contig: self.contig,
            tables,
            table_count: count,
            table_bytes: bytes,
            min_table_bytes: self.min_tables() as u64 * table_bytes,
            leaf_counts: self.leaf_counts(),
            mappings: self.mappings.clone(),
        })
    }

    /// Writes the tables into the zeroed area at `base` holding `count`
    /// tables; returns how many it used. Tables are handed out in the
    /// order the VA walk first needs them, so each level's current table
    /// is the only one that can still gain entries.
    fn write_tables<M: PhysMem>(
        &self,
        mem: &mut M,
        base: u64,
        count: usize,
    ) -> Result<usize, MmuError> {
        let geom = self.geom;
        let index_mask = (1u64 << geom.stride) - 1;
        let slot = |table: u64, level: u8, va: u64| {
            table + ((va >> geom.entry_shift(level)) & index_mask) * 8
        };
        // Per level: (key, phys) of the table being filled. Keys are
        // `va >> entry_shift(level - 1)` < 2^48, so `NONE` never matches.
        const NONE: u64 = u64::MAX;
        let mut current = [(NONE, 0u64); 4];
        current[usize::from(self.start_level)] = (0, base);
        let mut used = 1;
        for run in self.runs() {
            let size = geom.entry_size(run.level);
            let end = run.virt_end(geom);
            let mut va = run.va;
            while va < end {
                for level in self.start_level + 1..=run.level {
                    let key = va >> geom.entry_shift(level - 1);
                    if current[usize::from(level)].0 == key {
                        continue;
                    }
                    if used == count {
                        return Err(MmuError::TableOverrun { counted: count });
                    }
                    let table = base + used as u64 * geom.table_bytes();
                    used += 1;
                    let parent = current[usize::from(level - 1)].1;
                    mem.write_u64(slot(parent, level - 1, va), descriptor::table(table));
                    current[usize::from(level)] = (key, table);
                }
                let table = current[usize::from(run.level)].1;
                let table_end = if run.level == self.start_level {
                    end
                } else {
                    let span = geom.entry_size(run.level - 1);
                    end.min(align_down(va, span) + span)
                };
                while va < table_end {
                    let pa = va.wrapping_add(run.pa.wrapping_sub(run.va));
                    let contiguous = self.contiguous(&run, va);
                    let leaf = descriptor::leaf(
                        run.level == LAST_LEVEL,
                        pa,
                        run.kind,
                        self.regime,
                        contiguous,
                    );
                    mem.write_u64(slot(table, run.level, va), leaf);
                    va += size;
                }
            }
        }
        Ok(used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::SZ_4K;

    #[test]
    fn placement_is_top_down_and_avoids_forbidden() {
        let free = [
            Region::new(0x4000_0000, 0x8000_0000),
            Region::new(0x1_0000_0000, 0x1_0010_0000),
        ];
        let got = place_tables(0x3000, SZ_4K, &free, &[]).unwrap();
        assert_eq!(got, Region::new(0x1_000f_d000, 0x1_0010_0000));
        let forbid = [Region::new(0x1_000f_e800, 0x1_0010_0000)];
        assert_eq!(
            place_tables(0x3000, SZ_4K, &free, &forbid).unwrap(),
            Region::new(0x1_000f_b000, 0x1_000f_e000)
        );
        let whole_top = [Region::new(0x1_0000_0000, 0x1_0010_0000)];
        assert_eq!(
            place_tables(0x3000, SZ_4K, &free, &whole_top).unwrap().end,
            0x8000_0000
        );
    }

    #[test]
    fn no_room_names_the_bytes_needed() {
        let free = [Region::new(0x1000, 0x3800)];
        let err = place_tables(0x4000, SZ_4K, &free, &[]).unwrap_err();
        assert_eq!(
            err,
            MmuError::NoRoomForTables {
                needed: 0x4000,
                largest: 0x2000
            }
        );
        assert!(err.to_string().contains("0x4000 bytes"));
    }

    #[test]
    fn tables_stay_below_the_output_address_limit() {
        use crate::mmu::{MemKind, Regime};
        use crate::physmem::sim::SparseMem;
        let machine = Machine {
            pa_bits: 32,
            granules: [true; 3],
            regime: Regime::El1,
        };
        let policy = Policy {
            granule: Granule::K4,
            max_leaf: None,
            contig: false,
        };
        let ram = [Region::new(0x8000_0000, 0x1_8000_0000)];
        let low = Mapping {
            va: 0x8000_0000,
            pa: 0x8000_0000,
            len: 0x1000,
            kind: MemKind::Normal,
        };
        let map = build(&mut SparseMem::new(), &[low], &policy, &machine, &ram, &[]).unwrap();
        assert_eq!(map.tables.end, 1 << 32);
        assert_eq!(map.table_count, 3);
    }
}

#[cfg(test)]
mod place_tests {
    use super::*;

    #[test]
    fn placement_is_top_down_and_start_aligned() {
        let free = [Region::new(0x4000_0000, 0x8000_0000)];
        let r = place_tables(0x10_1000, 0x20_0000, &free, &[]).unwrap();
        assert_eq!(r, Region::new(0x7fe0_0000, 0x7ff0_1000));
        let hole = [Region::new(0x7f00_0000, 0x8000_0000)];
        let r = place_tables(0x3000, 0x1000, &free, &hole).unwrap();
        assert_eq!(r, Region::new(0x7eff_d000, 0x7f00_0000));
        assert!(place_tables(0x4000_0001, 0x1000, &free, &[]).is_err());
    }
}
