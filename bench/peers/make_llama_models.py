"""GGUF models for the llama.cpp peer of bench/run.sh (llama_time.py): the
MoE layer of one of moe-bench's shapes, with its experts in one ggml
quantized type, repeated L times in a minimal model that llama.cpp loads.

  build/venv/bin/python make_llama_models.py OUTDIR SHAPE DTYPE L [L ...]
  build/venv/bin/python make_llama_models.py OUTDIR --tiny D L [L ...]

writes OUTDIR/SHAPE.DTYPE.L<L>.gguf for each L (kept when it exists: the
file is written under a temporary name and renamed when complete).

Every model is of llama.cpp's architecture qwen3moe, whatever the shape:
its MoE branch (build_moe_ffn: router matmul, softmax, top-k, weights
renormalized, mul_mat_id gate and up, SwiGLU, mul_mat_id down, weighted sum)
is the layer moe-bench times. olmoe's does not renormalize the top-k
weights (a [k, T] sum and divide, nothing next to the experts), and
llama.cpp's own olmoe graph has [d, d] attention projections (16.8M more
weights a layer at d 2048, a third of the MoE's active ones at T=1), so the
olmoe shape runs through the qwen3moe graph too. The rest of a layer is as
small as llama.cpp allows: one attention head (and one KV head) of
dimension 32 (q, k, v and output projections in Q5_0: 4 x 2048 x 32
weights, 180 kB a layer at d 2048; Q5_0 because ggml's AMX kernels take
2-D matmuls of Q4_0, Q4_1, Q8_0, F16 and K-quant weights and fault on
machines whose AMX is advertised but not usable, as on the VMs this was
written on, ldtilecfg raising SIGILL; no expert weight is affected: the
AMX kernels never run MUL_MAT_ID), RMS norms (attention, q, k, FFN) with
weights 1. No vocabulary (tokenizer "none", 32 dummy tokens: llama_time.py
feeds embeddings, and the logits of every token, [T, 32], cost next to
nothing), token embeddings f32 and tied output.

Experts: gate and up [E, f, d], down [E, d, f] (ggml's {d, f, E} and
{f, d, E}), random normal weights scaled by 1/sqrt(K) (K the row length),
quantized with the gguf package (ggml's reference quantizers) for Q8_0 and
Q4_0; for the K-quants and IQ4_XS, which the gguf package cannot
quantize, random blocks with f16 super-block scales that keep |w| below
about 2/sqrt(K).
The router [E, d] is f32 (as in moe-bench). Every layer holds the same
weights (one copy in memory while writing; llama.cpp reads each layer's
own bytes from the file).

--tiny D writes OUTDIR/tiny-dD.f32.L<L>.gguf: the same model at d = D
(2048 or 1024), with the same embeddings and attention weights (the same
draws), but a MoE that is next to free: 2 experts of width 1, k 1, f32.
llama_time.py subtracts its time from the real model's, which leaves the
MoE; its layer's time bounds what that subtraction removes besides the
attention (the tiny MoE's fixed costs).
"""
import os
import sys

import gguf
import numpy as np

# d, f, E, k: moe-bench's table (tools/moe-bench/moe-bench.cpp).
SHAPES = {"qwen3-30b-a3b": (2048, 768, 128, 8),
          "olmoe": (2048, 1024, 64, 8),
          "mixtral-small": (1024, 3584, 8, 2),
          "tiny-d2048": (2048, 1, 2, 1),
          "tiny-d1024": (1024, 1, 2, 1)}
QT = gguf.GGMLQuantizationType
DTYPES = {"f32": QT.F32, "q8_0": QT.Q8_0, "q4_0": QT.Q4_0, "q4_k": QT.Q4_K, "q6_k": QT.Q6_K,
          "q5_k": QT.Q5_K, "q3_k": QT.Q3_K, "q2_k": QT.Q2_K, "iq4_xs": QT.IQ4_XS}
# The types the gguf package cannot quantize: random blocks (kquant_blocks).
RANDOM_BLOCKS = (QT.Q4_K, QT.Q6_K, QT.Q5_K, QT.Q3_K, QT.Q2_K, QT.IQ4_XS)
HEAD_DIM = 32
VOCAB = 32


def f16_bytes(v):
    return np.ascontiguousarray(v.astype("<f2")).view(np.uint8).reshape(v.shape + (2,))


def kquant_blocks(rng, shape, qtype):
    """Random raw blocks (uint8 [..., K/256 * block bytes]) of a Q4_K,
    Q5_K, Q6_K, Q3_K, Q2_K or IQ4_XS weight of float shape [..., K]; |w| at
    most about 2/sqrt(K). Q4_K (144 bytes: f16 d, f16 dmin, 12 bytes of
    6-bit scales and mins, 128 bytes of 4-bit quants): w = d*sc*q - dmin*m;
    Q5_K (176 bytes) the same with 5-bit quants. Q6_K (210 bytes: 128
    ql, 64 qh, 16 int8 scales, f16 d): w = d*sc*(q-32). Q3_K (110 bytes:
    32 hmask, 64 qs, 12 scales, f16 d): w = d*(sc-32)*(q-4). Q2_K (84
    bytes: 16 scales and mins, 64 qs, f16 d, f16 dmin): w = d*sc*q -
    dmin*m. IQ4_XS (136 bytes: f16 d, 6 bytes of 6-bit scales, 128 bytes
    of codes): w = d*(ls-32)*v[q], |v| up to 127."""
    K = shape[-1]
    nb = K // 256
    assert nb * 256 == K
    amax = 2 / np.sqrt(K)
    size = gguf.GGML_QUANT_SIZES[qtype][1]
    lead = tuple(shape[:-1]) + (nb,)
    raw = rng.integers(0, 256, size=lead + (size,), dtype=np.uint8)
    if qtype in (QT.Q4_K, QT.Q5_K):
        top = 15 if qtype == QT.Q4_K else 31
        raw[..., 0:2] = f16_bytes(np.full(lead, amax / (63 * top), np.float32))
        # Mins an eighth of the scales: weights about centred.
        raw[..., 2:4] = f16_bytes(np.full(lead, amax / 63 / 8, np.float32))
    elif qtype == QT.Q3_K:
        raw[..., 108:110] = f16_bytes(np.full(lead, amax / (32 * 4), np.float32))
    elif qtype == QT.Q2_K:
        raw[..., 80:82] = f16_bytes(np.full(lead, amax / (15 * 3), np.float32))
        raw[..., 82:84] = f16_bytes(np.full(lead, amax / 15 / 8, np.float32))
    elif qtype == QT.IQ4_XS:
        raw[..., 0:2] = f16_bytes(np.full(lead, amax / (32 * 127), np.float32))
    elif qtype == QT.Q6_K:
        raw[..., 208:210] = f16_bytes(np.full(lead, amax / (128 * 32), np.float32))
    else:
        raise ValueError(qtype)
    return raw.reshape(tuple(shape[:-1]) + (nb * size,))


def expert_blocks(rng, shape, qtype):
    """The raw ggml blocks of a random [E, rows, K] expert weight."""
    if qtype == QT.F32:
        return (rng.standard_normal(shape) / np.sqrt(shape[-1])).astype(np.float32)
    if qtype in RANDOM_BLOCKS:
        return kquant_blocks(rng, shape, qtype)
    out = []
    for e in range(shape[0]):  # one expert at a time: bounded memory
        w = rng.standard_normal(shape[1:], dtype=np.float32)
        w *= np.float32(1 / np.sqrt(shape[-1]))
        out.append(gguf.quants.quantize(w, qtype))
    return np.stack(out)


def weights(shape, qtype):
    """The model's weights, the same for every L and layer (seed 11)."""
    d, f, E, k = SHAPES[shape]
    rng = np.random.default_rng(11)

    def q5(a):
        return gguf.quants.quantize(a.astype(np.float32), QT.Q5_0)

    print("make_llama_models.py: %s %s: quantizing experts" % (shape, qtype.name),
          file=sys.stderr)
    return dict(
        embd=rng.standard_normal((VOCAB, d), dtype=np.float32),
        attn_in=q5(rng.standard_normal((HEAD_DIM, d)) / np.sqrt(d)),
        attn_out=q5(rng.standard_normal((d, HEAD_DIM)) / np.sqrt(HEAD_DIM)),
        router=(rng.standard_normal((E, d)) / np.sqrt(d)).astype(np.float32),
        gate=expert_blocks(rng, (E, f, d), qtype),
        up=expert_blocks(rng, (E, f, d), qtype),
        down=expert_blocks(rng, (E, d, f), qtype))


def make(path, shape, qtype, layers, wt):
    d, f, E, k = SHAPES[shape]
    arch = "qwen3moe"
    tmp = path + ".tmp"
    w = gguf.GGUFWriter(tmp, arch)
    w.add_context_length(4096)
    w.add_embedding_length(d)
    w.add_block_count(layers)
    w.add_head_count(1)
    w.add_head_count_kv(1)
    w.add_key_length(HEAD_DIM)
    w.add_value_length(HEAD_DIM)
    w.add_rope_dimension_count(HEAD_DIM)
    w.add_rope_freq_base(1e6)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_expert_count(E)
    w.add_expert_used_count(k)
    w.add_expert_feed_forward_length(f)
    w.add_vocab_size(VOCAB)
    w.add_tokenizer_model("none")
    w.add_tensor("token_embd.weight", wt["embd"])
    ones_d = np.ones(d, np.float32)
    ones_h = np.ones(HEAD_DIM, np.float32)
    w.add_tensor("output_norm.weight", ones_d)
    for i in range(layers):
        b = "blk.%d." % i
        w.add_tensor(b + "attn_norm.weight", ones_d)
        for n in ("attn_q", "attn_k", "attn_v"):
            w.add_tensor(b + n + ".weight", wt["attn_in"], raw_dtype=QT.Q5_0)
        w.add_tensor(b + "attn_output.weight", wt["attn_out"], raw_dtype=QT.Q5_0)
        w.add_tensor(b + "attn_q_norm.weight", ones_h)
        w.add_tensor(b + "attn_k_norm.weight", ones_h)
        w.add_tensor(b + "ffn_norm.weight", ones_d)
        w.add_tensor(b + "ffn_gate_inp.weight", wt["router"])
        raw = None if qtype == QT.F32 else qtype
        w.add_tensor(b + "ffn_gate_exps.weight", wt["gate"], raw_dtype=raw)
        w.add_tensor(b + "ffn_up_exps.weight", wt["up"], raw_dtype=raw)
        w.add_tensor(b + "ffn_down_exps.weight", wt["down"], raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, path)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    out = argv[0]
    if argv[1] == "--tiny":
        shape, dtype, Ls = "tiny-d" + argv[2], "f32", argv[3:]
    else:
        if len(argv) < 4:
            sys.exit(__doc__)
        shape, dtype, Ls = argv[1], argv[2], argv[3:]
    if shape not in SHAPES:
        sys.exit("make_llama_models.py: error: unknown shape %s (%s)"
                 % (shape, ", ".join(s for s in SHAPES if "tiny" not in s)))
    if dtype not in DTYPES or (dtype == "f32") != ("tiny" in shape):
        sys.exit("make_llama_models.py: error: unknown dtype %s (%s)"
                 % (dtype, ", ".join(DTYPES)))
    os.makedirs(out, exist_ok=True)
    wt = None
    for L in Ls:
        path = os.path.join(out, "%s.%s.L%d.gguf" % (shape, dtype, int(L)))
        if os.path.exists(path):
            print("kept", path, file=sys.stderr)
            continue
        if wt is None:
            wt = weights(shape, DTYPES[dtype])
        make(path, shape, DTYPES[dtype], int(L), wt)
        print("wrote %s (%.0f MB)" % (path, os.path.getsize(path) / 1e6),
              file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
