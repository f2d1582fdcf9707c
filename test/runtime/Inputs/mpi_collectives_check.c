/* libmoert_mpi's collectives under mpirun (test/runtime/mpi-collectives.test),
 * and with a last argument "nccl" libmoert_nccl's (nccl-collectives.test):
 * MPI starts the ranks and rank 0 hands NCCL's id to the others over it.
 *
 *   moert-mpi-check exchange    all-to-all of int64 counts, all-to-all-v
 *                               of 4-, 12- and 256-byte rows with
 *                               pseudo-random counts, agreement on equal
 *                               values, refused arguments; rank 0 prints
 *                               what every rank found
 *   moert-mpi-check disagree    rank 1 passes another value to agree():
 *                               every rank prints the mismatch, exits 1
 *   moert-mpi-check timeout     the last rank never joins an all-to-all:
 *                               the others print the time-out (1 s), then
 *                               end the job with moert_mpi_abort(3)
 *
 * With NCCL the exchanges also run on buffers in device memory (the CUDA
 * driver's, opened as libmoert_nccl opens it), and each rank uses CUDA
 * device $OMPI_COMM_WORLD_LOCAL_RANK (0 without it).
 *
 * Unexpected results print "FAILED: ..." and end the job with status 2.
 * Each line is written at once, so that mpirun does not mix the ranks'
 * lines. */
#define _POSIX_C_SOURCE 200809L
#include <moert_nccl.h>

#include <dlfcn.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* `coll` is the engine under test; `mpi` gathers the ranks' findings. */
static moert_collectives_t coll, mpi;
static int nccl;

#ifdef MOERT_CHECK_ONE_PROCESS
/* Built without MPI (scripts/gpu-check.sh, for a GPU machine that may lack
 * it): one process, rank 0 of 1, whose `mpi` table hands it its own
 * blocks. Only "exchange nccl" and "disagree nccl" make sense here. */
static int selfAllToAll(void *context, const void *send, void *recv,
                        int64_t bytes, char *error, uint64_t errorSize) {
  (void)context;
  (void)error;
  (void)errorSize;
  if (bytes > 0)
    memcpy(recv, send, (size_t)bytes);
  return 0;
}
static int moert_mpi_init(int *argc, char ***argv, int32_t *rank, int32_t *size,
                          char *error, uint64_t errorSize) {
  (void)argc;
  (void)argv;
  (void)error;
  (void)errorSize;
  *rank = 0;
  *size = 1;
  return 0;
}
static int moert_mpi_collectives(double timeout, moert_collectives_t *out,
                                 char *error, uint64_t errorSize) {
  static int self;
  (void)error;
  (void)errorSize;
  memset(out, 0, sizeof(*out));
  if (!(timeout > 0))
    return 1;
  out->version = MOERT_COLLECTIVES_VERSION;
  out->size = 1;
  out->context = &self;
  out->all_to_all = selfAllToAll;
  return 0;
}
static void moert_mpi_collectives_release(moert_collectives_t *table) {
  memset(table, 0, sizeof(*table));
}
static void moert_mpi_abort(int code) {
  fflush(NULL);
  exit(code);
}
static int moert_mpi_finalize(void) { return 0; }
#else
#include <moert_mpi.h>
#endif
static int32_t me, ranks;
static char error[1024];

/* One line on stdout, in one write. */
static void say(const char *format, ...) {
  char line[2048];
  va_list args;
  va_start(args, format);
  vsnprintf(line, sizeof(line) - 1, format, args);
  va_end(args);
  strcat(line, "\n");
  fputs(line, stdout);
  fflush(stdout);
}

#define FAIL(...)                                                              \
  do {                                                                         \
    say("FAILED: rank " __VA_ARGS__);                                          \
    moert_mpi_abort(2);                                                        \
  } while (0)

static void *allocate(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p)
    FAIL("%d: out of memory", me);
  return p;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* The rows rank `src` sends rank `dst` in round `seed`: often none, up to
 * 40; rank 1 (where there is one besides rank 0) sends nothing at all. */
static int64_t rowsFor(uint64_t seed, int src, int dst) {
  uint64_t r;
  if (ranks >= 2 && src == 1)
    return 0;
  r = mix(seed * 1000003u + (uint64_t)src * 4099u + (uint64_t)dst);
  return r % 4 == 0 ? 0 : (int64_t)((r >> 8) % 41);
}

/* Byte `b` of row `row` that rank `src` sends rank `dst`. */
static unsigned char byteOf(uint64_t seed, int src, int dst, int64_t row,
                            int64_t b) {
  return (unsigned char)mix(seed ^ ((uint64_t)src << 48) ^
                            ((uint64_t)dst << 32) ^ ((uint64_t)row << 16) ^
                            (uint64_t)b);
}

/* Every rank's `value`, through the equal all-to-all. */
static void gather(int64_t value, int64_t *all) {
  int64_t *send = allocate(sizeof(int64_t) * (size_t)ranks);
  int i;
  for (i = 0; i < ranks; ++i)
    send[i] = value;
  if (mpi.all_to_all(mpi.context, send, all, sizeof(int64_t), error,
                     sizeof(error)))
    FAIL("%d: gathering: %s", me, error);
  free(send);
}

static int64_t sumOverRanks(int64_t value) {
  int64_t *all = allocate(sizeof(int64_t) * (size_t)ranks), sum = 0;
  int i;
  gather(value, all);
  for (i = 0; i < ranks; ++i)
    sum += all[i];
  free(all);
  return sum;
}

/* Block d of rank s is s * 1000 + d. */
static void checkAllToAll(void) {
  int64_t *send = allocate(sizeof(int64_t) * (size_t)ranks);
  int64_t *recv = allocate(sizeof(int64_t) * (size_t)ranks);
  int64_t wrong = 0;
  int i;
  for (i = 0; i < ranks; ++i)
    send[i] = me * 1000 + i;
  if (coll.all_to_all(coll.context, send, recv, sizeof(int64_t), error,
                      sizeof(error)))
    FAIL("%d: all_to_all: %s", me, error);
  for (i = 0; i < ranks; ++i)
    wrong += recv[i] != i * 1000 + me;
  if (coll.all_to_all(coll.context, NULL, NULL, 0, error, sizeof(error)))
    FAIL("%d: all_to_all of empty blocks: %s", me, error);
  wrong = sumOverRanks(wrong);
  if (me == 0)
    say("all_to_all of int64 blocks: %lld wrong", (long long)wrong);
  free(send);
  free(recv);
}

struct exchange {
  int64_t *sendCounts, *recvCounts;
  unsigned char *send, *recv;
  int64_t sendRows, recvRows;
};

/* The send side of round `seed`, and the receive counts from the other
 * ranks' send counts, exchanged as the runtime does; returns the receive
 * counts that differ from what the senders must have. */
static int64_t prepare(struct exchange *x, uint64_t seed, int64_t rowBytes) {
  int64_t row, b, wrong = 0;
  int d, s;
  unsigned char *p;
  x->sendCounts = allocate(sizeof(int64_t) * (size_t)ranks);
  x->recvCounts = allocate(sizeof(int64_t) * (size_t)ranks);
  x->sendRows = x->recvRows = 0;
  for (d = 0; d < ranks; ++d)
    x->sendRows += x->sendCounts[d] = rowsFor(seed, me, d);
  if (coll.all_to_all(coll.context, x->sendCounts, x->recvCounts,
                      sizeof(int64_t), error, sizeof(error)))
    FAIL("%d: exchanging counts: %s", me, error);
  for (s = 0; s < ranks; ++s) {
    wrong += x->recvCounts[s] != rowsFor(seed, s, me);
    x->recvRows += x->recvCounts[s];
  }
  x->send = allocate((size_t)(x->sendRows * rowBytes));
  x->recv = allocate((size_t)(x->recvRows * rowBytes));
  memset(x->recv, 0xee, (size_t)(x->recvRows * rowBytes));
  p = x->send;
  for (d = 0; d < ranks; ++d)
    for (row = 0; row < x->sendCounts[d]; ++row)
      for (b = 0; b < rowBytes; ++b)
        *p++ = byteOf(seed, me, d, row, b);
  return wrong;
}

/* The received bytes that differ from what their sender must have sent. */
static int64_t wrongBytes(const struct exchange *x, uint64_t seed,
                          int64_t rowBytes) {
  const unsigned char *p = x->recv;
  int64_t row, b, wrong = 0;
  int s;
  for (s = 0; s < ranks; ++s)
    for (row = 0; row < x->recvCounts[s]; ++row)
      for (b = 0; b < rowBytes; ++b)
        wrong += *p++ != byteOf(seed, s, me, row, b);
  return wrong;
}

static void release(struct exchange *x) {
  free(x->sendCounts);
  free(x->recvCounts);
  free(x->send);
  free(x->recv);
}

/* Three rounds of all_to_all_v with `rowBytes`-byte rows. */
static void checkAllToAllV(int64_t rowBytes) {
  int64_t rows = 0, wrongCounts = 0, wrong = 0;
  uint64_t seed;
  for (seed = 1; seed <= 3; ++seed) {
    struct exchange x;
    wrongCounts += prepare(&x, seed * 7919u + (uint64_t)rowBytes, rowBytes);
    if (coll.all_to_all_v(coll.context, x.send, x.sendCounts, x.recv,
                          x.recvCounts, rowBytes, error, sizeof(error)))
      FAIL("%d: all_to_all_v: %s", me, error);
    wrong += wrongBytes(&x, seed * 7919u + (uint64_t)rowBytes, rowBytes);
    rows += x.recvRows;
    release(&x);
  }
  rows = sumOverRanks(rows);
  wrongCounts = sumOverRanks(wrongCounts);
  wrong = sumOverRanks(wrong);
  if (me == 0)
    say("all_to_all_v of %lld-byte rows: %lld rows, %lld wrong counts, %lld "
        "wrong bytes",
        (long long)rowBytes, (long long)rows, (long long)wrongCounts,
        (long long)wrong);
}

/* The CUDA driver's calls for buffers in device memory, by their driver
 * names. */
typedef int (*CuRetain)(void **, int);
typedef int (*CuPush)(void *);
typedef int (*CuPop)(void **);
typedef int (*CuAlloc)(unsigned long long *, size_t);
typedef int (*CuFree)(unsigned long long);
typedef int (*CuToDevice)(unsigned long long, const void *, size_t);
typedef int (*CuToHost)(void *, unsigned long long, size_t);

static int localRank(void) {
  const char *v = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
  return v && *v ? atoi(v) : 0;
}

/* One round of all_to_all_v of 24-byte rows whose buffers are device
 * memory, filled from and read back to host memory. */
static void checkDeviceBuffers(void) {
  const char *path = getenv("MOERT_CUDA_DRIVER");
  void *driver = dlopen(path && *path ? path : "libcuda.so.1", RTLD_NOW);
  void *context = NULL, *popped = NULL;
  unsigned long long sendDev = 0, recvDev = 0;
  int64_t wrongCounts, wrong, rows;
  const int64_t rowBytes = 24;
  const uint64_t seed = 424242u;
  struct exchange x;
  CuRetain retain;
  CuPush push;
  CuPop pop;
  CuAlloc alloc;
  CuFree memFree;
  CuToDevice toDevice;
  CuToHost toHost;
  if (!driver)
    FAIL("%d: cannot open the CUDA driver: %s", me, dlerror());
  /* POSIX's way from a symbol to a function pointer. */
  *(void **)&retain = dlsym(driver, "cuDevicePrimaryCtxRetain");
  *(void **)&push = dlsym(driver, "cuCtxPushCurrent_v2");
  *(void **)&pop = dlsym(driver, "cuCtxPopCurrent_v2");
  *(void **)&alloc = dlsym(driver, "cuMemAlloc_v2");
  *(void **)&memFree = dlsym(driver, "cuMemFree_v2");
  *(void **)&toDevice = dlsym(driver, "cuMemcpyHtoD_v2");
  *(void **)&toHost = dlsym(driver, "cuMemcpyDtoH_v2");
  if (!retain || !push || !pop || !alloc || !memFree || !toDevice || !toHost)
    FAIL("%d: the CUDA driver lacks a call the check makes", me);
  if (retain(&context, localRank()) || push(context))
    FAIL("%d: cannot use CUDA device %d", me, localRank());
  wrongCounts = prepare(&x, seed, rowBytes);
  if (alloc(&sendDev, (size_t)(x.sendRows * rowBytes) + 1) ||
      alloc(&recvDev, (size_t)(x.recvRows * rowBytes) + 1) ||
      toDevice(sendDev, x.send, (size_t)(x.sendRows * rowBytes)))
    FAIL("%d: cannot fill device memory", me);
  pop(&popped);
  if (coll.all_to_all_v(coll.context, (void *)(uintptr_t)sendDev, x.sendCounts,
                        (void *)(uintptr_t)recvDev, x.recvCounts, rowBytes,
                        error, sizeof(error)))
    FAIL("%d: all_to_all_v of device buffers: %s", me, error);
  if (push(context) || toHost(x.recv, recvDev, (size_t)(x.recvRows * rowBytes)))
    FAIL("%d: cannot read device memory", me);
  memFree(sendDev);
  memFree(recvDev);
  pop(&popped);
  wrong = wrongBytes(&x, seed, rowBytes);
  rows = sumOverRanks(x.recvRows);
  wrongCounts = sumOverRanks(wrongCounts);
  wrong = sumOverRanks(wrong);
  release(&x);
  if (me == 0)
    say("all_to_all_v of %lld-byte rows in device memory: %lld rows, %lld "
        "wrong counts, %lld wrong bytes",
        (long long)rowBytes, (long long)rows, (long long)wrongCounts,
        (long long)wrong);
}

/* Refused arguments: every rank passes the same, so that none waits for
 * the others. Rank 0 prints its message; every rank checks that its own
 * names it, and that `recv` was zeroed where its size is known. */
static void checkRefused(const char *what, int64_t badSend, int64_t badRecv,
                         int64_t rowBytes, int zeroed, const char *expect) {
  int64_t *sendCounts = allocate(sizeof(int64_t) * (size_t)ranks);
  int64_t *recvCounts = allocate(sizeof(int64_t) * (size_t)ranks);
  unsigned char send[16], recv[16], zero[16];
  int64_t wrong = 0;
  int i;
  char prefix[64];
  for (i = 0; i < ranks; ++i)
    sendCounts[i] = recvCounts[i] = i == 0 ? 1 : 0;
  sendCounts[ranks - 1] = badSend ? badSend : sendCounts[ranks - 1];
  recvCounts[0] = badRecv ? badRecv : recvCounts[0];
  memset(send, 1, sizeof(send));
  memset(recv, 0xee, sizeof(recv));
  memset(zero, 0, sizeof(zero));
  if (!coll.all_to_all_v(coll.context, send, sendCounts, recv, recvCounts,
                         rowBytes, error, sizeof(error)))
    FAIL("%d: %s: not refused", me, what);
  snprintf(prefix, sizeof(prefix), "rank %d of %d: ", me, ranks);
  wrong += strncmp(error, prefix, strlen(prefix)) != 0;
  wrong += strstr(error, expect) == NULL;
  if (zeroed)
    wrong += memcmp(recv, zero, 8) != 0;
  else
    wrong += recv[0] != 0xee;
  if (me == 0)
    say("%s: %s", what, error);
  wrong = sumOverRanks(wrong);
  if (me == 0)
    say("%s: %lld ranks with another message or output", what,
        (long long)wrong);
  free(sendCounts);
  free(recvCounts);
}

static int exchangeMode(void) {
  moert_collectives_t none;
  checkAllToAll();
  checkAllToAllV(4);
  checkAllToAllV(12);
  checkAllToAllV(256);
  if (nccl)
    checkDeviceBuffers();
  if (coll.agree(coll.context, 0x5eed0000u + 42u, "the test value", error,
                 sizeof(error)))
    FAIL("%d: agree on equal values: %s", me, error);
  if (me == 0)
    say("agree on equal values: ok");
  /* Only rank 0's count is wrong, so `recv` (one 8-byte row from rank 0)
   * has a known size. */
  checkRefused("a negative send count", -3, 0, 8, 1, "a row count cannot");
  checkRefused("a negative receive count", 0, -1, 8, 0, "recv_counts[0] is -1");
  if (nccl)
    checkRefused("a count beyond a size", 4611686018427387904ll, 0, 8, 1,
                 "is 4611686018427387904 rows: the rows' bytes overflow a "
                 "size");
  else
    checkRefused("a count beyond int", 3000000000ll, 0, 8, 1,
                 "is 3000000000 rows: more than MPI's int counts hold");
  checkRefused("a row of no bytes", 0, 0, 0, 0, "rows have 0 bytes");
  /* The refusals left the group usable. */
  if (coll.agree(coll.context, 7, "the test value", error, sizeof(error)))
    FAIL("%d: agree after refusals: %s", me, error);
  if (me == 0)
    say("after the refusals: the group works");
  if (nccl) {
    moert_nccl_id_t id;
    memset(&id, 0, sizeof(id));
    if (!moert_nccl_collectives(&id, me, ranks, localRank(), 0, &none, error,
                                sizeof(error)) ||
        none.context)
      FAIL("%d: a zero time-out was taken", me);
  } else if (!moert_mpi_collectives(0, &none, error, sizeof(error)) ||
             none.context)
    FAIL("%d: a zero time-out was taken", me);
  if (me == 0)
    say("a zero time-out: %s", error);
  return 0;
}

static int disagreeMode(void) {
  uint64_t value = me == 1 ? 0xbadull : 0x600dull;
  if (!coll.agree(coll.context, value, "the expert placement", error,
                  sizeof(error)))
    FAIL("%d: the disagreement was not noticed", me);
  say("%s", error);
  return 1;
}

static int timeoutMode(double timeout) {
  unsigned char send[64], recv[64], zero[64];
  int64_t *counts = allocate(sizeof(int64_t) * (size_t)ranks);
  double start, waited;
  int i, zeroed, refused;
  if (ranks < 2)
    FAIL("%d: the time-out check needs 2 ranks", me);
  if (me == ranks - 1) {
    /* Never joins: the others give up, then end the job, this rank too. */
    struct timespec pause = {(time_t)(timeout * 5), 0};
    nanosleep(&pause, NULL);
    return 0;
  }
  /* A row for every rank and from every rank, the last one included: an
   * all-to-all may complete without the ranks it exchanges nothing with. */
  for (i = 0; i < ranks; ++i)
    counts[i] = 1;
  if (ranks * 8 > (int)sizeof(send))
    FAIL("%d: the time-out check runs on up to 8 ranks", me);
  memset(send, 1, sizeof(send));
  memset(recv, 0xee, sizeof(recv));
  memset(zero, 0, sizeof(zero));
  start = now();
  if (!coll.all_to_all_v(coll.context, send, counts, recv, counts, 8, error,
                         sizeof(error)))
    FAIL("%d: the all-to-all completed without the last rank", me);
  waited = now() - start;
  say("%s", error);
  zeroed = memcmp(recv, zero, (size_t)ranks * 8) == 0;
  refused = coll.agree(coll.context, 1, "anything", error, sizeof(error)) &&
            strstr(error, "cannot be used again") != NULL;
  /* NCCL's group was aborted; MPI's own did not time out, and
   * moert_mpi_finalize() would finalize it. */
  say("rank %d: gave up after the time-out, within 2 s more: %s; output "
      "zeroed: %s; later calls refused: %s; finalize refused: %s",
      me, waited >= timeout && waited < timeout + 2 ? "yes" : "no",
      zeroed ? "yes" : "no", refused ? "yes" : "no",
      nccl                        ? "n/a"
      : moert_mpi_finalize() != 0 ? "yes"
                                  : "no");
  /* Lets the other ranks that time out print before the job ends. */
  {
    struct timespec pause = {1, 0};
    nanosleep(&pause, NULL);
  }
  moert_mpi_abort(3);
  return 3;
}

/* NCCL's collectives in `coll`: rank 0 makes the id, the equal all-to-all
 * of MPI's table hands it to every rank. */
static void startNccl(double timeout) {
  moert_nccl_id_t id;
  char *send = allocate((size_t)ranks * MOERT_NCCL_ID_BYTES);
  char *recv = allocate((size_t)ranks * MOERT_NCCL_ID_BYTES);
  int32_t version = 0;
  int i;
  memset(&id, 0, sizeof(id));
  if (me == 0 && moert_nccl_unique_id(&id, error, sizeof(error)))
    FAIL("%d: moert_nccl_unique_id: %s", me, error);
  for (i = 0; i < ranks; ++i)
    memcpy(send + (size_t)i * MOERT_NCCL_ID_BYTES, id.bytes,
           MOERT_NCCL_ID_BYTES);
  if (mpi.all_to_all(mpi.context, send, recv, MOERT_NCCL_ID_BYTES, error,
                     sizeof(error)))
    FAIL("%d: handing out the NCCL id: %s", me, error);
  memcpy(id.bytes, recv, MOERT_NCCL_ID_BYTES);
  free(send);
  free(recv);
  if (moert_nccl_version(&version, error, sizeof(error)))
    FAIL("%d: moert_nccl_version: %s", me, error);
  if (moert_nccl_collectives(&id, me, ranks, localRank(), timeout, &coll, error,
                             sizeof(error)))
    FAIL("%d: moert_nccl_collectives: %s", me, error);
  if (me == 0)
    say("NCCL %d, CUDA device %d", (int)version, localRank());
}

int main(int argc, char **argv) {
  const char *mode = argc >= 2 ? argv[1] : "";
  double timeout = strcmp(mode, "timeout") == 0 ? 1.0 : 10.0;
  int status = 2;
  if (moert_mpi_init(&argc, &argv, &me, &ranks, error, sizeof(error))) {
    say("FAILED: moert_mpi_init: %s", error);
    return 2;
  }
  nccl = argc >= 3 && strcmp(argv[2], "nccl") == 0;
  if (moert_mpi_collectives(timeout, &mpi, error, sizeof(error)))
    FAIL("%d: moert_mpi_collectives: %s", me, error);
  coll = mpi;
  if (nccl)
    startNccl(timeout);
  if (coll.version != MOERT_COLLECTIVES_VERSION || coll.rank != me ||
      coll.size != ranks)
    FAIL("%d: the table says version %d, rank %d of %d", me, coll.version,
         coll.rank, coll.size);
  if (me == 0)
    say("moert-mpi-check %s: %d ranks", mode, ranks);
  if (strcmp(mode, "exchange") == 0)
    status = exchangeMode();
  else if (strcmp(mode, "disagree") == 0)
    status = disagreeMode();
  else if (strcmp(mode, "timeout") == 0)
    status = timeoutMode(timeout);
  else
    FAIL("%d: usage: moert-mpi-check exchange|disagree|timeout [nccl]", me);
  if (nccl)
    moert_nccl_collectives_release(&coll);
  moert_mpi_collectives_release(&mpi);
  if (!nccl)
    coll = mpi;
  if (coll.context || coll.all_to_all || mpi.context || mpi.all_to_all)
    FAIL("%d: the released table is not zeroed", me);
  if (moert_mpi_finalize())
    FAIL("%d: moert_mpi_finalize failed", me);
  return status;
}
