//===- CombineToKernels.cpp - a fused down projection on the CPU ---------===//
//
// moe.combine with a fused down projection (moe-fuse-combine), claimed by
// moe-cpu-select-kernels: the expert rows' down projection is never built.
// An scf.forall over column tiles of the output runs the dot-product kernel
// over every expert's rows in turn, and its epilogue adds each product row,
// scaled by its routing weight, to its token's row. Each item owns its
// columns, so the scatter needs no atomics. The shared expert is added as
// convert-moe-to-linalg adds it.
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/ContractionKernel.h"
#include "codegen/cpu/Passes.h"
#include "codegen/linalg/LoweringUtils.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

/// For every expert row p = inverse[t, j]: its token t and routing weight
/// w[t, j], or 1 when `unweighted` (rows no slot names keep token 0 and
/// weight 0).
std::pair<Value, Value> rowTargets(OpBuilder &b, Location loc, Value weights,
                                   Value inverse, Value rowCount,
                                   bool unweighted) {
  Type f32 = b.getF32Type();
  Value tokens0 = filledTensor(b, loc, {rowCount}, b.getIndexType(),
                               arith::ConstantIndexOp::create(b, loc, 0));
  Value scales0 =
      filledTensor(b, loc, {rowCount}, f32, floatConst(b, loc, f32, 0.0));
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value t = tensor::DimOp::create(b, loc, weights, 0);
  Value k = tensor::DimOp::create(b, loc, weights, 1);
  auto outer = scf::ForOp::create(
      b, loc, zero, t, one, ValueRange{tokens0, scales0},
      [&](OpBuilder &ob, Location ol, Value ti, ValueRange tIter) {
        auto inner = scf::ForOp::create(
            ob, ol, zero, k, one, tIter,
            [&](OpBuilder &ib, Location il, Value j, ValueRange iter) {
              Value p = toIndex(ib, il,
                                tensor::ExtractOp::create(ib, il, inverse,
                                                          ValueRange{ti, j}));
              Value w = unweighted
                            ? floatConst(ib, il, f32, 1.0)
                            : castFloat(ib, il,
                                        tensor::ExtractOp::create(
                                            ib, il, weights, ValueRange{ti, j}),
                                        f32);
              Value tokens =
                  tensor::InsertOp::create(ib, il, ti, iter[0], ValueRange{p});
              Value scales =
                  tensor::InsertOp::create(ib, il, w, iter[1], ValueRange{p});
              scf::YieldOp::create(ib, il, ValueRange{tokens, scales});
            });
        scf::YieldOp::create(ob, ol, inner.getResults());
      });
  return {outer.getResult(0), outer.getResult(1)};
}

/// Σ_j w[t, j] · (h[p] · down[g(p)]ᵀ + bias[g(p)]) with p = inverse[t, j],
/// as an f32 [T, d] tensor, without materializing the projection.
Value routedThroughDown(OpBuilder &b, Location loc, CombineOp op,
                        const ContractionKernel &kernel) {
  Type f32 = b.getF32Type();
  Value h = op.getExpertOut(), down = op.getDown();
  Value offsets = op.getDownOffsets(), bias = op.getDownBias();
  auto downType = cast<RankedTensorType>(down.getType());
  int64_t groups = downType.getDimSize(0), d = downType.getDimSize(1),
          f = downType.getDimSize(2);
  Value rowCount = tensor::DimOp::create(b, loc, h, 0);
  std::pair<Value, Value> targets = rowTargets(
      b, loc, op.getWeights(), op.getInverse(), rowCount, op.getUnweighted());
  Value tokens = targets.first, scales = targets.second;
  Value t = tensor::DimOp::create(b, loc, op.getWeights(), 0);
  Value out = filledTensor(b, loc, {t, b.getIndexAttr(d)}, f32,
                           floatConst(b, loc, f32, 0.0));
  // Items own column tiles; at least 16 of them, so two or more threads
  // balance although every item walks all experts.
  KernelWeight downW = kernelWeight(down);
  int64_t cols = weightTileRows(d, downW.rowBytes(f), 1, kernel);
  int64_t even = (d + 15) / 16;
  even = (even + kernel.colBlock - 1) / kernel.colBlock * kernel.colBlock;
  cols = std::max<int64_t>(std::min(cols, even), 1);
  int64_t tiles = (d + cols - 1) / cols;
  bool roundRows = roundsRowsToBf16(kernel, down, h);
  bool int8 = usesInt8Rows(kernel, downW.quant, f);

  auto forall = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(tiles)}, ValueRange{out},
      std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  Value item = forall.getInductionVars()[0];
  Value shared = forall.getRegionIterArgs()[0];
  Value colsV = arith::ConstantIndexOp::create(b, loc, cols);
  Value n0 = arith::MulIOp::create(b, loc, item, colsV);
  Value size = arith::MinUIOp::create(
      b, loc, colsV,
      arith::SubIOp::create(b, loc, arith::ConstantIndexOp::create(b, loc, d),
                            n0));
  OpFoldResult z = b.getIndexAttr(0), u = b.getIndexAttr(1);
  SmallVector<OpFoldResult> at = {z, n0}, extent = {t, size}, strides = {u, u};
  Value dest =
      tensor::ExtractSliceOp::create(b, loc, shared, at, extent, strides);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto perGroup = scf::ForOp::create(
      b, loc, zero, arith::ConstantIndexOp::create(b, loc, groups), one,
      ValueRange{dest},
      [&](OpBuilder &nb, Location nl, Value g, ValueRange iter) {
        auto [lo, count] = groupRows(nb, nl, offsets, g);
        ContractionOperands operands;
        operands.a = h;
        operands.rowBase = lo;
        operands.numRows = count;
        operands.w = groupSlice(nb, nl, downW.tensor, g);
        operands.quant = downW.quant;
        operands.bias = groupSlice(nb, nl, bias, g);
        operands.colBase = n0;
        operands.numCols = size;
        operands.outputs = d;
        operands.scatterRows = tokens;
        operands.rowScale = scales;
        operands.scatterBase = lo;
        if (roundRows) {
          operands.a = bf16Rows(nb, nl, h, Value(), lo, count, f);
          operands.rowBase = zero;
        }
        if (int8) {
          operands.int8 = int8Rows(nb, nl, h, Value(), lo, count, f,
                                   int8RowsInHalves(downW.quant));
          operands.rowBase = zero;
        }
        Value next = emitContraction(nb, nl, operands, iter[0], kernel);
        scf::YieldOp::create(nb, nl, next);
      });
  b.setInsertionPointToStart(forall.getTerminator().getBody());
  tensor::ParallelInsertSliceOp::create(b, loc, perGroup.getResult(0), shared,
                                        at, extent, strides);
  return forall.getResult(0);
}

struct CombineToKernels : OpRewritePattern<CombineOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(CombineOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<std::optional<CpuKernelConfig>> config = readKernelConfig(op);
    if (failed(config) || !*config || !op.getDown())
      return rewriter.notifyMatchFailure(op, "no CPU moe.kernel");
    if (!kernelWeight(op.getDown()).tensor)
      return rewriter.notifyMatchFailure(op, "quantized weight not retyped");
    Value routed = routedThroughDown(rewriter, op.getLoc(), op,
                                     contractionKernelFor(**config));
    replaceWithResultTypes(rewriter, op,
                           finishCombine(rewriter, op.getLoc(), op, routed));
    return success();
  }
};

} // namespace

void mlir::moe::populateCombineToCpuKernelsPatterns(
    RewritePatternSet &patterns) {
  patterns.add<CombineToKernels>(patterns.getContext());
}
