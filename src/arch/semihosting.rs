//! Arm semihosting (`hlt #0xf000`): the way out of QEMU with a status and
//! a console of last resort. Its presence is probed, never assumed: on a
//! board without a debugger `hlt` is an undefined instruction, which the
//! exception handler turns into "absent" while the probe runs.

use core::arch::asm;
use core::sync::atomic::{AtomicU8, Ordering};

pub(super) const SYS_WRITE0: u64 = 0x04;
const SYS_ERRNO: u64 = 0x13;
pub(super) const SYS_EXIT: u64 = 0x18;
/// ADP_Stopped_ApplicationExit: SYS_EXIT's reason meaning "exit with code".
pub(super) const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x20026;

const UNKNOWN: u8 = 0;
const PROBING: u8 = 1;
const PRESENT: u8 = 2;
const ABSENT: u8 = 3;

// Plain load/store atomics only (no exclusives): safe with the MMU off.
static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// # Safety
/// Semihosting must be present (or being probed), `arg` valid for `op`.
unsafe fn call(op: u64, arg: u64) -> u64 {
    let ret;
    // SAFETY: the caller guarantees a semihosting host or an active probe
    // whose exception handler skips the `hlt`.
    unsafe {
        asm!("hlt #0xf000", inout("x0") op => ret, in("x1") arg, options(nostack));
    }
    ret
}

/// Finds out once whether a semihosting host answers. Needs the exception
/// vectors installed.
pub fn probe() -> bool {
    if STATE.load(Ordering::Relaxed) == UNKNOWN {
        STATE.store(PROBING, Ordering::Relaxed);
        // SAFETY: SYS_ERRNO takes no argument; if nobody answers, the
        // undefined-instruction exception during PROBING skips the `hlt`.
        unsafe { call(SYS_ERRNO, 0) };
        if STATE.load(Ordering::Relaxed) == PROBING {
            STATE.store(PRESENT, Ordering::Relaxed);
        }
    }
    present()
}

pub fn present() -> bool {
    STATE.load(Ordering::Relaxed) == PRESENT
}

/// Called by the exception handler for an undefined instruction: if a
/// probe is running, it failed; the handler then skips the instruction.
pub fn probe_faulted() -> bool {
    if STATE.load(Ordering::Relaxed) == PROBING {
        STATE.store(ABSENT, Ordering::Relaxed);
        return true;
    }
    false
}

/// Writes a NUL-free string through the host's console, in pieces.
pub fn write_str(s: &str) {
    if !present() {
        return;
    }
    let mut buf = [0u8; 128];
    for chunk in s.as_bytes().chunks(buf.len() - 1) {
        buf[..chunk.len()].copy_from_slice(chunk);
        buf[chunk.len()] = 0;
        // SAFETY: present; buf is NUL-terminated and lives across the call.
        unsafe { call(SYS_WRITE0, buf.as_ptr() as u64) };
    }
}

/// Ends the run with `code` as QEMU's exit status. Returns only if no
/// semihosting host is present.
pub fn exit(code: u32) {
    if !present() {
        return;
    }
    let block = [ADP_STOPPED_APPLICATION_EXIT, code as u64];
    // SAFETY: present; the parameter block lives across the call.
    unsafe { call(SYS_EXIT, block.as_ptr() as u64) };
}
