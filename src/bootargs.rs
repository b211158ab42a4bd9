//! The stage's command line (`/chosen/bootargs`): space-separated
//! `key=value` words. Keys the stage owns are parsed strictly (a bad value is
//! an error naming the key, the value and what is allowed); every other word
//! belongs to the next stage (`console=`, `root=`, `quiet`) and is only
//! noted.

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;

use crate::cpu::Granule;

/// What the stage does after discovering the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Report platform, CPU and map, then exit.
    Info,
    /// Relocate a synthetic payload with every strategy and report timings.
    Bench,
    /// Relocate the real payload and jump to it.
    Boot,
}

/// Log verbosity, mirrored from `log::LevelFilter` so this module stays
/// free of the logger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// Relocation strategies (`strategy=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Linux's kimage IND_* list walk over the linear map.
    IndList,
    /// Sources mapped contiguously, one loop.
    Contiguous,
    /// The list walk as Linux <= 5.12 ran it, MMU off only: each
    /// destination page invalidated before the copy, not cleaned after.
    Legacy,
}

impl Strategy {
    pub const fn name(self) -> &'static str {
        match self {
            Strategy::IndList => "ind-list",
            Strategy::Contiguous => "contiguous",
            Strategy::Legacy => "legacy",
        }
    }
}

/// Page-copy kernels (`copy=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyKernel {
    /// Linux's `copy_page`: 4 x ldp + 4 x stnp per 64 bytes.
    CopyPage,
    /// 128 bytes per iteration with q-register ldp/stp.
    LdpQ,
}

impl CopyKernel {
    pub const ALL: [CopyKernel; 2] = [CopyKernel::CopyPage, CopyKernel::LdpQ];

    pub const fn name(self) -> &'static str {
        match self {
            CopyKernel::CopyPage => "copy_page",
            CopyKernel::LdpQ => "ldp-q",
        }
    }
}

/// `on`, `off` or `both` (run each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnOff {
    On,
    Off,
    Both,
}

/// Everything the stage reads from its command line, with defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootArgs {
    pub mode: Mode,
    pub log: LogLevel,
    /// `granule=`: `None` lets the stage pick the CPU's best.
    pub granule: Option<Granule>,
    /// `leaf=`: the largest leaf (block) size allowed, in bytes.
    pub leaf: Option<u64>,
    /// `contig=`: use the contiguous hint.
    pub contig: bool,
    /// `strategy=`: `None` runs all strategies (bench) or `ind-list` (boot).
    pub strategy: Option<Strategy>,
    /// `copy=`: `None` runs all kernels (bench) or `copy_page` (boot).
    pub copy: Option<CopyKernel>,
    /// `mmu=`: which MMU states the benchmark runs.
    pub mmu: OnOff,
    /// `size=`: synthetic payload bytes.
    pub size: u64,
    /// `segments=`: synthetic payload segment count.
    pub segments: u32,
    /// `seed=`: synthetic payload and shuffling seed.
    pub seed: u64,
    /// `dest=`: destination base for the real payload.
    pub dest: Option<u64>,
    /// `trials=`: repetitions per benchmark configuration.
    pub trials: u32,
    /// `segs=BASE+SIZE,...`: explicit synthetic segment destinations for
    /// the benchmark (instead of `size=`/`segments=` placed by the stage).
    /// Only parsed here; the segment validator judges them.
    pub segs: Vec<(u64, u64)>,
    /// `inject=copy-fault`: a test hook that points one source of the
    /// benchmark at unmapped memory, to show the fault report from inside a
    /// copy loop.
    pub inject_copy_fault: bool,
    /// `leaves=4k,2m,1g`: run the ind-list loop with the MMU on once per
    /// largest-leaf policy (one linear map each, switched break-before-make).
    pub leaves: Vec<u64>,
}

impl Default for BootArgs {
    fn default() -> Self {
        BootArgs {
            mode: Mode::Bench,
            log: LogLevel::Info,
            granule: None,
            leaf: None,
            contig: true,
            strategy: None,
            copy: None,
            mmu: OnOff::Both,
            size: 64 << 20,
            segments: 4,
            seed: 1,
            dest: None,
            trials: 3,
            segs: Vec::new(),
            inject_copy_fault: false,
            leaves: Vec::new(),
        }
    }
}

/// A stage-owned key with a value it cannot accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgError<'a> {
    pub key: &'a str,
    pub value: &'a str,
    pub expected: &'static str,
}

/// Longest value quoted back in an error; a 4 KiB garbage value is cut.
const QUOTE_MAX: usize = 40;

impl fmt::Display for ArgError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cut = self.value.char_indices().nth(QUOTE_MAX).map(|(i, _)| i);
        match cut {
            Some(i) => write!(
                f,
                "bootargs: bad value for {}= ({} bytes, starting \"{}...\"): expected {}",
                self.key,
                self.value.len(),
                &self.value[..i],
                self.expected
            ),
            None => write!(
                f,
                "bootargs: bad value for {}=\"{}\": expected {}",
                self.key, self.value, self.expected
            ),
        }
    }
}

/// Parse result: the settings plus the words left for the next stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub args: BootArgs,
    /// Words the stage does not own, in order.
    pub foreign: Vec<&'a str>,
}

/// Parses `bootargs`. The first bad value of a stage-owned key is an error.
pub fn parse(cmdline: &str) -> Result<Parsed<'_>, ArgError<'_>> {
    let mut args = BootArgs::default();
    let mut foreign = Vec::new();
    for word in cmdline.split_ascii_whitespace() {
        let Some((key, value)) = word.split_once('=') else {
            foreign.push(word);
            continue;
        };
        let bad = |expected| ArgError {
            key,
            value,
            expected,
        };
        match key {
            "mode" => {
                args.mode = match value {
                    "info" => Mode::Info,
                    "bench" => Mode::Bench,
                    "boot" => Mode::Boot,
                    _ => return Err(bad("info, bench or boot")),
                }
            }
            "log" => {
                args.log = match value {
                    "error" => LogLevel::Error,
                    "warn" => LogLevel::Warn,
                    "info" => LogLevel::Info,
                    "debug" => LogLevel::Debug,
                    "trace" => LogLevel::Trace,
                    _ => return Err(bad("error, warn, info, debug or trace")),
                }
            }
            "granule" => {
                args.granule = Some(match value {
                    "4k" | "4K" => Granule::K4,
                    "16k" | "16K" => Granule::K16,
                    "64k" | "64K" => Granule::K64,
                    _ => return Err(bad("4k, 16k or 64k")),
                })
            }
            "leaf" => {
                let v = parse_size(value)
                    .filter(|v| v.is_power_of_two() && *v >= 4096)
                    .ok_or_else(|| bad("a power-of-two size of at least 4k (4k, 2m, 1g, ...)"))?;
                args.leaf = Some(v);
            }
            "contig" => args.contig = parse_bool(value).ok_or_else(|| bad("on or off"))?,
            "strategy" => {
                args.strategy = match value {
                    "ind-list" => Some(Strategy::IndList),
                    "contiguous" => Some(Strategy::Contiguous),
                    "legacy" => Some(Strategy::Legacy),
                    "all" => None,
                    _ => return Err(bad("ind-list, contiguous, legacy or all")),
                }
            }
            "copy" => {
                args.copy = match value {
                    "copy_page" => Some(CopyKernel::CopyPage),
                    "ldp-q" => Some(CopyKernel::LdpQ),
                    "all" => None,
                    _ => return Err(bad("copy_page, ldp-q or all")),
                }
            }
            "mmu" => {
                args.mmu = match value {
                    "on" => OnOff::On,
                    "off" => OnOff::Off,
                    "both" => OnOff::Both,
                    _ => return Err(bad("on, off or both")),
                }
            }
            "size" => {
                args.size = parse_size(value)
                    .filter(|v| *v > 0 && v % 4096 == 0)
                    .ok_or_else(|| bad("a non-zero multiple of 4k, e.g. 64M"))?
            }
            "segments" => {
                args.segments = parse_u64(value)
                    .and_then(|v| u32::try_from(v).ok())
                    .filter(|v| (1..=4096).contains(v))
                    .ok_or_else(|| bad("a count from 1 to 4096"))?
            }
            "seed" => args.seed = parse_u64(value).ok_or_else(|| bad("a 64-bit number"))?,
            "dest" => {
                args.dest = Some(
                    parse_size(value)
                        .filter(|v| v % 4096 == 0)
                        .ok_or_else(|| bad("a 4k-aligned physical address, e.g. 0x40000000"))?,
                )
            }
            "trials" => {
                args.trials = parse_u64(value)
                    .and_then(|v| u32::try_from(v).ok())
                    .filter(|v| (1..=1000).contains(v))
                    .ok_or_else(|| bad("a count from 1 to 1000"))?
            }
            "segs" => {
                args.segs = parse_segs(value).ok_or_else(|| {
                    bad("BASE+SIZE[,BASE+SIZE...] (at most 64), e.g. 0x40000000+4M")
                })?
            }
            "leaves" => {
                let leaves: Option<Vec<u64>> = value
                    .split(',')
                    .map(|l| parse_size(l).filter(|v| v.is_power_of_two() && *v >= 4096))
                    .collect();
                args.leaves = leaves
                    .filter(|l| (1..=8).contains(&l.len()))
                    .ok_or_else(|| {
                        bad("1 to 8 power-of-two sizes of at least 4k, e.g. 1g,2m,4k")
                    })?;
            }
            "inject" => {
                args.inject_copy_fault = match value {
                    "copy-fault" => true,
                    "none" => false,
                    _ => return Err(bad("copy-fault or none")),
                }
            }
            _ => foreign.push(word),
        }
    }
    Ok(Parsed { args, foreign })
}

/// Most `segs=` entries accepted.
const MAX_SEGS: usize = 64;

fn parse_segs(v: &str) -> Option<Vec<(u64, u64)>> {
    let segs: Option<Vec<(u64, u64)>> = v
        .split(',')
        .map(|s| {
            let (base, size) = s.split_once('+')?;
            Some((parse_size(base)?, parse_size(size)?))
        })
        .collect();
    segs.filter(|s| !s.is_empty() && s.len() <= MAX_SEGS)
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "on" | "1" | "yes" | "true" => Some(true),
        "off" | "0" | "no" | "false" => Some(false),
        _ => None,
    }
}

/// A decimal or `0x` hexadecimal u64; `None` for anything else or overflow.
pub fn parse_u64(v: &str) -> Option<u64> {
    let (digits, radix) = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (v, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// A size: a `parse_u64` number with an optional binary suffix K, M, G or
/// T (either case). `None` on garbage or overflow.
pub fn parse_size(v: &str) -> Option<u64> {
    let (num, shift) = match v.as_bytes().last()? {
        b'k' | b'K' => (&v[..v.len() - 1], 10),
        b'm' | b'M' => (&v[..v.len() - 1], 20),
        b'g' | b'G' => (&v[..v.len() - 1], 30),
        b't' | b'T' => (&v[..v.len() - 1], 40),
        _ => (v, 0),
    };
    let n = parse_u64(num)?;
    n.checked_mul(1u64 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use proptest::prelude::*;

    #[test]
    fn defaults_and_known_keys() {
        let p = parse(
            "mode=info log=debug granule=16k leaf=2m contig=off size=8M segments=3 seed=0x10",
        )
        .unwrap();
        assert_eq!(p.args.mode, Mode::Info);
        assert_eq!(p.args.log, LogLevel::Debug);
        assert_eq!(p.args.granule, Some(Granule::K16));
        assert_eq!(p.args.leaf, Some(2 << 20));
        assert!(!p.args.contig);
        assert_eq!(p.args.size, 8 << 20);
        assert_eq!(p.args.segments, 3);
        assert_eq!(p.args.seed, 16);
        assert!(p.foreign.is_empty());
        assert_eq!(parse("").unwrap().args, BootArgs::default());
    }

    #[test]
    fn foreign_words_are_kept_not_errors() {
        let p = parse("console=ttyAMA0 quiet mode=bench root=/dev/vda").unwrap();
        assert_eq!(p.foreign, ["console=ttyAMA0", "quiet", "root=/dev/vda"]);
    }

    #[test]
    fn bad_values_name_key_and_value() {
        let e = parse("mode=fast").unwrap_err();
        assert_eq!(e.key, "mode");
        assert_eq!(
            e.to_string(),
            "bootargs: bad value for mode=\"fast\": expected info, bench or boot"
        );
        assert!(parse("size=").is_err());
        assert!(parse("size=12x").is_err());
        assert!(parse("size=100").is_err(), "not a multiple of 4k");
        assert!(parse("size=99999999999999999999").is_err());
        assert!(parse("size=16777216T").is_err(), "overflow after suffix");
        assert!(parse("leaf=3m").is_err());
        assert!(parse("segments=0").is_err());
        assert!(parse("dest=0x40000001").is_err());
        assert!(parse("segs=0x40000000").is_err());
        assert!(parse("segs=0x40000000+4M,").is_err());
        assert!(parse("trials=0").is_err());
    }

    #[test]
    fn leaf_sweep() {
        assert_eq!(
            parse("leaves=1g,2m,4k").unwrap().args.leaves,
            [1 << 30, 2 << 20, 4096]
        );
        assert!(parse("leaves=1g,3m").is_err());
        assert!(parse("leaves=").is_err());
    }

    #[test]
    fn explicit_segments() {
        let p = parse("segs=0x40000000+4M,0x50000800+0").unwrap();
        assert_eq!(p.args.segs, [(0x4000_0000, 4 << 20), (0x5000_0800, 0)]);
    }

    #[test]
    fn long_garbage_value_is_quoted_short() {
        let long = alloc::format!("mode={}", "x".repeat(4096));
        let msg = parse(&long).unwrap_err().to_string();
        assert!(msg.contains("4096 bytes"), "{msg}");
        assert!(msg.len() < 160, "{msg}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4k"), Some(4096));
        assert_eq!(parse_size("64M"), Some(64 << 20));
        assert_eq!(parse_size("0x1000"), Some(4096));
        assert_eq!(parse_size("1T"), Some(1 << 40));
        assert_eq!(parse_size("k"), None);
        assert_eq!(parse_size("-1"), None);
        assert_eq!(parse_size("0x"), None);
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,200}") {
            let _ = parse(&s);
        }

        #[test]
        fn size_roundtrip(n in 0u64..1 << 30, suffix in 0usize..4) {
            let (sfx, shift) = [("", 0), ("k", 10), ("M", 20), ("g", 30)][suffix];
            let text = alloc::format!("{n}{sfx}");
            prop_assert_eq!(parse_size(&text), n.checked_mul(1 << shift));
        }
    }
}
