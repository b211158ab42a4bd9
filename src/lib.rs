//! mmu-reloc's machine-independent logic. Nothing here touches a system
//! register or contains `asm!`: it all builds and is tested on the host.
//! The bare-metal stage lives in the binary: `src/stage/` (the flow),
//! `src/bench/` and `src/handoff.rs` (the modes), `src/workload/` (a
//! relocation on the machine), `src/arch/` and `src/board/` (registers,
//! assembly, devices). `fdt::build` and `mmu::oracle` serve the tests and
//! host tools.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

extern crate alloc;

pub mod bootargs;
pub mod cpu;
pub mod exit;
pub mod fdt;
pub mod fit;
pub mod matrix;
pub mod mmu;
pub mod pen;
pub mod physmem;
pub mod platform;
pub mod pmu;
pub mod record;
pub mod region;
pub mod relocate;
pub mod stats;
