//! The secondaries at `mode=boot`'s hand-off: every CPU but the boot CPU
//! goes to the holding pen in the control area before the stage is
//! overwritten, acknowledges, and is left the way the next kernel expects
//! it (spin table: waiting at a zeroed slot the DTB handed on names as its
//! `cpu-release-addr`; PSCI: OFF). CPUs that share the final copy
//! (`cpus=`) reach the pen after their share, and the final routine waits
//! for them. The table and the verdicts are the library's
//! (`mmu_reloc::pen`); the pen and the waiting are `arch::pen`.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use mmu_reloc::exit::Error;
use mmu_reloc::fdt::{self, Fdt};
use mmu_reloc::pen::{self as table, Complaint, PenEntry, PenHeader, Verdict};
use mmu_reloc::platform::{self, SpinCpu};
use mmu_reloc::region::Region;

use crate::arch::{self, mmu as hw, pen};
use crate::workload::World;

/// The pen as installed in the control area.
pub struct Pen {
    at: u64,
    entries_at: u64,
    conduit: u64,
    table: Vec<PenEntry>,
}

/// One secondary after the hand-off, for the `handoff` record.
pub struct Outcome {
    pub mpidr: u64,
    pub method: &'static str,
    /// Where it came to the pen from (`stage`, `firmware`), if it did.
    pub from: Option<&'static str>,
    pub state: &'static str,
    /// Spin table: the `cpu-release-addr` in the DTB handed on.
    pub release: Option<u64>,
}

/// What the hand-off did with the secondaries: one outcome per CPU of the
/// table, and the warnings (one line each).
pub struct Report {
    pub cpus: Vec<Outcome>,
    pub warnings: Vec<String>,
}

/// The pen's conduit and table for this platform and EL.
fn plan(w: &World<'_>) -> (u64, Vec<PenEntry>) {
    let conduit = table::conduit(w.platform.psci, w.regime.el());
    (
        conduit,
        table::entries(&w.platform, arch::boot_mpidr(), conduit),
    )
}

impl Pen {
    /// The pen's `pen` entry (from the stage's code).
    pub fn entry(&self) -> u64 {
        self.at
    }

    /// The PSCI conduit the pen uses (`mmu_reloc::pen::CONDUIT_*`).
    pub fn conduit(&self) -> u64 {
        self.conduit
    }

    /// The ack word of CPU `mpidr`'s entry, and whether it is a PSCI CPU
    /// the pen turns off.
    pub fn ack_of(&self, mpidr: u64) -> Option<(u64, bool)> {
        let stride = core::mem::size_of::<PenEntry>() as u64;
        let i = self.table.iter().position(|e| e.mpidr == mpidr)?;
        let psci =
            self.table[i].method == table::METHOD_PSCI && self.conduit != table::CONDUIT_NONE;
        Some((
            self.entries_at + i as u64 * stride + table::ENTRY_ACK as u64,
            psci,
        ))
    }
}

/// Bytes the pen and its table need in the control area.
pub fn bytes(w: &World<'_>) -> usize {
    pen::bytes(plan(w).1.len())
}

/// The live DTB's spin-table entry for `mpidr`.
fn spin_cpu(w: &World<'_>, mpidr: u64) -> Option<SpinCpu> {
    w.platform
        .spin_table
        .iter()
        .copied()
        .find(|c| c.mpidr == mpidr)
}

/// The `cpu-release-addr` the DTB handed on gives spin-table CPU `mpidr`
/// (`install` checked there is one).
fn handed_on_release(dtb: &[u8], mpidr: u64) -> Option<u64> {
    let f = Fdt::new(dtb).ok()?;
    platform::release_addr_prop(&f, mpidr).ok()?.as_uint()
}

/// Copies the pen and its table to `at` (`len` bytes, page aligned),
/// keeps the next kernel off it and off everything from the park
/// `vectors` (below it in the control area: the pen points VBAR there)
/// up to it with one /memreserve/ entry in `dtb` (the copy handed on, with
/// room for it), and checks that `dtb` has a
/// `cpu-release-addr` to rewrite for every spin-table CPU, before any CPU
/// is sent anywhere. Each slot and acknowledgement starts zeroed; the
/// caller cleans the control area to the PoC.
pub fn install(
    w: &World<'_>,
    (at, len): (u64, u64),
    vectors: u64,
    dtb: &mut [u8],
) -> Result<Pen, Error> {
    let (conduit, entries) = plan(w);
    let f = Fdt::new(dtb).map_err(|e| Error::input(format_args!("DTB copy: {e}")))?;
    for e in entries.iter().filter(|e| e.method == table::METHOD_SPIN) {
        platform::release_addr_prop(&f, e.mpidr).map_err(|err| {
            Error::input(format_args!(
                "DTB handed on: {err}: spin-table cpu {:#x} could not be handed on",
                e.mpidr
            ))
        })?;
    }
    let header = PenHeader {
        conduit,
        count: entries.len() as u64,
        vectors,
        reserved: 0,
    };
    // SAFETY: the pen's slot in the control area, `len` >= pen::bytes.
    let entries_at = unsafe { pen::install(at, header, &entries) };
    debug_assert!(vectors <= at);
    fdt::add_reservation(dtb, vectors, at + len - vectors)
        .map_err(|e| Error::input(format_args!("DTB copy /memreserve/: {e}")))?;
    Ok(Pen {
        at,
        entries_at,
        conduit,
        table: entries,
    })
}

/// Sends every secondary to the pen (parked ones through the stage's
/// mailbox, the firmware's through their original release addresses),
/// waits for them (`arch::pen::wait`), points each spin-table CPU that
/// arrived at its slot in `dtb` and zeroes its original release address
/// again. A CPU that did not come: a warning, left as the DTB had it; one
/// that may still run the stage: an error (the stage must not be
/// overwritten under it). The CPUs in `final_copy` (started by the stage
/// for `cpus=`) copy a share of the final copy first and reach the pen
/// from there: they are not sent or waited for here (the final routine
/// waits for them), but a spin-table one gets its slot in `dtb` all the
/// same.
pub fn hand_back(
    w: &World<'_>,
    p: &Pen,
    dtb: &mut [u8],
    final_copy: &[u64],
) -> Result<Report, Error> {
    let parked = arch::parked_cpu();
    // CPUs that entered the Image by themselves, or that the stage
    // started, may be running it.
    let may_run_stage = parked.is_some() || !final_copy.is_empty();
    let spinning = |e: &&PenEntry| e.method == table::METHOD_SPIN;
    let releases: Vec<u64> = (p.table.iter().filter(spinning))
        .filter_map(|e| spin_cpu(w, e.mpidr).map(|c| c.release))
        .collect();
    // The stage's own CPUs left the firmware's loop when it started them.
    let firmwares: Vec<u64> = (p.table.iter().filter(spinning))
        .filter(|e| !final_copy.contains(&e.mpidr))
        .filter_map(|e| spin_cpu(w, e.mpidr).map(|c| c.release))
        .collect();
    pen::send_parked(p.at);
    // SAFETY: the live DTB's release addresses (reserved memory) of the
    // CPUs other than this one: the spin-table protocol's words.
    unsafe { pen::send_spinning(firmwares.iter().copied(), p.at + pen::released_offset()) };
    let seen = pen::wait(p.entries_at, &p.table, p.conduit, parked, final_copy);

    let mut report = Report {
        cpus: Vec::new(),
        warnings: Vec::new(),
    };
    let stride = core::mem::size_of::<PenEntry>() as u64;
    for (i, (e, s)) in p.table.iter().zip(&seen).enumerate() {
        let verdict = if final_copy.contains(&e.mpidr) {
            Verdict::FinalCopy
        } else {
            table::judge(
                &PenEntry { ack: s.ack, ..*e },
                s.psci,
                parked,
                may_run_stage,
            )
        };
        let mut release = handed_on_release(dtb, e.mpidr);
        let waits = verdict == Verdict::Waiting
            || (verdict == Verdict::FinalCopy && e.method == table::METHOD_SPIN);
        if waits {
            let slot = p.entries_at + i as u64 * stride + table::ENTRY_SLOT as u64;
            platform::set_release_addr(dtb, e.mpidr, slot)
                .map_err(|err| Error::input(format_args!("DTB handed on: {err}")))?;
            release = Some(slot);
        }
        let complaint = Complaint {
            entry: e,
            verdict,
            release,
        };
        if complaint.fatal() {
            return Err(Error::input(complaint));
        }
        if complaint.any() {
            log::warn!("{complaint}");
            report.warnings.push(complaint.to_string());
        }
        report.cpus.push(Outcome {
            mpidr: e.mpidr,
            method: match e.method {
                table::METHOD_SPIN => "spin-table",
                table::METHOD_PSCI => "psci",
                _ => "none",
            },
            from: table::ack_from(s.ack),
            state: verdict.name(),
            release: release.filter(|_| e.method == table::METHOD_SPIN),
        });
    }
    // The firmware's words back as the protocol starts them: every CPU
    // that answered has left them, and one that did not waits there.
    for &r in &releases {
        // SAFETY: as for `send_spinning` above.
        unsafe { pen::rearm(r) };
    }
    let at = dtb.as_ptr() as u64;
    hw::clean_inval(Region::new(at, at + dtb.len() as u64));
    Ok(report)
}

/// `[{"cpu":"0x1","method":"spin-table","from":"firmware","state":"pen",
/// "release":"0x..."}, ...]` for the `handoff` record.
pub fn write_json(o: &mut dyn core::fmt::Write, cpus: &[Outcome]) -> core::fmt::Result {
    o.write_str("[")?;
    for (i, c) in cpus.iter().enumerate() {
        let quoted = |v: Option<&str>| v.map_or("null".to_string(), |v| alloc::format!("\"{v}\""));
        write!(
            o,
            "{}{{\"cpu\":\"{:#x}\",\"method\":\"{}\",\"from\":{},\"state\":\"{}\",\"release\":{}}}",
            if i > 0 { "," } else { "" },
            c.mpidr,
            c.method,
            quoted(c.from),
            c.state,
            quoted(c.release.map(|r| alloc::format!("{r:#x}")).as_deref()),
        )?;
    }
    o.write_str("]")
}

/// One secondary for the human lines: `cpu 0x1 (spin-table, from the
/// firmware's spin loop): waits in the pen, cpu-release-addr 0x3be15108`.
pub struct Human<'o>(pub &'o Outcome);

impl core::fmt::Display for Human<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let c = self.0;
        write!(f, "cpu {:#x} ({}", c.mpidr, c.method)?;
        match c.from {
            Some("firmware") => f.write_str(", from the firmware's spin loop")?,
            Some(from) => write!(f, ", from the {from}")?,
            None => {}
        }
        let state = match c.state {
            "pen" => "waits in the pen",
            "off" => "off (PSCI AFFINITY_INFO)",
            "held" => "held in the pen for good",
            "missing" => "did not answer, left as the DTB had it",
            "final-copy" => "copies a share of the final copy, then goes to the pen",
            other => other,
        };
        write!(f, "): {state}")?;
        c.release
            .map_or(Ok(()), |r| write!(f, ", cpu-release-addr {r:#x}"))
    }
}
