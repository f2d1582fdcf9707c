"""One table of scripts/gpu-check.sh's benchmark: moe-bench --device cuda's
CSV (moec) beside bench/peers/gpu_torch.py's (PyTorch's grouped_mm and
per-expert loop, and the limits measured in the same run).

For each shape and T: moec's median ms with min-max, TFLOP/s and share of
the measured dense bf16 matmul peak, at T <= 64 the GB/s of the touched
experts' weights and their share of the measured device-to-device
bandwidth; then each peer's median ms and moec's speed-up over it (peer
time / moec time, >1: moec faster).

  python3 gpu_report.py MOEC.csv PEERS.csv
"""
import csv
import sys


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    moec = {}
    try:
        with open(sys.argv[1]) as fh:
            for row in csv.DictReader(fh):
                moec[(row["shape"], int(row["T"]))] = row
    except OSError as e:
        print("gpu_report: no moec results (%s)" % e)
    peers, limits, notes = {}, {}, []
    impls = []
    try:
        with open(sys.argv[2]) as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                if line.startswith("#"):
                    notes.append(line)
                    continue
                f = line.split(",")
                if f[0] == "limit":
                    limits[f[1]] = float(f[2])
                    continue
                if f[0] not in impls:
                    impls.append(f[0])
                peers[(f[0], f[1], int(f[3]))] = float(f[4])
    except OSError as e:
        print("gpu_report: no PyTorch results (%s)" % e)
    if "bf16_matmul_gflops" in limits:
        print("limits: dense bf16 matmul %.0f TFLOP/s (cuBLAS, torch.matmul "
              "8192^3), device-to-device copy %.0f GB/s (read + written)" %
              (limits["bf16_matmul_gflops"] / 1000, limits["d2d_gbps"]))
    head = "%-14s %6s %22s %8s %6s %8s %6s" % (
        "shape", "T", "moec ms med (min-max)", "TFLOP/s", "%peak", "GB/s",
        "%bw")
    for impl in impls:
        head += " %12s %6s" % (impl.replace("torch-", "") + " ms", "x")
    print(head)
    keys = sorted(set(list(moec) + [(s, t) for (_, s, t) in peers]),
                  key=lambda k: (k[0], k[1]))
    for shape, T in keys:
        row = moec.get((shape, T))
        if row:
            med = float(row["ms_median"])
            line = "%-14s %6d %22s %8.1f %5.1f%% " % (
                shape, T, "%.3f (%.3f-%.3f)" % (med, float(row["ms_min"]),
                                                  float(row["ms_max"])),
                float(row["gflops"]) / 1000, float(row["peak_pct"]))
            gbps = float(row["gbps"])
            line += ("%8.0f %5.1f%%" % (gbps, float(row["bw_pct"]))
                     if gbps > 0 else "%8s %6s" % ("-", "-"))
        else:
            med = None
            line = "%-14s %6d %22s %8s %6s %8s %6s" % (shape, T, "-", "-", "-",
                                                       "-", "-")
        for impl in impls:
            t = peers.get((impl, shape, T))
            if t is None:
                line += " %12s %6s" % ("-", "-")
            else:
                line += " %12.3f %6s" % (t, "%.2f" % (t / med) if med else "-")
        print(line)
    for n in notes:
        print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
