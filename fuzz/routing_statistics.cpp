//===- routing_statistics.cpp - fuzz target: routing statistics files -----===//
//
// Reads any bytes as a routing statistics file (parallel/Statistics.h), the
// file moe-plan-expert-parallelism and moe-ep-plan take from users. What it
// accepts must hold what the reader promises, and merge with itself into
// twice the counts (docs/Fuzzing.md).
//
//===----------------------------------------------------------------------===//
#include "parallel/Statistics.h"

#include <cstdint>
#include <cstdlib>
#include <string>

using namespace moe::parallel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  RoutingStatistics stats;
  if (!parseRoutingStatistics(text, "input", stats).empty())
    return 0;
  for (const LayerStatistics &l : stats.layers) {
    if (l.experts < 1 || l.k < 1 || l.k > l.experts ||
        int64_t(l.counts.size()) != l.experts ||
        (!l.coselection.empty() &&
         int64_t(l.coselection.size()) != l.experts * l.experts) ||
        stats.find(l.function, l.site) != &l)
      std::abort(); // accepted what the reader promises to refuse
    double sum = double(l.invalid);
    for (double c : l.counts)
      sum += c;
    if (sum != double(l.tokens) * double(l.k))
      std::abort();
  }
  RoutingStatistics twice = stats;
  if (!mergeRoutingStatistics(stats, twice).empty())
    return 0; // sums that overflow are refused
  for (size_t i = 0; i < stats.layers.size(); ++i)
    for (size_t e = 0; e < stats.layers[i].counts.size(); ++e)
      if (twice.layers[i].counts[e] != 2 * stats.layers[i].counts[e])
        std::abort();
  return 0;
}
