//! `PhysMem` for the running stage: physical addresses are used as
//! pointers directly, which is right with the MMU off and under the
//! identity map. Callers (the builders) only write where the planners
//! allowed, outside every forbidden range.

use mmu_reloc::physmem::PhysMem;
use mmu_reloc::region::Region;

pub struct IdentityMem;

impl PhysMem for IdentityMem {
    fn read_u64(&self, phys: u64) -> u64 {
        // SAFETY: an 8-byte aligned RAM address chosen by a planner.
        unsafe { (phys as *const u64).read_volatile() }
    }

    fn write_u64(&mut self, phys: u64, value: u64) {
        // SAFETY: as above; the planner placed it outside forbidden ranges.
        unsafe { (phys as *mut u64).write_volatile(value) }
    }

    fn read_bytes(&self, phys: u64, out: &mut [u8]) {
        // SAFETY: RAM chosen by a planner, not overlapping `out`.
        unsafe { core::ptr::copy_nonoverlapping(phys as *const u8, out.as_mut_ptr(), out.len()) }
    }

    fn write_bytes(&mut self, phys: u64, data: &[u8]) {
        // SAFETY: as above.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), phys as *mut u8, data.len()) }
    }

    fn fill(&mut self, phys: u64, len: u64, byte: u8) {
        // SAFETY: as above.
        unsafe { core::ptr::write_bytes(phys as *mut u8, byte, len as usize) }
    }

    /// With the MMU (and so the D-cache) off, a loader or firmware that ran
    /// with caches on may have left dirty lines here: invalidate them
    /// before writing, as Linux does for its early page tables.
    fn claim_fresh(&mut self, phys: u64, len: u64) {
        if !super::mmu::enabled(super::current_regime()) {
            super::mmu::invalidate(Region::new(phys, phys.saturating_add(len)));
        }
    }
}
