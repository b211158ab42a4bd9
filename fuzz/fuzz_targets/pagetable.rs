//! Arbitrary RAM/device layouts, scattered-page maps, policies (granule,
//! max leaf, contiguous hint), machines (PA bits, supported granules,
//! regime), free RAM and forbidden ranges through `mmu::build` into a
//! sparse memory. Never a panic; and for every built map:
//! - the table count is the minimum (`table_bytes == min_table_bytes`,
//!   equal to `count_tables`), the area is granule-aligned, inside free RAM,
//!   off every forbidden range and below 2^pa_bits, and nothing outside it
//!   was written;
//! - `mmu::probes` expectations agree with an oracle built from the raw
//!   inputs, and `mmu::walk` gives exactly the oracle's answer (identity
//!   for identity maps, the page for scattered pages, a fault for holes)
//!   at every probe and every oracle edge;
//! - the leaves (`for_each_leaf`) are aligned, at most `max_leaf`, inside
//!   the oracle with the right target and kind, cover exactly its bytes,
//!   and match `leaf_counts`.
//!
//! `NoRoomForTables` must mean no aligned free range was big enough.
//! Layouts whose tables exceed `MAX_TABLE_BYTES` or leaves exceed
//! `MAX_LEAVES` are only planned, not built.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mmu_reloc::mmu::oracle::Oracle;
use mmu_reloc::mmu::{
    self, Expected, Granule, Machine, Mapping, MemKind, MmuError, Plan, Policy, Regime,
    for_each_leaf, leaf_sizes, probes, walk, walk_detailed,
};
use mmu_reloc::region::{Region, normalize, subtract_all};
use mmu_reloc_fuzz::HashMem;

const MAX_TABLE_BYTES: u64 = 1 << 20;
const MAX_LEAVES: u64 = 1 << 14;
const PARANGE: [u32; 8] = [32, 36, 40, 42, 44, 48, 52, 56];
const SHIFTS: [u32; 8] = [0, 12, 14, 16, 21, 25, 29, 30];
const SZ_512G: u64 = 1 << 39;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum ARegion {
    /// `base << shift`, `len << len_shift`: block-aligned layouts.
    Scaled {
        base: u32,
        shift: u8,
        len: u16,
        len_shift: u8,
    },
    Raw {
        start: u64,
        len: u64,
    },
}

impl ARegion {
    fn region(self) -> Region {
        match self {
            ARegion::Scaled {
                base,
                shift,
                len,
                len_shift,
            } => {
                let start = u64::from(base) << SHIFTS[usize::from(shift % 8)];
                let len = u64::from(len) << SHIFTS[usize::from(len_shift % 8)];
                Region::new(start, start.saturating_add(len))
            }
            ARegion::Raw { start, len } => Region::new(start, start.saturating_add(len)),
        }
    }
}

/// A non-identity mapping (or identity, when `va == pa` by chance).
#[derive(Arbitrary, Debug, Clone, Copy)]
struct Extra {
    va: u32,
    va_shift: u8,
    pa: u32,
    pa_shift: u8,
    /// In granules, or raw bytes when `raw_len`.
    len: u16,
    raw_len: bool,
    device: bool,
}

#[derive(Arbitrary, Debug)]
struct Input {
    granule: u8,
    /// 0: None; 1..=3: that leaf size (if the granule has it); else `leaf_raw`.
    max_leaf: u8,
    leaf_raw: u64,
    contig: bool,
    el2: bool,
    pa_bits: u8,
    pa_raw: u32,
    /// Granules the CPU lacks; the chosen one stays unless bit 7 is set.
    granules_off: u8,
    ram: Vec<ARegion>,
    devices: Vec<ARegion>,
    extras: Vec<Extra>,
    /// Scattered pages: (RAM bank, granule index), mapped contiguously
    /// above everything else, as the contiguous strategy maps sources.
    pages: Vec<(u8, u16)>,
    slack: u8,
    free_extra: Vec<ARegion>,
    forbidden: Vec<ARegion>,
    seed: u64,
}

fuzz_target!(|input: Input| {
    let granule = Granule::ALL[usize::from(input.granule % 3)];
    let g = granule.bytes();
    let sizes: Vec<u64> = leaf_sizes(granule).collect();
    let max_leaf = match input.max_leaf {
        0 => None,
        i @ 1..=3 => Some(
            sizes
                .get(usize::from(i - 1))
                .copied()
                .unwrap_or(input.leaf_raw),
        ),
        _ => Some(input.leaf_raw),
    };
    let mut granules = [true; 3];
    for (i, on) in granules.iter_mut().enumerate() {
        *on = input.granules_off & (1 << i) == 0
            || (i == granule as usize && input.granules_off & 0x80 == 0);
    }
    let machine = Machine {
        pa_bits: PARANGE
            .get(usize::from(input.pa_bits))
            .copied()
            .unwrap_or(input.pa_raw),
        granules,
        regime: if input.el2 { Regime::El2 } else { Regime::El1 },
    };
    let policy = Policy {
        granule,
        max_leaf,
        contig: input.contig,
    };

    let ram: Vec<Region> = input.ram.iter().take(4).map(|r| r.region()).collect();
    let devices: Vec<Region> = input.devices.iter().take(4).map(|r| r.region()).collect();
    let mut maps = Mapping::identity(&ram, &devices);
    for e in input.extras.iter().take(3) {
        let va = u64::from(e.va) << SHIFTS[usize::from(e.va_shift % 8)];
        let pa = u64::from(e.pa) << SHIFTS[usize::from(e.pa_shift % 8)];
        let len = if e.raw_len {
            u64::from(e.len)
        } else {
            u64::from(e.len) * g
        };
        let kind = if e.device {
            MemKind::Device
        } else {
            MemKind::Normal
        };
        maps.push(Mapping { va, pa, len, kind });
    }
    let mut shrunk_ram = ram.clone();
    normalize(&mut shrunk_ram);
    let shrunk_ram: Vec<Region> = shrunk_ram.iter().filter_map(|r| r.shrink_to(g)).collect();
    let pages: Vec<u64> = if shrunk_ram.is_empty() {
        Vec::new()
    } else {
        input
            .pages
            .iter()
            .take(64)
            .map(|&(bank, i)| {
                let r = shrunk_ram[usize::from(bank) % shrunk_ram.len()];
                r.start + (u64::from(i) % (r.len() / g)) * g
            })
            .collect()
    };
    let top = maps
        .iter()
        .map(|m| m.va.saturating_add(m.len))
        .max()
        .unwrap_or(0);
    let page_virt = top
        .checked_next_multiple_of(SZ_512G)
        .and_then(|v| v.checked_add(u64::from(input.slack) * g));
    if let Some(virt) = page_virt.filter(|_| !pages.is_empty()) {
        maps.extend(Mapping::pages(virt, &pages, g, MemKind::Normal));
    }

    let Ok(plan) = Plan::new(&maps, &policy, &machine) else {
        return;
    };
    let table_bytes = plan.count_tables() as u64 * g;
    let leaves: u64 = plan.leaf_counts().iter().map(|c| c.leaves).sum();
    if table_bytes > MAX_TABLE_BYTES || leaves > MAX_LEAVES {
        return;
    }

    let mut free: Vec<Region> = ram.clone();
    free.extend(input.free_extra.iter().take(2).map(|r| r.region()));
    let forbidden: Vec<Region> = input.forbidden.iter().take(3).map(|r| r.region()).collect();
    let mut mem = HashMem::new();
    let map = match mmu::build(&mut mem, &maps, &policy, &machine, &free, &forbidden) {
        Ok(map) => map,
        Err(MmuError::NoRoomForTables { needed, largest }) => {
            assert_eq!(needed, table_bytes);
            assert!(needed > largest);
            assert_eq!(mem.written_pages().count(), 0);
            return;
        }
        Err(e) => panic!("Plan::new accepted what build refused: {e}"),
    };

    // ---------------------------------------------------- table area
    assert_eq!(map.table_bytes, map.min_table_bytes, "not the minimum");
    assert_eq!(map.table_bytes, table_bytes);
    assert_eq!(map.table_count as u64 * g, map.table_bytes);
    assert_eq!(map.tables.len(), map.table_bytes);
    assert!(map.tables.is_aligned(g) && map.root == map.tables.start);
    assert!(
        map.tables.end <= 1u64 << map.pa_bits,
        "tables above the PA limit"
    );
    assert!(
        !forbidden.iter().any(|f| f.overlaps(&map.tables)),
        "tables in a forbidden range"
    );
    assert!(
        subtract_all(&free, &forbidden)
            .iter()
            .any(|r| r.covers(&map.tables)),
        "tables outside free RAM"
    );
    for p in mem.written_pages() {
        assert!(
            map.tables.contains(p),
            "wrote page {p:#x} outside {}",
            map.tables
        );
    }

    // ---------------------------------------------------- translations
    // From the raw inputs, rounded as the API documents: identity RAM
    // shrunk, devices grown, every other mapping as given.
    let oracle = Oracle::from_mappings(&maps, g);
    let mut vas: Vec<u64> = Vec::new();
    for p in probes(&map, input.seed, 32) {
        assert_eq!(
            p.expect,
            oracle.lookup(p.va),
            "probe expectation at {:#x}",
            p.va
        );
        vas.push(p.va);
    }
    for s in oracle.stretches() {
        let r = s.va;
        vas.extend([r.start.wrapping_sub(1), r.start, r.end - 1, r.end]);
    }
    for r in ram.iter().chain(&devices) {
        vas.extend([r.start, r.end.wrapping_sub(1), r.end]);
    }
    for &va in &vas {
        let want = if va >> map.va_bits == 0 {
            oracle.lookup(va)
        } else {
            None
        };
        let got = walk_detailed(&mem, &map, va);
        let as_expected = got.ok().map(|t| Expected {
            pa: t.pa,
            kind: t.kind,
        });
        assert_eq!(as_expected, want, "walk {va:#x}: {got:?}");
        assert_eq!(walk(&mem, &map, va).is_some(), want.is_some());
        match got {
            Ok(t) => {
                assert!(t.writable && t.executable == (t.kind == MemKind::Normal));
                assert!(t.leaf_size <= map.max_leaf);
            }
            Err(f) => assert!(
                matches!(f, mmu::Fault::Invalid { .. } | mmu::Fault::OutsideVaRange),
                "hole {va:#x} faults as {f:?}, not as a missing entry"
            ),
        }
    }

    // ---------------------------------------------------- leaves
    let mut leaf_list = Vec::new();
    for_each_leaf(&mem, &map, |l| leaf_list.push(*l)).expect("every descriptor well formed");
    let mut leaf_bytes = 0u64;
    for l in &leaf_list {
        assert!(
            l.size <= map.max_leaf && l.va % l.size == 0 && l.pa % l.size == 0,
            "{l:?}"
        );
        for va in [l.va, l.va + l.size / 2, l.va + l.size - 1] {
            let want = oracle
                .lookup(va)
                .unwrap_or_else(|| panic!("leaf {l:?} maps hole {va:#x}"));
            assert_eq!(
                want,
                Expected {
                    pa: l.pa + (va - l.va),
                    kind: l.kind
                },
                "{l:?}"
            );
        }
        leaf_bytes += l.size;
    }
    let mut union: Vec<Region> = oracle.stretches().iter().map(|s| s.va).collect();
    normalize(&mut union);
    assert_eq!(leaf_bytes, union.iter().map(Region::len).sum::<u64>());
    for c in &map.leaf_counts {
        let n = leaf_list.iter().filter(|l| l.size == c.size).count() as u64;
        assert_eq!(c.leaves, n, "leaf count of size {:#x}", c.size);
    }
    assert_eq!(
        map.leaf_counts.iter().map(|c| c.leaves).sum::<u64>(),
        leaf_list.len() as u64
    );
});
