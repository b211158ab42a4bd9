//! Whole-builder tests: build into sparse memory, then judge the written
//! tables against an oracle made from the raw inputs (not from the plan).

extern crate std;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use proptest::prelude::*;

use super::oracle::{Oracle, Stretch};
use super::*;
use crate::physmem::sim::SparseMem;
use crate::region::{SZ_1G, SZ_2M, SZ_4K, normalize, subtract_all};

const ALL_GRANULES: [bool; 3] = [true; 3];
const SZ_512G: u64 = 512 * SZ_1G;

fn machine(regime: Regime) -> Machine {
    Machine {
        pa_bits: 48,
        granules: ALL_GRANULES,
        regime,
    }
}

fn policy(granule: Granule, max_leaf: Option<u64>, contig: bool) -> Policy {
    Policy {
        granule,
        max_leaf,
        contig,
    }
}

// ---------------------------------------------------------------- examples

#[test]
fn one_tib_identity_with_1g_blocks() {
    let ram = [Region::new(0, 1 << 40)];
    let mut mem = SparseMem::new();
    let free = [Region::new(0, 1 << 40)];
    let map = build(
        &mut mem,
        &Mapping::identity(&ram, &[]),
        &policy(Granule::K4, None, false),
        &machine(Regime::El1),
        &free,
        &[],
    )
    .unwrap();
    // A 40-bit VA starts at level 0 with two entries; stage 1 cannot
    // concatenate, so two level-1 tables hold the 1024 blocks.
    assert_eq!(
        (map.t0sz, map.start_level, map.levels, map.ips),
        (24, 0, 4, 5)
    );
    assert_eq!(
        (map.table_count, map.table_bytes, map.min_table_bytes),
        (3, 3 * SZ_4K, 3 * SZ_4K)
    );
    assert_eq!(map.tables, Region::new((1 << 40) - 3 * SZ_4K, 1 << 40));
    assert_eq!(map.root, map.tables.start);
    assert_eq!(
        map.leaf_counts[0],
        LeafCount {
            size: SZ_1G,
            leaves: 1024,
            contig_groups: 0
        }
    );
    let t = walk(&mem, &map, 0xab_cdef_1234).unwrap();
    assert_eq!(
        (t.pa, t.kind, t.leaf_size, t.level),
        (0xab_cdef_1234, MemKind::Normal, SZ_1G, 1)
    );
    assert!(t.executable && t.writable);
    assert_eq!(
        walk_detailed(&mem, &map, 1 << 40),
        Err(Fault::OutsideVaRange)
    );
}

#[test]
fn qemu_virt_identity_with_contig_pages_and_devices() {
    // 128 MiB at 1 GiB, the PL011 and the GIC; tables kept off the image.
    let ram = [Region::new(0x4000_0000, 0x4800_0000)];
    let devices = [
        Region::new(0x0900_0000, 0x0900_1000),
        Region::new(0x0800_0000, 0x0802_0000),
    ];
    let image = Region::new(0x47f0_0000, 0x4800_0000);
    for regime in [Regime::El1, Regime::El2] {
        let mut mem = SparseMem::new();
        let p = policy(Granule::K4, None, true);
        let map = build(
            &mut mem,
            &Mapping::identity(&ram, &devices),
            &p,
            &machine(regime),
            &ram,
            &[image],
        )
        .unwrap();
        assert_eq!(map.tables.end, image.start);
        assert_eq!(map.table_bytes, map.min_table_bytes);
        let uart = walk(&mem, &map, 0x0900_0018).unwrap();
        assert_eq!(
            (uart.pa, uart.kind, uart.leaf_size),
            (0x0900_0018, MemKind::Device, SZ_4K)
        );
        assert!(!uart.executable && uart.writable && !uart.contiguous);
        // 32 GIC pages: two aligned groups of 16.
        let gic = walk(&mem, &map, 0x0801_0000).unwrap();
        assert!(gic.contiguous && gic.kind == MemKind::Device);
        let ramt = walk(&mem, &map, 0x4123_4567).unwrap();
        assert_eq!(
            (ramt.leaf_size, ramt.contiguous, ramt.executable),
            (SZ_2M, true, true)
        );
        assert_eq!(walk(&mem, &map, 0x0900_1000), None);
        assert!(mem.written_pages().all(|p| map.tables.contains(p)));
    }
}

#[test]
fn scattered_pages_coalesce_only_when_aligned() {
    // Page list: one 2 MiB-aligned physically contiguous run of 512 pages,
    // then three scattered pages.
    let base = 0x8_0000_0000u64;
    let mut pages: Vec<u64> = (0..512).map(|i| 0x4020_0000 + i * SZ_4K).collect();
    pages.extend([0x4100_3000, 0x4100_1000, 0x4100_2000]);
    let virt = 0x80_0000_0000u64;
    let ram = [Region::new(0x4000_0000, 0x8000_0000)];
    let mut mem = SparseMem::new();
    let build_at = |mem: &mut SparseMem, virt: u64| {
        let mut maps = Mapping::identity(&ram, &[]);
        maps.extend(Mapping::pages(virt, &pages, SZ_4K, MemKind::Normal));
        let p = policy(Granule::K4, Some(SZ_2M), false);
        let free = [Region::new(base, base + SZ_1G)];
        build(mem, &maps, &p, &machine(Regime::El1), &free, &[]).unwrap()
    };
    let map = build_at(&mut mem, virt);
    let t = walk(&mem, &map, virt + 0x1234).unwrap();
    assert_eq!((t.pa, t.leaf_size), (0x4020_1234, SZ_2M));
    let t = walk(&mem, &map, virt + SZ_2M + SZ_4K + 8).unwrap();
    assert_eq!((t.pa, t.leaf_size), (0x4100_1008, SZ_4K));
    assert_eq!(walk(&mem, &map, virt + SZ_2M + 3 * SZ_4K), None);
    assert_eq!(map.table_bytes, map.min_table_bytes);
    // Shifted by one page in VA the run can no longer be a block.
    let map = build_at(&mut mem, virt + SZ_4K);
    assert_eq!(walk(&mem, &map, virt + SZ_4K).unwrap().leaf_size, SZ_4K);
}

#[test]
fn probes_cover_edges_and_holes() {
    let ram = [Region::new(0x4000_0000, 0x4010_0000)];
    let devices = [Region::new(0x0900_0000, 0x0900_1000)];
    let mut mem = SparseMem::new();
    let map = build(
        &mut mem,
        &Mapping::identity(&ram, &devices),
        &policy(Granule::K4, None, false),
        &machine(Regime::El1),
        &ram,
        &[],
    )
    .unwrap();
    let probes = probes(&map, 7, 32);
    assert_eq!(probes, super::probes(&map, 7, 32), "deterministic");
    for va in [
        0x08ff_ffff,
        0x0900_0000,
        0x0900_0fff,
        0x0900_1000,
        0x3fff_ffff,
        0x4000_0000,
        0x400f_ffff,
        0x4010_0000,
    ] {
        assert!(probes.iter().any(|p| p.va == va), "missing {va:#x}");
    }
    assert!(probes.iter().any(|p| p.expect.is_none()) && probes.iter().any(|p| p.expect.is_some()));
    for p in &probes {
        assert_eq!(
            walk(&mem, &map, p.va).map(|t| Expected {
                pa: t.pa,
                kind: t.kind
            }),
            p.expect,
            "{:#x}",
            p.va
        );
    }
}

#[test]
fn walker_takes_the_faults_hardware_would() {
    use crate::physmem::PhysMem;
    let ram = [Region::new(0x4000_0000, 0x4100_0000)];
    let mut mem = SparseMem::new();
    let p = policy(Granule::K4, Some(SZ_4K), true);
    let map = build(
        &mut mem,
        &Mapping::identity(&ram, &[]),
        &p,
        &machine(Regime::El1),
        &ram,
        &[],
    )
    .unwrap();
    let va = 0x4000_5000;
    let t = walk_detailed(&mem, &map, va).unwrap();
    assert!(t.contiguous && t.level == 3);
    // Find the page descriptor the walk used: root (L1) -> L2 -> L3.
    let l2 = mem.read_u64(map.root + ((va >> 30) & 511) * 8) & !0xfff;
    let l3 = mem.read_u64(l2 + ((va >> 21) & 511) * 8) & !0xfff;
    let slot = l3 + ((va >> 12) & 511) * 8;
    let good = mem.read_u64(slot);
    let cases: [(u64, Fault); 5] = [
        (0, Fault::Invalid { level: 3 }),
        (good & !(1 << 10), Fault::AccessFlag { level: 3 }),
        (good & !0b10, Fault::Reserved { level: 3 }),
        (good ^ (1 << 12), Fault::BadContiguous { level: 3 }),
        (good | (1 << 48), Fault::AddressSize { level: 3 }),
    ];
    for (raw, fault) in cases {
        mem.write_u64(slot, raw);
        assert_eq!(walk_detailed(&mem, &map, va), Err(fault), "{raw:#x}");
    }
    // A neighbour in the broken group sees the inconsistency too.
    mem.write_u64(slot, good ^ (1 << 12));
    assert_eq!(
        walk_detailed(&mem, &map, va + SZ_4K),
        Err(Fault::BadContiguous { level: 3 })
    );
    mem.write_u64(slot, good);
    assert_eq!(walk_detailed(&mem, &map, va), Ok(t));
    // A block descriptor at level 1 is fine for 4K; make the root entry
    // one and the walk ends there with a 1 GiB leaf.
    let block = super::descriptor::leaf(false, 0x4000_0000, MemKind::Normal, Regime::El1, false);
    mem.write_u64(map.root + ((va >> 30) & 511) * 8, block);
    let t = walk_detailed(&mem, &map, va).unwrap();
    assert_eq!((t.level, t.leaf_size, t.pa), (1, SZ_1G, va));
}

/// Found by the `pagetable` fuzz target (fuzz/README.md): when the whole
/// map is one block of the largest allowed size at VA 0 (4K: [0, 1 GiB),
/// 16K: [0, 32 MiB), 64K: [0, 512 MiB)), the VA fits one root table whose
/// level is below that block's, and the block was written "into" a table
/// that does not exist: at physical address 0, outside the table area.
#[test]
fn a_map_of_one_root_table_gets_no_block_above_the_root() {
    for (granule, len) in [
        (Granule::K4, SZ_1G),
        (Granule::K16, 32 << 20),
        (Granule::K64, 512 << 20),
    ] {
        let ram = [Region::new(0, len)];
        let free = [Region::new(0, len)];
        let mut mem = SparseMem::new();
        let map = build(
            &mut mem,
            &Mapping::identity(&ram, &[]),
            &policy(granule, None, true),
            &machine(Regime::El1),
            &free,
            &[],
        )
        .unwrap();
        assert_eq!(map.table_count, 1, "{granule}");
        for page in mem.written_pages() {
            assert!(
                map.tables.contains(page),
                "{granule}: wrote page {page:#x} outside {}",
                map.tables
            );
        }
        let va = len - granule.bytes() + 8;
        let t = walk_detailed(&mem, &map, va).unwrap();
        assert_eq!((t.pa, t.level), (va, map.start_level), "{granule}");
    }
}

// -------------------------------------------------------------- proptests

/// A generated layout, before the builder sees it.
#[derive(Clone, Debug)]
struct Case {
    policy: Policy,
    regime: Regime,
    /// Normalized RAM: the free RAM and the identity-mapped Normal memory.
    ram: Vec<Region>,
    devices: Vec<Region>,
    page_virt: u64,
    pages: Vec<u64>,
    forbidden: Vec<Region>,
}

impl Case {
    fn mappings(&self) -> Vec<Mapping> {
        let mut maps = Mapping::identity(&self.ram, &self.devices);
        maps.extend(Mapping::pages(
            self.page_virt,
            &self.pages,
            self.policy.granule.bytes(),
            MemKind::Normal,
        ));
        maps
    }

    /// What must be mapped, from the raw inputs (not from the mappings the
    /// builder is given): disjoint stretches.
    fn oracle(&self) -> Oracle {
        let g = self.policy.granule.bytes();
        let mut devs: Vec<Region> = self.devices.iter().map(|d| d.grow_to(g).unwrap()).collect();
        normalize(&mut devs);
        let mut out: Vec<Stretch> = self
            .ram
            .iter()
            .filter_map(|r| r.shrink_to(g))
            .map(|r| Stretch::new(r, r.start, MemKind::Normal))
            .collect();
        out.extend(
            devs.into_iter()
                .map(|r| Stretch::new(r, r.start, MemKind::Device)),
        );
        for (i, &pa) in self.pages.iter().enumerate() {
            let va = self.page_virt + i as u64 * g;
            out.push(Stretch::new(Region::new(va, va + g), pa, MemKind::Normal));
        }
        Oracle::new(out)
    }
}

/// Raw material for one RAM region: anchor kind, anchor index, fraction
/// below the anchor, length, start alignment bits, length shrink shift.
type RawRegion = (u8, u64, u64, u64, u32, u32);

fn raw_region() -> impl Strategy<Value = RawRegion> {
    (
        0u8..3,
        0u64..1 << 14,
        any::<u64>(),
        any::<u64>(),
        0u32..31,
        0u32..16,
    )
}

prop_compose! {
    fn case()(
        g in 0usize..3,
        leaf in 0usize..4,
        contig in any::<bool>(),
        el2 in any::<bool>(),
        ram_raw in proptest::collection::vec(raw_region(), 1..=4),
        dev_raw in proptest::collection::vec((any::<bool>(), any::<u64>(), 1u64..0x2_0000), 0..=4),
        runs in proptest::collection::vec((any::<u64>(), 1u64..=64, any::<bool>()), 0..=4),
        slack in 0u64..4,
        forb_raw in proptest::collection::vec((any::<u64>(), any::<u64>()), 0..=3),
        forbid_top in any::<bool>(),
    ) -> Case {
        let granule = Granule::ALL[g];
        let gsize = granule.bytes();
        let sizes: Vec<u64> = leaf_sizes(granule).collect();
        let max_leaf = sizes.get(leaf).copied();
        // Keep each case to ~2^15 leaves: 1-2 TiB with the largest blocks,
        // 128 MiB of 4 KiB pages.
        let budget = (max_leaf.unwrap_or(sizes[0]) << 15).min(1 << 41) / ram_raw.len() as u64;
        let mut ram: Vec<Region> = ram_raw.iter().map(|&(kind, k, frac, len, align, shrink)| {
            let len = 1 + ((len % budget) >> shrink);
            let anchor = match kind {
                0 => k * SZ_1G,
                1 => (k % 32) * SZ_512G,
                _ => (k << 30) + frac % SZ_1G,
            };
            let start = anchor.saturating_sub(frac % len) & !((1u64 << align) - 1);
            Region::new(start, start + len)
        }).collect();
        normalize(&mut ram);
        let shrunk: Vec<Region> = ram.iter().filter_map(|r| r.shrink_to(gsize)).collect();
        let devices: Vec<Region> = dev_raw.iter().enumerate().map(|(i, &(near, pos, len))| {
            let start = if near {
                let r = ram[i % ram.len()];
                if pos.is_multiple_of(2) { r.end + (pos >> 1) % 0x4_0000 } else { r.start.saturating_sub((pos >> 1) % 0x4_0000 + len) }
            } else {
                pos % (1 << 44)
            };
            Region::new(start, start + len)
        }).filter(|d| {
            let grown = d.grow_to(gsize).unwrap();
            !shrunk.iter().any(|r| r.overlaps(&grown))
        }).collect();
        // Source pages: runs inside RAM, the big ones block-aligned so they
        // may coalesce.
        let block = sizes[sizes.len() - 2];
        let mut pages = Vec::new();
        for &(raw, n, big) in &runs {
            if shrunk.is_empty() { break; }
            let r = shrunk[(raw % shrunk.len() as u64) as usize];
            let (start, n) = match (big, r.shrink_to(block)) {
                (true, Some(b)) if b.len() >= block => (b.start, block / gsize + n % 3),
                _ => (r.start + ((raw >> 8) % (r.len() / gsize)) * gsize, n),
            };
            let n = n.min((r.end - start) / gsize);
            pages.extend((0..n).map(|i| start + i * gsize));
        }
        let top = ram.iter().chain(&devices).map(|r| r.end).max().unwrap_or(0);
        let page_virt = top.next_multiple_of(SZ_512G) + slack * gsize;
        let mut forbidden: Vec<Region> = forb_raw.iter().map(|&(a, b)| {
            let r = ram[(a % ram.len() as u64) as usize];
            let start = r.start + b % r.len();
            Region::new(start, start + (a >> 8) % (r.len() / 2 + 1))
        }).collect();
        if forbid_top {
            let last = ram[ram.len() - 1];
            forbidden.push(Region::new(last.end.saturating_sub(SZ_2M + 1), last.end));
        }
        Case {
            policy: Policy { granule, max_leaf, contig },
            regime: if el2 { Regime::El2 } else { Regime::El1 },
            ram, devices, page_virt, pages, forbidden,
        }
    }
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let g = case.policy.granule.bytes();
    let maps = case.mappings();
    let m = machine(case.regime);
    let mut mem = SparseMem::new();
    let map = match build(
        &mut mem,
        &maps,
        &case.policy,
        &m,
        &case.ram,
        &case.forbidden,
    ) {
        Ok(map) => map,
        Err(MmuError::NoRoomForTables { needed, largest }) => {
            prop_assert!(needed > largest);
            let usable = subtract_all(&case.ram, &case.forbidden);
            for r in usable.iter().filter_map(|r| r.shrink_to(g)) {
                prop_assert!(r.len() < needed, "room at {:?}", r);
            }
            return Ok(());
        }
        Err(e) => return Err(TestCaseError::fail(std::format!("{e}"))),
    };

    // T0SZ: the smallest VA that covers every mapping, within 16..=39.
    prop_assert!((MIN_T0SZ..=MAX_T0SZ).contains(&map.t0sz) && map.t0sz + map.va_bits == 64);
    let top = map.mappings.last().map_or(0, |m| m.va + m.len - 1);
    prop_assert!(
        top >> map.va_bits == 0 && (map.t0sz == MAX_T0SZ || top >> (map.va_bits - 1) == 1)
    );
    prop_assert_eq!(u32::from(map.levels + map.start_level), 4);

    // (1) the table count is the theoretical minimum.
    prop_assert_eq!(map.table_bytes, map.min_table_bytes);
    prop_assert_eq!(
        count_tables(&maps, &case.policy, &m).unwrap(),
        map.table_count
    );
    prop_assert_eq!(map.table_bytes, map.table_count as u64 * g);

    // (2) the area is aligned, in free RAM, off every forbidden range, and
    // as high as it can be.
    prop_assert!(map.tables.is_aligned(g) && map.root == map.tables.start);
    prop_assert!(case.ram.iter().any(|r| r.covers(&map.tables)));
    prop_assert!(!case.forbidden.iter().any(|f| f.overlaps(&map.tables)));
    for r in subtract_all(&case.ram, &case.forbidden)
        .iter()
        .filter_map(|r| r.shrink_to(g))
    {
        prop_assert!(
            r.len() < map.table_bytes || r.end - map.table_bytes <= map.tables.start,
            "higher room in {:?}",
            r
        );
    }

    // (4) nothing written outside the area.
    for page in mem.written_pages() {
        prop_assert!(
            map.tables.contains(page),
            "wrote page {:#x} outside {:?}",
            page,
            map.tables
        );
    }

    // (3) walks agree with the oracle at edges, holes and random addresses.
    let oracle = case.oracle();
    let mut vas: Vec<u64> = probes(&map, case.ram[0].start, 64)
        .iter()
        .map(|p| p.va)
        .collect();
    for s in oracle.stretches() {
        let r = s.va;
        vas.extend([r.start.wrapping_sub(1), r.start, r.end - 1, r.end]);
    }
    for r in case.ram.iter().chain(&case.devices) {
        vas.extend([r.start, r.end - 1, r.end]);
    }
    for p in probes(&map, 1, 16) {
        prop_assert_eq!(
            p.expect,
            oracle.lookup(p.va),
            "probe expectation at {:#x}",
            p.va
        );
    }
    for &va in &vas {
        let want = if va >> map.va_bits == 0 {
            oracle.lookup(va)
        } else {
            None
        };
        let got = walk_detailed(&mem, &map, va);
        prop_assert_eq!(
            got.ok().map(|t| Expected {
                pa: t.pa,
                kind: t.kind
            }),
            want,
            "walk {:#x}: {:?}",
            va,
            got
        );
        if let Ok(t) = got {
            prop_assert!(t.writable && t.executable == (t.kind == MemKind::Normal));
        }
    }

    // (5) every leaf: within max_leaf, aligned in VA and PA, wholly inside
    // one stretch of the oracle with the right target and kind; together
    // exactly the oracle's bytes; contiguous hints consistent and maximal.
    let mut leaves: BTreeMap<u64, Leaf> = BTreeMap::new();
    for_each_leaf(&mem, &map, |l| {
        leaves.insert(l.va, *l);
    })
    .map_err(|f| TestCaseError::fail(std::format!("{f:?}")))?;
    let mut leaf_bytes = 0u64;
    let mut by_size: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    let mut group_seen: Option<(u64, u64, bool)> = None;
    for l in leaves.values() {
        prop_assert!(
            l.size <= map.max_leaf && l.va.is_multiple_of(l.size) && l.pa.is_multiple_of(l.size),
            "leaf {:?}",
            l
        );
        let mut va = l.va;
        while va < l.va + l.size {
            let Some(&Stretch {
                va: r,
                offset: d,
                kind,
            }) = oracle.stretch_at(va)
            else {
                return Err(TestCaseError::fail(std::format!(
                    "leaf {l:?} maps hole {va:#x}"
                )));
            };
            prop_assert!(
                kind == l.kind && l.pa.wrapping_sub(l.va) == d,
                "leaf {:?} vs {:?}",
                l,
                r
            );
            va = r.end;
        }
        leaf_bytes += l.size;
        let e = by_size.entry(l.size).or_default();
        e.0 += 1;
        e.1 += u64::from(l.contiguous);

        let group = contig_group(&map, l.level);
        let Some(n) = group else {
            prop_assert!(!l.contiguous);
            continue;
        };
        let span = n * l.size;
        let first = l.va & !(span - 1);
        // Leaves come in VA order: judge each group once, at its first member.
        let complete = match group_seen {
            Some((size, va, complete)) if size == l.size && va == first => complete,
            _ => {
                let base = l.pa.wrapping_sub(l.va - first);
                let complete = base.is_multiple_of(span)
                    && (0..n).all(|k| {
                        leaves.get(&(first + k * l.size)).is_some_and(|o| {
                            o.size == l.size
                                && o.kind == l.kind
                                && o.pa == base.wrapping_add(k * l.size)
                        })
                    });
                group_seen = Some((l.size, first, complete));
                complete
            }
        };
        prop_assert_eq!(
            l.contiguous,
            map.contig && complete,
            "contiguous hint of {:?}",
            l
        );
    }
    prop_assert_eq!(leaf_bytes, oracle.bytes());
    for c in &map.leaf_counts {
        let (leaves, contig) = by_size.get(&c.size).copied().unwrap_or_default();
        prop_assert_eq!(c.leaves, leaves);
        let n = contig_group(&map, leaf_level(&map, c.size)).unwrap_or(1);
        prop_assert_eq!(c.contig_groups * n, contig);
    }
    Ok(())
}

/// Entries in a contiguous group at `level` per the Arm ARM table (kept
/// apart from the module's own table on purpose).
fn contig_group(map: &BuiltMap, level: u8) -> Option<u64> {
    match (map.granule, level) {
        (Granule::K4, 1..=3) => Some(16),
        (Granule::K16, 2) => Some(32),
        (Granule::K16, 3) => Some(128),
        (Granule::K64, 2 | 3) => Some(32),
        _ => None,
    }
}

fn leaf_level(map: &BuiltMap, size: u64) -> u8 {
    let shift = map.granule.bytes().trailing_zeros();
    let stride = shift - 3;
    3 - ((size.trailing_zeros() - shift) / stride) as u8
}

proptest! {
    // Sparse memory is byte-wise: 64 cases take ~10 s unoptimized; release
    // test runs (scripts/test.sh) afford more.
    #![proptest_config(ProptestConfig {
        cases: if cfg!(debug_assertions) { 64 } else { 256 },
        ..ProptestConfig::default()
    })]

    #[test]
    fn built_maps_are_minimal_placed_and_exact(case in case()) {
        check(&case)?;
    }
}

proptest! {
    /// The contiguous strategy's table reservation bounds what its window
    /// really adds, for any page count and any scatter of the sources.
    #[test]
    fn window_budget_bounds_the_real_table_count(
        pages in 1u64..3000,
        seed in any::<u64>(),
        ram_gib in 1u64..8,
    ) {
        let ram = Region::new(0x4000_0000, 0x4000_0000 + ram_gib * SZ_1G);
        let identity = Mapping::identity(&[ram], &[Region::new(0x0900_0000, 0x0900_1000)]);
        let p = policy(Granule::K4, None, true);
        let m = machine(Regime::El1);
        // Scattered, distinct source pages, as the planner shuffles them.
        let frames = ram.len() / SZ_4K;
        let mut x = seed | 1;
        let mut src: Vec<u64> = (0..pages)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ram.start + ((x % (frames / pages)) * pages + i) * SZ_4K
            })
            .collect();
        src.dedup();
        let window = crate::region::align_up(ram.end, SZ_1G).unwrap();
        let mut with_window = identity.clone();
        with_window.extend(Mapping::pages(window, &src, SZ_4K, MemKind::Normal));
        let added = count_tables(&with_window, &p, &m).unwrap() - count_tables(&identity, &p, &m).unwrap();
        // One L3 per 2 MiB of window at least: the count is real.
        prop_assert!(added as u64 >= pages.div_ceil(512), "{added}");
        prop_assert!(added as u64 <= window_tables_max(pages), "{added} > {}", window_tables_max(pages));
    }
}
