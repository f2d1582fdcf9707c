//===- ExpertOps.cpp - expert-side moe ops --------------------------------===//
//
// grouped_matmul, activation and combine declare their result types (the
// result element type is the user's choice), so their verifiers compare the
// declared shape with the one the operands imply.
//
//===----------------------------------------------------------------------===//
#include "dialect/MoEOps.h"
#include "dialect/MoEVerifyUtils.h"

using namespace mlir;
using namespace mlir::moe;

static OpDiag diagFor(Operation *op) {
  return OpDiag{op->getLoc(), op->getName().getStringRef()};
}

/// A rank-`rank` tensor of f32, bf16 or f16, or null.
static RankedTensorType getFloatTensor(Type type, int64_t rank) {
  RankedTensorType tensor = getRankedTensor(type, rank);
  return tensor && isStorageFloat(tensor.getElementType()) ? tensor
                                                           : RankedTensorType();
}

//===----------------------------------------------------------------------===//
// GroupedMatmulOp
//===----------------------------------------------------------------------===//

LogicalResult GroupedMatmulOp::verify() {
  OpDiag diag = diagFor(*this);
  RankedTensorType input = getFloatTensor(getInput().getType(), 2);
  if (!input)
    return diag("C1", "input must be a rank-2 tensor of f32, bf16 or f16, got ",
                getInput().getType());
  bool grouped = static_cast<bool>(getOffsets());
  int64_t weightRank = grouped ? 3 : 2;
  RankedTensorType weight = getFloatTensor(getWeight().getType(), weightRank);
  QuantizedType quantized = getQuantizedElementType(getWeight().getType());
  if (quantized)
    weight = getRankedTensor(getWeight().getType(), weightRank);
  if (!weight)
    return diag("C2", "weight must be a rank-", weightRank,
                " tensor of f32, bf16, f16 or !moe.quant ",
                grouped ? "with offsets" : "without offsets", ", got ",
                getWeight().getType());
  if (quantized && (ShapedType::isDynamic(weight.getShape().back()) ||
                    weight.getShape().back() % quantized.getBlockElements()))
    return diag("C11", "a quantized weight ", getWeight().getType(),
                " needs rows of a static whole number of blocks of ",
                quantized.getBlockElements(), " elements");
  int64_t k = input.getDimSize(1);
  if (!isCompatibleDim(weight.getShape().back(), k))
    return diag("C3", "weight ", getWeight().getType(),
                " does not contract with the input's ", k, " columns");
  int64_t n = weight.getShape()[weightRank - 2];
  int64_t groups = grouped ? weight.getDimSize(0) : 1;
  if (grouped) {
    int64_t numOffsets =
        ShapedType::isDynamic(groups) ? ShapedType::kDynamic : groups + 1;
    RankedTensorType offsets = getRankedTensor(getOffsets().getType(), 1);
    if (!offsets || !offsets.getElementType().isSignlessInteger() ||
        !isCompatibleDim(offsets.getDimSize(0), numOffsets))
      return diag("C4", "offsets must be a rank-1 integer tensor of ",
                  dimStr(numOffsets), " elements (groups + 1), got ",
                  getOffsets().getType());
  }
  if (Value bias = getBias()) {
    SmallVector<int64_t> expected =
        grouped ? SmallVector<int64_t>{groups, n} : SmallVector<int64_t>{n};
    if (!getFloatTensor(bias.getType(), expected.size()) ||
        !hasCompatibleShape(bias.getType(), expected))
      return diag("C5", "bias must be a float tensor ",
                  grouped ? "[groups, N]" : "[N]", " matching weight ",
                  getWeight().getType(), ", got ", bias.getType());
  }
  int64_t rows = input.getDimSize(0);
  if (Value gather = getRows()) {
    RankedTensorType rowsType = getRankedTensor(gather.getType(), 1);
    if (!rowsType || !rowsType.getElementType().isSignlessInteger())
      return diag("C7", "gather rows must be a rank-1 integer tensor, got ",
                  gather.getType());
    rows = rowsType.getDimSize(0);
  }
  std::optional<ActivationAttr> act = getActivation();
  bool gated = act && act->isGated();
  if (getUp() || getUpBias()) {
    if (!gated || getGateUpLayout())
      return diag("C8", "up needs a gated activation without "
                        "gate_up_layout");
    if (!getUp())
      return diag("C8", "up_bias needs up");
    if (getUp().getType() != getWeight().getType())
      return diag("C8", "up ", getUp().getType(),
                  " must have the weight's type ", getWeight().getType());
    if (static_cast<bool>(getBias()) != static_cast<bool>(getUpBias()))
      return diag("C8", "bias and up_bias are given together or not at all");
    if (getUpBias() && getUpBias().getType() != getBias().getType())
      return diag("C8", "up_bias ", getUpBias().getType(),
                  " must have the bias's type ", getBias().getType());
  }
  if (getGateUpLayout()) {
    if (!gated)
      return diag("C9", "gate_up_layout needs a gated activation");
    if (!ShapedType::isDynamic(n) && n % 2 != 0)
      return diag("C9",
                  "a fused gate/up weight needs an even number of "
                  "rows, got ",
                  n);
    n = ShapedType::isDynamic(n) ? n : n / 2;
  }
  if (gated && !getUp() && !getGateUpLayout())
    return diag("C10", stringifyActivationKind(act->getKind()),
                " needs up or gate_up_layout");
  if (!getFloatTensor(getResult().getType(), 2) ||
      !hasCompatibleShape(getResult().getType(), {rows, n}))
    return diag("C6", "result must be a float tensor [", dimStr(rows), ", ",
                dimStr(n), "] (rows x outputs), got ", getResult().getType());
  return success();
}

//===----------------------------------------------------------------------===//
// ActivationOp
//===----------------------------------------------------------------------===//

LogicalResult ActivationOp::verify() {
  OpDiag diag = diagFor(*this);
  RankedTensorType input = getFloatTensor(getInput().getType(), 2);
  if (!input)
    return diag("C1", "input must be a rank-2 tensor of f32, bf16 or f16, got ",
                getInput().getType());
  if (getUp() && !getFloatTensor(getUp().getType(), 2))
    return diag("C1", "up must be a rank-2 tensor of f32, bf16 or f16, got ",
                getUp().getType());
  if (!getFloatTensor(getResult().getType(), 2))
    return diag("C1",
                "result must be a rank-2 tensor of f32, bf16 or f16, "
                "got ",
                getResult().getType());
  StringRef kind = stringifyActivationKind(getActivation().getKind());
  int64_t rows = input.getDimSize(0), width = input.getDimSize(1);
  if (getActivation().isGated() && getUp()) {
    if (!hasCompatibleShape(getUp().getType(), input.getShape()))
      return diag("C2", "gate ", getInput().getType(), " and up ",
                  getUp().getType(), " must have the same shape");
    if (getGateUpLayout())
      return diag("C2", "gate_up_layout applies to a fused gate/up input, "
                        "not to separate gate and up operands");
  } else if (getActivation().isGated()) {
    if (!getGateUpLayout())
      return diag("C3", kind,
                  " with a single fused input needs "
                  "gate_up_layout");
    if (!ShapedType::isDynamic(width) && width % 2 != 0)
      return diag("C3",
                  "a fused gate/up input needs an even number of "
                  "columns, got ",
                  width);
    width = ShapedType::isDynamic(width) ? width : width / 2;
  } else if (getUp() || getGateUpLayout()) {
    return diag("C4", "elementwise activation ", kind,
                " takes one operand and no gate_up_layout");
  }
  if (!hasCompatibleShape(getResult().getType(), {rows, width}))
    return diag("C5", "result must be [", dimStr(rows), ", ", dimStr(width),
                "], got ", getResult().getType());
  return success();
}

//===----------------------------------------------------------------------===//
// CombineOp
//===----------------------------------------------------------------------===//

LogicalResult CombineOp::verify() {
  OpDiag diag = diagFor(*this);
  RankedTensorType expertOut = getFloatTensor(getExpertOut().getType(), 2);
  if (!expertOut)
    return diag("C1",
                "expert_out must be a rank-2 tensor of f32, bf16 or f16, "
                "got ",
                getExpertOut().getType());
  RankedTensorType weights = getFloatTensor(getWeights().getType(), 2);
  RankedTensorType inverse = getRankedTensor(getInverse().getType(), 2);
  if (!weights || !inverse || !inverse.getElementType().isSignlessInteger() ||
      !hasCompatibleShape(inverse, weights.getShape()))
    return diag("C2",
                "weights (float) and inverse (integer) must be rank-2 "
                "tensors of one shape [T, k], got ",
                getWeights().getType(), " and ", getInverse().getType());
  int64_t tokens = weights.getDimSize(0), d = expertOut.getDimSize(1);
  if (Value down = getDown()) {
    RankedTensorType downType = getFloatTensor(down.getType(), 3);
    if (!downType || !isCompatibleDim(downType.getDimSize(2), d))
      return diag("C6", "down must be a float tensor [G, d, ", dimStr(d),
                  "] (expert_out's width last), got ", down.getType());
    int64_t groups = downType.getDimSize(0);
    int64_t numOffsets =
        ShapedType::isDynamic(groups) ? ShapedType::kDynamic : groups + 1;
    RankedTensorType offsets =
        getDownOffsets() ? getRankedTensor(getDownOffsets().getType(), 1)
                         : RankedTensorType();
    if (!offsets || !offsets.getElementType().isSignlessInteger() ||
        !isCompatibleDim(offsets.getDimSize(0), numOffsets))
      return diag("C6", "down needs down_offsets, a rank-1 integer tensor of ",
                  dimStr(numOffsets), " elements (groups + 1)");
    d = downType.getDimSize(1);
    if (Value bias = getDownBias())
      if (!getFloatTensor(bias.getType(), 2) ||
          !hasCompatibleShape(bias.getType(), {groups, d}))
        return diag("C6", "down_bias must be a float tensor [", dimStr(groups),
                    ", ", dimStr(d), "], got ", bias.getType());
  } else if (getDownOffsets() || getDownBias()) {
    return diag("C6", "down_offsets and down_bias need down");
  }
  if (Value shared = getShared())
    if (!getFloatTensor(shared.getType(), 2) ||
        !hasCompatibleShape(shared.getType(), {tokens, d}))
      return diag("C3", "shared must be a float tensor [", dimStr(tokens), ", ",
                  dimStr(d), "], got ", shared.getType());
  if (Value gate = getSharedGateLogits()) {
    if (!getShared())
      return diag("C4", "shared_gate needs a shared expert output");
    if (!getFloatTensor(gate.getType(), 2) ||
        !hasCompatibleShape(gate.getType(), {tokens, 1}))
      return diag("C4", "shared_gate must be a float tensor [", dimStr(tokens),
                  ", 1], got ", gate.getType());
  }
  if (!getFloatTensor(getResult().getType(), 2) ||
      !hasCompatibleShape(getResult().getType(), {tokens, d}))
    return diag("C5", "result must be a float tensor [", dimStr(tokens), ", ",
                dimStr(d), "], got ", getResult().getType());
  return success();
}
