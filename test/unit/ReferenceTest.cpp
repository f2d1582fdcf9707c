//===- ReferenceTest.cpp - the float64 reference on hand-computed cases ---===//
//
// Every expected value is derived in the comments from the definition in
// Reference.h, not from running the code.
//
//===----------------------------------------------------------------------===//

#include "runtime/reference/Reference.h"
#include "test/unit/Check.h"

#include <cmath>
#include <limits>

using namespace moe::ref;

namespace {

Array arr(std::vector<int64_t> shape, std::vector<double> data) {
  return Array{std::move(shape), std::move(data)};
}

/// 1 token, E experts, logits given directly; identity experts with d = f = 1
/// whose down weight is e + 1, so y_e(x) = (e + 1)·x.
LayerOperands logitsOnly(std::vector<double> logits) {
  int64_t E = static_cast<int64_t>(logits.size());
  LayerOperands ops;
  ops.hidden = arr({1, 1}, {2.0});
  ops.routerLogits = arr({1, E}, logits);
  ops.up = arr({E, 1, 1}, std::vector<double>(E, 1.0));
  std::vector<double> down;
  for (int64_t e = 0; e < E; ++e)
    down.push_back(e + 1.0);
  ops.down = arr({E, 1, 1}, down);
  return ops;
}

LayerConfig identityConfig(int64_t k) {
  LayerConfig c;
  c.activation.kind = ActivationKind::Identity;
  c.routing.k = k;
  return c;
}

// log(p) logits make softmax(l) = p / Σp exactly (up to rounding), and
// log(s / (1 - s)) logits make sigmoid(l) = s.
double logit(double s) { return std::log(s / (1.0 - s)); }

} // namespace

TEST(softmaxScoreThenTopK) {
  // l = log[1, 2, 3, 4]: softmax = [0.1, 0.2, 0.3, 0.4]; top-2 = experts
  // 3, 2 with weights 0.4, 0.3. out = 0.4·(4·2) + 0.3·(3·2) = 5.0.
  LayerOperands ops =
      logitsOnly({std::log(1.0), std::log(2.0), std::log(3.0), std::log(4.0)});
  LayerConfig c = identityConfig(2);
  CHECK_EQ(validate(c, ops), std::string());
  Routing r = route(c, ops);
  CHECK_EQ(r.experts[0], 3);
  CHECK_EQ(r.experts[1], 2);
  CHECK_NEAR(r.weights[0], 0.4, 1e-15);
  CHECK_NEAR(r.weights[1], 0.3, 1e-15);
  Array out;
  CHECK_EQ(evaluate(c, ops, out), std::string());
  CHECK(out.shape == std::vector<int64_t>({1, 1}));
  CHECK_NEAR(out.data[0], 5.0, 1e-14);
}

TEST(renormalizeAndScale) {
  // Renormalized: [0.4, 0.3] / 0.7 = [4/7, 3/7]; then ·2 = [8/7, 6/7].
  LayerOperands ops =
      logitsOnly({std::log(1.0), std::log(2.0), std::log(3.0), std::log(4.0)});
  LayerConfig c = identityConfig(2);
  c.routing.renormalize = true;
  c.routing.scalingFactor = 2.0;
  Routing r = route(c, ops);
  CHECK_NEAR(r.weights[0], 8.0 / 7.0, 1e-15);
  CHECK_NEAR(r.weights[1], 6.0 / 7.0, 1e-15);
  // Scaling alone: [0.4, 0.3]·2.5 = [1.0, 0.75].
  c.routing.renormalize = false;
  c.routing.scalingFactor = 2.5;
  r = route(c, ops);
  CHECK_NEAR(r.weights[0], 1.0, 1e-15);
  CHECK_NEAR(r.weights[1], 0.75, 1e-15);
}

TEST(renormalizeEpsilon) {
  // Sigmoid weights of tiny sums: sigmoid(log a) = a / (1 + a) for a =
  // 1e-6 and 2e-6; renormalized with 1e-6 added to their sum, as LFM2-MoE
  // does: w / (w0 + w1 + 1e-6), far from w / (w0 + w1).
  LayerOperands ops =
      logitsOnly({std::log(1e-6), std::log(2e-6), std::log(1e-9)});
  LayerConfig c = identityConfig(2);
  c.routing.scoring = Scoring::Sigmoid;
  c.routing.renormalize = true;
  c.routing.renormEpsilon = 1e-6;
  Routing r = route(c, ops);
  double w0 = 2e-6 / (1 + 2e-6), w1 = 1e-6 / (1 + 1e-6);
  CHECK_NEAR(r.weights[0], w0 / (w0 + w1 + 1e-6), 1e-15);
  CHECK_NEAR(r.weights[1], w1 / (w0 + w1 + 1e-6), 1e-15);
  CHECK(r.weights[0] < 0.51);
}

TEST(topkThenScore) {
  // Select on the logits (experts 3, 2), then softmax over the two selected:
  // [4, 3] / 7. With sigmoid: sigmoid(log a) = a / (1 + a) = [0.8, 0.75].
  LayerOperands ops =
      logitsOnly({std::log(1.0), std::log(2.0), std::log(3.0), std::log(4.0)});
  LayerConfig c = identityConfig(2);
  c.routing.order = ScoreOrder::TopKThenScore;
  Routing r = route(c, ops);
  CHECK_EQ(r.experts[0], 3);
  CHECK_EQ(r.experts[1], 2);
  CHECK_NEAR(r.weights[0], 4.0 / 7.0, 1e-15);
  CHECK_NEAR(r.weights[1], 3.0 / 7.0, 1e-15);
  c.routing.scoring = Scoring::Sigmoid;
  r = route(c, ops);
  CHECK_NEAR(r.weights[0], 0.8, 1e-15);
  CHECK_NEAR(r.weights[1], 0.75, 1e-15);
}

TEST(sparsemixer) {
  // eps = 0.1, so an expert shares slot j's softmax when
  // (m_j - l) / max(|l|, m_j) <= 0.2. Slot 0: m = 4 (expert 0); expert 1
  // 0.5 / 4 = 0.125 shares it, expert 2 0.9 / 4 = 0.225 and the rest do
  // not: w = 1 / (1 + e^-0.5). Slot 1: m = 3.5 (expert 1); expert 0 was
  // picked, expert 2 0.4 / 3.5 = 0.114 shares it, expert 3 2.5 / 3.5 and
  // expert 4 5.5 / 3.5 do not: w = 1 / (1 + e^-0.4).
  LayerOperands ops = logitsOnly({4.0, 3.5, 3.1, 1.0, -2.0});
  LayerConfig c = identityConfig(2);
  c.routing.order = ScoreOrder::SparseMixer;
  c.routing.sparsemixerEps = 0.1;
  Routing r = route(c, ops);
  CHECK_EQ(r.experts[0], 0);
  CHECK_EQ(r.experts[1], 1);
  CHECK_NEAR(r.weights[0], 1.0 / (1.0 + std::exp(-0.5)), 1e-15);
  CHECK_NEAR(r.weights[1], 1.0 / (1.0 + std::exp(-0.4)), 1e-15);
  // Negative logits divide by |l|: slot 0 (m = -1) keeps expert 1
  // (0.1 / 1.1) and masks expert 2 (2 / 3); slot 1 (m = -1.1) is alone.
  ops = logitsOnly({-1.0, -1.1, -3.0});
  r = route(c, ops);
  CHECK_NEAR(r.weights[0], 1.0 / (1.0 + std::exp(-0.1)), 1e-15);
  CHECK_NEAR(r.weights[1], 1.0, 1e-15);
  // A tie at 0 divides 0 by 0: a NaN quotient masks nothing, so experts 0
  // and 1 share slot 0 (expert 2, 1 / 1, is masked).
  ops = logitsOnly({0.0, 0.0, -1.0});
  c.routing.k = 1;
  r = route(c, ops);
  CHECK_EQ(r.experts[0], 0);
  CHECK_NEAR(r.weights[0], 0.5, 1e-15);
}

TEST(scaleInputs) {
  // Llama-4's weights on the experts' inputs. Sigmoid weights 0.75
  // (expert 1) and 0.25 (expert 0); x = 2; expert e is relu(x - 1) times
  // e + 1. On the outputs: 0.75·2·relu(1) + 0.25·1·relu(1) = 1.75. On the
  // inputs: 2·relu(0.75·2 - 1) + 1·relu(0.25·2 - 1) = 1 + 0 = 1.
  LayerOperands ops = logitsOnly({logit(0.25), logit(0.75)});
  ops.upBias = arr({2, 1}, {-1.0, -1.0});
  LayerConfig c = identityConfig(2);
  c.activation.kind = ActivationKind::Relu;
  c.routing.scoring = Scoring::Sigmoid;
  c.routing.order = ScoreOrder::TopKThenScore;
  Array out;
  CHECK_EQ(evaluate(c, ops, out), std::string());
  CHECK_NEAR(out.data[0], 1.75, 1e-15);
  c.routing.scaleInputs = true;
  CHECK_EQ(evaluate(c, ops, out), std::string());
  CHECK_NEAR(out.data[0], 1.0, 1e-15);
}

TEST(tiesGoToTheLowerIndex) {
  // Experts 1 and 3 tie for first place, 0 and 2 for second.
  LayerOperands ops = logitsOnly({0.5, 1.0, 0.5, 1.0});
  LayerConfig c = identityConfig(3);
  Routing r = route(c, ops);
  CHECK_EQ(r.experts[0], 1);
  CHECK_EQ(r.experts[1], 3);
  CHECK_EQ(r.experts[2], 0);
}

TEST(sigmoidCorrectionBiasSelectsOnly) {
  // sigmoid scores s = [0.8, 0.75, 0.5, 0.2]. Bias [0, 0, 0, 0.7] makes the
  // selection scores [0.8, 0.75, 0.5, 0.9], so top-2 = experts 3, 0; the
  // weights are the unbiased s: [0.2, 0.8]. Without the bias: 0, 1.
  LayerOperands ops =
      logitsOnly({logit(0.8), logit(0.75), logit(0.5), logit(0.2)});
  LayerConfig c = identityConfig(2);
  c.routing.scoring = Scoring::Sigmoid;
  Routing r = route(c, ops);
  CHECK_EQ(r.experts[0], 0);
  CHECK_EQ(r.experts[1], 1);
  ops.correctionBias = arr({4}, {0.0, 0.0, 0.0, 0.7});
  CHECK_EQ(validate(c, ops), std::string());
  r = route(c, ops);
  CHECK_EQ(r.experts[0], 3);
  CHECK_EQ(r.experts[1], 0);
  CHECK_NEAR(r.weights[0], 0.2, 1e-15);
  CHECK_NEAR(r.weights[1], 0.8, 1e-15);
  // out = 0.2·(4·2) + 0.8·(1·2) = 3.2.
  Array out;
  CHECK_EQ(evaluate(c, ops, out), std::string());
  CHECK_NEAR(out.data[0], 3.2, 1e-14);
}

TEST(groupLimitedMaxVersusTop2Sum) {
  // s = [0.9, 0.1 | 0.6, 0.55 | 0.7, 0.05 | 0.3, 0.2], 4 groups of 2, keep 2.
  // Max scores:   [0.9, 0.6, 0.7, 0.3]   -> groups 0, 2 -> experts {0,1,4,5}
  // Top2Sum:      [1.0, 1.15, 0.75, 0.5] -> groups 1, 0 -> experts {0,1,2,3}
  // Ungrouped top-3 = 0, 4, 2; Max top-3 = 0, 4, 1; Top2Sum top-3 = 0, 2, 3.
  LayerOperands ops =
      logitsOnly({logit(0.9), logit(0.1), logit(0.6), logit(0.55), logit(0.7),
                  logit(0.05), logit(0.3), logit(0.2)});
  LayerConfig c = identityConfig(3);
  c.routing.scoring = Scoring::Sigmoid;
  Routing r = route(c, ops);
  CHECK(r.experts == std::vector<int64_t>({0, 4, 2}));
  c.routing.numGroups = 4;
  c.routing.topkGroups = 2;
  c.routing.groupScore = GroupScore::Max;
  CHECK_EQ(validate(c, ops), std::string());
  r = route(c, ops);
  CHECK(r.experts == std::vector<int64_t>({0, 4, 1}));
  CHECK_NEAR(r.weights[2], 0.1, 1e-15);
  c.routing.groupScore = GroupScore::Top2Sum;
  r = route(c, ops);
  CHECK(r.experts == std::vector<int64_t>({0, 2, 3}));
  CHECK_NEAR(r.weights[0], 0.9, 1e-15);
  CHECK_NEAR(r.weights[1], 0.6, 1e-15);
  CHECK_NEAR(r.weights[2], 0.55, 1e-15);
}

TEST(groupMaskIsMinusInfinity) {
  // s = [0.5, 0.4 | 0.3, 0.2], bias -1 / -2 per group: c = [-0.5, -0.6 |
  // -1.7, -1.8]. Keep 1 of 2 groups (group 0); top-2 = experts 0, 1 with
  // weights s = [0.5, 0.4]. Masking with 0 instead of -inf (HF's choice)
  // would pick the dropped experts 2, 3, whose masked 0 beats -0.5.
  LayerOperands ops =
      logitsOnly({logit(0.5), logit(0.4), logit(0.3), logit(0.2)});
  ops.correctionBias = arr({4}, {-1.0, -1.0, -2.0, -2.0});
  LayerConfig c = identityConfig(2);
  c.routing.scoring = Scoring::Sigmoid;
  c.routing.numGroups = 2;
  c.routing.topkGroups = 1;
  CHECK_EQ(validate(c, ops), std::string());
  Routing r = route(c, ops);
  CHECK(r.experts == std::vector<int64_t>({0, 1}));
  CHECK_NEAR(r.weights[0], 0.5, 1e-15);
  CHECK_NEAR(r.weights[1], 0.4, 1e-15);
}

TEST(routerWeightAndBias) {
  // W = [[1,0],[0,1],[1,1]], x = [log 2, log 3]: l = log[2, 3, 6], softmax
  // = [2, 3, 6]/11, top-1 = expert 2 with 6/11. A bias [0, 0, -log 6] gives
  // l = log[2, 3, 1]: top-1 = expert 1 with 3/6.
  LayerOperands ops;
  ops.hidden = arr({1, 2}, {std::log(2.0), std::log(3.0)});
  ops.routerWeight = arr({3, 2}, {1, 0, 0, 1, 1, 1});
  ops.up = arr({3, 1, 2}, {1, 1, 1, 1, 1, 1});
  ops.down = arr({3, 2, 1}, {1, 1, 1, 1, 1, 1});
  LayerConfig c = identityConfig(1);
  CHECK_EQ(validate(c, ops), std::string());
  Routing r = route(c, ops);
  CHECK_EQ(r.experts[0], 2);
  CHECK_NEAR(r.weights[0], 6.0 / 11.0, 1e-15);
  ops.routerBias = arr({3}, {0.0, 0.0, -std::log(6.0)});
  r = route(c, ops);
  CHECK_EQ(r.experts[0], 1);
  CHECK_NEAR(r.weights[0], 0.5, 1e-15);
}

namespace {

/// E = 1, k = 1, d = f = 1: the routing weight is 1 and out = h(g, u) with
/// g = gate·x, u = up·x, for each token x.
std::vector<double> singleExpert(const LayerConfig &c, double gateW, double upW,
                                 std::vector<double> xs) {
  LayerOperands ops;
  int64_t T = static_cast<int64_t>(xs.size());
  ops.hidden = arr({T, 1}, xs);
  ops.routerLogits = arr({T, 1}, std::vector<double>(T, 0.0));
  if (isGated(c.activation.kind))
    ops.gate = arr({1, 1, 1}, {gateW});
  ops.up = arr({1, 1, 1}, {upW});
  ops.down = arr({1, 1, 1}, {1.0});
  Array out;
  std::string err = evaluate(c, ops, out);
  CHECK_EQ(err, std::string());
  return err.empty() ? out.data : std::vector<double>(T, NAN);
}

} // namespace

TEST(swigluPlainAndClamped) {
  LayerConfig c = identityConfig(1);
  c.activation.kind = ActivationKind::SwiGLU;
  // x = 1: h = 1·sigmoid(1)·1 = 0.7310585786300049.
  CHECK_NEAR(singleExpert(c, 1, 1, {1.0})[0], 0.7310585786300049, 1e-15);
  // gpt-oss: alpha 1.702, beta 1, limit 7; gate 10, up -9.
  // x = 1: g = 10 -> G = 7, u = -9 -> L = -7;
  //   h = 7·sigmoid(11.914)·(-6) = -42 / (1 + e^-11.914) = -41.99971876981991
  // x = 0.5: g = 5, u = -4.5, nothing clamped;
  //   h = 5·sigmoid(8.51)·(-3.5) = -17.496475443064266
  // x = -1: g = -10 (min() keeps it: no lower clamp), u = 9 -> L = 7;
  //   h = -10·sigmoid(-17.02)·8 = -80 / (1 + e^17.02) ≈ -3.22e-6
  c.activation.alpha = 1.702;
  c.activation.beta = 1.0;
  c.activation.limit = 7.0;
  std::vector<double> y = singleExpert(c, 10, -9, {1.0, 0.5, -1.0});
  CHECK_NEAR(y[0], -41.99971876981991, 1e-12);
  CHECK_NEAR(y[1], -17.496475443064266, 1e-12);
  CHECK_NEAR(y[2], -80.0 / (1.0 + std::exp(17.02)), 1e-18);
}

TEST(elementwiseActivations) {
  LayerConfig c = identityConfig(1);
  // gelu(1.5) = 1.5·Φ(1.5) = 0.75(1 + erf(1.5/√2)) = 1.399789198096713.
  c.activation.kind = ActivationKind::Gelu;
  CHECK_NEAR(singleExpert(c, 0, 1, {1.5})[0], 1.399789198096713, 1e-15);
  // gelu_tanh(1.5) = 0.75(1 + tanh(√(2/π)(1.5 + 0.044715·3.375)))
  //   = 0.75(1 + tanh(1.317238093664311)) = 1.3995715769802328,
  // 2.2e-4 away from the erf form.
  c.activation.kind = ActivationKind::GeluTanh;
  CHECK_NEAR(singleExpert(c, 0, 1, {1.5})[0], 1.3995715769802328, 1e-15);
  // silu(2) = 2·sigmoid(2) = 1.7615941559557646; relu(-2) = 0, relu(3) = 3.
  c.activation.kind = ActivationKind::Silu;
  CHECK_NEAR(singleExpert(c, 0, 1, {2.0})[0], 1.7615941559557646, 1e-15);
  c.activation.kind = ActivationKind::Relu;
  std::vector<double> y = singleExpert(c, 0, 1, {-2.0, 3.0});
  CHECK_EQ(y[0], 0.0);
  CHECK_EQ(y[1], 3.0);
  // relu2(-2) = 0, relu2(3) = 9, relu2(0.5) = 0.25.
  c.activation.kind = ActivationKind::Relu2;
  y = singleExpert(c, 0, 1, {-2.0, 3.0, 0.5});
  CHECK_EQ(y[0], 0.0);
  CHECK_EQ(y[1], 9.0);
  CHECK_EQ(y[2], 0.25);
  // GeGLU, beta 0.5, gate 1.5, up 2, x = 1: gelu(1.5)·2.5 = 3.4994729952417822.
  c.activation.kind = ActivationKind::GeGLU;
  c.activation.beta = 0.5;
  CHECK_NEAR(singleExpert(c, 1.5, 2, {1.0})[0], 3.4994729952417822, 1e-14);
}

TEST(fusedGateUpLayouts) {
  // E = 1, f = 2, d = 1, x = 1, gate_up rows [1, 2, 3, 4], down = [1, 1].
  // Interleaved: gate rows 0, 2 = [1, 3], up rows 1, 3 = [2, 4]:
  //   silu(1)·2 + silu(3)·4 = 12.893006679129211
  // Concatenated: gate = [1, 2], up = [3, 4]: silu(1)·3 + silu(2)·4
  //   = 9.239552359713073
  // With gate_up_bias [0.1, 0.2, 0.3, 0.4] laid out like the rows:
  //   interleaved silu(1.1)·2.2 + silu(3.3)·4.4 = 15.819135787301507
  //   concatenated silu(1.1)·3.3 + silu(2.2)·4.4 = 11.437859448631727
  LayerOperands ops;
  ops.hidden = arr({1, 1}, {1.0});
  ops.routerLogits = arr({1, 1}, {0.0});
  ops.gateUp = arr({1, 4, 1}, {1, 2, 3, 4});
  ops.down = arr({1, 1, 2}, {1, 1});
  LayerConfig c = identityConfig(1);
  c.activation.kind = ActivationKind::SwiGLU;
  Array out;
  CHECK_EQ(evaluate(c, ops, out), std::string());
  CHECK_NEAR(out.data[0], 12.893006679129211, 1e-13);
  c.gateUpLayout = GateUpLayout::Concatenated;
  CHECK_EQ(evaluate(c, ops, out), std::string());
  CHECK_NEAR(out.data[0], 9.239552359713073, 1e-13);
  ops.gateUpBias = arr({1, 4}, {0.1, 0.2, 0.3, 0.4});
  CHECK_EQ(evaluate(c, ops, out), std::string());
  CHECK_NEAR(out.data[0], 11.437859448631727, 1e-13);
  c.gateUpLayout = GateUpLayout::Interleaved;
  CHECK_EQ(evaluate(c, ops, out), std::string());
  CHECK_NEAR(out.data[0], 15.819135787301507, 1e-13);
}

TEST(biasesAndIdleExpert) {
  // E = 3, k = 1, relu, d = f = 1. Token 0 picks expert 0, token 1 expert 1;
  // expert 2 gets no token, and its NaN weights must not reach the output.
  //  token 0, x = 2:  u = 1·2 + 0.5 = 2.5, h = 2.5, y = 3·2.5 + 1 = 8.5
  //  token 1, x = -1: u = -2·-1 - 0.5 = 1.5, h = 1.5, y = -1·1.5 + 0 = -1.5
  // Weight softmax([5, 0, -5])[0] resp. softmax([0, 5, -5])[1]
  //   = 1 / (1 + e^-5 + e^-10) = 0.99321283...
  double nan = std::numeric_limits<double>::quiet_NaN();
  LayerOperands ops;
  ops.hidden = arr({2, 1}, {2.0, -1.0});
  ops.routerLogits = arr({2, 3}, {5, 0, -5, 0, 5, -5});
  ops.up = arr({3, 1, 1}, {1, -2, nan});
  ops.upBias = arr({3, 1}, {0.5, -0.5, nan});
  ops.down = arr({3, 1, 1}, {3, -1, nan});
  ops.downBias = arr({3, 1}, {1, 0, nan});
  LayerConfig c = identityConfig(1);
  c.activation.kind = ActivationKind::Relu;
  double w = 1.0 / (1.0 + std::exp(-5.0) + std::exp(-10.0));
  Array out;
  CHECK_EQ(evaluate(c, ops, out), std::string());
  CHECK_NEAR(out.data[0], w * 8.5, 1e-14);
  CHECK_NEAR(out.data[1], w * -1.5, 1e-14);
}

TEST(sharedExpertWithGate) {
  // Routed: identity, 1 expert, y = 1·x. Shared: identity, fs = 1, up 2,
  // down 3, so shared(x) = 6x; shared_expert_gate [[0.5]] scales it by
  // sigmoid(0.5x). x = 2: out = 2 + sigmoid(1)·12 = 10.772702943560059.
  // The gated kinds need shared_gate too; here the kind is elementwise.
  LayerOperands ops;
  ops.hidden = arr({1, 1}, {2.0});
  ops.routerLogits = arr({1, 1}, {0.0});
  ops.up = arr({1, 1, 1}, {1.0});
  ops.down = arr({1, 1, 1}, {1.0});
  ops.sharedUp = arr({1, 1}, {2.0});
  ops.sharedDown = arr({1, 1}, {3.0});
  LayerConfig c = identityConfig(1);
  Array out;
  CHECK_EQ(evaluate(c, ops, out), std::string());
  CHECK_NEAR(out.data[0], 2.0 + 12.0, 1e-14);
  ops.sharedExpertGate = arr({1, 1}, {0.5});
  CHECK_EQ(evaluate(c, ops, out), std::string());
  CHECK_NEAR(out.data[0], 2.0 + 12.0 / (1.0 + std::exp(-1.0)), 1e-14);
}

TEST(sharedGateUpLayouts) {
  // The shared FFN's gate and up in one [2fs, d] operand, laid out as
  // gate_up. Routed: one SwiGLU expert whose gate row is 0 (silu(0) = 0:
  // no contribution). Shared: fs = 2, d = 1, x = 1, rows [1, 2, 3, 4],
  // shared_down [1, 1]: interleaved silu(1)·2 + silu(3)·4 =
  // 12.893006679129211, concatenated silu(1)·3 + silu(2)·4 =
  // 9.239552359713073 (as fusedGateUpLayouts' routed expert).
  LayerOperands ops;
  ops.hidden = arr({1, 1}, {1.0});
  ops.routerLogits = arr({1, 1}, {0.0});
  ops.gate = arr({1, 1, 1}, {0.0});
  ops.up = arr({1, 1, 1}, {1.0});
  ops.down = arr({1, 1, 1}, {1.0});
  ops.sharedGateUp = arr({4, 1}, {1, 2, 3, 4});
  ops.sharedDown = arr({1, 2}, {1, 1});
  LayerConfig c = identityConfig(1);
  c.activation.kind = ActivationKind::SwiGLU;
  Array out;
  CHECK_EQ(evaluate(c, ops, out), std::string());
  CHECK_NEAR(out.data[0], 12.893006679129211, 1e-13);
  c.gateUpLayout = GateUpLayout::Concatenated;
  CHECK_EQ(evaluate(c, ops, out), std::string());
  CHECK_NEAR(out.data[0], 9.239552359713073, 1e-13);
  // Not with shared_up, and [2fs, d] by shared_down's fs.
  ops.sharedUp = arr({2, 1}, {1, 1});
  CHECK_CONTAINS(evaluate(c, ops, out),
                 "shared_up: not allowed together with shared_gate_up");
  ops.sharedUp.reset();
  ops.sharedGateUp = arr({3, 1}, {1, 2, 3});
  CHECK_CONTAINS(evaluate(c, ops, out), "shared_gate_up");
  // Only for a gated kind.
  ops.sharedGateUp = arr({4, 1}, {1, 2, 3, 4});
  ops.gate.reset();
  c.activation.kind = ActivationKind::Relu;
  CHECK_CONTAINS(evaluate(c, ops, out),
                 "shared_gate_up: not allowed with elementwise activation");
}

namespace {

/// A valid SwiGLU layer: T = 2, d = 3, E = 4, f = 5, separate gate/up.
LayerOperands validLayer() {
  LayerOperands ops;
  ops.hidden = arr({2, 3}, std::vector<double>(6, 0.1));
  ops.routerWeight = arr({4, 3}, std::vector<double>(12, 0.1));
  ops.gate = arr({4, 5, 3}, std::vector<double>(60, 0.1));
  ops.up = arr({4, 5, 3}, std::vector<double>(60, 0.1));
  ops.down = arr({4, 3, 5}, std::vector<double>(60, 0.1));
  return ops;
}

LayerConfig swiglu(int64_t k) {
  LayerConfig c;
  c.routing.k = k;
  return c;
}

} // namespace

TEST(validateShapes) {
  LayerConfig c = swiglu(2);
  CHECK_EQ(validate(c, validLayer()), std::string());

  LayerOperands ops = validLayer();
  ops.gate = arr({4, 5, 2}, std::vector<double>(40, 0.1));
  CHECK_EQ(validate(c, ops),
           std::string("gate: expected shape [4, 5, 3] ([E, f, d]), got "
                       "[4, 5, 2]"));
  ops = validLayer();
  ops.down.reset();
  CHECK_CONTAINS(validate(c, ops), "missing operand down");
  ops = validLayer();
  ops.up.reset();
  CHECK_CONTAINS(validate(c, ops), "missing operand up");
  ops = validLayer();
  ops.gateUp = arr({4, 10, 3}, std::vector<double>(120, 0.1));
  CHECK_CONTAINS(validate(c, ops), "gate: not allowed together with gate_up");
  ops = validLayer();
  ops.routerLogits = arr({2, 4}, std::vector<double>(8, 0.1));
  CHECK_CONTAINS(validate(c, ops), "router_logits: not allowed");
  ops.routerWeight.reset();
  ops.routerBias = arr({4}, std::vector<double>(4, 0.1));
  CHECK_CONTAINS(validate(c, ops), "router_bias: only allowed with");
  ops = validLayer();
  ops.routerWeight.reset();
  ops.routerLogits = arr({3, 4}, std::vector<double>(12, 0.1));
  CHECK_CONTAINS(validate(c, ops), "router_logits: expected shape [2, E]");
  ops = validLayer();
  ops.hidden = arr({6}, std::vector<double>(6, 0.1));
  CHECK_CONTAINS(validate(c, ops), "hidden: expected shape [T, d]");
  ops = validLayer();
  ops.hidden.data.pop_back();
  CHECK_CONTAINS(validate(c, ops),
                 "hidden: shape [2, 3] needs 6 values, got 5");
  ops = validLayer();
  ops.down = arr({4, 3, 6}, std::vector<double>(72, 0.1)); // f = 6 now
  CHECK_CONTAINS(validate(c, ops), "gate: expected shape [4, 6, 3]");
  ops = validLayer();
  ops.downBias = arr({4, 5}, std::vector<double>(20, 0.1));
  CHECK_CONTAINS(validate(c, ops), "down_bias: expected shape [4, 3]");
  ops = validLayer();
  ops.gateUpBias = arr({4, 10}, std::vector<double>(40, 0.1));
  CHECK_CONTAINS(validate(c, ops), "missing operand gate_up");
  ops = validLayer();
  ops.sharedExpertGate = arr({1, 3}, {1, 1, 1});
  CHECK_CONTAINS(validate(c, ops), "missing operand shared_down");
  ops.sharedDown = arr({3, 7}, std::vector<double>(21, 0.1));
  ops.sharedUp = arr({7, 3}, std::vector<double>(21, 0.1));
  CHECK_CONTAINS(validate(c, ops), "missing operand shared_gate");
  ops.sharedGate = arr({6, 3}, std::vector<double>(18, 0.1));
  CHECK_CONTAINS(validate(c, ops), "shared_gate: expected shape [7, 3]");
  ops.sharedGate = arr({7, 3}, std::vector<double>(21, 0.1));
  CHECK_EQ(validate(c, ops), std::string());

  // Elementwise kinds take no gate.
  c.activation.kind = ActivationKind::Relu;
  CHECK_CONTAINS(validate(c, validLayer()),
                 "gate: not allowed with elementwise activation relu");
}

TEST(validateConfig) {
  LayerOperands ops = validLayer(); // E = 4
  LayerConfig c = swiglu(5);
  CHECK_CONTAINS(validate(c, ops), "routing.k = 5 is outside [1, E]");
  c = swiglu(0);
  CHECK_CONTAINS(validate(c, ops), "routing.k = 0");
  c = swiglu(2);
  c.routing.numGroups = 3;
  CHECK_CONTAINS(validate(c, ops), "routing.n_group = 3 does not divide");
  c.routing.numGroups = 2;
  c.routing.topkGroups = 3;
  CHECK_CONTAINS(validate(c, ops), "routing.topk_group = 3");
  c.routing.topkGroups = 1;
  c.routing.k = 3; // only 2 experts in one kept group of 2
  CHECK_CONTAINS(validate(c, ops), "routing.k = 3 exceeds the 2 experts");
  c.routing.k = 1;
  c.routing.numGroups = 4;
  c.routing.groupScore = GroupScore::Top2Sum;
  CHECK_CONTAINS(validate(c, ops), "top2_sum needs at least 2 experts");
  c = swiglu(2);
  c.routing.order = ScoreOrder::TopKThenScore;
  ops.correctionBias = arr({4}, {0, 0, 0, 0});
  CHECK_CONTAINS(validate(c, ops), "correction_bias: only allowed with");
  ops.correctionBias.reset();
  c = swiglu(2);
  c.routing.renormEpsilon = 1e-6;
  CHECK_CONTAINS(validate(c, ops), "routing.renorm_epsilon must be finite "
                                   "and >= 0, and above 0 only with "
                                   "renormalize");
  c.routing.renormalize = true;
  c.routing.renormEpsilon = -1.0;
  CHECK_CONTAINS(validate(c, ops), "routing.renorm_epsilon");
  c = swiglu(2);
  c.routing.order = ScoreOrder::SparseMixer;
  c.routing.scoring = Scoring::Sigmoid;
  CHECK_CONTAINS(validate(c, ops), "sparsemixer requires scoring softmax");
  c.routing.scoring = Scoring::Softmax;
  c.routing.sparsemixerEps = -0.5;
  CHECK_CONTAINS(validate(c, ops), "routing.sparsemixer_eps must be finite");
  c = swiglu(2);
  c.activation.limit = 0.0;
  CHECK_CONTAINS(validate(c, ops), "activation.limit must be > 0");
  c = swiglu(2);
  c.activation.kind = ActivationKind::GeGLU;
  c.activation.alpha = 1.702;
  CHECK_CONTAINS(validate(c, ops), "activation.alpha is only allowed for "
                                   "swiglu, not geglu");

  // evaluate() refuses too and leaves `out` alone.
  Array out = arr({1}, {42.0});
  CHECK_CONTAINS(evaluate(c, ops, out), "activation.alpha");
  CHECK(out.shape == std::vector<int64_t>({1}));
  CHECK_EQ(out.data[0], 42.0);
}

TEST(rolesAndRelativeL2) {
  CHECK_EQ(roleNames().size(), size_t(18));
  CHECK_EQ(roleNames().front(), std::string("hidden"));
  CHECK_EQ(roleNames().back(), std::string("shared_expert_gate"));
  LayerOperands ops;
  CHECK(optionalOperand(ops, "gate_up_bias") == &ops.gateUpBias);
  CHECK(optionalOperand(ops, "shared_gate_up") == &ops.sharedGateUp);
  CHECK(optionalOperand(ops, "shared_down") == &ops.sharedDown);
  CHECK(optionalOperand(ops, "router_weight") == &ops.routerWeight);
  CHECK(optionalOperand(ops, "shared_expert_gate") == &ops.sharedExpertGate);
  CHECK(optionalOperand(ops, "hidden") == nullptr);
  CHECK(optionalOperand(ops, "bogus") == nullptr);
  // ||[3, 4] - [0, 0]|| / ... : b is zero -> inf; ||(1,1)-(1,0)|| / 1 = 1.
  CHECK_EQ(relativeL2({0, 0}, {0, 0}), 0.0);
  CHECK(std::isinf(relativeL2({3, 4}, {0, 0})));
  CHECK_NEAR(relativeL2({1, 1}, {1, 0}), 1.0, 1e-15);
  CHECK_NEAR(relativeL2({3, 4}, {6, 8}), 0.5, 1e-15);
}

namespace {
double toF32(double v) { return static_cast<float>(v); }
} // namespace

TEST(compareOutputRoundsAndMatchesNonFinite) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // A float64 result below f32's smallest subnormal is 0 as an f32 output.
  OutputComparison c = compareOutput({0, 0}, {1e-60, -2e-50}, toF32);
  CHECK_EQ(c.relativeL2, 0.0);
  CHECK_EQ(c.mismatches, int64_t(0));
  c = compareOutput({0, 0}, {1e-60, -2e-50}, nullptr);
  CHECK_EQ(c.relativeL2, 1.0);
  // Non-finite places of the same class agree and leave the L2 to the rest.
  c = compareOutput({nan, inf, -inf, 3, 4}, {nan, inf, -inf, 6, 8}, toF32);
  CHECK_EQ(c.nonFinite, int64_t(3));
  CHECK_EQ(c.mismatches, int64_t(0));
  CHECK_NEAR(c.relativeL2, 0.5, 1e-15);
  // Of another class, or finite in only one of the two: a mismatch each.
  c = compareOutput({inf, 1, nan, 2}, {-inf, nan, 1, 2}, toF32);
  CHECK_EQ(c.nonFinite, int64_t(2));
  CHECK_EQ(c.mismatches, int64_t(3));
  CHECK_EQ(c.relativeL2, 0.0);
}
