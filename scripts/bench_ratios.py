#!/usr/bin/env python3
"""Prints every criterion result of the last run as throughput and as a ratio of the
baseline (`raw_ring`) measured in the same group and size.

Usage: python3 scripts/bench_ratios.py [target/criterion]
"""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
rows = {}
for est in root.glob("*/*/*/new/estimates.json"):
    group, func, size = est.parts[-5], est.parts[-4], est.parts[-3]
    bench = json.loads((est.parent / "benchmark.json").read_text())
    tp = bench.get("throughput") or {}
    nbytes = tp.get("Bytes") or tp.get("BytesDecimal")
    mean_ns = json.loads(est.read_text())["mean"]["point_estimate"]
    rows[(group, size, func)] = (mean_ns, nbytes)

def key(k):
    g, s, f = k
    return (g, int(s) if s.isdigit() else s, f != "raw_ring", f)

print(f"{'group':<8} {'size':>10} {'case':<28} {'time':>12} {'GB/s':>8} {'vs raw_ring':>11}")
for k in sorted(rows, key=key):
    g, s, f = k
    ns, nbytes = rows[k]
    base = rows.get((g, s, "raw_ring"))
    ratio = f"{base[0] / ns * 100:9.1f} %" if base else "-"
    gbs = f"{nbytes / ns:8.2f}" if nbytes else "-"
    t = f"{ns / 1000:9.2f} µs" if ns >= 1000 else f"{ns:9.1f} ns"
    print(f"{g:<8} {s:>10} {f:<28} {t:>12} {gbs:>8} {ratio:>11}")
