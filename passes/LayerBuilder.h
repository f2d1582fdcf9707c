//===- LayerBuilder.h - the stages of a moe.layer, built as ops -*- C++ -*-===//
//
// The router, expert FFN and shared-expert stages that a moe.layer expands
// into, shared by moe-decompose and moe-distribute-experts, which arrange
// the same stages around a local or an expert-parallel dispatch.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_PASSES_LAYERBUILDER_H
#define MOEC_PASSES_LAYERBUILDER_H

#include "dialect/MoEOps.h"

#include "mlir/IR/PatternMatch.h"

namespace mlir::moe {

/// Builds the stages of one layer at the layer's location.
class LayerBuilder {
public:
  LayerBuilder(PatternRewriter &rewriter, LayerOp layer);

  /// `input · weightᵀ (+ bias)` over row groups (`offsets`) or dense.
  Value matmul(Value input, Value weight, Value offsets, Value bias);

  /// The activation of one or two projections of width `width`; `layout`
  /// only for a fused gate/up input.
  Value activate(Value input, Value up, int64_t width,
                 GateUpLayoutAttr layout = {});

  /// The expert FFN on `input`, grouped by `offsets` when given.
  Value ffn(Value input, Value gate, Value up, Value gateUp, Value down,
            Value offsets, Value gateBias, Value upBias, Value gateUpBias,
            Value downBias);

  /// The routed experts on `rows`, grouped by `offsets` over the layer's
  /// experts.
  Value routedExperts(Value rows, Value offsets);

  /// The router logits: given, or `x · router_weightᵀ (+ router_bias)`.
  Value routerLogits();

  /// The shared experts' output and its gate logits (null when absent).
  std::pair<Value, Value> sharedExperts();

private:
  PatternRewriter &rewriter;
  Location loc;
  LayerOp layer;
  Type f32;
};

} // namespace mlir::moe

#endif // MOEC_PASSES_LAYERBUILDER_H
