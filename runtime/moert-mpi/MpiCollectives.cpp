//===- MpiCollectives.cpp - expert-parallel collectives over MPI ----------===//
//
// Fills moert_collectives_t with MPI's nonblocking collectives. Each one is
// polled with MPI_Test until it completes or its deadline passes, so that a
// rank that died or is running different code makes the others fail with a
// message instead of hanging the job.
//
//===----------------------------------------------------------------------===//
#include "moert_mpi.h"

#include "runtime/support/CollectiveSupport.h"

#include <mpi.h>

#include <atomic>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

namespace {

using namespace moert::collectives;

// Whether moert_mpi_init() called MPI_Init_thread, and so owns
// MPI_Finalize.
bool initializedHere = false;

// Set once a collective timed out. MPI cannot cancel a pending collective,
// and MPI_Finalize would wait for it forever.
std::atomic<bool> operationLeftPending{false};

// A group: the duplicate of MPI_COMM_WORLD its collectives run on, and the
// memory its pending operations use. MPI reads the count and displacement
// arrays and writes the reduction's result until an operation completes,
// so they live here rather than on a caller's stack, where an operation
// that timed out would later write into whatever the stack then holds.
struct Group {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0;
  int size = 1;
  double timeoutSeconds = 0;
  // A collective timed out or failed: the communicator may still have an
  // operation pending and is not used again.
  bool broken = false;
  // A collective timed out: it is pending, and MPI may still read and
  // write the memory it was given.
  bool timedOut = false;
  std::vector<int> sendCounts, sendDispls, recvCounts, recvDispls;
  uint64_t agreeIn[2] = {0, 0};
  uint64_t agreeOut[2] = {0, 0};
};

//===--- Messages ---------------------------------------------------------===//

// MPI's text for an error code.
struct MpiText {
  char text[MPI_MAX_ERROR_STRING];
  explicit MpiText(int code) {
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS)
      std::snprintf(text, sizeof text, "MPI error %d", code);
  }
};

//===--- Waiting ----------------------------------------------------------===//

// Polls `request` until it completes (0) or fails or passes the group's
// time-out (non-zero, with a message naming `what`). Either failure leaves
// the group broken: a collective that failed on one rank may be pending on
// the others, and one that timed out is pending here.
int complete(Group &group, MPI_Request &request, const char *what, char *error,
             uint64_t errorSize) {
  for (Poll poll(group.timeoutSeconds);;) {
    int done = 0;
    int rc = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) {
      group.broken = true;
      failOn(group.rank, group.size, error, errorSize, "%s failed: %s", what,
             MpiText(rc).text);
      return 1;
    }
    if (done)
      return 0;
    if (poll.expiredElseWait()) {
      group.broken = true;
      group.timedOut = true;
      operationLeftPending = true;
      failOn(group.rank, group.size, error, errorSize,
             "%s did not complete within %g s: %s", what, group.timeoutSeconds,
             kNotTakingPart);
      return 1;
    }
  }
}

// Starts a collective (the MPI_I* call's return code `rc`) and waits for
// it.
int run(Group &group, int rc, MPI_Request &request, const char *what,
        char *error, uint64_t errorSize) {
  if (rc != MPI_SUCCESS) {
    group.broken = true;
    failOn(group.rank, group.size, error, errorSize, "%s failed to start: %s",
           what, MpiText(rc).text);
    return 1;
  }
  return complete(group, request, what, error, errorSize);
}

// The group behind a table's context, when it can still be used.
Group *usableGroup(void *context, char *error, uint64_t errorSize) {
  auto *group = static_cast<Group *>(context);
  if (!group) {
    fail(error, errorSize,
         "the collectives have no group (released, or never filled by "
         "moert_mpi_collectives)");
    return nullptr;
  }
  if (group->broken) {
    failOn(group->rank, group->size, error, errorSize,
           "an earlier collective of this group failed or timed out and may "
           "still be pending: the group cannot be used again (end the job "
           "with moert_mpi_abort)");
    return nullptr;
  }
  return group;
}

// MPI reads a buffer only for its non-zero counts, but some
// implementations check pointers first: an empty exchange gets a real
// address.
char emptyBuffer[1];

const void *orEmpty(const void *buffer) {
  return buffer ? buffer : emptyBuffer;
}
void *orEmpty(void *buffer) { return buffer ? buffer : emptyBuffer; }

//===--- all_to_all -------------------------------------------------------===//

int allToAll(void *context, const void *send, void *recv, int64_t bytes,
             char *error, uint64_t errorSize) {
  Group *group = usableGroup(context, error, errorSize);
  // The bytes `recv` holds, zeroed on failure, when they are known.
  auto zeroRecv = [&](int size) {
    if (recv && bytes > 0 && bytes <= INT64_MAX / size)
      std::memset(recv, 0, static_cast<size_t>(bytes * size));
    return 1;
  };
  if (!group) {
    auto *known = static_cast<Group *>(context);
    return known ? zeroRecv(known->size) : 1;
  }
  int rank = group->rank, size = group->size;
  if (bytes < 0) {
    failOn(rank, size, error, errorSize,
           "the all-to-all's blocks have %lld bytes: a size cannot be "
           "negative",
           static_cast<long long>(bytes));
    return 1;
  }
  if (bytes > INT_MAX) {
    failOn(rank, size, error, errorSize,
           "the all-to-all's blocks have %lld bytes: more than MPI's int "
           "counts hold (%d)",
           static_cast<long long>(bytes), INT_MAX);
    return zeroRecv(size);
  }
  if (bytes > 0 && (!send || !recv)) {
    failOn(rank, size, error, errorSize,
           "the all-to-all of %lld-byte blocks has no %s buffer",
           static_cast<long long>(bytes), send ? "receive" : "send");
    return zeroRecv(size);
  }
  char what[64];
  std::snprintf(what, sizeof what, "the all-to-all of %lld-byte blocks",
                static_cast<long long>(bytes));
  int count = static_cast<int>(bytes);
  MPI_Request request = MPI_REQUEST_NULL;
  int rc = MPI_Ialltoall(orEmpty(send), count, MPI_BYTE, orEmpty(recv), count,
                         MPI_BYTE, group->comm, &request);
  if (run(*group, rc, request, what, error, errorSize))
    return zeroRecv(size);
  return 0;
}

//===--- all_to_all_v -----------------------------------------------------===//

// The rows `counts` add up to, when every count is non-negative and the
// sum fits; the size of a buffer laid out by them.
bool totalRows(const int64_t *counts, int size, int64_t &total) {
  total = 0;
  if (!counts)
    return false;
  for (int i = 0; i < size; ++i) {
    if (counts[i] < 0 || counts[i] > INT64_MAX - total)
      return false;
    total += counts[i];
  }
  return true;
}

// MPI's int counts and displacements (in rows) for the int64 `counts`;
// fails, naming the count, when one is negative or does not fit.
int layOut(const Group &group, const int64_t *counts, const char *name,
           std::vector<int> &intCounts, std::vector<int> &intDispls,
           char *error, uint64_t errorSize) {
  if (!counts) {
    failOn(group.rank, group.size, error, errorSize, "%s is NULL", name);
    return 1;
  }
  int64_t displacement = 0;
  for (int i = 0; i < group.size; ++i) {
    int64_t count = counts[i];
    if (count < 0) {
      failOn(group.rank, group.size, error, errorSize,
             "%s[%d] is %lld: a row count cannot be negative", name, i,
             static_cast<long long>(count));
      return 1;
    }
    if (count > INT_MAX) {
      failOn(group.rank, group.size, error, errorSize,
             "%s[%d] is %lld rows: more than MPI's int counts hold (%d)", name,
             i, static_cast<long long>(count), INT_MAX);
      return 1;
    }
    if (displacement > INT_MAX) {
      failOn(group.rank, group.size, error, errorSize,
             "the rows before %s[%d] number %lld: more than MPI's int "
             "displacements hold (%d)",
             name, i, static_cast<long long>(displacement), INT_MAX);
      return 1;
    }
    intCounts[i] = static_cast<int>(count);
    intDispls[i] = static_cast<int>(displacement);
    displacement += count;
  }
  return 0;
}

// Checks the arguments and fills the group's int arrays.
int checkRows(Group &group, const void *send, const int64_t *sendCounts,
              void *recv, const int64_t *recvCounts, int64_t rowBytes,
              char *error, uint64_t errorSize) {
  int rank = group.rank, size = group.size;
  if (rowBytes <= 0 || rowBytes > INT_MAX) {
    failOn(rank, size, error, errorSize,
           "the all-to-all's rows have %lld bytes: a row has 1 to %d bytes",
           static_cast<long long>(rowBytes), INT_MAX);
    return 1;
  }
  if (layOut(group, sendCounts, "send_counts", group.sendCounts,
             group.sendDispls, error, errorSize) ||
      layOut(group, recvCounts, "recv_counts", group.recvCounts,
             group.recvDispls, error, errorSize))
    return 1;
  int64_t sendRows = 0, recvRows = 0;
  totalRows(sendCounts, size, sendRows);
  totalRows(recvCounts, size, recvRows);
  const char *missing = nullptr;
  int64_t rows = 0;
  if (sendRows > 0 && !send) {
    missing = "send";
    rows = sendRows;
  } else if (recvRows > 0 && !recv) {
    missing = "receive";
    rows = recvRows;
  }
  if (missing) {
    failOn(rank, size, error, errorSize,
           "the all-to-all has %lld rows to %s but no buffer for them",
           static_cast<long long>(rows), missing);
    return 1;
  }
  return 0;
}

int allToAllV(void *context, const void *send, const int64_t *sendCounts,
              void *recv, const int64_t *recvCounts, int64_t rowBytes,
              char *error, uint64_t errorSize) {
  auto *known = static_cast<Group *>(context);
  // `recv` as far as the counts and row size say, zeroed on failure.
  auto zeroRecv = [&]() {
    int64_t rows = 0;
    if (known && recv && rowBytes > 0 &&
        totalRows(recvCounts, known->size, rows) &&
        rows <= INT64_MAX / rowBytes)
      std::memset(recv, 0, static_cast<size_t>(rows * rowBytes));
    return 1;
  };
  Group *group = usableGroup(context, error, errorSize);
  if (!group || checkRows(*group, send, sendCounts, recv, recvCounts, rowBytes,
                          error, errorSize))
    return zeroRecv();

  // One datatype of a whole row, so that the int counts and displacements
  // count rows rather than bytes. Freeing it at once is allowed: MPI keeps
  // it until the operation using it completes.
  MPI_Datatype row = MPI_DATATYPE_NULL;
  int rc = MPI_Type_contiguous(static_cast<int>(rowBytes), MPI_BYTE, &row);
  if (rc == MPI_SUCCESS)
    rc = MPI_Type_commit(&row);
  if (rc != MPI_SUCCESS) {
    failOn(group->rank, group->size, error, errorSize,
           "cannot make the datatype of a %lld-byte row: %s",
           static_cast<long long>(rowBytes), MpiText(rc).text);
    if (row != MPI_DATATYPE_NULL)
      MPI_Type_free(&row);
    return zeroRecv();
  }
  MPI_Request request = MPI_REQUEST_NULL;
  rc = MPI_Ialltoallv(orEmpty(send), group->sendCounts.data(),
                      group->sendDispls.data(), row, orEmpty(recv),
                      group->recvCounts.data(), group->recvDispls.data(), row,
                      group->comm, &request);
  MPI_Type_free(&row);
  if (run(*group, rc, request, "the all-to-all of expert rows", error,
          errorSize))
    return zeroRecv();
  return 0;
}

//===--- agree ------------------------------------------------------------===//

// One reduction gives both extremes: the minimum of ~v is ~max(v).
int agree(void *context, uint64_t value, const char *what, char *error,
          uint64_t errorSize) {
  Group *group = usableGroup(context, error, errorSize);
  if (!group)
    return 1;
  if (!what)
    what = "a value";
  char operation[256];
  std::snprintf(operation, sizeof operation, "the agreement on %s", what);
  group->agreeIn[0] = value;
  group->agreeIn[1] = ~value;
  MPI_Request request = MPI_REQUEST_NULL;
  int rc = MPI_Iallreduce(group->agreeIn, group->agreeOut, 2, MPI_UINT64_T,
                          MPI_MIN, group->comm, &request);
  if (run(*group, rc, request, operation, error, errorSize))
    return 1;
  uint64_t lowest = group->agreeOut[0], highest = ~group->agreeOut[1];
  if (lowest == highest)
    return 0;
  uint64_t other = value == lowest ? highest : lowest;
  failOn(group->rank, group->size, error, errorSize,
         "the ranks disagree on %s: this rank has 0x%016llx, another has "
         "0x%016llx",
         what, static_cast<unsigned long long>(value),
         static_cast<unsigned long long>(other));
  return 1;
}

//===--- The group --------------------------------------------------------===//

// 0 when MPI can be used (initialized, not finalized).
int checkMpiUsable(char *error, uint64_t errorSize) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (finalized) {
    fail(error, errorSize, "MPI has been finalized");
    return 1;
  }
  if (!initialized) {
    fail(error, errorSize,
         "MPI is not initialized (call moert_mpi_init first)");
    return 1;
  }
  return 0;
}

Group *newGroup(double timeoutSeconds) {
  auto *group = new (std::nothrow) Group;
  if (!group)
    return nullptr;
  MPI_Comm_rank(MPI_COMM_WORLD, &group->rank);
  MPI_Comm_size(MPI_COMM_WORLD, &group->size);
  group->timeoutSeconds = timeoutSeconds;
  try {
    size_t n = static_cast<size_t>(group->size);
    group->sendCounts.resize(n);
    group->sendDispls.resize(n);
    group->recvCounts.resize(n);
    group->recvDispls.resize(n);
  } catch (const std::bad_alloc &) {
    delete group;
    return nullptr;
  }
  return group;
}

// Duplicates MPI_COMM_WORLD into the group, nonblocking like every other
// collective: a rank that never gets here must not hang the others.
int duplicateWorld(Group &group, char *error, uint64_t errorSize) {
  MPI_Request request = MPI_REQUEST_NULL;
  int rc = MPI_Comm_idup(MPI_COMM_WORLD, &group.comm, &request);
  if (run(group, rc, request, "duplicating MPI_COMM_WORLD", error, errorSize))
    return 1;
  rc = MPI_Comm_set_errhandler(group.comm, MPI_ERRORS_RETURN);
  if (rc != MPI_SUCCESS) {
    failOn(group.rank, group.size, error, errorSize,
           "cannot make MPI errors return codes: %s", MpiText(rc).text);
    MPI_Comm_free(&group.comm);
    return 1;
  }
  return 0;
}

} // namespace

extern "C" {

int moert_mpi_init(int *argc, char ***argv, int32_t *out_rank,
                   int32_t *out_size, char *error, uint64_t error_size) {
  if (out_rank)
    *out_rank = 0;
  if (out_size)
    *out_size = 0;
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (finalized) {
    fail(error, error_size,
         "MPI has been finalized: it cannot be initialized again");
    return 1;
  }
  int provided = MPI_THREAD_SERIALIZED;
  if (!initialized) {
    int rc = MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS) {
      fail(error, error_size, "MPI_Init_thread failed: %s", MpiText(rc).text);
      return 1;
    }
    initializedHere = true;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (provided < MPI_THREAD_SERIALIZED) {
    failOn(rank, size, error, error_size,
           "MPI provides thread support level %d, below "
           "MPI_THREAD_SERIALIZED (%d) which the runtime needs",
           provided, MPI_THREAD_SERIALIZED);
    return 1;
  }
  if (out_rank)
    *out_rank = rank;
  if (out_size)
    *out_size = size;
  return 0;
}

int moert_mpi_collectives(double timeout_seconds, moert_collectives_t *out,
                          char *error, uint64_t error_size) {
  if (!out) {
    fail(error, error_size, "moert_mpi_collectives: out is NULL");
    return 1;
  }
  std::memset(out, 0, sizeof *out);
  if (!(timeout_seconds > 0) || !std::isfinite(timeout_seconds)) {
    fail(error, error_size,
         "the time-out is %g s: it must be a positive number of seconds",
         timeout_seconds);
    return 1;
  }
  if (checkMpiUsable(error, error_size))
    return 1;
  Group *group = newGroup(timeout_seconds);
  if (!group) {
    fail(error, error_size, "out of memory for the collectives' group");
    return 1;
  }
  if (duplicateWorld(*group, error, error_size)) {
    // A duplication still pending writes into the group when it completes.
    if (!group->timedOut)
      delete group;
    return 1;
  }
  out->version = MOERT_COLLECTIVES_VERSION;
  out->rank = group->rank;
  out->size = group->size;
  out->context = group;
  out->all_to_all = allToAll;
  out->all_to_all_v = allToAllV;
  out->agree = agree;
  return 0;
}

void moert_mpi_collectives_release(moert_collectives_t *table) {
  if (!table)
    return;
  auto *group = static_cast<Group *>(table->context);
  std::memset(table, 0, sizeof *table);
  // A broken group's operation may still complete into its memory: it is
  // left to the process's end.
  if (!group || group->broken)
    return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && group->comm != MPI_COMM_NULL)
    MPI_Comm_free(&group->comm);
  delete group;
}

void moert_mpi_abort(int code) {
  std::fflush(nullptr);
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized)
    MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

int moert_mpi_finalize(void) {
  if (!initializedHere)
    return 0;
  if (operationLeftPending)
    return 1;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized)
    return 0;
  initializedHere = false;
  return MPI_Finalize() == MPI_SUCCESS ? 0 : 1;
}

} // extern "C"
