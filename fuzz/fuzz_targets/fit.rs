//! Arbitrary bytes as a FIT image. `fit::parse` must return Ok or Err,
//! never panic; an accepted configuration's images must lie inside the
//! input (their `data` is exactly those bytes) and carry at least one hash;
//! hashing, placement and the default-base search must return without
//! panicking, and a placement's destinations must be page-aligned, cover
//! the bytes they receive and not overlap. A configuration's fdt, fixed up
//! against QEMU virt's DTB (a dtb seed), must give a valid tree whose
//! `/chosen` and RAM are the live DTB's, or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmu_reloc::fdt::Fdt;
use mmu_reloc::fit;
use mmu_reloc::platform;
use mmu_reloc::region::Region;

/// The live DTB the fix-up carries `/memory` and `/chosen` over from.
static LIVE: &[u8] = include_bytes!("../seeds/dtb/virt.dtb");

const PAGE: u64 = 4096;

fuzz_target!(|data: &[u8]| {
    let _ = fit::looks_like_fit(data);
    let set = match fit::parse(data) {
        Ok(s) => s,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    for img in set.images() {
        assert!(img.range.start <= img.range.end && img.range.end <= data.len());
        assert_eq!(&data[img.range.clone()], img.data);
        assert!(!img.hashes.is_empty());
    }
    if let Err(e) = set.verify() {
        let _ = e.to_string();
    }
    for base in [0, 0x4000_0000, u64::MAX & !(PAGE - 1)] {
        match set.place(base) {
            Ok(p) => {
                assert!(p.kernel.start < p.kernel.end);
                assert!(p.kernel.len().is_multiple_of(PAGE));
                assert!(p.kernel.len() >= set.kernel.data.len() as u64 || set.kernel_header().unwrap().image_size != 0);
                if let Some(r) = p.ramdisk {
                    assert!(r.start.is_multiple_of(PAGE) && r.len().is_multiple_of(PAGE));
                    assert!(p.ramdisk_len <= r.len());
                    assert!(!r.overlaps(&p.kernel));
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    if let Some(f) = &set.fdt {
        match fit::fixup_fdt(f.data, LIVE) {
            Ok(out) => {
                let t = Fdt::new(&out).expect("fix-up writes a valid tree");
                let live = Fdt::new(LIVE).unwrap();
                let bootargs = |t: &Fdt<'_>| {
                    t.find("/chosen")
                        .and_then(|c| t.prop(c, "bootargs"))
                        .map(|p| p.value.to_vec())
                };
                assert_eq!(bootargs(&t), bootargs(&live));
                if let Ok(p) = platform::discover(&t) {
                    assert_eq!(p.ram, platform::discover(&live).unwrap().ram);
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    let ram = [Region::new(0x4000_0000, 0x8000_0000)];
    let _ = fit::lowest_base(&ram, &[Region::new(0x4000_0000, 0x4000_1000)], |b| {
        Some(set.place(b).ok()?.destinations().collect())
    });
});
