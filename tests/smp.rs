//! A relocation split across CPUs (`cpus=`) in QEMU: the secondaries are
//! started the way the DTB says (PSCI CPU_ON on virt at EL1 and EL2, the
//! spin table on raspi4b), every strategy and copy kernel with the MMU on
//! and off is verified by the boot CPU (every page's hash, every guard),
//! and a fault on a secondary is reported with its CPU number and exit
//! status 3. The firmware-started Pi 4 (armstub spin table, CPUs entering
//! by themselves) is in tests/entry.rs.

mod common;

use common::Qemu;
use serde_json::Value;

/// Every configuration on a small payload, once.
const BENCH: &str = "size=2M segments=3 trials=1";

/// Checks a benchmark that ran every configuration on `cpus` CPUs.
fn all_verified_on(run: &common::Run, cpus: u64, configs: usize) {
    run.expect_status(0);
    let res: Vec<&Value> = run.all("result");
    assert_eq!(res.len(), configs, "{}", run.output);
    for r in &res {
        assert_eq!(r["verified"], true, "{r}");
        assert_eq!(r["cpus"], cpus, "{r}");
        assert_eq!(r["pages"], 512, "{r}");
        assert!(r["guard_bytes_checked"].as_u64().unwrap() > 0, "{r}");
    }
    let strategies: std::collections::BTreeSet<&str> = res
        .iter()
        .map(|r| r["strategy"].as_str().unwrap())
        .collect();
    assert!(strategies.contains("ind-list") && strategies.contains("contiguous"));
    assert!(
        run.output
            .contains(&format!("smp: {cpus} CPUs copy each run")),
        "{}",
        run.output
    );
}

#[test]
fn four_cpus_verify_on_virt_at_el1() {
    let run = Qemu::virt()
        .args(["-smp", "4"])
        .append(&format!("{BENCH} cpus=4"))
        .run();
    all_verified_on(&run, 4, 14);
    assert_eq!(run.record("platform")["el"], 1);
}

#[test]
fn four_cpus_verify_on_virt_at_el2() {
    let run = Qemu::virt()
        .args(["-M", "virt,virtualization=on", "-smp", "4"])
        .append(&format!("{BENCH} cpus=4"))
        .run();
    all_verified_on(&run, 4, 14);
    assert_eq!(run.record("platform")["el"], 2);
}

#[test]
fn four_cpus_verify_on_raspi4b_through_the_spin_table() {
    let run = Qemu::raspi4b().append(&format!("{BENCH} cpus=4")).run();
    all_verified_on(&run, 4, 14);
    assert_eq!(run.record("platform")["psci"], "none");
}

/// `cpus=all` takes every CPU of the DTB; three CPUs split 512 pages
/// unevenly (171, 171, 170), which must verify too.
#[test]
fn cpus_all_takes_every_cpu_of_the_dtb() {
    let run = Qemu::virt()
        .args(["-smp", "3"])
        .append(&format!("{BENCH} cpus=all mmu=on"))
        .run();
    all_verified_on(&run, 3, 6);
}

/// Without `cpus=` the boot CPU copies alone, as before.
#[test]
fn one_cpu_by_default() {
    let run = Qemu::virt()
        .args(["-smp", "4"])
        .append("size=1M trials=1 strategy=ind-list copy=copy_page mmu=on")
        .run();
    run.expect_status(0);
    assert_eq!(run.record("result")["cpus"], 1);
    assert!(!run.output.contains("smp:"), "{}", run.output);
}

#[test]
fn a_fault_on_a_secondary_names_its_cpu() {
    for strategy in ["ind-list", "contiguous"] {
        for mmu in ["on", "off"] {
            let run = Qemu::virt()
                .args(["-smp", "4"])
                .append(&format!(
                    "size=1M segments=2 trials=1 copy=ldp-q strategy={strategy} mmu={mmu} cpus=4 inject=secondary-copy-fault"
                ))
                .run();
            run.expect_status(3);
            let msg = run.record("error")["msg"].as_str().unwrap().to_string();
            for needle in [
                "CPU 3 (MPIDR 0x3): unexpected synchronous exception at EL1".to_string(),
                "data abort, same EL".to_string(),
                "FAR=0xc0000000".to_string(),
                format!("in {strategy} loop (ldp-q, MMU {mmu}) after "),
            ] {
                assert!(
                    msg.contains(&needle),
                    "{strategy} mmu={mmu}: {msg:?} lacks {needle:?}"
                );
            }
            assert!(!msg.contains("after 0 pages"), "{msg}");
        }
    }
}

/// A secondary that never finishes its share (`inject=secondary-hang`:
/// its list walk loops on an IND_INDIRECTION entry pointing at its own
/// page, copying nothing): the boot CPU's wait is bounded, the stage
/// stops with an error naming the CPU, exit status 2, in every list
/// strategy with the MMU on and off.
#[test]
fn a_secondary_that_never_finishes_is_named_and_the_run_stops() {
    for (strategy, mmu) in [("ind-list", "on"), ("ind-list", "off"), ("legacy", "off")] {
        let run = Qemu::virt()
            .args(["-smp", "4"])
            .append(&format!(
                "size=1M trials=1 copy=ldp-q strategy={strategy} mmu={mmu} cpus=4 inject=secondary-hang"
            ))
            .run();
        run.expect_status(2);
        let msg = run.record("error")["msg"].as_str().unwrap();
        assert!(
            msg.starts_with(
                "cpus=4: CPU 3 (MPIDR 0x3) did not finish its share within the time allowed"
            ),
            "{strategy} mmu={mmu}: {msg}"
        );
        assert!(
            run.all("result").is_empty(),
            "no run completes: {}",
            run.output
        );
    }
}

/// `inject=copy-fault` with several CPUs aims at the boot CPU's share: the
/// boot CPU's own report, without a CPU number.
#[test]
fn a_fault_on_the_boot_cpu_is_reported_as_before() {
    let run = Qemu::virt()
        .args(["-smp", "2"])
        .append("size=1M segments=2 trials=1 copy=ldp-q strategy=ind-list mmu=on cpus=2 inject=copy-fault")
        .run();
    run.expect_status(3);
    let msg = run.record("error")["msg"].as_str().unwrap();
    assert!(msg.starts_with("unexpected synchronous exception"), "{msg}");
    assert!(
        msg.contains("in ind-list loop (ldp-q, MMU on) after 2 pages"),
        "{msg}"
    );
}
