#!/usr/bin/python3
"""Tiny random Hugging Face checkpoints of every supported MoE family.

  make_checkpoints.py OUT

writes OUT/<case>/{config.json, *.safetensors} as transformers stores them
(per-expert tensors; gpt-oss with [E, in, out] fused experts), the input
OUT/<case>/x.npy ([2, 5, H]: batch and sequence), and for each MoE layer N
the expected output OUT/<case>/expected.layer_N.npy, computed here in
float64 from the family's definition (docs/Importing.md) without
sharing code with moec. OUT/cases.json lists the cases and tolerances.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "examples"))
import safetensors_np  # noqa: E402


def softmax(v):
    e = np.exp(v - v.max())
    return e / e.sum()


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def silu(v):
    return v * sigmoid(v)


def top(scores, k):
    return np.argsort(-scores, kind="stable")[:k]


def swiglu(x, wg, wu, wd):
    return wd @ (silu(wg @ x) * (wu @ x))


class Writer:
    """Collects tensors, rounding them to the storage dtype so the expected
    outputs see exactly what the files hold."""

    def __init__(self, rng, dtype):
        self.rng, self.dtype, self.tensors = rng, dtype, {}

    def add(self, name, shape, scale=None, value=None):
        if value is None:
            scale = scale if scale is not None else 1.0 / np.sqrt(shape[-1])
            value = self.rng.standard_normal(shape) * scale
        value = safetensors_np.rounded(value, self.dtype)
        self.tensors[name] = value
        return value

    def save(self, out, shards=1):
        names = sorted(self.tensors)
        if shards == 1:
            safetensors_np.save(os.path.join(out, "model.safetensors"),
                                {n: (self.tensors[n], self.dtype) for n in names})
            return
        weight_map = {}
        for s in range(shards):
            file = "model-%05d-of-%05d.safetensors" % (s + 1, shards)
            part = names[s::shards]
            safetensors_np.save(os.path.join(out, file),
                                {n: (self.tensors[n], self.dtype) for n in part})
            weight_map.update({n: file for n in part})
        with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=1)


def experts(w, prefix, E, I, H, names=("gate_proj", "up_proj", "down_proj")):
    g = [w.add("%s%d.%s.weight" % (prefix, e, names[0]), (I, H)) for e in range(E)]
    u = [w.add("%s%d.%s.weight" % (prefix, e, names[1]), (I, H)) for e in range(E)]
    d = [w.add("%s%d.%s.weight" % (prefix, e, names[2]), (H, I)) for e in range(E)]
    return g, u, d


def dense_mlp(w, prefix, F, H):
    for n, shape in (("gate_proj", (F, H)), ("up_proj", (F, H)),
                     ("down_proj", (H, F))):
        w.add(prefix + n + ".weight", shape)


def mixtral(w, cfg, X):
    H, E, K, I = (cfg["hidden_size"], cfg["num_local_experts"],
                  cfg["num_experts_per_tok"], cfg["intermediate_size"])
    out = {}
    for n in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d.block_sparse_moe." % n
        wr = w.add(p + "gate.weight", (E, H))
        g, u, d = experts(w, p + "experts.", E, I, H, ("w1", "w3", "w2"))
        def layer(x):
            pr = softmax(wr @ x)
            idx = top(pr, K)
            wt = pr[idx] / pr[idx].sum()
            return sum(wt[j] * swiglu(x, g[e], u[e], d[e]) for j, e in enumerate(idx))
        out[n] = np.stack([layer(x) for x in X])
    return out


def qwen(w, cfg, X, shared, olmoe):
    H, E, K = cfg["hidden_size"], cfg["num_experts"], cfg["num_experts_per_tok"]
    I = cfg["intermediate_size"] if olmoe else cfg["moe_intermediate_size"]
    norm = cfg.get("norm_topk_prob", False)
    step = cfg.get("decoder_sparse_step", 1)
    out = {}
    for n in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d.mlp." % n
        if n in cfg.get("mlp_only_layers", []) or (n + 1) % step:
            dense_mlp(w, p, cfg["intermediate_size"], H)
            continue
        wr = w.add(p + "gate.weight", (E, H))
        g, u, d = experts(w, p + "experts.", E, I, H)
        if shared:
            Is = cfg["shared_expert_intermediate_size"]
            sg = w.add(p + "shared_expert.gate_proj.weight", (Is, H))
            su = w.add(p + "shared_expert.up_proj.weight", (Is, H))
            sd = w.add(p + "shared_expert.down_proj.weight", (H, Is))
            seg = w.add(p + "shared_expert_gate.weight", (1, H))
        def layer(x):
            pr = softmax(wr @ x)
            idx = top(pr, K)
            wt = pr[idx] / pr[idx].sum() if norm else pr[idx]
            y = sum(wt[j] * swiglu(x, g[e], u[e], d[e]) for j, e in enumerate(idx))
            if shared:
                y = y + sigmoid(seg @ x)[0] * swiglu(x, sg, su, sd)
            return y
        out[n] = np.stack([layer(x) for x in X])
    return out


def deepseek(w, cfg, X, v3):
    H, E, K = cfg["hidden_size"], cfg["n_routed_experts"], cfg["num_experts_per_tok"]
    I, ns = cfg["moe_intermediate_size"], cfg["n_shared_experts"]
    G, TG, rsf = cfg["n_group"], cfg["topk_group"], cfg["routed_scaling_factor"]
    out = {}
    for n in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d.mlp." % n
        if n < cfg["first_k_dense_replace"]:
            dense_mlp(w, p, cfg["intermediate_size"], H)
            continue
        wr = w.add(p + "gate.weight", (E, H))
        if v3:
            bias = w.add(p + "gate.e_score_correction_bias", (E,), scale=0.3)
        g, u, d = experts(w, p + "experts.", E, I, H)
        sg = w.add(p + "shared_experts.gate_proj.weight", (ns * I, H))
        su = w.add(p + "shared_experts.up_proj.weight", (ns * I, H))
        sd = w.add(p + "shared_experts.down_proj.weight", (H, ns * I))
        def layer(x):
            l = wr @ x
            if v3:
                s = sigmoid(l)
                c = (s + bias).reshape(G, E // G)
                gs = np.sort(c, axis=1)[:, -2:].sum(axis=1)
                keep = top(gs, TG)
                masked = np.full_like(c, -np.inf)
                masked[keep] = c[keep]
                idx = top(masked.reshape(E), K)
                wt = s[idx]
                if cfg["norm_topk_prob"]:
                    wt = wt / (wt.sum() + 1e-20)
            else:
                s = softmax(l)
                if cfg["topk_method"] == "group_limited_greedy":
                    gs = s.reshape(G, E // G).max(axis=1)
                    keep = top(gs, TG)
                    m = np.zeros((G, E // G))
                    m[keep] = s.reshape(G, E // G)[keep]
                    idx = top(m.reshape(E), K)
                else:
                    idx = top(s, K)
                wt = s[idx]
            wt = wt * rsf
            y = sum(wt[j] * swiglu(x, g[e], u[e], d[e]) for j, e in enumerate(idx))
            return y + swiglu(x, sg, su, sd)
        out[n] = np.stack([layer(x) for x in X])
    return out


def gpt_oss(w, cfg, X):
    H, E, K, I = (cfg["hidden_size"], cfg["num_local_experts"],
                  cfg["num_experts_per_tok"], cfg["intermediate_size"])
    out = {}
    for n in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d.mlp." % n
        wr = w.add(p + "router.weight", (E, H))
        br = w.add(p + "router.bias", (E,), scale=0.5)
        # As transformers stores them, for x @ W: [E, in, out].
        gu = w.add(p + "experts.gate_up_proj", (E, H, 2 * I), scale=H ** -0.5)
        gub = w.add(p + "experts.gate_up_proj_bias", (E, 2 * I), scale=0.5)
        dn = w.add(p + "experts.down_proj", (E, I, H), scale=I ** -0.5)
        dnb = w.add(p + "experts.down_proj_bias", (E, H), scale=0.5)
        def layer(x):
            l = wr @ x + br
            idx = top(l, K)
            wt = softmax(l[idx])
            y = 0
            for j, e in enumerate(idx):
                z = x @ gu[e] + gub[e]
                gt, up = np.minimum(z[0::2], 7.0), np.clip(z[1::2], -7.0, 7.0)
                h = gt * sigmoid(1.702 * gt) * (up + 1.0)
                y = y + wt[j] * (h @ dn[e] + dnb[e])
            return y
        out[n] = np.stack([layer(x) for x in X])
    return out


CASES = [
    ("mixtral", "F32", 1, {"model_type": "mixtral", "num_hidden_layers": 2,
     "hidden_size": 24, "intermediate_size": 20, "num_local_experts": 8,
     "num_experts_per_tok": 2}),
    ("qwen2_moe", "F32", 1, {"model_type": "qwen2_moe", "num_hidden_layers": 3,
     "hidden_size": 16, "intermediate_size": 40, "moe_intermediate_size": 12,
     "shared_expert_intermediate_size": 20, "num_experts": 6,
     "num_experts_per_tok": 2, "norm_topk_prob": False,
     "decoder_sparse_step": 1, "mlp_only_layers": [1]}),
    ("qwen3_moe_sharded", "F32", 3, {"model_type": "qwen3_moe",
     "num_hidden_layers": 2, "hidden_size": 20, "intermediate_size": 48,
     "moe_intermediate_size": 10, "num_experts": 16, "num_experts_per_tok": 4,
     "norm_topk_prob": True}),
    ("olmoe", "F32", 1, {"model_type": "olmoe", "num_hidden_layers": 1,
     "hidden_size": 16, "intermediate_size": 8, "num_experts": 64,
     "num_experts_per_tok": 8}),
    ("olmoe_bf16", "BF16", 1, {"model_type": "olmoe", "num_hidden_layers": 1,
     "hidden_size": 32, "intermediate_size": 16, "num_experts": 8,
     "num_experts_per_tok": 2, "torch_dtype": "bfloat16"}),
    ("deepseek_v2", "F32", 1, {"model_type": "deepseek_v2",
     "num_hidden_layers": 2, "hidden_size": 16, "intermediate_size": 32,
     "moe_intermediate_size": 8, "n_routed_experts": 16, "n_shared_experts": 2,
     "num_experts_per_tok": 3, "first_k_dense_replace": 1, "moe_layer_freq": 1,
     "topk_method": "group_limited_greedy", "n_group": 4, "topk_group": 2,
     "routed_scaling_factor": 16.0, "norm_topk_prob": False,
     "scoring_func": "softmax"}),
    ("deepseek_v3", "F32", 1, {"model_type": "deepseek_v3",
     "num_hidden_layers": 3, "hidden_size": 16, "intermediate_size": 32,
     "moe_intermediate_size": 8, "n_routed_experts": 32, "n_shared_experts": 1,
     "num_experts_per_tok": 4, "first_k_dense_replace": 1, "moe_layer_freq": 1,
     "n_group": 8, "topk_group": 3, "routed_scaling_factor": 2.5,
     "norm_topk_prob": True, "scoring_func": "sigmoid",
     "topk_method": "noaux_tc"}),
    ("gpt_oss", "F32", 1, {"model_type": "gpt_oss", "num_hidden_layers": 1,
     "hidden_size": 18, "intermediate_size": 10, "num_local_experts": 8,
     "num_experts_per_tok": 4, "swiglu_limit": 7.0}),
]


def main(out):
    rng = np.random.default_rng(2026)
    index = []
    for name, dtype, shards, cfg in CASES:
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        H = cfg["hidden_size"]
        x = safetensors_np.rounded(rng.standard_normal((2, 5, H)),
                                   "BF16" if dtype == "BF16" else "F32")
        X = x.reshape(-1, H)
        w = Writer(rng, dtype)
        family = cfg["model_type"]
        if family == "mixtral":
            expected = mixtral(w, cfg, X)
        elif family in ("qwen2_moe", "qwen3_moe", "olmoe"):
            expected = qwen(w, cfg, X, family == "qwen2_moe", family == "olmoe")
        elif family.startswith("deepseek"):
            expected = deepseek(w, cfg, X, family == "deepseek_v3")
        else:
            expected = gpt_oss(w, cfg, X)
        w.save(d, shards)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1)
        np.save(os.path.join(d, "x.npy"), x.astype(np.float32))
        for n, y in expected.items():
            np.save(os.path.join(d, "expected.layer_%d.npy" % n),
                    y.reshape(2, 5, H))
        index.append({"case": name, "layers": sorted(expected),
                      "tolerance": 1e-2 if dtype == "BF16" else 1e-5})
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(index, f, indent=1)
    print("wrote %d checkpoints" % len(CASES))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
