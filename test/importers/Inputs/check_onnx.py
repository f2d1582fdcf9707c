#!/usr/bin/python3
"""Compiles each model of make_onnx.py with moe-compile, runs it with
moe-run on the same inputs ONNX Runtime got (run_graph.py), and compares
with ONNX Runtime's output (relative L2). Prints a line per case and
"all N models agree with ONNX Runtime" for FileCheck.
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
    p.add_argument("--cases", nargs="*",
                   help="only these cases (default: all)")
    p.add_argument("--compile-arg", action="append", default=[],
                   help="an extra moe-compile argument (repeatable)")
    p.add_argument("--tolerance", type=float,
                   help="relative L2 tolerance for every case")
    a = p.parse_args()
    with open(os.path.join(a.dir, "cases.json")) as fh:
        cases = json.load(fh)
    if a.cases:
        missing = set(a.cases) - {c["case"] for c in cases}
        if missing:
            p.error("no such cases: " + ", ".join(sorted(missing)))
        cases = [c for c in cases if c["case"] in a.cases]
    if a.tolerance is not None:
        for c in cases:
            c["tolerance"] = a.tolerance
    failures = []
    for c in cases:
        d = os.path.join(a.dir, c["case"])
        so = os.path.join(d, "model.so")
        r = subprocess.run([a.moe_compile, os.path.join(d, "model.onnx"), "-o",
                            so] + a.compile_arg,
                           capture_output=True, text=True)
        if r.returncode:
            failures.append("%s: moe-compile: %s" % (c["case"], r.stderr))
            continue
        cmd = [a.moe_run, so, "--output", os.path.join(d, "moec_out.npy")]
        for name in c["inputs"]:
            cmd += ["--input", "%s=%s" % (name, os.path.join(d, name + ".npy"))]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            failures.append("%s: moe-run: %s" % (c["case"], r.stderr))
            continue
        got = np.load(os.path.join(d, "moec_out.npy")).astype(np.float64)
        want = np.load(os.path.join(d, "ort_out.npy")).astype(np.float64)
        err = (np.linalg.norm(got - want) / np.linalg.norm(want)
               if got.shape == want.shape and np.linalg.norm(want) > 0
               else float("inf"))
        ok = err <= c["tolerance"]
        print("%s rel_l2=%.3e tol=%.0e %s" % (c["case"], err, c["tolerance"],
                                             "ok" if ok else "MISMATCH"))
        if not ok:
            failures.append("%s: relative L2 %.3e, shapes %s vs %s"
                            % (c["case"], err, got.shape, want.shape))
    if failures:
        print("%d FAILED" % len(failures))
        print("\n".join(failures))
        return 1
    print("all %d models agree with ONNX Runtime" % len(cases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
