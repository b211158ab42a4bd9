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
    // A secondary (cpus=) must not print or end the run: it reports into
    // its slot and parks; the boot CPU says so.
    if let Some(i) = arch::smp::this_secondary() {
        arch::smp::secondary_panic(i)
    }
    stage::on_panic(info)
}

/// On the host (the default build target, so that a plain `cargo test`
/// runs the host tests), `cargo run [--release] [-- QEMU-ARGS]` lands here:
/// build the stage for aarch64-unknown-none with the same profile and boot
/// it with the target's runner (qemu/run.sh), passing the arguments on.
/// With `--model a72|n1|FILE|none` among the arguments (QEMU has no
/// double-dash options) the boot goes to `cargo xtask run`, which loads the
/// model plugin (built if needed) and reports the modelled figures as the
/// study does: one home for the plugin's command line and the report.
#[cfg(not(target_os = "none"))]
fn main() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let mut cmd = std::process::Command::new(cargo);
    if args.iter().any(|a| a == "--model") {
        cmd.args([
            "run",
            "--manifest-path",
            manifest,
            "--release",
            "--locked",
            "--quiet",
            "-p",
            "xtask",
            "--target",
            "host-tuple",
            "--",
            "run",
        ]);
    } else {
        cmd.args([
            "run",
            "--manifest-path",
            manifest,
            "--target",
            "aarch64-unknown-none",
        ]);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        cmd.arg("--");
    }
    cmd.args(args);
    match cmd.status() {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(e) => {
            eprintln!("mmu-reloc: cannot run cargo to build and boot the stage: {e}");
            std::process::exit(2);
        }
    }
}
