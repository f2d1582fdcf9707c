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
 *   panel_loop DEPTH BLOCKS CHUNKS FRESH PREFETCH
 *
 * FRESH 0 reuses one chunk (it stays in cache), 1 reads a new chunk from
 * memory each time, as the layer's weights are; PREFETCH N (with FRESH 1)
 * has the first N blocks prefetch the next chunk, one line per k step, as
 * the generated kernel does. Prints the best GFLOP/s of three runs; run it
 * under `taskset -c 0`, and on both cores at once to see what a second busy
 * core costs. Build: cc -O3 -mavx512f -mfma panel_loop.c -o panel_loop
 * (docs/performance.md). */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* One block: rows x[i * stride + k], i < 6, times the chunk w[k * 64 + c];
 * with `prefetch`, one line of it per k step. */
__attribute__((noinline)) static void block(const float *w, const float *x,
                                            long stride, long depth,
                                            float *acc, const char *prefetch) {
  __m512 c[6][4];
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 4; ++j)
      c[i][j] = _mm512_loadu_ps(acc + (i * 4 + j) * 16);
  for (long k = 0; k < depth; ++k) {
    __m512 w0 = _mm512_load_ps(w + k * 64), w1 = _mm512_load_ps(w + k * 64 + 16),
           w2 = _mm512_load_ps(w + k * 64 + 32),
           w3 = _mm512_load_ps(w + k * 64 + 48);
    for (int i = 0; i < 6; ++i) {
      __m512 b = _mm512_set1_ps(x[i * stride + k]);
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
  if (argc != 6) {
    fprintf(stderr, "usage: panel_loop DEPTH BLOCKS CHUNKS FRESH PREFETCH\n");
    return 2;
  }
  long depth = atol(argv[1]), blocks = atol(argv[2]), chunks = atol(argv[3]);
  int fresh = atoi(argv[4]), prefetchBlocks = atoi(argv[5]);
  if (depth < 1 || blocks < 1 || chunks < 1 || prefetchBlocks < 0 ||
      prefetchBlocks > blocks) {
    fprintf(stderr, "panel_loop: bad arguments\n");
    return 2;
  }
  /* Rows one line apart beyond a multiple of 4 KiB, as a layer's often
   * are not: no cache-set aliasing between them. */
  long stride = depth + 16;
  long chunkFloats = depth * 64, stored = fresh ? chunks + 1 : 1;
  float *w = aligned_alloc(4096, stored * chunkFloats * sizeof(float));
  float *x = aligned_alloc(64, (blocks * 6 * stride + 16) * sizeof(float));
  static float acc[6 * 4 * 16];
  if (!w || !x) {
    fprintf(stderr, "panel_loop: out of memory\n");
    return 1;
  }
  for (long i = 0; i < stored * chunkFloats; ++i)
    w[i] = 1e-3f;
  for (long i = 0; i < blocks * 6 * stride; ++i)
    x[i] = 1e-3f;
  double best = 0;
  for (int run = 0; run < 3; ++run) {
    double t0 = now();
    for (long ch = 0; ch < chunks; ++ch) {
      const float *chunk = w + (fresh ? ch : 0) * chunkFloats;
      const char *next = (const char *)(chunk + chunkFloats);
      for (long b = 0; b < blocks; ++b) {
        const char *prefetch =
            fresh && b < prefetchBlocks
                ? next + b * (chunkFloats * sizeof(float) / prefetchBlocks)
                : NULL;
        block(chunk, x + b * 6 * stride, stride, depth, acc, prefetch);
      }
    }
    double gflops = 2.0 * chunks * blocks * depth * 6 * 64 / (now() - t0) / 1e9;
    if (gflops > best)
      best = gflops;
  }
  printf("depth %ld, %ld blocks, %s chunks, prefetch by %d blocks: %.1f "
         "GFLOP/s\n",
         depth, blocks, fresh ? "fresh" : "cached", prefetchBlocks, best);
  free(w);
  free(x);
  return acc[0] == 12345.0f; /* keeps the sums alive */
}
