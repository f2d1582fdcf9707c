//===- Int8RowRepack.h - weight rows repacked into int8 panel lanes -*- C++
//-*-===//
//
// The int8 panel kernel (Int8Panels.cpp) on a weight the runtime did not
// pack at binding: an item with enough rows repacks its block-quantized
// weight rows, a group of panels at a time, into a scratch tile of the
// panels' lanes (one block of one column per i32 lane) with the columns'
// block scales and negated mins.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_CODEGEN_CPU_INT8ROWREPACK_H
#define MOEC_CODEGEN_CPU_INT8ROWREPACK_H

#include "codegen/cpu/ContractionKernel.h"
#include "codegen/cpu/QuantizedWeights.h"

namespace mlir::moe {

class Int8RowRepacker {
public:
  /// For the GEMM of `o` (its weight rows as stored, read through
  /// `reader` from `weightBuffer`, the memref of o.w), with groups of
  /// `panels` panels of 16 columns and `k` input values; `mins` when the
  /// format has them (the tile's third tensor).
  Int8RowRepacker(OpBuilder &b, Location loc, const ContractionOperands &o,
                  QuantizedWeightReader &reader, Value weightBuffer,
                  int64_t panels, int64_t k, bool mins);

  /// Repacks the weight rows of output columns [col, col + 16 x panels)
  /// (the item's last column repeated past its end) into `tile`: lanes
  /// [panels, blocks, 8, 16] of i32, block scales [panels, blocks, 16]
  /// and, with mins, negated mins of that shape. Returns the tile.
  SmallVector<Value> repack(Value col, ValueRange tile);

  /// Prefetches block `blk`'s bytes of the weight rows of the group of
  /// panels at column `col` (the item's last row for those past it) into
  /// L2: the blocks' bytes cover every line.
  void fetchRows(Value col, Value blk);

private:
  Value index(int64_t v);
  /// The 16 x 16 transpose of `rows` (vectors of 16 lanes).
  SmallVector<Value> transpose16(SmallVector<Value> rows);
  /// From 16 rows' lane vectors whose lanes 4 j hold block j's value
  /// (j < 4): per block j, the 16 rows' values.
  SmallVector<Value> blockColumns(ArrayRef<Value> rows);

  OpBuilder &b;
  Location loc;
  const ContractionOperands &o;
  QuantizedWeightReader &reader;
  Value weightBuffer;
  int64_t panels, k;
  bool mins;
};

} // namespace mlir::moe

#endif // MOEC_CODEGEN_CPU_INT8ROWREPACK_H
