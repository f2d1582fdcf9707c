#!/usr/bin/python3
"""Checks moe-run --record-routing against an independent NumPy routing.

For each case of test/e2e/Inputs/make_cases.py written into --dir (f32
weights), runs the compiled layer at each token count with
--record-routing --record-coselection and compares the recorded calls,
tokens, per-expert counts and co-selection counts with the experts that
moe_case.route (a float64 transcription of the routing semantics) selects.
A draw with a near tie (where f32 and float64 may pick different experts)
is reported and not compared. Prints one line per run, then "N runs agree".
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "examples"))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e", "Inputs"))
import make_cases  # noqa: E402
import moe_case  # noqa: E402
import safetensors_np  # noqa: E402


def routing_config(case):
    """The case's #moe.routing as moe_case's config dictionary."""
    r = {"k": case["k"]}
    for item in filter(None, (s.strip() for s in case["routing"].split(","))):
        key, value = (s.strip() for s in item.split("="))
        if value in ("true", "false"):
            r[key] = value == "true"
        else:
            try:
                r[key] = float(value) if "." in value else int(value)
            except ValueError:
                r[key] = value
    return {"routing": r}


def expected(case, ops, T):
    idx, _, ok = moe_case.route(routing_config(case), ops, T, case["E"])
    E = case["E"]
    counts = np.bincount(idx.reshape(-1), minlength=E)
    pairs = np.zeros((E, E), dtype=np.int64)
    for row in idx:
        for a in row:
            for b in row:
                if a != b:
                    pairs[a, b] += 1
    return counts, pairs, ok


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--moe-run", required=True)
    p.add_argument("--dir", required=True)
    a = p.parse_args()
    weights = safetensors_np.load(os.path.join(a.dir, "cases.safetensors"))
    with open(os.path.join(a.dir, "cases.json")) as fh:
        index = {c["name"]: c for c in json.load(fh)}
    agree = failures = 0
    for case in make_cases.CASES:
        if case["name"] not in index:
            continue
        for run in index[case["name"]]["inputs"]:
            T = run["tokens"]
            ops = {}
            for role in ("router_weight", "router_bias", "correction_bias"):
                name = "%s.%s" % (case["name"], role)
                if name in weights:
                    ops[role] = np.asarray(weights[name], dtype=np.float64)
            ops["hidden"] = np.load(run["files"]["hidden_states"]).astype(
                np.float64)
            if "router_logits" in run["files"]:
                ops["router_logits"] = np.load(
                    run["files"]["router_logits"]).astype(np.float64)
            counts, pairs, ok = expected(case, ops, T)
            label = "%s T=%d" % (case["name"], T)
            if not ok:
                print("%s near tie, not compared" % label)
                continue
            out = os.path.join(a.dir, "%s.T%d.routing.json" % (case["name"], T))
            cmd = [a.moe_run, os.path.join(a.dir, "cases.so"), "--function",
                   case["name"], "--record-routing", out,
                   "--record-coselection", "--repeat", "2"]
            for name, path in run["files"].items():
                cmd += ["--input", "%s=%s" % (name, path)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print("%s moe-run failed: %s" % (label, proc.stderr.strip()))
                failures += 1
                continue
            with open(out) as fh:
                doc = json.load(fh)
            layers = doc["layers"]
            problems = []
            if doc["format"] != "moec-routing-statistics" or doc["version"] != 1:
                problems.append("format")
            if len(layers) != 1:
                problems.append("%d layers" % len(layers))
            else:
                layer = layers[0]
                for key, want in (("function", case["name"]), ("site", 0),
                                  ("experts", case["E"]), ("k", case["k"]),
                                  ("calls", 1), ("tokens", T)):
                    if layer[key] != want:
                        problems.append("%s %r, expected %r"
                                        % (key, layer[key], want))
                if layer["counts"] != counts.tolist():
                    problems.append("counts %s, expected %s"
                                    % (layer["counts"], counts.tolist()))
                if layer.get("coselection") != pairs.tolist():
                    problems.append("coselection differs")
            if problems:
                failures += 1
                print("%s MISMATCH: %s" % (label, "; ".join(problems)))
            else:
                agree += 1
                print("%s agrees: %d selections" % (label, counts.sum()))
    print("%d runs agree, %d failed" % (agree, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
