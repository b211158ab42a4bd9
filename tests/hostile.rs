//! Hostile inputs in QEMU: broken DTBs, bad command lines, segments the
//! stage must refuse and CPU features it must not assume. Every refusal is
//! one `error` record naming the input and the limit, and exit status 1 from
//! the stage itself (a run that QEMU's timeout ends fails). Inputs that look
//! odd but are valid (1-cell addresses, no `/chosen`, foreign bootargs) must
//! boot.
//!
//! The cases are tables, one per class, run once per test process: the
//! per-class tests check them, and `readme_table_is_current` renders every
//! row into README.md's "Bad input" table, so the table shows what the stage
//! really says.

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use common::{
    DtNode, Dtb, HDR_MAGIC, HDR_OFF_DT_STRUCT, HDR_OFF_MEM_RSVMAP, HDR_SIZE_DT_STRINGS,
    HDR_SIZE_DT_STRUCT, HDR_TOTALSIZE, HDR_VERSION, Qemu, Run, boot_elsewhere, dt_cells, dt_number,
    dt_read, dt_reg, dt_str, dump_virt_dtb, fit_payload, header, scratch, set_header,
};
use serde_json::Value;

/// Every case is a `mode=info` boot or a tiny benchmark: seconds at most.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Where the stage runs when the test supplies the DTB: clear of the blob
/// and trampoline `boot_elsewhere` puts at RAM base + 8 and + 12 MiB.
const LOAD: u64 = 0x4100_0000;
/// Where `boot_elsewhere` loads the DTB.
const DTB_AT: u64 = 0x4080_0000;
/// One configuration, one trial: a segment list accepted by mistake ends
/// quickly (with exit 0, which fails the case).
const BENCH: &str = "mode=bench strategy=ind-list copy=copy_page mmu=on trials=1";
/// The 40-bit PA of `-cpu cortex-a53` ends here.
const TIB: u64 = 1 << 40;
const GIB: u64 = 1 << 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Dtb,
    Bootargs,
    Segments,
    Cpu,
    Fit,
}

impl Class {
    const ALL: [Class; 5] = [
        Class::Dtb,
        Class::Bootargs,
        Class::Segments,
        Class::Cpu,
        Class::Fit,
    ];

    fn name(self) -> &'static str {
        match self {
            Class::Dtb => "DTB",
            Class::Bootargs => "bootargs",
            Class::Segments => "segments",
            Class::Cpu => "CPU",
            Class::Fit => "FIT",
        }
    }

    fn cases(self) -> Vec<Case> {
        match self {
            Class::Dtb => dtb_cases(),
            Class::Bootargs => bootargs_cases(),
            Class::Segments => segment_cases(),
            Class::Cpu => cpu_cases(),
            Class::Fit => fit_cases(),
        }
    }
}

enum Expect {
    /// Exit status 1 and one `error` record containing `needle`. Each of
    /// `masks` (marker, placeholder) hides the number just before the last
    /// `marker` in the README: values that move whenever the stage's size
    /// changes (its end address, free RAM).
    Error {
        needle: &'static str,
        masks: &'static [(&'static str, &'static str)],
    },
    /// Exit status 0; the function checks the run and returns the README
    /// cell.
    Boots(fn(&Run) -> String),
}

fn error(needle: &'static str) -> Expect {
    Expect::Error { needle, masks: &[] }
}

/// What the README shows for a build-dependent number.
const STAGE_END: &[(&str, &str)] = &[(")", "<stage end>")];
const FREE_BYTES: &[(&str, &str)] = &[(" available", "<free bytes>")];
const USABLE_MIB: &[(&str, &str)] = &[(" MiB of usable RAM", "<usable>")];

struct Case {
    /// The README's description of the input (Markdown).
    input: String,
    /// Boots QEMU; the argument is a scratch name unique to the case.
    boot: Box<dyn FnOnce(&str) -> Run + Send>,
    expect: Expect,
    /// Further checks on the run.
    also: Option<fn(&Run)>,
}

impl Case {
    fn also(mut self, check: fn(&Run)) -> Self {
        self.also = Some(check);
        self
    }
}

/// A boot of the Image with `-kernel` and QEMU's own DTB.
fn qemu(input: impl Into<String>, args: &[&str], cmdline: &str, expect: Expect) -> Case {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let cmdline = cmdline.to_string();
    Case {
        input: input.into(),
        boot: Box::new(move |_| {
            Qemu::virt()
                .args(&args)
                .append(&cmdline)
                .timeout(TIMEOUT)
                .run()
        }),
        expect,
        also: None,
    }
}

/// `cmdline` is the whole input: the README shows it as is.
fn cmdline(cmdline: &str, expect: Expect) -> Case {
    qemu(format!("`{}`", shorten(cmdline)), &[], cmdline, expect)
}

/// A `segs=` list in the tiny benchmark.
fn segs(list: &str, what: &str, expect: Expect) -> Case {
    qemu(
        format!("`segs={list}`: {what}"),
        &[],
        &format!("{BENCH} segs={list}"),
        expect,
    )
}

/// QEMU's DTB for `-m mem` and `cmdline`, edited as a tree, loaded as plain
/// data next to the stage (QEMU does not fix it up). `args` go to QEMU
/// (`-m mem` is added).
fn tree(
    input: &str,
    mem: &'static str,
    cmdline: &str,
    args: &[&str],
    edit: impl FnOnce(&mut Dtb) + Send + 'static,
    expect: Expect,
) -> Case {
    let cmdline = cmdline.to_string();
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args.extend(["-m".into(), mem.into()]);
    Case {
        input: input.into(),
        boot: Box::new(move |name| {
            let mut t = Dtb::parse(&dump_virt_dtb(&scratch(name), "virt", mem, &cmdline));
            edit(&mut t);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            boot_elsewhere(name, &t.to_bytes(), LOAD, &args)
        }),
        expect,
        also: None,
    }
}

/// QEMU's DTB (`-m 1G`, `mode=info`) with its bytes edited: header fields
/// broken, the blob cut.
fn blob(input: &str, edit: impl FnOnce(&mut Vec<u8>) + Send + 'static, expect: Expect) -> Case {
    Case {
        input: input.into(),
        boot: Box::new(move |name| {
            let mut b = dump_virt_dtb(&scratch(name), "virt", "1G", "mode=info");
            edit(&mut b);
            boot_elsewhere(name, &b, LOAD, &[])
        }),
        expect,
        also: None,
    }
}

fn platform(run: &Run) -> &Value {
    run.record("platform")
}

fn region(v: &Value) -> (u64, u64) {
    (v[0][0].as_u64().unwrap(), v[0][1].as_u64().unwrap())
}

/// Boots with QEMU's 1 GiB of RAM at 0x40000000, the PL011 console and a
/// verified map.
fn boots_1g(run: &Run) -> String {
    let p = platform(run);
    assert_eq!(
        p["ram"],
        serde_json::json!([[0x4000_0000u64, 0x8000_0000u64]])
    );
    assert_eq!(p["console"], "pl011");
    assert_eq!(run.record("map")["verified"], true, "{}", run.output);
    "none: boots (exit 0), RAM `[0x40000000, 0x80000000)`, console pl011".into()
}

/// The whole claimed blob is kept out of every writer's way.
fn boots_with_2m_dtb(run: &Run) -> String {
    let dtb = region(&platform(run)["dtb"]);
    assert_eq!(dtb, (DTB_AT, DTB_AT + (2 << 20)), "{}", run.output);
    "none: boots (exit 0); the DTB is taken to be `[0x40800000, 0x40a00000)`".into()
}

/// Without `stdout-path` the records go through semihosting.
fn semihosting_console(run: &Run) {
    let p = platform(run);
    assert_eq!(p["console"], "semihosting", "{}", run.output);
    assert_eq!(p["semihosting"], true);
}

fn boots_on_semihosting(run: &Run) -> String {
    semihosting_console(run);
    assert_eq!(run.record("map")["verified"], true, "{}", run.output);
    "none: boots (exit 0), records on the semihosting console".into()
}

/// Rewrites every `reg` and `ranges` parent address directly under the
/// root for `ac` address and `sc` size cells. Nodes with a value that does
/// not fit are dropped (QEMU's PCIe, whose ECAM and MMIO lie above 4 GiB).
fn recell(t: &mut Dtb, ac: u32, sc: u32) {
    let cells = |n: &DtNode, name, default| n.prop(name).map_or(default, |v| dt_read(v, 1) as u32);
    assert_eq!(
        (
            cells(&t.root, "#address-cells", 2),
            cells(&t.root, "#size-cells", 1)
        ),
        (2, 2),
        "QEMU virt's root cells"
    );
    t.root
        .set("#address-cells", dt_cells(&[ac]))
        .set("#size-cells", dt_cells(&[sc]));
    t.root.kids.retain_mut(|n| {
        let reg = n.prop("reg").map(|r| {
            let entries: Vec<(u64, u64)> = r
                .chunks_exact(16)
                .map(|e| (dt_read(e, 2), dt_read(&e[8..], 2)))
                .collect();
            dt_reg(ac, sc, &entries)
        });
        let ranges = n.prop("ranges").filter(|r| !r.is_empty()).map(|r| {
            let (child_ac, child_sc) = (cells(n, "#address-cells", 2), cells(n, "#size-cells", 1));
            let child = 4 * child_ac as usize;
            let mut out = Vec::new();
            for e in r.chunks_exact(child + 8 + 4 * child_sc as usize) {
                out.extend(&e[..child]);
                out.extend(dt_number(dt_read(&e[child..], 2), ac)?);
                out.extend(&e[child + 8..]);
            }
            Some(out)
        });
        match (reg, ranges) {
            (Some(None), _) | (_, Some(None)) => false,
            (reg, ranges) => {
                if let Some(Some(r)) = reg {
                    n.set("reg", r);
                }
                if let Some(Some(r)) = ranges {
                    n.set("ranges", r);
                }
                true
            }
        }
    });
}

/// A second CPU node beside QEMU's `cpu@0`, with `reg` = `mpidr`, edited
/// by `edit`.
fn add_cpu(t: &mut Dtb, mpidr: u32, edit: impl FnOnce(DtNode) -> DtNode) {
    let mut cpu = t.node_mut("/cpus/cpu@0").clone();
    cpu.name = format!("cpu@{mpidr}");
    let cpu = edit(cpu.set("reg", dt_cells(&[mpidr])).clone());
    t.node_mut("/cpus").kids.push(cpu);
}

fn dtb_cases() -> Vec<Case> {
    let half_struct = |b: &mut Vec<u8>| {
        let off = header(b, HDR_OFF_DT_STRUCT) + header(b, HDR_SIZE_DT_STRUCT) / 2;
        b.truncate(off as usize & !3);
    };
    vec![
        tree(
            "`cpus=2` with a second `/cpus` node, `reg` = 5, that QEMU (`-smp 1`) does not have",
            "1G",
            "size=1M trials=1 cpus=2",
            &[],
            |t| add_cpu(t, 5, |c| c),
            error(
                "cpus=2: PSCI CPU_ON (hvc) of CPU 1 (MPIDR 0x5) failed: Invalid parameters to PSCI call",
            ),
        ),
        tree(
            "`cpus=2` on `-smp 2`, CPU 1 said to wait at a `cpu-release-addr` it never polls (QEMU keeps it off)",
            "1G",
            "size=1M trials=1 cpus=2",
            &["-smp", "2"],
            |t| {
                add_cpu(t, 1, |mut c| {
                    c.set("enable-method", dt_str("spin-table"))
                        .set("cpu-release-addr", dt_number(0x4000_1000, 2).unwrap());
                    c
                })
            },
            error("cpus=2: CPU 1 (MPIDR 0x1) did not come up within the time allowed"),
        ),
        blob(
            "magic `0xd00dfeee` instead of `0xd00dfeed`",
            |b| set_header(b, HDR_MAGIC, 0xd00d_feee),
            error("bad magic 0xd00dfeee"),
        ),
        blob(
            "header `totalsize` 16 MiB + 1",
            |b| set_header(b, HDR_TOTALSIZE, (16 << 20) + 1),
            error("totalsize 16777217"),
        ),
        blob(
            "header `totalsize` 2 MiB, more than the blob loaded: the stage \
             cannot tell (it reads on into RAM); the blocks are intact",
            |b| set_header(b, HDR_TOTALSIZE, 2 << 20),
            Expect::Boots(boots_with_2m_dtb),
        ),
        blob(
            "header `totalsize` 39, shorter than the header",
            |b| set_header(b, HDR_TOTALSIZE, 39),
            error("totalsize 39"),
        ),
        blob(
            "truncated: only the first half of the structure block loaded \
             (`totalsize` unchanged; RAM after it is zero)",
            half_struct,
            error("structure block malformed"),
        ),
        blob(
            "`off_dt_struct` = `totalsize`",
            |b| {
                let total = header(b, HDR_TOTALSIZE);
                set_header(b, HDR_OFF_DT_STRUCT, total)
            },
            error("off_dt_struct"),
        ),
        blob(
            "`size_dt_strings` = `totalsize` (strings block past the end)",
            |b| {
                let total = header(b, HDR_TOTALSIZE);
                set_header(b, HDR_SIZE_DT_STRINGS, total)
            },
            error("off_dt_strings"),
        ),
        blob(
            "`off_mem_rsvmap` not 8-byte aligned",
            |b| {
                let off = header(b, HDR_OFF_MEM_RSVMAP);
                set_header(b, HDR_OFF_MEM_RSVMAP, off + 4)
            },
            error("off_mem_rsvmap"),
        ),
        blob(
            "`version` 15",
            |b| set_header(b, HDR_VERSION, 15),
            error("version 15"),
        ),
        tree(
            "overlapping `/memory`: `memory@60000000` [0x60000000, +256M) inside \
             [0x40000000, +1G)",
            "1G",
            "mode=info",
            &[],
            |t| {
                let mut m = DtNode::new("memory@60000000");
                m.set("device_type", dt_str("memory"))
                    .set("reg", dt_reg(2, 2, &[(0x6000_0000, 256 << 20)]).unwrap());
                t.root.kids.push(m);
            },
            error("overlap"),
        ),
        tree(
            "zero-size `/memory` bank: `reg` = [0x40000000, +1G), [0x80000000, +0)",
            "1G",
            "mode=info",
            &[],
            |t| {
                let reg = dt_reg(2, 2, &[(0x4000_0000, GIB), (0x8000_0000, 0)]);
                t.node_mut("/memory").set("reg", reg.unwrap());
            },
            error("has size 0"),
        ),
        tree(
            "root `#address-cells` = 1, `#size-cells` = 1 (every `reg`/`ranges` \
             under `/` rewritten; PCIe, above 4 GiB, dropped)",
            "1G",
            "mode=info",
            &[],
            |t| recell(t, 1, 1),
            Expect::Boots(boots_1g),
        ),
        tree(
            "root `#address-cells` = 2, `#size-cells` = 1 (rewritten likewise)",
            "1G",
            "mode=info",
            &[],
            |t| recell(t, 2, 1),
            Expect::Boots(boots_1g),
        ),
        tree(
            "root `#address-cells` = 3",
            "1G",
            "mode=info",
            &[],
            |t| {
                t.root.set("#address-cells", dt_cells(&[3]));
            },
            error("#address-cells=3"),
        ),
        tree(
            "no `/chosen`, so no `stdout-path` (semihosting console) and no bootargs: \
             the default `mode=bench size=64M`, which `-m 128M` cannot hold",
            "128M",
            "mode=info",
            &[],
            |t| t.remove_node("/chosen"),
            // 16384 source pages: the default 64 MiB.
            Expect::Error {
                needle: "(16384 source pages",
                masks: FREE_BYTES,
            },
        )
        .also(|run| {
            semihosting_console(run);
            assert_eq!(platform(run)["bootargs"], "");
        }),
        tree(
            "no `stdout-path` in `/chosen` (bootargs `mode=info`)",
            "1G",
            "mode=info",
            &[],
            |t| {
                t.node_mut("/chosen").remove("stdout-path");
            },
            Expect::Boots(boots_on_semihosting),
        ),
        tree(
            "`stdout-path` names a UART the stage has no driver for \
             (the PL011 node's `compatible` = `ns16550a`)",
            "1G",
            "mode=info",
            &[],
            |t| {
                t.node_mut("/pl011").set("compatible", dt_str("ns16550a"));
            },
            error("'ns16550a': no driver"),
        ),
        tree(
            "`stdout-path` = `/serial@1c090000`, no such node",
            "1G",
            "mode=info",
            &[],
            |t| {
                t.node_mut("/chosen")
                    .set("stdout-path", dt_str("/serial@1c090000"));
            },
            error("names no node"),
        ),
        tree(
            "`linux,initrd-*` inside the stage's memory (a loader that \
             ignored `image_size`: the heap would overwrite it)",
            "1G",
            "mode=info",
            &[],
            |t| {
                let c = t.node_mut("/chosen");
                c.set(
                    "linux,initrd-start",
                    dt_number(LOAD + (1 << 20), 2).unwrap(),
                );
                c.set("linux,initrd-end", dt_number(LOAD + (2 << 20), 2).unwrap());
            },
            Expect::Error {
                needle: "lies inside this stage",
                masks: STAGE_END,
            },
        ),
        Case {
            input: "the DTB inside the stage's memory: Image loaded 2 MiB below \
                    the DTB, which is less than its `image_size`"
                .into(),
            boot: Box::new(|name| {
                let b = dump_virt_dtb(&scratch(name), "virt", "1G", "mode=info");
                // boot_elsewhere puts the DTB at RAM base + 8 MiB.
                boot_elsewhere(name, &b, 0x4060_0000, &[])
            }),
            expect: Expect::Error {
                needle: "lies inside this stage",
                masks: STAGE_END,
            },
            also: None,
        },
        tree(
            "`stdout-path` = `serial5:115200n8`, no such alias",
            "1G",
            "mode=info",
            &[],
            |t| {
                t.node_mut("/chosen")
                    .set("stdout-path", dt_str("serial5:115200n8"));
            },
            error("names no node"),
        ),
    ]
}

fn foreign_words_noted(run: &Run) -> String {
    let words = ["console=ttyAMA0", "root=/dev/vda", "quiet"];
    for w in words {
        let warning = format!("bootargs: '{w}' is not a stage option; left for the next stage");
        assert!(run.output.contains(&warning), "{warning}:\n{}", run.output);
    }
    assert!(run.all("error").is_empty(), "{}", run.output);
    "none: boots (exit 0); each word is a warning, e.g. \
     `bootargs: 'quiet' is not a stage option; left for the next stage`"
        .into()
}

fn bootargs_cases() -> Vec<Case> {
    let long_mode = format!("mode={}", "x".repeat(4096));
    let long_size = format!("mode=info size={}", "1".repeat(4096));
    let many_segs = (0..65)
        .map(|i| format!("{:#x}+4K", 0x5000_0000 + i * 0x10000))
        .collect::<Vec<_>>()
        .join(",");
    vec![
        cmdline("mode=info size=abc", error("size=\"abc\"")),
        cmdline("mode=info size=12q", error("size=\"12q\"")),
        cmdline("mode=info size=4KB", error("size=\"4KB\"")),
        cmdline("mode=info size=1.5M", error("size=\"1.5M\"")),
        cmdline("mode=info size=-4K", error("size=\"-4K\"")),
        cmdline("mode=info size=0x", error("size=\"0x\"")),
        cmdline("mode=info size=100", error("size=\"100\"")),
        cmdline("mode=info size=0", error("size=\"0\"")),
        cmdline("mode=info size=", error("size=\"\"")),
        cmdline(
            "mode=info size=99999999999999999999",
            error("size=\"99999999999999999999\""),
        ),
        cmdline("mode=info size=16777216T", error("size=\"16777216T\"")),
        cmdline(&long_size, error("size= (4096 bytes")),
        cmdline(&long_mode, error("mode= (4096 bytes")),
        cmdline("mode=", error("mode=\"\"")),
        cmdline("mode=info segments=0", error("segments=\"0\"")),
        cmdline("mode=info segments=4097", error("segments=\"4097\"")),
        cmdline("mode=info trials=1001", error("trials=\"1001\"")),
        cmdline(
            "mode=info seed=18446744073709551616",
            error("seed=\"18446744073709551616\""),
        ),
        cmdline("mode=info granule=8k", error("granule=\"8k\"")),
        cmdline("mode=info granule=4k,4k", error("granule=\"4k,4k\"")),
        cmdline("mode=info granule=4k,", error("granule=\"4k,\"")),
        cmdline(
            "mode=info granule=4k,64k,8k",
            error("granule=\"4k,64k,8k\""),
        ),
        cmdline("mode=info size=1M,", error("size=\"1M,\"")),
        cmdline("mode=info size=1M,,4M", error("size=\"1M,,4M\"")),
        cmdline("mode=info size=1M,5k", error("size=\"1M,5k\"")),
        cmdline(
            "mode=info size=4k,4k,4k,4k,4k,4k,4k,4k,4k",
            error("size=\"4k,4k,4k,4k,4k,4k,4k,4k,4k\""),
        ),
        cmdline("mode=info leaf=3m", error("leaf=\"3m\"")),
        cmdline(
            "mode=info granule=64k leaf=1g",
            error("not a leaf size of the 64k granule"),
        ),
        cmdline("mode=info contig=maybe", error("contig=\"maybe\"")),
        cmdline("mode=info strategy=fast", error("strategy=\"fast\"")),
        cmdline("mode=info copy=memcpy", error("copy=\"memcpy\"")),
        cmdline("mode=info mmu=auto", error("mmu=\"auto\"")),
        cmdline("mode=info log=loud", error("log=\"loud\"")),
        cmdline("mode=info dest=0x40000800", error("dest=\"0x40000800\"")),
        cmdline("mode=info segs=0x50000000", error("segs=\"0x50000000\"")),
        cmdline(
            &format!("mode=info segs={many_segs}"),
            error("(at most 64)"),
        ),
        cmdline(
            "mode=info cpus=0",
            error("cpus=\"0\": expected a count from 1 to 8 or all"),
        ),
        cmdline(
            "mode=info cpus=9",
            error("cpus=\"9\": expected a count from 1 to 8 or all"),
        ),
        cmdline("mode=info cpus=two", error("cpus=\"two\"")),
        cmdline(
            "mode=info cpus=2",
            error("cpus=2: the DTB lists 1 CPU(s) with a reg under /cpus"),
        ),
        cmdline(
            "size=1M trials=1 inject=secondary-copy-fault",
            error("inject=secondary-copy-fault needs a secondary: give cpus= above 1"),
        ),
        cmdline(
            "size=1M trials=1 inject=secondary-hang",
            error("inject=secondary-hang needs a secondary: give cpus= above 1"),
        ),
        cmdline(
            "size=1M trials=1 strategy=contiguous inject=secondary-hang",
            error(
                "inject=secondary-hang needs a list strategy (ind-list or legacy): a list slot is what hangs",
            ),
        ),
        cmdline(
            "mode=info console=ttyAMA0 root=/dev/vda quiet",
            Expect::Boots(foreign_words_noted),
        ),
    ]
}

fn segment_cases() -> Vec<Case> {
    // Where QEMU put the DTB and the stage: the platform record says.
    let info = Qemu::virt().append("mode=info").timeout(TIMEOUT).run();
    info.expect_status(0);
    let p = platform(&info);
    let (dtb_start, dtb_end) = region(&p["dtb"]);
    let (stage_start, _) = region(&p["stage"]);
    let reserved = |cmdline: &str| format!("{BENCH} {cmdline}");
    vec![
        segs(
            "0x50000800+4K",
            "base not page-aligned",
            error("not page-aligned"),
        ),
        segs(
            "0x50000000+1M,0x50080000+1M",
            "overlapping",
            error("segments 0 and 1"),
        ),
        segs("0x30000000+1M", "below RAM", error("does not start in RAM")),
        segs(
            "0x7ff00000+2M",
            "runs past the end of RAM",
            error("runs past the end of RAM bank"),
        ),
        segs(
            "0x100000000+4K",
            "above RAM",
            error("does not start in RAM"),
        ),
        segs("0x50000000+0", "zero size", error("is empty")),
        segs(
            "0xfffffffffffff000+8K",
            "wraps the address space",
            error("runs past the 64-bit address space"),
        ),
        segs(
            &format!("{dtb_start:#x}+64K"),
            "over the DTB (where the `platform` record of a `mode=info` boot puts it)",
            error("overlaps the DTB"),
        ),
        segs(
            &format!("{stage_start:#x}+64K"),
            "over the running stage",
            Expect::Error {
                needle: "overlaps this stage",
                masks: STAGE_END,
            },
        ),
        tree(
            "`segs=0x50080000+64K`: over a `/memreserve/` entry [0x50000000, +1M) \
             added to QEMU's DTB",
            "1G",
            &reserved("segs=0x50080000+64K"),
            &[],
            |t| t.memreserve.push((0x5000_0000, 1 << 20)),
            error("overlaps reserved memory [0x50000000, 0x50100000)"),
        ),
        tree(
            "`segs=0x51000000+4K`: over a `/reserved-memory` child \
             [0x51000000, +1M) added to QEMU's DTB",
            "1G",
            &reserved("segs=0x51000000+4K"),
            &[],
            |t| {
                let mut fw = DtNode::new("fw@51000000");
                fw.set("reg", dt_reg(2, 2, &[(0x5100_0000, 1 << 20)]).unwrap())
                    .set("no-map", Vec::new());
                let mut rm = DtNode::new("reserved-memory");
                rm.set("#address-cells", dt_cells(&[2]))
                    .set("#size-cells", dt_cells(&[2]))
                    .set("ranges", Vec::new());
                rm.kids.push(fw);
                t.root.kids.push(rm);
            },
            error("overlaps reserved memory [0x51000000, 0x51100000)"),
        ),
        qemu(
            "`size=16M,2G` on `-m 1G`: every payload of a list is placed before any runs",
            &[],
            &format!("{BENCH} size=16M,2G"),
            Expect::Error {
                needle: "does not fit",
                masks: USABLE_MIB,
            },
        ),
        qemu(
            "`granule=4k,64k leaves=2m` (a leaf of the first granule only): every granule's maps are checked before the first pass",
            &[],
            &format!("{BENCH} size=1M granule=4k,64k leaves=2m"),
            error("not a leaf size of the 64k granule"),
        ),
        qemu(
            "`size=2G` on `-m 1G`, placed by the stage",
            &[],
            &format!("{BENCH} size=2G"),
            Expect::Error {
                needle: "does not fit",
                masks: USABLE_MIB,
            },
        ),
        segs(
            &format!("{dtb_end:#x}+800M"),
            "in RAM (from the DTB's end), but free RAM cannot also hold its \
             800 MiB of source pages",
            Expect::Error {
                needle: "not enough free RAM",
                masks: FREE_BYTES,
            },
        ),
    ]
}

fn cpu_cases() -> Vec<Case> {
    vec![
        qemu(
            "`granule=16k` on `-cpu cortex-a57` (4k and 64k only)",
            &["-cpu", "cortex-a57"],
            "mode=info granule=16k",
            error("granule 16k is not supported by this CPU (supported: 4k 64k)"),
        ),
        qemu(
            "`granule=16k` on `-cpu a64fx` (4k and 64k only)",
            &["-cpu", "a64fx"],
            "mode=info granule=16k",
            error("granule 16k is not supported by this CPU (supported: 4k 64k)"),
        ),
        qemu(
            "`copy=mops` on `-cpu cortex-a72` (no FEAT_MOPS)",
            &["-cpu", "cortex-a72"],
            "size=1M trials=1 copy=mops",
            error("copy=mops: this CPU has no FEAT_MOPS (ID_AA64ISAR2_EL1.MOPS = 0)"),
        ),
        qemu(
            "`mode=boot copy=mops` on `-cpu cortex-a72` (no FEAT_MOPS)",
            &["-cpu", "cortex-a72"],
            "mode=boot copy=mops",
            error("copy=mops: this CPU has no FEAT_MOPS"),
        ),
        // QEMU refuses real RAM beyond the CPU's PA size ("Addressing
        // limited to 40 bits, but memory exceeds it by ..."), so the DTB
        // claims a second bank at 1 TiB that the 40-bit cortex-a53 cannot
        // address; the stage must refuse it before building a map.
        tree(
            "`-cpu cortex-a53` (40-bit PA) with a DTB `/memory` bank at 1 TiB \
             (QEMU refuses such RAM itself)",
            "1G",
            "mode=info",
            &["-cpu", "cortex-a53"],
            |t| {
                let reg = dt_reg(2, 2, &[(0x4000_0000, GIB), (TIB, GIB)]);
                t.node_mut("/memory").set("reg", reg.unwrap());
            },
            error("40 physical address bits"),
        ),
    ]
}

/// `mode=boot` with the test FIT, edited, as the initrd.
fn fit_boot(input: &str, edit: impl FnOnce(&mut Vec<u8>) + Send + 'static, expect: Expect) -> Case {
    Case {
        input: input.into(),
        boot: Box::new(move |name| {
            let mut b = std::fs::read(fit_payload()).unwrap();
            edit(&mut b);
            let path = scratch(name).join("boot.itb");
            std::fs::write(&path, &b).unwrap();
            Qemu::virt()
                .arg("-initrd")
                .arg(path.to_str().unwrap())
                .append("mode=boot console=ttyAMA0")
                .timeout(TIMEOUT)
                .run()
        }),
        expect,
        also: None,
    }
}

/// Edits the test FIT as a tree (the data stays embedded).
fn fit_tree(edit: impl FnOnce(&mut Dtb) + Send + 'static) -> impl FnOnce(&mut Vec<u8>) + Send {
    move |b| {
        let mut t = Dtb::parse(b);
        edit(&mut t);
        *b = t.to_bytes();
    }
}

/// Numbers that move with Debian's kernel and busybox: the kernel's and
/// the ramdisk's destination ends, the FIT's size.
const FIT_OVERLAP: &[(&str, &str)] = &[
    (") and 'ramdisk-1'", "<kernel end>"),
    (") overlap", "<ramdisk end>"),
];
const FIT_SIZE: &[(&str, &str)] = &[("", "<FIT size>")];

fn fit_cases() -> Vec<Case> {
    const KERNEL: &str = "/images/kernel-1";
    const RAMDISK: &str = "/images/ramdisk-1";
    vec![
        fit_boot(
            "kernel-1's data with one bit flipped at 0x1000 (its `hash-1` is sha256)",
            fit_tree(|t| {
                let n = t.node_mut(KERNEL);
                let mut data = n.prop("data").unwrap().to_vec();
                data[0x1000] ^= 1;
                n.set("data", data);
            }),
            error("FIT image 'kernel-1' hash-1: sha256 mismatch, image corrupt"),
        ),
        fit_boot(
            "ramdisk-1's `hash-2` with `algo = \"md5\"` (and a 16-byte value)",
            fit_tree(|t| {
                t.node_mut(&format!("{RAMDISK}/hash-2"))
                    .set("algo", dt_str("md5"))
                    .set("value", vec![0u8; 16]);
            }),
            error("hash algorithm 'md5' not supported"),
        ),
        fit_boot(
            "kernel-1 with `compression = \"gzip\"`",
            fit_tree(|t| {
                t.node_mut(KERNEL).set("compression", dt_str("gzip"));
            }),
            error("compression 'gzip' not supported"),
        ),
        fit_boot(
            "ramdisk-1 with `load = <0x40100000>`, inside the kernel's destination",
            fit_tree(|t| {
                t.node_mut(RAMDISK).set("load", dt_cells(&[0x4010_0000]));
            }),
            Expect::Error {
                needle: "overlap",
                masks: FIT_OVERLAP,
            },
        ),
        fit_boot(
            "truncated: only the first MiB of the FIT loaded",
            |b| b.truncate(1 << 20),
            Expect::Error {
                needle: "FIT image tree: DTB truncated: 1048576 bytes",
                masks: FIT_SIZE,
            },
        ),
        fit_boot(
            "conf-1 with `ramdisk = \"ramdisk-2\"`, an image `/images` lacks",
            fit_tree(|t| {
                t.node_mut("/configurations/conf-1")
                    .set("ramdisk", dt_str("ramdisk-2"));
            }),
            error("FIT configuration names ramdisk image 'ramdisk-2', which /images does not have"),
        ),
        fit_boot(
            "conf-1 with `fdt = \"fdt-1\"`, a `flat_dt` image (good crc32) of 4 bytes: the FDT magic alone",
            fit_tree(|t| {
                let dtb = b"\xd0\x0d\xfe\xed".to_vec();
                let crc = crc32fast::hash(&dtb).to_be_bytes().to_vec();
                t.add_fit_fdt(dtb, "crc32", crc);
            }),
            error("FIT fdt: DTB truncated: 4 bytes, header needs 40"),
        ),
    ]
}

/// A long input cut for the README.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}... ({} bytes)", &s[..i], s.len()),
        None => s.to_string(),
    }
}

/// Replaces the word just before the last `marker` in `msg`.
fn mask(msg: &str, marker: &str, placeholder: &str) -> String {
    let at = msg
        .rfind(marker)
        .unwrap_or_else(|| panic!("{marker:?} not in {msg:?}"));
    let start = msg[..at]
        .rfind(|c: char| !c.is_ascii_alphanumeric())
        .map_or(0, |i| i + 1);
    format!("{}{placeholder}{}", &msg[..start], &msg[at..])
}

/// One README row.
#[derive(Clone, Debug)]
struct Row {
    class: Class,
    input: String,
    message: String,
}

fn run_case(class: Class, index: usize, case: Case) -> Row {
    let name = format!("hostile-{}-{index}", class.name().to_lowercase());
    // Shown with the test's output if the case fails.
    eprintln!("== {} case {index}: {}", class.name(), case.input);
    let run = (case.boot)(&name);
    let message = match case.expect {
        Expect::Error { needle, masks } => {
            run.expect_error(needle);
            assert_eq!(
                run.all("error").len(),
                1,
                "one error record:\n{}",
                run.output
            );
            let raw = run.record("error")["msg"].as_str().unwrap();
            let msg = masks
                .iter()
                .fold(raw.to_string(), |m, (marker, ph)| mask(&m, marker, ph));
            format!("`{}`", msg.replace('|', "\\|"))
        }
        Expect::Boots(check) => {
            run.expect_status(0);
            check(&run)
        }
    };
    if let Some(check) = case.also {
        check(&run);
    }
    Row {
        class,
        input: case.input,
        message,
    }
}

/// Runs a class's cases once per process (the class test and the README
/// test share them); panics on the first case that misbehaves.
fn rows(class: Class) -> &'static [Row] {
    static ROWS: [OnceLock<Vec<Row>>; Class::ALL.len()] =
        [const { OnceLock::new() }; Class::ALL.len()];
    ROWS[class as usize].get_or_init(|| {
        class
            .cases()
            .into_iter()
            .enumerate()
            .map(|(i, c)| run_case(class, i, c))
            .collect()
    })
}

#[test]
fn dtb() {
    rows(Class::Dtb);
}

#[test]
fn bootargs() {
    rows(Class::Bootargs);
}

#[test]
fn segments() {
    rows(Class::Segments);
}

#[test]
fn cpu() {
    rows(Class::Cpu);
}

#[test]
fn fit() {
    rows(Class::Fit);
}

const START: &str = "<!-- bad-inputs:start -->\n";
const END: &str = "<!-- bad-inputs:end -->";

fn render() -> String {
    let mut out = String::from(
        "Generated from `tests/hostile.rs` (one QEMU boot per row; \
         `UPDATE_README=1 bash scripts/test.sh --test hostile` rewrites it). \
         The message is the stage's `error` record and the exit status is 1, \
         unless the row says it boots. Segment rows run \
         `mode=bench strategy=ind-list copy=copy_page mmu=on trials=1`; \
         FIT rows run `mode=boot` with the test FIT (`scripts/fit/boot.its`: \
         kernel-1 = Debian's cloud Image, ramdisk-1 = a busybox initramfs), \
         edited, as `-initrd`; \
         `<...>` stands for a number that moves with the stage's size or Debian's packages.\n\n\
         | class | input | error message |\n|---|---|---|\n",
    );
    for class in Class::ALL {
        for r in rows(class) {
            out += &format!("| {} | {} | {} |\n", r.class.name(), r.input, r.message);
        }
    }
    out
}

#[test]
fn readme_table_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let start = readme
        .find(START)
        .expect("README has the bad-inputs start marker")
        + START.len();
    let end = start
        + readme[start..]
            .find(END)
            .expect("README has the end marker");
    let table = render();
    if readme[start..end] == table {
        return;
    }
    if std::env::var_os("UPDATE_README").is_some_and(|v| v == "1") {
        let updated = format!("{}{table}{}", &readme[..start], &readme[end..]);
        std::fs::write(&path, updated).unwrap();
        eprintln!("README.md: bad-inputs table rewritten");
    } else {
        panic!(
            "README.md's bad-inputs table is stale; run \
             `UPDATE_README=1 bash scripts/test.sh --test hostile`.\nExpected:\n{table}"
        );
    }
}
