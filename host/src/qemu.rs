//! The QEMU command line for the stage and a runner that cannot hang: every
//! run has a deadline, and QEMU is killed when the run ends, times out, or
//! the caller panics (the child is owned by a kill-on-drop guard).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::records::{Damaged, read_console};

pub const QEMU: &str = "qemu-system-aarch64";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// QEMU's options for exact, repeatable instruction counts (PMU
/// INST_RETIRED counts only with `shift=N`; `align=off,sleep=off` keep
/// virtual time off the host's).
pub const ICOUNT: [&str; 2] = ["-icount", "shift=0,align=off,sleep=off"];

/// Kills QEMU when dropped, whatever happened.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One QEMU invocation, built up like a `Command`. Later `arg`s win over
/// the machine defaults (QEMU takes the last `-M`, `-cpu`, `-m`).
#[derive(Clone, Debug)]
pub struct Qemu {
    args: Vec<String>,
    timeout: Duration,
    kernel: Option<PathBuf>,
    until: Vec<String>,
    /// Serial ports before the caller's args: the console is the first on
    /// virt (PL011) and the second on raspi4b (mini UART).
    serial: Vec<String>,
}

/// What a run produced.
#[derive(Debug)]
pub struct Run {
    /// QEMU's exit status; `None` if it was killed (timeout or `until`).
    pub status: Option<i32>,
    /// Every `until` pattern was seen in complete lines (and QEMU was
    /// then killed).
    pub matched: bool,
    /// The deadline passed and QEMU was killed.
    pub timed_out: bool,
    /// Console output (carriage returns removed), then QEMU's stderr.
    /// Records are read from both.
    pub output: String,
    pub records: Vec<Value>,
    /// Lines that started a record but did not parse as one.
    pub damaged: Vec<Damaged>,
    pub elapsed: Duration,
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

impl Qemu {
    /// `-M virt -cpu cortex-a72 -m 1G` with semihosting; no kernel yet.
    pub fn virt() -> Self {
        Qemu {
            args: strings(&["-M", "virt", "-cpu", "cortex-a72", "-m", "1G"]),
            timeout: DEFAULT_TIMEOUT,
            kernel: None,
            until: Vec::new(),
            serial: strings(&["-serial", "stdio"]),
        }
    }

    /// QEMU's Raspberry Pi 4 (2 GiB, of which the DTB QEMU passes shows
    /// 960 MiB) with the Pi 4 `dtb`; the stage enters at EL2 and prints on
    /// the mini UART, the second serial port (both go to stdout, a next
    /// stage may use the PL011). One TCG thread, so the spinning
    /// secondaries do not burn the host.
    pub fn raspi4b(dtb: &Path) -> Self {
        Qemu {
            args: vec![
                "-M".into(),
                "raspi4b".into(),
                "-m".into(),
                "2G".into(),
                "-accel".into(),
                "tcg,thread=single".into(),
                "-dtb".into(),
                dtb.display().to_string(),
            ],
            timeout: DEFAULT_TIMEOUT,
            kernel: None,
            until: Vec::new(),
            serial: strings(&[
                "-chardev",
                "stdio,mux=on,id=uarts",
                "-serial",
                "chardev:uarts",
                "-serial",
                "chardev:uarts",
            ]),
        }
    }

    /// The Image passed with `-kernel`.
    pub fn kernel(mut self, image: impl Into<PathBuf>) -> Self {
        self.kernel = Some(image.into());
        self
    }

    /// Do not pass an Image with `-kernel` (the caller loads it itself).
    pub fn no_kernel(mut self) -> Self {
        self.kernel = None;
        self
    }

    /// Drop the `-dtb` of [`Qemu::raspi4b`]: without `-kernel` QEMU would
    /// load it at address 0 (the caller loads its own tree as data).
    pub fn no_dtb(mut self) -> Self {
        if let Some(i) = self.args.iter().position(|a| a == "-dtb") {
            self.args.drain(i..i + 2);
        }
        self
    }

    pub fn arg(mut self, a: impl AsRef<str>) -> Self {
        self.args.push(a.as_ref().to_string());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, a: I) -> Self {
        for x in a {
            self = self.arg(x);
        }
        self
    }

    /// The stage's command line (`/chosen/bootargs`).
    pub fn append(self, cmdline: &str) -> Self {
        self.arg("-append").arg(cmdline)
    }

    /// Exact instruction counts ([`ICOUNT`]).
    pub fn icount(self) -> Self {
        self.args(ICOUNT)
    }

    /// Stop (kill QEMU) as soon as the output's complete lines hold every
    /// one of `patterns` (for a next stage that never exits by itself).
    pub fn until(mut self, patterns: &[&str]) -> Self {
        self.until = patterns.iter().map(|p| p.to_string()).collect();
        self
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Every argument after the program name, as it will run.
    pub fn command_args(&self) -> Vec<String> {
        let mut a = strings(&["-display", "none", "-monitor", "none"]);
        a.extend(self.serial.iter().cloned());
        a.extend(strings(&["-semihosting-config", "enable=on,target=native"]));
        if let Some(k) = &self.kernel {
            a.push("-kernel".into());
            a.push(k.display().to_string());
        }
        a.extend(self.args.iter().cloned());
        a
    }

    /// The whole command line, quoted for a shell where needed.
    pub fn command_line(&self) -> String {
        std::iter::once(QEMU.to_string())
            .chain(self.command_args())
            .map(|a| shell_quote(&a))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs QEMU to the end (or the deadline, or `until`).
    pub fn run(self) -> Run {
        self.run_with(|_| {})
    }

    /// Like [`Qemu::run`], calling `on_line` with every complete console
    /// line as it arrives (for progress displays).
    pub fn run_with(self, mut on_line: impl FnMut(&str)) -> Run {
        let start = Instant::now();
        let mut cmd = Command::new(QEMU);
        cmd.args(self.command_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = KillOnDrop(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("cannot start {QEMU} ({e}); run scripts/setup.sh")),
        );
        let mut out = child.0.stdout.take().unwrap();
        let mut err = child.0.stderr.take().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let err_reader = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = err.read_to_end(&mut s);
            s
        });
        let deadline = start + self.timeout;
        let mut fed = 0; // bytes of `seen` already passed to on_line
        let mut feed = |upto_end: bool| {
            let buf = seen.lock().unwrap();
            let end = if upto_end {
                buf.len()
            } else {
                buf.iter().rposition(|&b| b == b'\n').map_or(fed, |p| p + 1)
            };
            if end > fed {
                for l in String::from_utf8_lossy(&buf[fed..end]).lines() {
                    on_line(l.trim_end_matches('\r'));
                }
                fed = end;
            }
            // Complete lines only: a pattern seen at the start of a line
            // still being printed would kill QEMU before the caller can
            // read the rest of that line.
            !self.until.is_empty() && {
                let lines = buf.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
                let text = String::from_utf8_lossy(&buf[..lines]);
                self.until.iter().all(|p| text.contains(p.as_str()))
            }
        };
        let (mut matched, mut timed_out) = (false, false);
        let status = loop {
            let exited = child.0.try_wait().unwrap();
            if feed(false) {
                matched = true;
                break None;
            }
            if let Some(st) = exited {
                break st.code();
            }
            if Instant::now() >= deadline {
                timed_out = true;
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        drop(child);
        reader.join().unwrap();
        feed(true);
        let mut output = String::from_utf8_lossy(&seen.lock().unwrap()).replace('\r', "");
        let stderr = String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned();
        if !stderr.is_empty() {
            output.push_str("\n--- qemu stderr ---\n");
            output.push_str(&stderr);
        }
        // Records come from both streams: without a UART (no DTB, EL3)
        // the stage writes through semihosting, which QEMU puts on stderr.
        let parsed = read_console(&output);
        Run {
            status,
            matched,
            timed_out,
            output,
            records: parsed.records,
            damaged: parsed.damaged,
            elapsed: start.elapsed(),
        }
    }
}

/// `a` as one shell word.
pub fn shell_quote(a: &str) -> String {
    let plain = !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=,./:+@%".contains(c));
    if plain {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

impl Run {
    pub fn all(&self, name: &str) -> Vec<&Value> {
        self.records
            .iter()
            .filter(|r| r["record"] == name)
            .collect()
    }

    /// The first record called `name`; panics with the whole output if
    /// absent (a test helper).
    pub fn record(&self, name: &str) -> &Value {
        self.all(name)
            .first()
            .copied()
            .unwrap_or_else(|| panic!("no {name} record in:\n{}", self.output))
    }

    /// The stage's exit status from its `exit` record (a board has no
    /// QEMU status).
    pub fn exit_record_status(&self) -> Option<i64> {
        self.all("exit").last().and_then(|r| r["status"].as_i64())
    }

    /// Test helper: asserts the run ended by itself with `code`, the exit
    /// record agrees, and a run that got as far as the platform checks
    /// reports intact containment (DTB hash, guard pages).
    pub fn expect_status(&self, code: i32) -> &Self {
        assert_eq!(
            self.status,
            Some(code),
            "unexpected status; output:\n{}",
            self.output
        );
        assert_eq!(
            self.record("exit")["status"],
            code,
            "exit record; output:\n{}",
            self.output
        );
        if !self.all("platform").is_empty() {
            let c = self.record("containment");
            assert_eq!(c["intact"], true, "containment: {c}");
            assert!(
                c["checked_bytes"].as_u64().unwrap() > 0,
                "containment checked nothing: {c}"
            );
        }
        self
    }

    /// Test helper: asserts an error record whose message contains
    /// `needle`, and exit 1.
    pub fn expect_error(&self, needle: &str) -> &Self {
        self.expect_status(1);
        let msg = self.record("error")["msg"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            msg.contains(needle),
            "error {msg:?} lacks {needle:?}; output:\n{}",
            self.output
        );
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_has_console_semihosting_kernel_then_caller_args() {
        let q = Qemu::virt().kernel("/x/st.Image").icount().append("a=1 b");
        let a = q.command_args();
        let k = a.iter().position(|x| x == "-kernel").unwrap();
        assert_eq!(a[k + 1], "/x/st.Image");
        assert!(a.iter().position(|x| x == "-M").unwrap() > k);
        assert_eq!(&a[a.len() - 2..], ["-append", "a=1 b"]);
        assert!(q.command_line().ends_with("-append 'a=1 b'"));
        assert!(!Qemu::virt().command_args().contains(&"-kernel".into()));
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("virt,highmem=on"), "virt,highmem=on");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
