//! PMU events in the `result` records: only what PMCEID says the CPU
//! counts, and never a zero standing in for "not counted". QEMU TCG
//! implements INST_RETIRED only under `-icount shift=N` and no cache or TLB
//! event at all, so that is what the records must show.

mod common;

use common::Qemu;

const BENCH: &str = "size=2M trials=2 strategy=ind-list copy=ldp-q mmu=on";

#[test]
fn icount_gives_inst_retired_and_nothing_qemu_does_not_count() {
    for machine in ["virt", "virt,virtualization=on"] {
        let run = Qemu::virt()
            .args(["-M", machine, "-icount", "shift=0,align=off,sleep=off"])
            .append(BENCH)
            .run();
        run.expect_status(0);
        for r in run.all("result") {
            let insns = r["insns"].as_u64().expect("insns under -icount");
            assert_eq!(r["pmu_inst_retired"], insns, "{r}");
            let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
            let pmu: Vec<_> = keys.iter().filter(|k| k.starts_with("pmu_")).collect();
            assert_eq!(pmu, [&&"pmu_inst_retired".to_string()], "{machine}: {r}");
        }
    }
}

#[test]
fn without_icount_no_event_is_reported() {
    let run = Qemu::virt().append(BENCH).run();
    run.expect_status(0);
    for r in run.all("result") {
        assert!(r["insns"].is_null(), "{r}");
        assert!(
            r.as_object()
                .unwrap()
                .keys()
                .all(|k| !k.starts_with("pmu_")),
            "{r}"
        );
    }
}
