#!/usr/bin/python3
"""Reads `cuobjdump -sass` output on stdin and prints one line per kernel,
sorted by name: "kernel NAME: N HMMA" (its tensor-core instructions)."""
import re
import sys


def main():
    counts = {}
    name = None
    for line in sys.stdin:
        m = re.search(r"Function : (\S+)", line)
        if m:
            name = m.group(1)
            counts.setdefault(name, 0)
        elif name and re.search(r"\bHMMA\.", line):
            counts[name] += 1
    if not counts:
        print("no kernel in the disassembly", file=sys.stderr)
        return 1
    for name in sorted(counts):
        print("kernel %s: %d HMMA" % (name, counts[name]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
