#!/usr/bin/python3
"""Loads every kernel moe-compile --emit-triton-cache wrote the way a
Triton user would: its group file, Triton's CompiledKernel built from it
(with the signature moec records), and checks what Triton's launcher will
rely on, without a GPU: the name, the packed launch metadata (num_warps,
num_ctas, shared), one .entry of that name in the PTX whose parameters are
the signature's plus Triton's two scratch pointers, a cubin ELF image for
the chip. Prints one line per kernel and a summary for FileCheck.
"""
import argparse
import json
import os
import re
import sys
import types

from triton.compiler import CompiledKernel


def check(entry, name):
    with open(os.path.join(entry, "__grp__%s.json" % name)) as fh:
        group = json.load(fh)["child_paths"]
    for path in group.values():
        if not os.path.isabs(path) or not os.path.exists(path):
            return "group names a missing or relative file: %s" % path
    with open(group[name + ".json"]) as fh:
        meta = json.load(fh)
    src = types.SimpleNamespace(
        signature={str(i): t for i, t in enumerate(meta["moec_signature"])},
        constants={})
    kernel = CompiledKernel(src, group, "moec-" + name)
    if kernel.name != name:
        return "CompiledKernel names it %r" % kernel.name
    packed = tuple(kernel.packed_metadata)
    if packed != (meta["num_warps"], 1, 0):
        return "packed metadata %r" % (packed,)
    with open(group[name + ".ptx"]) as fh:
        ptx = fh.read()
    m = re.search(r"\.entry\s+%s\s*\(([^)]*)\)" % re.escape(name), ptx)
    if not m:
        return "no .entry %s in the PTX" % name
    params = re.findall(r"\.param\s+\.(\w+)", m.group(1))
    want = [("u64" if t.startswith("*") else
             {"i64": "u64", "i32": "u32", "fp32": "f32"}[t])
            for t in meta["moec_signature"]] + ["u64", "u64"]
    if params != want:
        return "PTX parameters %s, expected %s" % (params, want)
    if re.search(r"\.reqntid|\.maxntid\s+(\d+)", ptx) and \
            "%d, 1, 1" % (32 * meta["num_warps"]) not in ptx:
        return "the PTX's thread bound is not num_warps * 32"
    with open(group[name + ".cubin"], "rb") as fh:
        if fh.read(4) != b"\x7fELF":
            return "the cubin is not an ELF image"
    return "ok %s warps=%d params=%d" % (meta["moec_chip"], meta["num_warps"],
                                          len(params))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cache")
    a = p.parse_args()
    names = sorted(os.listdir(a.cache))
    failed = 0
    for name in names:
        try:
            result = check(os.path.join(a.cache, name), name)
        except Exception as e:  # what Triton raised is the finding
            result = "%s: %s" % (type(e).__name__, e)
        if not result.startswith("ok"):
            failed += 1
            result = "FAILED " + result
        print("kernel %s: %s" % (name, result))
    print("%d of %d kernels load as Triton kernels" % (len(names) - failed,
                                                       len(names)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
