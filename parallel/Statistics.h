//===- Statistics.h - routing statistics files for the planner --*- C++ -*-===//
//
// Reads the routing-statistics file a session writes
// (moert_session_write_routing(), docs/Runtime.md "Routing statistics"):
//
//   {"format": "moec-routing-statistics", "version": 1,
//    "artifact": "/abs/path/model.so",
//    "layers": [
//     {"function": "layer_0", "site": 0, "experts": 8, "k": 2, "calls": 1,
//      "tokens": 7, "counts": [1, 4, 1, 1, 3, 1, 3, 0]}
//   ]}
//
// with, per layer, an optional "coselection" (E rows of E pair counts) and
// an optional "invalid" (selections outside [0, E), not in "counts").
//
// The reader is strict, since the planner trusts what it reads: only format
// "moec-routing-statistics" version 1; every layer field present and an
// integer of the right range (1 <= experts <= 2^20, 1 <= k <= experts,
// site, calls, tokens, invalid and every count >= 0); "counts" holds E
// entries and they plus "invalid" sum to exactly tokens * k (what the writer
// guarantees); "coselection", when present, is E rows of E non-negative
// integers, symmetric, zero on the diagonal; no (function, site) twice.
// "artifact" is optional (a string when present); unknown members are
// ignored. A malformed file is an error naming what and where, never a
// crash, and nothing is allocated beyond what the text itself holds.
//
// Counts are kept as double: the planner (Placement.h) takes double loads.
// They are exact up to 2^53.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_PARALLEL_STATISTICS_H
#define MOEC_PARALLEL_STATISTICS_H

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moe::parallel {

/// The statistics of one routing site (one MoE layer) of one function.
struct LayerStatistics {
  std::string function;
  int64_t site = 0;
  int64_t experts = 0;
  int64_t k = 0;
  /// Runs counted, and their tokens in all.
  int64_t calls = 0;
  int64_t tokens = 0;
  /// E entries: the tokens each expert received.
  std::vector<double> counts;
  /// E * E row-major pair counts (coselection[a * E + b]: the tokens that
  /// chose both a and b), or empty when not recorded.
  std::vector<double> coselection;
  /// Selections outside [0, E) (a correct artifact makes none).
  int64_t invalid = 0;
};

struct RoutingStatistics {
  /// The artifact the statistics were recorded with ("" when not given).
  std::string artifact;
  /// In file order.
  std::vector<LayerStatistics> layers;

  /// The layer of `function` at routing site `site`, or nullptr.
  const LayerStatistics *find(const std::string &function, int64_t site) const;
};

/// Parses the text of a statistics file into `out`. Returns "" on success,
/// else an error naming what and where, prefixed by `source` (the file, in
/// messages), e.g. "routing.json: layer 3 ('layer_3' site 0): 'counts' has
/// 7 entries, expected 'experts' = 8" (`out` is then unspecified).
std::string parseRoutingStatistics(std::string_view text,
                                   const std::string &source,
                                   RoutingStatistics &out);

/// Reads the file at `path` and parses it (parseRoutingStatistics()).
std::string readRoutingStatistics(const std::string &path,
                                  RoutingStatistics &out);

/// Adds `more` to `into` (calibration over several runs): a layer of `more`
/// whose function and site `into` already has must agree on experts and k,
/// and its calls, tokens, counts, invalid and co-selection are added; other
/// layers are appended in order. Co-selection survives only where both sides
/// have it (where one lacks it, the merged layer has none: its pairs would
/// cover only some of its tokens). `into.artifact` is kept, or taken from
/// `more` when empty. Returns "" or the first disagreement (or overflow);
/// on error `into` is unchanged.
std::string mergeRoutingStatistics(const RoutingStatistics &more,
                                   RoutingStatistics &into);

} // namespace moe::parallel

#endif // MOEC_PARALLEL_STATISTICS_H
