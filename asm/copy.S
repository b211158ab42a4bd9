// The measured copy loops. Each exists once per page-copy kernel:
//   COPY_PAGE_LINUX  Linux's copy_page: 4 x ldp + 4 x stnp per 64 bytes
//   COPY_PAGE_LDPQ   ours: 2 x ldp q + 2 x stp q twice, 128 bytes per turn
//   COPY_PAGE_LDPQ_DC64/128  ours, fused: 512 bytes per turn with the dc
//                  civac of each destination line interleaved (64-byte
//                  lines; 128 bytes or more), chosen by CTR_EL0 in Rust
//   COPY_PAGE_MOPS   FEAT_MOPS CPYFP/CPYFM/CPYFE (only where
//                  ID_AA64ISAR2_EL1.MOPS says the CPU has them)
// and is wrapped by three walkers:
//   IND_LIST_WALK  Eric Biederman's: walk the kimage IND_* list
//   IND_LIST_WALK_LEGACY  the same walk as Linux <= 5.12 ran it with the
//                  MMU off: dc ivac each destination page before copying,
//                  no clean after
//   CONTIG_WALK    Pavel Tatashin's: one run per segment from a
//                  contiguous source
// into reloc_*_* (measured: return pages copied) and handoff_*_* (asm/
// handoff.S: copy, MMU off, jump to the next stage).
// After each destination page: dc civac per cache line to the PoC, as
// arm64 relocate_kernel.S does, so the copy is visible with the MMU off.
// All accesses are naturally aligned: with the MMU off memory is Device.
//
// The walkers and kernels are macros in asm/macros.S (register roles there).

// The table of copy-kernel code ranges (COPY_KERNEL in asm/macros.S)
// starts here and ends after the last measured loop; arch::model_mark
// hands its bounds to the model plugin.
    .pushsection .rodata.model_copy, "a"
    .balign 8
    .global model_copy_ranges
model_copy_ranges:
    .popsection

    .text

// A measured loop: walk, return pages copied.
    .macro MEASURED name, walk, copy, fused=0
    .global \name
\name:
    \walk \copy, \fused
    mov     x0, x9
    ret
    .endm

    MEASURED reloc_ind_list_copy_page, IND_LIST_WALK, COPY_PAGE_LINUX
    MEASURED reloc_ind_list_ldpq, IND_LIST_WALK, COPY_PAGE_LDPQ
    MEASURED reloc_legacy_copy_page, IND_LIST_WALK_LEGACY, COPY_PAGE_LINUX
    MEASURED reloc_legacy_ldpq, IND_LIST_WALK_LEGACY, COPY_PAGE_LDPQ
    MEASURED reloc_contig_copy_page, CONTIG_WALK, COPY_PAGE_LINUX
    MEASURED reloc_contig_ldpq, CONTIG_WALK, COPY_PAGE_LDPQ
    MEASURED reloc_ind_list_ldpq_dc64, IND_LIST_WALK, COPY_PAGE_LDPQ_DC64, 1
    MEASURED reloc_ind_list_ldpq_dc128, IND_LIST_WALK, COPY_PAGE_LDPQ_DC128, 1
    MEASURED reloc_contig_ldpq_dc64, CONTIG_WALK, COPY_PAGE_LDPQ_DC64, 1
    MEASURED reloc_contig_ldpq_dc128, CONTIG_WALK, COPY_PAGE_LDPQ_DC128, 1
    MEASURED reloc_ind_list_mops, IND_LIST_WALK, COPY_PAGE_MOPS
    MEASURED reloc_contig_mops, CONTIG_WALK, COPY_PAGE_MOPS

// The same loops over one CPU's share of a relocation (cpus=): the list
// walk from a slice of the shared list, the runs from a per-CPU array,
// both stopping early once the abort word is set (asm/macros.S).
    MEASURED share_ind_list_copy_page, IND_LIST_SHARE, COPY_PAGE_LINUX
    MEASURED share_ind_list_ldpq, IND_LIST_SHARE, COPY_PAGE_LDPQ
    MEASURED share_legacy_copy_page, IND_LIST_SHARE_LEGACY, COPY_PAGE_LINUX
    MEASURED share_legacy_ldpq, IND_LIST_SHARE_LEGACY, COPY_PAGE_LDPQ
    MEASURED share_contig_copy_page, CONTIG_SHARE, COPY_PAGE_LINUX
    MEASURED share_contig_ldpq, CONTIG_SHARE, COPY_PAGE_LDPQ
    MEASURED share_ind_list_ldpq_dc64, IND_LIST_SHARE, COPY_PAGE_LDPQ_DC64, 1
    MEASURED share_ind_list_ldpq_dc128, IND_LIST_SHARE, COPY_PAGE_LDPQ_DC128, 1
    MEASURED share_contig_ldpq_dc64, CONTIG_SHARE, COPY_PAGE_LDPQ_DC64, 1
    MEASURED share_contig_ldpq_dc128, CONTIG_SHARE, COPY_PAGE_LDPQ_DC128, 1
    MEASURED share_ind_list_mops, IND_LIST_SHARE, COPY_PAGE_MOPS
    MEASURED share_contig_mops, CONTIG_SHARE, COPY_PAGE_MOPS

    .pushsection .rodata.model_copy, "a"
    .global model_copy_ranges_end
model_copy_ranges_end:
    .popsection
