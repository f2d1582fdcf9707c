//===- GatherToGpu.cpp - moe.gather as a GPU kernel
//------------------------===//
//
// One thread per element of the result [P, d]: result[p, c] =
// input[rows[p], c]. Consecutive threads copy consecutive columns of a row,
// so both sides of the copy are coalesced.
//
//===----------------------------------------------------------------------===//
#include "codegen/cuda/KernelBuilder.h"
#include "codegen/cuda/Passes.h"
#include "codegen/linalg/LoweringUtils.h"
#include "dialect/MoEOps.h"

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
    buildItemKernel(
        b, loc, "gather", items, shape.threadsPerProgram,
        [&](OpBuilder &nb, Location nl, Value item) {
          auto [p, c] = rowAndColumn(nb, nl, item, width);
          Value row =
              moe::toIndex(nb, nl, memref::LoadOp::create(nb, nl, rows, p));
          Value v = memref::LoadOp::create(nb, nl, input, ValueRange{row, c});
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
