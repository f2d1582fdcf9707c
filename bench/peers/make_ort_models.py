"""ONNX Runtime com.microsoft.MoE models of moe-bench's shapes, for
ort_time.py (bench/run.sh runs both with build/venv/bin/python).

  build/venv/bin/python make_ort_models.py OUTDIR [SHAPE ...]

writes OUTDIR/<shape>/model.onnx with its weights as external data
(weights.bin): fc1 = interleaved gate/up [E, 2f, d], fc2 [E, d, f], f32,
SwiGLU (swiglu_fusion=1, ORT's default alpha 1 and beta 0: silu(gate) * up),
k and renormalization as in moe-bench. Weights are random with the same
scale moe-bench uses. Existing models are kept unless their weights are not
float32.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SHAPES = {"qwen3-30b-a3b": (2048, 768, 128, 8, True),
          "olmoe": (2048, 1024, 64, 8, False),
          "mixtral-small": (1024, 3584, 8, 2, True)}


def make(path, d, f, E, k, renorm):
    rng = np.random.default_rng(7)
    # float32 scales: under NumPy 2 a float64 scalar would make the
    # weights float64, which ORT's MoE rejects.
    fc1 = (rng.random((E, 2 * f, d), dtype=np.float32) * 2 - 1) / np.float32(np.sqrt(d))
    fc2 = (rng.random((E, d, f), dtype=np.float32) * 2 - 1) / np.float32(np.sqrt(f))
    assert fc1.dtype == np.float32 and fc2.dtype == np.float32
    node = helper.make_node(
        "MoE", ["input", "router_probs", "fc1", "", "fc2"], ["output"],
        domain="com.microsoft", name="moe", activation_type="swiglu", k=k,
        normalize_routing_weights=int(renorm), swiglu_fusion=1)
    graph = helper.make_graph(
        [node], "moe_bench",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, d]),
         helper.make_tensor_value_info("router_probs", TensorProto.FLOAT,
                                       [None, E])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [None, d])],
        initializer=[numpy_helper.from_array(fc1, "fc1"),
                     numpy_helper.from_array(fc2, "fc2")])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17),
                              helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    onnx.save_model(model, path, save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin",
                    size_threshold=0)


def main(out, names):
    for name in names or SHAPES:
        if name not in SHAPES:
            sys.exit("make_ort_models.py: error: unknown shape %s (%s)"
                     % (name, ", ".join(SHAPES)))
        d = os.path.join(out, name)
        path = os.path.join(d, "model.onnx")
        if os.path.exists(path):
            model = onnx.load(path, load_external_data=False)
            if all(t.data_type == TensorProto.FLOAT
                   for t in model.graph.initializer):
                print("kept", path, file=sys.stderr)
                continue
            # Written by a NumPy 2 run before the float32 fix: float64.
            print("rewriting", path, "(its weights are not float32)",
                  file=sys.stderr)
        os.makedirs(d, exist_ok=True)
        # onnx appends external data to an existing file: start afresh.
        for stale in (path, os.path.join(d, "weights.bin")):
            if os.path.exists(stale):
                os.remove(stale)
        make(path, *SHAPES[name])
        print("wrote", path, file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
