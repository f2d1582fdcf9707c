//===- GroupedMatmulToLinalg.cpp - moe.grouped_matmul to linalg -----------===//
//
// The target-neutral form of a grouped GEMM, for any target and for the
// ones without a kernel of their own:
//
//   group[m]   = #{g < G : offsets[g + 1] <= m}           (with offsets)
//   gate[m, n] = Σ_k A(m)[k] · W[group[m], r(n), k]       (f32)
//   up[m, n]   = Σ_k A(m)[k] · U[group[m], r'(n), k]      (gated only)
//   out[m, n]  = inside(m) ? act(gate + bias, up + up_bias) : 0
//
// A(m) is input row m, or row rows[m] with a fused gather; r(n) and r'(n)
// are the gate's and up's weight rows of output column n (n, or 2n and
// 2n + 1 interleaved, or n and N + n concatenated with gate_up_layout).
// Weights and gathered rows are read through tensor.extract, since their
// index depends on data.
//
//===----------------------------------------------------------------------===//
#include "codegen/linalg/LoweringUtils.h"
#include "codegen/linalg/Passes.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

/// Σ_k A(m)[k] · w[group(m), row(n), k] in f32 as a [M, N] tensor, where
/// `row` maps an output column to the weight row.
Value contraction(OpBuilder &b, Location loc, GroupedMatmulOp op, Value w,
                  Value groups, OpFoldResult m, OpFoldResult n, OpFoldResult k,
                  function_ref<Value(OpBuilder &, Location, Value)> row) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  Value input = op.getInput(), rows = op.getRows();
  Value zeros = filledTensor(b, loc, {m, n}, f32, floatConst(b, loc, f32, 0));
  // (m, n, k): the row index (gathered) or the input row itself, an empty
  // [K] that gives the k loop its extent, and the row's group.
  SmallVector<Value> ins = {rows ? rows : input, emptyTensor(b, loc, {k}, f32)};
  SmallVector<AffineMap> maps = {rows ? dimsMap(ctx, 3, {0})
                                      : dimsMap(ctx, 3, {0, 2}),
                                 dimsMap(ctx, 3, {2})};
  if (groups) {
    ins.push_back(groups);
    maps.push_back(dimsMap(ctx, 3, {0}));
  }
  maps.push_back(dimsMap(ctx, 3, {0, 1}));
  auto wType = cast<RankedTensorType>(w.getType());
  int64_t numGroups = groups ? wType.getDimSize(0) : 0;
  return linalg::GenericOp::create(
             b, loc, zeros.getType(), ins, ValueRange{zeros}, maps,
             iterators(2, 1),
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Value kk = linalg::IndexOp::create(nb, nl, 2);
               Value nn = linalg::IndexOp::create(nb, nl, 1);
               Value a = rows ? tensor::ExtractOp::create(
                                    nb, nl, input,
                                    ValueRange{toIndex(nb, nl, args[0]), kk})
                              : args[0];
               SmallVector<Value> at;
               if (groups) {
                 // Rows outside every group read the last group's weight;
                 // the epilogue zeroes them.
                 Value last =
                     arith::ConstantIndexOp::create(nb, nl, numGroups - 1);
                 at.push_back(arith::MinUIOp::create(nb, nl, args[2], last));
               }
               at.push_back(row(nb, nl, nn));
               at.push_back(kk);
               Value wv = tensor::ExtractOp::create(nb, nl, w, at);
               Value p =
                   arith::MulFOp::create(nb, nl, castFloat(nb, nl, a, f32),
                                         castFloat(nb, nl, wv, f32));
               linalg::YieldOp::create(
                   nb, nl,
                   ValueRange{arith::AddFOp::create(nb, nl, args.back(), p)});
             })
      .getResult(0);
}

struct GroupedMatmulToLinalg : OpRewritePattern<GroupedMatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GroupedMatmulOp op,
                                PatternRewriter &rewriter) const override {
    if (op->hasAttr(kKernelAttrName))
      return rewriter.notifyMatchFailure(op, "claimed by a target's kernel");
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    MLIRContext *ctx = b.getContext();
    Type f32 = b.getF32Type();
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Type elt = resultType.getElementType();
    Value weight = op.getWeight(), offsets = op.getOffsets();
    Value bias = op.getBias(), up = op.getUp(), upBias = op.getUpBias();
    ActivationAttr activation = op.getActivationAttr();
    std::optional<GateUpLayout> layout = op.getGateUpLayout();
    bool gated = activation && activation.isGated();
    auto weightType = cast<RankedTensorType>(weight.getType());
    int64_t rank = weightType.getRank();

    Value m = tensor::DimOp::create(
        b, loc, op.getRows() ? op.getRows() : op.getInput(), 0);
    OpFoldResult weightRows = tensor::getMixedSize(b, loc, weight, rank - 2);
    OpFoldResult k = tensor::getMixedSize(b, loc, weight, rank - 1);
    OpFoldResult n = weightRows;
    if (layout) {
      int64_t rowsStatic = weightType.getDimSize(rank - 2);
      n = ShapedType::isDynamic(rowsStatic)
              ? OpFoldResult(arith::DivUIOp::create(
                    b, loc, cast<Value>(weightRows),
                    arith::ConstantIndexOp::create(b, loc, 2)))
              : OpFoldResult(b.getIndexAttr(rowsStatic / 2));
    }
    Value nValue = getValueOrCreateConstantIndexOp(b, loc, n);
    Value groups = offsets ? groupOfRows(b, loc, offsets, m) : Value();

    auto rowOf = [&](bool upRow) {
      return [&, upRow](OpBuilder &nb, Location nl, Value c) -> Value {
        if (!layout || !upRow) {
          if (layout == GateUpLayout::interleaved)
            return arith::MulIOp::create(
                nb, nl, c, arith::ConstantIndexOp::create(nb, nl, 2));
          return c;
        }
        if (*layout == GateUpLayout::interleaved)
          return arith::AddIOp::create(
              nb, nl,
              arith::MulIOp::create(nb, nl, c,
                                    arith::ConstantIndexOp::create(nb, nl, 2)),
              arith::ConstantIndexOp::create(nb, nl, 1));
        return arith::AddIOp::create(nb, nl, c, nValue);
      };
    };
    Value gate = contraction(b, loc, op, weight, groups, m, n, k, rowOf(false));
    Value upSums;
    if (gated)
      upSums = contraction(b, loc, op, up ? up : weight, groups, m, n, k,
                           rowOf(true));

    // Epilogue over (m, n): biases, activation, rows outside every group.
    SmallVector<Value> ins = {gate};
    SmallVector<AffineMap> maps = {dimsMap(ctx, 2, {0, 1})};
    if (upSums) {
      ins.push_back(upSums);
      maps.push_back(dimsMap(ctx, 2, {0, 1}));
    }
    if (groups) {
      ins.push_back(groups);
      maps.push_back(dimsMap(ctx, 2, {0}));
    }
    Value init = emptyTensor(b, loc, {m, n}, elt);
    maps.push_back(dimsMap(ctx, 2, {0, 1}));
    int64_t numGroups = offsets ? weightType.getDimSize(0) : 0;
    Value result =
        linalg::GenericOp::create(
            b, loc, init.getType(), ins, ValueRange{init}, maps, iterators(2),
            [&](OpBuilder &nb, Location nl, ValueRange args) {
              Value mm = linalg::IndexOp::create(nb, nl, 0);
              Value nn = linalg::IndexOp::create(nb, nl, 1);
              Value g;
              if (groups) {
                Value last =
                    arith::ConstantIndexOp::create(nb, nl, numGroups - 1);
                g = arith::MinUIOp::create(nb, nl, args[upSums ? 2 : 1], last);
              }
              // Bias of output column n, in the gate's (or up's) row of a
              // fused layout.
              auto biasOf = [&](Value full, Value col) -> Value {
                SmallVector<Value> at;
                if (g)
                  at.push_back(g);
                at.push_back(col);
                return castFloat(
                    nb, nl, tensor::ExtractOp::create(nb, nl, full, at), f32);
              };
              Value gv = args[0];
              Value uv = upSums ? args[1] : Value();
              if (bias) {
                gv = arith::AddFOp::create(
                    nb, nl, gv, biasOf(bias, rowOf(false)(nb, nl, nn)));
                if (uv)
                  uv = arith::AddFOp::create(
                      nb, nl, uv,
                      up ? biasOf(upBias, nn)
                         : biasOf(bias, rowOf(true)(nb, nl, nn)));
              }
              Value v = gv;
              if (activation)
                v = gated ? applyActivation(nb, nl, activation, gv, uv)
                          : applyActivation(nb, nl, activation, Value(), gv);
              if (groups) {
                Value inside = insideGroups(nb, nl, offsets, mm,
                                            args[upSums ? 2 : 1], numGroups);
                v = arith::SelectOp::create(nb, nl, inside, v,
                                            floatConst(nb, nl, f32, 0));
              }
              linalg::YieldOp::create(nb, nl, castFloat(nb, nl, v, elt));
            })
            .getResult(0);
    replaceWithResultTypes(rewriter, op, result);
    return success();
  }
};

} // namespace

void mlir::moe::populateGroupedMatmulToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<GroupedMatmulToLinalg>(patterns.getContext());
}
