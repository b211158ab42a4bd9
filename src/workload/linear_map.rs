//! The throwaway linear map: build it for this platform outside every
//! forbidden range, turn the MMU on under it, and prove with `AT` that the
//! hardware sees what the builder meant. Reports the `map` record.

use alloc::vec::Vec;

use mmu_reloc::cpu::Granule;
use mmu_reloc::mmu::{self, BuiltMap, Machine, Mapping, Policy, Regime};
use mmu_reloc::record::Record;
use mmu_reloc::region::Region;

use mmu_reloc::exit::Error;

use super::{World, timed};
use crate::arch::{mem::IdentityMem, mmu as hw};
use crate::board::console::Console;
use crate::println;

/// Pseudo-random addresses checked with `AT` besides the boundaries.
const RANDOM_PROBES: usize = 512;

/// The policy bootargs ask for, checked against the CPU by the builder.
pub fn policy(w: &World<'_>) -> Policy {
    let best = Granule::ALL
        .into_iter()
        .find(|g| w.cpu.supports(*g))
        .unwrap_or(Granule::K4);
    Policy {
        granule: w.args.granule.unwrap_or(best),
        max_leaf: w.args.leaf,
        contig: w.args.contig,
    }
}

/// Ranges no table may occupy: the stage, the DTB, reserved memory, and
/// whatever the caller adds (destinations, sources, list pages).
pub fn forbidden(w: &World<'_>, extra: &[Region]) -> Vec<Region> {
    let mut f = Vec::with_capacity(2 + w.platform.reserved.len() + extra.len());
    f.push(w.stage);
    f.push(w.dtb);
    f.extend_from_slice(&w.platform.reserved);
    f.extend_from_slice(extra);
    mmu_reloc::region::normalize(&mut f);
    f
}

/// The identity mappings: all RAM but `no-map` reserved memory (Normal),
/// and the console (Device).
pub fn identity_mappings(w: &World<'_>) -> Vec<Mapping> {
    let devices: Vec<Region> = w.platform.console.iter().map(|u| u.regs).collect();
    let ram = mmu_reloc::region::subtract_all(&w.platform.ram, &w.platform.no_map);
    Mapping::identity(&ram, &devices)
}

/// Builds `mappings` with tables outside `forbidden`; returns the map and
/// the nanoseconds the build took.
pub fn build(
    w: &World<'_>,
    mappings: &[Mapping],
    forbidden: &[Region],
) -> Result<(BuiltMap, u64), Error> {
    let machine = Machine::from_cpu(&w.cpu, w.regime);
    let (map, ns) = timed(|| {
        mmu::build(
            &mut IdentityMem,
            mappings,
            &policy(w),
            &machine,
            &w.platform.ram,
            forbidden,
        )
    });
    Ok((map?, ns))
}

/// Turns the MMU on under `map` (the MMU must be off), checks it with `AT`
/// and reports it; a wrong translation ends the run.
pub fn enable_verified(
    w: &World<'_>,
    map: &BuiltMap,
    forbidden: &[Region],
    build_ns: u64,
) -> Result<(), Error> {
    // SAFETY: the MMU is off; every map the stage builds identity-maps all
    // RAM (which holds the stage) and the console.
    unsafe { hw::enable(w.regime, map, &written_while_off(w, map)) };
    let v = verify(w.regime, map, w.args.seed);
    report(map, forbidden, build_ns, &v, "linear");
    if v.failures != 0 {
        return Err(Error::verify(format_args!(
            "linear map: {} of {} AT checks wrong",
            v.failures, v.probes
        )));
    }
    Ok(())
}

/// Ranges written with the caches off that are read with them on.
pub fn written_while_off(w: &World<'_>, map: &BuiltMap) -> [Region; 2] {
    [w.stage, map.tables]
}

/// An address `AT` translated differently from what the builder meant.
#[derive(Clone, Copy)]
pub struct ProbeFailure {
    pub va: u64,
    pub why: &'static str,
}

/// Result of checking the live map.
pub struct Verification {
    pub probes: usize,
    pub failures: usize,
    /// The first wrong address and what was wrong with it.
    pub first_failure: Option<ProbeFailure>,
}

/// Checks every probe address with `AT` against what the builder meant.
pub fn verify(regime: Regime, map: &BuiltMap, seed: u64) -> Verification {
    let probes = mmu::probes(map, seed, RANDOM_PROBES);
    let mut v = Verification {
        probes: probes.len(),
        failures: 0,
        first_failure: None,
    };
    for p in &probes {
        let got = hw::translate(regime, p.va);
        let why = match (p.expect, got) {
            (None, Err(_)) => None,
            (None, Ok(_)) => Some("hole translated"),
            (Some(_), Err(_)) => Some("mapped address faulted"),
            (Some(e), Ok(t)) if t.pa != e.pa => Some("wrong PA"),
            (Some(e), Ok(t)) => (t.attr != e.kind.mair_attr()).then_some("wrong memory attributes"),
        };
        if let Some(why) = why {
            v.failures += 1;
            v.first_failure
                .get_or_insert(ProbeFailure { va: p.va, why });
        }
    }
    v
}

fn pattern(seed: u64, i: usize) -> u64 {
    seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Proves the caches in both directions: a pattern written with the
/// caches on must be in memory once the MMU is off (clean to PoC works),
/// and one written with the MMU off must be seen once it is back on
/// (stale lines were invalidated). Leaves the MMU on under `map`.
pub fn coherence_check(w: &World<'_>, map: &BuiltMap) -> bool {
    let mut buf: Vec<u64> = (0..4096).map(|i| pattern(1, i)).collect();
    let on_ok = buf.iter().enumerate().all(|(i, v)| *v == pattern(1, i));
    // SAFETY: the stage (image, heap holding `buf`, stack) is cleaned and
    // stays identity-mapped across the switch.
    unsafe { hw::disable(w.regime, &[w.stage]) };
    let off_ok = buf.iter().enumerate().all(|(i, v)| *v == pattern(1, i));
    buf.iter_mut()
        .enumerate()
        .for_each(|(i, v)| *v = pattern(2, i));
    // SAFETY: same map as before; everything written since is in `w.stage`.
    unsafe { hw::enable(w.regime, map, &written_while_off(w, map)) };
    let back_ok = buf.iter().enumerate().all(|(i, v)| *v == pattern(2, i));
    on_ok && off_ok && back_ok
}

/// The `map` record of a map that is not live yet (checked with `AT` when
/// first switched to).
pub fn report_unverified(map: &BuiltMap, forbidden: &[Region], build_ns: u64, name: &str) {
    let none = Verification {
        probes: 0,
        failures: 0,
        first_failure: None,
    };
    print_map(map, build_ns, &none, name);
    map_record(map, forbidden, build_ns, &none, name, false);
}

/// Human summary and the `map` record.
pub fn report(map: &BuiltMap, forbidden: &[Region], build_ns: u64, v: &Verification, name: &str) {
    print_map(map, build_ns, v, name);
    map_record(map, forbidden, build_ns, v, name, v.failures == 0);
}

fn print_map(map: &BuiltMap, build_ns: u64, v: &Verification, name: &str) {
    println!(
        "map {name}: granule {}, T0SZ {}, {} levels from L{}, PA {} bits, tables {} ({} bytes, minimum {})",
        map.granule,
        map.t0sz,
        map.levels,
        map.start_level,
        map.pa_bits,
        map.tables,
        map.table_bytes,
        map.min_table_bytes
    );
    for l in &map.leaf_counts {
        println!(
            "  leaf {:>10} bytes x {} ({} contiguous groups)",
            l.size, l.leaves, l.contig_groups
        );
    }
    println!(
        "  built in {} us; AT checked {} addresses, {} wrong{}",
        build_ns / 1000,
        v.probes,
        v.failures,
        match v.first_failure {
            Some(f) => alloc::format!(" (first {:#x}: {})", f.va, f.why),
            None => alloc::string::String::new(),
        }
    );
}

fn map_record(
    map: &BuiltMap,
    forbidden: &[Region],
    build_ns: u64,
    v: &Verification,
    name: &str,
    verified: bool,
) {
    Record::new(&mut Console, "map")
        .str("name", name)
        .str("granule", map.granule.name())
        .u64("t0sz", map.t0sz as u64)
        .u64("levels", map.levels as u64)
        .u64("start_level", map.start_level as u64)
        .u64("pa_bits", map.pa_bits as u64)
        .opt_u64("max_leaf", Some(map.max_leaf))
        .bool("contig", map.contig)
        .json("leaf_counts", |w| {
            w.write_str("[")?;
            for (i, l) in map.leaf_counts.iter().enumerate() {
                write!(
                    w,
                    "{}{{\"size\":{},\"count\":{},\"contig_groups\":{}}}",
                    if i > 0 { "," } else { "" },
                    l.size,
                    l.leaves,
                    l.contig_groups
                )?;
            }
            w.write_str("]")
        })
        .u64("table_bytes", map.table_bytes)
        .u64("min_table_bytes", map.min_table_bytes)
        .regions("tables", &[map.tables])
        .regions("forbidden", forbidden)
        .u64("probes", v.probes as u64)
        .u64("probe_failures", v.failures as u64)
        .bool("verified", verified)
        .u64("build_ns", build_ns)
        .end();
}
