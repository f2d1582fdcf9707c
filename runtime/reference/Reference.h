//===- Reference.h - float64 reference evaluator of moe.layer ---*- C++ -*-===//
//
// The oracle every numerical test compares against. It computes the
// semantics of one `moe.layer` in double precision, straight from the
// definition, with no MLIR and no code generation: loops, std::exp, std::erf.
// It is itself checked against ONNX Runtime's com.microsoft.MoE
// (test/reference/ort/).
//
// Semantics, per token t with hidden row x (length d):
//
//  Router logits  l[e] = router_logits[t,e], or Σ_i x[i]·router_weight[e,i]
//                 (+ router_bias[e]).
//  Routing, order ScoreThenTopK:
//     s[e] = softmax(l)[e] over all E, or sigmoid(l[e]).
//     c[e] = s[e] + correction_bias[e] (selection score; bias optional).
//     Group-limited (numGroups > 1): E experts form numGroups contiguous
//     groups; a group's score is the max of its c (GroupScore::Max) or the
//     sum of its two largest c (GroupScore::Top2Sum); the topkGroups best
//     groups are kept (ties: lower group index first) and c[e] = -inf for
//     every expert of the others. Groups exist only in this order.
//     idx = the k largest c, descending (ties: lower expert index first).
//     w_j = s[idx_j]   (the bias never reaches the weights).
//  Routing, order TopKThenScore:
//     idx = the k largest l, descending (ties: lower index first).
//     w_j = softmax over the k selected logits l[idx_0..idx_{k-1}], or
//     w_j = sigmoid(l[idx_j]).
//  Routing, order SparseMixer (softmax scoring only): for slot j = 0..k-1,
//     m_j = the largest l among the experts not picked yet, idx_j its
//     expert (ties: lower index first); an expert is masked if picked
//     before slot j or if (m_j - l[e]) / max(|l[e]|, m_j) >
//     2·sparsemixerEps (a NaN quotient masks nothing);
//     w_j = 1 / Σ_{e unmasked} exp(l[e] - m_j) (idx_j's share of a softmax
//     over the unmasked logits).
//  Then: if renormalize, w_j /= (Σ_j w_j + renormEpsilon); finally
//  w_j *= scalingFactor.
//
//  Expert e on x (projections are y = W·x, W row-major [out, in]):
//   gated kinds (SwiGLU, GeGLU): g = gate[e]·x + gate_bias[e],
//     u = up[e]·x + up_bias[e]; with a fused gate_up[e] ([2f, d]) the gate
//     rows are the even rows (Interleaved) or the first f rows (Concatenated)
//     and the up rows the odd rows or the last f rows; gate_up_bias alike.
//     With a limit L: g = min(g, L), u = clamp(u, -L, L).
//     SwiGLU: h = g·sigmoid(alpha·g)·(u + beta);
//     GeGLU:  h = gelu(g)·(u + beta).
//   elementwise kinds: u = up[e]·x + up_bias[e]; h = act(u) with
//     relu(u) = max(u, 0), relu2(u) = max(u, 0)², gelu(u) = u·Φ(u) (erf),
//     gelu_tanh(u) = ½u(1 + tanh(√(2/π)(u + 0.044715u³))), silu(u) = u·σ(u),
//     identity(u) = u.
//   y = down[e]·h + down_bias[e]    (down is [d, f]).
//  out[t] = Σ_j w_j · y_{idx_j}(x), or Σ_j y_{idx_j}(w_j · x) with
//           scaleInputs (Llama-4)
//           + [shared FFN](x) · (sigmoid(shared_expert_gate·x) if given)
//  The shared FFN uses the same activation (kind, alpha, beta, limit) as the
//  routed experts with the weights shared_gate/shared_up [fs, d] (or both
//  in shared_gate_up [2fs, d], laid out as gate_up is) and shared_down
//  [d, fs], no biases.
//
// Constraints (validate()): 1 <= k <= E; numGroups divides E; 1 <=
// topkGroups <= numGroups; k <= topkGroups·E/numGroups; numGroups > 1 only
// with ScoreThenTopK, and with Top2Sum only when groups have >= 2 experts;
// correction_bias only with ScoreThenTopK; alpha != 1 only for SwiGLU; beta
// and limit only for gated kinds; limit > 0; scalingFactor, alpha, beta
// finite.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_REFERENCE_REFERENCE_H
#define MOEC_RUNTIME_REFERENCE_REFERENCE_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moe::ref {

enum class Scoring { Softmax, Sigmoid };
enum class ScoreOrder { ScoreThenTopK, TopKThenScore, SparseMixer };
enum class GroupScore { Max, Top2Sum };
enum class ActivationKind {
  SwiGLU,
  GeGLU,
  Relu,
  Gelu,
  GeluTanh,
  Silu,
  Identity,
  Relu2
};
enum class GateUpLayout { Interleaved, Concatenated };

/// True for the kinds that take a gate and an up projection.
bool isGated(ActivationKind kind);

/// The config-schema spellings of the enums, as in messages and in
/// ConfigJson.h: "softmax", "score_then_topk", "top2_sum", "gelu_tanh",
/// "interleaved", ...
const char *toString(Scoring v);
const char *toString(ScoreOrder v);
const char *toString(GroupScore v);
const char *toString(ActivationKind v);
const char *toString(GateUpLayout v);

struct RoutingConfig {
  Scoring scoring = Scoring::Softmax;
  ScoreOrder order = ScoreOrder::ScoreThenTopK;
  int64_t k = 1;
  bool renormalize = false;
  double renormEpsilon = 0.0;
  double sparsemixerEps = 0.01; // order SparseMixer only
  bool scaleInputs = false;     // the weights scale the experts' inputs
  double scalingFactor = 1.0;
  int64_t numGroups = 1;
  int64_t topkGroups = 1;
  GroupScore groupScore = GroupScore::Max;
};

struct ActivationConfig {
  ActivationKind kind = ActivationKind::SwiGLU;
  double alpha = 1.0;
  double beta = 0.0;
  std::optional<double> limit;
};

struct LayerConfig {
  RoutingConfig routing;
  ActivationConfig activation;
  /// Layout of the fused gate_up and shared_gate_up operands; only read
  /// when one is bound.
  GateUpLayout gateUpLayout = GateUpLayout::Interleaved;
};

/// A dense row-major array of doubles.
struct Array {
  std::vector<int64_t> shape;
  std::vector<double> data;
  int64_t numElements() const;
};

/// The operands of a moe.layer, by role. Absent optional operands are
/// std::nullopt. Exactly one of routerWeight and routerLogits is given; for
/// gated activations either gate and up, or gateUp; for elementwise ones up.
struct LayerOperands {
  Array hidden; // [T, d]
  std::optional<Array> routerWeight, routerBias, routerLogits, correctionBias;
  std::optional<Array> gate, up, gateUp, down;
  std::optional<Array> gateBias, upBias, gateUpBias, downBias;
  std::optional<Array> sharedGate, sharedUp, sharedGateUp, sharedDown,
      sharedExpertGate;
};

/// The snake_case operand role names used in messages and by tools, in the
/// order of LayerOperands: "hidden", ..., "shared_expert_gate".
const std::vector<std::string> &roleNames();

/// The slot of an optional operand by role name; nullptr for "hidden" (which
/// is not optional) and for unknown names.
std::optional<Array> *optionalOperand(LayerOperands &ops,
                                      const std::string &role);

/// Routing result for T tokens: weights[t*k + j] and experts[t*k + j].
struct Routing {
  std::vector<double> weights;
  std::vector<int64_t> experts;
};

/// Checks every shape and the config against each other. Returns an empty
/// string when consistent, otherwise a message naming the operand or field.
std::string validate(const LayerConfig &config, const LayerOperands &ops);

/// Computes the routing of every token. Precondition: validate() passed.
Routing route(const LayerConfig &config, const LayerOperands &ops);

/// Computes the layer output [T, d] into `out`. Returns an error message (and
/// leaves `out` untouched) when validate() fails, an empty string otherwise.
std::string evaluate(const LayerConfig &config, const LayerOperands &ops,
                     Array &out);

/// Relative L2 error ||a - b|| / ||b|| (b is the reference); 0 when both are
/// zero, +inf when only b is zero or the sizes differ.
double relativeL2(const std::vector<double> &a, const std::vector<double> &b);

/// An output against the reference: the relative L2 error over the places
/// where the reference is finite, after rounding the reference to
/// `round`'s precision (what an output of that dtype can hold: a value
/// below its smallest subnormal is 0 there), and how the non-finite places
/// agree: each must hold the same class (NaN, +inf, -inf) in both.
struct OutputComparison {
  double relativeL2 = 0;
  int64_t nonFinite = 0;  // places where the reference is not finite
  int64_t mismatches = 0; // places where exactly one of the two is finite,
                          // or both are not and differ in class
};
/// `round` is applied to each reference value (e.g. a round trip through
/// the output dtype); null keeps them.
OutputComparison compareOutput(const std::vector<double> &actual,
                               const std::vector<double> &expected,
                               double (*round)(double));

} // namespace moe::ref

#endif // MOEC_RUNTIME_REFERENCE_REFERENCE_H
