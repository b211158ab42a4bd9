//! Consoles a board can hand over and QEMU never does: a UART the DTB
//! marks disabled, and one whose transmit FIFO never drains. Either way
//! the stage must not hang: it falls back to semihosting (or nothing) and
//! its exit status stays right.

mod common;

use common::{Dtb, boot_elsewhere, dt_reg, dt_str, dump_virt_dtb, scratch};

/// Clear of the DTB and trampoline `boot_elsewhere` puts at RAM base + 8 and + 12 MiB.
const LOAD: u64 = 0x4100_0000;

fn virt_dtb(name: &str, cmdline: &str) -> Dtb {
    Dtb::parse(&dump_virt_dtb(&scratch(name), "virt", "1G", cmdline))
}

fn stdout_node(dtb: &Dtb) -> String {
    let chosen = dtb.root.kids.iter().find(|k| k.name == "chosen").unwrap();
    let path = chosen.prop("stdout-path").unwrap();
    String::from_utf8_lossy(&path[..path.len() - 1]).into_owned()
}

#[test]
fn a_disabled_uart_falls_back_to_semihosting() {
    let mut dtb = virt_dtb("console-disabled", "mode=info");
    let uart = stdout_node(&dtb);
    dtb.node_mut(&uart).set("status", dt_str("disabled"));
    let run = boot_elsewhere("console-disabled", &dtb.to_bytes(), LOAD, &[]);
    run.expect_status(0);
    assert_eq!(run.record("platform")["console"], "semihosting");
}

/// A "mini UART" whose registers are a RAM page the test fills: its
/// transmitter reads as enabled (AUX_MU_CNTL = 3) but its line status never
/// shows room (AUX_MU_LSR = 0), like a UART without a clock. The DTB's
/// `/memory` stops below it, so to the stage it is a device.
#[test]
fn a_uart_that_never_drains_is_dropped_not_waited_on() {
    const FAKE_UART: u64 = 0x7f00_0000;
    let name = "console-stuck";
    let mut dtb = virt_dtb(name, "mode=info");
    dtb.node_mut("/memory")
        .set("reg", dt_reg(2, 2, &[(0x4000_0000, 512 << 20)]).unwrap());
    dtb.root.kids.push(common::DtNode {
        name: format!("serial@{FAKE_UART:x}"),
        props: vec![
            ("compatible".into(), dt_str("brcm,bcm2835-aux-uart")),
            ("reg".into(), dt_reg(2, 2, &[(FAKE_UART, 0x40)]).unwrap()),
        ],
        kids: vec![],
    });
    dtb.node_mut("/chosen")
        .set("stdout-path", dt_str(&format!("/serial@{FAKE_UART:x}")));
    let mut regs = vec![0u8; 0x40];
    regs[0x20..0x24].copy_from_slice(&3u32.to_le_bytes());
    let regs_file = scratch(name).join("uart-regs.bin");
    std::fs::write(&regs_file, regs).unwrap();
    let run = boot_elsewhere(
        name,
        &dtb.to_bytes(),
        LOAD,
        &[
            "-device",
            &format!("loader,file={},addr={FAKE_UART:#x}", regs_file.display()),
        ],
    );
    run.expect_status(0);
    assert!(
        run.output
            .contains("console UART stopped draining; output continues here"),
        "{}",
        run.output
    );
}
