"""Compares run_layer's printed result with an .npy output of moe-run.

  compare_example.py RUN_LAYER_OUTPUT.txt EXPECTED.npy [TOLERANCE]

run_layer prints "FUNCTION RESULT: DTYPE, ROWS x COLS" and then one line of
COLS values per row. Prints the largest relative difference; exits 1 above
TOLERANCE (default 1e-6, both run the same code) or on a shape mismatch.
"""
import sys

import numpy as np

lines = open(sys.argv[1]).read().splitlines()
expected = np.load(sys.argv[2]).astype(np.float64)
tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-6
header = lines[0].split()
rows, cols = int(header[-3]), int(header[-1])
got = np.array([[float(v) for v in l.split()] for l in lines[1:]])
if got.shape != (rows, cols) or expected.reshape(rows, -1).shape != got.shape:
    sys.exit("run_layer printed %s (header %d x %d), moe-run wrote %s" %
             (got.shape, rows, cols, expected.shape))
diff = np.abs(got - expected.reshape(rows, cols)).max() / \
    max(np.abs(expected).max(), 1e-30)
print("%s: %d x %d, max relative difference %.1e: %s" %
      (" ".join(header[:2]).rstrip(":"), rows, cols, diff, "ok" if diff <= tol else
       "FAILED"))
sys.exit(0 if diff <= tol else 1)
