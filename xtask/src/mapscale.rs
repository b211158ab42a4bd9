//! `cargo xtask map-scale`: how the throwaway linear map scales with RAM
//! (a benchmark, not a test). Boots `mode=info` on QEMU virt (`-cpu max`)
//! with RAM backed by a sparse file, per leaf policy (the stage's default,
//! 1 GiB blocks with the 4k granule; `leaf=2m`; `leaf=4k`), and tabulates
//! each boot's `map` record; rows also go to target/bench/map-scale.csv.
//!
//! Environment: MAP_SCALE_SIZES (default "1G 16G 256G 1T"),
//! MAP_SCALE_REPEAT (boots per configuration, default 3: the median build
//! time and the range are shown), MAP_SCALE_TIMEOUT (seconds per boot,
//! default 300). `--quick`: leaf=4k only up to 16G (1T with leaf=4k writes
//! 2 GiB of tables: ~25 s of guest time and 2 GiB of temporary disk).
//! Build times are QEMU TCG without icount: host-time dependent.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use mmu_reloc::stats;
use mmu_reloc_host::{Qemu, Run};
use serde_json::Value;

use crate::analysis::size_label;

fn bytes_of(s: &str) -> Result<u64, String> {
    let (n, u) = s.split_at(s.len().saturating_sub(1));
    let shift = match u {
        "K" | "k" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        "T" | "t" => 40,
        _ => return Err(format!("map-scale: bad size '{s}' (e.g. 16G)")),
    };
    n.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .map(|n| n << shift)
        .ok_or(format!("map-scale: bad size '{s}' (e.g. 16G)"))
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.into())
}

/// Free KiB on the filesystem holding `dir` (`df -Pk`).
fn free_kib(dir: &Path) -> Option<u64> {
    let out = std::process::Command::new("df")
        .arg("-Pk")
        .arg(dir)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()
}

struct Row {
    cells: Vec<String>,
    error: String,
}

fn leaves(m: &Value) -> String {
    m["leaf_counts"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter(|l| l["count"].as_u64() > Some(0))
                .map(|l| {
                    format!(
                        "{} x {}",
                        size_label(l["size"].as_u64().unwrap_or(0)),
                        l["count"]
                    )
                })
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .unwrap_or_default()
}

/// One configuration's boots -> one row (and its failure, if any).
fn summarize(size: &str, policy: &str, runs: &[(Run, u64, u64)]) -> Row {
    let maps: Vec<Option<&Value>> = runs
        .iter()
        .map(|(r, _, _)| {
            r.records
                .iter()
                .find(|x| x["record"] == "map" && x["name"] == "linear")
        })
        .collect();
    let bad = runs
        .iter()
        .zip(&maps)
        .position(|((r, _, _), m)| r.status != Some(0) || m.is_none_or(|m| m["verified"] != true));
    let walls: Vec<u64> = runs.iter().map(|x| x.1).collect();
    let disk = runs.iter().map(|x| x.2).max().unwrap_or(0);
    let status = bad.map_or("0".into(), |i| {
        runs[i].0.status.map_or("killed".into(), |s| s.to_string())
    });
    let mut cells = vec![
        size.to_string(),
        policy.to_string(),
        status,
        runs.len().to_string(),
        stats::summarize(&walls).map_or(String::new(), |s| s.median.to_string()),
        (disk / 1024).to_string(),
    ];
    let first = maps.iter().flatten().next().copied();
    let mut same = true;
    if let Some(m) = first {
        let ms: Vec<u64> = maps
            .iter()
            .flatten()
            .filter_map(|x| x["build_ns"].as_u64())
            .collect();
        let s = stats::summarize(&ms).unwrap();
        // Every boot must build the same tables; only the time may differ.
        same = maps.iter().flatten().all(|x| {
            (&x["table_bytes"], &x["leaf_counts"]) == (&m["table_bytes"], &m["leaf_counts"])
        });
        cells.extend([
            m["granule"].as_str().unwrap_or("").to_string(),
            m["levels"].to_string(),
            m["table_bytes"].to_string(),
            m["min_table_bytes"].to_string(),
            leaves(m),
            format!("{:.3}", s.median as f64 / 1e6),
            format!("{:.3}", s.min as f64 / 1e6),
            format!("{:.3}", s.max as f64 / 1e6),
            if maps
                .iter()
                .all(|x| x.is_some_and(|x| x["verified"] == true))
            {
                "yes"
            } else {
                "NO"
            }
            .into(),
        ]);
    } else {
        cells.extend(std::iter::repeat_n(String::new(), 9));
    }
    let mut error = String::new();
    if bad.is_some() || !same {
        let i = bad.unwrap_or(0);
        let r = &runs[i].0;
        error = r
            .all("error")
            .first()
            .and_then(|e| e["msg"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| {
                if r.timed_out {
                    "timeout".into()
                } else if r.status != Some(0) {
                    format!("exit {:?}", r.status)
                } else if bad.is_some() {
                    "no verified map record".into()
                } else {
                    "boots built different tables".into()
                }
            });
        let tail: Vec<&str> = r.output.lines().rev().take(15).collect();
        eprintln!("map-scale: {size} {policy} failed ({error}); last lines:");
        for l in tail.iter().rev() {
            eprintln!("  {l}");
        }
    }
    Row { cells, error }
}

pub fn main(args: &[String]) -> Result<u8, String> {
    let mut a = args.to_vec();
    let big_4k = !crate::take_flag(&mut a, "--quick");
    if let Some(x) = a.first() {
        return Err(format!(
            "map-scale: unexpected argument '{x}' (usage: map-scale [--quick])"
        ));
    }
    let sizes: Vec<String> = env_or("MAP_SCALE_SIZES", "1G 16G 256G 1T")
        .split_whitespace()
        .map(String::from)
        .collect();
    let repeat: usize = env_or("MAP_SCALE_REPEAT", "3")
        .parse()
        .map_err(|_| "MAP_SCALE_REPEAT: a count")?;
    let per_boot: u64 = env_or("MAP_SCALE_TIMEOUT", "300")
        .parse()
        .map_err(|_| "MAP_SCALE_TIMEOUT: seconds")?;
    let mut max_b = 0;
    for s in &sizes {
        max_b = max_b.max(bytes_of(s)?);
    }
    if !big_4k {
        max_b = max_b.min(16 << 30);
    }
    let image = mmu_reloc_host::make_image(&crate::stage_elf(None)?)?;
    let out = mmu_reloc_host::repo_root().join("target/bench");
    let logdir = out.join("map-scale-logs");
    let _ = std::fs::remove_dir_all(&logdir);
    std::fs::create_dir_all(&logdir).map_err(|e| format!("{}: {e}", logdir.display()))?;
    // What the stage writes is its tables (leaf=4k: 1/512 of RAM) and ~10
    // MiB of stage and DTB; ask for that and 1 GiB.
    let need_kib = (1 << 20) + max_b / 512 / 1024;
    if let Some(free) = free_kib(&out).filter(|f| *f < need_kib) {
        return Err(format!(
            "map-scale: {} has {} MiB free, need {} MiB",
            out.display(),
            free >> 10,
            need_kib >> 10
        ));
    }
    let ram = out.join("ram.sparse");
    let mut rows = Vec::new();
    for size in &sizes {
        let mut policies = vec!["", "leaf=2m"];
        if big_4k || bytes_of(size)? <= 16 << 30 {
            policies.push("leaf=4k");
        }
        for pol in policies {
            let label = if pol.is_empty() { "default" } else { pol };
            eprintln!("== {size} {label} x {repeat}");
            let mut runs = Vec::new();
            for i in 1..=repeat {
                let (r, disk) =
                    sparse_boot(&image, &ram, size, &format!("mode=info {pol}"), per_boot)?;
                let _ = std::fs::write(logdir.join(format!("{size}-{label}-{i}.log")), &r.output);
                let ok = r.status == Some(0);
                let wall_ms = r.elapsed.as_millis() as u64;
                runs.push((r, wall_ms, disk));
                if !ok {
                    break; // don't wait for a failure again
                }
            }
            rows.push(summarize(size, label, &runs));
        }
    }
    let header = [
        "ram",
        "policy",
        "qemu_status",
        "boots",
        "wall_ms",
        "disk_mib",
        "granule",
        "levels",
        "table_bytes",
        "min_table_bytes",
        "leaf_counts",
        "build_ms",
        "build_ms_min",
        "build_ms_max",
        "verified",
        "error",
    ];
    let mut csv = header.join(",") + "\n";
    for r in &rows {
        let mut cells = r.cells.clone();
        cells.push(r.error.clone());
        csv += &(cells
            .iter()
            .map(|c| c.replace(',', ";"))
            .collect::<Vec<_>>()
            .join(",")
            + "\n");
    }
    let csv_path = out.join("map-scale.csv");
    crate::write(&csv_path, &csv)?;
    print!("{}", table(&rows));
    println!("csv: {}", csv_path.display());
    let share = build_share(&image, &ram, per_boot)?;
    println!("{share}");
    Ok(u8::from(rows.iter().any(|r| !r.error.is_empty())))
}

/// Boots the stage on QEMU virt (`-cpu max`) with `size` of RAM backed by
/// a sparse file at `ram` (removed again); the run and the KiB the file
/// took on disk.
fn sparse_boot(
    image: &Path,
    ram: &Path,
    size: &str,
    cmdline: &str,
    timeout_s: u64,
) -> Result<(Run, u64), String> {
    sparse_boot_with(image, ram, (size, cmdline), &[], timeout_s)
}

/// [`sparse_boot`] with extra QEMU arguments.
fn sparse_boot_with(
    image: &Path,
    ram: &Path,
    (size, cmdline): (&str, &str),
    extra: &[&str],
    timeout_s: u64,
) -> Result<(Run, u64), String> {
    let _ = std::fs::remove_file(ram);
    let f = std::fs::File::create(ram).map_err(|e| format!("{}: {e}", ram.display()))?;
    f.set_len(bytes_of(size)?)
        .map_err(|e| format!("{}: {e}", ram.display()))?;
    if f.metadata().map_or(1, |m| m.blocks()) != 0 {
        let _ = std::fs::remove_file(ram);
        return Err(format!(
            "map-scale: {} is not sparse on this filesystem",
            ram.display()
        ));
    }
    let r = Qemu::virt()
        .kernel(image)
        .args(["-M", "virt,highmem=on,memory-backend=m0", "-object"])
        .arg(format!(
            "memory-backend-file,id=m0,size={size},mem-path={},share=on",
            ram.display()
        ))
        .args(["-m", size, "-cpu", "max"])
        .args(extra)
        .append(cmdline)
        .timeout(Duration::from_secs(timeout_s))
        .run();
    let disk = std::fs::metadata(ram).map_or(0, |m| m.blocks() * 512 / 1024);
    let _ = std::fs::remove_file(ram);
    Ok((r, disk))
}

/// The linear map's build cost for 16 GiB of RAM as a share of relocating
/// 64 MiB (ind-list, copy_page, MMU on), both from one boot under
/// `-icount shift=0` (one instruction per virtual nanosecond, repeatable):
/// without icount TCG's host time for a build that runs once is mostly
/// QEMU translating the builder's code, which says nothing about a CPU.
fn build_share(image: &Path, ram: &Path, timeout_s: u64) -> Result<String, String> {
    let cmdline = "mode=bench size=64M strategy=ind-list copy=copy_page mmu=on trials=3";
    eprintln!("== 16G -icount, {cmdline}");
    let icount = ["-icount", "shift=0,align=off,sleep=off"];
    let (r, _) = sparse_boot_with(image, ram, ("16G", cmdline), &icount, timeout_s)?;
    if r.status != Some(0) {
        return Err(format!(
            "map-scale: the 16G relocation boot failed:\n{}",
            r.output
        ));
    }
    let build_ns = r
        .all("map")
        .iter()
        .find(|m| m["name"] == "linear")
        .and_then(|m| m["build_ns"].as_u64())
        .ok_or("map-scale: no linear map record in the 16G boot")?;
    let ns: Vec<u64> = r
        .all("result")
        .iter()
        .filter_map(|x| x["ns"].as_u64())
        .collect();
    let copy_ns = stats::summarize(&ns)
        .ok_or("map-scale: no result records in the 16G boot")?
        .median;
    Ok(format!(
        "16 GiB linear map built in {build_ns} instructions = {:.3}% of relocating 64 MiB ({copy_ns} instructions; ind-list, copy_page, MMU on; -icount shift=0: virtual ns = instructions)",
        100.0 * build_ns as f64 / copy_ns as f64,
    ))
}
fn table(rows: &[Row]) -> String {
    let cols = [
        ("RAM", 0, false),
        ("policy", 1, false),
        ("granule", 6, false),
        ("lvls", 7, true),
        ("table_bytes", 8, true),
        ("min_table_bytes", 9, true),
        ("leaves", 10, false),
        ("build ms", 11, true),
        ("(min-max)", 99, true),
        ("verified", 14, false),
        ("boots", 3, true),
        ("wall ms", 4, true),
        ("disk MiB", 5, true),
    ];
    let cell = |r: &Row, i: usize| {
        if i == 99 {
            if r.cells[11].is_empty() {
                String::new()
            } else {
                format!("{}-{}", r.cells[12], r.cells[13])
            }
        } else {
            r.cells[i].clone()
        }
    };
    let mut grid: Vec<Vec<String>> = vec![cols.iter().map(|c| c.0.to_string()).collect()];
    for r in rows {
        let mut line: Vec<String> = cols.iter().map(|c| cell(r, c.1)).collect();
        if !r.error.is_empty() {
            line.push(format!("error: {}", r.error));
        }
        grid.push(line);
    }
    let w: Vec<usize> = (0..cols.len())
        .map(|i| grid.iter().map(|l| l[i].len()).max().unwrap_or(0))
        .collect();
    let mut t = String::new();
    for (k, l) in grid.iter().enumerate() {
        let mut s: Vec<String> = cols
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if c.2 {
                    format!("{:>1$}", l[i], w[i])
                } else {
                    format!("{:<1$}", l[i], w[i])
                }
            })
            .collect();
        s.extend(l.iter().skip(cols.len()).cloned());
        t += s.join("  ").trim_end();
        t.push('\n');
        if k == 0 {
            t += &(w
                .iter()
                .map(|n| "-".repeat(*n))
                .collect::<Vec<_>>()
                .join("  ")
                + "\n");
        }
    }
    t
}
