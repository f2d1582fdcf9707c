//===- Verify.h - moe-bench's check against the float64 reference -*- C++ -*-//
//
// A benchmark that reports a fast wrong answer is worse than none: after
// timing each token count, moe-bench checks output rows against the float64
// reference evaluator (runtime/reference), at the shapes it times.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_TOOLS_MOE_BENCH_VERIFY_H
#define MOEC_TOOLS_MOE_BENCH_VERIFY_H

#include "runtime/support/DType.h"

#include <cstdint>
#include <vector>

namespace moe::bench {

/// One benchmark layer: softmax routing (renormalized or not) to k of E
/// SwiGLU experts, weights stored as `dtype` elements in the layouts the
/// layer binds (router [E, d], gate and up [E, f, d], down [E, d, f]).
struct BenchLayer {
  int64_t d, f, E, k;
  bool renormalize;
  DType dtype;       // the experts'
  DType routerDtype; // the router's
  const void *router, *gate, *up, *down;
};

/// The float64 reference of the layer's output row for hidden row `x`
/// (d values): the routing of the whole layer, then only the k experts the
/// token selects.
std::vector<double> referenceRow(const BenchLayer &layer, const float *x);

} // namespace moe::bench

#endif // MOEC_TOOLS_MOE_BENCH_VERIFY_H
