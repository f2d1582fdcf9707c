#!/usr/bin/python3
"""Weights for assembled-weights.test: one layer's weights written twice.

  stacked.safetensors   gate/up/down as [E, ...] tensors, read in place
  shard1/2.safetensors  the same values as per-expert gate and up tensors
                        (read through moe.stack) and down stored transposed
                        ([E, f, d], read through moe.transposed), split over
                        two files like a sharded checkpoint
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "examples"))
import safetensors_np  # noqa: E402

E, d, f = 4, 12, 10
out = sys.argv[1]
rng = np.random.default_rng(5)
router = rng.standard_normal((E, d)) / 4
gate = rng.standard_normal((E, f, d)) / 4
up = rng.standard_normal((E, f, d)) / 4
down = rng.standard_normal((E, d, f)) / 4
dt = "BF16"
safetensors_np.save(os.path.join(out, "stacked.safetensors"),
                    {"router": (router, dt), "gate": (gate, dt),
                     "up": (up, dt), "down": (down, dt)})
shard1 = {"router": (router, dt)}
shard2 = {"down_t": (np.ascontiguousarray(down.transpose(0, 2, 1)), dt)}
for e in range(E):
    shard1["experts.%d.gate" % e] = (gate[e], dt)
    # Half the up parts in each shard.
    (shard1 if e % 2 else shard2)["experts.%d.up" % e] = (up[e], dt)
safetensors_np.save(os.path.join(out, "shard1.safetensors"), shard1)
safetensors_np.save(os.path.join(out, "shard2.safetensors"), shard2)
np.save(os.path.join(out, "x.npy"),
        rng.standard_normal((9, d)).astype(np.float32))
