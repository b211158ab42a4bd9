#!/usr/bin/env python3
"""Host report for mmu-reloc benchmark runs.

Reads the stage's console output (one or more boots, from files or stdin),
keeps the `{"record":...}` lines, and writes into OUTDIR:

  results.csv   one row per measured run (`result` records)
  summary.csv   one row per configuration over every run read: n, median,
                min, max, mean and stddev of ns; cycles and instructions per
                page (median); MiB/s at the median
  report.json   the same summary as JSON
  report.svg    median time per configuration, with min-max whiskers

and prints the summary table. Only the standard library is used.

  cargo run --release -- -append "trials=5" | tee run.log
  python3 scripts/report.py --out target/report run.log
"""

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

RESULT_FIELDS = [
    "strategy", "copy", "mmu", "src_layout", "granule", "leaf", "table_bytes",
    "bytes", "pages", "segments", "trial", "ns", "cycles", "insns", "verified",
    "guard_bytes_checked",
]


def records(lines):
    for line in lines:
        line = line.strip()
        if line.startswith('{"record"'):
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by the console is not a record


def config_key(r):
    return (r["strategy"], r["copy"], "off" if not r["mmu"] else f'{r["granule"]}/{r["leaf"]}')


def summarize(results):
    groups = {}
    for r in results:
        groups.setdefault(config_key(r), []).append(r)
    rows = []
    for key, rs in groups.items():
        ns = [r["ns"] for r in rs]
        pages = max(rs[0]["pages"], 1)
        med = statistics.median(ns)

        def per_page(field):
            vals = [r[field] for r in rs if r.get(field) is not None]
            return round(statistics.median(vals) / pages) if vals else None

        rows.append({
            "strategy": key[0], "copy": key[1], "map": key[2], "n": len(ns),
            "median_ns": med, "min_ns": min(ns), "max_ns": max(ns),
            "mean_ns": statistics.fmean(ns),
            "stddev_ns": statistics.stdev(ns) if len(ns) > 1 else 0.0,
            "mib_per_s": rs[0]["bytes"] / 2**20 / (med / 1e9) if med else 0.0,
            "cycles_per_page": per_page("cycles"),
            "insns_per_page": per_page("insns"),
            "verified": all(r["verified"] for r in rs),
        })
    return rows


def svg(rows, path):
    width, bar_h, gap, left = 760, 18, 8, 260
    top = 30
    height = top + len(rows) * (bar_h + gap) + 30
    scale = (width - left - 40) / max((r["max_ns"] for r in rows), default=1)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="{left}" y="18">median time per configuration (ms), whiskers min-max</text>',
    ]
    for i, r in enumerate(rows):
        y = top + i * (bar_h + gap)
        label = f'{r["strategy"]} {r["copy"]} {r["map"]}'
        w = r["median_ns"] * scale
        lo, hi = left + r["min_ns"] * scale, left + r["max_ns"] * scale
        mid = y + bar_h / 2
        out += [
            f'<text x="{left - 8}" y="{mid + 4}" text-anchor="end">{label}</text>',
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="#4a7fb5"/>',
            f'<line x1="{lo:.1f}" y1="{mid}" x2="{hi:.1f}" y2="{mid}" stroke="black"/>',
            f'<text x="{left + w + 4:.1f}" y="{mid + 4}">{r["median_ns"] / 1e6:.3f}</text>',
        ]
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("logs", nargs="*", help="console logs (default: stdin)")
    ap.add_argument("--out", default="target/report", help="output directory")
    args = ap.parse_args()

    lines = []
    for name in args.logs or ["-"]:
        lines += (sys.stdin if name == "-" else open(name, encoding="utf-8", errors="replace")).readlines()
    recs = list(records(lines))
    results = [r for r in recs if r["record"] == "result"]
    errors = [r for r in recs if r["record"] == "error"]
    if not results:
        print("report: no result records found", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    with open(out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=RESULT_FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(results)
    rows = summarize(results)
    with open(out / "summary.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (out / "report.json").write_text(json.dumps({"summary": rows, "errors": errors}, indent=1) + "\n")
    svg(rows, out / "report.svg")

    print(f'{"strategy":<11} {"copy":<9} {"map":<8} {"n":>3} {"median ms":>10} {"min ms":>9} '
          f'{"max ms":>9} {"MiB/s":>8} {"insns/page":>10} verified')
    for r in rows:
        ipp = "-" if r["insns_per_page"] is None else str(r["insns_per_page"])
        print(f'{r["strategy"]:<11} {r["copy"]:<9} {r["map"]:<8} {r["n"]:>3} '
              f'{r["median_ns"] / 1e6:>10.3f} {r["min_ns"] / 1e6:>9.3f} {r["max_ns"] / 1e6:>9.3f} '
              f'{r["mib_per_s"]:>8.1f} {ipp:>10} {"yes" if r["verified"] else "NO"}')
    for e in errors:
        print(f'error in a run: {e.get("msg")}', file=sys.stderr)
    print(f"report: {len(results)} runs -> {out}/results.csv, summary.csv, report.json, report.svg")
    return 0 if not errors and all(r["verified"] for r in rows) else 2


if __name__ == "__main__":
    sys.exit(main())
