//===- FuseDispatch.cpp - the moe-fuse-dispatch pass ----------------------===//
//
// A grouped GEMM over gathered rows reads the rows through the gather's
// indices instead: the permuted copy of the tokens ([T·k, d], the largest
// scratch buffer of a layer) is never written, and each expert's kernel
// loads its token rows straight from the hidden states.
//
//===----------------------------------------------------------------------===//
#include "dialect/MoEOps.h"
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEFUSEDISPATCH
#include "passes/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

struct FuseGatherIntoGroupedMatmul : OpRewritePattern<GroupedMatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GroupedMatmulOp op,
                                PatternRewriter &rewriter) const override {
    auto gather = op.getInput().getDefiningOp<GatherOp>();
    if (!gather)
      return rewriter.notifyMatchFailure(op, "input is not a moe.gather");
    if (gather.getWeights())
      return rewriter.notifyMatchFailure(op, "the gather scales its rows");
    if (op.getRows())
      return rewriter.notifyMatchFailure(op, "already gathers its rows");
    rewriter.modifyOpInPlace(op, [&] {
      op.getInputMutable().assign(gather.getInput());
      op.getRowsMutable().assign(gather.getRows());
    });
    return success();
  }
};

struct MoEFuseDispatchPass
    : moe::impl::MoEFuseDispatchBase<MoEFuseDispatchPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMoEFuseDispatchPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace

void mlir::moe::populateMoEFuseDispatchPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseGatherIntoGroupedMatmul>(patterns.getContext());
}
