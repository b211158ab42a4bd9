//! `cargo xtask sdcard`: a Raspberry Pi 4 boot partition that starts the
//! stage the way the board's firmware starts Linux, as a directory and as
//! a whole-card image (MBR + one FAT32 partition) to write with `dd`.
//!
//! The firmware (`start4.elf`, `fixup4.dat`) is Debian's `raspi-firmware`
//! (non-free-firmware), fetched by `scripts/fetch-payloads.sh` into
//! `target/payloads/rpi-firmware/`. Its licence allows redistribution in
//! binary form for use with a Raspberry Pi if the notice goes along: the
//! card carries it as `LICENCE.broadcom`.
//!
//! The FAT is written with the `fatfs` crate; the 512-byte MBR by hand (one
//! partition entry and a signature do not need a crate).

use std::io::{Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Where the FAT partition starts: 1 MiB, as SD card tools align it.
const PART_START_SECTOR: u64 = 2048;
const SECTOR: u64 = 512;
/// MBR partition type: FAT32 with LBA addressing.
const MBR_TYPE_FAT32_LBA: u8 = 0x0c;

/// What goes on the card besides the stage.
pub struct Kit {
    /// `cmdline.txt`: the stage's bootargs (and the next kernel's words).
    pub bootargs: String,
    /// A `mode=boot` payload, named in config.txt's `initramfs`.
    pub initramfs: Option<PathBuf>,
}

/// `config.txt` for `kit`.
pub fn config_txt(kit: &Kit) -> String {
    let mut c = String::from(
        "# mmu-reloc on a Raspberry Pi 4 (made by `cargo xtask sdcard`)\n\
         # 64-bit, the stage as the kernel; the firmware loads it at 0x200000\n\
         # (older firmware: 0x80000) and enters it at EL2, x0 = DTB.\n\
         arm_64bit=1\n\
         kernel=kernel8.img\n\
         device_tree=bcm2711-rpi-4-b.dtb\n\
         # Serial console: the mini UART on GPIO 14 (TX) / 15 (RX), 115200\n\
         # 8N1, its clock pinned by the firmware. (The PL011 there needs\n\
         # dtoverlay=disable-bt, whose overlay Debian does not package.)\n\
         enable_uart=1\n\
         # The firmware's own boot messages on the same UART.\n\
         uart_2ndstage=1\n",
    );
    if kit.initramfs.is_some() {
        c.push_str("# The payload mode=boot relocates (linux,initrd-* in /chosen).\ninitramfs payload.img followkernel\n");
    }
    c
}

/// The `key=value` settings of a config.txt (comments and blank lines
/// skipped); an error names the first line that is neither.
pub fn parse_config(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        } else if let Some(rest) = line.strip_prefix("initramfs ") {
            out.push(("initramfs".into(), rest.trim().to_string()));
        } else {
            return Err(format!(
                "config.txt line {}: '{line}' is not key=value",
                i + 1
            ));
        }
    }
    Ok(out)
}

/// What a config.txt must say for the stage to come up and be heard.
pub fn check_config(settings: &[(String, String)]) -> Result<(), String> {
    for (k, v) in [
        ("arm_64bit", "1"),
        ("kernel", "kernel8.img"),
        ("enable_uart", "1"),
    ] {
        match settings.iter().rev().find(|(key, _)| key == k) {
            Some((_, got)) if got == v => {}
            Some((_, got)) => return Err(format!("config.txt: {k}={got}, need {k}={v}")),
            None => return Err(format!("config.txt: no {k}= (need {k}={v})")),
        }
    }
    Ok(())
}

/// An arm64 Image: "ARM\x64" at 0x38, and an image_size covering it.
pub fn check_image(bytes: &[u8]) -> Result<(), String> {
    if bytes.get(0x38..0x3c) != Some(b"ARM\x64") {
        return Err("kernel8.img has no arm64 Image magic at 0x38".into());
    }
    let size = u64::from_le_bytes(bytes[0x10..0x18].try_into().unwrap());
    if size < bytes.len() as u64 {
        return Err(format!(
            "kernel8.img: image_size {size:#x} is smaller than the file ({:#x})",
            bytes.len()
        ));
    }
    Ok(())
}

/// A 512-byte MBR with one partition of `sectors` sectors at
/// PART_START_SECTOR.
pub fn mbr(sectors: u64) -> Result<[u8; 512], String> {
    let count = u32::try_from(sectors).map_err(|_| "partition too large for an MBR".to_string())?;
    let mut m = [0u8; 512];
    let e = &mut m[446..462];
    e[0] = 0x00; // not bootable: the Pi's ROM does not look
    e[1..4].copy_from_slice(&[0xfe, 0xff, 0xff]); // CHS: use LBA
    e[4] = MBR_TYPE_FAT32_LBA;
    e[5..8].copy_from_slice(&[0xfe, 0xff, 0xff]);
    e[8..12].copy_from_slice(&(PART_START_SECTOR as u32).to_le_bytes());
    e[12..16].copy_from_slice(&count.to_le_bytes());
    m[510] = 0x55;
    m[511] = 0xaa;
    Ok(m)
}

/// The whole card: MBR, gap, FAT32 partition of `part_bytes` holding
/// `files` in its root directory.
pub fn card_image(files: &[(String, Vec<u8>)], part_bytes: u64) -> Result<Vec<u8>, String> {
    let mut part = Cursor::new(vec![0u8; part_bytes as usize]);
    fatfs::format_volume(
        &mut part,
        fatfs::FormatVolumeOptions::new()
            .fat_type(fatfs::FatType::Fat32)
            .volume_label(*b"MMU-RELOC  "),
    )
    .map_err(|e| format!("formatting the FAT: {e}"))?;
    {
        let fs = fatfs::FileSystem::new(&mut part, fatfs::FsOptions::new())
            .map_err(|e| format!("opening the FAT: {e}"))?;
        let root = fs.root_dir();
        for (name, bytes) in files {
            let mut f = root
                .create_file(name)
                .map_err(|e| format!("creating {name}: {e}"))?;
            f.truncate().map_err(|e| format!("{name}: {e}"))?;
            f.write_all(bytes)
                .map_err(|e| format!("writing {name}: {e} (partition full?)"))?;
        }
    }
    let mut card = mbr(part_bytes / SECTOR)?.to_vec();
    card.resize((PART_START_SECTOR * SECTOR) as usize, 0);
    card.extend(part.into_inner());
    Ok(card)
}

/// Reads a card image back: the MBR's partition, then every file of the
/// FAT's root directory with its bytes.
pub fn read_card(card: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    if card.len() < 512 || card[510..512] != [0x55, 0xaa] {
        return Err("no MBR signature".into());
    }
    let e = &card[446..462];
    if e[4] != MBR_TYPE_FAT32_LBA {
        return Err(format!("partition 1 has type {:#x}, not FAT32 LBA", e[4]));
    }
    let start = u32::from_le_bytes(e[8..12].try_into().unwrap()) as u64 * SECTOR;
    let len = u32::from_le_bytes(e[12..16].try_into().unwrap()) as u64 * SECTOR;
    let part = card
        .get(start as usize..(start + len) as usize)
        .ok_or("partition runs past the image")?;
    let mut cur = Cursor::new(part.to_vec());
    cur.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let fs = fatfs::FileSystem::new(&mut cur, fatfs::FsOptions::new())
        .map_err(|e| format!("partition 1 is not a FAT: {e}"))?;
    let mut out = Vec::new();
    for entry in fs.root_dir().iter() {
        let entry = entry.map_err(|e| e.to_string())?;
        if entry.is_dir() {
            continue;
        }
        let mut bytes = Vec::new();
        entry
            .to_file()
            .read_to_end(&mut bytes)
            .map_err(|e| e.to_string())?;
        out.push((entry.file_name(), bytes));
    }
    Ok(out)
}

/// Writes the files into `dir` too (to copy onto an existing card).
pub fn write_dir(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (name, bytes) in files {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(())
}

/// `cargo xtask sdcard`.
pub fn main(args: &[String]) -> Result<u8, String> {
    let mut args = args.to_vec();
    let bootargs = crate::take_opt(&mut args, "--bootargs")?.unwrap_or_else(|| "mode=info".into());
    let initramfs = crate::take_opt(&mut args, "--initramfs")?.map(PathBuf::from);
    let root = mmu_reloc_host::repo_root();
    let out = crate::take_opt(&mut args, "--out")?
        .map_or_else(|| root.join("target/sdcard"), PathBuf::from);
    let mib: u64 = match crate::take_opt(&mut args, "--size")? {
        Some(s) => s
            .parse()
            .map_err(|_| format!("--size {s}: expected MiB, e.g. 64"))?,
        None => 64,
    };
    if let Some(a) = args.first() {
        return Err(format!("sdcard: unexpected argument '{a}'"));
    }
    if bootargs.contains('\n') {
        return Err("sdcard: --bootargs must be one line".into());
    }
    let kit = Kit {
        bootargs,
        initramfs,
    };
    let files = gather(&kit, &root)?;
    let total: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();
    if total + (8 << 20) > mib << 20 {
        return Err(format!(
            "sdcard: {} MiB of files do not fit a {mib} MiB partition; give --size",
            total >> 20
        ));
    }
    let boot = out.join("boot");
    let _ = std::fs::remove_dir_all(&boot);
    write_dir(&boot, &files)?;
    let card = card_image(&files, mib << 20)?;
    let img = out.join("sdcard.img");
    std::fs::write(&img, &card).map_err(|e| format!("{}: {e}", img.display()))?;
    // Check what was written, from the image itself.
    let back = read_card(&card)?;
    println!(
        "sdcard: {} ({} MiB, MBR + FAT32 at 1 MiB):",
        img.display(),
        card.len() >> 20
    );
    for (name, bytes) in &back {
        let want = files.iter().find(|(n, _)| n.eq_ignore_ascii_case(name));
        let same = want.is_some_and(|(_, w)| w == bytes);
        println!(
            "  {name:<24} {:>9} bytes{}",
            bytes.len(),
            if same { "" } else { "  MISMATCH" }
        );
        if !same {
            return Err(format!(
                "sdcard: {name} reads back different from what was written"
            ));
        }
    }
    if back.len() != files.len() {
        return Err(format!(
            "sdcard: {} files written, {} read back",
            files.len(),
            back.len()
        ));
    }
    let get = |n: &str| {
        back.iter()
            .find(|(name, _)| name == n)
            .map(|(_, b)| b.as_slice())
    };
    check_image(get("kernel8.img").ok_or("sdcard: no kernel8.img on the card")?)?;
    let cfg =
        String::from_utf8_lossy(get("config.txt").ok_or("sdcard: no config.txt")?).into_owned();
    check_config(&parse_config(&cfg)?)?;
    println!(
        "  kernel8.img: arm64 Image header valid; config.txt: arm_64bit=1, kernel=kernel8.img, enable_uart=1"
    );
    println!(
        "sdcard: the same files in {}; write the image with",
        boot.display()
    );
    println!(
        "  sudo dd if={} of=/dev/sdX bs=4M conv=fsync",
        img.display()
    );
    println!("  capture the console: picocom -b 115200 /dev/ttyUSB0 --logfile pi4.log");
    println!("  then: cargo xtask report pi4.log");
    Ok(0)
}

/// Everything that goes on the card, fetched or built.
fn gather(kit: &Kit, root: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let fetch = std::process::Command::new("bash")
        .arg(root.join("scripts/fetch-payloads.sh"))
        .arg("rpi-firmware")
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run scripts/fetch-payloads.sh: {e}"))?;
    if !fetch.success() {
        return Err("sdcard: scripts/fetch-payloads.sh rpi-firmware failed".into());
    }
    let payloads = root.join("target/payloads");
    let read = |p: PathBuf| std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()));
    let image = mmu_reloc_host::make_image(&crate::stage_elf(None)?)?;
    let mut files = vec![
        ("kernel8.img".to_string(), read(image)?),
        ("config.txt".to_string(), config_txt(kit).into_bytes()),
        (
            "cmdline.txt".to_string(),
            format!("{}\n", kit.bootargs).into_bytes(),
        ),
        (
            "bcm2711-rpi-4-b.dtb".to_string(),
            read(payloads.join("bcm2711-rpi-4-b.dtb"))?,
        ),
        (
            "start4.elf".to_string(),
            read(payloads.join("rpi-firmware/start4.elf"))?,
        ),
        (
            "fixup4.dat".to_string(),
            read(payloads.join("rpi-firmware/fixup4.dat"))?,
        ),
        (
            "LICENCE.broadcom".to_string(),
            read(payloads.join("rpi-firmware/copyright"))?,
        ),
    ];
    if let Some(p) = &kit.initramfs {
        files.push(("payload.img".to_string(), read(p.clone())?));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kit() -> Kit {
        Kit {
            bootargs: "mode=info".into(),
            initramfs: Some("x.itb".into()),
        }
    }

    #[test]
    fn config_says_what_the_stage_needs_and_parses_back() {
        let text = config_txt(&kit());
        let s = parse_config(&text).unwrap();
        check_config(&s).unwrap();
        assert!(s.contains(&("initramfs".into(), "payload.img followkernel".into())));
        let plain = config_txt(&Kit {
            initramfs: None,
            ..kit()
        });
        assert!(!plain.contains("\ninitramfs"));
    }

    #[test]
    fn config_checks_name_what_is_wrong() {
        let s = parse_config("arm_64bit=0\nkernel=kernel8.img\nenable_uart=1\n").unwrap();
        assert_eq!(
            check_config(&s).unwrap_err(),
            "config.txt: arm_64bit=0, need arm_64bit=1"
        );
        let s = parse_config("kernel=kernel8.img\n").unwrap();
        assert!(check_config(&s).unwrap_err().contains("no arm_64bit="));
        assert!(parse_config("what\n").unwrap_err().contains("line 1"));
    }

    #[test]
    fn image_header_is_checked() {
        let mut img = vec![0u8; 0x100];
        assert!(check_image(&img).is_err());
        img[0x38..0x3c].copy_from_slice(b"ARM\x64");
        img[0x10..0x18].copy_from_slice(&0x1000u64.to_le_bytes());
        check_image(&img).unwrap();
        img[0x10..0x18].copy_from_slice(&0x10u64.to_le_bytes());
        assert!(check_image(&img).unwrap_err().contains("image_size"));
    }

    #[test]
    fn the_card_reads_back_file_for_file() {
        let files = vec![
            ("config.txt".to_string(), b"arm_64bit=1\n".to_vec()),
            (
                "kernel8.img".to_string(),
                (0..300_000u32).map(|i| i as u8).collect(),
            ),
        ];
        let card = card_image(&files, 64 << 20).unwrap();
        assert_eq!(card.len() as u64, (PART_START_SECTOR * SECTOR) + (64 << 20));
        let back = read_card(&card).unwrap();
        assert_eq!(back, files);
        let mut broken = card.clone();
        broken[446 + 4] = 0x83;
        assert!(read_card(&broken).unwrap_err().contains("not FAT32"));
    }
}
