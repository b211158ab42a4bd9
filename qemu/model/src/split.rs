//! The instruction split of a measured run: every instruction the vCPU
//! executes inside the stage's PMU window is counted as cache maintenance
//! (by encoding), copy (inside a copy kernel's code range, as the stage's
//! `COPY_KERNEL` table gives them) or walk (the rest: the list walk, the
//! loop control around the kernels, the per-line cleaning loop's own
//! instructions, the measuring glue). This is a count, not a model: the
//! three parts must add up to the PMU's INST_RETIRED for the run.
//!
//! The window is the stage's: `pmu::read` reads PMEVCNTR0_EL0 (the
//! INST_RETIRED counter under `-icount`) last when it opens the window and
//! first when it closes it, so a run holds exactly two such reads between
//! its markers. QEMU's icount includes an I/O instruction itself when it
//! reads the counter (the read ends its translation block), so the PMU's
//! difference covers the instructions after the first read up to and
//! including the second: the counts taken at the two reads (block counts
//! added at each block's start, the read last in its block) cover the same.

/// What an instruction counts as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Walk = 0,
    Copy = 1,
    Cmo = 2,
}

pub const CLASSES: usize = 3;

/// `mrs xN, pmevcntr0_el0` (op0 3, op1 3, CRn 14, CRm 8, op2 0).
pub fn is_pmevcntr0_read(insn: u32) -> bool {
    insn & 0xffff_ffe0 == 0xd53b_e800
}

/// A cache-maintenance instruction: SYS (op0 1) with CRn 7 and CRm one of
/// IC (1, 5), DC ZVA/GVA (4), DC IVAC/ISW (6), DC CSW/CVAC (10), DC CVAU
/// (11), DC CVAP (12), DC CVADP (13), DC CISW/CIVAC (14); not AT (CRm 8, 9)
/// nor the prediction restrictions (CRm 3).
pub fn is_cache_maintenance(insn: u32) -> bool {
    let sys = insn & 0xfff8_0000 == 0xd508_0000;
    let crn = (insn >> 12) & 0xf;
    let crm = (insn >> 8) & 0xf;
    sys && crn == 7 && matches!(crm, 1 | 4 | 5 | 6 | 10..=14)
}

/// Copy-kernel code ranges, [start, end) each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ranges(Vec<(u64, u64)>);

impl Ranges {
    /// The table the stage points at: little-endian (start, end) pairs.
    /// `None` unless it is a whole number of well-formed pairs, at most
    /// `MAX` of them.
    pub fn parse(table: &[u8]) -> Option<Ranges> {
        const MAX: usize = 256;
        if table.is_empty() || !table.len().is_multiple_of(16) || table.len() / 16 > MAX {
            return None;
        }
        let word = |c: &[u8]| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        let v: Vec<(u64, u64)> = table
            .chunks_exact(16)
            .map(|c| (word(&c[..8]), word(&c[8..])))
            .collect();
        v.iter().all(|(a, b)| a < b).then_some(Ranges(v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, va: u64) -> bool {
        self.0.iter().any(|&(a, b)| (a..b).contains(&va))
    }
}

/// The class of the instruction `insn` at `va`.
pub fn classify(insn: u32, va: u64, copy: &Ranges) -> Class {
    if is_cache_maintenance(insn) {
        Class::Cmo
    } else if copy.contains(va) {
        Class::Copy
    } else {
        Class::Walk
    }
}

/// One run's window, fed the running per-class totals at each
/// PMEVCNTR0_EL0 read between the run's markers.
#[derive(Clone, Debug, Default)]
pub struct Window {
    open: Option<[u64; CLASSES]>,
    done: Option<[u64; CLASSES]>,
    reads: u32,
}

impl Window {
    /// A run starts: forget the last.
    pub fn start(&mut self) {
        *self = Window::default();
    }

    /// A counter read with the totals so far: the first opens the window,
    /// the second closes it; any further read spoils it (then no split).
    pub fn read(&mut self, totals: [u64; CLASSES]) {
        self.reads += 1;
        match (self.reads, self.open) {
            (1, _) => self.open = Some(totals),
            (2, Some(o)) => {
                let mut d = [0; CLASSES];
                for ((d, t), o) in d.iter_mut().zip(totals).zip(o) {
                    *d = t.wrapping_sub(o);
                }
                self.done = Some(d);
            }
            _ => self.done = None,
        }
    }

    /// The instructions of the window per class, if it opened and closed
    /// exactly once.
    pub fn split(&self) -> Option<[u64; CLASSES]> {
        self.done.filter(|_| self.reads == 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert!(is_pmevcntr0_read(0xd53b_e800)); // mrs x0, pmevcntr0_el0
        assert!(is_pmevcntr0_read(0xd53b_e809)); // mrs x9, pmevcntr0_el0
        assert!(!is_pmevcntr0_read(0xd53b_e820)); // mrs x0, pmevcntr1_el0
        assert!(!is_pmevcntr0_read(0xd53b_9d00)); // mrs x0, pmccntr_el0
        assert!(!is_pmevcntr0_read(0xd51b_e800)); // msr pmevcntr0_el0, x0
        assert!(is_cache_maintenance(0xd50b_7e2f)); // dc civac, x15
        assert!(is_cache_maintenance(0xd508_7631)); // dc ivac, x17
        assert!(is_cache_maintenance(0xd50b_7a20)); // dc cvac, x0
        assert!(is_cache_maintenance(0xd50b_7420)); // dc zva, x0
        assert!(is_cache_maintenance(0xd508_751f)); // ic iallu
        assert!(!is_cache_maintenance(0xd508_7800)); // at s1e1r, x0
        assert!(!is_cache_maintenance(0xd508_871f)); // tlbi vmalle1
        assert!(!is_cache_maintenance(0xd503_201f)); // nop
        assert!(!is_cache_maintenance(0xa940_0c62)); // ldp x2, x3, [x3]
    }

    #[test]
    fn ranges_parse_and_classify() {
        let mut t = Vec::new();
        for (a, b) in [(0x1000u64, 0x1040u64), (0x2000, 0x2010)] {
            t.extend(a.to_le_bytes());
            t.extend(b.to_le_bytes());
        }
        let r = Ranges::parse(&t).unwrap();
        assert_eq!(r.len(), 2);
        let ldp = 0xa940_0c62;
        assert_eq!(classify(ldp, 0x1000, &r), Class::Copy);
        assert_eq!(classify(ldp, 0x103c, &r), Class::Copy);
        assert_eq!(classify(ldp, 0x1040, &r), Class::Walk);
        assert_eq!(classify(ldp, 0x0ffc, &r), Class::Walk);
        // A dc civac inside a kernel (the fused kernel) is maintenance.
        assert_eq!(classify(0xd50b_7e2f, 0x2000, &r), Class::Cmo);
        assert_eq!(classify(0xd50b_7e2f, 0x5000, &r), Class::Cmo);
        assert!(Ranges::parse(&t[..24]).is_none());
        assert!(Ranges::parse(&[]).is_none());
        let mut bad = t.clone();
        bad[8..16].copy_from_slice(&0x0800u64.to_le_bytes()); // end < start
        assert!(Ranges::parse(&bad).is_none());
    }

    #[test]
    fn window_takes_the_difference_between_two_reads() {
        let mut w = Window::default();
        w.start();
        assert_eq!(w.split(), None);
        w.read([10, 20, 30]);
        assert_eq!(w.split(), None);
        w.read([15, 120, 94]);
        assert_eq!(w.split(), Some([5, 100, 64]));
        // A third read: the window is not the stage's, no split.
        w.read([16, 120, 94]);
        assert_eq!(w.split(), None);
        w.start();
        w.read([0, 0, 0]);
        w.read([1, 2, 3]);
        assert_eq!(w.split(), Some([1, 2, 3]));
    }
}
