//===- Families.cpp - config.json of each MoE family to layer plans -------===//
//
// One reader per model_type, following transformers' modeling code (the
// family table of docs/Importing.md): which
// config keys hold the expert count, top-k and widths, which layers are
// MoE, the tensor names of router, experts and shared experts, and the
// routing recipe. Missing optional keys take the defaults of the family's
// transformers config class. DeepSeek and the families routed like
// DeepSeek-V3 are in DeepseekFamilies.cpp, Nemotron-H in NemotronFamily.cpp.
//
//===----------------------------------------------------------------------===//
#include "importers/hf/FamilyConfig.h"

#include <algorithm>
#include <cmath>
#include <sstream>

using namespace moe;
using namespace moe::hf;
using namespace moe::hf::family;
using mlir::moe::GateUpLayout;
using mlir::moe::RoutingOrder;
using mlir::moe::ScoringFunc;

namespace {

/// An MXFP4 weight of `shape` [..., N, K] stored as transformers writes
/// gpt-oss's: `<base>_blocks` (the e2m1 codes) and `<base>_scales`.
WeightSource mxfp4Tensor(const std::string &base, std::vector<int64_t> shape) {
  WeightSource s = tensor(base + "_blocks", std::move(shape));
  s.mxScales = base + "_scales";
  return s;
}

/// Mixtral, MiniMax-Text-01 (`minimax`, routed as Mixtral), and MiniMax-M2
/// (sigmoid scores, e_score_correction_bias for selection, renormalized):
/// the block under `block_sparse_moe.` with
/// experts w1/w3/w2 as released, or under `mlp.` with transformers'
/// in-memory names.
std::string mixtralLike(const Checkpoint &ckpt, Config &cfg, const Common &c,
                        bool minimax, std::vector<LayerPlan> &out) {
  int64_t I = cfg.width("intermediate_size");
  for (int64_t i = 0; i < c.layers && cfg.error.empty(); ++i) {
    LayerPlan p;
    p.layer = i;
    // Released checkpoints name the block `block_sparse_moe`; transformers
    // renames it to `mlp` on load and also reads checkpoints that already
    // use its in-memory names (`mlp.gate`, `mlp.experts.gate_up_proj`).
    p.prefix = layerPrefix(i) + "block_sparse_moe.";
    if (!ckpt.find(p.prefix + "gate.weight") &&
        ckpt.find(layerPrefix(i) + "mlp.gate.weight"))
      p.prefix = layerPrefix(i) + "mlp.";
    p.k = c.K;
    p.renormalize = true;
    p.operands["router_weight"] = tensor(p.prefix + "gate.weight", {c.E, c.H});
    if (minimax) {
      // MiniMaxM2SparseMoeBlock's buffer, held in the declared dtype.
      p.scoring = ScoringFunc::sigmoid;
      p.operands["correction_bias"] =
          tensor(p.prefix + "e_score_correction_bias", {c.E});
    }
    addExperts(ckpt, p, p.prefix + "experts.", "w1.weight", "w3.weight",
               "w2.weight", c.E, I, c.H);
    out.push_back(std::move(p));
  }
  return cfg.error;
}

/// Phi-3.5-MoE: Mixtral's tensors (`block_sparse_moe.gate`, experts
/// w1/w3/w2 as released; transformers' in-memory `mlp.router` and fused
/// `mlp.experts.gate_up_proj`), routed by sparsemixer. transformers'
/// sparsemixer picks 2 experts whatever num_experts_per_tok says, masks at
/// router_jitter_noise (used at inference too), and does not renormalize.
std::string phimoe(const Checkpoint &ckpt, Config &cfg, const Common &c,
                   std::vector<LayerPlan> &out) {
  int64_t I = cfg.width("intermediate_size");
  double eps = cfg.number("router_jitter_noise", 0.01);
  cfg.require(std::isfinite(eps) && eps >= 0.0,
              "'" + cfg.key("router_jitter_noise") +
                  "' must be finite and >= 0");
  cfg.require(c.E >= 2, "'" + cfg.key("num_local_experts") + "' is " +
                            std::to_string(c.E) +
                            "; sparsemixer picks 2 experts");
  for (int64_t i = 0; i < c.layers && cfg.error.empty(); ++i) {
    LayerPlan p;
    p.layer = i;
    p.prefix = layerPrefix(i) + "block_sparse_moe.";
    std::string router = p.prefix + "gate.weight";
    if (!ckpt.find(router) && ckpt.find(layerPrefix(i) + "mlp.router.weight")) {
      p.prefix = layerPrefix(i) + "mlp.";
      router = p.prefix + "router.weight";
    }
    p.k = 2;
    p.order = RoutingOrder::sparsemixer;
    p.sparsemixerEps = eps;
    p.operands["router_weight"] = tensor(router, {c.E, c.H});
    addExperts(ckpt, p, p.prefix + "experts.", "w1.weight", "w3.weight",
               "w2.weight", c.E, I, c.H);
    out.push_back(std::move(p));
  }
  return cfg.error;
}

/// The Qwen-style families: router `mlp.gate`, experts `mlp.experts.*`,
/// softmax top-k, and for some a shared expert gated by
/// sigmoid(`mlp.shared_expert_gate` · x).
struct QwenFlavor {
  const char *widthKey = "moe_intermediate_size";
  /// norm_topk_prob's default; `alwaysNorm` when the key is not read and
  /// the weights are always renormalized.
  bool normDefault = false, alwaysNorm = false;
  /// decoder_sparse_step and mlp_only_layers are read (else every layer is
  /// MoE).
  bool sparseStep = true;
  bool sharedExpert = false;
  /// The fused experts may be stored transposed, [E, H, 2I] and [E, I, H],
  /// as the released Qwen3-VL-MoE checkpoints hold them.
  bool transposedFused = false;
  /// The MoE layers are the "sparse" entries of mlp_layer_types (every
  /// layer without it; Mellum).
  bool mlpLayerTypes = false;
};

QwenFlavor qwenFlavorOf(const std::string &type) {
  QwenFlavor f;
  if (type == "olmoe" || type == "flex_olmo") {
    f.widthKey = "intermediate_size";
    f.sparseStep = false;
  } else if (type == "qwen2_moe") {
    f.sharedExpert = true;
  } else if (type == "qwen3_next") {
    f.normDefault = true;
    f.sharedExpert = true;
  } else if (type.rfind("qwen3_5_moe", 0) == 0) {
    f.alwaysNorm = true;
    f.sparseStep = false;
    f.sharedExpert = true;
  } else if (type.rfind("qwen3_vl_moe", 0) == 0) {
    f.alwaysNorm = true;
    f.transposedFused = true;
  } else if (type == "mellum") {
    f.normDefault = true;
    f.sparseStep = false;
    f.mlpLayerTypes = true;
  }
  return f;
}

std::string qwenLike(const Checkpoint &ckpt, Config &cfg, const Common &c,
                     const std::string &type, std::vector<LayerPlan> &out) {
  QwenFlavor f = qwenFlavorOf(type);
  int64_t I = cfg.width(f.widthKey);
  bool norm = f.alwaysNorm || cfg.boolean("norm_topk_prob", f.normDefault);
  int64_t step = f.sparseStep ? cfg.integer("decoder_sparse_step", 1) : 1;
  std::vector<int64_t> mlpOnly =
      f.sparseStep ? cfg.integers("mlp_only_layers") : std::vector<int64_t>();
  int64_t Is =
      f.sharedExpert ? cfg.width("shared_expert_intermediate_size") : 0;
  cfg.require(step >= 1,
              "'" + cfg.key("decoder_sparse_step") + "' must be >= 1");
  std::optional<std::vector<bool>> sparse =
      f.mlpLayerTypes ? cfg.sparseLayers(c.layers) : std::nullopt;
  // A vision-language model's text layers are under model.language_model.
  // (as its ForConditionalGeneration class writes them), a text model's
  // under model.
  std::string base = "model.";
  if (!ckpt.find(layerPrefix(0) + "input_layernorm.weight") &&
      ckpt.find(layerPrefix(0, "model.language_model.") +
                "input_layernorm.weight"))
    base = "model.language_model.";
  for (int64_t i = 0; i < c.layers && cfg.error.empty(); ++i) {
    bool moe = (i + 1) % step == 0 &&
               std::find(mlpOnly.begin(), mlpOnly.end(), i) == mlpOnly.end() &&
               (!sparse || (*sparse)[i]);
    if (!moe)
      continue;
    LayerPlan p;
    p.layer = i;
    p.prefix = layerPrefix(i, base) + "mlp.";
    p.k = c.K;
    p.renormalize = norm;
    p.operands["router_weight"] = tensor(p.prefix + "gate.weight", {c.E, c.H});
    std::string experts = p.prefix + "experts.";
    std::optional<TensorRef> fused = ckpt.find(experts + "gate_up_proj");
    if (f.transposedFused && fused &&
        fused->info->shape != std::vector<int64_t>{c.E, 2 * I, c.H} &&
        fused->info->shape == std::vector<int64_t>{c.E, c.H, 2 * I}) {
      // transformers transposes them on load where the shape says so.
      p.operands["gate_up"] =
          tensor(experts + "gate_up_proj", {c.E, 2 * I, c.H}, true);
      p.operands["down"] = tensor(experts + "down_proj", {c.E, c.H, I}, true);
      p.layout = GateUpLayout::concatenated;
    } else {
      addExperts(ckpt, p, experts, "gate_proj.weight", "up_proj.weight",
                 "down_proj.weight", c.E, I, c.H);
    }
    if (Is > 0) {
      addSharedExpert(p, p.prefix + "shared_expert.", Is, c.H);
      p.operands["shared_expert_gate"] =
          tensor(p.prefix + "shared_expert_gate.weight", {1, c.H});
    }
    out.push_back(std::move(p));
  }
  return cfg.error;
}

/// LFM2-MoE: MoE blocks from num_dense_layers on, under `feed_forward.`:
/// router `gate`, experts w1/w3/w2, sigmoid scores, `expert_bias` (held
/// in f32) for selection where use_expert_bias, renormalized with 1e-6
/// added to the sum where norm_topk_prob, times routed_scaling_factor.
std::string lfm2(const Checkpoint &ckpt, Config &cfg, const Common &c,
                 std::vector<LayerPlan> &out) {
  int64_t I = cfg.width("moe_intermediate_size");
  int64_t dense = cfg.integer("num_dense_layers", 2);
  bool bias = cfg.boolean("use_expert_bias", true);
  bool norm = cfg.boolean("norm_topk_prob", true);
  double scale = cfg.number("routed_scaling_factor", 1.0);
  cfg.require(dense >= 0, "'num_dense_layers' must be >= 0");
  for (int64_t i = std::max<int64_t>(dense, 0);
       i < c.layers && cfg.error.empty(); ++i) {
    LayerPlan p;
    p.layer = i;
    p.prefix = layerPrefix(i) + "feed_forward.";
    p.k = c.K;
    p.scoring = ScoringFunc::sigmoid;
    p.renormalize = norm;
    p.renormEpsilon = norm ? 1e-6 : 0.0;
    p.scale = scale;
    p.operands["router_weight"] = tensor(p.prefix + "gate.weight", {c.E, c.H});
    if (bias)
      p.operands["correction_bias"] =
          f32Tensor(p.prefix + "expert_bias", {c.E});
    addExperts(ckpt, p, p.prefix + "experts.", "w1.weight", "w3.weight",
               "w2.weight", c.E, I, c.H);
    out.push_back(std::move(p));
  }
  return cfg.error;
}

/// Jamba: MoE blocks on the layers i with i % expert_layer_period ==
/// expert_layer_offset (the others, Mamba or attention, have a dense
/// MLP), under `feed_forward.`: router `router.weight`, experts
/// gate_proj/up_proj/down_proj (or transformers' fused in-memory ones);
/// softmax over all experts, top-k, not renormalized.
std::string jamba(const Checkpoint &ckpt, Config &cfg, const Common &c,
                  std::vector<LayerPlan> &out) {
  int64_t I = cfg.width("intermediate_size");
  int64_t period = cfg.integer("expert_layer_period", 2);
  int64_t offset = cfg.integer("expert_layer_offset", 1);
  cfg.require(period >= 1 && offset >= 0 && offset < period,
              "'" + cfg.key("expert_layer_offset") + "' must be in [0, '" +
                  cfg.key("expert_layer_period") + "')");
  for (int64_t i = 0; i < c.layers && cfg.error.empty(); ++i) {
    if (i % period != offset)
      continue;
    LayerPlan p;
    p.layer = i;
    p.prefix = layerPrefix(i) + "feed_forward.";
    p.k = c.K;
    p.operands["router_weight"] =
        tensor(p.prefix + "router.weight", {c.E, c.H});
    addExperts(ckpt, p, p.prefix + "experts.", "gate_proj.weight",
               "up_proj.weight", "down_proj.weight", c.E, I, c.H);
    out.push_back(std::move(p));
  }
  return cfg.error;
}

/// AFMoE (Trinity) and Hunyuan 3 (`hy_v3`): sigmoid scores, a correction
/// bias (f32) for selection, top-k, always renormalized, times a scale
/// (`route_scale`, `router_scaling_factor`), plus shared experts
/// `num_shared_experts` × `moe_intermediate_size` wide. AFMoE's router is
/// `mlp.router.gate` (in the model's dtype) and its bias `mlp.expert_bias`,
/// from layer `num_dense_layers` on; Hunyuan 3 saves its router (f32) and
/// bias under those names too, and shared experts as `mlp.shared_mlp`,
/// which transformers holds as `mlp.gate`, `mlp.e_score_correction_bias`
/// and `mlp.shared_experts`; its MoE layers are the sparse entries of
/// `mlp_layer_types` (all but the first without it).
std::string sigmoidRouted(const Checkpoint &ckpt, Config &cfg, const Common &c,
                          const std::string &type,
                          std::vector<LayerPlan> &out) {
  bool hy = type == "hy_v3";
  int64_t I = cfg.width("moe_intermediate_size");
  int64_t shared = cfg.sharedCount("num_shared_experts", hy ? 1 : 2, I,
                                   "moe_intermediate_size");
  double scale = hy ? cfg.number("router_scaling_factor", 2.826)
                    : cfg.number("route_scale", 1.0);
  std::vector<bool> moe(c.layers, true);
  if (hy) {
    std::optional<std::vector<bool>> sparse = cfg.sparseLayers(c.layers);
    for (int64_t i = 0; i < c.layers; ++i)
      moe[i] = sparse ? (*sparse)[i] : i >= 1;
  } else {
    int64_t dense = cfg.integer("num_dense_layers", 1);
    cfg.require(dense >= 0,
                "'" + cfg.key("num_dense_layers") + "' must be >= 0");
    for (int64_t i = 0; i < c.layers; ++i)
      moe[i] = i >= dense;
  }
  for (int64_t i = 0; i < c.layers && cfg.error.empty(); ++i) {
    if (!moe[i])
      continue;
    LayerPlan p;
    p.layer = i;
    p.prefix = layerPrefix(i) + "mlp.";
    p.k = c.K;
    p.scoring = ScoringFunc::sigmoid;
    p.renormalize = true;
    p.scale = scale;
    std::string router = p.prefix + "router.gate.weight";
    std::string bias = p.prefix + "expert_bias";
    std::string sharedPrefix = p.prefix + "shared_experts.";
    if (hy) {
      router = storedName(ckpt, {router, p.prefix + "gate.weight"});
      bias = storedName(ckpt, {bias, p.prefix + "e_score_correction_bias"});
      if (ckpt.find(p.prefix + "shared_mlp.gate_proj.weight"))
        sharedPrefix = p.prefix + "shared_mlp.";
    }
    p.operands["router_weight"] =
        hy ? f32Tensor(router, {c.E, c.H}) : tensor(router, {c.E, c.H});
    p.operands["correction_bias"] = f32Tensor(bias, {c.E});
    addExperts(ckpt, p, p.prefix + "experts.", "gate_proj.weight",
               "up_proj.weight", "down_proj.weight", c.E, I, c.H);
    if (shared > 0)
      addSharedExpert(p, sharedPrefix, shared * I, c.H);
    out.push_back(std::move(p));
  }
  return cfg.error;
}

/// Granite MoE: fused experts `block_sparse_moe.input_linear` [E, 2I, H]
/// (gate rows first) and `output_linear` [E, H, I], router
/// `block_sparse_moe.router.layer` as released, or as transformers names
/// them in memory, `experts.gate_up_proj`, `experts.down_proj` and
/// `router`; softmax over the top-k logits. GraniteMoeShared and
/// GraniteMoeHybrid (Granite 4.0, whose layers are Mamba-2 or attention,
/// each with the MoE block) add the layer's `shared_mlp`, a sibling of the
/// block the decoder layer sums with it: gate and up in one
/// `input_linear` [2S, H] (gate rows first), `output_linear` [H, S], S =
/// `shared_intermediate_size` (0: none; defaults 0 and 1024).
std::string granite(const Checkpoint &ckpt, Config &cfg, const Common &c,
                    const std::string &type, std::vector<LayerPlan> &out) {
  int64_t I = cfg.width("intermediate_size");
  int64_t S = type == "granitemoe" ? 0
              : cfg.has("shared_intermediate_size")
                  ? cfg.width("shared_intermediate_size")
                  : (type == "granitemoehybrid" ? 1024 : 0);
  for (int64_t i = 0; i < c.layers && cfg.error.empty(); ++i) {
    LayerPlan p;
    p.layer = i;
    p.prefix = layerPrefix(i) + "block_sparse_moe.";
    p.k = c.K;
    p.order = RoutingOrder::topk_then_score;
    bool inMemory = !ckpt.find(p.prefix + "router.layer.weight") &&
                    ckpt.find(p.prefix + "router.weight");
    p.operands["router_weight"] =
        tensor(p.prefix + (inMemory ? "router.weight" : "router.layer.weight"),
               {c.E, c.H});
    p.operands["gate_up"] = tensor(
        p.prefix + (inMemory ? "experts.gate_up_proj" : "input_linear.weight"),
        {c.E, 2 * I, c.H});
    p.operands["down"] = tensor(
        p.prefix + (inMemory ? "experts.down_proj" : "output_linear.weight"),
        {c.E, c.H, I});
    p.layout = GateUpLayout::concatenated;
    if (S > 0) {
      std::string shared = layerPrefix(i) + "shared_mlp.";
      p.operands["shared_gate_up"] =
          tensor(shared + "input_linear.weight", {2 * S, c.H});
      p.operands["shared_down"] =
          tensor(shared + "output_linear.weight", {c.H, S});
    }
    out.push_back(std::move(p));
  }
  return cfg.error;
}

/// Hunyuan-MoE: router `mlp.gate.wg` (held in f32), softmax, top-k
/// (`moe_topk`, one value or one per layer), renormalized; experts and the
/// always-added `mlp.shared_mlp` are `intermediate_size` wide.
std::string hunyuan(const Checkpoint &ckpt, Config &cfg, const Common &c,
                    const std::vector<int64_t> &topk,
                    std::vector<LayerPlan> &out) {
  int64_t I = cfg.width("intermediate_size");
  for (int64_t i = 0; i < c.layers && cfg.error.empty(); ++i) {
    LayerPlan p;
    p.layer = i;
    p.prefix = layerPrefix(i) + "mlp.";
    p.k = topk.empty() ? c.K : topk[i];
    p.renormalize = true;
    p.operands["router_weight"] =
        f32Tensor(p.prefix + "gate.wg.weight", {c.E, c.H});
    addExperts(ckpt, p, p.prefix + "experts.", "gate_proj.weight",
               "up_proj.weight", "down_proj.weight", c.E, I, c.H);
    addSharedExpert(p, p.prefix + "shared_mlp.", I, c.H);
    out.push_back(std::move(p));
  }
  return cfg.error;
}

/// ERNIE 4.5 MoE: router `mlp.gate` (held in f32), softmax, top-k of the
/// probabilities plus `mlp.moe_statics.e_score_correction_bias` [1, E],
/// renormalized; shared experts added; MoE layers i in [start, end] with
/// (i + 1) % interval == 0.
std::string ernie(const Checkpoint &ckpt, Config &cfg, const Common &c,
                  std::vector<LayerPlan> &out) {
  int64_t I = cfg.width("moe_intermediate_size");
  int64_t shared =
      cfg.sharedCount("moe_num_shared_experts", 2, I, "moe_intermediate_size");
  int64_t start = cfg.integer("moe_layer_start_index", 1);
  int64_t end = cfg.integer("moe_layer_end_index", -1);
  int64_t interval = cfg.integer("moe_layer_interval", 1);
  if (end == -1)
    end = c.layers - 1;
  cfg.require(interval >= 1, "'moe_layer_interval' must be >= 1");
  // use_bias gives the shared experts biases.
  cfg.require(!cfg.boolean("use_bias", false),
              "'use_bias' is true: shared experts with biases are not "
              "supported");
  for (int64_t i = 0; i < c.layers && cfg.error.empty(); ++i) {
    if ((i + 1) % interval != 0 || i < start || i > end)
      continue;
    LayerPlan p;
    p.layer = i;
    p.prefix = layerPrefix(i) + "mlp.";
    p.k = c.K;
    p.renormalize = true;
    p.operands["router_weight"] =
        f32Tensor(p.prefix + "gate.weight", {c.E, c.H});
    // Released and save_pretrained checkpoints hold the bias under
    // mlp.moe_statics; transformers moves it under the gate on load.
    p.operands["correction_bias"] = f32Tensor(
        storedName(ckpt,
                   {p.prefix + "moe_statics.e_score_correction_bias",
                    p.prefix + "gate.moe_statics.e_score_correction_bias"}),
        {c.E});
    addExperts(ckpt, p, p.prefix + "experts.", "gate_proj.weight",
               "up_proj.weight", "down_proj.weight", c.E, I, c.H);
    if (shared > 0)
      addSharedExpert(p, p.prefix + "shared_experts.", shared * I, c.H);
    out.push_back(std::move(p));
  }
  return cfg.error;
}

std::string gptOss(const Checkpoint &ckpt, Config &cfg, const Common &c,
                   std::vector<LayerPlan> &out) {
  int64_t I = cfg.width("intermediate_size");
  double alpha = cfg.number("swiglu_alpha", 1.702);
  double limit = cfg.number("swiglu_limit", 7.0);
  for (int64_t i = 0; i < c.layers && cfg.error.empty(); ++i) {
    LayerPlan p;
    p.layer = i;
    p.prefix = layerPrefix(i) + "mlp.";
    std::string experts = p.prefix + "experts.";
    // The published checkpoints keep the experts in MXFP4 (transformers'
    // Mxfp4HfQuantizer reads them when quantization_config says so).
    bool mx = ckpt.find(experts + "gate_up_proj_blocks") ||
              ckpt.find(experts + "down_proj_blocks");
    if (mx) {
      const json::Value *q = ckpt.config().getObject("quantization_config");
      const std::string *method = q ? q->getString("quant_method") : nullptr;
      cfg.require(method && *method == "mxfp4",
                  "tensor '" + experts +
                      "gate_up_proj_blocks' holds MXFP4 experts, but "
                      "'quantization_config' does not say quant_method "
                      "'mxfp4'");
      cfg.require(c.H % 32 == 0 && I % 32 == 0,
                  "MXFP4 experts need hidden_size (" + std::to_string(c.H) +
                      ") and intermediate_size (" + std::to_string(I) +
                      ") to be multiples of 32, the MXFP4 block");
      if (!cfg.error.empty())
        break;
    }
    p.k = c.K;
    p.order = RoutingOrder::topk_then_score;
    p.alpha = alpha;
    p.beta = 1.0;
    p.limit = limit;
    p.layout = GateUpLayout::interleaved;
    p.operands["router_weight"] =
        tensor(p.prefix + "router.weight", {c.E, c.H});
    p.operands["router_bias"] = tensor(p.prefix + "router.bias", {c.E});
    // transformers stores float experts as used in x @ W: [E, in, out];
    // MXFP4 ones as rows of output features, [E, out, in].
    p.operands["gate_up"] =
        mx ? mxfp4Tensor(experts + "gate_up_proj", {c.E, 2 * I, c.H})
           : tensor(experts + "gate_up_proj", {c.E, 2 * I, c.H}, true);
    p.operands["gate_up_bias"] =
        tensor(experts + "gate_up_proj_bias", {c.E, 2 * I});
    p.operands["down"] =
        mx ? mxfp4Tensor(experts + "down_proj", {c.E, c.H, I})
           : tensor(experts + "down_proj", {c.E, c.H, I}, true);
    p.operands["down_bias"] = tensor(experts + "down_proj_bias", {c.E, c.H});
    out.push_back(std::move(p));
  }
  return cfg.error;
}

/// Llama-4 (`llama4`, configured by its text_config, and `llama4_text`):
/// MoE blocks under `feed_forward.` on the layers of `moe_layers` (else
/// every `interleave_moe_layer_step`-th, from step - 1); router
/// `router.weight`, the top-k logits each through a sigmoid, no
/// renormalization; the weight scales the expert's input
/// (`scale_inputs`); experts fused as used in x @ W, `gate_up_proj`
/// [E, H, 2I] (gate columns first) and `down_proj` [E, I, H], with no
/// `.weight`; a shared expert `shared_expert` as wide as the experts. The
/// layers are under `model.` (Llama4ForCausalLM) or
/// `language_model.model.` (Llama4ForConditionalGeneration, as released).
std::string llama4(const Checkpoint &ckpt, Config &cfg, const Common &c,
                   std::vector<LayerPlan> &out) {
  int64_t I = cfg.width("intermediate_size");
  std::vector<bool> moe(c.layers, false);
  if (cfg.has("moe_layers")) {
    for (int64_t i : cfg.integers("moe_layers")) {
      bool inside = i >= 0 && i < c.layers;
      cfg.require(inside, "'" + cfg.key("moe_layers") + "' holds layer " +
                              std::to_string(i) + ", outside the " +
                              std::to_string(c.layers) + " layers");
      if (inside)
        moe[i] = true;
    }
  } else {
    int64_t step = cfg.integer("interleave_moe_layer_step", 1);
    cfg.require(step >= 1,
                "'" + cfg.key("interleave_moe_layer_step") + "' must be >= 1");
    for (int64_t i = step - 1; step >= 1 && i < c.layers; i += step)
      moe[i] = true;
  }
  std::string base = "model.";
  for (const char *candidate : {"model.", "language_model.model."})
    if (ckpt.find(layerPrefix(0, candidate) + "input_layernorm.weight")) {
      base = candidate;
      break;
    }
  for (int64_t i = 0; i < c.layers && cfg.error.empty(); ++i) {
    if (!moe[i])
      continue;
    LayerPlan p;
    p.layer = i;
    p.prefix = layerPrefix(i, base) + "feed_forward.";
    p.k = c.K;
    p.scoring = ScoringFunc::sigmoid;
    p.order = RoutingOrder::topk_then_score;
    p.scaleInputs = true;
    p.operands["router_weight"] =
        tensor(p.prefix + "router.weight", {c.E, c.H});
    p.operands["gate_up"] =
        tensor(p.prefix + "experts.gate_up_proj", {c.E, 2 * I, c.H}, true);
    p.operands["down"] =
        tensor(p.prefix + "experts.down_proj", {c.E, c.H, I}, true);
    p.layout = GateUpLayout::concatenated;
    addSharedExpert(p, p.prefix + "shared_expert.", I, c.H);
    out.push_back(std::move(p));
  }
  return cfg.error;
}

/// DBRX: the model's d_model and n_layers, the MoE's keys in ffn_config
/// (moe_num_experts, moe_top_k, ffn_hidden_size, moe_normalize_expert_weights,
/// ffn_act_fn); every block MoE, under `transformer.blocks.N.ffn.`: router
/// `router.layer`, experts `experts.mlp.w1`, `v1` and `w2`, each stored
/// [E·F, H] (the runtime binds them as [E, F, H]; w2 is used as h @ w2 and
/// read transposed); softmax over all experts, top-k, the k weights divided
/// by their p-norm, p = moe_normalize_expert_weights (1: renormalized; null:
/// left as they are; other p are refused).
std::string dbrx(const Checkpoint &ckpt, std::vector<LayerPlan> &out) {
  Config cfg(ckpt, ckpt.config());
  const json::Value *ffnDoc = ckpt.config().getObject("ffn_config");
  if (!ffnDoc)
    return ckpt.configPath() +
           ": missing 'ffn_config' (model_type 'dbrx'), the MoE's settings";
  Config ffn(ckpt, *ffnDoc, "ffn_config.");
  // The defaults of transformers' DbrxConfig and DbrxFFNConfig.
  int64_t layers = cfg.integer("n_layers", 24),
          H = cfg.integer("d_model", 2048);
  int64_t E = ffn.integer("moe_num_experts", 4),
          K = ffn.integer("moe_top_k", 1);
  int64_t I = ffn.integer("ffn_hidden_size", 3584);
  const json::Value *norm = ffnDoc->get("moe_normalize_expert_weights");
  double pNorm = ffn.number("moe_normalize_expert_weights", 1.0);
  bool renormalize = !(norm && norm->isNull());
  std::ostringstream pText;
  pText << pNorm;
  ffn.require(!renormalize || pNorm == 1.0,
              "'" + ffn.key("moe_normalize_expert_weights") + "' is " +
                  pText.str() +
                  "; moec divides the weights by their sum (1) or not at all "
                  "(null)");
  std::string act = "silu";
  if (const json::Value *fn = ffnDoc->get("ffn_act_fn");
      fn && fn->isObject() && fn->getString("name"))
    act = *fn->getString("name");
  ffn.require(act == "silu" || act == "swish",
              "'" + ffn.key("ffn_act_fn") + "' names '" + act +
                  "'; the experts are SwiGLU ('silu' or 'swish')");
  cfg.require(layers > 0 && layers <= kMaxLayers && H > 0 && H <= kMaxHidden,
              "'n_layers' and 'd_model' must be in [1, " +
                  std::to_string(kMaxLayers) + "] and [1, " +
                  std::to_string(kMaxHidden) + "]");
  ffn.require(
      E > 0 && E <= kMaxExperts && K > 0 && K <= E && I > 0 && I <= kMaxWidth,
      "'" + ffn.key("moe_num_experts") + "' (" + std::to_string(E) +
          ") must be in [1, " + std::to_string(kMaxExperts) + "], '" +
          ffn.key("moe_top_k") + "' (" + std::to_string(K) +
          ") in [1, experts] and '" + ffn.key("ffn_hidden_size") + "' (" +
          std::to_string(I) + ") in [1, " + std::to_string(kMaxWidth) + "]");
  if (!cfg.error.empty())
    return cfg.error;
  if (!ffn.error.empty())
    return ffn.error;
  for (int64_t i = 0; i < layers; ++i) {
    LayerPlan p;
    p.layer = i;
    p.prefix = "transformer.blocks." + std::to_string(i) + ".ffn.";
    p.hidden = H;
    p.k = K;
    p.renormalize = renormalize;
    p.operands["router_weight"] =
        tensor(p.prefix + "router.layer.weight", {E, H});
    std::string mlp = p.prefix + "experts.mlp.";
    p.operands["gate"] = tensor(mlp + "w1", {E, I, H});
    p.operands["up"] = tensor(mlp + "v1", {E, I, H});
    p.operands["down"] = tensor(mlp + "w2", {E, H, I}, true);
    out.push_back(std::move(p));
  }
  return "";
}

/// Where a family keeps its counts: the expert-count key and the alias its
/// config class maps to it (`attribute_map`), and the top-k key and alias.
struct CountKeys {
  const char *experts, *expertsAlias, *topk, *topkAlias;
};

struct FamilyEntry {
  const char *type;
  CountKeys keys;
};

const std::vector<FamilyEntry> &families() {
  static const std::vector<FamilyEntry> table = {
      {"mixtral",
       {"num_local_experts", "num_experts", "num_experts_per_tok", ""}},
      {"qwen2_moe", {"num_experts", "", "num_experts_per_tok", ""}},
      {"qwen3_moe",
       {"num_experts", "num_local_experts", "num_experts_per_tok", ""}},
      {"olmoe",
       {"num_experts", "num_local_experts", "num_experts_per_tok", ""}},
      {"deepseek_v2",
       {"n_routed_experts", "num_experts", "num_experts_per_tok", ""}},
      {"deepseek_v3",
       {"n_routed_experts", "num_local_experts", "num_experts_per_tok", ""}},
      {"gpt_oss",
       {"num_local_experts", "num_experts", "num_experts_per_tok", ""}},
      {"deepseek_v32",
       {"n_routed_experts", "num_local_experts", "num_experts_per_tok", ""}},
      // Kimi K2.5 and K2.6: a vision-language model whose text_config is
      // DeepSeek-V3's (its model_type "deepseek_v3", or "kimi_k2").
      {"kimi_k25",
       {"n_routed_experts", "num_local_experts", "num_experts_per_tok", ""}},
      {"glm4_moe",
       {"n_routed_experts", "num_local_experts", "num_experts_per_tok", ""}},
      {"glm4_moe_lite",
       {"n_routed_experts", "num_local_experts", "num_experts_per_tok", ""}},
      {"dots1",
       {"n_routed_experts", "num_local_experts", "num_experts_per_tok", ""}},
      {"exaone_moe", {"num_experts", "", "num_experts_per_tok", ""}},
      {"ernie4_5_moe",
       {"moe_num_experts", "num_experts", "moe_k", "num_experts_per_tok"}},
      {"hunyuan_v1_moe",
       {"num_experts", "num_local_experts", "moe_topk", "num_experts_per_tok"}},
      {"granitemoe", {"num_local_experts", "", "num_experts_per_tok", ""}},
      {"granitemoeshared",
       {"num_local_experts", "", "num_experts_per_tok", ""}},
      {"granitemoehybrid",
       {"num_local_experts", "", "num_experts_per_tok", ""}},
      {"phimoe", {"num_local_experts", "", "num_experts_per_tok", ""}},
      {"jamba", {"num_experts", "", "num_experts_per_tok", ""}},
      {"minimax_m2",
       {"num_local_experts", "num_experts", "num_experts_per_tok", ""}},
      {"minimax", {"num_local_experts", "", "num_experts_per_tok", ""}},
      {"flex_olmo",
       {"num_experts", "num_local_experts", "num_experts_per_tok", ""}},
      {"qwen3_next", {"num_experts", "", "num_experts_per_tok", ""}},
      {"qwen3_5_moe", {"num_experts", "", "num_experts_per_tok", ""}},
      {"qwen3_5_moe_text", {"num_experts", "", "num_experts_per_tok", ""}},
      {"qwen3_vl_moe",
       {"num_experts", "num_local_experts", "num_experts_per_tok", ""}},
      {"qwen3_vl_moe_text",
       {"num_experts", "num_local_experts", "num_experts_per_tok", ""}},
      {"lfm2_moe", {"num_experts", "", "num_experts_per_tok", ""}},
      {"afmoe", {"num_experts", "", "num_experts_per_tok", ""}},
      {"hy_v3",
       {"num_experts", "num_local_experts", "num_experts_per_tok", ""}},
      {"mellum",
       {"num_local_experts", "num_experts", "num_experts_per_tok", ""}},
      {"solar_open",
       {"n_routed_experts", "num_local_experts", "num_experts_per_tok", ""}},
      {"glm_moe_dsa",
       {"n_routed_experts", "num_local_experts", "num_experts_per_tok", ""}},
      {"glm4v_moe",
       {"n_routed_experts", "num_local_experts", "num_experts_per_tok", ""}},
      {"glm4v_moe_text",
       {"n_routed_experts", "num_local_experts", "num_experts_per_tok", ""}},
      {"mimo_v2_flash",
       {"n_routed_experts", "num_local_experts", "num_experts_per_tok", ""}},
      {"kimi_linear",
       {"num_experts", "num_local_experts", "num_experts_per_token",
        "num_experts_per_tok"}},
      {"mistral4",
       {"n_routed_experts", "num_local_experts", "num_experts_per_tok", ""}},
      {"llama4", {"num_local_experts", "", "num_experts_per_tok", ""}},
      {"llama4_text", {"num_local_experts", "", "num_experts_per_tok", ""}},
      {"nemotron_h",
       {"n_routed_experts", "num_local_experts", "num_experts_per_tok", ""}},
      // Read by dbrx(): its counts are in ffn_config.
      {"dbrx", {"moe_num_experts", "", "moe_top_k", ""}},
  };
  return table;
}

/// `key`, or `alias` where only the alias is present.
const char *presentKey(const Config &cfg, const char *key, const char *alias) {
  return !cfg.has(key) && *alias && cfg.has(alias) ? alias : key;
}

} // namespace

const std::vector<std::string> &hf::supportedModelTypes() {
  static const std::vector<std::string> types = [] {
    std::vector<std::string> t;
    for (const FamilyEntry &f : families())
      t.push_back(f.type);
    return t;
  }();
  return types;
}

std::optional<std::string>
hf::unknownKind(const std::string &path, const std::string &key,
                const std::string &kind,
                const std::vector<std::string> &known) {
  if (std::find(known.begin(), known.end(), kind) != known.end())
    return std::nullopt;
  std::string list;
  for (const std::string &k : known)
    list += (list.empty() ? "" : ", ") + k;
  return path + ": " +
         (kind.empty() ? "no '" + key + "'"
                       : "unknown " + key + " '" + kind + "'") +
         " (supported: " + list + ")";
}

std::string hf::readMoELayers(const Checkpoint &ckpt,
                              std::vector<LayerPlan> &out) {
  std::string type = ckpt.modelType();
  if (std::optional<std::string> err = unknownKind(
          ckpt.configPath(), "model_type", type, supportedModelTypes()))
    return *err;
  // Quantized weights are read in the formats below only (their tensors
  // are checked where they are read); another's tensors are not what the
  // names say (compressed-tensors packs int4 into weight_packed).
  for (const json::Value *level :
       {&ckpt.config(), ckpt.config().getObject("text_config")})
    if (const json::Value *q =
            level ? level->getObject("quantization_config") : nullptr) {
      const std::string *method = q->getString("quant_method");
      if (method && *method != "fp8" && *method != "mxfp4")
        return ckpt.configPath() + ": quantization_config.quant_method '" +
               *method + "' is not read (fp8, mxfp4)";
    }
  if (type == "dbrx")
    return dbrx(ckpt, out);
  const CountKeys &keys =
      std::find_if(families().begin(), families().end(),
                   [&](const FamilyEntry &f) { return f.type == type; })
          ->keys;
  // A vision-language model's text model is configured by text_config.
  bool composite = type == "qwen3_5_moe" || type == "qwen3_vl_moe" ||
                   type == "glm4v_moe" || type == "llama4" ||
                   type == "kimi_k25";
  const json::Value *text =
      composite ? ckpt.config().getObject("text_config") : &ckpt.config();
  if (!text)
    return ckpt.configPath() + ": missing 'text_config' (model_type '" + type +
           "')";
  Config cfg(ckpt, *text, composite ? "text_config." : "");
  if (type == "kimi_k25") {
    // Its text model is DeepSeek-V3 (kimi_k2 is transformers' alias).
    std::string textType = cfg.string("model_type", "deepseek_v3");
    if (textType != "deepseek_v3" && textType != "kimi_k2")
      return ckpt.configPath() + ": 'text_config.model_type' is '" + textType +
             "'; kimi_k25's text model is deepseek_v3 (or kimi_k2)";
  }
  Common c;
  // Nemotron-H counts its layers by their kinds (num_hidden_layers, where
  // present, is ignored, as transformers does).
  std::vector<bool> nemotronMoe;
  if (type == "nemotron_h")
    nemotronMoe = nemotronMoeLayers(cfg);
  c.layers = type == "nemotron_h" ? static_cast<int64_t>(nemotronMoe.size())
                                  : cfg.integer("num_hidden_layers");
  c.H = cfg.integer("hidden_size");
  const char *expertsKey = presentKey(cfg, keys.experts, keys.expertsAlias);
  c.E = cfg.integer(expertsKey);
  // Hunyuan's top-k may be one value per layer.
  const char *topkKey = presentKey(cfg, keys.topk, keys.topkAlias);
  std::vector<int64_t> perLayerK;
  const json::Value *topk = cfg.get(topkKey);
  if (type == "hunyuan_v1_moe" && topk && topk->isArray()) {
    perLayerK = cfg.integers(topkKey);
    cfg.require(static_cast<int64_t>(perLayerK.size()) >= c.layers,
                "'" + cfg.key(topkKey) + "' has " +
                    std::to_string(perLayerK.size()) + " entries for " +
                    std::to_string(c.layers) + " layers");
    c.K = perLayerK.empty()
              ? 0
              : *std::min_element(perLayerK.begin(), perLayerK.end());
    int64_t maxK = perLayerK.empty()
                       ? 0
                       : *std::max_element(perLayerK.begin(), perLayerK.end());
    cfg.require(!cfg.error.empty() || maxK <= c.E,
                "'" + cfg.key(topkKey) + "' holds " + std::to_string(maxK) +
                    ", more than the " + std::to_string(c.E) + " experts");
  } else {
    c.K = cfg.integer(topkKey);
  }
  // gpt-oss's original `experts_per_token` is not read by transformers.
  if (type == "gpt_oss" && !cfg.has("num_experts_per_tok") &&
      cfg.has("experts_per_token"))
    cfg.error += "; transformers does not read 'experts_per_token'";
  // The experts' activation (all but gpt-oss, whose experts hard-code
  // their clamped SwiGLU, and Nemotron-H, whose key is mlp_hidden_act) is
  // ACT2FN[hidden_act].
  std::string act = cfg.string("hidden_act", "silu");
  if (type != "gpt_oss" && type != "nemotron_h")
    cfg.require(act == "silu" || act == "swish",
                "'" + cfg.key("hidden_act") + "' is '" + act +
                    "'; the experts are SwiGLU ('silu' or 'swish')");
  if (!cfg.error.empty())
    return cfg.error;
  cfg.require(c.layers > 0 && c.H > 0 && c.E > 0 && c.K > 0,
              "num_hidden_layers, hidden_size, the expert count and " +
                  std::string(topkKey) + " must be positive");
  auto bound = [&](int64_t v, int64_t max, const std::string &key) {
    cfg.require(v <= max, "'" + key + "' is " + std::to_string(v) +
                              "; moec reads at most " + std::to_string(max));
  };
  bound(c.layers, kMaxLayers, cfg.key("num_hidden_layers"));
  bound(c.H, kMaxHidden, cfg.key("hidden_size"));
  bound(c.E, kMaxExperts, cfg.key(expertsKey));
  if (perLayerK.empty())
    cfg.require(c.K <= c.E, std::string(topkKey) + " " + std::to_string(c.K) +
                                " exceeds the " + std::to_string(c.E) +
                                " experts");
  if (!cfg.error.empty())
    return cfg.error;
  std::string err;
  if (type == "mixtral" || type == "minimax" || type == "minimax_m2")
    err = mixtralLike(ckpt, cfg, c, type == "minimax_m2", out);
  else if (type == "gpt_oss")
    err = gptOss(ckpt, cfg, c, out);
  else if (type.rfind("granitemoe", 0) == 0)
    err = granite(ckpt, cfg, c, type, out);
  else if (type == "phimoe")
    err = phimoe(ckpt, cfg, c, out);
  else if (type == "jamba")
    err = jamba(ckpt, cfg, c, out);
  else if (type == "llama4" || type == "llama4_text")
    err = llama4(ckpt, cfg, c, out);
  else if (type == "afmoe" || type == "hy_v3")
    err = sigmoidRouted(ckpt, cfg, c, type, out);
  else if (type == "lfm2_moe")
    err = lfm2(ckpt, cfg, c, out);
  else if (type == "nemotron_h")
    err = nemotronH(ckpt, cfg, c, nemotronMoe, out);
  else if (type == "hunyuan_v1_moe")
    err = hunyuan(ckpt, cfg, c, perLayerK, out);
  else if (type == "ernie4_5_moe")
    err = ernie(ckpt, cfg, c, out);
  else if (type.rfind("deepseek", 0) == 0 || type.rfind("glm4_moe", 0) == 0 ||
           type.rfind("glm4v_moe", 0) == 0 || type == "dots1" ||
           type == "exaone_moe" || type == "glm_moe_dsa" ||
           type == "mimo_v2_flash" || type == "kimi_linear" ||
           type == "mistral4" || type == "solar_open")
    err = deepseekLike(ckpt, cfg, c, type, out);
  else if (type == "kimi_k25")
    err = deepseekLike(ckpt, cfg, c, "deepseek_v3", out);
  else
    err = qwenLike(ckpt, cfg, c, type, out);
  if (err.empty()) {
    for (LayerPlan &p : out)
      p.hidden = c.H;
    if (out.empty())
      err = ckpt.configPath() + ": no MoE layer (model_type '" + type + "')";
  }
  return err;
}
