//===- ConfigJson.cpp - LayerConfig to and from JSON ----------------------===//

#include "runtime/reference/ConfigJson.h"

#include <cmath>
#include <initializer_list>

namespace moe::ref {

namespace {

// Every value of each enum; the spellings come from toString().
const Scoring kScorings[] = {Scoring::Softmax, Scoring::Sigmoid};
const ScoreOrder kOrders[] = {ScoreOrder::ScoreThenTopK,
                              ScoreOrder::TopKThenScore,
                              ScoreOrder::SparseMixer};
const GroupScore kGroupScores[] = {GroupScore::Max, GroupScore::Top2Sum};
const ActivationKind kKinds[] = {
    ActivationKind::SwiGLU,   ActivationKind::GeGLU,    ActivationKind::Relu,
    ActivationKind::Gelu,     ActivationKind::GeluTanh, ActivationKind::Silu,
    ActivationKind::Identity, ActivationKind::Relu2};
const GateUpLayout kLayouts[] = {GateUpLayout::Interleaved,
                                 GateUpLayout::Concatenated};

/// Reads the members of one JSON object, remembering the first error.
class ObjectReader {
public:
  ObjectReader(const json::Value &obj, std::string path, std::string &error)
      : obj_(obj), path_(std::move(path)), error_(error) {}

  /// Rejects members not in `known`.
  bool onlyKeys(std::initializer_list<const char *> known) {
    for (const json::Member &m : obj_.members()) {
      bool ok = false;
      for (const char *k : known)
        ok = ok || m.key == k;
      if (!ok)
        return fail("unknown key '" + m.key + "' in " + path_);
    }
    return true;
  }

  bool require(const char *key) {
    if (!obj_.get(key))
      return fail("missing required key '" + std::string(key) + "' in " +
                  path_);
    return true;
  }

  bool integer(const char *key, int64_t &out) {
    const json::Value *v = obj_.get(key);
    if (!v)
      return true;
    std::optional<int64_t> i = v->asInt64();
    if (!i)
      return fail(name(key) + ": expected an integer, got " + describe(*v));
    out = *i;
    return true;
  }

  bool number(const char *key, double &out) {
    const json::Value *v = obj_.get(key);
    if (!v)
      return true;
    if (!v->isNumber())
      return fail(name(key) + ": expected a number, got " + describe(*v));
    out = v->asNumber();
    return true;
  }

  /// Like number(), but null clears `out`.
  bool optionalNumber(const char *key, std::optional<double> &out) {
    const json::Value *v = obj_.get(key);
    if (!v)
      return true;
    if (v->isNull()) {
      out.reset();
      return true;
    }
    double d = 0.0;
    if (!number(key, d))
      return false;
    out = d;
    return true;
  }

  bool boolean(const char *key, bool &out) {
    const json::Value *v = obj_.get(key);
    if (!v)
      return true;
    if (!v->isBool())
      return fail(name(key) + ": expected true or false, got " + describe(*v));
    out = v->asBool();
    return true;
  }

  template <typename Enum, size_t N>
  bool enumeration(const char *key, const Enum (&values)[N], Enum &out) {
    const json::Value *v = obj_.get(key);
    if (!v)
      return true;
    std::string choices;
    for (size_t i = 0; i < N; ++i)
      choices += std::string(i ? ", " : "") + "'" + toString(values[i]) + "'";
    if (!v->isString())
      return fail(name(key) + ": expected one of " + choices + ", got " +
                  describe(*v));
    for (Enum e : values)
      if (v->asString() == toString(e)) {
        out = e;
        return true;
      }
    return fail(name(key) + ": unknown value '" + v->asString() +
                "' (expected one of " + choices + ")");
  }

private:
  const json::Value &obj_;
  std::string path_;
  std::string &error_;

  bool fail(const std::string &message) {
    if (error_.empty())
      error_ = message;
    return false;
  }
  std::string name(const char *key) const {
    return path_ == "the config" ? key : path_ + "." + key;
  }
  static std::string describe(const json::Value &v) {
    if (v.isNumber())
      return json::write(v);
    if (v.isString())
      return "the string '" + v.asString() + "'";
    return json::kindName(v.kind());
  }
};

} // namespace

std::string configFromJson(const json::Value &doc, LayerConfig &out) {
  if (!doc.isObject())
    return std::string("the config must be a JSON object, got ") +
           json::kindName(doc.kind());
  std::string error;
  LayerConfig c;
  ObjectReader top(doc, "the config", error);
  if (!top.onlyKeys({"routing", "activation", "gate_up_layout"}) ||
      !top.require("routing") || !top.require("activation") ||
      !top.enumeration("gate_up_layout", kLayouts, c.gateUpLayout))
    return error;

  const json::Value *routing = doc.getObject("routing");
  if (!routing)
    return std::string("routing: expected an object, got ") +
           json::kindName(doc.get("routing")->kind());
  RoutingConfig &r = c.routing;
  ObjectReader rr(*routing, "routing", error);
  if (!rr.onlyKeys({"scoring", "order", "k", "renormalize", "renorm_epsilon",
                    "sparsemixer_eps", "scale_inputs", "scale", "n_group",
                    "topk_group", "group_score"}) ||
      !rr.require("k") || !rr.enumeration("scoring", kScorings, r.scoring) ||
      !rr.enumeration("order", kOrders, r.order) || !rr.integer("k", r.k) ||
      !rr.boolean("renormalize", r.renormalize) ||
      !rr.number("renorm_epsilon", r.renormEpsilon) ||
      !rr.number("sparsemixer_eps", r.sparsemixerEps) ||
      !rr.boolean("scale_inputs", r.scaleInputs) ||
      !rr.number("scale", r.scalingFactor) ||
      !rr.integer("n_group", r.numGroups) ||
      !rr.integer("topk_group", r.topkGroups) ||
      !rr.enumeration("group_score", kGroupScores, r.groupScore))
    return error;

  const json::Value *activation = doc.getObject("activation");
  if (!activation)
    return std::string("activation: expected an object, got ") +
           json::kindName(doc.get("activation")->kind());
  ActivationConfig &a = c.activation;
  ObjectReader ar(*activation, "activation", error);
  if (!ar.onlyKeys({"kind", "alpha", "beta", "limit"}) || !ar.require("kind") ||
      !ar.enumeration("kind", kKinds, a.kind) || !ar.number("alpha", a.alpha) ||
      !ar.number("beta", a.beta) || !ar.optionalNumber("limit", a.limit))
    return error;

  out = c;
  return "";
}

std::string parseConfig(std::string_view text, LayerConfig &out) {
  json::Value doc;
  if (std::string err = json::parse(text, doc); !err.empty())
    return err;
  return configFromJson(doc, out);
}

json::Value configToJsonValue(const LayerConfig &config) {
  const RoutingConfig &r = config.routing;
  json::Value routing = json::Value::object();
  routing.set("scoring", json::Value::string(toString(r.scoring)));
  routing.set("order", json::Value::string(toString(r.order)));
  routing.set("k", json::Value::integer(r.k));
  routing.set("renormalize", json::Value::boolean(r.renormalize));
  // Written where set: configs without it read as 0.
  if (r.renormEpsilon != 0.0)
    routing.set("renorm_epsilon", json::Value::number(r.renormEpsilon));
  if (r.order == ScoreOrder::SparseMixer)
    routing.set("sparsemixer_eps", json::Value::number(r.sparsemixerEps));
  if (r.scaleInputs)
    routing.set("scale_inputs", json::Value::boolean(true));
  routing.set("scale", json::Value::number(r.scalingFactor));
  routing.set("n_group", json::Value::integer(r.numGroups));
  routing.set("topk_group", json::Value::integer(r.topkGroups));
  routing.set("group_score", json::Value::string(toString(r.groupScore)));

  const ActivationConfig &a = config.activation;
  json::Value activation = json::Value::object();
  activation.set("kind", json::Value::string(toString(a.kind)));
  activation.set("alpha", json::Value::number(a.alpha));
  activation.set("beta", json::Value::number(a.beta));
  // JSON has no infinity; an infinite limit clamps nothing, like no limit.
  if (a.limit && std::isfinite(*a.limit))
    activation.set("limit", json::Value::number(*a.limit));

  json::Value doc = json::Value::object();
  doc.set("routing", std::move(routing));
  doc.set("activation", std::move(activation));
  doc.set("gate_up_layout", json::Value::string(toString(config.gateUpLayout)));
  return doc;
}

std::string configToJson(const LayerConfig &config, int indent) {
  return json::write(configToJsonValue(config), indent);
}

} // namespace moe::ref
