#!/usr/bin/python3
"""Runs the fused combine of convert-moe-to-gpu on the CPU.

For each case, writes a function of a moe.dispatch of random expert indices
and a moe.combine with the experts' down projection fused into it (the form
moe-fuse-combine makes: 16-bit rows in slot order, down weights, optional
bias, shared expert and shared gate), lowers it with moe-cuda-pipeline up to
its loops phase (tensor cores on, --chip sm_90a: wgmma, or sm_80:
mma.sync) and runs the kernels with the warp-level emulator
(gpu_emulator.py). Where the fused kernels take it
(combine_init, gemm_mma_staged_combine with its scatter-add epilogue,
combine_round), and where they do not (slots not from a moe.dispatch; K an
odd multiple of 16; fuse-combine=false), which unfuse it into the down GEMM
and the combine. The result is compared with float64 in NumPy: the slots
of a stable sort by expert, each slot's row times its expert's down weight
plus bias, summed over the token's slots with its routing weights, plus the
shared term: relative L2 at most 1e-2 for 16-bit results (one rounding),
1e-5 for f32 ones. Token counts on both sides of the staged kernel's
switch between its decode and prefill tiles; experts without tokens.

Prints one line per case and token count with the kernels that ran and
their tensor-core instructions; exits 1 if any mismatched.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu_emulator  # noqa: E402
from mma_gemm_on_cpu import (lower_to_loops, rounded,  # noqa: E402
                             run_cases, tensor_ops)


def case(name, et, ot, G, D, F, k, tokens, **kw):
    c = dict(name=name, et=et, ot=ot, G=G, D=D, F=F, k=k, tokens=tokens,
             bias=False, shared=False, gate=False, from_dispatch=True,
             flags="")
    c.update(kw)
    return c


CASES = [
    # The fused kernels: 16 rows a tile below 64 rows an expert on
    # average, 128 above (300 tokens x 2 slots over 8 experts).
    case("fused_bf16_bias", "bf16", "bf16", 8, 64, 64, 2, [1, 5, 300],
         bias=True),
    case("fused_f16_shared_gate_f32", "f16", "f32", 4, 40, 96, 3, [2, 100],
         shared=True, gate=True, bias=True),
    case("fused_bf16_shared_k1", "bf16", "bf16", 6, 136, 32, 1, [3, 400],
         shared=True),
    # Unfused: the slots are an argument, K an odd multiple of 16, or
    # fuse-combine=false.
    case("unfused_slots_argument", "bf16", "bf16", 4, 64, 64, 2, [6],
         from_dispatch=False, bias=True),
    case("unfused_k48", "bf16", "bf16", 4, 64, 48, 2, [6], shared=True),
    case("unfused_by_option", "bf16", "bf16", 8, 64, 64, 2, [5, 300],
         bias=True, flags=" fuse-combine=false"),
]


def module_text(c):
    et, ot, G, D, F, k = c["et"], c["ot"], c["G"], c["D"], c["F"], c["k"]
    args = ["%%h: tensor<?x%dx%s>" % (F, et), "%%w: tensor<?x%dxf32>" % k]
    body = ""
    if c["from_dispatch"]:
        args.append("%%ids: tensor<?x%dxi32>" % k)
        body += ("  %%sorted, %%inv, %%off = moe.dispatch %%ids experts(%d) "
                 ": tensor<?x%dxi32>\n" % (G, k))
    else:
        args += ["%%inv: tensor<?x%dxi32>" % k, "%%off: tensor<%dxi32>" % (G + 1)]
    args.append("%%down: tensor<%dx%dx%dx%s>" % (G, D, F, et))
    extra = ""
    if c["shared"]:
        args.append("%%s: tensor<?x%dxf32>" % D)
        extra += " shared(%%s : tensor<?x%dxf32>)" % D
    if c["gate"]:
        args.append("%sg: tensor<?x1xf32>" % "%")
        extra += " shared_gate(%sg : tensor<?x1xf32>)" % "%"
    extra += " down(%%down : tensor<%dx%dx%dx%s>)" % (G, D, F, et)
    extra += " down_offsets(%%off : tensor<%dxi32>)" % (G + 1)
    if c["bias"]:
        args.append("%%b: tensor<%dx%dxf32>" % (G, D))
        extra += " down_bias(%%b : tensor<%dx%dxf32>)" % (G, D)
    body += ("  %%y = moe.combine %%h, %%w, %%inv%s : tensor<?x%dx%s>, "
             "tensor<?x%dxf32>, tensor<?x%dxi32> -> tensor<?x%dx%s>\n" %
             (extra, F, et, k, k, D, ot))
    return ("func.func @%s(%s) -> tensor<?x%dx%s> {\n%s"
            "  return %%y : tensor<?x%dx%s>\n}\n" %
            (c["name"], ", ".join(args), D, ot, body, D, ot))


def dispatch(ids, G):
    """moe.dispatch: slots ordered by expert, then by assignment t·k + j."""
    flat = ids.reshape(-1)
    order = np.argsort(flat, kind="stable")
    inverse = np.empty_like(order)
    inverse[order] = np.arange(flat.size)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(flat, minlength=G))])
    return inverse.reshape(ids.shape).astype(np.int32), offsets.astype(np.int32)


def run_case(c, moe_opt, out_dir, rng, chip):
    name, et, ot = c["name"], c["et"], c["ot"]
    G, D, F, k = c["G"], c["D"], c["F"], c["k"]
    text = lower_to_loops(moe_opt, out_dir, name, module_text(c), c["flags"],
                          chip)
    down = rounded(rng.standard_normal((G, D, F)) / np.sqrt(F), et)
    bias = rng.standard_normal((G, D)).astype(np.float32)
    # Two experts get no token.
    used = rng.permutation(G)[:max(1, G - 2)]
    failed = 0
    for T in c["tokens"]:
        emu = gpu_emulator.Emulator(gpu_emulator.parse_module(text))
        ids = used[rng.integers(0, used.size, (T, k))].astype(np.int32)
        inverse, offsets = dispatch(ids, G)
        h = rounded(rng.standard_normal((T * k, F)), et)
        w = rng.random((T, k)).astype(np.float32)
        shared = rng.standard_normal((T, D)).astype(np.float32)
        gate = rng.standard_normal((T, 1)).astype(np.float32)
        inputs = [gpu_emulator.buffer_of(emu, h, et),
                  gpu_emulator.buffer_of(emu, w, "f32")]
        if c["from_dispatch"]:
            inputs.append(gpu_emulator.buffer_of(emu, ids, "i32"))
        else:
            inputs += [gpu_emulator.buffer_of(emu, inverse, "i32"),
                       gpu_emulator.buffer_of(emu, offsets, "i32")]
        inputs.append(gpu_emulator.buffer_of(emu, down, et))
        if c["shared"]:
            inputs.append(gpu_emulator.buffer_of(emu, shared, "f32"))
        if c["gate"]:
            inputs.append(gpu_emulator.buffer_of(emu, gate, "f32"))
        if c["bias"]:
            inputs.append(gpu_emulator.buffer_of(emu, bias, "f32"))

        projected = np.zeros((T * k, D))
        for g in range(G):
            lo, hi = offsets[g], offsets[g + 1]
            projected[lo:hi] = h[lo:hi] @ down[g].T
            if c["bias"]:
                projected[lo:hi] += bias[g]
        want = np.einsum("tj,tjd->td", w.astype(np.float64),
                         projected[inverse])
        if c["shared"]:
            s = shared.astype(np.float64)
            if c["gate"]:
                s = s / (1 + np.exp(-gate.astype(np.float64)))
            want += s
        try:
            (out,) = emu.call(name, inputs)
            got = gpu_emulator.values_of(out)
            err = np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-30)
            tol = 1e-5 if ot == "f32" else 1e-2
            ok = bool(np.isfinite(got).all() and err <= tol)
            detail = "relative L2 %.2e (tolerance %g)" % (err, tol)
        except gpu_emulator.EmulationError as e:
            ok, detail = False, "emulation error: %s" % e
        failed += not ok
        print("%s T=%d: %s %s %s: %s" % (name, T, "ok" if ok else "FAILED",
                                         "+".join(emu.ran), tensor_ops(text),
                                         detail))
    return failed


if __name__ == "__main__":
    sys.exit(run_cases(__doc__, CASES, run_case, 29))
