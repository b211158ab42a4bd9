//! Guard pages: free memory next to what the copy touches, filled with a
//! known pattern before and checked after, so a copy that strays past a
//! destination (or a page-table bug that aims it elsewhere) shows up as the
//! first modified address. Which regions are guards is decided by the plan.

use alloc::vec::Vec;

use crate::physmem::PhysMem;
use crate::region::Region;

/// Mixed with each word's address so a guard word copied elsewhere no
/// longer matches there.
pub const GUARD_MAGIC: u64 = 0x6775_6172_6450_6147;

/// Guards start and end on this boundary: [`fill_guards`] and
/// [`check_guards`] work in whole words.
pub(super) const GUARD_WORD_BYTES: u64 = 8;

/// The word a guard holds at `addr` (8-byte aligned).
pub const fn guard_word(addr: u64) -> u64 {
    GUARD_MAGIC ^ addr
}

/// The `len` bytes just below and just above each region, clipped at the
/// address-space edges.
pub(super) fn halos(regions: &[Region], len: u64) -> Vec<Region> {
    regions
        .iter()
        .flat_map(|r| {
            [
                Region::new(r.start.saturating_sub(len), r.start),
                Region::new(r.end, r.end.saturating_add(len)),
            ]
        })
        .filter(|r| !r.is_empty())
        .collect()
}

/// Writes the guard pattern over every guard region (8-byte aligned).
pub fn fill_guards(mem: &mut impl PhysMem, guards: &[Region]) {
    for g in guards {
        for addr in (g.start..g.end).step_by(8) {
            mem.write_u64(addr, guard_word(addr));
        }
    }
}

/// The outcome of [`check_guards`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuardCheck {
    /// Bytes compared: every guard byte.
    pub checked: u64,
    /// The lowest-addressed byte (in guard order) that no longer holds the
    /// pattern.
    pub first_modified: Option<u64>,
}

impl GuardCheck {
    pub fn is_clean(&self) -> bool {
        self.first_modified.is_none()
    }
}

/// Compares every guard byte against the pattern [`fill_guards`] wrote.
pub fn check_guards(mem: &impl PhysMem, guards: &[Region]) -> GuardCheck {
    let mut out = GuardCheck::default();
    for g in guards {
        for addr in (g.start..g.end).step_by(8) {
            let diff = mem.read_u64(addr) ^ guard_word(addr);
            if diff != 0 && out.first_modified.is_none() {
                // Little-endian: the lowest differing byte is the lowest set bit's.
                out.first_modified = Some(addr + u64::from(diff.trailing_zeros() / 8));
            }
        }
        out.checked += g.len();
    }
    out
}
