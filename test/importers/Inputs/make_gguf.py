#!/usr/bin/python3
"""Tiny random GGUF models of every architecture the GGUF importer reads,
written with the gguf package (ggml's own writer), with the MoE FFN of each
MoE block computed in NumPy float64 the way llama.cpp computes it.

  make_gguf.py OUT [--quant]

writes OUT/<case>/{model.gguf, x.npy, expected.layer_N.npy} and
OUT/cases.json for check_checkpoints.py (and, for --quant,
expected_int8.layer_N.npy: see below). x is [2, 5, H] ([2, 24, H] for
TALL_CASES and RAGGED_CASES). Routing is checked free of near-ties so
that the float32 runs select the same experts, and with --quant the int8
rounding of the down projections' inputs too (fake_int8's margin): a token
that has one is drawn again.

Without --quant: the f32 and f16 cases (H 16, expert width 12). With
--quant: only the cases whose expert (and shared expert) weights are stored
as ggml quantized blocks. First those in Q8_0, Q4_0, Q4_1, Q5_0 or Q5_1,
quantized by the gguf package (H 64, expert width 32: ggml quantizes each row, a weight's
last NumPy dimension, in blocks of 32; MXFP4 too, as the gpt-oss files
llama.cpp publishes hold their experts). Then those in the K-quants Q4_K,
Q5_K and Q6_K (and later Q2_K and Q3_K; H 256, expert and shared expert width 256: their blocks are 256
elements), which the gguf package can dequantize but not quantize: their
blocks are random bytes with f16 super-block scales chosen so that the
weights are of the float cases' size, |w| at most about 0.75 (make_kquant);
their routers are scaled to spread the logits as much as at H 64. Their
own generator (seed 13) leaves the Q8_0/Q4_0 cases as they were. Then
Q8_0, Q4_0, MXFP4, Q4_1, Q5_0 and Q5_1 cases at H and expert width 128 (WIDE_CASES, seed
14), at H 192 and expert width 64 (TAIL_CASES, seed 15), at H and expert
width 128 with 48 tokens (TALL_CASES, seed 16), at H 128 and expert
width 40 with 48 tokens (RAGGED_CASES, seed 17), and last a Q4_K gate and
a Q6_K up projection, and a Q3_K gate and a Q2_K up projection, at H 256 and
expert width 40 with 48 tokens (KRAGGED_CASES, seed 18), and the 2- and 3-bit K-quants Q2_K and Q3_K
at H and expert width 256 (LOWBIT_CASES, seed 19), and IQ4_XS and IQ4_NL
(IQ_CASES and IQ_TALL_CASES, seed 20; random blocks too), Mixtral with a
tensor per expert (SPLIT_CASES, seed 21), and the 1- to 3-bit i-quants
IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S and IQ1_M at H and expert
width 256 (GRID_CASES, seed 22; random blocks, every byte a valid code).
Every
quantized case's reference uses the dequantized weights, so it is what a
kernel on the quantized weights computes; routers, biases, exp_probs_b and
ffn_gate_inp_shexp stay f32.

The --quant cases where some projection takes int8 rows also get
expected_int8.layer_N.npy, the reference of moe-compile --int8-dot: the
same float64 FFN, except that the input of every quantized projection
whose K (the weight's row length) is a multiple of 64 (the int8 kernel's
steps: 128 for Q8_0, Q4_0 and MXFP4 with a last step of 64 where K is
not a multiple of 128, 64 for the K-quants) is first rounded to int8 per
block of 32 with one f32 scale (fake_int8, int8_inputs); cases.json gives
its tolerance, int8_tolerance. That is every quantized projection of the
K-quant cases (K 256), of the wide cases (K 128) and of the tail cases
(K 192 and 64), and the gate and up projections (K 64) of the cases at
H 64 (their down projections, K 32, keep f32 rows).
Computing it draws no random numbers: the other outputs are as without it.
"""
import json
import os
import sys

import gguf
import numpy as np

H, E, I, K = 16, 6, 12, 2
# The quantized cases' hidden size and expert width: multiples of 32.
QH, QI = 64, 32
# The K-quant cases' hidden size and expert width: multiples of 256.
KH, KI = 256, 256
Q8_0 = gguf.GGMLQuantizationType.Q8_0
Q4_0 = gguf.GGMLQuantizationType.Q4_0
Q4_1 = gguf.GGMLQuantizationType.Q4_1
Q5_0 = gguf.GGMLQuantizationType.Q5_0
Q5_1 = gguf.GGMLQuantizationType.Q5_1
Q4_K = gguf.GGMLQuantizationType.Q4_K
Q5_K = gguf.GGMLQuantizationType.Q5_K
Q6_K = gguf.GGMLQuantizationType.Q6_K
Q2_K = gguf.GGMLQuantizationType.Q2_K
Q3_K = gguf.GGMLQuantizationType.Q3_K
IQ4_NL = gguf.GGMLQuantizationType.IQ4_NL
IQ4_XS = gguf.GGMLQuantizationType.IQ4_XS
MXFP4 = gguf.GGMLQuantizationType.MXFP4
IQ2_XXS = gguf.GGMLQuantizationType.IQ2_XXS
IQ2_XS = gguf.GGMLQuantizationType.IQ2_XS
IQ2_S = gguf.GGMLQuantizationType.IQ2_S
IQ3_XXS = gguf.GGMLQuantizationType.IQ3_XXS
IQ3_S = gguf.GGMLQuantizationType.IQ3_S
IQ1_S = gguf.GGMLQuantizationType.IQ1_S
IQ1_M = gguf.GGMLQuantizationType.IQ1_M
# The i-quants of 1 to 3 bits (codebook entries); --int8-dot leaves
# IQ1_S and IQ1_M (values plus or minus 1/8) on the f32 kernel, so their
# inputs are not rounded.
GRID_TYPES = (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M)
F32_KERNEL_TYPES = (IQ1_S, IQ1_M)
# The relative L2 tolerance of moe-compile --int8-dot against
# expected_int8 (check_checkpoints.py --int8): 10 times the worst error
# measured, 4.6e-7 (the 11 layers 1.4e-7 to 4.6e-7, as the f32 path is
# from expected: f32 against float64 sums). The rounding itself must
# agree exactly: the kernels round the same f32 hidden states as
# fake_int8, and the down projections' inputs h (f32 there, float64 here)
# are at least TIE_MARGIN f32 epsilons of their block's amax away from a
# rounding boundary (make() draws the token again where one is not: an
# h 0.25 epsilons from one rounded the other way in f32), so no q
# differs. One q one step off moves a layer by
# 3.6e-5 to 1.0e-3 (measured by moving the q nearest a boundary): a
# failure of that size is one rounding flipped, not noise. Without the
# int8 rounding (expected) the layers are 6.1e-3 to 1.8e-2 away.
INT8_TOLERANCE = 5e-6
TIE_MARGIN = 8


def silu(v):
    return v / (1.0 + np.exp(-v))


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def softmax(v):
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def fake_int8(v, margin=0):
    """v [..., K] rounded as --int8-dot rounds a quantized GEMM's input, in
    float32: per block of 32 along the last axis amax = max |v|, q =
    roundeven(v * (127 / amax)) (0 where amax is 0), scale = amax / 127;
    returns q * scale in float64 (what the int8 dot products multiply the
    dequantized weight by, up to the order of the f32 sums). None where a
    value is less than `margin` f32 epsilons of its block's amax from a
    rounding boundary (for a v the kernels compute in f32, which could
    round it the other way)."""
    b = np.asarray(v, dtype=np.float32).reshape(-1, 32)
    amax = np.abs(b).max(axis=1, keepdims=True)
    nonzero = amax > 0
    inv = np.where(nonzero, np.float32(127) / np.where(nonzero, amax, np.float32(1)),
                   np.float32(0))
    scaled = b * inv
    # In units of q, an epsilon of amax is 127 epsilons.
    near = np.abs(np.abs(scaled - np.floor(scaled)) - 0.5)
    if margin and (near < margin * 127 * np.finfo(np.float32).eps).any():
        return None
    q = np.rint(scaled)  # float32; rint rounds half to even
    assert inv.dtype == q.dtype == np.float32 and np.abs(q).max() <= 127
    scale = amax / np.float32(127)
    return (q.astype(np.float64) * scale.astype(np.float64)).reshape(np.shape(v))


def int8_inputs(w, types):
    """The keys of w whose input --int8-dot rounds (fake_int8): the
    quantized weights (types' keys) whose K, the last axis, is a multiple of
    64: the int8 kernel's steps are 128 for Q8_0, Q4_0 and MXFP4 (4 blocks
    of 32; a last 64 is a step of its own) and 64 for the K-quants and the
    i-quants. IQ1_S and IQ1_M (F32_KERNEL_TYPES) keep the f32 kernel."""
    return frozenset(k for k in types if w[k].shape[-1] % 64 == 0
                     and types[k] not in F32_KERNEL_TYPES)


def top(v, k):
    """Indices of the k largest, largest first; None on a near-tie at the
    k-th place (float32 could choose otherwise)."""
    order = np.argsort(-v, kind="stable")
    if k < len(v) and v[order[k - 1]] - v[order[k]] < 1e-3:
        return None
    return order[:k]


def moe_ffn(x, w, r, int8=frozenset()):
    """llama.cpp's build_moe_ffn for one token x [H] (float64); r is the
    recipe. None on a routing near-tie. The inputs of the projections
    named in int8 (keys of w) go through fake_int8 first; None where one
    of the down projections' (computed in f32 by the kernels) is near a
    rounding boundary."""
    def inp(key, v):
        if key not in int8:
            return v
        return fake_int8(v, TIE_MARGIN if key in ("down", "shared_down") else 0)

    logits = w["router"] @ x
    if "router_bias" in w:
        logits = logits + w["router_bias"]
    if r["gating"] == "softmax_weight":  # gpt-oss: top-k, then softmax
        ids = top(logits, r["k"])
        if ids is None:
            return None
        weights = softmax(logits[ids])
    elif r["gating"] == "sigmoid_topk":  # llama4: top-k, then a sigmoid each
        ids = top(logits, r["k"])
        if ids is None:
            return None
        weights = sigmoid(logits[ids])
    else:
        probs = softmax(logits) if r["gating"] == "softmax" else sigmoid(logits)
        sel = probs + w["bias"] if "bias" in w else probs.copy()
        if r.get("groups", 1) > 1:
            g = sel.reshape(r["groups"], -1)
            if r["group_score"] == "top2_sum":
                gs = np.sort(g, axis=1)[:, -2:].sum(axis=1)
            else:
                gs = g.max(axis=1)
            keep = top(gs, r["groups_used"])
            if keep is None:
                return None
            mask = np.full(r["groups"], -np.inf)
            mask[keep] = 0.0
            sel = (g + mask[:, None]).reshape(-1)
        ids = top(sel, r["k"])
        if ids is None:
            return None
        weights = probs[ids]
        if r["norm"]:
            weights = weights / weights.sum()
        weights = weights * r.get("scale", 1.0)
    out = np.zeros(len(x))
    for wt, e in zip(weights, ids):
        xe = x
        if r.get("before"):
            # llama4: the weight scales the expert's input (weight_before_ffn).
            xe, wt = wt * x, 1.0
        u = w["up"][e] @ inp("up", xe)
        if r.get("relu2"):
            # nemotron_h_moe: no gate, squared ReLU.
            h = np.square(np.maximum(u, 0.0))
        else:
            g = w["gate"][e] @ inp("gate", xe)
            if "gate_bias" in w:
                g, u = g + w["gate_bias"][e], u + w["up_bias"][e]
            if r.get("oai"):
                g = np.minimum(g, r["limit"])
                u = np.clip(u, -r["limit"], r["limit"])
                h = (u + 1.0) * (g * sigmoid(1.702 * g))
            else:
                h = silu(g) * u
        hq = inp("down", h)
        if hq is None:
            return None
        y = w["down"][e] @ hq
        if "down_bias" in w:
            y = y + w["down_bias"][e]
        out += wt * y
    if "shared_up" in w:
        us = w["shared_up"] @ inp("shared_up", x)
        if "shared_gate" in w:
            hs = silu(w["shared_gate"] @ inp("shared_gate", x)) * us
        else:
            hs = np.square(np.maximum(us, 0.0))
        hq = inp("shared_down", hs)
        if hq is None:
            return None
        s = w["shared_down"] @ hq
        if "shared_expert_gate" in w:
            s = s * sigmoid(w["shared_expert_gate"].reshape(-1) @ x)
        out += s
    return out


def block_weights(rng, r, h, e, i):
    """One MoE block's weights for hidden size h, e experts of width i."""
    n = lambda *s: rng.standard_normal(s) * 0.5
    w = {"router": n(e, h), "gate": n(e, i, h), "up": n(e, i, h),
         "down": n(e, h, i)}
    if h > QH:
        # Router logits only as spread as at QH: spread wider, the k-th
        # and the next probability are both about 0 (a near-tie) in most
        # draws.
        w["router"] *= np.sqrt(QH / h)
    if r.get("oai"):
        w["router_bias"] = n(e)
        w["gate_bias"], w["up_bias"], w["down_bias"] = n(e, i), n(e, i), n(e, h)
        # Large enough activations that the limit clamps.
        w["gate"] *= 3.0
        w["up"] *= 3.0
    if r.get("bias"):
        w["bias"] = n(e)
    if r.get("shared"):
        Is = r["shared"]
        w["shared_gate"], w["shared_up"], w["shared_down"] = n(Is, h), n(Is, h), n(h, Is)
        if r.get("shared_expert_gate"):
            w["shared_expert_gate"] = n(h)
    if r.get("relu2"):
        # Experts and shared expert without a gate.
        w.pop("gate")
        w.pop("shared_gate", None)
    return w


def f16_bytes(v):
    """v's float16 values as their little-endian bytes (a last axis of 2)."""
    return np.ascontiguousarray(v.astype("<f2")).view(np.uint8).reshape(v.shape + (2,))


def make_kquant(rng, shape, qtype):
    """Random raw blocks of a Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS or IQ4_NL weight
    of float shape [..., K] (K a multiple of the block, 256, or 32 for
    IQ4_NL), uint8 [..., K / block * block bytes]. Quants and
    scales are uniform random bytes; each block's f16 scales make its
    largest possible value about 0.5 (times a random factor in [0.5, 1.5]).
    Q4_K (144 bytes): f16 d, f16 dmin, 12 bytes of 6-bit scales and mins,
    128 bytes of 4-bit quants; d * sc * q - dmin * m. Q5_K (176 bytes):
    as Q4_K with 32 bytes of fifth bits before the quants. Q6_K (210 bytes):
    128 bytes ql, 64 bytes qh, 16 int8 scales, f16 d; d * sc * (q - 32).
    Q2_K (84 bytes): 16 bytes of 4-bit scales and mins, 64 bytes of 2-bit
    quants, f16 d, f16 dmin; d * sc * q - dmin * m. Q3_K (110 bytes): 32
    bytes of third bits, 64 bytes of 2-bit quants, 12 bytes of 6-bit
    scales, f16 d; d * (sc - 32) * (q - 4). IQ4_NL (18 bytes per 32): f16 d,
    16 bytes of 4-bit codes; d * v[q], v non-linear in [-127, 113]. IQ4_XS
    (136 bytes): f16 d, 2 and 4 bytes of the 6-bit scales of 8 sub-blocks
    of 32, 128 bytes of codes; d * (ls - 32) * v[q]."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    nb = shape[-1] // block
    assert nb * block == shape[-1]
    lead = tuple(shape[:-1]) + (nb,)
    raw = rng.integers(0, 256, size=lead + (size,), dtype=np.uint8)
    if qtype in (Q4_K, Q5_K):
        top = 15 if qtype == Q4_K else 31
        raw[..., 0:2] = f16_bytes(0.5 / (63 * top) * rng.uniform(0.5, 1.5, lead))
        raw[..., 2:4] = f16_bytes(0.5 / 63 * rng.uniform(0.5, 1.5, lead))
    elif qtype == Q6_K:
        raw[..., 208:210] = f16_bytes(0.5 / (127 * 32) * rng.uniform(0.5, 1.5, lead))
    elif qtype == Q2_K:
        raw[..., 80:82] = f16_bytes(0.5 / (15 * 3) * rng.uniform(0.5, 1.5, lead))
        raw[..., 82:84] = f16_bytes(0.5 / 15 * rng.uniform(0.5, 1.5, lead))
    elif qtype == Q3_K:
        raw[..., 108:110] = f16_bytes(0.5 / (32 * 4) * rng.uniform(0.5, 1.5, lead))
    elif qtype == IQ4_NL:
        raw[..., 0:2] = f16_bytes(0.5 / 127 * rng.uniform(0.5, 1.5, lead))
    elif qtype == IQ4_XS:
        raw[..., 0:2] = f16_bytes(0.5 / (32 * 127) * rng.uniform(0.5, 1.5, lead))
    elif qtype in GRID_TYPES:
        # The largest scale factor times the largest codebook value.
        top = {IQ2_XXS: 31 / 8 * 43, IQ2_XS: 31 / 8 * 43, IQ2_S: 31 / 8 * 43,
               IQ3_XXS: 31 / 4 * 62, IQ3_S: 31 * 15, IQ1_S: 15 * 1.125,
               IQ1_M: 15 * 1.125}[qtype]
        d = f16_bytes(0.5 / top * rng.uniform(0.5, 1.5, lead))
        if qtype == IQ1_M:
            # d's 4 nibbles are the top nibbles of the 4 scale words
            # (bytes 49, 51, 53, 55), its lowest nibble first.
            bits = d[..., 0].astype(np.uint16) | d[..., 1].astype(np.uint16) << 8
            for i in range(4):
                nib = ((bits >> (4 * i)) & 15).astype(np.uint8)
                raw[..., 49 + 2 * i] = (raw[..., 49 + 2 * i] & 15) | nib << 4
        else:
            raw[..., 0:2] = d
    else:
        raise ValueError(qtype)
    return raw.reshape(tuple(shape[:-1]) + (nb * size,))


def quantize(w, types, rng):
    """Rounds the weights of w named in types (key: ggml type) through
    their quantization, in place; returns the raw blocks to write, by key.
    The gguf package cannot quantize K-quants: their weights are replaced
    by random blocks drawn from rng (make_kquant)."""
    raw = {}
    for key, qtype in types.items():
        if qtype in (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS) + GRID_TYPES:
            raw[key] = make_kquant(rng, w[key].shape, qtype)
        else:
            raw[key] = gguf.quants.quantize(w[key].astype(np.float32), qtype)
        w[key] = gguf.quants.dequantize(raw[key], qtype).astype(np.float64)
    return raw


# What an f16 case stores in f16 (the hidden states stay f32).
F16_KEYS = ("router", "gate", "up", "down")

TENSORS = {"router": "ffn_gate_inp.weight", "router_bias": "ffn_gate_inp.bias",
           "gate": "ffn_gate_exps.weight", "up": "ffn_up_exps.weight",
           "gate_up": "ffn_gate_up_exps.weight",
           "down": "ffn_down_exps.weight", "gate_bias": "ffn_gate_exps.bias",
           "up_bias": "ffn_up_exps.bias", "down_bias": "ffn_down_exps.bias",
           "bias": "exp_probs_b.bias", "shared_gate": "ffn_gate_shexp.weight",
           "shared_up": "ffn_up_shexp.weight", "shared_down": "ffn_down_shexp.weight",
           "shared_expert_gate": "ffn_gate_inp_shexp.weight"}

# The experts' projections a "split" recipe writes one tensor per expert.
SPLIT_KEYS = ("gate", "up", "down")

# arch, recipe, blocks, the dense leading blocks, metadata beyond the common
# keys, storage dtype of the experts ("f32", "f16", or for the quantized
# cases the ggml type of each quantized weight, by key).
CASES = [
    ("qwen3moe", "qwen3moe", dict(gating="softmax", norm=True, k=K), 2, 0, {}, "f32"),
    # f16 router and experts, and the experts' width as llama.cpp derives
    # it without expert_feed_forward_length: feed_forward_length / k.
    ("qwen3moe_f16", "qwen3moe", dict(gating="softmax", norm=True, k=K), 1, 0,
     {"feed_forward_length": I * K}, "f16"),
    ("olmoe", "olmoe", dict(gating="softmax", norm=False, k=K), 1, 0, {}, "f32"),
    ("mixtral", "llama", dict(gating="softmax", norm=True, k=K), 1, 0,
     {"feed_forward_length": I}, "f32"),
    ("qwen2moe", "qwen2moe", dict(gating="softmax", norm=False, k=K, shared=8,
                                  shared_expert_gate=True), 1, 0,
     {"expert_shared_feed_forward_length": 8}, "f32"),
    ("deepseek2_v2", "deepseek2", dict(gating="softmax", norm=False, k=K, scale=2.0,
                                       groups=2, groups_used=1,
                                       group_score="top2_sum", shared=2 * I), 2, 1,
     {"leading_dense_block_count": 1, "expert_shared_count": 2,
      "expert_weights_scale": 2.0, "expert_weights_norm": False,
      "expert_gating_func": 1, "expert_group_count": 2,
      "expert_group_used_count": 1}, "f32"),
    ("deepseek2_v3", "deepseek2", dict(gating="sigmoid", norm=True, k=K, scale=1.7,
                                       bias=True, groups=3, groups_used=2,
                                       group_score="top2_sum", shared=I), 3, 1,
     {"leading_dense_block_count": 1, "expert_shared_count": 1,
      "expert_weights_scale": 1.7, "expert_weights_norm": True,
      "expert_gating_func": 2, "expert_group_count": 3,
      "expert_group_used_count": 2}, "f32"),
    ("deepseek2_fused", "deepseek2", dict(gating="sigmoid", norm=True, k=K,
                                          bias=True, fused=True, shared=I), 2, 1,
     {"leading_dense_block_count": 1, "expert_shared_count": 1,
      "expert_weights_norm": True, "expert_gating_func": 2}, "f32"),
    ("gpt_oss", "gpt-oss", dict(gating="softmax_weight", norm=False, k=K, oai=True,
                                limit=7.0), 1, 0, {}, "f32"),
    # A tensor per expert (SPLIT_KEYS), in f16, as Mixtral's first GGUF
    # files hold them.
    ("mixtral_split", "llama", dict(gating="softmax", norm=True, k=K, split=True), 2, 0,
     {"feed_forward_length": I}, "f16"),
    # Qwen3-VL's text model: qwen3moe's experts, the width from
    # feed_forward_length / k.
    ("qwen3vlmoe", "qwen3vlmoe", dict(gating="softmax", norm=True, k=K), 1, 0,
     {"feed_forward_length": I * K}, "f32"),
    # Renormalized, and a gated shared expert as wide as
    # feed_forward_length; gate and up in ffn_gate_up_exps. llama.cpp reads
    # no expert_weights_scale for qwen3next: the key scales nothing.
    ("qwen3next", "qwen3next", dict(gating="softmax", norm=True, k=K,
                                    shared=8, shared_expert_gate=True, fused=True),
     1, 0, {"expert_feed_forward_length": I, "feed_forward_length": 8,
            "expert_weights_scale": 1.5}, "f32"),
    # Two blocks, the second a multi-token-prediction block (an MoE layer too).
    ("qwen35moe_mtp", "qwen35moe", dict(gating="softmax", norm=True, k=K, shared=8,
                                        shared_expert_gate=True), 2, 0,
     {"expert_shared_feed_forward_length": 8, "nextn_predict_layers": 1}, "f32"),
    # GLM-4.5: a dense lead block, sigmoid scores (the unset gating
    # function's default) with exp_probs_b, renormalized, scaled 2.5, a
    # shared expert; its multi-token-prediction block left out of the file.
    ("glm4moe", "glm4moe", dict(gating="sigmoid", norm=True, k=K, scale=2.5, bias=True,
                                shared=I, mtp_absent=1), 3, 1,
     {"leading_dense_block_count": 1, "expert_shared_count": 1,
      "expert_weights_scale": 2.5, "expert_weights_norm": True,
      "nextn_predict_layers": 1}, "f32"),
    # dots.llm1: deepseek2's routing with sigmoid scores, two shared experts.
    ("dots1", "dots1", dict(gating="sigmoid", norm=True, k=K, scale=2.0, bias=True,
                            shared=2 * I), 2, 1,
     {"leading_dense_block_count": 1, "expert_shared_count": 2,
      "expert_weights_scale": 2.0, "expert_weights_norm": True,
      "expert_gating_func": 2}, "f32"),
    # ERNIE 4.5: MoE blocks from block 1 on, every second (1 and 3), softmax
    # with exp_probs_b for selection, renormalized, a shared expert.
    ("ernie4_5_moe", "ernie4_5-moe", dict(gating="softmax", norm=True, k=K, bias=True,
                                          shared=8, step=2), 4, 1,
     {"leading_dense_block_count": 1, "interleave_moe_layer_step": 2,
      "expert_shared_feed_forward_length": 8}, "f32"),
    # Hunyuan-A13B: renormalized, a shared expert added in every block.
    ("hunyuan_moe", "hunyuan-moe", dict(gating="softmax", norm=True, k=K, shared=8), 1, 0,
     {"expert_shared_feed_forward_length": 8}, "f32"),
    # Granite 3 MoE: the experts feed_forward_length wide, renormalized;
    # and GraniteMoeShared's shared expert (expert_weights_scale, which
    # llama.cpp does not read for granitemoe, scales nothing).
    ("granitemoe", "granitemoe", dict(gating="softmax", norm=True, k=K), 1, 0,
     {"feed_forward_length": I}, "f32"),
    ("granitemoe_shared", "granitemoe", dict(gating="softmax", norm=True, k=K, shared=8),
     1, 0,
     {"feed_forward_length": I, "expert_shared_feed_forward_length": 8,
      "expert_weights_scale": 0.75}, "f32"),
    # Ling 2.0: sigmoid scores with exp_probs_b, group-limited (2 of 3
    # groups), renormalized, scaled 2.5, a shared expert
    # expert_shared_feed_forward_length wide.
    ("bailingmoe2", "bailingmoe2", dict(gating="sigmoid", norm=True, k=K, scale=2.5,
                                        bias=True, groups=3, groups_used=2,
                                        group_score="top2_sum", shared=8), 2, 1,
     {"leading_dense_block_count": 1, "expert_shared_count": 1,
      "expert_shared_feed_forward_length": 8, "expert_weights_scale": 2.5,
      "expert_weights_norm": True, "expert_gating_func": 2, "expert_group_count": 3,
      "expert_group_used_count": 2}, "f32"),
    # MiniMax-M2: sigmoid scores with exp_probs_b for selection,
    # renormalized, the experts feed_forward_length wide.
    ("minimax_m2", "minimax-m2", dict(gating="sigmoid", norm=True, k=K, bias=True), 1, 0,
     {"feed_forward_length": I, "expert_gating_func": 2}, "f32"),
    # LFM2-8B-A1B: a dense lead block, then minimax-m2's routing.
    ("lfm2moe", "lfm2moe", dict(gating="sigmoid", norm=True, k=K, bias=True), 3, 1,
     {"leading_dense_block_count": 1, "expert_gating_func": 2}, "f32"),
    # DBRX, Phi-3.5-MoE and Snowflake Arctic: softmax, top-k, renormalized,
    # the experts feed_forward_length wide whatever
    # expert_feed_forward_length says (llama.cpp sizes them so).
    ("dbrx", "dbrx", dict(gating="softmax", norm=True, k=K), 1, 0,
     {"feed_forward_length": I}, "f32"),
    ("phimoe", "phimoe", dict(gating="softmax", norm=True, k=K), 1, 0,
     {"feed_forward_length": I, "expert_feed_forward_length": 7}, "f32"),
    ("arctic", "arctic", dict(gating="softmax", norm=True, k=K), 2, 0,
     {"feed_forward_length": I}, "f32"),
    # DeepSeek-MoE: a dense lead block, softmax, top-k, not renormalized,
    # two shared experts as wide as a routed one.
    ("deepseek", "deepseek", dict(gating="softmax", norm=False, k=K, shared=2 * I), 3, 1,
     {"leading_dense_block_count": 1, "expert_shared_count": 2,
      "expert_weights_scale": 1.0}, "f32"),
    # Llama 4: MoE on every second block (interleave_moe_layer_step), the
    # top-k logits each through a sigmoid, the weight on the experts'
    # input, a shared expert as wide as the experts.
    ("llama4", "llama4", dict(gating="sigmoid_topk", norm=False, k=K, before=True,
                              shared=I, step=2), 4, 0,
     {"interleave_moe_layer_step": 2}, "f32"),
    # Ling 1.0: every block MoE, renormalized, scaled 1.5, a shared expert.
    ("bailingmoe", "bailingmoe", dict(gating="softmax", norm=True, k=K, scale=1.5,
                                      shared=I), 1, 0,
     {"expert_shared_count": 1, "expert_weights_norm": True,
      "expert_weights_scale": 1.5}, "f32"),
    # Granite 4.0 (granitehybrid): granitemoe's FFN in every block, Mamba-2
    # or attention (head_count_kv 0 or not), its shared expert split into
    # ffn_gate_shexp and ffn_up_shexp; an expert_feed_forward_length that
    # llama.cpp does not read for it, and moec neither.
    ("granitehybrid", "granitehybrid", dict(gating="softmax", norm=True, k=K, shared=8),
     2, 0,
     {"feed_forward_length": I, "expert_feed_forward_length": 5,
      "expert_shared_feed_forward_length": 8,
      "attention.head_count_kv": [0, 1]}, "f32"),
    # Nemotron 3: MoE on the blocks with an FFN (feed_forward_length per
    # block; the others Mamba-2 and attention), sigmoid scores with
    # exp_probs_b, renormalized, scaled 2.5, squared-ReLU experts and
    # shared expert without a gate.
    ("nemotron_h_moe", "nemotron_h_moe", dict(gating="sigmoid", norm=True, k=K,
                                              scale=2.5, bias=True, relu2=True,
                                              shared=8, moe_blocks=(1, 3)), 5, 0,
     {"feed_forward_length": [0, I, 0, I, 0], "expert_feed_forward_length": I,
      "attention.head_count_kv": [0, 0, 1, 0, 0],
      "expert_shared_feed_forward_length": 8, "expert_weights_norm": True,
      "expert_weights_scale": 2.5}, "f32"),
]


def quant(qtype, keys=("gate", "up", "down")):
    return {key: qtype for key in keys}


EXPERTS_AND_SHARED = ("gate", "up", "down", "shared_gate", "shared_up", "shared_down")

# As CASES, with H QH and expert width QI.
QUANT_CASES = [
    ("qwen3moe_q8_0", "qwen3moe", dict(gating="softmax", norm=True, k=K), 2, 0, {},
     quant(Q8_0)),
    ("qwen3moe_q4_0", "qwen3moe", dict(gating="softmax", norm=True, k=K), 1, 0, {},
     quant(Q4_0)),
    # Each of the three its own type.
    ("mixtral_mixed", "llama", dict(gating="softmax", norm=True, k=K), 1, 0,
     {"feed_forward_length": QI}, {"gate": Q4_0, "up": Q8_0, "down": Q4_0}),
    ("qwen2moe_q4_0", "qwen2moe", dict(gating="softmax", norm=False, k=K, shared=32,
                                       shared_expert_gate=True), 1, 0,
     {"expert_shared_feed_forward_length": 32}, quant(Q4_0, EXPERTS_AND_SHARED)),
    ("deepseek2_q8_0", "deepseek2", dict(gating="sigmoid", norm=True, k=K, scale=1.7,
                                         bias=True, groups=3, groups_used=2,
                                         group_score="top2_sum", shared=QI), 2, 1,
     {"leading_dense_block_count": 1, "expert_shared_count": 1,
      "expert_weights_scale": 1.7, "expert_weights_norm": True,
      "expert_gating_func": 2, "expert_group_count": 3,
      "expert_group_used_count": 2}, quant(Q8_0, EXPERTS_AND_SHARED)),
    # ffn_gate_up_exps and ffn_down_exps Q4_0, the shared expert f32.
    ("deepseek2_fused_q4_0", "deepseek2", dict(gating="sigmoid", norm=True, k=K,
                                               bias=True, fused=True, shared=QI), 2, 1,
     {"leading_dense_block_count": 1, "expert_shared_count": 1,
      "expert_weights_norm": True, "expert_gating_func": 2}, quant(Q4_0)),
    ("gpt_oss_q8_0", "gpt-oss", dict(gating="softmax_weight", norm=False, k=K,
                                     oai=True, limit=7.0), 1, 0, {}, quant(Q8_0)),
    # As gpt-oss's published GGUF files store their experts.
    ("gpt_oss_mxfp4", "gpt-oss", dict(gating="softmax_weight", norm=False, k=K,
                                      oai=True, limit=7.0), 1, 0, {}, quant(MXFP4)),
    # Q5_0 experts: llama.cpp's Q4_K_M falls back to Q5_0 for a Q4_K
    # tensor whose rows are not whole super-blocks (the down projections
    # of qwen2moe's and deepseek2's experts of width 1408).
    ("qwen3moe_q5_0", "qwen3moe", dict(gating="softmax", norm=True, k=K), 1, 0, {},
     quant(Q5_0)),
    # Q4_1 experts and a Q5_1 shared expert (Q5_K_M's fallback for Q5_K).
    ("qwen2moe_q4_1_q5_1", "qwen2moe", dict(gating="softmax", norm=False, k=K,
                                            shared=32, shared_expert_gate=True),
     1, 0, {"expert_shared_feed_forward_length": 32},
     dict(quant(Q4_1), **quant(Q5_1, ("shared_gate", "shared_up", "shared_down")))),
    # Llama 4 with Q4_0 experts and shared expert: the scaled rows go to
    # the quantized GEMMs (and, with --int8-dot, are rounded to int8).
    ("llama4_q4_0", "llama4", dict(gating="sigmoid_topk", norm=False, k=K, before=True,
                                   shared=QI, step=2), 2, 0,
     {"interleave_moe_layer_step": 2}, quant(Q4_0, EXPERTS_AND_SHARED)),
    # Nemotron 3 with Q4_0 experts and shared expert, without a gate; the
    # experts' width from feed_forward_length / k (no
    # expert_feed_forward_length, as llama.cpp falls back).
    ("nemotron_h_moe_q4_0", "nemotron_h_moe", dict(gating="sigmoid", norm=True, k=K,
                                                   scale=1.5, bias=True, relu2=True,
                                                   shared=QI, moe_blocks=(0,)), 2, 0,
     {"feed_forward_length": [QI * K, 0], "attention.head_count_kv": [0, 1],
      "expert_shared_feed_forward_length": QI, "expert_weights_norm": True,
      "expert_weights_scale": 1.5}, quant(Q4_0, ("up", "down", "shared_up", "shared_down"))),
]

# H 192 and expert width 64: gate and up (K 192) take one int8 unit of 128
# and a tail of 64, down (K 64) the tail alone.
TAIL_CASES = [
    ("gpt_oss_mxfp4_tail", "gpt-oss", dict(gating="softmax_weight", norm=False, k=K,
                                           oai=True, limit=7.0), 1, 0, {}, quant(MXFP4)),
    ("mixtral_mixed_tail", "llama", dict(gating="softmax", norm=True, k=K), 1, 0,
     {"feed_forward_length": 64}, {"gate": Q8_0, "up": Q4_0, "down": Q8_0}),
    ("mixtral_q5_tail", "llama", dict(gating="softmax", norm=True, k=K), 1, 0,
     {"feed_forward_length": 64}, {"gate": Q5_0, "up": Q4_1, "down": Q5_1}),
]

# Q8_0 and Q4_0 with H and expert (and shared expert) width WH, so that
# --int8-dot's steps of 128 cover every projection (at QH and QI they
# keep f32 rows).
WIDE_CASES = [
    ("qwen3moe_q4_0_wide", "qwen3moe", dict(gating="softmax", norm=True, k=K), 1, 0,
     {}, quant(Q4_0)),
    ("mixtral_mixed_wide", "llama", dict(gating="softmax", norm=True, k=K), 1, 0,
     {"feed_forward_length": 128}, {"gate": Q8_0, "up": Q4_0, "down": Q8_0}),
    ("qwen2moe_q8_0_wide", "qwen2moe", dict(gating="softmax", norm=False, k=K,
                                            shared=128, shared_expert_gate=True),
     1, 0, {"expert_shared_feed_forward_length": 128},
     quant(Q8_0, EXPERTS_AND_SHARED)),
    ("gpt_oss_mxfp4_wide", "gpt-oss", dict(gating="softmax_weight", norm=False, k=K,
                                           oai=True, limit=7.0), 1, 0, {}, quant(MXFP4)),
    # MXFP4 experts and a Q8_0 shared expert.
    ("qwen2moe_mxfp4_wide", "qwen2moe", dict(gating="softmax", norm=False, k=K,
                                             shared=128, shared_expert_gate=True),
     1, 0, {"expert_shared_feed_forward_length": 128},
     dict(quant(MXFP4), **quant(Q8_0, ("shared_gate", "shared_up", "shared_down")))),
    ("qwen3moe_q5_wide", "qwen3moe", dict(gating="softmax", norm=True, k=K), 1, 0,
     {}, {"gate": Q5_1, "up": Q5_0, "down": Q4_1}),
]

# As WIDE_CASES with 48 tokens (x [2, 24, H]): 16 rows per expert on
# average, so that --int8-dot's GEMMs run most experts on the int8 panel
# kernel (items of at least moe.kernel's int8_panel_rows rows, 8 to 10 for
# these formats) and the rest on the row kernel.
TALL_CASES = [
    ("qwen3moe_q4_0_tall", "qwen3moe", dict(gating="softmax", norm=True, k=K), 1, 0,
     {}, quant(Q4_0)),
    ("mixtral_mixed_tall", "llama", dict(gating="softmax", norm=True, k=K), 1, 0,
     {"feed_forward_length": 128}, {"gate": Q8_0, "up": Q4_0, "down": Q8_0}),
    # Biases on every projection.
    ("gpt_oss_mxfp4_tall", "gpt-oss", dict(gating="softmax_weight", norm=False, k=K,
                                           oai=True, limit=7.0), 1, 0, {}, quant(MXFP4)),
    ("qwen3moe_q5_tall", "qwen3moe", dict(gating="softmax", norm=True, k=K), 1, 0,
     {}, {"gate": Q5_0, "up": Q4_1, "down": Q5_1}),
]

# H 128 and expert width 40 (seed 17, 48 tokens): the gate and up
# projections (N 40) take --int8-dot's int8 panels of 16 columns with the
# last panel part padding and the last pair of panels one short; down (K
# 40) stays f32.
RAGGED_CASES = [
    ("mixtral_q8_0_q4_0_ragged", "llama", dict(gating="softmax", norm=True, k=K), 1, 0,
     {"feed_forward_length": 40}, {"gate": Q8_0, "up": Q4_0}),
]
KRAGGED_CASES = [
    ("qwen3moe_q4_k_q6_k_ragged", "qwen3moe", dict(gating="softmax", norm=True, k=K), 1, 0,
     {}, {"gate": Q4_K, "up": Q6_K}),
    # Q3_K's and Q2_K's panels at 40 columns: a last panel part padding.
    ("qwen3moe_q3_k_q2_k_ragged", "qwen3moe", dict(gating="softmax", norm=True, k=K), 1, 0,
     {}, {"gate": Q3_K, "up": Q2_K}),
]

# As KQUANT_CASES (seed 19): the K-quants of 2 and 3 bits.
LOWBIT_CASES = [
    # llama.cpp's Q3_K_M mix for the experts: ffn_gate_exps and
    # ffn_up_exps Q3_K, ffn_down_exps Q4_K.
    ("qwen3moe_q3_k_m", "qwen3moe", dict(gating="softmax", norm=True, k=K), 1, 0, {},
     {"gate": Q3_K, "up": Q3_K, "down": Q4_K}),
    # Q2_K's: gate and up Q2_K, down Q3_K.
    ("olmoe_q2_k", "olmoe", dict(gating="softmax", norm=False, k=K), 1, 0, {},
     {"gate": Q2_K, "up": Q2_K, "down": Q3_K}),
    ("qwen2moe_q2_k", "qwen2moe", dict(gating="softmax", norm=False, k=K, shared=KI,
                                       shared_expert_gate=True), 1, 0,
     {"expert_shared_feed_forward_length": KI},
     dict(quant(Q2_K), **quant(Q3_K, ("shared_gate", "shared_up", "shared_down")))),
]

# ggml's 4-bit non-linear formats (seed 20), random blocks: IQ4_XS
# experts at H and expert width 256; IQ4_NL, llama.cpp's type for a Q2_K
# or Q3_K tensor whose rows are not whole super-blocks, as the down
# projection (K 192: an int8 step of 128 and one of 64) of Q3_K experts at
# H 256 and expert width 192; and IQ4_NL experts at H and expert width 128
# with 48 tokens, so that --int8-dot's items of many rows repack them
# into int8 panels.
IQ_CASES = [
    ("qwen3moe_iq4_xs", "qwen3moe", dict(gating="softmax", norm=True, k=K), 1, 0, {},
     quant(IQ4_XS)),
    ("qwen3moe_q3_k_iq4_nl", "qwen3moe", dict(gating="softmax", norm=True, k=K), 1, 0,
     {}, {"gate": Q3_K, "up": Q3_K, "down": IQ4_NL}),
]
# ggml's 1- to 3-bit i-quants (seed 22), random blocks at H and expert
# width 256, mixed as llama.cpp's IQ2_XXS, IQ2_M and IQ1_M files mix them
# (the down projection a type of more bits): qwen3moe with IQ2_XXS gate
# and up and an IQ3_XXS down, olmoe with IQ2_XS gate, IQ2_S up and IQ3_S
# down, Mixtral with IQ1_S gate, IQ1_M up and IQ2_XXS down, and qwen2moe
# with IQ1_M experts and an IQ3_S shared expert.
GRID_CASES = [
    ("qwen3moe_iq2_xxs", "qwen3moe", dict(gating="softmax", norm=True, k=K), 1, 0, {},
     {"gate": IQ2_XXS, "up": IQ2_XXS, "down": IQ3_XXS}),
    ("olmoe_iq2_s", "olmoe", dict(gating="softmax", norm=False, k=K), 1, 0, {},
     {"gate": IQ2_XS, "up": IQ2_S, "down": IQ3_S}),
    ("mixtral_iq1", "llama", dict(gating="softmax", norm=True, k=K), 1, 0,
     {"feed_forward_length": KI}, {"gate": IQ1_S, "up": IQ1_M, "down": IQ2_XXS}),
    ("qwen2moe_iq1_m", "qwen2moe", dict(gating="softmax", norm=False, k=K, shared=KI,
                                        shared_expert_gate=True), 1, 0,
     {"expert_shared_feed_forward_length": KI},
     dict(quant(IQ1_M), **quant(IQ3_S, ("shared_gate", "shared_up", "shared_down")))),
]

# A tensor per expert, quantized (48 tokens): Q4_K gate and up with a Q6_K
# down at KH and KI, and Q4_0/Q8_0 at 128.
SPLIT_CASES = [
    ("mixtral_split_q4_k", "llama", dict(gating="softmax", norm=True, k=K, split=True),
     1, 0, {"feed_forward_length": KI}, {"gate": Q4_K, "up": Q4_K, "down": Q6_K}),
    ("mixtral_split_q4_0", "llama", dict(gating="softmax", norm=True, k=K, split=True),
     1, 0, {"feed_forward_length": 128}, {"gate": Q4_0, "up": Q4_0, "down": Q8_0}),
]

IQ_TALL_CASES = [
    ("mixtral_iq4_nl_tall", "llama", dict(gating="softmax", norm=True, k=K), 1, 0,
     {"feed_forward_length": 128}, quant(IQ4_NL)),
]

# As CASES, with H KH and expert (and shared expert) width KI.
KQUANT_CASES = [
    # llama.cpp's Q4_K_M mix: ffn_gate_exps and ffn_up_exps Q4_K,
    # ffn_down_exps Q6_K.
    ("qwen3moe_q4_k_m", "qwen3moe", dict(gating="softmax", norm=True, k=K), 1, 0, {},
     {"gate": Q4_K, "up": Q4_K, "down": Q6_K}),
    ("mixtral_q6_k", "llama", dict(gating="softmax", norm=True, k=K), 1, 0,
     {"feed_forward_length": KI}, quant(Q6_K)),
    ("qwen2moe_q4_k", "qwen2moe", dict(gating="softmax", norm=False, k=K, shared=KI,
                                       shared_expert_gate=True), 1, 0,
     {"expert_shared_feed_forward_length": KI},
     dict(quant(Q4_K), **quant(Q6_K, ("shared_gate", "shared_up", "shared_down")))),
    # llama.cpp's Q5_K_M mix: ffn_gate_exps and ffn_up_exps Q5_K,
    # ffn_down_exps Q6_K; and olmoe all Q5_K.
    ("qwen3moe_q5_k_m", "qwen3moe", dict(gating="softmax", norm=True, k=K), 1, 0, {},
     {"gate": Q5_K, "up": Q5_K, "down": Q6_K}),
    ("olmoe_q5_k", "olmoe", dict(gating="softmax", norm=False, k=K), 1, 0, {},
     quant(Q5_K)),
]


def add_key(writer, key, value):
    if isinstance(value, list):
        writer.add_array(key, value)
    elif isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    else:
        writer.add_uint32(key, value)


def make(out, name, arch, recipe, blocks, dense, extra, dtype, rng, h=H, i=I,
         tokens=5):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    x = rng.standard_normal((2, tokens, h)).astype(np.float32)
    quantized = isinstance(dtype, dict)
    xs = x.reshape(-1, h)  # a view: redrawn tokens land in x

    def outputs(t, layers):
        """Per layer the token's output and, with int8 rows, the int8
        one; None on a routing near-tie or, with int8 rows, a down
        projection's input near a rounding boundary."""
        out = []
        for w, raw, keys in layers.values():
            t64 = t.astype(np.float64)
            y = moe_ffn(t64, w, recipe)
            # The same routing (the router stays f32).
            y8 = moe_ffn(t64, w, recipe, keys) if keys else None
            if y is None or (keys and y8 is None):
                return None
            out.append((y, y8))
        return out

    for attempt in range(100):
        layers = {}
        # A recipe's "mtp_absent" last blocks (multi-token-prediction
        # blocks, nextn_predict_layers) hold no tensors,
        # and only every "step"-th block (b + 1 a multiple) is an MoE block.
        for b in range(dense, blocks - recipe.get("mtp_absent", 0)):
            if (b + 1) % recipe.get("step", 1) != 0:
                continue
            if b not in recipe.get("moe_blocks", (b,)):
                continue
            w = block_weights(rng, recipe, h, E, i)
            if dtype == "f16":
                for key in F16_KEYS:
                    w[key] = w[key].astype(np.float16).astype(np.float64)
            raw = quantize(w, dtype, rng) if quantized else {}
            keys = int8_inputs(w, dtype) if quantized else frozenset()
            layers[b] = (w, raw, keys)
        # A token whose routing or rounding is ambiguous in some layer is
        # drawn again (the others keep their draws); the weights, where
        # one is drawn 20 times in vain.
        per_token = []
        for n in range(len(xs)):
            for redraw in range(20):
                o = outputs(xs[n], layers)
                if o is not None:
                    break
                xs[n] = rng.standard_normal(h).astype(np.float32)
            if o is None:
                break
            per_token.append(o)
        if len(per_token) == len(xs):
            break
    else:
        sys.exit("%s: no tie-free routing and int8 rounding in 100 draws" % name)
    for li, (b, (w, raw, keys)) in enumerate(list(layers.items())):
        y = np.array([o[li][0] for o in per_token]).reshape(2, tokens, h)
        y8 = (np.array([o[li][1] for o in per_token]).reshape(2, tokens, h)
              if keys else None)
        layers[b] = (w, raw, y, y8)
    writer = gguf.GGUFWriter(os.path.join(d, "model.gguf"), arch)
    writer.add_uint32(arch + ".block_count", blocks)
    writer.add_uint32(arch + ".embedding_length", h)
    writer.add_uint32(arch + ".expert_count", E)
    writer.add_uint32(arch + ".expert_used_count", recipe["k"])
    if "feed_forward_length" not in extra:
        writer.add_uint32(arch + ".expert_feed_forward_length", i)
    for key, value in extra.items():
        add_key(writer, arch + "." + key, value)
    for b, (w, raw, y, y8) in layers.items():
        if recipe.get("fused"):
            # One [E, 2I, H] tensor: gate rows, then up rows.
            w = dict(w)
            w["gate_up"] = np.concatenate([w.pop("gate"), w.pop("up")], axis=1)
            if "gate" in raw:
                # ggml's blocks run along the rows (H), so these are the
                # blocks of the quantized [E, 2I, H] tensor.
                assert dtype["gate"] == dtype["up"]
                raw = dict(raw)
                raw["gate_up"] = np.concatenate([raw.pop("gate"), raw.pop("up")], axis=1)
        for key, value in w.items():
            tensor = "blk.%d.%s" % (b, TENSORS[key])
            if recipe.get("split") and key in SPLIT_KEYS:
                # A tensor per expert, as GGUF files held them before
                # llama.cpp stacked them: blk.N.ffn_gate.E.weight.
                for e in range(E):
                    part = "blk.%d.ffn_%s.%d.weight" % (b, key, e)
                    if key in raw:
                        writer.add_tensor(part, raw[key][e], raw_dtype=dtype[key])
                    else:
                        writer.add_tensor(part, value[e].astype(
                            np.float16 if dtype == "f16" else np.float32))
                continue
            if key in raw:
                # uint8 blocks: the writer derives the logical shape.
                qtype = dtype["gate" if key == "gate_up" else key]
                writer.add_tensor(tensor, raw[key], raw_dtype=qtype)
                continue
            t = value.astype(np.float32)
            if dtype == "f16" and key in F16_KEYS:
                t = value.astype(np.float16)
            writer.add_tensor(tensor, t)
        np.save(os.path.join(d, "expected.layer_%d.npy" % b), y)
        if y8 is not None:
            np.save(os.path.join(d, "expected_int8.layer_%d.npy" % b), y8)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    np.save(os.path.join(d, "x.npy"), x)
    case = {"case": name, "model": "model.gguf", "layers": sorted(layers),
            "tolerance": 1e-5}
    if any(y8 is not None for (_, _, _, y8) in layers.values()):
        case["int8_tolerance"] = INT8_TOLERANCE
    return case


def main(out, quantized):
    os.makedirs(out, exist_ok=True)
    if quantized:
        rng = np.random.default_rng(12)
        cases = [make(out, *c, rng, QH, QI) for c in QUANT_CASES]
        rng = np.random.default_rng(13)
        cases += [make(out, *c, rng, KH, KI) for c in KQUANT_CASES]
        rng = np.random.default_rng(14)
        cases += [make(out, *c, rng, 128, 128) for c in WIDE_CASES]
        rng = np.random.default_rng(15)
        cases += [make(out, *c, rng, 192, 64) for c in TAIL_CASES]
        rng = np.random.default_rng(16)
        cases += [make(out, *c, rng, 128, 128, tokens=24) for c in TALL_CASES]
        rng = np.random.default_rng(17)
        cases += [make(out, *c, rng, 128, 40, tokens=24) for c in RAGGED_CASES]
        rng = np.random.default_rng(18)
        cases += [make(out, *c, rng, KH, 40, tokens=24) for c in KRAGGED_CASES]
        rng = np.random.default_rng(19)
        cases += [make(out, *c, rng, KH, KI) for c in LOWBIT_CASES]
        rng = np.random.default_rng(20)
        cases += [make(out, *IQ_CASES[0], rng, KH, KI)]
        cases += [make(out, *IQ_CASES[1], rng, KH, 192)]
        cases += [make(out, *c, rng, 128, 128, tokens=24) for c in IQ_TALL_CASES]
        rng = np.random.default_rng(21)
        cases += [make(out, *SPLIT_CASES[0], rng, KH, KI, tokens=24)]
        cases += [make(out, *SPLIT_CASES[1], rng, 128, 128, tokens=24)]
        rng = np.random.default_rng(22)
        cases += [make(out, *c, rng, KH, KI) for c in GRID_CASES]
    else:
        rng = np.random.default_rng(11)
        cases = [make(out, *c, rng) for c in CASES]
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
    print("wrote %d %sGGUF models" % (len(cases), "quantized " if quantized else ""))


if __name__ == "__main__":
    args = sys.argv[1:]
    quantized = "--quant" in args
    if quantized:
        args.remove("--quant")
    if len(args) != 1:
        sys.exit(__doc__)
    main(args[0], quantized)
