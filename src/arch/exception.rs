//! Exception handling: any exception the stage did not ask for is decoded
//! into a [`Fault`] (syndrome, EL, and the copy loop that was running) and
//! passed to the handler the stage registered, which reports it and ends
//! the run. The one expected exception is the undefined `hlt` of a failed
//! semihosting probe, handled here.

use core::arch::global_asm;
use core::fmt;
use core::mem::{offset_of, size_of};

use aarch64_cpu::registers::*;
use tock_registers::LocalRegisterCopy;
use tock_registers::interfaces::{Readable, Writeable};

use mmu_reloc::bootargs::{CopyKernel, Strategy};
use mmu_reloc::cpu::{exception_class_name, fault_status_name};
use mmu_reloc::exit::ExitStatus;

use super::BootCpuCell;

/// What asm/vectors.S saves on the stack: x0-x30 (pairs at 16 * n, x30
/// at FRAME_X30) and one slot of padding for 16-byte stack alignment.
#[repr(C)]
struct Frame {
    x: [u64; 31],
    _pad: u64,
}

const FRAME_SIZE: usize = size_of::<Frame>();
const FRAME_X30: usize = offset_of!(Frame, x) + 30 * 8;
const _: () = assert!(offset_of!(Frame, x) == 0 && FRAME_SIZE.is_multiple_of(16));

global_asm!(
    include_str!("../../asm/vectors.S"),
    FRAME_SIZE = const FRAME_SIZE,
    FRAME_X30 = const FRAME_X30,
);

const KIND_NAMES: [&str; 4] = ["synchronous", "IRQ", "FIQ", "SError"];
const ORIGIN_NAMES: [&str; 4] = [
    "current EL, SP_EL0",
    "current EL, SP_ELx",
    "lower EL, AArch64",
    "lower EL, AArch32",
];

/// (ESR, ELR, FAR) of the current EL.
fn syndrome(el: u8) -> (u64, u64, u64) {
    match el {
        1 => (ESR_EL1.get(), ELR_EL1.get(), FAR_EL1.get()),
        2 => (ESR_EL2.get(), ELR_EL2.get(), FAR_EL2.get()),
        _ => (ESR_EL3.get(), ELR_EL3.get(), FAR_EL3.get()),
    }
}

fn skip_instruction(el: u8, elr: u64) {
    match el {
        1 => ELR_EL1.set(elr + 4),
        2 => ELR_EL2.set(elr + 4),
        _ => ELR_EL3.set(elr + 4),
    }
}

/// What a copy loop was doing when it faulted (asm/copy.S keeps pages
/// done in x9 and the destination cursor in x12).
#[derive(Clone, Copy)]
pub struct CopyContext {
    pub strategy: Strategy,
    pub kernel: CopyKernel,
    pub mmu_on: bool,
    pub pages: u64,
    pub dest_cursor: u64,
}

/// An exception the stage did not ask for, decoded.
#[derive(Clone, Copy)]
pub struct Fault {
    /// Vector index: group * 4 + (sync, IRQ, FIQ, SError).
    pub kind: u64,
    pub el: u8,
    pub esr: u64,
    pub elr: u64,
    pub far: u64,
    pub lr: u64,
    /// Set when the fault hit inside a measured copy loop.
    pub copy: Option<CopyContext>,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Fault {
            kind,
            el,
            esr,
            elr,
            far,
            lr,
            copy,
        } = *self;
        let class = exception_class_name(esr);
        let fault = fault_status_name(esr).unwrap_or("");
        let kind_name = KIND_NAMES[(kind % 4) as usize];
        let origin = ORIGIN_NAMES[((kind / 4) % 4) as usize];
        let sep = if fault.is_empty() { "" } else { ", " };
        write!(
            f,
            "unexpected {kind_name} exception at EL{el} ({origin}): {class}{sep}{fault}; \
             ESR={esr:#x} ELR={elr:#x} FAR={far:#x} LR={lr:#x}"
        )?;
        if let Some(c) = copy {
            write!(
                f,
                " in {} loop ({}, MMU {}) after {} pages, destination cursor {:#x}",
                c.strategy.name(),
                c.kernel.name(),
                if c.mmu_on { "on" } else { "off" },
                c.pages,
                c.dest_cursor,
            )?;
        }
        Ok(())
    }
}

/// What the stage does with a fault: report it and end the run.
pub type Handler = fn(&Fault) -> !;

static HANDLER: BootCpuCell<Option<Handler>> = BootCpuCell::new(None);

/// Registers the stage's fault handler; until then a fault ends the run
/// through semihosting with the exception status, or waits forever.
pub fn set_handler(h: Handler) {
    HANDLER.set(Some(h));
}

/// Called from `asm/vectors.S` with the saved registers and the vector
/// index. Returns only for the semihosting probe.
#[unsafe(no_mangle)]
extern "C" fn rust_exception(frame: *mut Frame, kind: u64) {
    let el = super::current_el();
    let (esr, elr, far) = syndrome(el);
    // A secondary started for `cpus=` reports into its own slot and parks;
    // nothing below (the boot CPU's cells, the stage's handler) is its.
    if let Some(i) = super::smp::this_secondary() {
        // SAFETY: the vector code passes its own stack frame.
        let regs = unsafe { &(*frame).x };
        super::smp::secondary_fault(
            i,
            super::smp::RawFault {
                kind,
                el: el.into(),
                esr,
                elr,
                far,
                lr: regs[30],
                pages: regs[9],
                dest_cursor: regs[12],
                ..Default::default()
            },
        );
    }
    let unknown =
        LocalRegisterCopy::<u64, ESR_EL1::Register>::new(esr).matches_all(ESR_EL1::EC::Unknown);
    if kind.is_multiple_of(4) && unknown && super::semihosting::probe_faulted() {
        skip_instruction(el, elr);
        return;
    }
    // SAFETY: the vector code passes its own stack frame, valid and
    // exclusively ours for the duration of this call.
    let regs = unsafe { &(*frame).x };
    let copy = super::copy::RUNNING.get().map(|r| CopyContext {
        strategy: r.strategy,
        kernel: r.kernel,
        mmu_on: super::mmu::enabled(super::current_regime()),
        pages: regs[9],
        dest_cursor: regs[12],
    });
    let fault = Fault {
        kind,
        el,
        esr,
        elr,
        far,
        lr: regs[30],
        copy,
    };
    match HANDLER.get() {
        Some(handler) => handler(&fault),
        None => {
            super::semihosting::exit(ExitStatus::Exception.code());
            super::halt()
        }
    }
}
