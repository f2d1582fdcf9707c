//===- DeepseekFamilies.cpp - DeepSeek-V2/V3 and the families like V3 ----===//
//
// DeepSeek-V2 (softmax, greedy or group-limited), and the families whose
// MoE block transformers writes as DeepSeek-V3's: a router held in f32,
// sigmoid scores, e_score_correction_bias for selection only, group-limited
// top-k with top-2-sum group scores, optional renormalization, a routed
// scaling factor, and shared experts added unscaled. They differ in their
// keys and defaults only (each config class's, transformers 5.24), but for
// Mistral 4, whose router is V3's with softmax scores, no correction bias
// and its weight in the model's dtype.
//
//===----------------------------------------------------------------------===//
#include "importers/hf/FamilyConfig.h"

#include <algorithm>

using namespace moe;
using namespace moe::hf;
using namespace moe::hf::family;
using mlir::moe::GroupScoreFunc;
using mlir::moe::ScoringFunc;

namespace {

struct Flavor {
  /// DeepSeek-V2: softmax scores, topk_method greedy or
  /// group_limited_greedy (max per group), no renormalization.
  bool v2 = false;
  /// The shared-expert count and its default (-1: required).
  const char *sharedKey = "n_shared_experts";
  int64_t sharedDefault = 1;
  /// Which layers are MoE: `mlp_layer_types` where read and set, else
  /// i >= first_k_dense_replace, with this default (-1: the key is not
  /// read, and the first layer alone is dense).
  bool layerTypes = false;
  int64_t firstDense = 0;
  double scale = 1.0;
  int64_t nGroup = 1, topkGroup = 1;
  bool norm = true;
  /// topk_method is checked (V2: greedy or group_limited_greedy; V3:
  /// noaux_tc, the only routing transformers runs).
  bool method = false;
  /// The correction bias is stored as `mlp.e_score_correction_bias`
  /// (EXAONE MoE; transformers moves it under the gate on load).
  bool biasOnMlp = false;
  /// Mistral 4: softmax scores, no correction bias, the router weight in
  /// the model's dtype (not kept in f32).
  bool softmax = false;
  /// No shared experts (MiMo-V2-Flash).
  bool noShared = false;
  /// The keys of the group count and of renormalization (Kimi Linear
  /// writes its own names).
  const char *nGroupKey = "n_group";
  const char *normKey = "norm_topk_prob";
  /// The block is stored under `block_sparse_moe.` with experts
  /// w1/w3/w2 where the checkpoint has it (Kimi Linear as saved).
  bool blockSparseMoe = false;
};

Flavor flavorOf(const std::string &type) {
  Flavor f;
  if (type == "deepseek_v2") {
    f.v2 = true;
    f.sharedDefault = 2;
    f.norm = false;
    f.method = true;
  } else if (type == "deepseek_v3" || type == "deepseek_v32") {
    f.layerTypes = type == "deepseek_v32";
    f.firstDense = 3;
    f.scale = 2.5;
    f.nGroup = 8;
    f.topkGroup = 4;
    f.method = type == "deepseek_v3";
  } else if (type == "glm4_moe") {
    f.firstDense = 1;
  } else if (type == "glm4_moe_lite") {
    f.layerTypes = true;
    f.firstDense = -1;
    f.scale = 1.8;
  } else if (type == "dots1") {
    f.sharedDefault = -1;
    f.norm = false;
  } else if (type == "glm_moe_dsa") {
    f.layerTypes = true;
    f.firstDense = 3;
    f.scale = 2.5;
  } else if (type == "glm4v_moe" || type == "glm4v_moe_text") {
    f.firstDense = 1;
  } else if (type == "mimo_v2_flash") {
    f.noShared = true;
    f.layerTypes = true;
    f.firstDense = -1;
  } else if (type == "kimi_linear") {
    f.layerTypes = true;
    f.firstDense = 1;
    f.scale = 2.446;
    f.sharedKey = "num_shared_experts";
    f.nGroupKey = "num_expert_group";
    f.normKey = "moe_renormalize";
    f.blockSparseMoe = true;
  } else if (type == "mistral4") {
    f.softmax = true;
  } else if (type == "solar_open") {
    // Every layer is MoE; the defaults of Flavor.
  } else { // exaone_moe
    f.sharedKey = "num_shared_experts";
    f.layerTypes = true;
    f.firstDense = 1;
    f.scale = 2.5;
    f.biasOnMlp = true;
  }
  return f;
}

/// Whether each layer is MoE, as the family's config class decides it.
std::vector<bool> moeLayers(Config &cfg, const Flavor &f, int64_t layers) {
  if (f.layerTypes)
    if (std::optional<std::vector<bool>> sparse = cfg.sparseLayers(layers))
      return *sparse;
  std::vector<bool> moe(layers, false);
  int64_t first =
      f.firstDense < 0 ? 1 : cfg.integer("first_k_dense_replace", f.firstDense);
  for (int64_t i = std::max<int64_t>(first, 0); i < layers; ++i)
    moe[i] = true;
  return moe;
}

} // namespace

std::string family::deepseekLike(const Checkpoint &ckpt, Config &cfg,
                                 const Common &c, const std::string &type,
                                 std::vector<LayerPlan> &out) {
  Flavor f = flavorOf(type);
  int64_t I = cfg.width("moe_intermediate_size");
  int64_t shared = f.noShared ? 0
                              : cfg.sharedCount(f.sharedKey, f.sharedDefault, I,
                                                "moe_intermediate_size");
  double scale = cfg.number("routed_scaling_factor", f.scale);
  int64_t nGroup = cfg.integer(f.nGroupKey, f.nGroup);
  int64_t topkGroup = cfg.integer("topk_group", f.topkGroup);
  bool norm = !f.v2 && cfg.boolean(f.normKey, f.norm);
  std::string method;
  if (f.method)
    method = cfg.string("topk_method", f.v2 ? "greedy" : "noaux_tc");
  // DeepseekV3MoE always routes as noaux_tc (sigmoid scores, the
  // correction bias, group-limited top-k) and ignores the key; another
  // value says the checkpoint expects a routing it will not get.
  if (f.method && !f.v2)
    cfg.require(method == "noaux_tc", "unsupported topk_method '" + method +
                                          "' (DeepSeek-V3 routes with "
                                          "noaux_tc)");
  if (f.v2) {
    cfg.require(method == "greedy" || method == "group_limited_greedy",
                "unsupported topk_method '" + method +
                    "' (greedy, group_limited_greedy)");
    // DeepseekV2MLP (the shared experts) has biases with mlp_bias.
    cfg.require(!cfg.boolean("mlp_bias", false),
                "'mlp_bias' is true: shared experts with biases are not "
                "supported");
  }
  // transformers does not read moe_layer_freq (DeepSeek's own code does,
  // and the released checkpoints set it to 1).
  std::vector<bool> moe = moeLayers(cfg, f, c.layers);
  // A vision-language model's text layers are under model.language_model.
  // (as transformers saves it) or language_model.model. (Kimi K2.5 as
  // released); a text model's under model.
  std::string base = "model.";
  for (const char *candidate :
       {"model.language_model.", "language_model.model."})
    if (!ckpt.find(layerPrefix(0, base) + "input_layernorm.weight") &&
        ckpt.find(layerPrefix(0, candidate) + "input_layernorm.weight"))
      base = candidate;
  for (int64_t i = 0; i < c.layers && cfg.error.empty(); ++i) {
    if (!moe[i])
      continue;
    LayerPlan p;
    p.layer = i;
    p.prefix = layerPrefix(i, base) + "mlp.";
    bool released =
        f.blockSparseMoe &&
        ckpt.find(layerPrefix(i, base) + "block_sparse_moe.gate.weight");
    if (released)
      p.prefix = layerPrefix(i, base) + "block_sparse_moe.";
    p.k = c.K;
    p.scale = scale;
    if (f.softmax) {
      // Mistral 4: softmax scores, top-2-sum groups, no bias.
      p.renormalize = norm;
      p.nGroup = nGroup;
      p.topkGroup = topkGroup;
      p.groupScore = GroupScoreFunc::top2_sum;
    } else if (!f.v2) {
      p.scoring = ScoringFunc::sigmoid;
      p.renormalize = norm;
      p.nGroup = nGroup;
      p.topkGroup = topkGroup;
      p.groupScore = GroupScoreFunc::top2_sum;
      // EXAONE's is stored under mlp. (named when missing); transformers
      // holds it under the gate.
      std::string bias = p.prefix + "gate.e_score_correction_bias";
      if (f.biasOnMlp)
        bias = storedName(ckpt, {p.prefix + "e_score_correction_bias", bias});
      p.operands["correction_bias"] = f32Tensor(bias, {c.E});
    } else if (method == "group_limited_greedy") {
      // transformers ignores norm_topk_prob for V2: weights are the
      // selected probabilities times the scale.
      p.nGroup = nGroup;
      p.topkGroup = topkGroup;
    }
    p.operands["router_weight"] =
        f.softmax ? tensor(p.prefix + "gate.weight", {c.E, c.H})
                  : f32Tensor(p.prefix + "gate.weight", {c.E, c.H});
    if (released)
      addExperts(ckpt, p, p.prefix + "experts.", "w1.weight", "w3.weight",
                 "w2.weight", c.E, I, c.H);
    else
      addExperts(ckpt, p, p.prefix + "experts.", "gate_proj.weight",
                 "up_proj.weight", "down_proj.weight", c.E, I, c.H);
    if (shared > 0)
      addSharedExpert(p, p.prefix + "shared_experts.", shared * I, c.H);
    out.push_back(std::move(p));
  }
  return cfg.error;
}
