//! mmu-reloc's modelled memory system, as a QEMU TCG plugin. The model
//! (`params`, `tlb`, `cache`, `prefetch`, `walk`, `core`) is pure Rust with
//! host tests; `plugin` feeds it QEMU's events. `split` is not modelled:
//! it counts each run's instructions as walk, copy and cache maintenance. Everything it prints is
//! labelled as modelled: QEMU itself has no caches or TLBs.

pub mod cache;
pub mod core;
pub mod decode;
pub mod params;
pub mod prefetch;
pub mod split;
pub mod tlb;
pub mod walk;

#[cfg(not(test))]
mod plugin;
