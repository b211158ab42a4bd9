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
    /// q-register ldp/stp, 512 bytes per iteration, with the `dc civac` of
    /// each destination line interleaved (the cleans are part of the
    /// kernel, not a second pass over the page).
    LdpQDc,
    /// FEAT_MOPS: CPYFP/CPYFM/CPYFE per page, then the by-line clean; only
    /// on CPUs that have it.
    Mops,
}

impl CopyKernel {
    /// Every kernel `copy=all` may run (`Mops` only where the CPU has it).
    pub const ALL: [CopyKernel; 4] = [
        CopyKernel::CopyPage,
        CopyKernel::LdpQ,
        CopyKernel::LdpQDc,
        CopyKernel::Mops,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            CopyKernel::CopyPage => "copy_page",
            CopyKernel::LdpQ => "ldp-q",
            CopyKernel::LdpQDc => "ldp-q-dc",
            CopyKernel::Mops => "mops",
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
    /// `granule=`: `None` lets the stage pick the CPU's best. With a list
    /// (`granule=4k,64k`) the first; the benchmark runs once per entry.
    pub granule: Option<Granule>,
    /// `granule=` as given: each granule at most once, in order (empty:
    /// none given).
    pub granules: Vec<Granule>,
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
    /// `size=`: synthetic payload bytes, one benchmark payload per entry
    /// (`size=1M,16M`), in the order given.
    pub sizes: Vec<u64>,
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
    pub segs: Vec<SegArg>,
    /// `inject=`: a test hook that points one source of the benchmark at
    /// unmapped memory, to show the fault report from inside a copy loop.
    pub inject: Inject,
    /// `cpus=`: how many CPUs copy each relocation (`None`: `all`, every
    /// CPU the DTB lists).
    pub cpus: Option<u32>,
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
            granules: Vec::new(),
            leaf: None,
            contig: true,
            strategy: None,
            copy: None,
            mmu: OnOff::Both,
            sizes: alloc::vec![64 << 20],
            segments: 4,
            seed: 1,
            dest: None,
            trials: 3,
            segs: Vec::new(),
            inject: Inject::None,
            cpus: Some(1),
            leaves: Vec::new(),
        }
    }
}

/// `inject=`: which fault the benchmark provokes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inject {
    None,
    /// A source in the boot CPU's share (with `cpus=1`, the only share).
    CopyFault,
    /// A source in the last CPU's share (needs `cpus=` above 1).
    SecondaryCopyFault,
    /// `mode=boot` only: the last CPU's share of the final copy never
    /// ends (needs `cpus=` above 1 and `strategy=ind-list`), so the boot
    /// CPU's bounded wait runs out.
    SecondaryHang,
}

/// One `segs=` entry: a destination base and size, as given (the segment
/// validator judges them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegArg {
    pub base: u64,
    pub size: u64,
}

/// Limits of the stage's keys, written once: the parsers check them and
/// the error messages quote them.
pub const PAGE: u64 = 4096;
/// Most `segments=`.
pub const SEGMENTS_MAX: u64 = 4096;
/// Most `trials=`.
pub const TRIALS_MAX: u64 = 1000;
/// Most `segs=` entries.
pub const SEGS_MAX: usize = 64;
/// Most `leaves=` policies.
pub const LEAVES_MAX: usize = 8;
/// Most `size=` entries.
pub const SIZES_MAX: usize = 8;
/// Most `cpus=`: the per-CPU stacks and slots the stage reserves.
pub const CPUS_MAX: u64 = 8;

/// What a key accepts, for its error message. Each variant quotes the
/// limit constant its parser checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// A count from 1 to `max`.
    Count { max: u64 },
    /// `size=`: 1 to [`SIZES_MAX`] non-zero multiples of [`PAGE`].
    Size,
    /// `granule=`: 1 to 3 distinct granules.
    Granules,
    /// `leaf=`: a power of two of at least [`PAGE`].
    Leaf,
    /// `leaves=`: 1 to [`LEAVES_MAX`] leaf sizes.
    Leaves,
    /// `seed=`.
    Number,
    /// `dest=`: a [`PAGE`]-aligned address.
    Address,
    /// `segs=`: 1 to [`SEGS_MAX`] `BASE+SIZE` entries.
    Segs,
    /// `cpus=`: 1 to [`CPUS_MAX`] or `all`.
    Cpus,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let page_k = PAGE >> 10;
        match *self {
            Expected::OneOf(words) => {
                for (i, w) in words.iter().enumerate() {
                    let sep = match i {
                        0 => "",
                        _ if i + 1 == words.len() => " or ",
                        _ => ", ",
                    };
                    write!(f, "{sep}{w}")?;
                }
                Ok(())
            }
            Expected::Count { max } => write!(f, "a count from 1 to {max}"),
            Expected::Size => write!(
                f,
                "1 to {SIZES_MAX} non-zero multiples of {page_k}k, e.g. 64M or 1M,16M"
            ),
            Expected::Granules => {
                let one = Expected::OneOf(&GRANULES_WORDS);
                write!(
                    f,
                    "one or more of {one}, each at most once, e.g. 4k or 4k,64k"
                )
            }
            Expected::Leaf => write!(
                f,
                "a power-of-two size of at least {page_k}k (4k, 2m, 1g, ...)"
            ),
            Expected::Leaves => write!(
                f,
                "1 to {LEAVES_MAX} power-of-two sizes of at least {page_k}k, e.g. 1g,2m,4k"
            ),
            Expected::Number => f.write_str("a 64-bit number"),
            Expected::Address => write!(f, "a {page_k}k-aligned physical address, e.g. 0x40000000"),
            Expected::Cpus => write!(f, "a count from 1 to {CPUS_MAX} or all"),
            Expected::Segs => write!(
                f,
                "BASE+SIZE[,BASE+SIZE...] (at most {SEGS_MAX}), e.g. 0x40000000+4M"
            ),
        }
    }
}

/// A stage-owned key with a value it cannot accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgError<'a> {
    pub key: &'a str,
    pub value: &'a str,
    pub expected: Expected,
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

/// The words of a choice table, for its error message.
const fn words<T: Copy, const N: usize>(table: &[(&'static str, T); N]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = table[i].0;
        i += 1;
    }
    out
}

const MODES: [(&str, Mode); 3] = [
    ("info", Mode::Info),
    ("bench", Mode::Bench),
    ("boot", Mode::Boot),
];
const MODES_WORDS: [&str; 3] = words(&MODES);
const LOG_LEVELS: [(&str, LogLevel); 5] = [
    ("error", LogLevel::Error),
    ("warn", LogLevel::Warn),
    ("info", LogLevel::Info),
    ("debug", LogLevel::Debug),
    ("trace", LogLevel::Trace),
];
const LOG_LEVELS_WORDS: [&str; 5] = words(&LOG_LEVELS);
/// Matched ignoring ASCII case (`4K` is `4k`).
const GRANULES: [(&str, Granule); 3] = [
    ("4k", Granule::K4),
    ("16k", Granule::K16),
    ("64k", Granule::K64),
];
const GRANULES_WORDS: [&str; 3] = words(&GRANULES);
const STRATEGIES: [(&str, Option<Strategy>); 4] = [
    ("ind-list", Some(Strategy::IndList)),
    ("contiguous", Some(Strategy::Contiguous)),
    ("legacy", Some(Strategy::Legacy)),
    ("all", None),
];
const STRATEGIES_WORDS: [&str; 4] = words(&STRATEGIES);
const COPY_KERNELS: [(&str, Option<CopyKernel>); 5] = [
    ("copy_page", Some(CopyKernel::CopyPage)),
    ("ldp-q", Some(CopyKernel::LdpQ)),
    ("ldp-q-dc", Some(CopyKernel::LdpQDc)),
    ("mops", Some(CopyKernel::Mops)),
    ("all", None),
];
const COPY_KERNELS_WORDS: [&str; 5] = words(&COPY_KERNELS);
const MMU_STATES: [(&str, OnOff); 3] = [
    ("on", OnOff::On),
    ("off", OnOff::Off),
    ("both", OnOff::Both),
];
const MMU_STATES_WORDS: [&str; 3] = words(&MMU_STATES);
/// `contig=` also takes `1`/`0`, `yes`/`no`, `true`/`false`; the message
/// names the first two.
const SWITCHES: [(&str, bool); 8] = [
    ("on", true),
    ("off", false),
    ("1", true),
    ("0", false),
    ("yes", true),
    ("no", false),
    ("true", true),
    ("false", false),
];
const INJECTIONS: [(&str, Inject); 4] = [
    ("copy-fault", Inject::CopyFault),
    ("secondary-copy-fault", Inject::SecondaryCopyFault),
    ("secondary-hang", Inject::SecondaryHang),
    ("none", Inject::None),
];
const INJECTIONS_WORDS: [&str; 4] = words(&INJECTIONS);

/// `value` looked up in a choice table; the error names `names`.
fn choose<T: Copy>(
    value: &str,
    table: &[(&'static str, T)],
    names: &'static [&'static str],
) -> Result<T, Expected> {
    table
        .iter()
        .find(|(w, _)| *w == value)
        .map(|(_, v)| *v)
        .ok_or(Expected::OneOf(names))
}

fn count(value: &str, max: u64) -> Result<u32, Expected> {
    parse_u64(value)
        .filter(|v| (1..=max).contains(v))
        .and_then(|v| u32::try_from(v).ok())
        .ok_or(Expected::Count { max })
}

fn leaf_size(value: &str) -> Option<u64> {
    parse_size(value).filter(|v| v.is_power_of_two() && *v >= PAGE)
}

/// A stage-owned key: its name and how its value sets [`BootArgs`] (or
/// what it expected instead).
struct Key {
    name: &'static str,
    parse: fn(&mut BootArgs, &str) -> Result<(), Expected>,
}

/// Every key the stage owns, with its parser; the parsers check the limit
/// constants above and their errors quote the same constants.
const KEYS: &[Key] = &[
    Key {
        name: "mode",
        parse: |a, v| {
            a.mode = choose(v, &MODES, &MODES_WORDS)?;
            Ok(())
        },
    },
    Key {
        name: "log",
        parse: |a, v| {
            a.log = choose(v, &LOG_LEVELS, &LOG_LEVELS_WORDS)?;
            Ok(())
        },
    },
    Key {
        name: "granule",
        parse: |a, v| {
            let lower = v.to_ascii_lowercase();
            let mut list = Vec::new();
            for g in lower.split(',') {
                let g = choose(g, &GRANULES, &GRANULES_WORDS).map_err(|_| Expected::Granules)?;
                if list.contains(&g) {
                    return Err(Expected::Granules);
                }
                list.push(g);
            }
            a.granule = list.first().copied();
            a.granules = list;
            Ok(())
        },
    },
    Key {
        name: "leaf",
        parse: |a, v| {
            a.leaf = Some(leaf_size(v).ok_or(Expected::Leaf)?);
            Ok(())
        },
    },
    Key {
        name: "contig",
        parse: |a, v| {
            a.contig = choose(v, &SWITCHES, &["on", "off"])?;
            Ok(())
        },
    },
    Key {
        name: "strategy",
        parse: |a, v| {
            a.strategy = choose(v, &STRATEGIES, &STRATEGIES_WORDS)?;
            Ok(())
        },
    },
    Key {
        name: "copy",
        parse: |a, v| {
            a.copy = choose(v, &COPY_KERNELS, &COPY_KERNELS_WORDS)?;
            Ok(())
        },
    },
    Key {
        name: "mmu",
        parse: |a, v| {
            a.mmu = choose(v, &MMU_STATES, &MMU_STATES_WORDS)?;
            Ok(())
        },
    },
    Key {
        name: "size",
        parse: |a, v| {
            let sizes: Option<Vec<u64>> = v
                .split(',')
                .map(|s| parse_size(s).filter(|v| *v > 0 && v.is_multiple_of(PAGE)))
                .collect();
            let sizes = sizes.filter(|l| (1..=SIZES_MAX).contains(&l.len()));
            a.sizes = sizes.ok_or(Expected::Size)?;
            Ok(())
        },
    },
    Key {
        name: "segments",
        parse: |a, v| {
            a.segments = count(v, SEGMENTS_MAX)?;
            Ok(())
        },
    },
    Key {
        name: "seed",
        parse: |a, v| {
            a.seed = parse_u64(v).ok_or(Expected::Number)?;
            Ok(())
        },
    },
    Key {
        name: "dest",
        parse: |a, v| {
            let dest = parse_size(v).filter(|v| v.is_multiple_of(PAGE));
            a.dest = Some(dest.ok_or(Expected::Address)?);
            Ok(())
        },
    },
    Key {
        name: "trials",
        parse: |a, v| {
            a.trials = count(v, TRIALS_MAX)?;
            Ok(())
        },
    },
    Key {
        name: "segs",
        parse: |a, v| {
            a.segs = parse_segs(v).ok_or(Expected::Segs)?;
            Ok(())
        },
    },
    Key {
        name: "leaves",
        parse: |a, v| {
            let leaves: Option<Vec<u64>> = v.split(',').map(leaf_size).collect();
            let leaves = leaves.filter(|l| (1..=LEAVES_MAX).contains(&l.len()));
            a.leaves = leaves.ok_or(Expected::Leaves)?;
            Ok(())
        },
    },
    Key {
        name: "inject",
        parse: |a, v| {
            a.inject = choose(v, &INJECTIONS, &INJECTIONS_WORDS)?;
            Ok(())
        },
    },
    Key {
        name: "cpus",
        parse: |a, v| {
            a.cpus = match v {
                "all" => None,
                _ => Some(count(v, CPUS_MAX).map_err(|_| Expected::Cpus)?),
            };
            Ok(())
        },
    },
];

/// Parses `bootargs`. The first bad value of a stage-owned key is an error.
pub fn parse(cmdline: &str) -> Result<Parsed<'_>, ArgError<'_>> {
    let mut args = BootArgs::default();
    let mut foreign = Vec::new();
    for word in cmdline.split_ascii_whitespace() {
        let owned = word
            .split_once('=')
            .and_then(|(key, value)| Some((KEYS.iter().find(|k| k.name == key)?, key, value)));
        match owned {
            Some((k, key, value)) => (k.parse)(&mut args, value).map_err(|expected| ArgError {
                key,
                value,
                expected,
            })?,
            None => foreign.push(word),
        }
    }
    Ok(Parsed { args, foreign })
}

fn parse_segs(v: &str) -> Option<Vec<SegArg>> {
    let segs: Option<Vec<SegArg>> = v
        .split(',')
        .map(|s| {
            let (base, size) = s.split_once('+')?;
            Some(SegArg {
                base: parse_size(base)?,
                size: parse_size(size)?,
            })
        })
        .collect();
    segs.filter(|s| !s.is_empty() && s.len() <= SEGS_MAX)
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
        assert_eq!(p.args.sizes, [8 << 20]);
        assert_eq!(
            parse("size=1M,16M").unwrap().args.sizes,
            [1 << 20, 16 << 20]
        );
        let g = parse("granule=4k,64K").unwrap().args;
        assert_eq!(g.granule, Some(Granule::K4));
        assert_eq!(g.granules, [Granule::K4, Granule::K64]);
        assert_eq!(p.args.granules, [Granule::K16]);
        assert!(BootArgs::default().granules.is_empty());
        for bad in ["4k,4k", "4k,", ",64k", "4k,32k", "4k;64k"] {
            let word = alloc::format!("granule={bad}");
            assert_eq!(
                parse(&word).unwrap_err().expected,
                Expected::Granules,
                "{bad}"
            );
        }
        assert!(parse("size=1M,").is_err());
        assert!(parse("size=1M,5k").is_err());
        let many = ["4k"; SIZES_MAX + 1].join(",");
        assert!(parse(&alloc::format!("size={many}")).is_err());
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
    fn every_key_rejects_garbage_naming_itself() {
        for k in KEYS {
            let word = alloc::format!("{}=zzz", k.name);
            let e = parse(&word).unwrap_err();
            assert_eq!(e.key, k.name);
            assert!(e.to_string().starts_with("bootargs: bad value for"), "{e}");
        }
    }

    #[test]
    fn limits_are_checked_and_quoted_from_one_constant() {
        let cases = [
            ("segments", SEGMENTS_MAX, "a count from 1 to 4096"),
            ("trials", TRIALS_MAX, "a count from 1 to 1000"),
            ("cpus", CPUS_MAX, "a count from 1 to 8 or all"),
        ];
        for (key, max, msg) in cases {
            assert!(parse(&alloc::format!("{key}={max}")).is_ok());
            let word = alloc::format!("{key}={}", max + 1);
            assert_eq!(parse(&word).unwrap_err().expected.to_string(), msg);
        }
        let segs: Vec<_> = (0..SEGS_MAX).map(|i| alloc::format!("{i}+4K")).collect();
        assert!(parse(&alloc::format!("segs={}", segs.join(","))).is_ok());
        let word = alloc::format!("segs={},0+4K", segs.join(","));
        let e = parse(&word).unwrap_err().to_string();
        assert!(e.contains("(at most 64)"), "{e}");
        let leaves = ["4k"; LEAVES_MAX].join(",");
        assert!(parse(&alloc::format!("leaves={leaves}")).is_ok());
        assert!(parse(&alloc::format!("leaves={leaves},4k")).is_err());
        assert_eq!(
            Expected::OneOf(&MODES_WORDS).to_string(),
            "info, bench or boot"
        );
        assert_eq!(
            Expected::Granules.to_string(),
            "one or more of 4k, 16k or 64k, each at most once, e.g. 4k or 4k,64k"
        );
    }

    #[test]
    fn cpus_and_injections() {
        assert_eq!(parse("").unwrap().args.cpus, Some(1));
        assert_eq!(parse("cpus=4").unwrap().args.cpus, Some(4));
        assert_eq!(parse("cpus=all").unwrap().args.cpus, None);
        for bad in ["cpus=0", "cpus=9", "cpus=", "cpus=-1", "cpus=All"] {
            assert_eq!(
                parse(bad).unwrap_err().to_string(),
                alloc::format!(
                    "bootargs: bad value for cpus=\"{}\": expected a count from 1 to 8 or all",
                    &bad[5..]
                )
            );
        }
        assert_eq!(
            parse("inject=secondary-copy-fault").unwrap().args.inject,
            Inject::SecondaryCopyFault
        );
        assert_eq!(
            parse("inject=secondary-hang").unwrap().args.inject,
            Inject::SecondaryHang
        );
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
        assert_eq!(
            p.args.segs,
            [
                SegArg {
                    base: 0x4000_0000,
                    size: 4 << 20
                },
                SegArg {
                    base: 0x5000_0800,
                    size: 0
                }
            ]
        );
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
