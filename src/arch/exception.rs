//! Exception handling: any exception the stage did not ask for prints the
//! syndrome (ESR, ELR, FAR, EL, decoded class) as a human line and an error
//! record, then ends the run with a non-zero status. The one expected
//! exception is the undefined `hlt` of a failed semihosting probe.

use core::arch::global_asm;

use aarch64_cpu::registers::*;
use tock_registers::interfaces::{Readable, Writeable};

use mmu_reloc::cpu::{exception_class_name, fault_status_name};

use crate::stage;

/// Saved x0-x30 plus one slot of padding for 16-byte stack alignment.
const FRAME_SIZE: usize = 32 * 8;
const EC_UNKNOWN: u64 = 0;

global_asm!(include_str!("../../asm/vectors.S"), FRAME_SIZE = const FRAME_SIZE);

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

/// Called from `asm/vectors.S` with the saved registers and the vector
/// index. Returns only for the semihosting probe.
#[unsafe(no_mangle)]
extern "C" fn rust_exception(frame: *mut [u64; 31], kind: u64) {
    let el = super::current_el();
    let (esr, elr, far) = syndrome(el);
    let ec = (esr >> 26) & 0x3f;
    if kind.is_multiple_of(4) && ec == EC_UNKNOWN && super::semihosting::probe_faulted() {
        skip_instruction(el, elr);
        return;
    }
    // SAFETY: the vector code passes its own stack frame, valid and
    // exclusively ours for the duration of this call.
    let regs = unsafe { &*frame };
    let lr = regs[30];
    let class = exception_class_name(esr);
    let fault = fault_status_name(esr).unwrap_or("");
    let kind_name = KIND_NAMES[(kind % 4) as usize];
    let origin = ORIGIN_NAMES[((kind / 4) % 4) as usize];
    let sep = if fault.is_empty() { "" } else { ", " };
    let head = format_args!(
        "unexpected {kind_name} exception at EL{el} ({origin}): {class}{sep}{fault}; \
         ESR={esr:#x} ELR={elr:#x} FAR={far:#x} LR={lr:#x}"
    );
    match super::copy::RUNNING.get() {
        // The copy loops keep pages done in x9 and the destination cursor
        // in x12 (asm/copy.S).
        Some((strategy, kernel)) => stage::fail_exception(format_args!(
            "{head} in {} loop ({}, MMU {}) after {} pages, destination cursor {:#x}",
            strategy.name(),
            kernel.name(),
            if super::mmu::enabled(el) { "on" } else { "off" },
            regs[9],
            regs[12],
        )),
        None => stage::fail_exception(head),
    }
}
