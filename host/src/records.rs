//! Reader of the stage's console: QEMU's stdout, or a serial capture from a
//! real board (no semihosting, CR/LF line ends, NUL bytes, timestamps or
//! other text before a record, records cut short or broken by other
//! output). A record is `{"record":"<name>",...}` on one line; anything
//! before it on the line is ignored, anything after the closing brace too.
//! A line that starts a record but does not hold a whole JSON object is
//! reported as [`Damaged`], never repaired by guesswork.

use serde_json::Value;

const MARK: &str = "{\"record\"";

/// A line that began a record that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damaged {
    /// 1-based line number in the input.
    pub line: usize,
    /// The record's text from its `{` (at most 120 characters).
    pub text: String,
    /// `truncated` (the line ends inside the object) or the JSON error.
    pub reason: String,
}

/// A console split into records, damaged records and human text.
#[derive(Clone, Debug, Default)]
pub struct Console {
    pub records: Vec<Value>,
    pub damaged: Vec<Damaged>,
    /// Every line that holds no record start, in order.
    pub human: Vec<String>,
}

impl Console {
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.records.iter().filter(move |r| r["record"] == name)
    }

    /// The records split into boots: a `platform` record (the stage prints
    /// it first on every boot) starts a new one; records before the first
    /// `platform` form a boot of their own.
    pub fn boots(&self) -> Vec<&[Value]> {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, r) in self.records.iter().enumerate() {
            if r["record"] == "platform" && i > start {
                out.push(&self.records[start..i]);
                start = i;
            }
        }
        if start < self.records.len() {
            out.push(&self.records[start..]);
        }
        out
    }
}

/// Splits console text (any line ends, invalid UTF-8 already replaced).
pub fn read_console(text: &str) -> Console {
    let mut c = Console::default();
    for (i, raw) in text.split('\n').enumerate() {
        let line: String = raw.chars().filter(|&ch| ch != '\r' && ch != '\0').collect();
        let Some(first) = line.find(MARK) else {
            c.human.push(line);
            continue;
        };
        // Several record starts on one line: an earlier record was cut off
        // by a later one (console output interleaved or a lost newline).
        let starts: Vec<usize> = line.match_indices(MARK).map(|(p, _)| p).collect();
        let before = line[..first].trim();
        if !before.is_empty() {
            c.human.push(before.to_string());
        }
        for (k, &s) in starts.iter().enumerate() {
            let end = starts.get(k + 1).copied().unwrap_or(line.len());
            match parse_one(&line[s..end]) {
                Ok(v) => c.records.push(v),
                Err(reason) => c.damaged.push(Damaged {
                    line: i + 1,
                    text: line[s..end].chars().take(120).collect(),
                    reason,
                }),
            }
        }
    }
    c
}

/// Reads bytes as a console (a board capture may hold invalid UTF-8).
pub fn read_console_bytes(bytes: &[u8]) -> Console {
    read_console(&String::from_utf8_lossy(bytes))
}

/// The first JSON object in `s`; text after it is ignored.
fn parse_one(s: &str) -> Result<Value, String> {
    let mut it = serde_json::Deserializer::from_str(s).into_iter::<Value>();
    match it.next() {
        Some(Ok(v)) if v["record"].is_string() => Ok(v),
        Some(Ok(_)) => Err("\"record\" is not a string".into()),
        Some(Err(e)) if e.is_eof() => Err("truncated".into()),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("truncated".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A QEMU console as the stage prints it, with every kind of damage a
    /// console shows: a line cut short, a record broken by other output,
    /// a record after a timestamp, CR/LF and NUL bytes.
    const CAPTURE: &str = concat!(
        "mmu-reloc: platform\r\n",
        "  model      linux,dummy-virt\r\n",
        "{\"record\":\"platform\",\"el\":1,\"cpus\":1}\r\n",
        "\0{\"record\":\"result\",\"strategy\":\"ind-list\",\"ns\":10,\"insns\":null}\r\n",
        "{\"record\":\"result\",\"strategy\":\"contig\n",
        "{\"record\":\"result\",\"strategy\":\"legacy\",[  0.1] uart: overrun{\"record\":\"exit\",\"status\":0}\n",
        "[12:00:01.5] {\"record\":\"summary\",\"median_ns\":7} trailing\n",
        "{\"record\":\"error\",\"msg\":\"bootargs: bad value for size=\\\"12q\\\"\"}\n",
        "{\"record\":\"exit\",\"status\":1}",
    );

    #[test]
    fn records_damage_and_human_text_are_separated() {
        let c = read_console(CAPTURE);
        let names: Vec<&str> = c
            .records
            .iter()
            .map(|r| r["record"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["platform", "result", "exit", "summary", "error", "exit"]
        );
        assert_eq!(c.records[1]["ns"], 10);
        assert!(c.records[1]["insns"].is_null());
        assert_eq!(c.records[3]["median_ns"], 7);
        assert_eq!(
            c.all("error").next().unwrap()["msg"],
            "bootargs: bad value for size=\"12q\""
        );
        // The truncated line and the record cut by a UART message.
        assert_eq!(c.damaged.len(), 2, "{:?}", c.damaged);
        assert_eq!(
            (c.damaged[0].line, c.damaged[0].reason.as_str()),
            (5, "truncated")
        );
        assert_eq!(c.damaged[1].line, 6);
        assert!(c.damaged[1].text.contains("legacy"));
        assert_eq!(c.human[0], "mmu-reloc: platform");
        assert!(c.human.iter().any(|h| h == "[12:00:01.5]"));
        assert!(c.human.iter().all(|h| !h.contains("{\"record\"")));
    }

    #[test]
    fn a_record_cut_at_the_end_of_the_capture_is_truncated() {
        let c = read_console("{\"record\":\"exit\",\"status\":0}\n{\"record\":\"result\",\"ns\":1");
        assert_eq!(c.records.len(), 1);
        assert_eq!(c.damaged[0].reason, "truncated");
    }

    #[test]
    fn not_a_record_is_damage_not_a_record() {
        let c = read_console("{\"record\":5}\n{\"record\" garbage\n");
        assert!(c.records.is_empty());
        assert_eq!(c.damaged.len(), 2);
    }

    #[test]
    fn board_log_without_semihosting_splits_into_boots() {
        // A Pi 4 serial capture: two power-ons, mini UART noise, invalid
        // UTF-8, no QEMU status; the stage ends each boot in `wfi` after
        // its exit record.
        let mut log = Vec::new();
        log.extend_from_slice(b"\xff\xfe\x00garbage from power-on\r\n");
        for boot in 0..2 {
            log.extend_from_slice(
                format!(
                    "{{\"record\":\"platform\",\"el\":2,\"semihosting\":false,\"boot\":{boot}}}\r\n"
                )
                .as_bytes(),
            );
            log.extend_from_slice(b"bench: 4 MiB in 4 segments\r\n");
            log.extend_from_slice(
                b"{\"record\":\"result\",\"strategy\":\"ind-list\",\"ns\":382000000}\r\n",
            );
            log.extend_from_slice(b"{\"record\":\"exit\",\"status\":0}\r\n");
        }
        let c = read_console_bytes(&log);
        assert!(c.damaged.is_empty());
        let boots = c.boots();
        assert_eq!(boots.len(), 2);
        for (i, b) in boots.iter().enumerate() {
            assert_eq!(b[0]["boot"], i);
            assert_eq!(b[0]["semihosting"], false);
            assert_eq!(b.last().unwrap()["record"], "exit");
        }
        assert_eq!(
            c.human[0].trim_start_matches('\u{fffd}'),
            "garbage from power-on"
        );
    }

    #[test]
    fn records_the_host_writes_read_back() {
        // serde_json keeps insertion order (preserve_order), so "record"
        // stays first and the reader's marker finds it.
        let v = serde_json::json!({"record": "host-boot", "boot": 1, "kind": "exact"});
        let c = read_console(&format!("{v}\n"));
        assert_eq!(c.records, vec![v]);
    }
}
