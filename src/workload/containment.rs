//! Write containment, checked at every exit (success, error, exception):
//! the DTB must hash as it did at entry, and every guard page around the
//! destinations, the list pages and the table area must still hold its
//! pattern. Reported as the `containment` record before `exit`.

use mmu_reloc::record::Record;
use mmu_reloc::region::Region;
use mmu_reloc::relocate::{check_guards, xxh64};

use crate::arch::BootCpuCell;
use crate::arch::mem::IdentityMem;
use crate::board::console::Console;

/// The DTB as the loader passed it, and its hash then.
#[derive(Clone, Copy)]
struct WatchedDtb {
    blob: &'static [u8],
    hash: u64,
}

static DTB: BootCpuCell<Option<WatchedDtb>> = BootCpuCell::new(None);
static GUARDS: BootCpuCell<&'static [Region]> = BootCpuCell::new(&[]);

/// Remembers the DTB's hash at entry.
pub fn watch_dtb(blob: &'static [u8]) {
    DTB.set(Some(WatchedDtb {
        blob,
        hash: xxh64(blob, 0),
    }));
}

/// Remembers the guard regions once they are filled.
pub fn watch_guards(guards: &[Region]) {
    GUARDS.set(alloc::vec::Vec::leak(guards.to_vec()));
}

/// Checks everything watched; prints the record; returns whether it is
/// all intact.
pub fn check() -> bool {
    let mut checked = 0u64;
    let mut dtb_intact = true;
    if let Some(d) = DTB.get() {
        dtb_intact = xxh64(d.blob, 0) == d.hash;
        checked += d.blob.len() as u64;
    }
    let guards = check_guards(&IdentityMem, GUARDS.get());
    checked += guards.checked;
    Record::new(&mut Console, "containment")
        .u64("checked_bytes", checked)
        .bool("dtb_intact", dtb_intact)
        .u64("guard_bytes", guards.checked)
        .opt_u64("first_modified", guards.first_modified)
        .bool("intact", dtb_intact && guards.first_modified.is_none())
        .end();
    dtb_intact && guards.first_modified.is_none()
}
