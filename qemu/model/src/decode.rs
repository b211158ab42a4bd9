//! Which instructions the plugin cares about, from their encodings alone
//! (decided once, at translation time).
//!
//! Run markers: `hint #124` (start) and `hint #125` (end) with the run id
//! in x0. HINT #124/#125 are unallocated in the Arm ARM (C6.2.x HINT: an
//! unallocated hint executes as a NOP) and in QEMU's decoder (a64.decode:
//! all HINT space not specifically allocated must NOP).

use crate::core::Cmo;

pub const HINT_RUN_START: u32 = 124;
pub const HINT_RUN_END: u32 = 125;

/// What an instruction is to the model, decoded from its encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    RunStart,
    RunEnd,
    Tlbi,
    Dc(Cmo, u32),
    /// MSR to SCTLR, TTBR0/1, TCR or MAIR (EL1 or EL2).
    TranslationWrite,
    Other,
}

pub fn decode(insn: u32) -> Op {
    // HINT: 1101 0101 0000 0011 0010 CRm op2 11111
    if insn & 0xffff_f01f == 0xd503_201f {
        return match (insn >> 5) & 0x7f {
            HINT_RUN_START => Op::RunStart,
            HINT_RUN_END => Op::RunEnd,
            _ => Op::Other,
        };
    }
    let (op1, crn, crm, op2, rt) = (
        (insn >> 16) & 7,
        (insn >> 12) & 0xf,
        (insn >> 8) & 0xf,
        (insn >> 5) & 7,
        insn & 0x1f,
    );
    // SYS (op0 = 01, L = 0): TLBI and DC.
    if insn & 0xfff8_0000 == 0xd508_0000 {
        return match (op1, crn, crm, op2) {
            (_, 8, _, _) => Op::Tlbi,
            (0, 7, 6, 1) => Op::Dc(Cmo::Invalidate, rt),
            (3, 7, 14, 1) => Op::Dc(Cmo::CleanInvalidate, rt),
            (3, 7, 10..=13, 1) => Op::Dc(Cmo::Clean, rt),
            _ => Op::Other,
        };
    }
    // MSR (register), op0 = 11: 1101 0101 0001 1 op1 CRn CRm op2 Rt.
    if insn & 0xfff8_0000 == 0xd518_0000 && (op1 == 0 || op1 == 4) {
        let hit = matches!((crn, crm, op2), (1, 0, 0) | (2, 0, 0..=2) | (10, 2, 0));
        if hit {
            return Op::TranslationWrite;
        }
    }
    Op::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        assert_eq!(decode(0xd503_2f9f), Op::RunStart); // hint #124
        assert_eq!(decode(0xd503_2fbf), Op::RunEnd); // hint #125
        assert_eq!(decode(0xd503_201f), Op::Other); // nop
        assert_eq!(decode(0xd50b_7e2f), Op::Dc(Cmo::CleanInvalidate, 15)); // dc civac, x15
        assert_eq!(decode(0xd508_7631), Op::Dc(Cmo::Invalidate, 17)); // dc ivac, x17
        assert_eq!(decode(0xd508_871f), Op::Tlbi); // tlbi vmalle1
        assert_eq!(decode(0xd518_1000), Op::TranslationWrite); // msr sctlr_el1, x0
        assert_eq!(decode(0xd51c_2000), Op::TranslationWrite); // msr ttbr0_el2, x0
        assert_eq!(decode(0xd518_a200), Op::TranslationWrite); // msr mair_el1, x0
        assert_eq!(decode(0xd518_c000), Op::Other); // msr vbar_el1, x0
    }
}
