// Turning the MMU and caches off without losing a write. Rust cannot do
// this itself: any stack store between the clean and the SCTLR write would
// sit dirty in a cache that is about to be bypassed. Nothing here touches
// memory except to read the range list.
//
//   x0  ranges: array of (start, end) pairs to clean+invalidate to the PoC
//   x1  number of ranges
//   x2  D-cache line size in bytes
//   x3-x6 scratch

    .text
    .macro MMU_OFF el
    .global mmu_off_el\el
mmu_off_el\el:
    sub     x6, x2, #1              // line mask
1:  cbz     x1, 4f
    ldp     x3, x4, [x0], #16
    bic     x3, x3, x6              // first line of the range
    cmp     x3, x4
    b.hs    3f                      // empty range
    DCACHE_BY_LINE civac, x3, x4, x2
3:  sub     x1, x1, #1
    b       1b
4:  dsb     sy                      // every clean reached the PoC
    mrs     x3, sctlr_el\el
    mov     x4, #{SCTLR_MCI}
    bic     x3, x3, x4              // M, C, I off
    msr     sctlr_el\el, x3
    isb
    ic      iallu                   // no stale instructions when I comes back
    dsb     sy
    isb
    ret
    .endm

    MMU_OFF 1
    MMU_OFF 2
