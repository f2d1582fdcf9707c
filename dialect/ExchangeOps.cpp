//===- ExchangeOps.cpp - the expert-parallel exchange ops -----------------===//
//
// moe.exchange_plan infers its results from its indices and placement;
// moe.all_to_all_v declares its result. Both name a shard.grid, checked as
// a symbol use so that the grid may follow them in the module.
//
//===----------------------------------------------------------------------===//
#include "dialect/MoEOps.h"
#include "dialect/MoEVerifyUtils.h"

#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/IR/SymbolTable.h"

using namespace mlir;
using namespace mlir::moe;

/// The grid `name` as seen from `op`, with its static device count, or a
/// diagnostic under `tag`.
static FailureOr<int64_t> gridDevices(Operation *op, FlatSymbolRefAttr name,
                                      SymbolTableCollection &symbols,
                                      StringRef tag) {
  OpDiag diag{op->getLoc(), op->getName().getStringRef()};
  auto grid = symbols.lookupNearestSymbolFrom<shard::GridOp>(op, name);
  if (!grid)
    return diag(tag, name, " is not a shard.grid");
  int64_t devices = gridDeviceCount(grid.getShape());
  if (ShapedType::isDynamic(devices))
    return diag(tag, "grid ", name, " needs a static number of devices");
  return devices;
}

//===----------------------------------------------------------------------===//
// ExchangePlanOp
//===----------------------------------------------------------------------===//

LogicalResult ExchangePlanOp::inferReturnTypes(MLIRContext *ctx,
                                               std::optional<Location> loc,
                                               Adaptor adaptor,
                                               SmallVectorImpl<Type> &types) {
  OpDiag diag{loc, getOperationName()};
  RankedTensorType indices = getRankedTensor(adaptor.getIndices().getType(), 2);
  if (!indices || !indices.getElementType().isSignlessInteger(32))
    return diag("C1", "indices must be a rank-2 tensor of i32, got ",
                adaptor.getIndices().getType());
  ExpertPlacementAttr plan = adaptor.getPlacement();
  if (!plan)
    return emitOptionalError(loc, "'", getOperationName(),
                             "' op requires a 'placement' attribute");
  int64_t tokens = indices.getDimSize(0), k = indices.getDimSize(1);
  int64_t experts = plan.getNumExperts();
  if (!ShapedType::isDynamic(k) && (k < 1 || k > experts))
    return diag("C2", "the indices' ", k,
                " experts per token must be in [1, E = ", experts, "]");
  Type i32 = IntegerType::get(ctx, 32), i64 = IntegerType::get(ctx, 64);
  int64_t rows = mulDims(tokens, k);
  types.push_back(RankedTensorType::get({rows}, i32));
  types.push_back(RankedTensorType::get({rows}, i32));
  types.push_back(RankedTensorType::get({plan.getNumRanks()}, i64));
  types.push_back(RankedTensorType::get({tokens, k}, i32));
  return success();
}

LogicalResult ExchangePlanOp::verifySymbolUses(SymbolTableCollection &symbols) {
  ExpertPlacementAttr plan = getPlacement();
  FailureOr<int64_t> devices =
      gridDevices(*this, plan.getGrid(), symbols, "C3");
  if (failed(devices))
    return failure();
  if (*devices != plan.getNumRanks())
    return OpDiag{getLoc(), getOperationName()}(
        "C3", "the placement is on ", plan.getNumRanks(), " ranks, but grid ",
        plan.getGrid(), " has ", *devices, " devices");
  return success();
}

//===----------------------------------------------------------------------===//
// AllToAllVOp
//===----------------------------------------------------------------------===//

LogicalResult AllToAllVOp::verify() {
  OpDiag diag{getLoc(), getOperationName()};
  auto input = dyn_cast<RankedTensorType>(getInput().getType());
  auto wholeBytes = [](Type type) {
    return (isa<FloatType>(type) || type.isSignlessInteger()) &&
           type.getIntOrFloatBitWidth() % 8 == 0;
  };
  if (!input || input.getRank() < 1 || input.getRank() > 2 ||
      !wholeBytes(input.getElementType()))
    return diag("C1",
                "input must be a rank-1 or rank-2 tensor of integers or "
                "floats of whole bytes, got ",
                getInput().getType());
  auto result = cast<RankedTensorType>(getResult().getType());
  if (result.getElementType() != input.getElementType() ||
      result.getRank() != input.getRank() ||
      (input.getRank() == 2 && result.getDimSize(1) != input.getDimSize(1)))
    return diag("C2",
                "the result must have the input's element type, rank and "
                "columns: got ",
                result, " for an input ", input);
  RankedTensorType counts = getRankedTensor(getSendCounts().getType(), 1);
  if (!counts || !counts.getElementType().isSignlessInteger(64))
    return diag("C3", "the counts must be rank-1 tensors of i64, got ",
                getSendCounts().getType());
  return success();
}

LogicalResult AllToAllVOp::verifySymbolUses(SymbolTableCollection &symbols) {
  FailureOr<int64_t> devices = gridDevices(*this, getGridAttr(), symbols, "C4");
  if (failed(devices))
    return failure();
  int64_t size =
      cast<RankedTensorType>(getSendCounts().getType()).getDimSize(0);
  if (!ShapedType::isDynamic(size) && size != *devices)
    return OpDiag{getLoc(), getOperationName()}(
        "C3", "the counts have ", size, " entries, but grid ", getGridAttr(),
        " has ", *devices, " devices");
  return success();
}
