"""Checks moe-run's result summary against the output it wrote.

  check_summary.py SUMMARY.txt OUT.npy
"""
import re
import sys

import numpy as np

text = open(sys.argv[1]).read()
y = np.load(sys.argv[2]).astype(np.float64)
m = re.search(r"min (\S+) max (\S+) mean (\S+) first \[([^\]]*)\]", text)
if not m:
    sys.exit("no summary in %s" % sys.argv[1])
lo, hi, mean = (float(v) for v in m.groups()[:3])
first = [float(v) for v in m.group(4).split(", ") if v != "..."]
want = [y.min(), y.max(), y.mean()] + list(y.reshape(-1)[:len(first)])
got = [lo, hi, mean] + first
scale = np.abs(y).max()
if len(first) != 4 or not np.allclose(got, want, rtol=1e-5, atol=1e-6 * scale):
    sys.exit("summary %s, output %s" % (got, want))
print("summary agrees with %s" % sys.argv[2])
