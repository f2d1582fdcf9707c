#!/usr/bin/python3
"""The warp-level emulator's own checks, on the kernels of
gpu_emulator_checks.mlir: what it must refuse (a barrier, a warp shuffle
or a wgmma fence reached by part of a block, warp or warpgroup, a load
outside a buffer, a wgmma descriptor of a layout it does not know) and what
it must expose (shared memory read before the cp.async that fills it has
been waited for holds the 0xFF bytes fresh memory starts with; after the
wait, the copied words; a wgmma's sums read before a wait.group covers it
are NaNs).

Prints one line per check; exits 1 if any did not hold.
"""
import argparse
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu_emulator  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--moe-opt", default="moe-opt")
    args = p.parse_args()
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "gpu_emulator_checks.mlir")
    text = subprocess.run([args.moe_opt, src, "--mlir-print-op-generic"],
                          check=True, capture_output=True, text=True).stdout
    module = gpu_emulator.parse_module(text)
    failed = 0

    def expect_error(name, inputs, needle):
        nonlocal failed
        emu = gpu_emulator.Emulator(module)
        try:
            emu.call(name, inputs(emu))
            print("FAIL %s: no error (expected one naming '%s')" %
                  (name, needle))
            failed += 1
        except gpu_emulator.EmulationError as e:
            ok = needle in str(e)
            failed += not ok
            print("%s %s: %s" % ("ok" if ok else "FAIL", name, e))

    out = lambda emu: gpu_emulator.buffer_of(emu, np.zeros(64), "i32")
    expect_error("divergent_barrier", lambda emu: [out(emu)],
                 "gpu.barrier reached by part of a block")
    expect_error("partial_shuffle", lambda emu: [out(emu)],
                 "gpu.shuffle reached by part of a warp")
    expect_error("out_of_bounds",
                 lambda emu: [gpu_emulator.buffer_of(emu, np.arange(16), "i32"),
                              out(emu)],
                 "index 63 outside dimension 0 of a buffer of shape [16]")

    words = np.array([11, 22, 33, 44])
    for wait, want in ((True, np.tile(words, 16)),
                       (False, np.full(64, -1))):
        emu = gpu_emulator.Emulator(module)
        (got,) = emu.call("copy", [gpu_emulator.buffer_of(emu, words, "i32"),
                                   out(emu), np.array([wait])])
        ok = np.array_equal(got.array, want)
        failed += not ok
        print("%s copy %s the wait: shared memory holds %s" % (
            "ok" if ok else "FAIL", "after" if wait else "without",
            got.array[:4].tolist()))

    # The descriptors' high word: the 64-byte swizzle (mode 2 in bits
    # 62-63), 512 bytes between groups of 8 rows (bits 32-45, in 16 bytes).
    def high_word(mode):
        v = (mode << 62) | (32 << 32) | (1 << 16)
        return np.array([v - (1 << 64) if v >> 63 else v], np.int64)

    sums_out = lambda emu: gpu_emulator.buffer_of(emu, np.zeros(128), "f32")
    for wait, want in ((True, 16.0), (False, None)):
        emu = gpu_emulator.Emulator(module)
        (got,) = emu.call("wgmma", [sums_out(emu), np.array([wait]), high_word(2)])
        sums = got.array
        ok = (np.all(sums == want) if want is not None
              else np.all(np.isnan(sums)))
        failed += not ok
        print("%s wgmma %s the wait: sums %s" % (
            "ok" if ok else "FAIL", "after" if wait else "without",
            sums[:2].tolist()))
    expect_error("wgmma",
                 lambda emu: [sums_out(emu), np.array([True]), high_word(0)],
                 "swizzle mode 0")
    expect_error("partial_wgmma", lambda emu: [sums_out(emu)],
                 "nvvm.wgmma.fence.aligned reached by part of a warpgroup")
    print("%d checks failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
