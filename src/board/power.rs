//! Ending the run: semihosting SYS_EXIT carries the status to QEMU; without
//! it, PSCI SYSTEM_OFF (QEMU then exits 0, so the `exit` record is the
//! only place the status survives); without PSCI, wait forever in `wfi`.

use mmu_reloc::mmu::Regime;
use mmu_reloc::platform::PsciMethod;

use crate::arch::BootCpuCell;
use crate::arch::{self, semihosting};

static PSCI: BootCpuCell<Option<PsciMethod>> = BootCpuCell::new(None);

/// Remembers the DTB's PSCI conduit for `power_off`.
pub fn set_psci(method: Option<PsciMethod>) {
    PSCI.set(method);
}

/// Stops the machine without PSCI: for a fault raised while already
/// stopping (a trapping PSCI call must not recurse).
pub fn halt(code: u32) -> ! {
    semihosting::exit(code);
    arch::halt()
}

/// Stops the machine with `code` as the exit status where that is possible.
pub fn exit(code: u32) -> ! {
    semihosting::exit(code);
    // Only reached without semihosting. The conduit came from the DTB; an
    // `smc` or `hvc` with no handler would trap, so none is tried blindly.
    let _ = match PSCI.get() {
        // An hvc at EL2 would trap to the stage itself.
        Some(PsciMethod::Hvc) if arch::current_regime() == Regime::El2 => Ok(()),
        Some(PsciMethod::Hvc) => smccc::psci::system_off::<smccc::Hvc>(),
        Some(PsciMethod::Smc) => smccc::psci::system_off::<smccc::Smc>(),
        None => Ok(()),
    };
    arch::halt()
}
