//===- FuseGateUp.cpp - the moe-fuse-gate-up pass -------------------------===//
//
// An expert's activation is folded into the GEMM that feeds it: the gate
// and up projections of a gated activation become one grouped GEMM whose
// kernel accumulates both for the same rows and applies the activation in
// its epilogue. The input rows are read once instead of twice, and neither
// projection is written out ([T·k, f] each) and read back.
//
//===----------------------------------------------------------------------===//
#include "dialect/MoEOps.h"
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEFUSEGATEUP
#include "passes/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

/// A plain GEMM producing f32 whose only user is the activation: fusing it
/// keeps the values the activation sees (no rounding in between).
GroupedMatmulOp fusibleProducer(Value v) {
  auto mm = v.getDefiningOp<GroupedMatmulOp>();
  if (!mm || mm.getActivation() || !mm->hasOneUse() ||
      !cast<RankedTensorType>(mm.getType()).getElementType().isF32())
    return nullptr;
  return mm;
}

struct FuseActivationIntoGroupedMatmul : OpRewritePattern<ActivationOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ActivationOp op,
                                PatternRewriter &rewriter) const override {
    GroupedMatmulOp gate = fusibleProducer(op.getInput());
    if (!gate)
      return rewriter.notifyMatchFailure(
          op, "input is not a single-use f32 grouped_matmul");
    Value upWeight, upBias;
    if (Value up = op.getUp()) {
      // Separate gate and up projections of the same rows.
      GroupedMatmulOp upMm = fusibleProducer(up);
      if (!upMm || upMm == gate || upMm.getInput() != gate.getInput() ||
          upMm.getRows() != gate.getRows() ||
          upMm.getOffsets() != gate.getOffsets() ||
          upMm.getWeight().getType() != gate.getWeight().getType() ||
          static_cast<bool>(upMm.getBias()) !=
              static_cast<bool>(gate.getBias()) ||
          (upMm.getBias() &&
           upMm.getBias().getType() != gate.getBias().getType()))
        return rewriter.notifyMatchFailure(
            op, "gate and up are not projections of the same rows with "
                "weights of one type");
      upWeight = upMm.getWeight();
      upBias = upMm.getBias();
    }
    // Both GEMMs must be usable where the activation is.
    if (upWeight) {
      Operation *upOp = op.getUp().getDefiningOp();
      if (upOp->getBlock() != gate->getBlock())
        return rewriter.notifyMatchFailure(op, "projections in two blocks");
    }
    Operation *later = gate;
    if (upWeight && gate->isBeforeInBlock(op.getUp().getDefiningOp()))
      later = op.getUp().getDefiningOp();
    rewriter.setInsertionPointAfter(later);
    auto fused = GroupedMatmulOp::create(
        rewriter, op.getLoc(), op.getType(), gate.getInput(), gate.getWeight(),
        gate.getRows(), gate.getOffsets(), gate.getBias(), upWeight, upBias,
        op.getActivation(), op.getGateUpLayoutAttr());
    Operation *upOp = upWeight ? op.getUp().getDefiningOp() : nullptr;
    rewriter.replaceOp(op, fused.getResult());
    rewriter.eraseOp(gate);
    if (upOp)
      rewriter.eraseOp(upOp);
    return success();
  }
};

struct MoEFuseGateUpPass : moe::impl::MoEFuseGateUpBase<MoEFuseGateUpPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMoEFuseGateUpPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace

void mlir::moe::populateMoEFuseGateUpPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseActivationIntoGroupedMatmul>(patterns.getContext());
}
