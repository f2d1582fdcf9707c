//===- MachineLimits.h - FMA peak and DRAM bandwidth, measured --*- C++ -*-===//
//
// The two limits every moe-bench figure is quoted against, measured in the
// same run (the machines are shared: a number from another run is not a
// ratio's denominator).
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_TOOLS_MOEBENCH_MACHINELIMITS_H
#define MOEC_TOOLS_MOEBENCH_MACHINELIMITS_H

namespace moe::bench {

struct Limits {
  double fmaGflops = 0;     // fp32 FMA peak over `threads`
  const char *fmaIsa = "";  // "avx512f" or "avx2+fma" or "scalar"
  double readGBps = 0;      // DRAM read bandwidth over `threads`
  double bf16DotGflops = 0; // AVX512_BF16 vdpbf16ps peak (0: no such ISA)
};

/// Measures them with `threads` threads (the fastest of 7 repetitions).
Limits measureLimits(int threads);

} // namespace moe::bench

#endif // MOEC_TOOLS_MOEBENCH_MACHINELIMITS_H
