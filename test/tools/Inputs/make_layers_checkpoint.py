"""Writes a qwen3_moe checkpoint of many identical-shaped MoE layers:

  make_layers_checkpoint.py OUT LAYERS HIDDEN EXPERTS K FFN [--sparse]

OUT/config.json and OUT/model.safetensors with per-expert f32 tensors as
transformers stores them. The data is random (seed 5), or with --sparse all
zeros in a sparse file: only the header is written, so a model of real
size costs no disk (for timing the compiler, which reads headers only).
"""
import json
import os
import struct
import sys

out, layers, hidden, experts, k, ffn = sys.argv[1], *map(int, sys.argv[2:7])
sparse = "--sparse" in sys.argv
os.makedirs(out, exist_ok=True)
json.dump({"model_type": "qwen3_moe", "num_hidden_layers": layers,
           "hidden_size": hidden, "num_experts": experts,
           "num_experts_per_tok": k, "moe_intermediate_size": ffn,
           "intermediate_size": 2 * ffn, "norm_topk_prob": True,
           "decoder_sparse_step": 1, "mlp_only_layers": [],
           "torch_dtype": "float32"},
          open(os.path.join(out, "config.json"), "w"))
tensors = []
for n in range(layers):
    p = "model.layers.%d.mlp." % n
    tensors.append((p + "gate.weight", (experts, hidden)))
    for e in range(experts):
        q = "%sexperts.%d." % (p, e)
        tensors += [(q + "gate_proj.weight", (ffn, hidden)),
                    (q + "up_proj.weight", (ffn, hidden)),
                    (q + "down_proj.weight", (hidden, ffn))]
header, offset = {}, 0
for name, shape in tensors:
    size = 4 * shape[0] * shape[1]
    header[name] = {"dtype": "F32", "shape": list(shape),
                    "data_offsets": [offset, offset + size]}
    offset += size
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
with open(os.path.join(out, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text)
    if sparse:
        f.truncate(8 + len(text) + offset)
    else:
        import numpy as np
        rng = np.random.default_rng(5)
        for name, shape in tensors:
            f.write((rng.standard_normal(shape) / shape[1] ** 0.5)
                    .astype("<f4").tobytes())
