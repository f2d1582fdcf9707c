//===- RouteToLinalg.cpp - moe.route to linalg ----------------------------===//
//
// Top-k selection without sorting: the rank of expert e for token t is the
// number of experts that beat it (a larger score, or an equal score and a
// lower index). The k selected experts are the ones of rank < k, and slot j
// holds the expert of rank j. Every step is a linalg.generic, parallel over
// tokens, so it vectorizes and threads like the rest; the O(E^2) compare
// count is small next to the expert GEMMs.
//
//===----------------------------------------------------------------------===//
#include "codegen/linalg/LoweringUtils.h"
#include "codegen/linalg/Passes.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#include <limits>

using namespace mlir;
using namespace mlir::moe;

namespace {

/// rank[p..., e] = #{e' : s[p..., e'] > s[p..., e] or (== and e' < e)} for a
/// tensor of rank 2 ([T, E]) or 3 ([T, G, E]); the rank is an i32.
Value rankAlongLast(OpBuilder &b, Location loc, Value scores) {
  auto type = cast<RankedTensorType>(scores.getType());
  unsigned rank = type.getRank();
  MLIRContext *ctx = b.getContext();
  SmallVector<unsigned> outer, other;
  for (unsigned i = 0; i < rank; ++i)
    outer.push_back(i);
  for (unsigned i = 0; i + 1 < rank; ++i)
    other.push_back(i);
  other.push_back(rank); // the competitor e'
  Type i32 = b.getI32Type();
  Value zero = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
  Value init = filledTensor(b, loc, sizesOf(b, loc, scores), i32, zero);
  SmallVector<AffineMap> maps = {dimsMap(ctx, rank + 1, outer),
                                 dimsMap(ctx, rank + 1, other),
                                 dimsMap(ctx, rank + 1, outer)};
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{scores, scores}, ValueRange{init},
      maps, iterators(rank, 1),
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value self = args[0], rival = args[1], count = args[2];
        Value e = linalg::IndexOp::create(nb, nl, rank - 1);
        Value r = linalg::IndexOp::create(nb, nl, rank);
        Value greater = arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OGT,
                                              rival, self);
        Value equal = arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OEQ,
                                            rival, self);
        Value lower =
            arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ult, r, e);
        Value tie = arith::AndIOp::create(nb, nl, equal, lower);
        Value beats = arith::OrIOp::create(nb, nl, greater, tie);
        Value inc = arith::ExtUIOp::create(nb, nl, nb.getI32Type(), beats);
        linalg::YieldOp::create(
            nb, nl, ValueRange{arith::AddIOp::create(nb, nl, count, inc)});
      });
  return generic.getResult(0);
}

/// Row-wise reduction of a [T, N] f32 tensor into [T] with `combine`.
Value reduceRows(
    OpBuilder &b, Location loc, Value input, double initValue,
    function_ref<Value(OpBuilder &, Location, Value, Value)> combine) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  SmallVector<OpFoldResult> sizes = sizesOf(b, loc, input);
  Value init =
      filledTensor(b, loc, {sizes[0]}, f32, floatConst(b, loc, f32, initValue));
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{input}, ValueRange{init},
      {dimsMap(ctx, 2, {0, 1}), dimsMap(ctx, 2, {0})}, iterators(1, 1),
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        linalg::YieldOp::create(nb, nl,
                                ValueRange{combine(nb, nl, args[1], args[0])});
      });
  return generic.getResult(0);
}

Value addF(OpBuilder &b, Location l, Value x, Value y) {
  return arith::AddFOp::create(b, l, x, y);
}
Value maxF(OpBuilder &b, Location l, Value x, Value y) {
  return arith::MaximumFOp::create(b, l, x, y);
}

/// A [T, N] tensor combined with a per-row [T] value: f(x[t, n], row[t]).
Value withRowValue(OpBuilder &b, Location loc, Value input, Value row,
                   function_ref<Value(OpBuilder &, Location, Value, Value)> f) {
  MLIRContext *ctx = b.getContext();
  Value init = emptyTensor(b, loc, sizesOf(b, loc, input), b.getF32Type());
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{input, row}, ValueRange{init},
      {dimsMap(ctx, 2, {0, 1}), dimsMap(ctx, 2, {0}), dimsMap(ctx, 2, {0, 1})},
      iterators(2), [&](OpBuilder &nb, Location nl, ValueRange args) {
        linalg::YieldOp::create(nb, nl,
                                ValueRange{f(nb, nl, args[0], args[1])});
      });
  return generic.getResult(0);
}

/// softmax along the last dimension of a [T, N] f32 tensor.
Value softmaxRows(OpBuilder &b, Location loc, Value x) {
  Value mx =
      reduceRows(b, loc, x, -std::numeric_limits<double>::infinity(), maxF);
  Value ex = withRowValue(b, loc, x, mx,
                          [](OpBuilder &nb, Location nl, Value v, Value m) {
                            Value d = arith::SubFOp::create(nb, nl, v, m);
                            return Value(math::ExpOp::create(nb, nl, d));
                          });
  Value sum = reduceRows(b, loc, ex, 0.0, addF);
  return withRowValue(b, loc, ex, sum,
                      [](OpBuilder &nb, Location nl, Value v, Value s) {
                        return Value(arith::DivFOp::create(nb, nl, v, s));
                      });
}

/// Masks the experts outside the best `topk_group` groups with -inf.
Value limitToGroups(OpBuilder &b, Location loc, Value choice,
                    RoutingAttr routing, int64_t numExperts) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  int64_t groups = routing.getNGroup();
  int64_t perGroup = numExperts / groups;
  SmallVector<OpFoldResult> sizes = sizesOf(b, loc, choice);
  // [T, E] -> [T, G, E/G].
  auto grouped = tensor::ExpandShapeOp::create(
      b, loc,
      RankedTensorType::get({ShapedType::kDynamic, groups, perGroup}, f32),
      choice, SmallVector<ReassociationIndices>{{0}, {1, 2}},
      SmallVector<OpFoldResult>{sizes[0], b.getIndexAttr(groups),
                                b.getIndexAttr(perGroup)});
  Value g3 = grouped.getResult();
  // Group score [T, G]: the max, or the sum of the two best members.
  bool top2 = routing.getGroupScore() == GroupScoreFunc::top2_sum;
  Value memberRank = top2 ? rankAlongLast(b, loc, g3) : Value();
  Value init = filledTensor(
      b, loc, {sizes[0], b.getIndexAttr(groups)}, f32,
      floatConst(b, loc, f32,
                 top2 ? 0.0 : -std::numeric_limits<double>::infinity()));
  SmallVector<Value> ins = {g3};
  SmallVector<AffineMap> maps = {dimsMap(ctx, 3, {0, 1, 2})};
  if (top2) {
    ins.push_back(memberRank);
    maps.push_back(dimsMap(ctx, 3, {0, 1, 2}));
  }
  maps.push_back(dimsMap(ctx, 3, {0, 1}));
  Value groupScore =
      linalg::GenericOp::create(
          b, loc, init.getType(), ins, ValueRange{init}, maps, iterators(2, 1),
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value acc = args.back();
            Value r;
            if (top2) {
              Value two =
                  arith::ConstantOp::create(nb, nl, nb.getI32IntegerAttr(2));
              Value best = arith::CmpIOp::create(
                  nb, nl, arith::CmpIPredicate::slt, args[1], two);
              Value sum = arith::AddFOp::create(nb, nl, acc, args[0]);
              r = arith::SelectOp::create(nb, nl, best, sum, acc);
            } else {
              r = arith::MaximumFOp::create(nb, nl, acc, args[0]);
            }
            linalg::YieldOp::create(nb, nl, ValueRange{r});
          })
          .getResult(0);
  Value groupRank = rankAlongLast(b, loc, groupScore);
  // Keep a member when its group ranks below topk_group.
  Value masked =
      linalg::GenericOp::create(
          b, loc, g3.getType(), ValueRange{g3, groupRank},
          ValueRange{emptyTensor(b, loc, sizesOf(b, loc, g3), f32)},
          {dimsMap(ctx, 3, {0, 1, 2}), dimsMap(ctx, 3, {0, 1}),
           dimsMap(ctx, 3, {0, 1, 2})},
          iterators(3),
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value limit = arith::ConstantOp::create(
                nb, nl, nb.getI32IntegerAttr(routing.getTopkGroup()));
            Value kept = arith::CmpIOp::create(
                nb, nl, arith::CmpIPredicate::slt, args[1], limit);
            Value ninf = floatConst(nb, nl, f32,
                                    -std::numeric_limits<double>::infinity());
            linalg::YieldOp::create(nb, nl,
                                    ValueRange{arith::SelectOp::create(
                                        nb, nl, kept, args[0], ninf)});
          })
          .getResult(0);
  return tensor::CollapseShapeOp::create(
      b, loc, masked, SmallVector<ReassociationIndices>{{0}, {1, 2}});
}

/// Slot j of token t takes the expert of rank j: its index, and its value in
/// `values` ([T, E] f32). Returns (weights [T, k] f32, indices [T, k] i32).
std::pair<Value, Value> selectTopK(OpBuilder &b, Location loc, Value ranks,
                                   Value values, int64_t k) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  SmallVector<OpFoldResult> sizes = sizesOf(b, loc, ranks);
  SmallVector<OpFoldResult> outSizes = {sizes[0], b.getIndexAttr(k)};
  Value w0 = filledTensor(b, loc, outSizes, f32, floatConst(b, loc, f32, 0));
  Value i0 =
      filledTensor(b, loc, outSizes, i32,
                   arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0)));
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{w0.getType(), i0.getType()}, ValueRange{ranks, values},
      ValueRange{w0, i0},
      {dimsMap(ctx, 3, {0, 2}), dimsMap(ctx, 3, {0, 2}),
       dimsMap(ctx, 3, {0, 1}), dimsMap(ctx, 3, {0, 1})},
      iterators(2, 1), [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value j = arith::IndexCastOp::create(
            nb, nl, nb.getI32Type(), linalg::IndexOp::create(nb, nl, 1));
        Value e = arith::IndexCastOp::create(
            nb, nl, nb.getI32Type(), linalg::IndexOp::create(nb, nl, 2));
        Value hit =
            arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, args[0], j);
        Value w = arith::SelectOp::create(nb, nl, hit, args[1], args[2]);
        Value i = arith::SelectOp::create(nb, nl, hit, e, args[3]);
        linalg::YieldOp::create(nb, nl, ValueRange{w, i});
      });
  return {generic.getResult(0), generic.getResult(1)};
}

/// order = sparsemixer's weights [T, k]: slot j's share of a softmax over
/// the logits not picked before it (rank >= j) and within the relative
/// distance 2·eps of its logit m_j = selected[t, j]:
/// 1 / Σ_{e kept} exp(l_e - m_j).
Value sparsemixerWeights(OpBuilder &b, Location loc, Value logits, Value ranks,
                         Value selected, double eps) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  Value init = filledTensor(b, loc, sizesOf(b, loc, selected), f32,
                            floatConst(b, loc, f32, 0.0));
  Value sums =
      linalg::GenericOp::create(
          b, loc, init.getType(), ValueRange{logits, ranks, selected},
          ValueRange{init},
          {dimsMap(ctx, 3, {0, 2}), dimsMap(ctx, 3, {0, 2}),
           dimsMap(ctx, 3, {0, 1}), dimsMap(ctx, 3, {0, 1})},
          iterators(2, 1),
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value l = args[0], rank = args[1], m = args[2], acc = args[3];
            Value j = arith::IndexCastOp::create(
                nb, nl, nb.getI32Type(), linalg::IndexOp::create(nb, nl, 1));
            Value unpicked = arith::CmpIOp::create(
                nb, nl, arith::CmpIPredicate::sge, rank, j);
            Value factor = arith::MaximumFOp::create(
                nb, nl, math::AbsFOp::create(nb, nl, l), m);
            Value q = arith::DivFOp::create(
                nb, nl, arith::SubFOp::create(nb, nl, m, l), factor);
            // A NaN quotient masks nothing (ULE is true on NaN).
            Value near =
                arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::ULE, q,
                                      floatConst(nb, nl, f32, 2.0 * eps));
            Value keep = arith::AndIOp::create(nb, nl, unpicked, near);
            Value term = math::ExpOp::create(
                nb, nl, arith::SubFOp::create(nb, nl, l, m));
            Value sum = arith::AddFOp::create(nb, nl, acc, term);
            linalg::YieldOp::create(
                nb, nl,
                ValueRange{arith::SelectOp::create(nb, nl, keep, sum, acc)});
          })
          .getResult(0);
  return elementwise(b, loc, sums, f32,
                     [](OpBuilder &nb, Location nl, ValueRange a) {
                       Value one = floatConst(nb, nl, nb.getF32Type(), 1.0);
                       return Value(arith::DivFOp::create(nb, nl, one, a[0]));
                     });
}

struct RouteToLinalg : OpRewritePattern<RouteOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(RouteOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RoutingAttr routing = op.getRouting();
    auto logitsType = cast<RankedTensorType>(op.getLogits().getType());
    int64_t numExperts = logitsType.getDimSize(1);
    if (routing.isGroupLimited() && ShapedType::isDynamic(numExperts))
      return rewriter.notifyMatchFailure(
          op, "group-limited routing needs a static expert count");
    Type f32 = rewriter.getF32Type();
    int64_t k = routing.getK();

    // Logits in f32.
    Value logits = op.getLogits();
    if (logitsType.getElementType() != f32)
      logits = elementwise(rewriter, loc, logits, f32,
                           [&](OpBuilder &b, Location l, ValueRange a) {
                             return castFloat(b, l, a[0], f32);
                           });

    Value weights, indices;
    if (routing.getOrder() == RoutingOrder::score_then_topk) {
      Value scores =
          routing.getScoring() == ScoringFunc::softmax
              ? softmaxRows(rewriter, loc, logits)
              : elementwise(rewriter, loc, logits, f32,
                            [](OpBuilder &b, Location l, ValueRange a) {
                              return sigmoid(b, l, a[0]);
                            });
      // Selection scores: + correction bias, restricted to the best groups.
      Value choice = scores;
      if (Value bias = op.getCorrectionBias()) {
        MLIRContext *ctx = rewriter.getContext();
        Value init =
            emptyTensor(rewriter, loc, sizesOf(rewriter, loc, scores), f32);
        choice =
            linalg::GenericOp::create(
                rewriter, loc, init.getType(), ValueRange{scores, bias},
                ValueRange{init},
                {dimsMap(ctx, 2, {0, 1}), dimsMap(ctx, 2, {1}),
                 dimsMap(ctx, 2, {0, 1})},
                iterators(2),
                [&](OpBuilder &b, Location l, ValueRange a) {
                  Value bf = castFloat(b, l, a[1], b.getF32Type());
                  linalg::YieldOp::create(
                      b, l, ValueRange{arith::AddFOp::create(b, l, a[0], bf)});
                })
                .getResult(0);
      }
      if (routing.isGroupLimited())
        choice = limitToGroups(rewriter, loc, choice, routing, numExperts);
      Value ranks = rankAlongLast(rewriter, loc, choice);
      std::tie(weights, indices) = selectTopK(rewriter, loc, ranks, scores, k);
    } else if (routing.getOrder() == RoutingOrder::sparsemixer) {
      Value ranks = rankAlongLast(rewriter, loc, logits);
      Value selected;
      std::tie(selected, indices) = selectTopK(rewriter, loc, ranks, logits, k);
      weights = sparsemixerWeights(rewriter, loc, logits, ranks, selected,
                                   routing.getSparsemixerEpsValue());
    } else {
      Value ranks = rankAlongLast(rewriter, loc, logits);
      Value selected;
      std::tie(selected, indices) = selectTopK(rewriter, loc, ranks, logits, k);
      weights = routing.getScoring() == ScoringFunc::softmax
                    ? softmaxRows(rewriter, loc, selected)
                    : elementwise(rewriter, loc, selected, f32,
                                  [](OpBuilder &b, Location l, ValueRange a) {
                                    return sigmoid(b, l, a[0]);
                                  });
    }

    if (routing.getRenormalize()) {
      // The sum starts at renorm_epsilon (0 but for LFM2-MoE's 1e-6).
      Value sum = reduceRows(rewriter, loc, weights,
                             routing.getRenormEpsilonValue(), addF);
      weights = withRowValue(rewriter, loc, weights, sum,
                             [](OpBuilder &b, Location l, Value v, Value s) {
                               return Value(arith::DivFOp::create(b, l, v, s));
                             });
    }
    double scale = routing.getScaleValue();
    if (scale != 1.0)
      weights =
          elementwise(rewriter, loc, weights, f32,
                      [&](OpBuilder &b, Location l, ValueRange a) {
                        Value s = floatConst(b, l, b.getF32Type(), scale);
                        return Value(arith::MulFOp::create(b, l, a[0], s));
                      });

    // The op infers i32 indices, as produced here.
    replaceWithResultTypes(rewriter, op, {weights, indices});
    return success();
  }
};

} // namespace

void mlir::moe::populateRouteToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<RouteToLinalg>(patterns.getContext());
}
