//===- GatherToGpu.cpp - moe.gather as a GPU kernel
//------------------------===//
//
// One thread per element of the result [P, d]: result[p, c] =
// input[rows[p], c], times the row's routing weight when the gather has
// scales (Llama-4). Consecutive threads copy consecutive columns of a row,
// so both sides of the copy are coalesced.
//
//===----------------------------------------------------------------------===//
#include "codegen/cuda/KernelBuilder.h"
#include "codegen/cuda/Passes.h"
#include "codegen/linalg/LoweringUtils.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::gpu_kernels;

namespace {

struct GatherToGpu : OpRewritePattern<GatherOp> {
  GatherToGpu(MLIRContext *ctx, const GpuKernelShape &shape)
      : OpRewritePattern(ctx), shape(shape) {}

  LogicalResult matchAndRewrite(GatherOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    Value input = toBuffer(b, loc, op.getInput());
    Value rows = toBuffer(b, loc, op.getRows());
    Value count = memref::DimOp::create(b, loc, rows, 0);
    Value width = memref::DimOp::create(b, loc, input, 1);
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Value result = allocLike(b, loc, resultType, {count, width});
    Value items = arith::MulIOp::create(b, loc, count, width);
    // With scales, row p is multiplied by the weight of the slot of its
    // token that the inverse sends to p: a search over the token's k slots.
    Value weights =
        op.getWeights() ? toBuffer(b, loc, op.getWeights()) : Value();
    Value inverse =
        op.getInverse() ? toBuffer(b, loc, op.getInverse()) : Value();
    buildItemKernel(
        b, loc, weights ? "gather_scaled" : "gather", items,
        shape.threadsPerProgram, [&](OpBuilder &nb, Location nl, Value item) {
          Value p, c;
          std::tie(p, c) = rowAndColumn(nb, nl, item, width);
          Value row =
              moe::toIndex(nb, nl, memref::LoadOp::create(nb, nl, rows, p));
          Value v = memref::LoadOp::create(nb, nl, input, ValueRange{row, c});
          if (weights) {
            Value slots = memref::DimOp::create(nb, nl, weights, 1);
            auto loop = scf::ForOp::create(
                nb, nl, indexConst(nb, nl, 0), slots, indexConst(nb, nl, 1),
                ValueRange{f32Const(nb, nl, 0.0)},
                [&](OpBuilder &lb, Location ll, Value j, ValueRange acc) {
                  Value slot = moe::toIndex(
                      lb, ll,
                      memref::LoadOp::create(lb, ll, inverse, {row, j}));
                  Value mine = arith::CmpIOp::create(
                      lb, ll, arith::CmpIPredicate::eq, slot, p);
                  Value w = arith::SelectOp::create(
                      lb, ll, mine, loadF32(lb, ll, weights, {row, j}),
                      f32Const(lb, ll, 0.0));
                  scf::YieldOp::create(
                      lb, ll,
                      ValueRange{arith::AddFOp::create(lb, ll, acc[0], w)});
                });
            Value scaled = arith::MulFOp::create(
                nb, nl, castFloat(nb, nl, v, nb.getF32Type()),
                loop.getResult(0));
            v = castFloat(nb, nl, scaled, resultType.getElementType());
          }
          memref::StoreOp::create(nb, nl, v, result, ValueRange{p, c});
        });
    rewriter.replaceOp(op, toTensor(b, loc, resultType, result));
    return success();
  }

  GpuKernelShape shape;
};

} // namespace

void mlir::moe::populateGatherToGpuPatterns(RewritePatternSet &patterns,
                                            const GpuKernelShape &shape) {
  patterns.add<GatherToGpu>(patterns.getContext(), shape);
}
