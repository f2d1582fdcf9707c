#!/usr/bin/python3
"""Runs the tensor-core grouped GEMMs of convert-moe-to-gpu on the CPU.

For each case, writes a function of one moe.grouped_matmul (16-bit rows and
weights, a dynamic row count), lowers it with moe-cuda-pipeline up to its
loops phase (tensor cores on, sm_90a) and runs the kernel it became with the
warp-level emulator (gpu_emulator.py: mma.sync, ldmatrix, cp.async, warp
shuffles and barriers as the PTX ISA defines them, the threads of a program
in lockstep). Random rows and weights (fixed seed), group sizes with empty
groups and rows outside every group; row counts on both sides of the
staged kernel's switch between its decode and prefill tiles. The result is
compared with a float64 product of the same (rounded) inputs in NumPy:
relative L2 error at most 1e-2 for 16-bit results (one rounding of the f32
sums), 1e-5 for f32 results, and the rows outside every group exactly 0.

Prints one line per case and row count, with the kernel that ran and its
program count; exits 1 if any mismatched.
"""
import argparse
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu_emulator  # noqa: E402

# name, element type, result type, groups (0: dense), N, K, bias, row counts
CASES = [
    # The staged kernel: decode tiles below 64 rows a group, prefill above.
    ("staged_bf16", "bf16", "bf16", 4, 200, 160, True, [1, 7, 40, 300]),
    ("staged_f16_f32", "f16", "f32", 6, 48, 96, False, [5, 400]),
    ("staged_dense", "bf16", "f32", 0, 136, 64, True, [3, 130]),
    # K an odd multiple of 16: the direct kernel, fragments from global memory.
    ("direct_bf16", "bf16", "bf16", 4, 24, 48, True, [6, 90]),
]


def module_text(name, et, ot, G, N, K, bias):
    args = ["%%x: tensor<?x%dx%s>" % (K, et)]
    wshape = "%dx%dx%d" % (G, N, K) if G else "%dx%d" % (N, K)
    args.append("%%w: tensor<%sx%s>" % (wshape, et))
    extra = ""
    if G:
        args.append("%%off: tensor<%dxi32>" % (G + 1))
        extra += " offsets(%%off : tensor<%dxi32>)" % (G + 1)
    if bias:
        bshape = "%dx%d" % (G, N) if G else "%d" % N
        args.append("%%b: tensor<%sxf32>" % bshape)
        extra += " bias(%%b : tensor<%sxf32>)" % bshape
    return (
        "func.func @%s(%s) -> tensor<?x%dx%s> {\n"
        "  %%y = moe.grouped_matmul %%x, %%w%s : tensor<?x%dx%s>, "
        "tensor<%sx%s> -> tensor<?x%dx%s>\n"
        "  return %%y : tensor<?x%dx%s>\n}\n" %
        (name, ", ".join(args), N, ot, extra, K, et, wshape, et, N, ot, N, ot))


def rounded(x, t):
    return gpu_emulator.round_to(t, x.astype(np.float32)).astype(np.float64)


def offsets_for(rng, M, G):
    """Non-decreasing offsets [G + 1] within [0, M]: some rows below the
    first and above the last, some groups empty."""
    lead = int(rng.integers(0, M // 8 + 1))
    tail = int(rng.integers(0, M // 8 + 1))
    inner = max(0, M - lead - tail)
    weights = rng.random(G) * (rng.random(G) > 0.3)
    if weights.sum() == 0:
        weights[0] = 1.0
    counts = np.floor(weights / weights.sum() * inner).astype(np.int64)
    counts[int(np.argmax(weights))] += inner - counts.sum()
    return np.concatenate([[lead], lead + np.cumsum(counts)]).astype(np.int32)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--moe-opt", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(23)
    failed = 0
    for name, et, ot, G, N, K, bias, rows in CASES:
        src = os.path.join(args.out, name + ".mlir")
        loops = os.path.join(args.out, name + ".loops.mlir")
        with open(src, "w") as fh:
            fh.write(module_text(name, et, ot, G, N, K, bias))
        subprocess.run([args.moe_opt, src,
                        "--moe-cuda-pipeline=compile-to=loops chip=sm_90a",
                        "--mlir-print-op-generic", "-o", loops], check=True)
        with open(loops) as fh:
            text = fh.read()
        kernel = "gemm_mma_staged" if '"gemm_mma_staged"' in text else (
            "gemm_mma" if '"gemm_mma"' in text else "none")
        w = rounded(rng.standard_normal((G, N, K) if G else (N, K)), et)
        b = rng.standard_normal((G, N) if G else N).astype(np.float32)
        for M in rows:
            emu = gpu_emulator.Emulator(gpu_emulator.parse_module(text))
            x = rounded(rng.standard_normal((M, K)), et)
            inputs = [gpu_emulator.buffer_of(emu, x, et),
                      gpu_emulator.buffer_of(emu, w, et)]
            want = np.zeros((M, N))
            if G:
                off = offsets_for(rng, M, G)
                inputs.append(gpu_emulator.buffer_of(emu, off, "i32"))
                for g in range(G):
                    lo, hi = off[g], off[g + 1]
                    want[lo:hi] = x[lo:hi] @ w[g].T + (b[g] if bias else 0)
                outside = np.r_[0:off[0], off[G]:M]
            else:
                want = x @ w.T + (b if bias else 0)
                outside = np.r_[0:0]
            if bias:
                inputs.append(gpu_emulator.buffer_of(emu, b, "f32"))
            try:
                (out,) = emu.call(name, inputs)
                got = gpu_emulator.values_of(out)
                err = np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-30)
                tol = 1e-5 if ot == "f32" else 1e-2
                zeros = not outside.size or np.all(got[outside] == 0)
                ok = bool(np.isfinite(got).all() and err <= tol and zeros)
                detail = "relative L2 %.2e (tolerance %g)%s" % (
                    err, tol, "" if zeros else ", rows outside every group not 0")
            except gpu_emulator.EmulationError as e:
                ok, detail = False, "emulation error: %s" % e
            failed += not ok
            print("%s M=%d: %s %s, %d programs: %s" % (
                name, M, "ok" if ok else "FAILED", kernel, emu.programs, detail))
    print("%d cases mismatched" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
