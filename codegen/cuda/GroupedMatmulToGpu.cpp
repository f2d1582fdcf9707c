//===- GroupedMatmulToGpu.cpp - moe.grouped_matmul as a GPU kernel
//---------===//
//
// The SIMT form of the grouped GEMM: one thread per element of the result
// [M, N], consecutive threads on consecutive columns of a row (the row's
// inputs are shared, the weight rows they read are K apart). A row finds
// its group by a binary search of the offsets, ceil(log2(G + 1)) steps of
// selects; rows outside every group are zero. The k loop accumulates in
// f32 (the result type if wider), the bias is added once, and the sum is
// rounded once to the result type.
//
// This is the kernel the tests check the grouping and indexing of on the
// CPU; the tensor-core kernels replace its inner loop, not its indexing.
//
//===----------------------------------------------------------------------===//
#include "codegen/cuda/KernelBuilder.h"
#include "codegen/cuda/Passes.h"
#include "codegen/linalg/LoweringUtils.h"
#include "dialect/MoEOps.h"

#include "mlir/IR/PatternMatch.h"

#include "llvm/Support/MathExtras.h"

#include <tuple>

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::gpu_kernels;

namespace {

/// #{g in [1, G] : offsets[g] <= row}, by binary search over the
/// non-decreasing offsets [G + 1]: the row's group, G past the last one.
Value groupOf(OpBuilder &b, Location loc, Value offsets, Value row,
              int64_t groups) {
  Value lo = indexConst(b, loc, 0), hi = indexConst(b, loc, groups);
  Value one = indexConst(b, loc, 1), last = indexConst(b, loc, groups);
  int64_t steps = llvm::Log2_64_Ceil(static_cast<uint64_t>(groups) + 1);
  for (int64_t s = 0; s < steps; ++s) {
    Value active =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, lo, hi);
    Value mid = arith::DivUIOp::create(
        b, loc, arith::AddIOp::create(b, loc, lo, hi), indexConst(b, loc, 2));
    Value next = arith::AddIOp::create(b, loc, mid, one);
    // In bounds even when the search is done (lo == hi == G).
    Value at = arith::MinUIOp::create(b, loc, next, last);
    Value bound =
        moe::toIndex(b, loc, memref::LoadOp::create(b, loc, offsets, at));
    Value below =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, bound, row);
    Value up = arith::AndIOp::create(b, loc, active, below);
    Value down = arith::AndIOp::create(
        b, loc, active,
        arith::XOrIOp::create(
            b, loc, below,
            arith::ConstantOp::create(b, loc, b.getBoolAttr(true))));
    lo = arith::SelectOp::create(b, loc, up, next, lo);
    hi = arith::SelectOp::create(b, loc, down, mid, hi);
  }
  return lo;
}

struct GroupedMatmulToGpu : OpRewritePattern<GroupedMatmulOp> {
  GroupedMatmulToGpu(MLIRContext *ctx, const GpuKernelShape &shape)
      : OpRewritePattern(ctx), shape(shape) {}

  LogicalResult matchAndRewrite(GroupedMatmulOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getRows() || op.getUp() || op.getActivation() ||
        op.getGateUpLayout())
      return rewriter.notifyMatchFailure(op,
                                         "fused forms: checked by the pass");
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Type outType = resultType.getElementType();
    Type accType =
        outType.getIntOrFloatBitWidth() > 32 ? outType : b.getF32Type();
    Value input = toBuffer(b, loc, op.getInput());
    Value weight = toBuffer(b, loc, op.getWeight());
    Value offsets =
        op.getOffsets() ? toBuffer(b, loc, op.getOffsets()) : Value();
    Value bias = op.getBias() ? toBuffer(b, loc, op.getBias()) : Value();
    auto weightType = cast<MemRefType>(weight.getType());
    int64_t groups = offsets ? weightType.getDimSize(0) : 0;
    unsigned nDim = offsets ? 1 : 0;
    Value rowCount = memref::DimOp::create(b, loc, input, 0);
    Value depth = memref::DimOp::create(b, loc, input, 1);
    Value columns = memref::DimOp::create(b, loc, weight, nDim);
    Value result = allocLike(b, loc, resultType, {rowCount, columns});
    Value items = arith::MulIOp::create(b, loc, rowCount, columns);

    buildItemKernel(
        b, loc, "gemm", items, shape.threadsPerProgram,
        [&](OpBuilder &nb, Location nl, Value item) {
          Value m, n;
          std::tie(m, n) = rowAndColumn(nb, nl, item, columns);
          auto load = [&](OpBuilder &lb, Location ll, Value buffer,
                          ValueRange idx) {
            return castFloat(
                lb, ll, memref::LoadOp::create(lb, ll, buffer, idx), accType);
          };
          // The dot product of row m with weight row n of group g (or of
          // the only weight), plus the bias.
          auto dot = [&](OpBuilder &db, Location dl, Value g) -> Value {
            Value zero = arith::ConstantOp::create(
                db, dl, db.getFloatAttr(accType, 0.0));
            auto loop = scf::ForOp::create(
                db, dl, indexConst(db, dl, 0), depth, indexConst(db, dl, 1),
                ValueRange{zero},
                [&](OpBuilder &lb, Location ll, Value k, ValueRange acc) {
                  Value x = load(lb, ll, input, {m, k});
                  Value w = g ? load(lb, ll, weight, {g, n, k})
                              : load(lb, ll, weight, {n, k});
                  Value sum = arith::AddFOp::create(
                      lb, ll, acc[0], arith::MulFOp::create(lb, ll, x, w));
                  scf::YieldOp::create(lb, ll, ValueRange{sum});
                });
            Value sum = loop.getResult(0);
            if (bias) {
              Value bv =
                  g ? load(db, dl, bias, {g, n}) : load(db, dl, bias, {n});
              sum = arith::AddFOp::create(db, dl, sum, bv);
            }
            return sum;
          };
          Value value;
          if (!offsets) {
            value = dot(nb, nl, Value());
          } else {
            Value g = groupOf(nb, nl, offsets, m, groups);
            Value first = moe::toIndex(
                nb, nl,
                memref::LoadOp::create(nb, nl, offsets, indexConst(nb, nl, 0)));
            Value inside = arith::AndIOp::create(
                nb, nl,
                arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ule, first,
                                      m),
                arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ult, g,
                                      indexConst(nb, nl, groups)));
            auto branch = scf::IfOp::create(nb, nl, TypeRange{accType}, inside,
                                            /*withElseRegion=*/true);
            {
              OpBuilder tb = branch.getThenBodyBuilder();
              scf::YieldOp::create(tb, nl, ValueRange{dot(tb, nl, g)});
            }
            {
              OpBuilder eb = branch.getElseBodyBuilder();
              scf::YieldOp::create(eb, nl,
                                   ValueRange{arith::ConstantOp::create(
                                       eb, nl, eb.getFloatAttr(accType, 0.0))});
            }
            value = branch.getResult(0);
          }
          memref::StoreOp::create(nb, nl, castFloat(nb, nl, value, outType),
                                  result, ValueRange{m, n});
        });
    rewriter.replaceOp(op, toTensor(b, loc, resultType, result));
    return success();
  }

  GpuKernelShape shape;
};

} // namespace

void mlir::moe::populateGroupedMatmulToGpuPatterns(
    RewritePatternSet &patterns, const GpuKernelShape &shape) {
  patterns.add<GroupedMatmulToGpu>(patterns.getContext(), shape);
}
