//===- NcclCollectives.cpp - expert-parallel collectives over NCCL --------===//
//
// Fills moert_collectives_t with NCCL on a non-blocking communicator. Each
// collective is enqueued on the group's stream and polled (the
// communicator's state, then the stream) until it completes or its
// deadline passes; past it the communicator is aborted, so that a rank
// that died or runs different code makes the others fail with a message
// instead of hanging the job.
//
//===----------------------------------------------------------------------===//
#include "moert_nccl.h"

#include "NcclApi.h"
#include "runtime/support/CollectiveSupport.h"

#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <vector>

using namespace moert::cuda;
using namespace moert::nccl;

namespace {

using namespace moert::collectives;
// Beside the overload for a group below.
using moert::collectives::failOn;

// Device memory is handed out in steps of this many bytes, so that batches
// of slightly different sizes reuse one staging buffer.
constexpr size_t kScratchGranule = size_t(1) << 20;

struct Group {
  const Nccl *nccl = nullptr;
  const Driver *cuda = nullptr;
  ncclComm_t comm = nullptr;
  CUcontext context = nullptr;
  CUstream stream = nullptr;
  int rank = 0;
  int size = 1;
  double timeoutSeconds = 0;
  // A collective failed or timed out: the communicator was aborted, or may
  // hold an operation that other ranks never matched.
  bool broken = false;
  // Device memory for host buffers and the agreement's values.
  CUdeviceptr scratch = 0;
  size_t scratchBytes = 0;
};

//===--- Messages ---------------------------------------------------------===//

int failOn(const Group &group, char *error, uint64_t errorSize,
           const std::string &message) {
  return failOn(group.rank, group.size, error, errorSize, "%s",
                message.c_str());
}

//===--- The device's context ---------------------------------------------===//

// Makes the group's context current on this thread while alive.
class ContextScope {
public:
  explicit ContextScope(const Group &group) : cuda_(group.cuda) {
    pushed_ = cuda_->ctxPushCurrent(group.context);
  }
  ~ContextScope() {
    if (pushed_ == kSuccess) {
      CUcontext previous = nullptr;
      cuda_->ctxPopCurrent(&previous);
    }
  }
  CUresult result() const { return pushed_; }
  ContextScope(const ContextScope &) = delete;
  ContextScope &operator=(const ContextScope &) = delete;

private:
  const Driver *cuda_;
  CUresult pushed_;
};

//===--- Waiting ----------------------------------------------------------===//

// Gives up on the communicator: after this the group is unusable.
void abortGroup(Group &group) {
  group.broken = true;
  if (group.comm) {
    group.nccl->commAbort(group.comm);
    group.comm = nullptr;
  }
}

// Polls until what was enqueued completes (0): the communicator's state
// leaves ncclInProgress (a non-blocking communicator issues grouped calls
// in the background) and, when `onStream`, the stream is idle. A failure
// or the deadline aborts the communicator (non-zero, with a message naming
// `what`).
int complete(Group &group, const char *what, bool onStream, char *error,
             uint64_t errorSize) {
  for (Poll poll(group.timeoutSeconds);;) {
    ncclResult_t state = kNcclSuccess;
    ncclResult_t r = group.nccl->commGetAsyncError(group.comm, &state);
    if (r != kNcclSuccess ||
        (state != kNcclSuccess && state != kNcclInProgress)) {
      std::string message =
          std::string(what) + " failed: " +
          group.nccl->error("ncclCommGetAsyncError",
                            r != kNcclSuccess ? r : state, group.comm);
      abortGroup(group);
      return failOn(group, error, errorSize, message);
    }
    if (state == kNcclSuccess) {
      if (!onStream)
        return 0;
      CUresult q = group.cuda->streamQuery(group.stream);
      if (q == kSuccess)
        return 0;
      if (q != kNotReady) {
        std::string message = std::string(what) + " failed: " +
                              group.cuda->error("cuStreamQuery", q);
        abortGroup(group);
        return failOn(group, error, errorSize, message);
      }
    }
    if (poll.expiredElseWait()) {
      abortGroup(group);
      return failOn(group.rank, group.size, error, errorSize,
                    "%s did not complete within %g s: %s", what,
                    group.timeoutSeconds, kNotTakingPart);
    }
  }
}

// The result of an NCCL call that enqueues (or, in a group, records) work:
// ncclInProgress is how a non-blocking communicator says "issued".
int checkCall(Group &group, const char *call, ncclResult_t r, const char *what,
              char *error, uint64_t errorSize) {
  if (r == kNcclSuccess || r == kNcclInProgress)
    return 0;
  std::string message = std::string(what) + " failed to start: " +
                        group.nccl->error(call, r, group.comm);
  abortGroup(group);
  return failOn(group, error, errorSize, message);
}

// The group behind a table's context, when it can still be used.
Group *usableGroup(void *context, char *error, uint64_t errorSize) {
  auto *group = static_cast<Group *>(context);
  if (!group) {
    fail(error, errorSize,
         "the collectives have no group (released, or never filled by "
         "moert_nccl_collectives)");
    return nullptr;
  }
  if (group->broken) {
    failOn(group->rank, group->size, error, errorSize,
           "an earlier collective of this group failed or timed out, and its "
           "NCCL communicator was aborted: the group cannot be used again");
    return nullptr;
  }
  return group;
}

//===--- Buffers ----------------------------------------------------------===//

// Whether NCCL can use `buffer` as it is: memory of a CUDA device (or
// managed memory). Host memory, registered or not, is staged.
bool onDevice(const Group &group, const void *buffer) {
  unsigned type = 0;
  CUresult r = group.cuda->pointerGetAttribute(
      &type, kPointerMemoryType,
      static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(buffer)));
  return r == kSuccess &&
         (type == kMemoryTypeDevice || type == kMemoryTypeUnified);
}

// At least `bytes` bytes of device memory at group.scratch.
int reserveScratch(Group &group, size_t bytes, char *error,
                   uint64_t errorSize) {
  if (bytes <= group.scratchBytes)
    return 0;
  if (group.scratch) {
    group.cuda->memFree(group.scratch);
    group.scratch = 0;
    group.scratchBytes = 0;
  }
  size_t rounded =
      (bytes + kScratchGranule - 1) / kScratchGranule * kScratchGranule;
  if (CUresult r = group.cuda->memAlloc(&group.scratch, rounded);
      r != kSuccess) {
    group.scratch = 0;
    return failOn(group.rank, group.size, error, errorSize,
                  "cannot stage %zu bytes of host buffers in device memory: "
                  "%s",
                  bytes, group.cuda->error("cuMemAlloc", r).c_str());
  }
  group.scratchBytes = rounded;
  return 0;
}

// Where NCCL reads the send buffer and writes the receive buffer: the
// buffers themselves when on the device, else the scratch memory (the
// send part first), which this fills from `send`.
struct Placed {
  CUdeviceptr send = 0, recv = 0;
  bool stagedRecv = false;
};

int place(Group &group, const void *send, size_t sendBytes, void *recv,
          size_t recvBytes, Placed &out, char *error, uint64_t errorSize) {
  bool stageSend = sendBytes > 0 && !onDevice(group, send);
  out.stagedRecv = recvBytes > 0 && !onDevice(group, recv);
  size_t sendPart = stageSend ? (sendBytes + 255) / 256 * 256 : 0;
  if (reserveScratch(group, sendPart + (out.stagedRecv ? recvBytes : 0), error,
                     errorSize))
    return 1;
  out.send = stageSend
                 ? group.scratch
                 : static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(send));
  out.recv = out.stagedRecv
                 ? group.scratch + sendPart
                 : static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(recv));
  // On the group's stream, ahead of NCCL's calls: a non-blocking stream
  // does not wait for copies on the default one. The call returns once
  // `send` has been read.
  if (stageSend) {
    if (CUresult r = group.cuda->memcpyHtoDAsync(out.send, send, sendBytes,
                                                 group.stream);
        r != kSuccess)
      return failOn(group, error, errorSize,
                    "cannot stage the send buffer: " +
                        group.cuda->error("cuMemcpyHtoDAsync", r));
  }
  return 0;
}

int unstage(Group &group, const Placed &placed, void *recv, size_t recvBytes,
            char *error, uint64_t errorSize) {
  if (!placed.stagedRecv || recvBytes == 0)
    return 0;
  if (CUresult r = group.cuda->memcpyDtoH(recv, placed.recv, recvBytes);
      r != kSuccess)
    return failOn(group, error, errorSize,
                  "cannot copy the received rows to the host: " +
                      group.cuda->error("cuMemcpyDtoH", r));
  return 0;
}

// Zeroes `bytes` of `recv` after a failure, as moert.h promises.
void zero(const Group &group, void *recv, size_t bytes) {
  if (!recv || bytes == 0)
    return;
  if (onDevice(group, recv))
    group.cuda->memsetD8(
        static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(recv)), 0, bytes);
  else
    std::memset(recv, 0, bytes);
}

void *at(CUdeviceptr base, size_t offset) {
  return reinterpret_cast<void *>(static_cast<uintptr_t>(base + offset));
}

// One group of sends and receives: `sendBytes[p]` bytes at
// `sendOffsets[p]` to rank p, `recvBytes[p]` at `recvOffsets[p]` from it;
// peers with nothing either way are left out of the group.
int exchange(Group &group, const Placed &placed,
             const std::vector<size_t> &sendOffsets,
             const std::vector<size_t> &sendBytes,
             const std::vector<size_t> &recvOffsets,
             const std::vector<size_t> &recvBytes, const char *what,
             char *error, uint64_t errorSize) {
  bool any = false;
  for (int p = 0; p < group.size; ++p)
    any = any || sendBytes[p] > 0 || recvBytes[p] > 0;
  if (!any)
    return 0;
  const Nccl &nccl = *group.nccl;
  if (checkCall(group, "ncclGroupStart", nccl.groupStart(), what, error,
                errorSize))
    return 1;
  ncclResult_t first = kNcclSuccess;
  const char *firstCall = nullptr;
  auto note = [&](const char *call, ncclResult_t r) {
    if (r != kNcclSuccess && r != kNcclInProgress && !firstCall) {
      first = r;
      firstCall = call;
    }
  };
  for (int p = 0; p < group.size; ++p) {
    if (sendBytes[p] > 0)
      note("ncclSend", nccl.send(at(placed.send, sendOffsets[p]), sendBytes[p],
                                 kNcclInt8, p, group.comm, group.stream));
    if (recvBytes[p] > 0)
      note("ncclRecv", nccl.recv(at(placed.recv, recvOffsets[p]), recvBytes[p],
                                 kNcclInt8, p, group.comm, group.stream));
  }
  // The group is closed even after a failed call, as NCCL requires.
  ncclResult_t ended = nccl.groupEnd();
  if (firstCall)
    return checkCall(group, firstCall, first, what, error, errorSize);
  if (checkCall(group, "ncclGroupEnd", ended, what, error, errorSize))
    return 1;
  return complete(group, what, /*onStream=*/true, error, errorSize);
}

//===--- all_to_all -------------------------------------------------------===//

int allToAll(void *context, const void *send, void *recv, int64_t bytes,
             char *error, uint64_t errorSize) {
  Group *group = usableGroup(context, error, errorSize);
  if (!group) {
    // A broken group still knows its size and device: its buffer is
    // zeroed as any failed exchange's.
    auto *known = static_cast<Group *>(context);
    if (known && bytes > 0 && bytes <= INT64_MAX / known->size) {
      ContextScope scope(*known);
      zero(*known, recv, static_cast<size_t>(bytes) * known->size);
    }
    return 1;
  }
  int rank = group->rank, size = group->size;
  if (bytes < 0)
    return failOn(rank, size, error, errorSize,
                  "the all-to-all's blocks have %lld bytes: a size cannot be "
                  "negative",
                  static_cast<long long>(bytes));
  if (bytes > INT64_MAX / size)
    return failOn(rank, size, error, errorSize,
                  "the all-to-all's blocks have %lld bytes: %d of them "
                  "overflow a size",
                  static_cast<long long>(bytes), size);
  ContextScope scope(*group);
  if (scope.result() != kSuccess)
    return failOn(*group, error, errorSize,
                  group->cuda->error("cuCtxPushCurrent", scope.result()));
  size_t total = static_cast<size_t>(bytes) * size;
  if (bytes > 0 && (!send || !recv)) {
    failOn(rank, size, error, errorSize,
           "the all-to-all of %lld-byte blocks has no %s buffer",
           static_cast<long long>(bytes), send ? "receive" : "send");
    zero(*group, recv, total);
    return 1;
  }
  char what[64];
  std::snprintf(what, sizeof what, "the all-to-all of %lld-byte blocks",
                static_cast<long long>(bytes));
  Placed placed;
  std::vector<size_t> offsets(size), counts(size, static_cast<size_t>(bytes));
  for (int p = 0; p < size; ++p)
    offsets[p] = static_cast<size_t>(bytes) * p;
  if (place(*group, send, total, recv, total, placed, error, errorSize) ||
      exchange(*group, placed, offsets, counts, offsets, counts, what, error,
               errorSize) ||
      unstage(*group, placed, recv, total, error, errorSize)) {
    zero(*group, recv, total);
    return 1;
  }
  return 0;
}

//===--- all_to_all_v -----------------------------------------------------===//

// Checks one side's counts (`name`: send_counts or recv_counts) and gives
// each peer's bytes and offset, or fails naming the first bad count.
int layOut(const Group &group, const int64_t *counts, int64_t rowBytes,
           const char *name, std::vector<size_t> &offsets,
           std::vector<size_t> &bytes, size_t &total, char *error,
           uint64_t errorSize) {
  offsets.assign(group.size, 0);
  bytes.assign(group.size, 0);
  total = 0;
  for (int p = 0; p < group.size; ++p) {
    int64_t rows = counts[p];
    if (rows < 0)
      return failOn(group.rank, group.size, error, errorSize,
                    "%s[%d] is %lld: a row count cannot be negative", name, p,
                    static_cast<long long>(rows));
    if (static_cast<uint64_t>(rows) >
        (SIZE_MAX - total) / static_cast<size_t>(rowBytes))
      return failOn(group.rank, group.size, error, errorSize,
                    "%s[%d] is %lld rows: the rows' bytes overflow a size",
                    name, p, static_cast<long long>(rows));
    offsets[p] = total;
    bytes[p] = static_cast<size_t>(rows) * static_cast<size_t>(rowBytes);
    total += bytes[p];
  }
  return 0;
}

int allToAllV(void *context, const void *send, const int64_t *sendCounts,
              void *recv, const int64_t *recvCounts, int64_t rowBytes,
              char *error, uint64_t errorSize) {
  Group *group = usableGroup(context, error, errorSize);
  auto *known = static_cast<Group *>(context);
  // `recv` as far as the counts and row size say, zeroed on failure.
  auto zeroRecv = [&]() {
    if (!known || !recv || !recvCounts || rowBytes <= 0)
      return 1;
    size_t rows = 0, most = SIZE_MAX / static_cast<size_t>(rowBytes);
    for (int p = 0; p < known->size; ++p) {
      if (recvCounts[p] < 0 || static_cast<size_t>(recvCounts[p]) > most - rows)
        return 1;
      rows += static_cast<size_t>(recvCounts[p]);
    }
    ContextScope scope(*known);
    zero(*known, recv, rows * static_cast<size_t>(rowBytes));
    return 1;
  };
  if (!group)
    return zeroRecv();
  int rank = group->rank, size = group->size;
  if (rowBytes <= 0)
    return failOn(rank, size, error, errorSize,
                  "the all-to-all's rows have %lld bytes: a row has 1 to %lld "
                  "bytes",
                  static_cast<long long>(rowBytes),
                  static_cast<long long>(INT64_MAX));
  if (!sendCounts || !recvCounts)
    return failOn(rank, size, error, errorSize, "the all-to-all has no %s",
                  sendCounts ? "recv_counts" : "send_counts");
  std::vector<size_t> sendOffsets, sendBytes, recvOffsets, recvBytes;
  size_t sendTotal = 0, recvTotal = 0;
  if (layOut(*group, sendCounts, rowBytes, "send_counts", sendOffsets,
             sendBytes, sendTotal, error, errorSize) ||
      layOut(*group, recvCounts, rowBytes, "recv_counts", recvOffsets,
             recvBytes, recvTotal, error, errorSize))
    return zeroRecv();
  if ((sendTotal > 0 && !send) || (recvTotal > 0 && !recv)) {
    bool noSend = sendTotal > 0 && !send;
    failOn(rank, size, error, errorSize,
           "the all-to-all has %zu bytes of rows to %s but no buffer for them",
           noSend ? sendTotal : recvTotal, noSend ? "send" : "receive");
    return zeroRecv();
  }
  ContextScope scope(*group);
  if (scope.result() != kSuccess) {
    failOn(*group, error, errorSize,
           group->cuda->error("cuCtxPushCurrent", scope.result()));
    return zeroRecv();
  }
  Placed placed;
  if (place(*group, send, sendTotal, recv, recvTotal, placed, error,
            errorSize) ||
      exchange(*group, placed, sendOffsets, sendBytes, recvOffsets, recvBytes,
               "the all-to-all of expert rows", error, errorSize) ||
      unstage(*group, placed, recv, recvTotal, error, errorSize))
    return zeroRecv();
  return 0;
}

//===--- agree ------------------------------------------------------------===//

// Every rank's value, gathered; each rank compares them all.
int agree(void *context, uint64_t value, const char *what, char *error,
          uint64_t errorSize) {
  Group *group = usableGroup(context, error, errorSize);
  if (!group)
    return 1;
  if (!what)
    what = "a value";
  ContextScope scope(*group);
  if (scope.result() != kSuccess)
    return failOn(*group, error, errorSize,
                  group->cuda->error("cuCtxPushCurrent", scope.result()));
  std::string operation = std::string("the agreement on ") + what;
  size_t size = static_cast<size_t>(group->size);
  if (reserveScratch(*group, 8 * (size + 1), error, errorSize))
    return 1;
  const Driver &cuda = *group->cuda;
  if (CUresult r =
          cuda.memcpyHtoDAsync(group->scratch, &value, 8, group->stream);
      r != kSuccess)
    return failOn(*group, error, errorSize,
                  operation + ": " + cuda.error("cuMemcpyHtoDAsync", r));
  ncclResult_t r =
      group->nccl->allGather(at(group->scratch, 0), at(group->scratch, 8), 1,
                             kNcclUint64, group->comm, group->stream);
  if (checkCall(*group, "ncclAllGather", r, operation.c_str(), error,
                errorSize) ||
      complete(*group, operation.c_str(), /*onStream=*/true, error, errorSize))
    return 1;
  std::vector<uint64_t> values(size);
  if (CUresult c = cuda.memcpyDtoH(values.data(), group->scratch + 8, 8 * size);
      c != kSuccess)
    return failOn(*group, error, errorSize,
                  operation + ": " + cuda.error("cuMemcpyDtoH", c));
  for (size_t p = 0; p < size; ++p)
    if (values[p] != value)
      return failOn(group->rank, group->size, error, errorSize,
                    "the ranks disagree on %s: this rank has 0x%016llx, rank "
                    "%zu has 0x%016llx",
                    what, static_cast<unsigned long long>(value), p,
                    static_cast<unsigned long long>(values[p]));
  return 0;
}

//===--- The group --------------------------------------------------------===//

void releaseGroup(Group *group) {
  if (!group)
    return;
  {
    ContextScope scope(*group);
    if (group->comm) {
      if (group->broken)
        group->nccl->commAbort(group->comm);
      else
        group->nccl->commDestroy(group->comm);
    }
    if (group->scratch)
      group->cuda->memFree(group->scratch);
    if (group->stream)
      group->cuda->streamDestroy(group->stream);
  }
  delete group;
}

} // namespace

extern "C" int moert_nccl_version(int32_t *out_version, char *error,
                                  uint64_t error_size) {
  std::string why;
  const Nccl *nccl = loadNccl(why);
  if (!nccl)
    return fail(error, error_size, "%s", why.c_str());
  if (out_version)
    *out_version = nccl->version;
  return 0;
}

extern "C" int moert_nccl_unique_id(moert_nccl_id_t *out, char *error,
                                    uint64_t error_size) {
  if (!out)
    return fail(error, error_size, "moert_nccl_unique_id: no id to fill");
  std::memset(out, 0, sizeof *out);
  std::string why;
  const Nccl *nccl = loadNccl(why);
  if (!nccl)
    return fail(error, error_size, "%s", why.c_str());
  UniqueId id{};
  if (ncclResult_t r = nccl->getUniqueId(&id); r != kNcclSuccess)
    return fail(error, error_size, "%s",
                nccl->error("ncclGetUniqueId", r, nullptr).c_str());
  static_assert(sizeof id == sizeof out->bytes, "ncclUniqueId is 128 bytes");
  std::memcpy(out->bytes, id.internal, sizeof out->bytes);
  return 0;
}

extern "C" int moert_nccl_collectives(const moert_nccl_id_t *id, int32_t rank,
                                      int32_t size, int32_t cuda_device,
                                      double timeout_seconds,
                                      moert_collectives_t *out, char *error,
                                      uint64_t error_size) {
  if (!out)
    return fail(error, error_size, "moert_nccl_collectives: no table to fill");
  std::memset(out, 0, sizeof *out);
  if (!id)
    return fail(error, error_size, "moert_nccl_collectives: no NCCL id");
  if (size < 1 || rank < 0 || rank >= size)
    return fail(error, error_size,
                "moert_nccl_collectives: rank %d of %d is not a rank of the "
                "group (0 <= rank < size, size >= 1)",
                rank, size);
  if (!(timeout_seconds > 0) || !std::isfinite(timeout_seconds))
    return failOn(
        rank, size, error, error_size,
        "the time-out is %g s: it must be a positive number of seconds",
        timeout_seconds);
  std::string why;
  const Nccl *nccl = loadNccl(why);
  const Driver *cuda = nccl ? driver(why) : nullptr;
  if (!nccl || !cuda)
    return failOn(rank, size, error, error_size, "%s", why.c_str());
  int devices = 0;
  if (CUresult r = cuda->deviceGetCount(&devices); r != kSuccess)
    return failOn(rank, size, error, error_size, "%s",
                  cuda->error("cuDeviceGetCount", r).c_str());
  if (cuda_device < 0 || cuda_device >= devices)
    return failOn(rank, size, error, error_size,
                  "no CUDA device %d: the driver %s reports %d", cuda_device,
                  cuda->path.c_str(), devices);

  auto *group = new (std::nothrow) Group;
  if (!group)
    return failOn(rank, size, error, error_size, "out of memory");
  group->nccl = nccl;
  group->cuda = cuda;
  group->rank = rank;
  group->size = size;
  group->timeoutSeconds = timeout_seconds;
  auto failed = [&](const std::string &message) {
    failOn(rank, size, error, error_size, "%s", message.c_str());
    releaseGroup(group);
    return 1;
  };
  CUdevice device = 0;
  if (CUresult r = cuda->deviceGet(&device, cuda_device); r != kSuccess)
    return failed(cuda->error("cuDeviceGet", r));
  if (CUresult r = cuda->primaryCtxRetain(&group->context, device);
      r != kSuccess)
    return failed(cuda->error("cuDevicePrimaryCtxRetain", r));
  {
    ContextScope scope(*group);
    if (scope.result() != kSuccess)
      return failed(cuda->error("cuCtxPushCurrent", scope.result()));
    if (CUresult r = cuda->streamCreate(&group->stream, kStreamNonBlocking);
        r != kSuccess) {
      group->stream = nullptr;
      return failed(cuda->error("cuStreamCreate", r));
    }
    Config config;
    config.blocking = 0;
    UniqueId unique{};
    std::memcpy(unique.internal, id->bytes, sizeof unique.internal);
    ncclResult_t r =
        nccl->commInitRankConfig(&group->comm, size, unique, rank, &config);
    if (r != kNcclSuccess && r != kNcclInProgress) {
      std::string message =
          "cannot make the NCCL communicator: " +
          nccl->error("ncclCommInitRankConfig", r, group->comm);
      if (group->comm)
        nccl->commAbort(group->comm);
      group->comm = nullptr;
      return failed(message);
    }
    char what[96];
    std::snprintf(what, sizeof what, "making the NCCL communicator of %d ranks",
                  size);
    if (complete(*group, what, /*onStream=*/false, error, error_size)) {
      releaseGroup(group);
      return 1;
    }
  }
  out->version = MOERT_COLLECTIVES_VERSION;
  out->rank = rank;
  out->size = size;
  out->context = group;
  out->all_to_all = allToAll;
  out->all_to_all_v = allToAllV;
  out->agree = agree;
  return 0;
}

extern "C" void moert_nccl_collectives_release(moert_collectives_t *table) {
  if (!table)
    return;
  releaseGroup(static_cast<Group *>(table->context));
  std::memset(table, 0, sizeof *table);
}
