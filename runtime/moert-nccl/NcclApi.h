//===- NcclApi.h - NCCL, loaded at run time ---------------------*- C++ -*-===//
//
// libmoert_nccl links neither NCCL nor the CUDA driver: both are opened
// with dlopen the first time a group is made, so that the library loads on
// machines without them and says which is missing (the driver through
// runtime/moert/CudaDriver.h, as moert opens it). Only the calls it makes
// are declared, with NCCL's types as the plain integers, handles and
// structures they are (its ABI is stable across its 2.x releases); no
// NCCL or CUDA header is needed to build.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_MOERT_NCCL_NCCLAPI_H
#define MOEC_RUNTIME_MOERT_NCCL_NCCLAPI_H

#include "runtime/moert/CudaDriver.h"

#include <cstddef>
#include <string>

namespace moert::nccl {

//===--- NCCL -------------------------------------------------------------===//

using ncclResult_t = int;
using ncclComm_t = struct ncclComm *;
using cudaStream_t = moert::cuda::CUstream;

constexpr ncclResult_t kNcclSuccess = 0;
constexpr ncclResult_t kNcclInProgress = 7;
/// ncclDataType_t values used.
constexpr int kNcclInt8 = 0;
constexpr int kNcclUint64 = 5;
/// The first release with non-blocking communicators and ncclConfig_t.
constexpr int kNcclMinimumVersion = 21400;

/// ncclUniqueId.
struct UniqueId {
  char internal[128];
};

/// ncclConfig_t as NCCL 2.14 declared it. Later releases append fields
/// and read a caller's structure by its `size` and `version`, so a
/// program built with 2.14's header keeps working; this is that program's
/// structure.
struct Config {
  size_t size = sizeof(Config);
  unsigned magic = 0xcafebeef;            // NCCL_API_MAGIC
  unsigned version = kNcclMinimumVersion; // NCCL_VERSION(2, 14, 0)
  int blocking = -2147483647 - 1;         // NCCL_CONFIG_UNDEF_INT
  int cgaClusterSize = -2147483647 - 1;
  int minCTAs = -2147483647 - 1;
  int maxCTAs = -2147483647 - 1;
  const char *netName = nullptr;
};

struct Nccl {
  std::string path;
  int version = 0;

  ncclResult_t (*getVersion)(int *version) = nullptr;
  ncclResult_t (*getUniqueId)(UniqueId *id) = nullptr;
  ncclResult_t (*commInitRankConfig)(ncclComm_t *comm, int ranks, UniqueId id,
                                     int rank, Config *config) = nullptr;
  ncclResult_t (*commGetAsyncError)(ncclComm_t comm,
                                    ncclResult_t *state) = nullptr;
  ncclResult_t (*commAbort)(ncclComm_t comm) = nullptr;
  ncclResult_t (*commDestroy)(ncclComm_t comm) = nullptr;
  ncclResult_t (*groupStart)() = nullptr;
  ncclResult_t (*groupEnd)() = nullptr;
  ncclResult_t (*send)(const void *buffer, size_t count, int type, int peer,
                       ncclComm_t comm, cudaStream_t stream) = nullptr;
  ncclResult_t (*recv)(void *buffer, size_t count, int type, int peer,
                       ncclComm_t comm, cudaStream_t stream) = nullptr;
  ncclResult_t (*allGather)(const void *send, void *recv, size_t count,
                            int type, ncclComm_t comm,
                            cudaStream_t stream) = nullptr;
  const char *(*getErrorString)(ncclResult_t result) = nullptr;
  /// Null in releases before 2.13.
  const char *(*getLastError)(ncclComm_t comm) = nullptr;

  /// "ncclSend: NCCL's text for the result (its last error)" for a failed
  /// call.
  std::string error(const char *call, ncclResult_t result,
                    ncclComm_t comm) const;
};

/// NCCL, loaded once per process ($MOERT_NCCL_LIBRARY, else
/// libnccl.so.2); null with `why` set when it cannot be used.
const Nccl *loadNccl(std::string &why);

} // namespace moert::nccl

#endif // MOEC_RUNTIME_MOERT_NCCL_NCCLAPI_H
