//! Access to physical memory for the pure builders (page tables, kimage
//! list, payload placement). On the target it is a raw identity access; on
//! the host a sparse simulated memory, so every builder is tested against
//! the same trait it runs against.

/// Byte and word access to physical addresses. Implementations decide what
/// "physical" means; callers never form pointers themselves.
pub trait PhysMem {
    fn read_u64(&self, phys: u64) -> u64;
    fn write_u64(&mut self, phys: u64, value: u64);
    fn read_bytes(&self, phys: u64, out: &mut [u8]);
    fn write_bytes(&mut self, phys: u64, data: &[u8]);
    /// Sets `len` bytes at `phys` to `byte`.
    fn fill(&mut self, phys: u64, len: u64, byte: u8);
}

/// Host-only sparse memory: 4 KiB pages created on first write, reading
/// unwritten memory gives zero. Also records every written page so tests
/// can assert that nothing was written outside where it should be.
#[cfg(test)]
pub mod sim {
    extern crate std;
    use super::PhysMem;
    use std::boxed::Box;
    use std::collections::BTreeMap;

    const PAGE: u64 = 4096;

    #[derive(Default)]
    pub struct SparseMem {
        pages: BTreeMap<u64, Box<[u8; PAGE as usize]>>,
    }

    impl SparseMem {
        pub fn new() -> Self {
            Self::default()
        }

        /// Start addresses of every page ever written.
        pub fn written_pages(&self) -> impl Iterator<Item = u64> + '_ {
            self.pages.keys().copied()
        }

        fn page_mut(&mut self, phys: u64) -> &mut [u8; PAGE as usize] {
            self.pages
                .entry(phys & !(PAGE - 1))
                .or_insert_with(|| Box::new([0; PAGE as usize]))
        }
    }

    impl PhysMem for SparseMem {
        fn read_u64(&self, phys: u64) -> u64 {
            let mut b = [0u8; 8];
            self.read_bytes(phys, &mut b);
            u64::from_le_bytes(b)
        }

        fn write_u64(&mut self, phys: u64, value: u64) {
            self.write_bytes(phys, &value.to_le_bytes());
        }

        fn read_bytes(&self, phys: u64, out: &mut [u8]) {
            for (i, o) in out.iter_mut().enumerate() {
                let a = phys + i as u64;
                *o = self
                    .pages
                    .get(&(a & !(PAGE - 1)))
                    .map_or(0, |p| p[(a & (PAGE - 1)) as usize]);
            }
        }

        fn write_bytes(&mut self, phys: u64, data: &[u8]) {
            for (i, d) in data.iter().enumerate() {
                let a = phys + i as u64;
                self.page_mut(a)[(a & (PAGE - 1)) as usize] = *d;
            }
        }

        fn fill(&mut self, phys: u64, len: u64, byte: u8) {
            for a in phys..phys + len {
                self.page_mut(a)[(a & (PAGE - 1)) as usize] = byte;
            }
        }
    }
}
