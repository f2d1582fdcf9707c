//===- DispatchToLinalg.cpp - moe.dispatch to scf loops on tensors --------===//
//
// A counting sort of the T*k assignments by expert, stable in assignment
// order t*k + j: count per expert, exclusive prefix sum into the offsets,
// then place each assignment at its expert's cursor. Each step is one pass
// over T*k (or E) scalars, far below the GEMMs, so plain scf.for loops on
// tensors (bufferized in place) are the right tool.
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

struct DispatchToLinalg : OpRewritePattern<DispatchOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DispatchOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    Value ids = op.getIndices();
    int64_t numExperts = op.getNumExperts();
    Type i32 = b.getI32Type();
    Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
    Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
    Value zero = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
    Value one = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(1));
    Value tokens = tensor::DimOp::create(b, loc, ids, 0);
    Value k = tensor::DimOp::create(b, loc, ids, 1);
    Value slots = arith::MulIOp::create(b, loc, tokens, k);
    Value expertsPlus1 = arith::ConstantIndexOp::create(b, loc, numExperts + 1);

    // Slot a = t*k + j: its token, its position and its expert (index).
    auto slotOf = [&](OpBuilder &nb, Location nl, Value a) {
      Value t = arith::DivUIOp::create(nb, nl, a, k);
      Value j = arith::RemUIOp::create(nb, nl, a, k);
      Value e = tensor::ExtractOp::create(nb, nl, ids, ValueRange{t, j});
      return std::make_tuple(t, j, toIndex(nb, nl, e));
    };

    // counts[e + 1] = number of assignments to e.
    Value counts0 =
        filledTensor(b, loc, {b.getIndexAttr(numExperts + 1)}, i32, zero);
    auto countLoop = scf::ForOp::create(
        b, loc, c0, slots, c1, ValueRange{counts0},
        [&](OpBuilder &nb, Location nl, Value a, ValueRange iter) {
          Value e = std::get<2>(slotOf(nb, nl, a));
          Value pos = arith::AddIOp::create(nb, nl, e, c1);
          Value c = tensor::ExtractOp::create(nb, nl, iter[0], pos);
          Value c2 = arith::AddIOp::create(nb, nl, c, one);
          Value next = tensor::InsertOp::create(nb, nl, c2, iter[0], pos);
          scf::YieldOp::create(nb, nl, next);
        });
    // Inclusive scan of counts = exclusive scan of the per-expert counts.
    auto scanLoop = scf::ForOp::create(
        b, loc, c1, expertsPlus1, c1, countLoop.getResults(),
        [&](OpBuilder &nb, Location nl, Value e, ValueRange iter) {
          Value prev = arith::SubIOp::create(nb, nl, e, c1);
          Value a = tensor::ExtractOp::create(nb, nl, iter[0], prev);
          Value c = tensor::ExtractOp::create(nb, nl, iter[0], e);
          Value s = arith::AddIOp::create(nb, nl, a, c);
          scf::YieldOp::create(
              nb, nl,
              ValueRange{tensor::InsertOp::create(nb, nl, s, iter[0], e)});
        });
    Value offsets = scanLoop.getResult(0);

    // Placement: cursor[e] starts at offsets[e].
    Value cursor0 = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({numExperts}, i32), offsets,
        ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(numExperts)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
    // A copy, so that the cursor updates do not write into the offsets.
    Value cursorInit = emptyTensor(b, loc, {b.getIndexAttr(numExperts)}, i32);
    cursor0 = linalg::CopyOp::create(b, loc, cursor0, cursorInit).getResult(0);
    Value sorted0 = emptyTensor(b, loc, {OpFoldResult(slots)}, i32);
    Value inverse0 = emptyTensor(b, loc, sizesOf(b, loc, ids), i32);
    auto placeLoop = scf::ForOp::create(
        b, loc, c0, slots, c1, ValueRange{cursor0, sorted0, inverse0},
        [&](OpBuilder &nb, Location nl, Value a, ValueRange iter) {
          auto [t, j, e] = slotOf(nb, nl, a);
          Value p = tensor::ExtractOp::create(nb, nl, iter[0], e);
          Value p1 = arith::AddIOp::create(nb, nl, p, one);
          Value cursor = tensor::InsertOp::create(nb, nl, p1, iter[0], e);
          Value pIdx = toIndex(nb, nl, p);
          Value t32 = arith::IndexCastOp::create(nb, nl, i32, t);
          Value sorted = tensor::InsertOp::create(nb, nl, t32, iter[1], pIdx);
          Value inverse =
              tensor::InsertOp::create(nb, nl, p, iter[2], ValueRange{t, j});
          scf::YieldOp::create(nb, nl, ValueRange{cursor, sorted, inverse});
        });

    replaceWithResultTypes(
        rewriter, op,
        {placeLoop.getResult(1), placeLoop.getResult(2), offsets});
    return success();
  }
};

} // namespace

void mlir::moe::populateDispatchToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<DispatchToLinalg>(patterns.getContext());
}
