//===- CombineDownToGpu.cpp - the fused combine as GPU kernels ------------===//
//
// moe.combine with its down projection fused (moe-fuse-combine), where the
// staged tensor-core GEMM takes the projection and the slots come from a
// moe.dispatch (so that every slot p < T·k is the slot of exactly one
// assignment (t, j)):
//
//   combine_init             one thread per element of the f32 sums [T, d]:
//                            the shared expert's output (scaled by the
//                            sigmoid of its gate when gated) or 0; the
//                            first T·k threads also record, for the slot
//                            p = inverse[t, j] of their assignment t·k + j,
//                            that assignment;
//   gemm_mma_staged_combine  the staged GEMM of the slots' rows by their
//                            experts' down weights, whose epilogue adds
//                            w[t, j] · (product + bias) to row t of the
//                            sums with an f32 atomic add;
//   combine_round            the sums rounded once to the result type (no
//                            kernel when it is f32: the sums are the
//                            result).
//
// The projected rows [T·k, d] are never written out and read back. The
// atomic adds reach a token's row in no fixed order, so the low bits of
// the f32 sums (and, rarely, a rounding of a 16-bit result) may differ
// from run to run; convert-moe-to-gpu's `fuse-combine=false` keeps the
// projection and the combine apart, summed in slot order.
//
//===----------------------------------------------------------------------===//
#include "codegen/cuda/Passes.h"
#include "codegen/cuda/StagedGemm.h"
#include "codegen/linalg/LoweringUtils.h"
#include "dialect/MoEOps.h"

#include "mlir/IR/PatternMatch.h"

#include <tuple>

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::gpu_kernels;

namespace {

/// The staged kernel takes the fused combine's down GEMM; its epilogue
/// scales by the routing weights, so an unweighted combine is unfused.
bool takesDownGemm(CombineOp op, const GpuKernelShape &shape) {
  return op.getDown() && op.getDownOffsets() && !op.getUnweighted() &&
         takesStagedOperands(op.getExpertOut().getType(),
                             op.getDown().getType(), Type(), shape);
}

} // namespace

bool mlir::moe::takesFusedCombine(CombineOp op, const GpuKernelShape &shape) {
  return takesDownGemm(op, shape) &&
         op.getInverse().getDefiningOp<DispatchOp>();
}

namespace {

struct CombineDownToGpu : OpRewritePattern<CombineOp> {
  CombineDownToGpu(MLIRContext *ctx, const GpuKernelShape &shape)
      : OpRewritePattern(ctx), shape(shape) {}

  LogicalResult matchAndRewrite(CombineOp op,
                                PatternRewriter &rewriter) const override {
    // convert-moe-to-gpu has unfused those whose slots do not come from a
    // moe.dispatch (which is a kernel by now).
    if (!takesDownGemm(op, shape))
      return rewriter.notifyMatchFailure(
          op, "not a fused combine the staged GEMM takes");
    auto module = op->getParentOfType<ModuleOp>();
    if (!module)
      return rewriter.notifyMatchFailure(op, "not inside a module");
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Type f32 = b.getF32Type();

    GemmBuffers buffers;
    buffers.input = toBuffer(b, loc, op.getExpertOut());
    buffers.weight = toBuffer(b, loc, op.getDown());
    buffers.offsets = toBuffer(b, loc, op.getDownOffsets());
    buffers.groups = cast<MemRefType>(buffers.weight.getType()).getDimSize(0);
    if (op.getDownBias())
      buffers.bias = toBuffer(b, loc, op.getDownBias());
    StagedGemm gemm = describeStagedGemm(b, loc, buffers, ActivationAttr(),
                                         std::nullopt, f32);
    gemm.kernelName = "gemm_mma_staged_combine";

    Value weights = toBuffer(b, loc, op.getWeights());
    Value inverse = toBuffer(b, loc, op.getInverse());
    Value shared = op.getShared() ? toBuffer(b, loc, op.getShared()) : Value();
    Value gate = op.getSharedGateLogits()
                     ? toBuffer(b, loc, op.getSharedGateLogits())
                     : Value();
    Value tokens = memref::DimOp::create(b, loc, weights, 0);
    Value slots = memref::DimOp::create(b, loc, weights, 1);
    Value width = indexConst(b, loc, gemm.outCols);
    Value assignments = arith::MulIOp::create(b, loc, tokens, slots);
    Value elements = arith::MulIOp::create(b, loc, tokens, width);
    Value sums = allocLike(b, loc, resultType.clone(f32), {tokens, width});
    Value slotOf = allocLike(
        b, loc, RankedTensorType::get({ShapedType::kDynamic}, b.getI32Type()),
        {assignments});

    buildItemKernel(
        b, loc, "combine_init",
        arith::MaxUIOp::create(b, loc, elements, assignments),
        shape.threadsPerProgram, [&](OpBuilder &nb, Location nl, Value item) {
          auto below = [&](Value bound) {
            return arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ult,
                                         item, bound);
          };
          scf::IfOp::create(
              nb, nl, below(elements), [&](OpBuilder &tb, Location tl) {
                Value t, c;
                std::tie(t, c) = rowAndColumn(tb, tl, item, width);
                Value v = shared ? sharedExpertTerm(tb, tl, shared, gate, t, c)
                                 : f32Const(tb, tl, 0.0);
                memref::StoreOp::create(tb, tl, v, sums, ValueRange{t, c});
                scf::YieldOp::create(tb, tl);
              });
          scf::IfOp::create(
              nb, nl, below(assignments), [&](OpBuilder &tb, Location tl) {
                Value t, j;
                std::tie(t, j) = rowAndColumn(tb, tl, item, slots);
                Value p = moe::toIndex(
                    tb, tl, memref::LoadOp::create(tb, tl, inverse, {t, j}));
                Value a =
                    arith::IndexCastUIOp::create(tb, tl, tb.getI32Type(), item);
                memref::StoreOp::create(tb, tl, a, slotOf, ValueRange{p});
                scf::YieldOp::create(tb, tl);
              });
        });

    gemm.scatter = {sums, slotOf, weights, slots, assignments};
    buildStagedGemm(b, loc, shape, module, gemm);

    Value result = sums;
    if (resultType.getElementType() != f32) {
      result = allocLike(b, loc, resultType, {tokens, width});
      buildItemKernel(
          b, loc, "combine_round", elements, shape.threadsPerProgram,
          [&](OpBuilder &nb, Location nl, Value item) {
            Value t, c;
            std::tie(t, c) = rowAndColumn(nb, nl, item, width);
            Value v = memref::LoadOp::create(nb, nl, sums, ValueRange{t, c});
            memref::StoreOp::create(
                nb, nl, castFloat(nb, nl, v, resultType.getElementType()),
                result, ValueRange{t, c});
          });
    }
    rewriter.replaceOp(op, toTensor(b, loc, resultType, result));
    return success();
  }

  GpuKernelShape shape;
};

} // namespace

void mlir::moe::populateCombineDownToGpuPatterns(RewritePatternSet &patterns,
                                                 const GpuKernelShape &shape) {
  patterns.add<CombineDownToGpu>(patterns.getContext(), shape);
}
