//! The study: which boots run (the matrix), running them with progress on
//! the terminal, and handing their records to the analysis and the report.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mmu_reloc_host::{Qemu, read_console};
use serde_json::{Value, json};

use crate::analysis::{self, HOST_BOOT};
use crate::model;
use crate::output;
use crate::{take_flag, take_opt};

/// One planned boot.
struct Plan {
    kind: &'static str,
    bootargs: String,
    /// Rough cost, for the ETA (relative units: MiB copied plus a boot).
    weight: f64,
}

struct Options {
    wall_boots: usize,
    trials: u32,
    size: String,
    sweep: Vec<String>,
    /// `granule=` of the sweep boots (empty: the stage's default).
    sweep_granules: Vec<String>,
    exact_size: String,
    exact_leaves: &'static str,
    exact_64k: bool,
    cpu: String,
    raw: bool,
    update_readme: bool,
    baseline: Option<PathBuf>,
    out: Option<PathBuf>,
    elf: Option<PathBuf>,
    /// The model plugin on the exact boots (`--model`, default a72).
    model: Option<model::Spec>,
}

fn mib(size: &str) -> f64 {
    let (n, unit) = size.split_at(size.len() - 1);
    let n: f64 = n.parse().unwrap_or(1.0);
    match unit {
        "K" | "k" => n / 1024.0,
        "M" | "m" => n,
        "G" | "g" => n * 1024.0,
        _ => 1.0,
    }
}

fn plan(o: &Options) -> Vec<Plan> {
    let mut p = Vec::new();
    // Exact boots twice: counts must repeat to the instruction.
    for _ in 0..2 {
        p.push(Plan {
            kind: "exact",
            bootargs: format!("size={} trials=1 leaves={}", o.exact_size, o.exact_leaves),
            weight: 1.0 + mib(&o.exact_size) * 0.3,
        });
        if o.exact_64k {
            p.push(Plan {
                kind: "exact",
                bootargs: format!("size={} trials=1 granule=64k leaves=512m,64k", o.exact_size),
                weight: 1.0 + mib(&o.exact_size) * 0.2,
            });
        }
    }
    for k in 0..o.wall_boots {
        p.push(Plan {
            kind: "wall",
            bootargs: format!(
                "size={} trials={} leaves={} seed={}",
                o.size,
                o.trials,
                o.exact_leaves,
                k + 1
            ),
            weight: 1.0 + mib(&o.size) * o.trials as f64 * 14.0 / 40.0,
        });
    }
    let granules = if o.sweep_granules.is_empty() {
        String::new()
    } else {
        format!(" granule={}", o.sweep_granules.join(","))
    };
    let passes = o.sweep_granules.len().max(1) as f64;
    for list in sweep_lists(&o.sweep) {
        let trials = o.trials.min(5);
        p.push(Plan {
            kind: "sweep",
            bootargs: format!(
                "size={}{granules} trials={trials} copy=copy_page",
                list.join(",")
            ),
            weight: list
                .iter()
                .map(|s| 1.0 + mib(s) * trials as f64 * passes * 5.0 / 40.0)
                .sum(),
        });
    }
    p
}

/// Largest sweep size (MiB) that shares a boot with others: a quarter of
/// the study's 1 GiB (payload, its scattered sources, tables), so one
/// size too large for RAM fails only its own boot.
const SHARED_SWEEP_MIB: f64 = 256.0;

/// The sweep's sizes grouped into boots: the stage runs a `size=` list
/// (at most `mmu_reloc::bootargs::SIZES_MAX`) one payload at a time in one
/// boot; sizes above [`SHARED_SWEEP_MIB`] get a boot each.
fn sweep_lists(sizes: &[String]) -> Vec<Vec<String>> {
    let (shared, alone): (Vec<&String>, Vec<&String>) =
        sizes.iter().partition(|s| mib(s) <= SHARED_SWEEP_MIB);
    let mut lists: Vec<Vec<String>> = shared
        .chunks(mmu_reloc::bootargs::SIZES_MAX)
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .collect();
    lists.extend(alone.into_iter().map(|s| vec![s.clone()]));
    lists
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut a = args.to_vec();
    let quick = take_flag(&mut a, "--quick");
    let mut o = Options {
        wall_boots: if quick { 2 } else { 3 },
        trials: if quick { 3 } else { 6 },
        size: if quick { "1M" } else { "8M" }.into(),
        sweep: if quick {
            vec![]
        } else {
            vec!["1M".into(), "4M".into(), "32M".into()]
        },
        sweep_granules: if quick {
            vec![]
        } else {
            vec!["4k".into(), "64k".into()]
        },
        exact_size: if quick { "1M" } else { "4M" }.into(),
        exact_leaves: if quick { "1g,4k" } else { "1g,2m,4k" },
        exact_64k: !quick,
        cpu: "cortex-a72".into(),
        raw: take_flag(&mut a, "--raw"),
        update_readme: take_flag(&mut a, "--update-readme"),
        baseline: take_opt(&mut a, "--baseline")?.map(PathBuf::from),
        out: take_opt(&mut a, "--out")?.map(PathBuf::from),
        elf: take_opt(&mut a, "--elf")?.map(PathBuf::from),
        model: model::parse_spec(&take_opt(&mut a, "--model")?.unwrap_or("a72".into()))?,
    };
    let count = |v: String, what: &str| {
        v.parse::<u64>()
            .ok()
            .filter(|n| *n >= 1 && *n <= 1000)
            .ok_or(format!(
                "{what}: expected a count from 1 to 1000, got '{v}'"
            ))
    };
    if let Some(v) = take_opt(&mut a, "--wall-boots")? {
        o.wall_boots = count(v, "--wall-boots")? as usize;
    }
    if let Some(v) = take_opt(&mut a, "--trials")? {
        o.trials = count(v, "--trials")? as u32;
        if o.trials < 2 {
            return Err("--trials: at least 2 (the first of each boot is a warm-up)".into());
        }
    }
    let size_ok = |s: &str| {
        let ok = s.len() > 1
            && s[..s.len() - 1].parse::<u32>().is_ok_and(|n| n > 0)
            && s.ends_with(['K', 'M', 'G']);
        if ok {
            Ok(s.to_string())
        } else {
            Err(format!("bad size '{s}': expected e.g. 16M"))
        }
    };
    if let Some(v) = take_opt(&mut a, "--size")? {
        o.size = size_ok(&v)?;
    }
    if let Some(v) = take_opt(&mut a, "--exact-size")? {
        o.exact_size = size_ok(&v)?;
    }
    if let Some(v) = take_opt(&mut a, "--sweep")? {
        o.sweep = if v == "none" {
            vec![]
        } else {
            v.split(',').map(size_ok).collect::<Result<_, _>>()?
        };
    }
    if let Some(v) = take_opt(&mut a, "--sweep-granules")? {
        let list: Vec<String> = v.split(',').map(str::to_string).collect();
        let known = list
            .iter()
            .all(|g| ["4k", "16k", "64k"].contains(&g.as_str()));
        let distinct = list.iter().enumerate().all(|(i, g)| !list[..i].contains(g));
        if !known || !distinct {
            return Err(format!(
                "--sweep-granules: expected 4k, 16k or 64k, each at most once, e.g. 4k,64k; got '{v}'"
            ));
        }
        o.sweep_granules = list;
    }
    if let Some(v) = take_opt(&mut a, "--cpu")? {
        o.cpu = v;
    }
    if let Some(x) = a.first() {
        return Err(format!(
            "bench: unexpected argument '{x}' (see cargo xtask --help)"
        ));
    }
    Ok(o)
}

/// `YYYYmmdd-HHMMSS` in UTC, from the civil-from-days algorithm (Howard
/// Hinnant's), so no date crate is needed for a directory name.
pub fn timestamp(unix: u64) -> String {
    let (days, secs) = ((unix / 86400) as i64, unix % 86400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn fmt_s(d: f64) -> String {
    if d >= 60.0 {
        format!("{}m{:02}s", d as u64 / 60, d as u64 % 60)
    } else {
        format!("{d:.0}s")
    }
}

/// Progress on stderr: one line rewritten in place on a terminal, one
/// line per boot otherwise.
struct Progress {
    tty: bool,
    start: Instant,
    total_w: f64,
    done_w: f64,
}

impl Progress {
    fn show(&self, k: usize, n: usize, p: &Plan, what: &str) {
        let el = self.start.elapsed().as_secs_f64();
        let eta = if self.done_w > 0.0 {
            format!(
                "ETA {}",
                fmt_s(el / self.done_w * (self.total_w - self.done_w))
            )
        } else {
            "ETA -".into()
        };
        let line = format!(
            "boot {k}/{n} {:<5} {:<40} {:<32} {} elapsed, {eta}",
            p.kind,
            p.bootargs,
            what,
            fmt_s(el)
        );
        if self.tty {
            eprint!("\r\x1b[K{}", &line[..line.len().min(150)]);
            let _ = std::io::stderr().flush();
        }
    }
    fn boot_done(&self, k: usize, n: usize, p: &Plan, secs: f64) {
        if self.tty {
            eprint!("\r\x1b[K");
        } else {
            eprintln!("boot {k}/{n} {} {}: {secs:.1} s", p.kind, p.bootargs);
        }
    }
}

/// `cargo xtask bench`.
pub fn bench(args: &[String]) -> Result<u8, String> {
    let o = parse(args)?;
    let t0 = Instant::now();
    let started = now_unix();
    let load_start = loadavg();
    let baseline = o.baseline.as_deref().map(load_dir).transpose()?;
    let elf = crate::stage_elf(o.elf.as_deref())?;
    // The exact boots always load the plugin: its split of each run's
    // instructions (walk, copy, cache maintenance) is counted, not
    // modelled; with `--model none` it loads with `model=off`.
    let plugin = model::prepare()?;
    let image = mmu_reloc_host::make_image(&elf)?;
    let build_seconds = t0.elapsed().as_secs_f64();
    let root = mmu_reloc_host::repo_root();
    let bench_dir = root.join("target/bench");
    let out = o
        .out
        .clone()
        .unwrap_or_else(|| bench_dir.join(timestamp(started)));
    std::fs::create_dir_all(out.join("logs")).map_err(|e| format!("{}: {e}", out.display()))?;

    let plans = plan(&o);
    let n = plans.len();
    let qemu_version = mmu_reloc_host::qemu_version()
        .ok_or("qemu-system-aarch64 not found: run scripts/setup.sh")?;
    eprintln!(
        "study: {n} boots on {qemu_version}, -M virt -cpu {} -m 1G; records to {}",
        o.cpu,
        out.display()
    );
    let mut prog = Progress {
        tty: std::io::stderr().is_terminal(),
        start: Instant::now(),
        total_w: plans.iter().map(|p| p.weight).sum(),
        done_w: 0.0,
    };
    let mut records: Vec<Value> = Vec::new();
    let mut boots_env = Vec::new();
    let boots_start = Instant::now();
    let cpu_start = children_cpu_seconds();
    for (i, p) in plans.iter().enumerate() {
        let k = i + 1;
        let mut q = Qemu::virt()
            .kernel(&image)
            .args(["-cpu", &o.cpu])
            .timeout(Duration::from_secs(300));
        let with_model = p.kind == "exact" && o.model.is_some();
        if p.kind == "exact" {
            q = q.icount();
        }
        if p.kind == "exact" {
            let args = o
                .model
                .as_ref()
                .map_or(model::SPLIT_ONLY, |m| m.args.as_str());
            q = q.args(model::qemu_args(&plugin, args));
        }
        let q = q.append(&p.bootargs);
        let cmdline = q.command_line();
        prog.show(k, n, p, "starting");
        let raw = o.raw;
        let r = q.run_with(|l| {
            if raw && l.contains("{\"record\"") {
                if prog.tty {
                    eprint!("\r\x1b[K");
                }
                println!("{l}");
            }
            if let Some(v) = read_console(l)
                .records
                .first()
                .filter(|v| v["record"] == "result")
            {
                let what = format!(
                    "{} {} {} #{}",
                    v["strategy"].as_str().unwrap_or(""),
                    v["copy"].as_str().unwrap_or(""),
                    if v["mmu"] == true {
                        v["granule"].as_str().unwrap_or("")
                    } else {
                        "off"
                    },
                    v["trial"]
                );
                prog.show(k, n, p, &what);
            }
        });
        let log = out.join(format!("logs/boot-{k:02}.log"));
        crate::write(&log, &format!("# {cmdline}\n{}", r.output))?;
        prog.done_w += p.weight;
        prog.boot_done(k, n, p, r.elapsed.as_secs_f64());
        let meta = json!({
            "record": HOST_BOOT, "boot": k, "kind": p.kind, "icount": p.kind == "exact",
            "bootargs": p.bootargs, "command_line": cmdline, "status": r.status,
            "timed_out": r.timed_out, "elapsed_s": r.elapsed.as_secs_f64(),
            "damaged_records": r.damaged.len(),
            "model": if with_model { o.model.as_ref().map(|m| m.label.clone()) } else { None },
        });
        boots_env.push(meta.clone());
        records.push(meta);
        records.extend(r.records.iter().cloned());
        if r.status != Some(0) {
            let why = r
                .all("error")
                .first()
                .and_then(|e| e["msg"].as_str().map(str::to_string))
                .unwrap_or_else(|| {
                    // QEMU's own complaint (a plugin argument, say) is the
                    // first line of its stderr.
                    let qemu_says =
                        r.output
                            .split_once("--- qemu stderr ---\n")
                            .and_then(|(_, e)| {
                                e.lines().find(|l| !l.trim().is_empty()).map(str::to_string)
                            });
                    match (r.timed_out, qemu_says) {
                        (true, _) => "timed out".into(),
                        (false, Some(e)) => format!("status {:?}: {e}", r.status),
                        (false, None) => format!("status {:?}", r.status),
                    }
                });
            write_records(&out, &records)?;
            return Err(format!(
                "boot {k} ({}) failed: {why}; console in {}",
                p.bootargs,
                log.display()
            ));
        }
    }
    let plans_elapsed = boots_start.elapsed().as_secs_f64();
    let study = analysis::analyse(&records);
    let env = json!({
        "qemu_version": qemu_version,
        "machine": "virt",
        "cpu": o.cpu,
        "memory": "1G",
        "host_cpu": host_cpu(),
        "host_cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "stage_commit": stage_commit(&root),
        "stage_elf": elf.display().to_string(),
        "started_unix": started,
        "study_seconds": t0.elapsed().as_secs_f64(),
        "build_seconds": build_seconds,
        "boot_seconds": plans_elapsed,
        "qemu_cpu_seconds": children_cpu_seconds().zip(cpu_start).map(|(b, a)| b - a),
        "host_loadavg_start": load_start,
        "host_loadavg_end": loadavg(),
        "boots": boots_env,
        "model": o.model.as_ref().map(|m| json!({"label": m.label, "plugin_args": m.args,
            "boots": "exact (under -icount: modelled counts repeat)"})),
    });
    let (code, text) = finish(&out, &records, &study, env, baseline, Some(&bench_dir))?;
    if o.update_readme {
        let readme = root.join("README.md");
        if o.model.is_some() {
            update_readme(&readme, README_START, README_END, &text)?;
        } else {
            // The study without the model: its time only, beside the default's.
            let time: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with("study took") || l.starts_with("QEMU CPU time"))
                .collect();
            update_readme(&readme, NOMODEL_START, NOMODEL_END, &time.join("\n"))?;
        }
    }
    Ok(code)
}

/// User + system CPU time of every finished child (the QEMU boots),
/// from /proc/self/stat (clock ticks of 1/100 s, Linux's USER_HZ): the
/// study's cost apart from what other work on the machine takes.
fn children_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // cutime and cstime are fields 16 and 17 of the whole line: 14 and 15
    // after the state field at index 0.
    let ticks = f.get(13)?.parse::<f64>().ok()? + f.get(14)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The host's 1/5/15-minute load average (other work on a shared machine
/// is part of the wall-clock figures' environment).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

const README_START: &str = "<!-- study:start -->";
const README_END: &str = "<!-- study:end -->";
const NOMODEL_START: &str = "<!-- study-nomodel:start -->";
const NOMODEL_END: &str = "<!-- study-nomodel:end -->";

/// Replaces the README's study block (or the block of the study without
/// the model) with this study's terminal report.
fn update_readme(path: &Path, start: &str, end: &str, text: &str) -> Result<(), String> {
    let how = if start == README_START {
        "`cargo xtask bench --update-readme` (the default study); \
         the same text is the study's terminal output"
    } else {
        "`cargo xtask bench --model none --update-readme` (the default study without the model)"
    };
    let block = format!(
        "{start}\nGenerated by {how}.\n\n```text\n{}\n```\n",
        text.trim()
    );
    replace_block(path, start, end, &block)
}

/// Replaces README's `start` ... `end` block (markers included in `block`
/// at the start, `end` kept).
pub fn replace_block(path: &Path, start: &str, end: &str, block: &str) -> Result<(), String> {
    let readme = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (Some(a), Some(b)) = (readme.find(start), readme.find(end)) else {
        return Err(format!("{}: no {start} ... {end} block", path.display()));
    };
    let new = format!("{}{block}{}", &readme[..a], &readme[b..]);
    crate::write(path, &new)?;
    eprintln!("README.md: {start} block updated");
    Ok(())
}

/// Writes every file, prints the terminal report, updates `latest`.
pub fn finish(
    out: &Path,
    records: &[Value],
    study: &analysis::Study,
    env: Value,
    baseline: Option<(PathBuf, analysis::Study)>,
    latest_in: Option<&Path>,
) -> Result<(u8, String), String> {
    write_records(out, records)?;
    let base = baseline.as_ref().map(|(dir, b)| {
        let (changes, unmatched) =
            analysis::against_baseline((&b.exact, &b.wall), (&study.exact, &study.wall));
        (dir.clone(), changes, unmatched)
    });
    let files = output::write_all(out, study, &env, base.as_ref())?;
    // `latest` follows the studies in target/bench only (not --out elsewhere).
    if let Some(dir) = latest_in
        && let Some(name) = out.file_name().filter(|_| out.parent() == Some(dir))
    {
        let link = dir.join("latest");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(name, &link).map_err(|e| format!("{}: {e}", link.display()))?;
    }
    let mut text = output::terminal(study, &env, base.as_ref());
    let _ = writeln!(text, "\nfiles in {}: {}", out.display(), files.join(", "));
    if let Some(s) = env["study_seconds"].as_f64() {
        let _ = writeln!(
            text,
            "study took {s:.1} s: {} boots in {:.1} s, stage build check {:.1} s",
            study.boots.len(),
            env["boot_seconds"].as_f64().unwrap_or(0.0),
            env["build_seconds"].as_f64().unwrap_or(0.0)
        );
        let _ = writeln!(
            text,
            "QEMU CPU time {:.1} s; host load average (1/5/15 min) {} at the start, {} at the end",
            env["qemu_cpu_seconds"].as_f64().unwrap_or(0.0),
            env["host_loadavg_start"].as_str().unwrap_or("?"),
            env["host_loadavg_end"].as_str().unwrap_or("?")
        );
    }
    print!("{text}");
    let bad_exact = study.exact.iter().any(|e| !e.repeats() || !e.split_ok());
    let unverified = study.runs.iter().any(|r| !r.verified);
    let code = if unverified || !study.errors.is_empty() || bad_exact {
        2
    } else {
        0
    };
    Ok((code, text))
}

fn write_records(out: &Path, records: &[Value]) -> Result<(), String> {
    let text: String = records.iter().map(|v| format!("{v}\n")).collect();
    crate::write(&out.join("records.jsonl"), &text)
}

/// An earlier study: its records.jsonl, or a console log.
fn load_dir(dir: &Path) -> Result<(PathBuf, analysis::Study), String> {
    let f = if dir.is_dir() {
        dir.join("records.jsonl")
    } else {
        dir.to_path_buf()
    };
    let text =
        std::fs::read(&f).map_err(|e| format!("--baseline: cannot read {}: {e}", f.display()))?;
    let c = mmu_reloc_host::records::read_console_bytes(&text);
    if !c.records.iter().any(|r| r["record"] == "result") {
        return Err(format!("--baseline: no result records in {}", f.display()));
    }
    Ok((dir.to_path_buf(), analysis::analyse(&c.records)))
}

/// `cargo xtask report LOG...`: console logs (QEMU, or a board's serial
/// capture) through the same analysis and files.
pub fn report(args: &[String]) -> Result<u8, String> {
    let mut a = args.to_vec();
    let raw = take_flag(&mut a, "--raw");
    let out = take_opt(&mut a, "--out")?.map_or_else(
        || mmu_reloc_host::repo_root().join("target/report"),
        PathBuf::from,
    );
    let baseline = take_opt(&mut a, "--baseline")?
        .map(|d| load_dir(Path::new(&d)))
        .transpose()?;
    if a.is_empty() {
        return Err("report: give one or more console logs".into());
    }
    let mut records = Vec::new();
    let mut damaged = 0;
    for f in &a {
        let bytes = std::fs::read(f).map_err(|e| format!("report: cannot read {f}: {e}"))?;
        let c = mmu_reloc_host::records::read_console_bytes(&bytes);
        for d in &c.damaged {
            eprintln!(
                "report: {f}:{}: damaged record skipped ({}): {}",
                d.line, d.reason, d.text
            );
        }
        damaged += c.damaged.len();
        if raw {
            for r in &c.records {
                println!("{r}");
            }
        }
        records.extend(c.records);
    }
    if !records.iter().any(|r| r["record"] == "result") {
        return Err("report: no result records found".into());
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let study = analysis::analyse(&records);
    let platform = records.iter().find(|r| r["record"] == "platform").cloned();
    let env = json!({
        "source": a, "damaged_records": damaged,
        "platform": platform,
        "host_cpu": host_cpu(),
    });
    Ok(finish(&out, &records, &study, env, baseline, None)?.0)
}

fn host_cpu() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn stage_commit(root: &Path) -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(c) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty { format!("{c}-dirty") } else { c }
        }
        None => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_sizes_share_boots_where_memory_allows() {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            sweep_lists(&v(&["1M", "4M", "32M"])),
            [v(&["1M", "4M", "32M"])]
        );
        let nine = v(&["1M"; 9]);
        assert_eq!(sweep_lists(&nine), [v(&["1M"; 8]), v(&["1M"])]);
        assert_eq!(
            sweep_lists(&v(&["1M", "512M", "256M", "1G"])),
            [v(&["1M", "256M"]), v(&["512M"]), v(&["1G"])]
        );
        assert!(sweep_lists(&[]).is_empty());
        let o = parse(&v(&["--sweep", "1M,4M", "--sweep-granules", "4k,64k"])).unwrap();
        let sweeps: Vec<String> = plan(&o)
            .into_iter()
            .filter(|p| p.kind == "sweep")
            .map(|p| p.bootargs)
            .collect();
        assert_eq!(
            sweeps,
            ["size=1M,4M granule=4k,64k trials=5 copy=copy_page"]
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "19700101-000000");
        assert_eq!(timestamp(951_782_400), "20000229-000000");
        assert_eq!(timestamp(1_796_187_723), "20261202-050203");
    }

    #[test]
    fn bad_options_are_one_line_errors() {
        let e = |a: &[&str]| {
            parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .err()
                .unwrap()
        };
        assert!(e(&["--trials", "0"]).contains("--trials"));
        assert!(e(&["--size", "12q"]).contains("bad size"));
        assert!(e(&["--bogus"]).contains("unexpected argument"));
        assert!(e(&["--out"]).contains("needs a value"));
        assert!(e(&["--model", "z80"]).contains("--model"));
        assert!(e(&["--sweep-granules", "4k,4k"]).contains("--sweep-granules"));
        assert!(e(&["--sweep-granules", "8k"]).contains("--sweep-granules"));
        assert_eq!(plan(&parse(&["--quick".to_string()]).unwrap()).len(), 4);
    }
}
