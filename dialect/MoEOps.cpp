//===- MoEOps.cpp - routing-side moe ops: route, dispatch, record, gather ===//
//
// Holds the generated op definitions. The result types of these ops follow
// from their operands; inference performs every check, so the verifier of
// the InferTypeOpInterface reports the numbered constraints. moe.record_routing
// has no results and a verifier of its own.
//
//===----------------------------------------------------------------------===//
#include "dialect/MoEOps.h"
#include "dialect/MoEVerifyUtils.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mlir::moe;

#define GET_OP_CLASSES
#include "dialect/MoEOps.cpp.inc"

//===----------------------------------------------------------------------===//
// RouteOp
//===----------------------------------------------------------------------===//

LogicalResult RouteOp::inferReturnTypes(MLIRContext *ctx,
                                        std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &types) {
  OpDiag diag{loc, getOperationName()};
  RankedTensorType logits = getRankedTensor(adaptor.getLogits().getType(), 2);
  if (!logits || !isStorageFloat(logits.getElementType()))
    return diag("C1",
                "logits must be a rank-2 tensor of f32, bf16 or f16, got ",
                adaptor.getLogits().getType());
  RoutingAttr routing = adaptor.getRouting();
  if (!routing)
    return emitOptionalError(loc, "'", getOperationName(),
                             "' op requires a 'routing' attribute");
  if (failed(verifyRoutingForExperts(diag, routing, logits.getDimSize(1),
                                     adaptor.getCorrectionBias(),
                                     {"C2", "C3", "C4", "C5"})))
    return failure();
  SmallVector<int64_t> shape = {logits.getDimSize(0), routing.getK()};
  types.push_back(RankedTensorType::get(shape, Float32Type::get(ctx)));
  types.push_back(
      RankedTensorType::get(shape, IntegerType::get(ctx, /*width=*/32)));
  return success();
}

//===----------------------------------------------------------------------===//
// DispatchOp
//===----------------------------------------------------------------------===//

LogicalResult DispatchOp::inferReturnTypes(MLIRContext *ctx,
                                           std::optional<Location> loc,
                                           Adaptor adaptor,
                                           SmallVectorImpl<Type> &types) {
  OpDiag diag{loc, getOperationName()};
  RankedTensorType indices = getRankedTensor(adaptor.getIndices().getType(), 2);
  if (!indices || !indices.getElementType().isSignlessInteger())
    return diag("C1",
                "indices must be a rank-2 tensor of signless integers, "
                "got ",
                adaptor.getIndices().getType());
  IntegerAttr numExpertsAttr = adaptor.getNumExpertsAttr();
  if (!numExpertsAttr)
    return emitOptionalError(loc, "'", getOperationName(),
                             "' op requires a 'num_experts' attribute");
  int64_t numExperts = numExpertsAttr.getInt();
  if (numExperts < 1)
    return diag("C2", "num_experts must be at least 1, got ", numExperts);
  Type i32 = IntegerType::get(ctx, 32);
  int64_t tokens = indices.getDimSize(0), k = indices.getDimSize(1);
  types.push_back(RankedTensorType::get({mulDims(tokens, k)}, i32));
  types.push_back(RankedTensorType::get({tokens, k}, i32));
  types.push_back(RankedTensorType::get({numExperts + 1}, i32));
  return success();
}

//===----------------------------------------------------------------------===//
// RecordRoutingOp
//===----------------------------------------------------------------------===//

LogicalResult RecordRoutingOp::verify() {
  OpDiag diag{getLoc(), getOperationName()};
  RankedTensorType indices = getRankedTensor(getIndices().getType(), 2);
  if (!indices || !indices.getElementType().isSignlessInteger(32))
    return diag("C1", "indices must be a rank-2 tensor of i32, got ",
                getIndices().getType());
  int64_t site = getSiteAttr().getInt(), experts = getExpertsAttr().getInt();
  if (site < 0 || site > kMaxRoutingSite)
    return diag("C2", "site must be in [0, ", kMaxRoutingSite, "], got ", site);
  if (experts < 1 || experts > kMaxRecordedExperts)
    return diag("C2", "experts must be in [1, ", kMaxRecordedExperts, "], got ",
                experts);
  int64_t k = indices.getDimSize(1);
  if (!ShapedType::isDynamic(k) && (k < 1 || k > experts))
    return diag("C3", "the indices' ", k,
                " experts per token must be in [1, experts = ", experts, "]");
  return success();
}

//===----------------------------------------------------------------------===//
// GatherOp
//===----------------------------------------------------------------------===//

LogicalResult GatherOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  OpDiag diag{loc, getOperationName()};
  RankedTensorType input = getRankedTensor(adaptor.getInput().getType(), 2);
  if (!input || !isStorageFloat(input.getElementType()))
    return diag("C1", "input must be a rank-2 tensor of f32, bf16 or f16, got ",
                adaptor.getInput().getType());
  RankedTensorType rows = getRankedTensor(adaptor.getRows().getType(), 1);
  if (!rows || !rows.getElementType().isSignlessInteger())
    return diag("C2", "rows must be a rank-1 tensor of signless integers, got ",
                adaptor.getRows().getType());
  Value weights = adaptor.getWeights(), inverse = adaptor.getInverse();
  if (weights || inverse) {
    RankedTensorType w =
        weights ? getRankedTensor(weights.getType(), 2) : RankedTensorType();
    RankedTensorType inv =
        inverse ? getRankedTensor(inverse.getType(), 2) : RankedTensorType();
    if (!w || !isStorageFloat(w.getElementType()) || !inv ||
        !inv.getElementType().isSignlessInteger() ||
        !hasCompatibleShape(inv, w.getShape()))
      return diag("C3", "scales need weights (float) and inverse (integer), "
                        "rank-2 tensors of one shape [T, k]");
  }
  types.push_back(RankedTensorType::get(
      {rows.getDimSize(0), input.getDimSize(1)}, input.getElementType()));
  return success();
}
