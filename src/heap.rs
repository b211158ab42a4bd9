//! The stage's heap: a bump allocator over the linker-reserved area. Frees
//! and grows in place only for the most recent block, which is all the
//! stage's allocation pattern (build, use, drop in order) needs. No locks:
//! only the boot CPU runs Rust (see `board::BootCpuCell`).

use core::alloc::{GlobalAlloc, Layout};
use core::ptr;

use crate::board::BootCpuCell;

struct Bump {
    start: usize,
    next: usize,
    end: usize,
    /// Start of the most recent block, which alone can be freed or grown.
    last: usize,
}

pub struct Heap(BootCpuCell<Bump>);

#[global_allocator]
static HEAP: Heap = Heap(BootCpuCell::new(Bump {
    start: 0,
    next: 0,
    end: 0,
    last: usize::MAX,
}));

/// Hands the allocator `[start, end)`; call once before any allocation.
pub fn init(start: u64, end: u64) {
    HEAP.0.with(|h| {
        h.start = start as usize;
        h.next = start as usize;
        h.end = end as usize;
    });
}

/// Bytes in use and the high-water mark is `next - start`.
pub fn used() -> u64 {
    HEAP.0.with(|h| (h.next - h.start) as u64)
}

// SAFETY: blocks never overlap: `next` only moves past handed-out blocks,
// and moves back only over the most recent block when it is freed.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.0.with(|h| {
            let start = (h.next + layout.align() - 1) & !(layout.align() - 1);
            match start.checked_add(layout.size()) {
                Some(end) if end <= h.end => {
                    h.next = end;
                    h.last = start;
                    start as *mut u8
                }
                _ => ptr::null_mut(),
            }
        })
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        self.0.with(|h| {
            if p as usize == h.last && h.last + layout.size() == h.next {
                h.next = h.last;
                h.last = usize::MAX;
            }
        })
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let grown = self.0.with(|h| {
            let fits = (p as usize)
                .checked_add(new_size)
                .is_some_and(|e| e <= h.end);
            if p as usize == h.last && fits {
                h.next = p as usize + new_size;
                true
            } else {
                false
            }
        });
        if grown {
            return p;
        }
        // SAFETY: the same contract as GlobalAlloc::realloc's default.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let q = self.alloc(new_layout);
            if !q.is_null() {
                ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
                self.dealloc(p, layout);
            }
            q
        }
    }
}
