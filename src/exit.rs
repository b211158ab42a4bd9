//! How a run ends: the exit statuses (QEMU's exit code with semihosting,
//! the `exit` record, the assembly's early exits) and the one error type
//! the stage's steps return. Library errors convert into it with `From`,
//! each choosing its status once, here; the stage reports it and exits in
//! one place. The message is formatted without the heap, so an error can
//! be built before the heap exists (a bad DTB pointer) or after it broke
//! (a panic).

use core::fmt::{self, Write};

use crate::bootargs::ArgError;
use crate::fdt::FdtError;
use crate::mmu::MmuError;
use crate::platform::PlatformError;
use crate::record::BoundedString;
use crate::relocate::RelocError;

/// The stage's exit statuses. The numbers are the interface (README,
/// tests, scripts); the assembly gets them as `const` operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitStatus {
    Ok = 0,
    /// Bad input: DTB, command line, segments, CPU feature.
    Input = 1,
    /// A copy, map or guard did not verify.
    Verify = 2,
    /// An unexpected exception.
    Exception = 3,
    /// A Rust panic (a bug in the stage).
    Panic = 4,
}

impl ExitStatus {
    pub const fn code(self) -> u32 {
        self as u32
    }
}

/// Longest error message kept; longer ones are cut on a character
/// boundary (the `error` record has the same bound).
pub const MSG_MAX: usize = 512;

/// A failed step: the status the run ends with and the one-line message.
pub struct Error {
    status: ExitStatus,
    msg: BoundedString<MSG_MAX>,
}

impl Error {
    pub fn new(status: ExitStatus, msg: impl fmt::Display) -> Self {
        let mut text = BoundedString::new();
        let _ = write!(text, "{msg}");
        Error { status, msg: text }
    }

    /// Bad input: the user can fix it.
    pub fn input(msg: impl fmt::Display) -> Self {
        Self::new(ExitStatus::Input, msg)
    }

    /// Something the stage did was checked and found wrong.
    pub fn verify(msg: impl fmt::Display) -> Self {
        Self::new(ExitStatus::Verify, msg)
    }

    pub fn status(&self) -> ExitStatus {
        self.status
    }

    pub fn msg(&self) -> &str {
        self.msg.as_str()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.msg())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.status, self.msg())
    }
}

impl From<FdtError> for Error {
    fn from(e: FdtError) -> Self {
        Error::input(e)
    }
}

impl From<PlatformError<'_>> for Error {
    fn from(e: PlatformError<'_>) -> Self {
        Error::input(e)
    }
}

impl From<ArgError<'_>> for Error {
    fn from(e: ArgError<'_>) -> Self {
        Error::input(e)
    }
}

impl From<RelocError> for Error {
    fn from(e: RelocError) -> Self {
        Error::input(e)
    }
}

/// Every map the stage builds is a page-table problem to the user; the
/// message says so.
impl From<MmuError> for Error {
    fn from(e: MmuError) -> Self {
        Error::input(format_args!("page tables: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn statuses_are_the_documented_numbers() {
        let codes = [
            ExitStatus::Ok,
            ExitStatus::Input,
            ExitStatus::Verify,
            ExitStatus::Exception,
            ExitStatus::Panic,
        ]
        .map(ExitStatus::code);
        assert_eq!(codes, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn library_errors_are_bad_input_with_their_message() {
        let e = Error::from(FdtError::BadVersion(15));
        assert_eq!(e.status(), ExitStatus::Input);
        assert_eq!(e.msg(), "DTB version 15 unsupported (need 16 or 17)");
        let e = Error::from(MmuError::BadPaBits { pa_bits: 7 });
        assert!(e.msg().starts_with("page tables: "), "{e}");
        assert_eq!(Error::verify("x").status(), ExitStatus::Verify);
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let e = Error::input("é".repeat(MSG_MAX));
        assert!(e.msg().len() <= MSG_MAX);
        assert!(e.to_string().chars().all(|c| c == 'é'));
    }
}
