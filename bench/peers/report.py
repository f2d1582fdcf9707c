#!/usr/bin/python3
"""Joins moe-bench's CSVs and the peers' CSV rows into one table:
ms, GFLOP/s, % of the FMA peak (moec), activated-weight GB/s and % of the
DRAM read bandwidth (decode sizes), tokens/s, and moec's speed-up over
each peer (their time / moec's time; > 1 means moec is faster). With
several runs, each implementation's best median per shape and T is kept,
with % of peak against the FMA peak measured in that row's own run and %bw
against the highest DRAM read bandwidth any of the runs measured (a run
whose bandwidth probe met a busy neighbour would flatter the ratio).

  report.py --moec MOEC.csv... --peers PEERS.csv...
"""
import csv
import sys

SHAPES = {"qwen3-30b-a3b": (2048, 768, 128, 8),
          "olmoe": (2048, 1024, 64, 8),
          "mixtral-small": (1024, 3584, 8, 2)}


def main(moec_csvs, peers_csvs):
    best = {}
    machines = []
    for path in moec_csvs:
        for i, r in enumerate(csv.DictReader(open(path))):
            if i == 0:
                machines.append((r["peak_gflops"], r["dram_gbps"]))
            key = (r["shape"], int(r["T"]))
            if key not in best or float(r["ms_median"]) < float(best[key]["ms_median"]):
                best[key] = r
    rows = list(best.values())
    peers = {}
    for path in peers_csvs:
        for r in csv.reader(open(path)):
            if len(r) >= 7:
                key = (r[0], r[1], int(r[3]))
                peers[key] = min(peers.get(key, float("inf")), float(r[4]))
    names = sorted({k[0] for k in peers})
    top_dram = max([float(d) for _, d in machines] or [0.0])
    for i, (peak, dram) in enumerate(machines):
        print("machine (moec run %d): fp32 FMA peak %s GFLOP/s, DRAM read %s GB/s"
              % (i + 1, peak, dram))
    head = "%-14s %5s %10s %8s %6s %7s %6s %9s" % (
        "shape", "T", "moec ms", "GFLOP/s", "%peak", "GB/s", "%bw", "tokens/s")
    for n in names:
        head += " %10s %8s" % (n + " ms", "speed-up")
    print(head)
    for r in rows:
        T, ms = int(r["T"]), float(r["ms_median"])
        gbps = float(r.get("gbps") or 0)
        bw = ("%7.1f %5.1f%%" % (gbps, 100 * gbps / top_dram)
              if gbps > 0 and top_dram > 0 else "%7s %6s" % ("-", "-"))
        line = "%-14s %5d %10.3f %8.1f %5.1f%% %s %9.0f" % (
            r["shape"], T, ms, float(r["gflops"]), float(r["peak_pct"]), bw,
            T / (ms / 1000))
        for n in names:
            p = peers.get((n, r["shape"], T))
            line += (" %10.3f %7.2fx" % (p, p / ms)) if p else " %10s %8s" % ("-", "-")
        print(line)


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--moec" not in args or "--peers" not in args:
        sys.exit(__doc__)
    m, p = args.index("--moec"), args.index("--peers")
    moec = args[m + 1:p] if m < p else args[m + 1:]
    peer = args[p + 1:] if p > m else args[p + 1:m]
    main(moec, peer)
