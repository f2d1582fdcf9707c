#!/usr/bin/python3
"""ONNX models with com.microsoft.MoE / QMoE nodes for the importer tests.

  make_onnx.py OUT

writes OUT/<case>/{model.onnx, feeds.json, <input>.npy} per case and
OUT/cases.json. Cases cover MoE and QMoE (8-bit row-wise, 8-bit block-wise
with zero points, 4-bit block-wise with and without zero points, also with
one block per row, 2-bit row-wise with zero points, 2-bit block-wise with
zero points, and 2-bit block-wise on ONNX Runtime's approximate LUT GEMM,
compared at a looser tolerance), float32 and float16, router logits as a graph
input or computed by MatMul (+ Add) from the hidden states, Reshape around
the node, constant Cast/Transpose/Unsqueeze/Concat feeding the weights,
external data, 3-D inputs, k = 1 and k = E, sizes that are not powers of
two, and experts that get no token. Logits keep each token's k-th and
(k+1)-th scores at least 1e-3 apart (ties are implementation-defined).
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32, F16 = TensorProto.FLOAT, TensorProto.FLOAT16


def gap_ok(logits, k):
    if k >= logits.shape[1]:
        return True
    s = np.sort(logits, axis=1)[:, ::-1]
    return bool(np.all(s[:, k - 1] - s[:, k] > 1e-3))


def quantize(w, bits, block, with_zp, rng):
    """Random codes, scales (and zero points) whose dequantization is w-like."""
    E, rows, cols = w.shape
    pack = 8 // bits
    q = rng.integers(0, 1 << bits, size=(E, rows, cols))
    packed = np.zeros((E, rows, cols // pack), np.uint8)
    for j in range(pack):
        packed |= (q[:, :, j::pack] << (bits * j)).astype(np.uint8)
    blocks = (cols + block - 1) // block if block else 1
    scales = (rng.random((E, rows, blocks) if block else (E, rows)) * 0.05 + 0.01)
    zp = None
    if with_zp:
        # Block-wise [E, rows, ceil(blocks/pack)], row-wise [E, rows/pack];
        # random bytes, so every packing reads defined values.
        shape = (E, rows, (blocks + pack - 1) // pack) if block else \
            (E, (rows + pack - 1) // pack)
        zp = rng.integers(0, 256, size=shape).astype(np.uint8)
    return packed, scales, zp


def moe_attrs(c):
    a = dict(activation_type=c["act"], k=c["k"],
             normalize_routing_weights=int(c.get("normalize", 0)))
    if c["act"] == "swiglu":
        a.update(swiglu_fusion=1, activation_alpha=c.get("alpha", 1.0),
                 activation_beta=c.get("beta", 0.0))
        if "limit" in c:
            a["swiglu_limit"] = c["limit"]
    if c.get("bits"):
        a["expert_weight_bits"] = c["bits"]
        if c.get("block"):
            a["block_size"] = c["block"]
    return a


def build(c, rng, out):
    E, d, f, k = c["E"], c["d"], c["f"], c["k"]
    fusion = 2 if c["act"] == "swiglu" else 1
    dt = c.get("dtype", F32)
    npdt = np.float16 if dt == F16 else np.float32
    shape = c["shape"]  # input shape, [T, d] or [B, S, d]
    T = int(np.prod(shape[:-1]))
    inits, nodes = [], []
    inputs = [helper.make_tensor_value_info("hidden", dt, shape)]
    feeds = [{"name": "hidden", "file": "hidden.npy",
              "type": "float16" if dt == F16 else "float32"}]
    x = rng.standard_normal(shape).astype(npdt)
    moe_in = "hidden"
    if len(shape) == 3:
        inits.append(numpy_helper.from_array(np.array([-1, d], np.int64), "flat"))
        nodes.append(helper.make_node("Reshape", ["hidden", "flat"], ["x2d"],
                                      name="flatten"))
        moe_in = "x2d"
    x2 = x.reshape(T, d).astype(np.float64)
    for _ in range(100):
        if c.get("router") == "matmul":
            wr = rng.standard_normal((E, d)) * 2 / np.sqrt(d)
            br = rng.standard_normal(E) * 0.5
            logits = x2 @ wr.T + br
        else:
            logits = rng.standard_normal((T, E)) * 2
        if gap_ok(logits.astype(npdt).astype(np.float64), k):
            break
    if c.get("router") == "matmul":
        # Stored [E, d] in float16, cast and transposed into MatMul's [d, E].
        inits.append(numpy_helper.from_array(wr.astype(np.float16), "router_w"))
        nodes.append(helper.make_node("Cast", ["router_w"], ["router_wc"],
                                      name="cast_router", to=dt))
        nodes.append(helper.make_node("Transpose", ["router_wc"], ["router_wt"],
                                      name="transpose_router", perm=[1, 0]))
        nodes.append(helper.make_node("MatMul", [moe_in, "router_wt"],
                                      ["logits0"], name="router"))
        inits.append(numpy_helper.from_array(br.astype(npdt), "router_b"))
        nodes.append(helper.make_node("Add", ["logits0", "router_b"],
                                      ["logits"], name="router_bias"))
        router = "logits"
    else:
        inputs.append(helper.make_tensor_value_info("router_logits", dt, [T, E]))
        feeds.append({"name": "router_logits", "file": "router_logits.npy",
                      "type": feeds[0]["type"]})
        np.save(os.path.join(out, "router_logits.npy"), logits.astype(npdt))
        router = "router_logits"
    w1 = rng.standard_normal((E, fusion * f, d)) / np.sqrt(d)
    w2 = rng.standard_normal((E, d, f)) / np.sqrt(f)
    b1 = rng.standard_normal((E, fusion * f)) * 0.1 if c.get("bias") else None
    b2 = rng.standard_normal((E, d)) * 0.1 if c.get("bias") else None
    names = [moe_in, router]
    if c.get("bits"):
        q1, s1, z1 = quantize(w1, c["bits"], c.get("block", 0), c.get("zp"), rng)
        q2, s2, z2 = quantize(w2, c["bits"], c.get("block", 0), c.get("zp"), rng)
        for n, a in (("fc1_q", q1), ("fc1_s", s1.astype(npdt)),
                     ("fc2_q", q2), ("fc2_s", s2.astype(npdt))):
            inits.append(numpy_helper.from_array(a, n))
        names += ["fc1_q", "fc1_s", "", "fc2_q", "fc2_s", "", "", "", ""]
        if c.get("zp"):
            inits.append(numpy_helper.from_array(z1, "fc1_zp"))
            inits.append(numpy_helper.from_array(z2, "fc2_zp"))
            names += ["fc1_zp", "fc2_zp"]
        op = "QMoE"
    else:
        if c.get("fold"):
            # fc1 stored float16 and cast; fc2's bias assembled from two
            # halves with Unsqueeze + Concat.
            inits.append(numpy_helper.from_array(w1.astype(np.float16), "fc1_h"))
            nodes.append(helper.make_node("Cast", ["fc1_h"], ["fc1"],
                                          name="cast_fc1", to=dt))
        else:
            inits.append(numpy_helper.from_array(w1.astype(npdt), "fc1"))
        names.append("fc1")
        if b1 is not None:
            inits.append(numpy_helper.from_array(b1.astype(npdt), "fc1_bias"))
        names.append("fc1_bias" if b1 is not None else "")
        inits.append(numpy_helper.from_array(w2.astype(npdt), "fc2"))
        names.append("fc2")
        if b2 is not None:
            if c.get("fold"):
                for i in range(E):
                    inits.append(numpy_helper.from_array(b2[i].astype(npdt),
                                                         "b2_%d" % i))
                inits.append(numpy_helper.from_array(np.array([0], np.int64),
                                                     "axis0"))
                for i in range(E):
                    nodes.append(helper.make_node(
                        "Unsqueeze", ["b2_%d" % i, "axis0"], ["b2u_%d" % i],
                        name="unsqueeze_b2_%d" % i))
                nodes.append(helper.make_node(
                    "Concat", ["b2u_%d" % i for i in range(E)], ["fc2_bias"],
                    name="concat_b2", axis=0))
            else:
                inits.append(numpy_helper.from_array(b2.astype(npdt), "fc2_bias"))
            names.append("fc2_bias")
        op = "MoE"
    while names and names[-1] == "":
        names.pop()
    moe_out = "y2d" if len(shape) == 3 else "output"
    nodes.append(helper.make_node(op, names, [moe_out], domain="com.microsoft",
                                  name="moe_node", **moe_attrs(c)))
    if len(shape) == 3:
        inits.append(numpy_helper.from_array(np.array(shape, np.int64), "unflat"))
        nodes.append(helper.make_node("Reshape", [moe_out, "unflat"], ["output"],
                                      name="unflatten"))
    graph = helper.make_graph(
        nodes, c["name"], inputs,
        [helper.make_tensor_value_info("output", dt, shape)], initializer=inits)
    model = helper.make_model(graph, producer_name="moec-test",
                              opset_imports=[helper.make_opsetid("", 17),
                                             helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    path = os.path.join(out, "model.onnx")
    if c.get("external"):
        onnx.save_model(model, path, save_as_external_data=True,
                        all_tensors_to_one_file=True, location="weights.bin",
                        size_threshold=0)
    else:
        onnx.save_model(model, path)
    np.save(os.path.join(out, "hidden.npy"), x)
    with open(os.path.join(out, "feeds.json"), "w") as fh:
        json.dump(feeds, fh)


CASES = [
    dict(name="moe_swiglu_3d", E=6, d=24, f=20, k=2, act="swiglu", alpha=1.702,
         beta=1.0, limit=7.0, bias=True, shape=[2, 7, 24], normalize=1),
    dict(name="moe_matmul_router_k_eq_e", E=4, d=13, f=7, k=4, act="relu",
         router="matmul", shape=[3, 5, 13], bias=True, fold=True),
    dict(name="moe_gelu_k1_idle_experts", E=16, d=16, f=9, k=1, act="gelu",
         shape=[5, 16], normalize=1),
    dict(name="moe_silu_external", E=8, d=20, f=12, k=3, act="silu",
         shape=[33, 20], external=True, bias=True),
    dict(name="qmoe_8bit_rowwise", E=6, d=32, f=16, k=2, act="swiglu", bits=8,
         shape=[2, 9, 32], bias=True),
    dict(name="qmoe_4bit_block32", E=8, d=64, f=32, k=2, act="silu", bits=4,
         block=32, shape=[17, 64], router="matmul"),
    dict(name="qmoe_4bit_block16_zp", E=6, d=32, f=48, k=3, act="gelu", bits=4,
         block=16, zp=True, shape=[2, 6, 32]),
    dict(name="qmoe_4bit_block32_zp_one_block", E=8, d=64, f=32, k=2,
         act="silu", bits=4, block=32, zp=True, shape=[17, 64]),
    dict(name="qmoe_8bit_block16_zp", E=5, d=48, f=32, k=2, act="relu", bits=8,
         block=16, zp=True, shape=[3, 4, 48], bias=True),
    dict(name="qmoe_2bit_rowwise_zp", E=4, d=32, f=16, k=4, act="identity",
         bits=2, zp=True, shape=[6, 32]),
    dict(name="qmoe_fp16_4bit_block16", E=8, d=32, f=16, k=2, act="swiglu",
         bits=4, block=16, dtype=F16, shape=[2, 5, 32], normalize=1),
    # Kept as u8z / u4z blocks (docs/Importing.md): 8 and 4 bits, d and f
    # multiples of 32, row-wise or block-wise scales over multiples of 32
    # (repeated in each block of 32), with and without zero points, float
    # and float16 scales.
    dict(name="qmoe_8bit_rowwise_zp_blocks", E=6, d=64, f=32, k=2,
         act="swiglu", bits=8, zp=True, shape=[2, 9, 64], bias=True),
    dict(name="qmoe_4bit_rowwise_zp_blocks", E=8, d=96, f=64, k=2, act="relu",
         bits=4, zp=True, shape=[21, 96]),
    dict(name="qmoe_8bit_block32_blocks", E=4, d=64, f=64, k=2, act="gelu",
         bits=8, block=32, shape=[11, 64], router="matmul"),
    dict(name="qmoe_fp16_4bit_block64_zp_blocks", E=8, d=128, f=64, k=2,
         act="swiglu", bits=4, block=64, zp=True, dtype=F16, shape=[5, 128]),
    # Blocks of 128 (u4z128, u8z128) where rows and scale blocks allow:
    # row-wise 4-bit with zero points; 8-bit block_size 128 whose fc2 rows
    # (96) are one partial scale block, kept in blocks of 32 (u8z) beside
    # fc1's u8z128.
    dict(name="qmoe_4bit_rowwise_zp_blocks128", E=8, d=128, f=256, k=2,
         act="silu", bits=4, zp=True, shape=[13, 128]),
    dict(name="qmoe_8bit_block128_mixed_blocks", E=4, d=256, f=96, k=2,
         act="swiglu", bits=8, block=128, shape=[2, 7, 256], bias=True),
    # 2-bit block-wise, fc2 with one block per row: fc1 and fc2 have 64 rows,
    # not a multiple of 128, so ONNX Runtime dequantizes exactly.
    dict(name="qmoe_2bit_block32_zp", E=4, d=64, f=32, k=2, act="swiglu",
         bits=2, block=32, zp=True, shape=[7, 64], bias=True),
    # 2-bit block-wise with 128 rows (fc1) and 256 rows (fc2): ONNX Runtime
    # 1.31 takes its T-MAC LUT GEMM, which rounds sums of four activations to
    # int8 (docs/Importing.md) and has no switch; 1.3e-3 to 5.3e-3 observed.
    dict(name="qmoe_2bit_block64_lut", E=4, d=256, f=128, k=2, act="relu",
         bits=2, block=64, shape=[9, 256], tol=2e-2),
    # 2-bit row-wise with zero points, rows of 128: u2z128 blocks.
    dict(name="qmoe_2bit_rowwise_zp_blocks128", E=4, d=128, f=128, k=2,
         act="silu", bits=2, zp=True, shape=[11, 128]),
    # Scales per 16 (u8z16, u4z16, u2z16), rows of a multiple of 64 (so
    # --int8-dot takes them too); rows of 16 k (fc2 of qmoe_8bit_rowwise,
    # qmoe_2bit_rowwise_zp, qmoe_fp16_4bit_block16) are blocks of 16 as well.
    dict(name="qmoe_4bit_block16_zp_k64", E=4, d=128, f=64, k=2,
         act="swiglu", bits=4, block=16, zp=True, shape=[2, 5, 128]),
    dict(name="qmoe_8bit_block16_k64", E=4, d=64, f=128, k=2, act="gelu",
         bits=8, block=16, shape=[9, 64], bias=True),
    dict(name="qmoe_2bit_block16_zp", E=4, d=64, f=64, k=2, act="silu",
         bits=2, block=16, zp=True, shape=[7, 64]),
    # Rows of partial blocks of 16 (24 and 40 k): dequantized to f32.
    dict(name="qmoe_8bit_rowwise_partial16", E=4, d=24, f=40, k=2, act="relu",
         bits=8, shape=[6, 24]),
]


def main(out):
    rng = np.random.default_rng(31)
    index = []
    for c in CASES:
        d = os.path.join(out, c["name"])
        os.makedirs(d, exist_ok=True)
        build(c, rng, d)
        index.append({"case": c["name"],
                      "inputs": ["hidden"] + ([] if c.get("router") == "matmul"
                                              else ["router_logits"]),
                      "tolerance": c.get("tol", 5e-3 if c.get("dtype") == F16
                                         else 1e-4)})
    with open(os.path.join(out, "cases.json"), "w") as fh:
        json.dump(index, fh, indent=1)
    print("wrote %d models" % len(CASES))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
