#!/usr/bin/python3
"""Weights, inputs and an independent check for examples/tiny-mixtral.mlir.

  tiny_mixtral.py make DIR          write deterministic weights (weights.safetensors,
                                    named as in examples/tiny-mixtral.mlir) and
                                    the input hidden_states.npy into DIR
  tiny_mixtral.py check DIR OUT.npy compare OUT.npy with a NumPy float64
                                    computation of Mixtral's MoE block

The check follows Mixtral's definition directly (softmax over all experts,
top-2, renormalize, SwiGLU w2(silu(w1 x) * w3 x)), written without sharing
code with moec's reference evaluator.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402

T, D, F, E, K = 128, 64, 96, 8, 2
# Argument names of examples/tiny-mixtral.mlir (its moe.name attributes).
NAMES = {"router_weight": "block_sparse_moe.gate.weight",
         "gate": "block_sparse_moe.experts.w1",
         "up": "block_sparse_moe.experts.w3",
         "down": "block_sparse_moe.experts.w2"}
SEED = 2024


def make(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(SEED)
    arrays = {
        "hidden": rng.standard_normal((T, D)),
        "router_weight": rng.standard_normal((E, D)) / np.sqrt(D),
        "gate": rng.standard_normal((E, F, D)) / np.sqrt(D),
        "up": rng.standard_normal((E, F, D)) / np.sqrt(D),
        "down": rng.standard_normal((E, D, F)) / np.sqrt(F),
    }
    np.save(os.path.join(out_dir, "hidden_states.npy"),
            arrays["hidden"].astype(np.float32))
    safetensors_np.save(os.path.join(out_dir, "weights.safetensors"),
                        {NAMES[k]: (v, "F32") for k, v in arrays.items()
                         if k != "hidden"})
    print("wrote %d tokens, %d experts (top-%d), d=%d, f=%d into %s"
          % (T, E, K, D, F, out_dir))


def mixtral_block(x, router, w1, w3, w2):
    logits = x @ router.T
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    out = np.zeros_like(x)
    for t in range(x.shape[0]):
        top = np.argsort(-probs[t], kind="stable")[:K]
        weights = probs[t, top] / probs[t, top].sum()
        for w, e in zip(weights, top):
            g = w1[e] @ x[t]
            h = g / (1.0 + np.exp(-g)) * (w3[e] @ x[t])
            out[t] += w * (w2[e] @ h)
    return out


def check(in_dir, out_path):
    w = safetensors_np.load(os.path.join(in_dir, "weights.safetensors"))
    x = np.load(os.path.join(in_dir, "hidden_states.npy")).astype(np.float64)
    expected = mixtral_block(x, *(w[NAMES[k]] for k in
                                  ("router_weight", "gate", "up", "down")))
    got = np.load(out_path).astype(np.float64)
    if got.shape != expected.shape:
        print("FAIL: output shape %s, expected %s" % (got.shape, expected.shape))
        return 1
    rel = np.linalg.norm(got - expected) / np.linalg.norm(expected)
    tolerance = 1e-5  # computed in f32 (the moec stated f32 tolerance)
    print("relative L2 error vs NumPy float64 Mixtral block: %.3g (tolerance %g)"
          % (rel, tolerance))
    if not rel <= tolerance:
        print("FAIL")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
