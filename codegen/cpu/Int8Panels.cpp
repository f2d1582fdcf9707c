//===- Int8Panels.cpp - int8 dot products on weight panels ---------------===//
//
// The int8 dot-product kernel on panels, where one vector holds the same 4
// stored values of 16 weight rows (16 output columns), so each vpdpbusd
// multiplies them by 4 values of one input row broadcast to every lane,
// and a lane keeps one block of one column for the block's 8 steps before
// its int32 sum is converted and scaled. The panels are the weight's own
// when the runtime packed it at binding (runtime/abi/Int8PanelLayout.h);
// otherwise an item with many rows repacks its weight rows, a group of
// panels at a time, into a scratch tile of the same lanes
// (Int8RowRepack.h). See emitInt8Panels in ContractionKernel.h.
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/ContractionKernel.h"
#include "codegen/cpu/Int8RowRepack.h"
#include "codegen/linalg/LoweringUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

/// Values per block and per unit (4 blocks in halves, int8RowsInHalves),
/// and the columns of one panel (one vector of i32 lanes).
constexpr int64_t kBlock = 32, kUnit = 128, kPanel = 16;

/// A new tensor of `sizes`: bufferization.alloc_tensor, which CSE never
/// merges with another of the same type as it does tensor.empty (two
/// tables or tiles of one type must not share a buffer).
Value freshTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                  Type elt) {
  SmallVector<int64_t> shape;
  SmallVector<Value> dynamic;
  for (OpFoldResult size : sizes) {
    std::optional<int64_t> v = getConstantIntValue(size);
    shape.push_back(v ? *v : ShapedType::kDynamic);
    if (!v)
      dynamic.push_back(cast<Value>(size));
  }
  return bufferization::AllocTensorOp::create(
      b, loc, RankedTensorType::get(shape, elt), dynamic);
}

/// The byte offset in an int8 row's unit of lane `t` (0 to 7) of block j:
/// int8Rows stores a unit's 4 blocks' first 16 values, then their last 16.
int64_t laneOffset(int64_t t) { return t < 4 ? 4 * t : 64 + 4 * (t - 4); }

class Emitter {
public:
  Emitter(OpBuilder &b, Location loc, const ContractionOperands &o,
          const ContractionKernel &kernel)
      : b(b), loc(loc), o(o), reader(b, loc, o.quant, 16),
        registers(kernel.registers) {
    auto wType = cast<RankedTensorType>(o.w.getType());
    if (o.int8Panels) {
      // [ceil(N / 16), K / R, B] bytes.
      layout = *int8PanelLayout(o.quant);
      twoScales = layout.halfScales();
    }
    shape = int8PanelShape(kernel, twoScales ? 2 : 1);
    if (o.int8Panels) {
      panelCount = wType.getDimSize(0);
      blocks = wType.getDimSize(1) * layout.recordBlocks();
      k = blocks * kBlock;
      // The kernel's bytes ahead, per panel, in blocks of it.
      int64_t perBlock = layout.panelRecordBytes() / layout.recordBlocks();
      int64_t perPanel = kernel.streamAheadBytes / shape.panels;
      streamBlocks =
          std::clamp<int64_t>((perPanel + perBlock - 1) / perBlock, 1, blocks);
    } else {
      int64_t bb = o.quant.getBlockBytes();
      k = wType.getDimSize(1) / bb * o.quant.getBlockElements();
      blocks = k / kBlock;
    }
    f32 = b.getF32Type();
    i32 = b.getI32Type();
    mins = int8HasMins(o.quant);
  }

  Value run(Value dest) {
    Value count = o.numRows, n = o.numCols;
    Value c0 = index(0);
    weightBuffer = weightRowsBuffer(b, loc, o.w);
    if (!o.int8Panels)
      repacker.emplace(b, loc, o, reader, weightBuffer, shape.panels, k, mins);
    blockTables(count);
    int64_t groupCols = kPanel * shape.panels;
    // The scratch tile of one group of panels: [panels, blocks, 8, 16]
    // lanes of 4 bytes, the columns' block scales and negated mins; none
    // on the weight's own panels.
    SmallVector<Value> tile;
    if (!o.int8Panels)
      tile = {freshTensor(b, loc,
                          {b.getIndexAttr(shape.panels), b.getIndexAttr(blocks),
                           b.getIndexAttr(8), b.getIndexAttr(kPanel)},
                          i32),
              freshTensor(b, loc,
                          {b.getIndexAttr(shape.panels), b.getIndexAttr(blocks),
                           b.getIndexAttr(kPanel)},
                          f32)};
    if (mins && !o.int8Panels)
      tile.push_back(
          freshTensor(b, loc,
                      {b.getIndexAttr(shape.panels), b.getIndexAttr(blocks),
                       b.getIndexAttr(kPanel)},
                      f32));
    SmallVector<Value> inits = {dest};
    inits.append(tile);
    auto groups = scf::ForOp::create(
        b, loc, c0, n, index(groupCols), inits,
        [&](OpBuilder &nb, Location, Value col, ValueRange iter) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          SmallVector<Value> packed;
          if (!o.int8Panels)
            packed = repacker->repack(col, iter.drop_front());
          // The next group's rows (or panels) are fetched into L2 while
          // this group is multiplied, for the repacking (or the first row
          // block) to read there.
          Value nextCol = arith::AddIOp::create(b, loc, col, index(groupCols));
          Value hasNext = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::ult, nextCol, n);
          Value d = iter[0];
          Value begin = c0;
          // On the weight's own panels the fetching is spread over the
          // group's blocks of shape.rows rows (R of them, or the first
          // smaller block when there are none): the one at m0 = r x rows
          // fetches the blocks blk with blk % R == r, so the next group's
          // bytes arrive over the whole group's time rather than the first
          // row block's (qwen3-30b-a3b q8_0 at T=512: 42.2 to 39.2 ms). The
          // repacking wants all its rows early: the first row block fetches
          // them all (R = 1; spread, mxfp4 took 47 to 55 ms). With R = 1 on
          // the weight's own panels the first row block streams: it
          // fetches streamBlocks ahead of its reads (rowBlock).
          Value rows = index(shape.rows);
          Value slots =
              o.int8Panels
                  ? arith::MaxUIOp::create(
                        b, loc, arith::DivUIOp::create(b, loc, count, rows),
                        index(1))
                        .getResult()
                  : index(1);
          for (int64_t mr : rowSizes()) {
            Value end = blockEnd(b, loc, begin, count, mr);
            d = loopThreading(
                b, loc, begin, end, mr, d, [&](Value m0, Value dd) {
                  Value slot = arith::DivUIOp::create(b, loc, m0, rows);
                  Value fetches = arith::AndIOp::create(
                      b, loc,
                      arith::CmpIOp::create(
                          b, loc, arith::CmpIPredicate::eq,
                          arith::RemUIOp::create(b, loc, m0, rows), c0),
                      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                            slot, slots));
                  return rowBlock(m0, mr, col, packed, dd, fetches, hasNext,
                                  nextCol, slot, slots);
                });
            begin = end;
          }
          SmallVector<Value> results = {d};
          results.append(packed);
          scf::YieldOp::create(b, loc, results);
        });
    return groups.getResult(0);
  }

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  /// Row blocks of shape.rows, then 4, 2 and 1 for the rest.
  SmallVector<int64_t> rowSizes() {
    SmallVector<int64_t> sizes = {shape.rows};
    for (int64_t s : {int64_t(4), int64_t(2), int64_t(1)})
      if (s < sizes.back())
        sizes.push_back(s);
    return sizes;
  }

  /// Per row and block of the int8 rows: the lanes' start (minus the
  /// weight's offset times the block's values summed), the row's scale,
  /// and with mins the scale times the sum. With two scales a block
  /// (twoScales), the start of the sum of its first 16 values, then of
  /// its last 16 (and with mins, q2_k, the scale times each half's sum).
  void blockTables(Value count) {
    MLIRContext *ctx = b.getContext();
    int64_t offset = reader.int8Offset();
    SmallVector<OpFoldResult> sizes = {count, b.getIndexAttr(blocks)};
    SmallVector<Value> inits = {freshTensor(b, loc, sizes, i32),
                                freshTensor(b, loc, sizes, f32)};
    if (twoScales)
      inits.push_back(freshTensor(b, loc, sizes, i32));
    for (int64_t h = 0; mins && h < (twoScales ? 2 : 1); ++h)
      inits.push_back(freshTensor(b, loc, sizes, f32));
    SmallVector<Type> types;
    for (Value init : inits)
      types.push_back(init.getType());
    SmallVector<AffineMap> maps(inits.size(), dimsMap(ctx, 2, {0, 1}));
    auto generic = linalg::GenericOp::create(
        b, loc, types, ValueRange{}, inits, maps, iterators(2),
        [&](OpBuilder &nb, Location nl, ValueRange) {
          // Table row m is int8 row rowBase + m.
          Value m = arith::AddIOp::create(nb, nl, o.rowBase,
                                          linalg::IndexOp::create(nb, nl, 0));
          Value blk = linalg::IndexOp::create(nb, nl, 1);
          Value lane = arith::MulIOp::create(
              nb, nl, blk, arith::ConstantIndexOp::create(nb, nl, 4));
          Value scale = tensor::ExtractOp::create(nb, nl, o.int8.scales,
                                                  ValueRange{m, lane});
          Value negOffset =
              arith::ConstantOp::create(nb, nl, nb.getI32IntegerAttr(-offset));
          if (twoScales) {
            // The block's halves in the int8 rows (whole units of 4
            // blocks: k is a multiple of 256): its first 16 values at
            // 128 u + 16 j, its last 16 at 64 past them.
            auto cst = [&](int64_t v) -> Value {
              return arith::ConstantIndexOp::create(nb, nl, v);
            };
            Value at = arith::AddIOp::create(
                nb, nl,
                arith::MulIOp::create(
                    nb, nl, arith::DivUIOp::create(nb, nl, blk, cst(4)),
                    cst(kUnit)),
                arith::MulIOp::create(
                    nb, nl, arith::RemUIOp::create(nb, nl, blk, cst(4)),
                    cst(16)));
            SmallVector<Value> out, scaled;
            for (int64_t h = 0; h < 2; ++h) {
              Value values = vector::TransferReadOp::create(
                  nb, nl, VectorType::get({16}, nb.getI8Type()), o.int8.values,
                  ValueRange{m, arith::AddIOp::create(nb, nl, at, cst(64 * h))},
                  arith::ConstantOp::create(nb, nl, nb.getI8IntegerAttr(0)),
                  ArrayRef<bool>{true});
              Value sum = vector::ReductionOp::create(
                  nb, nl, vector::CombiningKind::ADD,
                  arith::ExtSIOp::create(nb, nl, VectorType::get({16}, i32),
                                         values));
              out.push_back(arith::MulIOp::create(nb, nl, sum, negOffset));
              if (mins)
                scaled.push_back(arith::MulFOp::create(
                    nb, nl, scale, arith::SIToFPOp::create(nb, nl, f32, sum)));
            }
            SmallVector<Value> results = {out[0], scale, out[1]};
            results.append(scaled);
            linalg::YieldOp::create(nb, nl, results);
            return;
          }
          Value sum;
          for (int64_t t = 0; t < 4; ++t) {
            Value at = arith::AddIOp::create(
                nb, nl, lane, arith::ConstantIndexOp::create(nb, nl, t));
            Value s = tensor::ExtractOp::create(nb, nl, o.int8.sums,
                                                ValueRange{m, at});
            sum = sum ? arith::AddIOp::create(nb, nl, sum, s).getResult() : s;
          }
          SmallVector<Value> out = {
              arith::MulIOp::create(nb, nl, sum, negOffset), scale};
          if (mins)
            out.push_back(arith::MulFOp::create(
                nb, nl, scale, arith::SIToFPOp::create(nb, nl, f32, sum)));
          linalg::YieldOp::create(nb, nl, out);
        });
    starts = generic.getResult(0);
    rowScales = generic.getResult(1);
    int64_t next = 2;
    if (twoScales)
      secondStarts = generic.getResult(next++);
    if (mins)
      scaledSums = generic.getResult(next++);
    if (mins && twoScales)
      secondScaledSums = generic.getResult(next);
  }

  /// Panel p of the group at column `col` of the item in the weight's
  /// int8 panels (colBase and col are multiples of 16), the last one for
  /// those past the weight's.
  Value panelAt(Value col, int64_t p) {
    Value first = arith::DivUIOp::create(
        b, loc, arith::AddIOp::create(b, loc, o.colBase, col), index(kPanel));
    return arith::MinUIOp::create(
        b, loc, arith::AddIOp::create(b, loc, first, index(p)),
        index(panelCount - 1));
  }

  /// Lane row `row` (64 bytes) of panel `panel` at block `blk` in the
  /// weight's int8 panels as 16 i32 lanes, shifted left by `shift` (right
  /// where negative) and masked by `mask` (none where all ones): whole
  /// lanes shift, so the mask drops the bits a shift brings in from the
  /// neighbouring byte.
  Value laneBits(Value panel, Value blk, int64_t row, int64_t shift,
                 uint32_t mask) {
    auto i32x16 = VectorType::get({16}, i32);
    Value lanes = vector::BitCastOp::create(
        b, loc, i32x16,
        panelBytes(panel, blk, 64 * row, 64, layout.lanesAt(1)));
    if (shift > 0)
      lanes =
          arith::ShLIOp::create(b, loc, lanes, reader.intSplat(16, i32, shift));
    else if (shift < 0)
      lanes = arith::ShRUIOp::create(b, loc, lanes,
                                     reader.intSplat(16, i32, -shift));
    if (mask == 0xFFFFFFFF)
      return lanes;
    return arith::AndIOp::create(
        b, loc, lanes, reader.intSplat(16, i32, static_cast<int32_t>(mask)));
  }

  /// Lanes t (values 4 t to 4 t + 3 of the block's 16 columns) of panel
  /// `panel` at block `blk`: of the scratch tile, or of the weight's int8
  /// panels, where the 4-bit formats' lanes t and t + 4 are the low and
  /// high nibbles of one vector (mxfp4's codes then mapped to values).
  Value weightLanes(ArrayRef<Value> tile, Value panel, Value blk, int64_t t) {
    auto i32x16 = VectorType::get({16}, i32);
    if (!o.int8Panels)
      return vector::TransferReadOp::create(
          b, loc, i32x16, tile[0], ValueRange{panel, blk, index(t), index(0)},
          arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0)),
          ArrayRef<bool>{true});
    if (layout.crumbs()) {
      // q3_k, q2_k: the low 2 bits of the codes from bits 2 (t % 4) and
      // 2 (t % 4) + 1 of crumb row t / 4; q3_k's third from bit t of row 2
      // to bit 2.
      Value low = laneBits(panel, blk, t / 4, -2 * (t % 4), 0x03030303);
      if (layout.laneRows() == 2)
        return low;
      return arith::OrIOp::create(b, loc, low,
                                  laneBits(panel, blk, 2, 2 - t, 0x04040404));
    }
    if (int64_t highRows = layout.highBitRows()) {
      // q5_0, q5_1, q5_k and q6_k: the low 4 bits of the codes from lane
      // row t % 4's nibbles, the rest from the row(s) after them, moved
      // into place: the fifth bit from bit t of row 4 to bit 4; q6_k's
      // high 2 from bits 2 (t % 4) and 2 (t % 4) + 1 of row 4 + t / 4 to
      // bits 4 and 5.
      int64_t tt = t % 4;
      Value nibbles = laneBits(panel, blk, tt, t >= 4 ? -4 : 0, 0x0F0F0F0F);
      bool q6 = highRows == 2;
      Value high =
          laneBits(panel, blk, q6 ? 4 + t / 4 : 4, q6 ? 4 - 2 * tt : 4 - t,
                   q6 ? 0x30303030 : 0x10101010);
      return arith::OrIOp::create(b, loc, nibbles, high);
    }
    int64_t rows = layout.laneRows();
    if (rows == 8)
      return laneBits(panel, blk, t, 0, 0xFFFFFFFF);
    Value lanes =
        laneBits(panel, blk, t % rows, t >= rows ? -4 : 0, 0x0F0F0F0F);
    bool mxfp4 = layout.format == ::moe::abi::Int8PanelLayout::Format::MXFP4;
    if (!mxfp4 && !layout.nonLinear())
      return lanes;
    // e2m1 codes to their values doubled, plus 12; iq4 codes to their
    // non-linear values, plus 128.
    Value codes = vector::BitCastOp::create(
        b, loc, VectorType::get({64}, b.getI8Type()), lanes);
    return vector::BitCastOp::create(b, loc, i32x16,
                                     mxfp4 ? reader.mxfp4Bytes(codes)
                                           : reader.iq4Bytes(codes));
  }

  /// The 16 columns' scales of panel `panel` at block `blk`, as f32
  /// (q4_k, q5_k: `superD`, the super-block's d, times the block's scales;
  /// q6_k, q3_k, q2_k: times the scale of the block's half `half`).
  Value weightScales(ArrayRef<Value> tile, Value panel, Value blk, Value superD,
                     int64_t half = 0) {
    auto f32x16 = VectorType::get({16}, f32);
    if (!o.int8Panels)
      return vector::TransferReadOp::create(
          b, loc, f32x16, tile[1], ValueRange{panel, blk, index(0)},
          floatConst(b, loc, f32, 0.0), ArrayRef<bool>{true});
    if (layout.superBlocks()) {
      if (!superD)
        superD = panelHalves(panel, blk, layout.scalesAt());
      if (twoScales) {
        // The super-block's d times the half's int8 scales (2 per block;
        // q2_k's the low nibbles of its bytes).
        Value bytes = panelBytes(panel, blk, layout.subScalesAt(half), kPanel,
                                 2 * kPanel);
        if (mins)
          return arith::MulFOp::create(
              b, loc, superD,
              arith::UIToFPOp::create(
                  b, loc, f32x16,
                  arith::AndIOp::create(
                      b, loc, bytes, reader.intSplat(16, b.getI8Type(), 15))));
        return arith::MulFOp::create(
            b, loc, superD, arith::SIToFPOp::create(b, loc, f32x16, bytes));
      }
      // The super-block's d times the block's 6-bit scales (iq4_xs's less
      // 32, signed).
      if (layout.nonLinear())
        return arith::MulFOp::create(
            b, loc, superD,
            arith::SIToFPOp::create(
                b, loc, f32x16,
                panelBytes(panel, blk, layout.subScalesAt(0), kPanel, kPanel)));
      return arith::MulFOp::create(
          b, loc, superD, panelByteValues(panel, blk, layout.subScalesAt(0)));
    }
    int64_t scaleBytes = layout.scaleBytes();
    Value bytes =
        panelBytes(panel, blk, layout.scalesAt(), scaleBytes * kPanel);
    switch (scaleBytes) {
    case 1:
      // mxfp4's e8m0 exponents, halved for the doubled values.
      return reader.e8m0HalfOf(
          arith::ExtUIOp::create(b, loc, VectorType::get({16}, i32), bytes));
    case 2: {
      Value halves = vector::BitCastOp::create(
          b, loc, VectorType::get({16}, b.getF16Type()), bytes);
      return arith::ExtFOp::create(b, loc, f32x16, halves);
    }
    default:
      return vector::BitCastOp::create(b, loc, f32x16, bytes);
    }
  }

  /// The 16 columns' mins negated, -d z, of panel `panel` at block `blk`
  /// (with mins; `scales` the columns' d): of the scratch tile, or from
  /// the weight's int8 panels' zero points (q4_k, q5_k: `superNegDmin`, the
  /// super-block's -dmin, times its 6-bit mins m; q2_k: times the 4-bit
  /// mins of the block's half `half`; q4_1, q5_1: their mins m
  /// as they are).
  Value weightNegMins(ArrayRef<Value> tile, Value panel, Value blk,
                      Value scales, Value superNegDmin, int64_t half = 0) {
    auto f32x16 = VectorType::get({16}, f32);
    if (!o.int8Panels)
      return vector::TransferReadOp::create(
          b, loc, f32x16, tile[2], ValueRange{panel, blk, index(0)},
          floatConst(b, loc, f32, 0.0), ArrayRef<bool>{true});
    if (layout.superBlocks()) {
      if (!superNegDmin)
        superNegDmin = arith::NegFOp::create(
            b, loc, panelHalves(panel, blk, layout.zeroPointsAt()));
      if (twoScales)
        // q2_k: -dmin times the high nibbles of the half's bytes.
        return arith::MulFOp::create(
            b, loc, superNegDmin,
            arith::UIToFPOp::create(
                b, loc, f32x16,
                arith::ShRUIOp::create(b, loc,
                                       panelBytes(panel, blk,
                                                  layout.subScalesAt(half),
                                                  kPanel, 2 * kPanel),
                                       reader.intSplat(16, b.getI8Type(), 4))));
      // q4_k and q5_k: -dmin times the block's 6-bit mins.
      return arith::MulFOp::create(
          b, loc, superNegDmin,
          panelByteValues(panel, blk, layout.subMinsAt(0)));
    }
    if (layout.zeroPointBytes() == 2)
      // q4_1's and q5_1's f16 mins m, added as they are (w = d q + m).
      return panelHalves(panel, blk, layout.zeroPointsAt());
    Value z = arith::UIToFPOp::create(
        b, loc, f32x16, panelBytes(panel, blk, layout.zeroPointsAt(), kPanel));
    return arith::NegFOp::create(b, loc,
                                 arith::MulFOp::create(b, loc, scales, z));
  }

  /// `count` bytes of panel `panel` in the weight's int8 panels for block
  /// `blk`: at byte `at` of the block's record, plus `perBlock` times the
  /// block's place in it when a record holds several blocks (q4_k's 8).
  Value panelBytes(Value panel, Value blk, int64_t at, int64_t count,
                   int64_t perBlock = 0) {
    Value record = blk, offset = index(at);
    if (int64_t rb = layout.recordBlocks(); rb > 1) {
      record = arith::DivUIOp::create(b, loc, blk, index(rb));
      if (perBlock)
        offset = arith::AddIOp::create(
            b, loc,
            arith::MulIOp::create(
                b, loc, arith::RemUIOp::create(b, loc, blk, index(rb)),
                index(perBlock)),
            offset);
    }
    return vector::TransferReadOp::create(
        b, loc, VectorType::get({count}, b.getI8Type()), o.w,
        ValueRange{panel, record, offset},
        arith::ConstantOp::create(b, loc, b.getI8IntegerAttr(0)),
        ArrayRef<bool>{true});
  }

  /// The 16 f16 at byte `at` of block `blk`'s record of panel `panel`, as
  /// f32 (q4_k's d or dmin).
  Value panelHalves(Value panel, Value blk, int64_t at) {
    Value halves =
        vector::BitCastOp::create(b, loc, VectorType::get({16}, b.getF16Type()),
                                  panelBytes(panel, blk, at, 2 * kPanel));
    return arith::ExtFOp::create(b, loc, VectorType::get({16}, f32), halves);
  }

  /// The 16 unsigned bytes of block `blk` from byte `at` of its record of
  /// panel `panel` (16 more per block), as f32 (q4_k's scales or mins).
  Value panelByteValues(Value panel, Value blk, int64_t at) {
    return arith::UIToFPOp::create(b, loc, VectorType::get({16}, f32),
                                   panelBytes(panel, blk, at, kPanel, kPanel));
  }

  /// Prefetches block `blk` of the group of panels at column `col` of the
  /// weight's int8 panels into L1 (into L2 was 2% to 9% slower in decode,
  /// the same at T=512): each panel's record of
  /// panelRecordBytes() in a row, or with records of several blocks
  /// (q4_k) the block's share of its record.
  void fetchPanels(Value col, Value blk) {
    int64_t bytes = layout.panelRecordBytes(), rb = layout.recordBlocks();
    Value record = blk, from = index(0);
    int64_t share = bytes;
    if (rb > 1) {
      share = (bytes + rb - 1) / rb;
      record = arith::DivUIOp::create(b, loc, blk, index(rb));
      from = arith::MulIOp::create(
          b, loc, arith::RemUIOp::create(b, loc, blk, index(rb)), index(share));
    }
    for (int64_t p = 0; p < shape.panels; ++p) {
      Value panel = panelAt(col, p);
      // A share that starts mid-line spans one line more.
      for (int64_t at = 0; at < share + (rb > 1 ? 64 : 0); at += 64) {
        Value offset = index(at);
        if (rb > 1)
          offset = arith::MinUIOp::create(
              b, loc, arith::AddIOp::create(b, loc, from, offset),
              index(bytes - 1));
        memref::PrefetchOp::create(b, loc, weightBuffer,
                                   ValueRange{panel, record, offset},
                                   /*isWrite=*/false, /*localityHint=*/3,
                                   /*isDataCache=*/true);
      }
    }
  }

  /// Element [m, at] of a per-block table, broadcast to 16 lanes.
  Value splatAt(Value table, Value m, Value at) {
    Value v = tensor::ExtractOp::create(b, loc, table, ValueRange{m, at});
    return vector::BroadcastOp::create(b, loc,
                                       VectorType::get({16}, v.getType()), v);
  }

  /// The column group and block the row block fetching at block `blk` of
  /// the group at `col` prefetches, and whether it does (`fetches`: it is
  /// one of the group's fetching row blocks; `hasNext`: a group follows
  /// at `nextCol`). Spread (see run): block blk of the next group when blk
  /// % slots == slot. Streaming (on the weight's own panels with one
  /// fetching row block): block blk + streamBlocks of this group, past its
  /// end the next group's, so each panel's bytes are fetched a fixed
  /// distance ahead as they are read (the probe's pattern, which the
  /// memory streams fastest) instead of a whole group ahead, where the
  /// prefetched lines outnumber L1's miss buffers.
  std::tuple<Value, Value, Value> fetchTarget(Value col, Value blk,
                                              Value fetches, Value hasNext,
                                              Value nextCol, Value slot,
                                              Value slots) {
    Value spread = arith::AndIOp::create(
        b, loc, arith::AndIOp::create(b, loc, fetches, hasNext),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                              arith::RemUIOp::create(b, loc, blk, slots),
                              slot));
    if (!o.int8Panels)
      return {spread, nextCol, blk};
    Value ahead = arith::AddIOp::create(b, loc, blk, index(streamBlocks));
    Value inGroup = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                          ahead, index(blocks));
    Value single = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                         slots, index(1));
    Value stream = arith::AndIOp::create(
        b, loc, fetches, arith::OrIOp::create(b, loc, inGroup, hasNext));
    Value streamCol = arith::SelectOp::create(b, loc, inGroup, col, nextCol);
    Value streamBlk = arith::SelectOp::create(
        b, loc, inGroup, ahead,
        arith::SubIOp::create(b, loc, ahead, index(blocks)));
    return {arith::SelectOp::create(b, loc, single, stream, spread),
            arith::SelectOp::create(b, loc, single, streamCol, nextCol),
            arith::SelectOp::create(b, loc, single, streamBlk, blk)};
  }

  /// Rows [m0, m0 + mr) of dest against the tile's panels (columns from
  /// `col`).
  Value rowBlock(Value m0, int64_t mr, Value col, ArrayRef<Value> tile,
                 Value dest, Value fetches, Value hasNext, Value nextCol,
                 Value slot, Value slots) {
    auto f32x16 = VectorType::get({16}, f32);
    auto i32x16 = VectorType::get({16}, i32);
    Type i8 = b.getI8Type();
    int64_t np = shape.panels;
    SmallVector<Value> ms;
    for (int64_t i = 0; i < mr; ++i)
      ms.push_back(arith::AddIOp::create(b, loc, m0, index(i)));
    Value zero = arith::ConstantOp::create(
        b, loc, f32x16, DenseElementsAttr::get(f32x16, b.getF32FloatAttr(0)));
    SmallVector<Value> inits(mr * np, zero);
    // One block's products, added to `accs` (`superD`, `superNegDmin`: per
    // panel the q4_k super-block's d and -dmin).
    auto blockStep = [&](Value blk, ValueRange accs, ArrayRef<Value> superD,
                         ArrayRef<Value> superNegDmin) {
      auto [cond, fetchCol, fetchBlk] =
          fetchTarget(col, blk, fetches, hasNext, nextCol, slot, slots);
      auto fetch = scf::IfOp::create(b, loc, cond);
      {
        OpBuilder::InsertionGuard inner(b);
        b.setInsertionPointToStart(fetch.thenBlock());
        if (o.int8Panels)
          fetchPanels(fetchCol, fetchBlk);
        else
          repacker->fetchRows(fetchCol, fetchBlk);
      }
      // The block's place in the int8 rows: unit u, block j of it.
      Value u = arith::DivUIOp::create(b, loc, blk, index(4));
      Value j = arith::RemUIOp::create(b, loc, blk, index(4));
      Value at = arith::AddIOp::create(
          b, loc, arith::MulIOp::create(b, loc, u, index(kUnit)),
          arith::MulIOp::create(b, loc, j, index(16)));
      // The i32 sums per (row, panel): of the block's 8 steps, or with two
      // scales a block (q6_k, q3_k, q2_k), of its first 4 steps (values 0
      // to 15) in d and of its last 4 in d2.
      SmallVector<Value> d, d2;
      for (int64_t i = 0; i < mr; ++i) {
        Value start = splatAt(starts, ms[i], blk);
        Value start2 = twoScales ? splatAt(secondStarts, ms[i], blk) : Value();
        for (int64_t p = 0; p < np; ++p) {
          d.push_back(start);
          if (twoScales)
            d2.push_back(start2);
        }
      }
      SmallVector<Value> panels;
      for (int64_t p = 0; p < np; ++p)
        panels.push_back(o.int8Panels ? panelAt(col, p) : index(p));
      for (int64_t t = 0; t < 8; ++t) {
        SmallVector<Value> w;
        for (int64_t p = 0; p < np; ++p)
          w.push_back(weightLanes(tile, panels[p], blk, t));
        Value off = arith::AddIOp::create(b, loc, at, index(laneOffset(t)));
        for (int64_t i = 0; i < mr; ++i) {
          Value four = vector::TransferReadOp::create(
              b, loc, VectorType::get({4}, i8), o.int8.values,
              ValueRange{arith::AddIOp::create(b, loc, o.rowBase, ms[i]), off},
              arith::ConstantOp::create(b, loc, b.getI8IntegerAttr(0)),
              ArrayRef<bool>{true});
          Value word = vector::ExtractOp::create(
              b, loc,
              vector::BitCastOp::create(b, loc, VectorType::get({1}, i32),
                                        four),
              0);
          Value a = vector::BroadcastOp::create(b, loc, i32x16, word);
          SmallVector<Value> &sums = twoScales && t >= 4 ? d2 : d;
          for (int64_t p = 0; p < np; ++p)
            sums[i * np + p] = vpdpbusd(b, loc, sums[i * np + p], w[p], a);
        }
      }
      SmallVector<Value> next(accs.begin(), accs.end());
      SmallVector<Value> ws, ws2, nm, nm2;
      for (int64_t p = 0; p < np; ++p) {
        ws.push_back(weightScales(tile, panels[p], blk,
                                  superD.empty() ? Value() : superD[p]));
        if (twoScales)
          ws2.push_back(weightScales(tile, panels[p], blk,
                                     superD.empty() ? Value() : superD[p], 1));
        Value negDmin = superNegDmin.empty() ? Value() : superNegDmin[p];
        if (mins)
          nm.push_back(weightNegMins(tile, panels[p], blk, ws.back(), negDmin));
        if (mins && twoScales)
          nm2.push_back(
              weightNegMins(tile, panels[p], blk, ws2.back(), negDmin, 1));
      }
      for (int64_t i = 0; i < mr; ++i) {
        Value sa = splatAt(rowScales, ms[i], blk);
        Value ss = mins ? splatAt(scaledSums, ms[i], blk) : Value();
        Value ss2 =
            mins && twoScales ? splatAt(secondScaledSums, ms[i], blk) : Value();
        for (int64_t p = 0; p < np; ++p) {
          Value &acc = next[i * np + p];
          Value sum = arith::SIToFPOp::create(b, loc, f32x16, d[i * np + p]);
          if (twoScales) {
            // Each half's sum times its scales, then the row's scale.
            Value halves = vector::FMAOp::create(
                b, loc, arith::SIToFPOp::create(b, loc, f32x16, d2[i * np + p]),
                ws2[p], arith::MulFOp::create(b, loc, sum, ws[p]));
            acc = vector::FMAOp::create(b, loc, halves, sa, acc);
          } else {
            Value scaled = arith::MulFOp::create(b, loc, sum, sa);
            acc = vector::FMAOp::create(b, loc, scaled, ws[p], acc);
          }
          if (mins)
            acc = vector::FMAOp::create(b, loc, nm[p], ss, acc);
          if (ss2)
            acc = vector::FMAOp::create(b, loc, nm2[p], ss2, acc);
        }
      }
      return next;
    };
    scf::ForOp forOp;
    // Records of several blocks (q4_k's super-blocks) have their d and
    // dmin read and converted once per record, not per block, where the
    // two vectors per panel this keeps live fit the registers beside the
    // row block's (int8PanelShape): in decode's small row blocks, not in
    // the largest, where they would spill (qwen3-30b-a3b q4_k: 1.02x to
    // 1.03x at T=1 and 8, 0.99x at T=512 when hoisted there too).
    int64_t rb = o.int8Panels ? layout.recordBlocks() : 1;
    int64_t sums = twoScales ? 2 : 1, supers = mins ? 2 : 1;
    if (rb > 1 && (1 + sums) * np * mr + 2 * np + 2 + supers * np > registers)
      rb = 1;
    if (rb == 1) {
      forOp = scf::ForOp::create(
          b, loc, index(0), index(blocks), index(1), inits,
          [&](OpBuilder &nb, Location, Value blk, ValueRange accs) {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
            scf::YieldOp::create(b, loc, blockStep(blk, accs, {}, {}));
          });
    } else {
      forOp = scf::ForOp::create(
          b, loc, index(0), index(blocks / rb), index(1), inits,
          [&](OpBuilder &nb, Location, Value record, ValueRange accs) {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
            Value blk0 = arith::MulIOp::create(b, loc, record, index(rb));
            SmallVector<Value> superD, superNegDmin;
            for (int64_t p = 0; p < np; ++p) {
              Value panel = panelAt(col, p);
              superD.push_back(panelHalves(panel, blk0, layout.scalesAt()));
              if (mins)
                superNegDmin.push_back(arith::NegFOp::create(
                    b, loc, panelHalves(panel, blk0, layout.zeroPointsAt())));
            }
            auto inner = scf::ForOp::create(
                b, loc, index(0), index(rb), index(1), accs,
                [&](OpBuilder &ib, Location, Value j, ValueRange innerAccs) {
                  OpBuilder::InsertionGuard innerGuard(b);
                  b.setInsertionPoint(ib.getInsertionBlock(),
                                      ib.getInsertionPoint());
                  Value blk = arith::AddIOp::create(b, loc, blk0, j);
                  scf::YieldOp::create(
                      b, loc, blockStep(blk, innerAccs, superD, superNegDmin));
                });
            scf::YieldOp::create(b, loc, inner.getResults());
          });
    }
    Type elt = cast<RankedTensorType>(dest.getType()).getElementType();
    for (int64_t p = 0; p < np; ++p) {
      Value c = arith::AddIOp::create(b, loc, col, index(kPanel * p));
      Value bias;
      if (o.bias) {
        Type bt = cast<RankedTensorType>(o.bias.getType()).getElementType();
        bias = vector::TransferReadOp::create(
            b, loc, VectorType::get({16}, bt), o.bias,
            ValueRange{arith::AddIOp::create(b, loc, o.colBase, c)},
            floatConst(b, loc, bt, 0.0), ArrayRef<bool>{false});
        if (bt != f32)
          bias = arith::ExtFOp::create(b, loc, f32x16, bias);
      }
      for (int64_t i = 0; i < mr; ++i) {
        Value v = forOp.getResult(i * np + p);
        if (bias)
          v = arith::AddFOp::create(b, loc, v, bias);
        if (elt != f32)
          v = arith::TruncFOp::create(b, loc, VectorType::get({16}, elt), v);
        // Columns past the item's are masked off.
        dest = vector::TransferWriteOp::create(
                   b, loc, v, dest, ValueRange{ms[i], c}, ArrayRef<bool>{false})
                   .getResult();
      }
    }
    return dest;
  }

  OpBuilder &b;
  Location loc;
  const ContractionOperands &o;
  QuantizedWeightReader reader;
  Int8PanelShape shape;
  /// The target's vector registers.
  int64_t registers = 0;
  int64_t k = 0, blocks = 0;
  /// On the weight's own panels: the blocks a streaming row block fetches
  /// ahead of the one it reads (fetchTarget).
  int64_t streamBlocks = 1;
  /// With the weight's own int8 panels: their layout and count.
  ::moe::abi::Int8PanelLayout layout;
  int64_t panelCount = 0;
  Type f32, i32;
  bool mins = false;
  /// q6_k's, q3_k's and q2_k's blocks take two scales, one per half of
  /// 16 values (q6_k: the low and the high nibbles of its lanes; q3_k and
  /// q2_k: their two rows of crumbs; q2_k a min per half too).
  bool twoScales = false;
  Value starts, rowScales, scaledSums, secondStarts, secondScaledSums;
  Value weightBuffer;
  /// Without the weight's own panels: the repacking of its rows.
  std::optional<Int8RowRepacker> repacker;
};

} // namespace

Value mlir::moe::emitInt8Panels(OpBuilder &b, Location loc,
                                const ContractionOperands &operands, Value dest,
                                const ContractionKernel &kernel) {
  return Emitter(b, loc, operands, kernel).run(dest);
}
