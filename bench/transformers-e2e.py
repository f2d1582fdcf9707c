"""Whole-model speed of a transformers model with and without moec's MoE
layers, in one run: prefill and greedy decode tokens/s on the CPU.

The model is a Qwen3MoeForCausalLM built from transformers' config and model
classes with random weights (transformers' own initialization, seed 0;
nothing is downloaded): LAYERS decoder layers of qwen3-30b-a3b's shape
(hidden 2048, 32 query and 4 key/value heads of 128, 128 experts of width
768, top-8, renormalized), every layer MoE, in float32 (or bfloat16 with
--dtype bf16: weights, activations and moec's layers), with a vocabulary of
VOCAB tokens instead of 151,936 (the embedding and LM head are not what is
compared). It is timed as transformers runs it (its default experts
implementation, and also each one named by --impls), then
moec.transformers.compile_moe() swaps its MoE blocks for compiled layers
and it is timed again, the same way:

  prefill: one forward of a PROMPT-token prompt (batch 1), tokens/s;
  decode:  NEW greedy steps after it, one token each with the KV cache,
           tokens/s over the steps.

Each measurement is repeated REPEAT times after one warm-up; the tables give
the median and the spread (min-max). Both runs decode from the same prompt
and must produce the same tokens (checked; reported). torch and the moec
session each use THREADS threads.

  build/venv/bin/python bench/transformers-e2e.py [--layers 2] [--prompt 512]
      [--new 32] [--threads 2] [--repeat 3] [--impls eager,grouped_mm]
      [--dtype f32|bf16] [--bf16-dot]

Run from the repository root after the build (it imports build/python).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "build", "python"))

import torch  # noqa: E402
import transformers  # noqa: E402

import moec  # noqa: E402
import moec.transformers  # noqa: E402


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def build(layers, vocab, dtype):
    config = transformers.Qwen3MoeConfig(
        vocab_size=vocab, hidden_size=2048, intermediate_size=6144,
        moe_intermediate_size=768, num_experts=128, num_experts_per_tok=8,
        norm_topk_prob=True, num_hidden_layers=layers,
        num_attention_heads=32, num_key_value_heads=4, head_dim=128,
        max_position_embeddings=4096, decoder_sparse_step=1,
        mlp_only_layers=[], tie_word_embeddings=False)
    torch.manual_seed(0)
    model = transformers.Qwen3MoeForCausalLM(config).eval()
    return model.to(torch.bfloat16) if dtype == "bf16" else model


def time_model(model, prompt, new, repeat):
    """([prefill seconds], [decode seconds per token], tokens)."""
    prefill, decode, tokens = [], [], None
    for r in range(repeat + 1):
        with torch.no_grad():
            t0 = time.perf_counter()
            out = model(prompt, use_cache=True)
            t1 = time.perf_counter()
            cache = out.past_key_values
            token = out.logits[:, -1:].argmax(-1)
            seq = [token.item()]
            steps = []
            for _ in range(new):
                s0 = time.perf_counter()
                out = model(token, past_key_values=cache, use_cache=True)
                steps.append(time.perf_counter() - s0)
                cache = out.past_key_values
                token = out.logits[:, -1:].argmax(-1)
                seq.append(token.item())
        if r == 0:
            tokens = seq  # the warm-up; its time is not kept
            continue
        if seq != tokens:
            log("warning: repeat %d decoded other tokens" % r)
        prefill.append(t1 - t0)
        decode.append(statistics.median(steps))
    return prefill, decode, tokens


def rate(seconds, tokens):
    """tokens/s: median, min, max over the repeats."""
    rates = [tokens / s for s in seconds]
    return statistics.median(rates), min(rates), max(rates)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--vocab", type=int, default=4096)
    p.add_argument("--prompt", type=int, default=512)
    p.add_argument("--new", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    p.add_argument("--bf16-dot", action="store_true",
                   help="compile moec's layers with bf16 dot products "
                   "(moe-compile --bf16-dot; rounds activations to bf16)")
    p.add_argument("--impls", default="",
                   help="transformers experts implementations to time "
                   "besides the default (comma-separated)")
    a = p.parse_args()
    if min(a.layers, a.prompt, a.new, a.threads, a.repeat) < 1:
        sys.exit("transformers-e2e.py: error: --layers, --prompt, --new, "
                 "--threads and --repeat must be at least 1")

    torch.set_num_threads(a.threads)
    transformers.logging.set_verbosity_error()
    log("building %d layers of qwen3-30b-a3b's shape (random weights)"
        % a.layers)
    model = build(a.layers, a.vocab, a.dtype)
    prompt = torch.randint(0, a.vocab, (1, a.prompt),
                           generator=torch.Generator().manual_seed(1))
    default = model.config._experts_implementation
    rows = []
    impls = [default] + [i for i in a.impls.split(",") if i and i != default]
    for impl in impls:
        model.set_experts_implementation(impl)
        log("timing transformers (experts implementation %s)" % impl)
        rows.append(("transformers (%s)" % impl,) +
                    time_model(model, prompt, a.new, a.repeat))
    model.set_experts_implementation(default)

    log("compiling the MoE layers with moec")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="moec-e2e-") as d:
        moec.transformers.compile_moe(model, output_dir=d, threads=a.threads,
                                      bf16_dot=a.bf16_dot)
        compile_s = time.perf_counter() - t0
        log("timing transformers with moec's layers")
        rows.append(("transformers + moec",) +
                    time_model(model, prompt, a.new, a.repeat))

    print("# %d layers of qwen3-30b-a3b's MoE shape, %s, vocabulary %d; "
          "prompt %d tokens, %d decode steps; %d threads; median (min-max) "
          "of %d repeats" % (a.layers, a.dtype, a.vocab, a.prompt, a.new,
                             a.threads, a.repeat))
    print("# transformers %s, torch %s, moec %s; CPU: %s" % (
        transformers.__version__, torch.__version__, moec.__version__,
        moec.devices()[0][2]))
    print("# moec: compile_moe took %.1f s (compile, load, bind)%s" % (
        compile_s, "; --bf16-dot" if a.bf16_dot else ""))
    print("| model | prefill tokens/s | decode tokens/s | decoded tokens |")
    print("|---|---|---|---|")
    base = rows[0]
    for name, prefill, decode, tokens in rows:
        pm, plo, phi = rate(prefill, a.prompt)
        dm, dlo, dhi = rate(decode, 1)
        same = "reference" if tokens is base[3] else (
            "same" if tokens == base[3] else "DIFFERENT")
        print("| %s | %.1f (%.1f-%.1f) | %.2f (%.2f-%.2f) | %s |"
              % (name, pm, plo, phi, dm, dlo, dhi, same))
    moec_row = rows[-1]
    for name, prefill, decode, _ in rows[:-1]:
        print("# moec / %s: prefill %.2fx, decode %.2fx (medians)" % (
            name, rate(moec_row[1], a.prompt)[0] / rate(prefill, a.prompt)[0],
            rate(moec_row[2], 1)[0] / rate(decode, 1)[0]))
    if moec_row[3] != base[3]:
        sys.exit("transformers-e2e.py: error: moec's layers decoded other "
                 "tokens than transformers")


if __name__ == "__main__":
    main()
