// The kexec-style hand-off: relocate the payload, turn the MMU and caches
// off, enter the next stage with x0 = DTB, x1 = x2 = x3 = 0, at the current
// EL. Each handoff_* routine is position independent and self-contained
// (no stack, no data, relative branches only): the stage copies
// [handoff_X, handoff_X_end) to a control page outside every destination
// and calls it there, because the destinations may cover the stage itself.
// Assembled after asm/cache.S and asm/macros.S (the walkers and kernels).
//
// Register roles:
//   x0-x2  walker input, as in asm/macros.S (list head or runs, runs, line)
//   x20    DTB physical address for the next stage (x3 at entry)
//   x21    entry point of the next stage (x4 at entry)
//   x3-x17 walker scratch

    .text

    .macro HANDOFF name, walk, copy, fused=0
    .global \name
    .global \name\()_end
    .balign 16
\name:
    mov     x20, x3
    mov     x21, x4
    \walk \copy, \fused             // destinations cleaned to the PoC
    mrs     x5, CurrentEL
    mov     x6, #{SCTLR_MCI}
    cmp     x5, #(2 << 2)
    b.eq    6f
    mrs     x5, sctlr_el1
    bic     x5, x5, x6              // MMU, D-cache, I-cache off
    isb                             // Falkor E1041, as Linux: isb before
    msr     sctlr_el1, x5           // the SCTLR write that drops the MMU
    b       7f
6:  mrs     x5, sctlr_el2
    bic     x5, x5, x6
    isb
    msr     sctlr_el2, x5
7:  isb
    ic      ialluis                 // nothing stale on any CPU of the
                                    // domain when the next stage runs
    dsb     sy
    isb
    mov     x0, x20
    mov     x1, xzr
    mov     x2, xzr
    mov     x3, xzr
    br      x21
\name\()_end:
    .endm

// Vectors for the final copy, when the stage's own table may already be
// overwritten: end the run through semihosting with the exception status,
// or, without semihosting (the hlt then traps back here), wait forever.
// Position independent; copied 2 KiB aligned into the control area.
    .text
    .balign 0x800
    .global handoff_vectors
    .global handoff_vectors_end
handoff_vectors:
    .rept   16
    .balign 0x80
    mov     x0, #{SYS_EXIT}
    adr     x1, 1f
    hlt     #0xf000
    b       .
    .balign 8
1:  .quad   {ADP_STOPPED_APPLICATION_EXIT}, {EXIT_EXCEPTION}
    .endr
handoff_vectors_end:

    HANDOFF handoff_ind_list_copy_page, IND_LIST_WALK, COPY_PAGE_LINUX
    HANDOFF handoff_ind_list_ldpq, IND_LIST_WALK, COPY_PAGE_LDPQ
    HANDOFF handoff_contig_copy_page, CONTIG_WALK, COPY_PAGE_LINUX
    HANDOFF handoff_contig_ldpq, CONTIG_WALK, COPY_PAGE_LDPQ
    HANDOFF handoff_ind_list_ldpq_dc64, IND_LIST_WALK, COPY_PAGE_LDPQ_DC64, 1
    HANDOFF handoff_ind_list_ldpq_dc128, IND_LIST_WALK, COPY_PAGE_LDPQ_DC128, 1
    HANDOFF handoff_contig_ldpq_dc64, CONTIG_WALK, COPY_PAGE_LDPQ_DC64, 1
    HANDOFF handoff_contig_ldpq_dc128, CONTIG_WALK, COPY_PAGE_LDPQ_DC128, 1
    HANDOFF handoff_ind_list_mops, IND_LIST_WALK, COPY_PAGE_MOPS
    HANDOFF handoff_contig_mops, CONTIG_WALK, COPY_PAGE_MOPS
