//===- Collectives.cpp - a session's expert-parallel group ----------------===//
#include "runtime/moert/Collectives.h"
#include "runtime/moert/Internal.h"

#include <chrono>
#include <cstring>

using namespace moert;

namespace {
thread_local CollectivesScope *current = nullptr;

/// The scope of the call running on this thread, checked against the
/// group the generated code expects; null (after recording why in the
/// scope, when there is one) when there is nothing to exchange with.
CollectivesScope *usable(int64_t devices) {
  CollectivesScope *scope = current;
  if (!scope || !scope->error().empty())
    return nullptr;
  Group *group = scope->group();
  if (!group || !group->set) {
    scope->fail("function '" + scope->function() + "' exchanges rows with " +
                std::to_string(devices) +
                " ranks, but the session has no group of ranks");
    return nullptr;
  }
  if (group->table.size != devices) {
    scope->fail("function '" + scope->function() +
                "' was compiled for a grid of " + std::to_string(devices) +
                " devices, but the session's group has " +
                std::to_string(group->table.size) + " ranks");
    return nullptr;
  }
  return scope;
}

/// Runs one collective, recording its failure in `scope` and its time and
/// the `bytesSent` to other ranks in the group's counters.
template <typename Call>
bool run(CollectivesScope *scope, uint64_t bytesSent, Call &&call) {
  char error[512] = {};
  Group &group = *scope->group();
  auto start = std::chrono::steady_clock::now();
  int rc = call(group.table, error, sizeof(error));
  group.stats.seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  ++group.stats.exchanges;
  if (rc == 0) {
    group.stats.bytes_sent += static_cast<int64_t>(bytesSent);
    return true;
  }
  scope->fail("function '" + scope->function() +
              "': " + (error[0] ? std::string(error) : "a collective failed"));
  return false;
}
} // namespace

std::string moert::checkCollectives(const moert_collectives_t &t) {
  if (t.version != MOERT_COLLECTIVES_VERSION)
    return "collectives of version " + std::to_string(t.version) +
           "; this runtime speaks version " +
           std::to_string(MOERT_COLLECTIVES_VERSION);
  if (t.size < 1 || t.rank < 0 || t.rank >= t.size)
    return "rank " + std::to_string(t.rank) + " of " + std::to_string(t.size) +
           " is not a rank of a group";
  if (!t.all_to_all || !t.all_to_all_v || !t.agree)
    return "the collectives lack a function (all_to_all, all_to_all_v and "
           "agree are all needed)";
  return "";
}

CollectivesScope::CollectivesScope(Group *group, const std::string &function)
    : group_(group), function_(function), previous_(current) {
  current = this;
}

CollectivesScope::~CollectivesScope() { current = previous_; }

void CollectivesScope::fail(const std::string &message) {
  if (error_.empty())
    error_ = message.empty() ? "an exchange between ranks failed" : message;
}

extern "C" int64_t moert_ep_rank(int64_t devices) {
  CollectivesScope *scope = usable(devices);
  return scope ? scope->group()->table.rank : 0;
}

extern "C" void moert_all_to_all(int64_t devices, int64_t fingerprint,
                                 const void *send, void *recv, int64_t bytes) {
  CollectivesScope *scope = usable(devices);
  // Every rank must run the same placement: checked once per plan, at its
  // first count exchange (all ranks reach this point together).
  if (scope && fingerprint != 0 && !scope->group()->agreed.count(fingerprint)) {
    std::string what = "the expert placement of '" + scope->function() + "'";
    if (run(scope, 0, [&](moert_collectives_t &t, char *error, uint64_t size) {
          return t.agree(t.context, static_cast<uint64_t>(fingerprint),
                         what.c_str(), error, size);
        }))
      scope->group()->agreed.insert(fingerprint);
    else
      scope = nullptr;
  }
  if (!scope || !run(scope, static_cast<uint64_t>(bytes) * (devices - 1),
                     [&](moert_collectives_t &t, char *error, uint64_t size) {
                       return t.all_to_all(t.context, send, recv, bytes, error,
                                           size);
                     }))
    std::memset(recv, 0, static_cast<size_t>(devices * bytes));
}

extern "C" void moert_all_to_all_v(int64_t devices, const void *send,
                                   const int64_t *sendCounts, void *recv,
                                   const int64_t *recvCounts,
                                   int64_t rowBytes) {
  CollectivesScope *scope = usable(devices);
  // The rows for other ranks (this rank's own stay in memory).
  uint64_t sent = 0;
  if (scope)
    for (int64_t r = 0; r < devices; ++r)
      if (r != scope->group()->table.rank && sendCounts[r] > 0)
        sent += static_cast<uint64_t>(sendCounts[r] * rowBytes);
  if (scope &&
      run(scope, sent, [&](moert_collectives_t &t, char *error, uint64_t size) {
        return t.all_to_all_v(t.context, send, sendCounts, recv, recvCounts,
                              rowBytes, error, size);
      }))
    return;
  // The generated code allocated Σ recv_counts rows.
  int64_t rows = 0;
  for (int64_t r = 0; r < devices; ++r)
    rows += recvCounts[r] > 0 ? recvCounts[r] : 0;
  std::memset(recv, 0, static_cast<size_t>(rows * rowBytes));
}

moert_status_t moert::checkGroupFor(const moert_session_s &session,
                                    const Function &fn) {
  if (fn.expertParallelDevices == 0)
    return nullptr;
  const Group &group = session.group;
  if (!group.set)
    return makeStatus(
        MOERT_FAILED_PRECONDITION,
        "function '" + fn.name + "' runs its experts on " +
            std::to_string(fn.expertParallelDevices) +
            " ranks: give the session their collectives "
            "(moert_session_set_collectives; moe-run: under mpirun with " +
            std::to_string(fn.expertParallelDevices) + " processes)");
  if (group.table.size != fn.expertParallelDevices)
    return makeStatus(MOERT_FAILED_PRECONDITION,
                      "function '" + fn.name + "' runs its experts on " +
                          std::to_string(fn.expertParallelDevices) +
                          " ranks, but the session's group has " +
                          std::to_string(group.table.size));
  return nullptr;
}

extern "C" {

moert_status_t
moert_session_set_collectives(moert_session_t *session,
                              const moert_collectives_t *collectives) {
  return guardEntry("moert_session_set_collectives", [&]() -> moert_status_t {
    if (!session)
      return makeStatus(MOERT_INVALID_ARGUMENT, "session is null");
    SessionUse use(*session);
    if (moert_status_t st = use.status("moert_session_set_collectives"))
      return st;
    if (!collectives) {
      session->group = Group();
      dropRankWeights(*session);
      return nullptr;
    }
    if (std::string err = checkCollectives(*collectives); !err.empty())
      return makeStatus(MOERT_INVALID_ARGUMENT, err);
    session->group = Group();
    session->group.table = *collectives;
    session->group.set = true;
    dropRankWeights(*session);
    return nullptr;
  });
}

moert_status_t moert_session_exchange_stats(moert_session_t *session,
                                            int32_t reset,
                                            moert_exchange_stats_t *out) {
  return guardEntry("moert_session_exchange_stats", [&]() -> moert_status_t {
    if (!session || !out)
      return makeStatus(MOERT_INVALID_ARGUMENT, "session or out is null");
    SessionUse use(*session);
    if (moert_status_t st = use.status("moert_session_exchange_stats"))
      return st;
    *out = session->group.stats;
    if (reset)
      session->group.stats = moert_exchange_stats_t{};
    return nullptr;
  });
}

int64_t moert_artifact_expert_parallel_ranks(const moert_artifact_t *artifact,
                                             const char *function) {
  if (!artifact || !function)
    return -1;
  const Function *fn = artifact->find(function);
  return fn ? fn->expertParallelDevices : -1;
}

} // extern "C"
