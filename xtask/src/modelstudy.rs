//! `cargo xtask model-study`: the model's calibration against the published
//! kexec figures and its answer to the kexec-list question, every figure
//! from boots run here (the model plugin under `-icount`, so they repeat),
//! written as README's `model-study` block with `--update-readme`. The
//! parameters are the presets' (set before this was run, never fitted to
//! the published figures); the sensitivity rows change one at a time.
//! Everything it prints is **modelled, not measured**.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use mmu_reloc_host::Qemu;
use serde_json::json;

use crate::analysis::{self, HOST_BOOT};
use crate::model::{self, Fig};
use crate::{take_flag, take_opt};

/// One boot of the study: what it is for, bootargs, plugin arguments.
struct Boot {
    name: &'static str,
    bootargs: &'static str,
    args: &'static str,
}

const A72: &str = "size=25M copy=copy_page trials=1 leaves=1g,2m,4k";
const A72_CAL: &str = "size=25M copy=copy_page trials=1";
const N1: &str = "size=84M copy=copy_page trials=1";
const CROSS: &str = "size=25M copy=copy_page trials=1 leaves=1g,2m,4k mmu=on";

/// The boots: the two presets, the two readings of VA prefetch, then the
/// sensitivity rows (`SENS..`), each changing the arguments it names.
const BOOTS: [Boot; 15] = [
    Boot {
        name: "a72",
        bootargs: A72,
        args: "preset=a72",
    },
    Boot {
        name: "n1",
        bootargs: N1,
        args: "preset=n1",
    },
    Boot {
        name: "pf_cross=1",
        bootargs: CROSS,
        args: "preset=a72,pf_cross=1",
    },
    Boot {
        name: "pf_cross=2",
        bootargs: CROSS,
        args: "preset=a72,pf_cross=2",
    },
    Boot {
        name: "fetch_overlap=0 (uncached fetches add to the rest instead of overlapping it)",
        bootargs: A72_CAL,
        args: "preset=a72,fetch_overlap=0",
    },
    Boot {
        name: "mlp=1 (every load miss pays its latency)",
        bootargs: A72_CAL,
        args: "preset=a72,mlp=1",
    },
    Boot {
        name: "fetch_overlap=0,mlp=1 (both: the cost formula before commit cfcb2dd)",
        bootargs: A72_CAL,
        args: "preset=a72,fetch_overlap=0,mlp=1",
    },
    Boot {
        name: "ifetch_uncached=0 (instruction side free)",
        bootargs: A72_CAL,
        args: "preset=a72,ifetch_uncached=0",
    },
    Boot {
        name: "dram_gbs=5.5 (STREAM copy published for a Raspberry Pi by sci-pi.org.uk, instead of the peak)",
        bootargs: A72_CAL,
        args: "preset=a72,dram_gbs=5.5",
    },
    Boot {
        name: "pf_page_bytes=0 (prefetch across physical pages)",
        bootargs: A72_CAL,
        args: "preset=a72,pf_page_bytes=0",
    },
    Boot {
        name: "pf_degree=0 (no prefetcher)",
        bootargs: A72_CAL,
        args: "preset=a72,pf_degree=0",
    },
    Boot {
        name: "mlp_window=32 (a quarter of the assumed window)",
        bootargs: A72_CAL,
        args: "preset=a72,mlp_window=32",
    },
    Boot {
        name: "mlp_window=512 (four times the assumed window)",
        bootargs: A72_CAL,
        args: "preset=a72,mlp_window=512",
    },
    Boot {
        name: "mem_ns=100,device_ns=100 (DRAM latency 100 ns instead of 120; both assumptions)",
        bootargs: A72_CAL,
        args: "preset=a72,mem_ns=100,device_ns=100",
    },
    Boot {
        name: "freq_mhz=3000 (the clock of the published board, Broadcom Stingray; its DRAM, L2 and L3 are not published)",
        bootargs: A72_CAL,
        args: "preset=a72,freq_mhz=3000",
    },
];

/// The first sensitivity row in `BOOTS`; before it, the presets and the two
/// VA-prefetch readings (`CROSS1`, `CROSS2`).
const SENS: usize = 4;
const CROSS1: usize = 2;
const CROSS2: usize = 3;

const START: &str = "<!-- model-study:start -->";
const END: &str = "<!-- model-study:end -->";

/// The published figures (Pavel Tatashin's "arm64: kexec: enable MMU during
/// kexec relocation", kexec list / LKML, 2021: "Broadcom Stingray: ... 25M
/// the relocation was taking 0.382s, with enabled MMU it now takes 0.019s
/// only or x20 improvement"; "Cavium ThunderX2: ... 84M, MMU-disabled:
/// relocation 7.489539915s, MMU-enabled: relocation 0.03946095s"):
/// seconds with the MMU off and on, and the ratio as published. The
/// Stingray: "eight ARMv8 Cortex-A72 CPUs at 3.0 GHz", "L3 cache and DDR4
/// interfaces" (DPDK 18.05 release notes, Broadcom bnxt/Stingray entry);
/// its interconnect is an `arm,ccn-502` (Linux, broadcom/stingray.dtsi).
const PUB_A72: (f64, f64, f64) = (0.382, 0.019, 20.0);
const PUB_TX2: (f64, f64, f64) = (7.49, 0.039, 190.0);

pub fn main(args: &[String]) -> Result<u8, String> {
    let mut a = args.to_vec();
    let update = take_flag(&mut a, "--update-readme");
    let elf = take_opt(&mut a, "--elf")?.map(std::path::PathBuf::from);
    if let Some(x) = a.first() {
        return Err(format!("model-study: unexpected argument '{x}'"));
    }
    let t0 = Instant::now();
    let elf = crate::stage_elf(elf.as_deref())?;
    let image = mmu_reloc_host::make_image(&elf)?;
    let so = model::prepare()?;
    let root = mmu_reloc_host::repo_root();
    let out = root.join("target/model-study");
    std::fs::create_dir_all(out.join("logs")).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut all = Vec::new();
    let mut figs: Vec<Vec<Fig>> = Vec::new();
    for (i, b) in BOOTS.iter().enumerate() {
        eprintln!(
            "model-study: boot {}/{}: {} ({}, {})",
            i + 1,
            BOOTS.len(),
            b.name,
            b.bootargs,
            b.args
        );
        let q = Qemu::virt()
            .kernel(&image)
            .icount()
            .args(model::qemu_args(&so, b.args))
            .timeout(Duration::from_secs(600))
            .append(b.bootargs);
        let cmdline = q.command_line();
        let r = q.run();
        crate::write(
            &out.join(format!("logs/boot-{:02}.log", i + 1)),
            &format!("# {cmdline}\n{}", r.output),
        )?;
        if r.status != Some(0) {
            return Err(format!(
                "model-study: boot {} ({} {}) failed (status {:?}); console in {}",
                i + 1,
                b.bootargs,
                b.args,
                r.status,
                out.join("logs").display()
            ));
        }
        let mut recs = vec![json!({"record": HOST_BOOT, "boot": i + 1, "kind": "exact",
            "icount": true, "bootargs": b.bootargs, "command_line": cmdline,
            "status": r.status, "model": b.args})];
        recs.extend(r.records.iter().cloned());
        let s = analysis::analyse(&recs);
        if s.model.missing > 0 || !s.model.errors.is_empty() || s.model.is_empty() {
            return Err(format!(
                "model-study: boot {}: {} run(s) without a model line, errors {:?}",
                i + 1,
                s.model.missing,
                s.model.errors
            ));
        }
        figs.push(s.model.figs);
        all.extend(recs);
    }
    let text: String = all.iter().map(|v| format!("{v}\n")).collect();
    crate::write(&out.join("records.jsonl"), &text)?;
    let md = render(&figs, t0.elapsed().as_secs_f64())?;
    crate::write(&out.join("model-study.md"), &md)?;
    print!("{md}");
    eprintln!(
        "model-study: files in {} (records.jsonl, logs/, model-study.md)",
        out.display()
    );
    if update {
        let block = format!(
            "{START}\nGenerated by `cargo xtask model-study --update-readme` (boots under `-icount`, \
             {}); every figure is **modelled**.\n\n{}",
            mmu_reloc_host::qemu_version().unwrap_or_default(),
            md.trim_start()
        );
        crate::study::replace_block(&root.join("README.md"), START, END, &block)?;
    }
    Ok(0)
}

fn find<'a>(figs: &'a [Fig], strategy: &str, map: &str) -> Result<&'a Fig, String> {
    figs.iter()
        .find(|f| f.key.strategy == strategy && f.key.map == map)
        .ok_or_else(|| format!("model-study: no modelled {strategy} {map} run"))
}

const G1: &str = "4k granule, 1 GiB leaves";
const M2: &str = "4k granule, 2 MiB leaves";
const K4: &str = "4k granule, 4 KiB leaves";
const CONTIG: &str = "4k granule, 1 GiB leaves, 4 KiB source pages";
const OFF: &str = "MMU off";

/// Modelled seconds of a run.
fn secs(f: &Fig) -> f64 {
    f.ms / 1e3
}

/// `0.93` -> "7.0% cheaper", `1.02` -> "2.0% dearer".
fn rel(r: f64) -> String {
    let p = (r - 1.0) * 100.0;
    if p.abs() < 0.5 {
        format!("level ({:+.1}%)", p)
    } else if p < 0.0 {
        format!("{:.1}% cheaper", -p)
    } else {
        format!("{p:.1}% dearer")
    }
}

fn render(figs: &[Vec<Fig>], took: f64) -> Result<String, String> {
    let mut t = String::new();
    let a72 = &figs[0];
    let (off, on) = (find(a72, "legacy", OFF)?, find(a72, "ind-list", G1)?);
    let ratio = secs(off) / secs(on);
    let (n1off, n1on) = (
        find(&figs[1], "legacy", OFF)?,
        find(&figs[1], "ind-list", G1)?,
    );
    let n1ratio = secs(n1off) / secs(n1on);
    let (pub_a, pub_t) = (PUB_A72.2, PUB_TX2.2);
    let _ = writeln!(
        t,
        "### Calibration (modelled; the presets' parameters; the formula's history is under the table)\n\n\
         The published scenario: 25 MB payload, `copy_page`, Linux's list walk with the MMU off \
         (`legacy`) against the list walk with the MMU on over the linear map (1 GiB blocks); \
         boot `-append \"{A72}\"` (`{N1}` for the server preset).\n\n\
         | preset | MMU off (legacy), modelled | MMU on (ind-list, 1G), modelled | modelled ratio | published |\n\
         |---|---|---|---|---|"
    );
    let cell = |f: &Fig| {
        let cycles = f.cycles_per_page * (f.key.bytes / 4096) as f64;
        if f.key.map == OFF {
            format!("{:.1} M cycles = {:.3} s", cycles / 1e6, secs(f))
        } else {
            format!("{:.2} M cycles = {:.1} ms", cycles / 1e6, f.ms)
        }
    };
    let _ = writeln!(
        t,
        "| `a72` | {} | {} | **x{ratio:.1}** | Broadcom Stingray (Cortex-A72): {} s -> {} s, x{pub_a:.0} |",
        cell(off),
        cell(on),
        PUB_A72.0,
        PUB_A72.1
    );
    let _ = writeln!(
        t,
        "| `n1` (84 MB) | {} | {} | **x{n1ratio:.1}** | ThunderX2: {} s -> {} s, x{pub_t:.0} |\n",
        cell(n1off),
        cell(n1on),
        PUB_TX2.0,
        PUB_TX2.1
    );
    // The window asked for: within a factor of two of the published ratio.
    let in_window = |r: f64| (pub_a / 2.0..=pub_a * 2.0).contains(&r);
    let window = if in_window(ratio) {
        format!(
            "inside the x{:.0}..x{:.0} window asked for",
            pub_a / 2.0,
            pub_a * 2.0
        )
    } else {
        format!(
            "**outside** the x{:.0}..x{:.0} window asked for (by {:.0}%)",
            pub_a / 2.0,
            pub_a * 2.0,
            if ratio > pub_a * 2.0 {
                (ratio / (pub_a * 2.0) - 1.0) * 100.0
            } else {
                (pub_a / 2.0 / ratio - 1.0) * 100.0
            }
        )
    };
    let per_access_ns =
        PUB_TX2.0 * 1e9 / (n1off.per_mib[7] * n1off.key.bytes as f64 / (1u64 << 20) as f64);
    // The row at the published board's clock.
    let stingray = BOOTS
        .iter()
        .position(|b| b.args.ends_with("freq_mhz=3000"))
        .ok_or("model-study: no freq_mhz=3000 row")?;
    let at_3ghz =
        secs(find(&figs[stingray], "legacy", OFF)?) / secs(find(&figs[stingray], "ind-list", G1)?);
    let on_side = if secs(on) < PUB_A72.1 {
        format!(
            "The modelled MMU-on side is faster than the published one: whatever the Stingray \
             spent beyond the copy itself (cleaning each destination page to the PoC through its \
             interconnect and L3, DRAM whose latency it did not publish) the model does not \
             know, and at the Stingray's 3.0 GHz (the `freq_mhz=3000` row) the ratio becomes \
             x{:.1}, {} with the rest of the preset unchanged. The MMU-off match rests on \
             `device_ns` = 120 ns, the Pi 4 figure, applied to a DDR4 board.",
            at_3ghz,
            if in_window(at_3ghz) {
                "inside the window"
            } else {
                "**outside** the window"
            }
        )
    } else {
        "The modelled MMU-on side is no faster than the published one.".to_string()
    };
    let _ = writeln!(
        t,
        "The A72 preset lands at x{ratio:.1}, {window}: the MMU-off side is {:.2}x the published \
         time, the MMU-on side {:.2}x. The published board is a Broadcom Stingray (eight \
         Cortex-A72 at 3.0 GHz, DDR4, an L3 behind a CCN-502 interconnect), not the Raspberry \
         Pi 4 the preset describes: same core, other clock, DRAM and caches. {on_side} The N1 \
         preset gives x{n1ratio:.1} against ThunderX2's \
         x{pub_t:.0} ({}): its MMU-off side is {:.1}x faster than ThunderX2's {} s (the model charges \
         one DRAM latency per Device access; {} s over the {:.0} Device accesses the model counts \
         is about {per_access_ns:.0} ns per access on that two-socket machine), and N1 is not \
         ThunderX2 (no public ThunderX2 TRM gives its TLB and prefetcher).\n\n\
         No parameter that existed before was fitted to these figures. Two mechanisms and \
         their three parameters were added in commit cfcb2dd (2026-12-02), after the formula \
         without them had given x41.2 here: the front end fetches ahead while the back end \
         waits, so an uncached fetch overlaps the Device accesses instead of adding to them \
         (`fetch_overlap`; the maximum is taken over the whole run, which in these loops, one \
         fetch per block of several Device accesses, gives what a per-block maximum would), \
         and up to six load misses within `mlp_window` instructions are outstanding together, \
         the A72 TRM's six line requests (`mlp`; dependence between loads is not tracked, and \
         prefetches and store fills take no slots, so it is optimistic). Both are what an \
         out-of-order core does. `fetch_overlap` alone brings the ratio inside the window (the \
         `mlp=1` row); `mlp` alone moves it away (the `fetch_overlap=0` row). They were added \
         knowing that, so a ratio inside the window is no evidence for them; under the preset \
         the fetch term is hidden entirely, which is why the `ifetch_uncached=0` row equals \
         it. The `fetch_overlap=0,mlp=1` row is the formula before that commit on these \
         boots. Sensitivity of the A72 ratio to the formula and to the parameters marked as \
         assumptions or peak values (boot `-append \"{A72_CAL}\"`, the named arguments \
         changed; **not** used to pick the preset):\n\n\
         | change | MMU off | MMU on | ratio |\n|---|---|---|---|\n\
         | none (preset) | {:.3} s | {:.1} ms | x{ratio:.1} |",
        secs(off) / PUB_A72.0,
        secs(on) / PUB_A72.1,
        if n1ratio < pub_t {
            format!("a factor of {:.1} short", pub_t / n1ratio)
        } else {
            format!("a factor of {:.1} above", n1ratio / pub_t)
        },
        PUB_TX2.0 / secs(n1off),
        PUB_TX2.0,
        PUB_TX2.0,
        n1off.per_mib[7] * n1off.key.bytes as f64 / (1u64 << 20) as f64,
        secs(off),
        on.ms,
    );
    for (b, f) in BOOTS[SENS..].iter().zip(&figs[SENS..]) {
        let (o, n) = (find(f, "legacy", OFF)?, find(f, "ind-list", G1)?);
        let (param, why) = b.name.split_once(' ').unwrap_or((b.name, ""));
        let _ = writeln!(
            t,
            "| `{param}` {why} | {:.3} s | {:.1} ms | x{:.1} |",
            secs(o),
            n.ms,
            secs(o) / secs(n)
        );
    }
    // The kexec-list table.
    let _ = writeln!(
        t,
        "\n### What the model says about the kexec-list question (modelled, `a72` preset)\n\n\
         Boot `-append \"{A72}\"`, per MiB copied and per 4 KiB page; the contiguous map is the \
         identity map (1 GiB blocks) plus a 4 KiB-page window over the sources:\n\n\
         | strategy | MMU | leaf | walks/MiB | L1D misses/MiB | useful prefetches/MiB | Device/MiB | cycles/page | vs ind-list 1G |\n\
         |---|---|---|---|---|---|---|---|---|"
    );
    let rows = [
        ("ind-list", "on", "1G", G1),
        ("ind-list", "on", "2M", M2),
        ("ind-list", "on", "4K", K4),
        ("contiguous", "on", "1G + 4K window", CONTIG),
        ("ind-list", "off", "-", OFF),
        ("legacy", "off", "-", OFF),
    ];
    for (s, mmu, leaf, map) in rows {
        let f = find(a72, s, map)?;
        let _ = writeln!(
            t,
            "| {s} | {mmu} | {leaf} | {:.1} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} |",
            f.per_mib[1],
            f.per_mib[3],
            f.per_mib[6],
            f.per_mib[7],
            f.cycles_per_page,
            f.cycles_per_page / on.cycles_per_page
        );
    }
    let _ = writeln!(
        t,
        "\n(L1D misses are mostly the destination's: store streams prefetch into L2 only, so \
         every destination line misses L1D and hits L2.)\n\n\
         The same boot (MMU on rows) with load streams that follow virtual addresses across \
         pages, the A72's documented VA prefetch under the two readings of how it gets the next \
         page's translation (`pf_cross=1`: from the TLBs only; `pf_cross=2`: the prefetcher \
         walks):\n\n\
         | strategy | leaf | `pf_cross=1`: walks/MiB | L1D misses/MiB | cycles/page | vs ind-list 1G | `pf_cross=2`: walks/MiB | L1D misses/MiB | cycles/page | vs ind-list 1G |\n\
         |---|---|---|---|---|---|---|---|---|---|"
    );
    for (s, _, leaf, map) in &rows[..4] {
        let _ = write!(t, "| {s} | {leaf} |");
        for f in [&figs[CROSS1], &figs[CROSS2]] {
            let (x, base) = (find(f, s, map)?, find(f, "ind-list", G1)?);
            let _ = write!(
                t,
                " {:.1} | {:.0} | {:.0} | {:.2} |",
                x.per_mib[1],
                x.per_mib[3],
                x.cycles_per_page,
                x.cycles_per_page / base.cycles_per_page
            );
        }
        t.push('\n');
    }
    // The two paragraphs, their figures from the tables above.
    let r = |f: &[Fig], s: &str, m: &str| -> Result<f64, String> {
        Ok(find(f, s, m)?.cycles_per_page / find(f, "ind-list", G1)?.cycles_per_page)
    };
    let c0 = r(a72, "contiguous", CONTIG)?;
    let (c1, c2) = (
        r(&figs[CROSS1], "contiguous", CONTIG)?,
        r(&figs[CROSS2], "contiguous", CONTIG)?,
    );
    let m2 = r(a72, "ind-list", M2)?;
    let k4 = r(a72, "ind-list", K4)?;
    let (k41, k42) = (
        r(&figs[CROSS1], "ind-list", K4)?,
        r(&figs[CROSS2], "ind-list", K4)?,
    );
    let cs = find(a72, "contiguous", CONTIG)?;
    let il_cross = find(&figs[CROSS1], "ind-list", G1)?.cycles_per_page / on.cycles_per_page;
    let tatashin = if c1 < 0.995 && c2 < 0.995 {
        "Tatashin's point shows there: the contiguous source keeps its stream alive across \
         page boundaries"
    } else {
        "Tatashin's point does not show clearly even there"
    };
    let near = (1.0 - c1).abs().max((1.0 - c2).abs()) * 100.0;
    let _ = writeln!(
        t,
        "\nWhat the model says. With a prefetcher that stops at each physical page (the default, \
         and an A72 with CPUACTLR_EL1[43] set) the contiguous source is {} per page against the \
         list walk over 1 GiB blocks: each source page is a scattered physical 4 KiB page either \
         way, and the contiguous map pays {:.1} walks per MiB (one per source page; sequential \
         descriptors, mostly cached). With VA streams that cross pages, the contiguous source is \
         {} (translation from the TLBs only) and {} (the prefetcher walks) than the list walk \
         over 1 GiB blocks, whose own streams run into the wrong page ({} than with the \
         default prefetcher). {tatashin}. Biederman's point: the list walk over a linear map of \
         huge pages pays no walks to speak of ({:.1} per MiB over 1 GiB, {:.1} over 2 MiB, whose \
         cost per page is {} against 1 GiB), stays within {near:.0}% of the contiguous map under \
         every prefetcher reading, and only a map of 4 KiB pages costs it measurably ({}, {} and \
         {} against 1 GiB under the three readings: one walk per source and destination page). \
         MMU on against MMU off, x{ratio:.1}, dwarfs both.\n\n\
         The model is not silicon: the ratios rest on a handful of parameters, several of them \
         assumptions (see the sensitivity table), and it has no out-of-order overlap beyond \
         fetch running ahead and up to `mlp` load misses outstanding together, no DRAM \
         effects. It tells which costs exist and how they scale with leaf size and layout; the absolute numbers need a board to confirm.\n\n\
         ({} boots, {took:.0} s.)",
        rel(c0),
        cs.per_mib[1],
        rel(c1),
        rel(c2),
        rel(il_cross),
        on.per_mib[1],
        find(a72, "ind-list", M2)?.per_mib[1],
        rel(m2),
        rel(k4),
        rel(k41),
        rel(k42),
        BOOTS.len(),
    );
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Key;

    /// Figures of one boot: (strategy, leaf or None for MMU off, layout,
    /// modelled ms).
    fn figs(rows: &[(&str, Option<u64>, &str, f64)], bytes: u64) -> Vec<Fig> {
        rows.iter()
            .map(|&(s, leaf, layout, ms)| {
                let r = json!({"strategy": s, "copy": "copy_page", "mmu": leaf.is_some(),
                    "granule": leaf.map(|_| "4k"), "leaf": leaf, "src_layout": layout,
                    "bytes": bytes});
                Fig {
                    kind: "exact",
                    key: Key::of(&r),
                    preset: "a72".into(),
                    runs: 1,
                    identical: true,
                    varies_across_boots: false,
                    per_mib: vec![1.0; 8],
                    cycles_per_page: ms * 1e3,
                    ms,
                    ratio: None,
                }
            })
            .collect()
    }

    fn boot(off_ms: f64, contiguous_ms: f64, bytes: u64) -> Vec<Fig> {
        figs(
            &[
                ("ind-list", Some(1 << 30), "page-list", 10.0),
                ("ind-list", Some(2 << 20), "page-list", 10.0),
                ("ind-list", Some(4096), "page-list", 11.0),
                ("contiguous", Some(1 << 30), "va-contiguous", contiguous_ms),
                ("ind-list", None, "page-list", off_ms),
                ("legacy", None, "page-list", off_ms),
            ],
            bytes,
        )
    }

    #[test]
    fn the_verdicts_follow_the_figures() {
        let mut b = vec![boot(412.0, 10.0, 25 << 20), boot(600.0, 10.0, 84 << 20)];
        b.extend((0..2).map(|_| boot(300.0, 9.0, 25 << 20)));
        b.extend((SENS..BOOTS.len()).map(|_| boot(300.0, 10.0, 25 << 20)));
        let last = BOOTS.len() - 1;
        b[last] = boot(350.0, 10.0, 25 << 20);
        let t = render(&b, 1.0).unwrap();
        assert!(t.contains("Broadcom Stingray"), "{t}");
        assert!(
            t.contains(
                "at the Stingray's 3.0 GHz (the `freq_mhz=3000` row) the ratio becomes x35.0"
            ),
            "{t}"
        );
        assert!(t.contains("| `fetch_overlap=0,mlp=1` (both: the cost formula before commit cfcb2dd) | 0.300 s | 10.0 ms | x30.0 |"), "{t}");
        assert!(
            t.contains("**x41.2**") && t.contains("**outside** the x10..x40 window"),
            "{t}"
        );
        assert!(
            t.contains("x60.0 against ThunderX2's x190 (a factor of 3.2 short)"),
            "{t}"
        );
        assert!(
            t.contains("10.0% cheaper (translation from the TLBs only)"),
            "{t}"
        );
        assert!(t.contains("Tatashin's point shows there"), "{t}");
        b[0] = boot(300.0, 10.0, 25 << 20);
        let t = render(&b, 1.0).unwrap();
        assert!(
            t.contains("**x30.0**") && t.contains("inside the x10..x40 window"),
            "{t}"
        );
        b[CROSS1] = boot(300.0, 10.0, 25 << 20);
        assert!(render(&b, 1.0).unwrap().contains("does not show clearly"));
        b[1].pop();
        assert!(render(&b, 1.0).unwrap_err().contains("no modelled legacy"));
    }

    #[test]
    fn relative_words() {
        assert_eq!(rel(0.93), "7.0% cheaper");
        assert_eq!(rel(1.02), "2.0% dearer");
        assert_eq!(rel(1.001), "level (+0.1%)");
    }
}
