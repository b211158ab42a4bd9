//! U-Boot Flattened Image Tree (FIT) images, as `mkimage -f` writes them:
//! an FDT whose `/images/*` nodes carry the bytes (embedded `data`, or
//! external `data-offset`/`data-position` + `data-size`) and whose
//! `/configurations` say which images boot together. This module resolves
//! the default configuration into a kernel, an optional ramdisk and an
//! optional device tree, checks every image's hash nodes, and places the
//! images in physical memory the way a bootloader would. It reads with
//! [`crate::fdt`] and never writes; moving bytes is the stage's business.
//!
//! Policy, stricter than U-Boot where that keeps garbage from booting:
//! every image must carry at least one hash node and every hash node must
//! use a supported algorithm (`sha256`, `sha1`, `crc32`); only
//! `compression = "none"` is accepted; signature nodes are not checked.

use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::fdt::{Fdt, FdtError, Node};
use crate::region::{Region, SZ_2M, SZ_4K, align_up};
use crate::relocate::ImageHeader;

/// What an image is for in a configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Kernel,
    Ramdisk,
    Fdt,
}

impl Role {
    /// The configuration property naming the image, also its name in
    /// messages.
    pub fn name(self) -> &'static str {
        match self {
            Role::Kernel => "kernel",
            Role::Ramdisk => "ramdisk",
            Role::Fdt => "fdt",
        }
    }

    /// The image `type`s acceptable in this role.
    fn types(self) -> &'static [&'static str] {
        match self {
            Role::Kernel => &["kernel", "kernel_noload"],
            Role::Ramdisk => &["ramdisk"],
            Role::Fdt => &["flat_dt"],
        }
    }
}

/// A supported hash algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algo {
    Sha256,
    Sha1,
    Crc32,
}

impl Algo {
    pub const NAMES: &'static str = "sha256, sha1, crc32";

    fn parse(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Algo::Sha256),
            "sha1" => Some(Algo::Sha1),
            "crc32" => Some(Algo::Crc32),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algo::Sha256 => "sha256",
            Algo::Sha1 => "sha1",
            Algo::Crc32 => "crc32",
        }
    }

    /// Bytes of the digest (`crc32` is stored as one big-endian cell).
    pub fn digest_len(self) -> usize {
        match self {
            Algo::Sha256 => 32,
            Algo::Sha1 => 20,
            Algo::Crc32 => 4,
        }
    }

    /// Whether `data` hashes to `want` (`want.len()` was checked).
    fn matches(self, data: &[u8], want: &[u8]) -> bool {
        match self {
            Algo::Sha256 => Sha256::digest(data).as_slice() == want,
            Algo::Sha1 => Sha1::digest(data).as_slice() == want,
            Algo::Crc32 => crc32fast::hash(data).to_be_bytes() == want,
        }
    }
}

/// One hash node of an image.
#[derive(Clone, Copy, Debug)]
pub struct Hash<'a> {
    pub node: &'a str,
    pub algo: Algo,
    pub value: &'a [u8],
}

/// One image of the chosen configuration.
#[derive(Clone, Debug)]
pub struct Image<'a> {
    pub role: Role,
    pub name: &'a str,
    /// Its `type` property.
    pub kind: &'a str,
    /// Where its bytes lie in the FIT (offsets from the FIT's first byte).
    pub range: Range<usize>,
    pub data: &'a [u8],
    /// `load`, except for a `kernel_noload`, which runs where it is put.
    pub load: Option<u64>,
    pub entry: Option<u64>,
    pub hashes: Vec<Hash<'a>>,
}

/// The images of the configuration a FIT boots by default.
#[derive(Clone, Debug)]
pub struct BootSet<'a> {
    pub config: &'a str,
    pub kernel: Image<'a>,
    pub ramdisk: Option<Image<'a>>,
    pub fdt: Option<Image<'a>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FitError<'a> {
    /// The image tree itself is not a valid FDT.
    Tree(FdtError),
    /// A node the format requires is absent.
    NoNode(&'static str),
    NoDefault,
    NoConfig(&'a str),
    ConfigMissing(&'a str),
    /// The configuration has no `kernel`.
    NoKernel,
    /// The configuration names an image `/images` lacks.
    MissingImage {
        role: Role,
        name: &'a str,
    },
    /// A property an image needs is absent or malformed.
    BadProp {
        image: &'a str,
        prop: &'a str,
    },
    /// The image's bytes lie (partly) outside the FIT.
    DataOutside {
        image: &'a str,
        range: Range<usize>,
        len: usize,
    },
    WrongType {
        role: Role,
        image: &'a str,
        kind: &'a str,
    },
    WrongArch {
        image: &'a str,
        arch: &'a str,
    },
    Compressed {
        image: &'a str,
        comp: &'a str,
    },
    NoHash {
        image: &'a str,
    },
    UnknownAlgo {
        image: &'a str,
        node: &'a str,
        algo: &'a str,
    },
    BadHashLen {
        image: &'a str,
        node: &'a str,
        algo: Algo,
        len: usize,
    },
    HashMismatch {
        image: &'a str,
        node: &'a str,
        algo: Algo,
    },
    /// The kernel image is not an arm64 `Image`.
    NotArm64Image {
        image: &'a str,
    },
    /// A placement rule is broken (alignment, overflow).
    Placement {
        image: &'a str,
        what: &'a str,
        at: u64,
    },
    /// Two destinations overlap.
    Overlap {
        a: &'a str,
        a_dest: Region,
        b: &'a str,
        b_dest: Region,
    },
}

impl fmt::Display for FitError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FitError::Tree(e) => write!(f, "FIT image tree: {e}"),
            FitError::NoNode(n) => write!(f, "FIT has no {n} node"),
            FitError::NoDefault => {
                write!(f, "FIT /configurations has no 'default' configuration")
            }
            FitError::NoConfig(c) => write!(f, "FIT default configuration '{c}' does not exist"),
            FitError::ConfigMissing(c) => write!(f, "FIT configuration '{c}' is malformed"),
            FitError::NoKernel => write!(f, "FIT default configuration names no kernel"),
            FitError::MissingImage { role, name } => write!(
                f,
                "FIT configuration names {} image '{name}', which /images does not have",
                role.name()
            ),
            FitError::BadProp { image, prop } => {
                write!(
                    f,
                    "FIT image '{image}': property '{prop}' missing or malformed"
                )
            }
            FitError::DataOutside { image, range, len } => write!(
                f,
                "FIT image '{image}': data [{:#x}, {:#x}) lies outside the {len:#x}-byte FIT (truncated?)",
                range.start, range.end
            ),
            FitError::WrongType { role, image, kind } => write!(
                f,
                "FIT image '{image}' of type '{kind}' cannot be the {} (expected {})",
                role.name(),
                role.types().join(" or ")
            ),
            FitError::WrongArch { image, arch } => {
                write!(f, "FIT image '{image}' is for arch '{arch}', not arm64")
            }
            FitError::Compressed { image, comp } => write!(
                f,
                "FIT image '{image}': compression '{comp}' not supported (only 'none'): store it uncompressed"
            ),
            FitError::NoHash { image } => write!(
                f,
                "FIT image '{image}' has no hash node: refusing unverified bytes (supported: {})",
                Algo::NAMES
            ),
            FitError::UnknownAlgo { image, node, algo } => write!(
                f,
                "FIT image '{image}' {node}: hash algorithm '{algo}' not supported (supported: {})",
                Algo::NAMES
            ),
            FitError::BadHashLen {
                image,
                node,
                algo,
                len,
            } => write!(
                f,
                "FIT image '{image}' {node}: {} value of {len} bytes (expected {})",
                algo.name(),
                algo.digest_len()
            ),
            FitError::HashMismatch { image, node, algo } => write!(
                f,
                "FIT image '{image}' {node}: {} mismatch, image corrupt",
                algo.name()
            ),
            FitError::NotArm64Image { image } => write!(
                f,
                "FIT kernel '{image}' is not an arm64 Image (no \"ARM\\x64\" magic at 0x38)"
            ),
            FitError::Placement { image, what, at } => {
                write!(f, "FIT image '{image}': {what} ({at:#x})")
            }
            FitError::Overlap {
                a,
                a_dest,
                b,
                b_dest,
            } => write!(
                f,
                "FIT images '{a}' at {a_dest} and '{b}' at {b_dest} overlap"
            ),
        }
    }
}

impl From<FdtError> for FitError<'_> {
    fn from(e: FdtError) -> Self {
        FitError::Tree(e)
    }
}

/// Whether `bytes` start like an FDT (a FIT) rather than an arm64 Image.
pub fn looks_like_fit(bytes: &[u8]) -> bool {
    crate::fdt::header_total_size(bytes).is_ok()
}

/// Resolves the default configuration of the FIT in `bytes` (the whole
/// file: external data may follow the tree). Checks types, architecture,
/// compression, data bounds and the presence and form of hash nodes; does
/// not hash (see [`BootSet::verify`]).
pub fn parse(bytes: &[u8]) -> Result<BootSet<'_>, FitError<'_>> {
    let tree = Fdt::new(bytes)?;
    let images = tree.find("/images").ok_or(FitError::NoNode("/images"))?;
    let configs = tree
        .find("/configurations")
        .ok_or(FitError::NoNode("/configurations"))?;
    let default = tree
        .prop(configs, "default")
        .and_then(|p| p.as_str())
        .ok_or(FitError::NoDefault)?;
    let config = tree
        .children(configs)
        .find(|c| c.name == default)
        .ok_or(FitError::NoConfig(default))?;
    let image = |role: Role| -> Result<Option<Image<'_>>, FitError<'_>> {
        let Some(p) = tree.prop(config, role.name()) else {
            return Ok(None);
        };
        // `fdt` may list several (overlays); the first is the base tree.
        let wanted = p
            .str_list()
            .next()
            .ok_or(FitError::ConfigMissing(default))?;
        let node = tree
            .children(images)
            .find(|n| n.name == wanted)
            .ok_or(FitError::MissingImage { role, name: wanted })?;
        read_image(&tree, bytes, node, role).map(Some)
    };
    Ok(BootSet {
        config: default,
        kernel: image(Role::Kernel)?.ok_or(FitError::NoKernel)?,
        ramdisk: image(Role::Ramdisk)?,
        fdt: image(Role::Fdt)?,
    })
}

fn read_image<'a>(
    tree: &Fdt<'a>,
    bytes: &'a [u8],
    node: Node<'a>,
    role: Role,
) -> Result<Image<'a>, FitError<'a>> {
    let image = node.name;
    let str_prop = |prop: &'static str| -> Result<Option<&'a str>, FitError<'a>> {
        tree.prop(node, prop)
            .map(|p| p.as_str().ok_or(FitError::BadProp { image, prop }))
            .transpose()
    };
    let uint_prop = |prop| uint_prop(tree, node, prop);
    let kind = str_prop("type")?.ok_or(FitError::BadProp {
        image,
        prop: "type",
    })?;
    if !role.types().contains(&kind) {
        return Err(FitError::WrongType { role, image, kind });
    }
    if let Some(arch) = str_prop("arch")?.filter(|a| *a != "arm64") {
        return Err(FitError::WrongArch { image, arch });
    }
    if let Some(comp) = str_prop("compression")?.filter(|c| *c != "none") {
        return Err(FitError::Compressed { image, comp });
    }
    let range = data_range(tree, bytes, node, image)?;
    let hashes = tree
        .children(node)
        .filter(|n| n.name.starts_with("hash"))
        .map(|n| read_hash(tree, n, image))
        .collect::<Result<Vec<_>, _>>()?;
    if hashes.is_empty() {
        return Err(FitError::NoHash { image });
    }
    Ok(Image {
        role,
        name: node.name,
        kind,
        data: &bytes[range.clone()],
        range,
        load: if kind == "kernel_noload" {
            None
        } else {
            uint_prop("load")?
        },
        entry: uint_prop("entry")?,
        hashes,
    })
}

/// An optional one- or two-cell number property of an image node.
fn uint_prop<'a>(
    tree: &Fdt<'a>,
    node: Node<'a>,
    prop: &'static str,
) -> Result<Option<u64>, FitError<'a>> {
    tree.prop(node, prop)
        .map(|p| {
            p.as_uint().ok_or(FitError::BadProp {
                image: node.name,
                prop,
            })
        })
        .transpose()
}

/// Embedded `data`, or external data at `data-position` (from the FIT's
/// start) or `data-offset` (from the end of the tree, 4-byte aligned), of
/// `data-size` bytes.
fn data_range<'a>(
    tree: &Fdt<'a>,
    bytes: &'a [u8],
    node: Node<'a>,
    image: &'a str,
) -> Result<Range<usize>, FitError<'a>> {
    if let Some(p) = tree.prop(node, "data") {
        let start = p.value.as_ptr() as usize - bytes.as_ptr() as usize;
        return Ok(start..start + p.value.len());
    }
    let uint = |prop| uint_prop(tree, node, prop);
    let size = uint("data-size")?.ok_or(FitError::BadProp {
        image,
        prop: "data",
    })?;
    let start = match (uint("data-position")?, uint("data-offset")?) {
        (Some(pos), _) => pos,
        (None, Some(off)) => (tree.total_size() as u64).next_multiple_of(4) + off,
        (None, None) => {
            return Err(FitError::BadProp {
                image,
                prop: "data-offset",
            });
        }
    };
    let outside = |start: u64, end: u64| FitError::DataOutside {
        image,
        range: start as usize..end as usize,
        len: bytes.len(),
    };
    let end = start.checked_add(size).ok_or(outside(start, u64::MAX))?;
    if end > bytes.len() as u64 {
        return Err(outside(start, end));
    }
    Ok(start as usize..end as usize)
}

fn read_hash<'a>(tree: &Fdt<'a>, n: Node<'a>, image: &'a str) -> Result<Hash<'a>, FitError<'a>> {
    let node = n.name;
    let algo_name = tree
        .prop(n, "algo")
        .and_then(|p| p.as_str())
        .ok_or(FitError::BadProp {
            image,
            prop: "algo",
        })?;
    let algo = Algo::parse(algo_name).ok_or(FitError::UnknownAlgo {
        image,
        node,
        algo: algo_name,
    })?;
    let value = tree
        .prop(n, "value")
        .ok_or(FitError::BadProp {
            image,
            prop: "value",
        })?
        .value;
    if value.len() != algo.digest_len() {
        return Err(FitError::BadHashLen {
            image,
            node,
            algo,
            len: value.len(),
        });
    }
    Ok(Hash {
        node: n.name,
        algo,
        value,
    })
}

impl<'a> Image<'a> {
    /// Checks every hash node against the image's bytes.
    pub fn verify(&self) -> Result<(), FitError<'a>> {
        for h in &self.hashes {
            if !h.algo.matches(self.data, h.value) {
                return Err(FitError::HashMismatch {
                    image: self.name,
                    node: h.node,
                    algo: h.algo,
                });
            }
        }
        Ok(())
    }
}

impl<'a> BootSet<'a> {
    pub fn images(&self) -> impl Iterator<Item = &Image<'a>> {
        core::iter::once(&self.kernel)
            .chain(self.ramdisk.as_ref())
            .chain(self.fdt.as_ref())
    }

    /// Checks every hash of every image of the configuration.
    pub fn verify(&self) -> Result<(), FitError<'a>> {
        self.images().try_for_each(Image::verify)
    }

    /// The kernel's arm64 Image header.
    pub fn kernel_header(&self) -> Result<ImageHeader, FitError<'a>> {
        ImageHeader::parse(self.kernel.data).ok_or(FitError::NotArm64Image {
            image: self.kernel.name,
        })
    }

    /// Where the kernel and the ramdisk go. The kernel: at its `load`
    /// (which must sit at a 2 MiB boundary plus `text_offset`), else at
    /// `base` (2 MiB-aligned) plus `text_offset`; it reserves `image_size`.
    /// The ramdisk: at its page-aligned `load`, else at the first page
    /// above the kernel's `image_size`. Destinations are page-rounded;
    /// they must not overlap.
    pub fn place(&self, base: u64) -> Result<Placement, FitError<'a>> {
        let h = self.kernel_header()?;
        let k = &self.kernel;
        let kname = k.name;
        let file_len = k.data.len() as u64;
        let load_len = h.load_len(file_len).ok_or(FitError::Placement {
            image: kname,
            what: "image_size overflows",
            at: h.image_size,
        })?;
        let kernel = match k.load {
            Some(load) => {
                let base = load.wrapping_sub(h.effective_text_offset());
                if load < h.effective_text_offset() || !base.is_multiple_of(SZ_2M) {
                    return Err(FitError::Placement {
                        image: kname,
                        what: "load is not a 2 MiB boundary plus the Image's text_offset",
                        at: load,
                    });
                }
                Region::from_len(load, load_len)
            }
            None => h.destination(base, file_len),
        }
        .ok_or(FitError::Placement {
            image: kname,
            what: "destination overflows",
            at: base,
        })?;
        if let Some(entry) = k.entry.filter(|e| *e != kernel.start) {
            return Err(FitError::Placement {
                image: kname,
                what: "entry differs from the load address: an arm64 Image is entered at its start",
                at: entry,
            });
        }
        let ramdisk = match &self.ramdisk {
            None => None,
            Some(r) => {
                let rname = r.name;
                let start = r.load.unwrap_or(kernel.end);
                if !start.is_multiple_of(SZ_4K) {
                    return Err(FitError::Placement {
                        image: rname,
                        what: "load is not page-aligned",
                        at: start,
                    });
                }
                let dest = align_up(r.data.len() as u64, SZ_4K)
                    .and_then(|len| Region::from_len(start, len.max(SZ_4K)))
                    .ok_or(FitError::Placement {
                        image: rname,
                        what: "destination overflows",
                        at: start,
                    })?;
                if dest.overlaps(&kernel) {
                    return Err(FitError::Overlap {
                        a: kname,
                        a_dest: kernel,
                        b: rname,
                        b_dest: dest,
                    });
                }
                Some((dest, r.data.len() as u64))
            }
        };
        Ok(Placement {
            kernel,
            ramdisk: ramdisk.map(|r| r.0),
            ramdisk_len: ramdisk.map_or(0, |r| r.1),
        })
    }
}

/// The lowest 2 MiB boundary `base` in RAM for which `dests(base)` gives
/// destinations that all lie in the same RAM bank as `base` and miss
/// `reserved` (how a loader picks where an Image and its ramdisk go when
/// nothing says; on a Pi 4 the bottom page is the spin table, so 2 MiB).
pub fn lowest_base(
    ram: &[Region],
    reserved: &[Region],
    dests: impl Fn(u64) -> Option<Vec<Region>>,
) -> Option<u64> {
    ram.iter().find_map(|bank| {
        let mut base = align_up(bank.start, SZ_2M)?;
        while base < bank.end {
            let d = dests(base)?;
            if !d.iter().all(|r| bank.covers(r)) {
                return None;
            }
            if !d.iter().any(|r| reserved.iter().any(|x| x.overlaps(r))) {
                return Some(base);
            }
            base = base.checked_add(SZ_2M)?;
        }
        None
    })
}

/// Destinations chosen by [`BootSet::place`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The kernel's destination: its entry is `kernel.start`.
    pub kernel: Region,
    /// The ramdisk's destination, page-rounded.
    pub ramdisk: Option<Region>,
    /// The ramdisk's true length (`linux,initrd-end` = start + this).
    pub ramdisk_len: u64,
}

impl Placement {
    pub fn destinations(&self) -> impl Iterator<Item = Region> {
        core::iter::once(self.kernel).chain(self.ramdisk)
    }
}

mod fixup;
pub use fixup::{FixupError, fixup_fdt};

#[cfg(test)]
mod tests;
