#!/usr/bin/python3
"""Tiny random GGUF models of every architecture the GGUF importer reads,
written with the gguf package (ggml's own writer), with the MoE FFN of each
MoE block computed in NumPy float64 the way llama.cpp computes it.

  make_gguf.py OUT

writes OUT/<case>/{model.gguf, x.npy, expected.layer_N.npy} and
OUT/cases.json for check_checkpoints.py. x is [2, 5, H]. Routing is checked
free of near-ties so that the float32 runs select the same experts.
"""
import json
import os
import sys

import gguf
import numpy as np

H, E, I, K = 16, 6, 12, 2


def silu(v):
    return v / (1.0 + np.exp(-v))


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def softmax(v):
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def top(v, k):
    """Indices of the k largest, largest first; None on a near-tie at the
    k-th place (float32 could choose otherwise)."""
    order = np.argsort(-v, kind="stable")
    if k < len(v) and v[order[k - 1]] - v[order[k]] < 1e-3:
        return None
    return order[:k]


def moe_ffn(x, w, r):
    """llama.cpp's build_moe_ffn for one token x [H] (float64); r is the
    recipe. None on a routing near-tie."""
    logits = w["router"] @ x
    if "router_bias" in w:
        logits = logits + w["router_bias"]
    if r["gating"] == "softmax_weight":  # gpt-oss: top-k, then softmax
        ids = top(logits, r["k"])
        if ids is None:
            return None
        weights = softmax(logits[ids])
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
    out = np.zeros(H)
    for wt, e in zip(weights, ids):
        g = w["gate"][e] @ x
        u = w["up"][e] @ x
        if "gate_bias" in w:
            g, u = g + w["gate_bias"][e], u + w["up_bias"][e]
        if r.get("oai"):
            g = np.minimum(g, r["limit"])
            u = np.clip(u, -r["limit"], r["limit"])
            h = (u + 1.0) * (g * sigmoid(1.702 * g))
        else:
            h = silu(g) * u
        y = w["down"][e] @ h
        if "down_bias" in w:
            y = y + w["down_bias"][e]
        out += wt * y
    if "shared_gate" in w:
        s = w["shared_down"] @ (silu(w["shared_gate"] @ x) * (w["shared_up"] @ x))
        if "shared_expert_gate" in w:
            s = s * sigmoid(w["shared_expert_gate"].reshape(-1) @ x)
        out += s
    return out


def block_weights(rng, r):
    n = lambda *s: rng.standard_normal(s) * 0.5
    w = {"router": n(E, H), "gate": n(E, I, H), "up": n(E, I, H),
         "down": n(E, H, I)}
    if r.get("oai"):
        w["router_bias"] = n(E)
        w["gate_bias"], w["up_bias"], w["down_bias"] = n(E, I), n(E, I), n(E, H)
        # Large enough activations that the limit clamps.
        w["gate"] *= 3.0
        w["up"] *= 3.0
    if r.get("bias"):
        w["bias"] = n(E)
    if r.get("shared"):
        Is = r["shared"]
        w["shared_gate"], w["shared_up"], w["shared_down"] = n(Is, H), n(Is, H), n(H, Is)
        if r.get("shared_expert_gate"):
            w["shared_expert_gate"] = n(H)
    return w


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

# arch, recipe, blocks, the dense leading blocks, metadata beyond the common
# keys, storage dtype of the experts.
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
]


def add_key(writer, key, value):
    if isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    else:
        writer.add_uint32(key, value)


def make(out, name, arch, recipe, blocks, dense, extra, dtype, rng):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    x = rng.standard_normal((2, 5, H)).astype(np.float32)
    for attempt in range(100):
        layers = {}
        ok = True
        for b in range(dense, blocks):
            w = block_weights(rng, recipe)
            if dtype == "f16":
                for key in F16_KEYS:
                    w[key] = w[key].astype(np.float16).astype(np.float64)
            xs = x.reshape(-1, H).astype(np.float64)
            ys = [moe_ffn(t, w, recipe) for t in xs]
            if any(y is None for y in ys):
                ok = False
                break
            layers[b] = (w, np.array(ys).reshape(2, 5, H))
        if ok:
            break
    else:
        sys.exit("%s: no tie-free routing in 100 draws" % name)
    writer = gguf.GGUFWriter(os.path.join(d, "model.gguf"), arch)
    writer.add_uint32(arch + ".block_count", blocks)
    writer.add_uint32(arch + ".embedding_length", H)
    writer.add_uint32(arch + ".expert_count", E)
    writer.add_uint32(arch + ".expert_used_count", K)
    if "feed_forward_length" not in extra:
        writer.add_uint32(arch + ".expert_feed_forward_length", I)
    for key, value in extra.items():
        add_key(writer, arch + "." + key, value)
    for b, (w, y) in layers.items():
        if recipe.get("fused"):
            # One [E, 2I, H] tensor: gate rows, then up rows.
            w = dict(w)
            w["gate_up"] = np.concatenate([w.pop("gate"), w.pop("up")], axis=1)
        for key, value in w.items():
            t = value.astype(np.float32)
            if dtype == "f16" and key in F16_KEYS:
                t = value.astype(np.float16)
            writer.add_tensor("blk.%d.%s" % (b, TENSORS[key]), t)
        np.save(os.path.join(d, "expected.layer_%d.npy" % b), y)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    np.save(os.path.join(d, "x.npy"), x)
    return {"case": name, "model": "model.gguf", "layers": sorted(layers),
            "tolerance": 1e-5}


def main(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(11)
    cases = [make(out, *c, rng) for c in CASES]
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
    print("wrote %d GGUF models" % len(cases))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
