#!/usr/bin/python3
"""Broken or unsupported GGUF models for gguf-errors.test, one per file in
OUT, each a small qwen3moe model (make_gguf.py's shape) with one thing wrong:

  ok.gguf                the unbroken model
  quantized.gguf         TQ1_0 experts (a quant type not read yet; H = I =
                         256 for whole blocks)
  quantized-router.gguf  a Q8_0 router (only the experts' projections may
                         be quantized; H = I = 32 for whole blocks)
  unknown-arch.gguf      general.architecture 'mamba'
  no-arch.gguf           no general.architecture
  missing-tensor.gguf    no blk.0.ffn_down_exps.weight
  wrong-shape.gguf       experts one row short of the expert width
  missing-key.gguf       no qwen3moe.embedding_length
  string-key.gguf        qwen3moe.expert_count is a string
  huge-experts.gguf      qwen3moe.expert_count = 2^40
  k-too-large.gguf       qwen3moe.expert_used_count 7 of 6 experts
  no-experts.gguf        qwen3moe.expert_count = 0 (a dense model)
  bad-gating.gguf        deepseek2 with expert_gating_func 3
  bad-groups.gguf        deepseek2 with 4 expert groups of 6 experts
  huge-width.gguf        qwen3moe.expert_feed_forward_length = 2^40
  truncated.gguf         ok.gguf cut short inside the tensor data
  version9.gguf          ok.gguf claiming GGUF version 9
  split-missing.gguf     a tensor per expert (blk.0.ffn_gate.E.weight, as
                         Mixtral's first GGUF files), the up projection of
                         expert 4 missing
  split-mixed.gguf       a tensor per expert, Q8_0 but expert 3's gate Q4_0
                         (H = I = 32)
  split-shape.gguf       a tensor per expert, expert 2's down one column
                         short
  bad-nextn.gguf         qwen3moe.nextn_predict_layers 1 of 1 block
  no-shared-width.gguf   qwen3next without expert_shared_feed_forward_length
                         or feed_forward_length (its shared expert's width)
  no-gating.gguf         dots1 without expert_gating_func (no default)
  no-step.gguf           ernie4_5-moe without interleave_moe_layer_step
  huge-shared.gguf       granitemoe.expert_shared_feed_forward_length = 2^40
  many-shared.gguf       bailingmoe2 with 40000 shared experts of width 1000
  huge-shared-width.gguf bailingmoe2.expert_shared_feed_forward_length = 2^40
  zero-step.gguf         ernie4_5-moe.interleave_moe_layer_step = 0
  negative-lead.gguf     lfm2moe.leading_dense_block_count = -1 (an int32)
  no-ffn-length.gguf     dbrx without feed_forward_length (its experts'
                         width; expert_feed_forward_length is not read)
  no-shared-count.gguf   deepseek without expert_shared_count
  many-shared-ling.gguf  bailingmoe with 2^21 shared experts of width 12
  no-step-llama4.gguf    llama4 without interleave_moe_layer_step
  zero-step-llama4.gguf  llama4.interleave_moe_layer_step = 0
  nemotron-no-ffn.gguf   nemotron_h_moe without feed_forward_length (which
                         blocks have an FFN)
  nemotron-ffn-array.gguf  nemotron_h_moe.feed_forward_length with 2
                         entries for 1 block
  nemotron-latent.gguf   nemotron_h_moe.moe_latent_size 8 (latent
                         projections around the experts)
  nemotron-latent-tensor.gguf  nemotron_h_moe with blk.0.ffn_latent_down
  nemotron-narrow.gguf   nemotron_h_moe without expert_feed_forward_length
                         and a feed_forward_length (1) below top-k (2):
                         experts 0 wide
"""
import os
import struct
import sys

import gguf
import numpy as np

H, E, I, K = 16, 6, 12, 2


def write(path, arch="qwen3moe", keys=None, drop=(), shapes=None, qtype=None,
          no_arch=False, H=H, I=I, quantize="exps", split=False, qtypes=None):
    """With split, a tensor per expert (ffn_gate.E.weight, ...) instead of
    the experts' stacked tensors; qtypes maps such a tensor's name to its
    own quantized type."""
    rng = np.random.default_rng(5)
    if no_arch:
        # The writer always writes general.architecture; write under a
        # placeholder key instead.
        writer = gguf.GGUFWriter(path, arch)
        writer.kv_data[0].pop("general.architecture")
    else:
        writer = gguf.GGUFWriter(path, arch)
    base = {"block_count": 1, "embedding_length": H, "expert_count": E,
            "expert_used_count": K, "expert_feed_forward_length": I}
    base.update(keys or {})
    for key, value in base.items():
        if key in drop:
            continue
        full = arch + "." + key
        if isinstance(value, str):
            writer.add_string(full, value)
        elif isinstance(value, list):
            writer.add_array(full, value)
        elif value >= 2**32:
            writer.add_uint64(full, value)
        elif value < 0:
            writer.add_int32(full, value)
        else:
            writer.add_uint32(full, value)
    tensors = {"ffn_gate_inp.weight": (E, H), "ffn_gate_exps.weight": (E, I, H),
               "ffn_up_exps.weight": (E, I, H), "ffn_down_exps.weight": (E, H, I)}
    if split:
        for proj in ("gate", "up", "down"):
            shape = tensors.pop("ffn_%s_exps.weight" % proj)[1:]
            for e in range(E):
                tensors["ffn_%s.%d.weight" % (proj, e)] = shape
    tensors.update(shapes or {})
    for name, shape in tensors.items():
        if name in drop:
            continue
        t = rng.standard_normal(shape).astype(np.float32)
        full = "blk.0." + name
        if name in (qtypes or {}):
            q = gguf.quants.quantize(t, qtypes[name])
            writer.add_tensor(full, q, raw_shape=q.shape, raw_dtype=qtypes[name])
        elif qtype is not None and quantize in name:
            q = gguf.quants.quantize(t, qtype)
            writer.add_tensor(full, q, raw_shape=q.shape, raw_dtype=qtype)
        else:
            writer.add_tensor(full, t)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main(out):
    os.makedirs(out, exist_ok=True)
    p = lambda n: os.path.join(out, n)
    write(p("ok.gguf"))
    # Rows of whole blocks (32 elements).
    write(p("quantized.gguf"), qtype=gguf.GGMLQuantizationType.TQ1_0, H=256,
          I=256)
    write(p("quantized-router.gguf"), qtype=gguf.GGMLQuantizationType.Q8_0,
          H=32, I=32, quantize="ffn_gate_inp")
    write(p("unknown-arch.gguf"), arch="mamba")
    write(p("no-arch.gguf"), no_arch=True)
    write(p("missing-tensor.gguf"), drop=("ffn_down_exps.weight",))
    write(p("wrong-shape.gguf"), shapes={"ffn_gate_exps.weight": (E, I - 1, H)})
    write(p("missing-key.gguf"), drop=("embedding_length",))
    write(p("string-key.gguf"), keys={"expert_count": "six"})
    write(p("huge-experts.gguf"), keys={"expert_count": 2**40})
    write(p("k-too-large.gguf"), keys={"expert_used_count": 7})
    write(p("no-experts.gguf"), keys={"expert_count": 0})
    write(p("bad-gating.gguf"), arch="deepseek2",
          keys={"expert_gating_func": 3, "expert_shared_count": 0})
    write(p("bad-groups.gguf"), arch="deepseek2",
          keys={"expert_gating_func": 2, "expert_shared_count": 0,
                "expert_group_count": 4, "expert_group_used_count": 2})
    write(p("huge-width.gguf"), keys={"expert_feed_forward_length": 2**40})
    write(p("split-missing.gguf"), split=True, drop=("ffn_up.4.weight",))
    q8 = {"ffn_%s.%d.weight" % (proj, e): gguf.GGMLQuantizationType.Q8_0
          for proj in ("gate", "up", "down") for e in range(E)}
    q8["ffn_gate.3.weight"] = gguf.GGMLQuantizationType.Q4_0
    write(p("split-mixed.gguf"), split=True, qtypes=q8, H=32, I=32)
    write(p("split-shape.gguf"), split=True, shapes={"ffn_down.2.weight": (H, I - 1)})
    write(p("bad-nextn.gguf"), keys={"nextn_predict_layers": 1})
    write(p("no-shared-width.gguf"), arch="qwen3next")
    write(p("no-gating.gguf"), arch="dots1", keys={"expert_shared_count": 0})
    write(p("no-step.gguf"), arch="ernie4_5-moe", keys={"leading_dense_block_count": 0})
    write(p("huge-shared.gguf"), arch="granitemoe",
          keys={"feed_forward_length": I,
                "expert_shared_feed_forward_length": 2**40})
    write(p("many-shared.gguf"), arch="bailingmoe2",
          keys={"expert_gating_func": 2, "expert_shared_count": 40000,
                "expert_shared_feed_forward_length": 1000})
    write(p("huge-shared-width.gguf"), arch="bailingmoe2",
          keys={"expert_gating_func": 2, "expert_shared_count": 1,
                "expert_shared_feed_forward_length": 2**40})
    write(p("zero-step.gguf"), arch="ernie4_5-moe",
          keys={"leading_dense_block_count": 0, "interleave_moe_layer_step": 0})
    write(p("negative-lead.gguf"), arch="lfm2moe",
          keys={"leading_dense_block_count": -1, "expert_gating_func": 2})
    write(p("no-ffn-length.gguf"), arch="dbrx")
    write(p("no-shared-count.gguf"), arch="deepseek",
          keys={"leading_dense_block_count": 0})
    write(p("many-shared-ling.gguf"), arch="bailingmoe",
          keys={"expert_shared_count": 2**21})
    write(p("no-step-llama4.gguf"), arch="llama4")
    write(p("zero-step-llama4.gguf"), arch="llama4",
          keys={"interleave_moe_layer_step": 0})
    write(p("nemotron-no-ffn.gguf"), arch="nemotron_h_moe")
    write(p("nemotron-ffn-array.gguf"), arch="nemotron_h_moe",
          keys={"feed_forward_length": [I, I]})
    write(p("nemotron-latent.gguf"), arch="nemotron_h_moe",
          keys={"feed_forward_length": [I], "moe_latent_size": 8})
    write(p("nemotron-latent-tensor.gguf"), arch="nemotron_h_moe",
          keys={"feed_forward_length": [I]},
          shapes={"ffn_latent_down.weight": (8, H)})
    write(p("nemotron-narrow.gguf"), arch="nemotron_h_moe",
          keys={"feed_forward_length": [1]},
          drop=("expert_feed_forward_length",))
    with open(p("ok.gguf"), "rb") as f:
        data = f.read()
    with open(p("truncated.gguf"), "wb") as f:
        f.write(data[:len(data) - 100])
    with open(p("version9.gguf"), "wb") as f:
        f.write(data[:4] + struct.pack("<I", 9) + data[8:])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
