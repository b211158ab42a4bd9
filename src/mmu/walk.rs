//! Reading a written map back the way the MMU would: a single-address
//! walk that reports the fault the hardware would take, and a dump of
//! every leaf. Both read only through [`PhysMem`] and never trust the
//! plan, so on the target they can check both the tables in memory and
//! what `AT` says about them.

use super::descriptor::{self, DESCRIPTOR, Descriptor};
use super::layout::{Geometry, LAST_LEVEL};
use super::{BuiltMap, MemKind, Regime};
use crate::physmem::PhysMem;

/// Bytes per descriptor.
const DESCRIPTOR_BYTES: u64 = 8;

/// What a VA translates to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    pub va: u64,
    pub pa: u64,
    pub kind: MemKind,
    /// Level of the leaf descriptor.
    pub level: u8,
    /// Bytes the leaf maps (without the contiguous hint).
    pub leaf_size: u64,
    /// The leaf carries the contiguous hint and its group is consistent.
    pub contiguous: bool,
    pub writable: bool,
    /// Executable at the regime's own EL (PXN at EL1, XN at EL2).
    pub executable: bool,
}

/// Why a walk ended without a translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The VA is at or above 2^(64 - T0SZ).
    OutsideVaRange,
    /// An invalid descriptor (translation fault).
    Invalid { level: u8 },
    /// A block where the granule allows none, or a level-3 descriptor
    /// with bit 1 clear (translation fault).
    Reserved { level: u8 },
    /// A table or output address beyond the map's PA bits (address size
    /// fault).
    AddressSize { level: u8 },
    /// Address bits below the table or leaf size are set.
    MisalignedAddress { level: u8 },
    /// AF clear (access flag fault).
    AccessFlag { level: u8 },
    /// A MAIR slot this module does not program.
    UnknownAttr { index: u64 },
    /// The contiguous hint is set but the aligned group does not map one
    /// aligned output range with identical attributes; the architecture
    /// leaves the result unpredictable, so it counts as a failure.
    BadContiguous { level: u8 },
}

/// Translates `va` through the tables in `mem`.
pub fn walk<M: PhysMem>(mem: &M, map: &BuiltMap, va: u64) -> Option<Translation> {
    walk_detailed(mem, map, va).ok()
}

/// Translates `va`, or says which fault the hardware would take.
pub fn walk_detailed<M: PhysMem>(mem: &M, map: &BuiltMap, va: u64) -> Result<Translation, Fault> {
    let geom = Geometry::of(map.granule);
    if va >> map.va_bits != 0 {
        return Err(Fault::OutsideVaRange);
    }
    let mut table = map.root;
    let mut level = map.start_level;
    loop {
        let index = table_index(geom, level, va);
        let raw = mem.read_u64(table + index * DESCRIPTOR_BYTES);
        let d = Descriptor::new(raw);
        if !d.is_set(DESCRIPTOR::VALID) {
            return Err(Fault::Invalid { level });
        }
        if let Some(next) = next_table(map, geom, level, raw)? {
            table = next;
            level += 1;
            continue;
        }
        let addr = descriptor::address(raw);
        let leaf = decode_leaf(geom, map.regime, level, raw)?;
        let contiguous = d.is_set(DESCRIPTOR::CONTIGUOUS);
        if contiguous {
            check_contiguous(mem, geom, table, level, index, raw)?;
        }
        return Ok(Translation {
            va,
            pa: addr + (va & (leaf.size - 1)),
            kind: leaf.kind,
            level,
            leaf_size: leaf.size,
            contiguous,
            writable: leaf.writable,
            executable: leaf.executable,
        });
    }
}

/// One leaf found by [`for_each_leaf`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leaf {
    pub va: u64,
    pub pa: u64,
    pub level: u8,
    pub size: u64,
    pub kind: MemKind,
    /// The contiguous bit as written (not checked; [`walk_detailed`] checks).
    pub contiguous: bool,
    pub writable: bool,
    pub executable: bool,
}

/// Calls `f` for every leaf of the map in VA order; stops at the first
/// malformed descriptor and returns its fault.
pub fn for_each_leaf<M: PhysMem>(
    mem: &M,
    map: &BuiltMap,
    mut f: impl FnMut(&Leaf),
) -> Result<(), Fault> {
    let geom = Geometry::of(map.granule);
    let root_entries = 1u64 << (map.va_bits - geom.entry_shift(map.start_level));
    visit(
        mem,
        map,
        geom,
        map.root,
        map.start_level,
        0,
        root_entries,
        &mut f,
    )
}

#[allow(clippy::too_many_arguments)]
fn visit<M: PhysMem>(
    mem: &M,
    map: &BuiltMap,
    geom: Geometry,
    table: u64,
    level: u8,
    va_base: u64,
    entries: u64,
    f: &mut impl FnMut(&Leaf),
) -> Result<(), Fault> {
    for index in 0..entries {
        let va = va_base + (index << geom.entry_shift(level));
        let raw = mem.read_u64(table + index * DESCRIPTOR_BYTES);
        let d = Descriptor::new(raw);
        if !d.is_set(DESCRIPTOR::VALID) {
            continue;
        }
        if let Some(next) = next_table(map, geom, level, raw)? {
            visit(mem, map, geom, next, level + 1, va, 1 << geom.stride, f)?;
            continue;
        }
        let addr = descriptor::address(raw);
        let leaf = decode_leaf(geom, map.regime, level, raw)?;
        f(&Leaf {
            va,
            pa: addr,
            level,
            size: leaf.size,
            kind: leaf.kind,
            contiguous: d.is_set(DESCRIPTOR::CONTIGUOUS),
            writable: leaf.writable,
            executable: leaf.executable,
        });
    }
    Ok(())
}

fn table_index(geom: Geometry, level: u8, va: u64) -> u64 {
    (va >> geom.entry_shift(level)) & ((1 << geom.stride) - 1)
}

/// For a valid descriptor: the next table's address if it is a table
/// descriptor, `None` if it must be a leaf. Checks the address either way.
fn next_table(map: &BuiltMap, geom: Geometry, level: u8, raw: u64) -> Result<Option<u64>, Fault> {
    let d = Descriptor::new(raw);
    let addr = descriptor::address(raw);
    if d.read(DESCRIPTOR::ADDR_HIGH) != 0 || addr >> map.pa_bits != 0 {
        return Err(Fault::AddressSize { level });
    }
    if level == LAST_LEVEL || !d.is_set(DESCRIPTOR::TYPE) {
        return Ok(None);
    }
    if !addr.is_multiple_of(geom.table_bytes()) {
        return Err(Fault::MisalignedAddress { level });
    }
    Ok(Some(addr))
}

/// The parts of a leaf descriptor both walkers report.
struct LeafBits {
    size: u64,
    kind: MemKind,
    writable: bool,
    executable: bool,
}

/// Checks a valid non-table descriptor at `level` is a leaf the hardware
/// would use, and decodes it.
fn decode_leaf(geom: Geometry, regime: Regime, level: u8, raw: u64) -> Result<LeafBits, Fault> {
    let d = Descriptor::new(raw);
    let is_page = level == LAST_LEVEL;
    if !geom.is_leaf_level(level) || (is_page && !d.is_set(DESCRIPTOR::TYPE)) {
        return Err(Fault::Reserved { level });
    }
    let size = geom.entry_size(level);
    if !descriptor::address(raw).is_multiple_of(size) {
        return Err(Fault::MisalignedAddress { level });
    }
    if !d.is_set(DESCRIPTOR::AF) {
        return Err(Fault::AccessFlag { level });
    }
    let index = d.read(DESCRIPTOR::ATTR_INDX);
    let kind = descriptor::kind_of_attr(index).ok_or(Fault::UnknownAttr { index })?;
    let writable = d.matches_any(&[DESCRIPTOR::AP::PrivRw, DESCRIPTOR::AP::PrivRwAp1]);
    let executable = match regime {
        Regime::El1 => !d.is_set(DESCRIPTOR::PXN),
        Regime::El2 => !d.is_set(DESCRIPTOR::UXN_XN),
    };
    Ok(LeafBits {
        size,
        kind,
        writable,
        executable,
    })
}

/// The group of a contiguous leaf: every member valid, same attributes
/// (contiguous bit included), output addresses consecutive from a base
/// aligned to the whole group.
fn check_contiguous<M: PhysMem>(
    mem: &M,
    geom: Geometry,
    table: u64,
    level: u8,
    index: u64,
    raw: u64,
) -> Result<(), Fault> {
    let Some(entries) = geom.contig_entries(level) else {
        return Ok(());
    };
    let size = geom.entry_size(level);
    let first = index & !(entries - 1);
    let base = descriptor::address(raw) - (index - first) * size;
    let bad = Fault::BadContiguous { level };
    if !base.is_multiple_of(entries * size) {
        return Err(bad);
    }
    for k in 0..entries {
        let other = mem.read_u64(table + (first + k) * DESCRIPTOR_BYTES);
        let valid = Descriptor::new(other).is_set(DESCRIPTOR::VALID);
        if !valid
            || descriptor::attributes(other) != descriptor::attributes(raw)
            || descriptor::address(other) != base + k * size
        {
            return Err(bad);
        }
    }
    Ok(())
}
