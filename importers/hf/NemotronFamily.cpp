//===- NemotronFamily.cpp - Nemotron-H's config.json to layer plans -------===//
//
// Nemotron-H (Nemotron 3 Nano): hybrid Mamba-2 / attention / MLP / MoE
// layers named by their kinds, squared-ReLU experts without a gate and a
// plain shared expert, routed as DeepSeek-V3 (transformers 5.24's
// NemotronHMoE).
//
//===----------------------------------------------------------------------===//
#include "importers/hf/FamilyConfig.h"

#include <map>

using namespace moe;
using namespace moe::hf;
using namespace moe::hf::family;
using mlir::moe::ActivationKind;
using mlir::moe::GroupScoreFunc;
using mlir::moe::ScoringFunc;

/// Nemotron-H's layer kinds, one flag per layer (true for MoE), from
/// `layers_block_type` (transformers' names "moe", "mlp", "full_attention",
/// "linear_attention", or the legacy "mamba" and "attention"), else from
/// `hybrid_override_pattern` (one character per layer: E, -, *, M, as
/// released), else transformers' default of four layers, the second MoE.
/// Other entries are an error.
std::vector<bool> family::nemotronMoeLayers(Config &cfg) {
  std::vector<bool> moe;
  if (cfg.has("layers_block_type")) {
    for (const std::string &kind : cfg.strings("layers_block_type")) {
      cfg.require(kind == "moe" || kind == "mlp" || kind == "full_attention" ||
                      kind == "linear_attention" || kind == "mamba" ||
                      kind == "attention",
                  "'" + cfg.key("layers_block_type") + "' holds '" + kind +
                      "' (moe, mlp, full_attention, linear_attention)");
      moe.push_back(kind == "moe");
    }
  } else if (cfg.has("hybrid_override_pattern")) {
    for (char kind : cfg.string("hybrid_override_pattern", "")) {
      cfg.require(kind == 'E' || kind == '-' || kind == '*' || kind == 'M',
                  "'" + cfg.key("hybrid_override_pattern") + "' holds '" +
                      std::string(1, kind) + "' (E, -, *, M)");
      moe.push_back(kind == 'E');
    }
  } else {
    moe = {false, true, false, false};
  }
  cfg.require(!moe.empty(), "'" + cfg.key("layers_block_type") +
                                "' (or 'hybrid_override_pattern') is empty");
  return moe;
}

/// Nemotron-H (Nemotron 3): MoE blocks on the layers `moe` marks
/// (nemotronMoeLayers), under `backbone.layers.N.mixer.` as released (or
/// transformers' `model.layers.N.mixer.`): router `gate.weight` and its
/// `gate.e_score_correction_bias` (both f32); experts without a gate,
/// `experts.{e}.up_proj` [I, H] and `down_proj` [H, I] (or fused as
/// transformers holds them); a shared expert `shared_experts.up_proj` and
/// `down_proj`, `moe_shared_expert_intermediate_size` wide; both of
/// ACT2FN[mlp_hidden_act] (relu2 by default). Routed as DeepSeek-V3, with
/// 1e-20 added to the sum the weights are divided by.
std::string family::nemotronH(const Checkpoint &ckpt, Config &cfg,
                              const Common &c, const std::vector<bool> &moe,
                              std::vector<LayerPlan> &out) {
  int64_t I = cfg.width("moe_intermediate_size");
  int64_t S = cfg.width("moe_shared_expert_intermediate_size");
  std::string act = cfg.string("mlp_hidden_act", "relu2");
  static const std::map<std::string, ActivationKind> kinds = {
      {"relu2", ActivationKind::relu2},
      {"relu", ActivationKind::relu},
      {"silu", ActivationKind::silu},
      {"swish", ActivationKind::silu},
      {"gelu", ActivationKind::gelu},
      {"gelu_pytorch_tanh", ActivationKind::gelu_tanh},
      {"gelu_new", ActivationKind::gelu_tanh}};
  auto kind = kinds.find(act);
  cfg.require(kind != kinds.end(),
              "'" + cfg.key("mlp_hidden_act") + "' is '" + act +
                  "' (relu2, relu, silu, gelu, gelu_pytorch_tanh)");
  // The latent projections around the experts (H -> L -> H) are dense
  // layers moe.layer does not hold.
  cfg.require(!cfg.has("moe_latent_size"),
              "'" + cfg.key("moe_latent_size") +
                  "' is set: latent projections around the experts are not "
                  "supported");
  cfg.require(!cfg.boolean("mlp_bias", false),
              "'" + cfg.key("mlp_bias") +
                  "' is true: shared experts with biases are not supported");
  bool norm = cfg.boolean("norm_topk_prob", true);
  double scale = cfg.number("routed_scaling_factor", 1.0);
  int64_t nGroup = cfg.integer("n_group", 1);
  int64_t topkGroup = cfg.integer("topk_group", 1);
  for (int64_t i = 0; i < c.layers && cfg.error.empty(); ++i) {
    if (!moe[i])
      continue;
    LayerPlan p;
    p.layer = i;
    std::string released = layerPrefix(i, "backbone.") + "mixer.";
    p.prefix = ckpt.find(released + "gate.weight") ||
                       !ckpt.find(layerPrefix(i) + "mixer.gate.weight")
                   ? released
                   : layerPrefix(i) + "mixer.";
    p.k = c.K;
    p.scoring = ScoringFunc::sigmoid;
    p.renormalize = norm;
    p.renormEpsilon = norm ? 1e-20 : 0.0;
    p.scale = scale;
    p.nGroup = nGroup;
    p.topkGroup = topkGroup;
    p.groupScore = GroupScoreFunc::top2_sum;
    p.activation = kind->second;
    p.operands["router_weight"] =
        f32Tensor(p.prefix + "gate.weight", {c.E, c.H});
    p.operands["correction_bias"] =
        f32Tensor(p.prefix + "gate.e_score_correction_bias", {c.E});
    std::string experts = p.prefix + "experts.";
    if (ckpt.find(experts + "up_proj")) {
      p.operands["up"] = tensor(experts + "up_proj", {c.E, I, c.H});
      p.operands["down"] = tensor(experts + "down_proj", {c.E, c.H, I});
    } else {
      p.operands["up"] = stacked(experts, "up_proj.weight", c.E, {I, c.H});
      p.operands["down"] = stacked(experts, "down_proj.weight", c.E, {c.H, I});
    }
    if (S > 0) {
      std::string shared = p.prefix + "shared_experts.";
      p.operands["shared_up"] = tensor(shared + "up_proj.weight", {S, c.H});
      p.operands["shared_down"] = tensor(shared + "down_proj.weight", {c.H, S});
    }
    out.push_back(std::move(p));
  }
  return cfg.error;
}
