//===- Reference.cpp - float64 reference evaluator of moe.layer -----------===//
//
// Deliberately naive: plain loops in the order of the definition in
// Reference.h, so that a reader can check it against the math line by line.
//
//===----------------------------------------------------------------------===//

#include "runtime/reference/Reference.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace moe::ref {

bool isGated(ActivationKind kind) {
  return kind == ActivationKind::SwiGLU || kind == ActivationKind::GeGLU;
}

int64_t Array::numElements() const {
  int64_t n = 1;
  for (int64_t dim : shape)
    n *= dim;
  return n;
}

const std::vector<std::string> &roleNames() {
  // The order matches the slots of optionalOperand() below.
  static const std::vector<std::string> names = {"hidden",
                                                 "router_weight",
                                                 "router_bias",
                                                 "router_logits",
                                                 "correction_bias",
                                                 "gate",
                                                 "up",
                                                 "gate_up",
                                                 "down",
                                                 "gate_bias",
                                                 "up_bias",
                                                 "gate_up_bias",
                                                 "down_bias",
                                                 "shared_gate",
                                                 "shared_up",
                                                 "shared_gate_up",
                                                 "shared_down",
                                                 "shared_expert_gate"};
  return names;
}

std::optional<Array> *optionalOperand(LayerOperands &ops,
                                      const std::string &role) {
  std::optional<Array> *slots[] = {&ops.routerWeight,
                                   &ops.routerBias,
                                   &ops.routerLogits,
                                   &ops.correctionBias,
                                   &ops.gate,
                                   &ops.up,
                                   &ops.gateUp,
                                   &ops.down,
                                   &ops.gateBias,
                                   &ops.upBias,
                                   &ops.gateUpBias,
                                   &ops.downBias,
                                   &ops.sharedGate,
                                   &ops.sharedUp,
                                   &ops.sharedGateUp,
                                   &ops.sharedDown,
                                   &ops.sharedExpertGate};
  const std::vector<std::string> &names = roleNames();
  for (size_t i = 1; i < names.size(); ++i)
    if (names[i] == role)
      return slots[i - 1];
  return nullptr;
}

const char *toString(Scoring v) {
  switch (v) {
  case Scoring::Softmax:
    return "softmax";
  case Scoring::Sigmoid:
    return "sigmoid";
  }
  return "?";
}

const char *toString(ScoreOrder v) {
  switch (v) {
  case ScoreOrder::ScoreThenTopK:
    return "score_then_topk";
  case ScoreOrder::TopKThenScore:
    return "topk_then_score";
  case ScoreOrder::SparseMixer:
    return "sparsemixer";
  }
  return "?";
}

const char *toString(GroupScore v) {
  switch (v) {
  case GroupScore::Max:
    return "max";
  case GroupScore::Top2Sum:
    return "top2_sum";
  }
  return "?";
}

const char *toString(ActivationKind v) {
  switch (v) {
  case ActivationKind::SwiGLU:
    return "swiglu";
  case ActivationKind::GeGLU:
    return "geglu";
  case ActivationKind::Relu:
    return "relu";
  case ActivationKind::Relu2:
    return "relu2";
  case ActivationKind::Gelu:
    return "gelu";
  case ActivationKind::GeluTanh:
    return "gelu_tanh";
  case ActivationKind::Silu:
    return "silu";
  case ActivationKind::Identity:
    return "identity";
  }
  return "?";
}

const char *toString(GateUpLayout v) {
  switch (v) {
  case GateUpLayout::Interleaved:
    return "interleaved";
  case GateUpLayout::Concatenated:
    return "concatenated";
  }
  return "?";
}

//===----------------------------------------------------------------------===//
// route
//===----------------------------------------------------------------------===//

namespace {

double sigmoid(double z) {
  // Both branches avoid exp overflow for large |z|.
  if (z >= 0)
    return 1.0 / (1.0 + std::exp(-z));
  double ez = std::exp(z);
  return ez / (1.0 + ez);
}

std::vector<double> softmax(const std::vector<double> &l) {
  double m = -std::numeric_limits<double>::infinity();
  for (double x : l)
    m = std::max(m, x);
  std::vector<double> p(l.size());
  double sum = 0.0;
  for (size_t i = 0; i < l.size(); ++i)
    sum += p[i] = std::exp(l[i] - m);
  for (double &x : p)
    x /= sum;
  return p;
}

/// Indices of the k largest values, descending; ties keep the lower index
/// first. O(n·k) selection instead of a sort so that NaNs cannot break a
/// comparator's ordering requirements.
std::vector<int64_t> topK(const std::vector<double> &v, int64_t k) {
  std::vector<int64_t> idx;
  std::vector<bool> taken(v.size(), false);
  for (int64_t j = 0; j < k; ++j) {
    int64_t best = -1;
    for (size_t i = 0; i < v.size(); ++i)
      if (!taken[i] && (best < 0 || v[i] > v[best]))
        best = static_cast<int64_t>(i);
    taken[best] = true;
    idx.push_back(best);
  }
  return idx;
}

double dot(const double *a, const double *b, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i)
    s += a[i] * b[i];
  return s;
}

int64_t numExperts(const LayerOperands &ops) {
  return ops.routerWeight ? ops.routerWeight->shape[0]
                          : ops.routerLogits->shape[1];
}

void routeToken(const LayerConfig &config, const LayerOperands &ops, int64_t t,
                double *weights, int64_t *experts) {
  const RoutingConfig &r = config.routing;
  int64_t E = numExperts(ops), d = ops.hidden.shape[1];
  const double *x = &ops.hidden.data[t * d];
  std::vector<double> l(E);
  for (int64_t e = 0; e < E; ++e) {
    if (ops.routerLogits) {
      l[e] = ops.routerLogits->data[t * E + e];
      continue;
    }
    l[e] = dot(&ops.routerWeight->data[e * d], x, d);
    if (ops.routerBias)
      l[e] += ops.routerBias->data[e];
  }

  std::vector<int64_t> idx;
  std::vector<double> w(r.k);
  if (r.order == ScoreOrder::ScoreThenTopK) {
    std::vector<double> s(E);
    if (r.scoring == Scoring::Softmax)
      s = softmax(l);
    else
      for (int64_t e = 0; e < E; ++e)
        s[e] = sigmoid(l[e]);
    std::vector<double> c = s;
    if (ops.correctionBias)
      for (int64_t e = 0; e < E; ++e)
        c[e] += ops.correctionBias->data[e];
    if (r.numGroups > 1) {
      int64_t size = E / r.numGroups;
      std::vector<double> groupScore(r.numGroups);
      for (int64_t g = 0; g < r.numGroups; ++g) {
        std::vector<double> members(c.begin() + g * size,
                                    c.begin() + (g + 1) * size);
        std::vector<int64_t> best =
            topK(members, r.groupScore == GroupScore::Max ? 1 : 2);
        groupScore[g] = 0.0;
        for (int64_t i : best)
          groupScore[g] += members[i];
      }
      std::vector<bool> kept(r.numGroups, false);
      for (int64_t g : topK(groupScore, r.topkGroups))
        kept[g] = true;
      for (int64_t e = 0; e < E; ++e)
        if (!kept[e / size])
          c[e] = -std::numeric_limits<double>::infinity();
    }
    idx = topK(c, r.k);
    for (int64_t j = 0; j < r.k; ++j)
      w[j] = s[idx[j]];
  } else if (r.order == ScoreOrder::SparseMixer) {
    idx = topK(l, r.k);
    std::vector<bool> picked(E, false);
    for (int64_t j = 0; j < r.k; ++j) {
      double m = l[idx[j]], sum = 0.0;
      picked[idx[j]] = true;
      for (int64_t e = 0; e < E; ++e) {
        bool masked =
            (picked[e] && e != idx[j]) ||
            (m - l[e]) / std::max(std::abs(l[e]), m) > 2.0 * r.sparsemixerEps;
        if (!masked)
          sum += std::exp(l[e] - m);
      }
      w[j] = 1.0 / sum;
    }
  } else {
    idx = topK(l, r.k);
    std::vector<double> selected(r.k);
    for (int64_t j = 0; j < r.k; ++j)
      selected[j] = l[idx[j]];
    if (r.scoring == Scoring::Softmax)
      w = softmax(selected);
    else
      for (int64_t j = 0; j < r.k; ++j)
        w[j] = sigmoid(selected[j]);
  }

  if (r.renormalize) {
    double sum = r.renormEpsilon;
    for (double wj : w)
      sum += wj;
    for (double &wj : w)
      wj /= sum;
  }
  for (int64_t j = 0; j < r.k; ++j) {
    weights[j] = w[j] * r.scalingFactor;
    experts[j] = idx[j];
  }
}

} // namespace

Routing route(const LayerConfig &config, const LayerOperands &ops) {
  int64_t T = ops.hidden.shape[0], k = config.routing.k;
  Routing routing;
  routing.weights.resize(T * k);
  routing.experts.resize(T * k);
  for (int64_t t = 0; t < T; ++t)
    routeToken(config, ops, t, &routing.weights[t * k],
               &routing.experts[t * k]);
  return routing;
}

//===----------------------------------------------------------------------===//
// evaluate
//===----------------------------------------------------------------------===//

namespace {

double gelu(double u) { return 0.5 * u * (1.0 + std::erf(u / std::sqrt(2.0))); }

double geluTanh(double u) {
  const double c = 0.79788456080286535588; // sqrt(2 / pi)
  return 0.5 * u * (1.0 + std::tanh(c * (u + 0.044715 * u * u * u)));
}

/// h from the pre-activations: g (gated kinds only) and u.
double activate(const ActivationConfig &a, double g, double u) {
  switch (a.kind) {
  case ActivationKind::SwiGLU:
  case ActivationKind::GeGLU:
    if (a.limit) {
      g = std::min(g, *a.limit);
      u = std::min(std::max(u, -*a.limit), *a.limit);
    }
    if (a.kind == ActivationKind::SwiGLU)
      return g * sigmoid(a.alpha * g) * (u + a.beta);
    return gelu(g) * (u + a.beta);
  case ActivationKind::Relu:
    return std::max(u, 0.0);
  case ActivationKind::Relu2:
    return std::max(u, 0.0) * std::max(u, 0.0);
  case ActivationKind::Gelu:
    return gelu(u);
  case ActivationKind::GeluTanh:
    return geluTanh(u);
  case ActivationKind::Silu:
    return u * sigmoid(u);
  case ActivationKind::Identity:
    return u;
  }
  return u;
}

/// Pointers to one FFN's weight rows; a null bias reads as zero.
struct Ffn {
  const double *gate = nullptr, *up = nullptr, *down = nullptr;
  const double *gateBias = nullptr, *upBias = nullptr, *downBias = nullptr;
  // Row i of the gate (up) projection is at gate + gateRow(i) * d.
  int64_t gateRowScale = 1, gateRowOffset = 0;
  int64_t upRowScale = 1, upRowOffset = 0;
  int64_t width = 0;
};

/// y += weight · FFN(x), with y and x of length d.
void accumulateFfn(const ActivationConfig &a, const Ffn &ffn, const double *x,
                   int64_t d, double weight, double *y) {
  std::vector<double> h(ffn.width);
  for (int64_t i = 0; i < ffn.width; ++i) {
    int64_t ur = i * ffn.upRowScale + ffn.upRowOffset;
    double u = dot(ffn.up + ur * d, x, d) + (ffn.upBias ? ffn.upBias[ur] : 0);
    double g = 0.0;
    if (ffn.gate) {
      int64_t gr = i * ffn.gateRowScale + ffn.gateRowOffset;
      g = dot(ffn.gate + gr * d, x, d) + (ffn.gateBias ? ffn.gateBias[gr] : 0);
    }
    h[i] = activate(a, g, u);
  }
  for (int64_t o = 0; o < d; ++o) {
    double yo = dot(ffn.down + o * ffn.width, h.data(), ffn.width);
    if (ffn.downBias)
      yo += ffn.downBias[o];
    y[o] += weight * yo;
  }
}

const double *ptr(const std::optional<Array> &a, int64_t offset) {
  return a ? a->data.data() + offset : nullptr;
}

/// The gate and up rows of an FFN `f` wide whose fused gate_up rows start
/// at `rows` (and its bias at `bias`), laid out as `layout`.
void fusedGateUp(Ffn &ffn, GateUpLayout layout, const double *rows,
                 const double *bias, int64_t f) {
  ffn.gate = ffn.up = rows;
  ffn.gateBias = ffn.upBias = bias;
  if (layout == GateUpLayout::Interleaved) {
    ffn.gateRowScale = ffn.upRowScale = 2;
    ffn.upRowOffset = 1;
  } else {
    ffn.upRowOffset = f;
  }
}

Ffn routedExpert(const LayerConfig &c, const LayerOperands &ops, int64_t e) {
  int64_t d = ops.hidden.shape[1], f = ops.down->shape[2];
  Ffn ffn;
  ffn.width = f;
  ffn.down = ptr(ops.down, e * d * f);
  ffn.downBias = ptr(ops.downBias, e * d);
  if (ops.gateUp) {
    fusedGateUp(ffn, c.gateUpLayout, ptr(ops.gateUp, e * 2 * f * d),
                ptr(ops.gateUpBias, e * 2 * f), f);
    return ffn;
  }
  ffn.gate = ptr(ops.gate, e * f * d);
  ffn.gateBias = ptr(ops.gateBias, e * f);
  ffn.up = ptr(ops.up, e * f * d);
  ffn.upBias = ptr(ops.upBias, e * f);
  return ffn;
}

} // namespace

std::string evaluate(const LayerConfig &config, const LayerOperands &ops,
                     Array &out) {
  if (std::string err = validate(config, ops); !err.empty())
    return err;
  int64_t T = ops.hidden.shape[0], d = ops.hidden.shape[1];
  int64_t k = config.routing.k;
  Routing routing = route(config, ops);

  Array result;
  result.shape = {T, d};
  result.data.assign(T * d, 0.0);
  Ffn shared;
  if (ops.sharedDown) {
    shared.width = ops.sharedDown->shape[1];
    shared.down = ptr(ops.sharedDown, 0);
    shared.up = ptr(ops.sharedUp, 0);
    shared.gate = ptr(ops.sharedGate, 0);
    if (ops.sharedGateUp)
      fusedGateUp(shared, config.gateUpLayout, ptr(ops.sharedGateUp, 0),
                  nullptr, shared.width);
  }
  for (int64_t t = 0; t < T; ++t) {
    const double *x = &ops.hidden.data[t * d];
    double *y = &result.data[t * d];
    std::vector<double> scaled(config.routing.scaleInputs ? d : 0);
    for (int64_t j = 0; j < k; ++j) {
      Ffn expert = routedExpert(config, ops, routing.experts[t * k + j]);
      double w = routing.weights[t * k + j];
      if (!config.routing.scaleInputs) {
        accumulateFfn(config.activation, expert, x, d, w, y);
        continue;
      }
      // scaleInputs: the weight scales the expert's input (Llama-4).
      for (int64_t c = 0; c < d; ++c)
        scaled[c] = w * x[c];
      accumulateFfn(config.activation, expert, scaled.data(), d, 1.0, y);
    }
    if (ops.sharedDown) {
      double gate = 1.0;
      if (ops.sharedExpertGate)
        gate = sigmoid(dot(ops.sharedExpertGate->data.data(), x, d));
      accumulateFfn(config.activation, shared, x, d, gate, y);
    }
  }
  out = std::move(result);
  return "";
}

double relativeL2(const std::vector<double> &a, const std::vector<double> &b) {
  if (a.size() != b.size())
    return std::numeric_limits<double>::infinity();
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  if (den == 0.0)
    return num == 0.0 ? 0.0 : std::numeric_limits<double>::infinity();
  return std::sqrt(num / den);
}

OutputComparison compareOutput(const std::vector<double> &actual,
                               const std::vector<double> &expected,
                               double (*round)(double)) {
  OutputComparison c;
  if (actual.size() != expected.size()) {
    c.relativeL2 = std::numeric_limits<double>::infinity();
    return c;
  }
  auto kind = [](double v) { return std::isnan(v) ? 0 : v > 0 ? 1 : -1; };
  std::vector<double> a, b;
  for (size_t i = 0; i < actual.size(); ++i) {
    double e = round ? round(expected[i]) : expected[i];
    bool finiteE = std::isfinite(e), finiteA = std::isfinite(actual[i]);
    c.nonFinite += !finiteE;
    if (finiteE != finiteA || (!finiteE && kind(e) != kind(actual[i]))) {
      ++c.mismatches;
      continue;
    }
    if (finiteE) {
      a.push_back(actual[i]);
      b.push_back(e);
    }
  }
  c.relativeL2 = relativeL2(a, b);
  return c;
}

} // namespace moe::ref
