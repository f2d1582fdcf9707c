//===- GatherToLinalg.cpp - moe.gather to linalg.generic ------------------===//
#include "codegen/linalg/LoweringUtils.h"
#include "codegen/linalg/Passes.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

/// s[p] = Σ_j [inverse[t, j] == p] · weights[t, j] with t = rows[p]: the
/// routing weight of the assignment row p holds, as an f32 [P] tensor (a
/// reduction over the k slots of its token).
Value rowScales(OpBuilder &b, Location loc, GatherOp op) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  Value weights = op.getWeights(), inverse = op.getInverse();
  Value zeros = filledTensor(b, loc, {sizesOf(b, loc, op.getRows())[0]}, f32,
                             floatConst(b, loc, f32, 0));
  Value slots = emptyTensor(b, loc, {sizesOf(b, loc, weights)[1]}, f32);
  return linalg::GenericOp::create(
             b, loc, zeros.getType(), ValueRange{op.getRows(), slots},
             ValueRange{zeros},
             {dimsMap(ctx, 2, {0}), dimsMap(ctx, 2, {1}), dimsMap(ctx, 2, {0})},
             iterators(1, 1),
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Value t = toIndex(nb, nl, args[0]);
               Value p = linalg::IndexOp::create(nb, nl, 0);
               Value j = linalg::IndexOp::create(nb, nl, 1);
               Value slot = toIndex(nb, nl,
                                    tensor::ExtractOp::create(
                                        nb, nl, inverse, ValueRange{t, j}));
               Value w = castFloat(
                   nb, nl,
                   tensor::ExtractOp::create(nb, nl, weights, ValueRange{t, j}),
                   f32);
               Value mine = arith::CmpIOp::create(
                   nb, nl, arith::CmpIPredicate::eq, slot, p);
               Value term = arith::SelectOp::create(nb, nl, mine, w,
                                                    floatConst(nb, nl, f32, 0));
               linalg::YieldOp::create(
                   nb, nl,
                   ValueRange{arith::AddFOp::create(nb, nl, args[2], term)});
             })
      .getResult(0);
}

/// result[i, c] = input[rows[i], c]: a parallel generic whose body reads the
/// input row through tensor.extract (an indirect load after bufferization).
/// With scales, the row is multiplied by its weight in f32 and rounded to
/// the result type.
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
    Type elementType = resultType.getElementType();
    Value init = emptyTensor(rewriter, loc, sizes, elementType);
    SmallVector<Value> inputs = {rows};
    SmallVector<AffineMap> maps = {dimsMap(ctx, 2, {0})};
    if (op.getWeights()) {
      inputs.push_back(rowScales(rewriter, loc, op));
      maps.push_back(dimsMap(ctx, 2, {0}));
    }
    maps.push_back(dimsMap(ctx, 2, {0, 1}));
    auto generic = linalg::GenericOp::create(
        rewriter, loc, init.getType(), inputs, ValueRange{init}, maps,
        iterators(2), [&](OpBuilder &b, Location l, ValueRange args) {
          Value row = toIndex(b, l, args[0]);
          Value col = linalg::IndexOp::create(b, l, 1);
          Value v =
              tensor::ExtractOp::create(b, l, input, ValueRange{row, col});
          if (inputs.size() > 1)
            v = castFloat(
                b, l,
                arith::MulFOp::create(b, l, castFloat(b, l, v, b.getF32Type()),
                                      args[1]),
                elementType);
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
