#!/usr/bin/python3
"""Runs every case of make_cases.py through moe-run --verify.

Prints one line per case and token count, and a summary line
"all N runs within tolerance" (or the failures) for FileCheck.
"""
import argparse
import json
import os
import re
import subprocess
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--moe-run", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--artifact", default="cases.so")
    p.add_argument("--threads", default="0")
    p.add_argument("--min-tolerance", type=float, default=0.0,
                   help="raise every case's tolerance to at least this")
    a = p.parse_args()
    with open(os.path.join(a.dir, "cases.json")) as fh:
        cases = json.load(fh)
    runs, failures, worst = 0, [], {}
    for case in cases:
        case["tolerance"] = max(case["tolerance"], a.min_tolerance)
        for run in case["inputs"]:
            cmd = [a.moe_run, os.path.join(a.dir, a.artifact), "--function",
                   case["name"], "--verify", "--threads", a.threads,
                   "--tolerance", str(case["tolerance"])]
            for name, path in run["files"].items():
                cmd += ["--input", "%s=%s" % (name, path)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            runs += 1
            m = re.search(r"relative L2 error ([0-9.e+-]+)", proc.stdout)
            err = float(m.group(1)) if m else float("nan")
            status = "ok" if proc.returncode == 0 else "FAILED"
            print("%s T=%d rel_l2=%.3e tol=%.0e %s"
                  % (case["name"], run["tokens"], err, case["tolerance"],
                     status))
            if proc.returncode != 0:
                failures.append("%s T=%d: %s%s" % (case["name"], run["tokens"],
                                                   proc.stdout, proc.stderr))
            worst[case["tolerance"]] = max(worst.get(case["tolerance"], 0), err)
    for tol, err in sorted(worst.items()):
        print("worst relative L2 at tolerance %.0e: %.3e" % (tol, err))
    if failures:
        print("%d of %d runs FAILED" % (len(failures), runs))
        for f in failures:
            print(f)
        return 1
    print("all %d runs within tolerance" % runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
