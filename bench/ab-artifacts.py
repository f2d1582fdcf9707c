"""Two or more compiled layers timed against each other in one process:
the artifacts' sessions take turns, a block of calls each, on the same
inputs, so that a machine whose memory bandwidth drifts from minute to
minute (the shared VMs this project measures on) drifts under all of them
alike. For A/B checks of a code generation change: compile the same model
with the compiler before and after, then

  build/venv/bin/python bench/ab-artifacts.py OLD.so NEW.so
      [--function layer_0] [--tokens 1,8,64] [--rounds 20] [--block 20]
      [--threads 2] [--pool 64] [--seed 0]

Each token count gets `pool` random inputs (normal, fixed seed) of the
function's hidden size; with many experts, different inputs route to
different experts, so decode reads its weights from DRAM rather than from
the last-level cache. Per round every session makes one untimed call (its
threads wake up), then `block` timed calls; the report gives per artifact
the median and the quartiles of the per-call times in ms, and each
artifact's median against the first's. The calls' results are not checked
here: moe-run --verify and moe-bench do that.

Run from the repository root after the build (it imports build/python).
"""
import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "build", "python"))

import numpy as np  # noqa: E402

import moec  # noqa: E402


def main():
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("artifacts", nargs="+", help="compiled layers (.so)")
    p.add_argument("--function", default="layer_0")
    p.add_argument("--tokens", default="1,8,64")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--block", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--pool", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if len(a.artifacts) < 2:
        p.error("give at least two artifacts to compare")
    try:
        tokens = [int(t) for t in a.tokens.split(",")]
    except ValueError:
        p.error(f"--tokens wants a comma-separated list of counts, "
                f"not {a.tokens!r}")
    if min(tokens) < 1 or a.rounds < 1 or a.block < 1 or a.pool < 1:
        p.error("--tokens, --rounds, --block and --pool must be positive")
    sessions, hidden = [], None
    for path in a.artifacts:
        try:
            s = moec.load(path, threads=a.threads)
            d = s.function(a.function).inputs[0].shape[-1]
        except moec.Error as e:
            p.error(f"{path}: {e}")
        if hidden is not None and d != hidden:
            p.error(f"{path}: hidden size {d}, the first artifact's is "
                    f"{hidden}")
        hidden = d
        sessions.append(s)
    rng = np.random.default_rng(a.seed)
    names = a.artifacts
    for t in tokens:
        xs = [rng.standard_normal((t, hidden), dtype=np.float32)
              for _ in range(a.pool)]
        times = [[] for _ in sessions]
        for s in sessions:
            s.run(a.function, xs[0])  # first call: weights bound, packed
        i = 0
        for _ in range(a.rounds):
            for k, s in enumerate(sessions):
                s.run(a.function, xs[i % a.pool])
                for j in range(a.block):
                    x = xs[(i + j) % a.pool]
                    t0 = time.perf_counter()
                    s.run(a.function, x)
                    times[k].append(time.perf_counter() - t0)
            i += a.block
        base = np.median(times[0])
        for name, v in zip(names, times):
            q1, med, q3 = np.percentile(v, [25, 50, 75]) * 1e3
            print(f"T={t:<4} {name}: {med:.3f} ms ({q1:.3f}-{q3:.3f}), "
                  f"{base / np.median(v):.3f}x the first", flush=True)


if __name__ == "__main__":
    main()
