//===- FamilyConfig.cpp - typed config.json reads, tensor helpers ---------===//
#include "importers/hf/FamilyConfig.h"

using namespace moe;
using namespace moe::hf;
using namespace moe::hf::family;
using mlir::moe::GateUpLayout;

int64_t Config::integer(const char *k) {
  const json::Value *v = doc.get(k);
  std::optional<int64_t> n = v ? v->asInt64() : std::nullopt;
  if (!v || !v->isNumber() || !n) {
    fail(std::string(v ? "'" : "missing '") + key(k) + "'" +
         (v ? " is not an integer" : ""));
    return 0;
  }
  return *n;
}

double Config::number(const char *k, double dflt) {
  const json::Value *v = doc.get(k);
  if (!v || v->isNull())
    return dflt;
  if (!v->isNumber()) {
    fail("'" + key(k) + "' is not a number");
    return dflt;
  }
  return v->asNumber();
}

bool Config::boolean(const char *k, bool dflt) {
  const json::Value *v = doc.get(k);
  if (!v || v->isNull())
    return dflt;
  if (!v->isBool()) {
    fail("'" + key(k) + "' is not a boolean");
    return dflt;
  }
  return v->asBool();
}

std::string Config::string(const char *k, const std::string &dflt) {
  const json::Value *v = doc.get(k);
  if (!v || v->isNull())
    return dflt;
  if (!v->isString()) {
    fail("'" + key(k) + "' is not a string");
    return dflt;
  }
  return v->asString();
}

std::vector<int64_t> Config::integers(const char *k) {
  std::vector<int64_t> out;
  const json::Value *v = doc.get(k);
  if (!v || v->isNull())
    return out;
  if (!v->isArray()) {
    fail("'" + key(k) + "' is not a list");
    return out;
  }
  for (const json::Value &e : v->elements()) {
    std::optional<int64_t> n = e.asInt64();
    if (!e.isNumber() || !n) {
      fail("'" + key(k) + "' holds a non-integer");
      return {};
    }
    out.push_back(*n);
  }
  return out;
}

std::vector<std::string> Config::strings(const char *k) {
  std::vector<std::string> out;
  const json::Value *v = doc.get(k);
  if (!v || v->isNull())
    return out;
  if (!v->isArray()) {
    fail("'" + key(k) + "' is not a list");
    return out;
  }
  for (const json::Value &e : v->elements()) {
    if (!e.isString()) {
      fail("'" + key(k) + "' holds a non-string");
      return {};
    }
    out.push_back(e.asString());
  }
  return out;
}

int64_t Config::width(const char *k) {
  int64_t v = integer(k);
  require(v >= 0 && v <= kMaxWidth, "'" + key(k) + "' is " + std::to_string(v) +
                                        "; moec reads widths in [0, " +
                                        std::to_string(kMaxWidth) + "]");
  return v;
}

int64_t Config::sharedCount(const char *k, int64_t dflt, int64_t expertWidth,
                            const char *widthKey) {
  int64_t n = dflt < 0 ? integer(k) : integer(k, dflt);
  require(n >= 0 && n <= kMaxExperts, "'" + key(k) + "' must be in [0, " +
                                          std::to_string(kMaxExperts) + "]");
  require(!error.empty() || n * expertWidth <= kMaxWidth,
          "'" + key(k) + "' times '" + key(widthKey) + "' is " +
              std::to_string(n * expertWidth) + "; moec reads widths in [0, " +
              std::to_string(kMaxWidth) + "]");
  return n;
}

std::optional<std::vector<bool>> Config::sparseLayers(int64_t layers) {
  std::vector<std::string> types = strings("mlp_layer_types");
  if (types.empty())
    return std::nullopt;
  std::string k = key("mlp_layer_types");
  require(static_cast<int64_t>(types.size()) == layers,
          "'" + k + "' has " + std::to_string(types.size()) + " entries for " +
              std::to_string(layers) + " layers");
  std::vector<bool> sparse(layers, false);
  for (size_t i = 0; i < types.size() && error.empty(); ++i) {
    require(types[i] == "sparse" || types[i] == "dense",
            "'" + k + "' entry " + std::to_string(i) + " is '" + types[i] +
                "' (sparse or dense)");
    sparse[i] = types[i] == "sparse";
  }
  return sparse;
}

void Config::fail(const std::string &what) {
  if (error.empty())
    error = ckpt.configPath() + ": " + what + " (model_type '" +
            ckpt.modelType() + "')";
}

std::string family::layerPrefix(int64_t i, const std::string &base) {
  return base + "layers." + std::to_string(i) + ".";
}

WeightSource family::stacked(const std::string &experts,
                             const std::string &leaf, int64_t numExperts,
                             std::vector<int64_t> shape) {
  WeightSource s;
  // Named like its parts with the expert index as "*".
  s.name = experts + "*." + leaf;
  for (int64_t e = 0; e < numExperts; ++e)
    s.stack.push_back(experts + std::to_string(e) + "." + leaf);
  s.shape = {numExperts};
  s.shape.insert(s.shape.end(), shape.begin(), shape.end());
  return s;
}

WeightSource family::tensor(const std::string &name, std::vector<int64_t> shape,
                            bool transposed) {
  WeightSource s;
  s.name = name;
  s.shape = std::move(shape);
  s.transposed = transposed;
  return s;
}

std::string family::storedName(const Checkpoint &ckpt,
                               std::initializer_list<std::string> names) {
  for (const std::string &n : names)
    if (ckpt.find(n))
      return n;
  return *names.begin();
}

WeightSource family::f32Tensor(const std::string &name,
                               std::vector<int64_t> shape) {
  WeightSource s = tensor(name, std::move(shape));
  s.keepF32 = true;
  return s;
}

void family::addExperts(const Checkpoint &ckpt, LayerPlan &p,
                        const std::string &experts, const char *gate,
                        const char *up, const char *down, int64_t E, int64_t I,
                        int64_t H) {
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

void family::addSharedExpert(LayerPlan &p, const std::string &shared,
                             int64_t Is, int64_t H) {
  p.operands["shared_gate"] = tensor(shared + "gate_proj.weight", {Is, H});
  p.operands["shared_up"] = tensor(shared + "up_proj.weight", {Is, H});
  p.operands["shared_down"] = tensor(shared + "down_proj.weight", {H, Is});
}
