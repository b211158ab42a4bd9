//! The holding pen's table and the hand-off's verdict on each secondary.
//! Before `mode=boot` overwrites the stage, every CPU but the boot CPU is
//! sent to a holding pen (`asm/pen.S`) in the control area: those parked
//! in the stage through its mailbox, those still in the firmware's spin
//! loop through their original `cpu-release-addr`. The pen finds the CPU's
//! entry in the table laid out here, writes an acknowledgement into it and
//! then speaks the CPU's enable method (spin-table: wait at the entry's
//! `slot`, which becomes the CPU's `cpu-release-addr` in the DTB handed on;
//! PSCI: CPU_OFF). What the boot CPU then makes of each CPU (`judge`) is
//! pure and host-tested; the stage writes the table and reads the acks.

use alloc::vec::Vec;
use core::fmt;

use crate::platform::{Platform, PsciMethod};

/// How long the boot CPU waits for every secondary to acknowledge (or,
/// with PSCI, to be OFF), on the generic timer. A CPU needs a few hundred
/// instructions; the margin is for emulated CPUs a host does not schedule.
pub const ACK_TIMEOUT_NS: u64 = 1_000_000_000;

/// `PenHeader::conduit`: how the pen calls PSCI CPU_OFF.
pub const CONDUIT_NONE: u64 = 0;
pub const CONDUIT_SMC: u64 = 1;
pub const CONDUIT_HVC: u64 = 2;

/// `PenEntry::method`: what the CPU does once in the pen.
/// Waits for good: the DTB names no method the stage can serve.
pub const METHOD_HOLD: u64 = 0;
/// Waits at `slot` for the next kernel's entry point (spin table).
pub const METHOD_SPIN: u64 = 1;
/// Calls PSCI CPU_OFF, so that the next kernel's CPU_ON finds it off.
pub const METHOD_PSCI: u64 = 2;

/// `PenEntry::ack`: 0 until the CPU reaches the pen, then where it came
/// from (the pen has one entry point for each).
pub const ACK_NONE: u64 = 0;
pub const ACK_FROM_STAGE: u64 = 1;
pub const ACK_FROM_FIRMWARE: u64 = 2;

/// The table's header, right after the pen's code (asm/pen.S reads it).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PenHeader {
    pub conduit: u64,
    pub count: u64,
    /// Where the pen points VBAR (the control area's park vectors, since
    /// the stage's own will be overwritten); 0 leaves it.
    pub vectors: u64,
    pub reserved: u64,
}

/// One secondary. `ack` and `slot` are written by the pen and by the next
/// kernel, with the MMU off or cleaned to the PoC.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PenEntry {
    /// MPIDR affinity (Aff3 at 39:32, Aff2:Aff1:Aff0 at 23:0).
    pub mpidr: u64,
    pub method: u64,
    pub ack: u64,
    /// Spin table: the CPU's release address while it waits in the pen
    /// (zero until the next kernel writes its entry point there).
    pub slot: u64,
}

// asm/pen.S reads these with `ldp`/`ldr` at fixed offsets.
const _: () = assert!(core::mem::size_of::<PenHeader>() == 32);
const _: () = assert!(core::mem::size_of::<PenEntry>() == 32);
pub const HEADER_VECTORS: usize = core::mem::offset_of!(PenHeader, vectors);
pub const ENTRY_METHOD: usize = core::mem::offset_of!(PenEntry, method);
pub const ENTRY_ACK: usize = core::mem::offset_of!(PenEntry, ack);
pub const ENTRY_SLOT: usize = core::mem::offset_of!(PenEntry, slot);
const _: () = assert!(ENTRY_METHOD == 8 && HEADER_VECTORS == 16);

/// The PSCI conduit the pen may use at this EL: none for `hvc` at EL2
/// (it would trap to EL2 itself) or without PSCI.
pub fn conduit(psci: Option<PsciMethod>, el: u8) -> u64 {
    match psci {
        Some(PsciMethod::Smc) => CONDUIT_SMC,
        Some(PsciMethod::Hvc) if el < 2 => CONDUIT_HVC,
        _ => CONDUIT_NONE,
    }
}

/// One entry per CPU of `/cpus` other than `boot`, spin-table CPUs first;
/// PSCI CPUs hold for good when there is no usable `conduit`.
pub fn entries(p: &Platform<'_>, boot: u64, conduit: u64) -> Vec<PenEntry> {
    let psci = if conduit == CONDUIT_NONE {
        METHOD_HOLD
    } else {
        METHOD_PSCI
    };
    let spin = p.spin_table.iter().map(|c| (c.mpidr, METHOD_SPIN));
    let other = p.psci_cpus.iter().map(|&m| (m, psci));
    spin.chain(other)
        .filter(|&(mpidr, _)| mpidr != boot)
        .map(|(mpidr, method)| PenEntry {
            mpidr,
            method,
            ack: ACK_NONE,
            slot: 0,
        })
        .collect()
}

/// Whether the boot CPU waits for this CPU's acknowledgement: every
/// spin-table CPU is sent to the pen (from the stage or the firmware's
/// loop); a CPU without a usable method only when it is known to be parked
/// in the stage. PSCI CPUs are waited for with AFFINITY_INFO instead (one
/// that never came up is already OFF).
pub fn expects_ack(e: &PenEntry, parked: Option<u64>) -> bool {
    match e.method {
        METHOD_SPIN => true,
        METHOD_PSCI => false,
        _ => parked == Some(e.mpidr),
    }
}

/// PSCI AFFINITY_INFO's answer for one CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciState {
    On,
    Off,
    OnPending,
    /// A PSCI error code (e.g. -2, INVALID_PARAMETERS: no such CPU).
    Error(i32),
}

impl PsciState {
    /// Whether the boot CPU keeps waiting.
    pub fn settled(self) -> bool {
        !matches!(self, PsciState::On | PsciState::OnPending)
    }
}

/// What the boot CPU makes of one secondary once every acknowledgement
/// came in or the time ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Spin table: in the pen, waiting at its entry's `slot`; the DTB
    /// handed on points its `cpu-release-addr` there.
    Waiting,
    /// PSCI: OFF, for the next kernel's CPU_ON.
    Off,
    /// In the pen for good (no method the stage can serve).
    Held,
    /// No acknowledgement; left as the DTB had it (a warning).
    Missing,
    /// PSCI could not say; not waited for (a warning).
    Unknown(i32),
    /// Still running where the stage cannot see: it may execute the stage
    /// the hand-off overwrites (an error).
    Stuck,
    /// Not waited for and not seen (a held CPU that may not exist).
    NotSeen,
    /// It copies a share of the final copy (`cpus=`) and goes to the pen
    /// afterwards; the final routine waits for its ack (and, with PSCI,
    /// for OFF) before entering the next stage.
    FinalCopy,
}

/// The verdict for entry `e` (its `ack` as read back) given AFFINITY_INFO's
/// last answer `psci` (PSCI CPUs only), the CPU known to be parked in the
/// stage, and whether any CPU may still run the stage (one entered the
/// Image by itself, or the stage started some): then a spin-table CPU
/// that never answered may be one of them, so it is `Stuck`, not
/// `Missing`.
pub fn judge(
    e: &PenEntry,
    psci: Option<PsciState>,
    parked: Option<u64>,
    may_run_stage: bool,
) -> Verdict {
    let acked = e.ack != ACK_NONE;
    match e.method {
        METHOD_SPIN if acked => Verdict::Waiting,
        METHOD_SPIN if may_run_stage => Verdict::Stuck,
        METHOD_SPIN => Verdict::Missing,
        METHOD_PSCI => match psci {
            Some(PsciState::Off) => Verdict::Off,
            Some(PsciState::Error(code)) => Verdict::Unknown(code),
            _ => Verdict::Stuck,
        },
        _ if acked => Verdict::Held,
        _ if expects_ack(e, parked) => Verdict::Stuck,
        _ => Verdict::NotSeen,
    }
}

/// The `from` of a record: where the CPU came to the pen from.
pub fn ack_from(ack: u64) -> Option<&'static str> {
    match ack {
        ACK_FROM_STAGE => Some("stage"),
        ACK_FROM_FIRMWARE => Some("firmware"),
        _ => None,
    }
}

impl Verdict {
    /// The record's `state`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Waiting => "pen",
            Verdict::Off => "off",
            Verdict::Held => "held",
            Verdict::Missing => "missing",
            Verdict::Unknown(_) => "unknown",
            Verdict::Stuck => "stuck",
            Verdict::NotSeen => "not-seen",
            Verdict::FinalCopy => "final-copy",
        }
    }
}

/// The one-line warning or error for a CPU, if its verdict needs one.
pub struct Complaint<'e> {
    pub entry: &'e PenEntry,
    pub verdict: Verdict,
    /// Spin table: the `cpu-release-addr` the DTB handed on keeps.
    pub release: Option<u64>,
}

impl Complaint<'_> {
    /// Whether the hand-off must stop.
    pub fn fatal(&self) -> bool {
        self.verdict == Verdict::Stuck
    }

    /// Whether there is anything to say.
    pub fn any(&self) -> bool {
        matches!(
            self.verdict,
            Verdict::Missing | Verdict::Unknown(_) | Verdict::Stuck
        )
    }
}

impl fmt::Display for Complaint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cpu = self.entry.mpidr;
        let ms = ACK_TIMEOUT_NS / 1_000_000;
        match self.verdict {
            Verdict::Missing => write!(
                f,
                "cpu {cpu:#x} did not reach the holding pen within {ms} ms: left as the DTB had it (cpu-release-addr {:#x})",
                self.release.unwrap_or(0)
            ),
            Verdict::Unknown(code) => write!(
                f,
                "cpu {cpu:#x}: PSCI AFFINITY_INFO returned error {code}; not waited for"
            ),
            Verdict::Stuck if self.entry.method == METHOD_PSCI => write!(
                f,
                "cpu {cpu:#x} is still on {ms} ms after it was sent to the holding pen (PSCI AFFINITY_INFO): it may still run the stage the hand-off overwrites"
            ),
            Verdict::Stuck => write!(
                f,
                "cpu {cpu:#x} did not reach the holding pen within {ms} ms while CPUs may still run the stage the hand-off overwrites"
            ),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::SpinCpu;

    fn platform(spin: &[(u64, u64)], psci: &[u64]) -> Platform<'static> {
        Platform {
            model: "test",
            ram: Vec::new(),
            reserved: Vec::new(),
            no_map: Vec::new(),
            bootargs: "",
            initrd: None,
            console: None,
            psci: None,
            cpus: (spin.len() + psci.len()) as u32,
            spin_table: spin
                .iter()
                .map(|&(mpidr, release)| SpinCpu { mpidr, release })
                .collect(),
            psci_cpus: psci.to_vec(),
            cpu_ids: spin
                .iter()
                .map(|&(mpidr, _)| mpidr)
                .chain(psci.iter().copied())
                .collect(),
        }
    }

    #[test]
    fn every_cpu_but_the_boot_cpu_gets_an_entry() {
        let p = platform(&[(0, 0xd8), (1, 0xe0), (2, 0xe8)], &[]);
        let e = entries(&p, 1, CONDUIT_NONE);
        assert_eq!(e.iter().map(|e| e.mpidr).collect::<Vec<_>>(), [0, 2]);
        assert!(
            e.iter()
                .all(|e| e.method == METHOD_SPIN && e.ack == 0 && e.slot == 0)
        );
        let p = platform(&[], &[0, 1, 0x100]);
        let e = entries(&p, 0, CONDUIT_SMC);
        assert_eq!(e.iter().map(|e| e.mpidr).collect::<Vec<_>>(), [1, 0x100]);
        assert!(e.iter().all(|e| e.method == METHOD_PSCI));
        // PSCI CPUs without a usable conduit hold.
        assert!(
            entries(&p, 0, CONDUIT_NONE)
                .iter()
                .all(|e| e.method == METHOD_HOLD)
        );
    }

    #[test]
    fn hvc_is_no_conduit_at_el2() {
        assert_eq!(conduit(Some(PsciMethod::Hvc), 1), CONDUIT_HVC);
        assert_eq!(conduit(Some(PsciMethod::Hvc), 2), CONDUIT_NONE);
        assert_eq!(conduit(Some(PsciMethod::Smc), 2), CONDUIT_SMC);
        assert_eq!(conduit(None, 1), CONDUIT_NONE);
    }

    fn entry(method: u64, ack: u64) -> PenEntry {
        PenEntry {
            mpidr: 3,
            method,
            ack,
            slot: 0x7f00_1018,
        }
    }

    #[test]
    fn verdicts() {
        let spin = |ack, may| judge(&entry(METHOD_SPIN, ack), None, None, may);
        assert_eq!(spin(ACK_FROM_FIRMWARE, false), Verdict::Waiting);
        assert_eq!(spin(ACK_FROM_STAGE, true), Verdict::Waiting);
        // Silent: a core that is not there (warning), unless a CPU may
        // still be running the stage (error).
        assert_eq!(spin(ACK_NONE, false), Verdict::Missing);
        assert_eq!(spin(ACK_NONE, true), Verdict::Stuck);
        let psci = |s| judge(&entry(METHOD_PSCI, ACK_NONE), Some(s), None, false);
        assert_eq!(psci(PsciState::Off), Verdict::Off);
        assert_eq!(psci(PsciState::On), Verdict::Stuck);
        assert_eq!(psci(PsciState::OnPending), Verdict::Stuck);
        assert_eq!(psci(PsciState::Error(-2)), Verdict::Unknown(-2));
        let hold = |ack, parked| judge(&entry(METHOD_HOLD, ack), None, parked, true);
        assert_eq!(hold(ACK_FROM_STAGE, Some(3)), Verdict::Held);
        assert_eq!(hold(ACK_NONE, Some(3)), Verdict::Stuck);
        assert_eq!(hold(ACK_NONE, Some(4)), Verdict::NotSeen);
        assert_eq!(hold(ACK_NONE, None), Verdict::NotSeen);
    }

    #[test]
    fn only_spin_table_and_known_parked_cpus_are_waited_for() {
        assert!(expects_ack(&entry(METHOD_SPIN, 0), None));
        assert!(!expects_ack(&entry(METHOD_PSCI, 0), Some(3)));
        assert!(expects_ack(&entry(METHOD_HOLD, 0), Some(3)));
        assert!(!expects_ack(&entry(METHOD_HOLD, 0), None));
        assert!(!PsciState::On.settled() && !PsciState::OnPending.settled());
        assert!(PsciState::Off.settled() && PsciState::Error(-2).settled());
    }

    #[test]
    fn complaints_are_one_line_and_say_what_happens() {
        let e = entry(METHOD_SPIN, ACK_NONE);
        let c = |verdict, release| Complaint {
            entry: &e,
            verdict,
            release,
        };
        let missing = c(Verdict::Missing, Some(0xf8));
        assert!(missing.any() && !missing.fatal());
        assert_eq!(
            missing.to_string(),
            "cpu 0x3 did not reach the holding pen within 1000 ms: left as the DTB had it (cpu-release-addr 0xf8)"
        );
        let stuck = c(Verdict::Stuck, None);
        assert!(stuck.any() && stuck.fatal());
        assert!(stuck.to_string().contains("may still run the stage"));
        let fine = c(Verdict::Waiting, None);
        assert!(!fine.any() && fine.to_string().is_empty());
        for v in [Verdict::Missing, Verdict::Stuck, Verdict::Unknown(-2)] {
            assert!(!c(v, Some(1)).to_string().contains('\n'));
        }
    }
}
