//! The console: the UART `/chosen/stdout-path` names, or semihosting when
//! there is none, or nothing. Also the `log` backend. Output is polled,
//! never buffered, so the last line before a crash is on the wire.

use core::fmt::{self, Write};

use tock_registers::interfaces::{Readable, Writeable};
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
    /// Mini UART line status register.
    MU_LSR [
        /// The transmit FIFO can take at least one byte.
        TX_EMPTY OFFSET(5) NUMBITS(1) []
    ]
}

register_structs! {
    Pl011Regs {
        (0x00 => dr: ReadWrite<u32>),
        (0x04 => _reserved0),
        (0x18 => fr: ReadOnly<u32, PL011_FR::Register>),
        (0x1c => @END),
    },
    MiniUartRegs {
        (0x00 => io: ReadWrite<u32>),
        (0x04 => _reserved0),
        (0x14 => lsr: ReadOnly<u32, MU_LSR::Register>),
        (0x18 => @END),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sink {
    None,
    Uart(Uart),
    Semihosting,
}

static SINK: BootCpuCell<Sink> = BootCpuCell::new(Sink::None);

/// Directs output to `uart`, or to semihosting if none and a host is
/// present. Call before any output that should be seen.
pub fn init(uart: Option<Uart>) {
    SINK.set(match uart {
        Some(u) => Sink::Uart(u),
        None if semihosting::present() => Sink::Semihosting,
        None => Sink::None,
    });
}

/// Which device prints, for the platform report.
pub fn describe() -> &'static str {
    match SINK.get() {
        Sink::None => "none",
        Sink::Uart(u) => u.kind.name(),
        Sink::Semihosting => "semihosting",
    }
}

fn put_byte(uart: Uart, b: u8) {
    let base = uart.regs.start as usize;
    match uart.kind {
        UartKind::Pl011 => {
            // SAFETY: the DTB names this PL011 as the console; its register
            // block is mapped (identity, Device) or the MMU is off.
            let regs = unsafe { &*(base as *const Pl011Regs) };
            while regs.fr.is_set(PL011_FR::TXFF) {}
            regs.dr.set(b as u32);
        }
        UartKind::MiniUart => {
            // SAFETY: as above, for the BCM2835 auxiliary mini UART.
            let regs = unsafe { &*(base as *const MiniUartRegs) };
            while !regs.lsr.is_set(MU_LSR::TX_EMPTY) {}
            regs.io.set(b as u32);
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
                for b in s.bytes() {
                    if b == b'\n' {
                        put_byte(u, b'\r');
                    }
                    put_byte(u, b);
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
