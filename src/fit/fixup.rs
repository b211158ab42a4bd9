//! The device tree a FIT configuration brings, fixed up the way U-Boot
//! fixes up a FIT's fdt before booting: the machine's `/memory` nodes, its
//! `/chosen` (command line, console, initrd) and its reserved memory
//! (`/reserved-memory` and `/memreserve/` entries) come from the live DTB
//! the stage was given; everything else (model, devices) from the FIT's.
//! The result is a new blob; neither input is written.

use alloc::vec::Vec;
use core::fmt;

use crate::fdt::build::{N, Tree};
use crate::fdt::{Fdt, FdtError, Node, header};
use crate::platform::is_memory_node;

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

/// The root's children `kids` (of the tree `t` reads) for which `keep`
/// holds; [`Tree::parse`] keeps the reader's order, so the two walk in step.
fn top_level<'a>(
    t: &Fdt<'a>,
    kids: Vec<N>,
    keep: impl Fn(Node<'a>) -> bool,
) -> impl Iterator<Item = N> {
    kids.into_iter()
        .zip(t.children(t.root()))
        .filter(move |(_, node)| keep(*node))
        .map(|(kid, _)| kid)
}

/// The FIT's `fdt` with the live DTB's `/memory*`, `/chosen` and
/// `/reserved-memory` nodes in place of its own and both trees'
/// `/memreserve/` entries (each once); `boot_cpuid_phys` is the FIT's.
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
    let mut out = Tree::parse(fit_fdt).map_err(FixupError::FitFdt)?;
    let live_tree = Tree::parse(live).map_err(FixupError::Live)?;
    let fit_kids = core::mem::take(&mut out.root.kids);
    out.root
        .kids
        .extend(top_level(&new, fit_kids, |k| !from_live(&new, k)));
    out.root
        .kids
        .extend(top_level(&old, live_tree.root.kids, |k| from_live(&old, k)));
    let fit_rsv = core::mem::take(&mut out.memreserve);
    for r in fit_rsv.into_iter().chain(live_tree.memreserve) {
        if !out.memreserve.contains(&r) {
            out.memreserve.push(r);
        }
    }
    let mut blob = out.to_bytes();
    // Both blobs have a full header: `Fdt::new` checked them.
    let cpuid = header::BOOT_CPUID_PHYS..header::BOOT_CPUID_PHYS + 4;
    blob[cpuid.clone()].copy_from_slice(&fit_fdt[cpuid]);
    Ok(blob)
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
                    .with_prop("ranges", &[])
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
        let mut fit = fit_tree(2);
        let cpuid = header::BOOT_CPUID_PHYS..header::BOOT_CPUID_PHYS + 4;
        fit[cpuid.clone()].copy_from_slice(&3u32.to_be_bytes());
        let out = fixup_fdt(&fit, &live_tree()).unwrap();
        // The header's boot CPU is the FIT tree's.
        assert_eq!(out[cpuid], 3u32.to_be_bytes());
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
