//! Host side of mmu-reloc, one home for two concerns that the study
//! (`xtask`) and the in-QEMU tests (`tests/common`) share:
//!
//! - [`qemu`]: the QEMU command line for the stage, and a runner with a hard
//!   timeout that kills QEMU whatever happens;
//! - [`records`]: the reader of the stage's console (QEMU's, or a serial
//!   capture from a board) that separates `{"record":...}` lines from human
//!   text and reports damaged records instead of guessing.
//!
//! It knows nothing of statistics or report files (those are `xtask`'s)
//! and nothing of the stage's internals beyond its console format.

pub mod qemu;
pub mod records;

pub use qemu::{DEFAULT_TIMEOUT, Qemu, Run};
pub use records::{Console, Damaged, read_console};

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (this crate lives in `host/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// Builds the stage (release, aarch64-unknown-none) into `target_dir` (None:
/// the workspace's) and returns the ELF. `cargo` is the cargo to run.
pub fn build_stage(cargo: &Path, target_dir: Option<&Path>) -> Result<PathBuf, String> {
    let root = repo_root();
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--release",
        "--locked",
        "--target",
        "aarch64-unknown-none",
        "-p",
        "mmu-reloc",
    ])
    .current_dir(&root);
    if let Some(d) = target_dir {
        cmd.env("CARGO_TARGET_DIR", d);
    }
    let st = cmd
        .status()
        .map_err(|e| format!("cannot run {}: {e}", cargo.display()))?;
    if !st.success() {
        return Err("building the stage failed (cargo build --release)".into());
    }
    let dir = target_dir
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from))
        .unwrap_or_else(|| root.join("target"));
    Ok(dir.join("aarch64-unknown-none/release/mmu-reloc"))
}

/// The raw arm64 Image next to `elf` (`<elf>.Image`), made by
/// `qemu/mkimage.sh` (the cargo runner's converter, so there is one).
pub fn make_image(elf: &Path) -> Result<PathBuf, String> {
    let image = elf.with_extension("Image");
    let st = Command::new(repo_root().join("qemu/mkimage.sh"))
        .arg(elf)
        .arg(&image)
        .status()
        .map_err(|e| format!("cannot run qemu/mkimage.sh: {e}"))?;
    if !st.success() {
        return Err(format!(
            "making the raw Image from {} failed",
            elf.display()
        ));
    }
    Ok(image)
}

/// `qemu-system-aarch64 --version`'s first line, or None if QEMU is missing.
pub fn qemu_version() -> Option<String> {
    let out = Command::new(qemu::QEMU).arg("--version").output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(str::to_string)
}

/// Whether `qemu` was built with TCG plugin support (`-plugin` in its
/// help): the model plugin needs it.
pub fn plugin_support(qemu: &Path) -> Result<(), String> {
    let out = Command::new(qemu)
        .arg("-help")
        .output()
        .map_err(|e| format!("{}: {e}", qemu.display()))?;
    if String::from_utf8_lossy(&out.stdout).contains("-plugin") {
        Ok(())
    } else {
        Err(format!(
            "{} has no TCG plugin support (no -plugin option): the model needs a QEMU built with plugins",
            qemu.display()
        ))
    }
}

/// The model plugin (`qemu/model`, its own cargo workspace, built for the
/// host): `MMU_RELOC_MODEL` if set, else built (a no-op when fresh) with
/// `cargo` and found from cargo's artifact messages.
pub fn model_plugin(cargo: &Path) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("MMU_RELOC_MODEL").map(PathBuf::from) {
        return if p.exists() {
            Ok(p)
        } else {
            Err(format!("MMU_RELOC_MODEL={} does not exist", p.display()))
        };
    }
    let dir = repo_root().join("qemu/model");
    let out = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "host-tuple",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(&dir)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", cargo.display()))?;
    if !out.status.success() {
        return Err(format!(
            "building the model plugin in {} failed",
            dir.display()
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| {
            v["reason"] == "compiler-artifact"
                && v["target"]["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
        })
        .flat_map(|v| {
            v["filenames"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.as_str().map(PathBuf::from))
        })
        .find(|f| f.extension().is_some_and(|e| e == "so"))
        .ok_or_else(|| format!("building {} gave no plugin (.so)", dir.display()))
}
