//===- Int8RowRepack.cpp - weight rows repacked into int8 panel lanes -----===//
//
// Int8RowRepack.h: an item's weight rows as stored, 16 rows of a unit of
// 128 values at a time, transposed into the int8 panel kernel's lanes.
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/Int8RowRepack.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::moe;

namespace {
/// Values per block and per unit (4 blocks in halves, int8RowsInHalves),
/// and the columns of one panel.
constexpr int64_t kBlock = 32, kUnit = 128, kPanel = 16;
} // namespace

Int8RowRepacker::Int8RowRepacker(OpBuilder &b, Location loc,
                                 const ContractionOperands &o,
                                 QuantizedWeightReader &reader,
                                 Value weightBuffer, int64_t panels, int64_t k,
                                 bool mins)
    : b(b), loc(loc), o(o), reader(reader), weightBuffer(weightBuffer),
      panels(panels), k(k), mins(mins) {}

Value Int8RowRepacker::index(int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// The 16 x 16 transpose of `rows` (vectors of 16 lanes): swaps the
/// off-diagonal blocks of 8, then of 4, 2 and 1, each row of a swap a
/// shuffle of two rows.
SmallVector<Value> Int8RowRepacker::transpose16(SmallVector<Value> rows) {
  for (int64_t s = 8; s >= 1; s /= 2) {
    SmallVector<Value> next(rows);
    for (int64_t i = 0; i < 16; ++i) {
      if (i & s)
        continue;
      int64_t j = i + s;
      SmallVector<int64_t> lo, hi;
      for (int64_t c = 0; c < 16; ++c) {
        lo.push_back(c & s ? 16 + c - s : c);
        hi.push_back(c & s ? 16 + c : c + s);
      }
      next[i] = vector::ShuffleOp::create(b, loc, rows[i], rows[j], lo);
      next[j] = vector::ShuffleOp::create(b, loc, rows[i], rows[j], hi);
    }
    rows = next;
  }
  return rows;
}

/// From 16 rows' lane vectors whose lanes 4 j hold block j's value
/// (j < 4): per block j, the 16 rows' values.
SmallVector<Value> Int8RowRepacker::blockColumns(ArrayRef<Value> rows) {
  SmallVector<int64_t> pick = {0, 4, 8, 12, 16, 20, 24, 28}, all;
  for (int64_t l = 0; l < 16; ++l)
    all.push_back(l);
  // x[g] lane 4 r + j: row 4 g + r's block j.
  SmallVector<Value> x;
  for (int64_t g = 0; g < 4; ++g) {
    Value x01 =
        vector::ShuffleOp::create(b, loc, rows[4 * g], rows[4 * g + 1], pick);
    Value x23 = vector::ShuffleOp::create(b, loc, rows[4 * g + 2],
                                          rows[4 * g + 3], pick);
    x.push_back(vector::ShuffleOp::create(b, loc, x01, x23, all));
  }
  SmallVector<Value> columns;
  for (int64_t j = 0; j < 4; ++j) {
    SmallVector<int64_t> mask;
    for (int64_t l = 0; l < 8; ++l)
      mask.push_back(4 * l + j);
    Value lo = vector::ShuffleOp::create(b, loc, x[0], x[1], mask);
    Value hi = vector::ShuffleOp::create(b, loc, x[2], x[3], mask);
    columns.push_back(vector::ShuffleOp::create(b, loc, lo, hi, all));
  }
  return columns;
}

/// Repacks the weight rows of output columns [col, col + 16 x panels)
/// (the item's last column repeated past its end) into the tile.
SmallVector<Value> Int8RowRepacker::repack(Value col, ValueRange tile) {
  Value last = arith::SubIOp::create(b, loc, o.numCols, index(1));
  int64_t rowBytes = cast<RankedTensorType>(o.w.getType()).getDimSize(1);
  int64_t unitBytes = kUnit / kBlock * o.quant.getBlockBytes();
  int64_t prefetchAhead = 4 * unitBytes;
  auto i32x16 = VectorType::get({16}, b.getI32Type());
  auto forOp = scf::ForOp::create(
      b, loc, index(0), index(k / kUnit), index(1), tile,
      [&](OpBuilder &nb, Location, Value u, ValueRange iter) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        Value base = arith::MulIOp::create(b, loc, u, index(unitBytes));
        Value blk0 = arith::MulIOp::create(b, loc, u, index(kUnit / kBlock));
        // The rows' bytes a few units on: 32 rows a row's length apart
        // are more streams than the hardware prefetchers follow.
        Value ahead = arith::MinUIOp::create(
            b, loc, arith::AddIOp::create(b, loc, base, index(prefetchAhead)),
            index(rowBytes - 1));
        Value ahead2 = arith::MinUIOp::create(
            b, loc, arith::AddIOp::create(b, loc, ahead, index(64)),
            index(rowBytes - 1));
        SmallVector<Value> out(iter.begin(), iter.end());
        for (int64_t p = 0; p < panels; ++p) {
          SmallVector<Value> halves[2], scales, negMins;
          for (int64_t r = 0; r < kPanel; ++r) {
            Value c = arith::MinUIOp::create(
                b, loc,
                arith::AddIOp::create(b, loc, col, index(kPanel * p + r)),
                last);
            Value row = arith::AddIOp::create(b, loc, o.colBase, c);
            for (Value at : {ahead, ahead2})
              memref::PrefetchOp::create(b, loc, weightBuffer,
                                         ValueRange{row, at},
                                         /*isWrite=*/false,
                                         /*localityHint=*/3,
                                         /*isDataCache=*/true);
            reader.beginUnit();
            QuantizedWeightReader::Int8Step step =
                reader.int8Step(o.w, row, base, 0);
            for (int64_t h = 0; h < 2; ++h)
              halves[h].push_back(
                  vector::BitCastOp::create(b, loc, i32x16, step.bytes[h]));
            scales.push_back(step.scales);
            if (mins)
              negMins.push_back(step.negMins);
          }
          SmallVector<Value> lanes[2] = {transpose16(halves[0]),
                                         transpose16(halves[1])};
          SmallVector<Value> s = blockColumns(scales);
          SmallVector<Value> z;
          if (mins)
            z = blockColumns(negMins);
          for (int64_t j = 0; j < 4; ++j) {
            Value blk = arith::AddIOp::create(b, loc, blk0, index(j));
            for (int64_t t = 0; t < 8; ++t)
              out[0] = vector::TransferWriteOp::create(
                           b, loc, lanes[t / 4][4 * j + t % 4], out[0],
                           ValueRange{index(p), blk, index(t), index(0)},
                           ArrayRef<bool>{true})
                           .getResult();
            out[1] =
                vector::TransferWriteOp::create(
                    b, loc, s[j], out[1], ValueRange{index(p), blk, index(0)},
                    ArrayRef<bool>{true})
                    .getResult();
            if (mins)
              out[2] =
                  vector::TransferWriteOp::create(
                      b, loc, z[j], out[2], ValueRange{index(p), blk, index(0)},
                      ArrayRef<bool>{true})
                      .getResult();
          }
        }
        scf::YieldOp::create(b, loc, out);
      });
  return SmallVector<Value>(forOp.getResults());
}

/// Prefetches block `blk`'s bytes of the weight rows of the group of
/// panels at column `col` (the item's last row for those past it) into
/// L2: the blocks' bytes cover every line.
void Int8RowRepacker::fetchRows(Value col, Value blk) {
  Value last = arith::SubIOp::create(b, loc, o.numCols, index(1));
  Value at = arith::MulIOp::create(b, loc, blk, index(o.quant.getBlockBytes()));
  for (int64_t r = 0; r < kPanel * panels; ++r) {
    Value c = arith::MinUIOp::create(
        b, loc, arith::AddIOp::create(b, loc, col, index(r)), last);
    memref::PrefetchOp::create(
        b, loc, weightBuffer,
        ValueRange{arith::AddIOp::create(b, loc, o.colBase, c), at},
        /*isWrite=*/false, /*localityHint=*/2, /*isDataCache=*/true);
  }
}
