#!/usr/bin/python3
"""Compiles every checkpoint of make_checkpoints.py (or GGUF model of
make_gguf.py) with moe-compile, runs
each MoE layer with moe-run on the [2, 5, H] input, and compares the output
with the expected one (relative L2). Prints a line per layer and a summary
"all N layers within tolerance" for FileCheck.

--compile-arg ARG (repeatable) passes ARG to moe-compile. --int8 checks
moe-compile --int8-dot's outputs (give it --compile-arg=--int8-dot):
against expected_int8.layer_N.npy at the case's int8_tolerance
(make_gguf.py --quant; a case without one, where no projection takes
int8 rows, is skipped), writing <case>_int8.so and out_int8.layer_N.npy
beside the plain run's files; each line also gives the relative L2 error
against expected.layer_N.npy, the reference without the int8 rounding of
the inputs, as f32_inputs_rel_l2, which must be over 10 times the
tolerance (else the check could not tell the two apart). --cases NAME...
checks only those cases.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np


def rel_l2(got, want):
    if got.shape != want.shape:
        return float("inf")
    return np.linalg.norm(got - want) / np.linalg.norm(want)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--moe-compile", required=True)
    p.add_argument("--moe-run", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--compile-arg", action="append", default=[],
                   help="an argument for moe-compile (repeatable)")
    p.add_argument("--int8", action="store_true",
                   help="compare with expected_int8.* at int8_tolerance")
    p.add_argument("--cases", nargs="+",
                   help="only these cases (default: all of cases.json)")
    a = p.parse_args()
    with open(os.path.join(a.dir, "cases.json")) as f:
        cases = json.load(f)
    if a.cases:
        unknown = set(a.cases) - {c["case"] for c in cases}
        if unknown:
            sys.exit("unknown cases: " + ", ".join(sorted(unknown)))
        cases = [c for c in cases if c["case"] in a.cases]
    suffix = "_int8" if a.int8 else ""
    expected = "expected_int8" if a.int8 else "expected"
    failures, runs = [], 0
    for case in cases:
        d = os.path.join(a.dir, case["case"])
        artifact = d + suffix + ".so"
        if a.int8 and "int8_tolerance" not in case:
            # No projection of the case takes int8 rows.
            print("%s: no int8 rows, skipped" % case["case"])
            continue
        tolerance = case["int8_tolerance" if a.int8 else "tolerance"]
        # The model: the case's directory (a checkpoint), or a file in it.
        model = os.path.join(d, case["model"]) if "model" in case else d
        r = subprocess.run([a.moe_compile, model, "-o", artifact] + a.compile_arg,
                           capture_output=True, text=True)
        if r.returncode:
            failures.append("%s: moe-compile failed: %s" % (case["case"], r.stderr))
            continue
        for n in case["layers"]:
            runs += 1
            out = os.path.join(d, "out%s.layer_%d.npy" % (suffix, n))
            r = subprocess.run([a.moe_run, artifact, "--function", "layer_%d" % n,
                                "--input", "hidden_states=" + os.path.join(d, "x.npy"),
                                "--output", out], capture_output=True, text=True)
            if r.returncode:
                failures.append("%s layer %d: moe-run failed: %s"
                                % (case["case"], n, r.stderr))
                continue
            got = np.load(out).astype(np.float64)
            err = rel_l2(got, np.load(os.path.join(d, "%s.layer_%d.npy" % (expected, n))))
            wrong = [] if err <= tolerance else ["relative L2 %.3e" % err]
            extra = ""
            if a.int8:
                plain = rel_l2(got, np.load(os.path.join(d, "expected.layer_%d.npy" % n)))
                extra = " f32_inputs_rel_l2=%.3e" % plain
                # The two references far apart at this tolerance: the
                # check tells the int8 rounding from none.
                if not plain > 10 * tolerance:
                    wrong.append("within 10 tolerances of the f32 inputs' "
                                 "reference too (%.3e)" % plain)
            print("%s layer_%d rel_l2=%.3e tol=%.0e%s %s"
                  % (case["case"], n, err, tolerance, extra,
                     "FAILED" if wrong else "ok"))
            if wrong:
                failures.append("%s layer %d: %s" % (case["case"], n, "; ".join(wrong)))
    if failures:
        print("%d FAILED" % len(failures))
        print("\n".join(failures))
        return 1
    print("all %d layers within tolerance" % runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
