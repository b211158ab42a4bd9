//! Decoding of CPU identification (MIDR, ID_AA64MMFR0), exception syndrome
//! (ESR) and address translation (PAR) values, with aarch64-cpu's field
//! definitions in `LocalRegisterCopy`s (and, for fields it lacks, ones
//! defined here once). The arch code reads the raw registers; this module
//! only interprets numbers, so it is tested on the host.

use core::fmt;

use aarch64_cpu::registers::{ESR_EL1, ID_AA64MMFR0_EL1, MIDR_EL1};
use tock_registers::{LocalRegisterCopy, register_bitfields};

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

register_bitfields! {u64,
    /// The fault status code of an abort's ISS (ESR_ELx.ISS for EC 0x20,
    /// 0x21, 0x24, 0x25), which aarch64-cpu does not break out.
    pub ABORT_ISS [
        FSC OFFSET(0) NUMBITS(6) []
    ],
    /// PAR_EL1 after a successful `AT` (F = 0), with the fields
    /// aarch64-cpu lacks (its PA stops at bit 47, and it has no ATTR).
    pub PAR_OK [
        F OFFSET(0) NUMBITS(1) [],
        PA OFFSET(12) NUMBITS(40) [],
        ATTR OFFSET(56) NUMBITS(8) []
    ],
    /// PAR_EL1 after a failed `AT` (F = 1).
    pub PAR_FAULT [
        F OFFSET(0) NUMBITS(1) [],
        FST OFFSET(1) NUMBITS(6) []
    ]
}

type Mmfr0 = LocalRegisterCopy<u64, ID_AA64MMFR0_EL1::Register>;
type Midr = LocalRegisterCopy<u64, MIDR_EL1::Register>;
type Esr = LocalRegisterCopy<u64, ESR_EL1::Register>;

/// A successful `AT S1ExR`: where `va` went and with which memory type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtTranslation {
    pub pa: u64,
    /// The MAIR attribute byte of the leaf (PAR_EL1.ATTR).
    pub attr: u8,
}

/// What `AT S1ExR` reported (PAR_EL1 decoded): the translation, or the
/// fault status code.
pub fn decode_par(par: u64, va: u64) -> Result<AtTranslation, u8> {
    let fault = LocalRegisterCopy::<u64, PAR_FAULT::Register>::new(par);
    if fault.is_set(PAR_FAULT::F) {
        return Err(fault.read(PAR_FAULT::FST) as u8);
    }
    // PA is reported in 4 KiB units whatever the granule.
    let ok = LocalRegisterCopy::<u64, PAR_OK::Register>::new(par);
    let pa = (ok.read(PAR_OK::PA) << 12) | (va & 0xfff);
    Ok(AtTranslation {
        pa,
        attr: ok.read(PAR_OK::ATTR) as u8,
    })
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
        let r = Mmfr0::new(mmfr0);
        let tg4 = r.read(ID_AA64MMFR0_EL1::TGran4);
        let tg16 = r.read(ID_AA64MMFR0_EL1::TGran16);
        let tg64 = r.read(ID_AA64MMFR0_EL1::TGran64);
        CpuInfo {
            midr,
            mmfr0,
            pa_bits: parange_bits(r.read(ID_AA64MMFR0_EL1::PARange)).unwrap_or(32),
            granules: [tg4 != 0xf, tg16 != 0, tg64 != 0xf],
        }
    }

    pub fn supports(&self, g: Granule) -> bool {
        self.granules[g as usize]
    }

    /// Implementer:part name for the cores people run this on.
    pub fn core_name(&self) -> &'static str {
        let midr = Midr::new(self.midr);
        let implementer = midr.read(MIDR_EL1::Implementer);
        let part = midr.read(MIDR_EL1::PartNum);
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
    match Esr::new(esr).read(ESR_EL1::EC) {
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
    let esr = Esr::new(esr);
    if !matches!(esr.read(ESR_EL1::EC), 0x20 | 0x21 | 0x24 | 0x25) {
        return None;
    }
    let iss = LocalRegisterCopy::<u64, ABORT_ISS::Register>::new(esr.read(ESR_EL1::ISS));
    Some(match iss.read(ABORT_ISS::FSC) {
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
        let c = CpuInfo::decode(0, (1 << 20) | 5);
        assert_eq!(c.granules, [true, true, true]);
        assert_eq!(c.pa_bits, 48);
        let none = CpuInfo::decode(0, (0xf << 28) | (0xf << 24));
        assert_eq!(none.granules, [false, false, false]);
    }

    #[test]
    fn par_decoding() {
        // A Normal WB page at 0x4020_1000 (ATTR 0xff), VA offset kept.
        assert_eq!(
            decode_par(0xff00_0000_4020_1f80, 0x4020_1234),
            Ok(AtTranslation {
                pa: 0x4020_1234,
                attr: 0xff
            })
        );
        // 52-bit PA bits survive.
        assert_eq!(
            decode_par(0x0008_0000_0000_0000, 0),
            Ok(AtTranslation {
                pa: 0x0008_0000_0000_0000,
                attr: 0
            })
        );
        // F = 1, FST = 0b000101: translation fault, level 1.
        assert_eq!(decode_par(0b000101 << 1 | 1, 0), Err(0b000101));
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
