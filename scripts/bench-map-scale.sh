#!/usr/bin/env bash
# Benchmark (not a test): how the throwaway linear map scales with RAM.
# Boots `mode=info` on QEMU virt (-cpu max) with 1G, 16G, 256G and 1T of
# RAM backed by a sparse file, per leaf policy (the stage's default, which
# is 1g blocks with the 4k granule, leaf=2m and leaf=4k), and prints a
# table from each run's `map` record; the same rows go to
# target/bench/map-scale.csv.
#
#   bash scripts/bench-map-scale.sh            # every size x every policy
#   bash scripts/bench-map-scale.sh --quick    # leaf=4k only up to 16G
#
# leaf=4k over 1T writes 2 GiB of tables: about 25 s of guest time here
# and 2 GiB of (temporary) disk.
#
# Environment: MAP_SCALE_SIZES (default "1G 16G 256G 1T"),
# MAP_SCALE_REPEAT (boots per configuration, default 3; the table shows
# the median build time and the range), MAP_SCALE_TIMEOUT (seconds per
# boot, default 300), CARGO_TARGET_DIR.
# Build times are QEMU TCG without icount: host-time dependent, expect
# tens of percent between boots.
#
# RAM is a sparse file in target/bench/, deleted after each boot; only the
# pages the stage writes (stage, DTB, tables) take disk space.
set -euo pipefail
cd "$(dirname "$0")/.."

big_4k=1
for a in "$@"; do
    case $a in
        --quick) big_4k=0 ;;
        *) echo "usage: $0 [--quick]" >&2; exit 1 ;;
    esac
done
sizes=${MAP_SCALE_SIZES:-1G 16G 256G 1T}
repeat=${MAP_SCALE_REPEAT:-3}
per_boot=${MAP_SCALE_TIMEOUT:-300}

bash scripts/setup.sh
command -v python3 >/dev/null || { echo "bench: python3 is needed to read the records" >&2; exit 1; }

echo "== build the stage (aarch64-unknown-none, release)" >&2
cargo build --release --locked --target aarch64-unknown-none >&2
elf=${CARGO_TARGET_DIR:-$PWD/target}/aarch64-unknown-none/release/mmu-reloc
out=$PWD/target/bench
mkdir -p "$out"
img=$out/mmu-reloc.Image
qemu/mkimage.sh "$elf" "$img"

ram=$out/ram.sparse
trap 'rm -f "$ram"' EXIT

bytes_of() { # 16G -> bytes
    local n=${1%[KMGTkmgt]} u=${1: -1}
    case $u in
        K|k) echo $((n << 10)) ;; M|m) echo $((n << 20)) ;;
        G|g) echo $((n << 30)) ;; T|t) echo $((n << 40)) ;;
        *) echo "$1" ;;
    esac
}

# The file must stay sparse; what the stage writes is its tables (leaf=4k:
# 1/512 of RAM) plus ~10 MiB of stage and DTB. Ask for that and 1 GiB.
max_b=0
for s in $sizes; do b=$(bytes_of "$s"); [ "$b" -gt "$max_b" ] && max_b=$b; done
[ "$big_4k" = 1 ] || [ "$max_b" -le $((16 << 30)) ] || max_b=$((16 << 30))
need_kib=$(( (1 << 20) + max_b / 512 / 1024 ))
avail_kib=$(df -Pk "$out" | awk 'NR==2 {print $4}')
if [ "$avail_kib" -lt "$need_kib" ]; then
    echo "bench: $out has $((avail_kib >> 10)) MiB free, need $((need_kib >> 10)) MiB" >&2
    exit 1
fi

csv=$out/map-scale.csv
rows=$out/map-scale.rows
logdir=$out/map-scale-logs   # one log per boot, kept for the last run only
rm -rf "$logdir"
mkdir -p "$logdir"
: > "$rows"
failed=0

# Reads a configuration's boot logs; prints one CSV row, and the failure
# with the end of its log on stderr (exit 1) unless every boot verified.
summarize() { # size policy "statuses" "walls_ms" "disks_kib" log...
    python3 - "$@" <<'PY'
import json, statistics, sys
size, policy, statuses, walls, disks, *logs = sys.argv[1:]
statuses, walls, disks = statuses.split(), walls.split(), disks.split()

def records(log):
    recs = {}
    for line in open(log, errors="replace"):
        line = line.strip()
        if line.startswith('{"record"'):
            try:
                r = json.loads(line)
            except ValueError:
                continue
            recs.setdefault(r["record"], r)
    return recs

def short(n):
    for s, u in ((40, "T"), (30, "G"), (20, "M"), (10, "K")):
        if n >= 1 << s and n % (1 << s) == 0:
            return f"{n >> s}{u}"
    return str(n)

runs = [records(l) for l in logs]
maps = [r.get("map") for r in runs]
bad = [i for i, (st, m) in enumerate(zip(statuses, maps))
       if st != "0" or m is None or not m["verified"]]
status = statuses[bad[0]] if bad else "0"
row = [size, policy, status, str(len(logs)),
       f"{statistics.median(int(w) for w in walls):.0f}", str(max(int(d) for d in disks) // 1024)]
m = next((m for m in maps if m), None)
same = True
if m:
    ms = [x["build_ns"] / 1e6 for x in maps if x]
    # Every boot must build the same tables; only the time may differ.
    same = all((x["table_bytes"], x["leaf_counts"]) == (m["table_bytes"], m["leaf_counts"])
               for x in maps if x)
    leaves = ";".join(f"{short(l['size'])}={l['count']}" for l in m["leaf_counts"])
    row += [m["granule"], str(m["levels"]), str(m["table_bytes"]), str(m["min_table_bytes"]),
            leaves, f"{statistics.median(ms):.3f}", f"{min(ms):.3f}", f"{max(ms):.3f}",
            "yes" if all(x and x["verified"] for x in maps) else "NO"]
else:
    row += [""] * 9
err = ""
if bad or not same:
    i = bad[0] if bad else 0
    err = (runs[i].get("error", {}).get("msg")
           or ("timeout" if status == "124" else f"exit {status}" if status != "0"
               else "no verified map record" if bad else "boots built different tables"))
    sys.stderr.write(f"bench: {size} {policy} failed ({err}); last lines of {logs[i]}:\n")
    sys.stderr.writelines(open(logs[i], errors="replace").readlines()[-15:])
row.append(err.replace(",", ";"))
print(",".join(row))
sys.exit(1 if err else 0)
PY
}

run() { # size policy-word ("" = the stage's default)
    local size=$1 pol=$2 label=${2:-default} i log status t0 t1
    local logs=() statuses=() walls=() disks=()
    echo "== $size $label x $repeat" >&2
    for ((i = 1; i <= repeat; i++)); do
        log="$logdir/$size-$label-$i.log"
        rm -f "$ram"
        truncate -s "$size" "$ram"
        if [ "$(du -k "$ram" | cut -f1)" -ne 0 ]; then
            echo "bench: $ram is not sparse on this filesystem" >&2
            exit 1
        fi
        status=0
        t0=$(date +%s%N)
        timeout --foreground -k 5 "$per_boot" qemu-system-aarch64 \
            -M virt,highmem=on,memory-backend=m0 \
            -object "memory-backend-file,id=m0,size=$size,mem-path=$ram,share=on" \
            -m "$size" -cpu max \
            -semihosting-config enable=on,target=native \
            -display none -serial stdio -monitor none \
            -kernel "$img" -append "mode=info $pol" > "$log" 2>&1 || status=$?
        t1=$(date +%s%N)
        logs+=("$log")
        statuses+=("$status")
        walls+=($(( (t1 - t0) / 1000000 )))
        disks+=("$(du -k "$ram" | cut -f1)")
        rm -f "$ram"
        [ "$status" -eq 0 ] || break   # don't wait for a failure again
    done
    summarize "$size" "$label" "${statuses[*]}" "${walls[*]}" "${disks[*]}" "${logs[@]}" \
        >> "$rows" || failed=1
}

for size in $sizes; do
    run "$size" ""
    run "$size" "leaf=2m"
    if [ "$big_4k" = 1 ] || [ "$(bytes_of "$size")" -le $((16 << 30)) ]; then
        run "$size" "leaf=4k"
    fi
done

{
    echo "ram,policy,qemu_status,boots,wall_ms,disk_mib,granule,levels,table_bytes,min_table_bytes,leaf_counts,build_ms,build_ms_min,build_ms_max,verified,error"
    cat "$rows"
} > "$csv"
rm -f "$rows"

python3 - "$csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for r in rows:
    r["range"] = f"{r['build_ms_min']}-{r['build_ms_max']}" if r["build_ms"] else ""
cols = [("RAM", "ram"), ("policy", "policy"), ("granule", "granule"), ("lvls", "levels"),
        ("table_bytes", "table_bytes"), ("min_table_bytes", "min_table_bytes"),
        ("leaf counts", "leaf_counts"), ("build ms", "build_ms"), ("(min-max)", "range"),
        ("verified", "verified"), ("boots", "boots"), ("wall ms", "wall_ms"),
        ("disk MiB", "disk_mib"), ("error", "error")]
if not any(r["error"] for r in rows):
    cols.pop()
num = {"lvls", "table_bytes", "min_table_bytes", "build ms", "(min-max)", "boots", "wall ms", "disk MiB"}
cells = [[h for h, _ in cols]] + [[r[k].replace(";", " ") for _, k in cols] for r in rows]
w = [max(len(c[i]) for c in cells) for i in range(len(cols))]
for i, c in enumerate(cells):
    print("  ".join(x.rjust(w[j]) if cols[j][0] in num else x.ljust(w[j])
                    for j, x in enumerate(c)).rstrip())
    if i == 0:
        print("  ".join("-" * x for x in w))
PY
echo "csv: $csv"
exit "$failed"
