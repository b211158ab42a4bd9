//! The device tree a FIT configuration brings, fixed up the way U-Boot
//! fixes up a FIT's fdt before booting: the machine's `/memory` nodes, its
//! `/chosen` (command line, console, initrd) and its reserved memory
//! (`/reserved-memory` and `/memreserve/` entries) come from the live DTB
//! the stage was given; everything else (model, devices) from the FIT's.
//! The result is a new blob; neither input is written.

use alloc::vec::Vec;
use core::fmt;

use crate::fdt::{
    FDT_BEGIN_NODE, FDT_END, FDT_END_NODE, FDT_MAGIC, FDT_PROP, Fdt, FdtError, HEADER_LEN, Node,
};
use crate::platform::is_memory_node;
/// Header offset of `boot_cpuid_phys`, kept from the FIT's tree.
const BOOT_CPUID_AT: usize = 28;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FixupError {
    /// The FIT's fdt is not a valid tree.
    FitFdt(FdtError),
    /// The live DTB is not a valid tree (it was checked at entry, so only
    /// a bug or a corrupted copy gets here).
    Live(FdtError),
    /// `/memory` `reg` would be misread: the two roots use different cells.
    Cells { fit: (u32, u32), live: (u32, u32) },
}

impl fmt::Display for FixupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FixupError::FitFdt(e) => write!(f, "FIT fdt: {e}"),
            FixupError::Live(e) => write!(f, "live DTB: {e}"),
            FixupError::Cells { fit, live } => write!(
                f,
                "FIT fdt root #address-cells/#size-cells {}/{} differ from the live DTB's {}/{}: its /memory cannot be carried over",
                fit.0, fit.1, live.0, live.1
            ),
        }
    }
}

/// Top-level nodes taken from the live DTB instead of the FIT's fdt: RAM
/// (as the stage's platform discovery recognizes it), `/chosen` and
/// `/reserved-memory`.
fn from_live<'a>(t: &Fdt<'a>, node: Node<'a>) -> bool {
    is_memory_node(t, node) || node.name == "chosen" || node.name == "reserved-memory"
}

/// Root cells, with the devicetree spec's defaults (2 and 1).
fn root_cells(t: &Fdt<'_>) -> (u32, u32) {
    let cell = |n: &str, d: u32| {
        t.prop(t.root(), n)
            .and_then(|p| p.as_uint())
            .map_or(d, |v| v as u32)
    };
    (cell("#address-cells", 2), cell("#size-cells", 1))
}

/// The FIT's `fdt` with the live DTB's `/memory*`, `/chosen` and
/// `/reserved-memory` nodes in place of its own and both trees'
/// `/memreserve/` entries.
pub fn fixup_fdt(fit_fdt: &[u8], live: &[u8]) -> Result<Vec<u8>, FixupError> {
    let new = Fdt::new(fit_fdt).map_err(FixupError::FitFdt)?;
    let old = Fdt::new(live).map_err(FixupError::Live)?;
    let (fit, live_cells) = (root_cells(&new), root_cells(&old));
    if fit != live_cells {
        return Err(FixupError::Cells {
            fit,
            live: live_cells,
        });
    }
    let mut w = Writer::default();
    let root = new.root();
    w.begin("");
    for p in new.props(root) {
        w.prop(p.name, p.value);
    }
    for kid in new.children(root).filter(|k| !from_live(&new, *k)) {
        w.subtree(&new, kid);
    }
    for kid in old.children(old.root()).filter(|k| from_live(&old, *k)) {
        w.subtree(&old, kid);
    }
    w.end();
    let mut rsv: Vec<(u64, u64)> = Vec::new();
    let both = new
        .reservations()
        .map(|r| r.map_err(FixupError::FitFdt))
        .chain(old.reservations().map(|r| r.map_err(FixupError::Live)));
    for r in both {
        let r = r?;
        if !rsv.contains(&r) {
            rsv.push(r);
        }
    }
    let cpuid = fit_fdt
        .get(BOOT_CPUID_AT..BOOT_CPUID_AT + 4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    Ok(w.finish(&rsv, cpuid))
}

/// Serializes a tree: structure block and a deduplicated strings block.
#[derive(Default)]
struct Writer {
    structs: Vec<u8>,
    strings: Vec<u8>,
}

impl Writer {
    fn word(&mut self, v: u32) {
        self.structs.extend_from_slice(&v.to_be_bytes());
    }

    fn pad(&mut self) {
        while !self.structs.len().is_multiple_of(4) {
            self.structs.push(0);
        }
    }

    fn begin(&mut self, name: &str) {
        self.word(FDT_BEGIN_NODE);
        self.structs.extend_from_slice(name.as_bytes());
        self.structs.push(0);
        self.pad();
    }

    fn end(&mut self) {
        self.word(FDT_END_NODE);
    }

    fn string_offset(&mut self, name: &str) -> u32 {
        let mut at = 0;
        for s in self.strings.split(|b| *b == 0) {
            if s == name.as_bytes() {
                return at as u32;
            }
            at += s.len() + 1;
        }
        let off = self.strings.len();
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        off as u32
    }

    fn prop(&mut self, name: &str, value: &[u8]) {
        let off = self.string_offset(name);
        self.word(FDT_PROP);
        self.word(value.len() as u32);
        self.word(off);
        self.structs.extend_from_slice(value);
        self.pad();
    }

    /// `node`, its properties and its descendants (depth bounded by the
    /// reader, which refuses deeper trees).
    fn subtree<'a>(&mut self, t: &Fdt<'a>, node: Node<'a>) {
        self.begin(node.name);
        for p in t.props(node) {
            self.prop(p.name, p.value);
        }
        for kid in t.children(node) {
            self.subtree(t, kid);
        }
        self.end();
    }

    /// Header (version 17), memory reservation map, structure, strings.
    fn finish(mut self, rsv: &[(u64, u64)], boot_cpuid: u32) -> Vec<u8> {
        self.word(FDT_END);
        let off_rsv = HEADER_LEN.next_multiple_of(8);
        let off_struct = off_rsv + (rsv.len() + 1) * 16;
        let off_strings = off_struct + self.structs.len();
        let total = off_strings + self.strings.len();
        let mut out = Vec::with_capacity(total);
        for v in [
            FDT_MAGIC,
            total as u32,
            off_struct as u32,
            off_strings as u32,
            off_rsv as u32,
            17,
            16,
            boot_cpuid,
            self.strings.len() as u32,
            self.structs.len() as u32,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.resize(off_rsv, 0);
        for (a, s) in rsv.iter().chain([&(0, 0)]) {
            out.extend_from_slice(&a.to_be_bytes());
            out.extend_from_slice(&s.to_be_bytes());
        }
        out.extend_from_slice(&self.structs);
        out.extend_from_slice(&self.strings);
        out
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;
    use crate::fdt::build::{N, dtb};

    fn fit_tree(cells: u32) -> Vec<u8> {
        let root = N::new("")
            .str("model", "from the FIT")
            .u32("#address-cells", cells)
            .u32("#size-cells", cells)
            .kid(
                N::new("memory@0")
                    .str("device_type", "memory")
                    .cells("reg", &[0, 0, 0, 0x1000]),
            )
            .kid(
                N::new("ram@80000000")
                    .str("device_type", "memory")
                    .cells("reg", &[0, 0x8000_0000, 0, 0x1000]),
            )
            .kid(N::new("chosen").str("bootargs", "fit words"))
            .kid(N::new("soc").kid(N::new("uart@1000").str("compatible", "arm,pl011")))
            .kid(N::new("reserved-memory").kid(N::new("fit@0")));
        dtb(&root, &[(0x1000, 0x1000)])
    }

    fn live_tree() -> Vec<u8> {
        let root = N::new("")
            .str("model", "live")
            .u32("#address-cells", 2)
            .u32("#size-cells", 2)
            .kid(
                N::new("memory@40000000")
                    .str("device_type", "memory")
                    .reg64(&[(0x4000_0000, 0x4000_0000)]),
            )
            .kid(
                N::new("memory@100000000")
                    .str("device_type", "memory")
                    .reg64(&[(1 << 32, 1 << 30)]),
            )
            .kid(
                N::new("chosen")
                    .str("bootargs", "console=ttyAMA0")
                    .u32("linux,initrd-start", 0x4800_0000)
                    .u32("linux,initrd-end", 0x4810_0000),
            )
            .kid(
                N::new("reserved-memory")
                    .u32("#address-cells", 2)
                    .u32("#size-cells", 2)
                    .prop("ranges", &[])
                    .kid(N::new("live@50000000").reg64(&[(0x5000_0000, 0x10_0000)])),
            )
            .kid(N::new("pl011@9000000"));
        dtb(&root, &[(0x1000, 0x1000), (0x6000_0000, 0x1000)])
    }

    fn names(f: &Fdt<'_>) -> Vec<std::string::String> {
        f.children(f.root()).map(|n| n.name.to_string()).collect()
    }

    #[test]
    fn memory_chosen_and_reservations_come_from_the_live_dtb() {
        let out = fixup_fdt(&fit_tree(2), &live_tree()).unwrap();
        let f = Fdt::new(&out).unwrap();
        assert_eq!(
            f.prop(f.root(), "model").unwrap().as_str(),
            Some("from the FIT")
        );
        assert_eq!(
            names(&f),
            [
                "soc",
                "memory@40000000",
                "memory@100000000",
                "chosen",
                "reserved-memory"
            ]
        );
        assert!(f.find("/soc/uart@1000").is_some());
        let chosen = f.find("/chosen").unwrap();
        assert_eq!(
            f.prop(chosen, "bootargs").unwrap().as_str(),
            Some("console=ttyAMA0")
        );
        assert_eq!(
            f.prop(chosen, "linux,initrd-end").unwrap().as_uint(),
            Some(0x4810_0000)
        );
        assert!(f.find("/reserved-memory/live@50000000").is_some());
        assert!(f.find("/reserved-memory/fit@0").is_none());
        // Both trees' /memreserve/, once each.
        let rsv: Vec<_> = f.reservations().map(Result::unwrap).collect();
        assert_eq!(rsv, [(0x1000, 0x1000), (0x6000_0000, 0x1000)]);
        // The platform the next stage sees is the live one's RAM.
        let p = crate::platform::discover(&f).unwrap();
        assert_eq!(p.ram.len(), 2);
        assert_eq!(p.ram[0].start, 0x4000_0000);
    }

    #[test]
    fn different_root_cells_are_refused() {
        let e = fixup_fdt(&fit_tree(1), &live_tree()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "FIT fdt root #address-cells/#size-cells 1/1 differ from the live DTB's 2/2: its /memory cannot be carried over"
        );
        assert!(matches!(
            fixup_fdt(b"junk", &live_tree()),
            Err(FixupError::FitFdt(_))
        ));
    }
}
