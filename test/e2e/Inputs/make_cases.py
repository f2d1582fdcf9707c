#!/usr/bin/python3
"""Random moe.layer cases for the end-to-end numerics test.

Writes into --out:
  cases.mlir          one public function per case (weights named CASE.ROLE)
  cases.safetensors   every case's weights
  CASE.T<n>.<input>.npy  inputs for each token count
  cases.json          [{name, tolerance, inputs: [{tokens, files: {name: path}}]}]

Each case fixes a routing and expert variant; together they cover softmax
and sigmoid scoring, renormalization, the scale, the correction bias,
group-limited selection (max and top2_sum), top-k then softmax/sigmoid,
sparsemixer, weights on the experts' inputs (Llama-4),
SwiGLU with and without clamp, GeGLU, relu, squared relu, gelu, gelu-tanh, silu,
identity, biases, fused interleaved/concatenated gate_up, shared experts
with and without their gate (and with gate and up in one operand), router logits given as an input, E up to 128,
k from 1 to E, f32/bf16/f16 weights and bf16 hidden states. Token counts are
1, 7, 64 and 300, so many experts get no token.
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "examples"))
import safetensors_np  # noqa: E402

TOKENS = [1, 7, 64, 300]

# name, E, k, d, f, routing attrs, activation attrs, options
CASES = [
    dict(name="mixtral", E=8, k=2, d=24, f=20, routing="renormalize = true",
         act="swiglu"),
    dict(name="olmoe_shared_gate", E=64, k=8, d=16, f=12, routing="",
         act="swiglu", shared=10, shared_gate=True),
    dict(name="deepseek_v3", E=16, k=4, d=20, f=8,
         routing="scoring = sigmoid, renormalize = true, scale = 2.5, "
                 "n_group = 4, topk_group = 2, group_score = top2_sum",
         act="swiglu", correction=True, shared=12),
    dict(name="deepseek_v2", E=16, k=3, d=20, f=8,
         routing="scale = 16.0, n_group = 4, topk_group = 2", act="swiglu",
         shared=6),
    dict(name="gpt_oss", E=32, k=4, d=18, f=10,
         routing="order = topk_then_score",
         act="swiglu, alpha = 1.702, beta = 1.0, limit = 7.0",
         fused="interleaved", biases=True, router_bias=True),
    dict(name="geglu_concat", E=8, k=2, d=12, f=14, routing="renormalize = true",
         act="geglu, beta = 0.5", fused="concatenated", biases=True),
    dict(name="relu_logits_k_eq_e", E=4, k=4, d=10, f=6, routing="",
         act="relu", logits=True, biases=True),
    dict(name="gelu_e128", E=128, k=8, d=16, f=6, routing="renormalize = true",
         act="gelu"),
    dict(name="gelu_tanh_k_eq_e128", E=128, k=128, d=8, f=4, routing="",
         act="gelu_tanh", tokens=[1, 7]),
    dict(name="silu_k1", E=6, k=1, d=14, f=9, routing="", act="silu"),
    dict(name="identity_sigmoid_topk", E=8, k=2, d=11, f=7,
         routing="scoring = sigmoid, order = topk_then_score", act="identity"),
    # Phi-3.5-MoE's sparsemixer; distances wide enough that several experts
    # share each slot's softmax, and k = 3 renormalized.
    dict(name="phimoe_sparsemixer", E=16, k=2, d=24, f=20,
         routing="order = sparsemixer, sparsemixer_eps = 0.3", act="swiglu"),
    dict(name="sparsemixer_k3", E=8, k=3, d=12, f=10,
         routing="order = sparsemixer, renormalize = true, "
                 "sparsemixer_eps = 0.5", act="gelu", biases=True),
    # Llama-4: the routing weight scales the experts' input, with a shared
    # expert; k = 3 with biases and gelu, where the expert is not linear.
    dict(name="llama4_scale_inputs", E=16, k=1, d=20, f=12,
         routing="scoring = sigmoid, order = topk_then_score, "
                 "scale_inputs = true", act="swiglu", shared=12),
    dict(name="scale_inputs_k3", E=8, k=3, d=12, f=10,
         routing="scoring = sigmoid, renormalize = true, scale = 2.0, "
                 "scale_inputs = true", act="gelu", biases=True),
    # Nemotron-H: squared-ReLU experts without a gate, a plain shared
    # expert of the same kind, V3's routing with a tiny renormalization
    # epsilon.
    dict(name="nemotron_relu2", E=16, k=4, d=20, f=12,
         routing="scoring = sigmoid, renormalize = true, "
                 "renorm_epsilon = 1.0e-20, scale = 2.5, n_group = 4, "
                 "topk_group = 2, group_score = top2_sum",
         act="relu2", correction=True, shared=16),
    # The shared expert's gate and up in one operand (Granite's shared MLP),
    # interleaved, beside separate experts' gate and up.
    dict(name="shared_gate_up_interleaved", E=6, k=2, d=24, f=10,
         routing="renormalize = true", act="geglu, beta = 0.5", shared=16,
         shared_fused="interleaved"),
    dict(name="swiglu_clamp_sigmoid", E=12, k=3, d=16, f=10,
         routing="scoring = sigmoid, renormalize = true",
         act="swiglu, limit = 0.5", biases=True),
    dict(name="bf16_weights", E=8, k=2, d=32, f=24, routing="renormalize = true",
         act="swiglu", wdtype="BF16", shared=16, shared_gate=True),
    dict(name="f16_weights", E=16, k=4, d=24, f=16, routing="", act="gelu",
         wdtype="F16", biases=True),
    dict(name="bf16_hidden", E=8, k=2, d=16, f=12, routing="renormalize = true",
         act="swiglu", hdtype="bf16", tolerance=1e-2),
    dict(name="static_tokens", E=8, k=2, d=16, f=12, routing="", act="relu",
         static=7, tokens=[7]),
    # Weights wider than a cache tile: the GEMMs run over tiles of weight
    # rows, the last one partial (40 = 16 + 16 + 8 rows in f32, 32 + 8 in
    # bf16), biases sliced alike.
    dict(name="tiled_wide_f32", E=4, k=2, d=8192, f=40, routing="renormalize = true",
         act="swiglu", biases=True, shared=40, tokens=[1, 7, 64]),
    dict(name="tiled_wide_bf16", E=4, k=2, d=8192, f=40, routing="",
         act="gelu", biases=True, wdtype="BF16", tokens=[1, 7, 64]),
    # d and f multiples of 64: on AVX-512 every GEMM runs on panels in 4
    # slices (3 panels of 16 columns per slice of the gate and up weights,
    # 2 of the down weight, 1 of the shared expert's), with biases and a
    # gated shared expert; bf16 weights in pairs of k with --bf16-dot.
    dict(name="panels_f32", E=8, k=2, d=128, f=192, routing="renormalize = true",
         act="swiglu", biases=True, shared=64, shared_gate=True),
    dict(name="panels_bf16", E=8, k=2, d=128, f=192, routing="", act="gelu",
         biases=True, wdtype="BF16"),
    # bf16 hidden states on sliced panels: fused (moe-fuse-gate-up), the
    # gate and up sums go through f32 scratch and the epilogue rounds the
    # activation to bf16.
    dict(name="panels_bf16_hidden", E=4, k=2, d=64, f=128, routing="",
         act="swiglu", biases=True, hdtype="bf16", tolerance=1e-2),
    # K deeper than a panel chunk (512): the gate and up GEMMs (K = d =
    # 1152) run 3 chunks, the last of 128, the down GEMM (K = f = 576) 2,
    # the last of 64; the accumulators go through the output between
    # chunks, the bias enters once, and each chunk prefetches the next.
    # About 16 rows per expert at T=64 (1 to 3 full 6-row blocks sharing
    # out the prefetch streams), 75 at T=300 (a stream per block).
    dict(name="panels_deep_k", E=8, k=2, d=1152, f=576,
         routing="renormalize = true", act="swiglu", biases=True, shared=576,
         shared_gate=True),
    # The same chunks with bf16 weights (as most checkpoints ship them):
    # widened to f32 as loaded, or in pairs of k with --bf16-dot.
    dict(name="panels_deep_k_bf16", E=8, k=2, d=1152, f=576, routing="",
         act="swiglu", biases=True, wdtype="BF16"),
    # For the GPU's tensor-core GEMM (bf16 or f16 hidden states and
    # weights; written only when named with --only, scripts/gpu-check.sh):
    # N not a multiple of the 64 columns of a program (48, 40) nor of a
    # warp's 16 (40), K = 64, 48 and 32 (the down GEMM of f = 40 is not a
    # multiple of 16 and stays SIMT), biases, a dense gated shared expert,
    # 128 experts of which most get no token at small T, rows of several
    # experts in one 16-row tile.
    dict(name="mma_bf16", E=8, k=2, d=64, f=48, routing="renormalize = true",
         act="swiglu", biases=True, shared=32, shared_gate=True,
         hdtype="bf16", wdtype="BF16", tolerance=1e-2, gpu=True),
    dict(name="mma_bf16_e128", E=128, k=8, d=32, f=40, routing="",
         act="gelu", hdtype="bf16", wdtype="BF16", tolerance=1e-2,
         tokens=[1, 7, 64, 300, 2048], gpu=True),
    dict(name="mma_f16", E=16, k=4, d=96, f=64, routing="renormalize = true",
         act="swiglu", biases=True, hdtype="f16", wdtype="F16",
         tolerance=1e-2, gpu=True),
]

MLIR_DTYPE = {"F32": "f32", "BF16": "bf16", "F16": "f16"}


def ttype(shape, dtype):
    dims = "x".join("?" if s is None else str(s) for s in shape)
    return "tensor<%sx%s>" % (dims, dtype)


def make_case(c, rng, weights):
    E, k, d, f = c["E"], c["k"], c["d"], c["f"]
    wdt = c.get("wdtype", "F32")
    hdt = c.get("hdtype", "f32")
    T = c.get("static")
    name = c["name"]
    args, operands, roles = [], [], {}

    def weight(role, shape, scale):
        value = rng.standard_normal(shape) * scale
        tensor = "%s.%s" % (name, role)
        weights[tensor] = (value, wdt)
        args.append('%%%s: %s {moe.name = "%s"}'
                    % (role, ttype(shape, MLIR_DTYPE[wdt]), tensor))
        return "%s(%%%s : %s)" % (role, role, ttype(shape, MLIR_DTYPE[wdt]))

    args.append('%%hidden: %s {moe.name = "hidden_states"}'
                % ttype((T, d), hdt))
    if c.get("logits"):
        args.append('%%logits: %s {moe.name = "router_logits"}'
                    % ttype((T, E), "f32"))
        operands.append("router_logits(%%logits : %s)" % ttype((T, E), "f32"))
    else:
        operands.append(weight("router_weight", (E, d), 1.0 / np.sqrt(d)))
        if c.get("router_bias"):
            operands.append(weight("router_bias", (E,), 0.5))
    if c.get("correction"):
        operands.append(weight("correction_bias", (E,), 0.1))
    fused = c.get("fused")
    gated = c["act"].split(",")[0] in ("swiglu", "geglu")
    if fused:
        operands.append(weight("gate_up", (E, 2 * f, d), 1.0 / np.sqrt(d)))
    elif gated:
        operands.append(weight("gate", (E, f, d), 1.0 / np.sqrt(d)))
        operands.append(weight("up", (E, f, d), 1.0 / np.sqrt(d)))
    else:
        operands.append(weight("up", (E, f, d), 1.0 / np.sqrt(d)))
    operands.append(weight("down", (E, d, f), 1.0 / np.sqrt(f)))
    if c.get("biases"):
        if fused:
            operands.append(weight("gate_up_bias", (E, 2 * f), 0.2))
        elif gated:
            operands.append(weight("gate_bias", (E, f), 0.2))
            operands.append(weight("up_bias", (E, f), 0.2))
        else:
            operands.append(weight("up_bias", (E, f), 0.2))
        operands.append(weight("down_bias", (E, d), 0.2))
    fs = c.get("shared")
    shared_fused = c.get("shared_fused")
    if fs and shared_fused:
        # Gate and up in one [2fs, d] operand, laid out as gate_up_layout.
        assert gated and (not fused or fused == shared_fused)
        fused = shared_fused
        operands.append(weight("shared_gate_up", (2 * fs, d), 1.0 / np.sqrt(d)))
    elif fs:
        if gated:
            operands.append(weight("shared_gate", (fs, d), 1.0 / np.sqrt(d)))
        operands.append(weight("shared_up", (fs, d), 1.0 / np.sqrt(d)))
    if fs:
        operands.append(weight("shared_down", (d, fs), 1.0 / np.sqrt(fs)))
        if c.get("shared_gate"):
            operands.append(weight("shared_expert_gate", (1, d), 1.0 / np.sqrt(d)))
    routing = "k = %d" % k + (", " + c["routing"] if c["routing"] else "")
    layout = " gate_up_layout(%s)" % fused if fused else ""
    out_t = ttype((T, d), hdt)
    text = ("func.func @%s(%s) -> %s {\n"
            "  %%y = moe.layer %%hidden %s routing(#moe.routing<%s>) "
            "activation(#moe.activation<%s>)%s : %s\n"
            "  return %%y : %s\n}\n"
            % (name, ", ".join(args), out_t, " ".join(operands), routing,
               c["act"], layout, out_t, out_t))
    return text


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", default="",
                   help="comma-separated case names to write (default: all "
                   "but the GPU's own, which are written only when named)")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    weights, texts, index = {}, [], []
    only = [n for n in a.only.split(",") if n]
    unknown = sorted(set(only) - {c["name"] for c in CASES})
    if unknown:
        p.error("unknown case(s): " + ", ".join(unknown))
    cases = [c for c in CASES
             if c["name"] in only or (not only and not c.get("gpu"))]
    for c in cases:
        texts.append(make_case(c, rng, weights))
        runs = []
        for T in c.get("tokens", TOKENS):
            files = {}
            x = rng.standard_normal((T, c["d"]))
            files["hidden_states"] = os.path.join(
                a.out, "%s.T%d.hidden_states.npy" % (c["name"], T))
            np.save(files["hidden_states"], x.astype(np.float32))
            if c.get("logits"):
                files["router_logits"] = os.path.join(
                    a.out, "%s.T%d.router_logits.npy" % (c["name"], T))
                np.save(files["router_logits"],
                        (2 * rng.standard_normal((T, c["E"]))).astype(np.float32))
            runs.append({"tokens": T, "files": files})
        index.append({"name": c["name"], "tolerance": c.get("tolerance", 1e-5),
                      "inputs": runs})
    with open(os.path.join(a.out, "cases.mlir"), "w") as fh:
        fh.write("// Generated by make_cases.py --seed %d\n" % a.seed)
        fh.write("\n".join(texts))
    safetensors_np.save(os.path.join(a.out, "cases.safetensors"), weights)
    with open(os.path.join(a.out, "cases.json"), "w") as fh:
        json.dump(index, fh, indent=1)
    print("wrote %d cases" % len(cases))


if __name__ == "__main__":
    main()
