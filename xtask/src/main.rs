//! `cargo xtask`: mmu-reloc's host command. It owns the QEMU command line
//! (through the shared `mmu-reloc-host` crate), the reading of records and
//! the statistics; the stage only prints records.
//!
//!   cargo xtask bench [OPTIONS]        the A/B study (exact + wall-clock)
//!   cargo xtask report [OPTIONS] LOG.. the same report from console logs
//!   cargo xtask test [CARGO-TEST-ARGS] build the stage, run every test
//!   cargo xtask map-scale [--quick]    linear-map build time against RAM size
//!   cargo xtask model-study [--update-readme]  the model's calibration (MODELLED)
//!   cargo xtask sdcard [OPTIONS]       a Raspberry Pi 4 boot partition
//!   cargo xtask scaling [OPTIONS]      cpus=1 against cpus=2 (-smp 2)
//!
//!   cargo xtask run [--model M] [QEMU-ARGS]  one boot with the model plugin
//! One boot by hand is `cargo run --release [-- QEMU-ARGS]` (the root
//! binary's host `main` and the cargo runner `qemu/run.sh`); given
//! `--model` that `main` hands the boot to `cargo xtask run`.

mod analysis;
mod mapscale;
mod model;
mod modelstudy;
mod output;
mod plots;
mod run;
mod scaling;
mod sdcard;
mod study;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str =
    "usage: cargo xtask <bench|report|run|test|map-scale|model-study|sdcard|scaling> [options]
  bench      the A/B study: exact instruction counts (-icount) and wall-clock
             boots with bootstrap intervals; files under target/bench/<time>/
             --quick             a small matrix (seconds; used by the tests)
             --wall-boots N      wall-clock boots (default 3)
             --trials N          trials per wall-clock boot, first is warm-up (default 6)
             --size S            wall-clock payload size (default 8M)
             --sweep LIST        extra sizes for the size sweep, `none` for none (default 1M,4M,32M);
                                 one boot per size list (sizes up to 256M share one)
             --sweep-granules L  granule= list of the sweep boots, one pass each (default 4k,64k)
             --exact-size S      payload of the exact boots (default 4M)
             --cpu C             QEMU -cpu (default cortex-a72)
             --baseline DIR      compare with an earlier study's directory
             --out DIR           output directory (default target/bench/<time>)
             --elf PATH          use this stage ELF instead of building it
             --model M           the model plugin (qemu/model) on the exact boots: a72 (default),
                                 n1, a parameter file (name=value lines) or none; MODELLED columns
                                 (the exact boots load the plugin anyway for the instruction split)
             --raw               also print every record on the terminal
             --update-readme     put the terminal report into README.md's study block
  report     LOG... [--out DIR] [--baseline DIR] [--raw]: the same report from
             console logs (QEMU output or a board's serial capture); a model
             plugin's output file (-D FILE) given after its boot's log joins it
  run        [--model M] [--out DIR] [QEMU-ARGS...]: one boot on QEMU virt like `cargo run --release`
             (which hands over here when given --model), the model plugin loaded
             (a72 by default, n1, a parameter file or none); the console streams,
             then the study's tables (MODELLED ones included) and files under
             target/run/<time>/
  model-study [--update-readme]: the model's calibration against the published
             kexec figures and the kexec-list table (MODELLED), README's block
  test       [CARGO-TEST-ARGS]: build the stage and run host and in-QEMU tests
  map-scale  [--quick]: linear map build time and tables against RAM size
  sdcard     [--bootargs \"ARGS\"] [--initramfs FILE] [--out DIR] [--size MIB]:
             a Raspberry Pi 4 boot partition: target/sdcard/boot/ and
             target/sdcard/sdcard.img (MBR + FAT32), checked after writing
  scaling    [--boots N] [--trials N] [--size S] [--icount-size S]: a relocation on
             1 and 2 CPUs (cpus=, -smp 2): wall-clock with multi-threaded TCG and
             bootstrap intervals, per-CPU instruction counts under -icount";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(1);
    };
    let rest = &args[1..];
    let r = match cmd.as_str() {
        "bench" => study::bench(rest),
        "report" => study::report(rest),
        "test" => test(rest),
        "map-scale" => mapscale::main(rest),
        "model-study" => modelstudy::main(rest),
        "sdcard" => sdcard::main(rest),
        "run" => run::main(rest),
        "scaling" => scaling::main(rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(0)
        }
        other => Err(format!("unknown command '{other}'\n{USAGE}")),
    };
    match r {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::from(1)
        }
    }
}

/// The cargo that runs us (so the pinned toolchain builds the stage).
pub fn cargo() -> PathBuf {
    std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from)
}

/// The stage ELF: `--elf`/`MMU_RELOC_ELF`, or a fresh release build.
pub fn stage_elf(given: Option<&Path>) -> Result<PathBuf, String> {
    match given
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("MMU_RELOC_ELF").map(PathBuf::from))
    {
        Some(p) if p.exists() => Ok(p),
        Some(p) => Err(format!("stage ELF {} does not exist", p.display())),
        None => mmu_reloc_host::build_stage(&cargo(), None),
    }
}

/// Takes `--name VALUE` out of `args`.
pub fn take_opt(args: &mut Vec<String>, name: &str) -> Result<Option<String>, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) if i + 1 < args.len() => {
            let v = args.remove(i + 1);
            args.remove(i);
            Ok(Some(v))
        }
        Some(_) => Err(format!("{name} needs a value")),
    }
}

/// Takes the flag `name` out of `args`.
pub fn take_flag(args: &mut Vec<String>, name: &str) -> bool {
    let before = args.len();
    args.retain(|a| a != name);
    args.len() != before
}

pub fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `cargo xtask test`: the stage built once, then every test of the
/// workspace (host unit tests, in-QEMU tests, xtask's own) against it.
fn test(args: &[String]) -> Result<u8, String> {
    let elf = stage_elf(None)?;
    let mut cmd = Command::new(cargo());
    cmd.args(["test", "--release", "--locked", "--target", "host-tuple"]);
    if args.is_empty() {
        cmd.arg("--workspace");
    }
    cmd.args(args)
        .env("MMU_RELOC_ELF", &elf)
        .current_dir(mmu_reloc_host::repo_root());
    let st = cmd
        .status()
        .map_err(|e| format!("cannot run cargo test: {e}"))?;
    Ok(st.code().unwrap_or(1) as u8)
}
