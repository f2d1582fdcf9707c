//===- ExpertParallel.cpp - moe-run on a group of ranks -------------------===//
#include "tools/moe-run/ExpertParallel.h"

#ifdef MOEC_HAVE_MOERT_MPI
#include "runtime/moert-mpi/moert_mpi.h"
#endif

#include <cstdio>
#include <cstdlib>

using namespace moerun;

std::pair<int64_t, int64_t> moerun::tokenShare(int64_t tokens, int64_t rank,
                                               int64_t ranks) {
  return {tokens * rank / ranks, tokens * (rank + 1) / ranks};
}

#ifdef MOEC_HAVE_MOERT_MPI

RankGroup::~RankGroup() {
  if (!started_)
    return;
  moert_mpi_collectives_release(&table_);
  moert_mpi_finalize();
}

std::string RankGroup::start(double timeoutSeconds) {
  char error[512] = {};
  int32_t rank = 0, size = 0;
  if (moert_mpi_init(nullptr, nullptr, &rank, &size, error, sizeof(error)) ||
      moert_mpi_collectives(timeoutSeconds, &table_, error, sizeof(error)))
    return error[0] ? error : "MPI did not start";
  started_ = true;
  return "";
}

std::string RankGroup::gather(const unsigned char *local,
                              const std::vector<int64_t> &rowsPerRank,
                              int64_t rowBytes,
                              std::vector<unsigned char> &all) {
  size_t ranks = rowsPerRank.size();
  std::vector<int64_t> sendCounts(ranks, 0), recvCounts(ranks, 0);
  sendCounts[0] = rowsPerRank[rank()];
  int64_t total = 0;
  if (rank() == 0)
    for (size_t r = 0; r < ranks; ++r)
      total += recvCounts[r] = rowsPerRank[r];
  all.assign(static_cast<size_t>(total * rowBytes), 0);
  char error[512] = {};
  if (table_.all_to_all_v(table_.context, local, sendCounts.data(), all.data(),
                          recvCounts.data(), rowBytes, error, sizeof(error)))
    return error[0] ? error : "gathering the outputs failed";
  return "";
}

void RankGroup::abort(int code) { moert_mpi_abort(code); }

#else // !MOEC_HAVE_MOERT_MPI

RankGroup::~RankGroup() = default;

std::string RankGroup::start(double) {
  return "this moe-run was built without MPI (libopenmpi-dev, "
         "scripts/setup.sh), which expert-parallel functions run on";
}

std::string RankGroup::gather(const unsigned char *,
                              const std::vector<int64_t> &, int64_t,
                              std::vector<unsigned char> &) {
  return "no group of ranks";
}

void RankGroup::abort(int code) {
  std::fflush(nullptr);
  std::exit(code);
}

#endif // MOEC_HAVE_MOERT_MPI
