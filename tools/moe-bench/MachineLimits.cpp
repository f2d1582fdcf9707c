//===- MachineLimits.cpp - FMA peak and DRAM bandwidth, measured ----------===//
#include "MachineLimits.h"
#include "runtime/moert/Packing.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <immintrin.h>
#include <memory>
#include <thread>
#include <vector>

using namespace moe::bench;

namespace {

using Clock = std::chrono::steady_clock;

/// 16 independent accumulators hide the FMA latency on two pipes.
__attribute__((target("avx512f"))) double fmaChainsAvx512(int64_t iters) {
  __m512 acc[16];
  for (int i = 0; i < 16; ++i)
    acc[i] = _mm512_set1_ps(1.0f + i * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t n = 0; n < iters; ++n)
    for (int i = 0; i < 16; ++i)
      acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < 16; ++i)
    s = _mm512_add_ps(s, acc[i]);
  float out[16];
  _mm512_storeu_ps(out, s);
  return out[0];
}

/// 12 chains (enough for two pipes of 4-cycle FMAs) as separate
/// variables, with the two constants, fit AVX2's 16 registers. As an array
/// of 16, the compiler kept some chains in memory, and the probe read half
/// the FMA rate (96 instead of 180 GFLOP/s on 2 Zen 3 cores), below what
/// the GEMM kernel itself reaches.
__attribute__((target("avx2,fma"))) double fmaChainsAvx2(int64_t iters) {
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  __m256 c0 = _mm256_set1_ps(1.0f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0,
         c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
  for (int64_t n = 0; n < iters; ++n) {
    c0 = _mm256_fmadd_ps(c0, a, b);
    c1 = _mm256_fmadd_ps(c1, a, b);
    c2 = _mm256_fmadd_ps(c2, a, b);
    c3 = _mm256_fmadd_ps(c3, a, b);
    c4 = _mm256_fmadd_ps(c4, a, b);
    c5 = _mm256_fmadd_ps(c5, a, b);
    c6 = _mm256_fmadd_ps(c6, a, b);
    c7 = _mm256_fmadd_ps(c7, a, b);
    c8 = _mm256_fmadd_ps(c8, a, b);
    c9 = _mm256_fmadd_ps(c9, a, b);
    c10 = _mm256_fmadd_ps(c10, a, b);
    c11 = _mm256_fmadd_ps(c11, a, b);
  }
  __m256 s = _mm256_add_ps(
      _mm256_add_ps(
          _mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
          _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7))),
      _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];
}

/// vdpbf16ps: 16 lanes, each 2 products and 2 sums, per instruction. The
/// 16 chains are separate variables: as an array, the compiler spilled two
/// of them, and a chain through memory halves the rate.
__attribute__((target("avx512f,avx512bf16"))) double
dotChainsAvx512Bf16(int64_t iters) {
  const __m512bh a =
      _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.5f), _mm512_set1_ps(0.25f));
  const __m512bh b =
      _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(2e-3f));
  __m512 c0 = _mm512_set1_ps(1.0f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0,
         c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0,
         c13 = c0, c14 = c0, c15 = c0;
  for (int64_t n = 0; n < iters; ++n) {
    c0 = _mm512_dpbf16_ps(c0, a, b);
    c1 = _mm512_dpbf16_ps(c1, a, b);
    c2 = _mm512_dpbf16_ps(c2, a, b);
    c3 = _mm512_dpbf16_ps(c3, a, b);
    c4 = _mm512_dpbf16_ps(c4, a, b);
    c5 = _mm512_dpbf16_ps(c5, a, b);
    c6 = _mm512_dpbf16_ps(c6, a, b);
    c7 = _mm512_dpbf16_ps(c7, a, b);
    c8 = _mm512_dpbf16_ps(c8, a, b);
    c9 = _mm512_dpbf16_ps(c9, a, b);
    c10 = _mm512_dpbf16_ps(c10, a, b);
    c11 = _mm512_dpbf16_ps(c11, a, b);
    c12 = _mm512_dpbf16_ps(c12, a, b);
    c13 = _mm512_dpbf16_ps(c13, a, b);
    c14 = _mm512_dpbf16_ps(c14, a, b);
    c15 = _mm512_dpbf16_ps(c15, a, b);
  }
  __m512 s = _mm512_add_ps(
      _mm512_add_ps(
          _mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
          _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7))),
      _mm512_add_ps(
          _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)),
          _mm512_add_ps(_mm512_add_ps(c12, c13), _mm512_add_ps(c14, c15))));
  return _mm512_reduce_add_ps(s);
}

/// The times of `reps` runs, fastest first.
template <typename F>
std::vector<double> sortedSeconds(int reps, F &&run) {
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    run();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t;
}

/// Runs `work(threadIndex)` on `threads` threads at once.
template <typename F>
void onThreads(int threads, F &&work) {
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i)
    pool.emplace_back([&, i] { work(i); });
  work(0);
  for (std::thread &t : pool)
    t.join();
}

} // namespace

Limits moe::bench::measureLimits(int threads) {
  Limits l;
  __builtin_cpu_init();
  bool avx512 = __builtin_cpu_supports("avx512f");
  bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const int64_t iters = 20'000'000;
  volatile double sink = 0;
  if (avx512 || avx2) {
    int lanes = avx512 ? 16 : 8;
    l.fmaIsa = avx512 ? "avx512f" : "avx2+fma";
    int chains = avx512 ? 16 : 12;
    // The fastest of 7: a peak is what the machine can deliver, where a
    // shared machine's neighbours make the median read low.
    double s = sortedSeconds(7, [&] {
                 onThreads(threads, [&](int) {
                   sink =
                       avx512 ? fmaChainsAvx512(iters) : fmaChainsAvx2(iters);
                 });
               }).front();
    l.fmaGflops = 2.0 * chains * lanes * iters * threads / s / 1e9;
  } else {
    l.fmaIsa = "scalar";
  }
  if (avx512 && __builtin_cpu_supports("avx512bf16")) {
    double s =
        sortedSeconds(7, [&] {
          onThreads(threads, [&](int) { sink = dotChainsAvx512Bf16(iters); });
        }).front();
    l.bf16DotGflops = 4.0 * 16 * 16 * iters * threads / s / 1e9;
  }
  // Read bandwidth: 8 streams per thread over 1 GiB in total, in huge
  // pages where the system allows (as moert packs weights), the best of 7.
  const size_t total = size_t(1) << 30;
  size_t perThread = total / threads / sizeof(float);
  std::vector<std::unique_ptr<moert::PackedBuffer>> buffers;
  std::vector<float *> arrays(threads);
  for (int i = 0; i < threads; ++i) {
    buffers.push_back(
        std::make_unique<moert::PackedBuffer>(perThread * sizeof(float)));
    if (!buffers.back()->data()) {
      std::fprintf(stderr,
                   "moe-bench: cannot map %zu bytes for the "
                   "bandwidth probe\n",
                   perThread * sizeof(float));
      std::exit(1);
    }
    arrays[i] = static_cast<float *>(buffers.back()->data());
  }
  onThreads(threads,
            [&](int i) { std::fill(arrays[i], arrays[i] + perThread, 1.0f); });
  auto pass = [&] {
    onThreads(threads, [&](int i) {
      // 8 sequential streams, each prefetched 1 KiB ahead, as the GEMM
      // kernel streams its weight slices: a probe that reads fewer places
      // at once reads below what the kernels reach.
      constexpr int kStreams = 8;
      constexpr size_t kAhead = 1024 / sizeof(float);
      const float *p = arrays[i];
      size_t part = perThread / kStreams;
      float acc[kStreams] = {};
      for (size_t j = 0; j < part; j += 16)
        for (int k = 0; k < kStreams; ++k) {
          const float *q = p + k * part + j;
          __builtin_prefetch(q + kAhead);
          acc[k] += *q;
        }
      float total = 0;
      for (float a : acc)
        total += a;
      sink = total;
    });
  };
  // The fastest pass: what the machine can deliver, where a shared
  // machine's neighbours make the median wander.
  double s = sortedSeconds(7, pass).front();
  // Every 64-byte line is read once: 1 float in 16 touches each line.
  l.readGBps = double(perThread) * sizeof(float) * threads / s / 1e9;
  return l;
}
