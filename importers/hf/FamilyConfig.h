//===- FamilyConfig.h - what the config.json readers share ------*- C++ -*-===//
//
// Typed reads of config.json keys with messages naming the file and the key,
// and the tensor-name helpers the family readers (Families.cpp,
// DeepseekFamilies.cpp) build their layer plans with.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_IMPORTERS_HF_FAMILYCONFIG_H
#define MOEC_IMPORTERS_HF_FAMILYCONFIG_H

#include "importers/hf/LayerPlan.h"

#include <initializer_list>
#include <string>
#include <vector>

namespace moe::hf::family {

/// Typed reads of the keys of config.json, or of one of its objects
/// (`text_config` of a vision-language model, named in messages as
/// "text_config.KEY"). The first failure is kept in `error`.
class Config {
public:
  Config(const Checkpoint &c, const json::Value &d, std::string keyPrefix = "")
      : ckpt(c), doc(d), prefix(std::move(keyPrefix)) {}

  std::string error;

  /// The key as messages name it.
  std::string key(const char *k) const { return prefix + k; }
  bool has(const char *k) const {
    const json::Value *v = doc.get(k);
    return v && !v->isNull();
  }
  const json::Value *get(const char *k) const { return doc.get(k); }

  int64_t integer(const char *k);
  int64_t integer(const char *k, int64_t dflt) {
    return has(k) ? integer(k) : dflt;
  }
  double number(const char *k, double dflt);
  bool boolean(const char *k, bool dflt);
  std::string string(const char *k, const std::string &dflt);
  /// A list of integers; empty when missing.
  std::vector<int64_t> integers(const char *k);
  /// A list of strings; empty when missing.
  std::vector<std::string> strings(const char *k);
  /// `mlp_layer_types` as one flag per layer (true for "sparse"), or
  /// nullopt without it; a list of another length or an entry other than
  /// "sparse" and "dense" is an error.
  std::optional<std::vector<bool>> sparseLayers(int64_t layers);
  /// An FFN width: an integer in [0, kMaxWidth].
  int64_t width(const char *k);
  /// A shared-expert count (`dflt` < 0: required) in [0, kMaxExperts],
  /// whose experts, `expertWidth` (the key `widthKey`) wide each, are at
  /// most kMaxWidth wide together.
  int64_t sharedCount(const char *k, int64_t dflt, int64_t expertWidth,
                      const char *widthKey);
  void require(bool ok, const std::string &what) {
    if (!ok)
      fail(what);
  }
  void fail(const std::string &what);

private:
  const Checkpoint &ckpt;
  const json::Value &doc;
  std::string prefix;
};

/// "model.layers.I." under `base` ("model." by default).
std::string layerPrefix(int64_t i, const std::string &base = "model.");

/// Per-expert tensors `<experts>.<e>.<leaf>` stacked into [E, shape...].
WeightSource stacked(const std::string &experts, const std::string &leaf,
                     int64_t numExperts, std::vector<int64_t> shape);

WeightSource tensor(const std::string &name, std::vector<int64_t> shape,
                    bool transposed = false);

/// The first of `names` the checkpoint holds; the first when it holds
/// none (the name a missing-tensor error gives).
std::string storedName(const Checkpoint &ckpt,
                       std::initializer_list<std::string> names);

/// A tensor transformers keeps in f32 whatever the declared dtype
/// (`_keep_in_fp32_modules_strict`: DeepSeek's router and correction bias).
WeightSource f32Tensor(const std::string &name, std::vector<int64_t> shape);

/// SwiGLU experts under `experts` ("...mlp.experts."): per-expert
/// gate/up/down tensors with the given leaf names, or the transformers-v5
/// fused `gate_up_proj [E, 2I, H]` (gate rows first) and `down_proj`.
void addExperts(const Checkpoint &ckpt, LayerPlan &p,
                const std::string &experts, const char *gate, const char *up,
                const char *down, int64_t E, int64_t I, int64_t H);

/// A SwiGLU shared expert `<shared>{gate,up,down}_proj.weight` of width Is.
void addSharedExpert(LayerPlan &p, const std::string &shared, int64_t Is,
                     int64_t H);

/// The fields every family has.
struct Common {
  int64_t layers, H, E, K;
};

/// The readers of DeepseekFamilies.cpp: DeepSeek-V2/V3/V3.2 and the
/// families that route as V3 does (GLM-4.5, GLM-4.7-Flash, dots.llm1,
/// EXAONE MoE). `type` is the model_type.
std::string deepseekLike(const Checkpoint &ckpt, Config &cfg, const Common &c,
                         const std::string &type, std::vector<LayerPlan> &out);

/// Nemotron-H's layer kinds, one flag per layer, true for MoE
/// (NemotronFamily.cpp).
std::vector<bool> nemotronMoeLayers(Config &cfg);

/// The plans of Nemotron-H's MoE layers, those `moe` marks.
std::string nemotronH(const Checkpoint &ckpt, Config &cfg, const Common &c,
                      const std::vector<bool> &moe,
                      std::vector<LayerPlan> &out);

} // namespace moe::hf::family

#endif // MOEC_IMPORTERS_HF_FAMILYCONFIG_H
