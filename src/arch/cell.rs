//! State owned by the boot CPU. The stage runs its Rust code on one CPU
//! with interrupts masked (CPUs that enter by themselves park in
//! `asm/entry.S`; secondaries started for `cpus=` run only `arch::smp`,
//! which shares memory with the boot CPU through its own slots and never
//! touches a cell), so a cell needs no lock; locks built on exclusives are
//! not safe with the MMU and caches off on real hardware.

use core::cell::UnsafeCell;

/// State touched only by the boot CPU, which runs all Rust code with
/// interrupts masked. Avoids exclusive-access locks, which are not safe to
/// use with the MMU (and so the caches) off on real hardware.
pub struct BootCpuCell<T>(UnsafeCell<T>);

// SAFETY: only the boot CPU touches cells: other CPUs park in
// `asm/entry.S` before any Rust runs, or run `arch::smp` (their fault path
// leaves `rust_exception` before any cell is read), and interrupts are
// never unmasked, so one thread of execution uses them.
unsafe impl<T> Sync for BootCpuCell<T> {}

impl<T> BootCpuCell<T> {
    pub const fn new(v: T) -> Self {
        BootCpuCell(UnsafeCell::new(v))
    }

    /// Runs `f` on the value. Must not be re-entered for the same cell
    /// (the exception path only reads through `get`).
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: single thread of execution (see the Sync impl); callers
        // do not nest `with` on one cell.
        f(unsafe { &mut *self.0.get() })
    }
}

impl<T: Copy> BootCpuCell<T> {
    pub fn get(&self) -> T {
        // SAFETY: a plain copy out, single thread of execution.
        unsafe { *self.0.get() }
    }

    pub fn set(&self, v: T) {
        // SAFETY: single thread of execution; no reference is outstanding
        // because `with` is never nested.
        unsafe { *self.0.get() = v }
    }
}
