"""The GPU's two limits and PyTorch's MoE layers on it, for moe-bench's GPU
table (scripts/gpu-check.sh runs it in the same run as moe-bench --device
cuda).

Limits, measured here and passed to moe-bench:
  - the dense bf16 matmul peak: an 8192x8192x8192 torch.matmul (cuBLAS) on
    random bf16 data, median of 20 timed products after 5 warm-ups;
  - the device-to-device bandwidth: a copy of 2 GiB between two device
    buffers, counting the bytes read and written, median of 20.

Peers, at moe-bench's shapes (SwiGLU experts, softmax top-k routing,
renormalized where the shape says so), bf16 weights and activations:
  - torch-grouped_mm: the routed rows sorted by expert, gate and up as one
    torch._grouped_mm over the experts' offsets, SiLU(gate)*up, the down
    projection as a second torch._grouped_mm, the routing weights applied
    and the rows summed back with index_add_;
  - torch-loop: the same per expert, a Python loop over the experts that
    have tokens (what transformers' eager experts do);
  - liger-fused_moe: liger-kernel's Triton fused MoE
    (liger_kernel.ops.fused_moe.LigerFusedMoEFunction: routing metadata in
    three Triton kernels, the gather, gate/up GEMM and SwiGLU in one, the
    down GEMM, the weighted sum), after the same routing, where the
    liger-kernel package imports (gpu-check.sh carries its wheel); with
    its autotuning off (LIGER_FUSED_MOE_AUTOTUNE=0: one configuration per
    kernel), so that its tuning runs do not take the device time.
Each is timed with CUDA events over 2 random inputs rotated (16 at T <= 512,
so decode does not find the experts in L2), 3 warm-ups, then at least 5
calls and MIN_TIME seconds; median, min and max in ms. Each is checked
against the loop (relative L2 within 2e-2) before it is timed.

Prints CSV rows "IMPL,SHAPE,bf16,T,median,min,max" and "limit,NAME,VALUE"
on stdout, notes starting with "#".

  python3 gpu_torch.py --shapes qwen3-30b-a3b,mixtral --tokens 1,8,64 \
      [--min-time 0.2] [--limits-only]
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

os.environ.setdefault("LIGER_FUSED_MOE_AUTOTUNE", "0")
try:
    from liger_kernel.ops.fused_moe import LigerFusedMoEFunction
    LIGER_ERROR = None
except Exception as e:  # not installed, or not importable with this torch
    LigerFusedMoEFunction = None
    LIGER_ERROR = "%s: %s" % (type(e).__name__, e)

# d, f, E, k, renormalize: moe-bench's table (tools/moe-bench/moe-bench.cpp).
SHAPES = {"qwen3-30b-a3b": (2048, 768, 128, 8, True),
          "olmoe": (2048, 1024, 64, 8, False),
          "mixtral-small": (1024, 3584, 8, 2, True),
          "mixtral": (4096, 14336, 8, 2, True),
          "deepseek-v3": (7168, 2048, 256, 8, True),
          "gpt-oss-20b": (2880, 2880, 32, 4, True)}


def timed(fn, warm, calls, min_time):
    """Median, min, max in ms of fn(i) over rotated calls, CUDA events."""
    for i in range(warm):
        fn(i)
    ms = []
    total = 0.0
    i = 0
    while len(ms) < calls or total < min_time * 1000:
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn(i)
        end.record()
        end.synchronize()
        t = start.elapsed_time(end)
        ms.append(t)
        total += t
        i += 1
        if len(ms) >= 2000:
            break
    ms.sort()
    return ms[len(ms) // 2], ms[0], ms[-1]


def limits():
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    med, _, _ = timed(lambda i: torch.matmul(a, b), 5, 20, 0)
    peak = 2.0 * n * n * n / (med / 1000) / 1e9
    del a, b
    src = torch.empty(1 << 30, device="cuda", dtype=torch.int16)
    src.random_(-1000, 1000)
    dst = torch.empty_like(src)
    med, _, _ = timed(lambda i: dst.copy_(src), 3, 20, 0)
    bw = 2.0 * src.numel() * 2 / (med / 1000) / 1e9
    del src, dst
    torch.cuda.empty_cache()
    return peak, bw


def route(x, router, k, renormalize):
    probs = F.softmax(x.float() @ router.float().t(), dim=-1)
    w, idx = torch.topk(probs, k, dim=-1)
    if renormalize:
        w = w / w.sum(dim=-1, keepdim=True)
    return w, idx


def grouped(x, router, gate_up, down, k, renormalize):
    T, d = x.shape
    E = gate_up.shape[0]
    w, idx = route(x, router, k, renormalize)
    flat = idx.reshape(-1)
    order = torch.argsort(flat, stable=True)
    counts = torch.bincount(flat, minlength=E)
    offs = torch.cumsum(counts, 0).to(torch.int32)
    rows = x[order // k]
    h = torch._grouped_mm(rows, gate_up.transpose(-2, -1), offs=offs)
    g, u = h.chunk(2, dim=-1)
    a = F.silu(g) * u
    y = torch._grouped_mm(a, down.transpose(-2, -1), offs=offs)
    y = y * w.reshape(-1)[order].unsqueeze(-1).to(y.dtype)
    out = torch.zeros_like(x)
    out.index_add_(0, order // k, y)
    return out


def loop(x, router, gate_up, down, k, renormalize):
    T, d = x.shape
    w, idx = route(x, router, k, renormalize)
    out = torch.zeros_like(x)
    hit = torch.unique(idx).tolist()
    for e in hit:
        tok, slot = torch.where(idx == e)
        h = x[tok] @ gate_up[e].t()
        g, u = h.chunk(2, dim=-1)
        y = (F.silu(g) * u) @ down[e].t()
        out.index_add_(0, tok, y * w[tok, slot].unsqueeze(-1).to(y.dtype))
    return out


def liger(x, router, gate_up, down, k, renormalize):
    w, idx = route(x, router, k, renormalize)
    return LigerFusedMoEFunction.apply(x, gate_up, down, idx.to(torch.int32),
                                       w.to(x.dtype))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="qwen3-30b-a3b")
    ap.add_argument("--tokens", default="1,8,64,512")
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--limits-only", action="store_true")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("gpu_torch: no CUDA device", file=sys.stderr)
        return 1
    print("# torch %s, %s" % (torch.__version__,
                              torch.cuda.get_device_name(0)))
    if LigerFusedMoEFunction is None:
        print("# liger-kernel's fused MoE not timed: %s" % LIGER_ERROR)
    peak, bw = limits()
    print("limit,bf16_matmul_gflops,%.1f" % peak)
    print("limit,d2d_gbps,%.1f" % bw)
    sys.stdout.flush()
    if args.limits_only:
        return 0
    gen = torch.Generator(device="cuda")
    gen.manual_seed(0)
    for name in args.shapes.split(","):
        d, f, E, k, renorm = SHAPES[name]
        bf = torch.bfloat16

        def rand(*shape, scale):
            return (torch.randn(*shape, device="cuda", generator=gen) *
                    scale).to(bf)
        router = rand(E, d, scale=3.0 / d ** 0.5)
        gate_up = rand(E, 2 * f, d, scale=1.0 / d ** 0.5)
        down = rand(E, d, f, scale=1.0 / f ** 0.5)
        for T in [int(t) for t in args.tokens.split(",")]:
            pool = 16 if T <= 512 else 2
            xs = [rand(T, d, scale=1.0) for _ in range(pool)]
            want = loop(xs[0], router, gate_up, down, k, renorm).float()
            impls = {}
            candidates = {"torch-grouped_mm": grouped}
            if LigerFusedMoEFunction is not None:
                candidates["liger-fused_moe"] = liger
            for impl, fn in candidates.items():
                try:
                    got = fn(xs[0], router, gate_up, down, k, renorm).float()
                except Exception as e:
                    print("# %s %s T=%d failed: %s" %
                          (impl, name, T, str(e).splitlines()[0]))
                    continue
                err = ((got - want).norm() / want.norm()).item()
                if err <= 2e-2:
                    impls[impl] = fn
                else:
                    print("# %s T=%d: %s and the loop differ (relative L2 "
                          "%.3g); not timed" % (name, T, impl, err))
            impls["torch-loop"] = loop
            for impl, fn in impls.items():
                try:
                    med, lo, hi = timed(
                        lambda i: fn(xs[i % pool], router, gate_up, down, k,
                                     renorm), 3, 5, args.min_time)
                except Exception as e:
                    print("# %s %s T=%d failed: %s" %
                          (impl, name, T, str(e).splitlines()[0]))
                    continue
                print("%s,%s,bf16,%d,%.4f,%.4f,%.4f" %
                      (impl, name, T, med, lo, hi))
                sys.stdout.flush()
            del xs
        del router, gate_up, down
        torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
