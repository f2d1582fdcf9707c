//===- CombineToGpu.cpp - moe.combine as a GPU kernel
//----------------------===//
//
// One thread per element of the result [T, d]: Σ_j w[t, j] ·
// expert_out[inverse[t, j], c] in f32 in slot order, plus the shared
// expert (σ(gate[t]) · shared[t, c] when gated), rounded once. Each output
// is written by one thread: no atomics, and the sum order is fixed.
//
//===----------------------------------------------------------------------===//
#include "codegen/cuda/KernelBuilder.h"
#include "codegen/cuda/Passes.h"
#include "codegen/linalg/LoweringUtils.h"
#include "dialect/MoEOps.h"

#include "mlir/IR/PatternMatch.h"

#include <tuple>

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::gpu_kernels;

namespace {

struct CombineToGpu : OpRewritePattern<CombineOp> {
  CombineToGpu(MLIRContext *ctx, const GpuKernelShape &shape)
      : OpRewritePattern(ctx), shape(shape) {}

  LogicalResult matchAndRewrite(CombineOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getDown())
      return rewriter.notifyMatchFailure(op, "fused form: checked by the pass");
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Value rows = toBuffer(b, loc, op.getExpertOut());
    Value weights = toBuffer(b, loc, op.getWeights());
    Value inverse = toBuffer(b, loc, op.getInverse());
    Value shared = op.getShared() ? toBuffer(b, loc, op.getShared()) : Value();
    Value gate = op.getSharedGateLogits()
                     ? toBuffer(b, loc, op.getSharedGateLogits())
                     : Value();
    Value tokens = memref::DimOp::create(b, loc, weights, 0);
    Value slots = memref::DimOp::create(b, loc, weights, 1);
    Value width = memref::DimOp::create(b, loc, rows, 1);
    Value result = allocLike(b, loc, resultType, {tokens, width});
    Value items = arith::MulIOp::create(b, loc, tokens, width);
    buildItemKernel(
        b, loc, "combine", items, shape.threadsPerProgram,
        [&](OpBuilder &nb, Location nl, Value item) {
          Value t, c;
          std::tie(t, c) = rowAndColumn(nb, nl, item, width);
          Value zero = f32Const(nb, nl, 0.0);
          auto loop = scf::ForOp::create(
              nb, nl, indexConst(nb, nl, 0), slots, indexConst(nb, nl, 1),
              ValueRange{zero},
              [&](OpBuilder &lb, Location ll, Value j, ValueRange acc) {
                Value p = moe::toIndex(
                    lb, ll, memref::LoadOp::create(lb, ll, inverse, {t, j}));
                Value y = loadF32(lb, ll, rows, {p, c});
                if (!op.getUnweighted())
                  y = arith::MulFOp::create(
                      lb, ll, loadF32(lb, ll, weights, {t, j}), y);
                Value sum = arith::AddFOp::create(lb, ll, acc[0], y);
                scf::YieldOp::create(lb, ll, ValueRange{sum});
              });
          Value sum = loop.getResult(0);
          if (shared)
            sum = arith::AddFOp::create(
                nb, nl, sum, sharedExpertTerm(nb, nl, shared, gate, t, c));
          memref::StoreOp::create(
              nb, nl, castFloat(nb, nl, sum, resultType.getElementType()),
              result, ValueRange{t, c});
        });
    rewriter.replaceOp(op, toTensor(b, loc, resultType, result));
    return success();
  }

  GpuKernelShape shape;
};

} // namespace

void mlir::moe::populateCombineToGpuPatterns(RewritePatternSet &patterns,
                                             const GpuKernelShape &shape) {
  patterns.add<CombineToGpu>(patterns.getContext(), shape);
}
