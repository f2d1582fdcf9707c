//===- Validate.cpp - shape and config checks of the reference ------------===//
//
// Every operand is checked against the dimensions the others fix (T and d by
// hidden, E by the router, f by down, fs by shared_down), and each message
// names the offending role or config field, so that a tool can point its
// user at the right file.
//
//===----------------------------------------------------------------------===//

#include "runtime/reference/Reference.h"

#include <cmath>

namespace moe::ref {

namespace {

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// An expected dimension: a known size, or free (-1) and then named.
struct Dim {
  int64_t size;
  const char *name;
};

class Validator {
public:
  std::string error;

  bool fail(const std::string &message) {
    error = message;
    return false;
  }

  /// Checks the rank and every known dimension; free dimensions only need to
  /// be >= 1. Also checks that the data holds exactly as many values.
  bool shape(const char *role, const Array &a, std::vector<Dim> dims) {
    bool ok = a.shape.size() == dims.size();
    for (size_t i = 0; ok && i < dims.size(); ++i)
      ok = dims[i].size < 0 ? a.shape[i] >= 1 : a.shape[i] == dims[i].size;
    if (!ok) {
      std::string want = "[";
      for (size_t i = 0; i < dims.size(); ++i) {
        want += i ? ", " : "";
        want += dims[i].size < 0 ? std::string(dims[i].name)
                                 : std::to_string(dims[i].size);
      }
      want += "] ([";
      for (size_t i = 0; i < dims.size(); ++i)
        want += std::string(i ? ", " : "") + dims[i].name;
      return fail(std::string(role) + ": expected shape " + want + "]), got " +
                  shapeString(a.shape));
    }
    return data(role, a);
  }

  bool data(const char *role, const Array &a) {
    int64_t n = 1;
    for (int64_t dim : a.shape)
      n *= dim;
    if (static_cast<int64_t>(a.data.size()) != n)
      return fail(std::string(role) + ": shape " + shapeString(a.shape) +
                  " needs " + std::to_string(n) + " values, got " +
                  std::to_string(a.data.size()));
    return true;
  }

  bool absent(const std::optional<Array> &a, const char *role,
              const std::string &why) {
    if (a)
      return fail(std::string(role) + ": " + why);
    return true;
  }

  bool present(const std::optional<Array> &a, const char *role,
               const std::string &why) {
    if (!a)
      return fail("missing operand " + std::string(role) + " (" + why + ")");
    return true;
  }
};

bool validateShapes(const LayerConfig &c, const LayerOperands &ops,
                    Validator &v, int64_t &numExperts) {
  const Array &x = ops.hidden;
  if (x.shape.size() != 2 || x.shape[0] < 0 || x.shape[1] < 1)
    return v.fail("hidden: expected shape [T, d] with d >= 1, got " +
                  shapeString(x.shape));
  if (!v.data("hidden", x))
    return false;
  int64_t T = x.shape[0], d = x.shape[1];

  // The router fixes E.
  if (ops.routerWeight && ops.routerLogits)
    return v.fail("router_logits: not allowed together with router_weight");
  int64_t E;
  if (ops.routerWeight) {
    if (!v.shape("router_weight", *ops.routerWeight, {{-1, "E"}, {d, "d"}}))
      return false;
    E = ops.routerWeight->shape[0];
  } else if (ops.routerLogits) {
    if (!v.shape("router_logits", *ops.routerLogits, {{T, "T"}, {-1, "E"}}))
      return false;
    E = ops.routerLogits->shape[1];
  } else {
    return v.fail("missing operand router_weight or router_logits");
  }
  numExperts = E;
  if (ops.routerBias && !(v.absent(ops.routerLogits, "router_bias",
                                   "only allowed with router_weight") &&
                          v.shape("router_bias", *ops.routerBias, {{E, "E"}})))
    return false;
  if (ops.correctionBias) {
    if (c.routing.order != ScoreOrder::ScoreThenTopK)
      return v.fail("correction_bias: only allowed with routing order "
                    "score_then_topk");
    if (!v.shape("correction_bias", *ops.correctionBias, {{E, "E"}}))
      return false;
  }

  // down fixes f.
  if (!v.present(ops.down, "down", "every layer needs it") ||
      !v.shape("down", *ops.down, {{E, "E"}, {d, "d"}, {-1, "f"}}))
    return false;
  int64_t f = ops.down->shape[2];
  std::string kind = toString(c.activation.kind);

  if (isGated(c.activation.kind)) {
    if (ops.gateUp) {
      if (!v.absent(ops.gate, "gate", "not allowed together with gate_up") ||
          !v.absent(ops.up, "up", "not allowed together with gate_up") ||
          !v.shape("gate_up", *ops.gateUp, {{E, "E"}, {2 * f, "2f"}, {d, "d"}}))
        return false;
    } else {
      std::string why = kind + " needs gate and up, or gate_up";
      if (!v.present(ops.gate, "gate", why) || !v.present(ops.up, "up", why) ||
          !v.shape("gate", *ops.gate, {{E, "E"}, {f, "f"}, {d, "d"}}) ||
          !v.shape("up", *ops.up, {{E, "E"}, {f, "f"}, {d, "d"}}))
        return false;
    }
  } else {
    std::string why = "not allowed with elementwise activation " + kind;
    if (!v.absent(ops.gate, "gate", why) ||
        !v.absent(ops.gateUp, "gate_up", why) ||
        !v.present(ops.up, "up", kind + " needs it") ||
        !v.shape("up", *ops.up, {{E, "E"}, {f, "f"}, {d, "d"}}))
      return false;
  }
  if (ops.gateBias &&
      !(v.present(ops.gate, "gate", "gate_bias is given") &&
        v.shape("gate_bias", *ops.gateBias, {{E, "E"}, {f, "f"}})))
    return false;
  if (ops.upBias && !(v.present(ops.up, "up", "up_bias is given") &&
                      v.shape("up_bias", *ops.upBias, {{E, "E"}, {f, "f"}})))
    return false;
  if (ops.gateUpBias &&
      !(v.present(ops.gateUp, "gate_up", "gate_up_bias is given") &&
        v.shape("gate_up_bias", *ops.gateUpBias, {{E, "E"}, {2 * f, "2f"}})))
    return false;
  if (ops.downBias &&
      !v.shape("down_bias", *ops.downBias, {{E, "E"}, {d, "d"}}))
    return false;

  // The shared FFN: shared_down fixes fs.
  bool anyShared = ops.sharedGate || ops.sharedUp || ops.sharedGateUp ||
                   ops.sharedExpertGate;
  if (anyShared &&
      !v.present(ops.sharedDown, "shared_down", "the shared FFN needs it"))
    return false;
  if (ops.sharedDown) {
    if (!v.shape("shared_down", *ops.sharedDown, {{d, "d"}, {-1, "fs"}}))
      return false;
    int64_t fs = ops.sharedDown->shape[1];
    if (ops.sharedGateUp) {
      std::string why = "not allowed together with shared_gate_up";
      if (!isGated(c.activation.kind))
        return v.fail("shared_gate_up: not allowed with elementwise "
                      "activation " +
                      kind);
      if (!v.absent(ops.sharedGate, "shared_gate", why) ||
          !v.absent(ops.sharedUp, "shared_up", why) ||
          !v.shape("shared_gate_up", *ops.sharedGateUp,
                   {{2 * fs, "2fs"}, {d, "d"}}))
        return false;
    } else if (!v.present(ops.sharedUp, "shared_up",
                          "the shared FFN needs it") ||
               !v.shape("shared_up", *ops.sharedUp, {{fs, "fs"}, {d, "d"}})) {
      return false;
    } else if (isGated(c.activation.kind)) {
      if (!v.present(ops.sharedGate, "shared_gate",
                     "the shared FFN of " + kind + " needs it") ||
          !v.shape("shared_gate", *ops.sharedGate, {{fs, "fs"}, {d, "d"}}))
        return false;
    } else if (!v.absent(ops.sharedGate, "shared_gate",
                         "not allowed with elementwise activation " + kind)) {
      return false;
    }
    if (ops.sharedExpertGate &&
        !v.shape("shared_expert_gate", *ops.sharedExpertGate,
                 {{1, "1"}, {d, "d"}}))
      return false;
  }
  return true;
}

bool validateConfig(const LayerConfig &c, int64_t E, Validator &v) {
  const RoutingConfig &r = c.routing;
  std::string e = " (E = " + std::to_string(E) + ")";
  if (r.k < 1 || r.k > E)
    return v.fail("routing.k = " + std::to_string(r.k) + " is outside [1, E]" +
                  e);
  if (r.numGroups < 1 || E % r.numGroups != 0)
    return v.fail("routing.n_group = " + std::to_string(r.numGroups) +
                  " does not divide the experts" + e);
  if (r.topkGroups < 1 || r.topkGroups > r.numGroups)
    return v.fail("routing.topk_group = " + std::to_string(r.topkGroups) +
                  " is outside [1, n_group = " + std::to_string(r.numGroups) +
                  "]");
  int64_t groupSize = E / r.numGroups;
  if (r.k > r.topkGroups * groupSize)
    return v.fail("routing.k = " + std::to_string(r.k) + " exceeds the " +
                  std::to_string(r.topkGroups * groupSize) +
                  " experts of the kept groups (topk_group * E / n_group)");
  if (r.numGroups > 1 && r.order != ScoreOrder::ScoreThenTopK)
    return v.fail("routing.n_group > 1 requires order score_then_topk");
  if (r.numGroups > 1 && r.groupScore == GroupScore::Top2Sum && groupSize < 2)
    return v.fail("routing.group_score top2_sum needs at least 2 experts per "
                  "group, got " +
                  std::to_string(groupSize));
  if (!std::isfinite(r.scalingFactor))
    return v.fail("routing.scale must be finite");
  if (!std::isfinite(r.renormEpsilon) || r.renormEpsilon < 0.0 ||
      (r.renormEpsilon > 0.0 && !r.renormalize))
    return v.fail("routing.renorm_epsilon must be finite and >= 0, and above "
                  "0 only with renormalize");
  if (r.order == ScoreOrder::SparseMixer && r.scoring != Scoring::Softmax)
    return v.fail("routing.order sparsemixer requires scoring softmax");
  if (!std::isfinite(r.sparsemixerEps) || r.sparsemixerEps < 0.0)
    return v.fail("routing.sparsemixer_eps must be finite and >= 0");

  const ActivationConfig &a = c.activation;
  std::string kind = toString(a.kind);
  if (!std::isfinite(a.alpha) || !std::isfinite(a.beta))
    return v.fail("activation.alpha and activation.beta must be finite");
  if (a.alpha != 1.0 && a.kind != ActivationKind::SwiGLU)
    return v.fail("activation.alpha is only allowed for swiglu, not " + kind);
  if (a.beta != 0.0 && !isGated(a.kind))
    return v.fail("activation.beta is only allowed for gated kinds, not " +
                  kind);
  if (a.limit) {
    if (!isGated(a.kind))
      return v.fail("activation.limit is only allowed for gated kinds, not " +
                    kind);
    if (!(*a.limit > 0.0))
      return v.fail("activation.limit must be > 0, got " +
                    std::to_string(*a.limit));
  }
  return true;
}

} // namespace

std::string validate(const LayerConfig &config, const LayerOperands &ops) {
  Validator v;
  int64_t E = 0;
  if (validateShapes(config, ops, v, E))
    validateConfig(config, E, v);
  return v.error;
}

} // namespace moe::ref
