//===- ExpertParallel.h - moe-run on a group of ranks -----------*- C++ -*-===//
//
// An expert-parallel function runs as one process per rank under mpirun:
// every rank reads the same inputs, runs the function on its share of the
// tokens, and rank 0 gathers the outputs to print, verify and write them.
// The group's collectives come from libmoert_mpi where moe-run was built
// with MPI, or from libmoert_nccl with --collectives nccl (MPI still starts
// the ranks, hands them NCCL's id and gathers the outputs).
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_TOOLS_MOE_RUN_EXPERTPARALLEL_H
#define MOEC_TOOLS_MOE_RUN_EXPERTPARALLEL_H

#include "runtime/moert/moert.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace moerun {

/// The tokens [first, last) of rank `rank` of `ranks` out of `tokens`: as
/// even a split as possible, in rank order.
std::pair<int64_t, int64_t> tokenShare(int64_t tokens, int64_t rank,
                                       int64_t ranks);

class RankGroup {
public:
  RankGroup() = default;
  ~RankGroup();
  RankGroup(const RankGroup &) = delete;
  RankGroup &operator=(const RankGroup &) = delete;

  /// Joins the group of processes mpirun started, with collectives that
  /// give up after `timeoutSeconds`: MPI's, or with `engine` "nccl", NCCL's
  /// on CUDA device `ncclDevice` (-1: the rank within its node), whose id
  /// rank 0 makes and hands the others over MPI. "" or why not.
  std::string start(double timeoutSeconds, const std::string &engine,
                    int ncclDevice);
  bool started() const { return started_; }
  int32_t rank() const { return table_.rank; }
  int32_t size() const { return table_.size; }
  /// The collectives the session exchanges token rows with.
  const moert_collectives_t &collectives() const {
    return nccl_.context ? nccl_ : table_;
  }

  /// Rank 0 receives every rank's `rowsPerRank[r]` rows of `rowBytes`
  /// bytes into `all` (in rank order); the others send `local`.
  std::string gather(const unsigned char *local,
                     const std::vector<int64_t> &rowsPerRank, int64_t rowBytes,
                     std::vector<unsigned char> &all);

  /// Ends every rank of the job (after a failure on this one, so that no
  /// rank waits for it until its time-out).
  [[noreturn]] void abort(int code);

private:
  moert_collectives_t table_{}; // MPI's: starting, sharing ids, gathering
  moert_collectives_t nccl_{};
  bool started_ = false;
};

} // namespace moerun

#endif // MOEC_TOOLS_MOE_RUN_EXPERTPARALLEL_H
