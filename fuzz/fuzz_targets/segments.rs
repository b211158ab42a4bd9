//! Arbitrary machines (RAM banks, reserved memory, DTB, stage) and segment
//! lists through `relocate::validate`, then `plan` with a seed or top-down.
//! Never a panic; and for every accepted plan:
//! - exactly `source_pages` sources and `list_pages` list pages, distinct
//!   and page-aligned, each wholly inside usable RAM and outside every
//!   destination, reserved range, the DTB, the stage, `forbidden`, the
//!   table area, in-memory sources and every guard;
//! - guards are whole 8-byte words, lie in usable RAM and miss everything
//!   the copy touches, and filling them writes nothing outside them;
//! - in a sparse memory: `load` + `write_list` write only source and list
//!   pages (and the pre-filled in-memory sources), the sources hold the
//!   payload, the list walk (the host model of `relocate_kernel.S`) makes
//!   exactly the copies the contiguous strategy makes, reads
//!   `list_entries` entries, leaves every destination page equal to its
//!   payload page, leaves every guard byte intact and writes nothing but
//!   destinations.
//!
//! Sizes stay small: plans above `MAX_PLAN_PAGES` pages are only validated,
//! and only plans up to `MAX_SIM_PAGES` pages and `MAX_GUARD_BYTES` of
//! guards are run in memory.
#![no_main]

use std::collections::HashSet;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mmu_reloc::physmem::PhysMem;
use mmu_reloc::region::{Region, SZ_4K, total_len};
use mmu_reloc::relocate::{
    Environment, IND_DONE, Order, PlanOptions, Segment, SegmentSource, check_guards, fill_guards,
    validate, walk_list, xxh64,
};
use mmu_reloc_fuzz::{HashMem, page_hits};

const MAX_PLAN_PAGES: u64 = 4096;
const MAX_SIM_PAGES: u64 = 1200;
const MAX_GUARD_BYTES: u64 = 1 << 20;
const PAGE: usize = SZ_4K as usize;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Addr {
    /// A page number (up to 16 TiB).
    Page(u32),
    /// Inside a RAM bank: page `page` (modulo the bank's pages) above its
    /// page-rounded start, plus `byte` bytes (0 keeps it aligned).
    Bank {
        bank: u8,
        page: u16,
        byte: u16,
    },
    Raw(u64),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Len {
    Pages(u16),
    Bytes(u32),
    Raw(u64),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
struct Span {
    start: Addr,
    len: Len,
}

#[derive(Arbitrary, Debug)]
enum Src {
    /// As long as the destination.
    Full {
        seed: u64,
    },
    Synthetic {
        len: Len,
        seed: u64,
    },
    Phys(Span),
    /// In memory in a RAM bank, `short` bytes (modulo) shorter than the
    /// destination.
    PhysInBank {
        at: Addr,
        short: u32,
    },
}

#[derive(Arbitrary, Debug)]
enum Dest {
    /// `gap` pages above the previous segment's destination (the first:
    /// above the first bank's page-rounded start), `pages % 1536 + 1`
    /// pages long: valid layouts are easy to reach.
    Next {
        gap: u8,
        pages: u16,
    },
    Anywhere(Span),
}

#[derive(Arbitrary, Debug)]
struct Seg {
    dest: Dest,
    src: Src,
}

#[derive(Arbitrary, Debug)]
enum ArbOrder {
    TopDown,
    Shuffled(u64),
}

#[derive(Arbitrary, Debug)]
struct Input {
    ram: Vec<Span>,
    reserved: Vec<Span>,
    dtb: Span,
    stage: Vec<Span>,
    table_bytes: u32,
    segments: Vec<Seg>,
    forbidden: Vec<Span>,
    table: Option<Span>,
    guard: Len,
    order: ArbOrder,
}

impl Len {
    fn bytes(self) -> u64 {
        match self {
            Len::Pages(p) => u64::from(p) * SZ_4K,
            Len::Bytes(b) => u64::from(b),
            Len::Raw(r) => r,
        }
    }
}

fn resolve(s: Span, ram: &[Region]) -> Region {
    let start = match s.start {
        Addr::Page(p) => u64::from(p) * SZ_4K,
        Addr::Bank { bank, page, byte } => match ram.get(usize::from(bank) % ram.len().max(1)) {
            Some(b) => {
                let base = b.start.wrapping_add(SZ_4K - 1) & !(SZ_4K - 1);
                let pages = (b.end.saturating_sub(base) / SZ_4K).max(1);
                base.wrapping_add(u64::from(page) % pages * SZ_4K)
                    .wrapping_add(u64::from(byte))
            }
            None => u64::from(page) * SZ_4K + u64::from(byte),
        },
        Addr::Raw(r) => r,
    };
    Region::new(start, start.saturating_add(s.len.bytes()))
}

fn page_in(page: u64, regions: &[Region]) -> bool {
    let p = Region::new(page, page + SZ_4K);
    regions.iter().any(|r| r.covers(&p))
}

fuzz_target!(|input: Input| {
    let ram: Vec<Region> = input.ram.iter().take(4).map(|s| resolve(*s, &[])).collect();
    let r = |v: &[Span], n: usize| -> Vec<Region> {
        v.iter().take(n).map(|s| resolve(*s, &ram)).collect()
    };
    let env = Environment {
        reserved: r(&input.reserved, 4),
        dtb: resolve(input.dtb, &ram),
        stage: r(&input.stage, 3),
        table_bytes: u64::from(input.table_bytes),
        ram: ram.clone(),
    };
    let mut prev = None;
    let segments: Vec<Segment> = input
        .segments
        .iter()
        .take(6)
        .map(|s| {
            let dest = match s.dest {
                Dest::Next { gap, pages } => {
                    let base = prev
                        .or(ram
                            .first()
                            .and_then(|b| b.shrink_to(SZ_4K))
                            .map(|b| b.start))
                        .unwrap_or(0);
                    let start = base.saturating_add(u64::from(gap) * SZ_4K);
                    let len = (u64::from(pages) % 1536 + 1) * SZ_4K;
                    Region::new(start, start.saturating_add(len))
                }
                Dest::Anywhere(span) => resolve(span, &ram),
            };
            prev = Some(dest.end);
            let src = match s.src {
                Src::Full { seed } => SegmentSource::Synthetic {
                    len: dest.len(),
                    seed,
                },
                Src::Synthetic { len, seed } => SegmentSource::Synthetic {
                    len: len.bytes(),
                    seed,
                },
                Src::Phys(span) => SegmentSource::Phys(resolve(span, &ram)),
                Src::PhysInBank { at, short } => {
                    let len = dest.len() - u64::from(short) % dest.len().max(1);
                    SegmentSource::Phys(resolve(
                        Span {
                            start: at,
                            len: Len::Raw(len),
                        },
                        &ram,
                    ))
                }
            };
            Segment { src, dest }
        })
        .collect();

    let Ok(ok) = validate(&env, &segments) else {
        return;
    };
    if ok.source_pages() > MAX_PLAN_PAGES {
        return;
    }
    let opts = PlanOptions {
        forbidden: r(&input.forbidden, 3),
        table: input.table.map(|t| resolve(t, &ram)),
        guard_len: input.guard.bytes(),
        order: match input.order {
            ArbOrder::TopDown => Order::TopDown,
            ArbOrder::Shuffled(seed) => Order::Shuffled { seed },
        },
    };
    let Ok(plan) = ok.plan(&opts) else { return };

    // ------------------------------------------------------ placement
    let sources = plan.sources();
    let lists = plan.list_pages();
    assert_eq!(sources.len() as u64, ok.source_pages());
    assert_eq!(lists.len() as u64, ok.list_pages());
    let usable = env.usable_ram();
    let dests: Vec<Region> = segments.iter().map(|s| s.dest).collect();
    let phys_srcs: Vec<Region> = segments
        .iter()
        .filter_map(|s| match s.src {
            SegmentSource::Phys(r) => Some(r),
            SegmentSource::Synthetic { .. } => None,
        })
        .collect();
    let mut keep_out: Vec<Region> = dests.clone();
    keep_out.extend_from_slice(&env.reserved);
    keep_out.push(env.dtb);
    keep_out.extend_from_slice(&env.stage);
    keep_out.extend_from_slice(&opts.forbidden);
    keep_out.extend(opts.table);
    keep_out.extend_from_slice(&phys_srcs);
    keep_out.extend_from_slice(plan.guards());
    let mut seen = HashSet::new();
    for &p in sources.iter().chain(lists) {
        assert_eq!(p % SZ_4K, 0, "page {p:#x} unaligned");
        assert!(seen.insert(p), "page {p:#x} handed out twice");
        assert!(page_in(p, &usable), "page {p:#x} outside usable RAM");
        assert!(!page_hits(p, &keep_out), "page {p:#x} in a kept-out range");
    }
    let mut touched: Vec<Region> = dests.clone();
    touched.extend(opts.table);
    touched.extend_from_slice(&opts.forbidden);
    touched.extend_from_slice(&phys_srcs);
    for g in plan.guards() {
        assert!(
            !g.is_empty() && g.is_aligned(8),
            "guard {g} not whole words"
        );
        assert!(
            usable.iter().any(|u| u.covers(g)),
            "guard {g} outside usable RAM"
        );
        assert!(
            !touched.iter().any(|t| t.overlaps(g)),
            "guard {g} over a used range"
        );
    }
    let dest_pages: Vec<u64> = plan.dest_pages().collect();
    assert_eq!(dest_pages.len(), sources.len());
    let contiguous = plan.contiguous(0);
    let planned: Vec<(u64, u64)> = contiguous.page_copies().collect();
    let expected_copies: Vec<(u64, u64)> = sources
        .iter()
        .copied()
        .zip(dest_pages.iter().copied())
        .collect();
    assert_eq!(planned, expected_copies);

    if ok.source_pages() > MAX_SIM_PAGES || total_len(plan.guards()) > MAX_GUARD_BYTES {
        return;
    }

    // ------------------------------------------------------ simulation
    let mut mem = HashMem::new();
    for r in &phys_srcs {
        let mut a = r.start;
        while a < r.end {
            let n = (r.end - a).min(SZ_4K - a % SZ_4K);
            let bytes: Vec<u8> = (a..a + n).map(|x| (x ^ (x >> 12) ^ 0xa5) as u8).collect();
            mem.write_bytes(a, &bytes);
            a += n;
        }
    }
    let prefilled: HashSet<u64> = mem.written_pages().collect();
    let mut want = Vec::with_capacity(dest_pages.len());
    let mut page = [0u8; PAGE];
    for s in &segments {
        for k in 0..s.pages() {
            s.page_content(&mem, k, &mut page);
            want.push(xxh64(&page, 0));
        }
    }

    plan.load(&mut mem);
    let head = plan.write_list(&mut mem);
    if segments.is_empty() {
        assert_eq!(head, IND_DONE);
    }
    let allowed: HashSet<u64> = prefilled
        .iter()
        .copied()
        .chain(sources.iter().copied())
        .chain(lists.iter().copied())
        .collect();
    for p in mem.written_pages() {
        assert!(allowed.contains(&p), "load/write_list wrote page {p:#x}");
    }
    let hashes = plan.hash_sources(&mem);
    assert_eq!(hashes, want, "sources do not hold the payload");

    // The fill writes whole words: nothing just outside a guard changes.
    let outside: Vec<u64> = plan
        .guards()
        .iter()
        .flat_map(|g| (g.start.saturating_sub(8)..g.start).chain(g.end..g.end.saturating_add(8)))
        .filter(|&a| !plan.guards().iter().any(|g| g.contains(a)))
        .collect();
    let byte = |mem: &HashMem, a: u64| {
        let mut b = [0u8];
        mem.read_bytes(a, &mut b);
        b[0]
    };
    let outside_before: Vec<u8> = outside.iter().map(|&a| byte(&mem, a)).collect();
    fill_guards(&mut mem, plan.guards());
    let outside_after: Vec<u8> = outside.iter().map(|&a| byte(&mem, a)).collect();
    assert_eq!(
        outside_before, outside_after,
        "fill_guards wrote outside a guard"
    );
    let before: HashSet<u64> = mem.written_pages().collect();
    let mut copies = Vec::with_capacity(sources.len());
    let stats = walk_list(&mut mem, head, plan.list_entries(), |m, src, dest| {
        copies.push((src, dest));
        let mut buf = [0u8; PAGE];
        m.read_bytes(src, &mut buf);
        m.write_bytes(dest, &buf);
    })
    .expect("the list terminates within list_entries");
    assert_eq!(
        copies, expected_copies,
        "list walk and contiguous runs disagree"
    );
    assert_eq!(stats.sources, sources.len() as u64);
    assert_eq!(stats.entries, plan.list_entries());
    if !segments.is_empty() {
        assert_eq!(stats.destinations, segments.len() as u64);
        assert_eq!(stats.indirections, lists.len() as u64);
    }
    assert_eq!(
        plan.verify_destinations(&mem, &hashes),
        Ok(dest_pages.len() as u64)
    );
    let g = check_guards(&mem, plan.guards());
    assert!(g.is_clean(), "guard byte {:?} modified", g.first_modified);
    assert_eq!(g.checked, total_len(plan.guards()));
    let dest_set: HashSet<u64> = dest_pages.iter().copied().collect();
    for p in mem.written_pages() {
        assert!(
            before.contains(&p) || dest_set.contains(&p),
            "copy wrote page {p:#x}"
        );
    }
});
