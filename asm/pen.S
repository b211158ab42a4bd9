// Holding pen for the secondaries at mode=boot's hand-off. The boot CPU
// copies this routine and its table (src/pen.rs) into the control area,
// which the DTB handed on keeps from the next kernel with a /memreserve/
// entry, and sends every CPU here before the stage is overwritten:
//   pen:           from the stage's park loop (asm/entry.S, park_mailbox);
//   pen_released:  from the firmware's spin loop (its original
//                  cpu-release-addr now holds this address).
// Each CPU finds its entry by MPIDR, points VBAR at the control area's park
// vectors, acknowledges (the entry's ack := where it came from, cleaned to
// the PoC: the MMU is off, so no exclusives), then speaks its method:
//   spin-table: wait at the entry's slot (zeroed; the DTB handed on names
//               it as the CPU's cpu-release-addr) and branch to what the
//               next kernel writes there, as the firmware's pen does;
//   PSCI:       CPU_OFF, so the kernel's CPU_ON finds it off;
//   otherwise:  wait here for good (also a CPU the table does not list).
// Position independent, no stack, MMU and caches off.
//
// Table right after pen_end (8-byte aligned):
//   header: .quad conduit (0 none, 1 smc, 2 hvc), n, vectors, 0
//   n x entry: .quad mpidr_affinity, method, ack, slot
//
// Register roles:
//   x4  this CPU's MPIDR affinity   x5  table cursor
//   x6  conduit                     x7  entries left
//   x8  entry's mpidr, then scratch x9  entry's method
//   x10 slot address                x11 acknowledgement (origin)
//   x12 vectors, then release value

    .text
    .balign 8
    .global pen, pen_released, pen_end
pen:
    mov     x11, #{ACK_FROM_STAGE}
    b       1f
pen_released:
    mov     x11, #{ACK_FROM_FIRMWARE}
1:  mrs     x4, mpidr_el1
    movz    x5, #({MPIDR_AFF_MASK} & 0xffff)
    movk    x5, #(({MPIDR_AFF_MASK} >> 16) & 0xffff), lsl #16
    movk    x5, #(({MPIDR_AFF_MASK} >> 32) & 0xffff), lsl #32
    and     x4, x4, x5
    adr     x5, pen_end
    ldp     x6, x7, [x5]            // conduit, n
    ldr     x12, [x5, #{HEADER_VECTORS}]
    add     x5, x5, #{HEADER_SIZE}
    cbz     x12, 2f                 // the stage's vectors are about to go
    mrs     x8, CurrentEL
    cmp     x8, #(2 << 2)
    b.eq    3f
    msr     vbar_el1, x12
    b       2f
3:  msr     vbar_el2, x12
2:  isb
4:  cbz     x7, 9f                  // not in the table: hold
    ldp     x8, x9, [x5]            // mpidr, method
    cmp     x8, x4
    b.eq    5f
    add     x5, x5, #{ENTRY_SIZE}
    sub     x7, x7, #1
    b       4b
5:  add     x8, x5, #{ENTRY_ACK}
    str     x11, [x8]               // acknowledge: the boot CPU polls this
    dc      civac, x8               // word with its caches on
    dsb     sy
    cmp     x9, #{METHOD_SPIN}
    b.ne    7f
    add     x10, x5, #{ENTRY_SLOT}
6:  ldr     x12, [x10]              // spin-table: look before each wait
    cbnz    x12, 8f
    wfe
    b       6b
8:  br      x12
7:  cmp     x9, #{METHOD_PSCI}
    b.ne    9f
    movz    x0, #({PSCI_CPU_OFF} & 0xffff)
    movk    x0, #(({PSCI_CPU_OFF} >> 16) & 0xffff), lsl #16
    cmp     x6, #{CONDUIT_SMC}
    b.ne    10f
    smc     #0
10: cmp     x6, #{CONDUIT_HVC}
    b.ne    9f
    hvc     #0
9:  wfe                             // no method, or CPU_OFF came back
    b       9b
    .balign 8
pen_end:
