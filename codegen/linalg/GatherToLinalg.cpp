//===- GatherToLinalg.cpp - moe.gather to linalg.generic ------------------===//
#include "codegen/linalg/LoweringUtils.h"
#include "codegen/linalg/Passes.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

/// result[i, c] = input[rows[i], c]: a parallel generic whose body reads the
/// input row through tensor.extract (an indirect load after bufferization).
struct GatherToLinalg : OpRewritePattern<GatherOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GatherOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value input = op.getInput(), rows = op.getRows();
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    SmallVector<OpFoldResult> sizes = {sizesOf(rewriter, loc, rows)[0],
                                       sizesOf(rewriter, loc, input)[1]};
    Value init = emptyTensor(rewriter, loc, sizes, resultType.getElementType());
    auto generic = linalg::GenericOp::create(
        rewriter, loc, init.getType(), ValueRange{rows}, ValueRange{init},
        {dimsMap(ctx, 2, {0}), dimsMap(ctx, 2, {0, 1})}, iterators(2),
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value row = toIndex(b, l, args[0]);
          Value col = linalg::IndexOp::create(b, l, 1);
          Value v =
              tensor::ExtractOp::create(b, l, input, ValueRange{row, col});
          linalg::YieldOp::create(b, l, v);
        });
    replaceWithResultTypes(rewriter, op, generic.getResult(0));
    return success();
  }
};

} // namespace

void mlir::moe::populateGatherToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<GatherToLinalg>(patterns.getContext());
}
