//===- Verify.cpp - moe-bench's check against the float64 reference -------===//
#include "Verify.h"
#include "runtime/reference/Reference.h"

#include <algorithm>
#include <cmath>

using namespace moe;
using namespace moe::bench;

namespace {

/// Elements [first, first + count) of a `dtype` buffer as doubles.
void widen(DType dtype, const void *base, int64_t first, int64_t count,
           double *out) {
  for (int64_t i = 0; i < count; ++i)
    out[i] = loadElement(dtype, base, static_cast<size_t>(first + i));
}

ref::Array array(std::vector<int64_t> shape) {
  ref::Array a;
  a.shape = std::move(shape);
  a.data.resize(a.numElements());
  return a;
}

} // namespace

std::vector<double> moe::bench::referenceRow(const BenchLayer &l,
                                             const float *x) {
  ref::LayerConfig config;
  config.routing.k = l.k;
  config.routing.renormalize = l.renormalize;
  config.activation.kind = ref::ActivationKind::SwiGLU;

  ref::LayerOperands all;
  all.hidden = array({1, l.d});
  std::copy(x, x + l.d, all.hidden.data.begin());
  all.routerWeight = array({l.E, l.d});
  widen(l.routerDtype, l.router, 0, l.E * l.d, all.routerWeight->data.data());
  ref::Routing routing = ref::route(config, all);

  // A layer of the k selected experts alone. Softmax over logits log(w_j)
  // gives w_j / Σ w, and the scaling factor Σ w gives back w_j: the same
  // weights, whether or not the full layer renormalizes.
  ref::LayerConfig picked = config;
  picked.routing.renormalize = false;
  double sum = 0;
  for (double w : routing.weights)
    sum += w;
  picked.routing.scalingFactor = sum;
  ref::LayerOperands ops;
  ops.hidden = all.hidden;
  ops.routerLogits = array({1, l.k});
  ops.gate = array({l.k, l.f, l.d});
  ops.up = array({l.k, l.f, l.d});
  ops.down = array({l.k, l.d, l.f});
  int64_t matrix = l.f * l.d;
  for (int64_t j = 0; j < l.k; ++j) {
    ops.routerLogits->data[j] = std::log(std::max(routing.weights[j], 1e-300));
    int64_t e = routing.experts[j];
    widen(l.dtype, l.gate, e * matrix, matrix, &ops.gate->data[j * matrix]);
    widen(l.dtype, l.up, e * matrix, matrix, &ops.up->data[j * matrix]);
    widen(l.dtype, l.down, e * matrix, matrix, &ops.down->data[j * matrix]);
  }
  ref::Array out;
  if (!ref::evaluate(picked, ops, out).empty())
    return {};
  return out.data;
}
