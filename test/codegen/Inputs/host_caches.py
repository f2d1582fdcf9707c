"""Checks the cache sizes of a `cpu=native` target description (the IR on
stdin) against what Linux reports in /sys/devices/system/cpu/cpu0/cache.
Prints "host caches agree" or, where Linux reports no size, that the
description has positive sizes; exits 1 on a mismatch."""
import os
import re
import sys

ir = sys.stdin.read()
got = {}
for level, key in ((1, "L1_cache_size_in_bytes"), (2, "L2_cache_size_in_bytes")):
    m = re.search(r'"%s" = (\d+) : i64' % key, ir)
    if not m:
        sys.exit("no %s in the description" % key)
    got[level] = int(m.group(1))

base = "/sys/devices/system/cpu/cpu0/cache"
want = {}
for entry in sorted(os.listdir(base)) if os.path.isdir(base) else []:
    def read(name):
        with open(os.path.join(base, entry, name)) as f:
            return f.read().strip()
    try:
        level, kind, size = int(read("level")), read("type"), read("size")
    except OSError:
        continue
    if kind not in ("Data", "Unified") or level in want:
        continue
    scale = {"K": 1024, "M": 1024 * 1024}.get(size[-1:], 1)
    want[level] = int(size.rstrip("KM")) * scale

for level in (1, 2):
    if level not in want:
        if got[level] <= 0:
            sys.exit("L%d size %d is not positive" % (level, got[level]))
        continue
    if got[level] != want[level]:
        sys.exit("L%d: the description has %d bytes, Linux reports %d"
                 % (level, got[level], want[level]))
print("host caches agree: L1d %d, L2 %d" % (got[1], got[2]))
