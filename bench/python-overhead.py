"""What the moec Python bindings add to a call: the median time of one
call of a compiled layer from Python, against the same call made directly
from C (moert_session_run() in a loop inside the extension module, no
Python between calls), on the same session, in one run.

The layer is examples/tiny-mixtral.mlir (8 experts, top-2, d=64, f=96,
f32) at T tokens (default 1: the layer's own time is smallest there, so
the bindings' share is largest). Each variant runs N calls after a
warm-up; per-call times are taken one by one and their median and
quartiles reported in microseconds. Variants:

  direct C        moert_session_run() N times in C++
  numpy, out=     session.tiny_mixtral(x, out=y): NumPy in, into y
  numpy           session.tiny_mixtral(x): a new NumPy result per call
  torch, out=     torch tensors in and out
  torch           torch in, a new torch result per call

  build/venv/bin/python bench/python-overhead.py [--tokens 1] [--calls 20000]
      [--threads 1]

Run from the repository root after the build (it imports build/python).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "build", "python"))
sys.path.insert(0, os.path.join(ROOT, "examples"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import moec  # noqa: E402
import tiny_mixtral  # noqa: E402


def quartiles(samples):
    q = statistics.quantiles(samples, n=4)
    return q[0], statistics.median(samples), q[2]


def per_call(fn, calls):
    samples = []
    clock = time.perf_counter
    for _ in range(calls):
        t0 = clock()
        fn()
        samples.append(clock() - t0)
    return samples


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tokens", type=int, default=1)
    p.add_argument("--calls", type=int, default=20000)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    if a.tokens < 1 or a.calls < 4 or a.threads < 0:
        sys.exit("python-overhead.py: error: --tokens must be at least 1, "
                 "--calls at least 4, --threads non-negative")

    with tempfile.TemporaryDirectory(prefix="moec-overhead-") as d:
        tiny_mixtral.make(d)
        so = moec.compile(os.path.join(ROOT, "examples", "tiny-mixtral.mlir"),
                          os.path.join(d, "tiny.so"),
                          weights=[os.path.join(d, "weights.safetensors")])
        session = moec.load(so, threads=a.threads)
        x = np.ascontiguousarray(
            np.load(os.path.join(d, "hidden_states.npy"))[:a.tokens])
        y = np.empty_like(x)
        xt, yt = torch.from_numpy(x.copy()), torch.empty(x.shape)
        fn = session.tiny_mixtral
        fn(x, out=y)  # warm-up: packs the weights

        # The C loop times each call itself and returns the median.
        direct_median = session._handle.time_run("tiny_mixtral", [x], [y],
                                                 a.calls)
        rows = [("direct C", None, direct_median, None)]
        for name, call in [
                ("numpy, out=", lambda: fn(x, out=y)),
                ("numpy", lambda: fn(x)),
                ("torch, out=", lambda: fn(xt, out=yt)),
                ("torch", lambda: fn(xt))]:
            call()
            rows.append((name,) + quartiles(per_call(call, a.calls)))
        session.close()

    print("# tiny-mixtral (E=8, k=2, d=64, f=96, f32), T=%d, %d calls per "
          "variant, %d session threads; moec %s, torch %s; CPU: %s"
          % (a.tokens, a.calls, a.threads, moec.__version__,
             torch.__version__, moec.devices()[0][2]))
    print("| call | median us | quartiles us | added to direct C, us |")
    print("|---|---|---|---|")
    for name, q1, median, q3 in rows:
        spread = "-" if q1 is None else "%.2f-%.2f" % (q1 * 1e6, q3 * 1e6)
        added = "-" if q1 is None else "%.2f" % ((median - direct_median) *
                                                 1e6)
        print("| %s | %.2f | %s | %s |" % (name, median * 1e6, spread, added))


if __name__ == "__main__":
    main()
