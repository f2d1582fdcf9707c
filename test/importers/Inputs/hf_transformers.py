#!/usr/bin/env python3
"""transformers as the oracle for every supported Hugging Face MoE family.

  hf_transformers.py make OUT
      Builds tiny random models with transformers' own config and model
      classes (fixed seeds), writes each as a checkpoint OUT/<case>/ (with
      save_pretrained, or in another layout or dtype, see CASES), loads it
      back with from_pretrained as a user would, and runs every MoE block
      (model.model.layers[i].mlp) on a fixed random input x [2, 5, H]: in
      float64 (model.double()) from the loaded weights, and for checkpoints
      declaring bf16 also as transformers runs them, in bf16. Writes
      OUT/<case>/x.npy, OUT/<case>/expected.layer_N.npy (float64),
      OUT/<case>/expected_native.layer_N.npy (the bf16 run), the layer's
      operands for moe-reference (OUT/<case>/ref.layer_N/*.npy and
      config.json, taken from the loaded model's modules, not from the
      files), and OUT/cases.json. It checks that routing has no near-ties,
      that the outputs are non-trivial, and that gpt-oss's SwiGLU limit
      clamps.
  hf_transformers.py check --moe-compile C --moe-run R --moe-reference F --dir OUT
      Compiles every checkpoint with moe-compile (-v), runs each MoE layer
      with moe-run (also with --verify), and moe-reference on the operands,
      and compares both with transformers (relative L2). Prints one line per
      layer and "all N layers of M checkpoints within tolerance".
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

F32_TOL = 1e-5      # f32 checkpoints (and bf16 stored, f32 declared)
BF16_TOL = 1e-2     # bf16 hidden states and output
NATIVE_TOL = 2e-2   # against transformers' own bf16 arithmetic
# moe-reference (float64) against transformers in float64, which still
# computes the routing scores in f32 (softmax(..., dtype=float), DeepSeek's
# router in f32), so the routing weights carry f32 rounding.
REF_TOL = 1e-6
MARGIN = 1e-3       # least gap between the k-th and (k+1)-th routing scores
MARGIN_BF16 = 2e-2  # the same where routing runs on bf16 weights

# name, family, config overrides, how it is written.
#   save: "pretrained" (save_pretrained), "mxfp4" (save_pretrained, then the
#   experts rewritten in MXFP4, to_mxfp4), "fp8" (save_pretrained, then the
#   experts and shared experts rewritten in FP8 with 128 x 128 block scales,
#   to_fp8), "fused" (the in-memory state dict,
#   transformers v5's fused experts, written with safetensors), "bf16"
#   (save_pretrained of the bf16 model);
#   declare: rewrite config.json's dtype (the checkpoint keeps its tensors).
CASES = [
    # Stored in bf16 (save_pretrained of the bf16 model), declared float32,
    # and sharded.
    ("mixtral", "mixtral", dict(num_hidden_layers=1, hidden_size=24,
     intermediate_size=20, num_local_experts=8, num_experts_per_tok=2),
     dict(save="bf16", declare="float32", shard="4KB")),
    ("mixtral_fused", "mixtral", None, dict(save="fused", like="mixtral")),
    ("qwen2_moe", "qwen2_moe", dict(num_hidden_layers=2, hidden_size=16,
     intermediate_size=40, moe_intermediate_size=12,
     shared_expert_intermediate_size=20, num_experts=6, num_experts_per_tok=2,
     norm_topk_prob=False, decoder_sparse_step=1, mlp_only_layers=[0]),
     dict(save="pretrained")),
    # Stored in f32, declared bfloat16.
    ("qwen2_moe_f32_as_bf16", "qwen2_moe", dict(num_hidden_layers=1,
     hidden_size=32, intermediate_size=40, moe_intermediate_size=16,
     shared_expert_intermediate_size=24, num_experts=8, num_experts_per_tok=2,
     norm_topk_prob=True), dict(save="pretrained", declare="bfloat16")),
    ("qwen3_moe", "qwen3_moe", dict(num_hidden_layers=2, hidden_size=20,
     intermediate_size=48, moe_intermediate_size=10, num_experts=16,
     num_experts_per_tok=4, norm_topk_prob=True, decoder_sparse_step=2),
     dict(save="pretrained")),
    ("olmoe", "olmoe", dict(num_hidden_layers=1, hidden_size=16,
     intermediate_size=8, num_experts=32, num_experts_per_tok=8),
     dict(save="pretrained")),
    # moe_layer_freq is not read by transformers: layer 1 is MoE.
    ("deepseek_v2", "deepseek_v2", dict(num_hidden_layers=2, hidden_size=16,
     intermediate_size=32, moe_intermediate_size=8, n_routed_experts=16,
     n_shared_experts=2, num_experts_per_tok=3, first_k_dense_replace=1,
     topk_method="group_limited_greedy", n_group=4, topk_group=2,
     routed_scaling_factor=3.0, norm_topk_prob=False, moe_layer_freq=2),
     dict(save="pretrained")),
    ("deepseek_v3", "deepseek_v3", dict(num_hidden_layers=2, hidden_size=16,
     intermediate_size=32, moe_intermediate_size=8, n_routed_experts=16,
     n_shared_experts=1, num_experts_per_tok=4, first_k_dense_replace=1,
     n_group=4, topk_group=2, routed_scaling_factor=1.7, norm_topk_prob=True),
     dict(save="pretrained")),
    # bf16, with the router and correction bias transformers keeps in f32.
    ("deepseek_v3_bf16", "deepseek_v3", dict(num_hidden_layers=2,
     hidden_size=32, intermediate_size=32, moe_intermediate_size=16,
     n_routed_experts=8, n_shared_experts=1, num_experts_per_tok=2,
     first_k_dense_replace=1, n_group=2, topk_group=1,
     routed_scaling_factor=2.5, norm_topk_prob=False), dict(save="bf16")),
    ("gpt_oss", "gpt_oss", dict(num_hidden_layers=1, hidden_size=18,
     intermediate_size=10, num_local_experts=8, num_experts_per_tok=4),
     dict(save="pretrained")),
    # Experts in MXFP4 as the published gpt-oss checkpoints store them
    # (*_blocks, *_scales, quantization_config mxfp4), random codes and
    # scales; transformers dequantizes them on load (Mxfp4Config(
    # dequantize=True)). In f32, and as released: bf16 declared and stored.
    ("gpt_oss_mxfp4", "gpt_oss", dict(num_hidden_layers=1, hidden_size=64,
     intermediate_size=32, num_local_experts=8, num_experts_per_tok=4),
     dict(save="mxfp4")),
    ("gpt_oss_mxfp4_bf16", "gpt_oss", dict(num_hidden_layers=1,
     hidden_size=96, intermediate_size=64, num_local_experts=16,
     num_experts_per_tok=4), dict(save="mxfp4", declare="bfloat16")),
    # Experts and shared experts in FP8 (F8_E4M3, weight_scale_inv per 128 x
    # 128 block, quantization_config fp8), as DeepSeek-V3 and the Qwen3 FP8
    # checkpoints hold them; transformers dequantizes them on load
    # (FineGrainedFP8Config(dequantize=True)). DeepSeek-V3 in f32, with
    # 256-row projections (two row blocks of scales); Qwen3-MoE as
    # released: bf16 declared and stored, 384-wide experts.
    ("deepseek_v3_fp8", "deepseek_v3", dict(num_hidden_layers=2,
     hidden_size=256, intermediate_size=256, moe_intermediate_size=128,
     n_routed_experts=8, n_shared_experts=1, num_experts_per_tok=2,
     first_k_dense_replace=1, n_group=2, topk_group=1,
     routed_scaling_factor=2.5, norm_topk_prob=True), dict(save="fp8")),
    ("qwen3_moe_fp8_bf16", "qwen3_moe", dict(num_hidden_layers=1,
     hidden_size=128, intermediate_size=256, moe_intermediate_size=384,
     num_experts=8, num_experts_per_tok=2, norm_topk_prob=True),
     dict(save="fp8", declare="bfloat16")),
    # The families routed as DeepSeek-V3 (sigmoid, correction bias, top-2
    # sum groups, shared experts added), each with its own keys.
    ("glm4_moe", "glm4_moe", dict(num_hidden_layers=2, hidden_size=16,
     intermediate_size=32, moe_intermediate_size=8, n_routed_experts=8,
     n_shared_experts=1, num_experts_per_tok=2, first_k_dense_replace=1,
     n_group=2, topk_group=1, routed_scaling_factor=1.5,
     norm_topk_prob=True), dict(save="pretrained")),
    # mlp_layer_types by default: the first layer dense.
    ("glm4_moe_lite", "glm4_moe_lite", dict(num_hidden_layers=2,
     hidden_size=16, intermediate_size=32, moe_intermediate_size=8,
     n_routed_experts=8, n_shared_experts=2, num_experts_per_tok=3,
     norm_topk_prob=False), dict(save="pretrained")),
    ("deepseek_v32", "deepseek_v32", dict(num_hidden_layers=3, hidden_size=16,
     intermediate_size=32, moe_intermediate_size=8, n_routed_experts=8,
     n_shared_experts=1, num_experts_per_tok=2, n_group=2, topk_group=1,
     mlp_layer_types=["sparse", "dense", "sparse"],
     routed_scaling_factor=2.5, norm_topk_prob=True), dict(save="pretrained")),
    # bf16, with the router and correction bias transformers keeps in f32.
    ("dots1_bf16", "dots1", dict(num_hidden_layers=2, hidden_size=32,
     intermediate_size=32, moe_intermediate_size=16, n_routed_experts=8,
     n_shared_experts=1, num_experts_per_tok=2, first_k_dense_replace=1),
     dict(save="bf16")),
    # The correction bias stored as mlp.e_score_correction_bias.
    ("exaone_moe", "exaone_moe", dict(num_hidden_layers=2, hidden_size=16,
     intermediate_size=32, moe_intermediate_size=8, num_experts=8,
     num_shared_experts=1, num_experts_per_tok=2, first_k_dense_replace=1,
     routed_scaling_factor=2.0), dict(save="pretrained")),
    # Softmax with a correction bias for selection ([1, E], under
    # mlp.moe_statics), MoE layers from moe_layer_start_index.
    ("ernie4_5_moe", "ernie4_5_moe", dict(num_hidden_layers=2, hidden_size=16,
     intermediate_size=32, moe_intermediate_size=8, moe_num_experts=8,
     moe_k=2, moe_num_shared_experts=1, moe_layer_start_index=1),
     dict(save="pretrained")),
    # A top-k per layer; the router held in f32; shared_mlp added.
    ("hunyuan_v1_moe", "hunyuan_v1_moe", dict(num_hidden_layers=2,
     hidden_size=16, intermediate_size=12, num_experts=8, moe_topk=[2, 3]),
     dict(save="pretrained")),
    # Fused input_linear/output_linear experts, softmax over the top-k
    # logits; bf16 declared, f32 stored.
    ("granitemoe", "granitemoe", dict(num_hidden_layers=1, hidden_size=32,
     intermediate_size=16, num_local_experts=8, num_experts_per_tok=2),
     dict(save="pretrained", declare="bfloat16")),
    # Phi-3.5-MoE's sparsemixer: a wide masking distance, so that several
    # experts share each slot's softmax; the in-memory layout (mlp.router,
    # fused experts); and bf16 at the released 0.01.
    ("phimoe", "phimoe", dict(num_hidden_layers=1, hidden_size=16,
     intermediate_size=12, num_local_experts=8, num_experts_per_tok=2,
     router_jitter_noise=0.2), dict(save="pretrained")),
    ("phimoe_fused", "phimoe", None, dict(save="fused", like="phimoe")),
    ("phimoe_bf16", "phimoe", dict(num_hidden_layers=2, hidden_size=32,
     intermediate_size=16, num_local_experts=8, num_experts_per_tok=2),
     dict(save="bf16")),
    ("minimax_m2", "minimax_m2", dict(num_hidden_layers=1, hidden_size=16,
     intermediate_size=12, num_local_experts=8, num_experts_per_tok=3),
     dict(save="pretrained")),
    ("flex_olmo", "flex_olmo", dict(num_hidden_layers=1, hidden_size=16,
     intermediate_size=8, num_experts=8, num_experts_per_tok=2,
     norm_topk_prob=True), dict(save="pretrained")),
    ("qwen3_next", "qwen3_next", dict(num_hidden_layers=2, hidden_size=16,
     intermediate_size=24, moe_intermediate_size=8,
     shared_expert_intermediate_size=12, num_experts=8,
     num_experts_per_tok=2, mlp_only_layers=[0]), dict(save="pretrained")),
    # Vision-language models: the text model's layers under
    # model.language_model., its keys in text_config.
    # FP8 as released: MiniMax-M2 (w1/w3/w2 under block_sparse_moe) in
    # bf16, GLM-4.5 (experts and shared experts) in f32.
    ("minimax_m2_fp8_bf16", "minimax_m2", dict(num_hidden_layers=1,
     hidden_size=128, intermediate_size=256, num_local_experts=8,
     num_experts_per_tok=2), dict(save="fp8", declare="bfloat16")),
    ("glm4_moe_fp8", "glm4_moe", dict(num_hidden_layers=2, hidden_size=128,
     intermediate_size=256, moe_intermediate_size=128, n_routed_experts=8,
     n_shared_experts=1, num_experts_per_tok=2, first_k_dense_replace=1,
     routed_scaling_factor=2.5), dict(save="fp8")),
    # LFM2-MoE: a dense lead layer, sigmoid scores with expert_bias for
    # selection, renormalized with 1e-6 added to the sum, scaled.
    ("lfm2_moe", "lfm2_moe", dict(num_hidden_layers=3, hidden_size=16,
     intermediate_size=32, moe_intermediate_size=8, num_experts=8,
     num_experts_per_tok=3, num_dense_layers=1, routed_scaling_factor=1.5,
     layer_types=["conv", "full_attention", "conv"]),
     dict(save="pretrained")),
    ("qwen3_5_moe", "qwen3_5_moe", dict(num_hidden_layers=1, hidden_size=16,
     moe_intermediate_size=8, shared_expert_intermediate_size=12,
     num_experts=8, num_experts_per_tok=2), dict(save="pretrained")),
    ("qwen3_5_moe_fused", "qwen3_5_moe", None,
     dict(save="fused", like="qwen3_5_moe")),
    # As released: the fused experts transposed, [E, H, 2I] and [E, I, H].
    ("qwen3_vl_moe", "qwen3_vl_moe", dict(num_hidden_layers=2,
     hidden_size=24, intermediate_size=32, moe_intermediate_size=8,
     num_experts=8, num_experts_per_tok=2, decoder_sparse_step=2),
     dict(save="pretrained", transpose_experts=True)),
    # Jamba: MoE on the odd layers of Mamba and attention ones, under
    # feed_forward.; as released and in the in-memory layout.
    ("jamba", "jamba", dict(num_hidden_layers=4, hidden_size=16,
     intermediate_size=12, num_experts=8, num_experts_per_tok=2,
     attn_layer_period=2, attn_layer_offset=0, use_mamba_kernels=False,
     mamba_d_state=4, mamba_dt_rank=4), dict(save="pretrained")),
    ("jamba_fused", "jamba", None, dict(save="fused", like="jamba")),
    # MiniMax-Text-01: Mixtral's block among lightning and softmax
    # attention layers; bf16.
    ("minimax", "minimax", dict(num_hidden_layers=2, hidden_size=32,
     intermediate_size=16, num_local_experts=8, num_experts_per_tok=2,
     layer_types=["linear_attention", "full_attention"]),
     dict(save="bf16")),
    # The families routed as DeepSeek-V3 since: GLM-5 (glm_moe_dsa, DSA
    # attention), GLM-4.5V's text model (glm4v_moe, under
    # model.language_model.), MiMo-V2-Flash (no shared experts), Kimi
    # Linear (saved under block_sparse_moe. with w1/w3/w2, its own keys);
    # and Mistral 4 (softmax scores with top-2-sum groups, experts fused on
    # disk).
    ("glm_moe_dsa", "glm_moe_dsa", dict(num_hidden_layers=2, hidden_size=16,
     intermediate_size=32, moe_intermediate_size=8, num_key_value_heads=2,
     n_routed_experts=8, num_experts_per_tok=2, first_k_dense_replace=1,
     n_group=4, topk_group=2, routed_scaling_factor=1.5, kv_lora_rank=8,
     q_lora_rank=8, qk_rope_head_dim=4, qk_nope_head_dim=4, v_head_dim=4,
     index_topk=4, index_head_dim=8, index_n_heads=2),
     dict(save="pretrained")),
    ("glm4v_moe", "glm4v_moe", dict(num_hidden_layers=2, hidden_size=32,
     intermediate_size=32, moe_intermediate_size=8, n_routed_experts=8,
     num_experts_per_tok=2, first_k_dense_replace=1, rope_parameters=dict(
         rope_type="default", rope_theta=10000.0, partial_rotary_factor=0.5,
         mrope_section=[2, 1, 1])), dict(save="pretrained")),
    ("mimo_v2_flash", "mimo_v2_flash", dict(num_hidden_layers=2,
     hidden_size=16, intermediate_size=32, moe_intermediate_size=8,
     head_dim=8, v_head_dim=8, n_routed_experts=8, num_experts_per_tok=2,
     sliding_window=4), dict(save="pretrained")),
    ("kimi_linear", "kimi_linear", dict(num_hidden_layers=2, hidden_size=16,
     intermediate_size=32, moe_intermediate_size=8, num_key_value_heads=2,
     num_experts=8, num_experts_per_token=2, kv_lora_rank=8,
     qk_rope_head_dim=4, qk_nope_head_dim=4, v_head_dim=4, linear_head_dim=8,
     linear_num_heads=2, pad_token_id=0, bos_token_id=1, eos_token_id=2,
     layer_types=["linear_attention", "full_attention"],
     mlp_layer_types=["dense", "sparse"]), dict(save="pretrained")),
    ("mistral4", "mistral4", dict(num_hidden_layers=2, hidden_size=16,
     intermediate_size=32, moe_intermediate_size=8, num_key_value_heads=2,
     n_routed_experts=8, num_experts_per_tok=2, first_k_dense_replace=1,
     n_group=4, topk_group=2, routed_scaling_factor=1.5, kv_lora_rank=8,
     q_lora_rank=8, qk_rope_head_dim=4, qk_nope_head_dim=4, v_head_dim=4,
     pad_token_id=0), dict(save="pretrained")),
    # Solar Open (routed as DeepSeek-V3, every layer MoE) and Mellum
    # (Qwen3-MoE's block on the sparse entries of mlp_layer_types).
    ("solar_open", "solar_open", dict(num_hidden_layers=1, hidden_size=16,
     moe_intermediate_size=8, n_routed_experts=8, num_experts_per_tok=2,
     head_dim=8), dict(save="pretrained")),
    ("mellum", "mellum", dict(num_hidden_layers=2, hidden_size=16,
     intermediate_size=32, moe_intermediate_size=8, num_experts=8,
     num_experts_per_tok=2, head_dim=8, mlp_layer_types=["dense", "sparse"]),
     dict(save="pretrained")),
    # Sigmoid scores with a selection bias, renormalized and scaled, and
    # shared experts: AFMoE (Trinity; router.gate, expert_bias, a dense
    # lead layer) and Hunyuan 3 (saved as router.gate, expert_bias,
    # shared_mlp).
    ("afmoe", "afmoe", dict(num_hidden_layers=2, hidden_size=16,
     intermediate_size=32, moe_intermediate_size=8, num_dense_layers=1,
     num_experts=8, num_experts_per_tok=2, num_shared_experts=1,
     route_scale=1.5, head_dim=8), dict(save="pretrained")),
    ("hy_v3", "hy_v3", dict(num_hidden_layers=2, hidden_size=16,
     intermediate_size=32, moe_intermediate_size=8, num_experts=8,
     num_experts_per_tok=2, num_shared_experts=1, head_dim=8),
     dict(save="pretrained")),
    # Llama-4's text model: the routing weight scales the experts' input;
    # the experts fused as used in x @ W ([E, H, 2I], [E, I, H]); a shared
    # expert. MoE on every second layer (interleave_moe_layer_step) with
    # k = 1 as released, and on the layers of moe_layers with k = 2, bf16.
    ("llama4", "llama4_text", dict(num_hidden_layers=4, hidden_size=16,
     intermediate_size=12, intermediate_size_mlp=24, num_local_experts=8,
     num_experts_per_tok=1, interleave_moe_layer_step=2, head_dim=8),
     dict(save="pretrained")),
    ("llama4_k2_bf16", "llama4_text", dict(num_hidden_layers=3,
     hidden_size=32, intermediate_size=16, intermediate_size_mlp=24,
     num_local_experts=8, num_experts_per_tok=2, moe_layers=[0, 2],
     head_dim=8), dict(save="bf16")),
    # DBRX: its MoE settings in ffn_config, blocks under transformer.blocks.
    # with ffn.; the experts stored [E·F, H] (w2 used as h @ w2);
    # renormalized by moe_normalize_expert_weights 1, or not (null, bf16).
    ("dbrx", "dbrx", dict(n_layers=2, d_model=16, n_heads=2, max_seq_len=64,
     attn_config=dict(kv_n_heads=1, rope_theta=10000.0), ffn_config=dict(
         ffn_hidden_size=12, moe_num_experts=8, moe_top_k=2)),
     dict(save="pretrained")),
    ("dbrx_unnormalized_bf16", "dbrx", dict(n_layers=1, d_model=32, n_heads=2,
     max_seq_len=64, attn_config=dict(kv_n_heads=1, rope_theta=10000.0), ffn_config=dict(
         ffn_hidden_size=16, moe_num_experts=4, moe_top_k=2,
         moe_normalize_expert_weights=None)), dict(save="bf16")),
    # Nemotron-H: squared-ReLU experts without a gate and a shared expert of
    # the same kind, routed as DeepSeek-V3, under backbone.layers.N.mixer.
    # with per-expert tensors (as save_pretrained writes them); the MoE
    # layers named by layers_block_type among dense MLP and attention
    # layers; bf16; and in transformers' in-memory names (fused experts).
    ("nemotron_h", "nemotron_h", dict(layers_block_type=[
        "moe", "mlp", "full_attention", "moe"], hidden_size=16,
        intermediate_size=24, n_routed_experts=8, num_experts_per_tok=2,
        moe_intermediate_size=8, moe_shared_expert_intermediate_size=12,
        n_group=2, topk_group=1, routed_scaling_factor=2.5, head_dim=8),
     dict(save="pretrained")),
    ("nemotron_h_bf16", "nemotron_h", dict(layers_block_type=[
        "full_attention", "moe"], hidden_size=32, intermediate_size=24,
        n_routed_experts=16, num_experts_per_tok=4, moe_intermediate_size=16,
        moe_shared_expert_intermediate_size=24, n_group=1, topk_group=1,
        routed_scaling_factor=1.5, head_dim=8), dict(save="bf16")),
    ("nemotron_h_fused", "nemotron_h", None,
     dict(save="fused", like="nemotron_h")),
    # GraniteMoeShared and Granite 4.0 (granitemoehybrid, a Mamba-2 and an
    # attention layer): the shared MLP beside the block, its gate and up one
    # [2S, H] tensor; the hybrid in bf16.
    ("granitemoeshared", "granitemoeshared", dict(num_hidden_layers=2,
     hidden_size=16, intermediate_size=12, num_local_experts=8,
     num_experts_per_tok=2, shared_intermediate_size=20),
     dict(save="pretrained")),
    ("granitemoehybrid_bf16", "granitemoehybrid", dict(num_hidden_layers=2,
     hidden_size=32, intermediate_size=16, num_local_experts=8,
     num_experts_per_tok=2, shared_intermediate_size=24,
     layer_types=["linear_attention", "full_attention"], mamba_n_heads=4,
     mamba_d_head=16, mamba_d_state=8, mamba_chunk_size=8),
     dict(save="bf16")),
    # Granite in transformers' in-memory names (router, experts.*_proj).
    ("granitemoe_fused", "granitemoe", None,
     dict(save="fused", like="granitemoe")),
    # (Last: the inputs x come from one generator, in case order.)
    # Kimi K2.5: a vision-language model around DeepSeek-V3's text model
    # (text_config), saved under the release's language_model.model.
    ("kimi_k25", "kimi_k25", dict(num_hidden_layers=2, hidden_size=16,
     intermediate_size=32, moe_intermediate_size=8, n_routed_experts=16,
     n_shared_experts=1, num_experts_per_tok=4, first_k_dense_replace=1,
     n_group=4, topk_group=2, routed_scaling_factor=2.827,
     norm_topk_prob=True), dict(save="released", rename=(
         "model.language_model.", "language_model.model."))),
]

# The families routed as DeepSeek-V3.
V3_LIKE = ("deepseek_v3", "deepseek_v32", "glm4_moe", "glm4_moe_lite", "dots1",
           "exaone_moe", "glm_moe_dsa", "glm4v_moe", "mimo_v2_flash",
           "kimi_linear", "solar_open", "nemotron_h", "kimi_k25")
# Vision-language models, their text model in text_config.
COMPOSITE = ("qwen3_5_moe", "qwen3_vl_moe", "glm4v_moe", "kimi_k25")


def relative_l2(got, want):
    return float(np.linalg.norm(got - want) / np.linalg.norm(want))


# --------------------------------------------------------------------- make

def make(out):
    import torch
    import transformers as T
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    T.logging.set_verbosity_error()
    T.logging.disable_progress_bar()
    classes = {
        "mixtral": (T.MixtralConfig, T.MixtralForCausalLM),
        "qwen2_moe": (T.Qwen2MoeConfig, T.Qwen2MoeForCausalLM),
        "qwen3_moe": (T.Qwen3MoeConfig, T.Qwen3MoeForCausalLM),
        "olmoe": (T.OlmoeConfig, T.OlmoeForCausalLM),
        "deepseek_v2": (T.DeepseekV2Config, T.DeepseekV2ForCausalLM),
        "deepseek_v3": (T.DeepseekV3Config, T.DeepseekV3ForCausalLM),
        "gpt_oss": (T.GptOssConfig, T.GptOssForCausalLM),
        "glm4_moe": (T.Glm4MoeConfig, T.Glm4MoeForCausalLM),
        "glm4_moe_lite": (T.Glm4MoeLiteConfig, T.Glm4MoeLiteForCausalLM),
        "deepseek_v32": (T.DeepseekV32Config, T.DeepseekV32ForCausalLM),
        "dots1": (T.Dots1Config, T.Dots1ForCausalLM),
        "exaone_moe": (T.ExaoneMoeConfig, T.ExaoneMoeForCausalLM),
        "ernie4_5_moe": (T.Ernie4_5_MoeConfig, T.Ernie4_5_MoeForCausalLM),
        "hunyuan_v1_moe": (T.HunYuanMoEV1Config, T.HunYuanMoEV1ForCausalLM),
        "granitemoe": (T.GraniteMoeConfig, T.GraniteMoeForCausalLM),
        "granitemoeshared": (T.GraniteMoeSharedConfig,
                             T.GraniteMoeSharedForCausalLM),
        "granitemoehybrid": (T.GraniteMoeHybridConfig,
                             T.GraniteMoeHybridForCausalLM),
        "phimoe": (T.PhimoeConfig, T.PhimoeForCausalLM),
        "jamba": (T.JambaConfig, T.JambaForCausalLM),
        "minimax": (T.MiniMaxConfig, T.MiniMaxForCausalLM),
        "glm_moe_dsa": (T.GlmMoeDsaConfig, T.GlmMoeDsaForCausalLM),
        "glm4v_moe": (T.Glm4vMoeConfig, T.Glm4vMoeForConditionalGeneration),
        "kimi_k25": (T.Kimi_K25Config, T.Kimi_K25ForConditionalGeneration),
        "mimo_v2_flash": (T.MiMoV2FlashConfig, T.MiMoV2FlashForCausalLM),
        "kimi_linear": (T.KimiLinearConfig, T.KimiLinearForCausalLM),
        "mistral4": (T.Mistral4Config, T.Mistral4ForCausalLM),
        "llama4_text": (T.Llama4TextConfig, T.Llama4ForCausalLM),
        "dbrx": (T.DbrxConfig, T.DbrxForCausalLM),
        "nemotron_h": (T.NemotronHConfig, T.NemotronHForCausalLM),
        "solar_open": (T.SolarOpenConfig, T.SolarOpenForCausalLM),
        "mellum": (T.MellumConfig, T.MellumForCausalLM),
        "afmoe": (T.AfmoeConfig, T.AfmoeForCausalLM),
        "hy_v3": (T.HYV3Config, T.HYV3ForCausalLM),
        "minimax_m2": (T.MiniMaxM2Config, T.MiniMaxM2ForCausalLM),
        "flex_olmo": (T.FlexOlmoConfig, T.FlexOlmoForCausalLM),
        "qwen3_next": (T.Qwen3NextConfig, T.Qwen3NextForCausalLM),
        "lfm2_moe": (T.Lfm2MoeConfig, T.Lfm2MoeForCausalLM),
        "qwen3_5_moe": (T.Qwen3_5MoeConfig,
                        T.Qwen3_5MoeForConditionalGeneration),
        "qwen3_vl_moe": (T.Qwen3VLMoeConfig,
                         T.Qwen3VLMoeForConditionalGeneration),
    }
    # Attention and vocabulary as small as the classes allow.
    common = dict(vocab_size=16, num_attention_heads=2, num_key_value_heads=1,
                  max_position_embeddings=64, bos_token_id=0, eos_token_id=1,
                  pad_token_id=None)
    mla = dict(num_key_value_heads=2, kv_lora_rank=4, q_lora_rank=None,
               qk_rope_head_dim=4, qk_nope_head_dim=4, v_head_dim=4)
    # MLA with as many KV heads as query heads, and a query LoRA.
    mha = dict(mla, num_key_value_heads=2, q_lora_rank=8)
    linear = dict(head_dim=8, linear_key_head_dim=8, linear_value_head_dim=8,
                  linear_num_key_heads=2, linear_num_value_heads=4)
    heads = dict(qwen3_moe=dict(head_dim=8), gpt_oss=dict(head_dim=8),
                 deepseek_v2=mla, deepseek_v3=mla, kimi_k25=mla,
                 glm4_moe=dict(head_dim=8),
                 glm4_moe_lite=mha,
                 deepseek_v32=dict(mha, index_topk=4, index_head_dim=8,
                                   index_n_heads=2),
                 exaone_moe=dict(head_dim=8), hunyuan_v1_moe=dict(head_dim=8),
                 minimax_m2=dict(head_dim=8), minimax=dict(head_dim=8),
                 qwen3_next=linear,
                 qwen3_5_moe=linear,
                 qwen3_vl_moe=dict(head_dim=16, rope_parameters=dict(
                     rope_type="default", rope_theta=10000.0,
                     mrope_section=[2, 3, 3], mrope_interleaved=True)))
    vision = dict(
        kimi_k25=dict(num_hidden_layers=1, hidden_size=16,
                      intermediate_size=16, num_attention_heads=2,
                      patch_size=2, pos_emb_height=4, pos_emb_width=4),
        glm4v_moe=dict(depth=1, hidden_size=16, num_heads=2,
                       intermediate_size=16, patch_size=2, image_size=4,
                       temporal_patch_size=2),
        qwen3_5_moe=dict(depth=1, hidden_size=16, intermediate_size=16,
                         num_heads=2, num_position_embeddings=16,
                         patch_size=4),
        qwen3_vl_moe=dict(depth=1, hidden_size=16, intermediate_size=16,
                          num_heads=2, num_position_embeddings=16,
                          patch_size=4, deepstack_visual_indexes=[0]))

    def build(family, overrides, seed):
        C, M = classes[family]
        kw = dict(common)
        kw.update(heads.get(family, {}))
        kw.update(overrides)
        if family == "kimi_k25":
            cfg = C(text_config=dict(kw, model_type="deepseek_v3"),
                    vision_config=vision[family], projection_hidden_size=16)
        elif family in COMPOSITE:
            cfg = C(text_config=kw, vision_config=dict(
                vision[family], out_hidden_size=kw["hidden_size"]))
        else:
            cfg = C(**kw)
        torch.manual_seed(seed)
        model = M(cfg).eval()
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, p in model.named_parameters():
                fan_in = p.shape[-1] if p.dim() > 1 else 1
                std = fan_in ** -0.5
                if family == "gpt_oss" and "experts." in name:
                    # [E, in, out] and biases: large enough that the SwiGLU
                    # limit (7) clamps a good share of the activations.
                    std = 2.0 if p.dim() == 2 else 5.0 * p.shape[-2] ** -0.5
                if "router" in name or name.endswith(
                        ("mlp.gate.weight", "gate.wg.weight",
                         "feed_forward.gate.weight", "mixer.gate.weight")):
                    std = 3.0 * std   # clear routing decisions
                if name.endswith("e_score_correction_bias"):
                    # ERNIE's, a parameter [1, E]: on the probabilities.
                    p.copy_(torch.randn(p.shape, generator=g) * 0.05)
                    continue
                if "norm" in name and p.dim() == 1:
                    p.fill_(1.0)
                    continue
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64)
                        .to(p.dtype) * std)
            for name, b in model.named_buffers():
                if name.endswith(("e_score_correction_bias", "expert_bias")):
                    b.copy_(torch.randn(b.shape, generator=g) * 0.15)
        return model

    rng = np.random.default_rng(2026)
    index, made = [], {}
    for case, family, overrides, how in CASES:
        d = os.path.join(out, case)
        os.makedirs(d, exist_ok=True)
        bf16 = how["save"] == "bf16" or how.get("declare") == "bfloat16"
        margin = MARGIN_BF16 if bf16 else MARGIN
        if how["save"] == "fused":
            model = made[how["like"]]
            # transformers v5's in-memory names and fused expert tensors.
            save_file({k: v.contiguous() for k, v in model.state_dict().items()},
                      os.path.join(d, "model.safetensors"),
                      metadata={"format": "pt"})
            model.config.save_pretrained(d)
        else:
            # Seeds from the case name: a case's model does not depend on
            # the others. Try seeds until routing has no near-ties on x.
            for attempt in range(20):
                seed = sum(map(ord, case)) * 100 + attempt
                model = build(family, overrides, seed)
                if how["save"] in ("mxfp4", "fp8") and bf16:
                    # Stored in bf16 (to_mxfp4, to_fp8): decide routing
                    # margins on the weights as stored.
                    with torch.no_grad():
                        for prm in model.parameters():
                            prm.copy_(prm.to(torch.bfloat16))
                H = model.config.get_text_config().hidden_size
                x = rng.standard_normal((2, 5, H)).astype(np.float32)
                x = x.astype(np.float64)
                if bf16:
                    x = torch.tensor(x).to(torch.bfloat16).double().numpy()
                if all(margins_ok(family, block_of(layer),
                                  model.config.get_text_config(), x, margin)
                       for layer in decoder_layers(model)
                       if is_moe(block_of(layer))):
                    break
            else:
                sys.exit("%s: no seed without near-ties in routing" % case)
            made[case] = model
            np.save(os.path.join(d, "x.npy"), x.astype(np.float32))
            kw = {}
            if how.get("shard"):
                kw["max_shard_size"] = how["shard"]
            if how["save"] == "released":
                # Under the release's names (how["rename"]: its prefix for
                # transformers' in-memory one), which from_pretrained maps
                # back; transformers' own save renames more than that.
                old, new = how["rename"]
                save_file({k.replace(old, new, 1): v.clone()
                           for k, v in model.state_dict().items()},
                          os.path.join(d, "model.safetensors"),
                          metadata={"format": "pt"})
                model.config.save_pretrained(d)
            else:
                model.save_pretrained(d, **kw)
            if how["save"] == "mxfp4":
                to_mxfp4(d, case, bf16)
            if how["save"] == "fp8":
                to_fp8(d, case, bf16)
            if how.get("transpose_experts"):
                transpose_experts(d)
            if how["save"] == "bf16":
                # As transformers writes a bf16 model: loaded in bf16 (with
                # what it keeps in f32 kept so) and saved again.
                half = classes[family][1].from_pretrained(d, dtype=torch.bfloat16)
                for f in os.listdir(d):
                    if f.endswith(".safetensors"):
                        os.remove(os.path.join(d, f))
                half.save_pretrained(d, **kw)
        if how["save"] == "fused":
            x = np.load(os.path.join(out, how["like"], "x.npy")).astype(np.float64)
            np.save(os.path.join(d, "x.npy"), x.astype(np.float32))
        if how.get("declare"):
            path = os.path.join(d, "config.json")
            with open(path) as f:
                cfg = json.load(f)
            cfg["dtype"] = how["declare"]
            with open(path, "w") as f:
                json.dump(cfg, f, indent=2)
        files = sorted(f for f in os.listdir(d) if f.endswith(".safetensors"))
        if how.get("shard") and len(files) < 2:
            sys.exit("%s: expected a sharded checkpoint, got %s" % (case, files))

        # The oracle: the checkpoint as transformers loads it.
        kw = {}
        if how["save"] == "mxfp4":
            kw["quantization_config"] = T.Mxfp4Config(dequantize=True)
        if how["save"] == "fp8":
            kw["quantization_config"] = T.FineGrainedFP8Config(dequantize=True)
        loaded = classes[family][1].from_pretrained(d, **kw).eval()
        declared = loaded.config.dtype
        text = loaded.config.get_text_config()
        layers = [i for i, l in enumerate(decoder_layers(loaded))
                  if is_moe(block_of(l))]
        if how["save"] == "fused":
            # transformers reads the fused layout back as it wrote it.
            for i in layers:
                a = block_of(decoder_layers(made[how["like"]])[i])
                b = block_of(decoder_layers(loaded)[i])
                for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
                    assert torch.equal(p, q), (case, i, n)
        native = {}
        if declared == torch.bfloat16:
            with torch.no_grad():
                xt = torch.tensor(x).to(torch.bfloat16)
                for i in layers:
                    y = moe_function(decoder_layers(loaded)[i], xt)
                    # Llama-4's block returns [T, H] rows.
                    native[i] = (y[0] if isinstance(y, tuple) else y).double(
                    ).numpy().reshape(x.shape)
        # float64: the experts' default grouped_mm takes no doubles.
        loaded.set_experts_implementation("eager")
        loaded.double()
        expected = {}
        with torch.no_grad():
            xt = torch.tensor(x)
            for i in layers:
                mlp = block_of(decoder_layers(loaded)[i])
                y = moe_function(decoder_layers(loaded)[i], xt)
                y = (y[0] if isinstance(y, tuple) else y).numpy().reshape(x.shape)
                assert np.isfinite(y).all() and np.abs(y).max() > 1e-3, (case, i)
                assert margins_ok(family, mlp, text, x, margin), (case, i)
                expected[i] = y
                np.save(os.path.join(d, "expected.layer_%d.npy" % i), y)
                if i in native:
                    np.save(os.path.join(d, "expected_native.layer_%d.npy" % i),
                            native[i])
                write_operands(os.path.join(d, "ref.layer_%d" % i), family,
                               mlp, text, x,
                               getattr(decoder_layers(loaded)[i], "shared_mlp",
                                       None))
                if family == "gpt_oss":
                    check_clamps(case, i, mlp, text, x)
        bf16 = declared == torch.bfloat16
        index.append({
            "case": case, "family": family, "layers": layers,
            "dense": [i for i in range(text.num_hidden_layers)
                      if i not in layers],
            "tolerance": BF16_TOL if bf16 else F32_TOL,
            "native": bool(native), "files": files,
            "declared": str(declared).replace("torch.", ""),
        })
        print("%s: %d MoE layers %s, %s, %s" % (
            case, len(layers), layers, index[-1]["declared"],
            ", ".join(sorted({stored_dtype(os.path.join(d, f)) for f in files}))))
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(index, f, indent=1)
    print("made %d checkpoints" % len(index))


def rewrite_quantized(d, case, bf16, convert, quantization_config):
    """Rewrites checkpoint `d` with some tensors quantized: `convert(name,
    t, rng)` returns the tensors that replace tensor `name`, or None to
    keep it (stored in bf16 with `bf16`, as released); config.json gets
    `quantization_config`."""
    import torch
    from safetensors.torch import load_file, save_file
    path = os.path.join(d, "model.safetensors")
    rng = np.random.default_rng(sum(map(ord, case)))
    out = {}
    for name, t in load_file(path).items():
        parts = convert(name, t, rng)
        if parts is None:
            out[name] = t.to(torch.bfloat16) if bf16 else t
        else:
            out.update(parts)
    save_file(out, path, metadata={"format": "pt"})
    cfg_path = os.path.join(d, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["quantization_config"] = quantization_config
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2)


def to_mxfp4(d, case, bf16):
    """Rewrites gpt-oss checkpoint `d` with MXFP4 experts as the published
    checkpoints hold them: for each [E, in, out] expert weight, random e2m1
    codes `<w>_blocks` u8 [E, out, in/32, 16] (element 2i of a block in the
    low nibble of byte i) and e8m0 exponents `<w>_scales` u8 [E, out, in/32]
    (2^-4 to 1: transformers reads w = e2m1 2^(e - 127)), and a
    quantization_config saying mxfp4. With `bf16`, the other tensors are
    stored in bf16, as released."""
    import torch

    def convert(name, t, rng):
        if not name.endswith(("experts.gate_up_proj", "experts.down_proj")):
            return None
        E, K, N = t.shape
        return {
            name + "_blocks": torch.from_numpy(
                rng.integers(0, 256, (E, N, K // 32, 16), dtype=np.uint8)),
            name + "_scales": torch.from_numpy(
                rng.integers(123, 128, (E, N, K // 32), dtype=np.uint8))}
    rewrite_quantized(d, case, bf16, convert, {
        "quant_method": "mxfp4",
        "modules_to_not_convert": ["model.layers.*.self_attn",
                                   "model.layers.*.mlp.router",
                                   "model.embed_tokens", "lm_head"]})


def to_fp8(d, case, bf16):
    """Rewrites checkpoint `d` with its experts' and shared experts'
    projections in FP8 as DeepSeek-V3 holds them: each weight [N, K] as
    F8_E4M3 values and `<weight>_scale_inv` f32 [ceil(N/128), K/128], w =
    value * scale per 128 x 128 block, and a quantization_config saying
    fp8. The values are the weight's own, divided by a random scale per
    block and rounded to e4m3, with one in 16 replaced by a random code
    (every code but NaN's: subnormals, -0 and the largest, 448, too). With
    `bf16`, the other tensors are stored in bf16, as released."""
    import torch
    codes = np.array([c for c in range(256) if c & 0x7f != 0x7f], np.uint8)

    def convert(name, t, rng):
        if not ((".mlp.experts." in name or ".mlp.shared_experts." in name
                 or ".block_sparse_moe.experts." in name)
                and name.endswith(("_proj.weight", ".w1.weight", ".w2.weight",
                                   ".w3.weight")) and t.dim() == 2):
            return None
        N, K = t.shape
        scale = rng.uniform(0.5, 1.5, ((N + 127) // 128, K // 128)) * \
            t.double().abs().max().item() / 448
        full = np.repeat(np.repeat(scale, 128, 0)[:N], 128, 1)
        v = torch.from_numpy(t.double().numpy() / full).clamp(-448, 448)
        q = v.to(torch.float8_e4m3fn).view(torch.uint8).numpy().copy()
        swap = rng.random(q.shape) < 1 / 16
        q[swap] = rng.choice(codes, swap.sum())
        return {name: torch.from_numpy(q).view(torch.float8_e4m3fn),
                name + "_scale_inv": torch.from_numpy(scale.astype(np.float32))}
    rewrite_quantized(d, case, bf16, convert, {
        "quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
        "weight_block_size": [128, 128]})


def stored_dtype(path):
    from safetensors import safe_open
    with safe_open(path, "pt") as f:
        return "/".join(sorted({f.get_slice(k).get_dtype() for k in f.keys()}))


def transpose_experts(d):
    """Rewrites the fused experts of checkpoint `d` transposed, [E, H, 2I]
    and [E, I, H], as the released Qwen3-VL-MoE checkpoints hold them."""
    from safetensors.torch import load_file, save_file
    path = os.path.join(d, "model.safetensors")
    out = {}
    for name, t in load_file(path).items():
        if name.endswith(("mlp.experts.gate_up_proj", "mlp.experts.down_proj")):
            t = t.transpose(1, 2)
        out[name] = t.contiguous()
    save_file(out, path, metadata={"format": "pt"})


def decoder_layers(model):
    """The text model's decoder layers (a vision-language model's under
    model.language_model)."""
    inner = model.transformer if hasattr(model, "transformer") else model.model
    inner = inner.language_model if hasattr(inner, "language_model") else inner
    # DBRX's decoder layers are its blocks.
    return inner.blocks if hasattr(inner, "blocks") else inner.layers


def block_of(layer):
    """The layer's MoE block (Granite's is block_sparse_moe, LFM2's
    feed_forward, Nemotron-H's mixer) or dense MLP."""
    for attr in ("mlp", "block_sparse_moe", "feed_forward", "ffn", "mixer"):
        if hasattr(layer, attr):
            return getattr(layer, attr)
    raise AttributeError("no MLP in %s" % type(layer).__name__)


def moe_function(layer, x):
    """What moec's function of the layer computes: its MoE block, plus
    GraniteMoeShared's and GraniteMoeHybrid's shared MLP, a sibling the
    decoder layer adds to the block's output."""
    y = block_of(layer)(x)
    sibling = getattr(layer, "shared_mlp", None)
    if sibling is not None and not isinstance(y, tuple):
        y = y + sibling(x)
    return y


def is_moe(mlp):
    return hasattr(mlp, "experts")


def router_of(mlp):
    if hasattr(mlp, "router") and hasattr(mlp.router, "layer"):
        return mlp.router.layer  # DBRX
    if hasattr(mlp, "router"):
        # AFMoE's router holds its Linear as `gate`.
        return mlp.router.gate if hasattr(mlp.router, "gate") else mlp.router
    return mlp.gate.wg if hasattr(mlp.gate, "wg") else mlp.gate


def top_k_of(mlp, cfg):
    """The layer's top-k (Hunyuan's gate holds its layer's own)."""
    gate = getattr(mlp, "gate", None)
    if hasattr(mlp, "moe_normalize_expert_weights"):
        return mlp.top_k  # DBRX: ffn_config.moe_top_k
    return gate.top_k if hasattr(gate, "wg") else cfg.num_experts_per_tok


def selection_bias(family, mlp):
    """The bias added to the scores for selection only, or None."""
    if family == "ernie4_5_moe":
        return mlp.gate.moe_statics.e_score_correction_bias.reshape(-1)
    if family == "minimax_m2":
        return mlp.e_score_correction_bias
    if family in ("lfm2_moe", "afmoe"):
        return mlp.expert_bias
    if family == "hy_v3":
        return mlp.e_score_correction_bias
    if family in V3_LIKE:
        return mlp.gate.e_score_correction_bias
    return None


def margins_ok(family, mlp, cfg, x, margin):
    """Whether every token's routing decisions are clear: the k-th and
    (k+1)-th selection scores (logits for softmax routing) differ by
    `margin`, and so do the kept and the dropped group scores of
    group-limited routing."""
    r = router_of(mlp)
    w = r.weight.detach().double().numpy()
    X = x.reshape(-1, w.shape[1])
    logits = X @ w.T
    if getattr(r, "bias", None) is not None:
        logits = logits + r.bias.detach().double().numpy()
    K = top_k_of(mlp, cfg)
    E = w.shape[0]
    bias = selection_bias(family, mlp)
    bias = None if bias is None else bias.detach().double().numpy()
    v3 = family in V3_LIKE
    if family == "phimoe":
        # sparsemixer: clear picks, and no expert within half the margin
        # of a slot's masking distance 2·eps (relative to max(|l|, m)).
        eps2 = 2 * cfg.router_jitter_noise
        for l in logits:
            order = np.argsort(-l)
            if min(l[order[0]] - l[order[1]], l[order[1]] - l[order[2]]) < margin:
                return False
            for j in range(2):
                m = l[order[j]]
                q = np.delete((m - l) / np.maximum(np.abs(l), m), order[:j + 1])
                if np.any(np.abs(q - eps2) < margin / 2):
                    return False
        return True
    for l in logits:
        if v3 or family in ("minimax_m2", "lfm2_moe", "afmoe", "hy_v3"):
            s = 1 / (1 + np.exp(-l)) + bias
        elif family == "ernie4_5_moe":
            s = np.exp(l - l.max()) / np.exp(l - l.max()).sum() + bias
        else:
            # Softmax keeps the order of the logits (and of group maxima):
            # gaps in log-probability.
            s = l
        top2 = v3 or family == "mistral4"
        if family == "mistral4":
            # Group scores on the probabilities.
            s = np.exp(l - l.max()) / np.exp(l - l.max()).sum()
        if top2 or (family == "deepseek_v2" and
                    cfg.topk_method == "group_limited_greedy"):
            G, TG = cfg.n_group, cfg.topk_group
            grouped = s.reshape(G, E // G)
            gs = (np.sort(grouped, 1)[:, -2:].sum(1) if top2
                  else grouped.max(1))
            order = np.sort(gs)[::-1]
            if TG < G and order[TG - 1] - order[TG] < margin:
                return False
            keep = np.argsort(-gs)[:TG]
            s = grouped[keep].reshape(-1)
        order = np.sort(s)[::-1]
        if K < len(order) and order[K - 1] - order[K] < margin:
            return False
    return True


def check_clamps(case, i, mlp, cfg, x):
    """gpt-oss: some gate values above the limit, some up values outside
    [-limit, limit], among the experts each token uses."""
    e = mlp.experts
    X = x.reshape(-1, e.gate_up_proj.shape[1])
    _, _, idx = mlp.router(__import__("torch").tensor(X))
    gate, up = [], []
    for t, experts in enumerate(idx.numpy()):
        for ex in experts:
            z = X[t] @ e.gate_up_proj[ex].numpy() + e.gate_up_proj_bias[ex].numpy()
            gate += list(z[0::2])
            up += list(z[1::2])
    gate, up = np.array(gate), np.array(up)
    lim = cfg.swiglu_limit
    frac = ((gate > lim).mean(), (up > lim).mean(), (up < -lim).mean())
    assert min(frac) > 0.02, "%s layer %d: the limit clamps too little %s" % (
        case, i, frac)


def write_operands(d, family, mlp, cfg, x, sibling=None):
    """The layer's operands in moe-reference's roles, from the modules of
    the model as transformers loaded it (and Granite's shared MLP, the
    block's `sibling`), and its config."""
    os.makedirs(d, exist_ok=True)
    r = router_of(mlp)
    ops = {"hidden": x, "router_weight": r.weight}
    e = mlp.experts
    routing = {"k": top_k_of(mlp, cfg), "scoring": "softmax",
               "order": "score_then_topk", "renormalize": False, "scale": 1.0}
    activation = {"kind": "swiglu", "alpha": 1.0, "beta": 0.0}
    layout = "concatenated"
    if family == "dbrx":
        E, F = e.num_experts, e.ffn_hidden_size
        ops["gate"] = e.mlp.w1.view(E, F, -1)
        ops["up"] = e.mlp.v1.view(E, F, -1)
        ops["down"] = e.mlp.w2.view(E, F, -1).transpose(1, 2)   # [E, H, F]
        routing["renormalize"] = mlp.moe_normalize_expert_weights == 1
    elif family == "nemotron_h":
        ops["up"] = e.up_proj                             # [E, I, H]
        ops["down"] = e.down_proj                         # [E, H, I]
        activation = {"kind": cfg.mlp_hidden_act}
    elif family == "llama4_text":
        ops["gate_up"] = e.gate_up_proj.transpose(1, 2)   # [E, 2I, H]
        ops["down"] = e.down_proj.transpose(1, 2)         # [E, H, I]
        routing.update(scoring="sigmoid", order="topk_then_score",
                       scale_inputs=True)
    elif family == "gpt_oss":
        ops["router_bias"] = r.bias
        ops["gate_up"] = e.gate_up_proj.transpose(1, 2)   # [E, 2I, H]
        ops["gate_up_bias"] = e.gate_up_proj_bias
        ops["down"] = e.down_proj.transpose(1, 2)         # [E, H, I]
        ops["down_bias"] = e.down_proj_bias
        routing["order"] = "topk_then_score"
        activation = {"kind": "swiglu", "alpha": cfg.swiglu_alpha, "beta": 1.0,
                      "limit": cfg.swiglu_limit}
        layout = "interleaved"
    else:
        ops["gate_up"] = e.gate_up_proj                   # [E, 2I, H]
        ops["down"] = e.down_proj
    bias = selection_bias(family, mlp)
    if bias is not None:
        ops["correction_bias"] = bias
    if family in ("mixtral", "minimax", "hunyuan_v1_moe", "ernie4_5_moe",
                  "qwen3_5_moe",
                  "qwen3_vl_moe"):
        routing["renormalize"] = True
    elif family == "minimax_m2":
        routing.update(scoring="sigmoid", renormalize=True)
    elif family in ("afmoe", "hy_v3"):
        routing.update(scoring="sigmoid", renormalize=True,
                       scale=(cfg.route_scale if family == "afmoe"
                              else cfg.router_scaling_factor))
    elif family == "lfm2_moe":
        routing.update(scoring="sigmoid", renormalize=bool(cfg.norm_topk_prob),
                       scale=cfg.routed_scaling_factor)
        if cfg.norm_topk_prob:
            routing["renorm_epsilon"] = 1e-6
    elif family.startswith("granitemoe"):
        routing["order"] = "topk_then_score"
    elif family == "phimoe":
        routing.update(order="sparsemixer",
                       sparsemixer_eps=cfg.router_jitter_noise)
    elif family in ("qwen2_moe", "qwen3_moe", "olmoe", "flex_olmo",
                    "qwen3_next", "mellum"):
        routing["renormalize"] = bool(cfg.norm_topk_prob)
    elif family == "mistral4":
        routing.update(renormalize=bool(cfg.norm_topk_prob),
                       n_group=cfg.n_group, topk_group=cfg.topk_group,
                       group_score="top2_sum", scale=cfg.routed_scaling_factor)
    elif family in V3_LIKE:
        routing.update(scoring="sigmoid", renormalize=bool(cfg.norm_topk_prob),
                       n_group=cfg.n_group, topk_group=cfg.topk_group,
                       group_score="top2_sum", scale=cfg.routed_scaling_factor)
        if family == "nemotron_h" and cfg.norm_topk_prob:
            routing["renorm_epsilon"] = 1e-20
    elif family == "deepseek_v2":
        routing["scale"] = cfg.routed_scaling_factor
        if cfg.topk_method == "group_limited_greedy":
            routing.update(n_group=cfg.n_group, topk_group=cfg.topk_group,
                           group_score="max")
    shared = None
    for attr in ("shared_expert", "shared_experts", "shared_mlp"):
        if getattr(mlp, attr, None) is not None:
            shared = getattr(mlp, attr)
    if shared is not None and hasattr(shared, "gate_proj"):
        ops["shared_gate"] = shared.gate_proj.weight
    if shared is not None:
        ops["shared_up"] = shared.up_proj.weight
        ops["shared_down"] = shared.down_proj.weight
    if sibling is not None:
        # Gate rows, then up rows (concatenated, as the experts' gate_up).
        ops["shared_gate_up"] = sibling.input_linear.weight
        ops["shared_down"] = sibling.output_linear.weight
    if getattr(mlp, "shared_expert_gate", None) is not None:
        ops["shared_expert_gate"] = mlp.shared_expert_gate.weight
    for role, v in ops.items():
        v = v if isinstance(v, np.ndarray) else v.detach().double().numpy()
        np.save(os.path.join(d, role + ".npy"), np.ascontiguousarray(v))
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"routing": routing, "activation": activation,
                   "gate_up_layout": layout}, f, indent=1)


# -------------------------------------------------------------------- check

def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def check(a):
    with open(os.path.join(a.dir, "cases.json")) as f:
        cases = json.load(f)
    failures, runs = [], 0
    worst = {}

    def judge(label, err, tol):
        ok = err <= tol
        if not ok:
            failures.append("%s: relative L2 %.3e > %.0e" % (label, err, tol))
        return "ok" if ok else "FAILED"

    # Compile on two workers (each compile is one process).
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(2) as pool:
        compiled = list(pool.map(
            lambda c: run([a.moe_compile, os.path.join(a.dir, c["case"]), "-o",
                           os.path.join(a.dir, c["case"]) + ".so", "-v"]),
            cases))
    for case, r in zip(cases, compiled):
        d = os.path.join(a.dir, case["case"])
        artifact = d + ".so"
        if r.returncode:
            failures.append("%s: moe-compile failed: %s" % (case["case"], r.stderr))
            continue
        for line in r.stderr.splitlines():
            if "cast to" in line:
                print("%s: %s" % (case["case"], line))
        listing = run([a.moe_run, artifact, "--list"]).stdout
        for n in case["dense"]:
            if "layer_%d\n" % n in listing:
                failures.append("%s: dense layer %d has an entry point"
                                % (case["case"], n))
        x = os.path.join(d, "x.npy")
        for n in case["layers"]:
            runs += 1
            out = os.path.join(d, "out.layer_%d.npy" % n)
            r = run([a.moe_run, artifact, "--function", "layer_%d" % n,
                     "--input", "hidden_states=" + x, "--output", out, "--verify"])
            if r.returncode:
                failures.append("%s layer %d: moe-run failed: %s%s"
                                % (case["case"], n, r.stdout, r.stderr))
                continue
            want = np.load(os.path.join(d, "expected.layer_%d.npy" % n))
            got = np.load(out).astype(np.float64)
            err = relative_l2(got, want) if got.shape == want.shape else float("inf")
            label = "%s layer_%d" % (case["case"], n)
            line = "%s moec rel_l2=%.3e tol=%.0e %s" % (
                label, err, case["tolerance"], judge(label, err, case["tolerance"]))
            worst[case["case"]] = max(worst.get(case["case"], 0.0), err)
            if case["native"]:
                nat = np.load(os.path.join(d, "expected_native.layer_%d.npy" % n))
                e2 = relative_l2(got, nat)
                line += " | vs transformers bf16 %.3e %s" % (
                    e2, judge(label + " (bf16 transformers)", e2, NATIVE_TOL))
            # The float64 reference evaluator on transformers' operands.
            rd = os.path.join(d, "ref.layer_%d" % n)
            cmd = [a.moe_reference, "--config", os.path.join(rd, "config.json"),
                   "-o", os.path.join(rd, "out.npy"), "--dtype", "f64"]
            for f in sorted(os.listdir(rd)):
                if f.endswith(".npy") and f != "out.npy":
                    cmd += ["--input", "%s=%s" % (f[:-4], os.path.join(rd, f))]
            r = run(cmd)
            if r.returncode:
                failures.append("%s: moe-reference failed: %s" % (label, r.stderr))
            else:
                e3 = relative_l2(np.load(os.path.join(rd, "out.npy")), want)
                line += " | reference %.3e %s" % (e3, judge(label + " (reference)",
                                                            e3, REF_TOL))
            print(line)
    if failures:
        print("%d FAILED" % len(failures))
        print("\n".join(failures))
        return 1
    for c in cases:
        print("worst %s %.3e" % (c["case"], worst.get(c["case"], float("nan"))))
    print("all %d layers of %d checkpoints within tolerance" % (runs, len(cases)))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="step", required=True)
    m = sub.add_parser("make")
    m.add_argument("out")
    c = sub.add_parser("check")
    c.add_argument("--moe-compile", required=True)
    c.add_argument("--moe-run", required=True)
    c.add_argument("--moe-reference", required=True)
    c.add_argument("--dir", required=True)
    a = p.parse_args()
    if a.step == "make":
        make(a.out)
        return 0
    return check(a)


if __name__ == "__main__":
    sys.exit(main())
