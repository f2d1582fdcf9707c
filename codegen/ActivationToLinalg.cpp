//===- ActivationToLinalg.cpp - moe.activation to linalg.generic ----------===//
//
// One elementwise generic computing in f32. A fused gate_up input is split
// with strided (interleaved) or contiguous (concatenated) slices, which
// bufferize to views: no copy.
//
//===----------------------------------------------------------------------===//
#include "codegen/LoweringUtils.h"
#include "codegen/Passes.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::moe;

namespace {

Value mulF(OpBuilder &b, Location l, Value x, Value y) {
  return arith::MulFOp::create(b, l, x, y);
}
Value addF(OpBuilder &b, Location l, Value x, Value y) {
  return arith::AddFOp::create(b, l, x, y);
}

/// u·Φ(u) with the exact (erf) normal CDF.
Value gelu(OpBuilder &b, Location l, Value u) {
  Type t = u.getType();
  Value scaled = mulF(b, l, u, floatConst(b, l, t, M_SQRT1_2));
  Value erf = math::ErfOp::create(b, l, scaled);
  Value cdf = mulF(b, l, floatConst(b, l, t, 0.5),
                   addF(b, l, floatConst(b, l, t, 1.0), erf));
  return mulF(b, l, u, cdf);
}

/// ½u(1 + tanh(√(2/π)(u + 0.044715u³))).
Value geluTanh(OpBuilder &b, Location l, Value u) {
  Type t = u.getType();
  Value u3 = mulF(b, l, mulF(b, l, u, u), u);
  Value inner = addF(b, l, u, mulF(b, l, floatConst(b, l, t, 0.044715), u3));
  Value th = math::TanhOp::create(
      b, l, mulF(b, l, floatConst(b, l, t, std::sqrt(2.0 / M_PI)), inner));
  Value half = mulF(b, l, floatConst(b, l, t, 0.5), u);
  return mulF(b, l, half, addF(b, l, floatConst(b, l, t, 1.0), th));
}

/// The activation of one element (gate may be null for elementwise kinds).
Value activate(OpBuilder &b, Location l, ActivationAttr act, Value g, Value u) {
  Type t = u.getType();
  switch (act.getKind()) {
  case ActivationKind::swiglu:
  case ActivationKind::geglu: {
    if (std::optional<APFloat> limit = act.getLimit()) {
      double lim = limit->convertToDouble();
      Value hiV = floatConst(b, l, t, lim), loV = floatConst(b, l, t, -lim);
      g = arith::MinimumFOp::create(b, l, g, hiV);
      u = arith::MinimumFOp::create(
          b, l, arith::MaximumFOp::create(b, l, u, loV), hiV);
    }
    Value up = addF(b, l, u, floatConst(b, l, t, act.getBetaValue()));
    if (act.getKind() == ActivationKind::geglu)
      return mulF(b, l, gelu(b, l, g), up);
    Value ag = mulF(b, l, g, floatConst(b, l, t, act.getAlphaValue()));
    return mulF(b, l, mulF(b, l, g, sigmoid(b, l, ag)), up);
  }
  case ActivationKind::relu:
    return arith::MaximumFOp::create(b, l, u, floatConst(b, l, t, 0.0));
  case ActivationKind::gelu:
    return gelu(b, l, u);
  case ActivationKind::gelu_tanh:
    return geluTanh(b, l, u);
  case ActivationKind::silu:
    return mulF(b, l, u, sigmoid(b, l, u));
  case ActivationKind::identity:
    return u;
  }
  llvm_unreachable("unknown activation kind");
}

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
          Value h = gated ? activate(nb, nl, act, first,
                                     castFloat(nb, nl, args[1], f32))
                          : activate(nb, nl, act, Value(), first);
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
