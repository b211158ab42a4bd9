//! Checks a segment list against the machine before anything is written,
//! like Linux's `sanity_check_segment_list` plus what a bare-metal stage also
//! has to protect: reserved memory, the DTB and the stage itself.

use alloc::vec::Vec;
use core::fmt;

use super::kimage::list_pages_needed;
use super::pages::free_pages;
use super::segment::{Segment, SegmentSource};
use crate::region::{Region, SZ_4K, align_up, first_overlap, normalize, subtract_all, total_len};

/// The machine the relocation happens on, as the DTB and the linker
/// describe it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environment {
    /// `/memory` banks.
    pub ram: Vec<Region>,
    /// `/reserved-memory` children and `/memreserve/` entries.
    pub reserved: Vec<Region>,
    /// The flattened device tree blob (its `totalsize`).
    pub dtb: Region,
    /// This stage: image, stack, heap.
    pub stage: Vec<Region>,
    /// Bytes of free RAM to keep for the page tables the `mmu` module builds.
    pub table_bytes: u64,
}

impl Environment {
    /// RAM nothing else owns: RAM minus reserved memory, the DTB and the
    /// stage. Destinations must lie here; so must every page the plan takes.
    pub fn usable_ram(&self) -> Vec<Region> {
        let mut holes = self.reserved.clone();
        holes.push(self.dtb);
        holes.extend_from_slice(&self.stage);
        subtract_all(&self.ram, &holes)
    }
}

/// Why a segment list cannot be relocated. Each message names the
/// segment(s), the range and the limit broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelocError {
    EmptySegment {
        index: usize,
        dest: Region,
    },
    DestUnaligned {
        index: usize,
        dest: Region,
    },
    SourceTooLarge {
        index: usize,
        dest: Region,
        src_len: u64,
    },
    /// `ram`: the bank the range starts in, if any.
    SourceOutsideRam {
        index: usize,
        src: Region,
        ram: Option<Region>,
    },
    DestOutsideRam {
        index: usize,
        dest: Region,
        ram: Option<Region>,
    },
    OverReserved {
        index: usize,
        dest: Region,
        reserved: Region,
    },
    OverDtb {
        index: usize,
        dest: Region,
        dtb: Region,
    },
    OverStage {
        index: usize,
        dest: Region,
        stage: Region,
    },
    /// `first < second`.
    DestOverlap {
        first: usize,
        second: usize,
        first_dest: Region,
        second_dest: Region,
    },
    /// `needed` = (`source_pages` + `list_pages`) pages + `table_bytes`.
    OutOfMemory {
        needed: u64,
        available: u64,
        source_pages: u64,
        list_pages: u64,
        table_bytes: u64,
    },
}

impl fmt::Display for RelocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RelocError::*;
        match *self {
            EmptySegment { index, dest } => write!(
                f,
                "segment {index}: destination {dest} is empty (limit: at least one {SZ_4K:#x}-byte page)"
            ),
            DestUnaligned { index, dest } => write!(
                f,
                "segment {index}: destination {dest} is not page-aligned (limit: start and end multiples of {SZ_4K:#x})"
            ),
            SourceTooLarge {
                index,
                dest,
                src_len,
            } => write!(
                f,
                "segment {index}: source of {src_len:#x} bytes does not fit destination {dest} (limit: {:#x} bytes)",
                dest.len()
            ),
            SourceOutsideRam { index, src, ram } => {
                write!(f, "segment {index}: source {src} ")?;
                outside_ram(f, ram)
            }
            DestOutsideRam { index, dest, ram } => {
                write!(f, "segment {index}: destination {dest} ")?;
                outside_ram(f, ram)
            }
            OverReserved {
                index,
                dest,
                reserved,
            } => write!(
                f,
                "segment {index}: destination {dest} overlaps reserved memory {reserved}"
            ),
            OverDtb { index, dest, dtb } => {
                write!(
                    f,
                    "segment {index}: destination {dest} overlaps the DTB {dtb}"
                )
            }
            OverStage { index, dest, stage } => write!(
                f,
                "segment {index}: destination {dest} overlaps this stage {stage}"
            ),
            DestOverlap {
                first,
                second,
                first_dest,
                second_dest,
            } => write!(
                f,
                "segments {first} and {second}: destinations {first_dest} and {second_dest} overlap"
            ),
            OutOfMemory {
                needed,
                available,
                source_pages,
                list_pages,
                table_bytes,
            } => write!(
                f,
                "not enough free RAM: {needed:#x} bytes needed ({source_pages} source pages + \
                 {list_pages} list pages + {table_bytes:#x} bytes of page tables), {available:#x} available"
            ),
        }
    }
}

fn outside_ram(f: &mut fmt::Formatter<'_>, ram: Option<Region>) -> fmt::Result {
    match ram {
        Some(bank) => write!(f, "runs past the end of RAM bank {bank}"),
        None => write!(f, "does not start in RAM"),
    }
}

/// A segment list that passed [`validate`]: it can be planned.
#[derive(Clone, Copy, Debug)]
pub struct Validated<'a> {
    pub(super) env: &'a Environment,
    pub(super) segments: &'a [Segment],
    source_pages: u64,
    list_pages: u64,
}

impl<'a> Validated<'a> {
    pub fn segments(&self) -> &'a [Segment] {
        self.segments
    }

    /// Source pages the payload needs: one per destination page.
    pub fn source_pages(&self) -> u64 {
        self.source_pages
    }

    /// Indirection pages the kimage list needs.
    pub fn list_pages(&self) -> u64 {
        self.list_pages
    }
}

/// Memory the payload itself pins while it is planned: destinations (no
/// source or list page may land there) and in-memory sources (read after the
/// pages are chosen).
pub(super) fn payload_holes(segments: &[Segment]) -> Vec<Region> {
    let mut holes: Vec<Region> = segments.iter().map(|s| s.dest).collect();
    holes.extend(segments.iter().filter_map(|s| match s.src {
        SegmentSource::Phys(r) => Some(r),
        SegmentSource::Synthetic { .. } => None,
    }));
    holes
}

/// Checks every segment against `env`, then the list as a whole, then that
/// free RAM holds the sources, the list pages and `env.table_bytes`. The
/// first violation found is returned; nothing is written.
pub fn validate<'a>(
    env: &'a Environment,
    segments: &'a [Segment],
) -> Result<Validated<'a>, RelocError> {
    let mut ram = env.ram.clone();
    normalize(&mut ram);
    let bank_of = |r: &Region| ram.iter().find(|b| b.contains(r.start)).copied();
    for (index, seg) in segments.iter().enumerate() {
        let dest = seg.dest;
        if dest.is_empty() {
            return Err(RelocError::EmptySegment { index, dest });
        }
        if !dest.is_aligned(SZ_4K) {
            return Err(RelocError::DestUnaligned { index, dest });
        }
        if seg.src.len() > dest.len() {
            let src_len = seg.src.len();
            return Err(RelocError::SourceTooLarge {
                index,
                dest,
                src_len,
            });
        }
        if let SegmentSource::Phys(src) = seg.src
            && !bank_of(&src).is_some_and(|b| b.covers(&src))
        {
            let ram = bank_of(&src);
            return Err(RelocError::SourceOutsideRam { index, src, ram });
        }
        if !bank_of(&dest).is_some_and(|b| b.covers(&dest)) {
            let ram = bank_of(&dest);
            return Err(RelocError::DestOutsideRam { index, dest, ram });
        }
        if let Some(&reserved) = env.reserved.iter().find(|r| r.overlaps(&dest)) {
            return Err(RelocError::OverReserved {
                index,
                dest,
                reserved,
            });
        }
        if env.dtb.overlaps(&dest) {
            let dtb = env.dtb;
            return Err(RelocError::OverDtb { index, dest, dtb });
        }
        if let Some(&stage) = env.stage.iter().find(|r| r.overlaps(&dest)) {
            return Err(RelocError::OverStage { index, dest, stage });
        }
    }

    let dests: Vec<Region> = segments.iter().map(|s| s.dest).collect();
    if let Some((a, b)) = first_overlap(&dests) {
        let first = dests.iter().position(|d| *d == a).unwrap_or_default();
        let second = (0..dests.len())
            .find(|&i| i != first && dests[i] == b)
            .unwrap_or_default();
        let (first, second) = (first.min(second), first.max(second));
        return Err(RelocError::DestOverlap {
            first,
            second,
            first_dest: dests[first],
            second_dest: dests[second],
        });
    }

    let source_pages: u64 = segments.iter().map(Segment::pages).sum();
    let list_pages = list_pages_needed(source_pages, segments.len() as u64);
    let table_bytes = align_up(env.table_bytes, SZ_4K).unwrap_or(u64::MAX);
    let needed = (source_pages + list_pages)
        .saturating_mul(SZ_4K)
        .saturating_add(table_bytes);
    let available = total_len(&free_pages(&env.usable_ram(), &payload_holes(segments)));
    if needed > available {
        return Err(RelocError::OutOfMemory {
            needed,
            available,
            source_pages,
            list_pages,
            table_bytes,
        });
    }
    Ok(Validated {
        env,
        segments,
        source_pages,
        list_pages,
    })
}
