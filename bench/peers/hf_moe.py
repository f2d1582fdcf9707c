"""Times transformers' own sparse MoE block on PyTorch (CPU) at one of
moe-bench's shapes, in f32 and bf16, once per experts implementation that
transformers offers, the way moe-bench times moec: 16 random inputs rotated
between calls, 3 warm-up calls, then at least 5 calls and MIN_TIME seconds;
median, min and max in ms.

The block is built from transformers' config and model classes with random
weights (transformers' own initialization, seed 0; nothing is downloaded): a
one-layer Qwen3MoeModel / OlmoeModel / MixtralModel, whose layer 0 holds the
Qwen3MoeSparseMoeBlock / OlmoeSparseMoeBlock / MixtralSparseMoeBlock that is
timed on its own, input [1, T, d]. Building the model (not the bare block)
lets transformers pick its default experts implementation
(config._experts_implementation) as it does for a loaded checkpoint; the
others are selected with model.set_experts_implementation(). bf16 is the
same model converted with .to(torch.bfloat16), inputs in bf16.

After timing each token count, output rows 0 and T-1 of the first input are
checked against a float64 evaluation of the block's own weights (routing
indices from the block's router, routing weights recomputed in float64 with
moe-bench's renormalization flag; relative L2 within 1e-4 for f32, 2e-2 for
bf16, whose router logits, routing weights, expert outputs and sum are all
rounded to bf16); a wrong result is an error, not a time.

An implementation that fails on this machine (e.g. one that needs CUDA) is
skipped with a note; so is batched_mm where its per-call copy of the selected
experts' weights (T*k of them) would not fit in half the available memory.

Prints on stdout CSV rows "hf-IMPL,SHAPE,DTYPE,T,median,min,max" and notes
starting with "#" (versions, the implementations offered, the default,
skips), which report.py prints under the table; progress goes to stderr.

  build/venv/bin/python hf_moe.py SHAPE THREADS TOKENS(1,8,...) MIN_TIME \
      [--dtypes f32,bf16] [--impls all|eager,grouped_mm,...]
"""
import argparse
import sys
import time

import torch
import torch.nn.functional as F
import transformers
from transformers.integrations.moe import ALL_EXPERTS_FUNCTIONS

# d, f, E, k, renormalize: moe-bench's table (tools/moe-bench/moe-bench.cpp).
SHAPES = {"qwen3-30b-a3b": (2048, 768, 128, 8, True),
          "olmoe": (2048, 1024, 64, 8, False),
          "mixtral-small": (1024, 3584, 8, 2, True)}

DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16}
TOLERANCE = {"f32": 1e-4, "bf16": 2e-2}


def model_for(shape):
    """The one-layer transformers model whose layer 0 holds the shape's
    sparse MoE block, and the block's class name."""
    d, f, E, k, renorm = SHAPES[shape]
    # One layer and a small vocabulary: only layer 0's MoE block is timed.
    common = dict(num_hidden_layers=1, vocab_size=256, hidden_act="silu",
                  bos_token_id=None, eos_token_id=None, pad_token_id=None)
    if shape == "qwen3-30b-a3b":
        cfg = transformers.Qwen3MoeConfig(
            hidden_size=d, moe_intermediate_size=f, num_experts=E,
            num_experts_per_tok=k, norm_topk_prob=renorm,
            decoder_sparse_step=1, mlp_only_layers=[], **common)
        return transformers.Qwen3MoeModel(cfg), "Qwen3MoeSparseMoeBlock"
    if shape == "olmoe":
        cfg = transformers.OlmoeConfig(
            hidden_size=d, intermediate_size=f, num_experts=E,
            num_experts_per_tok=k, norm_topk_prob=renorm, **common)
        return transformers.OlmoeModel(cfg), "OlmoeSparseMoeBlock"
    # Mixtral's router always renormalizes the top-k weights.
    assert renorm
    cfg = transformers.MixtralConfig(
        hidden_size=d, intermediate_size=f, num_local_experts=E,
        num_experts_per_tok=k, **common)
    return transformers.MixtralModel(cfg), "MixtralSparseMoeBlock"


def reference(block, x, rows, renorm):
    """Rows of the block's output for x [T, d] in float64."""
    experts, gate = block.experts, block.gate
    with torch.no_grad():
        _, _, top = gate(x)  # the block's own routing decisions
        w_router = gate.weight.double()
        gate_up, down = experts.gate_up_proj, experts.down_proj
        f = down.shape[-1]
        out = []
        for row in rows:
            xr = x[row].double()
            p = torch.softmax(w_router @ xr, dim=-1)
            w = p[top[row]]
            if renorm:
                w = w / w.sum()
            y = torch.zeros_like(xr)
            for wi, e in zip(w, top[row].tolist()):
                h = gate_up[e].double() @ xr  # [gate; up], concatenated
                y += wi * (down[e].double() @ (F.silu(h[:f]) * h[f:]))
            out.append(y)
    return out


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def note(text):
    """A note for the table (stdout, '#') and for the log (stderr)."""
    print("# " + text, flush=True)
    print("hf_moe.py: " + text, file=sys.stderr, flush=True)


def first_line(e):
    msg = (str(e).strip().splitlines() or [""])[0]
    return "%s: %s" % (type(e).__name__, msg[:200])


def time_calls(block, pool, min_time):
    times, elapsed = [], 0.0
    for it in range(3 + 16 * 64):
        t0 = time.perf_counter()
        block(pool[it % 16])
        t = time.perf_counter() - t0
        if it >= 3:  # warm-up
            times.append(t * 1000)
            elapsed += t
        if len(times) >= 5 and elapsed >= min_time:
            break
    times.sort()
    return times


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("shape", choices=sorted(SHAPES))
    ap.add_argument("threads", type=int)
    ap.add_argument("tokens")
    ap.add_argument("min_time", type=float)
    ap.add_argument("--dtypes", default="f32,bf16")
    ap.add_argument("--impls", default="all",
                    help="experts implementations to time (default: all that "
                         "transformers offers)")
    a = ap.parse_args()
    dtypes = a.dtypes.split(",")
    for dt in dtypes:
        if dt not in DTYPES:
            sys.exit("hf_moe.py: error: unknown dtype %s (f32, bf16)" % dt)
    tokens = [int(t) for t in a.tokens.split(",")]
    d, f, E, k, renorm = SHAPES[a.shape]

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    print("hf_moe.py: %s: building a one-layer transformers model "
          "(d %d, f %d, E %d, k %d, renormalize %s)"
          % (a.shape, d, f, E, k, renorm), file=sys.stderr, flush=True)
    model, block_class = model_for(a.shape)
    model.eval()
    block = model.layers[0].mlp
    if type(block).__name__ != block_class:
        sys.exit("hf_moe.py: error: %s: layer 0's mlp is %s, not %s"
                 % (a.shape, type(block).__name__, block_class))
    if (tuple(block.experts.gate_up_proj.shape) != (E, 2 * f, d)
            or tuple(block.experts.down_proj.shape) != (E, d, f)
            or block.gate.top_k != k):
        sys.exit("hf_moe.py: error: %s: the block's experts %s / %s, k %d do "
                 "not match moe-bench's shape" % (
                     a.shape, tuple(block.experts.gate_up_proj.shape),
                     tuple(block.experts.down_proj.shape), block.gate.top_k))
    default = model.config._experts_implementation
    offered = ["eager"] + sorted(ALL_EXPERTS_FUNCTIONS.keys())
    impls = offered if a.impls == "all" else a.impls.split(",")
    for impl in impls:
        if impl not in offered:
            sys.exit("hf_moe.py: error: %s is not an experts implementation "
                     "transformers offers (%s)" % (impl, ", ".join(offered)))
    note("hf: transformers %s, torch %s, CPU, %d threads; %s; experts "
         "implementations offered: %s; default picked: %s"
         % (transformers.__version__, torch.__version__, a.threads, block_class,
            ", ".join(offered), default))

    pools = {}
    for dt in dtypes:
        if dt != "f32":
            model.to(DTYPES[dt])
        skipped = set()
        for impl in impls:
            try:
                model.set_experts_implementation(impl)
            except Exception as e:
                note("hf-%s %s skipped: set_experts_implementation failed: %s"
                     % (impl, dt, first_line(e)))
                continue
            if block.experts.config._experts_implementation != impl:
                note("hf-%s %s skipped: set_experts_implementation left %s"
                     % (impl, dt, block.experts.config._experts_implementation))
                continue
            for T in tokens:
                if impl in skipped:
                    break
                if impl == "batched_mm":
                    # batched_mm gathers each (token, slot)'s expert weights.
                    need = T * k * 3 * d * f * DTYPES[dt].itemsize
                    if need > mem_available() / 2:
                        note("hf-batched_mm %s %s T=%d skipped: it copies T*k "
                             "experts' weights per call (%.1f GB), over half "
                             "the available memory" % (dt, a.shape, T, need / 1e9))
                        continue
                key = (dt, T)
                if key not in pools:
                    g = torch.Generator().manual_seed(12345 + T)
                    pools[key] = [(torch.rand(1, T, d, generator=g) * 3.4 - 1.7)
                                  .to(DTYPES[dt]) for _ in range(16)]
                pool = pools[key]
                try:
                    with torch.inference_mode():
                        times = time_calls(block, pool, a.min_time)
                        out = block(pool[0])[0]
                except Exception as e:  # an implementation this CPU lacks
                    note("hf-%s %s skipped: it fails on CPU here: %s"
                         % (impl, dt, first_line(e)))
                    skipped.add(impl)
                    break
                rows = sorted({0, T - 1})
                want = reference(block, pool[0][0], rows, renorm)
                worst = 0.0
                for row, w in zip(rows, want):
                    err = ((out[row].double() - w).norm() / w.norm()).item()
                    if not err <= TOLERANCE[dt]:
                        sys.exit("hf_moe.py: error: hf-%s %s %s T=%d: output "
                                 "row %d is off the float64 reference (relative"
                                 " L2 %.3g, tolerance %.0e)" % (
                                     impl, dt, a.shape, T, row, err,
                                     TOLERANCE[dt]))
                    worst = max(worst, err)
                print("hf_moe.py: hf-%s %s %s T=%d: %d calls, median %.3f ms; "
                      "output %s within %.0e of the float64 reference "
                      "(relative L2 %.2g)" % (
                          impl, dt, a.shape, T, len(times),
                          times[len(times) // 2],
                          "row 0" if T == 1 else "rows 0 and %d" % (T - 1),
                          TOLERANCE[dt], worst),
                      file=sys.stderr, flush=True)
                print("hf-%s,%s,%s,%d,%.4f,%.4f,%.4f" % (
                    impl, a.shape, dt, T, times[len(times) // 2], times[0],
                    times[-1]), flush=True)
        for key in [key for key in pools if key[0] == dt]:
            del pools[key]


if __name__ == "__main__":
    main()
