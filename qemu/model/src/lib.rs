//! mmu-reloc's modelled memory system, as a QEMU TCG plugin. The model
//! (`params`, `tlb`, `cache`, `prefetch`, `walk`, `core`) is pure Rust with
//! host tests; `plugin` feeds it QEMU's events. Everything it prints is
//! labelled as modelled: QEMU itself has no caches or TLBs.

pub mod cache;
pub mod core;
pub mod decode;
pub mod params;
pub mod prefetch;
pub mod tlb;
pub mod walk;

#[cfg(not(test))]
mod plugin;
