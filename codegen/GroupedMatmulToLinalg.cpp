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

/// The weight rows of one tile: a tile (rows x K) stays in a 1 MiB L2 while
/// every input row of the group streams past it, instead of each input row
/// re-reading the whole weight matrix from L3 or DRAM.
constexpr int64_t kWeightTileBytes = 512 * 1024;

/// contractRows over tiles of the weight's rows (the N dimension) when the
/// weight is larger than a tile; the same result.
Value tiledContractRows(OpBuilder &b, Location loc, Value a, Value w,
                        Value bias, Type resultElt) {
  auto wType = cast<RankedTensorType>(w.getType());
  int64_t n = wType.getDimSize(0), k = wType.getDimSize(1);
  if (ShapedType::isDynamic(n) || ShapedType::isDynamic(k))
    return contractRows(b, loc, a, w, bias, resultElt);
  int64_t eltBytes = std::max<int64_t>(wType.getElementTypeBitWidth() / 8, 1);
  int64_t rows =
      std::max<int64_t>(16, kWeightTileBytes / (k * eltBytes) / 16 * 16);
  if (rows >= n)
    return contractRows(b, loc, a, w, bias, resultElt);
  OpFoldResult m = sizesOf(b, loc, a)[0];
  Value init = emptyTensor(b, loc, {m, b.getIndexAttr(n)}, resultElt);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value step = arith::ConstantIndexOp::create(b, loc, rows);
  Value total = arith::ConstantIndexOp::create(b, loc, n);
  auto loop = scf::ForOp::create(
      b, loc, zero, total, step, ValueRange{init},
      [&](OpBuilder &nb, Location nl, Value n0, ValueRange iter) {
        Value left = arith::SubIOp::create(nb, nl, total, n0);
        Value size = arith::MinSIOp::create(nb, nl, step, left);
        OpFoldResult z = nb.getIndexAttr(0), one = nb.getIndexAttr(1);
        Value wt = tensor::ExtractSliceOp::create(
            nb, nl, w, ArrayRef<OpFoldResult>{n0, z},
            ArrayRef<OpFoldResult>{size, nb.getIndexAttr(k)},
            ArrayRef<OpFoldResult>{one, one});
        Value bt;
        if (bias)
          bt = tensor::ExtractSliceOp::create(
              nb, nl, bias, ArrayRef<OpFoldResult>{n0},
              ArrayRef<OpFoldResult>{size}, ArrayRef<OpFoldResult>{one});
        Value tile = contractRows(nb, nl, a, wt, bt, resultElt);
        Value out = tensor::InsertSliceOp::create(
            nb, nl, tile, iter[0], ArrayRef<OpFoldResult>{z, n0},
            ArrayRef<OpFoldResult>{m, size}, ArrayRef<OpFoldResult>{one, one});
        scf::YieldOp::create(nb, nl, out);
      });
  return loop.getResult(0);
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
      return finish(tiledContractRows(b, loc, input, weight, bias, elt));

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
      Value tile = tiledContractRows(b, nl, a, w, bslice, elt);
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
