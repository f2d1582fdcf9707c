"""moec.transformers.compile_moe: tiny random models of every family the
importer compiles, swapped in place, against transformers alone: the same
greedy tokens, and logits within LOGITS_TOL relative L2."""

import warnings

import numpy as np
import pytest
import torch
import transformers as T

import moec
import moec.transformers

# f32 throughout; the compiled layers agree with transformers' blocks
# within about 1e-6 (test/importers/hf-transformers.test), which the rest
# of the model carries to the logits (measured: 0.8e-7 to 2.3e-7).
LOGITS_TOL = 1e-5
NEW_TOKENS = 8

COMMON = dict(vocab_size=96, num_attention_heads=2, num_key_value_heads=1,
              max_position_embeddings=64, bos_token_id=0, eos_token_id=None,
              pad_token_id=None)
MLA = dict(num_key_value_heads=2, kv_lora_rank=4, q_lora_rank=None,
           qk_rope_head_dim=4, qk_nope_head_dim=4, v_head_dim=4)

FAMILIES = {
    "mixtral": (T.MixtralConfig, T.MixtralForCausalLM, dict(
        num_hidden_layers=2, hidden_size=24, intermediate_size=20,
        num_local_experts=8, num_experts_per_tok=2)),
    "qwen2_moe": (T.Qwen2MoeConfig, T.Qwen2MoeForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=40,
        moe_intermediate_size=12, shared_expert_intermediate_size=20,
        num_experts=6, num_experts_per_tok=2, norm_topk_prob=False)),
    "qwen3_moe": (T.Qwen3MoeConfig, T.Qwen3MoeForCausalLM, dict(
        num_hidden_layers=2, hidden_size=20, intermediate_size=48,
        moe_intermediate_size=12, num_experts=16, num_experts_per_tok=4,
        norm_topk_prob=True, head_dim=8)),
    "olmoe": (T.OlmoeConfig, T.OlmoeForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=8,
        num_experts=32, num_experts_per_tok=8)),
    "deepseek_v2": (T.DeepseekV2Config, T.DeepseekV2ForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=32,
        moe_intermediate_size=8, n_routed_experts=16, n_shared_experts=2,
        num_experts_per_tok=3, first_k_dense_replace=1,
        topk_method="group_limited_greedy", n_group=4, topk_group=2,
        routed_scaling_factor=3.0, norm_topk_prob=False, **MLA)),
    "deepseek_v3": (T.DeepseekV3Config, T.DeepseekV3ForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=32,
        moe_intermediate_size=8, n_routed_experts=16, n_shared_experts=1,
        num_experts_per_tok=4, first_k_dense_replace=1, n_group=4,
        topk_group=2, routed_scaling_factor=1.7, norm_topk_prob=True, **MLA)),
    "gpt_oss": (T.GptOssConfig, T.GptOssForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=12,
        num_local_experts=8, num_experts_per_tok=2, head_dim=8,
        layer_types=["full_attention", "full_attention"])),
    "glm4_moe": (T.Glm4MoeConfig, T.Glm4MoeForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=32,
        moe_intermediate_size=8, n_routed_experts=8, n_shared_experts=1,
        num_experts_per_tok=2, first_k_dense_replace=1, n_group=2,
        topk_group=1, routed_scaling_factor=1.5, head_dim=8)),
    "dots1": (T.Dots1Config, T.Dots1ForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=32,
        moe_intermediate_size=8, n_routed_experts=8, n_shared_experts=1,
        num_experts_per_tok=2, first_k_dense_replace=0)),
    "exaone_moe": (T.ExaoneMoeConfig, T.ExaoneMoeForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=32,
        moe_intermediate_size=8, num_experts=8, num_shared_experts=1,
        num_experts_per_tok=2, head_dim=8)),
    "ernie4_5_moe": (T.Ernie4_5_MoeConfig, T.Ernie4_5_MoeForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=32,
        moe_intermediate_size=8, moe_num_experts=8, moe_k=2,
        moe_num_shared_experts=1)),
    "hunyuan_v1_moe": (T.HunYuanMoEV1Config, T.HunYuanMoEV1ForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=12,
        num_experts=8, moe_topk=[2, 3], head_dim=8)),
    "minimax_m2": (T.MiniMaxM2Config, T.MiniMaxM2ForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=12,
        num_local_experts=8, num_experts_per_tok=2, head_dim=8)),
    # sparsemixer at a masking distance where experts share the softmax.
    "phimoe": (T.PhimoeConfig, T.PhimoeForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=12,
        num_local_experts=8, num_experts_per_tok=2, router_jitter_noise=0.2)),
    # Granite's block_sparse_moe: fused input_linear/output_linear experts.
    "granitemoe": (T.GraniteMoeConfig, T.GraniteMoeForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=12,
        num_local_experts=8, num_experts_per_tok=2)),
    # Granite with the layer's shared MLP beside the block, which the
    # compiled layer adds (the layer's own returns zeros once swapped); in
    # Granite 4.0 among Mamba-2 and attention layers.
    "granitemoeshared": (T.GraniteMoeSharedConfig,
                         T.GraniteMoeSharedForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=12,
        num_local_experts=8, num_experts_per_tok=2,
        shared_intermediate_size=20)),
    "granitemoehybrid": (T.GraniteMoeHybridConfig,
                         T.GraniteMoeHybridForCausalLM, dict(
        num_hidden_layers=2, hidden_size=32, intermediate_size=16,
        num_local_experts=8, num_experts_per_tok=2,
        shared_intermediate_size=24,
        layer_types=["linear_attention", "full_attention"], mamba_n_heads=4,
        mamba_d_head=16, mamba_d_state=8, mamba_chunk_size=8)),
    # MoE blocks under feed_forward: LFM2-MoE after a dense lead layer,
    # Jamba's on the odd layers, among Mamba and attention layers.
    "lfm2_moe": (T.Lfm2MoeConfig, T.Lfm2MoeForCausalLM, dict(
        num_hidden_layers=3, hidden_size=16, intermediate_size=32,
        moe_intermediate_size=8, num_experts=8, num_experts_per_tok=2,
        num_dense_layers=1, layer_types=["conv", "full_attention", "conv"])),
    "jamba": (T.JambaConfig, T.JambaForCausalLM, dict(
        num_hidden_layers=4, hidden_size=16, intermediate_size=12,
        num_experts=8, num_experts_per_tok=2, attn_layer_period=2,
        attn_layer_offset=0, use_mamba_kernels=False, mamba_d_state=4,
        mamba_dt_rank=4)),
    # MiniMax-Text-01: Mixtral's block after lightning attention.
    "minimax": (T.MiniMaxConfig, T.MiniMaxForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=12,
        num_local_experts=8, num_experts_per_tok=2, head_dim=8,
        layer_types=["linear_attention", "full_attention"])),
    # Routed as DeepSeek-V3: GLM-5 (DSA attention), MiMo-V2-Flash (no
    # shared experts), Kimi Linear (KDA attention); Mistral 4 (softmax
    # scores, groups).
    "glm_moe_dsa": (T.GlmMoeDsaConfig, T.GlmMoeDsaForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=32,
        moe_intermediate_size=8, num_key_value_heads=2, n_routed_experts=8,
        num_experts_per_tok=2, first_k_dense_replace=1, n_group=4,
        topk_group=2, kv_lora_rank=8, q_lora_rank=8, qk_rope_head_dim=4,
        qk_nope_head_dim=4, v_head_dim=4, index_topk=4, index_head_dim=8,
        index_n_heads=2)),
    "mimo_v2_flash": (T.MiMoV2FlashConfig, T.MiMoV2FlashForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=32,
        moe_intermediate_size=8, head_dim=8, v_head_dim=8, n_routed_experts=8,
        num_experts_per_tok=2, sliding_window=4)),
    "kimi_linear": (T.KimiLinearConfig, T.KimiLinearForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=32,
        moe_intermediate_size=8, num_key_value_heads=2, num_experts=8,
        num_experts_per_token=2, kv_lora_rank=8, qk_rope_head_dim=4,
        qk_nope_head_dim=4, v_head_dim=4, linear_head_dim=8,
        linear_num_heads=2, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        layer_types=["linear_attention", "full_attention"],
        mlp_layer_types=["dense", "sparse"])),
    "mistral4": (T.Mistral4Config, T.Mistral4ForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=32,
        moe_intermediate_size=8, num_key_value_heads=2, n_routed_experts=8,
        num_experts_per_tok=2, first_k_dense_replace=1, n_group=4,
        topk_group=2, kv_lora_rank=8, q_lora_rank=8, qk_rope_head_dim=4,
        qk_nope_head_dim=4, v_head_dim=4, pad_token_id=0)),
    "solar_open": (T.SolarOpenConfig, T.SolarOpenForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, moe_intermediate_size=8,
        n_routed_experts=8, num_experts_per_tok=2, head_dim=8)),
    "mellum": (T.MellumConfig, T.MellumForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=32,
        moe_intermediate_size=8, num_experts=8, num_experts_per_tok=2,
        head_dim=8, mlp_layer_types=["dense", "sparse"])),
    # Sigmoid scores with a selection bias, renormalized, scaled, shared
    # experts.
    "afmoe": (T.AfmoeConfig, T.AfmoeForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=32,
        moe_intermediate_size=8, num_dense_layers=1, num_experts=8,
        num_experts_per_tok=2, num_shared_experts=1, route_scale=1.5,
        head_dim=8)),
    "hy_v3": (T.HYV3Config, T.HYV3ForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=32,
        moe_intermediate_size=8, num_experts=8, num_experts_per_tok=2,
        num_shared_experts=1, head_dim=8)),
    # The routing weight on the experts' input; MoE on every second layer.
    "llama4_text": (T.Llama4TextConfig, T.Llama4ForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=12,
        intermediate_size_mlp=24, num_local_experts=8,
        num_experts_per_tok=2, interleave_moe_layer_step=2, head_dim=8)),
    # Blocks under transformer.blocks, experts stored [E·F, H].
    "dbrx": (T.DbrxConfig, T.DbrxForCausalLM, dict(
        n_layers=2, d_model=16, n_heads=2, max_seq_len=64,
        attn_config=dict(kv_n_heads=1, rope_theta=10000.0, clip_qkv=8.0),
        ffn_config=dict(ffn_hidden_size=12, moe_num_experts=8,
                        moe_top_k=2))),
    # Squared-ReLU experts without a gate under the layers' mixer, among
    # Mamba-2, attention and dense MLP layers.
    "nemotron_h": (T.NemotronHConfig, T.NemotronHForCausalLM, dict(
        layers_block_type=["linear_attention", "moe", "full_attention",
                           "mlp", "moe"], hidden_size=16,
        intermediate_size=24, moe_intermediate_size=8,
        moe_shared_expert_intermediate_size=12, n_routed_experts=8,
        num_experts_per_tok=2, n_group=2, topk_group=1,
        routed_scaling_factor=2.5, head_dim=8, mamba_num_heads=4,
        mamba_head_dim=8, ssm_state_size=8, n_groups=2, chunk_size=8,
        use_mamba_kernels=False)),
    "qwen3_next": (T.Qwen3NextConfig, T.Qwen3NextForCausalLM, dict(
        num_hidden_layers=2, hidden_size=16, intermediate_size=24,
        moe_intermediate_size=8, shared_expert_intermediate_size=12,
        num_experts=8, num_experts_per_tok=2, head_dim=8,
        linear_key_head_dim=8, linear_value_head_dim=8,
        linear_num_key_heads=2, linear_num_value_heads=4,
        layer_types=["linear_attention", "full_attention"])),
}


def build(family, seed=7):
    config_class, model_class, overrides = FAMILIES[family]
    config = config_class(**dict(COMMON, **overrides))
    torch.manual_seed(seed)
    model = model_class(config).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        # Weights of unit-variance outputs, so that routing and the logits
        # are decided by clear margins rather than by rounding.
        for name, p in model.named_parameters():
            if "norm" in name and p.dim() == 1:
                p.fill_(1.0)
                continue
            std = (p.shape[-1] if p.dim() > 1 else 1) ** -0.5
            if family == "gpt_oss" and "experts." in name:
                std = 1.0 if p.dim() == 2 else p.shape[-2] ** -0.5
            if "router" in name or name.endswith(
                    ("mlp.gate.weight", "gate.wg.weight", "mixer.gate.weight")):
                std *= 3.0
            if name.endswith("e_score_correction_bias"):
                # ERNIE's, a parameter [1, E]: on the probabilities.
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
                continue
            p.copy_(torch.randn(p.shape, generator=g) * std)
        for name, b in model.named_buffers():
            if name.endswith("e_score_correction_bias"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.15)
    return model


def rel_l2(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_swap_gives_the_same_tokens(family, tmp_path):
    check_swap(build(family), tmp_path)


def test_vision_language_text_model_swap(tmp_path):
    # Qwen3-VL-MoE: the text model's blocks, under
    # model.model.language_model, configured by text_config.
    text = dict(COMMON, num_hidden_layers=2, hidden_size=24,
                intermediate_size=32, moe_intermediate_size=8, num_experts=8,
                num_experts_per_tok=2, head_dim=16, rope_parameters=dict(
                    rope_type="default", rope_theta=10000.0,
                    mrope_section=[2, 3, 3], mrope_interleaved=True))
    vision = dict(depth=1, hidden_size=16, intermediate_size=16, num_heads=2,
                  out_hidden_size=24, num_position_embeddings=16,
                  patch_size=4, deepstack_visual_indexes=[0])
    config = T.Qwen3VLMoeConfig(text_config=text, vision_config=vision)
    torch.manual_seed(7)
    model = T.Qwen3VLMoeForConditionalGeneration(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("mlp.gate.weight"):
                p.mul_(30.0)  # clear routing decisions
    check_swap(model, tmp_path)


def test_llama4_vision_language_block_swap(tmp_path):
    # Llama-4 as released: its text model under model.language_model.model,
    # configured by text_config. transformers' own forward of this class
    # needs images, so the swapped block is compared with the original on
    # hidden states directly: [T, H] rows and the router logits.
    text = dict(COMMON, num_hidden_layers=2, hidden_size=16,
                intermediate_size=12, intermediate_size_mlp=24,
                num_local_experts=8, num_experts_per_tok=1,
                interleave_moe_layer_step=2, head_dim=8)
    vision = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                  intermediate_size=16, image_size=8, patch_size=4,
                  vision_output_dim=16, projector_input_dim=16,
                  projector_output_dim=16)
    config = T.Llama4Config(text_config=text, vision_config=vision)
    torch.manual_seed(7)
    model = T.Llama4ForConditionalGeneration(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("router.weight"):
                p.mul_(30.0)  # clear routing decisions
    x = torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(1))
    block = model.language_model.model.layers[1].feed_forward
    with torch.no_grad():
        want, want_logits = block(x)
    moec.transformers.compile_moe(model, output_dir=tmp_path, threads=2)
    swapped = [n for n, m in model.named_modules()
               if isinstance(m, moec.transformers.CompiledMoeBlock)]
    assert swapped == ["language_model.model.layers.1.feed_forward"]
    with torch.no_grad():
        got, got_logits = model.language_model.model.layers[1].feed_forward(x)
    assert got.shape == want.shape == (10, 16)
    assert rel_l2(got, want) <= 1e-5
    assert torch.equal(got_logits, want_logits)


def check_swap(model, tmp_path):
    """compile_moe swaps every MoE block; generation gives the same greedy
    tokens, and logits within LOGITS_TOL."""
    ids = torch.randint(2, COMMON["vocab_size"], (2, 7),
                        generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        want_tokens = model.generate(ids, max_new_tokens=NEW_TOKENS,
                                     do_sample=False)
        want_logits = model(want_tokens).logits
        keys = list(model.state_dict())

    moec.transformers.compile_moe(model, output_dir=tmp_path, threads=2)
    swapped = [n for n, m in model.named_modules()
               if isinstance(m, moec.transformers.CompiledMoeBlock)]
    moe = [i for i, _, _ in moec.transformers.moe_blocks(model)]
    assert swapped and len(swapped) == len(moe), (swapped, moe)
    assert list(model.state_dict()) == keys

    with torch.no_grad():
        got_tokens = model.generate(ids, max_new_tokens=NEW_TOKENS,
                                    do_sample=False)
        got_logits = model(want_tokens).logits
    assert torch.equal(got_tokens, want_tokens)
    assert rel_l2(got_logits, want_logits) <= LOGITS_TOL


def test_weights_are_the_models_own(tmp_path):
    """The session binds the model's tensors, not copies. With packed
    weights (the default) the first call packs the experts and later calls
    read that copy, until rebind(); the router is read in place."""
    model = build("qwen3_moe")
    block = model.model.layers[0].mlp
    x = torch.randn(1, 5, 20, generator=torch.Generator().manual_seed(1))
    moec.transformers.compile_moe(model, output_dir=tmp_path, threads=1)
    compiled = model.model.layers[0].mlp
    assert compiled.experts.down_proj.data_ptr() == \
        block.experts.down_proj.data_ptr()
    with torch.no_grad():
        before = compiled(x)
        block.experts.down_proj.mul_(-2.0)
        want = block(x)
        assert rel_l2(compiled(x), before) <= 1e-6   # the packed copy
        moec.transformers.rebind(model)
        assert rel_l2(compiled(x), want) <= 1e-5


def test_unpacked_weights_are_read_in_place(tmp_path):
    model = build("qwen3_moe")
    block = model.model.layers[0].mlp
    x = torch.randn(1, 5, 20, generator=torch.Generator().manual_seed(1))
    moec.transformers.compile_moe(model, output_dir=tmp_path, threads=1,
                                  pack_weights=False)
    compiled = model.model.layers[0].mlp
    with torch.no_grad():
        compiled(x)
        block.experts.down_proj.mul_(-2.0)
        assert rel_l2(compiled(x), block(x)) <= 1e-5


def test_rebind_needs_compiled_layers():
    with pytest.raises(moec.FailedPreconditionError, match="compile_moe"):
        moec.transformers.rebind(build("olmoe"))


def test_unsupported_blocks_are_left_alone(tmp_path):
    # GELU experts: transformers runs them; the importer compiles SwiGLU.
    model = build("mixtral")
    model.config.hidden_act = "gelu"
    blocks = [m for _, _, m in moec.transformers.moe_blocks(model)]
    with pytest.warns(UserWarning, match=r"mixtral blocks are left as they "
                      r"are \(model.layers.0.mlp, model.layers.1.mlp\): "
                      r".*'hidden_act' is 'gelu'"):
        moec.transformers.compile_moe(model, output_dir=tmp_path)
    assert [m for _, _, m in moec.transformers.moe_blocks(model)] == blocks


def test_dtypes_moec_does_not_compile_are_left_alone(tmp_path):
    # float64: refused by the importer; an integer tensor: by the package.
    model = build("olmoe").double()
    with pytest.warns(UserWarning, match=r"olmoe blocks are left as they are"
                      r" .*has dtype F64"):
        moec.transformers.compile_moe(model, output_dir=tmp_path / "f64")
    model = build("deepseek_v3")
    block = model.model.layers[1].mlp
    block.gate.e_score_correction_bias = torch.zeros(16, dtype=torch.int64)
    with pytest.warns(UserWarning, match=r"deepseek_v3 blocks are left as "
                      r"they are .*e_score_correction_bias is torch.int64"):
        moec.transformers.compile_moe(model, output_dir=tmp_path / "int")
    assert model.model.layers[1].mlp is block


def test_model_without_moe_blocks(tmp_path):
    model = torch.nn.Linear(4, 4)
    with pytest.warns(UserWarning, match="no MoE block found in Linear"):
        assert moec.transformers.compile_moe(model) is model


def test_compiling_twice_keeps_the_swap(tmp_path):
    model = build("olmoe")
    moec.transformers.compile_moe(model, output_dir=tmp_path / "a")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        moec.transformers.compile_moe(model, output_dir=tmp_path / "b")
    x = torch.randn(1, 3, 16)
    with torch.no_grad():
        y = model.model.layers[0].mlp(x)
    assert y.shape == x.shape and np.isfinite(y.numpy()).all()


# bf16 models: the compiled layers take bf16 hidden states and weights and
# accumulate in f32, transformers' blocks compute in bf16; each rounds
# differently, so the logits are compared at bf16's tolerance (measured:
# 3.9e-3 to 8.1e-3). The families whose tiny shapes transformers' bf16
# grouped GEMM accepts (it needs 16-byte strides).
BF16_LOGITS_TOL = 2e-2


@pytest.mark.parametrize("family", ["deepseek_v2", "deepseek_v3", "olmoe"])
def test_bf16_swap(family, tmp_path):
    model = build(family).to(torch.bfloat16)
    ids = torch.randint(2, COMMON["vocab_size"], (2, 7),
                        generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        want = model(ids).logits.float()
    moec.transformers.compile_moe(model, output_dir=tmp_path, threads=2)
    assert isinstance(model.model.layers[1].mlp,
                      moec.transformers.CompiledMoeBlock)
    with torch.no_grad():
        got = model(ids).logits
    assert got.dtype == torch.bfloat16
    assert rel_l2(got.float(), want) <= BF16_LOGITS_TOL
