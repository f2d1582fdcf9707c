//===- LoadModel.cpp - generators of skewed expert load -------------------===//

#include "parallel/LoadModel.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

namespace moe::parallel {

double Rng::uniform() { return double(next() >> 11) * 0x1.0p-53; }

double Rng::uniformOpen() { return (double(next() >> 11) + 0.5) * 0x1.0p-53; }

uint64_t Rng::below(uint64_t n) {
  assert(n >= 1 && "below(0)");
  // Reject the top partial block of [0, 2^64) so every residue is equally
  // likely.
  uint64_t limit = std::numeric_limits<uint64_t>::max() -
                   std::numeric_limits<uint64_t>::max() % n;
  for (;;) {
    uint64_t x = next();
    if (x < limit)
      return x % n;
  }
}

std::vector<int64_t> randomPermutation(int64_t n, Rng &rng) {
  std::vector<int64_t> perm(size_t(std::max<int64_t>(n, 0)));
  std::iota(perm.begin(), perm.end(), int64_t(0));
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(perm[size_t(i)], perm[size_t(rng.below(uint64_t(i) + 1))]);
  return perm;
}

std::vector<double>
zipfProbabilities(const std::vector<int64_t> &popularityRank, double exponent) {
  std::vector<double> p(popularityRank.size());
  double total = 0;
  for (size_t e = 0; e < p.size(); ++e) {
    p[e] = std::pow(double(popularityRank[e] + 1), -exponent);
    total += p[e];
  }
  for (double &v : p)
    v /= total;
  return p;
}

std::vector<double> expectedCounts(const std::vector<double> &p, double tokens,
                                   int64_t topK) {
  size_t n = p.size();
  assert(topK >= 0 && size_t(topK) <= n && "topK exceeds the experts");
  std::vector<double> counts(n, 0.0);
  std::vector<bool> capped(n, false);
  // Water-filling: the uncapped experts share what the capped ones leave,
  // in proportion to p; any that then exceed the cap join the capped set.
  for (size_t numCapped = 0;;) {
    double freeMass = 0;
    for (size_t e = 0; e < n; ++e)
      if (!capped[e])
        freeMass += p[e];
    double rest = tokens * double(topK) - double(numCapped) * tokens;
    bool changed = false;
    for (size_t e = 0; e < n; ++e) {
      if (capped[e]) {
        counts[e] = tokens;
        continue;
      }
      counts[e] = freeMass > 0 ? rest * p[e] / freeMass : 0.0;
      if (counts[e] > tokens) {
        capped[e] = true;
        ++numCapped;
        changed = true;
      }
    }
    if (!changed)
      return counts;
  }
}

namespace {

/// Writes into `out` the `k` indices of `candidates` with the highest
/// `score`, best first; ties go to the lower index.
void topIndices(const std::vector<double> &score,
                std::vector<int64_t> &candidates, int64_t k,
                std::vector<int64_t> &out) {
  auto better = [&](int64_t a, int64_t b) {
    double sa = score[size_t(a)], sb = score[size_t(b)];
    return sa != sb ? sa > sb : a < b;
  };
  std::partial_sort(candidates.begin(), candidates.begin() + k,
                    candidates.end(), better);
  out.assign(candidates.begin(), candidates.begin() + k);
}

/// A group's score: the sum of its two best expert scores.
double groupScore(const std::vector<double> &score, size_t first, size_t size) {
  double best = -HUGE_VAL, second = -HUGE_VAL;
  for (size_t e = first; e < first + size; ++e) {
    if (score[e] > best) {
      second = best;
      best = score[e];
    } else if (score[e] > second) {
      second = score[e];
    }
  }
  return best + second;
}

} // namespace

SampledRouting sampleRouting(const std::vector<double> &p, int64_t tokens,
                             int64_t topK, int64_t groups, int64_t topkGroup,
                             Rng &rng) {
  size_t n = p.size();
  bool groupLimited = groups > 1 && topkGroup > 0;
  size_t groupSize = groupLimited ? n / size_t(groups) : n;
  assert((!groupLimited || (n % size_t(groups) == 0 && groupSize >= 2 &&
                            topK <= topkGroup * int64_t(groupSize))) &&
         "invalid group-limited routing");
  SampledRouting result;
  result.tokens = tokens;
  result.topK = topK;
  result.selections.reserve(size_t(tokens * topK));
  result.counts.assign(n, 0.0);

  std::vector<double> logP(n), score(n);
  std::vector<double> groupScores(groupLimited ? size_t(groups) : 0);
  for (size_t e = 0; e < n; ++e)
    logP[e] = p[e] > 0 ? std::log(p[e]) : -HUGE_VAL;
  std::vector<int64_t> candidates, chosenGroups, picks;
  for (int64_t t = 0; t < tokens; ++t) {
    for (size_t e = 0; e < n; ++e)
      score[e] = logP[e] - std::log(-std::log(rng.uniformOpen()));
    candidates.clear();
    if (groupLimited) {
      std::vector<int64_t> allGroups(groupScores.size());
      std::iota(allGroups.begin(), allGroups.end(), int64_t(0));
      for (size_t g = 0; g < size_t(groups); ++g)
        groupScores[g] = groupScore(score, g * groupSize, groupSize);
      topIndices(groupScores, allGroups, topkGroup, chosenGroups);
      for (int64_t g : chosenGroups)
        for (size_t e = 0; e < groupSize; ++e)
          candidates.push_back(int64_t(size_t(g) * groupSize + e));
    } else {
      candidates.resize(n);
      std::iota(candidates.begin(), candidates.end(), int64_t(0));
    }
    topIndices(score, candidates, topK, picks);
    for (int64_t e : picks) {
      result.selections.push_back(e);
      result.counts[size_t(e)] += 1;
    }
  }
  return result;
}

std::vector<std::vector<int64_t>> layerRankings(int64_t experts, int64_t layers,
                                                uint64_t seed) {
  Rng rng(seed);
  std::vector<std::vector<int64_t>> rankings;
  for (int64_t l = 0; l < layers; ++l)
    rankings.push_back(randomPermutation(experts, rng));
  return rankings;
}

std::vector<std::vector<int64_t>>
driftRankings(const std::vector<int64_t> &start, int64_t steps,
              double swapFraction, Rng &rng) {
  std::vector<std::vector<int64_t>> snapshots{start};
  uint64_t n = start.size();
  int64_t swaps = std::llround(swapFraction * double(n) / 2);
  for (int64_t s = 1; s < steps && n >= 2; ++s) {
    std::vector<int64_t> next = snapshots.back();
    for (int64_t i = 0; i < swaps; ++i) {
      uint64_t a = rng.below(n), b = rng.below(n - 1);
      if (b >= a)
        ++b; // a distinct second expert
      std::swap(next[a], next[b]);
    }
    snapshots.push_back(std::move(next));
  }
  return snapshots;
}

} // namespace moe::parallel
