/* A stand-in for NCCL (libnccl.so.2) for libmoert_nccl's tests on machines
 * without a GPU: the entry points libmoert_nccl calls, by their NCCL
 * names, over MPI between the processes mpirun started (MPI_COMM_WORLD is
 * the communicator's ranks; MPI is initialized here unless the program
 * did, as a singleton without mpirun). Device memory is
 * that of the stand-in CUDA driver (fake_cuda.c), whose allocations are
 * host memory at the addresses it reports. Communicators are non-blocking
 * as NCCL's are when asked to be: a group's sends and receives are posted
 * as MPI requests when the group ends, ncclGroupEnd says ncclInProgress,
 * and ncclCommGetAsyncError says ncclInProgress until they complete.
 * Set up by the environment:
 *   FAKE_NCCL_VERSION     the version ncclGetVersion reports (default 23007)
 *   FAKE_NCCL_LOG         a file each group is appended to: the rank, and
 *                         each send and receive's peer and bytes
 * Every call checks its communicator and arguments as NCCL documents. */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
  ncclSuccess = 0,
  ncclInternalError = 3,
  ncclInvalidArgument = 4,
  ncclInvalidUsage = 5,
  ncclInProgress = 7,
} ncclResult_t;

typedef struct {
  char internal[128];
} ncclUniqueId;

typedef struct {
  size_t size;
  unsigned magic, version;
  int blocking;
} ncclConfigHead;

enum { MAX_OPS = 4096 };
struct op {
  int send, peer;
  void *buffer;
  size_t bytes;
};

typedef struct ncclComm {
  MPI_Comm comm;
  int rank, size, blocking;
  MPI_Request requests[MAX_OPS];
  int pending;
  char lastError[256];
} * ncclComm_t;

static struct op ops[MAX_OPS];
static int opCount, groupDepth;
static ncclComm_t groupComm;

static long env(const char *name, long fallback) {
  const char *v = getenv(name);
  return v && *v ? atol(v) : fallback;
}

static size_t typeBytes(int type) {
  switch (type) {
  case 0:
  case 1:
    return 1; /* int8, uint8 */
  case 2:
  case 3:
  case 7:
    return 4; /* int32, uint32, float32 */
  case 4:
  case 5:
  case 8:
    return 8; /* int64, uint64, float64 */
  default:
    return 0;
  }
}

static ncclResult_t usage(ncclComm_t comm, const char *text) {
  if (comm)
    snprintf(comm->lastError, sizeof comm->lastError, "%s", text);
  return ncclInvalidUsage;
}

ncclResult_t ncclGetVersion(int *version) {
  if (!version)
    return ncclInvalidArgument;
  *version = (int)env("FAKE_NCCL_VERSION", 23007);
  return ncclSuccess;
}

ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
  if (!id)
    return ncclInvalidArgument;
  memset(id, 0, sizeof *id);
  snprintf(id->internal, sizeof id->internal, "fake-nccl-id");
  return ncclSuccess;
}

ncclResult_t ncclCommInitRankConfig(ncclComm_t *out, int nranks,
                                    ncclUniqueId id, int rank,
                                    ncclConfigHead *config) {
  int initialized = 0, worldRank = 0, worldSize = 0;
  if (!out || !config || config->magic != 0xcafebeef ||
      config->version < 21400 || config->size < sizeof(ncclConfigHead))
    return ncclInvalidArgument;
  if (strcmp(id.internal, "fake-nccl-id") != 0)
    return ncclInvalidArgument;
  /* A program without MPI of its own runs as MPI's singleton. */
  MPI_Initialized(&initialized);
  if (!initialized && MPI_Init(NULL, NULL) != MPI_SUCCESS)
    return ncclInternalError;
  MPI_Comm_rank(MPI_COMM_WORLD, &worldRank);
  MPI_Comm_size(MPI_COMM_WORLD, &worldSize);
  if (nranks != worldSize || rank != worldRank)
    return ncclInvalidArgument;
  ncclComm_t comm = calloc(1, sizeof *comm);
  if (!comm)
    return ncclInternalError;
  MPI_Comm_dup(MPI_COMM_WORLD, &comm->comm);
  comm->rank = rank;
  comm->size = nranks;
  comm->blocking = config->blocking != 0;
  *out = comm;
  return comm->blocking ? ncclSuccess : ncclInProgress;
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *state) {
  if (!comm || !state)
    return ncclInvalidArgument;
  int done = 1;
  if (comm->pending)
    MPI_Testall(comm->pending, comm->requests, &done, MPI_STATUSES_IGNORE);
  if (done)
    comm->pending = 0;
  *state = done ? ncclSuccess : ncclInProgress;
  return ncclSuccess;
}

static void freeComm(ncclComm_t comm, int abandon) {
  /* Requests a peer never matched stay with MPI (a real abort tears the
   * connections down; the process ends after one anyway). */
  if (!abandon && !comm->pending)
    MPI_Comm_free(&comm->comm);
  free(comm);
}
ncclResult_t ncclCommAbort(ncclComm_t comm) {
  if (comm)
    freeComm(comm, 1);
  return ncclSuccess;
}
ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  if (!comm)
    return ncclInvalidArgument;
  freeComm(comm, comm->pending != 0);
  return ncclSuccess;
}

ncclResult_t ncclGroupStart(void) {
  ++groupDepth;
  return ncclSuccess;
}

static ncclResult_t post(ncclComm_t comm) {
  FILE *log = NULL;
  const char *path = getenv("FAKE_NCCL_LOG");
  if (path && *path)
    log = fopen(path, "a");
  if (log)
    fprintf(log, "rank %d group:", comm->rank);
  for (int i = 0; i < opCount; ++i) {
    struct op *o = &ops[i];
    if (log)
      fprintf(log, " %s %d %zu", o->send ? "send" : "recv", o->peer, o->bytes);
    if (o->bytes > (size_t)INT32_MAX)
      return usage(comm, "a message over 2 GiB");
    if (o->send)
      MPI_Isend(o->buffer, (int)o->bytes, MPI_BYTE, o->peer, 7, comm->comm,
                &comm->requests[comm->pending++]);
    else
      MPI_Irecv(o->buffer, (int)o->bytes, MPI_BYTE, o->peer, 7, comm->comm,
                &comm->requests[comm->pending++]);
  }
  if (log) {
    fprintf(log, "\n");
    fclose(log);
  }
  opCount = 0;
  groupComm = NULL;
  if (comm->blocking) {
    MPI_Waitall(comm->pending, comm->requests, MPI_STATUSES_IGNORE);
    comm->pending = 0;
    return ncclSuccess;
  }
  return ncclInProgress;
}

ncclResult_t ncclGroupEnd(void) {
  if (groupDepth == 0)
    return ncclInvalidUsage;
  if (--groupDepth > 0 || !groupComm)
    return ncclSuccess;
  return post(groupComm);
}

static ncclResult_t queue(int send, void *buffer, size_t count, int type,
                          int peer, ncclComm_t comm, void *stream) {
  if (!comm || !stream)
    return ncclInvalidArgument;
  if (comm->pending)
    return usage(comm, "a call before the previous one completed");
  if (peer < 0 || peer >= comm->size || typeBytes(type) == 0 ||
      (count > 0 && !buffer))
    return usage(comm, "a bad peer, type or buffer");
  if (groupComm && groupComm != comm)
    return usage(comm, "one group on two communicators");
  if (opCount == MAX_OPS)
    return ncclInternalError;
  ops[opCount++] = (struct op){send, peer, buffer, count * typeBytes(type)};
  groupComm = comm;
  return groupDepth > 0 ? ncclSuccess : post(comm);
}

ncclResult_t ncclSend(const void *buffer, size_t count, int type, int peer,
                      ncclComm_t comm, void *stream) {
  return queue(1, (void *)buffer, count, type, peer, comm, stream);
}
ncclResult_t ncclRecv(void *buffer, size_t count, int type, int peer,
                      ncclComm_t comm, void *stream) {
  return queue(0, buffer, count, type, peer, comm, stream);
}

/* An all-gather as the group of sends and receives it amounts to. */
ncclResult_t ncclAllGather(const void *send, void *recv, size_t count, int type,
                           ncclComm_t comm, void *stream) {
  if (!comm || groupDepth > 0)
    return ncclInvalidUsage;
  size_t bytes = count * typeBytes(type);
  ncclGroupStart();
  for (int p = 0; p < comm->size; ++p) {
    ncclResult_t r = queue(1, (void *)send, count, type, p, comm, stream);
    if (r == ncclSuccess)
      r = queue(0, (char *)recv + p * bytes, count, type, p, comm, stream);
    if (r != ncclSuccess) {
      opCount = 0;
      groupDepth = 0;
      groupComm = NULL;
      return r;
    }
  }
  return ncclGroupEnd();
}

const char *ncclGetErrorString(ncclResult_t result) {
  switch (result) {
  case ncclSuccess:
    return "no error";
  case ncclInternalError:
    return "internal error - please report this issue to the NCCL developers";
  case ncclInvalidArgument:
    return "invalid argument (run with NCCL_DEBUG=WARN for details)";
  case ncclInvalidUsage:
    return "invalid usage (run with NCCL_DEBUG=WARN for details)";
  case ncclInProgress:
    return "NCCL operation in progress";
  default:
    return "unknown result code";
  }
}

const char *ncclGetLastError(ncclComm_t comm) {
  return comm ? comm->lastError : "";
}
