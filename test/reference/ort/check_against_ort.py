#!/usr/bin/env python3
"""Checks moe-reference (the float64 reference evaluator) against ONNX
Runtime's com.microsoft.MoE on random cases.

    check_against_ort.py --moe-reference PATH --cases N --seed S
                         --workdir DIR [--tolerance 1e-5] [--sizes small|large]
                         [--perturb]

Steps: make_cases.py writes N cases into DIR; ONNX Runtime (the onnxruntime
Python wheel, CPU, 1 thread) runs each case's model in this process and
writes its output as CASEDIR/ort_out.npy; moe-reference runs once per case
with --dtype f64. Per case it prints the relative L2 error
||ref - ort|| / ||ort|| (float64), then "N/N cases agree within TOL".
The exit status is 1 when any case disagrees, any tool fails, or an ORT output
looks degenerate (non-finite, mostly zeros or tiny), so that a broken runtime
cannot make the check pass.

--perturb adds Gaussian noise of relative L2 size 1e-3 to every reference
output; it exists to show that the checker can fail.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MIN_RMS = 1e-3          # an ORT output with a smaller RMS counts as broken
MAX_ZERO_FRACTION = 0.5  # ... and so does one that is mostly exact zeros
PERTURBATION = 1e-3


def fail(msg):
    print("error: " + msg, flush=True)
    sys.exit(1)


def run(cmd, what, env=None):
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True,
                              env=env)
    except OSError as e:
        return None, "%s could not be started: %s: %s" % (what, cmd[0], e)
    if proc.returncode != 0:
        msg = "%s failed (exit %d): %s\n%s%s" % (
            what, proc.returncode, " ".join(cmd), proc.stdout, proc.stderr)
        return proc, msg.rstrip()
    return proc, None


def ort_output_problem(ort):
    if not np.all(np.isfinite(ort)):
        return "ORT output has non-finite values"
    if ort.size == 0:
        return "ORT output is empty"
    zeros = float(np.mean(ort == 0.0))
    if zeros > MAX_ZERO_FRACTION:
        return "ORT output is %.0f%% exact zeros" % (100 * zeros)
    rms = float(np.sqrt(np.mean(np.square(ort))))
    if rms < MIN_RMS:
        return "ORT output RMS %.3g is below %g" % (rms, MIN_RMS)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--moe-reference", required=True)
    ap.add_argument("--cases", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--tolerance", type=float, default=1e-5)
    ap.add_argument("--sizes", choices=["small", "large"], default="small")
    ap.add_argument("--perturb", action="store_true",
                    help="add 1e-3 relative noise to the reference outputs")
    args = ap.parse_args()

    sys.dont_write_bytecode = True  # keep the source tree clean
    sys.path.insert(0, HERE)
    import make_cases  # noqa: E402  (same directory)
    import ort_session  # noqa: E402

    t0 = time.time()
    _, err = run([sys.executable, os.path.join(HERE, "make_cases.py"),
                  args.workdir, "--count", str(args.cases), "--seed",
                  str(args.seed), "--sizes", args.sizes], "make_cases.py")
    if err:
        fail(err)
    names = make_cases.case_names(args.cases)
    dirs = [os.path.join(args.workdir, n) for n in names]

    t1 = time.time()
    for name, cdir in zip(names, dirs):
        try:
            feeds = {n: np.load(os.path.join(cdir, n + ".npy"))
                     for n in ("input", "router_probs")}
            out = ort_session.run_first_output(
                os.path.join(cdir, "model.onnx"), feeds)
        except Exception as e:  # any ORT failure is fatal and names the case
            with open(os.path.join(cdir, "case.txt")) as fh:
                desc = fh.read().strip()
            fail("ONNX Runtime failed on %s (%s): %s" % (name, desc, e))
        np.save(os.path.join(cdir, "ort_out.npy"), out)
    print("onnxruntime %s: ran %d cases" % (ort_session.version(), len(dirs)),
          flush=True)
    t_ort = time.time() - t1

    t_ref = 0.0
    ok = bad = broken = 0
    worst = 0.0
    noise_rng = np.random.default_rng(args.seed)
    for name, cdir in zip(names, dirs):
        with open(os.path.join(cdir, "meta.json")) as fh:
            meta = json.load(fh)
        desc = meta["description"]
        ort = np.load(os.path.join(cdir, "ort_out.npy")).astype(np.float64)
        if list(ort.shape) != meta["in_shape"]:
            print("%s: ORT output shape %s, expected %s BROKEN" %
                  (desc, list(ort.shape), meta["in_shape"]))
            broken += 1
            continue
        problem = ort_output_problem(ort)
        if problem:
            print("%s: %s BROKEN" % (desc, problem))
            broken += 1
            continue

        out = os.path.join(cdir, "ref_out.npy")
        cmd = [args.moe_reference, "--config",
               os.path.join(cdir, "config.json")]
        for role in meta["roles"]:
            cmd += ["--input", "%s=%s" % (role,
                                          os.path.join(cdir, role + ".npy"))]
        cmd += ["-o", out, "--dtype", "f64"]
        t2 = time.time()
        _, err = run(cmd, "moe-reference on " + name)
        t_ref += time.time() - t2
        if err:
            print("%s: %s BROKEN" % (desc, err))
            broken += 1
            continue
        ref = np.load(out)
        if ref.dtype != np.float64:
            print("%s: moe-reference wrote %s, expected float64 BROKEN" %
                  (desc, ref.dtype))
            broken += 1
            continue
        T, d = meta["T"], meta["d"]
        if list(ref.shape) != [T, d]:
            print("%s: moe-reference output shape %s, expected %s BROKEN" %
                  (desc, list(ref.shape), [T, d]))
            broken += 1
            continue
        if args.perturb:
            noise = noise_rng.standard_normal(ref.shape)
            ref = ref + noise * (PERTURBATION * np.linalg.norm(ref) /
                                 np.linalg.norm(noise))
        ort = ort.reshape(T, d)
        rel = float(np.linalg.norm(ref - ort) / np.linalg.norm(ort))
        if not np.isfinite(rel):
            rel = float("inf")
        worst = max(worst, rel)
        if rel <= args.tolerance:
            ok += 1
            verdict = "ok"
        else:
            bad += 1
            verdict = "MISMATCH (tolerance %g)" % args.tolerance
        print("%s: rel_l2=%.1e %s" % (desc, rel, verdict), flush=True)

    n = len(names)
    print("max rel_l2 %.2e; make_cases %.1f s, ORT %.1f s, moe-reference "
          "%.1f s" % (worst, t1 - t0, t_ort, t_ref))
    if ok == n:
        print("%d/%d cases agree within %g" % (ok, n, args.tolerance))
        return 0
    print("FAIL: %d/%d cases agree within %g (%d disagree, %d broken)" %
          (ok, n, args.tolerance, bad, broken))
    return 1


if __name__ == "__main__":
    sys.exit(main())
