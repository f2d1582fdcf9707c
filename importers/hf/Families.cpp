//===- Families.cpp - config.json of each MoE family to layer plans -------===//
//
// One reader per model_type, following transformers' modeling code (the
// family table of docs/Importing.md): which
// config keys hold the expert count, top-k and widths, which layers are
// MoE, the tensor names of router, experts and shared experts, and the
// routing recipe. Missing optional keys take the defaults of the family's
// transformers config class.
//
//===----------------------------------------------------------------------===//
#include "importers/hf/LayerPlan.h"

#include <algorithm>
#include <functional>

using namespace moe;
using namespace moe::hf;
using mlir::moe::ActivationKind;
using mlir::moe::GateUpLayout;
using mlir::moe::GroupScoreFunc;
using mlir::moe::RoutingOrder;
using mlir::moe::ScoringFunc;

namespace {

/// Typed reads of config.json keys with messages naming file and key.
class Config {
public:
  Config(const Checkpoint &c) : ckpt(c), doc(c.config()) {}

  std::string error;

  int64_t integer(const char *key) {
    const json::Value *v = doc.get(key);
    std::optional<int64_t> n = v ? v->asInt64() : std::nullopt;
    if (!v || !v->isNumber() || !n) {
      fail(std::string(v ? "'" : "missing '") + key + "'" +
           (v ? " is not an integer" : ""));
      return 0;
    }
    return *n;
  }
  int64_t integer(const char *key, int64_t dflt) {
    const json::Value *v = doc.get(key);
    return !v || v->isNull() ? dflt : integer(key);
  }
  double number(const char *key, double dflt) {
    const json::Value *v = doc.get(key);
    if (!v || v->isNull())
      return dflt;
    if (!v->isNumber()) {
      fail(std::string("'") + key + "' is not a number");
      return dflt;
    }
    return v->asNumber();
  }
  bool boolean(const char *key, bool dflt) {
    const json::Value *v = doc.get(key);
    if (!v || v->isNull())
      return dflt;
    if (!v->isBool()) {
      fail(std::string("'") + key + "' is not a boolean");
      return dflt;
    }
    return v->asBool();
  }
  std::string string(const char *key, const std::string &dflt) {
    const json::Value *v = doc.get(key);
    if (!v || v->isNull())
      return dflt;
    if (!v->isString()) {
      fail(std::string("'") + key + "' is not a string");
      return dflt;
    }
    return v->asString();
  }
  std::vector<int64_t> integers(const char *key) {
    std::vector<int64_t> out;
    const json::Value *v = doc.get(key);
    if (!v || v->isNull())
      return out;
    if (!v->isArray()) {
      fail(std::string("'") + key + "' is not a list");
      return out;
    }
    for (const json::Value &e : v->elements()) {
      std::optional<int64_t> n = e.asInt64();
      if (!n) {
        fail(std::string("'") + key + "' holds a non-integer");
        return out;
      }
      out.push_back(*n);
    }
    return out;
  }
  /// An FFN width: an integer in [0, kMaxWidth].
  int64_t width(const char *key) {
    int64_t v = integer(key);
    require(v >= 0 && v <= kMaxWidth, std::string("'") + key + "' is " +
                                          std::to_string(v) +
                                          "; moec reads widths in [0, " +
                                          std::to_string(kMaxWidth) + "]");
    return v;
  }
  void require(bool ok, const std::string &what) {
    if (!ok)
      fail(what);
  }
  void fail(const std::string &what) {
    if (error.empty())
      error = ckpt.configPath() + ": " + what + " (model_type '" +
              ckpt.modelType() + "')";
  }

private:
  const Checkpoint &ckpt;
  const json::Value &doc;
};

std::string layerPrefix(int64_t i) {
  return "model.layers." + std::to_string(i) + ".";
}

/// Per-expert tensors `<experts>.<e>.<leaf>` stacked into [E, shape...].
WeightSource stacked(const std::string &experts, const std::string &leaf,
                     int64_t numExperts, std::vector<int64_t> shape) {
  WeightSource s;
  // Named like its parts with the expert index as "*".
  s.name = experts + "*." + leaf;
  for (int64_t e = 0; e < numExperts; ++e)
    s.stack.push_back(experts + std::to_string(e) + "." + leaf);
  s.shape = {numExperts};
  s.shape.insert(s.shape.end(), shape.begin(), shape.end());
  return s;
}

WeightSource tensor(const std::string &name, std::vector<int64_t> shape,
                    bool transposed = false) {
  WeightSource s;
  s.name = name;
  s.shape = std::move(shape);
  s.transposed = transposed;
  return s;
}

/// A tensor transformers keeps in f32 whatever the declared dtype
/// (`_keep_in_fp32_modules_strict`: DeepSeek's router and correction bias).
WeightSource f32Tensor(const std::string &name, std::vector<int64_t> shape) {
  WeightSource s = tensor(name, std::move(shape));
  s.keepF32 = true;
  return s;
}

/// An MXFP4 weight of `shape` [..., N, K] stored as transformers writes
/// gpt-oss's: `<base>_blocks` (the e2m1 codes) and `<base>_scales`.
WeightSource mxfp4Tensor(const std::string &base, std::vector<int64_t> shape) {
  WeightSource s = tensor(base + "_blocks", std::move(shape));
  s.mxScales = base + "_scales";
  return s;
}

/// SwiGLU experts under `experts` ("...mlp.experts."): per-expert
/// gate/up/down tensors with the given leaf names, or the transformers-v5
/// fused `gate_up_proj [E, 2I, H]` (gate rows first) and `down_proj`.
void addExperts(const Checkpoint &ckpt, LayerPlan &p,
                const std::string &experts, const char *gate, const char *up,
                const char *down, int64_t E, int64_t I, int64_t H) {
  if (ckpt.find(experts + "gate_up_proj")) {
    p.operands["gate_up"] = tensor(experts + "gate_up_proj", {E, 2 * I, H});
    p.operands["down"] = tensor(experts + "down_proj", {E, H, I});
    p.layout = GateUpLayout::concatenated;
    return;
  }
  p.operands["gate"] = stacked(experts, gate, E, {I, H});
  p.operands["up"] = stacked(experts, up, E, {I, H});
  p.operands["down"] = stacked(experts, down, E, {H, I});
}

void addSharedExpert(LayerPlan &p, const std::string &shared, int64_t Is,
                     int64_t H) {
  p.operands["shared_gate"] = tensor(shared + "gate_proj.weight", {Is, H});
  p.operands["shared_up"] = tensor(shared + "up_proj.weight", {Is, H});
  p.operands["shared_down"] = tensor(shared + "down_proj.weight", {H, Is});
}

/// The fields every family has.
struct Common {
  int64_t layers, H, E, K;
};

std::string mixtral(const Checkpoint &ckpt, Config &cfg, const Common &c,
                    std::vector<LayerPlan> &out) {
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
    addExperts(ckpt, p, p.prefix + "experts.", "w1.weight", "w3.weight",
               "w2.weight", c.E, I, c.H);
    out.push_back(std::move(p));
  }
  return cfg.error;
}

/// Qwen2-MoE (shared expert + gate), Qwen3-MoE and OLMoE share a layout.
std::string qwenLike(const Checkpoint &ckpt, Config &cfg, const Common &c,
                     bool sharedExpert, bool olmoe,
                     std::vector<LayerPlan> &out) {
  int64_t I = olmoe ? cfg.width("intermediate_size")
                    : cfg.width("moe_intermediate_size");
  bool norm = cfg.boolean("norm_topk_prob", false);
  int64_t step = olmoe ? 1 : cfg.integer("decoder_sparse_step", 1);
  // OLMoE's decoder layers are all MoE: transformers reads neither key.
  std::vector<int64_t> mlpOnly =
      olmoe ? std::vector<int64_t>() : cfg.integers("mlp_only_layers");
  int64_t Is = sharedExpert ? cfg.width("shared_expert_intermediate_size") : 0;
  cfg.require(step >= 1, "'decoder_sparse_step' must be >= 1");
  for (int64_t i = 0; i < c.layers && cfg.error.empty(); ++i) {
    bool moe = c.E > 0 && (i + 1) % step == 0 &&
               std::find(mlpOnly.begin(), mlpOnly.end(), i) == mlpOnly.end();
    if (!moe)
      continue;
    LayerPlan p;
    p.layer = i;
    p.prefix = layerPrefix(i) + "mlp.";
    p.k = c.K;
    p.renormalize = norm;
    p.operands["router_weight"] = tensor(p.prefix + "gate.weight", {c.E, c.H});
    addExperts(ckpt, p, p.prefix + "experts.", "gate_proj.weight",
               "up_proj.weight", "down_proj.weight", c.E, I, c.H);
    if (sharedExpert && Is > 0) {
      addSharedExpert(p, p.prefix + "shared_expert.", Is, c.H);
      p.operands["shared_expert_gate"] =
          tensor(p.prefix + "shared_expert_gate.weight", {1, c.H});
    }
    out.push_back(std::move(p));
  }
  return cfg.error;
}

std::string deepseek(const Checkpoint &ckpt, Config &cfg, const Common &c,
                     bool v3, std::vector<LayerPlan> &out) {
  int64_t I = cfg.width("moe_intermediate_size");
  // Defaults of DeepseekV2Config / DeepseekV3Config.
  int64_t shared = cfg.integer("n_shared_experts", v3 ? 1 : 2);
  int64_t firstDense = cfg.integer("first_k_dense_replace", v3 ? 3 : 0);
  double scale = cfg.number("routed_scaling_factor", v3 ? 2.5 : 1.0);
  int64_t nGroup = cfg.integer("n_group", v3 ? 8 : 1);
  int64_t topkGroup = cfg.integer("topk_group", v3 ? 4 : 1);
  std::string method = cfg.string("topk_method", v3 ? "noaux_tc" : "greedy");
  bool norm = v3 && cfg.boolean("norm_topk_prob", true);
  cfg.require(shared >= 0 && shared <= kMaxExperts,
              "'n_shared_experts' must be in [0, " +
                  std::to_string(kMaxExperts) + "]");
  // DeepseekV3MoE always routes as noaux_tc (sigmoid scores, the
  // correction bias, group-limited top-k) and ignores the key; another
  // value says the checkpoint expects a routing it will not get.
  if (v3)
    cfg.require(method == "noaux_tc", "unsupported topk_method '" + method +
                                          "' (DeepSeek-V3 routes with "
                                          "noaux_tc)");
  if (!v3) {
    cfg.require(method == "greedy" || method == "group_limited_greedy",
                "unsupported topk_method '" + method +
                    "' (greedy, group_limited_greedy)");
    // DeepseekV2MLP (the shared experts) has biases with mlp_bias.
    cfg.require(!cfg.boolean("mlp_bias", false),
                "'mlp_bias' is true: shared experts with biases are not "
                "supported");
  }
  // transformers makes every layer from first_k_dense_replace on MoE; it
  // does not read moe_layer_freq (DeepSeek's own code does, and the
  // released checkpoints set it to 1).
  for (int64_t i = std::max<int64_t>(firstDense, 0);
       i < c.layers && cfg.error.empty(); ++i) {
    LayerPlan p;
    p.layer = i;
    p.prefix = layerPrefix(i) + "mlp.";
    p.k = c.K;
    p.scale = scale;
    if (v3) {
      p.scoring = ScoringFunc::sigmoid;
      p.renormalize = norm;
      p.nGroup = nGroup;
      p.topkGroup = topkGroup;
      p.groupScore = GroupScoreFunc::top2_sum;
      p.operands["correction_bias"] =
          f32Tensor(p.prefix + "gate.e_score_correction_bias", {c.E});
    } else if (method == "group_limited_greedy") {
      // transformers ignores norm_topk_prob for V2: weights are the
      // selected probabilities times the scale.
      p.nGroup = nGroup;
      p.topkGroup = topkGroup;
    }
    p.operands["router_weight"] =
        f32Tensor(p.prefix + "gate.weight", {c.E, c.H});
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

} // namespace

const std::vector<std::string> &hf::supportedModelTypes() {
  static const std::vector<std::string> types = {
      "mixtral",     "qwen2_moe",   "qwen3_moe", "olmoe",
      "deepseek_v2", "deepseek_v3", "gpt_oss"};
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
  Config cfg(ckpt);
  Common c;
  c.layers = cfg.integer("num_hidden_layers");
  c.H = cfg.integer("hidden_size");
  // The expert-count key, then the alias the config class maps to it
  // (`attribute_map`; transformers 5 writes Qwen3-MoE's as
  // num_local_experts).
  std::pair<const char *, const char *> expertsKeys =
      type == "mixtral" || type == "gpt_oss"
          ? std::make_pair("num_local_experts", "num_experts")
      : type == "qwen2_moe" ? std::make_pair("num_experts", "")
      : type == "qwen3_moe" || type == "olmoe"
          ? std::make_pair("num_experts", "num_local_experts")
      : type == "deepseek_v2"
          ? std::make_pair("n_routed_experts", "num_experts")
          : std::make_pair("n_routed_experts", "num_local_experts");
  const char *expertsKey = expertsKeys.first;
  if (!ckpt.config().get(expertsKey) && *expertsKeys.second &&
      ckpt.config().get(expertsKeys.second))
    expertsKey = expertsKeys.second;
  c.E = cfg.integer(expertsKey);
  // gpt-oss's original `experts_per_token` is not read by transformers.
  c.K = cfg.integer("num_experts_per_tok");
  if (type == "gpt_oss" && !ckpt.config().get("num_experts_per_tok") &&
      ckpt.config().get("experts_per_token"))
    cfg.error += "; transformers does not read 'experts_per_token'";
  // The experts' activation (all but gpt-oss, whose experts hard-code
  // their clamped SwiGLU) is ACT2FN[hidden_act].
  std::string act = cfg.string("hidden_act", "silu");
  if (type != "gpt_oss")
    cfg.require(act == "silu" || act == "swish",
                "'hidden_act' is '" + act +
                    "'; the experts are SwiGLU ('silu' or 'swish')");
  if (!cfg.error.empty())
    return cfg.error;
  cfg.require(c.layers > 0 && c.H > 0 && c.E > 0 && c.K > 0,
              "num_hidden_layers, hidden_size, the expert count and "
              "num_experts_per_tok must be positive");
  auto bound = [&](int64_t v, int64_t max, const std::string &key) {
    cfg.require(v <= max, "'" + key + "' is " + std::to_string(v) +
                              "; moec reads at most " + std::to_string(max));
  };
  bound(c.layers, kMaxLayers, "num_hidden_layers");
  bound(c.H, kMaxHidden, "hidden_size");
  bound(c.E, kMaxExperts, expertsKey);
  cfg.require(c.K <= c.E, "num_experts_per_tok " + std::to_string(c.K) +
                              " exceeds the " + std::to_string(c.E) +
                              " experts");
  if (!cfg.error.empty())
    return cfg.error;
  std::string err;
  if (type == "mixtral")
    err = mixtral(ckpt, cfg, c, out);
  else if (type == "qwen2_moe")
    err = qwenLike(ckpt, cfg, c, /*sharedExpert=*/true, false, out);
  else if (type == "qwen3_moe")
    err = qwenLike(ckpt, cfg, c, false, false, out);
  else if (type == "olmoe")
    err = qwenLike(ckpt, cfg, c, false, /*olmoe=*/true, out);
  else if (type == "deepseek_v2")
    err = deepseek(ckpt, cfg, c, false, out);
  else if (type == "deepseek_v3")
    err = deepseek(ckpt, cfg, c, true, out);
  else
    err = gptOss(ckpt, cfg, c, out);
  if (err.empty()) {
    for (LayerPlan &p : out)
      p.hidden = c.H;
    if (out.empty())
      err = ckpt.configPath() + ": no MoE layer (model_type '" + type + "')";
  }
  return err;
}
