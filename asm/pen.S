// Holding pen for CPUs that entered the Image besides the boot CPU
// (asm/entry.S parks them on `park_mailbox`). Before mode=boot overwrites
// the stage, the boot CPU copies this routine and its table into the
// control area (kept from the next kernel by a /memreserve/ entry),
// points the mailbox at it and sends an event. Here each CPU speaks the
// enable method the DTB gives it, so the next kernel can bring it up:
//   spin-table: wait at its cpu-release-addr (the boot CPU zeroed it)
//               and branch to what the kernel writes there;
//   PSCI:       CPU_OFF, so the kernel's CPU_ON finds it off;
//   neither:    wait here for good.
// Position independent, no stack, runs with the MMU and caches off.
//
// Table right after pen_end (8-byte aligned; see arch/pen.rs):
//   .quad conduit   0 none, 1 smc, 2 hvc
//   .quad n
//   n x (.quad mpidr_affinity, .quad cpu_release_addr)
//
// Register roles:
//   x4  this CPU's MPIDR affinity   x5  table cursor
//   x6  conduit                     x7  entries left
//   x8, x9  entry (mpidr, release)  x10 release value

    .text
    .balign 8
    .global pen, pen_end
pen:
    mrs     x4, mpidr_el1
    movz    x5, #({MPIDR_AFF_MASK} & 0xffff)
    movk    x5, #(({MPIDR_AFF_MASK} >> 16) & 0xffff), lsl #16
    movk    x5, #(({MPIDR_AFF_MASK} >> 32) & 0xffff), lsl #32
    and     x4, x4, x5
    adr     x5, pen_end
    ldp     x6, x7, [x5], #16       // conduit, n
1:  cbz     x7, 3f
    ldp     x8, x9, [x5], #16
    sub     x7, x7, #1
    cmp     x8, x4
    b.ne    1b
2:  ldr     x10, [x9]               // spin-table: as the firmware's pen,
    cbnz    x10, 6f                 // looking before the first wait
    wfe
    b       2b
6:  br      x10
3:  movz    x0, #({PSCI_CPU_OFF} & 0xffff)
    movk    x0, #(({PSCI_CPU_OFF} >> 16) & 0xffff), lsl #16
    cmp     x6, #{CONDUIT_SMC}
    b.ne    4f
    smc     #0
4:  cmp     x6, #{CONDUIT_HVC}
    b.ne    5f
    hvc     #0
5:  wfe                             // no method, or CPU_OFF came back
    b       5b
    .balign 8
pen_end:
