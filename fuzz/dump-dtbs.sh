#!/usr/bin/env bash
# Regenerates the dtb target's seeds: QEMU virt DTBs (EL1/EL2, 1/4 CPUs,
# 1G/3G) and the Pi 4 DTB when target/payloads has it. QEMU pads its blob to
# 1 MiB; the padding is cut (totalsize rewritten) so libFuzzer's max_len stays
# near the real size.
set -euo pipefail
cd "$(dirname "$0")/seeds/dtb"
dump() { # name machine-options qemu-args...
    local name=$1 m=$2
    shift 2
    qemu-system-aarch64 -M "virt$m,dumpdtb=$name.dtb" -cpu cortex-a72 "$@" -nographic >/dev/null
}
dump virt "" -m 1G
dump virt-smp4 "" -m 1G -smp 4
dump virt-3g "" -m 3G
dump virt-el2 ",virtualization=on" -m 1G
dump virt-el2-3g-smp4 ",virtualization=on" -m 3G -smp 4
python3 - virt*.dtb <<'PY'
import struct, sys
for f in sys.argv[1:]:
    b = bytearray(open(f, "rb").read())
    _, _, off_st, off_str, off_rsv, _, _, _, sz_str, sz_st = struct.unpack(">10I", b[:40])
    o = off_rsv
    while struct.unpack(">QQ", b[o:o + 16]) != (0, 0):
        o += 16
    end = min(len(b), (max(off_st + sz_st, off_str + sz_str, o + 16) + 7) & ~7)
    b = b[:end]
    b[4:8] = struct.pack(">I", end)
    open(f, "wb").write(b)
PY
pi=../../../target/payloads/bcm2711-rpi-4-b.dtb
if [ -f "$pi" ]; then cp "$pi" .; fi
ls -l
