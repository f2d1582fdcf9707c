"""Times ONNX Runtime's com.microsoft.MoE (the onnxruntime Python wheel, CPU
execution provider) on one model of make_ort_models.py, as moe-bench times
moec: 16 random inputs rotated between calls, 3 warm-up calls, then at
least 5 calls and MIN_TIME seconds; median, min and max in ms. The session
runs with THREADS intra-op threads, 1 inter-op thread, sequential
execution. After timing each token count, output rows 0 and T-1 of the first
input are checked against a float64 evaluation of the model's own weights
(relative L2 within 1e-4); a wrong result is an error, not a time.

Prints CSV rows "ort,SHAPE,f32,T,median,min,max" on stdout (ORT's CPU MoE
has no bf16 kernel) and what it does on stderr.

  build/venv/bin/python ort_time.py MODEL_DIR SHAPE THREADS TOKENS(1,8,...) \
      MIN_TIME
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort

sys.dont_write_bytecode = True  # keep the source tree clean
import ort_timing  # noqa: E402  (bench/peers/, the script's directory)

# d, f, E, k, renormalize: moe-bench's table (tools/moe-bench/moe-bench.cpp),
# as in make_ort_models.py.
SHAPES = {"qwen3-30b-a3b": (2048, 768, 128, 8, True),
          "olmoe": (2048, 1024, 64, 8, False),
          "mixtral-small": (1024, 3584, 8, 2, True)}


def fail(msg):
    sys.exit("ort_time.py: error: " + msg)


def external_weights(model_dir):
    """fc1 [E, 2f, d] and fc2 [E, d, f] of the model, memory-mapped from its
    external data file (make_ort_models.py writes them as float32)."""
    model = onnx.load(os.path.join(model_dir, "model.onnx"),
                      load_external_data=False)
    out = {}
    for init in model.graph.initializer:
        info = {e.key: e.value for e in init.external_data}
        if init.data_type != onnx.TensorProto.FLOAT or "location" not in info:
            fail("%s: initializer %s is not external float32 data"
                 % (model_dir, init.name))
        out[init.name] = np.memmap(
            os.path.join(model_dir, info["location"]), dtype=np.float32,
            mode="r", offset=int(info.get("offset", 0)),
            shape=tuple(init.dims))
    if "fc1" not in out or "fc2" not in out:
        fail("%s: model has no fc1/fc2 initializers" % model_dir)
    return out["fc1"], out["fc2"]


def reference_row(x, logits, fc1, fc2, k, renorm):
    """One token through the layer in float64: softmax over the router
    logits, top-k, optional renormalization, interleaved SwiGLU experts
    (fc1 rows 2i = gate, 2i+1 = up; ORT's defaults alpha 1, beta 0)."""
    p = np.exp(logits - logits.max())
    p /= p.sum()
    top = np.argsort(-p, kind="stable")[:k]
    w = p[top] / p[top].sum() if renorm else p[top]
    y = np.zeros(fc2.shape[1])
    for wi, e in zip(w, top):
        h = np.asarray(fc1[e], dtype=np.float64) @ x
        g, u = h[0::2], h[1::2]
        y += wi * (np.asarray(fc2[e], dtype=np.float64) @ (g / (1 + np.exp(-g)) * u))
    return y


def main(model_dir, shape, threads, tokens, min_time):
    if shape not in SHAPES:
        fail("unknown shape %s (%s)" % (shape, ", ".join(SHAPES)))
    d, f, E, k, renorm = SHAPES[shape]
    path = os.path.join(model_dir, "model.onnx")
    if not os.path.exists(path):
        fail("%s not found (bench/peers/make_ort_models.py writes it)" % path)
    print("ort_time.py: onnxruntime %s, %s, %s threads: loading %s"
          % (ort.__version__, shape, threads, path), file=sys.stderr)
    session = ort_timing.session(ort, path, threads)
    fc1, fc2 = external_weights(model_dir)
    if fc1.shape != (E, 2 * f, d) or fc2.shape != (E, d, f):
        fail("%s: fc1 %s / fc2 %s do not match %s (d %d, f %d, E %d)"
             % (path, fc1.shape, fc2.shape, shape, d, f, E))
    rng = np.random.default_rng(12345)
    for T in [int(t) for t in tokens.split(",")]:
        pool = ort_timing.input_pool(rng, T, d, E)
        times = ort_timing.time_calls(session, pool, min_time)
        out = session.run(None, pool[0])[0]
        worst = 0.0
        for row in sorted({0, T - 1}):
            want = reference_row(pool[0]["input"][row].astype(np.float64),
                                 pool[0]["router_probs"][row].astype(np.float64),
                                 fc1, fc2, k, renorm)
            err = np.linalg.norm(out[row] - want) / np.linalg.norm(want)
            if not err <= 1e-4:
                fail("%s T=%d: ORT output row %d is off the float64 reference "
                     "(relative L2 %.3g, tolerance 1e-4)" % (shape, T, row, err))
            worst = max(worst, err)
        print("ort_time.py: %s T=%d: %d calls, output %s within 1e-4 of the "
              "float64 reference (relative L2 %.2g)"
              % (shape, T, len(times),
                 "row 0" if T == 1 else "rows 0 and %d" % (T - 1), worst),
              file=sys.stderr)
        print("ort,%s,f32,%d,%.4f,%.4f,%.4f" % (
            shape, T, times[len(times) // 2], times[0], times[-1]), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    main(*sys.argv[1:])
