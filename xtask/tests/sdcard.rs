//! `cargo xtask sdcard` end to end: fetches the Pi 4 firmware (Debian's
//! raspi-firmware, cached under target/payloads), writes the boot
//! directory and the card image, and reads the image back; the files on
//! the card are what a Pi 4's firmware needs to start the stage. No QEMU.

use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-scratch/xtask")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.parent().unwrap()).unwrap();
    d
}

#[test]
fn the_kit_has_firmware_stage_dtb_and_a_checked_config() {
    let out = scratch("sdcard");
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["sdcard", "--bootargs", "mode=bench size=16M", "--out"])
        .arg(&out)
        .output()
        .expect("run xtask");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for f in [
        "kernel8.img",
        "config.txt",
        "cmdline.txt",
        "bcm2711-rpi-4-b.dtb",
        "start4.elf",
        "fixup4.dat",
        "LICENCE.broadcom",
    ] {
        assert!(out.join("boot").join(f).is_file(), "no {f}");
        assert!(
            stdout.contains(f),
            "{f} not listed from the image:\n{stdout}"
        );
    }
    assert!(!stdout.contains("MISMATCH"), "{stdout}");
    assert!(stdout.contains("arm64 Image header valid"), "{stdout}");
    let cmdline = std::fs::read_to_string(out.join("boot/cmdline.txt")).unwrap();
    assert_eq!(cmdline, "mode=bench size=16M\n");
    let img = std::fs::metadata(out.join("sdcard.img")).unwrap();
    assert_eq!(img.len(), (1 << 20) + (64 << 20));
}

#[test]
fn bad_options_are_one_line_errors() {
    for args in [
        &["sdcard", "--size", "lots"][..],
        &["sdcard", "--bootargs"][..],
        &["sdcard", "--frobnicate"][..],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(args)
            .output()
            .expect("run xtask");
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}
