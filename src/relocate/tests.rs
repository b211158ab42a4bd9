//! Whole-flow tests: validate, plan, load, list, walk, verify, guards.

extern crate std;

use alloc::vec;
use alloc::vec::Vec;
use std::collections::BTreeSet;
use std::string::ToString;

use proptest::prelude::*;

use super::*;
use crate::physmem::PhysMem;
use crate::physmem::sim::SparseMem;
use crate::region::{Region, SZ_4K, total_len};

const RAM: Region = Region::new(0x4000_0000, 0x5000_0000);
const STAGE: Region = Region::new(0x4020_0000, 0x4030_0000);
const RESERVED: Region = Region::new(0x4400_0000, 0x4410_0000);
const DTB: Region = Region::new(0x4800_0000, 0x4810_0000);
/// Where the test payloads go: free of the fixed regions above.
const PAYLOAD_BASE: u64 = 0x4100_0000;
/// Where "QEMU loaded the initrd" in these tests.
const INITRD_BASE: u64 = 0x4c00_0000;

fn env() -> Environment {
    Environment {
        ram: vec![RAM],
        reserved: vec![RESERVED],
        dtb: DTB,
        stage: vec![STAGE],
        table_bytes: 16 * SZ_4K,
    }
}

fn synthetic(dest_start: u64, pages: u64, len: u64, seed: u64) -> Segment {
    Segment {
        src: SegmentSource::Synthetic { len, seed },
        dest: Region::new(dest_start, dest_start + pages * SZ_4K),
    }
}

fn page_of(addr: u64) -> u64 {
    addr & !(SZ_4K - 1)
}

fn pages_in(regions: &[Region]) -> BTreeSet<u64> {
    regions
        .iter()
        .flat_map(|r| (page_of(r.start)..r.end).step_by(PAGE_BYTES))
        .collect()
}

/// The data entries the list must hold, from the plan's segments and sources.
fn expected_entries(plan: &Plan) -> Vec<u64> {
    let mut out = Vec::new();
    let mut sources = plan.sources().iter();
    for seg in plan.segments() {
        out.push(seg.dest.start | IND_DESTINATION);
        out.extend(
            sources
                .by_ref()
                .take(seg.pages() as usize)
                .map(|s| s | IND_SOURCE),
        );
    }
    out
}

/// Reads the list back page by page and checks its format: every page but
/// the last holds 511 data entries and links to the next, the last ends
/// with `IND_DONE`, and the data entries are exactly the plan's.
fn check_list_format(mem: &SparseMem, head: u64, plan: &Plan) {
    let want = expected_entries(plan);
    if want.is_empty() {
        assert_eq!(head, IND_DONE);
        return;
    }
    let pages = plan.list_pages();
    assert_eq!(head, pages[0] | IND_INDIRECTION);
    let mut data = Vec::new();
    for (i, &page) in pages.iter().enumerate() {
        let slots: Vec<u64> = (0..ENTRIES_PER_PAGE)
            .map(|s| mem.read_u64(page + 8 * s))
            .collect();
        if let Some(&next) = pages.get(i + 1) {
            assert_eq!(
                slots[511],
                next | IND_INDIRECTION,
                "page {i} must link to the next"
            );
            data.extend_from_slice(&slots[..511]);
        } else {
            let done = slots
                .iter()
                .position(|&e| e == IND_DONE)
                .expect("IND_DONE in the last page");
            assert!(done >= 1, "the last list page holds at least one entry");
            data.extend_from_slice(&slots[..done]);
        }
    }
    for e in &data {
        let flags = e & (SZ_4K - 1);
        assert!(flags == IND_SOURCE || flags == IND_DESTINATION, "{e:#x}");
    }
    assert_eq!(data, want);
}

/// What every destination page must hold, taken before anything moves.
fn expected_pages(mem: &SparseMem, plan: &Plan) -> Vec<[u8; PAGE_BYTES]> {
    let mut out = Vec::new();
    for seg in plan.segments() {
        for k in 0..seg.pages() {
            let mut page = [0u8; PAGE_BYTES];
            seg.page_content(mem, k, &mut page);
            out.push(page);
        }
    }
    out
}

/// Placement promises: distinct pages, in usable RAM, outside every
/// destination, in-memory source, forbidden range, table and guard.
fn check_placement(env: &Environment, segs: &[Segment], opts: &PlanOptions, plan: &Plan) {
    let mut pinned: Vec<Region> = segs.iter().map(|s| s.dest).collect();
    pinned.extend(segs.iter().filter_map(|s| match s.src {
        SegmentSource::Phys(r) => Some(r),
        SegmentSource::Synthetic { .. } => None,
    }));
    pinned.extend_from_slice(&opts.forbidden);
    pinned.extend(opts.table);
    pinned.extend_from_slice(plan.guards());
    let usable = env.usable_ram();
    let taken: Vec<u64> = plan
        .sources()
        .iter()
        .chain(plan.list_pages())
        .copied()
        .collect();
    assert_eq!(
        taken.iter().collect::<BTreeSet<_>>().len(),
        taken.len(),
        "a page given twice"
    );
    for &p in &taken {
        let page = Region::new(p, p + SZ_4K);
        assert_eq!(p % SZ_4K, 0);
        assert!(usable.iter().any(|u| u.covers(&page)), "{page} not usable");
        assert!(
            !pinned.iter().any(|r| r.overlaps(&page)),
            "{page} is pinned"
        );
    }
    let pages: u64 = segs.iter().map(Segment::pages).sum();
    assert_eq!(plan.sources().len() as u64, pages);
    assert_eq!(
        plan.list_pages().len() as u64,
        list_pages_needed(pages, segs.len() as u64)
    );
}

/// Runs the whole flow on `mem` and checks every promise the module makes:
/// placement, list format, the walk writing destination pages only and
/// reproducing the payload byte for byte, hashes, guards.
fn relocate_and_check(
    mem: &mut SparseMem,
    env: &Environment,
    segs: &[Segment],
    opts: &PlanOptions,
) -> (Plan, WalkStats) {
    let ok = validate(env, segs).unwrap_or_else(|e| panic!("{e}"));
    let plan = ok.plan(opts).unwrap_or_else(|e| panic!("{e}"));
    check_placement(env, segs, opts, &plan);

    let want = expected_pages(mem, &plan);
    plan.load(mem);
    let head = plan.write_list(mem);
    check_list_format(mem, head, &plan);
    let hashes = plan.hash_sources(mem);
    fill_guards(mem, plan.guards());
    let before: BTreeSet<u64> = mem.written_pages().collect();

    let stats = relocate_on_host(mem, head, plan.list_entries()).expect("list terminates");

    // Only destination pages were written (so sources, list pages and
    // guards were not), and they hold the payload.
    let dests = pages_in(&segs.iter().map(|s| s.dest).collect::<Vec<_>>());
    let after: BTreeSet<u64> = mem.written_pages().collect();
    assert!(
        after.difference(&before).all(|p| dests.contains(p)),
        "write outside destinations"
    );
    for (page, want) in plan.dest_pages().zip(&want) {
        let mut got = [0u8; PAGE_BYTES];
        mem.read_bytes(page, &mut got);
        assert!(
            got == *want,
            "destination page {page:#x} differs from the payload"
        );
    }
    assert_eq!(
        plan.verify_destinations(mem, &hashes),
        Ok(plan.sources().len() as u64)
    );
    check_list_format(mem, head, &plan);
    let guards = check_guards(mem, plan.guards());
    assert!(
        guards.is_clean(),
        "guard modified at {:#x?}",
        guards.first_modified
    );
    assert_eq!(guards.checked, total_len(plan.guards()));

    assert_eq!(stats.sources, plan.sources().len() as u64);
    assert_eq!(stats.destinations, segs.len() as u64);
    assert_eq!(stats.indirections, plan.list_pages().len() as u64);
    assert_eq!(stats.entries, plan.list_entries());
    (plan, stats)
}

// ---- validation: one test per error ----

fn err(segs: &[Segment]) -> RelocError {
    validate(&env(), segs).map(|_| ()).unwrap_err()
}

fn one(dest: Region) -> Vec<Segment> {
    vec![Segment {
        src: SegmentSource::Synthetic { len: 0, seed: 0 },
        dest,
    }]
}

#[test]
fn rejects_an_empty_destination() {
    let dest = Region::new(PAYLOAD_BASE, PAYLOAD_BASE);
    let e = err(&one(dest));
    assert_eq!(e, RelocError::EmptySegment { index: 0, dest });
    assert!(
        e.to_string()
            .contains("segment 0: destination [0x41000000, 0x41000000) is empty")
    );
}

#[test]
fn rejects_an_unaligned_destination() {
    let good = Region::new(PAYLOAD_BASE, PAYLOAD_BASE + SZ_4K);
    let dest = Region::new(PAYLOAD_BASE + 0x2000, PAYLOAD_BASE + 0x2800);
    let mut segs = one(good);
    segs.extend(one(dest));
    let e = err(&segs);
    assert_eq!(e, RelocError::DestUnaligned { index: 1, dest });
    let msg = e.to_string();
    assert!(
        msg.contains("segment 1")
            && msg.contains("0x41002800")
            && msg.contains("multiples of 0x1000"),
        "{msg}"
    );
}

#[test]
fn rejects_a_source_longer_than_its_destination() {
    let segs = [synthetic(PAYLOAD_BASE, 1, SZ_4K + 1, 0)];
    let e = err(&segs);
    assert!(matches!(
        e,
        RelocError::SourceTooLarge {
            index: 0,
            src_len: 0x1001,
            ..
        }
    ));
    assert!(e.to_string().contains("limit: 0x1000 bytes"), "{e}");
}

#[test]
fn rejects_a_source_outside_ram() {
    let src = Region::new(RAM.end - SZ_4K, RAM.end + SZ_4K);
    let segs = [Segment {
        src: SegmentSource::Phys(src),
        dest: Region::new(PAYLOAD_BASE, PAYLOAD_BASE + 4 * SZ_4K),
    }];
    let e = err(&segs);
    assert_eq!(
        e,
        RelocError::SourceOutsideRam {
            index: 0,
            src,
            ram: Some(RAM)
        }
    );
    assert!(
        e.to_string()
            .contains("runs past the end of RAM bank [0x40000000, 0x50000000)"),
        "{e}"
    );
}

#[test]
fn rejects_a_destination_outside_ram() {
    let across = Region::new(RAM.end - SZ_4K, RAM.end + SZ_4K);
    assert_eq!(
        err(&one(across)),
        RelocError::DestOutsideRam {
            index: 0,
            dest: across,
            ram: Some(RAM)
        }
    );
    let below = Region::new(0x1000, 0x2000);
    let e = err(&one(below));
    assert_eq!(
        e,
        RelocError::DestOutsideRam {
            index: 0,
            dest: below,
            ram: None
        }
    );
    assert!(
        e.to_string()
            .contains("segment 0: destination [0x1000, 0x2000) does not start in RAM"),
        "{e}"
    );
}

#[test]
fn rejects_a_destination_over_reserved_memory() {
    let dest = Region::new(RESERVED.end - SZ_4K, RESERVED.end + SZ_4K);
    let e = err(&one(dest));
    assert_eq!(
        e,
        RelocError::OverReserved {
            index: 0,
            dest,
            reserved: RESERVED
        }
    );
    assert!(
        e.to_string()
            .contains("overlaps reserved memory [0x44000000, 0x44100000)"),
        "{e}"
    );
}

#[test]
fn rejects_a_destination_over_the_dtb() {
    let dest = Region::new(DTB.start, DTB.start + SZ_4K);
    let e = err(&one(dest));
    assert_eq!(
        e,
        RelocError::OverDtb {
            index: 0,
            dest,
            dtb: DTB
        }
    );
    assert!(
        e.to_string()
            .contains("overlaps the DTB [0x48000000, 0x48100000)"),
        "{e}"
    );
}

#[test]
fn rejects_a_destination_over_the_stage() {
    let dest = Region::new(STAGE.start - SZ_4K, STAGE.start + SZ_4K);
    let e = err(&one(dest));
    assert_eq!(
        e,
        RelocError::OverStage {
            index: 0,
            dest,
            stage: STAGE
        }
    );
    assert!(
        e.to_string()
            .contains("overlaps this stage [0x40200000, 0x40300000)"),
        "{e}"
    );
}

#[test]
fn rejects_overlapping_destinations_naming_both() {
    let segs = [
        synthetic(PAYLOAD_BASE, 4, 0, 0),
        synthetic(PAYLOAD_BASE + 0x10_0000, 1, 0, 1),
        synthetic(PAYLOAD_BASE + 3 * SZ_4K, 2, 0, 2),
    ];
    let e = err(&segs);
    assert_eq!(
        e,
        RelocError::DestOverlap {
            first: 0,
            second: 2,
            first_dest: segs[0].dest,
            second_dest: segs[2].dest,
        }
    );
    assert!(
        e.to_string()
            .starts_with("segments 0 and 2: destinations [0x41000000, 0x41004000) and"),
        "{e}"
    );
    // Identical destinations are two different segments too.
    let twice = [segs[1], segs[1]];
    assert!(matches!(
        err(&twice),
        RelocError::DestOverlap {
            first: 0,
            second: 1,
            ..
        }
    ));
}

#[test]
fn rejects_a_payload_free_ram_cannot_hold() {
    let small = Environment {
        ram: vec![Region::new(0x4000_0000, 0x4010_0000)],
        reserved: vec![],
        dtb: Region::new(0x400f_0000, 0x4010_0000),
        stage: vec![Region::new(0x4000_0000, 0x4001_0000)],
        table_bytes: 2 * SZ_4K,
    };
    // 0xe0 pages free, 0x70 of them the destination: the other 0x70 hold
    // the 0x70 sources but not the list page and the tables.
    let segs = [synthetic(0x4001_0000, 0x70, 0x70 * SZ_4K, 0)];
    let e = validate(&small, &segs).map(|_| ()).unwrap_err();
    assert_eq!(
        e,
        RelocError::OutOfMemory {
            needed: (0x70 + 1 + 2) * SZ_4K,
            available: 0x70 * SZ_4K,
            source_pages: 0x70,
            list_pages: 1,
            table_bytes: 2 * SZ_4K,
        }
    );
    assert!(
        e.to_string().contains("0x73000 bytes needed")
            && e.to_string().contains("0x70000 available"),
        "{e}"
    );
}

#[test]
fn plan_reports_memory_its_guards_and_forbidden_ranges_take() {
    let segs = [synthetic(PAYLOAD_BASE, 4, 0, 0)];
    let e = env();
    let ok = validate(&e, &segs).unwrap();
    let opts = PlanOptions {
        forbidden: vec![RAM],
        ..PlanOptions::default()
    };
    assert!(matches!(
        ok.plan(&opts),
        Err(RelocError::OutOfMemory {
            needed: 0x5000,
            available: 0,
            ..
        })
    ));
}

// ---- the list format and the walker ----

#[test]
fn list_page_count_follows_kimage_add_entry() {
    assert_eq!(list_pages_needed(0, 0), 0);
    assert_eq!(list_pages_needed(510, 1), 1);
    assert_eq!(list_pages_needed(511, 1), 2);
    assert_eq!(list_pages_needed(1021, 1), 2);
    assert_eq!(list_pages_needed(1022, 1), 3);
}

#[test]
fn done_may_take_the_last_slot_of_a_full_page() {
    let mut mem = SparseMem::new();
    let pages = [0x1000, 0x5000];
    let entries = (0..511u64).map(|i| (0x10_0000 + i * SZ_4K) | IND_SOURCE);
    assert_eq!(
        write_list(&mut mem, &pages, entries),
        0x1000 | IND_INDIRECTION
    );
    assert_eq!(
        mem.read_u64(0x1000 + 510 * 8),
        (0x10_0000 + 510 * SZ_4K) | IND_SOURCE
    );
    assert_eq!(mem.read_u64(0x1000 + 511 * 8), IND_DONE);
    assert!(
        mem.written_pages().all(|p| p == 0x1000),
        "second page untouched"
    );

    let entries = (0..512u64).map(|i| (0x10_0000 + i * SZ_4K) | IND_SOURCE);
    write_list(&mut mem, &pages, entries);
    assert_eq!(mem.read_u64(0x1000 + 511 * 8), 0x5000 | IND_INDIRECTION);
    assert_eq!(mem.read_u64(0x5000), (0x10_0000 + 511 * SZ_4K) | IND_SOURCE);
    assert_eq!(mem.read_u64(0x5008), IND_DONE);
}

#[test]
fn nothing_to_copy_gives_a_done_head() {
    let e = env();
    let plan = validate(&e, &[])
        .unwrap()
        .plan(&PlanOptions::default())
        .unwrap();
    let mut mem = SparseMem::new();
    assert_eq!(plan.write_list(&mut mem), IND_DONE);
    assert_eq!(
        relocate_on_host(&mut mem, IND_DONE, 0),
        Ok(WalkStats::default())
    );
    assert_eq!(mem.written_pages().count(), 0);
}

#[test]
fn walker_skips_flagless_entries_and_stops_runaway_lists() {
    let mut mem = SparseMem::new();
    // [dest 0x9000, 0 (skipped), source 0x3000, DONE]
    let list = [0x9000 | IND_DESTINATION, 0, 0x3000 | IND_SOURCE, IND_DONE];
    for (i, e) in list.iter().enumerate() {
        mem.write_u64(0x1000 + 8 * i as u64, *e);
    }
    mem.write_bytes(0x3000, b"payload");
    let stats = relocate_on_host(&mut mem, 0x1000 | IND_INDIRECTION, 16).unwrap();
    assert_eq!(
        (stats.entries, stats.sources, stats.destinations),
        (4, 1, 1)
    );
    let mut got = [0u8; 7];
    mem.read_bytes(0x9000, &mut got);
    assert_eq!(&got, b"payload");

    // A page whose first entry links back to itself never ends.
    mem.write_u64(0x7000, 0x7000 | IND_INDIRECTION);
    assert_eq!(
        walk_list(&mut mem, 0x7000 | IND_INDIRECTION, 100, |_, _, _| {}),
        Err(WalkError::Runaway { entries: 100 })
    );
}

// ---- segments ----

#[test]
fn synthetic_pages_regenerate_from_any_offset() {
    let mut whole = vec![0u8; 3 * PAGE_BYTES];
    synthetic_fill(42, 0, &mut whole);
    for (offset, len) in [
        (0usize, 1usize),
        (1, 7),
        (5, 100),
        (4095, 2),
        (4096, 4096),
        (8191, 4097),
    ] {
        let mut part = vec![0u8; len];
        synthetic_fill(42, offset as u64, &mut part);
        assert_eq!(part, whole[offset..offset + len], "offset {offset}");
    }
    let mut other = vec![0u8; 64];
    synthetic_fill(43, 0, &mut other);
    assert_ne!(other, whole[..64]);
}

#[test]
fn synthetic_layout_places_gapped_segments_in_free_ram() {
    let e = env();
    let free = e.usable_ram();
    // From just below the stage: the first segment must skip over it.
    let size = 10 * SZ_4K + 123;
    let segs = synthetic_layout(&free, STAGE.start - SZ_4K, size, 3, SZ_4K, 9).unwrap();
    assert_eq!(segs.len(), 3);
    let lens: Vec<u64> = segs.iter().map(|s| s.src.len()).collect();
    assert_eq!(lens, vec![4 * SZ_4K, 4 * SZ_4K, 2 * SZ_4K + 123]);
    assert_eq!(segs[0].dest.start, STAGE.end);
    for w in segs.windows(2) {
        assert!(w[1].dest.start >= w[0].dest.end + SZ_4K);
    }
    assert_eq!(
        segs[2].src,
        SegmentSource::Synthetic {
            len: 2 * SZ_4K + 123,
            seed: 11
        }
    );
    assert!(validate(&e, &segs).is_ok());
    assert_eq!(
        synthetic_layout(&free, PAYLOAD_BASE, 2 * SZ_4K, 3, 0, 0),
        None
    );
    assert_eq!(
        synthetic_layout(&free, PAYLOAD_BASE, 1 << 40, 1, 0, 0),
        None
    );
}

fn image_header(text_offset: u64, image_size: u64) -> [u8; ImageHeader::LEN] {
    let mut h = [0u8; ImageHeader::LEN];
    h[8..16].copy_from_slice(&text_offset.to_le_bytes());
    h[16..24].copy_from_slice(&image_size.to_le_bytes());
    h[24..32].copy_from_slice(&0b1010u64.to_le_bytes());
    h[0x38..0x3c].copy_from_slice(b"ARM\x64");
    h
}

#[test]
fn image_header_parses_and_places_per_the_boot_protocol() {
    let h = ImageHeader::parse(&image_header(0, 0x1234_5678)).unwrap();
    assert_eq!(
        h,
        ImageHeader {
            text_offset: 0,
            image_size: 0x1234_5678,
            flags: 0b1010
        }
    );
    // Base rounded up to 2 MiB, image_size rounded up to a page.
    assert_eq!(
        h.destination(0x4010_0000, 0x1000),
        Some(Region::new(0x4020_0000, 0x4020_0000 + 0x1234_6000))
    );

    let old = ImageHeader::parse(&image_header(0x1234, 0)).unwrap();
    assert_eq!(old.effective_text_offset(), ImageHeader::LEGACY_TEXT_OFFSET);
    assert_eq!(
        old.destination(0x4000_0000, 0x2001),
        Some(Region::new(0x4008_0000, 0x4008_3000))
    );

    let mut bad = image_header(0, 0x1000);
    bad[0x38] = b'B';
    assert_eq!(ImageHeader::parse(&bad), None);
    assert_eq!(ImageHeader::parse(&image_header(0, 0x1000)[..63]), None);
}

/// A real-payload-like case: an Image lying where QEMU put the initrd,
/// relocated to its boot-protocol place, overlapping its own source.
#[test]
fn relocates_an_in_memory_image_over_its_own_load_address() {
    let mut mem = SparseMem::new();
    let file_len = 520 * SZ_4K + 0x321;
    let file = Region::new(0x4300_0000, 0x4300_0000 + file_len);
    let mut bytes = vec![0u8; file_len as usize];
    synthetic_fill(5, 0, &mut bytes);
    bytes[..ImageHeader::LEN].copy_from_slice(&image_header(0x20_0000, 0x23_0000));
    mem.write_bytes(file.start, &bytes);

    let h = ImageHeader::parse(&bytes).unwrap();
    let seg = h.segment(file, 0x42f0_0000).unwrap();
    assert_eq!(seg.dest, Region::new(0x4320_0000, 0x4343_0000));
    assert!(seg.dest.overlaps(&file));
    let (plan, stats) = relocate_and_check(&mut mem, &env(), &[seg], &PlanOptions::default());
    assert_eq!(stats.sources, 0x230);
    assert_eq!(plan.list_pages().len(), 2);
    let mut got = vec![0u8; file_len as usize];
    mem.read_bytes(seg.dest.start, &mut got);
    assert!(got == bytes);
}

// ---- verification ----

#[test]
fn hash_check_names_the_first_bad_destination_and_guards_the_stray_byte() {
    let mut mem = SparseMem::new();
    let segs = [
        synthetic(PAYLOAD_BASE, 3, 3 * SZ_4K, 1),
        synthetic(PAYLOAD_BASE + 0x10_0000, 2, 5, 2),
    ];
    let table = Region::new(0x4a00_0000, 0x4a00_0000 + 16 * SZ_4K);
    let opts = PlanOptions {
        table: Some(table),
        order: Order::TopDown,
        ..PlanOptions::default()
    };
    let (plan, _) = relocate_and_check(&mut mem, &env(), &segs, &opts);
    let guards = plan.guards();
    for r in [segs[0].dest, segs[1].dest, table] {
        assert!(
            guards.iter().any(|g| g.end == r.start),
            "no guard below {r}"
        );
        assert!(
            guards.iter().any(|g| g.start == r.end),
            "no guard above {r}"
        );
    }

    let hashes: Vec<u64> = hash_pages(&mem, plan.dest_pages());
    mem.write_bytes(PAYLOAD_BASE + 0x10_0000 + SZ_4K + 17, &[0xff]);
    mem.write_bytes(PAYLOAD_BASE + 0x2000, &[0xff]);
    let bad = plan.verify_destinations(&mem, &hashes).unwrap_err();
    assert_eq!(bad.page, PAYLOAD_BASE + 0x2000);
    assert!(
        bad.to_string().starts_with("page 0x41002000: xxh64"),
        "{bad}"
    );

    let stray = segs[1].dest.end + 13;
    mem.write_bytes(stray, &[0]);
    let check = check_guards(&mem, guards);
    assert_eq!(check.first_modified, Some(stray));
    assert_eq!(check.checked, total_len(guards));
}

/// Found by the `segments` fuzz target (fuzz/README.md): next to an edge
/// that is not 8-byte aligned (the end of a DTB whose `totalsize` is not a
/// multiple of 8, like the Pi 4's 27386 bytes, or a RAM bank's end) a guard
/// started or ended mid-word, and `fill_guards`, which writes whole words,
/// wrote past it: into the destination above it (so the copy then
/// "modified the guard") or past the end of RAM.
#[test]
fn guards_are_whole_words_next_to_unaligned_edges() {
    let dtb = Region::new(DTB.start, DTB.start + 27386);
    let ram = Region::new(RAM.start, RAM.end - 3);
    let env = Environment {
        ram: vec![ram],
        dtb,
        ..env()
    };
    let dest = crate::region::align_up(dtb.end, SZ_4K).unwrap();
    let segs = [synthetic(dest, 2, 2 * SZ_4K, 7)];
    let opts = PlanOptions {
        order: Order::TopDown,
        ..PlanOptions::default()
    };
    let mut mem = SparseMem::new();
    let (plan, _) = relocate_and_check(&mut mem, &env, &segs, &opts);
    let guards = plan.guards();
    assert!(guards.iter().all(|g| g.is_aligned(8)), "{guards:?}");
    assert!(
        guards.iter().any(|g| g.end == dest),
        "no guard below {dest:#x}"
    );
    // The top list page's upper guard stops at the last whole word of RAM.
    assert!(guards.iter().any(|g| g.end == ram.end & !7));
    let mut past_ram = [0u8; 8];
    mem.read_bytes(ram.end, &mut past_ram);
    assert_eq!(past_ram, [0; 8], "guard fill wrote past the end of RAM");
}

#[test]
fn contiguous_plan_is_one_window_over_the_sources() {
    const WINDOW: u64 = 0xffff_8000_0000_0000;
    let mut mem = SparseMem::new();
    let segs = [
        synthetic(PAYLOAD_BASE, 3, 3 * SZ_4K - 9, 1),
        synthetic(PAYLOAD_BASE + 0x8000, 1, 1, 2),
    ];
    let e = env();
    let plan = validate(&e, &segs)
        .unwrap()
        .plan(&PlanOptions::default())
        .unwrap();
    plan.load(&mut mem);
    let hashes = plan.hash_sources(&mem);
    let contiguous = plan.contiguous(WINDOW);
    assert_eq!(contiguous.pages, plan.sources());
    assert_eq!(
        contiguous.runs,
        vec![
            CopyRun {
                src_va: WINDOW,
                dest_pa: PAYLOAD_BASE,
                len: 3 * SZ_4K
            },
            CopyRun {
                src_va: WINDOW + 3 * SZ_4K,
                dest_pa: PAYLOAD_BASE + 0x8000,
                len: SZ_4K
            },
        ]
    );
    assert_eq!(core::mem::size_of::<CopyRun>(), 24);
    copy_contiguous(&mut mem, &contiguous);
    assert_eq!(plan.verify_destinations(&mem, &hashes), Ok(4));
}

// ---- properties ----
//
// SparseMem costs about 1 ms per page pass in a debug build, so the
// byte-exact property runs on small payloads while the list-format
// property, which moves no payload, takes multi-page lists.

/// Page counts with 1-page segments, small ones and, when `large`, ones
/// whose list spans several pages.
fn segment_pages(large: bool) -> BoxedStrategy<u64> {
    if large {
        prop_oneof![3 => 1u64..3, 2 => 3u64..40, 2 => 300u64..1200].boxed()
    } else {
        prop_oneof![1u64..3, 3u64..24].boxed()
    }
}

#[derive(Debug, Clone)]
struct Case {
    /// (pages, bytes short of full pages, gap pages after) per segment.
    segs: Vec<(u64, u64, u64)>,
    /// Pages of an in-memory (initrd-like) source segment, if any.
    phys: Option<u64>,
    seed: u64,
    shuffled: bool,
    guard_pages: u64,
    forbid: bool,
}

fn case(large: bool, max_segs: usize) -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec((segment_pages(large), 0u64..SZ_4K, 0u64..3), 0..max_segs),
        proptest::option::weighted(0.3, segment_pages(large)),
        any::<u64>(),
        any::<bool>(),
        0u64..3,
        any::<bool>(),
    )
        .prop_map(|(segs, phys, seed, shuffled, guard_pages, forbid)| Case {
            segs,
            phys,
            seed,
            shuffled,
            guard_pages,
            forbid,
        })
}

impl Case {
    fn initrd(&self) -> Option<Region> {
        self.phys
            .map(|pages| Region::new(INITRD_BASE, INITRD_BASE + pages * SZ_4K - 7))
    }

    fn segments(&self) -> Vec<Segment> {
        let mut cursor = PAYLOAD_BASE;
        let mut segs = Vec::new();
        for (i, &(pages, short, gap)) in self.segs.iter().enumerate() {
            segs.push(synthetic(
                cursor,
                pages,
                pages * SZ_4K - short,
                self.seed.wrapping_add(i as u64),
            ));
            cursor += (pages + gap) * SZ_4K;
        }
        if let (Some(pages), Some(initrd)) = (self.phys, self.initrd()) {
            segs.push(Segment {
                src: SegmentSource::Phys(initrd),
                dest: Region::new(cursor + SZ_4K, cursor + (pages + 1) * SZ_4K),
            });
        }
        segs
    }

    /// Puts the initrd's bytes where the in-memory segment reads them.
    fn write_initrd(&self, mem: &mut SparseMem) {
        if let Some(initrd) = self.initrd() {
            let mut bytes = vec![0u8; initrd.len() as usize];
            synthetic_fill(!self.seed, 0, &mut bytes);
            mem.write_bytes(initrd.start, &bytes);
        }
    }

    fn options(&self) -> PlanOptions {
        PlanOptions {
            forbidden: if self.forbid {
                vec![Region::new(0x4900_0000, 0x4c00_0000)]
            } else {
                vec![]
            },
            table: Some(Region::new(0x4b00_0000, 0x4b04_0000)),
            guard_len: self.guard_pages * SZ_4K,
            order: if self.shuffled {
                Order::Shuffled { seed: self.seed }
            } else {
                Order::TopDown
            },
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Payloads up to thousands of pages: placement holds, the list is well
    /// formed, and walking it (without moving bytes) pairs every source page
    /// with its destination page exactly once, in the same pairs the
    /// contiguous strategy's window resolves to.
    #[test]
    fn list_walk_pairs_every_source_with_its_destination(case in case(true, 6)) {
        let segs = case.segments();
        let e = env();
        let opts = case.options();
        let plan = validate(&e, &segs).unwrap().plan(&opts).unwrap();
        check_placement(&e, &segs, &opts, &plan);
        let mut mem = SparseMem::new();
        let head = plan.write_list(&mut mem);
        check_list_format(&mem, head, &plan);
        let mut walked = Vec::new();
        let stats = walk_list(&mut mem, head, plan.list_entries(), |_, src, dest| walked.push((src, dest))).unwrap();
        let want: Vec<(u64, u64)> = plan.sources().iter().copied().zip(plan.dest_pages()).collect();
        prop_assert_eq!(&walked, &want);
        prop_assert_eq!(stats.indirections, plan.list_pages().len() as u64);
        prop_assert_eq!(plan.contiguous(0).page_copies().collect::<Vec<_>>(), want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Small payloads moved for real: the walk reproduces the payload at
    /// every destination byte and writes nowhere else (all checked in
    /// `relocate_and_check`).
    #[test]
    fn list_walk_is_the_identity_of_the_copy(case in case(false, 4)) {
        let mut mem = SparseMem::new();
        case.write_initrd(&mut mem);
        relocate_and_check(&mut mem, &env(), &case.segments(), &case.options());
    }

    /// Validation accepts exactly the layouts whose destinations are
    /// disjoint, and names an overlapping pair otherwise.
    #[test]
    fn overlap_is_found_whatever_the_order(starts in proptest::collection::vec((0u64..64, 1u64..8), 1..6)) {
        let segs: Vec<Segment> = starts
            .iter()
            .enumerate()
            .map(|(i, &(at, pages))| synthetic(PAYLOAD_BASE + at * SZ_4K, pages, 0, i as u64))
            .collect();
        let disjoint = segs.iter().enumerate().all(|(i, a)| segs[..i].iter().all(|b| !a.dest.overlaps(&b.dest)));
        match validate(&env(), &segs) {
            Ok(_) => prop_assert!(disjoint),
            Err(RelocError::DestOverlap { first, second, first_dest, second_dest }) => {
                prop_assert!(!disjoint && first < second);
                prop_assert!(first_dest.overlaps(&second_dest));
                prop_assert_eq!((segs[first].dest, segs[second].dest), (first_dest, second_dest));
            }
            Err(e) => prop_assert!(false, "{}", e),
        }
    }
}
