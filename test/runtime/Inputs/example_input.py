"""Writes the input examples/c/run_layer.c feeds: TOKENS x WIDTH f32 values,
element i being (i * 37 % 101) / 50 - 1.

  example_input.py OUT.npy TOKENS WIDTH
"""
import sys

import numpy as np

out, tokens, width = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
i = np.arange(tokens * width, dtype=np.int64)
x = (i * 37 % 101).astype(np.float32) / np.float32(50.0) - np.float32(1.0)
np.save(out, x.reshape(tokens, width))
