//===- FuseCombine.cpp - the moe-fuse-combine pass ------------------------===//
//
// The experts' down projection is folded into the combine: each product
// row is scaled by its routing weight and added to its token's row as the
// GEMM computes it, so the projected rows ([T·k, d]) are never written out
// and read back.
//
//===----------------------------------------------------------------------===//
#include "dialect/MoEOps.h"
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEFUSECOMBINE
#include "passes/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

struct FuseDownProjectionIntoCombine : OpRewritePattern<CombineOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(CombineOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getDown())
      return rewriter.notifyMatchFailure(op, "already fused");
    auto down = op.getExpertOut().getDefiningOp<GroupedMatmulOp>();
    // A plain grouped projection in f32 (no rounding the combine would
    // not see), used only here.
    if (!down || !down.getOffsets() || down.getRows() || down.getUp() ||
        down.getActivation() || !down->hasOneUse() ||
        !cast<RankedTensorType>(down.getType()).getElementType().isF32())
      return rewriter.notifyMatchFailure(
          op, "expert_out is not a single-use plain grouped f32 GEMM");
    // moe.combine's down is a float weight (C6): block-quantized experts
    // keep their down projection apart.
    if (getQuantizedElementType(down.getWeight().getType()))
      return rewriter.notifyMatchFailure(op, "down's weight is quantized");
    auto fused = CombineOp::create(
        rewriter, op.getLoc(), op.getType(), down.getInput(), op.getWeights(),
        op.getInverse(), op.getShared(), op.getSharedGateLogits(),
        down.getWeight(), down.getOffsets(), down.getBias(),
        op.getUnweighted());
    rewriter.replaceOp(op, fused.getResult());
    rewriter.eraseOp(down);
    return success();
  }
};

struct MoEFuseCombinePass : moe::impl::MoEFuseCombineBase<MoEFuseCombinePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMoEFuseCombinePatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace

void mlir::moe::populateMoEFuseCombinePatterns(RewritePatternSet &patterns) {
  patterns.add<FuseDownProjectionIntoCombine>(patterns.getContext());
}
