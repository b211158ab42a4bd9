// The kexec-style hand-off: relocate the payload, turn the MMU and caches
// off, enter the next stage with x0 = DTB, x1 = x2 = x3 = 0, at the current
// EL. Each handoff_* routine is position independent and self-contained
// (no stack, no data, relative branches only): the stage copies
// [handoff_X, handoff_X_end) to a control page outside every destination
// and calls it there, because the destinations may cover the stage itself.
// Assembled after asm/cache.S and asm/macros.S (the walkers and kernels).
//
// One CPU (HANDOFF, handoff_*). Register roles:
//   x0-x2  walker input, as in asm/macros.S (list head or runs, runs, line)
//   x20    DTB physical address for the next stage (x3 at entry)
//   x21    entry point of the next stage (x4 at entry)
//   x3-x17 walker scratch
//
// Several CPUs (cpus=; the words live in the control area's sync piece,
// each in its own 256-byte block, laid out by arch::copy::FinalSync):
//   HANDOFF_SMP (handoff_smp_*), the boot CPU, once every secondary has
//   arrived in its HANDOFF_SHARE:
//     x0-x3  its share, as the share walkers take it (x2 = line)
//     x4     the parameter block (FinalParams) at entry
//     x19    the parameter block      x20  DTB      x21  entry
//     x22    go word                  x23  deadline (CNTPCT_EL0)
//     x24    secondaries left to wait for
//     x25    their FinalCpu cursor    x26  PSCI conduit
//   It writes go = 1 (cleaned to the PoC, sev), copies its own share, then
//   for each secondary waits until its done word is 2, its pen entry's
//   ack is non-zero (it left this code for the pen, which the DTB handed
//   on reserves) and, for a PSCI CPU, AFFINITY_INFO says OFF; all bounded
//   by the deadline. Past it: the abort word is raised and the park
//   vectors' deadline report (VBAR + DEADLINE_REPORT) names that CPU in
//   a message and the records, exit status 2, through semihosting; the
//   next stage is never entered. Then MMU and caches off and the jump, as HANDOFF.
//   HANDOFF_SHARE (handoff_share_*), a secondary, entered from the stage
//   with the boot CPU's map (or none) and VBAR at the park vectors:
//     x0-x4  its share and the abort word, as the share walkers take them
//     x5     its done word -> x22     x6  the go word -> x23
//     x7     the pen's `pen` entry -> x24
//   done := 1 (arrived: it runs nothing of the stage any more), waits for
//   go, copies its share (destination lines cleaned to the PoC by the
//   walker), done := 2, MMU and caches off, branches to the pen.
// Every shared word is written with a plain store and `dc civac` + `dsb`
// (the writer's MMU may be off, or on: either way the word reaches the
// PoC) and read after a `dc civac` of it (the reader never writes it, so
// this only drops a stale line): coherent whichever side has its MMU on.

    .text

// The start of a routine the stage copies: [\name, \name_end).
    .macro ROUTINE name
    .global \name
    .global \name\()_end
    .balign 16
\name:
    .endm

    .macro HANDOFF name, walk, copy, fused=0
    ROUTINE \name
    mov     x20, x3
    mov     x21, x4
    \walk \copy, \fused             // destinations cleaned to the PoC
    ENTER_NEXT
\name\()_end:
    .endm

// MMU, D-cache and I-cache off at the current EL (x5, x6 scratch).
    .macro MMU_CACHES_OFF
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
    .endm

// MMU off, then the next stage at x21 with x0 = DTB (x20), x1-x3 = 0.
    .macro ENTER_NEXT
    MMU_CACHES_OFF
    mov     x0, x20
    mov     x1, xzr
    mov     x2, xzr
    mov     x3, xzr
    br      x21
    .endm

// Publish the word at \addr: store \val, clean it to the PoC, event.
    .macro PUBLISH addr, val
    mov     x9, #\val
    str     x9, [\addr]
    dc      civac, \addr
    dsb     sy
    sev
    .endm

// x9 := the word at \addr as the PoC holds it (a line this CPU may hold
// for it is clean, never written here: the dc only drops it).
    .macro READ_POC addr
    dc      civac, \addr
    dsb     sy
    ldr     x9, [\addr]
    .endm

// Branch to \late once CNTPCT_EL0 passed the deadline in x23 (x7 scratch).
    .macro PAST_DEADLINE late
    isb
    mrs     x7, cntpct_el0
    cmp     x7, x23
    b.hs    \late
    .endm

// The boot CPU's routine for a hand-off on several CPUs (see the top).
    .macro HANDOFF_SMP name, walk, copy, fused=0
    ROUTINE \name
    mov     x19, x4
    ldp     x20, x21, [x19, #{FP_DTB}]      // DTB, entry
    ldr     x22, [x19, #{FP_GO}]
    PUBLISH x22, 1                  // go: every secondary copies now
    ldr     x4, [x19, #{FP_ABORT}]
    cbz     x1, 21f                 // no pages (a list share would still
    \walk \copy, \fused           // copy its first one)
21: ldr     x23, [x19, #{FP_TICKS}]
    isb
    mrs     x7, cntpct_el0
    add     x23, x23, x7            // the deadline
    ldr     x24, [x19, #{FP_COUNT}]
    add     x25, x19, #{FP_CPUS}
    ldr     x26, [x19, #{FP_CONDUIT}]
22: cbz     x24, 28f
    ldr     x10, [x25, #{FC_DONE}]
23: READ_POC x10                    // its share copied and cleaned
    cmp     x9, #2
    b.eq    24f
    PAST_DEADLINE 29f
    yield
    b       23b
24: ldr     x10, [x25, #{FC_ACK}]
25: READ_POC x10                    // in the pen, out of this code
    cbnz    x9, 26f
    PAST_DEADLINE 29f
    yield
    b       25b
26: ldr     x9, [x25, #{FC_PSCI}]
    cbz     x9, 27f
    movz    x0, #({PSCI_AFFINITY_INFO} & 0xffff)
    movk    x0, #(({PSCI_AFFINITY_INFO} >> 16) & 0xffff), lsl #16
    ldr     x1, [x25, #{FC_MPIDR}]
    mov     x2, xzr                 // lowest affinity level 0
    cmp     x26, #{CONDUIT_SMC}
    b.ne    30f
    smc     #0
    b       31f
30: hvc     #0
31: cmp     x0, #{PSCI_OFF}
    b.eq    27f
    PAST_DEADLINE 29f               // an error too: we started this CPU
                                    // with CPU_ON, so it must end OFF
    yield
    b       26b
27: add     x25, x25, #{FC_SIZE}
    sub     x24, x24, #1
    b       22b
28: ENTER_NEXT
29: ldr     x10, [x19, #{FP_ABORT}]
    PUBLISH x10, 1                  // the others stop at their next page
    ldr     x10, [x25, #{FC_MPIDR}] // the CPU waited for in vain
    mrs     x9, CurrentEL
    cmp     x9, #(2 << 2)
    b.eq    34f
    mrs     x9, vbar_el1
    b       35f
34: mrs     x9, vbar_el2
35: add     x9, x9, #{DEADLINE_REPORT}
    br      x9                      // the park vectors' deadline report:
                                    // message, records, exit status 2,
                                    // never into a half-copied payload
    .balign 16
\name\()_end:
    .endm

// A secondary's routine for a hand-off on several CPUs (see the top).
    .macro HANDOFF_SHARE name, walk, copy, fused=0
    ROUTINE \name
    mov     x22, x5
    mov     x23, x6
    mov     x24, x7
    PUBLISH x22, 1                  // arrived: out of the stage for good
21: READ_POC x23
    cbnz    x9, 22f
    wfe                             // the boot CPU's sev follows go
    b       21b
22: cbz     x1, 23f
    \walk \copy, \fused
23: PUBLISH x22, 2                  // done, destinations at the PoC
    MMU_CACHES_OFF
    br      x24                     // the pen: ack, then CPU_OFF or slot
\name\()_end:
    .endm

// Vectors for the final copy, when the stage's own table may already be
// overwritten. Every entry branches to one report (label 40): with
// semihosting it prints `mmu-reloc: error: CPU 0x<MPIDR affinity> took an
// exception during the final copy (ESR 0x<ESR_ELx>)` and the `error` and
// `exit` records (SYS_WRITE0), then ends the run with the exception
// status (SYS_EXIT); without semihosting (a board: the hlt traps back
// here) the CPU waits forever, taking the same exception again.
// At VBAR + 0x800 (DEADLINE_REPORT), past the table, HANDOFF_SMP's
// deadline report enters with x10 = MPIDR of the CPU it waited for in
// vain, to print `mmu-reloc: error: hand-off: CPU 0x<x10> did not finish
// ...` the same way and exit with the verification status.
// Position independent and stack free; copied 2 KiB aligned into the
// control area, the text buffer (at the end) with it.
    .text
    .balign 0x800
    .global handoff_vectors
    .global handoff_vectors_end
handoff_vectors:
    .rept   16
    .balign 0x80
    b       40f                     // the fault report below
    .endr
    .org    handoff_vectors + {DEADLINE_REPORT} // past the table
    adr     x5, 63f                 // "hand-off: "
    adr     x6, 64f                 // " did not finish ..."
    mov     x7, xzr                 // no ESR
    adr     x8, 65f                 // exit status 2
    b       42f
// A fault: x10 := MPIDR affinity of this CPU, x11 := ESR_ELx of the
// current EL, the message parts and the exit status.
40: mrs     x10, mpidr_el1
    lsr     x12, x10, #32
    and     x12, x12, #0xff         // Aff3
    and     x10, x10, #0xffffff     // Aff2, Aff1, Aff0
    orr     x10, x10, x12, lsl #32
    mrs     x11, CurrentEL
    cmp     x11, #(2 << 2)
    b.eq    41f
    mrs     x11, esr_el1
    b       62f
41: mrs     x11, esr_el2
62: adr     x5, 66f                 // no prefix
    adr     x6, 55f                 // " took an exception ... (ESR 0x"
    mov     x7, #1                  // then ESR and ')'
    adr     x8, 59f                 // exit status 3
// The report: "mmu-reloc: error: " and the message (44), then the error
// record with the message and the exit record with the status at x8,
// through SYS_WRITE0 and SYS_EXIT. The text goes into this CPU's slot
// of the buffer (slot = its Aff0, capped at the last): CPUs that report
// at once write different slots unless their Aff0 agree (other
// clusters) or exceed the slot count; a CPU that finds its slot in use
// (a fault in here, or such a second CPU) exits without the line. x0-x15
// and x30 are free: nothing returns from here.
42: mrs     x12, mpidr_el1
    and     x12, x12, #0xff         // Aff0
    mov     x13, #({FAULT_SLOTS} - 1)
    cmp     x12, x13
    csel    x12, x12, x13, lo
    mov     x13, #{FAULT_SLOT}
    adr     x14, 60f
    madd    x13, x12, x13, x14      // this CPU's slot
    mov     x15, x13                // its start, for SYS_WRITE0
    ldrb    w12, [x13]
    cbnz    w12, 43f                // in use: straight to the exit
    adr     x1, 50f                 // "mmu-reloc: error: "
    bl      54f
    bl      44f                     // the message
    adr     x1, 51f                 // newline, the error record
    bl      54f
    bl      44f
    adr     x1, 52f                 // its end, the exit record's start
    bl      54f
    ldr     x1, [x8, #8]            // the status, in decimal (< 10)
    add     w3, w1, #0x30
    strb    w3, [x13], #1
    adr     x1, 58f                 // the exit record's end
    bl      54f
    strb    wzr, [x13]
    mov     x0, #{SYS_WRITE0}
    mov     x1, x15
    hlt     #0xf000
43: mov     x0, #{SYS_EXIT}
    mov     x1, x8
    hlt     #0xf000
    b       .
// The message at x13 (advanced): the string at x5, "CPU 0x<x10>", the
// string at x6, and if x7 != 0 "<x11>)"; x1-x4, x9 scratch, returns
// through x9.
44: mov     x9, x30
    mov     x1, x5
    bl      54f
    adr     x1, 53f                 // "CPU 0x"
    bl      54f
    mov     x1, x10
    bl      56f
    mov     x1, x6
    bl      54f
    cbz     x7, 57f
    mov     x1, x11
    bl      56f
    mov     w3, #0x29               // ')'
    strb    w3, [x13], #1
57: ret     x9
// The NUL-terminated string at x1 to x13 (advanced, without the NUL).
54: ldrb    w3, [x1], #1
    cbz     w3, 67f
    strb    w3, [x13], #1
    b       54b
67: ret
// x1 in hex at x13 (advanced), without leading zeros (0 is "0"); x2-x4
// scratch.
56: mov     x2, #60                 // shift of the digit looked at
68: lsr     x3, x1, x2
    cbnz    x3, 61f                 // the first non-zero digit
    cbz     x2, 61f                 // or the last one
    sub     x2, x2, #4
    b       68b
61: lsr     x3, x1, x2
    and     x3, x3, #0xf
    add     x4, x3, #0x30           // '0' + d
    add     x3, x3, #0x57           // 'a' + d - 10
    cmp     x4, #0x3a
    csel    x3, x4, x3, lo
    strb    w3, [x13], #1
    subs    x2, x2, #4
    b.pl    61b
    ret
    .balign 8
59: .quad   {ADP_STOPPED_APPLICATION_EXIT}, {EXIT_EXCEPTION}
65: .quad   {ADP_STOPPED_APPLICATION_EXIT}, {EXIT_VERIFY}
50: .asciz  "mmu-reloc: error: "
51: .asciz  "\n{{\"record\":\"error\",\"msg\":\""
52: .asciz  "\"}}\n{{\"record\":\"exit\",\"status\":"
58: .asciz  "}}\n"
53: .asciz  "CPU 0x"
55: .asciz  " took an exception during the final copy (ESR 0x"
63: .asciz  "hand-off: "
64: .asciz  " did not finish its share of the final copy or reach the pen in time; the next stage was not entered"
66: .asciz  ""
    .balign 16
60: .space  {FAULT_SLOTS} * {FAULT_SLOT}  // the text buffer, zero
handoff_vectors_end:

// Each kernel three ways: alone (handoff_*), and for a hand-off on
// several CPUs the boot CPU's routine (handoff_smp_*) and the
// secondaries' (handoff_share_*) over the share walkers.
    .macro HANDOFFS suffix, walk, share, copy, fused=0
    HANDOFF handoff_\suffix, \walk, \copy, \fused
    HANDOFF_SMP handoff_smp_\suffix, \share, \copy, \fused
    HANDOFF_SHARE handoff_share_\suffix, \share, \copy, \fused
    .endm

    HANDOFFS ind_list_copy_page, IND_LIST_WALK, IND_LIST_SHARE, COPY_PAGE_LINUX
    HANDOFFS ind_list_ldpq, IND_LIST_WALK, IND_LIST_SHARE, COPY_PAGE_LDPQ
    HANDOFFS contig_copy_page, CONTIG_WALK, CONTIG_SHARE, COPY_PAGE_LINUX
    HANDOFFS contig_ldpq, CONTIG_WALK, CONTIG_SHARE, COPY_PAGE_LDPQ
    HANDOFFS ind_list_ldpq_dc64, IND_LIST_WALK, IND_LIST_SHARE, COPY_PAGE_LDPQ_DC64, 1
    HANDOFFS ind_list_ldpq_dc128, IND_LIST_WALK, IND_LIST_SHARE, COPY_PAGE_LDPQ_DC128, 1
    HANDOFFS contig_ldpq_dc64, CONTIG_WALK, CONTIG_SHARE, COPY_PAGE_LDPQ_DC64, 1
    HANDOFFS contig_ldpq_dc128, CONTIG_WALK, CONTIG_SHARE, COPY_PAGE_LDPQ_DC128, 1
    HANDOFFS ind_list_mops, IND_LIST_WALK, IND_LIST_SHARE, COPY_PAGE_MOPS
    HANDOFFS contig_mops, CONTIG_WALK, CONTIG_SHARE, COPY_PAGE_MOPS
