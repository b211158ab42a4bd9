//! Summary statistics for benchmark samples. Pure; the benchmark keeps the
//! raw samples and calls this once per configuration.

extern crate alloc;

use alloc::vec::Vec;

use crate::mmu::SplitMix64;

/// Order statistics and moments of a sample set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub min: u64,
    pub median: u64,
    pub max: u64,
    pub mean: f64,
    /// Sample standard deviation (n - 1); 0 for fewer than two samples.
    pub stddev: f64,
}

/// `None` for an empty set. The median of an even count is the mean of
/// the two middle values, rounded down.
pub fn summarize(samples: &[u64]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut s: Vec<u64> = samples.to_vec();
    s.sort_unstable();
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        ((s[n / 2 - 1] as u128 + s[n / 2] as u128) / 2) as u64
    };
    let mean = s.iter().map(|v| *v as f64).sum::<f64>() / n as f64;
    let var = if n > 1 {
        s.iter()
            .map(|v| (*v as f64 - mean) * (*v as f64 - mean))
            .sum::<f64>()
            / (n - 1) as f64
    } else {
        0.0
    };
    Some(Summary {
        n,
        min: s[0],
        median,
        max: s[n - 1],
        mean,
        stddev: sqrt(var),
    })
}

/// Newton's square root: `core` has no `f64::sqrt` without `std`.
fn sqrt(x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let mut r = if x > 1.0 { x / 2.0 } else { 1.0 };
    for _ in 0..64 {
        let next = 0.5 * (r + x / r);
        if (next - r).abs() <= f64::EPSILON * r {
            return next;
        }
        r = next;
    }
    r
}

/// Bytes per nanosecond as MiB per second.
pub fn mib_per_s(bytes: u64, ns: u64) -> f64 {
    if ns == 0 {
        return 0.0;
    }
    bytes as f64 / (1u64 << 20) as f64 / (ns as f64 / 1e9)
}

/// A two-sided interval `[lo, hi]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// The median as a real number (mean of the two middle values for an
/// even count); `None` for an empty set. Sorts `v`.
pub fn median_f64(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The `q`-quantile (0..=1) of sorted values, interpolated linearly between
/// order statistics (Hyndman and Fan's type 7, as R and NumPy default to).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h as usize; // floor: h >= 0
    let hi = (lo + 1).min(sorted.len() - 1);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// Resamples bootstrap statistics use: enough for stable 2.5% and 97.5%
/// percentiles, cheap next to a QEMU boot.
pub const BOOTSTRAP_RESAMPLES: usize = 4000;

/// One bootstrap resample's median (drawn with replacement from `v`).
fn resampled_median(v: &[u64], rng: &mut SplitMix64, buf: &mut Vec<f64>) -> f64 {
    buf.clear();
    buf.extend((0..v.len()).map(|_| v[rng.below(v.len() as u64) as usize] as f64));
    median_f64(buf).unwrap_or(0.0)
}

/// Percentile bootstrap 95% confidence interval of `median(a) / median(b)`,
/// resampling each set independently with replacement, `resamples` times,
/// from a seeded generator (the same inputs give the same interval). Returns
/// the point ratio and the interval; `None` if a set is empty or has a zero
/// median.
pub fn bootstrap_ratio_ci(
    a: &[u64],
    b: &[u64],
    resamples: usize,
    seed: u64,
) -> Option<(f64, Interval)> {
    let (ma, mb) = (
        median_f64(&mut a.iter().map(|&x| x as f64).collect::<Vec<_>>())?,
        median_f64(&mut b.iter().map(|&x| x as f64).collect::<Vec<_>>())?,
    );
    if mb == 0.0 {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let mut buf = Vec::with_capacity(a.len().max(b.len()));
    let mut ratios = Vec::with_capacity(resamples);
    for _ in 0..resamples.max(1) {
        let ra = resampled_median(a, &mut rng, &mut buf);
        let rb = resampled_median(b, &mut rng, &mut buf);
        if rb > 0.0 {
            ratios.push(ra / rb);
        }
    }
    ratios.sort_unstable_by(f64::total_cmp);
    Some((
        ma / mb,
        Interval {
            lo: quantile_sorted(&ratios, 0.025)?,
            hi: quantile_sorted(&ratios, 0.975)?,
        },
    ))
}

/// Like [`bootstrap_ratio_ci`] for paired samples (`a[i]` and `b[i]` were
/// measured together, e.g. in the same interleaved trial of one boot):
/// resamples the pairs, so what the pair shares (host load at that moment)
/// stays together. `None` if the lengths differ, a set is empty or a
/// median is zero.
pub fn bootstrap_paired_ratio_ci(
    a: &[u64],
    b: &[u64],
    resamples: usize,
    seed: u64,
) -> Option<(f64, Interval)> {
    if a.len() != b.len() {
        return None;
    }
    let (point, _) = bootstrap_ratio_ci(a, b, 1, seed)?;
    let mut rng = SplitMix64::new(seed);
    let (mut ba, mut bb) = (Vec::with_capacity(a.len()), Vec::with_capacity(b.len()));
    let mut ratios = Vec::with_capacity(resamples);
    for _ in 0..resamples.max(1) {
        ba.clear();
        bb.clear();
        for _ in 0..a.len() {
            let i = rng.below(a.len() as u64) as usize;
            ba.push(a[i] as f64);
            bb.push(b[i] as f64);
        }
        let (ma, mb) = (median_f64(&mut ba)?, median_f64(&mut bb)?);
        if mb > 0.0 {
            ratios.push(ma / mb);
        }
    }
    ratios.sort_unstable_by(f64::total_cmp);
    Some((
        point,
        Interval {
            lo: quantile_sorted(&ratios, 0.025)?,
            hi: quantile_sorted(&ratios, 0.975)?,
        },
    ))
}

/// Percentile bootstrap 95% confidence interval of the median of `v`.
pub fn bootstrap_median_ci(v: &[u64], resamples: usize, seed: u64) -> Option<Interval> {
    if v.is_empty() {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let mut buf = Vec::with_capacity(v.len());
    let mut meds: Vec<f64> = (0..resamples.max(1))
        .map(|_| resampled_median(v, &mut rng, &mut buf))
        .collect();
    meds.sort_unstable_by(f64::total_cmp);
    Some(Interval {
        lo: quantile_sorted(&meds, 0.025)?,
        hi: quantile_sorted(&meds, 0.975)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        let s = summarize(&[4, 1, 3, 2]).unwrap();
        assert_eq!((s.n, s.min, s.median, s.max), (4, 1, 2, 4));
        assert!((s.mean - 2.5).abs() < 1e-12);
        assert!((s.stddev - 1.2909944487358056).abs() < 1e-9);
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[7]).unwrap().stddev, 0.0);
        assert!((mib_per_s(64 << 20, 1_000_000_000) - 64.0).abs() < 1e-9);
    }

    #[test]
    fn medians_and_quantiles_known_answers() {
        assert_eq!(summarize(&[5, 1, 3]).unwrap().median, 3);
        assert_eq!(summarize(&[1, 2, 3, 10]).unwrap().median, 2); // (2+3)/2 rounded down
        assert_eq!(median_f64(&mut [1.0, 2.0, 3.0, 10.0]), Some(2.5));
        assert_eq!(median_f64(&mut [7.0]), Some(7.0));
        assert_eq!(median_f64(&mut []), None);
        let v: Vec<f64> = (1..=5).map(|x| x as f64).collect();
        assert_eq!(quantile_sorted(&v, 0.5), Some(3.0));
        assert_eq!(quantile_sorted(&v, 0.25), Some(2.0));
        assert_eq!(quantile_sorted(&v, 0.1), Some(1.4)); // R: quantile(1:5, .1)
        assert_eq!(quantile_sorted(&v, 1.0), Some(5.0));
        let w: Vec<f64> = (1..=100).map(|x| x as f64).collect();
        assert!((quantile_sorted(&w, 0.975).unwrap() - 97.525).abs() < 1e-9);
    }

    #[test]
    fn bootstrap_known_answers() {
        // No spread: every resample gives the same ratio.
        let (r, ci) = bootstrap_ratio_ci(&[10; 5], &[5; 7], 500, 1).unwrap();
        assert_eq!((r, ci.lo, ci.hi), (2.0, 2.0, 2.0));
        // One sample each: the interval is the point.
        let (r, ci) = bootstrap_ratio_ci(&[3], &[4], 500, 1).unwrap();
        assert_eq!((r, ci.lo, ci.hi), (0.75, 0.75, 0.75));
        // Median of {1,2,3} resampled: P(1) = P(3) = 7/27 > 2.5%, so the
        // 95% interval is exactly [1, 3]; P(2) = 13/27.
        let ci = bootstrap_median_ci(&[1, 2, 3], 20_000, 7).unwrap();
        assert_eq!((ci.lo, ci.hi), (1.0, 3.0));
        let mut rng = SplitMix64::new(9);
        let mut buf = Vec::new();
        let twos = (0..27_000)
            .filter(|_| resampled_median(&[1, 2, 3], &mut rng, &mut buf) == 2.0)
            .count();
        assert!(
            (12_600..13_400).contains(&twos),
            "{twos} of 27000, expected ~13000"
        );
        // Empty or zero-median inputs have no interval.
        assert_eq!(bootstrap_ratio_ci(&[], &[1], 10, 1), None);
        assert_eq!(bootstrap_ratio_ci(&[1], &[0, 0], 10, 1), None);
        assert_eq!(bootstrap_median_ci(&[], 10, 1), None);
    }

    #[test]
    fn paired_bootstrap_keeps_what_a_pair_shares() {
        // Host load doubles some trials for both configurations alike: A
        // is 10% faster in every pair, which pairing sees and independent
        // resampling blurs.
        let load = [1u64, 1, 2, 1, 2, 2, 1, 2, 1, 1, 2, 1];
        let a: Vec<u64> = load.iter().map(|l| 90 * l).collect();
        let b: Vec<u64> = load.iter().map(|l| 100 * l).collect();
        let (r, ci) = bootstrap_paired_ratio_ci(&a, &b, BOOTSTRAP_RESAMPLES, 1).unwrap();
        assert!((r - 0.9).abs() < 1e-12 && ci.hi < 1.0, "{r} {ci:?}");
        let (_, wide) = bootstrap_ratio_ci(&a, &b, BOOTSTRAP_RESAMPLES, 1).unwrap();
        assert!(wide.contains(1.0), "{wide:?}");
        assert_eq!(bootstrap_paired_ratio_ci(&a, &b[1..], 10, 1), None);
        let (r, ci) = bootstrap_paired_ratio_ci(&[5; 4], &[10; 4], 100, 1).unwrap();
        assert_eq!((r, ci.lo, ci.hi), (0.5, 0.5, 0.5));
    }

    #[test]
    fn bootstrap_separates_real_differences_from_noise() {
        let a: Vec<u64> = (100..=110).collect();
        let b: Vec<u64> = (200..=210).collect();
        let (r, ci) = bootstrap_ratio_ci(&a, &b, BOOTSTRAP_RESAMPLES, 3).unwrap();
        assert!((r - 105.0 / 205.0).abs() < 1e-12);
        assert!(!ci.contains(1.0));
        assert!(ci.lo >= 100.0 / 210.0 && ci.hi <= 110.0 / 200.0, "{ci:?}");
        // The same distribution, shuffled: no measurable difference.
        let c: Vec<u64> = a.iter().rev().copied().collect();
        let (_, ci) = bootstrap_ratio_ci(&a, &c, BOOTSTRAP_RESAMPLES, 3).unwrap();
        assert!(ci.contains(1.0), "{ci:?}");
        // Seeded: the same inputs give the same interval.
        assert_eq!(
            bootstrap_ratio_ci(&a, &b, 300, 5),
            bootstrap_ratio_ci(&a, &b, 300, 5)
        );
    }

    proptest! {
        #[test]
        fn median_between_min_and_max(v in proptest::collection::vec(0u64..1 << 40, 1..50)) {
            let s = summarize(&v).unwrap();
            prop_assert!(s.min <= s.median && s.median <= s.max);
            prop_assert!(s.min as f64 <= s.mean + 1e-6 && s.mean <= s.max as f64 + 1e-6);
            prop_assert!(s.stddev >= 0.0);
        }

        #[test]
        fn bootstrap_interval_holds_the_point_and_lies_within_the_data(
            a in proptest::collection::vec(1u64..1000, 1..15),
            b in proptest::collection::vec(1u64..1000, 1..15),
        ) {
            let (r, ci) = bootstrap_ratio_ci(&a, &b, 200, 11).unwrap();
            let (amin, amax) = (*a.iter().min().unwrap() as f64, *a.iter().max().unwrap() as f64);
            let (bmin, bmax) = (*b.iter().min().unwrap() as f64, *b.iter().max().unwrap() as f64);
            prop_assert!(ci.lo <= ci.hi);
            prop_assert!(ci.lo >= amin / bmax - 1e-12 && ci.hi <= amax / bmin + 1e-12);
            prop_assert!(r >= amin / bmax - 1e-12 && r <= amax / bmin + 1e-12);
        }

        #[test]
        fn sqrt_matches_std(x in 0.0f64..1e30) {
            let r = sqrt(x);
            prop_assert!((r - x.sqrt()).abs() <= 1e-9 * x.sqrt().max(1.0));
        }
    }
}
