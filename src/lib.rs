//! mmu-reloc's machine-independent logic. Nothing here touches a system
//! register or contains `asm!`: it all builds and is tested on the host.
//! The bare-metal glue (entry, MMU switch, console, copy loops) lives in the
//! binary (`src/main.rs`, `src/arch/`, `src/board/`).
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

extern crate alloc;

pub mod bootargs;
pub mod cpu;
pub mod exit;
pub mod fdt;
pub mod matrix;
pub mod mmu;
pub mod physmem;
pub mod platform;
pub mod record;
pub mod region;
pub mod relocate;
pub mod stats;
