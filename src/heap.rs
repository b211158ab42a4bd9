//! The stage's heap: `linked_list_allocator`'s first-fit `Heap` over the
//! linker-reserved area, behind [`BootCpuCell`] instead of the crate's
//! spinlock. No exclusive-access instructions, so it is safe with the MMU
//! (and the caches) off, when exclusives to non-cacheable memory are not
//! guaranteed to work.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};

use linked_list_allocator::Heap;
use mmu_reloc::region::Region;

use crate::arch::BootCpuCell;

struct StageHeap(BootCpuCell<Heap>);

#[global_allocator]
static HEAP: StageHeap = StageHeap(BootCpuCell::new(Heap::empty()));

/// Hands the allocator `[start, end)`; call once before any allocation.
pub fn init(area: Region) {
    // SAFETY: the linker reserves this area for the heap alone, it is
    // called once, and nothing was allocated before.
    HEAP.0
        .with(|h| unsafe { h.init(area.start as *mut u8, area.len() as usize) });
}

// SAFETY: delegates to linked_list_allocator's Heap, which hands out
// disjoint blocks; access is serialized by the single boot CPU.
unsafe impl GlobalAlloc for StageHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.0.with(|h| {
            h.allocate_first_fit(layout)
                .map_or(ptr::null_mut(), NonNull::as_ptr)
        })
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(p) {
            // SAFETY: `p` came from `alloc` with this layout (GlobalAlloc contract).
            self.0.with(|h| unsafe { h.deallocate(p, layout) });
        }
    }
}
