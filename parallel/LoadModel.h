//===- LoadModel.h - generators of skewed expert load -----------*- C++ -*-===//
//
// Synthetic per-layer expert loads for testing and measuring expert placement
// (Placement.h). Expert popularity follows a Zipf law over a random ranking
// of the experts; a load is either the expected token count of each expert
// or the counts of sampled token selections, optionally with DeepSeek-V3's
// group-limited routing. A drift generator gives a sequence of rankings that
// change gradually, to measure how a plan made on one snapshot balances a
// later one.
//
// Every generator is reproducible across platforms and standard libraries:
// randomness comes from the raw 64-bit output of std::mt19937_64 (whose
// sequence the standard fixes), never from std::*_distribution (whose
// output it does not).
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_PARALLEL_LOADMODEL_H
#define MOEC_PARALLEL_LOADMODEL_H

#include <cstdint>
#include <random>
#include <vector>

namespace moe::parallel {

/// A seeded random source with portable derived distributions.
class Rng {
public:
  explicit Rng(uint64_t seed) : engine(seed) {}
  /// The next raw 64-bit value.
  uint64_t next() { return engine(); }
  /// Uniform in [0, 1), 53 bits.
  double uniform();
  /// Uniform in (0, 1): never 0, never 1 (safe under log).
  double uniformOpen();
  /// Uniform integer in [0, n), without modulo bias; n >= 1.
  uint64_t below(uint64_t n);

private:
  std::mt19937_64 engine;
};

/// A uniformly random permutation of 0..n-1 (Fisher-Yates).
std::vector<int64_t> randomPermutation(int64_t n, Rng &rng);

/// Zipf popularity: expert e has probability proportional to
/// 1 / (popularityRank[e] + 1)^exponent, where popularityRank is a
/// permutation of 0..E-1 (0 = the most popular). Sums to 1; exponent 0 is
/// uniform.
std::vector<double>
zipfProbabilities(const std::vector<int64_t> &popularityRank, double exponent);

/// Expected token counts of `tokens` tokens that each select `topK` distinct
/// experts with per-pick probabilities `p` (summing to 1): tokens * topK *
/// p[e], except that no expert can receive more than `tokens` (each token
/// picks an expert at most once), so counts above the cap are cut to it and
/// the excess is water-filled over the others in proportion to p. Sums to
/// tokens * topK. Requires topK <= p.size().
std::vector<double> expectedCounts(const std::vector<double> &p, double tokens,
                                   int64_t topK);

/// Token selections drawn from a router.
struct SampledRouting {
  int64_t tokens = 0;
  int64_t topK = 0;
  /// tokens * topK expert ids, token-major: token t's picks are
  /// selections[t * topK .. t * topK + topK), in descending score order.
  std::vector<int64_t> selections;
  /// Tokens routed to each expert (the load of a placement).
  std::vector<double> counts;
};

/// Samples `tokens` tokens, each picking topK distinct experts. Each token
/// scores expert e with log p[e] + g (g an independent standard Gumbel
/// variate) and keeps its topK best: this draws topK experts without
/// replacement with probabilities proportional to p (Gumbel-top-k).
/// With groups > 1 and topkGroup > 0 it routes like DeepSeek-V3: the E
/// experts form `groups` contiguous groups, a group's score is the sum of its
/// two best expert scores, the token keeps its topkGroup best groups and then
/// picks its topK experts among those groups only. Requires E % groups == 0,
/// topK <= topkGroup * E / groups, and at least 2 experts per group.
SampledRouting sampleRouting(const std::vector<double> &p, int64_t tokens,
                             int64_t topK, int64_t groups, int64_t topkGroup,
                             Rng &rng);

/// Popularity rankings for `layers` independent layers: one random
/// permutation per layer, drawn in order from Rng(seed).
std::vector<std::vector<int64_t>> layerRankings(int64_t experts, int64_t layers,
                                                uint64_t seed);

/// A drifting popularity ranking over `steps` snapshots: snapshot 0 is
/// `start`; each later snapshot swaps the popularity ranks of
/// round(swapFraction * E / 2) random pairs of experts of the previous one,
/// so about swapFraction of the experts change rank per step.
std::vector<std::vector<int64_t>>
driftRankings(const std::vector<int64_t> &start, int64_t steps,
              double swapFraction, Rng &rng);

} // namespace moe::parallel

#endif // MOEC_PARALLEL_LOADMODEL_H
