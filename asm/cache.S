// Cache maintenance by virtual address over a range, one line at a time:
// the one such loop in the assembly (asm/mmu.S, asm/macros.S), like
// Linux's dcache_by_line_op. Included first by each global_asm! that uses
// it; the guard keeps a second inclusion from redefining it.

    .ifndef .Lmmu_reloc_cache
    .set    .Lmmu_reloc_cache, 1

// Apply `dc \op` to every line from \cur (line-aligned) up to \end,
// advancing \cur by \line bytes; at least one line (callers with a
// possibly empty range test it first). Four instructions per line.
    .macro DCACHE_BY_LINE op, cur, end, line
98: dc      \op, \cur
    add     \cur, \cur, \line
    cmp     \cur, \end
    b.lo    98b
    .endm

    .endif
