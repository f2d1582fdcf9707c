"""ONNX Runtime com.microsoft.QMoE models of moe-bench's shapes, for
ort_qmoe_time.py (bench/run.sh runs both with build/venv/bin/python).

  build/venv/bin/python make_ort_qmoe_models.py OUTDIR BITS SHAPE [SHAPE ...]

writes OUTDIR/<shape>.qmoe<BITS>/model.onnx (BITS 4 or 8) with its weights as
external data (weights.bin): fc1 = interleaved gate/up [E, 2f, d / (8 /
BITS)] uint8 codes (low bits first), fc2 [E, d, f / (8 / BITS)]; block-wise
scales, one float32 per block of 32 along a row ([E, rows, K / 32]); no
zero points (ORT's symmetric default, zero point 2^(BITS-1)); so
w = scale * (q - 2^(BITS-1)), 4 + 32/32 = 5 bits a weight at 4 bits (q4_0:
4.5), 8 + 1 = 9 at 8 bits (q8_0: 8.5). SwiGLU (swiglu_fusion=1), k as in
moe-bench; QMoE renormalizes the top-k weights whatever its attribute says
(docs/Importing.md), so olmoe's layer runs renormalized here (a [k, T]
sum and divide). Codes are uniform random, scales random with |w| about
1/sqrt(K) as in moe-bench. Existing models are kept.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SHAPES = {"qwen3-30b-a3b": (2048, 768, 128, 8, True),
          "olmoe": (2048, 1024, 64, 8, False),
          "mixtral-small": (1024, 3584, 8, 2, True)}
BLOCK = 32


def codes_and_scales(rng, E, rows, K, bits):
    packed = rng.integers(0, 256, size=(E, rows, K * bits // 8), dtype=np.uint8)
    # q - 2^(bits-1) is uniform over 2^bits values: std 2^bits / sqrt(12).
    s = np.float32(np.sqrt(12) / (2 ** bits * np.sqrt(K)))
    scales = (rng.random((E, rows, K // BLOCK), dtype=np.float32) + 0.5) * s
    return packed, scales


def make(path, bits, d, f, E, k, renorm):
    rng = np.random.default_rng(7)
    q1, s1 = codes_and_scales(rng, E, 2 * f, d, bits)
    q2, s2 = codes_and_scales(rng, E, d, f, bits)
    node = helper.make_node(
        "QMoE", ["input", "router_probs", "fc1", "fc1_scales", "", "fc2",
                 "fc2_scales"], ["output"],
        domain="com.microsoft", name="qmoe", activation_type="swiglu", k=k,
        normalize_routing_weights=int(renorm), swiglu_fusion=1,
        expert_weight_bits=bits, block_size=BLOCK)
    graph = helper.make_graph(
        [node], "moe_bench_qmoe%d" % bits,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, d]),
         helper.make_tensor_value_info("router_probs", TensorProto.FLOAT,
                                       [None, E])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [None, d])],
        initializer=[numpy_helper.from_array(q1, "fc1"),
                     numpy_helper.from_array(s1, "fc1_scales"),
                     numpy_helper.from_array(q2, "fc2"),
                     numpy_helper.from_array(s2, "fc2_scales")])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17),
                              helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    d_ = os.path.dirname(path)
    for stale in (path, os.path.join(d_, "weights.bin")):
        if os.path.exists(stale):
            os.remove(stale)
    tmp = path + ".tmp"
    onnx.save_model(model, tmp, save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin",
                    size_threshold=0)
    os.replace(tmp, path)


def main(out, bits, names):
    if bits not in ("4", "8"):
        sys.exit("make_ort_qmoe_models.py: error: BITS is 4 or 8, not %s" % bits)
    for name in names:
        if name not in SHAPES:
            sys.exit("make_ort_qmoe_models.py: error: unknown shape %s (%s)"
                     % (name, ", ".join(SHAPES)))
        d = os.path.join(out, "%s.qmoe%s" % (name, bits))
        path = os.path.join(d, "model.onnx")
        if os.path.exists(path):
            print("kept", path, file=sys.stderr)
            continue
        os.makedirs(d, exist_ok=True)
        make(path, int(bits), *SHAPES[name])
        print("wrote", path, file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
