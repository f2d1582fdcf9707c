//===- LayerDecomposition.cpp - moe.layer into its stages -----------------===//
#include "dialect/MoEOps.h"
#include "passes/LayerBuilder.h"
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe;

LayerBuilder::LayerBuilder(PatternRewriter &rewriter, LayerOp layer)
    : rewriter(rewriter), loc(layer.getLoc()), layer(layer),
      f32(rewriter.getF32Type()) {}

Value LayerBuilder::matmul(Value input, Value weight, Value offsets,
                           Value bias) {
  auto weightType = cast<RankedTensorType>(weight.getType());
  int64_t rows = cast<RankedTensorType>(input.getType()).getDimSize(0);
  int64_t outputs = weightType.getDimSize(weightType.getRank() - 2);
  auto resultType = RankedTensorType::get({rows, outputs}, f32);
  return GroupedMatmulOp::create(rewriter, loc, resultType, input, weight,
                                 offsets, bias);
}

Value LayerBuilder::activate(Value input, Value up, int64_t width,
                             GateUpLayoutAttr layout) {
  int64_t rows = cast<RankedTensorType>(input.getType()).getDimSize(0);
  auto resultType = RankedTensorType::get({rows, width}, f32);
  return ActivationOp::create(rewriter, loc, resultType, input, up,
                              layer.getActivation(), layout);
}

Value LayerBuilder::ffn(Value input, Value gate, Value up, Value gateUp,
                        Value down, Value offsets, Value gateBias, Value upBias,
                        Value gateUpBias, Value downBias) {
  auto downType = cast<RankedTensorType>(down.getType());
  int64_t width = downType.getDimSize(downType.getRank() - 1);
  Value hidden;
  if (gateUp) {
    hidden = activate(matmul(input, gateUp, offsets, gateUpBias), Value(),
                      width, layer.getGateUpLayoutAttr());
  } else if (gate) {
    hidden = activate(matmul(input, gate, offsets, gateBias),
                      matmul(input, up, offsets, upBias), width);
  } else {
    hidden = activate(matmul(input, up, offsets, upBias), Value(), width);
  }
  return matmul(hidden, down, offsets, downBias);
}

Value LayerBuilder::routedExperts(Value rows, Value offsets) {
  return ffn(rows, layer.getGate(), layer.getUp(), layer.getGateUp(),
             layer.getDown(), offsets, layer.getGateBias(), layer.getUpBias(),
             layer.getGateUpBias(), layer.getDownBias());
}

Value LayerBuilder::routerLogits() {
  if (Value logits = layer.getRouterLogits())
    return logits;
  return matmul(layer.getHidden(), layer.getRouterWeight(), Value(),
                layer.getRouterBias());
}

std::pair<Value, Value> LayerBuilder::sharedExperts() {
  if (!layer.getSharedDown())
    return {};
  Value x = layer.getHidden();
  Value shared = ffn(x, layer.getSharedGate(), layer.getSharedUp(),
                     layer.getSharedGateUp(), layer.getSharedDown(), Value(),
                     Value(), Value(), Value(), Value());
  Value gate;
  if (layer.getSharedExpertGate())
    gate = matmul(x, layer.getSharedExpertGate(), Value(), Value());
  return {shared, gate};
}

namespace {

struct DecomposeLayer : OpRewritePattern<LayerOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LayerOp layer,
                                PatternRewriter &rewriter) const override {
    int64_t experts = layer.getNumExperts();
    if (ShapedType::isDynamic(experts))
      return rewriter.notifyMatchFailure(layer, "expert count is dynamic");
    LayerBuilder b(rewriter, layer);
    Location loc = layer.getLoc();
    Value x = layer.getHidden();
    auto route = RouteOp::create(rewriter, loc, b.routerLogits(),
                                 layer.getCorrectionBias(), layer.getRouting());
    auto dispatch = DispatchOp::create(rewriter, loc, route.getIndices(),
                                       rewriter.getI64IntegerAttr(experts));
    // Llama-4 weighs the experts' inputs: the gather scales each row and
    // the combine sums the expert rows as they are.
    bool scaleInputs = layer.getRouting().getScaleInputs();
    Value rows =
        GatherOp::create(rewriter, loc, x, dispatch.getSortedTokens(),
                         scaleInputs ? route.getWeights() : Value(),
                         scaleInputs ? dispatch.getInverse() : Value());
    Value expertOut = b.routedExperts(rows, dispatch.getOffsets());
    auto [shared, sharedGate] = b.sharedExperts();
    rewriter.replaceOpWithNewOp<CombineOp>(
        layer, layer.getType(), expertOut, route.getWeights(),
        dispatch.getInverse(), shared, sharedGate, Value(), Value(), Value(),
        scaleInputs);
    return success();
  }
};

} // namespace

void mlir::moe::populateMoEDecomposePatterns(RewritePatternSet &patterns) {
  patterns.add<DecomposeLayer>(patterns.getContext());
}
