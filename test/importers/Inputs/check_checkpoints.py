#!/usr/bin/python3
"""Compiles every checkpoint of make_checkpoints.py (or GGUF model of
make_gguf.py) with moe-compile, runs
each MoE layer with moe-run on the [2, 5, H] input, and compares the output
with the expected one (relative L2). Prints a line per layer and a summary
"all N layers within tolerance" for FileCheck.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--moe-compile", required=True)
    p.add_argument("--moe-run", required=True)
    p.add_argument("--dir", required=True)
    a = p.parse_args()
    with open(os.path.join(a.dir, "cases.json")) as f:
        cases = json.load(f)
    failures, runs = [], 0
    for case in cases:
        d = os.path.join(a.dir, case["case"])
        artifact = d + ".so"
        # The model: the case's directory (a checkpoint), or a file in it.
        model = os.path.join(d, case["model"]) if "model" in case else d
        r = subprocess.run([a.moe_compile, model, "-o", artifact],
                           capture_output=True, text=True)
        if r.returncode:
            failures.append("%s: moe-compile failed: %s" % (case["case"], r.stderr))
            continue
        for n in case["layers"]:
            runs += 1
            out = os.path.join(d, "out.layer_%d.npy" % n)
            r = subprocess.run([a.moe_run, artifact, "--function", "layer_%d" % n,
                                "--input", "hidden_states=" + os.path.join(d, "x.npy"),
                                "--output", out], capture_output=True, text=True)
            if r.returncode:
                failures.append("%s layer %d: moe-run failed: %s"
                                % (case["case"], n, r.stderr))
                continue
            got = np.load(out).astype(np.float64)
            want = np.load(os.path.join(d, "expected.layer_%d.npy" % n))
            err = (np.linalg.norm(got - want) / np.linalg.norm(want)
                   if got.shape == want.shape else float("inf"))
            ok = err <= case["tolerance"]
            print("%s layer_%d rel_l2=%.3e tol=%.0e %s"
                  % (case["case"], n, err, case["tolerance"], "ok" if ok else "FAILED"))
            if not ok:
                failures.append("%s layer %d: relative L2 %.3e" % (case["case"], n, err))
    if failures:
        print("%d FAILED" % len(failures))
        print("\n".join(failures))
        return 1
    print("all %d layers within tolerance" % runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
