//! A small, bounds-checked flattened device tree reader (and the one edit
//! the stage makes: turning properties into NOPs before hand-off).
//!
//! Written by hand rather than using the `fdt` crate because that crate
//! panics on malformed blobs (`expect` on missing `/chosen`, `/cpus`,
//! short `#address-cells`, an empty `bootargs`), and a firmware stage must
//! turn every malformed DTB into an error, not a panic. Every offset here is
//! checked; nothing indexes without a check.

use core::fmt;

const FDT_MAGIC: u32 = 0xd00d_feed;
const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;
/// Header size of version 17.
pub const HEADER_LEN: usize = 40;

/// Byte offsets of the header's big-endian u32 fields (devicetree
/// specification 5.2), read by [`Fdt::new`] and written by
/// [`build::dtb`].
pub mod header {
    pub const MAGIC: usize = 0;
    pub const TOTALSIZE: usize = 4;
    pub const OFF_DT_STRUCT: usize = 8;
    pub const OFF_DT_STRINGS: usize = 12;
    pub const OFF_MEM_RSVMAP: usize = 16;
    pub const VERSION: usize = 20;
    pub const LAST_COMP_VERSION: usize = 24;
    pub const BOOT_CPUID_PHYS: usize = 28;
    pub const SIZE_DT_STRINGS: usize = 32;
    pub const SIZE_DT_STRUCT: usize = 36;
}
/// Deeper trees than this are rejected rather than walked.
const MAX_DEPTH: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdtError {
    /// Fewer bytes than the header, or than `totalsize` says.
    Truncated {
        have: usize,
        need: usize,
    },
    BadMagic(u32),
    BadVersion(u32),
    /// A header offset/size points outside the blob.
    BadHeaderField(&'static str),
    /// A header offset that must be aligned is not.
    Misaligned {
        field: &'static str,
        align: usize,
    },
    /// The structure block is malformed at this offset.
    BadStructure(usize),
}

impl fmt::Display for FdtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FdtError::Truncated { have, need } => {
                write!(f, "DTB truncated: {have} bytes, header needs {need}")
            }
            FdtError::BadMagic(m) => write!(f, "DTB bad magic {m:#010x} (expected 0xd00dfeed)"),
            FdtError::BadVersion(v) => write!(f, "DTB version {v} unsupported (need 16 or 17)"),
            FdtError::Misaligned { field, align } => {
                write!(f, "DTB header field {field} is not {align}-byte aligned")
            }
            FdtError::BadHeaderField(which) => {
                write!(f, "DTB header field {which} points outside the blob")
            }
            FdtError::BadStructure(off) => {
                write!(f, "DTB structure block malformed at offset {off:#x}")
            }
        }
    }
}

fn be32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn be64(b: &[u8], off: usize) -> Option<u64> {
    Some(((be32(b, off)? as u64) << 32) | be32(b, off + 4)? as u64)
}

/// Reads the `totalsize` a header claims, to size the blob before parsing.
/// Checks only the magic.
pub fn header_total_size(header: &[u8]) -> Result<usize, FdtError> {
    let magic = be32(header, header::MAGIC).ok_or(FdtError::Truncated {
        have: header.len(),
        need: HEADER_LEN,
    })?;
    if magic != FDT_MAGIC {
        return Err(FdtError::BadMagic(magic));
    }
    be32(header, header::TOTALSIZE)
        .map(|v| v as usize)
        .ok_or(FdtError::Truncated {
            have: header.len(),
            need: HEADER_LEN,
        })
}

/// A validated view of a DTB.
#[derive(Clone, Copy)]
pub struct Fdt<'a> {
    blob: &'a [u8],
    structs: &'a [u8],
    strings: &'a [u8],
    struct_off: usize,
    rsv_off: usize,
}

/// One property.
#[derive(Clone, Copy, Debug)]
pub struct Prop<'a> {
    pub name: &'a str,
    pub value: &'a [u8],
    /// Offset of the FDT_PROP token in the blob (for NOP-ing it).
    pub blob_offset: usize,
}

impl<'a> Prop<'a> {
    /// The value as a NUL-terminated string (an empty value is "").
    pub fn as_str(&self) -> Option<&'a str> {
        let v = match self.value.split_last() {
            Some((0, rest)) => rest,
            None => self.value,
            Some(_) => return None,
        };
        core::str::from_utf8(v).ok()
    }

    /// A single u32 or u64 cell value.
    pub fn as_uint(&self) -> Option<u64> {
        match self.value.len() {
            4 => be32(self.value, 0).map(u64::from),
            8 => be64(self.value, 0),
            _ => None,
        }
    }

    /// The strings of a string-list property.
    pub fn str_list(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.value
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .filter_map(|s| core::str::from_utf8(s).ok())
    }
}

/// A node: its name and where its properties begin in the structure block.
#[derive(Clone, Copy, Debug)]
pub struct Node<'a> {
    pub name: &'a str,
    /// Offset (in the structure block) of the first token after the name.
    body: usize,
}

enum Token<'a> {
    Begin(&'a str),
    End,
    Prop(Prop<'a>),
    Finish,
}

impl<'a> Fdt<'a> {
    /// Validates the header and block bounds. Structure errors are found
    /// while walking and also reported as errors.
    pub fn new(blob: &'a [u8]) -> Result<Self, FdtError> {
        let total = header_total_size(blob)?;
        if total < HEADER_LEN || blob.len() < total {
            return Err(FdtError::Truncated {
                have: blob.len(),
                need: total.max(HEADER_LEN),
            });
        }
        let blob = &blob[..total];
        let h = |field: usize| be32(blob, field).unwrap_or(0) as usize;
        let off_struct = h(header::OFF_DT_STRUCT);
        let off_strings = h(header::OFF_DT_STRINGS);
        let off_rsv = h(header::OFF_MEM_RSVMAP);
        let version = h(header::VERSION);
        let last_comp = h(header::LAST_COMP_VERSION);
        let size_strings = h(header::SIZE_DT_STRINGS);
        let size_struct = h(header::SIZE_DT_STRUCT);
        if version < 16 || last_comp > 17 {
            return Err(FdtError::BadVersion(version as u32));
        }
        let range = |off: usize, len: usize, which| {
            off.checked_add(len)
                .filter(|end| *end <= total && off >= HEADER_LEN)
                .map(|end| &blob[off..end])
                .ok_or(FdtError::BadHeaderField(which))
        };
        let structs = range(off_struct, size_struct, "off_dt_struct/size_dt_struct")?;
        let strings = range(off_strings, size_strings, "off_dt_strings/size_dt_strings")?;
        if off_rsv < HEADER_LEN || off_rsv >= total {
            return Err(FdtError::BadHeaderField("off_mem_rsvmap"));
        }
        if off_rsv % 8 != 0 {
            return Err(FdtError::Misaligned {
                field: "off_mem_rsvmap",
                align: 8,
            });
        }
        if off_struct % 4 != 0 {
            return Err(FdtError::Misaligned {
                field: "off_dt_struct",
                align: 4,
            });
        }
        let fdt = Fdt {
            blob,
            structs,
            strings,
            struct_off: off_struct,
            rsv_off: off_rsv,
        };
        // Walk everything once so later lookups can trust the structure.
        fdt.check_structure()?;
        fdt.reservations().try_for_each(|r| r.map(|_| ()))?;
        Ok(fdt)
    }

    pub fn total_size(&self) -> usize {
        self.blob.len()
    }

    fn check_structure(&self) -> Result<(), FdtError> {
        let mut pos = 0;
        let mut depth = 0usize;
        let mut seen_root = false;
        loop {
            let (tok, next) = self.token(pos)?;
            match tok {
                Token::Begin(_) => {
                    if depth == 0 && seen_root {
                        return Err(FdtError::BadStructure(self.struct_off + pos));
                    }
                    seen_root = true;
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(FdtError::BadStructure(self.struct_off + pos));
                    }
                }
                Token::End => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or(FdtError::BadStructure(self.struct_off + pos))?;
                }
                Token::Prop(_) if depth == 0 => {
                    return Err(FdtError::BadStructure(self.struct_off + pos));
                }
                Token::Prop(_) => {}
                Token::Finish if depth == 0 && seen_root => return Ok(()),
                Token::Finish => return Err(FdtError::BadStructure(self.struct_off + pos)),
            }
            pos = next;
        }
    }

    /// Decodes the token at `pos` (structure-block offset), skipping NOPs.
    fn token(&self, mut pos: usize) -> Result<(Token<'a>, usize), FdtError> {
        let bad = |p: usize| FdtError::BadStructure(self.struct_off + p);
        loop {
            let tag = be32(self.structs, pos).ok_or(bad(pos))?;
            let body = pos + 4;
            match tag {
                FDT_NOP => pos = body,
                FDT_BEGIN_NODE => {
                    let rest = self.structs.get(body..).ok_or(bad(pos))?;
                    let nul = rest.iter().position(|b| *b == 0).ok_or(bad(pos))?;
                    let name = core::str::from_utf8(&rest[..nul]).map_err(|_| bad(pos))?;
                    return Ok((Token::Begin(name), align4(body + nul + 1)));
                }
                FDT_END_NODE => return Ok((Token::End, body)),
                FDT_PROP => {
                    let len = be32(self.structs, body).ok_or(bad(pos))? as usize;
                    let nameoff = be32(self.structs, body + 4).ok_or(bad(pos))? as usize;
                    let vstart = body + 8;
                    let value = vstart
                        .checked_add(len)
                        .and_then(|end| self.structs.get(vstart..end))
                        .ok_or(bad(pos))?;
                    let name = self
                        .strings
                        .get(nameoff..)
                        .and_then(|s| s.iter().position(|b| *b == 0).map(|n| &s[..n]))
                        .and_then(|s| core::str::from_utf8(s).ok())
                        .ok_or(bad(pos))?;
                    let prop = Prop {
                        name,
                        value,
                        blob_offset: self.struct_off + pos,
                    };
                    return Ok((Token::Prop(prop), align4(vstart + len)));
                }
                FDT_END => return Ok((Token::Finish, body)),
                _ => return Err(bad(pos)),
            }
        }
    }

    /// The root node.
    /// The root node, named "/" (its name in the blob is empty) so that
    /// messages about it read naturally.
    pub fn root(&self) -> Node<'a> {
        // check_structure proved the first token is the root's BEGIN_NODE.
        match self.token(0) {
            Ok((Token::Begin(_), body)) => Node { name: "/", body },
            _ => Node { name: "/", body: 0 },
        }
    }

    /// The properties of `node`.
    pub fn props(&self, node: Node<'a>) -> impl Iterator<Item = Prop<'a>> + '_ {
        let mut pos = node.body;
        core::iter::from_fn(move || match self.token(pos) {
            Ok((Token::Prop(p), next)) => {
                pos = next;
                Some(p)
            }
            _ => None,
        })
    }

    pub fn prop(&self, node: Node<'a>, name: &str) -> Option<Prop<'a>> {
        self.props(node).find(|p| p.name == name)
    }

    /// The direct children of `node`.
    pub fn children(&self, node: Node<'a>) -> impl Iterator<Item = Node<'a>> + '_ {
        let mut pos = node.body;
        let mut depth = 0usize;
        let mut done = false;
        core::iter::from_fn(move || {
            while !done {
                let Ok((tok, next)) = self.token(pos) else {
                    done = true;
                    break;
                };
                pos = next;
                match tok {
                    Token::Begin(name) => {
                        depth += 1;
                        if depth == 1 {
                            return Some(Node { name, body: next });
                        }
                    }
                    Token::End if depth == 0 => done = true,
                    Token::End => depth -= 1,
                    Token::Prop(_) => {}
                    Token::Finish => done = true,
                }
            }
            None
        })
    }

    /// Finds a node by absolute path (`/soc/serial@7e215040`). A component
    /// without a unit address matches a node name with one (`/memory`
    /// matches `memory@40000000`) only when no exact match exists. Returns
    /// the chain of nodes from the root to the target.
    pub fn find_path(&self, path: &str) -> Option<NodePath<'a>> {
        let mut chain = NodePath {
            nodes: [self.root(); MAX_DEPTH],
            len: 1,
        };
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            let parent = chain.nodes[chain.len - 1];
            let exact = self.children(parent).find(|n| n.name == comp);
            let node = exact.or_else(|| {
                self.children(parent)
                    .find(|n| !comp.contains('@') && n.name.split('@').next() == Some(comp))
            })?;
            if chain.len == MAX_DEPTH {
                return None;
            }
            chain.nodes[chain.len] = node;
            chain.len += 1;
        }
        Some(chain)
    }

    pub fn find(&self, path: &str) -> Option<Node<'a>> {
        self.find_path(path).map(|p| p.node())
    }

    /// `/memreserve/` entries as (address, size), stopping at the (0, 0)
    /// terminator.
    pub fn reservations(&self) -> impl Iterator<Item = Result<(u64, u64), FdtError>> + '_ {
        let mut off = self.rsv_off;
        let mut done = false;
        core::iter::from_fn(move || {
            if done {
                return None;
            }
            let entry = be64(self.blob, off).zip(be64(self.blob, off + 8));
            off += 16;
            match entry {
                None => {
                    done = true;
                    Some(Err(FdtError::BadHeaderField(
                        "off_mem_rsvmap (no terminator)",
                    )))
                }
                Some((0, 0)) => {
                    done = true;
                    None
                }
                Some(e) => Some(Ok(e)),
            }
        })
    }
}

fn align4(v: usize) -> usize {
    (v + 3) & !3
}

/// A node together with its ancestors, root first (needed to translate
/// addresses through `ranges`).
#[derive(Clone, Copy)]
pub struct NodePath<'a> {
    nodes: [Node<'a>; MAX_DEPTH],
    len: usize,
}

impl<'a> NodePath<'a> {
    pub fn node(&self) -> Node<'a> {
        self.nodes[self.len - 1]
    }

    /// Ancestors and node, root first.
    pub fn chain(&self) -> &[Node<'a>] {
        &self.nodes[..self.len]
    }
}

/// Overwrites a property (token, header and value) with FDT_NOP tokens,
/// the standard way to delete it in place without moving anything.
pub fn nop_property(blob: &mut [u8], prop_blob_offset: usize) -> Result<(), FdtError> {
    let bad = FdtError::BadStructure(prop_blob_offset);
    if be32(blob, prop_blob_offset) != Some(FDT_PROP) {
        return Err(bad);
    }
    let len = be32(blob, prop_blob_offset + 4).ok_or(bad)? as usize;
    let end = align4(prop_blob_offset + 12 + len);
    if end > blob.len() {
        return Err(bad);
    }
    for word in blob[prop_blob_offset..end].chunks_exact_mut(4) {
        word.copy_from_slice(&FDT_NOP.to_be_bytes());
    }
    Ok(())
}

/// Replaces a string property's value in place with `text`, padding with
/// NULs: the value keeps its length, so nothing moves. `text` must be
/// shorter than the old value (used to drop the stage's own words from
/// `bootargs` before hand-off).
pub fn shrink_string_property(
    blob: &mut [u8],
    prop_blob_offset: usize,
    text: &str,
) -> Result<(), FdtError> {
    let bad = FdtError::BadStructure(prop_blob_offset);
    if be32(blob, prop_blob_offset) != Some(FDT_PROP) {
        return Err(bad);
    }
    let len = be32(blob, prop_blob_offset + 4).ok_or(bad)? as usize;
    let start = prop_blob_offset + 12;
    let value = blob.get_mut(start..start + len).ok_or(bad)?;
    if text.len() >= len || text.as_bytes().contains(&0) {
        return Err(bad);
    }
    value[..text.len()].copy_from_slice(text.as_bytes());
    value[text.len()..].fill(0);
    Ok(())
}

/// Builds DTBs for tests (host only).
/// Building and editing device trees as plain data: a tree read from a
/// valid blob (with the reader above), or built node by node, edited, and
/// written back as a fresh version-17 blob. For tests and host tools (the
/// in-QEMU tests hand the stage trees QEMU would never make); the stage
/// itself only reads and NOPs.
pub mod build {
    extern crate alloc;

    use alloc::string::String;
    use alloc::vec::Vec;

    use super::{FDT_BEGIN_NODE, FDT_END, FDT_END_NODE, FDT_MAGIC, FDT_PROP, HEADER_LEN, header};
    use super::{Fdt, FdtError, Node};

    /// A node: its name, properties in order, then children.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct N {
        pub name: String,
        pub props: Vec<(String, Vec<u8>)>,
        pub kids: Vec<N>,
    }

    impl N {
        pub fn new(name: &str) -> Self {
            N {
                name: name.into(),
                ..Default::default()
            }
        }

        /// Builder: adds property `k` with raw value `v`.
        pub fn with_prop(mut self, k: &str, v: &[u8]) -> Self {
            self.props.push((k.into(), v.to_vec()));
            self
        }

        /// Builder: a NUL-terminated string property.
        pub fn str(self, k: &str, v: &str) -> Self {
            let mut b = v.as_bytes().to_vec();
            b.push(0);
            self.with_prop(k, &b)
        }

        pub fn u32(self, k: &str, v: u32) -> Self {
            self.with_prop(k, &v.to_be_bytes())
        }

        pub fn cells(self, k: &str, v: &[u32]) -> Self {
            let b: Vec<u8> = v.iter().flat_map(|c| c.to_be_bytes()).collect();
            self.with_prop(k, &b)
        }

        /// `reg` of (addr, size) pairs with 2 address and 2 size cells.
        pub fn reg64(self, regs: &[(u64, u64)]) -> Self {
            let mut c = Vec::new();
            for (a, s) in regs {
                c.extend([(a >> 32) as u32, *a as u32, (s >> 32) as u32, *s as u32]);
            }
            self.cells("reg", &c)
        }

        pub fn kid(mut self, k: N) -> Self {
            self.kids.push(k);
            self
        }

        /// The value of property `name`.
        pub fn prop(&self, name: &str) -> Option<&[u8]> {
            self.props
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_slice())
        }

        /// Replaces the property `name`, or adds it last.
        pub fn set(&mut self, name: &str, value: impl Into<Vec<u8>>) -> &mut Self {
            let value = value.into();
            match self.props.iter_mut().find(|(k, _)| k == name) {
                Some(p) => p.1 = value,
                None => self.props.push((name.into(), value)),
            }
            self
        }

        pub fn remove(&mut self, name: &str) -> &mut Self {
            self.props.retain(|(k, _)| k != name);
            self
        }

        /// The child called `name`, or the first whose name before `@` is
        /// `name` (`memory` finds `memory@40000000`).
        pub fn kid_mut(&mut self, name: &str) -> Option<&mut N> {
            let i = self.kids.iter().position(|k| k.name == name).or_else(|| {
                self.kids
                    .iter()
                    .position(|k| k.name.split('@').next() == Some(name))
            })?;
            self.kids.get_mut(i)
        }
    }

    /// A whole tree: the root node and the `/memreserve/` entries.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Tree {
        pub root: N,
        pub memreserve: Vec<(u64, u64)>,
    }

    impl Tree {
        /// Reads a blob into a tree.
        pub fn parse(blob: &[u8]) -> Result<Tree, FdtError> {
            fn node<'a>(f: &Fdt<'a>, n: Node<'a>) -> N {
                N {
                    name: n.name.into(),
                    props: f
                        .props(n)
                        .map(|p| (p.name.into(), p.value.to_vec()))
                        .collect(),
                    kids: f.children(n).map(|k| node(f, k)).collect(),
                }
            }
            let f = Fdt::new(blob)?;
            Ok(Tree {
                root: node(&f, f.root()),
                memreserve: f.reservations().collect::<Result<_, _>>()?,
            })
        }

        /// The node at an absolute path (components as in [`N::kid_mut`]).
        pub fn node_mut(&mut self, path: &str) -> Option<&mut N> {
            let mut n = &mut self.root;
            for comp in path.split('/').filter(|c| !c.is_empty()) {
                n = n.kid_mut(comp)?;
            }
            Some(n)
        }

        /// Removes the node at `path` (an exact name removes that node, a
        /// name without `@` every node it prefixes); whether any was.
        pub fn remove_node(&mut self, path: &str) -> bool {
            let Some((parent, name)) = path.rsplit_once('/') else {
                return false;
            };
            let Some(p) = self.node_mut(parent) else {
                return false;
            };
            let before = p.kids.len();
            let exact = p.kids.iter().any(|k| k.name == name);
            p.kids.retain(|k| {
                if exact {
                    k.name != name
                } else {
                    k.name.split('@').next() != Some(name)
                }
            });
            p.kids.len() < before
        }

        /// A version 17 blob: header, `/memreserve/`, structure, strings.
        pub fn to_bytes(&self) -> Vec<u8> {
            dtb(&self.root, &self.memreserve)
        }
    }

    fn align4(v: &mut Vec<u8>) {
        while !v.len().is_multiple_of(4) {
            v.push(0);
        }
    }

    fn emit(n: &N, st: &mut Vec<u8>, strings: &mut Vec<u8>) {
        st.extend(FDT_BEGIN_NODE.to_be_bytes());
        st.extend(n.name.as_bytes());
        st.push(0);
        align4(st);
        for (k, v) in &n.props {
            let off = strings.len() as u32;
            strings.extend(k.as_bytes());
            strings.push(0);
            st.extend(FDT_PROP.to_be_bytes());
            st.extend((v.len() as u32).to_be_bytes());
            st.extend(off.to_be_bytes());
            st.extend(v);
            align4(st);
        }
        for k in &n.kids {
            emit(k, st, strings);
        }
        st.extend(FDT_END_NODE.to_be_bytes());
    }

    /// Serializes `root` with the given `/memreserve/` entries as a
    /// version 17 blob (header, reservations, structure, strings).
    pub fn dtb(root: &N, rsv: &[(u64, u64)]) -> Vec<u8> {
        let (mut st, mut strings) = (Vec::new(), Vec::new());
        emit(root, &mut st, &mut strings);
        st.extend(FDT_END.to_be_bytes());
        let mut rsvb = Vec::new();
        for (a, s) in rsv.iter().chain([(0, 0)].iter()) {
            rsvb.extend(a.to_be_bytes());
            rsvb.extend(s.to_be_bytes());
        }
        let rsv_off = HEADER_LEN;
        let st_off = rsv_off + rsvb.len();
        let str_off = st_off + st.len();
        let total = str_off + strings.len();
        let mut out = alloc::vec![0u8; HEADER_LEN];
        for (field, v) in [
            (header::MAGIC, FDT_MAGIC),
            (header::TOTALSIZE, total as u32),
            (header::OFF_DT_STRUCT, st_off as u32),
            (header::OFF_DT_STRINGS, str_off as u32),
            (header::OFF_MEM_RSVMAP, rsv_off as u32),
            (header::VERSION, 17),
            (header::LAST_COMP_VERSION, 16),
            (header::BOOT_CPUID_PHYS, 0),
            (header::SIZE_DT_STRINGS, strings.len() as u32),
            (header::SIZE_DT_STRUCT, st.len() as u32),
        ] {
            out[field..field + 4].copy_from_slice(&v.to_be_bytes());
        }
        out.extend(rsvb);
        out.extend(st);
        out.extend(strings);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::build::{N, dtb};
    use super::*;
    use proptest::prelude::*;

    fn sample() -> std::vec::Vec<u8> {
        let root = N::new("")
            .u32("#address-cells", 2)
            .u32("#size-cells", 2)
            .str("model", "test")
            .kid(N::new("chosen").str("bootargs", "mode=info"))
            .kid(
                N::new("memory@40000000")
                    .str("device_type", "memory")
                    .reg64(&[(0x4000_0000, 1 << 30)]),
            )
            .kid(
                N::new("soc")
                    .kid(N::new("uart@9000000").str("compatible", "arm,pl011\0arm,primecell")),
            );
        dtb(&root, &[(0x4800_0000, 0x1000)])
    }

    #[test]
    fn walk_and_find() {
        let b = sample();
        let f = Fdt::new(&b).unwrap();
        assert_eq!(f.prop(f.root(), "model").unwrap().as_str(), Some("test"));
        assert_eq!(f.children(f.root()).count(), 3);
        let mem = f.find("/memory").unwrap();
        assert_eq!(mem.name, "memory@40000000");
        let uart = f.find_path("/soc/uart@9000000").unwrap();
        assert_eq!(uart.chain().len(), 3);
        let compat: std::vec::Vec<_> = f
            .prop(uart.node(), "compatible")
            .unwrap()
            .str_list()
            .collect();
        assert_eq!(compat, ["arm,pl011", "arm,primecell"]);
        assert!(f.find("/nothing").is_none());
        let rsv: std::vec::Vec<_> = f.reservations().collect();
        assert_eq!(rsv, [Ok((0x4800_0000, 0x1000))]);
    }

    #[test]
    fn nop_removes_property() {
        let mut b = sample();
        let off = {
            let f = Fdt::new(&b).unwrap();
            f.prop(f.find("/chosen").unwrap(), "bootargs")
                .unwrap()
                .blob_offset
        };
        nop_property(&mut b, off).unwrap();
        let f = Fdt::new(&b).unwrap();
        assert!(f.prop(f.find("/chosen").unwrap(), "bootargs").is_none());
        assert_eq!(f.prop(f.root(), "model").unwrap().as_str(), Some("test"));
    }

    #[test]
    fn string_property_shrinks_in_place() {
        let mut b = sample();
        let off = {
            let f = Fdt::new(&b).unwrap();
            f.prop(f.find("/chosen").unwrap(), "bootargs")
                .unwrap()
                .blob_offset
        };
        shrink_string_property(&mut b, off, "mode").unwrap();
        let f = Fdt::new(&b).unwrap();
        assert_eq!(
            f.prop(f.find("/chosen").unwrap(), "bootargs")
                .unwrap()
                .value,
            b"mode\0\0\0\0\0\0"
        );
        let mut b2 = b.clone();
        assert!(shrink_string_property(&mut b2, off, "too long for it").is_err());
    }

    #[test]
    fn tree_round_trips_and_edits() {
        use super::build::Tree;
        let b = sample();
        let mut t = Tree::parse(&b).unwrap();
        assert_eq!(Tree::parse(&t.to_bytes()).unwrap(), t, "write then parse");
        assert_eq!(t.memreserve, [(0x4800_0000, 0x1000)]);
        t.node_mut("/chosen")
            .unwrap()
            .set("bootargs", &b"mode=bench\0"[..]);
        t.node_mut("/memory").unwrap().remove("device_type");
        assert!(t.remove_node("/soc/uart"));
        assert!(!t.remove_node("/soc/uart"));
        let b2 = t.to_bytes();
        let f = Fdt::new(&b2).unwrap();
        let chosen = f.find("/chosen").unwrap();
        assert_eq!(
            f.prop(chosen, "bootargs").unwrap().as_str(),
            Some("mode=bench")
        );
        assert!(f.prop(f.find("/memory").unwrap(), "device_type").is_none());
        assert!(f.find_path("/soc/uart@9000000").is_none());
        assert!(Tree::parse(&b[..20]).is_err());
    }

    #[test]
    fn header_errors() {
        let b = sample();
        assert!(matches!(
            Fdt::new(&b[..20]),
            Err(FdtError::Truncated { .. })
        ));
        assert!(matches!(
            Fdt::new(&b[..b.len() - 1]),
            Err(FdtError::Truncated { .. })
        ));
        let mut bad = b.clone();
        bad[0] = 0;
        assert!(matches!(Fdt::new(&bad), Err(FdtError::BadMagic(_))));
        let mut bad = b.clone();
        bad[8..12].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
        assert!(matches!(Fdt::new(&bad), Err(FdtError::BadHeaderField(_))));
    }

    proptest! {
        /// Any corruption of a valid blob gives Ok or Err, never a panic,
        /// and an accepted blob can be fully walked.
        #[test]
        fn corrupted_blobs_never_panic(idx in 0usize..400, byte in any::<u8>(), cut in 0usize..400) {
            let mut b = sample();
            let i = idx % b.len();
            b[i] = byte;
            b.truncate(b.len() - cut.min(b.len()));
            if let Ok(f) = Fdt::new(&b) {
                fn all<'a>(f: &Fdt<'a>, n: Node<'a>) -> usize {
                    f.props(n).count() + f.children(n).map(|k| all(f, k)).sum::<usize>()
                }
                let _ = all(&f, f.root());
                let _ = f.find("/memory");
            }
        }
    }
}
