"""Times llama.cpp's CPU backend (the llama-cpp-python package's libllama)
on the MoE layer of one of moe-bench's shapes. llama.cpp runs models, not
layers; make_llama_models.py writes qwen3moe models of L copies of the
layer with a minimal rest (1 attention head of dimension 32, RMS norms, 32
dummy tokens), and "tiny" ones: the same rest (same weights) with a
next-to-free MoE (2 experts of width 1, k 1, f32). t(M) is one
llama_decode of a batch of T tokens on model M, and

  MoE = t(real, L1) - t(tiny, L1)

is the real layer's MoE (router included) less the tiny MoE's fixed costs
(op overheads): the attention, norms, residual adds, embeddings in, final
norm, logits and llama_decode's own work are the same in both and cancel.
The tiny layer, (t(tiny, L3) - t(tiny, L1)) / 2, bounds what the
subtraction removes besides those, and is printed as a note. One layer's
weights are in play, as in moe-bench and ONNX Runtime (16 inputs rotated
over one layer's weights; the last-level cache may hold part of them);
(t(real, L4) - t(real, L1)) / 3 would have several layers' weights in play
(--layers shows both).

  llama_time.py MODEL_DIR SHAPE DTYPE THREADS TOKENS(1,8,...) MIN_TIME \
      [--layers 1,2,3,4]

The models are loaded side by side (mmap, llama.cpp's default buffer types,
so also its repacked CPU layouts where it has one), each in a context with
n_ctx = n_batch = n_ubatch = max(512, max T), n_threads = n_threads_batch
= THREADS, everything else llama.cpp's default. The batch holds
embeddings (random, normal; as moe-bench's random inputs: the token
embedding table is not read) at positions 0..T-1 of one sequence, and asks
for the logits of every token (32 dummy tokens: [T, 32]; asking for the
last one only would let llama.cpp skip the last layer's FFN for the other
tokens). One call: clear the KV cache (llama_memory_clear, untimed), then
time llama_decode and llama_synchronize. The protocol is moe-bench's: 16
random inputs rotated, 3 warm-up calls, then at least 5 calls and MIN_TIME
seconds; each step calls every model once on the same input (in
alternating order), so the samples of MoE pair calls made moments
apart; their median, min and max are printed as CSV
"llama.cpp,SHAPE,DTYPE,T,median,min,max" (ms), and notes for report.py
(lines starting with "#"): the method, the tiny layer's times. The logits
of the last call are checked to be finite.

--layers also times the real model at those layer counts, and prints on
stderr each median, a least-squares fit t = a + b L, its largest residual
relative to b (the linearity check), (t(real, Lmax) - t(real, L1)) /
(Lmax - 1), and t(real, L1) - c, c = t(tiny, L1) - the tiny layer: the
whole real layer, attention included.
"""
import ctypes
import os
import sys
import time

import numpy as np
import llama_cpp as lc

# d: moe-bench's table.
SHAPES = {"qwen3-30b-a3b": 2048, "olmoe": 2048, "mixtral-small": 1024}


def fail(msg):
    sys.exit("llama_time.py: error: " + msg)


class Model:
    def __init__(self, path, threads, n_ctx):
        self.name = os.path.basename(path)
        mp = lc.llama_model_default_params()
        mp.n_gpu_layers = 0
        self.model = lc.llama_model_load_from_file(path.encode(), mp)
        if not self.model:
            fail("llama.cpp could not load %s" % path)
        cp = lc.llama_context_default_params()
        cp.n_ctx = n_ctx
        cp.n_batch = n_ctx
        cp.n_ubatch = n_ctx
        cp.n_seq_max = 1
        cp.n_threads = threads
        cp.n_threads_batch = threads
        self.ctx = lc.llama_init_from_model(self.model, cp)
        if not self.ctx:
            fail("llama.cpp could not make a context for %s" % path)
        self.mem = lc.llama_get_memory(self.ctx)
        self.n_vocab = lc.llama_vocab_n_tokens(lc.llama_model_get_vocab(self.model))

    def call(self, batch):
        lc.llama_memory_clear(self.mem, True)
        t0 = time.perf_counter()
        rc = lc.llama_decode(self.ctx, batch)
        lc.llama_synchronize(self.ctx)
        t = time.perf_counter() - t0
        if rc != 0:
            fail("llama_decode returned %d on %s" % (rc, self.name))
        return t

    def logits(self, T):
        p = lc.llama_get_logits(self.ctx)
        return np.ctypeslib.as_array(p, shape=(T * self.n_vocab,)).copy()

    def free(self):
        lc.llama_free(self.ctx)
        lc.llama_model_free(self.model)


def fill(batch, x):
    T, d = x.shape
    batch.n_tokens = T
    x = np.ascontiguousarray(x, dtype=np.float32)
    ctypes.memmove(batch.embd, x.ctypes.data, x.nbytes)
    for i in range(T):
        batch.pos[i] = i
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = 0
        batch.logits[i] = 1


def main(model_dir, shape, dtype, threads, tokens, min_time, layers):
    if shape not in SHAPES:
        fail("unknown shape %s (%s)" % (shape, ", ".join(SHAPES)))
    d = SHAPES[shape]
    threads = int(threads)
    Ts = [int(t) for t in tokens.split(",")]
    Ls = [int(x) for x in layers.split(",")] if layers else []
    if 1 not in Ls:
        Ls = [1] + Ls
    n_ctx = max(512, max(Ts))
    lc.llama_backend_init()
    global _quiet  # ctypes callbacks must outlive their use
    _quiet = lc.llama_log_callback(lambda level, text, data: None)
    if not os.environ.get("LLAMA_TIME_VERBOSE"):
        lc.llama_log_set(_quiet, None)
    paths = ([("real", L, "%s.%s.L%d.gguf" % (shape, dtype, L)) for L in Ls] +
             [("tiny", L, "tiny-d%d.f32.L%d.gguf" % (d, L)) for L in (1, 3)])
    models = {}
    for kind, L, name in paths:
        path = os.path.join(model_dir, name)
        if not os.path.exists(path):
            fail("%s not found (bench/peers/make_llama_models.py writes it)" % path)
        print("llama_time.py: llama-cpp-python %s, %s %s, %d threads: loading %s"
              % (lc.__version__, shape, dtype, threads, path), file=sys.stderr)
        models[kind, L] = Model(path, threads, n_ctx)
    keys = list(models)
    rng = np.random.default_rng(12345)
    batch = lc.llama_batch_init(n_ctx, d, 1)
    rest = []
    try:
        for T in Ts:
            pool = [rng.standard_normal((T, d), dtype=np.float32) for _ in range(16)]
            times = {k: [] for k in keys}
            elapsed = 0.0
            for it in range(3 + 16 * 64):
                fill(batch, pool[it % 16])
                step = {}
                for k in (keys if it % 2 == 0 else keys[::-1]):
                    step[k] = models[k].call(batch) * 1000
                if it >= 3:  # warm-up
                    for k in keys:
                        times[k].append(step[k])
                    elapsed += sum(step.values()) / 1000
                if len(times[keys[0]]) >= 5 and elapsed >= float(min_time):
                    break
            for k in keys:
                if not np.all(np.isfinite(models[k].logits(T))):
                    fail("%s %s T=%d: %s's logits are not finite"
                         % (shape, dtype, T, models[k].name))
            t = {k: np.array(v) for k, v in times.items()}
            tiny_layer = (t["tiny", 3] - t["tiny", 1]) / 2
            c = t["tiny", 1] - tiny_layer
            moe = t["real", 1] - t["tiny", 1]
            med = {k: np.median(v) for k, v in t.items()}
            msg = ("llama_time.py: %s %s T=%d: %d calls per model; median ms %s; "
                   "tiny layer %.4f, c = t(tiny L1) - tiny layer %.4f, "
                   "t(real L1) - c %.4f; MoE = t(real L1) - t(tiny L1): median "
                   "%.4f ms (paired; min %.4f, max %.4f)"
                   % (shape, dtype, T, len(t[keys[0]]),
                      ", ".join("%s L%d %.3f" % (k[0], k[1], med[k]) for k in keys),
                      np.median(tiny_layer), np.median(c),
                      np.median(t["real", 1] - c), np.median(moe), moe.min(),
                      moe.max()))
            if len(Ls) > 1:
                y = np.array([med["real", L] for L in Ls])
                b, a = np.polyfit(Ls, y, 1)
                resid = y - (a + b * np.array(Ls))
                diff = (t["real", Ls[-1]] - t["real", 1]) / (Ls[-1] - 1)
                msg += ("; fit t = %.4f + %.4f L ms, largest residual %.1f%% of "
                        "the slope; (t(L%d) - t(L1)) / %d median %.4f ms"
                        % (a, b, 100 * np.abs(resid).max() / b, Ls[-1],
                           Ls[-1] - 1, np.median(diff)))
            print(msg, file=sys.stderr)
            rest.append("T=%d %.3f ms (%.1f%%)" % (
                T, np.median(tiny_layer),
                100 * np.median(tiny_layer) / np.median(moe)))
            print("llama.cpp,%s,%s,%d,%.4f,%.4f,%.4f" % (
                shape, dtype, T, np.median(moe), moe.min(), moe.max()),
                flush=True)
    finally:
        lc.llama_batch_free(batch)
        for m in models.values():
            m.free()
    print("# llama.cpp: MoE time = t(real) - t(tiny), t(M) one llama_decode of "
          "T embeddings (KV cache cleared before, untimed; logits of every token) "
          "on a qwen3moe GGUF of make_llama_models.py: real = one MoE layer of the "
          "shape (router f32), 1 attention head of dim 32, RMS norms, 32 dummy "
          "tokens; tiny = the same but a next-to-free MoE (2 experts of width 1, "
          "k 1, f32); so one layer's weights in play, as for moec and ORT; calls "
          "of the two paired, median over the pairs")
    print("# %s: llama.cpp %s: the subtraction also removes the tiny MoE's "
          "fixed costs, at most a tiny layer (attention, norms, tiny MoE; "
          "%% of the MoE time): %s" % (dtype, shape, ", ".join(rest)))
    if shape == "olmoe":
        print("# llama.cpp: olmoe's shape runs in llama.cpp's qwen3moe graph "
              "(its olmoe graph has d x d attention projections), which "
              "renormalizes the top-k weights: a [k, T] sum and divide")


if __name__ == "__main__":
    args = sys.argv[1:]
    layers = ""
    if "--layers" in args:
        i = args.index("--layers")
        layers = args[i + 1]
        del args[i:i + 2]
    if len(args) != 6:
        sys.exit(__doc__)
    main(*args, layers=layers)
