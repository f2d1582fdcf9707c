//===- Int8Rows.cpp - input rows quantized to int8 for int8 dot products -===//
//
// The activation side of the CPU kernels' int8 dot products: each row in
// blocks of 32 with one scale, laid out to match the weight format's steps
// (QuantizedWeights.h).
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/QuantizedWeights.h"
#include "codegen/linalg/LoweringUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::moe;

Int8Rows mlir::moe::int8Rows(OpBuilder &b, Location loc, Value input,
                             Value rows, Value lo, Value count, int64_t k,
                             bool halves, const Int8Rows *into) {
  constexpr int64_t block = 32, lanes = block / 4;
  // Elements per i32 lane of the scales and sums: 4, or 8 in two halves.
  int64_t perLane = halves ? 8 : 4;
  Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type();
  auto cst = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  OpFoldResult countF = count;
  Value values = into ? into->values
                      : emptyTensor(b, loc, {countF, b.getIndexAttr(k)}, i8);
  Value scales =
      into ? into->scales
           : emptyTensor(b, loc, {countF, b.getIndexAttr(k / perLane)}, f32);
  Value sums =
      into ? into->sums
           : emptyTensor(b, loc, {countF, b.getIndexAttr(k / perLane)}, i32);
  auto vec = [](int64_t n, Type t) { return VectorType::get({n}, t); };
  // Elements [from, from + n) of `v`.
  auto slice = [&](OpBuilder &nb, Value v, int64_t from, int64_t n) -> Value {
    SmallVector<int64_t> mask;
    for (int64_t i = 0; i < n; ++i)
      mask.push_back(from + i);
    return vector::ShuffleOp::create(nb, loc, v, v, mask);
  };
  auto write = [&](OpBuilder &nb, Value v, Value dest, Value m, Value at) {
    return vector::TransferWriteOp::create(nb, loc, v, dest, ValueRange{m, at},
                                           ArrayRef<bool>{true})
        .getResult();
  };
  auto perRow = scf::ForOp::create(
      b, loc, cst(0), count, cst(1), ValueRange{values, scales, sums},
      [&](OpBuilder &rb, Location, Value m, ValueRange rowIter) {
        Value r = arith::AddIOp::create(rb, loc, lo, m);
        if (rows)
          r = toIndex(rb, loc, tensor::ExtractOp::create(rb, loc, rows, r));
        auto perBlock = scf::ForOp::create(
            rb, loc, cst(0), cst(k / block), cst(1), rowIter,
            [&](OpBuilder &nb, Location, Value kb, ValueRange iter) {
              Type elt =
                  cast<RankedTensorType>(input.getType()).getElementType();
              Value k0 = arith::MulIOp::create(nb, loc, kb, cst(block));
              Value x = vector::TransferReadOp::create(
                  nb, loc, vec(block, elt), input, ValueRange{r, k0},
                  floatConst(nb, loc, elt, 0.0), ArrayRef<bool>{true});
              if (elt != f32)
                x = arith::ExtFOp::create(nb, loc, vec(block, f32), x);
              // NaN-free as far as the reduction goes: a tree of maxima.
              Value amax = vector::ReductionOp::create(
                  nb, loc, vector::CombiningKind::MAXNUMF,
                  math::AbsFOp::create(nb, loc, x),
                  arith::FastMathFlags::nnan | arith::FastMathFlags::reassoc);
              Value zero = floatConst(nb, loc, f32, 0.0);
              Value c127 = floatConst(nb, loc, f32, 127.0);
              Value scale = arith::DivFOp::create(nb, loc, amax, c127);
              // A block of zeros keeps scale 0 and values 0.
              Value nonzero = arith::CmpFOp::create(
                  nb, loc, arith::CmpFPredicate::OGT, amax, zero);
              Value inv = arith::SelectOp::create(
                  nb, loc, nonzero, arith::DivFOp::create(nb, loc, c127, amax),
                  zero);
              Value scaled = arith::MulFOp::create(
                  nb, loc, x,
                  vector::BroadcastOp::create(nb, loc, vec(block, f32), inv));
              Value q = arith::FPToSIOp::create(
                  nb, loc, vec(block, i8),
                  math::RoundEvenOp::create(nb, loc, scaled));
              // Each group of 4 values summed: values j, j + 4, .. of the
              // block for j < 4, added.
              Value wide = arith::ExtSIOp::create(nb, loc, vec(block, i32), q);
              Value laneSum;
              for (int64_t j = 0; j < 4; ++j) {
                SmallVector<int64_t> mask;
                for (int64_t l = 0; l < lanes; ++l)
                  mask.push_back(4 * l + j);
                Value part =
                    vector::ShuffleOp::create(nb, loc, wide, wide, mask);
                laneSum = laneSum
                              ? arith::AddIOp::create(nb, loc, laneSum, part)
                                    .getResult()
                              : part;
              }
              Value v, sc, su;
              if (!halves) {
                Value l0 = arith::MulIOp::create(nb, loc, kb, cst(lanes));
                v = write(nb, q, iter[0], m, k0);
                sc = write(nb,
                           vector::BroadcastOp::create(nb, loc, vec(lanes, f32),
                                                       scale),
                           iter[1], m, l0);
                su = write(nb, laneSum, iter[2], m, l0);
              } else {
                // Block j of a unit of 4 (128 elements): its first 16 values
                // at 16 j, its last 16 at 64 + 16 j, so that both halves
                // put block j in lanes [4 j, 4 j + 4); a lane's sum covers
                // its 4 values in each half.
                Value unit = arith::DivUIOp::create(nb, loc, kb, cst(4));
                Value j = arith::RemUIOp::create(nb, loc, kb, cst(4));
                Value at = arith::AddIOp::create(
                    nb, loc, arith::MulIOp::create(nb, loc, unit, cst(128)),
                    arith::MulIOp::create(nb, loc, j, cst(16)));
                // A last unit of 2 blocks (k not whole units of 128) keeps
                // its last 16 values 32 after the first.
                Value half = cst(64);
                if (k % 128 != 0)
                  half = arith::SelectOp::create(
                      nb, loc,
                      arith::CmpIOp::create(nb, loc, arith::CmpIPredicate::uge,
                                            kb, cst(k / 128 * 4)),
                      cst(32), half);
                v = write(nb, slice(nb, q, 0, 16), iter[0], m, at);
                v = write(nb, slice(nb, q, 16, 16), v, m,
                          arith::AddIOp::create(nb, loc, at, half));
                Value l0 = arith::AddIOp::create(
                    nb, loc, arith::MulIOp::create(nb, loc, unit, cst(16)),
                    arith::MulIOp::create(nb, loc, j, cst(4)));
                sc = write(
                    nb,
                    vector::BroadcastOp::create(nb, loc, vec(4, f32), scale),
                    iter[1], m, l0);
                su = write(nb,
                           arith::AddIOp::create(nb, loc,
                                                 slice(nb, laneSum, 0, 4),
                                                 slice(nb, laneSum, 4, 4)),
                           iter[2], m, l0);
              }
              scf::YieldOp::create(nb, loc, ValueRange{v, sc, su});
            });
        scf::YieldOp::create(rb, loc, perBlock.getResults());
      });
  return {perRow.getResult(0), perRow.getResult(1), perRow.getResult(2)};
}

Int8Rows mlir::moe::allInt8Rows(OpBuilder &b, Location loc, Value input,
                                Value rows, Value m, int64_t k, bool halves) {
  // Chunks of about 8192 values: in decode the few rows still spread over
  // the threads (qwen3-30b-a3b at T=8: 64 rows of 2048 took 27 us on one
  // thread in a single chunk of 64).
  const int64_t chunk = std::max<int64_t>(1, 8192 / k);
  int64_t perLane = halves ? 8 : 4;
  auto cst = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  // tensor.empty, not a fresh alloc_tensor: CSE then merges two
  // quantizations of the same rows into one (an expert's gate and up
  // GEMMs read the same rows; qwen3-30b-a3b q4_0 at T=512: 1.05x).
  auto fresh = [&](int64_t cols, Type elt) -> Value {
    return tensor::EmptyOp::create(
        b, loc, ArrayRef<OpFoldResult>{m, b.getIndexAttr(cols)}, elt);
  };
  SmallVector<Value> outs = {fresh(k, b.getI8Type()),
                             fresh(k / perLane, b.getF32Type()),
                             fresh(k / perLane, b.getI32Type())};
  Value chunks = arith::DivUIOp::create(
      b, loc, arith::AddIOp::create(b, loc, m, cst(chunk - 1)), cst(chunk));
  auto forall = scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{chunks},
                                      outs, std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  Value lo =
      arith::MulIOp::create(b, loc, forall.getInductionVars()[0], cst(chunk));
  Value count = arith::MinUIOp::create(b, loc, cst(chunk),
                                       arith::SubIOp::create(b, loc, m, lo));
  // Each chunk writes its rows of the shared tensors in place.
  SmallVector<Value> shared(forall.getRegionIterArgs());
  SmallVector<SmallVector<OpFoldResult>> at, sizes;
  SmallVector<Value> slices;
  for (Value t : shared) {
    int64_t cols = cast<RankedTensorType>(t.getType()).getDimSize(1);
    at.push_back({lo, b.getIndexAttr(0)});
    sizes.push_back({count, b.getIndexAttr(cols)});
    slices.push_back(tensor::ExtractSliceOp::create(
        b, loc, t, at.back(), sizes.back(),
        SmallVector<OpFoldResult>(2, b.getIndexAttr(1))));
  }
  Int8Rows into = {slices[0], slices[1], slices[2]};
  Int8Rows chunkRows =
      int8Rows(b, loc, input, rows, lo, count, k, halves, &into);
  b.setInsertionPointToStart(forall.getTerminator().getBody());
  Value results[] = {chunkRows.values, chunkRows.scales, chunkRows.sums};
  for (size_t i = 0; i < 3; ++i)
    tensor::ParallelInsertSliceOp::create(
        b, loc, results[i], shared[i], at[i], sizes[i],
        SmallVector<OpFoldResult>(2, b.getIndexAttr(1)));
  return {forall.getResult(0), forall.getResult(1), forall.getResult(2)};
}
