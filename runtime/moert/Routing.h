//===- Routing.h - routing statistics of a session --------------*- C++ -*-===//
//
// A compiled layer reports the experts it selected for every token through
// the artifact's moec_record_routing slot (runtime/abi/ArtifactAbi.h). While
// a session records, its RoutingRecorder counts, per function and routing
// site, the calls, the tokens, the tokens each expert received and, on
// request, how often two experts were selected by the same token; the
// counts are written as the JSON file of docs/Runtime.md, "Routing
// statistics", which moe-ep-plan and moe-plan-expert-parallelism read.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_MOERT_ROUTING_H
#define MOEC_RUNTIME_MOERT_ROUTING_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

struct moert_artifact_s;

namespace moert {

struct Function;

/// One moe.record_routing of a function (metadata "routing_sites").
struct RoutingSite {
  int64_t site = 0;    // the number the generated code passes
  int64_t experts = 0; // E
  int64_t k = 0;       // experts per token
};

/// The largest expert count a site may declare, and the largest for which
/// co-selection (E x E counts) is recorded.
inline constexpr int64_t kMaxRoutingExperts = int64_t(1) << 20;
inline constexpr int64_t kMaxCoselectionExperts = 4096;

/// What one site has seen since recording started.
struct SiteCounts {
  int64_t calls = 0;
  int64_t tokens = 0;
  /// Tokens each expert received: E counts.
  std::vector<int64_t> experts;
  /// With co-selection, E x E row-major: [a * E + b] counts the tokens
  /// that selected both a and b (a != b; symmetric); else empty.
  std::vector<int64_t> coselection;
  /// Selections outside [0, E) (none from a correct artifact): not counted
  /// above.
  int64_t invalid = 0;
};

class RoutingRecorder {
public:
  /// Starts recording afresh for every site of `artifact`; "" or why not
  /// (no site, or co-selection asked for more experts than it records).
  /// Allocates every count now, so that record() never allocates.
  std::string start(const moert_artifact_s &artifact, bool coselection);
  /// Stops recording; the counts stay.
  void stop() { active_ = false; }
  bool active() const { return active_; }
  bool started() const { return started_; }
  bool coselection() const { return coselection_; }

  /// Counts one report of the generated code while `fn` runs.
  void record(const Function &fn, int64_t site, const int32_t *indices,
              int64_t tokens, int64_t k, int64_t rowStride,
              int64_t columnStride) noexcept;

  /// The counts of the `index`-th site of function `name`, or null.
  const SiteCounts *find(const std::string &name, size_t index) const;

  /// The statistics as the JSON document of docs/Runtime.md.
  std::string toJson(const moert_artifact_s &artifact) const;

  /// Every count, site by site in a fixed order: calls, tokens, invalid,
  /// the experts' counts, co-selection. `isCalls` marks the calls.
  std::vector<int64_t> flatten(std::vector<bool> *isCalls = nullptr) const;
  /// Sets the counts from flatten()'s layout (`values` has its size).
  void assign(const std::vector<int64_t> &values);

private:
  bool active_ = false, started_ = false, coselection_ = false;
  std::map<std::string, std::vector<SiteCounts>> functions_;
};

/// While alive, reports of the generated code on this thread go to
/// `recorder` (when it records) for function `fn`.
class RoutingScope {
public:
  RoutingScope(RoutingRecorder *recorder, const Function &fn);
  ~RoutingScope();
  RoutingScope(const RoutingScope &) = delete;
  RoutingScope &operator=(const RoutingScope &) = delete;

private:
  void *previous_[2];
};

} // namespace moert

/// The function moert stores in an artifact's moec_record_routing slot.
extern "C" void moert_record_routing(int64_t site, const int32_t *indices,
                                     int64_t tokens, int64_t k,
                                     int64_t rowStride, int64_t columnStride);

#endif // MOEC_RUNTIME_MOERT_ROUTING_H
