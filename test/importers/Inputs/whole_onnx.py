#!/usr/bin/python3
"""A whole ONNX model with MoE layers among other ops, for the importer's
whole-model mode (docs/Importing.md): one entry point per MoE node.

  whole_onnx.py make OUT
  whole_onnx.py check --moe-compile PATH --moe-run PATH --dir OUT

make writes OUT/model.onnx, a random 3-layer model of hidden size 32 in the
shape ONNX Runtime GenAI's builder gives MoE models: per layer a stand-in
for attention and norm (x * Sigmoid(x), ops moec does not compile), a
router MatMul on its output, the MoE node, and a residual Add:
  - layer 0, node "/model/layers.0/moe/MoE": com.microsoft.MoE, SwiGLU
    (interleaved), 6 experts, k 2, renormalized, router MatMul;
  - layer 1, node "/model/layers.1/moe/QMoE": com.microsoft.QMoE, 4-bit
    block-wise (32), relu, 8 experts, k 3, router MatMul + bias;
  - layer 2, an unnamed com.microsoft.MoE (relu, 4 experts, k 1) whose
    router_probs is Tanh(MatMul(...)), a value moec does not compute: its
    function takes it as an input, named after it.
No tensor types are declared inside the graph. Then it runs the model
through ONNX Runtime (one thread, QMoE's exact path: ort_session.py) with
each MoE node's inputs and output exposed as graph outputs, and writes them
as OUT/<function>/<input>.npy and expected.npy, and OUT/cases.json.

check compiles OUT/model.onnx once and runs each function on its node's
inputs, comparing with ONNX Runtime's node output at 1e-4 relative L2
(float32: observed ~1e-7). Prints a line per function and "all N MoE nodes
agree with ONNX Runtime".
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "reference", "ort"))

D, T = 32, 9
# Function name, node name, and the names of its node's input tensors the
# function takes (hidden, and the logits when moec does not compute them).
LAYERS = [
    ("model_layers_0_moe_MoE", "/model/layers.0/moe/MoE", ["l0_norm"]),
    ("model_layers_1_moe_QMoE", "/model/layers.1/moe/QMoE", ["l1_norm"]),
    ("moe_2", "", ["l2_norm", "l2_logits"]),
]


def make(out):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    import ort_session

    rng = np.random.default_rng(21)
    F32 = TensorProto.FLOAT
    nodes, inits = [], []

    def init(name, a):
        inits.append(numpy_helper.from_array(a, name))
        return name

    def node(op, ins, outs, name, domain=None, **attrs):
        nodes.append(helper.make_node(op, ins, outs, name=name, domain=domain,
                                      **attrs))

    x = "hidden"
    for layer, (E, k, f) in enumerate([(6, 2, 16), (8, 3, 32), (4, 1, 24)]):
        p = "l%d_" % layer
        # Stand-in for attention and norm: x * sigmoid(x).
        node("Sigmoid", [x], [p + "sig"], p + "sigmoid")
        node("Mul", [x, p + "sig"], [p + "norm"], p + "norm")
        wr = init(p + "router", (rng.standard_normal((D, E)) * 2 / np.sqrt(D))
                  .astype(np.float32))
        node("MatMul", [p + "norm", wr], [p + "logits0"], p + "router")
        if layer == 0:
            w1 = rng.standard_normal((E, 2 * f, D)) / np.sqrt(D)
            w2 = rng.standard_normal((E, D, f)) / np.sqrt(f)
            ins = [p + "norm", p + "logits0", init(p + "fc1", w1.astype(np.float32)),
                   "", init(p + "fc2", w2.astype(np.float32))]
            node("MoE", ins, [p + "moe"], LAYERS[layer][1], "com.microsoft",
                 activation_type="swiglu", swiglu_fusion=1, k=k,
                 normalize_routing_weights=1)
        elif layer == 1:
            node("Add", [p + "logits0", init(p + "router_b", (
                rng.standard_normal(E) * 0.5).astype(np.float32))],
                 [p + "logits"], p + "router_bias")

            def q4(rows, cols):
                q = rng.integers(0, 16, size=(E, rows, cols))
                packed = (q[:, :, 0::2] | (q[:, :, 1::2] << 4)).astype(np.uint8)
                s = (rng.random((E, rows, cols // 32)) * 0.05 + 0.01)
                return packed, s.astype(np.float32)
            q1, s1 = q4(f, D)
            q2, s2 = q4(D, f)
            ins = [p + "norm", p + "logits", init(p + "fc1_q", q1),
                   init(p + "fc1_s", s1), "", init(p + "fc2_q", q2),
                   init(p + "fc2_s", s2)]
            node("QMoE", ins, [p + "moe"], LAYERS[layer][1], "com.microsoft",
                 activation_type="relu", k=k, expert_weight_bits=4,
                 block_size=32)
        else:
            node("Tanh", [p + "logits0"], [p + "logits"], p + "tanh")
            w1 = rng.standard_normal((E, f, D)) / np.sqrt(D)
            w2 = rng.standard_normal((E, D, f)) / np.sqrt(f)
            ins = [p + "norm", p + "logits", init(p + "fc1", w1.astype(np.float32)),
                   "", init(p + "fc2", w2.astype(np.float32))]
            node("MoE", ins, [p + "moe"], "", "com.microsoft",
                 activation_type="relu", k=k)
        node("Add", [x, p + "moe"], [p + "out"], p + "residual")
        x = p + "out"
    graph = helper.make_graph(
        nodes, "tiny_moe_model",
        [helper.make_tensor_value_info("hidden", F32, [T, D])],
        [helper.make_tensor_value_info(x, F32, [T, D])], inits)
    model = helper.make_model(graph, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8  # what the onnxruntime wheel reads
    os.makedirs(out, exist_ok=True)
    onnx.save_model(model, os.path.join(out, "model.onnx"))

    # ONNX Runtime, with every MoE node's inputs and output as outputs.
    exposed = [n for _, _, names in LAYERS for n in names]
    exposed += ["l%d_moe" % i for i in range(len(LAYERS))]
    model.graph.output.extend(helper.make_empty_tensor_value_info(n) for n in exposed)
    probe = os.path.join(out, "probe.onnx")
    onnx.save_model(model, probe)
    sess = ort_session.session(probe)
    feeds = {"hidden": rng.standard_normal((T, D)).astype(np.float32)}
    got = dict(zip(exposed, sess.run(exposed, feeds)))
    os.remove(probe)
    cases = []
    for i, (fn, _, names) in enumerate(LAYERS):
        d = os.path.join(out, fn)
        os.makedirs(d, exist_ok=True)
        for n in names:
            np.save(os.path.join(d, n + ".npy"), got[n])
        np.save(os.path.join(d, "expected.npy"), got["l%d_moe" % i])
        cases.append({"function": fn, "inputs": names, "tolerance": 1e-4})
    with open(os.path.join(out, "cases.json"), "w") as fh:
        json.dump(cases, fh, indent=1)
    print("wrote a %d-layer model; onnxruntime %s ran it"
          % (len(LAYERS), ort_session.version()))


def check(a):
    with open(os.path.join(a.dir, "cases.json")) as fh:
        cases = json.load(fh)
    so = os.path.join(a.dir, "model.so")
    r = subprocess.run([a.moe_compile, os.path.join(a.dir, "model.onnx"), "-o", so],
                       capture_output=True, text=True)
    if r.returncode:
        print("moe-compile failed:\n" + r.stderr)
        return 1
    failures = 0
    for c in cases:
        d = os.path.join(a.dir, c["function"])
        cmd = [a.moe_run, so, "--function", c["function"],
               "--output", os.path.join(d, "moec_out.npy")]
        for n in c["inputs"]:
            cmd += ["--input", "%s=%s" % (n, os.path.join(d, n + ".npy"))]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            print("%s: moe-run failed:\n%s" % (c["function"], r.stderr))
            failures += 1
            continue
        got = np.load(os.path.join(d, "moec_out.npy")).astype(np.float64)
        want = np.load(os.path.join(d, "expected.npy")).astype(np.float64)
        err = (np.linalg.norm(got - want) / np.linalg.norm(want)
               if got.shape == want.shape else float("inf"))
        ok = err <= c["tolerance"]
        failures += not ok
        print("%s rel_l2=%.3e tol=%.0e %s" % (c["function"], err, c["tolerance"],
                                             "ok" if ok else "MISMATCH"))
    if failures:
        print("%d FAILED" % failures)
        return 1
    print("all %d MoE nodes agree with ONNX Runtime" % len(cases))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("out")
    c = sub.add_parser("check")
    c.add_argument("--moe-compile", required=True)
    c.add_argument("--moe-run", required=True)
    c.add_argument("--dir", required=True)
    a = p.parse_args()
    if a.cmd == "make":
        make(a.out)
        return 0
    return check(a)


if __name__ == "__main__":
    sys.exit(main())
