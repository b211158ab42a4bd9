//! The benchmark's configuration matrix and its baseline, from bootargs:
//! which (strategy, copy kernel, MMU state, leaf policy) runs, in which
//! order, and which one the others are compared with. Pure, so the rules
//! (legacy only with the MMU off and the kernels that leave the clean to
//! the walker, `leaves=` only for the ind-list MMU-on runs) are tested on
//! the host.

extern crate alloc;

use alloc::vec::Vec;

use crate::bootargs::{BootArgs, CopyKernel, OnOff, Strategy};
use crate::mmu::SplitMix64;

/// One benchmark configuration. `sweep` picks a `leaves=` map for the
/// ind-list loop with the MMU on (`None`: the linear map).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub strategy: Strategy,
    pub kernel: CopyKernel,
    pub mmu: bool,
    pub sweep: Option<usize>,
}

const ALL_STRATEGIES: [Strategy; 3] = [Strategy::IndList, Strategy::Contiguous, Strategy::Legacy];

/// The configurations a benchmark runs, MMU on first: with `leaves=`, the
/// ind-list MMU-on runs go once per largest-leaf policy instead; legacy
/// runs only with the MMU off (Linux only ever ran it so) and only with the
/// kernels that leave the clean to the walker (legacy invalidates before
/// the copy instead: a fused clean is not Linux's loop).
/// `mops`: the CPU has FEAT_MOPS, so `copy=all` includes that kernel.
pub fn configs(args: &BootArgs, mops: bool) -> Vec<Config> {
    let strategies: Vec<Strategy> = args
        .strategy
        .map_or(ALL_STRATEGIES.to_vec(), |s| alloc::vec![s]);
    let kernels: Vec<CopyKernel> = args.copy.map_or_else(
        || {
            CopyKernel::ALL
                .into_iter()
                .filter(|&k| mops || k != CopyKernel::Mops)
                .collect()
        },
        |k| alloc::vec![k],
    );
    let mmu: &[bool] = match args.mmu {
        OnOff::On => &[true],
        OnOff::Off => &[false],
        OnOff::Both => &[true, false],
    };
    let sweeps: Vec<Option<usize>> = if args.leaves.is_empty() {
        alloc::vec![None]
    } else {
        (0..args.leaves.len()).map(Some).collect()
    };
    let mut out = Vec::new();
    for &mmu in mmu {
        for &strategy in &strategies {
            if strategy == Strategy::Legacy && mmu {
                continue;
            }
            let swept = strategy == Strategy::IndList && mmu;
            for &kernel in &kernels {
                if strategy == Strategy::Legacy && !legacy_kernel(kernel) {
                    continue;
                }
                for &sweep in if swept { &sweeps[..] } else { &[None][..] } {
                    out.push(Config {
                        strategy,
                        kernel,
                        mmu,
                        sweep,
                    });
                }
            }
        }
    }
    out
}

/// Whether the legacy loop runs with `kernel`: with Linux's copy_page and
/// ldp-q only; not with the fused `ldp-q-dc`, whose cleans legacy's
/// invalidate-first order has no place for, nor `mops`.
pub fn legacy_kernel(kernel: CopyKernel) -> bool {
    matches!(kernel, CopyKernel::CopyPage | CopyKernel::LdpQ)
}

/// The order in which trial `trial` runs `n` configurations: a seeded
/// shuffle (Fisher-Yates over SplitMix64 from `seed` and `trial`), so no
/// configuration always runs right after another and `seed=` repeats it.
pub fn trial_order(n: usize, seed: u64, trial: u32) -> Vec<usize> {
    let mut rng =
        SplitMix64::new(seed ^ (u64::from(trial) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    order
}

/// Whether a run is its configuration's warm-up: the first of each
/// configuration in a boot (trial 0, since every trial runs each
/// configuration once), which warms the caches and QEMU's translations;
/// reported, and flagged for the host to leave out.
pub fn is_warmup(trial: u32) -> bool {
    trial == 0
}

/// The index of the baseline among `configs`: Linux <= 5.12's loop
/// (legacy, copy_page, MMU off), or the list walk with the MMU off when
/// legacy did not run; `None` when neither ran.
pub fn baseline(configs: &[Config]) -> Option<usize> {
    [Strategy::Legacy, Strategy::IndList].iter().find_map(|s| {
        configs
            .iter()
            .position(|c| (c.strategy, c.kernel, c.mmu) == (*s, CopyKernel::CopyPage, false))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootargs::parse;

    fn matrix(cmdline: &str) -> Vec<Config> {
        configs(&parse(cmdline).unwrap().args, false)
    }

    #[test]
    fn default_runs_everything_but_legacy_with_the_mmu_on() {
        let m = matrix("");
        // MMU on: ind-list, contiguous; off: all three; three kernels
        // each, but legacy only two.
        assert_eq!(m.len(), 2 * 3 + 2 * 3 + 2);
        assert!(!m.iter().any(|c| c.strategy == Strategy::Legacy && c.mmu));
        assert!(
            !m.iter()
                .any(|c| c.strategy == Strategy::Legacy && c.kernel == CopyKernel::LdpQDc)
        );
        assert!(m.iter().take(6).all(|c| c.mmu), "MMU on first");
        assert!(m.iter().all(|c| c.sweep.is_none()));
        let b = baseline(&m).unwrap();
        assert_eq!(
            (m[b].strategy, m[b].kernel, m[b].mmu),
            (Strategy::Legacy, CopyKernel::CopyPage, false)
        );
    }

    #[test]
    fn leaves_sweep_only_the_ind_list_mmu_on_runs() {
        let m = matrix("leaves=1g,2m,4k copy=copy_page");
        let swept: Vec<_> = m.iter().filter(|c| c.sweep.is_some()).collect();
        assert_eq!(swept.len(), 3);
        assert!(
            swept
                .iter()
                .all(|c| c.strategy == Strategy::IndList && c.mmu)
        );
        assert_eq!(m.len(), 3 + 1 + 3);
    }

    #[test]
    fn trials_run_in_a_seeded_shuffled_order() {
        let (a, b) = (trial_order(14, 1, 0), trial_order(14, 1, 1));
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..14).collect::<Vec<_>>(), "a permutation");
        assert_eq!(a, trial_order(14, 1, 0), "seed= repeats it");
        assert_ne!(a, b, "each trial its own order");
        assert_ne!(a, trial_order(14, 2, 0), "another seed, another order");
        assert_eq!(trial_order(1, 7, 3), [0]);
        assert!(trial_order(0, 7, 3).is_empty());
        assert!(is_warmup(0) && !is_warmup(1));
    }

    #[test]
    fn baseline_falls_back_to_the_list_walk_then_none() {
        let m = matrix("strategy=ind-list");
        let b = baseline(&m).unwrap();
        assert_eq!((m[b].strategy, m[b].mmu), (Strategy::IndList, false));
        assert_eq!(baseline(&matrix("mmu=on")), None);
        assert!(matrix("strategy=legacy mmu=on").is_empty());
        assert!(matrix("strategy=legacy copy=ldp-q-dc").is_empty());
        assert_eq!(matrix("copy=ldp-q-dc").len(), 2 + 2);
        assert!(matrix("strategy=legacy copy=mops").is_empty());
    }

    #[test]
    fn mops_runs_only_where_the_cpu_has_it() {
        let args = parse("").unwrap().args;
        let with = configs(&args, true);
        let mops: Vec<_> = with
            .iter()
            .filter(|c| c.kernel == CopyKernel::Mops)
            .collect();
        // ind-list and contiguous, MMU on and off; never legacy.
        assert_eq!(mops.len(), 4);
        assert_eq!(with.len(), configs(&args, false).len() + 4);
        assert!(
            configs(&args, false)
                .iter()
                .all(|c| c.kernel != CopyKernel::Mops)
        );
    }
}
