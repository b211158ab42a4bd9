//! The console: the UART `/chosen/stdout-path` names, or semihosting when
//! there is none, or nothing. Also the `log` backend. Output is polled,
//! never buffered, so the last line before a crash is on the wire.
//!
//! A board is not QEMU: a UART the firmware never enabled, or one whose
//! FIFO never drains (no clock, no baud rate), must not hang the stage.
//! Every poll is bounded; a UART that stops draining is dropped and the
//! stage goes on with semihosting or no console, its exit status intact.
//! Nothing here reprograms a baud rate: on a Pi 4 the mini UART's divisor
//! follows the core clock the firmware set (`enable_uart=1`).

use core::fmt::{self, Write};

use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite};
use tock_registers::{register_bitfields, register_structs};

use mmu_reloc::platform::{Uart, UartKind};

use crate::arch::BootCpuCell;
use crate::arch::semihosting;

register_bitfields! {u32,
    /// PL011 flag register.
    PL011_FR [
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) []
    ],
    /// PL011 control register (PL011 TRM 3.3.8).
    PL011_CR [
        UARTEN OFFSET(0) NUMBITS(1) [],
        TXE OFFSET(8) NUMBITS(1) []
    ],
    /// Mini UART line status register.
    MU_LSR [
        /// The transmit FIFO can take at least one byte.
        TX_EMPTY OFFSET(5) NUMBITS(1) []
    ],
    /// Mini UART extra control (BCM2711 peripherals 2.2.2, AUX_MU_CNTL).
    /// Reads as zero while AUX_ENABLES has the mini UART off.
    MU_CNTL [
        TX_ENABLE OFFSET(1) NUMBITS(1) []
    ]
}

register_structs! {
    Pl011Regs {
        (0x00 => dr: ReadWrite<u32>),
        (0x04 => _reserved0),
        (0x18 => fr: ReadOnly<u32, PL011_FR::Register>),
        (0x1c => _reserved1),
        (0x30 => cr: ReadWrite<u32, PL011_CR::Register>),
        (0x34 => @END),
    },
    MiniUartRegs {
        (0x00 => io: ReadWrite<u32>),
        (0x04 => _reserved0),
        (0x14 => lsr: ReadOnly<u32, MU_LSR::Register>),
        (0x18 => _reserved1),
        (0x20 => cntl: ReadOnly<u32, MU_CNTL::Register>),
        (0x24 => @END),
    }
}

/// Status-register reads a byte may wait for room in the FIFO: far more
/// than the ~90 us one byte takes at 115200 baud, however slow each
/// Device read is, yet a bounded wait when the UART never drains.
const POLL_LIMIT: u32 = 1 << 20;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sink {
    None,
    Uart(Uart),
    Semihosting,
}

static SINK: BootCpuCell<Sink> = BootCpuCell::new(Sink::None);

/// Directs output to `uart` if it is enabled (see [`ready`]), else to
/// semihosting if a host is present. Call before any output that should
/// be seen.
pub fn init(uart: Option<Uart>) {
    SINK.set(match uart {
        Some(u) if ready(u) => Sink::Uart(u),
        _ => fallback(),
    });
}

fn fallback() -> Sink {
    if semihosting::present() {
        Sink::Semihosting
    } else {
        Sink::None
    }
}

/// Whether `uart` can transmit. A PL011 left with UARTEN or TXE clear is
/// enabled with the divisor it has (QEMU's resets so; on a board one the
/// firmware never set up then fails the bounded poll instead of hanging).
/// A mini UART with its transmitter off is left alone: enabling it needs
/// the AUX block and a baud rate tied to the core clock.
fn ready(uart: Uart) -> bool {
    let base = uart.regs.start as usize;
    match uart.kind {
        UartKind::Pl011 => {
            // SAFETY: the DTB names this PL011 as the console; its register
            // block is mapped (identity, Device) or the MMU is off.
            let regs = unsafe { &*(base as *const Pl011Regs) };
            if !regs.cr.is_set(PL011_CR::UARTEN) || !regs.cr.is_set(PL011_CR::TXE) {
                regs.cr.modify(PL011_CR::UARTEN::SET + PL011_CR::TXE::SET);
            }
            true
        }
        UartKind::MiniUart => {
            // SAFETY: as above, for the BCM2835 auxiliary mini UART.
            let regs = unsafe { &*(base as *const MiniUartRegs) };
            regs.cntl.is_set(MU_CNTL::TX_ENABLE)
        }
    }
}

/// Which device prints, for the platform report.
pub fn describe() -> &'static str {
    match SINK.get() {
        Sink::None => "none",
        Sink::Uart(u) => u.kind.name(),
        Sink::Semihosting => "semihosting",
    }
}

/// Waits (bounded) until `room()`; whether it came.
fn poll(room: impl Fn() -> bool) -> bool {
    (0..POLL_LIMIT).any(|_| room())
}

/// Sends one byte; false if the UART never had room for it.
fn put_byte(uart: Uart, b: u8) -> bool {
    let base = uart.regs.start as usize;
    match uart.kind {
        UartKind::Pl011 => {
            // SAFETY: the DTB names this PL011 as the console; its register
            // block is mapped (identity, Device) or the MMU is off.
            let regs = unsafe { &*(base as *const Pl011Regs) };
            let room = poll(|| !regs.fr.is_set(PL011_FR::TXFF));
            if room {
                regs.dr.set(b as u32);
            }
            room
        }
        UartKind::MiniUart => {
            // SAFETY: as above, for the BCM2835 auxiliary mini UART.
            let regs = unsafe { &*(base as *const MiniUartRegs) };
            let room = poll(|| regs.lsr.is_set(MU_LSR::TX_EMPTY));
            if room {
                regs.io.set(b as u32);
            }
            room
        }
    }
}

/// A `fmt::Write` onto the console.
pub struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        match SINK.get() {
            // Before a UART is known (or when there is none), semihosting
            // is the console of last resort.
            Sink::None | Sink::Semihosting => semihosting::write_str(s),
            Sink::Uart(u) => {
                let sent = s
                    .bytes()
                    .all(|b| (b != b'\n' || put_byte(u, b'\r')) && put_byte(u, b));
                if !sent {
                    // Stuck FIFO: drop the UART for good, say so where
                    // output can still go, and keep running.
                    SINK.set(fallback());
                    if SINK.get() == Sink::Semihosting {
                        semihosting::write_str(
                            "mmu-reloc: console UART stopped draining; output continues here\n",
                        );
                        semihosting::write_str(s);
                    }
                }
            }
        }
        Ok(())
    }
}

/// `print!` to the console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = write!($crate::board::console::Console, $($arg)*);
    }};
}

/// `println!` to the console.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!($crate::board::console::Console, $($arg)*);
    }};
}

struct Logger;

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            let _ = writeln!(Console, "[{:5}] {}", r.level(), r.args());
        }
    }

    fn flush(&self) {}
}

static LOGGER: Logger = Logger;

/// Installs the `log` backend at `level`.
pub fn init_log(level: log::LevelFilter) {
    // SAFETY: called once, on the boot CPU, before any other thread could
    // exist; the racy variants avoid exclusive accesses (MMU may be off).
    unsafe {
        let _ = log::set_logger_racy(&LOGGER);
        log::set_max_level_racy(level);
    }
}
