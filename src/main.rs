//! mmu-reloc, the bare-metal stage. Dependencies point down:
//! `main` -> `stage` (the flow, the one exit path) -> {`bench`, `handoff`}
//! -> `workload` (a relocation on this machine) -> {`arch`, `board`} ->
//! the library (`mmu_reloc`). A lower module returns a
//! `mmu_reloc::exit::Error` or reports through a handler the stage
//! registers; it never calls up.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod arch;
#[cfg(target_os = "none")]
mod bench;
#[cfg(target_os = "none")]
mod board;
#[cfg(target_os = "none")]
mod handoff;
#[cfg(target_os = "none")]
mod heap;
#[cfg(target_os = "none")]
mod stage;
#[cfg(target_os = "none")]
mod workload;

/// Called by `asm/entry.S` with the DTB pointer the loader passed in x0 and
/// the address the image was loaded at.
#[cfg(target_os = "none")]
#[unsafe(no_mangle)]
extern "C" fn rust_entry(dtb: u64, load: u64) -> ! {
    stage::run(dtb, load)
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    stage::on_panic(info)
}

/// On the host this binary only says what it is.
#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "mmu-reloc is a bare-metal aarch64 image: `cargo run --release` builds it and boots it in QEMU"
    );
    std::process::exit(2);
}
