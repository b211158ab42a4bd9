//! What gets relocated: a segment is a source of bytes and the page-aligned
//! destination they must end up at. Also the arm64 `Image` header, which
//! says where a kernel wants to go, and synthetic payloads, whose every page
//! can be regenerated from a seed for verification.

use alloc::vec::Vec;

use super::PAGE_BYTES;
use crate::physmem::PhysMem;
use crate::region::{Region, SZ_2M, SZ_4K, align_up};

/// Where a segment's bytes are before relocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentSource {
    /// Bytes already in memory at this physical range, e.g. a payload QEMU
    /// loaded as the initrd.
    Phys(Region),
    /// `len` bytes of [`synthetic_fill`] output for `seed`.
    Synthetic { len: u64, seed: u64 },
}

impl SegmentSource {
    pub fn len(&self) -> u64 {
        match self {
            SegmentSource::Phys(r) => r.len(),
            SegmentSource::Synthetic { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The source bytes at `offset..offset + out.len()`; bytes past the end
    /// read as zero, as Linux's `kimage_load_normal_segment` clears each page
    /// before filling it.
    pub fn read(&self, mem: &impl PhysMem, offset: u64, out: &mut [u8]) {
        let present = self.len().saturating_sub(offset).min(out.len() as u64) as usize;
        let (data, tail) = out.split_at_mut(present);
        match self {
            SegmentSource::Phys(r) => mem.read_bytes(r.start + offset, data),
            SegmentSource::Synthetic { seed, .. } => synthetic_fill(*seed, offset, data),
        }
        tail.fill(0);
    }
}

/// A source and the destination its bytes are copied to; the destination
/// may be longer than the source (the rest is zero-filled, e.g. a kernel's
/// BSS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub src: SegmentSource,
    pub dest: Region,
}

impl Segment {
    /// Destination pages, each one list entry (the destination is
    /// page-aligned once validated).
    pub fn pages(&self) -> u64 {
        self.dest.len() / SZ_4K
    }

    /// What destination page `page` must hold after relocation.
    pub fn page_content(&self, mem: &impl PhysMem, page: u64, out: &mut [u8; PAGE_BYTES]) {
        self.src.read(mem, page * SZ_4K, out);
    }
}

/// splitmix64's finaliser: a bijective, well-avalanching 64-bit mix.
pub(super) const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The 64-bit golden ratio, splitmix64's stream increment.
pub(super) const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// Fills `out` with the synthetic payload for `seed` from byte `offset` on.
/// Each 8-byte word is a pure function of the seed and its index (counter
/// mode splitmix64), so any page regenerates alone and costs one multiply
/// chain per word.
pub fn synthetic_fill(seed: u64, offset: u64, out: &mut [u8]) {
    let key = mix64(seed);
    let mut i = 0;
    while i < out.len() {
        let pos = offset + i as u64;
        let word = mix64(key.wrapping_add((pos / 8 + 1).wrapping_mul(GOLDEN_GAMMA))).to_le_bytes();
        let skip = (pos % 8) as usize;
        let n = (8 - skip).min(out.len() - i);
        out[i..i + n].copy_from_slice(&word[skip..skip + n]);
        i += n;
    }
}

/// `size` bytes of synthetic payload as `count` segments placed upward from
/// `base` inside `free` (sorted, disjoint, e.g. [`Environment::usable_ram`]),
/// with at least `gap` bytes (rounded up to pages) between neighbours.
/// Segment `i` has seed `seed + i`; all but the last hold whole pages and
/// the last holds the remainder, so its final page is zero-padded. `None`
/// when there are fewer pages than segments or they do not fit.
///
/// [`Environment::usable_ram`]: super::Environment::usable_ram
pub fn synthetic_layout(
    free: &[Region],
    base: u64,
    size: u64,
    count: usize,
    gap: u64,
    seed: u64,
) -> Option<Vec<Segment>> {
    let total_pages = size.div_ceil(SZ_4K);
    let count64 = count as u64;
    if count == 0 || total_pages < count64 {
        return None;
    }
    let gap = align_up(gap, SZ_4K)?;
    let mut cursor = align_up(base, SZ_4K)?;
    let mut left = size;
    let mut out = Vec::with_capacity(count);
    for i in 0..count64 {
        let pages = total_pages / count64 + u64::from(i < total_pages % count64);
        let len = if i + 1 == count64 {
            left
        } else {
            pages * SZ_4K
        };
        left -= len;
        let dest = free
            .iter()
            .filter_map(|r| r.shrink_to(SZ_4K))
            .find_map(|r| {
                let d = Region::from_len(cursor.max(r.start), pages * SZ_4K)?;
                r.covers(&d).then_some(d)
            })?;
        cursor = dest.end.checked_add(gap)?;
        out.push(Segment {
            src: SegmentSource::Synthetic {
                len,
                seed: seed.wrapping_add(i),
            },
            dest,
        });
    }
    Some(out)
}

/// The 64-byte header at the start of an arm64 `Image`
/// (Linux `Documentation/arch/arm64/booting.rst`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageHeader {
    /// Offset of the image above a 2 MiB-aligned base.
    pub text_offset: u64,
    /// Bytes the image occupies once running, BSS included; 0 in kernels
    /// older than 3.17.
    pub image_size: u64,
    /// Bit 0 big-endian, bits 1-2 page size, bit 3 "anywhere in RAM".
    pub flags: u64,
}

impl ImageHeader {
    pub const LEN: usize = 64;
    pub const MAGIC: [u8; 4] = *b"ARM\x64";
    const MAGIC_AT: usize = 0x38;
    const TEXT_OFFSET_AT: usize = 8;
    const IMAGE_SIZE_AT: usize = 16;
    const FLAGS_AT: usize = 24;
    /// The text offset the boot protocol assumes when `image_size` is 0.
    pub const LEGACY_TEXT_OFFSET: u64 = 0x8_0000;

    /// The header at the start of `bytes`, if it carries the magic.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let header = bytes.get(..Self::LEN)?;
        if header[Self::MAGIC_AT..Self::MAGIC_AT + 4] != Self::MAGIC {
            return None;
        }
        let field = |at: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&header[at..at + 8]);
            u64::from_le_bytes(word)
        };
        Some(ImageHeader {
            text_offset: field(Self::TEXT_OFFSET_AT),
            image_size: field(Self::IMAGE_SIZE_AT),
            flags: field(Self::FLAGS_AT),
        })
    }

    /// The text offset to honour: the header's, or 0x80000 for an old image
    /// that leaves `image_size` 0 (its `text_offset` is then unreliable).
    pub fn effective_text_offset(&self) -> u64 {
        if self.image_size == 0 {
            Self::LEGACY_TEXT_OFFSET
        } else {
            self.text_offset
        }
    }

    /// Bytes to reserve at the destination: `image_size`, or the file size
    /// when that is 0, rounded up to a page.
    pub fn load_len(&self, file_len: u64) -> Option<u64> {
        let len = if self.image_size == 0 {
            file_len
        } else {
            self.image_size
        };
        align_up(len, SZ_4K)
    }

    /// Where the boot protocol places the image in RAM starting at
    /// `ram_base`: the first 2 MiB boundary plus the text offset.
    pub fn destination(&self, ram_base: u64, file_len: u64) -> Option<Region> {
        let start = align_up(ram_base, SZ_2M)?.checked_add(self.effective_text_offset())?;
        Region::from_len(start, self.load_len(file_len)?)
    }

    /// A segment moving the Image lying at `file` to its boot-protocol place.
    pub fn segment(&self, file: Region, ram_base: u64) -> Option<Segment> {
        Some(Segment {
            src: SegmentSource::Phys(file),
            dest: self.destination(ram_base, file.len())?,
        })
    }
}
