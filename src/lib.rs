//! mmu-reloc's machine-independent logic. Nothing here touches a system
//! register or contains `asm!`: it all builds and is tested on the host.
//! The bare-metal glue (entry, MMU switch, console, copy loops) lives in the
//! binary (`src/main.rs`, `src/arch/`, `src/board/`).
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

pub mod bootargs;
pub mod cpu;
pub mod fdt;
pub mod fit;
pub mod mmu;
pub mod physmem;
pub mod platform;
pub mod record;
pub mod region;
pub mod relocate;
pub mod stats;
