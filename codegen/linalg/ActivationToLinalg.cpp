//===- ActivationToLinalg.cpp - moe.activation to linalg.generic ----------===//
//
// One elementwise generic computing in f32. A fused gate_up input is split
// with strided (interleaved) or contiguous (concatenated) slices, which
// bufferize to views: no copy.
//
//===----------------------------------------------------------------------===//
#include "codegen/linalg/LoweringUtils.h"
#include "codegen/linalg/Passes.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

struct ActivationToLinalg : OpRewritePattern<ActivationOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ActivationOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    ActivationAttr act = op.getActivation();
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Type elt = resultType.getElementType();
    SmallVector<Value> ins = {op.getInput()};
    if (Value up = op.getUp()) {
      ins.push_back(up);
    } else if (std::optional<GateUpLayout> layout = op.getGateUpLayout()) {
      // Split [P, 2f] into gate and up views of [P, f].
      Value fused = op.getInput();
      SmallVector<OpFoldResult> sizes = sizesOf(b, loc, fused);
      OpFoldResult rows = sizes[0];
      OpFoldResult width;
      if (resultType.isDynamicDim(1))
        width = arith::DivUIOp::create(
                    b, loc, getValueOrCreateConstantIndexOp(b, loc, sizes[1]),
                    arith::ConstantIndexOp::create(b, loc, 2))
                    .getResult();
      else
        width = b.getIndexAttr(resultType.getDimSize(1));
      OpFoldResult z = b.getIndexAttr(0), one = b.getIndexAttr(1);
      bool interleaved = *layout == GateUpLayout::interleaved;
      OpFoldResult upStart = interleaved ? one : width;
      OpFoldResult stride = interleaved ? b.getIndexAttr(2) : one;
      auto slice = [&](OpFoldResult col) -> Value {
        return tensor::ExtractSliceOp::create(
            b, loc, fused, ArrayRef<OpFoldResult>{z, col},
            ArrayRef<OpFoldResult>{rows, width},
            ArrayRef<OpFoldResult>{one, stride});
      };
      ins = {slice(z), slice(upStart)};
    }
    bool gated = act.isGated();
    Value result = elementwise(
        b, loc, ins, elt, [&](OpBuilder &nb, Location nl, ValueRange args) {
          Type f32 = nb.getF32Type();
          Value first = castFloat(nb, nl, args[0], f32);
          Value h = gated ? applyActivation(nb, nl, act, first,
                                            castFloat(nb, nl, args[1], f32))
                          : applyActivation(nb, nl, act, Value(), first);
          return castFloat(nb, nl, h, elt);
        });
    replaceWithResultTypes(rewriter, op, result);
    return success();
  }
};

} // namespace

void mlir::moe::populateActivationToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<ActivationToLinalg>(patterns.getContext());
}
