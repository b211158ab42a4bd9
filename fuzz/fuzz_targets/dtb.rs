//! Arbitrary bytes as a DTB. `Fdt::new` must return Ok or Err, never panic;
//! an accepted blob must be fully walkable, every node must be found again
//! by its path, platform discovery and console lookup must return (Ok or
//! Err) without panicking, and NOP-ing a property must leave a valid blob
//! with that property gone.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmu_reloc::fdt::{self, Fdt, Node};
use mmu_reloc::platform;
use mmu_reloc::region::Region;

/// Properties NOP-ed per input (each re-parses the whole blob).
const NOP_TRIES: usize = 4;

fuzz_target!(|data: &[u8]| {
    let _ = fdt::header_total_size(data);
    let Ok(f) = Fdt::new(data) else { return };
    assert!(f.total_size() <= data.len());

    // Every node and property, with the paths that should find them.
    let mut props = Vec::new();
    let mut paths = Vec::new();
    walk(&f, f.root(), Some(String::new()), 1, &mut props, &mut paths);
    for (path, name, len) in &paths {
        // Only unique, addressable names are generated: the path must lead
        // back to the node (a component without '@' also may match by its
        // unit-less name, but an exact match always wins).
        let np = f
            .find_path(path)
            .unwrap_or_else(|| panic!("{path:?} not found"));
        assert_eq!(np.node().name, name.as_str());
        assert_eq!(np.chain().len(), *len);
    }
    for r in f.reservations() {
        r.expect("Fdt::new checked the reservation map");
    }

    match platform::discover(&f) {
        Ok(p) => {
            assert!(!p.ram.is_empty());
            let sorted_disjoint = |v: &[Region]| {
                v.iter().all(|r| !r.is_empty()) && v.windows(2).all(|w| w[0].end < w[1].start)
            };
            assert!(sorted_disjoint(&p.ram), "ram {:?}", p.ram);
            assert!(sorted_disjoint(&p.reserved), "reserved {:?}", p.reserved);
            if let Some(i) = p.initrd {
                assert!(i.start < i.end);
            }
            let _ = format!("{p:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    match platform::console(&f) {
        Ok(Some(u)) => assert!(!u.regs.is_empty()),
        Ok(None) => {}
        Err(e) => {
            let _ = e.to_string();
        }
    }

    // NOP a few properties in a copy: still valid, one property fewer.
    let before = props.len();
    for &off in props.iter().take(NOP_TRIES) {
        let mut copy = data[..f.total_size()].to_vec();
        fdt::nop_property(&mut copy, off).expect("offset of a walked property");
        let g = Fdt::new(&copy).expect("NOP-ing a property keeps the blob valid");
        let mut after = Vec::new();
        walk(&g, g.root(), None, 1, &mut after, &mut Vec::new());
        assert_eq!(after.len() + 1, before);
        assert!(!after.contains(&off));
    }
    // Non-property offsets must be refused, not corrupt anything.
    let mut copy = data[..f.total_size()].to_vec();
    for off in [0, 1, fdt::HEADER_LEN, usize::MAX - 3] {
        if !props.contains(&off) {
            assert!(fdt::nop_property(&mut copy, off).is_err());
        }
    }
});

/// Collects every property's blob offset and, for nodes reachable by a
/// path (`path` is `None` below a node that is not), (path, name, chain
/// length) triples.
fn walk<'a>(
    f: &Fdt<'a>,
    node: Node<'a>,
    path: Option<String>,
    depth: usize,
    props: &mut Vec<usize>,
    paths: &mut Vec<(String, String, usize)>,
) {
    assert!(depth <= 32, "Fdt::new bounds the depth");
    for p in f.props(node) {
        let _ = (p.as_str(), p.as_uint(), p.str_list().count());
        let first = f
            .prop(node, p.name)
            .expect("a walked property is found by name");
        assert_eq!(first.name, p.name);
        props.push(p.blob_offset);
    }
    let kids: Vec<Node<'a>> = f.children(node).collect();
    for (i, kid) in kids.iter().enumerate() {
        let unique = !kids[..i].iter().any(|k| k.name == kid.name);
        let addressable = unique && !kid.name.is_empty() && !kid.name.contains('/');
        let kid_path = path
            .as_ref()
            .filter(|_| addressable)
            .map(|p| format!("{p}/{}", kid.name));
        if let Some(kp) = &kid_path {
            paths.push((kp.clone(), kid.name.to_string(), depth + 1));
        }
        walk(f, *kid, kid_path, depth + 1, props, paths);
    }
}
