//===- GroupedMatmulToLinalg.cpp - moe.grouped_matmul to linalg -----------===//
//
// Each group (expert) is a contraction of its row slice with its weight
// matrix, accumulated in f32 from weights and inputs of any float type. The
// groups write disjoint row ranges, so they are the iterations of one
// scf.forall; rows outside every group keep the zero fill.
//
//===----------------------------------------------------------------------===//
#include "codegen/LoweringUtils.h"
#include "codegen/Passes.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

/// out[m, n] = Σ_k a[m, k] · w[n, k] + bias[n] in f32, then converted to
/// `resultElt`. `a` is [M, K], `w` [N, K], `bias` [N] or null.
Value contractRows(OpBuilder &b, Location loc, Value a, Value w, Value bias,
                   Type resultElt) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  SmallVector<OpFoldResult> sizes = {sizesOf(b, loc, a)[0],
                                     sizesOf(b, loc, w)[0]};
  Value acc;
  if (bias) {
    Value init = emptyTensor(b, loc, sizes, f32);
    acc = linalg::GenericOp::create(
              b, loc, init.getType(), ValueRange{bias}, ValueRange{init},
              {dimsMap(ctx, 2, {1}), dimsMap(ctx, 2, {0, 1})}, iterators(2),
              [&](OpBuilder &nb, Location nl, ValueRange args) {
                linalg::YieldOp::create(
                    nb, nl, castFloat(nb, nl, args[0], nb.getF32Type()));
              })
              .getResult(0);
  } else {
    acc = filledTensor(b, loc, sizes, f32, floatConst(b, loc, f32, 0.0));
  }
  Value product =
      linalg::GenericOp::create(
          b, loc, acc.getType(), ValueRange{a, w}, ValueRange{acc},
          {dimsMap(ctx, 3, {0, 2}), dimsMap(ctx, 3, {1, 2}),
           dimsMap(ctx, 3, {0, 1})},
          iterators(2, 1),
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Type t = nb.getF32Type();
            Value x = castFloat(nb, nl, args[0], t);
            Value y = castFloat(nb, nl, args[1], t);
            // Reassociable and contractible: the k loop may be split into
            // vector lanes and fused into FMAs (summation order is free in
            // the op's semantics, f32 accumulation is kept).
            auto fm = arith::FastMathFlagsAttr::get(
                nb.getContext(),
                arith::FastMathFlags::reassoc | arith::FastMathFlags::contract);
            Value p = arith::MulFOp::create(nb, nl, x, y, fm);
            linalg::YieldOp::create(
                nb, nl,
                ValueRange{arith::AddFOp::create(nb, nl, args[2], p, fm)});
          })
          .getResult(0);
  if (resultElt == f32)
    return product;
  return elementwise(b, loc, product, resultElt,
                     [&](OpBuilder &nb, Location nl, ValueRange args) {
                       return castFloat(nb, nl, args[0], resultElt);
                     });
}

struct GroupedMatmulToLinalg : OpRewritePattern<GroupedMatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GroupedMatmulOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Type elt = resultType.getElementType();
    Value input = op.getInput(), weight = op.getWeight();
    Value offsets = op.getOffsets(), bias = op.getBias();

    auto finish = [&](Value v) {
      replaceWithResultTypes(rewriter, op, v);
      return success();
    };
    if (!offsets)
      return finish(contractRows(b, loc, input, weight, bias, elt));

    auto weightType = cast<RankedTensorType>(weight.getType());
    SmallVector<OpFoldResult> wSizes = sizesOf(b, loc, weight);
    SmallVector<OpFoldResult> inSizes = sizesOf(b, loc, input);
    SmallVector<OpFoldResult> outSizes = {inSizes[0], wSizes[1]};
    Value zero = floatConst(b, loc, elt, 0.0);
    Value init = filledTensor(b, loc, outSizes, elt, zero);
    OpFoldResult groups = wSizes[0];
    Value one = arith::ConstantIndexOp::create(b, loc, 1);

    auto forall = scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{groups},
                                        ValueRange{init}, std::nullopt);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(forall.getBody());
      Location nl = loc;
      Value e = forall.getInductionVars()[0];
      Value out = forall.getRegionIterArgs()[0];
      Value lo = toIndex(b, nl, tensor::ExtractOp::create(b, nl, offsets, e));
      Value e1 = arith::AddIOp::create(b, nl, e, one);
      Value hi = toIndex(b, nl, tensor::ExtractOp::create(b, nl, offsets, e1));
      Value rows = arith::SubIOp::create(b, nl, hi, lo);
      OpFoldResult z = b.getIndexAttr(0), u = b.getIndexAttr(1);
      Value a = tensor::ExtractSliceOp::create(
          b, nl, input, ArrayRef<OpFoldResult>{lo, z},
          ArrayRef<OpFoldResult>{rows, inSizes[1]},
          ArrayRef<OpFoldResult>{u, u});
      auto wSliceType = RankedTensorType::get(
          weightType.getShape().drop_front(), weightType.getElementType());
      Value w = tensor::ExtractSliceOp::create(
          b, nl, wSliceType, weight, ArrayRef<OpFoldResult>{e, z, z},
          ArrayRef<OpFoldResult>{u, wSizes[1], wSizes[2]},
          ArrayRef<OpFoldResult>{u, u, u});
      Value bslice;
      if (bias) {
        auto biasType = cast<RankedTensorType>(bias.getType());
        bslice = tensor::ExtractSliceOp::create(
            b, nl,
            RankedTensorType::get(biasType.getShape().drop_front(),
                                  biasType.getElementType()),
            bias, ArrayRef<OpFoldResult>{e, z},
            ArrayRef<OpFoldResult>{u, wSizes[1]}, ArrayRef<OpFoldResult>{u, u});
      }
      Value tile = contractRows(b, nl, a, w, bslice, elt);
      b.setInsertionPointToStart(forall.getTerminator().getBody());
      tensor::ParallelInsertSliceOp::create(
          b, nl, tile, out, ArrayRef<OpFoldResult>{lo, z},
          ArrayRef<OpFoldResult>{rows, wSizes[1]},
          ArrayRef<OpFoldResult>{u, u});
    }
    return finish(forall.getResult(0));
  }
};

} // namespace

void mlir::moe::populateGroupedMatmulToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<GroupedMatmulToLinalg>(patterns.getContext());
}
