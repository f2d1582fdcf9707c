#!/usr/bin/python3
"""Broken ONNX models for onnx-errors.test, one per file in OUT:
malformed.onnx (not a protobuf), unsupported-op.onnx (a Relu node),
unsupported-attr.onnx, sparse-mixer.onnx, fc3.onnx, swiglu-unfused.onnx, block-zp4.onnx,
missing-external.onnx, short-external.onnx, two-moe.onnx (two chained MoE
nodes: a whole model, which compiles), redefined-output.onnx (a node
output named like an initializer), whole-const-hidden.onnx and
whole-computed-weight.onnx (whole models whose second MoE node takes a
constant input, or a weight moec does not fold), no-moe.onnx,
k-too-large.onnx, nan-shape.onnx, bad-perm.onnx, nan-axes.onnx,
inf-hidden-shape.onnx, matmul-one-input.onnx, huge-dims.onnx,
huge-empty-reshape.onnx, huge-concat.onnx, outer-add.onnx, empty-add.onnx,
and ok.onnx (the unbroken base model).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

E, d, f = 4, 8, 6
rng = np.random.default_rng(3)


def model(nodes, inits, inputs=None, save=None, **kw):
    inputs = inputs or [
        helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [None, d]),
        helper.make_tensor_value_info("router_logits", TensorProto.FLOAT, [None, E])]
    g = helper.make_graph(nodes, "bad", inputs,
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT,
                                                         [None, d])],
                          initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                            helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m


def weights(fusion=1):
    return [numpy_helper.from_array(
                rng.standard_normal((E, fusion * f, d)).astype(np.float32), "fc1"),
            numpy_helper.from_array(
                rng.standard_normal((E, d, f)).astype(np.float32), "fc2")]


def moe(inputs=("hidden", "router_logits", "fc1", "", "fc2"), out="output",
        name="moe_node", **attrs):
    attrs.setdefault("k", 2)
    attrs.setdefault("activation_type", "relu")
    return helper.make_node("MoE", list(inputs), [out], domain="com.microsoft",
                            name=name, **attrs)


def bare_tensor(name, dims):
    """A float initializer with `dims` and no values (helper.make_tensor
    checks what these tests need unchecked)."""
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    return t


def main(out):
    os.makedirs(out, exist_ok=True)
    save = lambda m, n: onnx.save_model(m, os.path.join(out, n))
    save(model([moe()], weights()), "ok.onnx")
    with open(os.path.join(out, "malformed.onnx"), "wb") as fh:
        fh.write(b"\x08\x07\x12\xff\xff\xff this is not a model")
    relu = helper.make_node("Relu", ["hidden"], ["h2"], name="act0")
    save(model([relu, moe(inputs=("h2", "router_logits", "fc1", "", "fc2"))],
               weights()), "unsupported-op.onnx")
    save(model([moe(capacity_factor=2)], weights()), "unsupported-attr.onnx")
    save(model([moe(use_sparse_mixer=1)], weights()), "sparse-mixer.onnx")
    save(model([moe(use_sparse_mixer=0)], weights()), "sparse-mixer-off.onnx")
    fc3 = numpy_helper.from_array(np.ones((E, f, d), np.float32), "fc3")
    save(model([moe(inputs=("hidden", "router_logits", "fc1", "", "fc2", "",
                            "fc3"))], weights() + [fc3]), "fc3.onnx")
    save(model([moe(activation_type="swiglu")], weights(2)),
         "swiglu-unfused.onnx")
    q1 = numpy_helper.from_array(np.zeros((E, f, d // 2), np.uint8), "q1")
    s1 = numpy_helper.from_array(np.ones((E, f, 1), np.float32), "s1")
    q2 = numpy_helper.from_array(np.zeros((E, d, f // 2), np.uint8), "q2")
    s2 = numpy_helper.from_array(np.ones((E, d, 1), np.float32), "s2")
    z1 = numpy_helper.from_array(np.zeros((E, f, 2), np.uint8), "z1")
    z2 = numpy_helper.from_array(np.zeros((E, d, 1), np.uint8), "z2")
    qmoe = helper.make_node(
        "QMoE", ["hidden", "router_logits", "q1", "s1", "", "q2", "s2", "",
                 "", "", "", "z1", "z2"], ["output"], domain="com.microsoft",
        name="qmoe_node", k=2, activation_type="relu", expert_weight_bits=4,
        block_size=16)
    save(model([qmoe], [q1, s1, q2, s2, z1, z2]), "zp-shape.onnx")
    m = model([moe()], weights())
    onnx.save_model(m, os.path.join(out, "missing-external.onnx"),
                    save_as_external_data=True, location="gone.bin",
                    size_threshold=0)
    os.remove(os.path.join(out, "gone.bin"))
    m = model([moe()], weights())
    onnx.save_model(m, os.path.join(out, "short-external.onnx"),
                    save_as_external_data=True, location="short.bin",
                    size_threshold=0)
    with open(os.path.join(out, "short.bin"), "r+b") as fh:
        fh.truncate(100)
    save(model([moe(out="mid"),
                moe(inputs=("mid", "router_logits", "fc1", "", "fc2"),
                    name="moe_second")], weights()), "two-moe.onnx")
    const_h = numpy_helper.from_array(np.ones((2, d), np.float32), "const_h")
    save(model([moe(out="mid"),
                moe(inputs=("const_h", "router_logits", "fc1", "", "fc2"),
                    name="moe_second")], weights() + [const_h]),
         "whole-const-hidden.onnx")
    relu_w = helper.make_node("Relu", ["fc1"], ["fc1_relu"], name="relu_fc1")
    save(model([moe(out="mid"), relu_w,
                moe(inputs=("mid", "router_logits", "fc1_relu", "", "fc2"),
                    name="moe_second")], weights()),
         "whole-computed-weight.onnx")
    again = helper.make_node("Cast", ["fc1"], ["fc2"], name="cast_again",
                             to=TensorProto.FLOAT)
    save(model([again, moe()], weights()), "redefined-output.onnx")
    ident = helper.make_node("Add", ["hidden", "hidden"], ["output"], name="add0")
    save(model([ident], []), "no-moe.onnx")
    save(model([moe(k=5)], weights()), "k-too-large.onnx")
    # Constant folding given what is not a shape, an axis or a permutation.
    w1, w2 = weights()
    raw = numpy_helper.from_array(
        numpy_helper.to_array(w1).reshape(-1), "fc1_flat")
    shape = numpy_helper.from_array(np.array([E, np.nan, d]), "fc1_shape")
    reshape = helper.make_node("Reshape", ["fc1_flat", "fc1_shape"], ["fc1"],
                               name="reshape_fc1")
    save(model([reshape, moe()], [raw, shape, w2]), "nan-shape.onnx")
    w2t = numpy_helper.from_array(
        numpy_helper.to_array(w2).transpose(0, 2, 1).copy(), "fc2_t")
    transpose = helper.make_node("Transpose", ["fc2_t"], ["fc2"],
                                 name="transpose_fc2", perm=[0, 0, 1])
    save(model([transpose, moe()], [w1, w2t]), "bad-perm.onnx")
    squeezed = numpy_helper.from_array(numpy_helper.to_array(w2)[0], "fc2_0")
    axes = numpy_helper.from_array(np.array([np.nan]), "axes")
    unsqueeze = helper.make_node("Unsqueeze", ["fc2_0", "axes"], ["fc2"],
                                 name="unsqueeze_fc2")
    save(model([unsqueeze, moe()], [w1, squeezed, axes]), "nan-axes.onnx")
    # A Reshape of the hidden states to what is not a shape, and a MatMul
    # with one operand.
    hshape = numpy_helper.from_array(np.array([-1.0, np.inf]), "h_shape")
    hreshape = helper.make_node("Reshape", ["hidden", "h_shape"], ["h2"],
                                name="reshape_hidden")
    save(model([hreshape, moe(inputs=("h2", "router_logits", "fc1", "",
                                      "fc2"))], weights() + [hshape]),
         "inf-hidden-shape.onnx")
    matmul = helper.make_node("MatMul", ["hidden"], ["logits"], name="mm0")
    save(model([matmul, moe(inputs=("hidden", "logits", "fc1", "", "fc2"))],
               weights()), "matmul-one-input.onnx")

    # Dimensions whose product overflows 64 bits, also where a zero makes
    # the tensor empty, and folding that would grow small constants into a
    # huge one.
    huge = bare_tensor("fc1", [2**40, 2**40, 5369])
    save(model([moe()], [huge, w2]), "huge-dims.onnx")
    empty = numpy_helper.from_array(np.zeros((0,), np.float32), "empty")
    eshape = numpy_helper.from_array(np.array([0, 2**50, 2**50]), "e_shape")
    ereshape = helper.make_node("Reshape", ["empty", "e_shape"], ["e3"],
                                name="reshape_empty")
    save(model([ereshape, moe()], weights() + [empty, eshape]),
         "huge-empty-reshape.onnx")
    wide = bare_tensor("wide", [0, 2**62])
    concat = helper.make_node("Concat", ["wide", "wide"], ["wide2"],
                              name="concat_wide", axis=1)
    save(model([concat, moe()], weights() + [wide]), "huge-concat.onnx")
    col = numpy_helper.from_array(np.ones((E, 1, 1), np.float32), "col")
    row = numpy_helper.from_array(np.ones((1, d, f), np.float32), "row")
    outer = helper.make_node("Add", ["col", "row"], ["fc2"], name="outer_fc2")
    save(model([outer, moe()], [w1, col, row]), "outer-add.onnx")
    # An empty operand broadcast against a [1] one: an empty result.
    nothing = numpy_helper.from_array(np.zeros((0,), np.float32), "nothing")
    one = numpy_helper.from_array(np.ones((1,), np.float32), "one")
    empty_add = helper.make_node("Add", ["nothing", "one"], ["fc2"],
                                 name="empty_fc2")
    save(model([empty_add, moe()], [w1, nothing, one]), "empty-add.onnx")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
