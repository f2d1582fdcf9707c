"""Joins moe-bench's CSVs and the peers' CSV rows into one table per weight
dtype (f32, bf16, then the ggml quantized types q4_0, q8_0, q4_k, q6_k,
and moec's blocks of QMoE's weights, u4z and u8z),
rows joined by (shape, dtype, T): moec's ms, GFLOP/s, % of the peak
moe-bench quotes for that dtype (fp32 FMA for the quantized ones too),
activated-weight GB/s and % of the DRAM read bandwidth (decode sizes),
tokens/s, then for each peer its ms and moec's speed-up over it (peer
time / moec time; > 1 means moec is faster). With several runs, each
implementation's best median per shape, dtype and T is kept, with % of
peak against the peak measured in that row's own run and %bw against the
highest DRAM read bandwidth any of the runs measured (a run whose
bandwidth probe met a busy neighbour would flatter the ratio). Lines of
the peers' CSVs that start with "#" (versions, defaults, skips) are
printed once each under the tables; those that start with "# DTYPE:"
(e.g. "# q4_0: ...") under that dtype's table.

  report.py --moec MOEC.csv... --peers PEERS.csv...
"""
import csv
import sys

SHAPES = ["qwen3-30b-a3b", "olmoe", "mixtral-small"]
DTYPES = ["f32", "bf16", "q4_0", "q8_0", "q4_k", "q5_k", "q6_k", "q3_k", "q2_k",
          "iq4_xs", "u4z", "u8z"]


def order(key):
    shape, dtype, T = key
    return (DTYPES.index(dtype) if dtype in DTYPES else len(DTYPES), dtype,
            SHAPES.index(shape) if shape in SHAPES else len(SHAPES), shape, T)


def peer_order(name, hf_default):
    # ONNX Runtime first (MoE, then QMoE), then llama.cpp, then
    # transformers' default experts implementation, then its others by name.
    rank = {"ort": 0, "llama.cpp": 2}
    return (rank.get(name, 1 if name.startswith("ort-") else
                     3 if name == hf_default else 4), name)


def main(moec_csvs, peers_csvs):
    best, machines = {}, []
    # The limits a share is quoted against: the best any probe read in any
    # run, or a kernel's own rate where it ran faster (moe-bench raises its
    # limits to that too), so no share exceeds 100%.
    top_peak, top_dram = {}, 0.0
    for path in moec_csvs:
        for i, r in enumerate(csv.DictReader(open(path))):
            if i == 0:
                machines.append((r["dtype"], path, r["peak_gflops"],
                                 r["dram_gbps"]))
            top_peak[r["dtype"]] = max(top_peak.get(r["dtype"], 0.0),
                                       float(r["peak_gflops"]),
                                       float(r["gflops"]))
            top_dram = max(top_dram, float(r["dram_gbps"]),
                           float(r.get("gbps") or 0))
            key = (r["shape"], r["dtype"], int(r["T"]))
            if key not in best or float(r["ms_median"]) < float(best[key]["ms_median"]):
                best[key] = r
    peers, notes = {}, []
    for path in peers_csvs:
        for line in open(path):
            if line.startswith("#"):
                if line.strip() not in notes:
                    notes.append(line.strip())
                continue
            r = next(csv.reader([line]))
            if len(r) >= 7:
                key = (r[0], r[1], r[2], int(r[3]))
                peers[key] = min(peers.get(key, float("inf")), float(r[4]))
    # hf_moe.py's note names transformers' default experts implementation.
    defaults = {n.split("default picked: ", 1)[1].strip()
                for n in notes if "default picked: " in n}
    hf_default = "hf-" + defaults.pop() if len(defaults) == 1 else None
    keys = set(best) | {k[1:] for k in peers}
    for dtype in sorted({k[1] for k in keys}, key=lambda d: order(("", d, 0))):
        print("\n== %s weights ==" % dtype)
        runs = [m for m in machines if m[0] == dtype]
        for i, (_, path, peak, dram) in enumerate(runs):
            what = ("fp32 FMA peak" if dtype == "f32" or dtype.startswith(("q", "iq", "u")) else
                    "peak (bf16 dot product where the CPU has one, else fp32 FMA)")
            print("machine (moec %s run %d, %s): %s %s GFLOP/s, DRAM read %s GB/s"
                  % (dtype, i + 1, path.rsplit("/", 1)[-1], what, peak, dram))
        if runs:
            print("shares below are of the best of all runs: %.0f GFLOP/s, "
                  "%.1f GB/s" % (top_peak[dtype], top_dram))
        if not runs:
            print("(no moec %s run; peers only)" % dtype)
        names = sorted({k[0] for k in peers if k[2] == dtype},
                       key=lambda n: peer_order(n, hf_default))
        widths = [max(10, len(n) + 3) for n in names]
        head = "%-14s %5s %10s %8s %6s %7s %6s %9s" % (
            "shape", "T", "moec ms", "GFLOP/s", "%peak", "GB/s", "%bw",
            "tokens/s")
        for n, w in zip(names, widths):
            head += " %*s %8s" % (w, n + " ms", "speed-up")
        print(head)
        for key in sorted((k for k in keys if k[1] == dtype), key=order):
            shape, _, T = key
            r = best.get(key)
            ms = float(r["ms_median"]) if r else None
            if r:
                gbps = float(r.get("gbps") or 0)
                bw = ("%7.1f %5.1f%%" % (gbps, 100 * gbps / top_dram)
                      if gbps > 0 and top_dram > 0 else "%7s %6s" % ("-", "-"))
                line = "%-14s %5d %10.3f %8.1f %5.1f%% %s %9.0f" % (
                    shape, T, ms, float(r["gflops"]),
                    100 * float(r["gflops"]) / top_peak[r["dtype"]], bw,
                    T / (ms / 1000))
            else:
                line = "%-14s %5d %10s %8s %6s %7s %6s %9s" % (
                    shape, T, "-", "-", "-", "-", "-", "-")
            for n, w in zip(names, widths):
                p = peers.get((n,) + key)
                if p and ms:
                    line += " %*.3f %7.2fx" % (w, p, p / ms)
                elif p:
                    line += " %*.3f %8s" % (w, p, "-")
                else:
                    line += " %*s %8s" % (w, "-", "-")
            print(line)
        if hf_default in names:
            print("(%s is transformers' default experts implementation)"
                  % hf_default)
        for n in notes:
            if n.startswith("# %s: " % dtype):
                print(n[2:])
    rest = [n for n in notes
            if not any(n.startswith("# %s: " % d) for d in {k[1] for k in keys})]
    if rest:
        print()
        for n in rest:
            print(n)


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--moec" not in args or "--peers" not in args:
        sys.exit(__doc__)
    m, p = args.index("--moec"), args.index("--peers")
    moec = args[m + 1:p] if m < p else args[m + 1:]
    peer = args[p + 1:] if p > m else args[p + 1:m]
    main(moec, peer)
