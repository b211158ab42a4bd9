//! Stage 1 page tables for the throwaway maps this stage runs under: the
//! identity map of RAM and devices, and a second map that also lays
//! scattered source pages out contiguously in VA.
//!
//! Pure logic, host-tested: it plans a layout (leaf sizes, contiguous
//! hints, T0SZ, start level), counts the tables that layout needs, carves
//! them top-down out of free RAM, writes them through [`PhysMem`], and walks
//! them back the way the hardware would. It owns no system register and
//! contains no `unsafe`: the arch code programs MAIR/TCR/TTBR0 from
//! [`MAIR_VALUE`] and a [`BuiltMap`], and checks the live map with `AT`
//! against [`probes`].
//!
//! - `descriptor`: descriptor bits, MAIR slots, encoding and decoding.
//! - `layout`: granule geometry, input checks, leaf choice, table counting.
//! - `build`: table-area placement and table writing.
//! - `walk`: the hardware-style walker and a whole-map leaf dump.
//! - `probe`: addresses worth checking and what they must translate to.
//!
//! Conventions: a "level-L table" is indexed by VA bits of level L; a
//! table is named by `(level, va >> entry_shift(level - 1))`, the VA range
//! of the parent entry that points at it. Tables are never shared.
//!
//! [`PhysMem`]: crate::physmem::PhysMem

extern crate alloc;

mod build;
mod descriptor;
mod layout;
#[cfg(any(test, feature = "sim"))]
pub mod oracle;
mod probe;
mod walk;

/// Entries in a 4 KiB-granule table.
const ENTRIES_4K: u64 = 512;
/// Tables above L2 a window may add (an L1 and an L0 of its own), with
/// room for a window that does not start on a table boundary.
pub const WINDOW_SPARE_TABLES: u64 = 4;

/// The most 4 KiB-granule tables a window of `pages` 4 KiB pages adds to
/// a map (the contiguous strategy's window over scattered sources): one L3
/// per 512 pages, one L2 per 512 L3s, and [`WINDOW_SPARE_TABLES`]. The
/// stage reserves this before the sources are placed, so it must bound
/// the real count whatever the placement (host-tested against
/// [`count_tables`]).
pub const fn window_tables_max(pages: u64) -> u64 {
    pages.div_ceil(ENTRIES_4K) + pages.div_ceil(ENTRIES_4K * ENTRIES_4K) + WINDOW_SPARE_TABLES
}

#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use core::fmt;

use crate::cpu::CpuInfo;
use crate::region::{Region, normalize};

pub use crate::cpu::Granule;
pub use build::{BuiltMap, LeafCount, build, place_tables};
pub use descriptor::{
    ATTR_DEVICE_NGNRE, ATTR_NORMAL_WB, DESCRIPTOR, MAIR_DEVICE_NGNRE, MAIR_NORMAL_WB, MAIR_VALUE,
};
pub use layout::{MAX_T0SZ, MAX_VA_BITS, MIN_T0SZ, Plan, count_tables, leaf_sizes, min_tables};
pub use probe::{Expected, Probe, SplitMix64, expected, probes};
pub use walk::{Fault, Leaf, Translation, for_each_leaf, walk, walk_detailed};

/// What a mapping points at; decides the MAIR slot, shareability and
/// execute permission of its leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemKind {
    /// Write-back cacheable RAM, inner shareable, executable.
    Normal,
    /// Device-nGnRE, execute-never.
    Device,
}

impl MemKind {
    /// The MAIR attribute byte its leaves select, as `AT` reports it in
    /// PAR_ELx.ATTR.
    pub const fn mair_attr(self) -> u8 {
        match self {
            MemKind::Normal => MAIR_NORMAL_WB,
            MemKind::Device => MAIR_DEVICE_NGNRE,
        }
    }
}

/// The translation regime the tables are written for. The stage runs at
/// EL1 or at EL2 with `HCR_EL2.E2H = 0`; the two differ in the `AP[1]` and
/// execute-never bits of a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Regime {
    /// EL1&0: two VA ranges, PXN (bit 53) and UXN (bit 54).
    El1,
    /// EL2 with E2H = 0: one VA range, `AP[1]` is RES1, XN is bit 54 and bit 53
    /// is RES0.
    El2,
}

impl Regime {
    /// The exception level the stage runs at in this regime.
    pub const fn el(self) -> u8 {
        match self {
            Regime::El1 => 1,
            Regime::El2 => 2,
        }
    }
}

/// One VA range and where it goes. `va == pa` marks an identity mapping,
/// which the builder rounds to the granule (RAM inward, devices outward);
/// any other mapping must be granule-aligned in `va`, `pa` and `len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mapping {
    pub va: u64,
    pub pa: u64,
    pub len: u64,
    pub kind: MemKind,
}

impl Mapping {
    /// The identity map of `ram` (Normal) and `devices` (Device). Regions
    /// may be unaligned, overlap or touch: each list is merged here, then
    /// the builder shrinks RAM to the granule (a partial granule of RAM is
    /// left unmapped rather than mapping whatever shares it) and grows
    /// devices to it (devices sharing a granule end up in one mapping).
    pub fn identity(ram: &[Region], devices: &[Region]) -> Vec<Mapping> {
        // Merge first, so a bank split at an unaligned address loses nothing
        // at the seam when rounded.
        let merged = |regions: &[Region]| {
            let mut v = regions.to_vec();
            normalize(&mut v);
            v
        };
        let one = |kind: MemKind| {
            move |r: Region| Mapping {
                va: r.start,
                pa: r.start,
                len: r.len(),
                kind,
            }
        };
        merged(ram)
            .into_iter()
            .map(one(MemKind::Normal))
            .chain(merged(devices).into_iter().map(one(MemKind::Device)))
            .collect()
    }

    /// `pages[i]` (each `page_size` bytes, physical) at
    /// `virt_base + i * page_size`, one mapping per physically contiguous
    /// run so the builder may use larger leaves where VA and PA alignment
    /// both allow.
    pub fn pages(virt_base: u64, pages: &[u64], page_size: u64, kind: MemKind) -> Vec<Mapping> {
        let mut out: Vec<Mapping> = Vec::new();
        for (i, &phys) in pages.iter().enumerate() {
            let virt = virt_base.wrapping_add(i as u64 * page_size);
            match out.last_mut() {
                Some(m) if m.va + m.len == virt && m.pa + m.len == phys => m.len += page_size,
                _ => out.push(Mapping {
                    va: virt,
                    pa: phys,
                    len: page_size,
                    kind,
                }),
            }
        }
        out
    }

    /// `[va, va + len)`, or `None` when that overflows.
    pub fn virt(&self) -> Option<Region> {
        Region::from_len(self.va, self.len)
    }
}

/// The caller's choices for one map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub granule: Granule,
    /// Largest leaf allowed, in bytes; must be one of [`leaf_sizes`] for
    /// the granule. `None`: the largest the granule has.
    pub max_leaf: Option<u64>,
    /// Set the contiguous hint on every aligned run that allows it.
    pub contig: bool,
}

/// What the CPU and the current exception level allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Machine {
    /// From ID_AA64MMFR0_EL1.PARange: 32, 36, 40, 42, 44, 48, 52 or 56.
    /// Anything above 48 is used as 48 (no LPA/LPA2).
    pub pa_bits: u32,
    /// Supported stage 1 granules, indexed like `Granule::ALL`.
    pub granules: [bool; 3],
    pub regime: Regime,
}

impl Machine {
    pub fn from_cpu(cpu: &CpuInfo, regime: Regime) -> Self {
        Machine {
            pa_bits: cpu.pa_bits,
            granules: cpu.granules,
            regime,
        }
    }
}

/// Why a map cannot be planned, placed or written. Each names the value
/// at fault and what would have been accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MmuError {
    /// The CPU does not implement this granule.
    GranuleUnsupported {
        granule: Granule,
        supported: [bool; 3],
    },
    /// `max_leaf` is not a leaf size of the granule.
    BadMaxLeaf { granule: Granule, max_leaf: u64 },
    /// `pa_bits` is not a PARange size.
    BadPaBits { pa_bits: u32 },
    /// A mapping's `va + len` or `pa + len` wraps.
    Overflow { mapping: Mapping },
    /// A non-identity mapping whose `va`, `pa` or `len` is not a multiple
    /// of the granule.
    Misaligned { mapping: Mapping, granule: Granule },
    /// Two mappings claim the same VA with different kinds or targets.
    Overlap { first: Mapping, second: Mapping },
    /// The highest mapped VA needs more than [`MAX_VA_BITS`].
    VaTooLarge { va: u64 },
    /// The highest mapped PA needs more bits than the machine has.
    PaTooLarge { pa: u64, pa_bits: u32 },
    /// No aligned free range big enough for the tables.
    NoRoomForTables { needed: u64, largest: u64 },
    /// The writer needed more tables than were counted: a bug, reported
    /// instead of writing past the table area.
    TableOverrun { counted: usize },
}

impl fmt::Display for MmuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MmuError::GranuleUnsupported { granule, supported } => {
                write!(
                    f,
                    "granule {granule} is not supported by this CPU (supported:"
                )?;
                let mut any = false;
                for g in Granule::ALL.into_iter().filter(|g| supported[*g as usize]) {
                    write!(f, " {g}")?;
                    any = true;
                }
                f.write_str(if any { ")" } else { " none)" })
            }
            MmuError::BadMaxLeaf { granule, max_leaf } => {
                write!(
                    f,
                    "max leaf {max_leaf:#x} is not a leaf size of the {granule} granule (allowed:"
                )?;
                for size in leaf_sizes(granule) {
                    write!(f, " {size:#x}")?;
                }
                f.write_str(")")
            }
            MmuError::BadPaBits { pa_bits } => {
                write!(
                    f,
                    "physical address size {pa_bits} bits is not a PARange size (32, 36, 40, 42, 44, 48, 52, 56)"
                )
            }
            MmuError::Overflow { mapping: m } => {
                write!(
                    f,
                    "mapping va {:#x} pa {:#x} len {:#x} wraps the address space",
                    m.va, m.pa, m.len
                )
            }
            MmuError::Misaligned {
                mapping: m,
                granule,
            } => write!(
                f,
                "mapping va {:#x} -> pa {:#x} len {:#x} is not aligned to the {granule} granule (only identity mappings are rounded)",
                m.va, m.pa, m.len
            ),
            MmuError::Overlap {
                first: a,
                second: b,
            } => write!(
                f,
                "mappings overlap in VA: va {:#x} len {:#x} -> pa {:#x} {:?} and va {:#x} len {:#x} -> pa {:#x} {:?}",
                a.va, a.len, a.pa, a.kind, b.va, b.len, b.pa, b.kind
            ),
            MmuError::VaTooLarge { va } => {
                write!(f, "VA {va:#x} needs more than {MAX_VA_BITS} bits (no LPA2)")
            }
            MmuError::PaTooLarge { pa, pa_bits } => {
                write!(
                    f,
                    "PA {pa:#x} needs more than the CPU's {pa_bits} physical address bits"
                )
            }
            MmuError::NoRoomForTables { needed, largest } => write!(
                f,
                "page tables need {needed:#x} bytes of aligned free RAM; the largest aligned free range is {largest:#x} bytes"
            ),
            MmuError::TableOverrun { counted } => {
                write!(
                    f,
                    "page-table writer needed more than the {counted} tables counted (bug)"
                )
            }
        }
    }
}
