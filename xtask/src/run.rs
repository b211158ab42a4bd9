//! `cargo xtask run [--model M] [QEMU-ARGS...]`: one boot of the stage on
//! QEMU virt as `cargo run --release` does (the root binary hands over
//! here when it is given `--model`), with the model plugin loaded. The
//! console streams to the terminal; afterwards the boot's records (the
//! plugin's lines included) go through the study's analysis and files, so
//! the modelled figures are printed and written exactly as `bench` does.

use std::time::Duration;

use mmu_reloc_host::qemu::Qemu;
use serde_json::{Value, json};

use crate::analysis::{self, HOST_BOOT};
use crate::{model, study, take_opt};

/// The runner's timeout (`MMU_RELOC_TIMEOUT`, seconds; qemu/run.sh's too).
fn timeout() -> Duration {
    let s = std::env::var("MMU_RELOC_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    Duration::from_secs(s)
}

/// Whether the QEMU arguments run under `-icount` (exact counts).
fn icount(qemu_args: &[String]) -> bool {
    qemu_args.iter().any(|a| a == "-icount")
}

pub fn main(args: &[String]) -> Result<u8, String> {
    let mut a = args.to_vec();
    let spec = model::parse_spec(&take_opt(&mut a, "--model")?.unwrap_or("a72".into()))?;
    let out = take_opt(&mut a, "--out")?.map(std::path::PathBuf::from);
    // What follows `--` (or everything left) goes to QEMU, after the
    // defaults, so it wins.
    if let Some(i) = a.iter().position(|x| x == "--") {
        a.remove(i);
    }
    let elf = crate::stage_elf(None)?;
    let image = mmu_reloc_host::make_image(&elf)?;
    let mut q = Qemu::virt().kernel(&image).timeout(timeout());
    if let Some(m) = &spec {
        q = q.args(model::qemu_args(&model::prepare()?, &m.args));
    }
    let q = q.args(&a);
    let cmdline = q.command_line();
    eprintln!("run: {cmdline}");
    let r = q.run_with(|l| println!("{l}"));
    // The plugin's lines arrive on QEMU's stderr: shown after the console.
    if let Some((_, err)) = r.output.split_once("--- qemu stderr ---\n") {
        eprint!("{err}");
    }
    let status = match (r.timed_out, r.status) {
        (true, _) => {
            eprintln!("run: timed out after {} s", timeout().as_secs());
            124
        }
        (false, Some(s)) => s.clamp(0, 255) as u8,
        (false, None) => 1,
    };
    if !r.records.iter().any(|v| v["record"] == "result") {
        if spec.is_some() {
            eprintln!("run: no benchmark runs (mode=bench), so no modelled figures");
        }
        return Ok(status);
    }
    let out = out.unwrap_or_else(|| {
        mmu_reloc_host::repo_root()
            .join("target/run")
            .join(study::timestamp(study::now_unix()))
    });
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let exact = icount(&a);
    let mut records: Vec<Value> = vec![json!({
        "record": HOST_BOOT, "boot": 1, "kind": if exact { "exact" } else { "wall" },
        "icount": exact, "command_line": cmdline, "status": r.status,
        "timed_out": r.timed_out, "model": spec.as_ref().map(|m| m.label.clone()),
    })];
    records.extend(r.records.iter().cloned());
    let study = analysis::analyse(&records);
    let env = json!({
        "source": "cargo run --model", "command_line": cmdline,
        "model": spec.as_ref().map(|m| json!({"label": m.label, "plugin_args": m.args})),
    });
    let (code, _) = study::finish(&out, &records, &study, env, None, None)?;
    Ok(if status != 0 { status } else { code })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icount_is_read_from_the_qemu_arguments() {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<String>>();
        assert!(icount(&v(&["-icount", "shift=0", "-append", "size=1M"])));
        assert!(!icount(&v(&["-append", "size=1M"])));
    }

    #[test]
    fn a_bad_model_is_a_one_line_error_before_any_build() {
        let e = main(&["--model".into(), "z80".into()]).unwrap_err();
        assert!(e.contains("not a72, n1, none"), "{e}");
        let e = main(&["--model".into()]).unwrap_err();
        assert!(e.contains("--model needs a value"), "{e}");
    }
}
