//===- ExchangePlanToLinalg.cpp - moe.exchange_plan to scf loops ----------===//
//
// Two passes over the rank's T*k assignments, like moe.dispatch's counting
// sort but keyed by destination rank: the first picks each assignment's
// replica (and so its rank) and counts per rank, the second places it at
// its rank's cursor. The placement's tables are constants.
//
//===----------------------------------------------------------------------===//
#include "codegen/linalg/LoweringUtils.h"
#include "codegen/linalg/Passes.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

/// An i32 constant tensor of `values`.
Value i32Table(OpBuilder &b, Location loc, ArrayRef<int64_t> values) {
  SmallVector<int32_t> narrow(values.begin(), values.end());
  auto type = RankedTensorType::get({int64_t(narrow.size())}, b.getI32Type());
  return arith::ConstantOp::create(
      b, loc, DenseIntElementsAttr::get(type, ArrayRef<int32_t>(narrow)));
}

struct ExchangePlanToLinalg : OpRewritePattern<ExchangePlanOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ExchangePlanOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    ExpertPlacementAttr plan = op.getPlacement();
    int64_t experts = plan.getNumExperts(), ranks = plan.getNumRanks();
    Value ids = op.getIndices();
    Type i32 = b.getI32Type(), i64 = b.getI64Type();
    auto cIndex = [&](int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v).getResult();
    };
    auto cI32 = [&](OpBuilder &nb, Location nl, int64_t v) {
      return arith::ConstantOp::create(nb, nl, nb.getI32IntegerAttr(v))
          .getResult();
    };
    Value c0 = cIndex(0), c1 = cIndex(1);
    Value tokens = tensor::DimOp::create(b, loc, ids, 0);
    Value k = tensor::DimOp::create(b, loc, ids, 1);
    Value rows = arith::MulIOp::create(b, loc, tokens, k);

    // Expert e's slots are log_to_phys[first[e] .. first[e] + replicas[e]).
    SmallVector<int64_t> first = {0};
    for (int64_t r : plan.getReplicas())
      first.push_back(first.back() + r);
    Value firstTable = i32Table(b, loc, first);
    Value replicaTable = i32Table(b, loc, plan.getReplicas());
    Value slotTable = i32Table(b, loc, plan.getLogToPhys());
    Value rank32 = arith::IndexCastOp::create(b, loc, i32, op.getRank());
    Value slotsPerRank = cI32(b, loc, plan.getSlotsPerRank());

    // Assignment a = t*k + j: its token, position and expert.
    auto assignment = [&](OpBuilder &nb, Location nl, Value a) {
      Value t = arith::DivUIOp::create(nb, nl, a, k);
      Value j = arith::RemUIOp::create(nb, nl, a, k);
      Value e = tensor::ExtractOp::create(nb, nl, ids, ValueRange{t, j});
      return std::make_tuple(t, j, e);
    };

    // Pass 1: each assignment's destination rank, and the rows per rank.
    Value seen0 =
        filledTensor(b, loc, {b.getIndexAttr(experts)}, i32, cI32(b, loc, 0));
    Value counts0 =
        filledTensor(b, loc, {b.getIndexAttr(ranks)}, i64,
                     arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0)));
    Value dest0 = emptyTensor(b, loc, {OpFoldResult(rows)}, i32);
    auto pick = scf::ForOp::create(
        b, loc, c0, rows, c1, ValueRange{seen0, counts0, dest0},
        [&](OpBuilder &nb, Location nl, Value a, ValueRange iter) {
          Value e = toIndex(nb, nl, std::get<2>(assignment(nb, nl, a)));
          Value n = tensor::ExtractOp::create(nb, nl, iter[0], e);
          Value seen = tensor::InsertOp::create(
              nb, nl, arith::AddIOp::create(nb, nl, n, cI32(nb, nl, 1)),
              iter[0], e);
          Value replicas = tensor::ExtractOp::create(nb, nl, replicaTable, e);
          Value turn = arith::RemUIOp::create(
              nb, nl, arith::AddIOp::create(nb, nl, n, rank32), replicas);
          Value start = tensor::ExtractOp::create(nb, nl, firstTable, e);
          Value slot = tensor::ExtractOp::create(
              nb, nl, slotTable,
              toIndex(nb, nl, arith::AddIOp::create(nb, nl, start, turn)));
          Value dest = arith::DivUIOp::create(nb, nl, slot, slotsPerRank);
          Value destIdx = toIndex(nb, nl, dest);
          Value count = tensor::ExtractOp::create(nb, nl, iter[1], destIdx);
          Value one =
              arith::ConstantOp::create(nb, nl, nb.getI64IntegerAttr(1));
          Value counts = tensor::InsertOp::create(
              nb, nl, arith::AddIOp::create(nb, nl, count, one), iter[1],
              destIdx);
          Value dests = tensor::InsertOp::create(nb, nl, dest, iter[2], a);
          scf::YieldOp::create(nb, nl, ValueRange{seen, counts, dests});
        });
    Value counts = pick.getResult(1), dests = pick.getResult(2);

    // Each rank's first send row: the exclusive prefix sum of the counts.
    Value cursor0 = emptyTensor(b, loc, {b.getIndexAttr(ranks)}, i32);
    auto scan = scf::ForOp::create(
        b, loc, c0, cIndex(ranks), c1, ValueRange{cursor0, cI32(b, loc, 0)},
        [&](OpBuilder &nb, Location nl, Value r, ValueRange iter) {
          Value cursor = tensor::InsertOp::create(nb, nl, iter[1], iter[0], r);
          Value count = arith::TruncIOp::create(
              nb, nl, i32, tensor::ExtractOp::create(nb, nl, counts, r));
          Value next = arith::AddIOp::create(nb, nl, iter[1], count);
          scf::YieldOp::create(nb, nl, ValueRange{cursor, next});
        });

    // Pass 2: place each assignment at its rank's cursor.
    Value sendTokens0 = emptyTensor(b, loc, {OpFoldResult(rows)}, i32);
    Value sendExperts0 = emptyTensor(b, loc, {OpFoldResult(rows)}, i32);
    Value positions0 = emptyTensor(b, loc, sizesOf(b, loc, ids), i32);
    auto place = scf::ForOp::create(
        b, loc, c0, rows, c1,
        ValueRange{scan.getResult(0), sendTokens0, sendExperts0, positions0},
        [&](OpBuilder &nb, Location nl, Value a, ValueRange iter) {
          auto [t, j, e] = assignment(nb, nl, a);
          Value dest =
              toIndex(nb, nl, tensor::ExtractOp::create(nb, nl, dests, a));
          Value p = tensor::ExtractOp::create(nb, nl, iter[0], dest);
          Value cursor = tensor::InsertOp::create(
              nb, nl, arith::AddIOp::create(nb, nl, p, cI32(nb, nl, 1)),
              iter[0], dest);
          Value pIdx = toIndex(nb, nl, p);
          Value t32 = arith::IndexCastOp::create(nb, nl, i32, t);
          Value sendTokens =
              tensor::InsertOp::create(nb, nl, t32, iter[1], pIdx);
          Value sendExperts =
              tensor::InsertOp::create(nb, nl, e, iter[2], pIdx);
          Value positions =
              tensor::InsertOp::create(nb, nl, p, iter[3], ValueRange{t, j});
          scf::YieldOp::create(
              nb, nl, ValueRange{cursor, sendTokens, sendExperts, positions});
        });

    replaceWithResultTypes(
        rewriter, op,
        {place.getResult(1), place.getResult(2), counts, place.getResult(3)});
    return success();
  }
};

} // namespace

void mlir::moe::populateExchangePlanToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<ExchangePlanToLinalg>(patterns.getContext());
}
