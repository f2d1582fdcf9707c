//===- ActivationToGpu.cpp - moe.activation as a GPU kernel
//----------------===//
//
// One thread per element of the result [P, f]: the gate and up values of
// its column (from two operands, or from the even/odd or first/last
// columns of a fused gate_up input), the activation in f32, one rounding
// to the result type.
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

struct ActivationToGpu : OpRewritePattern<ActivationOp> {
  ActivationToGpu(MLIRContext *ctx, const GpuKernelShape &shape)
      : OpRewritePattern(ctx), shape(shape) {}

  LogicalResult matchAndRewrite(ActivationOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    Value input = toBuffer(b, loc, op.getInput());
    Value up = op.getUp() ? toBuffer(b, loc, op.getUp()) : Value();
    std::optional<GateUpLayout> layout = op.getGateUpLayout();
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Value rowCount = memref::DimOp::create(b, loc, input, 0);
    Value width = memref::DimOp::create(b, loc, input, 1);
    if (layout)
      width = arith::DivUIOp::create(b, loc, width, indexConst(b, loc, 2));
    Value result = allocLike(b, loc, resultType, {rowCount, width});
    Value items = arith::MulIOp::create(b, loc, rowCount, width);
    ActivationAttr act = op.getActivation();
    buildItemKernel(
        b, loc, "activation", items, shape.threadsPerProgram,
        [&](OpBuilder &nb, Location nl, Value item) {
          auto [p, i] = rowAndColumn(nb, nl, item, width);
          Value gate, upValue;
          if (up) {
            gate = loadF32(nb, nl, input, {p, i});
            upValue = loadF32(nb, nl, up, {p, i});
          } else if (layout == GateUpLayout::interleaved) {
            Value even =
                arith::MulIOp::create(nb, nl, i, indexConst(nb, nl, 2));
            Value odd =
                arith::AddIOp::create(nb, nl, even, indexConst(nb, nl, 1));
            gate = loadF32(nb, nl, input, {p, even});
            upValue = loadF32(nb, nl, input, {p, odd});
          } else if (layout == GateUpLayout::concatenated) {
            gate = loadF32(nb, nl, input, {p, i});
            Value second = arith::AddIOp::create(nb, nl, i, width);
            upValue = loadF32(nb, nl, input, {p, second});
          } else {
            upValue = loadF32(nb, nl, input, {p, i});
          }
          Value v = applyActivation(nb, nl, act, gate, upValue);
          memref::StoreOp::create(
              nb, nl, castFloat(nb, nl, v, resultType.getElementType()), result,
              ValueRange{p, i});
        });
    rewriter.replaceOp(op, toTensor(b, loc, resultType, result));
    return success();
  }

  GpuKernelShape shape;
};

} // namespace

void mlir::moe::populateActivationToGpuPatterns(RewritePatternSet &patterns,
                                                const GpuKernelShape &shape) {
  patterns.add<ActivationToGpu>(patterns.getContext(), shape);
}
