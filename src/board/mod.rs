//! Platform devices the stage drives, all found through the DTB: the
//! console UART (PL011 or the BCM2835 mini UART), and the ways to stop the
//! machine (semihosting, PSCI). No board addresses are written here.

pub mod console;
pub mod power;
