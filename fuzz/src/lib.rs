//! Shared by the fuzz targets: the library's sparse simulated memory
//! (`physmem::sim::SparseMem`, exposed by the `sim` feature), which records
//! every page written so a target can assert that a builder wrote nowhere
//! it should not, and a page/region overlap helper.

use mmu_reloc::region::Region;

pub use mmu_reloc::physmem::sim::SparseMem as HashMem;

const PAGE: u64 = 4096;

/// Whether the page at `page` (4 KiB) shares a byte with any of `regions`.
pub fn page_hits(page: u64, regions: &[Region]) -> bool {
    let p = Region::new(page, page.saturating_add(PAGE));
    regions.iter().any(|r| r.overlaps(&p))
}
