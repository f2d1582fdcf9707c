//===- Collectives.h - a session's expert-parallel group --------*- C++ -*-===//
//
// An expert-parallel function (metadata "expert_parallel") exchanges token
// rows with the other ranks of its group through the artifact's
// moec_ep_rank, moec_all_to_all and moec_all_to_all_v slots
// (runtime/abi/ArtifactAbi.h). The session holds the group's collectives
// (moert_collectives_t, filled by an engine such as libmoert_mpi); while a
// call runs, a CollectivesScope routes the slots to them and keeps the
// first failure, which the call then reports.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_MOERT_COLLECTIVES_H
#define MOEC_RUNTIME_MOERT_COLLECTIVES_H

#include "runtime/moert/moert.h"

#include <cstdint>
#include <set>
#include <string>

struct moert_session_s;

namespace moert {

struct Function;

/// The collectives a session was given, the placement fingerprints its
/// ranks already agreed on, and what its exchanges cost so far.
struct Group {
  moert_collectives_t table{};
  bool set = false;
  std::set<int64_t> agreed;
  moert_exchange_stats_t stats{};
};

/// "" when `table` is a usable group, else what is wrong with it.
std::string checkCollectives(const moert_collectives_t &table);

/// Null when `session` can call `fn`: its group has the ranks `fn` was
/// compiled for, or `fn` runs on one process; else why not.
moert_status_t checkGroupFor(const moert_session_s &session,
                             const Function &fn);

/// While alive, the collectives slots on this thread use `group` (null:
/// none) for function `function`.
class CollectivesScope {
public:
  CollectivesScope(Group *group, const std::string &function);
  ~CollectivesScope();
  CollectivesScope(const CollectivesScope &) = delete;
  CollectivesScope &operator=(const CollectivesScope &) = delete;

  /// The first failure of an exchange during the scope, or "".
  const std::string &error() const { return error_; }

  /// Records `message` unless a failure is recorded already.
  void fail(const std::string &message);
  Group *group() const { return group_; }
  const std::string &function() const { return function_; }

private:
  Group *group_;
  std::string function_;
  std::string error_;
  CollectivesScope *previous_;
};

} // namespace moert

/// The functions moert stores in an artifact's collectives slots.
extern "C" int64_t moert_ep_rank(int64_t devices);
extern "C" void moert_all_to_all(int64_t devices, int64_t fingerprint,
                                 const void *send, void *recv, int64_t bytes);
extern "C" void moert_all_to_all_v(int64_t devices, const void *send,
                                   const int64_t *sendCounts, void *recv,
                                   const int64_t *recvCounts, int64_t rowBytes);

#endif // MOEC_RUNTIME_MOERT_COLLECTIVES_H
