//! FIT parsing, hash checks and placement on hand-built trees (digests are
//! the published test vectors, not computed with the crates under test)
//! and on a real `mkimage -f` output (`tests/data/small.itb`).

extern crate std;
use std::string::ToString;
use std::vec;
use std::vec::Vec;

use super::*;
use crate::fdt::build::{N, dtb};

/// sha256("abc"), FIPS 180-2 appendix B.1.
const SHA256_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
/// sha1("abc"), FIPS 180-1 appendix A.
const SHA1_ABC: &str = "a9993e364706816aba3e25717850c26c9cd0d89d";
/// crc32("123456789"), the CRC-32/ISO-HDLC check value.
const CRC32_CHECK: u32 = 0xcbf4_3926;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A 64-byte arm64 Image header followed by `abc`, text_offset 0,
/// image_size `image_size`.
fn kernel_bytes(image_size: u64) -> Vec<u8> {
    let mut k = vec![0u8; 64];
    k[16..24].copy_from_slice(&image_size.to_le_bytes());
    k[0x38..0x3c].copy_from_slice(b"ARM\x64");
    k
}

fn hash_node(node: &str, algo: &str, value: &[u8]) -> N {
    N::new(node).str("algo", algo).with_prop("value", value)
}

fn image(name: &str, kind: &str, data: &[u8], hashes: Vec<N>) -> N {
    let mut n = N::new(name)
        .with_prop("data", data)
        .str("type", kind)
        .str("arch", "arm64")
        .str("os", "linux")
        .str("compression", "none");
    for h in hashes {
        n = n.kid(h);
    }
    n
}

fn sha256(data: &[u8]) -> Vec<u8> {
    // Only for building fixtures with data other than the vectors; the
    // vectors above check the crate itself.
    Sha256::digest(data).to_vec()
}

/// A FIT with `kernel` and optionally `ramdisk` in `/images`, default
/// configuration `conf-1` = `conf`.
fn fit_with(kernel: N, ramdisk: Option<N>, conf: N) -> Vec<u8> {
    let mut images = N::new("images").kid(kernel);
    if let Some(r) = ramdisk {
        images = images.kid(r);
    }
    let root = N::new("")
        .str("description", "test")
        .u32("#address-cells", 1)
        .kid(images)
        .kid(N::new("configurations").str("default", "conf-1").kid(conf));
    dtb(&root, &[])
}

fn conf() -> N {
    N::new("conf-1")
        .str("kernel", "kernel-1")
        .str("ramdisk", "ramdisk-1")
}

fn good_kernel() -> N {
    let k = kernel_bytes(0x20_0000);
    image(
        "kernel-1",
        "kernel",
        &k,
        vec![hash_node("hash-1", "sha256", &sha256(&k))],
    )
}

fn good_ramdisk() -> N {
    image(
        "ramdisk-1",
        "ramdisk",
        b"123456789",
        vec![hash_node("hash-1", "crc32", &CRC32_CHECK.to_be_bytes())],
    )
}

fn good() -> Vec<u8> {
    fit_with(good_kernel(), Some(good_ramdisk()), conf())
}

#[test]
fn digests_match_published_vectors() {
    assert!(Algo::Sha256.matches(b"abc", &hex(SHA256_ABC)));
    assert!(Algo::Sha1.matches(b"abc", &hex(SHA1_ABC)));
    assert!(Algo::Crc32.matches(b"123456789", &CRC32_CHECK.to_be_bytes()));
    assert!(!Algo::Sha256.matches(b"abd", &hex(SHA256_ABC)));
}

#[test]
fn parses_default_configuration() {
    let blob = good();
    assert!(looks_like_fit(&blob));
    let set = parse(&blob).unwrap();
    assert_eq!(set.config, "conf-1");
    assert_eq!(set.kernel.name, "kernel-1");
    assert_eq!(set.kernel.data, &kernel_bytes(0x20_0000)[..]);
    assert_eq!(&blob[set.kernel.range.clone()], set.kernel.data);
    let r = set.ramdisk.as_ref().unwrap();
    assert_eq!(r.data, b"123456789");
    assert_eq!(r.hashes[0].algo, Algo::Crc32);
    assert!(set.fdt.is_none());
    set.verify().unwrap();
}

#[test]
fn every_hash_node_is_checked() {
    let rd = image(
        "ramdisk-1",
        "ramdisk",
        b"abc",
        vec![
            hash_node("hash-1", "sha1", &hex(SHA1_ABC)),
            hash_node("hash-2", "sha256", &hex(SHA256_ABC)),
        ],
    );
    let blob = fit_with(good_kernel(), Some(rd), conf());
    parse(&blob).unwrap().verify().unwrap();
    // The second hash wrong, the first right: still a mismatch.
    let mut bad = hex(SHA256_ABC);
    bad[31] ^= 1;
    let rd = image(
        "ramdisk-1",
        "ramdisk",
        b"abc",
        vec![
            hash_node("hash-1", "sha1", &hex(SHA1_ABC)),
            hash_node("hash-2", "sha256", &bad),
        ],
    );
    let blob = fit_with(good_kernel(), Some(rd), conf());
    let e = parse(&blob).unwrap().verify().unwrap_err();
    assert_eq!(
        e.to_string(),
        "FIT image 'ramdisk-1' hash-2: sha256 mismatch, image corrupt"
    );
}

#[test]
fn flipped_data_byte_fails_its_hash() {
    let mut blob = good();
    let at = parse(&blob).unwrap().kernel.range.start + 5;
    blob[at] ^= 0x80;
    let e = parse(&blob).unwrap().verify().unwrap_err();
    assert!(
        matches!(
            e,
            FitError::HashMismatch {
                image: "kernel-1",
                algo: Algo::Sha256,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn refusals() {
    let k = kernel_bytes(0x20_0000);
    let with = |n: N| fit_with(n, Some(good_ramdisk()), conf());
    let err = |blob: Vec<u8>| parse(&blob).map(|_| ()).unwrap_err().to_string();

    let md5 = image(
        "kernel-1",
        "kernel",
        &k,
        vec![hash_node("hash-1", "md5", &[0; 16])],
    );
    assert_eq!(
        err(with(md5)),
        "FIT image 'kernel-1' hash-1: hash algorithm 'md5' not supported (supported: sha256, sha1, crc32)"
    );
    let mut gz = N::new("kernel-1")
        .with_prop("data", &k)
        .str("type", "kernel")
        .str("compression", "gzip");
    gz = gz.kid(hash_node("hash-1", "sha256", &sha256(&k)));
    assert_eq!(
        err(with(gz)),
        "FIT image 'kernel-1': compression 'gzip' not supported (only 'none'): store it uncompressed"
    );
    let nohash = image("kernel-1", "kernel", &k, vec![]);
    assert!(err(with(nohash)).contains("has no hash node"));
    let short = image(
        "kernel-1",
        "kernel",
        &k,
        vec![hash_node("hash-1", "sha1", &[1; 4])],
    );
    assert_eq!(
        err(with(short)),
        "FIT image 'kernel-1' hash-1: sha1 value of 4 bytes (expected 20)"
    );
    let x86 = N::new("kernel-1")
        .with_prop("data", &k)
        .str("type", "kernel")
        .str("arch", "x86_64")
        .kid(hash_node("hash-1", "sha256", &sha256(&k)));
    assert_eq!(
        err(with(x86)),
        "FIT image 'kernel-1' is for arch 'x86_64', not arm64"
    );
    let wrong_type = image(
        "kernel-1",
        "ramdisk",
        &k,
        vec![hash_node("hash-1", "sha256", &sha256(&k))],
    );
    assert!(err(with(wrong_type)).contains("of type 'ramdisk' cannot be the kernel"));

    let missing = fit_with(
        good_kernel(),
        Some(good_ramdisk()),
        N::new("conf-1")
            .str("kernel", "kernel-1")
            .str("ramdisk", "ramdisk-2"),
    );
    assert_eq!(
        err(missing),
        "FIT configuration names ramdisk image 'ramdisk-2', which /images does not have"
    );
    let nokernel = fit_with(
        good_kernel(),
        None,
        N::new("conf-1").str("ramdisk", "ramdisk-1"),
    );
    assert_eq!(err(nokernel), "FIT default configuration names no kernel");
    let root = N::new("").kid(N::new("images").kid(good_kernel())).kid(
        N::new("configurations")
            .str("default", "conf-9")
            .kid(conf()),
    );
    assert_eq!(
        err(dtb(&root, &[])),
        "FIT default configuration 'conf-9' does not exist"
    );
}

#[test]
fn truncated_fit_is_an_error() {
    let blob = good();
    for len in [0, 3, 39, 40, blob.len() / 2, blob.len() - 1] {
        let e = parse(&blob[..len]).map(|_| ()).unwrap_err();
        assert!(matches!(e, FitError::Tree(_)), "{len}: {e}");
    }
}

#[test]
fn external_data_by_offset_and_position() {
    let k = kernel_bytes(0x1000);
    let hashes = || vec![hash_node("hash-1", "sha256", &sha256(&k))];
    let mk = |prop: &str, at: u32| {
        let mut n = N::new("kernel-1")
            .str("type", "kernel")
            .u32("data-size", k.len() as u32)
            .u32(prop, at);
        for h in hashes() {
            n = n.kid(h);
        }
        fit_with(n, None, N::new("conf-1").str("kernel", "kernel-1"))
    };
    // data-offset counts from the tree's end rounded up to 4 bytes.
    let mut blob = mk("data-offset", 8);
    let tree_end = blob.len().next_multiple_of(4);
    blob.resize(tree_end + 8, 0xee);
    blob.extend_from_slice(&k);
    let set = parse(&blob).unwrap();
    assert_eq!(set.kernel.range, tree_end + 8..tree_end + 8 + k.len());
    set.verify().unwrap();
    // Cut the data short: refused, not read past the end.
    let e = parse(&blob[..blob.len() - 1]).map(|_| ()).unwrap_err();
    assert!(matches!(e, FitError::DataOutside { .. }), "{e}");

    let probe = mk("data-position", 0);
    let pos = probe.len().next_multiple_of(16) as u32;
    let mut blob = mk("data-position", pos);
    assert_eq!(blob.len(), probe.len());
    blob.resize(pos as usize, 0);
    blob.extend_from_slice(&k);
    parse(&blob).unwrap().verify().unwrap();
}

#[test]
fn placement_default_above_image_size() {
    let blob = good();
    let set = parse(&blob).unwrap();
    let p = set.place(0x4000_0000).unwrap();
    assert_eq!(p.kernel, Region::new(0x4000_0000, 0x4020_0000));
    assert_eq!(p.ramdisk, Some(Region::new(0x4020_0000, 0x4020_1000)));
    assert_eq!(p.ramdisk_len, 9);
}

#[test]
fn placement_honours_load_and_checks_it() {
    let k = kernel_bytes(0x20_0000);
    let kn = |load: u32, entry: Option<u32>| {
        let mut n = image(
            "kernel-1",
            "kernel",
            &k,
            vec![hash_node("hash-1", "sha256", &sha256(&k))],
        )
        .u32("load", load);
        if let Some(e) = entry {
            n = n.u32("entry", e);
        }
        n
    };
    let rd = |load: u32| good_ramdisk().u32("load", load);
    let place = |k: N, r: N| {
        let blob = fit_with(k, Some(r), conf());
        parse(&blob)
            .unwrap()
            .place(0x4000_0000)
            .map_err(|e| e.to_string())
    };
    let p = place(kn(0x4060_0000, Some(0x4060_0000)), rd(0x4800_0000)).unwrap();
    assert_eq!(p.kernel.start, 0x4060_0000);
    assert_eq!(p.ramdisk, Some(Region::new(0x4800_0000, 0x4800_1000)));
    assert_eq!(
        place(kn(0x4060_1000, None), rd(0x4800_0000)).unwrap_err(),
        "FIT image 'kernel-1': load is not a 2 MiB boundary plus the Image's text_offset (0x40601000)"
    );
    assert!(
        place(kn(0x4060_0000, Some(0x4060_0040)), rd(0x4800_0000))
            .unwrap_err()
            .contains("entry differs")
    );
    assert_eq!(
        place(kn(0x4060_0000, None), rd(0x4800_0800)).unwrap_err(),
        "FIT image 'ramdisk-1': load is not page-aligned (0x48000800)"
    );
    assert_eq!(
        place(kn(0x4060_0000, None), rd(0x4070_0000)).unwrap_err(),
        "FIT images 'kernel-1' at [0x40600000, 0x40800000) and 'ramdisk-1' at [0x40700000, 0x40701000) overlap"
    );
    // kernel_noload: load ignored, placed at the base.
    let noload = image(
        "kernel-1",
        "kernel_noload",
        &k,
        vec![hash_node("hash-1", "sha256", &sha256(&k))],
    )
    .u32("load", 0x1234);
    assert_eq!(
        place(noload, good_ramdisk()).unwrap().kernel.start,
        0x4000_0000
    );
}

#[test]
fn kernel_must_be_an_arm64_image() {
    let k = b"not an Image, just bytes long enough to hold a header ....... ok".to_vec();
    let n = image(
        "kernel-1",
        "kernel",
        &k,
        vec![hash_node("hash-1", "sha256", &sha256(&k))],
    );
    let blob = fit_with(n, None, N::new("conf-1").str("kernel", "kernel-1"));
    let e = parse(&blob).unwrap().place(0x4000_0000).unwrap_err();
    assert!(matches!(e, FitError::NotArm64Image { .. }), "{e}");
}

/// `mkimage -f tests/data/small.its` output (u-boot-tools 2023.01): the
/// tree layout mkimage writes, with its own hash values.
#[test]
fn real_mkimage_output() {
    let blob = include_bytes!("../../tests/data/small.itb");
    let set = parse(blob).unwrap();
    set.verify().unwrap();
    assert_eq!(set.config, "conf-1");
    assert_eq!(set.kernel.kind, "kernel");
    assert!(set.kernel_header().is_ok());
    let r = set.ramdisk.as_ref().unwrap();
    assert_eq!(r.hashes.len(), 2);
    let p = set.place(0x4000_0000).unwrap();
    assert_eq!(p.ramdisk.unwrap().start, p.kernel.end);
    // Any flipped data byte is caught.
    let mut bad = blob.to_vec();
    bad[r.range.start] ^= 1;
    assert!(parse(&bad).unwrap().verify().is_err());
}

#[test]
fn lowest_base_skips_reserved_and_stays_in_a_bank() {
    let ram = [
        Region::new(0, 0x4000_0000),
        Region::new(0x8000_0000, 0x9000_0000),
    ];
    let two = |base: u64| {
        Some(vec![
            Region::new(base, base + 0x1000),
            Region::new(base + 0x30_0000, base + 0x31_0000),
        ])
    };
    // The spin table at the bottom page: the next boundary.
    assert_eq!(
        lowest_base(&ram, &[Region::new(0, 0x1000)], two),
        Some(0x20_0000)
    );
    // The second destination hits reserved memory at 0x300000 and 0x500000.
    let rsv = [
        Region::new(0x30_0000, 0x30_1000),
        Region::new(0x50_0000, 0x50_1000),
    ];
    assert_eq!(lowest_base(&ram, &rsv, two), Some(0x40_0000));
    // Too big for the first bank: the second one.
    let big = |base: u64| Some(vec![Region::new(base, base + 0x5000_0000)]);
    assert_eq!(lowest_base(&ram, &[], big), None);
    let fits2 = |base: u64| Some(vec![Region::new(base, base + 0x800_0000)]);
    assert_eq!(
        lowest_base(&ram[1..], &[Region::new(0x8000_0000, 0x8000_1000)], fits2),
        Some(0x8020_0000)
    );
}
