#!/usr/bin/env python3
"""Generates random com.microsoft.MoE test cases for the ORT agreement check.

    make_cases.py OUTDIR --count N --seed S [--sizes small|large]

Case i is drawn from numpy.random.default_rng([S, i]), so a case depends only
on (S, i). Its features (activation, k, E, biases, rank of the input, ...)
are cycled with fixed periods: cases 0..13 (and any 14 consecutive cases
from case 14 on) cover every activation variant with both values of
normalize_routing_weights; the remaining shape parameters are random.

Each OUTDIR/caseNN/ gets:
  model.onnx          one com.microsoft.MoE node, float32 weights as
                      initializers, graph inputs `input` and `router_probs`
  input.npy           [T, d] or [B, S, d] float32 (what ORT is fed)
  router_probs.npy    [T, E] float32 router logits (ORT applies the softmax)
  hidden.npy, router_logits.npy, gate_up.npy | up.npy, down.npy,
  gate_up_bias.npy | up_bias.npy, down_bias.npy
                      the operands by moe-reference role (hidden is [T, d])
  config.json         the moe-reference layer config
  meta.json           the parameters of the case, for the checker
  case.txt            one-line description used in messages
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# (label, ORT activation_type, alpha, beta, limit, fc1 weight scale)
# The fc1 scale multiplies 1/sqrt(d); 4x makes the fc1 outputs reach beyond 7
# so that the gpt-oss style limit actually clamps.
ACTIVATIONS = [
    ("swiglu", "swiglu", 1.0, 0.0, None, 1.0),
    ("swiglu(a=1.702,b=1,limit=7)", "swiglu", 1.702, 1.0, 7.0, 4.0),
    ("swiglu(limit=0.5)", "swiglu", 1.0, 0.0, 0.5, 1.0),
    ("relu", "relu", None, None, None, 1.0),
    ("gelu_tanh", "gelu", None, None, None, 1.0),
    ("silu", "silu", None, None, None, 1.0),
    ("identity", "identity", None, None, None, 1.0),
]
MOEC_KIND = {"swiglu": "swiglu", "relu": "relu", "gelu": "gelu_tanh",
             "silu": "silu", "identity": "identity"}

DIMS_SMALL = [8, 13, 16, 24, 37, 50, 64, 96]
DIMS_LARGE = [96, 130, 200, 256]
E_CHOICES = [2, 3, 4, 5, 6, 7, 8, 11, 12, 16]
TIE_GAP = 1e-3       # minimum relative gap between k-th and (k+1)-th prob
COLD_OFFSET = -30.0  # logit offset of the experts that must stay idle


def softmax(l):
    z = np.exp(l - l.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def routing_gap_ok(logits, k):
    """True when the k-th and (k+1)-th largest probabilities are apart."""
    if k >= logits.shape[-1]:
        return True
    p = np.sort(softmax(logits.astype(np.float64)))[::-1]
    return (p[k - 1] - p[k]) > TIE_GAP * p[k - 1]


def top_k(logits, k):
    p = softmax(logits.astype(np.float64))
    return np.argsort(-p, axis=-1, kind="stable")[:, :k]


def draw_case(seed, i, sizes):
    rng = np.random.default_rng([seed, i])
    label, ort_act, alpha, beta, limit, fc1_scale = ACTIVATIONS[i % 7]
    normalize = (i // 7) % 2 == 1 if i < 14 else bool(i % 2)

    # E and k. Period 5 for the k mode, E = 1 every 6th case.
    if i % 6 == 3:
        E = 1
    else:
        E = int(rng.choice(E_CHOICES))
    k_mode = i % 5
    if k_mode == 0:
        k = 1
    elif k_mode == 1:
        k = E
    else:
        k = int(rng.integers(1, E + 1))
    # Idle experts: every 4th case with room for them.
    n_cold = 0
    if i % 4 == 2 and E - k >= 2:
        n_cold = int(rng.integers(1, E - k))  # leaves >= k+1 warm experts
    elif i % 4 == 2 and E - k == 1:
        n_cold = 1

    dims = DIMS_SMALL if sizes == "small" else DIMS_LARGE
    d = int(rng.choice(dims))
    f = int(rng.choice(dims))
    max_t = 40 if sizes == "small" else 128
    T = 1 if i % 9 == 5 else int(rng.integers(2, max_t + 1))
    if i % 3 == 1:
        divisors = [b for b in range(1, T + 1) if T % b == 0]
        B = int(rng.choice(divisors))
        in_shape = [B, T // B, d]
    else:
        in_shape = [T, d]
    fc1_bias = i % 3 != 2
    fc2_bias = i % 5 in (0, 1, 3)

    # Data. fc1 rows have norm ~ fc1_scale so that fc1 outputs are ~N(0, s^2).
    x = rng.standard_normal((T, d)).astype(np.float32)
    fusion = 2 if ort_act == "swiglu" else 1
    w1 = (rng.standard_normal((E, fusion * f, d)) * (fc1_scale / np.sqrt(d))
          ).astype(np.float32)
    w2 = (rng.standard_normal((E, d, f)) / np.sqrt(f)).astype(np.float32)
    b1 = (0.5 * fc1_scale * rng.standard_normal((E, fusion * f))
          ).astype(np.float32) if fc1_bias else None
    b2 = (0.5 * rng.standard_normal((E, d))).astype(np.float32) \
        if fc2_bias else None

    cold = rng.permutation(E)[:n_cold]
    offset = np.zeros(E)
    offset[cold] = COLD_OFFSET
    logit_scale = float(rng.uniform(0.5, 2.5))
    logits = np.empty((T, E), np.float32)
    for t in range(T):
        for attempt in range(1000):
            row = (logit_scale * rng.standard_normal(E) + offset
                   ).astype(np.float32)
            if routing_gap_ok(row, k):
                break
        else:
            raise RuntimeError("case %d: cannot avoid routing ties" % i)
        logits[t] = row

    used = np.zeros(E, bool)
    used[top_k(logits, k).ravel()] = True
    idle = int(E - used.sum())
    if n_cold:
        assert idle >= n_cold, "cold experts were routed to"

    # Fraction of the routed (token, expert, i) swiglu pairs the limit clamps.
    clamped = None
    if limit is not None:
        routed = top_k(logits, k)
        h = np.einsum("eod,td->teo", w1.astype(np.float64),
                      x.astype(np.float64))                 # [T, E, 2f]
        if b1 is not None:
            h = h + b1[None].astype(np.float64)
        h = np.take_along_axis(h, routed[:, :, None], axis=1)  # [T, k, 2f]
        g, u = h[..., 0::2], h[..., 1::2]
        clamped = float(np.mean((g > limit) | (np.abs(u) > limit)))
        if limit < 1.0:
            assert clamped > 0.0, "case %d: the swiglu limit never clamps" % i

    return dict(label=label, ort_act=ort_act, alpha=alpha, beta=beta,
                limit=limit, normalize=normalize, E=E, k=k, d=d, f=f, T=T,
                in_shape=in_shape, x=x, logits=logits, w1=w1, w2=w2, b1=b1,
                b2=b2, idle=idle, clamped=clamped)


def make_model(c):
    E = c["E"]
    attrs = dict(activation_type=c["ort_act"], k=c["k"],
                 normalize_routing_weights=int(c["normalize"]))
    if c["ort_act"] == "swiglu":
        attrs.update(swiglu_fusion=1, activation_alpha=c["alpha"],
                     activation_beta=c["beta"])
        if c["limit"] is not None:
            attrs["swiglu_limit"] = c["limit"]
    inits = [numpy_helper.from_array(c["w1"], "fc1_experts_weights")]
    names = ["input", "router_probs", "fc1_experts_weights"]
    if c["b1"] is not None:
        inits.append(numpy_helper.from_array(c["b1"], "fc1_experts_bias"))
        names.append("fc1_experts_bias")
    else:
        names.append("")
    inits.append(numpy_helper.from_array(c["w2"], "fc2_experts_weights"))
    names.append("fc2_experts_weights")
    if c["b2"] is not None:
        inits.append(numpy_helper.from_array(c["b2"], "fc2_experts_bias"))
        names.append("fc2_experts_bias")
    node = helper.make_node("MoE", names, ["output"], domain="com.microsoft",
                            name="moe", **attrs)
    graph = helper.make_graph(
        [node], "moe_case",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                       c["in_shape"]),
         helper.make_tensor_value_info("router_probs", TensorProto.FLOAT,
                                       [c["T"], E])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT,
                                       c["in_shape"])],
        initializer=inits)
    model = helper.make_model(
        graph, producer_name="moec-ort-check",
        opset_imports=[helper.make_opsetid("", 17),
                       helper.make_opsetid("com.microsoft", 1)])
    # onnx 1.23 writes IR version 14 by default; ONNX Runtime 1.31 reads up
    # to 13. Nothing here needs more than 8.
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def make_config(c):
    act = {"kind": MOEC_KIND[c["ort_act"]]}
    if c["ort_act"] == "swiglu":
        act["alpha"] = c["alpha"]
        act["beta"] = c["beta"]
        if c["limit"] is not None:
            act["limit"] = c["limit"]
    cfg = {"routing": {"scoring": "softmax", "order": "score_then_topk",
                       "k": c["k"], "renormalize": c["normalize"]},
           "activation": act}
    if c["ort_act"] == "swiglu":
        cfg["gate_up_layout"] = "interleaved"
    return cfg


def describe(name, c):
    shape = "T=%d" % c["T"]
    if len(c["in_shape"]) == 3:
        shape += "(%dx%d)" % (c["in_shape"][0], c["in_shape"][1])
    bias = {(True, True): "bias", (True, False): "fc1-bias",
            (False, True): "fc2-bias", (False, False): "no-bias"}[
        (c["b1"] is not None, c["b2"] is not None)]
    s = "%s E=%d k=%d d=%d f=%d %s %s norm=%d %s" % (
        name, c["E"], c["k"], c["d"], c["f"], shape, c["label"],
        int(c["normalize"]), bias)
    if c["idle"]:
        s += " idle=%d" % c["idle"]
    if c["clamped"] is not None:
        s += " clamped=%.0f%%" % (100 * c["clamped"])
    return s


def write_case(outdir, name, c):
    path = os.path.join(outdir, name)
    os.makedirs(path, exist_ok=True)
    onnx.save(make_model(c), os.path.join(path, "model.onnx"))

    def save(fname, a):
        np.save(os.path.join(path, fname), np.ascontiguousarray(a))

    save("input.npy", c["x"].reshape(c["in_shape"]))
    save("router_probs.npy", c["logits"])
    save("hidden.npy", c["x"])
    save("router_logits.npy", c["logits"])
    gated = c["ort_act"] == "swiglu"
    save("gate_up.npy" if gated else "up.npy", c["w1"])
    save("down.npy", c["w2"])
    if c["b1"] is not None:
        save("gate_up_bias.npy" if gated else "up_bias.npy", c["b1"])
    if c["b2"] is not None:
        save("down_bias.npy", c["b2"])
    with open(os.path.join(path, "config.json"), "w") as fh:
        json.dump(make_config(c), fh, indent=1)
        fh.write("\n")
    roles = ["hidden", "router_logits", "gate_up" if gated else "up", "down"]
    if c["b1"] is not None:
        roles.append("gate_up_bias" if gated else "up_bias")
    if c["b2"] is not None:
        roles.append("down_bias")
    desc = describe(name, c)
    meta = {k: c[k] for k in ("label", "ort_act", "alpha", "beta", "limit",
                              "normalize", "E", "k", "d", "f", "T",
                              "in_shape", "idle", "clamped")}
    meta["roles"] = roles
    meta["description"] = desc
    with open(os.path.join(path, "meta.json"), "w") as fh:
        json.dump(meta, fh, indent=1)
        fh.write("\n")
    with open(os.path.join(path, "case.txt"), "w") as fh:
        fh.write(desc + "\n")
    return desc


def case_names(count):
    width = max(2, len(str(count - 1)))
    return ["case%0*d" % (width, i) for i in range(count)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--sizes", choices=["small", "large"], default="small")
    args = ap.parse_args(argv)
    if args.count < 1:
        ap.error("--count must be >= 1")
    os.makedirs(args.outdir, exist_ok=True)
    for i, name in enumerate(case_names(args.count)):
        c = draw_case(args.seed, i, args.sizes)
        print(write_case(args.outdir, name, c))
    return 0


if __name__ == "__main__":
    sys.exit(main())
