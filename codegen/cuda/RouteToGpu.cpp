//===- RouteToGpu.cpp - moe.route as a GPU kernel
//--------------------------===//
//
// One thread per token, no per-thread arrays: the scores are recomputed from
// the logits where needed (they stay in L1), the kept groups are a bit mask,
// and top-k is k passes over the experts, each taking the best expert that
// ranks below the previous pick in (selection score, lower index) order. The
// weights are written to their output row as they are picked and finished
// there (softmax over the selected, renormalization, scale).
//
//===----------------------------------------------------------------------===//
#include "codegen/cuda/KernelBuilder.h"
#include "codegen/cuda/Passes.h"
#include "codegen/linalg/LoweringUtils.h"
#include "dialect/MoEOps.h"

#include "mlir/IR/PatternMatch.h"

#include <limits>

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::gpu_kernels;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// The body of one token's thread.
struct TokenRouter {
  OpBuilder &b;
  Location loc;
  RoutingAttr routing;
  Value logits, bias, weights, indices; // buffers; bias may be null
  Value token, numExperts;
  int64_t staticExperts; // ShapedType::kDynamic unless known
  // Softmax statistics over all experts (score_then_topk with softmax).
  Value rowMax, rowSum;

  Value c(int64_t v) { return indexConst(b, loc, v); }
  Value f(double v) { return f32Const(b, loc, v); }
  Value select(Value cond, Value t, Value e) {
    return arith::SelectOp::create(b, loc, cond, t, e);
  }
  Value cmpf(arith::CmpFPredicate p, Value x, Value y) {
    return arith::CmpFOp::create(b, loc, p, x, y);
  }
  Value cmpi(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  Value andi(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value ori(Value x, Value y) { return arith::OrIOp::create(b, loc, x, y); }
  Value exp(Value x) { return math::ExpOp::create(b, loc, x); }
  Value sigmoid(Value x) { return moe::sigmoid(b, loc, x); }

  /// scf.for over [lb, ub) carrying `init`; `step` gets the induction
  /// variable and the carried values and returns the next ones.
  ValueRange loop(Value lb, Value ub, ValueRange init,
                  function_ref<SmallVector<Value>(Value, ValueRange)> step) {
    auto forOp = scf::ForOp::create(
        b, loc, lb, ub, c(1), init,
        [&](OpBuilder &nb, Location, Value iv, ValueRange args) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToEnd(nb.getInsertionBlock());
          scf::YieldOp::create(b, loc, step(iv, args));
        });
    return forOp.getResults();
  }

  Value logit(Value e) {
    return castFloat(
        b, loc, memref::LoadOp::create(b, loc, logits, ValueRange{token, e}),
        b.getF32Type());
  }

  /// The weight score of expert e (score_then_topk).
  Value score(Value e) {
    if (routing.getScoring() == ScoringFunc::sigmoid)
      return sigmoid(logit(e));
    Value shifted = arith::SubFOp::create(b, loc, logit(e), rowMax);
    return arith::DivFOp::create(b, loc, exp(shifted), rowSum);
  }

  static Value nanAsNegInf(TokenRouter &r, Value v) {
    return r.select(r.cmpf(arith::CmpFPredicate::UNO, v, v), r.f(-kInf), v);
  }

  /// The selection score of expert e (score_then_topk): the score plus the
  /// correction bias; NaN as -inf. What groups are scored by.
  Value selection(Value e) {
    Value v = score(e);
    if (bias)
      v = arith::AddFOp::create(
          b, loc, v,
          castFloat(b, loc, memref::LoadOp::create(b, loc, bias, ValueRange{e}),
                    b.getF32Type()));
    return nanAsNegInf(*this, v);
  }

  /// What the experts are ranked by: the selection score with a bias, else
  /// the logit (topk_then_score ranks logits; without a bias either score
  /// is increasing in the logit, so the logit orders the experts alike,
  /// with no rounding ties and no exp); NaN as -inf.
  Value key(Value e) {
    if (routing.getOrder() == RoutingOrder::score_then_topk && bias)
      return selection(e);
    return nanAsNegInf(*this, logit(e));
  }

  void softmaxStatistics() {
    rowMax = loop(c(0), numExperts, {f(-kInf)}, [&](Value e, ValueRange acc) {
      return SmallVector<Value>{
          arith::MaximumFOp::create(b, loc, acc[0], logit(e))};
    })[0];
    rowSum = loop(c(0), numExperts, {f(0.0)}, [&](Value e, ValueRange acc) {
      Value shifted = arith::SubFOp::create(b, loc, logit(e), rowMax);
      return SmallVector<Value>{
          arith::AddFOp::create(b, loc, acc[0], exp(shifted))};
    })[0];
  }

  /// The bit mask (i64) of the topk_group best groups.
  Value keptGroups() {
    int64_t groups = routing.getNGroup();
    int64_t size = staticExperts / groups;
    bool top2 = routing.getGroupScore() == GroupScoreFunc::top2_sum;
    auto groupScore = [&](Value g) -> Value {
      Value first = arith::MulIOp::create(b, loc, g, c(size));
      Value last = arith::AddIOp::create(b, loc, first, c(size));
      ValueRange best =
          loop(first, last, {f(-kInf), f(-kInf)}, [&](Value e, ValueRange acc) {
            Value v = selection(e), a = acc[0], s = acc[1];
            Value above = cmpf(arith::CmpFPredicate::OGT, v, a);
            Value second = cmpf(arith::CmpFPredicate::OGT, v, s);
            // (a, s): the largest and the second largest so far.
            Value newS = select(above, a, select(second, v, s));
            return SmallVector<Value>{select(above, v, a), newS};
          });
      return top2 ? arith::AddFOp::create(b, loc, best[0], best[1]) : best[0];
    };
    Type i64 = b.getI64Type();
    Value zero64 = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
    Value one64 = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(1));
    return loop(
        c(0), c(routing.getTopkGroup()), {zero64}, [&](Value, ValueRange mask) {
          ValueRange best = loop(
              c(0), c(groups), {f(-kInf), c(-1)}, [&](Value g, ValueRange acc) {
                Value v = groupScore(g);
                Value bit = arith::ShLIOp::create(
                    b, loc, one64, arith::IndexCastOp::create(b, loc, i64, g));
                Value free =
                    cmpi(arith::CmpIPredicate::eq,
                         arith::AndIOp::create(b, loc, mask[0], bit), zero64);
                Value none = cmpi(arith::CmpIPredicate::slt, acc[1], c(0));
                Value better = cmpf(arith::CmpFPredicate::OGT, v, acc[0]);
                Value take = andi(free, ori(none, better));
                return SmallVector<Value>{select(take, v, acc[0]),
                                          select(take, g, acc[1])};
              });
          Value bit = arith::ShLIOp::create(
              b, loc, one64, arith::IndexCastOp::create(b, loc, i64, best[1]));
          return SmallVector<Value>{ori(mask[0], bit)};
        })[0];
  }

  /// Selects the k experts; slot j of the token's rows gets the expert and
  /// its raw weight (the score, or the logit for the other orders).
  void select(Value kept) {
    int64_t size = kept ? staticExperts / routing.getNGroup() : 0;
    auto maskedKey = [&](Value e) -> Value {
      Value v = key(e);
      if (!kept)
        return v;
      Value g = arith::DivUIOp::create(b, loc, e, c(size));
      Value bit = arith::ShLIOp::create(
          b, loc, arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(1)),
          arith::IndexCastOp::create(b, loc, b.getI64Type(), g));
      Value in = cmpi(
          arith::CmpIPredicate::ne, arith::AndIOp::create(b, loc, kept, bit),
          arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0)));
      return select(in, v, f(-kInf));
    };
    loop(c(0), c(routing.getK()), {f(kInf), c(-1)},
         [&](Value j, ValueRange prev) {
           ValueRange best = loop(
               c(0), numExperts, {f(-kInf), c(-1)},
               [&](Value e, ValueRange acc) {
                 Value v = maskedKey(e);
                 Value below =
                     ori(cmpf(arith::CmpFPredicate::OLT, v, prev[0]),
                         andi(cmpf(arith::CmpFPredicate::OEQ, v, prev[0]),
                              cmpi(arith::CmpIPredicate::sgt, e, prev[1])));
                 Value none = cmpi(arith::CmpIPredicate::slt, acc[1], c(0));
                 Value better = cmpf(arith::CmpFPredicate::OGT, v, acc[0]);
                 Value take = andi(below, ori(none, better));
                 return SmallVector<Value>{select(take, v, acc[0]),
                                           select(take, e, acc[1])};
               });
           Value expert = best[1];
           Value raw = routing.getOrder() == RoutingOrder::score_then_topk
                           ? score(expert)
                           : logit(expert);
           memref::StoreOp::create(b, loc, raw, weights, ValueRange{token, j});
           memref::StoreOp::create(
               b, loc,
               arith::IndexCastOp::create(b, loc, b.getI32Type(), expert),
               indices, ValueRange{token, j});
           return SmallVector<Value>{best[0], best[1]};
         });
  }

  /// Rewrites the token's k weights in place: w = fn(w, j), after `pre`
  /// has seen them all (for sums).
  Value sumWeights(function_ref<Value(Value)> term) {
    return loop(
        c(0), c(routing.getK()), {f(0.0)}, [&](Value j, ValueRange acc) {
          Value w =
              memref::LoadOp::create(b, loc, weights, ValueRange{token, j});
          return SmallVector<Value>{
              arith::AddFOp::create(b, loc, acc[0], term(w))};
        })[0];
  }
  void mapWeights(function_ref<Value(Value)> fn) {
    loop(c(0), c(routing.getK()), {}, [&](Value j, ValueRange) {
      Value w = memref::LoadOp::create(b, loc, weights, ValueRange{token, j});
      memref::StoreOp::create(b, loc, fn(w), weights, ValueRange{token, j});
      return SmallVector<Value>{};
    });
  }

  /// order = sparsemixer: slot j's logit m_j (written by select) becomes
  /// its share of a softmax over the experts not picked before it (ranked
  /// below (m_j, i_j)) and within 2·eps of m_j relative to max(|l|, m_j).
  void sparsemixerWeights() {
    Value twoEps = f(2.0 * routing.getSparsemixerEpsValue());
    loop(c(0), c(routing.getK()), {}, [&](Value j, ValueRange) {
      Value m = memref::LoadOp::create(b, loc, weights, ValueRange{token, j});
      Value picked = arith::IndexCastOp::create(
          b, loc, b.getIndexType(),
          memref::LoadOp::create(b, loc, indices, ValueRange{token, j}));
      Value sum =
          loop(c(0), numExperts, {f(0.0)}, [&](Value e, ValueRange acc) {
            Value v = key(e), l = logit(e);
            Value unpicked =
                ori(cmpf(arith::CmpFPredicate::OLT, v, m),
                    andi(cmpf(arith::CmpFPredicate::OEQ, v, m),
                         cmpi(arith::CmpIPredicate::sge, e, picked)));
            Value factor = arith::MaximumFOp::create(
                b, loc, math::AbsFOp::create(b, loc, l), m);
            Value q = arith::DivFOp::create(
                b, loc, arith::SubFOp::create(b, loc, m, l), factor);
            // A NaN quotient masks nothing (ULE is true on NaN).
            Value near = cmpf(arith::CmpFPredicate::ULE, q, twoEps);
            Value term = exp(arith::SubFOp::create(b, loc, l, m));
            Value next = arith::AddFOp::create(b, loc, acc[0], term);
            return SmallVector<Value>{
                select(andi(unpicked, near), next, acc[0])};
          })[0];
      memref::StoreOp::create(b, loc,
                              arith::DivFOp::create(b, loc, f(1.0), sum),
                              weights, ValueRange{token, j});
      return SmallVector<Value>{};
    });
  }

  void run() {
    bool scoreFirst = routing.getOrder() == RoutingOrder::score_then_topk;
    if (scoreFirst && routing.getScoring() == ScoringFunc::softmax)
      softmaxStatistics();
    Value kept = routing.isGroupLimited() ? keptGroups() : Value();
    select(kept);
    if (routing.getOrder() == RoutingOrder::sparsemixer) {
      sparsemixerWeights();
    } else if (!scoreFirst) {
      if (routing.getScoring() == ScoringFunc::softmax) {
        // Slot 0 holds the largest selected logit.
        Value top =
            memref::LoadOp::create(b, loc, weights, ValueRange{token, c(0)});
        mapWeights([&](Value l) {
          return exp(arith::SubFOp::create(b, loc, l, top));
        });
        Value sum = sumWeights([](Value w) { return w; });
        mapWeights(
            [&](Value w) { return arith::DivFOp::create(b, loc, w, sum); });
      } else {
        mapWeights([&](Value l) { return sigmoid(l); });
      }
    }
    if (routing.getRenormalize()) {
      Value sum = sumWeights([](Value w) { return w; });
      if (routing.getRenormEpsilonValue() != 0.0)
        sum = arith::AddFOp::create(b, loc, sum,
                                    f(routing.getRenormEpsilonValue()));
      mapWeights(
          [&](Value w) { return arith::DivFOp::create(b, loc, w, sum); });
    }
    if (routing.getScaleValue() != 1.0) {
      Value scale = f(routing.getScaleValue());
      mapWeights(
          [&](Value w) { return arith::MulFOp::create(b, loc, w, scale); });
    }
  }
};

struct RouteToGpu : OpRewritePattern<RouteOp> {
  RouteToGpu(MLIRContext *ctx, const GpuKernelShape &shape)
      : OpRewritePattern(ctx), shape(shape) {}

  LogicalResult matchAndRewrite(RouteOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RoutingAttr routing = op.getRouting();
    auto logitsType = cast<RankedTensorType>(op.getLogits().getType());
    if (routing.isGroupLimited() &&
        (logitsType.isDynamicDim(1) || routing.getNGroup() > 64))
      return rewriter.notifyMatchFailure(op, "checked by the pass");
    Value logits = toBuffer(rewriter, loc, op.getLogits());
    Value bias = op.getCorrectionBias()
                     ? toBuffer(rewriter, loc, op.getCorrectionBias())
                     : Value();
    Value numTokens = memref::DimOp::create(rewriter, loc, logits, 0);
    Value numExperts = memref::DimOp::create(rewriter, loc, logits, 1);
    Value weights = allocLike(rewriter, loc, op.getWeights().getType(),
                              {numTokens, Value()});
    Value indices = allocLike(rewriter, loc, op.getIndices().getType(),
                              {numTokens, Value()});
    buildItemKernel(rewriter, loc, "route", numTokens, shape.threadsPerProgram,
                    [&](OpBuilder &b, Location l, Value token) {
                      TokenRouter router{b,          l,
                                         routing,    logits,
                                         bias,       weights,
                                         indices,    token,
                                         numExperts, logitsType.getDimSize(1),
                                         {},         {}};
                      router.run();
                    });
    rewriter.replaceOp(
        op, {toTensor(rewriter, loc, op.getWeights().getType(), weights),
             toTensor(rewriter, loc, op.getIndices().getType(), indices)});
    return success();
  }

  GpuKernelShape shape;
};

} // namespace

void mlir::moe::populateRouteToGpuPatterns(RewritePatternSet &patterns,
                                           const GpuKernelShape &shape) {
  patterns.add<RouteToGpu>(patterns.getContext(), shape);
}
