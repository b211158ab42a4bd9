//! Summary statistics for benchmark samples. Pure; the benchmark keeps the
//! raw samples and calls this once per configuration.

extern crate alloc;

use alloc::vec::Vec;

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

    proptest! {
        #[test]
        fn median_between_min_and_max(v in proptest::collection::vec(0u64..1 << 40, 1..50)) {
            let s = summarize(&v).unwrap();
            prop_assert!(s.min <= s.median && s.median <= s.max);
            prop_assert!(s.min as f64 <= s.mean + 1e-6 && s.mean <= s.max as f64 + 1e-6);
            prop_assert!(s.stddev >= 0.0);
        }

        #[test]
        fn sqrt_matches_std(x in 0.0f64..1e30) {
            let r = sqrt(x);
            prop_assert!((r - x.sqrt()).abs() <= 1e-9 * x.sqrt().max(1.0));
        }
    }
}
