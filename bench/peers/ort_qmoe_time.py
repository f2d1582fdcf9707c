"""Times ONNX Runtime's com.microsoft.QMoE (the onnxruntime Python wheel, CPU
execution provider) on one model of make_ort_qmoe_models.py, as ort_time.py
times MoE: 16 random inputs rotated between calls, 3 warm-up calls, then at
least 5 calls and MIN_TIME seconds; median, min and max in ms; THREADS
intra-op threads, 1 inter-op thread, sequential execution.

ORT runs with its defaults: ORT_QMOE_CPU_QNBIT_GEMM and
ORT_USE_MLAS_Q4_GEMM_MOE are removed from the environment before the
session is made. With ONNX Runtime 1.31 block-wise experts (initializers,
in_features a multiple of block_size) then run on MLAS's QNBit GEMM:
4 bits with fp32 activations (exact: the dequantized formula), 8 bits with
activations quantized to int8 per block (docs/Importing.md). After timing
each token count, output rows 0 and T-1 of the first input are compared to
a float64 evaluation of the dequantized weights w = scale * (q - 2^(bits-1))
(renormalized top-k, as QMoE always does); the relative L2 error is printed,
and shows which kernel ran: about 1e-7 for fp32 activations, about 1e-2 for
int8 ones. Tolerance 1e-4 at 4 bits and 3e-2 at 8 bits (moe-bench's for
--int8-dot); a wrong result is an error, not a time.

Prints CSV rows "ort-qmoeBITS,SHAPE,DTYPE,T,median,min,max" on stdout
(DTYPE the moec row it is set against: PAIRED, by default q4_0 for 4 bits
and q8_0 for 8 bits; u4z or u8z, moec's blocks of QMoE's weights) and what
it does on stderr.

  build/venv/bin/python ort_qmoe_time.py MODEL_DIR SHAPE BITS THREADS \
      TOKENS(1,8,...) MIN_TIME [PAIRED]
"""
import os
import sys

import numpy as np
import onnx

for _v in ("ORT_QMOE_CPU_QNBIT_GEMM", "ORT_USE_MLAS_Q4_GEMM_MOE"):
    os.environ.pop(_v, None)  # ORT's defaults
import onnxruntime as ort  # noqa: E402

sys.dont_write_bytecode = True  # keep the source tree clean
import ort_timing  # noqa: E402  (bench/peers/, the script's directory)

SHAPES = {"qwen3-30b-a3b": (2048, 768, 128, 8),
          "olmoe": (2048, 1024, 64, 8),
          "mixtral-small": (1024, 3584, 8, 2)}
PAIRED = {4: "q4_0", 8: "q8_0"}
TOLERANCE = {4: 1e-4, 8: 3e-2}


def fail(msg):
    sys.exit("ort_qmoe_time.py: error: " + msg)


def external(model_dir):
    model = onnx.load(os.path.join(model_dir, "model.onnx"),
                      load_external_data=False)
    dtypes = {onnx.TensorProto.UINT8: np.uint8, onnx.TensorProto.FLOAT: np.float32}
    out = {}
    for init in model.graph.initializer:
        info = {e.key: e.value for e in init.external_data}
        if init.data_type not in dtypes or "location" not in info:
            fail("%s: initializer %s is not external uint8/float32 data"
                 % (model_dir, init.name))
        out[init.name] = np.memmap(
            os.path.join(model_dir, info["location"]), dtype=dtypes[init.data_type],
            mode="r", offset=int(info.get("offset", 0)), shape=tuple(init.dims))
    return out


def dequant(q, s, bits):
    """One expert's [rows, K*bits/8] codes and [rows, K/block] scales, as
    float64 [rows, K]."""
    q = np.asarray(q)
    if bits == 4:
        codes = np.empty(q.shape[:-1] + (q.shape[-1] * 2,), np.int64)
        codes[..., 0::2] = q & 15
        codes[..., 1::2] = q >> 4
    else:
        codes = q.astype(np.int64)
    block = codes.shape[-1] // s.shape[-1]
    w = (codes - (1 << (bits - 1))).astype(np.float64)
    return (w.reshape(w.shape[0], -1, block) *
            np.asarray(s, np.float64)[..., None]).reshape(w.shape)


def reference_row(x, logits, W, k, bits):
    p = np.exp(logits - logits.max())
    p /= p.sum()
    top = np.argsort(-p, kind="stable")[:k]
    w = p[top] / p[top].sum()  # QMoE always renormalizes
    y = 0.0
    for wi, e in zip(w, top):
        h = dequant(W["fc1"][e], W["fc1_scales"][e], bits) @ x
        g, u = h[0::2], h[1::2]
        y = y + wi * (dequant(W["fc2"][e], W["fc2_scales"][e], bits)
                      @ (g / (1 + np.exp(-g)) * u))
    return y


def main(model_dir, shape, bits, threads, tokens, min_time, paired=None):
    if shape not in SHAPES:
        fail("unknown shape %s (%s)" % (shape, ", ".join(SHAPES)))
    bits = int(bits)
    if bits not in PAIRED:
        fail("BITS is 4 or 8")
    paired = paired or PAIRED[bits]
    if paired not in (PAIRED[bits], "u%dz" % bits):
        fail("PAIRED is %s or u%dz for %d bits" % (PAIRED[bits], bits, bits))
    d, f, E, k = SHAPES[shape]
    path = os.path.join(model_dir, "model.onnx")
    if not os.path.exists(path):
        fail("%s not found (bench/peers/make_ort_qmoe_models.py writes it)" % path)
    print("ort_qmoe_time.py: onnxruntime %s, %s, %d bits, %s threads: loading %s"
          % (ort.__version__, shape, bits, threads, path), file=sys.stderr)
    session = ort_timing.session(ort, path, threads)
    W = external(model_dir)
    if W["fc1"].shape != (E, 2 * f, d * bits // 8) or \
            W["fc2"].shape != (E, d, f * bits // 8):
        fail("%s: fc1 %s / fc2 %s do not match %s at %d bits"
             % (path, W["fc1"].shape, W["fc2"].shape, shape, bits))
    rng = np.random.default_rng(12345)
    errs = []
    for T in [int(t) for t in tokens.split(",")]:
        pool = ort_timing.input_pool(rng, T, d, E)
        times = ort_timing.time_calls(session, pool, min_time)
        out = session.run(None, pool[0])[0]
        worst = 0.0
        for row in sorted({0, T - 1}):
            want = reference_row(pool[0]["input"][row].astype(np.float64),
                                 pool[0]["router_probs"][row].astype(np.float64),
                                 W, k, bits)
            err = np.linalg.norm(out[row] - want) / np.linalg.norm(want)
            if not err <= TOLERANCE[bits]:
                fail("%s %d bits T=%d: ORT output row %d is off the float64 "
                     "reference (relative L2 %.3g, tolerance %g)"
                     % (shape, bits, T, row, err, TOLERANCE[bits]))
            worst = max(worst, err)
        errs.append(worst)
        print("ort_qmoe_time.py: %s %d bits T=%d: %d calls, output %s %.2g "
              "relative L2 from the float64 reference on the dequantized "
              "weights" % (shape, bits, T, len(times),
                           "row 0" if T == 1 else "rows 0 and %d" % (T - 1),
                           worst), file=sys.stderr)
        print("ort-qmoe%d,%s,%s,%d,%.4f,%.4f,%.4f" % (
            bits, shape, paired, T, times[len(times) // 2], times[0],
            times[-1]), flush=True)
    # The kernel that ran, told by its error (docs/Importing.md).
    acts = ("fp32 activations (exact)" if max(errs) < 1e-4 else
            "int8 activations per block (about 1e-2 from the formula)")
    print("# %s: ort-qmoe%d = ONNX Runtime %s com.microsoft.QMoE, %d-bit codes, "
          "f32 scales per block of 32, no zero points: %d bits a weight (%s: %s); "
          "ORT's default kernel, MLAS QNBit GEMM with %s; renormalizes the "
          "top-k weights (also for olmoe)"
          % (paired, bits, ort.__version__, bits, bits + 1, paired,
             {"q4_0": "4.5", "q8_0": "8.5", "u4z": "5.25", "u8z": "9.25"}[paired],
             acts))


if __name__ == "__main__":
    if len(sys.argv) not in (7, 8):
        sys.exit(__doc__)
    main(*sys.argv[1:])
