// Macros shared by asm/copy.S (the measured loops) and asm/handoff.S (the
// same loops as the final copy): page-copy kernels, the walkers, and the
// destination-page cache maintenance (on asm/cache.S). Each
// global_asm! that uses them includes this file first; the guard keeps a
// second inclusion in the same assembly from redefining them.
//
// Register roles (both walkers):
//   x0   in: list head / run array; out: pages copied
//        (ind-list share: address of the share's first list slot)
//   x1   in (contig): number of runs; (ind-list share): pages to copy
//   x2   in: D-cache line size in bytes (CTR_EL0.DminLine, from Rust)
//   x9   pages copied so far (read by the exception handler)
//   x10  current entry (ind-list)
//   x11  next-entry pointer (ind-list) / run pointer (contig)
//   x12  destination cursor
//   x13  source cursor
//   x14  bytes left in the run (contig)
//   x3   in (ind-list share): the share's first destination
//   x4   in (shares): address of the abort word (non-zero: stop)
//   x10  abort word address (contig share)
//   x14  abort word address (ind-list share)
//   x3-x8, x15-x17, q0-q7  scratch

    .ifndef .Lmmu_reloc_macros
    .set    .Lmmu_reloc_macros, 1

// Copy one PAGE_SIZE page from x13 to x12, advancing both by PAGE_SIZE.
    .macro COPY_PAGE_LINUX
    add     x15, x13, #{PAGE_SIZE}
9:  ldp     x3, x4, [x13]
    ldp     x5, x6, [x13, #16]
    ldp     x7, x8, [x13, #32]
    ldp     x16, x17, [x13, #48]
    add     x13, x13, #64
    stnp    x3, x4, [x12]
    stnp    x5, x6, [x12, #16]
    stnp    x7, x8, [x12, #32]
    stnp    x16, x17, [x12, #48]
    add     x12, x12, #64
    cmp     x13, x15
    b.ne    9b
    .endm

    .macro COPY_PAGE_LDPQ
    add     x15, x13, #{PAGE_SIZE}
9:  ldp     q0, q1, [x13]
    ldp     q2, q3, [x13, #32]
    stp     q0, q1, [x12]
    stp     q2, q3, [x12, #32]
    ldp     q0, q1, [x13, #64]
    ldp     q2, q3, [x13, #96]
    add     x13, x13, #128
    stp     q0, q1, [x12, #64]
    stp     q2, q3, [x12, #96]
    add     x12, x12, #128
    cmp     x13, x15
    b.ne    9b
    .endm

// One 64-byte block of the fused kernel: load it (second half first, the
// first half's post-index advances x13), store it with x12 pre-indexed to
// the block, then, when \clean, dc civac the line x12 is in. x12 points at
// the block last stored, so the dc names it without an add.
    .macro COPY_CLEAN_BLOCK qa, qb, qc, qd, clean
    ldp     \qc, \qd, [x13, #32]
    ldp     \qa, \qb, [x13], #64
    stp     \qa, \qb, [x12, #64]!
    stp     \qc, \qd, [x12, #32]
    .if \clean
    dc      civac, x12
    .endif
    .endm

// The fused kernel (copy=ldp-q-dc): copy one page from x13 to x12, 512
// bytes per turn, with the dc civac of every destination line interleaved
// (\line: 64, one dc per block; 128, one per two blocks, enough for any
// line of 128 bytes or more). Five instructions per 64 bytes plus two per
// turn: the architectural floor is four plus one dc per line. The walkers
// do no CLEAN_DEST_PAGE after it. x12, x13 advance by PAGE_SIZE; q0-q7.
    .macro COPY_PAGE_LDPQ_DC line
    add     x15, x13, #{PAGE_SIZE}
    sub     x12, x12, #64           // stores pre-index: x12 = last block
9:  COPY_CLEAN_BLOCK q0, q1, q2, q3, (\line == 64)
    COPY_CLEAN_BLOCK q4, q5, q6, q7, 1
    COPY_CLEAN_BLOCK q0, q1, q2, q3, (\line == 64)
    COPY_CLEAN_BLOCK q4, q5, q6, q7, 1
    COPY_CLEAN_BLOCK q0, q1, q2, q3, (\line == 64)
    COPY_CLEAN_BLOCK q4, q5, q6, q7, 1
    COPY_CLEAN_BLOCK q0, q1, q2, q3, (\line == 64)
    COPY_CLEAN_BLOCK q4, q5, q6, q7, 1
    cmp     x13, x15
    b.ne    9b
    add     x12, x12, #64           // back to the end of the page
    .endm

    .macro COPY_PAGE_LDPQ_DC64
    COPY_PAGE_LDPQ_DC 64
    .endm

    .macro COPY_PAGE_LDPQ_DC128
    COPY_PAGE_LDPQ_DC 128
    .endm

// FEAT_MOPS (copy=mops): the CPU's own memory copy over one page,
// CPYFP/CPYFM/CPYFE (forward-only: a source page never overlaps its
// destination). How much each of the three moves is the implementation's
// choice, so their count says nothing per byte. The cursors are advanced
// from saved copies, not from what the instructions leave in them.
    .macro COPY_PAGE_MOPS
    .arch_extension mops
    mov     x4, x12
    mov     x5, x13
    mov     x3, #{PAGE_SIZE}
    cpyfp   [x12]!, [x13]!, x3!
    cpyfm   [x12]!, [x13]!, x3!
    cpyfe   [x12]!, [x13]!, x3!
    add     x12, x4, #{PAGE_SIZE}
    add     x13, x5, #{PAGE_SIZE}
    .endm

// Clean and invalidate the page just written, [x12 - PAGE_SIZE, x12).
    .macro CLEAN_DEST_PAGE
    sub     x15, x12, #{PAGE_SIZE}
    DCACHE_BY_LINE civac, x15, x12, x2
    .endm

// Invalidate the page about to be written, [x12, x12 + PAGE_SIZE), to the
// PoC, as pre-5.13 relocate_kernel.S did before each copy.
    .macro INVAL_DEST_PAGE
    add     x15, x12, #{PAGE_SIZE}
    mov     x17, x12
    DCACHE_BY_LINE ivac, x17, x15, x2
    dsb     sy
    .endm

// The copy kernel \copy, its code range [start, end) recorded in the
// section .rodata.model_copy (asm/copy.S brackets the table with
// model_copy_ranges/_end) for the model plugin's instruction split into
// walk, copy and cache maintenance: no instruction is added to the loop.
    .macro COPY_KERNEL copy
.Lcopy_start\@:
    \copy
.Lcopy_end\@:
    .pushsection .rodata.model_copy, "a"
    .balign 8
    .quad   .Lcopy_start\@, .Lcopy_end\@
    .popsection
    .endm

// After each page of a share (cpus=): stop at the next page boundary
// once another CPU raised the abort word at \reg (it faulted).
    .macro SHARE_ABORT_CHECK reg, out
    ldr     x16, [\reg]
    cbnz    x16, \out
    .endm

// Walk the kimage list at x0 with copy kernel `copy`; falls through with
// x9 = pages copied and every destination line cleaned to the PoC (or,
// `legacy`, invalidated before it was written). `fused`: the kernel
// cleans the lines itself. `share`: walk one CPU's slice of the list
// (mmu_reloc::relocate::ListShare): start at the slot x0 with destination
// x3, stop after x1 pages or when the abort word at x4 is set.
    .macro IND_LIST_WALK copy, fused=0, legacy=0, share=0
    mov     x9, xzr
    .if \share
    mov     x12, x3                 // x3, x4 are copy-kernel scratch
    mov     x14, x4
    ldr     x10, [x0]               // the share's first entry, a source
    add     x11, x0, #8
    .else
    mov     x10, x0                 // the head is itself an entry
    mov     x11, xzr
    .endif
1:  tbnz    x10, #{IND_DONE_BIT}, 5f
    and     x16, x10, #{PAGE_MASK}  // address part of the entry
    tbz     x10, #{IND_INDIRECTION_BIT}, 2f
    mov     x11, x16                // continue in that list page
    b       4f
2:  tbz     x10, #{IND_DESTINATION_BIT}, 3f
    mov     x12, x16
    b       4f
3:  tbz     x10, #{IND_SOURCE_BIT}, 4f
    mov     x13, x16
    .if \legacy
    INVAL_DEST_PAGE
    .endif
    COPY_KERNEL \copy
    .if !\legacy && !\fused
    CLEAN_DEST_PAGE
    .endif
    add     x9, x9, #1
    .if \share
    cmp     x9, x1
    b.eq    5f
    SHARE_ABORT_CHECK x14, 5f
    .endif
4:  ldr     x10, [x11], #8
    b       1b
5:  dsb     sy                      // all cleans complete
    .endm

// Copy x1 runs of (src, dest, bytes) triples at x0, bytes a multiple of
// PAGE_SIZE; falls through like IND_LIST_WALK. `share`: one CPU's run
// array; also stop when the abort word at x4 is set.
    .macro CONTIG_WALK copy, fused=0, share=0
    mov     x9, xzr
    .if \share
    mov     x10, x4
    .endif
    mov     x11, x0
    cbz     x1, 3f
1:  ldr     x14, [x11, #{RUN_LEN}]
    ldp     x13, x12, [x11], #{RUN_SIZE} // src_va, dest_pa: the first two fields
    cbz     x14, 2f
0:  COPY_KERNEL \copy
    .if !\fused
    CLEAN_DEST_PAGE
    .endif
    add     x9, x9, #1
    .if \share
    SHARE_ABORT_CHECK x10, 3f
    .endif
    subs    x14, x14, #{PAGE_SIZE}
    b.ne    0b
2:  subs    x1, x1, #1
    b.ne    1b
3:  dsb     sy
    .endm

    .macro IND_LIST_WALK_LEGACY copy, fused=0
    IND_LIST_WALK \copy, 0, 1
    .endm

// The walkers over one CPU's share (cpus=), see `share` above.
    .macro IND_LIST_SHARE copy, fused=0
    IND_LIST_WALK \copy, \fused, 0, 1
    .endm

    .macro IND_LIST_SHARE_LEGACY copy, fused=0
    IND_LIST_WALK \copy, 0, 1, 1
    .endm

    .macro CONTIG_SHARE copy, fused=0
    CONTIG_WALK \copy, \fused, 1
    .endm

    .endif
