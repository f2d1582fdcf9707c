//===- MoEVerifyUtils.cpp - shared shape checks of the moe ops ------------===//
#include "dialect/MoEVerifyUtils.h"

using namespace mlir;
using namespace mlir::moe;

bool mlir::moe::isStorageFloat(Type type) {
  return type.isF32() || type.isBF16() || type.isF16();
}

RankedTensorType mlir::moe::getRankedTensor(Type type, int64_t rank) {
  auto tensor = dyn_cast_or_null<RankedTensorType>(type);
  if (!tensor || (rank >= 0 && tensor.getRank() != rank))
    return {};
  return tensor;
}

bool mlir::moe::isCompatibleDim(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

bool mlir::moe::hasCompatibleShape(Type type, ArrayRef<int64_t> expected) {
  RankedTensorType tensor =
      getRankedTensor(type, static_cast<int64_t>(expected.size()));
  if (!tensor)
    return false;
  for (auto [actual, want] : llvm::zip(tensor.getShape(), expected))
    if (!isCompatibleDim(actual, want))
      return false;
  return true;
}

std::string mlir::moe::dimStr(int64_t size) {
  return ShapedType::isDynamic(size) ? "?" : std::to_string(size);
}

int64_t mlir::moe::mulDims(int64_t a, int64_t b) {
  if (ShapedType::isDynamic(a) || ShapedType::isDynamic(b))
    return ShapedType::kDynamic;
  return a * b;
}

int64_t mlir::moe::gridDeviceCount(ArrayRef<int64_t> gridShape) {
  int64_t devices = 1;
  for (int64_t size : gridShape)
    if (ShapedType::isDynamic(size) ||
        __builtin_mul_overflow(devices, size, &devices))
      return ShapedType::kDynamic;
  return devices;
}

LogicalResult mlir::moe::verifyRoutingForExperts(const OpDiag &diag,
                                                 RoutingAttr routing,
                                                 int64_t numExperts,
                                                 Value correctionBias,
                                                 const RoutingTags &tags) {
  bool staticE = !ShapedType::isDynamic(numExperts);
  int64_t k = routing.getK();
  if (staticE && k > numExperts)
    return diag(tags.k, "routing selects k = ", k, " experts but there are ",
                dimStr(numExperts));
  if (correctionBias) {
    RankedTensorType bias = getRankedTensor(correctionBias.getType(), 1);
    if (!bias || !isStorageFloat(bias.getElementType()) ||
        !isCompatibleDim(bias.getDimSize(0), numExperts))
      return diag(tags.bias, "correction_bias must be a float tensor of ",
                  dimStr(numExperts), " elements, got ",
                  correctionBias.getType());
    if (routing.getOrder() != RoutingOrder::score_then_topk)
      return diag(tags.biasOrder, "correction_bias needs order = "
                                  "score_then_topk (it biases the scores)");
  }
  if (!routing.isGroupLimited() || !staticE)
    return success();
  int64_t groups = routing.getNGroup();
  if (numExperts % groups != 0)
    return diag(tags.groups, "n_group = ", groups,
                " does not divide the expert count ", numExperts);
  int64_t groupSize = numExperts / groups;
  if (k > routing.getTopkGroup() * groupSize)
    return diag(tags.groups, "k = ", k, " exceeds the ",
                routing.getTopkGroup() * groupSize,
                " experts of the topk_group = ", routing.getTopkGroup(),
                " kept groups");
  if (routing.getGroupScore() == GroupScoreFunc::top2_sum && groupSize < 2)
    return diag(tags.groups,
                "group_score = top2_sum needs groups of at least "
                "2 experts, got ",
                groupSize);
  return success();
}
