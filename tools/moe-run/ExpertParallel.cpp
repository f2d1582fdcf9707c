//===- ExpertParallel.cpp - moe-run on a group of ranks -------------------===//
#include "tools/moe-run/ExpertParallel.h"

#include "runtime/moert-nccl/moert_nccl.h"
#ifdef MOEC_HAVE_MOERT_MPI
#include "runtime/moert-mpi/moert_mpi.h"
#endif

#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace moerun;

std::pair<int64_t, int64_t> moerun::tokenShare(int64_t tokens, int64_t rank,
                                               int64_t ranks) {
  return {tokens * rank / ranks, tokens * (rank + 1) / ranks};
}

#ifdef MOEC_HAVE_MOERT_MPI

RankGroup::~RankGroup() {
  if (!started_)
    return;
  moert_nccl_collectives_release(&nccl_);
  moert_mpi_collectives_release(&table_);
  moert_mpi_finalize();
}

namespace {

/// This process's rank within its node, as mpirun (Open MPI, MPICH) or
/// Slurm tell it; 0 when none does.
int localRank() {
  for (const char *name :
       {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"})
    if (const char *v = std::getenv(name); v && *v)
      return std::atoi(v);
  return 0;
}

} // namespace

std::string RankGroup::start(double timeoutSeconds, const std::string &engine,
                             int ncclDevice) {
  char error[512] = {};
  int32_t rank = 0, size = 0;
  if (moert_mpi_init(nullptr, nullptr, &rank, &size, error, sizeof(error)) ||
      moert_mpi_collectives(timeoutSeconds, &table_, error, sizeof(error)))
    return error[0] ? error : "MPI did not start";
  started_ = true;
  if (engine != "nccl")
    return "";
  // Rank 0 makes NCCL's id and sends it to every rank after a byte saying
  // whether it could; when not, the bytes hold its message instead, which
  // every rank then reports (the others send nothing of use).
  constexpr size_t kText = sizeof(error);
  constexpr size_t kBlock = 1 + kText;
  static_assert(kText > MOERT_NCCL_ID_BYTES, "a block holds an id");
  std::vector<unsigned char> send(kBlock * size, 0), recv(kBlock * size, 0);
  moert_nccl_id_t id{};
  if (rank == 0) {
    bool made = moert_nccl_unique_id(&id, error, sizeof(error)) == 0;
    if (!made && !error[0])
      std::snprintf(error, sizeof(error), "NCCL made no id");
    for (int32_t r = 0; r < size; ++r) {
      send[kBlock * r] = made ? 1 : 0;
      std::memcpy(&send[kBlock * r + 1], made ? id.bytes : error,
                  made ? MOERT_NCCL_ID_BYTES : kText);
    }
  }
  if (table_.all_to_all(table_.context, send.data(), recv.data(), kBlock, error,
                        sizeof(error)))
    return error[0] ? error : "handing out NCCL's id failed";
  if (recv[0] != 1) {
    recv[kText] = 0; // the message's last byte, terminating it
    return reinterpret_cast<const char *>(&recv[1]);
  }
  std::memcpy(id.bytes, &recv[1], MOERT_NCCL_ID_BYTES);
  int device = ncclDevice >= 0 ? ncclDevice : localRank();
  if (moert_nccl_collectives(&id, rank, size, device, timeoutSeconds, &nccl_,
                             error, sizeof(error)))
    return error[0] ? error : "NCCL did not start";
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

std::string RankGroup::start(double, const std::string &, int) {
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
