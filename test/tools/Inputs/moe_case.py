#!/usr/bin/env python3
"""Inputs and float64 expectations for the moe-reference lit tests.

    moe_case.py make CASE OUTDIR     write OUTDIR/config.json, one .npy per
                                     operand role, and OUTDIR/expected.npy;
                                     CASE is "tiny" or a key of CASES
    moe_case.py compare OUT EXPECTED [--dtype f4|f8] [--rtol R]
    moe_case.py truncate SRC DST     SRC without its last byte
    moe_case.py fortran DST          a 2x3 array saved in Fortran order

The expectation is an independent NumPy float64 transcription of the moe.layer
semantics (runtime/reference/Reference.h), vectorized differently from the C++
loops. Cases are drawn from fixed seeds; a draw whose routing has a near-tie
(k-th vs (k+1)-th selection score, or kept vs dropped group) is rejected, so
both implementations must pick the same experts.
"""
import json
import math
import os
import sys

import numpy as np

MARGIN = 1e-6

# name: (config, dims, options). dims: T (or a leading shape), d, E, f, fs.
CASES = {
    # Qwen2-MoE: softmax over all, top-k, no renormalization, shared expert
    # with a sigmoid gate; hidden has a leading [B, S] shape.
    "qwen2": ({"routing": {"k": 2},
               "activation": {"kind": "swiglu"}},
              dict(lead=(2, 3), d=8, E=6, f=4, fs=6),
              dict(router="weight", gated="split", shared="gated")),
    # DeepSeek-V3: sigmoid, selection bias, 4 groups scored by top-2 sum,
    # keep 2, renormalize, scale 2.5, ungated shared expert.
    "deepseek_v3": ({"routing": {"scoring": "sigmoid", "k": 3,
                                 "renormalize": True, "scale": 2.5,
                                 "n_group": 4, "topk_group": 2,
                                 "group_score": "top2_sum"},
                     "activation": {"kind": "swiglu"}},
                    dict(lead=(7,), d=8, E=8, f=3, fs=5),
                    dict(router="weight", gated="split", shared="plain",
                         correction=True)),
    # gpt-oss: top-k on biased logits, softmax over the k, interleaved fused
    # gate_up with biases, clamped SwiGLU (weights large enough to clamp).
    "gptoss": ({"routing": {"order": "topk_then_score", "k": 2},
                "activation": {"kind": "swiglu", "alpha": 1.702, "beta": 1.0,
                               "limit": 7.0},
                "gate_up_layout": "interleaved"},
               dict(lead=(6,), d=8, E=4, f=5),
               dict(router="weight_bias", gated="fused", biases=True,
                    scale=6.0)),
    # DeepSeek-V2-style groups (max) on given logits; GeGLU with a
    # concatenated gate_up, beta and a limit.
    "geglu_concat": ({"routing": {"k": 3, "n_group": 4, "topk_group": 2,
                                  "group_score": "max", "scale": 1.5},
                      "activation": {"kind": "geglu", "beta": 0.5,
                                     "limit": 1.0},
                      "gate_up_layout": "concatenated"},
                     dict(lead=(8,), d=6, E=8, f=4),
                     dict(router="logits", gated="fused", biases=True,
                          scale=2.0)),
}
for kind in ["relu", "relu2", "gelu", "gelu_tanh", "silu", "identity"]:
    # Elementwise kinds: sigmoid after top-k, renormalized, with biases and
    # a plain shared expert.
    CASES[kind] = ({"routing": {"scoring": "sigmoid",
                                "order": "topk_then_score", "k": 2,
                                "renormalize": True},
                    "activation": {"kind": kind}},
                   dict(lead=(4,), d=5, E=3, f=4, fs=3),
                   dict(router="weight", gated=None, biases=True,
                        shared="plain"))


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


ERF = np.vectorize(math.erf)


def activation(act, g, u):
    kind = act["kind"]
    if kind in ("swiglu", "geglu"):
        limit = act.get("limit")
        if limit is not None:
            g = np.minimum(g, limit)
            u = np.clip(u, -limit, limit)
        u = u + act.get("beta", 0.0)
        if kind == "swiglu":
            return g * sigmoid(act.get("alpha", 1.0) * g) * u
        return 0.5 * g * (1.0 + ERF(g / math.sqrt(2.0))) * u
    if kind == "relu":
        return np.maximum(u, 0.0)
    if kind == "relu2":
        return np.square(np.maximum(u, 0.0))
    if kind == "gelu":
        return 0.5 * u * (1.0 + ERF(u / math.sqrt(2.0)))
    if kind == "gelu_tanh":
        return 0.5 * u * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) *
                                        (u + 0.044715 * u ** 3)))
    if kind == "silu":
        return u * sigmoid(u)
    assert kind == "identity"
    return u


def gap_ok(scores, k):
    """The k-th and (k+1)-th largest of each row are apart."""
    if k >= scores.shape[-1]:
        return True
    s = -np.sort(-scores, axis=-1)
    finite = np.isfinite(s[:, k])
    return bool(np.all(s[finite, k - 1] - s[finite, k] > MARGIN))


def route(cfg, ops, T, E):
    r = cfg["routing"]
    k = r["k"]
    if "router_logits" in ops:
        l = ops["router_logits"].reshape(T, E)
    else:
        l = ops["hidden"].reshape(T, -1) @ ops["router_weight"].T
        if "router_bias" in ops:
            l = l + ops["router_bias"]
    score = softmax if r.get("scoring", "softmax") == "softmax" else sigmoid
    ok = True
    if r.get("order", "score_then_topk") == "score_then_topk":
        s = score(l)
        c = s + ops.get("correction_bias", 0.0)
        G = r.get("n_group", 1)
        if G > 1:
            cg = c.reshape(T, G, E // G)
            if r.get("group_score", "max") == "max":
                gs = cg.max(axis=-1)
            else:
                gs = np.sort(cg, axis=-1)[..., -2:].sum(axis=-1)
            ok = gap_ok(gs, r["topk_group"])
            kept = np.argsort(-gs, axis=-1, kind="stable")[:, :r["topk_group"]]
            mask = np.zeros((T, G), dtype=bool)
            np.put_along_axis(mask, kept, True, axis=-1)
            c = np.where(np.repeat(mask, E // G, axis=-1), c, -np.inf)
        ok = ok and gap_ok(c, k)
        idx = np.argsort(-c, axis=-1, kind="stable")[:, :k]
        w = np.take_along_axis(s, idx, axis=-1)
    else:
        ok = gap_ok(l, k)
        idx = np.argsort(-l, axis=-1, kind="stable")[:, :k]
        w = score(np.take_along_axis(l, idx, axis=-1))
    if r.get("renormalize", False):
        w = w / w.sum(axis=-1, keepdims=True)
    return idx, w * r.get("scale", 1.0), ok


def evaluate(cfg, ops, dims):
    d, f = dims["d"], dims["f"]
    x = ops["hidden"].reshape(-1, d)
    T, E = x.shape[0], dims["E"]
    idx, w, ok = route(cfg, ops, T, E)
    act = cfg["activation"]
    fused = "gate_up" in ops
    interleaved = cfg.get("gate_up_layout", "interleaved") == "interleaved"
    out = np.zeros((T, d))
    for e in range(E):
        if fused:
            gu = x @ ops["gate_up"][e].T + ops.get("gate_up_bias", np.zeros((E, 2 * f)))[e]
            g, u = (gu[:, 0::2], gu[:, 1::2]) if interleaved else (gu[:, :f], gu[:, f:])
        else:
            u = x @ ops["up"][e].T + ops.get("up_bias", np.zeros((E, f)))[e]
            g = (x @ ops["gate"][e].T + ops.get("gate_bias", np.zeros((E, f)))[e]
                 if "gate" in ops else None)
        y = activation(act, g, u) @ ops["down"][e].T
        y = y + ops.get("down_bias", np.zeros((E, d)))[e]
        weight = np.where(idx == e, w, 0.0).sum(axis=-1)  # 0 if not routed
        out += weight[:, None] * y
    if "shared_down" in ops:
        su = x @ ops["shared_up"].T
        sg = x @ ops["shared_gate"].T if "shared_gate" in ops else None
        y = activation(act, sg, su) @ ops["shared_down"].T
        if "shared_expert_gate" in ops:
            y = y * sigmoid(x @ ops["shared_expert_gate"].T)
        out += y
    return out.reshape(tuple(dims["lead"]) + (d,)), ok


def draw(name, seed):
    cfg, dims, opt = CASES[name]
    rng = np.random.default_rng([seed, sum(map(ord, name))])
    lead, d, E, f = dims["lead"], dims["d"], dims["E"], dims["f"]
    T = int(np.prod(lead))
    scale = opt.get("scale", 1.0) / math.sqrt(d)

    def rand(*shape, s=1.0):
        return rng.standard_normal(shape) * s

    ops = {"hidden": rand(*lead, d)}
    if opt["router"] == "logits":
        ops["router_logits"] = rand(T, E, s=2.0)
    else:
        ops["router_weight"] = rand(E, d, s=2.0 / math.sqrt(d))
        if opt["router"] == "weight_bias":
            ops["router_bias"] = rand(E)
    if opt.get("correction"):
        ops["correction_bias"] = rand(E, s=0.3)
    if opt["gated"] == "fused":
        ops["gate_up"] = rand(E, 2 * f, d, s=scale)
    elif opt["gated"] == "split":
        ops["gate"] = rand(E, f, d, s=scale)
        ops["up"] = rand(E, f, d, s=scale)
    else:
        ops["up"] = rand(E, f, d, s=scale)
    ops["down"] = rand(E, d, f, s=1.0 / math.sqrt(f))
    if opt.get("biases"):
        for role in ("gate_up", "gate", "up"):
            if role in ops:
                ops[role + "_bias"] = rand(*ops[role].shape[:2], s=0.5)
        ops["down_bias"] = rand(E, d, s=0.5)
    if opt.get("shared"):
        fs = dims["fs"]
        ops["shared_up"] = rand(fs, d, s=1.0 / math.sqrt(d))
        if cfg["activation"]["kind"] in ("swiglu", "geglu"):
            ops["shared_gate"] = rand(fs, d, s=1.0 / math.sqrt(d))
        ops["shared_down"] = rand(d, fs, s=1.0 / math.sqrt(fs))
        if opt["shared"] == "gated":
            ops["shared_expert_gate"] = rand(1, d)
    return cfg, dims, ops


def tiny():
    """The hand-checkable case: 1 token x = 2, logits log[1, 2, 3, 4] (softmax
    [0.1, 0.2, 0.3, 0.4]), identity experts y_e = (e + 1)·x, k = 2: experts
    3 and 2 with weights 0.4 and 0.3, out = 0.4·8 + 0.3·6 = 5."""
    cfg = {"routing": {"k": 2}, "activation": {"kind": "identity"}}
    dims = dict(lead=(1,), d=1, E=4, f=1)
    ops = {"hidden": np.array([[2.0]]),
           "router_logits": np.log(np.array([[1.0, 2.0, 3.0, 4.0]])),
           "up": np.ones((4, 1, 1)),
           "down": np.arange(1.0, 5.0).reshape(4, 1, 1)}
    return cfg, dims, ops


def make(name, outdir):
    for seed in range(100):
        if name == "tiny":
            cfg, dims, ops = tiny()
            expected, ok = evaluate(cfg, ops, dims)
            assert abs(expected[0, 0] - 5.0) < 1e-14
            break
        cfg, dims, ops = draw(name, seed)
        expected, ok = evaluate(cfg, ops, dims)
        if ok:
            break
    else:
        sys.exit("no tie-free draw for case %s" % name)
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=1)
    for role, a in ops.items():
        np.save(os.path.join(outdir, role + ".npy"), a)
    np.save(os.path.join(outdir, "expected.npy"), expected)
    return 0


def compare(out_path, expected_path, dtype="f8", rtol=1e-12):
    out = np.load(out_path)
    exp = np.load(expected_path)
    if out.dtype != np.dtype("<" + dtype):
        sys.exit("dtype %s, expected <%s" % (out.dtype.str, dtype))
    if out.shape != exp.shape:
        sys.exit("shape %s, expected %s" % (out.shape, exp.shape))
    # Relative to the largest magnitude, so near-zero entries do not need
    # a relative match of their own.
    err = np.abs(out.astype(np.float64) - exp).max() / np.abs(exp).max()
    if not err <= rtol:
        sys.exit("max error %.3g relative to max |expected|, tolerance %.3g"
                 % (err, rtol))
    print("ok: max relative error %.2g (tolerance %.2g)" % (err, rtol))
    return 0


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "make" and len(argv) == 4:
        return make(argv[2], argv[3])
    if cmd == "compare" and len(argv) >= 4:
        opts = dict(zip(argv[4::2], argv[5::2]))
        return compare(argv[2], argv[3], opts.get("--dtype", "f8"),
                       float(opts.get("--rtol", "1e-12")))
    if cmd == "truncate" and len(argv) == 4:
        with open(argv[2], "rb") as fh:
            data = fh.read()
        with open(argv[3], "wb") as fh:
            fh.write(data[:-1])
        return 0
    if cmd == "fortran" and len(argv) == 3:
        # 2x3: an array with at most one non-unit dimension is C-contiguous
        # too, and numpy would write it with fortran_order False.
        with open(argv[2], "wb") as fh:
            np.save(fh, np.asfortranarray(np.arange(6.0).reshape(2, 3)))
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
