//===- StagedGemmParts.h - the staged GEMM's tile, emitter and sums -*- C++
//-*-===//
//
// What the staged tensor-core GEMM's builder (GroupedMatmulStagedToGpu.cpp)
// shares with its two ways of multiplying a stage (StagedGemmMultiply.cpp):
// mma.sync with ldmatrix, and wgmma on sm_90a.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_CODEGEN_CUDA_STAGEDGEMMPARTS_H
#define MOEC_CODEGEN_CUDA_STAGEDGEMMPARTS_H

#include "codegen/cuda/CudaTarget.h"
#include "codegen/cuda/KernelBuilder.h"
#include "codegen/cuda/StagedGemm.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::moe::gpu_kernels::staged {

using P = arith::CmpIPredicate;

/// A tile of the rule with what follows from it.
struct Tile {
  StagedGemmTile shape;
  int64_t threads, chunks, rowsPerLine, aBytes;
  int64_t warpRows, warpCols, mTiles, nTiles;
  explicit Tile(const StagedGemmTile &t) : shape(t) {
    threads = t.warps() * 32;
    chunks = t.depth / 8;
    rowsPerLine = 8 / chunks;
    aBytes = t.rows * t.depth * 2;
    warpRows = t.rows / t.warpsM;
    warpCols = t.cols / t.warpsN;
    mTiles = warpRows / 16;
    nTiles = warpCols / 8;
  }
};

/// Scalar arithmetic at one insertion point.
struct Emit {
  OpBuilder &b;
  Location loc;
  Value c(int64_t v) { return indexConst(b, loc, v); }
  Value i32(int64_t v) {
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
  }
  Value i64(int64_t v) {
    return arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(v));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value div(Value x, int64_t y) {
    return arith::DivUIOp::create(b, loc, x, c(y));
  }
  Value rem(Value x, int64_t y) {
    return arith::RemUIOp::create(b, loc, x, c(y));
  }
  Value minU(Value x, Value y) { return arith::MinUIOp::create(b, loc, x, y); }
  Value cmp(P p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  Value andI(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value orI(Value x, Value y) { return arith::OrIOp::create(b, loc, x, y); }
  Value select(Value p, Value x, Value y) {
    return arith::SelectOp::create(b, loc, p, x, y);
  }
  Value toI32(Value index) {
    return arith::IndexCastUIOp::create(b, loc, b.getI32Type(), index);
  }
  Value toI64(Value index) {
    return arith::IndexCastUIOp::create(b, loc, b.getI64Type(), index);
  }
  Value fromI32(Value v) {
    return arith::IndexCastUIOp::create(b, loc, b.getIndexType(), v);
  }
  /// The address `byteOffset` (i32) into the staging buffer.
  Value shared(Value base, Value byteOffset) {
    return LLVM::GEPOp::create(b, loc, base.getType(), b.getI8Type(), base,
                               ArrayRef<LLVM::GEPArg>{byteOffset});
  }
  /// Global memory at the i64 address `addr`.
  Value global(Value addr) {
    return LLVM::IntToPtrOp::create(
        b, loc, LLVM::LLVMPointerType::get(b.getContext(), 1), addr);
  }
  void ifThen(Value cond, function_ref<void()> then) {
    auto op = scf::IfOp::create(b, loc, cond, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(op.thenBlock());
    then();
  }
  void ifThenElse(Value cond, function_ref<void()> then,
                  function_ref<void()> otherwise) {
    auto op = scf::IfOp::create(b, loc, cond, /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(op.thenBlock());
    then();
    b.setInsertionPointToStart(op.elseBlock());
    otherwise();
  }
  void barrier() { gpu::BarrierOp::create(b, loc); }
};

/// The swizzled 16-byte chunk index of chunk `chunk` of stage row `row`.
inline Value swizzled(Emit &e, const Tile &t, Value row, Value chunk) {
  Value line = e.rem(e.div(row, t.rowsPerLine), t.chunks);
  return e.add(e.mul(row, e.c(t.chunks)),
               arith::XOrIOp::create(e.b, e.loc, chunk, line));
}

/// The f32 sums a thread holds after the K loop and where they belong:
/// `rows` are the tile rows they fall in (offsets from the tile's first
/// row); each item is one sum (`value`), for gate and up projections
/// with the up sum of the same output (`up`), its row (an index into
/// `rows`) and the stage weight row it was multiplied by.
struct Sums {
  SmallVector<Value> values, rows;
  struct Item {
    int64_t value, up, row;
    Value stageRow;
  };
  SmallVector<Item> items;
};
using KLoop = function_ref<scf::ForOp(
    ValueRange, function_ref<SmallVector<Value>(Emit &, Value, ValueRange)>)>;

/// multiplies rows wm * warpRows .. by stage weight rows wn * warpCols ..,
/// its fragments read by ldmatrix.
Sums mmaSums(Emit &e, const Tile &t, const StagedGemm &gemm, Value base,
             Value tid, KLoop kLoop);

/// wgmma m64nNk16 (sm_90a): the program's two warpgroups each multiply
/// 64 rows of one operand by all rows of the other, both read from the
/// stage through shared-memory descriptors. Prefill: A is 64 of the
/// tile's rows, B the 128 weight rows (N 128). Decode, swapped: A is 64
/// of the weight rows, B the tile's rows (N = rows).
Sums wgmmaSums(Emit &e, const Tile &t, const StagedGemm &gemm, Value base,
               Value tid, KLoop kLoop);

} // namespace mlir::moe::gpu_kernels::staged

#endif // MOEC_CODEGEN_CUDA_STAGEDGEMMPARTS_H
