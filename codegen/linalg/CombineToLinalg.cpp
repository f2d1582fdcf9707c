//===- CombineToLinalg.cpp - moe.combine to linalg.generic ----------------===//
//
// out[t, c] = Σ_j w[t, j] · y[inverse[t, j], c]  (+ σ(g[t]) · shared[t, c])
// (w = 1 when unweighted) as one reduction generic over (t, c, j) reading the
// expert rows through tensor.extract, accumulated in f32, then converted to the
// result type.
//
// With a fused down projection (moe-fuse-combine), y[p, c] is
// Σ_k h[p, k] · down[group(p), c, k] + bias[group(p), c], computed inside
// the reduction, which then runs over (t, c, j, k): the projection of the
// expert rows is never built.
//
//===----------------------------------------------------------------------===//
#include "codegen/linalg/LoweringUtils.h"
#include "codegen/linalg/Passes.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

/// Σ_j w[t, j] · (h[p] · down[g(p)]ᵀ + bias[g(p)]) with p = inverse[t, j],
/// as an f32 [T, d] tensor.
Value routedThroughDown(OpBuilder &b, Location loc, CombineOp op, Value zeros) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  Value h = op.getExpertOut(), down = op.getDown();
  Value offsets = op.getDownOffsets(), bias = op.getDownBias();
  auto downType = cast<RankedTensorType>(down.getType());
  int64_t groups = downType.getDimSize(0);
  Value rowCount = tensor::DimOp::create(b, loc, h, 0);
  Value rowGroups = groupOfRows(b, loc, offsets, rowCount);
  Value kExtent =
      emptyTensor(b, loc, {tensor::getMixedSize(b, loc, down, 2)}, f32);
  return linalg::GenericOp::create(
             b, loc, zeros.getType(),
             ValueRange{op.getWeights(), op.getInverse(), kExtent},
             ValueRange{zeros},
             {dimsMap(ctx, 4, {0, 2}), dimsMap(ctx, 4, {0, 2}),
              dimsMap(ctx, 4, {3}), dimsMap(ctx, 4, {0, 1})},
             iterators(2, 2),
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Value c = linalg::IndexOp::create(nb, nl, 1);
               Value kk = linalg::IndexOp::create(nb, nl, 3);
               Value p = toIndex(nb, nl, args[1]);
               Value g = tensor::ExtractOp::create(nb, nl, rowGroups, p);
               Value gLast = arith::MinUIOp::create(
                   nb, nl, g,
                   arith::ConstantIndexOp::create(nb, nl, groups - 1));
               Value w = op.getUnweighted() ? floatConst(nb, nl, f32, 1)
                                            : castFloat(nb, nl, args[0], f32);
               Value hv = castFloat(
                   nb, nl,
                   tensor::ExtractOp::create(nb, nl, h, ValueRange{p, kk}),
                   f32);
               Value dv = castFloat(nb, nl,
                                    tensor::ExtractOp::create(
                                        nb, nl, down, ValueRange{gLast, c, kk}),
                                    f32);
               Value y = arith::MulFOp::create(nb, nl, hv, dv);
               if (bias) {
                 // The bias once per slot: with the first k.
                 Value bv = castFloat(nb, nl,
                                      tensor::ExtractOp::create(
                                          nb, nl, bias, ValueRange{gLast, c}),
                                      f32);
                 Value first = arith::CmpIOp::create(
                     nb, nl, arith::CmpIPredicate::eq, kk,
                     arith::ConstantIndexOp::create(nb, nl, 0));
                 y = arith::AddFOp::create(
                     nb, nl, y,
                     arith::SelectOp::create(nb, nl, first, bv,
                                             floatConst(nb, nl, f32, 0)));
               }
               // Rows outside every group contribute nothing.
               Value inside = insideGroups(nb, nl, offsets, p, g, groups);
               Value term = arith::SelectOp::create(
                   nb, nl, inside, arith::MulFOp::create(nb, nl, w, y),
                   floatConst(nb, nl, f32, 0));
               linalg::YieldOp::create(
                   nb, nl,
                   ValueRange{arith::AddFOp::create(nb, nl, args[3], term)});
             })
      .getResult(0);
}

struct CombineToLinalg : OpRewritePattern<CombineOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(CombineOp op,
                                PatternRewriter &rewriter) const override {
    if (op->hasAttr(kKernelAttrName))
      return rewriter.notifyMatchFailure(op, "claimed by a target's kernel");
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    MLIRContext *ctx = b.getContext();
    Type f32 = b.getF32Type();
    Value expertOut = op.getExpertOut();
    SmallVector<OpFoldResult> sizes = {sizesOf(b, loc, op.getWeights())[0],
                                       sizesOf(b, loc, expertOut)[1]};
    if (Value down = op.getDown())
      sizes[1] =
          b.getIndexAttr(cast<RankedTensorType>(down.getType()).getDimSize(1));
    Value zeros = filledTensor(b, loc, sizes, f32, floatConst(b, loc, f32, 0));
    Value routed =
        op.getDown()
            ? routedThroughDown(b, loc, op, zeros)
            : linalg::GenericOp::create(
                  b, loc, zeros.getType(),
                  ValueRange{op.getWeights(), op.getInverse()},
                  ValueRange{zeros},
                  {dimsMap(ctx, 3, {0, 2}), dimsMap(ctx, 3, {0, 2}),
                   dimsMap(ctx, 3, {0, 1})},
                  iterators(2, 1),
                  [&](OpBuilder &nb, Location nl, ValueRange args) {
                    Value row = toIndex(nb, nl, args[1]);
                    Value col = linalg::IndexOp::create(nb, nl, 1);
                    Value y = tensor::ExtractOp::create(nb, nl, expertOut,
                                                        ValueRange{row, col});
                    Value p = castFloat(nb, nl, y, nb.getF32Type());
                    if (!op.getUnweighted())
                      p = arith::MulFOp::create(
                          nb, nl, castFloat(nb, nl, args[0], nb.getF32Type()),
                          p);
                    linalg::YieldOp::create(
                        nb, nl,
                        ValueRange{arith::AddFOp::create(nb, nl, args[2], p)});
                  })
                  .getResult(0);
    replaceWithResultTypes(rewriter, op, finishCombine(b, loc, op, routed));
    return success();
  }
};

} // namespace

void mlir::moe::populateCombineToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<CombineToLinalg>(patterns.getContext());
}
