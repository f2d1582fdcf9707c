//===- CombineToLinalg.cpp - moe.combine to linalg.generic ----------------===//
//
// out[t, c] = Σ_j w[t, j] · y[inverse[t, j], c]  (+ σ(g[t]) · shared[t, c])
// as one reduction generic over (t, c, j) reading the expert rows through
// tensor.extract, accumulated in f32, then converted to the result type.
//
//===----------------------------------------------------------------------===//
#include "codegen/LoweringUtils.h"
#include "codegen/Passes.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

struct CombineToLinalg : OpRewritePattern<CombineOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(CombineOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    MLIRContext *ctx = b.getContext();
    Type f32 = b.getF32Type();
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Value expertOut = op.getExpertOut();
    SmallVector<OpFoldResult> sizes = {sizesOf(b, loc, op.getWeights())[0],
                                       sizesOf(b, loc, expertOut)[1]};
    Value zeros = filledTensor(b, loc, sizes, f32, floatConst(b, loc, f32, 0));
    Value routed =
        linalg::GenericOp::create(
            b, loc, zeros.getType(),
            ValueRange{op.getWeights(), op.getInverse()}, ValueRange{zeros},
            {dimsMap(ctx, 3, {0, 2}), dimsMap(ctx, 3, {0, 2}),
             dimsMap(ctx, 3, {0, 1})},
            iterators(2, 1),
            [&](OpBuilder &nb, Location nl, ValueRange args) {
              Value row = toIndex(nb, nl, args[1]);
              Value col = linalg::IndexOp::create(nb, nl, 1);
              Value y = tensor::ExtractOp::create(nb, nl, expertOut,
                                                  ValueRange{row, col});
              Value w = castFloat(nb, nl, args[0], nb.getF32Type());
              Value p = arith::MulFOp::create(
                  nb, nl, w, castFloat(nb, nl, y, nb.getF32Type()));
              linalg::YieldOp::create(
                  nb, nl,
                  ValueRange{arith::AddFOp::create(nb, nl, args[2], p)});
            })
            .getResult(0);

    Value shared = op.getShared(), gate = op.getSharedGateLogits();
    SmallVector<Value> ins = {routed};
    SmallVector<AffineMap> maps = {dimsMap(ctx, 2, {0, 1})};
    if (shared) {
      ins.push_back(shared);
      maps.push_back(dimsMap(ctx, 2, {0, 1}));
    }
    if (gate) {
      ins.push_back(gate);
      // [T, 1]: the same gate for every column.
      maps.push_back(AffineMap::get(
          2, 0, {getAffineDimExpr(0, ctx), getAffineConstantExpr(0, ctx)},
          ctx));
    }
    Type elt = resultType.getElementType();
    Value result = routed;
    if (shared || elt != f32) {
      Value init = emptyTensor(b, loc, sizes, elt);
      maps.push_back(dimsMap(ctx, 2, {0, 1}));
      result =
          linalg::GenericOp::create(
              b, loc, init.getType(), ins, ValueRange{init}, maps, iterators(2),
              [&](OpBuilder &nb, Location nl, ValueRange args) {
                Type t = nb.getF32Type();
                Value acc = args[0];
                if (shared) {
                  Value s = castFloat(nb, nl, args[1], t);
                  if (gate)
                    s = arith::MulFOp::create(
                        nb, nl, s,
                        sigmoid(nb, nl, castFloat(nb, nl, args[2], t)));
                  acc = arith::AddFOp::create(nb, nl, acc, s);
                }
                linalg::YieldOp::create(nb, nl, castFloat(nb, nl, acc, elt));
              })
              .getResult(0);
    }
    replaceWithResultTypes(rewriter, op, result);
    return success();
  }
};

} // namespace

void mlir::moe::populateCombineToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<CombineToLinalg>(patterns.getContext());
}
