//===- LoweringUtils.cpp - helpers shared by the moe-to-linalg patterns ---===//
#include "codegen/linalg/LoweringUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

using namespace mlir;
using namespace mlir::moe;

Value moe::castFloat(OpBuilder &b, Location loc, Value v, Type to) {
  auto from = cast<FloatType>(v.getType());
  auto target = cast<FloatType>(to);
  if (from == target)
    return v;
  if (from.getWidth() < target.getWidth())
    return arith::ExtFOp::create(b, loc, target, v);
  if (from.getWidth() > target.getWidth())
    return arith::TruncFOp::create(b, loc, target, v);
  // Same width, different format (bf16 <-> f16): go through f32.
  Value wide = arith::ExtFOp::create(b, loc, b.getF32Type(), v);
  return arith::TruncFOp::create(b, loc, target, wide);
}

Value moe::toIndex(OpBuilder &b, Location loc, Value v) {
  if (v.getType().isIndex())
    return v;
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
}

Value moe::floatConst(OpBuilder &b, Location loc, Type type, double value) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, value));
}

Value moe::emptyTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                       Type elementType) {
  return tensor::EmptyOp::create(b, loc, sizes, elementType);
}

Value moe::filledTensor(OpBuilder &b, Location loc,
                        ArrayRef<OpFoldResult> sizes, Type elementType,
                        Value value) {
  Value empty = emptyTensor(b, loc, sizes, elementType);
  return linalg::FillOp::create(b, loc, ValueRange{value}, ValueRange{empty})
      .getResult(0);
}

SmallVector<OpFoldResult> moe::sizesOf(OpBuilder &b, Location loc,
                                       Value tensor) {
  return tensor::getMixedSizes(b, loc, tensor);
}

SmallVector<utils::IteratorType> moe::iterators(unsigned numParallel,
                                                unsigned numReduction) {
  SmallVector<utils::IteratorType> result(numParallel,
                                          utils::IteratorType::parallel);
  result.append(numReduction, utils::IteratorType::reduction);
  return result;
}

AffineMap moe::dimsMap(MLIRContext *ctx, unsigned numDims,
                       ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(numDims, 0, exprs, ctx);
}

Value moe::elementwise(
    OpBuilder &b, Location loc, ValueRange inputs, Type resultElementType,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  Value shapeSource = inputs.front();
  unsigned rank = cast<RankedTensorType>(shapeSource.getType()).getRank();
  Value init =
      emptyTensor(b, loc, sizesOf(b, loc, shapeSource), resultElementType);
  SmallVector<AffineMap> maps(inputs.size() + 1,
                              b.getMultiDimIdentityMap(rank));
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), inputs, ValueRange{init}, maps, iterators(rank),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value r = body(nb, nloc, args.drop_back());
        linalg::YieldOp::create(nb, nloc, r);
      });
  return generic.getResult(0);
}

Value moe::sigmoid(OpBuilder &b, Location loc, Value x) {
  Type t = x.getType();
  Value one = floatConst(b, loc, t, 1.0);
  Value neg = arith::NegFOp::create(b, loc, x);
  Value e = math::ExpOp::create(b, loc, neg);
  Value den = arith::AddFOp::create(b, loc, one, e);
  return arith::DivFOp::create(b, loc, one, den);
}

void moe::replaceWithResultTypes(PatternRewriter &rewriter, Operation *op,
                                 ValueRange values) {
  SmallVector<Value> results;
  for (auto [v, t] : llvm::zip_equal(values, op->getResultTypes()))
    results.push_back(v.getType() == t ? v
                                       : tensor::CastOp::create(
                                             rewriter, op->getLoc(), t, v));
  rewriter.replaceOp(op, results);
}

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

} // namespace

Value mlir::moe::applyActivation(OpBuilder &b, Location l, ActivationAttr act,
                                 Value g, Value u) {
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
  case ActivationKind::relu2: {
    Value r = arith::MaximumFOp::create(b, l, u, floatConst(b, l, t, 0.0));
    return mulF(b, l, r, r);
  }
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

Value moe::groupOfRows(OpBuilder &b, Location loc, Value offsets,
                       Value rowCount) {
  MLIRContext *ctx = b.getContext();
  int64_t length = cast<RankedTensorType>(offsets.getType()).getDimSize(0);
  OpFoldResult groups =
      ShapedType::isDynamic(length)
          ? OpFoldResult(arith::SubIOp::create(
                b, loc, tensor::DimOp::create(b, loc, offsets, 0),
                arith::ConstantIndexOp::create(b, loc, 1)))
          : OpFoldResult(b.getIndexAttr(length - 1));
  SmallVector<OpFoldResult> at = {b.getIndexAttr(1)}, size = {groups},
                            stride = {b.getIndexAttr(1)};
  Value ends =
      tensor::ExtractSliceOp::create(b, loc, offsets, at, size, stride);
  Value zeros = filledTensor(b, loc, {rowCount}, b.getIndexType(),
                             arith::ConstantIndexOp::create(b, loc, 0));
  return linalg::GenericOp::create(
             b, loc, zeros.getType(), ValueRange{ends}, ValueRange{zeros},
             {dimsMap(ctx, 2, {1}), dimsMap(ctx, 2, {0})}, iterators(1, 1),
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Value m = linalg::IndexOp::create(nb, nl, 0);
               Value past =
                   arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::sle,
                                         toIndex(nb, nl, args[0]), m);
               Value inc = arith::SelectOp::create(
                   nb, nl, past, arith::ConstantIndexOp::create(nb, nl, 1),
                   arith::ConstantIndexOp::create(nb, nl, 0));
               linalg::YieldOp::create(
                   nb, nl,
                   ValueRange{arith::AddIOp::create(nb, nl, args[1], inc)});
             })
      .getResult(0);
}

Value moe::insideGroups(OpBuilder &b, Location loc, Value offsets, Value row,
                        Value group, int64_t groups) {
  Value first =
      toIndex(b, loc,
              tensor::ExtractOp::create(
                  b, loc, offsets,
                  ValueRange{arith::ConstantIndexOp::create(b, loc, 0)}));
  return arith::AndIOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, row, first),
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, group,
                            arith::ConstantIndexOp::create(b, loc, groups)));
}

Value moe::finishCombine(OpBuilder &b, Location loc, CombineOp op,
                         Value routed) {
  MLIRContext *ctx = b.getContext();
  auto resultType = cast<RankedTensorType>(op.getResult().getType());
  Value shared = op.getShared(), gate = op.getSharedGateLogits();
  SmallVector<Value> ins = {routed};
  SmallVector<AffineMap> maps = {dimsMap(ctx, 2, {0, 1})};
  if (shared) {
    ins.push_back(shared);
    maps.push_back(dimsMap(ctx, 2, {0, 1}));
  }
  if (gate) {
    ins.push_back(gate);
    // [T, 1]: the same gate for every column.
    maps.push_back(AffineMap::get(
        2, 0, {getAffineDimExpr(0, ctx), getAffineConstantExpr(0, ctx)}, ctx));
  }
  Type elt = resultType.getElementType();
  if (!shared && elt == b.getF32Type())
    return routed;
  Value init = emptyTensor(b, loc, sizesOf(b, loc, routed), elt);
  maps.push_back(dimsMap(ctx, 2, {0, 1}));
  return linalg::GenericOp::create(
             b, loc, init.getType(), ins, ValueRange{init}, maps, iterators(2),
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Type t = nb.getF32Type();
               Value acc = args[0];
               if (shared) {
                 Value s = castFloat(nb, nl, args[1], t);
                 if (gate)
                   s = arith::MulFOp::create(
                       nb, nl, s,
                       sigmoid(nb, nl, castFloat(nb, nl, args[2], t)));
                 acc = arith::AddFOp::create(nb, nl, acc, s);
               }
               linalg::YieldOp::create(nb, nl, castFloat(nb, nl, acc, elt));
             })
      .getResult(0);
}
