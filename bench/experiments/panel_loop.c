/* The panel kernel's inner loop in isolation (AVX-512): the ceiling the
 * generated GEMM could reach on a machine, without the rest of a layer.
 *
 * A block of 6 rows times one 64-column panel keeps 24 accumulators; each
 * k step loads the panel's 4 weight vectors and broadcasts one element of
 * each row, as the loop convert-moe-to-cpu-kernels generates does
 * (codegen/cpu/PanelKernel.cpp). A chunk of DEPTH k of the panel
 * (DEPTH * 256 bytes) is multiplied by BLOCKS row blocks in turn, then the
 * next chunk:
 *
 *   panel_loop DEPTH BLOCKS CHUNKS FRESH PREFETCH [shuffle] [slices]
 *              [row-bytes=N]
 *
 * FRESH 0 reuses one chunk (it stays in cache), 1 reads a new chunk from
 * memory each time, as the layer's weights are; PREFETCH N (with FRESH 1)
 * has the first N blocks prefetch the next chunk, one line per k step, as
 * the generated kernel does. `shuffle` takes the blocks' rows in a random
 * order (as gathered tokens are), `slices` reads the 4 weight vectors from
 * 4 copies 28 MiB apart (as moe-pack-weights' slices are), `row-bytes=N`
 * puts rows N bytes apart (default: the chunk's k plus one line). Prints
 * the best GFLOP/s of three runs; run it under `taskset -c 0`, and on both
 * cores at once to see what a second busy core costs. Build:
 * cc -O3 -mavx512f -mfma panel_loop.c -o panel_loop (docs/performance.md).
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* One block: rows r[i][k], i < 6, times the chunk's weight vectors j at
 * w + j * slice + k * step; with `prefetch`, one line of the next chunk
 * per k step. */
__attribute__((noinline)) static void block(const float *w, long slice,
                                            long step, const float *const *r,
                                            long depth, float *acc,
                                            const char *prefetch) {
  __m512 c[6][4];
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 4; ++j)
      c[i][j] = _mm512_loadu_ps(acc + (i * 4 + j) * 16);
  for (long k = 0; k < depth; ++k) {
    const float *wk = w + k * step;
    __m512 w0 = _mm512_load_ps(wk), w1 = _mm512_load_ps(wk + slice),
           w2 = _mm512_load_ps(wk + 2 * slice),
           w3 = _mm512_load_ps(wk + 3 * slice);
    for (int i = 0; i < 6; ++i) {
      __m512 b = _mm512_set1_ps(r[i][k]);
      c[i][0] = _mm512_fmadd_ps(w0, b, c[i][0]);
      c[i][1] = _mm512_fmadd_ps(w1, b, c[i][1]);
      c[i][2] = _mm512_fmadd_ps(w2, b, c[i][2]);
      c[i][3] = _mm512_fmadd_ps(w3, b, c[i][3]);
    }
    if (prefetch)
      _mm_prefetch(prefetch + k * 64, _MM_HINT_T0);
  }
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 4; ++j)
      _mm512_storeu_ps(acc + (i * 4 + j) * 16, c[i][j]);
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: panel_loop DEPTH BLOCKS CHUNKS FRESH PREFETCH "
                    "[shuffle] [slices] [row-bytes=N]\n");
    return 2;
  }
  long depth = atol(argv[1]), blocks = atol(argv[2]), chunks = atol(argv[3]);
  int fresh = atoi(argv[4]), prefetchBlocks = atoi(argv[5]);
  int shuffle = 0, slices = 0;
  long stride = depth + 16; /* floats between rows */
  for (int a = 6; a < argc; ++a) {
    if (!strcmp(argv[a], "shuffle"))
      shuffle = 1;
    else if (!strcmp(argv[a], "slices"))
      slices = 1;
    else if (!strncmp(argv[a], "row-bytes=", 10))
      stride = atol(argv[a] + 10) / 4;
    else {
      fprintf(stderr, "panel_loop: unknown option '%s'\n", argv[a]);
      return 2;
    }
  }
  if (depth < 1 || blocks < 1 || chunks < 1 || prefetchBlocks < 0 ||
      prefetchBlocks > blocks || stride < depth) {
    fprintf(stderr, "panel_loop: bad arguments\n");
    return 2;
  }
  /* A chunk is depth x 64 floats: with slices, 4 runs of depth x 16 floats
   * 28 MiB apart, so chunk n of slice j is at j * slice + n * depth * 16. */
  long chunkFloats = depth * 64, stored = fresh ? chunks + 1 : 1;
  long slice = slices ? (28l << 20) / 4 : 16;
  long step = slices ? 16 : 64;
  long chunkStride = slices ? depth * 16 : chunkFloats;
  long total = slices ? 3 * slice + stored * chunkStride : stored * chunkFloats;
  float *w = aligned_alloc(4096, (total * 4 + 4095) / 4096 * 4096);
  long rows = blocks * 6;
  float *x = aligned_alloc(64, ((rows * stride * 4 + 63) / 64 + 1) * 64);
  long *order = malloc(rows * sizeof(long));
  static float acc[6 * 4 * 16];
  if (!w || !x || !order) {
    fprintf(stderr, "panel_loop: out of memory\n");
    return 1;
  }
  for (long i = 0; i < total; ++i)
    w[i] = 1e-3f;
  for (long i = 0; i < rows * stride; ++i)
    x[i] = 1e-3f;
  for (long i = 0; i < rows; ++i)
    order[i] = i;
  srand(1);
  for (long i = rows - 1; shuffle && i > 0; --i) {
    long j = rand() % (i + 1), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  double best = 0;
  for (int run = 0; run < 3; ++run) {
    double t0 = now();
    for (long ch = 0; ch < chunks; ++ch) {
      const float *chunk = w + (fresh ? ch : 0) * chunkStride;
      /* The next chunk: with slices, its first slice's run, and the
       * prefetching blocks share that slice's lines out. */
      const char *next = (const char *)(chunk + chunkStride);
      long nextBytes = (slices ? depth * 16 : chunkFloats) * sizeof(float);
      for (long b = 0; b < blocks; ++b) {
        const char *prefetch = fresh && b < prefetchBlocks
                                   ? next + b * (nextBytes / prefetchBlocks)
                                   : NULL;
        const float *r[6];
        for (int i = 0; i < 6; ++i)
          r[i] = x + order[b * 6 + i] * stride;
        block(chunk, slice, step, r, depth, acc, prefetch);
      }
    }
    double gflops = 2.0 * chunks * blocks * depth * 6 * 64 / (now() - t0) / 1e9;
    if (gflops > best)
      best = gflops;
  }
  printf("depth %ld, %ld blocks, %s chunks, prefetch by %d blocks%s%s, rows "
         "%ld bytes apart: %.1f GFLOP/s\n",
         depth, blocks, fresh ? "fresh" : "cached", prefetchBlocks,
         shuffle ? ", shuffled rows" : "", slices ? ", 4 slices" : "",
         stride * 4, best);
  free(w);
  free(x);
  free(order);
  return acc[0] == 12345.0f; /* keeps the sums alive */
}
