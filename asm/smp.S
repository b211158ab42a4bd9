// Entry of a secondary CPU that the boot CPU started for a relocation
// split across CPUs (cpus=; src/arch/smp.rs): PSCI CPU_ON or the spin
// table sends it here with the MMU and caches off (x0 is the PSCI context
// id, or whatever the spin table left: not used). Like asm/entry.S for
// the boot CPU, minus what only happens once (election, relocation, bss):
//   1. SP_ELx, DAIF masked;
//   2. find this CPU's index in smp_mpidr (the boot CPU wrote the table and
//      cleaned it to the PoC before starting anyone); unknown: park;
//   3. at EL2 the boot CPU's HCR_EL2 (the same E2H = 0 regime); FP/SIMD
//      on; SCTLR in its MMU-off state; the same exception vectors;
//   4. its own stack (smp_stacks, one SMP_STACK_SIZE slice per index),
//      then Rust: smp_secondary_main(index) never returns (it ends in
//      `park`, asm/entry.S).
//
// Register roles:
//   x0   CPU index (1..CPUS_MAX-1)
//   x1   this CPU's MPIDR affinity, then scratch
//   x2   smp_mpidr, then scratch
//   x3   table entry
//   x21  CurrentEL >> 2

    .text
    .balign 8
    .global smp_secondary_entry
smp_secondary_entry:
    msr     spsel, #1
    msr     daifset, #0xf
    mrs     x1, mpidr_el1
    movz    x2, #({MPIDR_AFF_MASK} & 0xffff)        // Aff3:Aff2:Aff1:Aff0
    movk    x2, #(({MPIDR_AFF_MASK} >> 16) & 0xffff), lsl #16
    movk    x2, #(({MPIDR_AFF_MASK} >> 32) & 0xffff), lsl #32
    and     x1, x1, x2
    adrp    x2, smp_mpidr
    add     x2, x2, :lo12:smp_mpidr
    mov     x0, #1                 // index 0 is the boot CPU
1:  cmp     x0, #{CPUS_MAX}
    b.hs    park                   // not a CPU the boot CPU started
    ldr     x3, [x2, x0, lsl #3]
    cmp     x3, x1
    b.eq    2f
    add     x0, x0, #1
    b       1b

2:  mrs     x21, CurrentEL
    lsr     x21, x21, #2
    cmp     x21, #2
    b.ne    3f
    adrp    x1, smp_hcr_el2        // the boot CPU's, as it runs
    ldr     x1, [x1, :lo12:smp_hcr_el2]
    msr     hcr_el2, x1
    isb
    mov     x1, #{CPTR_EL2_RES1}   // TFP = 0
    msr     cptr_el2, x1
    movz    x1, #({SCTLR_EL2_MMU_OFF} & 0xffff)
    movk    x1, #(({SCTLR_EL2_MMU_OFF} >> 16) & 0xffff), lsl #16
    msr     sctlr_el2, x1
    adrp    x1, exception_vectors
    add     x1, x1, :lo12:exception_vectors
    msr     vbar_el2, x1
    b       4f
3:  // EL1 (an EL3 entry is refused in Rust: it compares ELs first)
    mrs     x1, cpacr_el1
    orr     x1, x1, #{CPACR_FPEN}
    msr     cpacr_el1, x1
    movz    x1, #({SCTLR_EL1_MMU_OFF} & 0xffff)
    movk    x1, #(({SCTLR_EL1_MMU_OFF} >> 16) & 0xffff), lsl #16
    msr     sctlr_el1, x1
    adrp    x1, exception_vectors
    add     x1, x1, :lo12:exception_vectors
    msr     vbar_el1, x1
4:  isb

    adrp    x1, smp_stacks         // stack of index i: the i-th slice's top
    add     x1, x1, :lo12:smp_stacks
    mov     x2, #{SMP_STACK_SIZE}
    madd    x1, x0, x2, x1
    mov     sp, x1
    mov     x29, xzr
    mov     x30, xzr
    bl      smp_secondary_main     // does not return
    b       park
