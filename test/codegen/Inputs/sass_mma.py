#!/usr/bin/python3
"""Reads `cuobjdump -sass` output on stdin and prints one line per kernel,
sorted by name: "kernel NAME: N HMMA, W HGMMA, M LDSM, P LDGSTS, Q RED"
(its tensor-core instructions: warp-level mma.sync and warpgroup-level
wgmma; its ldmatrix loads from shared memory, its
asynchronous global-to-shared copies (cp.async) and its atomic reductions
to global memory, RED or REDG)."""
import re
import sys

OPCODES = ("HMMA", "HGMMA", "LDSM", "LDGSTS", "RED")
# The opcodes each count takes (sm_90's global reduction is REDG).
SPELLINGS = {"RED": r"\bREDG?\b"}


def main():
    counts = {}
    name = None
    for line in sys.stdin:
        m = re.search(r"Function : (\S+)", line)
        if m:
            name = m.group(1)
            counts.setdefault(name, dict.fromkeys(OPCODES, 0))
            continue
        if not name:
            continue
        for opcode in OPCODES:
            if re.search(SPELLINGS.get(opcode, r"\b%s\b" % opcode), line):
                counts[name][opcode] += 1
    if not counts:
        print("no kernel in the disassembly", file=sys.stderr)
        return 1
    for name in sorted(counts):
        print("kernel %s: %s" % (name, ", ".join(
            "%d %s" % (counts[name][o], o) for o in OPCODES)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
