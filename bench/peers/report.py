#!/usr/bin/python3
"""Joins moe-bench's CSV and the peers' CSV rows into one table:
ms, GFLOP/s, % of the FMA peak (moec), tokens/s, and moec's speed-up over
each peer (their time / moec's time; > 1 means moec is faster).

  report.py MOEC.csv PEERS.csv
"""
import csv
import sys

SHAPES = {"qwen3-30b-a3b": (2048, 768, 128, 8),
          "olmoe": (2048, 1024, 64, 8),
          "mixtral-small": (1024, 3584, 8, 2)}


def main(moec_csv, peers_csv):
    rows = list(csv.DictReader(open(moec_csv)))
    peers = {}
    for r in csv.reader(open(peers_csv)):
        if len(r) >= 7:
            peers[(r[0], r[1], int(r[3]))] = float(r[4])
    names = sorted({k[0] for k in peers})
    if rows:
        print("machine (this run): fp32 FMA peak %s GFLOP/s, DRAM read %s GB/s"
              % (rows[0]["fma_peak"], rows[0]["dram_gbps"]))
    head = "%-14s %5s %10s %8s %6s %9s" % ("shape", "T", "moec ms", "GFLOP/s",
                                           "%peak", "tokens/s")
    for n in names:
        head += " %10s %8s" % (n + " ms", "speed-up")
    print(head)
    for r in rows:
        T, ms = int(r["T"]), float(r["ms_median"])
        line = "%-14s %5d %10.3f %8.1f %5.1f%% %9.0f" % (
            r["shape"], T, ms, float(r["gflops"]), float(r["peak_pct"]),
            T / (ms / 1000))
        for n in names:
            p = peers.get((n, r["shape"], T))
            line += (" %10.3f %7.2fx" % (p, p / ms)) if p else " %10s %8s" % ("-", "-")
        print(line)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
