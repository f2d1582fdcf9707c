//===- GgufFamilies.cpp - GGUF metadata of each MoE family to layer plans -===//
//
// One reader per general.architecture, following what llama.cpp (the
// format's reference consumer) computes for it: the `<arch>.*` metadata keys
// that hold the expert count, top-k, widths and routing recipe, which blocks
// are MoE, and the `blk.N.*` tensor names. GGUF stores experts stacked
// ([E, rows, cols] row-major), so no plan transposes, and only files of
// per-expert tensors (Mixtral's first GGUF files) are stacked. Routing
// choices llama.cpp hard-codes for an architecture are hard-coded here too
// (docs/Importing.md has the table).
//
//===----------------------------------------------------------------------===//
#include "importers/hf/LayerPlan.h"

#include <algorithm>
#include <cmath>

using namespace moe;
using namespace moe::hf;
using mlir::moe::ActivationKind;
using mlir::moe::GateUpLayout;
using mlir::moe::GroupScoreFunc;
using mlir::moe::RoutingOrder;
using mlir::moe::ScoringFunc;

namespace {

using gguf::ValueType;

/// Typed reads of `<arch>.KEY` metadata with messages naming the file and
/// the key.
class Meta {
public:
  Meta(const Checkpoint &c, const std::string &arch)
      : ckpt(c), header(*c.gguf()), arch(arch) {}

  std::string error;

  int64_t integer(const std::string &key) {
    const gguf::Value *v = get(key);
    if (!v) {
      fail("missing '" + full(key) + "'");
      return 0;
    }
    return asInteger(key, *v);
  }
  int64_t integer(const std::string &key, int64_t dflt) {
    const gguf::Value *v = get(key);
    return v ? asInteger(key, *v) : dflt;
  }
  double number(const std::string &key, double dflt) {
    const gguf::Value *v = get(key);
    if (!v)
      return dflt;
    switch (v->type) {
    case ValueType::Float32:
    case ValueType::Float64:
      if (!std::isfinite(v->f))
        fail("'" + full(key) + "' is not finite");
      return v->f;
    default:
      return static_cast<double>(asInteger(key, *v));
    }
  }
  bool boolean(const std::string &key, bool dflt) {
    const gguf::Value *v = get(key);
    if (!v)
      return dflt;
    if (v->type != ValueType::Bool) {
      fail("'" + full(key) + "' is not a bool");
      return dflt;
    }
    return v->b;
  }
  /// `<arch>.KEY` per block: an array of `count` integers, or one integer
  /// for every block.
  std::vector<int64_t> perBlock(const std::string &key, int64_t count) {
    const gguf::Value *v = get(key);
    if (!v) {
      fail("missing '" + full(key) + "'");
      return {};
    }
    if (v->type != ValueType::Array)
      return std::vector<int64_t>(count, asInteger(key, *v));
    if (static_cast<int64_t>(v->array.size()) != count) {
      fail("'" + full(key) + "' has " + std::to_string(v->array.size()) +
           " entries for " + std::to_string(count) + " blocks");
      return {};
    }
    std::vector<int64_t> out;
    for (const gguf::Value &e : v->array)
      out.push_back(asInteger(key, e));
    return out;
  }
  bool has(const std::string &key) const { return get(key) != nullptr; }
  void require(bool ok, const std::string &what) {
    if (!ok)
      fail(what);
  }
  void fail(const std::string &what) {
    if (error.empty())
      error =
          ckpt.configPath() + ": " + what + " (architecture '" + arch + "')";
  }
  std::string full(const std::string &key) const { return arch + "." + key; }

private:
  const gguf::Value *get(const std::string &key) const {
    return header.find(full(key));
  }
  int64_t asInteger(const std::string &key, const gguf::Value &v) {
    switch (v.type) {
    case ValueType::UInt8:
    case ValueType::UInt16:
    case ValueType::UInt32:
    case ValueType::UInt64:
      if (v.u > static_cast<uint64_t>(INT64_MAX)) {
        fail("'" + full(key) + "' is too large");
        return 0;
      }
      return static_cast<int64_t>(v.u);
    case ValueType::Int8:
    case ValueType::Int16:
    case ValueType::Int32:
    case ValueType::Int64:
      return v.i;
    default:
      fail("'" + full(key) + "' is not an integer");
      return 0;
    }
  }

  const Checkpoint &ckpt;
  const gguf::Header &header;
  std::string arch;
};

std::string block(int64_t i) { return "blk." + std::to_string(i) + "."; }

WeightSource tensor(const std::string &name, std::vector<int64_t> shape) {
  WeightSource s;
  s.name = name;
  s.shape = std::move(shape);
  return s;
}

/// The fields every family has.
struct Common {
  int64_t layers, H, E, K, I;
};

/// llama.cpp's `<arch>.expert_gating_func` values.
enum GatingFunc : int64_t {
  kGatingNone = 0,
  kGatingSoftmax = 1,
  kGatingSigmoid = 2,
  kGatingSoftmaxWeight = 3,
};

/// The tensors `PREFIX<leaf>.<e>.weight` of experts 0 to E-1, each of
/// `shape`, stacked into [E, shape...]: how GGUF files written before
/// llama.cpp stored experts in one tensor (Mixtral's of late 2023) hold
/// them. Named like its parts with the expert index as "*".
WeightSource perExpert(const std::string &prefix, const std::string &leaf,
                       int64_t experts, std::vector<int64_t> shape) {
  WeightSource s;
  s.name = prefix + leaf + ".*.weight";
  for (int64_t e = 0; e < experts; ++e)
    s.stack.push_back(prefix + leaf + "." + std::to_string(e) + ".weight");
  s.shape = {experts};
  s.shape.insert(s.shape.end(), shape.begin(), shape.end());
  return s;
}

/// A layer of SwiGLU experts `ffn_{gate,up,down}_exps` routed by
/// `ffn_gate_inp`; with `fusable`, a block holding `ffn_gate_up_exps`
/// (gate rows, then up rows, as llama.cpp splits it) and no
/// `ffn_gate_exps` reads that instead. A block with neither but with
/// `ffn_gate.0.weight` reads its experts' tensors one by one
/// (`ffn_{gate,up,down}.E.weight`, as llama.cpp still loads them).
LayerPlan swigluLayer(const Checkpoint &ckpt, const Common &c, int64_t i,
                      bool fusable = true) {
  LayerPlan p;
  p.layer = i;
  p.prefix = block(i);
  p.k = c.K;
  p.operands["router_weight"] =
      tensor(p.prefix + "ffn_gate_inp.weight", {c.E, c.H});
  bool merged = ckpt.find(p.prefix + "ffn_gate_exps.weight") ||
                ckpt.find(p.prefix + "ffn_gate_up_exps.weight");
  if (!merged && ckpt.find(p.prefix + "ffn_gate.0.weight")) {
    p.operands["gate"] = perExpert(p.prefix, "ffn_gate", c.E, {c.I, c.H});
    p.operands["up"] = perExpert(p.prefix, "ffn_up", c.E, {c.I, c.H});
    p.operands["down"] = perExpert(p.prefix, "ffn_down", c.E, {c.H, c.I});
    return p;
  }
  if (fusable && ckpt.find(p.prefix + "ffn_gate_up_exps.weight") &&
      !ckpt.find(p.prefix + "ffn_gate_exps.weight")) {
    p.operands["gate_up"] =
        tensor(p.prefix + "ffn_gate_up_exps.weight", {c.E, 2 * c.I, c.H});
    p.layout = GateUpLayout::concatenated;
  } else {
    p.operands["gate"] =
        tensor(p.prefix + "ffn_gate_exps.weight", {c.E, c.I, c.H});
    p.operands["up"] = tensor(p.prefix + "ffn_up_exps.weight", {c.E, c.I, c.H});
  }
  p.operands["down"] =
      tensor(p.prefix + "ffn_down_exps.weight", {c.E, c.H, c.I});
  return p;
}

void addSharedExpert(LayerPlan &p, int64_t Is, int64_t H) {
  p.operands["shared_gate"] =
      tensor(p.prefix + "ffn_gate_shexp.weight", {Is, H});
  p.operands["shared_up"] = tensor(p.prefix + "ffn_up_shexp.weight", {Is, H});
  p.operands["shared_down"] =
      tensor(p.prefix + "ffn_down_shexp.weight", {H, Is});
}

/// qwen3moe, olmoe, llama (Mixtral), dbrx, phimoe and arctic: softmax over
/// all experts, top-k, renormalized where llama.cpp renormalizes.
std::string plain(const Checkpoint &ckpt, Meta &m, const Common &c,
                  bool renormalize, std::vector<LayerPlan> &out) {
  for (int64_t i = 0; i < c.layers; ++i) {
    LayerPlan p = swigluLayer(ckpt, c, i);
    p.renormalize = renormalize;
    out.push_back(std::move(p));
  }
  return m.error;
}

/// qwen2moe: a shared expert scaled by sigmoid(ffn_gate_inp_shexp · x).
std::string qwen2moe(const Checkpoint &ckpt, Meta &m, const Common &c,
                     std::vector<LayerPlan> &out) {
  // llama.cpp's default: as wide as a dense FFN.
  int64_t Is = m.has("expert_shared_feed_forward_length")
                   ? m.integer("expert_shared_feed_forward_length")
                   : m.integer("feed_forward_length", 0);
  m.require(Is >= 0 && Is <= kMaxWidth,
            "'" + m.full("expert_shared_feed_forward_length") +
                "' must be in [0, " + std::to_string(kMaxWidth) + "]");
  for (int64_t i = 0; i < c.layers && m.error.empty(); ++i) {
    LayerPlan p = swigluLayer(ckpt, c, i);
    // A shared expert where the block has one, or the key says so.
    bool explicitWidth = m.has("expert_shared_feed_forward_length") && Is > 0;
    if (explicitWidth || ckpt.find(p.prefix + "ffn_gate_shexp.weight")) {
      m.require(Is > 0,
                "missing '" + m.full("expert_shared_feed_forward_length") +
                    "' (block " + std::to_string(i) + " has a shared expert)");
      addSharedExpert(p, Is, c.H);
      p.operands["shared_expert_gate"] =
          tensor(p.prefix + "ffn_gate_inp_shexp.weight", {1, c.H});
    }
    out.push_back(std::move(p));
  }
  return m.error;
}

/// The shared expert of the renormalizing softmax families.
enum class SharedExpert {
  /// In every block, scaled by sigmoid(ffn_gate_inp_shexp · x)
  /// (qwen3next, qwen35moe).
  gated,
  /// In every block, added (hunyuan-moe).
  added,
  /// Added where expert_shared_feed_forward_length is above 0
  /// (granitemoe, granitehybrid).
  optional,
};

/// qwen3next, qwen35moe, hunyuan-moe, granitemoe and granitehybrid
/// (Granite 4.0, whose blocks, Mamba-2 or attention, each have the MoE
/// FFN; its converter splits the shared MLP's fused input into
/// ffn_gate_shexp and ffn_up_shexp): softmax over all
/// experts, top-k, renormalized, with a shared expert as `shared` says.
/// llama.cpp reads no `expert_weights_scale` for them: one in the file
/// scales nothing.
std::string softmaxShared(const Checkpoint &ckpt, Meta &m, const Common &c,
                          SharedExpert shared, std::vector<LayerPlan> &out) {
  int64_t Is = 0;
  if (shared == SharedExpert::optional) {
    Is = m.integer("expert_shared_feed_forward_length", 0);
    m.require(Is >= 0 && Is <= kMaxWidth,
              "'" + m.full("expert_shared_feed_forward_length") +
                  "' must be in [0, " + std::to_string(kMaxWidth) + "]");
  } else {
    // llama.cpp's default: as wide as a dense FFN.
    Is = m.has("expert_shared_feed_forward_length")
             ? m.integer("expert_shared_feed_forward_length")
             : m.integer("feed_forward_length", 0);
    m.require(Is > 0 && Is <= kMaxWidth,
              "the shared expert's width ('" +
                  m.full("expert_shared_feed_forward_length") + "', else '" +
                  m.full("feed_forward_length") + "') must be in [1, " +
                  std::to_string(kMaxWidth) + "]");
  }
  for (int64_t i = 0; i < c.layers && m.error.empty(); ++i) {
    LayerPlan p = swigluLayer(ckpt, c, i);
    p.renormalize = true;
    if (Is > 0)
      addSharedExpert(p, Is, c.H);
    if (shared == SharedExpert::gated)
      p.operands["shared_expert_gate"] =
          tensor(p.prefix + "ffn_gate_inp_shexp.weight", {1, c.H});
    out.push_back(std::move(p));
  }
  return m.error;
}

/// The scores `expert_gating_func` names, 1 softmax or 2 sigmoid;
/// `unsetGating` where the key is absent, which kGatingNone makes an
/// error.
ScoringFunc scoringFunc(Meta &m, GatingFunc unsetGating) {
  int64_t gating = m.integer("expert_gating_func", kGatingNone);
  if (gating == kGatingNone && unsetGating == kGatingNone)
    m.fail("missing '" + m.full("expert_gating_func") + "'");
  if (gating == kGatingNone)
    gating = unsetGating;
  m.require(gating == kGatingSoftmax || gating == kGatingSigmoid,
            "'" + m.full("expert_gating_func") + "' is " +
                std::to_string(gating) + " (supported: 1 softmax, 2 sigmoid)");
  return gating == kGatingSigmoid ? ScoringFunc::sigmoid : ScoringFunc::softmax;
}

/// The groups of group-limited selection, expert_group_count and
/// expert_group_used_count: (1, 1) where the count is 0 or 1, as llama.cpp
/// limits the selection to groups only with more than one.
std::pair<int64_t, int64_t> expertGroups(Meta &m, int64_t experts) {
  int64_t groups = m.integer("expert_group_count", 0);
  int64_t used = m.integer("expert_group_used_count", 0);
  if (groups <= 1)
    groups = used = 1;
  m.require(experts % groups == 0 && used >= 1 && used <= groups,
            "'" + m.full("expert_group_count") + "' " + std::to_string(groups) +
                " and '" + m.full("expert_group_used_count") + "' " +
                std::to_string(used) +
                ": the groups must divide the experts and at least one and "
                "at most all be used");
  return {groups, used};
}

/// deepseek2, glm4moe, dots1 and bailingmoe2: dense leading blocks,
/// shared experts, softmax or sigmoid scores (`unsetGating` when
/// `expert_gating_func` is unset; kGatingNone: the key is required) with
/// the correction bias `exp_probs_b`, group-limited top-k. Each shared
/// expert is as wide as a routed one, or with `sharedWidthKey`
/// expert_shared_feed_forward_length wide where that is above 0.
std::string deepseek2(const Checkpoint &ckpt, Meta &m, const Common &c,
                      GatingFunc unsetGating, bool sharedWidthKey,
                      std::vector<LayerPlan> &out) {
  int64_t dense = m.integer("leading_dense_block_count", 0);
  int64_t shared = m.integer("expert_shared_count", 0);
  int64_t sharedWidth =
      sharedWidthKey ? m.integer("expert_shared_feed_forward_length", 0) : 0;
  m.require(sharedWidth >= 0 && sharedWidth <= kMaxWidth,
            "'" + m.full("expert_shared_feed_forward_length") +
                "' must be in [0, " + std::to_string(kMaxWidth) + "]");
  if (sharedWidth == 0)
    sharedWidth = c.I;
  m.require(shared <= kMaxWidth / sharedWidth,
            "the shared experts' width ('" + m.full("expert_shared_count") +
                "' " + std::to_string(shared) + " times " +
                std::to_string(sharedWidth) + ") exceeds " +
                std::to_string(kMaxWidth));
  // 0 (the default) means unscaled.
  double scale = m.number("expert_weights_scale", 0.0);
  if (scale == 0.0)
    scale = 1.0;
  bool norm = m.boolean("expert_weights_norm", false);
  auto [groups, groupsUsed] = expertGroups(m, c.E);
  m.require(dense >= 0 && shared >= 0 && shared <= kMaxExperts,
            "'" + m.full("leading_dense_block_count") + "' must be >= 0 and '" +
                m.full("expert_shared_count") + "' in [0, " +
                std::to_string(kMaxExperts) + "]");
  // llama.cpp takes an unset gating function as softmax for deepseek2,
  // sigmoid for glm4moe; dots1 and bailingmoe2 have no default.
  ScoringFunc scoring = scoringFunc(m, unsetGating);
  if (!m.error.empty())
    return m.error;
  for (int64_t i = dense; i < c.layers; ++i) {
    LayerPlan p = swigluLayer(ckpt, c, i);
    p.scoring = scoring;
    p.renormalize = norm;
    p.scale = scale;
    p.nGroup = groups;
    p.topkGroup = groupsUsed;
    // llama.cpp scores a group by the sum of its two best (biased) scores
    // whatever the gating function.
    p.groupScore = GroupScoreFunc::top2_sum;
    if (ckpt.find(p.prefix + "exp_probs_b.bias"))
      p.operands["correction_bias"] =
          tensor(p.prefix + "exp_probs_b.bias", {c.E});
    if (shared > 0)
      addSharedExpert(p, shared * sharedWidth, c.H);
    out.push_back(std::move(p));
  }
  return m.error;
}

/// deepseek (DeepSeek-MoE) and bailingmoe (Ling 1.0): softmax over all
/// experts, top-k, and `expert_shared_count` shared experts as wide as a
/// routed one, added. deepseek's MoE blocks start at
/// leading_dense_block_count (required), its weights neither
/// renormalized nor scaled (llama.cpp reads expert_weights_scale for it
/// but applies none); every block of bailingmoe is MoE (llama.cpp builds
/// every block so), its weights renormalized if expert_weights_norm and
/// times expert_weights_scale (0 or unset: 1).
std::string softmaxSharedExperts(const Checkpoint &ckpt, Meta &m,
                                 const Common &c, bool ling,
                                 std::vector<LayerPlan> &out) {
  int64_t dense = ling ? 0 : m.integer("leading_dense_block_count");
  int64_t shared = m.integer("expert_shared_count");
  bool norm = ling && m.boolean("expert_weights_norm", false);
  double scale = ling ? m.number("expert_weights_scale", 0.0) : 0.0;
  if (scale == 0.0)
    scale = 1.0;
  m.require(dense >= 0,
            "'" + m.full("leading_dense_block_count") + "' must be >= 0");
  m.require(shared >= 0 && shared <= kMaxWidth / c.I,
            "the shared experts' width ('" + m.full("expert_shared_count") +
                "' " + std::to_string(shared) + " times " +
                std::to_string(c.I) + ") must be in [0, " +
                std::to_string(kMaxWidth) + "]");
  for (int64_t i = dense; i < c.layers && m.error.empty(); ++i) {
    LayerPlan p = swigluLayer(ckpt, c, i);
    p.renormalize = norm;
    p.scale = scale;
    if (shared > 0)
      addSharedExpert(p, shared * c.I, c.H);
    out.push_back(std::move(p));
  }
  return m.error;
}

/// ernie4_5-moe: MoE blocks from leading_dense_block_count on, every
/// interleave_moe_layer_step-th (block i when (i + 1) is a multiple);
/// softmax scores, `exp_probs_b` added for selection only, renormalized;
/// a shared expert where expert_shared_feed_forward_length is above 0.
std::string ernie45(const Checkpoint &ckpt, Meta &m, const Common &c,
                    std::vector<LayerPlan> &out) {
  int64_t dense = m.integer("leading_dense_block_count");
  int64_t step = m.integer("interleave_moe_layer_step");
  int64_t Is = m.integer("expert_shared_feed_forward_length", 0);
  m.require(dense >= 0 && step >= 1 && Is >= 0 && Is <= kMaxWidth,
            "'" + m.full("leading_dense_block_count") + "' must be >= 0, '" +
                m.full("interleave_moe_layer_step") + "' >= 1 and '" +
                m.full("expert_shared_feed_forward_length") + "' in [0, " +
                std::to_string(kMaxWidth) + "]");
  if (!m.error.empty())
    return m.error;
  for (int64_t i = dense; i < c.layers; ++i) {
    if ((i + 1) % step != 0)
      continue;
    LayerPlan p = swigluLayer(ckpt, c, i);
    p.renormalize = true;
    if (ckpt.find(p.prefix + "exp_probs_b.bias"))
      p.operands["correction_bias"] =
          tensor(p.prefix + "exp_probs_b.bias", {c.E});
    if (Is > 0)
      addSharedExpert(p, Is, c.H);
    out.push_back(std::move(p));
  }
  return m.error;
}

/// minimax-m2 and lfm2moe: scores by `expert_gating_func` (required),
/// `exp_probs_b` added for selection only, top-k, renormalized; no shared
/// expert, no scale. lfm2moe's MoE blocks start at
/// leading_dense_block_count (default 0).
std::string biasedSelection(const Checkpoint &ckpt, Meta &m, const Common &c,
                            bool denseLead, std::vector<LayerPlan> &out) {
  ScoringFunc scoring = scoringFunc(m, kGatingNone);
  int64_t dense = denseLead ? m.integer("leading_dense_block_count", 0) : 0;
  m.require(dense >= 0,
            "'" + m.full("leading_dense_block_count") + "' must be >= 0");
  for (int64_t i = dense; i < c.layers && m.error.empty(); ++i) {
    LayerPlan p = swigluLayer(ckpt, c, i);
    p.scoring = scoring;
    p.renormalize = true;
    p.operands["correction_bias"] =
        tensor(p.prefix + "exp_probs_b.bias", {c.E});
    out.push_back(std::move(p));
  }
  return m.error;
}

/// gpt-oss: top-k of the router logits (with bias), softmax over the k,
/// clamped SwiGLU (alpha 1.702, limit 7) with biases on every projection.
std::string gptOss(const Checkpoint &ckpt, Meta &m, const Common &c,
                   std::vector<LayerPlan> &out) {
  double limit = m.number("swiglu_limit", 7.0);
  for (int64_t i = 0; i < c.layers && m.error.empty(); ++i) {
    // gpt-oss's gate and up have biases of their own: never fused.
    LayerPlan p = swigluLayer(ckpt, c, i, /*fusable=*/false);
    p.order = RoutingOrder::topk_then_score;
    p.alpha = 1.702;
    p.beta = 1.0;
    p.limit = limit;
    p.operands["router_bias"] = tensor(p.prefix + "ffn_gate_inp.bias", {c.E});
    p.operands["gate_bias"] =
        tensor(p.prefix + "ffn_gate_exps.bias", {c.E, c.I});
    p.operands["up_bias"] = tensor(p.prefix + "ffn_up_exps.bias", {c.E, c.I});
    p.operands["down_bias"] =
        tensor(p.prefix + "ffn_down_exps.bias", {c.E, c.H});
    out.push_back(std::move(p));
  }
  return m.error;
}

/// llama4: MoE blocks where (i + 1) is a multiple of
/// interleave_moe_layer_step (required, as llama.cpp requires it); the
/// top-k logits each through a sigmoid, no renormalization, the weight
/// on the experts' input (llama.cpp's weight_before_ffn); a shared expert
/// `ffn_*_shexp` in every MoE block, as wide as the experts.
std::string llama4(const Checkpoint &ckpt, Meta &m, const Common &c,
                   std::vector<LayerPlan> &out) {
  int64_t step = m.integer("interleave_moe_layer_step");
  m.require(step >= 1,
            "'" + m.full("interleave_moe_layer_step") + "' must be >= 1");
  for (int64_t i = step - 1; step >= 1 && i < c.layers && m.error.empty();
       i += step) {
    LayerPlan p = swigluLayer(ckpt, c, i);
    p.scoring = ScoringFunc::sigmoid;
    p.order = RoutingOrder::topk_then_score;
    p.scaleInputs = true;
    addSharedExpert(p, c.I, c.H);
    out.push_back(std::move(p));
  }
  return m.error;
}

/// nemotron_h_moe (Nemotron 3): the blocks with an FFN
/// (`feed_forward_length`, one entry per block, above 0; the others are
/// Mamba-2 or attention blocks) are MoE, as llama.cpp builds every FFN of
/// a model with experts; sigmoid scores, `exp_probs_b` for selection only,
/// top-k (within groups where expert_group_count is above 1), renormalized
/// if expert_weights_norm, times expert_weights_scale (0 or unset: 1);
/// experts `ffn_{up,down}_exps` without a gate, squared ReLU; a shared
/// expert `ffn_{up,down}_shexp` of the same kind where
/// expert_shared_feed_forward_length is above 0, added. The experts are
/// expert_feed_forward_length wide, else (as llama.cpp falls back) the
/// block's feed_forward_length over the experts used. Latent projections
/// around the experts (moe_latent_size, `ffn_latent_down`) are refused.
std::string nemotronHMoe(const Checkpoint &ckpt, Meta &m, const Common &c,
                         std::vector<LayerPlan> &out) {
  std::vector<int64_t> ffn = m.perBlock("feed_forward_length", c.layers);
  int64_t Is = m.integer("expert_shared_feed_forward_length", 0);
  m.require(Is >= 0 && Is <= kMaxWidth,
            "'" + m.full("expert_shared_feed_forward_length") +
                "' must be in [0, " + std::to_string(kMaxWidth) + "]");
  m.require(m.integer("moe_latent_size", 0) == 0,
            "'" + m.full("moe_latent_size") +
                "' is set: latent projections around the experts are not "
                "supported");
  double scale = m.number("expert_weights_scale", 0.0);
  if (scale == 0.0)
    scale = 1.0;
  bool norm = m.boolean("expert_weights_norm", false);
  auto [groups, groupsUsed] = expertGroups(m, c.E);
  bool widthKey = m.has("expert_feed_forward_length");
  for (int64_t i = 0; i < c.layers && m.error.empty(); ++i) {
    if (ffn[i] <= 0)
      continue;
    int64_t I = widthKey ? c.I : ffn[i] / c.K;
    m.require(I > 0 && I <= kMaxWidth,
              "block " + std::to_string(i) + "'s expert width " +
                  std::to_string(I) + " must be in [1, " +
                  std::to_string(kMaxWidth) + "]");
    LayerPlan p;
    p.layer = i;
    p.prefix = block(i);
    p.k = c.K;
    p.scoring = ScoringFunc::sigmoid;
    p.renormalize = norm;
    p.scale = scale;
    p.nGroup = groups;
    p.topkGroup = groupsUsed;
    p.groupScore = GroupScoreFunc::top2_sum;
    p.activation = ActivationKind::relu2;
    m.require(!ckpt.find(p.prefix + "ffn_latent_down.weight"),
              "block " + std::to_string(i) +
                  " has latent projections around the experts "
                  "(ffn_latent_down), which are not supported");
    p.operands["router_weight"] =
        tensor(p.prefix + "ffn_gate_inp.weight", {c.E, c.H});
    p.operands["correction_bias"] =
        tensor(p.prefix + "exp_probs_b.bias", {c.E});
    p.operands["up"] = tensor(p.prefix + "ffn_up_exps.weight", {c.E, I, c.H});
    p.operands["down"] =
        tensor(p.prefix + "ffn_down_exps.weight", {c.E, c.H, I});
    if (Is > 0) {
      p.operands["shared_up"] =
          tensor(p.prefix + "ffn_up_shexp.weight", {Is, c.H});
      p.operands["shared_down"] =
          tensor(p.prefix + "ffn_down_shexp.weight", {c.H, Is});
    }
    out.push_back(std::move(p));
  }
  return m.error;
}

} // namespace

const std::vector<std::string> &hf::supportedGgufArchitectures() {
  static const std::vector<std::string> archs = {
      "qwen3moe",     "qwen2moe",   "llama",       "olmoe",
      "deepseek2",    "gpt-oss",    "qwen3vlmoe",  "qwen3next",
      "qwen35moe",    "glm4moe",    "dots1",       "ernie4_5-moe",
      "hunyuan-moe",  "granitemoe", "bailingmoe2", "minimax-m2",
      "lfm2moe",      "dbrx",       "phimoe",      "arctic",
      "deepseek",     "bailingmoe", "llama4",      "nemotron_h_moe",
      "granitehybrid"};
  return archs;
}

std::string hf::readGgufMoELayers(const Checkpoint &ckpt,
                                  std::vector<LayerPlan> &out) {
  std::string arch = ckpt.modelType();
  if (std::optional<std::string> err =
          unknownKind(ckpt.configPath(), "general.architecture", arch,
                      supportedGgufArchitectures()))
    return *err;
  Meta m(ckpt, arch);
  Common c;
  c.layers = m.integer("block_count");
  c.H = m.integer("embedding_length");
  c.E = m.integer("expert_count", 0);
  c.K = m.integer("expert_used_count", 0);
  // The experts' width: expert_feed_forward_length; without it, as
  // llama.cpp reads it, feed_forward_length (llama's and olmoe's experts
  // are as wide as a dense FFN) or, for the Qwen MoEs, that over the
  // experts used. deepseek2, glm4moe, dots1, ernie4_5-moe, hunyuan-moe,
  // bailingmoe2, gpt-oss, lfm2moe, deepseek, bailingmoe and llama4 need the
  // key; the experts of granitemoe, granitehybrid, minimax-m2, dbrx, phimoe
  // and arctic are feed_forward_length wide (llama.cpp sizes their tensors
  // so, whatever expert_feed_forward_length says; minimax-m2's may be a
  // per-layer array); nemotron_h_moe's are described at nemotronHMoe.
  bool qwen = arch == "qwen2moe" || arch == "qwen3moe" ||
              arch == "qwen3vlmoe" || arch == "qwen3next" ||
              arch == "qwen35moe";
  if (arch == "granitemoe" || arch == "granitehybrid" || arch == "minimax-m2" ||
      arch == "dbrx" || arch == "phimoe" || arch == "arctic")
    c.I = m.integer("feed_forward_length");
  else if (arch == "nemotron_h_moe")
    // Per block where the key is missing (nemotronHMoe); 1 passes the
    // common checks below.
    c.I = m.has("expert_feed_forward_length")
              ? m.integer("expert_feed_forward_length")
              : 1;
  else if (m.has("expert_feed_forward_length") || arch == "deepseek2" ||
           arch == "glm4moe" || arch == "dots1" || arch == "ernie4_5-moe" ||
           arch == "hunyuan-moe" || arch == "bailingmoe2" ||
           arch == "gpt-oss" || arch == "lfm2moe" || arch == "deepseek" ||
           arch == "bailingmoe" || arch == "llama4")
    c.I = m.integer("expert_feed_forward_length");
  else if (qwen)
    c.I = c.K > 0 ? m.integer("feed_forward_length") / c.K : 0;
  else
    c.I = m.integer("feed_forward_length");
  if (!m.error.empty())
    return m.error;
  if (c.E == 0)
    return ckpt.configPath() + ": no MoE layer ('" + m.full("expert_count") +
           "' is " + (m.has("expert_count") ? "0" : "missing") +
           "; architecture '" + arch + "')";
  m.require(c.layers > 0 && c.H > 0 && c.E > 0 && c.K > 0 && c.I > 0,
            "'" + m.full("block_count") + "', '" + m.full("embedding_length") +
                "', '" + m.full("expert_count") + "', '" +
                m.full("expert_used_count") +
                "' and the expert width must be positive");
  // The bounds config.json's counts have (LayerPlan.h).
  auto bound = [&](int64_t v, int64_t max, const std::string &key) {
    m.require(v <= max, "'" + m.full(key) + "' is " + std::to_string(v) +
                            "; moec reads at most " + std::to_string(max));
  };
  bound(c.layers, kMaxLayers, "block_count");
  bound(c.H, kMaxHidden, "embedding_length");
  bound(c.E, kMaxExperts, "expert_count");
  m.require(c.I <= kMaxWidth, "the expert width " + std::to_string(c.I) +
                                  " exceeds " + std::to_string(kMaxWidth));
  m.require(c.K <= c.E, "'" + m.full("expert_used_count") + "' " +
                            std::to_string(c.K) + " exceeds the " +
                            std::to_string(c.E) + " experts");
  if (!m.error.empty())
    return m.error;
  // The last nextn_predict_layers blocks are multi-token-prediction blocks
  // (glm4moe, qwen35moe), MoE layers like the others where the file holds
  // their tensors; a file may leave them out.
  int64_t nextn = m.integer("nextn_predict_layers", 0);
  m.require(nextn >= 0 && nextn < c.layers,
            "'" + m.full("nextn_predict_layers") + "' " +
                std::to_string(nextn) + " must be >= 0 and below '" +
                m.full("block_count") + "' " + std::to_string(c.layers));
  if (!m.error.empty())
    return m.error;
  std::string err;
  if (arch == "qwen3moe" || arch == "qwen3vlmoe" || arch == "llama" ||
      arch == "dbrx" || arch == "phimoe" || arch == "arctic")
    err = plain(ckpt, m, c, /*renormalize=*/true, out);
  else if (arch == "olmoe")
    err = plain(ckpt, m, c, /*renormalize=*/false, out);
  else if (arch == "qwen2moe")
    err = qwen2moe(ckpt, m, c, out);
  else if (arch == "qwen3next" || arch == "qwen35moe")
    err = softmaxShared(ckpt, m, c, SharedExpert::gated, out);
  else if (arch == "hunyuan-moe")
    err = softmaxShared(ckpt, m, c, SharedExpert::added, out);
  else if (arch == "granitemoe" || arch == "granitehybrid")
    err = softmaxShared(ckpt, m, c, SharedExpert::optional, out);
  else if (arch == "deepseek2")
    err = deepseek2(ckpt, m, c, kGatingSoftmax, false, out);
  else if (arch == "glm4moe")
    err = deepseek2(ckpt, m, c, kGatingSigmoid, false, out);
  else if (arch == "dots1")
    err = deepseek2(ckpt, m, c, kGatingNone, false, out);
  else if (arch == "bailingmoe2")
    err = deepseek2(ckpt, m, c, kGatingNone, true, out);
  else if (arch == "ernie4_5-moe")
    err = ernie45(ckpt, m, c, out);
  else if (arch == "minimax-m2" || arch == "lfm2moe")
    err = biasedSelection(ckpt, m, c, arch == "lfm2moe", out);
  else if (arch == "deepseek" || arch == "bailingmoe")
    err = softmaxSharedExperts(ckpt, m, c, arch == "bailingmoe", out);
  else if (arch == "llama4")
    err = llama4(ckpt, m, c, out);
  else if (arch == "nemotron_h_moe")
    err = nemotronHMoe(ckpt, m, c, out);
  else
    err = gptOss(ckpt, m, c, out);
  out.erase(std::remove_if(out.begin(), out.end(),
                           [&](const LayerPlan &p) {
                             return p.layer >= c.layers - nextn &&
                                    !ckpt.find(p.prefix +
                                               "ffn_gate_inp.weight");
                           }),
            out.end());
  if (err.empty()) {
    for (LayerPlan &p : out)
      p.hidden = c.H;
    if (out.empty())
      err = ckpt.configPath() + ": no MoE layer (architecture '" + arch + "')";
  }
  return err;
}
