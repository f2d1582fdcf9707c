#!/usr/bin/python3
"""Runs the tensor-core grouped GEMMs of convert-moe-to-gpu on the CPU.

For each case, writes a function of one moe.grouped_matmul (16-bit rows and
weights, a dynamic row count; plain, or in the fused forms moe-fuse-dispatch
and moe-fuse-gate-up make: a gather of its rows, gate and up projections
with the activation), lowers it with moe-cuda-pipeline up to its loops phase
(tensor cores on, for --chip: sm_90a, whose staged GEMM multiplies with
wgmma, or sm_80, mma.sync) and runs the kernels it became with the
warp-level emulator (gpu_emulator.py: wgmma, mma.sync, ldmatrix, cp.async,
warp shuffles and barriers as the PTX ISA defines them, the threads of a
program in lockstep). Random rows and weights (fixed seed), group sizes with empty
groups and rows outside every group; row counts on both sides of the
staged kernel's switch between its decode and prefill tiles. The result is
compared with float64 products of the same (rounded) inputs and the
activation's documented formula in NumPy: relative L2 error at most 1e-2
for 16-bit results (one rounding of the f32 sums), 1e-5 for f32 results,
and the rows outside every group exactly 0.

Prints one line per case and row count, with the kernels that ran (the
staged GEMM's prefill or decode kernel), the tensor-core instructions of
the lowered function and the programs that ran; exits 1 if any
mismatched.
"""
import argparse
import math
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu_emulator  # noqa: E402


def case(name, et, ot, G, N, K, rows_of, **kw):
    c = dict(name=name, et=et, ot=ot, G=G, N=N, K=K, rows=rows_of,
             bias=False, gather=False, form=None, act=None)
    c.update(kw)
    return c


CASES = [
    # The staged kernel: decode tiles below 64 rows a group, prefill above.
    case("staged_bf16", "bf16", "bf16", 4, 200, 160, [1, 7, 40, 300],
         bias=True),
    case("staged_f16_f32", "f16", "f32", 6, 48, 96, [5, 400]),
    case("staged_dense", "bf16", "f32", 0, 136, 64, [3, 130], bias=True),
    # Fused: the rows gathered from the tokens, gate and up weights with the
    # activation (moe-fuse-dispatch and moe-fuse-gate-up), and the layouts
    # of a fused gate_up weight.
    case("fused_gather_swiglu", "bf16", "bf16", 4, 48, 64, [6, 300],
         gather=True, form="up", act="swiglu", bias=True),
    case("fused_geglu_interleaved", "bf16", "f32", 4, 72, 96, [9, 280],
         form="interleaved", act="geglu", bias=True),
    case("fused_swiglu_limit_concatenated", "f16", "f16", 3, 40, 64, [5, 200],
         gather=True, form="concatenated", bias=True,
         act="swiglu, alpha = 1.702, beta = 1.0, limit = 7.0"),
    case("fused_dense_gelu_tanh", "bf16", "bf16", 0, 40, 64, [3, 70],
         act="gelu_tanh"),
    # K an odd multiple of 16: the direct kernel, fragments from global
    # memory; fused, it is unfused into a gather, two GEMMs and an
    # activation kernel.
    case("direct_bf16", "bf16", "bf16", 4, 24, 48, [6, 90], bias=True),
    case("unfused_k48_swiglu", "bf16", "bf16", 4, 24, 48, [6, 90],
         gather=True, form="up", act="swiglu"),
]


def module_text(c):
    et, ot, G, N, K = c["et"], c["ot"], c["G"], c["N"], c["K"]
    wrows = 2 * N if c["form"] in ("interleaved", "concatenated") else N
    wshape = "%dx%dx%d" % (G, wrows, K) if G else "%dx%d" % (wrows, K)
    bshape = "%dx%d" % (G, wrows) if G else "%d" % wrows
    args = ["%%x: tensor<?x%dx%s>" % (K, et), "%%w: tensor<%sx%s>" % (wshape, et)]
    extra = ""
    if c["gather"]:
        args.append("%rows: tensor<?xi32>")
        extra += " gather(%rows : tensor<?xi32>)"
    if G:
        args.append("%%off: tensor<%dxi32>" % (G + 1))
        extra += " offsets(%%off : tensor<%dxi32>)" % (G + 1)
    if c["bias"]:
        args.append("%%b: tensor<%sxf32>" % bshape)
        extra += " bias(%%b : tensor<%sxf32>)" % bshape
    if c["form"] == "up":
        args.append("%%u: tensor<%sx%s>" % (wshape, et))
        extra += " up(%%u : tensor<%sx%s>)" % (wshape, et)
        if c["bias"]:
            args.append("%%ub: tensor<%sxf32>" % bshape)
            extra += " up_bias(%%ub : tensor<%sxf32>)" % bshape
    if c["act"]:
        extra += " activation(#moe.activation<%s>)" % c["act"]
    if c["form"] in ("interleaved", "concatenated"):
        extra += " gate_up_layout(%s)" % c["form"]
    name = c["name"]
    return (
        "func.func @%s(%s) -> tensor<?x%dx%s> {\n"
        "  %%y = moe.grouped_matmul %%x, %%w%s : tensor<?x%dx%s>, "
        "tensor<%sx%s> -> tensor<?x%dx%s>\n"
        "  return %%y : tensor<?x%dx%s>\n}\n" %
        (name, ", ".join(args), N, ot, extra, K, et, wshape, et, N, ot, N, ot))


def activation(spec, g, u):
    """The activation's documented formula (docs/MoEDialect.md)."""
    parts = [p.strip() for p in spec.split(",")]
    kind = parts[0]
    opts = dict(p.split(" = ") for p in parts[1:])
    alpha = float(opts.get("alpha", 1.0))
    beta = float(opts.get("beta", 0.0))
    gelu = np.vectorize(lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))),
                        otypes=[np.float64])
    if kind in ("swiglu", "geglu"):
        if "limit" in opts:
            lim = float(opts["limit"])
            g = np.minimum(g, lim)
            u = np.clip(u, -lim, lim)
        if kind == "geglu":
            return gelu(g) * (u + beta)
        return g / (1 + np.exp(-alpha * g)) * (u + beta)
    if kind == "gelu_tanh":
        return 0.5 * u * (1 + np.tanh(math.sqrt(2 / math.pi) *
                                      (u + 0.044715 * u ** 3)))
    raise ValueError(kind)


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


def tensor_ops(text):
    """The tensor-core instructions in the lowered text, e.g. "(wgmma)"."""
    ops = [name for name, op in (("wgmma", "nvvm.wgmma.mma_async"),
                                 ("mma.sync", "nvvm.mma.sync")) if op in text]
    return "(%s)" % ", ".join(ops or ["no tensor core"])


def lower_to_loops(moe_opt, out_dir, name, module, flags="", chip="sm_90a"):
    """`module` written to OUT/NAME.CHIP.mlir and lowered by
    moe-cuda-pipeline to its loops phase (tensor cores on, `chip`, then
    `flags`): the generic form the emulator reads."""
    src = os.path.join(out_dir, "%s.%s.mlir" % (name, chip))
    loops = os.path.join(out_dir, "%s.%s.loops.mlir" % (name, chip))
    with open(src, "w") as fh:
        fh.write(module)
    subprocess.run([moe_opt, src,
                    "--moe-cuda-pipeline=compile-to=loops chip=" + chip + flags,
                    "--mlir-print-op-generic", "-o", loops], check=True)
    with open(loops) as fh:
        return fh.read()


def run_cases(doc, cases, run_case, seed):
    """The command line of a script of cases: runs each, prints the count
    that mismatched, and returns the exit status."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--moe-opt", default="moe-opt")
    p.add_argument("--out", required=True)
    p.add_argument("--chip", default="sm_90a",
                   help="the GPU target: sm_90a (wgmma) or sm_80 (mma.sync)")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(seed)
    failed = sum(run_case(c, args.moe_opt, args.out, rng, args.chip)
                 for c in cases)
    print("%d cases mismatched" % failed)
    return 1 if failed else 0


def run_case(c, moe_opt, out_dir, rng, chip):
    name, et, ot, G, N, K = c["name"], c["et"], c["ot"], c["G"], c["N"], c["K"]
    text = lower_to_loops(moe_opt, out_dir, name, module_text(c), chip=chip)
    layout = c["form"] in ("interleaved", "concatenated")
    wrows = 2 * N if layout else N
    wshape = (G, wrows, K) if G else (wrows, K)
    w = rounded(rng.standard_normal(wshape), et)
    up = rounded(rng.standard_normal(wshape), et) if c["form"] == "up" else None
    b = rng.standard_normal(wshape[:-1]).astype(np.float32)
    ub = rng.standard_normal(wshape[:-1]).astype(np.float32)
    failed = 0
    for M in c["rows"]:
        emu = gpu_emulator.Emulator(gpu_emulator.parse_module(text))
        tokens = max(1, M // 2) if c["gather"] else M
        x = rounded(rng.standard_normal((tokens, K)), et)
        inputs = [gpu_emulator.buffer_of(emu, x, et),
                  gpu_emulator.buffer_of(emu, w, et)]
        rows = np.arange(M)
        if c["gather"]:
            rows = rng.integers(0, tokens, M).astype(np.int32)
            inputs.append(gpu_emulator.buffer_of(emu, rows, "i32"))
        xs = x[rows]

        def product(weight, bias):
            s = xs @ weight.T
            return s + bias if c["bias"] else s

        if G:
            off = offsets_for(rng, M, G)
            inputs.append(gpu_emulator.buffer_of(emu, off, "i32"))
            group_rows = [(g, off[g], off[g + 1]) for g in range(G)]
            outside = np.r_[0:off[0], off[G]:M]
        else:
            group_rows = [(None, 0, M)]
            outside = np.r_[0:0]
        if c["bias"]:
            inputs.append(gpu_emulator.buffer_of(emu, b, "f32"))
        if up is not None:
            inputs.append(gpu_emulator.buffer_of(emu, up, et))
            if c["bias"]:
                inputs.append(gpu_emulator.buffer_of(emu, ub, "f32"))
        want = np.zeros((M, N))
        for g, lo, hi in group_rows:
            pick = (lambda a: a[g]) if g is not None else (lambda a: a)
            s = product(pick(w), pick(b))[lo:hi]
            if c["form"] == "up":
                gate, upv = s, product(pick(up), pick(ub))[lo:hi]
            elif c["form"] == "interleaved":
                gate, upv = s[:, 0::2], s[:, 1::2]
            elif c["form"] == "concatenated":
                gate, upv = s[:, :N], s[:, N:]
            else:
                gate, upv = None, s
            want[lo:hi] = activation(c["act"], gate, upv) if c["act"] else upv
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
        print("%s M=%d: %s %s %s, %d programs: %s" % (
            name, M, "ok" if ok else "FAILED", "+".join(emu.ran),
            tensor_ops(text), emu.programs, detail))
    return failed


if __name__ == "__main__":
    sys.exit(run_cases(__doc__, CASES, run_case, 23))
