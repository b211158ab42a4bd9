//! Page hashes that prove a copy: xxh64 of every source page before, of
//! every destination page after. xxh64 is written here (it is short) so the
//! stage carries no hashing dependency.

use alloc::vec::Vec;
use core::fmt;

use super::PAGE_BYTES;
use crate::physmem::PhysMem;

const PRIME_1: u64 = 0x9E37_79B1_85EB_CA87;
const PRIME_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const PRIME_3: u64 = 0x1656_67B1_9E37_79F9;
const PRIME_4: u64 = 0x85EB_CA77_C2B2_AE63;
const PRIME_5: u64 = 0x27D4_EB2F_1656_67C5;
/// Bytes consumed per step by xxh64's four lanes.
const STRIPE: usize = 32;

fn round(acc: u64, lane: u64) -> u64 {
    acc.wrapping_add(lane.wrapping_mul(PRIME_2))
        .rotate_left(31)
        .wrapping_mul(PRIME_1)
}

fn merge_round(acc: u64, lane: u64) -> u64 {
    (acc ^ round(0, lane))
        .wrapping_mul(PRIME_1)
        .wrapping_add(PRIME_4)
}

fn le64(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

fn le32(b: &[u8]) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[..4]);
    u64::from(u32::from_le_bytes(w))
}

/// XXH64 of `data` with `seed` (Yann Collet's xxHash specification).
pub fn xxh64(data: &[u8], seed: u64) -> u64 {
    let mut rest = data;
    let mut h = if data.len() >= STRIPE {
        let mut v = [
            seed.wrapping_add(PRIME_1).wrapping_add(PRIME_2),
            seed.wrapping_add(PRIME_2),
            seed,
            seed.wrapping_sub(PRIME_1),
        ];
        while rest.len() >= STRIPE {
            for (i, acc) in v.iter_mut().enumerate() {
                *acc = round(*acc, le64(&rest[i * 8..]));
            }
            rest = &rest[STRIPE..];
        }
        let h = v[0]
            .rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18));
        v.iter().fold(h, |h, &lane| merge_round(h, lane))
    } else {
        seed.wrapping_add(PRIME_5)
    };
    h = h.wrapping_add(data.len() as u64);
    while rest.len() >= 8 {
        h = (h ^ round(0, le64(rest)))
            .rotate_left(27)
            .wrapping_mul(PRIME_1)
            .wrapping_add(PRIME_4);
        rest = &rest[8..];
    }
    if rest.len() >= 4 {
        h = (h ^ le32(rest).wrapping_mul(PRIME_1))
            .rotate_left(23)
            .wrapping_mul(PRIME_2)
            .wrapping_add(PRIME_3);
        rest = &rest[4..];
    }
    for &byte in rest {
        h = (h ^ u64::from(byte).wrapping_mul(PRIME_5))
            .rotate_left(11)
            .wrapping_mul(PRIME_1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(PRIME_2);
    h ^= h >> 29;
    h = h.wrapping_mul(PRIME_3);
    h ^ (h >> 32)
}

/// xxh64 (seed 0) of the page at `phys`.
pub fn page_hash(mem: &impl PhysMem, phys: u64) -> u64 {
    let mut page = [0u8; PAGE_BYTES];
    mem.read_bytes(phys, &mut page);
    xxh64(&page, 0)
}

/// The hash of each page, in order.
pub fn hash_pages(mem: &impl PhysMem, pages: impl IntoIterator<Item = u64>) -> Vec<u64> {
    pages.into_iter().map(|p| page_hash(mem, p)).collect()
}

/// The first page whose content does not hash as expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashMismatch {
    pub page: u64,
    pub expected: u64,
    pub found: u64,
}

impl fmt::Display for HashMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "page {:#x}: xxh64 {:#018x}, expected {:#018x}",
            self.page, self.found, self.expected
        )
    }
}

/// Compares each page against its expected hash; `Ok` carries the number of
/// pages checked.
pub fn verify_pages(
    mem: &impl PhysMem,
    pages: impl IntoIterator<Item = u64>,
    expected: &[u64],
) -> Result<u64, HashMismatch> {
    let mut checked = 0;
    for (page, &expected) in pages.into_iter().zip(expected) {
        let found = page_hash(mem, page);
        if found != expected {
            return Err(HashMismatch {
                page,
                expected,
                found,
            });
        }
        checked += 1;
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// Reference values from the xxHash spec and from libxxhash 0.8.1.
    #[test]
    fn xxh64_matches_reference_vectors() {
        assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"a", 0), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
        assert_eq!(xxh64(b"abcdefghijk", 7), 0xAC25_409B_7962_AC73);
        assert_eq!(
            xxh64(b"Nobody inspects the spammish repetition", 0),
            0xFBCE_A83C_8A37_8BF1
        );
        assert_eq!(
            xxh64(
                b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!?",
                0
            ),
            0xC02A_83E7_5F3E_D6ED
        );
        let page: Vec<u8> = (0..PAGE_BYTES).map(|i| i as u8).collect();
        assert_eq!(xxh64(&page, 0), 0x0F6E_64BE_186A_F6A4);
        assert_eq!(xxh64(&page, 0x9E37_79B9_7F4A_7C15), 0x3EDC_9F84_C269_072C);
    }
}
