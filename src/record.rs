//! Machine-readable records: one line, one JSON object, always with a
//! `"record"` key first. Every figure the stage reports goes through here so
//! host tools parse one format. Human-readable text is printed next to it
//! from the same values by the caller.

use core::fmt::{self, Write};

use crate::region::Region;

/// Builder for one record line. Fields are written as they are added;
/// `end` closes the object and the line.
pub struct Record<'w> {
    w: &'w mut dyn Write,
}

impl<'w> Record<'w> {
    /// Starts `{"record":"<name>"`.
    pub fn new(w: &'w mut dyn Write, name: &str) -> Self {
        let mut r = Record { w };
        r.raw("{\"record\":");
        r.quoted(name);
        r
    }

    fn raw(&mut self, s: &str) {
        // Console writes cannot fail; a host String cannot either.
        let _ = self.w.write_str(s);
    }

    fn quoted(&mut self, s: &str) {
        self.raw("\"");
        let _ = write_escaped(self.w, s);
        self.raw("\"");
    }

    fn key(&mut self, k: &str) {
        self.raw(",");
        self.quoted(k);
        self.raw(":");
    }

    pub fn u64(mut self, k: &str, v: u64) -> Self {
        self.key(k);
        let _ = write!(self.w, "{v}");
        self
    }

    pub fn opt_u64(mut self, k: &str, v: Option<u64>) -> Self {
        match v {
            Some(v) => self.u64(k, v),
            None => {
                self.key(k);
                self.raw("null");
                self
            }
        }
    }

    pub fn opt_str(mut self, k: &str, v: Option<&str>) -> Self {
        match v {
            Some(v) => self.str(k, v),
            None => {
                self.key(k);
                self.raw("null");
                self
            }
        }
    }

    pub fn f64(mut self, k: &str, v: f64) -> Self {
        self.key(k);
        if v.is_finite() {
            let _ = write!(self.w, "{v}");
        } else {
            self.raw("null");
        }
        self
    }

    pub fn bool(mut self, k: &str, v: bool) -> Self {
        self.key(k);
        self.raw(if v { "true" } else { "false" });
        self
    }

    pub fn str(mut self, k: &str, v: &str) -> Self {
        self.key(k);
        self.quoted(v);
        self
    }

    /// An address or register value as a `"0x..."` string, for humans
    /// reading the JSON; sizes and counts stay numbers.
    pub fn hex(mut self, k: &str, v: u64) -> Self {
        self.key(k);
        let _ = write!(self.w, "\"{v:#x}\"");
        self
    }

    /// `[[start, end), ...]` as a list of two-number lists.
    pub fn regions(mut self, k: &str, rs: &[Region]) -> Self {
        self.key(k);
        self.raw("[");
        for (i, r) in rs.iter().enumerate() {
            let _ = write!(
                self.w,
                "{}[{},{}]",
                if i > 0 { "," } else { "" },
                r.start,
                r.end
            );
        }
        self.raw("]");
        self
    }

    pub fn strs<'a>(mut self, k: &str, items: impl IntoIterator<Item = &'a str>) -> Self {
        self.key(k);
        self.raw("[");
        for (i, s) in items.into_iter().enumerate() {
            if i > 0 {
                self.raw(",");
            }
            self.quoted(s);
        }
        self.raw("]");
        self
    }

    /// `[[a, b], ...]` of number pairs (e.g. leaf size and count).
    pub fn pairs(mut self, k: &str, items: impl IntoIterator<Item = (u64, u64)>) -> Self {
        self.key(k);
        self.raw("[");
        for (i, (a, b)) in items.into_iter().enumerate() {
            let _ = write!(self.w, "{}[{a},{b}]", if i > 0 { "," } else { "" });
        }
        self.raw("]");
        self
    }

    /// A field whose value the caller writes itself (must be valid JSON).
    pub fn json(mut self, k: &str, f: impl FnOnce(&mut dyn Write) -> fmt::Result) -> Self {
        self.key(k);
        let _ = f(self.w);
        self
    }

    /// Closes the object and the line.
    pub fn end(mut self) {
        self.raw("}\n");
    }
}

/// Writes `s` as the inside of a JSON string.
pub fn write_escaped(w: &mut dyn Write, s: &str) -> fmt::Result {
    for c in s.chars() {
        match c {
            '"' => w.write_str("\\\"")?,
            '\\' => w.write_str("\\\\")?,
            '\n' => w.write_str("\\n")?,
            '\r' => w.write_str("\\r")?,
            '\t' => w.write_str("\\t")?,
            c if (c as u32) < 0x20 => write!(w, "\\u{:04x}", c as u32)?,
            c => w.write_char(c)?,
        }
    }
    Ok(())
}

/// Writes a `{"record":"error","msg":...}` line.
pub fn error(w: &mut dyn Write, msg: fmt::Arguments<'_>) {
    let mut text = BoundedString::<512>::new();
    let _ = text.write_fmt(msg);
    Record::new(w, "error").str("msg", text.as_str()).end();
}

/// A fixed-capacity string for formatting without the heap (errors may be
/// reported before or after the heap is usable). Truncates on overflow, on
/// a character boundary.
pub struct BoundedString<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> BoundedString<N> {
    pub const fn new() -> Self {
        BoundedString {
            buf: [0; N],
            len: 0,
        }
    }

    pub fn as_str(&self) -> &str {
        // Only whole `str`s are ever appended, so this is valid UTF-8.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> Default for BoundedString<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Write for BoundedString<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut take = s.len().min(N - self.len);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    #[test]
    fn one_line_valid_object() {
        let mut s = String::new();
        Record::new(&mut s, "platform")
            .u64("ram_bytes", 1 << 30)
            .str("model", "linux,\"dummy\"-virt\n")
            .regions("ram", &[Region::new(0x4000_0000, 0x8000_0000)])
            .bool("ok", true)
            .opt_u64("insns", None)
            .strs("granules", ["4k", "64k"])
            .end();
        assert_eq!(
            s,
            "{\"record\":\"platform\",\"ram_bytes\":1073741824,\"model\":\"linux,\\\"dummy\\\"-virt\\n\",\
             \"ram\":[[1073741824,2147483648]],\"ok\":true,\"insns\":null,\"granules\":[\"4k\",\"64k\"]}\n"
        );
    }

    #[test]
    fn error_record_truncates_safely() {
        let mut s = String::new();
        error(&mut s, format_args!("{}", "é".repeat(600)));
        assert!(s.starts_with("{\"record\":\"error\",\"msg\":\""));
        assert!(s.ends_with("\"}\n"));
    }
}
