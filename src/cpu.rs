//! Decoding of CPU identification and exception syndrome values. The arch
//! code reads the raw registers; this module only interprets numbers, so it
//! is tested on the host.

use core::fmt;

/// Translation granules the stage knows how to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Granule {
    K4,
    K16,
    K64,
}

impl Granule {
    pub const ALL: [Granule; 3] = [Granule::K4, Granule::K16, Granule::K64];

    pub const fn bytes(self) -> u64 {
        match self {
            Granule::K4 => 4 << 10,
            Granule::K16 => 16 << 10,
            Granule::K64 => 64 << 10,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Granule::K4 => "4k",
            Granule::K16 => "16k",
            Granule::K64 => "64k",
        }
    }
}

impl fmt::Display for Granule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the stage needs to know about the CPU, decoded from MIDR_EL1 and
/// ID_AA64MMFR0_EL1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuInfo {
    pub midr: u64,
    pub mmfr0: u64,
    /// Physical address size from PARange.
    pub pa_bits: u32,
    /// Supported stage 1 granules (indexed like `Granule::ALL`).
    pub granules: [bool; 3],
}

/// ID_AA64MMFR0_EL1 field offsets (Arm ARM D19.2).
const MMFR0_PARANGE_SHIFT: u32 = 0;
const MMFR0_TGRAN16_SHIFT: u32 = 20;
const MMFR0_TGRAN64_SHIFT: u32 = 24;
const MMFR0_TGRAN4_SHIFT: u32 = 28;

fn field(reg: u64, shift: u32) -> u64 {
    (reg >> shift) & 0xf
}

/// PARange encoding to bits; reserved encodings give `None`.
pub fn parange_bits(enc: u64) -> Option<u32> {
    Some(match enc {
        0 => 32,
        1 => 36,
        2 => 40,
        3 => 42,
        4 => 44,
        5 => 48,
        6 => 52,
        7 => 56,
        _ => return None,
    })
}

impl CpuInfo {
    pub fn decode(midr: u64, mmfr0: u64) -> Self {
        // TGran4 and TGran64: 0b0000 (and 0b0001 for 52-bit) supported,
        // 0b1111 not. TGran16: 0b0000 not supported, anything else is.
        let tg4 = field(mmfr0, MMFR0_TGRAN4_SHIFT);
        let tg16 = field(mmfr0, MMFR0_TGRAN16_SHIFT);
        let tg64 = field(mmfr0, MMFR0_TGRAN64_SHIFT);
        CpuInfo {
            midr,
            mmfr0,
            pa_bits: parange_bits(field(mmfr0, MMFR0_PARANGE_SHIFT)).unwrap_or(32),
            granules: [tg4 != 0xf, tg16 != 0, tg64 != 0xf],
        }
    }

    pub fn supports(&self, g: Granule) -> bool {
        self.granules[g as usize]
    }

    /// Implementer:part name for the cores people run this on.
    pub fn core_name(&self) -> &'static str {
        let implementer = (self.midr >> 24) & 0xff;
        let part = (self.midr >> 4) & 0xfff;
        match (implementer, part) {
            (0x41, 0xd03) => "Cortex-A53",
            (0x41, 0xd07) => "Cortex-A57",
            (0x41, 0xd08) => "Cortex-A72",
            (0x41, 0xd0b) => "Cortex-A76",
            (0x41, 0xd0c) => "Neoverse-N1",
            (0x41, 0xd40) => "Neoverse-V1",
            (0x41, 0xd49) => "Neoverse-N2",
            (0x41, 0xd0f) => "QEMU max/Arm AEM",
            (0x46, 0x001) => "A64FX",
            (0x43, 0x0af) => "ThunderX2",
            (0x51, _) => "Qualcomm",
            (0x61, _) => "Apple",
            _ => "unknown",
        }
    }
}

/// ESR_ELx exception class, named the way the Arm ARM names it.
pub fn exception_class_name(esr: u64) -> &'static str {
    match (esr >> 26) & 0x3f {
        0x00 => "unknown reason (undefined instruction)",
        0x01 => "WFI/WFE trapped",
        0x07 => "SVE/SIMD/FP access trapped",
        0x0e => "illegal execution state",
        0x15 => "SVC from AArch64",
        0x16 => "HVC from AArch64",
        0x17 => "SMC from AArch64",
        0x18 => "MSR/MRS/system instruction trapped",
        0x20 => "instruction abort from a lower EL",
        0x21 => "instruction abort, same EL",
        0x22 => "PC alignment fault",
        0x24 => "data abort from a lower EL",
        0x25 => "data abort, same EL",
        0x26 => "SP alignment fault",
        0x2f => "SError",
        0x30 | 0x31 => "breakpoint",
        0x32 | 0x33 => "software step",
        0x34 | 0x35 => "watchpoint",
        0x3c => "BRK instruction",
        _ => "other",
    }
}

/// For aborts, the fault status code's meaning (DFSC/IFSC).
pub fn fault_status_name(esr: u64) -> Option<&'static str> {
    let ec = (esr >> 26) & 0x3f;
    if !matches!(ec, 0x20 | 0x21 | 0x24 | 0x25) {
        return None;
    }
    Some(match esr & 0x3f {
        0x00..=0x03 => "address size fault",
        0x04..=0x07 => "translation fault",
        0x09..=0x0b => "access flag fault",
        0x0d..=0x0f => "permission fault",
        0x10 => "synchronous external abort",
        0x21 => "alignment fault",
        0x30 => "TLB conflict abort",
        _ => "other fault",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cortex_a72_qemu() {
        // QEMU cortex-a72: MIDR 0x410fd083, ID_AA64MMFR0_EL1 0x1124:
        // PARange 44 bits, TGran4 and TGran64 yes, TGran16 no.
        let c = CpuInfo::decode(0x410f_d083, 0x0000_0000_0000_1124);
        assert_eq!(c.pa_bits, 44);
        assert_eq!(c.granules, [true, false, true]);
        assert_eq!(c.core_name(), "Cortex-A72");
    }

    #[test]
    fn all_granules_when_fields_say_so() {
        // TGran4 0 (yes), TGran64 0 (yes), TGran16 1 (yes), PARange 48.
        let c = CpuInfo::decode(0, (1 << MMFR0_TGRAN16_SHIFT) | 5);
        assert_eq!(c.granules, [true, true, true]);
        assert_eq!(c.pa_bits, 48);
        let none = CpuInfo::decode(
            0,
            (0xf << MMFR0_TGRAN4_SHIFT) | (0xf << MMFR0_TGRAN64_SHIFT),
        );
        assert_eq!(none.granules, [false, false, false]);
    }

    #[test]
    fn esr_decoding() {
        assert_eq!(exception_class_name(0x9600_0045), "data abort, same EL");
        assert_eq!(fault_status_name(0x9600_0045), Some("translation fault"));
        assert_eq!(fault_status_name(0x0200_0000), None);
        assert_eq!(
            exception_class_name(0x0200_0000),
            "unknown reason (undefined instruction)"
        );
    }
}
