//! VMSAv8-64 stage 1 descriptor bits (Arm ARM D8.3, 48-bit output
//! addresses, no LPA/LPA2), the MAIR slots the leaves refer to, and the
//! encoding and decoding of table and leaf descriptors. Which leaf goes
//! where is `layout`'s business, not this file's.

use tock_registers::{LocalRegisterCopy, register_bitfields};

use super::{MemKind, Regime};

register_bitfields! {u64,
    /// A stage 1 descriptor at any level. Table descriptors use only
    /// VALID, TYPE and ADDR (their APTable/XNTable bits stay 0).
    pub DESCRIPTOR [
        VALID OFFSET(0) NUMBITS(1) [],
        /// Levels 0-2: 1 = table, 0 = block. Level 3: 1 = page, 0 = reserved.
        TYPE OFFSET(1) NUMBITS(1) [
            Block = 0,
            TableOrPage = 1
        ],
        /// Index of the MAIR byte giving the memory type.
        ATTR_INDX OFFSET(2) NUMBITS(3) [],
        /// AP[2:1].
        AP OFFSET(6) NUMBITS(2) [
            /// Read/write at the regime's privileged EL; in EL1&0, no EL0 access.
            PrivRw = 0b00,
            /// Read/write with AP[1] set: the form the EL2 (E2H = 0) regime
            /// needs, where AP[1] is RES1.
            PrivRwAp1 = 0b01,
            PrivRo = 0b10,
            PrivRoAp1 = 0b11
        ],
        SH OFFSET(8) NUMBITS(2) [
            NonShareable = 0b00,
            OuterShareable = 0b10,
            InnerShareable = 0b11
        ],
        /// Access flag; 0 faults on first access (no hardware AF update here).
        AF OFFSET(10) NUMBITS(1) [],
        NG OFFSET(11) NUMBITS(1) [],
        /// Output (or next-table) address bits [47:12]; the bits below the
        /// granule or block size must be zero.
        ADDR OFFSET(12) NUMBITS(36) [],
        /// OA[51:48] with 52-bit addresses; RES0 here.
        ADDR_HIGH OFFSET(48) NUMBITS(4) [],
        CONTIGUOUS OFFSET(52) NUMBITS(1) [],
        /// PXN in EL1&0; RES0 in EL2 (E2H = 0).
        PXN OFFSET(53) NUMBITS(1) [],
        /// UXN in EL1&0; XN in EL2 (E2H = 0).
        UXN_XN OFFSET(54) NUMBITS(1) []
    ]
}

/// A descriptor as read from or written to a table.
pub type Descriptor = LocalRegisterCopy<u64, DESCRIPTOR::Register>;

/// MAIR slot of write-back cacheable RAM.
pub const ATTR_NORMAL_WB: u64 = 0;
/// MAIR slot of Device-nGnRE.
pub const ATTR_DEVICE_NGNRE: u64 = 1;
/// Normal memory, inner and outer write-back non-transient, read- and
/// write-allocate.
pub const MAIR_NORMAL_WB: u8 = 0xff;
/// Device-nGnRE.
pub const MAIR_DEVICE_NGNRE: u8 = 0x04;
/// Bits in one MAIR attribute slot.
const MAIR_SLOT_BITS: u64 = 8;
/// The MAIR_ELx value the descriptors written here assume.
pub const MAIR_VALUE: u64 = ((MAIR_NORMAL_WB as u64) << (MAIR_SLOT_BITS * ATTR_NORMAL_WB))
    | ((MAIR_DEVICE_NGNRE as u64) << (MAIR_SLOT_BITS * ATTR_DEVICE_NGNRE));

/// Bits of a byte address dropped by the ADDR field.
const ADDR_SHIFT: u32 = 12;
/// Highest output address bit + 1 without LPA.
pub(super) const OA_BITS: u32 = 48;

/// A table descriptor pointing at the table at `next_phys`.
pub(super) fn table(next_phys: u64) -> u64 {
    let mut d = Descriptor::new(0);
    d.write(
        DESCRIPTOR::VALID::SET
            + DESCRIPTOR::TYPE::TableOrPage
            + DESCRIPTOR::ADDR.val(next_phys >> ADDR_SHIFT),
    );
    d.get()
}

/// A block (levels 0-2) or page (level 3) descriptor mapping `out_phys`.
///
/// RAM: MAIR slot 0, inner shareable, read/write, executable (the stage runs
/// from RAM with this map on). Device: MAIR slot 1, outer shareable (the
/// hardware treats every Device access as outer shareable whatever SH says,
/// so the descriptor says what happens), execute-never at every EL of the
/// regime.
pub(super) fn leaf(
    is_page: bool,
    out_phys: u64,
    kind: MemKind,
    regime: Regime,
    contiguous: bool,
) -> u64 {
    use DESCRIPTOR::*;
    let mut d = Descriptor::new(0);
    let shape = if is_page {
        TYPE::TableOrPage
    } else {
        TYPE::Block
    };
    let ap = match regime {
        Regime::El1 => AP::PrivRw,
        Regime::El2 => AP::PrivRwAp1,
    };
    d.write(VALID::SET + shape + ap + AF::SET + ADDR.val(out_phys >> ADDR_SHIFT));
    match kind {
        MemKind::Normal => d.modify(ATTR_INDX.val(ATTR_NORMAL_WB) + SH::InnerShareable),
        MemKind::Device => {
            d.modify(ATTR_INDX.val(ATTR_DEVICE_NGNRE) + SH::OuterShareable + UXN_XN::SET);
            if regime == Regime::El1 {
                d.modify(PXN::SET);
            }
        }
    }
    if contiguous {
        d.modify(CONTIGUOUS::SET);
    }
    d.get()
}

/// The address a descriptor holds (bits [47:12]).
pub(super) fn address(raw: u64) -> u64 {
    Descriptor::new(raw).read(DESCRIPTOR::ADDR) << ADDR_SHIFT
}

/// The attribute bits of a leaf: everything but the address, which must
/// agree across a contiguous group.
pub(super) fn attributes(raw: u64) -> u64 {
    let addr = DESCRIPTOR::ADDR.mask << DESCRIPTOR::ADDR.shift;
    raw & !addr
}

/// The kind a MAIR slot stands for, if it is one of ours.
pub(super) fn kind_of_attr(index: u64) -> Option<MemKind> {
    match index {
        ATTR_NORMAL_WB => Some(MemKind::Normal),
        ATTR_DEVICE_NGNRE => Some(MemKind::Device),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::DESCRIPTOR::*;
    use super::*;

    #[test]
    fn mair_has_normal_in_slot0_device_in_slot1() {
        assert_eq!(MAIR_VALUE & 0xff, 0xff);
        assert_eq!((MAIR_VALUE >> 8) & 0xff, 0x04);
        assert_eq!(MAIR_VALUE >> 16, 0);
    }

    #[test]
    fn kinds_name_their_mair_bytes() {
        assert_eq!(
            MemKind::Normal.mair_attr(),
            (MAIR_VALUE >> (8 * ATTR_NORMAL_WB)) as u8
        );
        assert_eq!(
            MemKind::Device.mair_attr(),
            (MAIR_VALUE >> (8 * ATTR_DEVICE_NGNRE)) as u8
        );
    }

    #[test]
    fn ram_block_el1() {
        let d = Descriptor::new(leaf(
            false,
            0x4000_0000,
            MemKind::Normal,
            Regime::El1,
            false,
        ));
        assert!(d.is_set(VALID) && !d.is_set(TYPE) && d.is_set(AF));
        assert_eq!(d.read(ATTR_INDX), ATTR_NORMAL_WB);
        assert!(d.matches_all(SH::InnerShareable + AP::PrivRw));
        assert!(!d.is_set(PXN) && !d.is_set(UXN_XN) && !d.is_set(CONTIGUOUS));
        assert_eq!(address(d.get()), 0x4000_0000);
        // Bits 0 (valid), 10 (AF), 8-9 (SH inner), address: as the Arm ARM lays them out.
        assert_eq!(d.get(), 0x4000_0000 | 1 | (1 << 10) | (0b11 << 8));
    }

    #[test]
    fn device_page_el1_and_el2_differ_in_ap1_and_pxn() {
        let el1 = Descriptor::new(leaf(true, 0x0900_0000, MemKind::Device, Regime::El1, true));
        let el2 = Descriptor::new(leaf(true, 0x0900_0000, MemKind::Device, Regime::El2, true));
        assert!(el1.is_set(PXN) && el1.is_set(UXN_XN) && el1.matches_all(AP::PrivRw));
        assert!(!el2.is_set(PXN) && el2.is_set(UXN_XN) && el2.matches_all(AP::PrivRwAp1));
        for d in [el1, el2] {
            assert_eq!(d.read(ATTR_INDX), ATTR_DEVICE_NGNRE);
            assert!(d.is_set(TYPE) && d.is_set(CONTIGUOUS) && d.matches_all(SH::OuterShareable));
        }
        assert_eq!(el1.get() ^ el2.get(), (1 << 53) | (1 << 6));
    }

    #[test]
    fn table_descriptor_is_valid_table_with_address_only() {
        let raw = table(0x8_7654_3000);
        assert_eq!(raw, 0x8_7654_3000 | 0b11);
        assert_eq!(address(raw), 0x8_7654_3000);
    }
}
