/* A call whose scratch buffers do not fit in memory ends with a status,
 * not a crash: examples/tiny-mixtral.mlir (d = 64, E = 8, k = 2) on 2^20
 * tokens, with the process's address space capped (RLIMIT_AS) at what it
 * uses plus its input and output and 128 MiB, fails with
 * MOERT_RESOURCE_EXHAUSTED naming the buffer; the same session then runs
 * 16 tokens correctly once the cap is lifted, and again under it. Prints
 * one line per check. */
#define _GNU_SOURCE
#include "report.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define D 64
#define BIG (1 << 20)
#define SMALL 16

/* The process's address space now, in bytes (/proc/self/statm). */
static unsigned long long address_space(void) {
  unsigned long long pages = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f || fscanf(f, "%llu", &pages) != 1)
    pages = 0;
  if (f)
    fclose(f);
  return pages * 4096ull;
}

static int run_small(moert_session_t *session, const char *what) {
  static float x[SMALL * D], y[SMALL * D];
  int64_t shape[2] = {SMALL, D};
  moert_tensor_t in = {MOERT_F32, 2, shape, x};
  moert_tensor_t out = {MOERT_F32, 2, shape, y};
  int i, finite = 1;
  for (i = 0; i < SMALL * D; ++i)
    x[i] = (float)((i * 7919) % 2003) / 1001.0f - 1.0f;
  memset(y, 0xff, sizeof y);
  if (report(what, moert_session_run(session, "tiny_mixtral", &in, 1, &out, 1)))
    return 1;
  for (i = 0; i < SMALL * D; ++i)
    finite &= isfinite(y[i]) != 0;
  printf("%s output finite: %s\n", what, finite ? "yes" : "no");
  return 0;
}

int main(int argc, char **argv) {
  moert_artifact_t *artifact = NULL;
  moert_session_t *session = NULL;
  size_t bytes = (size_t)BIG * D * sizeof(float);
  int64_t shape[2] = {BIG, D};
  struct rlimit old, capped;
  moert_tensor_t in, out;
  float *x, *y;

  if (argc != 2)
    return 2;
  if (report("load", moert_artifact_load(argv[1], &artifact)) ||
      report("session", moert_session_create(artifact, NULL, &session)) ||
      report("weights", moert_session_bind_recorded_weights(session)) ||
      run_small(session, "16 tokens"))
    return 1;
  x = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
           0);
  y = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
           0);
  if (x == MAP_FAILED || y == MAP_FAILED)
    return 1;
  in = (moert_tensor_t){MOERT_F32, 2, shape, x};
  out = (moert_tensor_t){MOERT_F32, 2, shape, y};
  if (getrlimit(RLIMIT_AS, &old) != 0)
    return 1;
  capped = old;
  capped.rlim_cur = address_space() + (128ull << 20);
  if (setrlimit(RLIMIT_AS, &capped) != 0)
    return 1;
  report("2^20 tokens, capped",
         moert_session_run(session, "tiny_mixtral", &in, 1, &out, 1));
  run_small(session, "16 tokens, capped");
  if (setrlimit(RLIMIT_AS, &old) != 0)
    return 1;
  run_small(session, "16 tokens, uncapped");
  moert_session_release(session);
  moert_artifact_release(artifact);
  munmap(x, bytes);
  munmap(y, bytes);
  return 0;
}
