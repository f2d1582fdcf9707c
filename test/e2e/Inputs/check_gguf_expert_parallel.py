#!/usr/bin/python3
"""Checks expert parallelism on quantized GGUF layers whose ranks bind only
their experts' blocks.

For each case (a directory of make_gguf.py --quant: model.gguf and x.npy),
imports layer_0 (moe-compile --compile-to=moe), plans it for R ranks
(moe-plan-expert-parallelism; with --slots, that many slots per rank, so
that hot experts get replicas), compiles the plan and the unplanned layer
with the kernels named by each --variant ("f32": decoding in registers;
"int8": --int8-dot), runs the plan under mpirun and the layer in one
process on the same tokens, and compares: relative L2 at most
--tolerance. The planned artifact's metadata must give every expert
weight the rank's slots only: [slots, ...] with "expert_slots".

Prints one line per run ("qwen3moe_q4_k_m R=2 int8: relative L2 0.000e+00;
blk.0.ffn_gate_exps.weight q4_k holds 3 of 6 experts") and "N runs agree, M failed"; exits 1 on any
failure.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys

import numpy as np

def metadata(so):
    """The artifact's metadata document (the JSON moe-compile embeds)."""
    with open(so, "rb") as fh:
        data = fh.read()
    start = data.index(b'{"format": "moec-artifact"')
    depth, i = 0, start
    while True:
        c = data[i:i + 1]
        if c == b'"':
            i += 1
            while data[i:i + 1] != b'"':
                i += 2 if data[i:i + 1] == b"\\" else 1
        elif c == b"{":
            depth += 1
        elif c == b"}":
            depth -= 1
            if depth == 0:
                return json.loads(data[start:i + 1])
        i += 1


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (
            " ".join(cmd[:3]), p.returncode, (p.stderr or p.stdout)[-800:]))
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moe-run", required=True,
                    help="moe-run; moe-opt and moe-compile are beside it")
    ap.add_argument("--mpirun", required=True)
    ap.add_argument("--dir", required=True, help="make_gguf.py --quant's")
    ap.add_argument("--case", action="append", required=True,
                    help="CASE:R[:SLOTS], repeatable")
    ap.add_argument("--variant", action="append", default=[],
                    choices=["f32", "int8"])
    ap.add_argument("--tolerance", type=float, default=1e-6)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    bindir = os.path.dirname(os.path.abspath(a.moe_run))
    tool = lambda n: os.path.join(bindir, n)
    os.makedirs(a.out, exist_ok=True)
    agree = failed = 0
    for spec in a.case:
        name, ranks, *slots = spec.split(":")
        src = os.path.join(a.dir, name)
        gguf, x = os.path.join(src, "model.gguf"), os.path.join(src, "x.npy")
        tag = "%s R=%s" % (name, ranks)
        work = os.path.join(a.out, "%s.R%s" % (name, ranks))
        os.makedirs(work, exist_ok=True)
        for variant in a.variant or ["f32"]:
            label = "%s %s" % (tag, variant)
            try:
                flags = ["--int8-dot"] if variant == "int8" else []
                layer = os.path.join(work, "layer.mlir")
                run([tool("moe-compile"), gguf, "--compile-to=moe", "-o",
                     layer])
                opts = "ranks=%s" % ranks
                if slots:
                    opts += " slots-per-rank=%s" % slots[0]
                planned = os.path.join(work, "planned.mlir")
                run([tool("moe-opt"), layer,
                     "--moe-plan-expert-parallelism=" + opts, "-o", planned])
                one = os.path.join(work, "one.%s.so" % variant)
                ep = os.path.join(work, "ep.%s.so" % variant)
                for mlir, so in ((layer, one), (planned, ep)):
                    run([tool("moe-compile"), mlir, "-o", so, "--weights",
                         gguf] + flags)
                # Every expert weight holds the rank's slots only.
                fn = metadata(ep)["functions"][0]
                held = [arg for arg in fn["arguments"]
                        if "expert_slots" in arg]
                if not held:
                    raise RuntimeError("no argument has expert_slots")
                for arg in held:
                    s = arg["expert_slots"]
                    if arg["shape"][0] != s["slots_per_rank"]:
                        raise RuntimeError("%s: shape %s for %d slots" % (
                            arg["name"], arg["shape"], s["slots_per_rank"]))
                first = held[0]
                y1 = os.path.join(work, "y1.%s.npy" % variant)
                yr = os.path.join(work, "yr.%s.npy" % variant)
                run([tool("moe-run"), one, "--input", "hidden_states=" + x,
                     "--output", y1, "--threads", "1"])
                run(shlex.split(a.mpirun) + [
                    "-np", ranks, tool("moe-run"), ep, "--input",
                    "hidden_states=" + x, "--output", yr, "--threads", "1",
                    "--ep-timeout", "60"])
                ref = np.load(y1).astype(np.float64)
                got = np.load(yr).astype(np.float64)
                err = np.linalg.norm(got - ref) / np.linalg.norm(ref)
                ok = err <= a.tolerance
                agree += ok
                failed += not ok
                print("%s: relative L2 %.3e%s; %s %s holds %d of %d "
                      "experts" % (label, err, "" if ok else " FAILED",
                                   first["name"], first["dtype"],
                                   first["shape"][0],
                                   first["expert_slots"]["experts"]))
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
                failed += 1
                print("%s: FAILED: %s" % (label, e))
    print("%d runs agree, %d failed" % (agree, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
