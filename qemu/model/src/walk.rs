//! A stage-1 translation table walk of the guest's own tables (VMSAv8-64,
//! TTBR0 only, 4K/16K/64K granule, 48-bit output), to learn the leaf size
//! and output address of a translation. It reads descriptors through a
//! `Descriptors` source so the same code runs on the host in tests.

/// Where descriptors come from (guest memory in the plugin).
pub trait Descriptors {
    /// The 64-bit descriptor at physical address `pa`.
    fn read(&mut self, pa: u64) -> Option<u64>;
}

/// The translation registers of the current regime (EL1 or EL2, E2H = 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Regime {
    pub ttbr0: u64,
    pub tcr: u64,
    pub mair: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leaf {
    pub va: u64,
    pub pa: u64,
    pub size: u64,
    pub device: bool,
}

/// A finished walk: the leaf (None: translation fault) and the physical
/// addresses of the descriptors read, in order.
#[derive(Debug, Default)]
pub struct Walk {
    pub leaf: Option<Leaf>,
    pub reads: Vec<u64>,
}

const OA_MASK: u64 = 0x0000_ffff_ffff_f000;
const TCR_T0SZ: u64 = 0x3f;
const TCR_TG0_SHIFT: u32 = 14;

impl Regime {
    /// Granule shift from TCR.TG0 (00: 4K, 01: 64K, 10: 16K).
    fn granule_shift(&self) -> u32 {
        match (self.tcr >> TCR_TG0_SHIFT) & 3 {
            1 => 16,
            2 => 14,
            _ => 12,
        }
    }

    /// Whether MAIR attribute `idx` is a Device type (attr<7:4> = 0).
    fn is_device(&self, idx: u64) -> bool {
        (self.mair >> (8 * idx)) & 0xf0 == 0
    }

    pub fn walk(&self, va: u64, mem: &mut dyn Descriptors) -> Walk {
        let g = self.granule_shift();
        let stride = g - 3;
        let ia_bits = 64 - (self.tcr & TCR_T0SZ) as u32;
        let levels = (ia_bits - g).div_ceil(stride);
        let mut out = Walk::default();
        if va >> ia_bits.min(63) != 0 || levels == 0 || levels > 4 {
            return out;
        }
        let mut table = self.ttbr0 & OA_MASK & !((1u64 << g) - 1);
        for level in (4 - levels)..4 {
            let shift = g + stride * (3 - level);
            let idx = (va >> shift) & ((1 << stride) - 1);
            let addr = table + idx * 8;
            out.reads.push(addr);
            let Some(d) = mem.read(addr) else {
                return out;
            };
            let oa = d & OA_MASK;
            match (d & 3, level) {
                (3, 3) | (1, 1..=2) => {
                    let size = 1u64 << shift;
                    out.leaf = Some(Leaf {
                        va: va & !(size - 1),
                        pa: oa & !(size - 1),
                        size,
                        device: self.is_device((d >> 2) & 7),
                    });
                    return out;
                }
                (3, _) => table = oa & !((1u64 << g) - 1),
                _ => return out,
            }
        }
        out
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Guest memory for tests: descriptors by physical address.
    #[derive(Default)]
    pub struct Mem(pub HashMap<u64, u64>);

    impl Descriptors for Mem {
        fn read(&mut self, pa: u64) -> Option<u64> {
            Some(*self.0.get(&pa).unwrap_or(&0))
        }
    }

    /// MAIR: attr0 Device-nGnRnE, attr1 Normal write-back.
    pub const MAIR: u64 = 0xff << 8;
    /// 4K granule, T0SZ 25 (39-bit VA): walks start at level 1.
    pub const TCR: u64 = 25;
    const TABLE: u64 = 3;
    const BLOCK: u64 = 1;
    const PAGE: u64 = 3;
    const NORMAL: u64 = 1 << 2;

    /// An identity map of [0x4000_0000, +1 GiB) with one leaf size:
    /// level-1 table at 0x1000, level-2 at 0x2000, level-3 tables after.
    pub fn identity(leaf: u64) -> (Regime, Mem) {
        let mut m = Mem::default();
        let l1 = 0x1000;
        let l2 = 0x2000;
        let ram = 0x4000_0000u64;
        match leaf {
            0x4000_0000 => {
                m.0.insert(l1 + 8, ram | BLOCK | NORMAL);
            }
            0x20_0000 => {
                m.0.insert(l1 + 8, l2 | TABLE);
                for i in 0..512 {
                    m.0.insert(l2 + 8 * i, (ram + (i << 21)) | BLOCK | NORMAL);
                }
            }
            _ => {
                m.0.insert(l1 + 8, l2 | TABLE);
                for i in 0..512u64 {
                    let l3 = 0x10_0000 + (i << 12);
                    m.0.insert(l2 + 8 * i, l3 | TABLE);
                    for j in 0..512u64 {
                        let pa = ram + (i << 21) + (j << 12);
                        m.0.insert(l3 + 8 * j, pa | PAGE | NORMAL);
                    }
                }
            }
        }
        (
            Regime {
                ttbr0: l1,
                tcr: TCR,
                mair: MAIR,
            },
            m,
        )
    }

    #[test]
    fn walks_each_leaf_size() {
        for (leaf, reads) in [(1u64 << 30, 1), (2 << 20, 2), (4096, 3)] {
            let (r, mut m) = identity(leaf);
            let w = r.walk(0x4123_4567, &mut m);
            let l = w.leaf.unwrap();
            assert_eq!(l.size, leaf);
            assert_eq!(l.pa | (0x4123_4567 & (leaf - 1)), 0x4123_4567);
            assert!(!l.device);
            assert_eq!(w.reads.len(), reads);
        }
    }

    #[test]
    fn faults_and_device() {
        let (r, mut m) = identity(1 << 30);
        assert!(r.walk(0x8000_0000, &mut m).leaf.is_none());
        assert!(r.walk(1 << 40, &mut m).leaf.is_none());
        m.0.insert(0x1000, BLOCK); // attr 0: Device
        assert!(r.walk(0x10, &mut m).leaf.unwrap().device);
    }
}
