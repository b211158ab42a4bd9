// mmu-reloc entry: arm64 Linux Image header, then the first code that runs.
//
// Loaded anywhere (4 KiB aligned) with the MMU and caches off, x0 = DTB
// physical address (Linux arm64 boot protocol). Before Rust runs this code:
//   1. selects SP_ELx (a loader may enter in EL2t/EL1t) and masks DAIF;
//   2. elects the boot CPU: the first CPU to enter runs, whatever its
//      MPIDR; any other that enters the Image parks (see `claim_boot_cpu`);
//   3. at EL2, decides the EL2 regime from ID_AA64MMFR4_EL1.E2H0 and
//      writes HCR_EL2 whole (as Linux's init_el2 does): E2H = 0 where the
//      CPU allows it; where E2H is RES1 it is set, and Rust refuses;
//   4. enables FP/SIMD at the current EL (rustc emits NEON), puts SCTLR in
//      a known MMU-off state;
//   5. applies R_AARCH64_RELATIVE relocations against the load address;
//   6. clears .bss, sets the stack, installs the vector table.
//
// Register roles until Rust:
//   x19  DTB pointer from the loader (x0 at entry)
//   x20  load address (where _head actually is)
//   x22  load address - link address (what relocation adds)
//   x21  CurrentEL >> 2

    .section .text.head, "ax"
    .global _head
_head:
    b       primary_entry           // code0: skip the header
    .long   0                       // code1
    .quad   0                       // text_offset: any 2 MiB base + 0
    .quad   _image_size             // image_size: bytes to reserve from _head
    .quad   {HEADER_FLAGS}          // flags: LE, 4K pages, place anywhere
    .quad   0, 0, 0                 // res2..res4
    .ascii  "ARM\x64"               // magic
    .long   0                       // res5 (PE header offset: none)

primary_entry:
    // EL3 first, before any store: an ELF booted with secure=on runs from
    // the flash at address 0, where nothing can be written.
    mrs     x21, CurrentEL
    lsr     x21, x21, #2
    cmp     x21, #3
    b.eq    el3_unsupported

    // Exceptions always use SP_ELx; run on it too, so the stack set below
    // is the one the vectors see even if the loader left SPSel = 0.
    msr     spsel, #1
    msr     daifset, #0xf          // no interrupts or aborts yet
    mov     x19, x0
    adr     x20, _head

    bl      claim_boot_cpu         // returns only on the boot CPU

    cmp     x21, #2
    b.ne    fp_el1
    // EL2 regime. ID_AA64MMFR4_EL1 (S3_0_C0_C7_4, RAZ before Armv8.7)
    // E2H0 is signed: negative means HCR_EL2.E2H is RES1 (no nVHE).
    movz    x1, #({HCR_EL2_NVHE} & 0xffff)
    movk    x1, #(({HCR_EL2_NVHE} >> 16) & 0xffff), lsl #16
    mrs     x2, S3_0_C0_C7_4
    sbfx    x2, x2, #{MMFR4_E2H0_SHIFT}, #4
    tbz     x2, #63, 1f
    orr     x1, x1, #{HCR_EL2_E2H}
1:  msr     hcr_el2, x1
    isb
    mrs     x1, hcr_el2            // as written, or E2H stuck at 1 on a
    tbnz    x1, #{HCR_EL2_E2H_BIT}, fp_vhe  // CPU that does not say so
    b       fp_el2
fp_el1:
    mrs     x1, cpacr_el1
    orr     x1, x1, #{CPACR_FPEN}  // FPEN = 0b11: no FP/SIMD traps at EL1/EL0
    msr     cpacr_el1, x1
    b       fp_done
fp_vhe:
    // E2H = 1: CPTR_EL2 has the CPACR layout (cpacr_el1 names it here).
    // Only long enough for Rust to refuse this regime with a message.
    mrs     x1, cpacr_el1
    orr     x1, x1, #{CPACR_FPEN}
    msr     cpacr_el1, x1
    b       fp_done
fp_el2:
    mov     x1, #{CPTR_EL2_RES1}   // TFP = 0, RES1 bits set (HCR_EL2.E2H = 0)
    msr     cptr_el2, x1
    mrs     x1, cpacr_el1          // and for EL1, should the stage drop there
    orr     x1, x1, #{CPACR_FPEN}
    msr     cpacr_el1, x1
fp_done:
    // SCTLR to a known state: MMU, caches, alignment checks, WXN and
    // big-endian off, RES1 bits set, whatever the loader left behind.
    cmp     x21, #2
    b.eq    1f
    movz    x1, #({SCTLR_EL1_MMU_OFF} & 0xffff)
    movk    x1, #(({SCTLR_EL1_MMU_OFF} >> 16) & 0xffff), lsl #16
    msr     sctlr_el1, x1
    b       2f
1:  movz    x1, #({SCTLR_EL2_MMU_OFF} & 0xffff)
    movk    x1, #(({SCTLR_EL2_MMU_OFF} >> 16) & 0xffff), lsl #16
    msr     sctlr_el2, x1
2:  isb

    // Relocate: each Elf64_Rela is (offset, info, addend) in link
    // addresses; RELATIVE means *(offset + delta) = addend + delta.
    // Anything else is a broken build.
    movz    x22, #:abs_g3:__link_base
    movk    x22, #:abs_g2_nc:__link_base
    movk    x22, #:abs_g1_nc:__link_base
    movk    x22, #:abs_g0_nc:__link_base
    sub     x22, x20, x22
    adrp    x9, __rela_start
    add     x9, x9, :lo12:__rela_start
    adrp    x10, __rela_end
    add     x10, x10, :lo12:__rela_end
1:  cmp     x9, x10
    b.hs    2f
    ldp     x11, x12, [x9], #16    // offset, info
    ldr     x13, [x9], #8          // addend
    cmp     x12, #{R_AARCH64_RELATIVE}
    b.ne    park
    add     x13, x13, x22
    str     x13, [x22, x11]
    b       1b

    // [__bss_start, _end) (bss, heap, stack) is not part of the file the
    // loader cleaned to the PoC: a previous owner running with caches on
    // may have left dirty lines there, which could later be evicted over
    // what is written now with the caches off. Invalidate first, as Linux
    // does for its early page tables. Everything before it in the line
    // was cleaned by the loader or written with the caches off.
2:  mrs     x11, ctr_el0
    ubfx    x11, x11, #16, #4      // DminLine: log2 of the line in words
    mov     x12, #4
    lsl     x12, x12, x11          // smallest D-cache line in bytes
    sub     x13, x12, #1
    adrp    x9, __bss_start
    add     x9, x9, :lo12:__bss_start
    bic     x9, x9, x13
    adrp    x10, _end
    add     x10, x10, :lo12:_end
5:  dc      ivac, x9
    add     x9, x9, x12
    cmp     x9, x10
    b.lo    5b
    dsb     sy

    adrp    x9, __bss_start
    add     x9, x9, :lo12:__bss_start
    adrp    x10, __bss_end
    add     x10, x10, :lo12:__bss_end
3:  cmp     x9, x10
    b.hs    4f
    stp     xzr, xzr, [x9], #16
    b       3b

4:  adrp    x9, __stack_top
    add     x9, x9, :lo12:__stack_top
    mov     sp, x9
    mov     x29, xzr               // end of the frame-pointer chain
    mov     x30, xzr

    adrp    x9, exception_vectors
    add     x9, x9, :lo12:exception_vectors
    cmp     x21, #2
    b.eq    5f
    msr     vbar_el1, x9
    b       6f
5:  msr     vbar_el2, x9
6:  isb

    mov     x0, x19                // dtb
    mov     x1, x20                // load address
    bl      rust_entry             // does not return

// Where every CPU that must not run the stage waits: until the boot CPU
// writes an address into park_mailbox (mode=boot, asm/pen.S) it never
// leaves. Also the end of the road for a broken build or EL3.
    .global park
park:
    adr     x2, park_mailbox
1:  wfe
    ldr     x3, [x2]
    cbz     x3, 1b
    br      x3

// The boot CPU is the first to enter, not MPIDR 0: boards boot on other
// cores, and a loader may release several CPUs into the Image at once.
// With the MMU off there are no exclusives to rely on (they need a global
// monitor for Device memory), so the election uses plain stores: a CPU
// that finds `boot_cpu` free writes its MPIDR, waits long enough for any
// CPU that read "free" at the same moment to have written too, and runs
// only if its own MPIDR is what remains. The losers record that a CPU is
// parked inside the stage (mode=boot then refuses to overwrite it) and
// park. Clobbers x1-x4; returns only on the boot CPU.
claim_boot_cpu:
    mrs     x1, mpidr_el1
    movz    x2, #({MPIDR_AFF_MASK} & 0xffff)        // Aff3:Aff2:Aff1:Aff0
    movk    x2, #(({MPIDR_AFF_MASK} >> 16) & 0xffff), lsl #16
    movk    x2, #(({MPIDR_AFF_MASK} >> 32) & 0xffff), lsl #32
    and     x1, x1, x2
    adr     x2, boot_cpu
    ldr     x3, [x2]
    cmp     x3, x1                 // this CPU won before (re-entry)?
    b.eq    3f
    cmn     x3, #1                 // still BOOT_CPU_FREE (all ones)?
    b.ne    1f
    str     x1, [x2]
    dsb     sy
    movz    x4, #({CLAIM_SETTLE_LOOPS} & 0xffff)
    movk    x4, #(({CLAIM_SETTLE_LOOPS} >> 16) & 0xffff), lsl #16
2:  subs    x4, x4, #1
    b.ne    2b
    ldr     x3, [x2]
    cmp     x3, x1
    b.ne    1f
3:  ret
1:  adr     x2, parked_cpu         // lost: say so, then park for good
    str     x1, [x2]
    dsb     sy
    b       park

    .section .data.boot_cpu, "aw"
    .balign 8
    .global boot_cpu, parked_cpu, park_mailbox
// MPIDR affinity of the boot CPU; all ones until one claims it.
boot_cpu:
    .quad   -1
// MPIDR affinity of a CPU that entered too and parked (all ones: none).
parked_cpu:
    .quad   -1
// Where parked CPUs go when it is no longer 0 (see `park`).
park_mailbox:
    .quad   0

    .text

// EL3 is not supported (the stage would have to own the secure world).
// Say so through semihosting, using only reads: if no semihosting host
// answers, the `hlt` traps into el3_vectors, which parks the CPU.
el3_unsupported:
    adr     x1, el3_vectors
    msr     vbar_el3, x1
    isb
    mov     x0, #{SYS_WRITE0}
    adr     x1, el3_message
    hlt     #0xf000
    mov     x0, #{SYS_EXIT}
    adr     x1, el3_exit_block
    hlt     #0xf000
    b       park

    .balign 8
el3_exit_block:
    .quad   {ADP_STOPPED_APPLICATION_EXIT}, {EXIT_INPUT}
el3_message:
    .ascii  "mmu-reloc: error: entered at EL3: unsupported, boot the Image at EL2 or EL1\n"
    .ascii  "{{\"record\":\"error\",\"msg\":\"entered at EL3: unsupported, boot the Image at EL2 or EL1\"}}\n"
    .asciz  "{{\"record\":\"exit\",\"status\":{EXIT_INPUT}}}\n"

    .balign 0x800
el3_vectors:
    .rept   16
    .balign 0x80
    b       park
    .endr
