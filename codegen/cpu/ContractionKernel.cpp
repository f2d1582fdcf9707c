//===- ContractionKernel.cpp - register-blocked contraction on tensors ----===//
#include "codegen/cpu/ContractionKernel.h"
#include "codegen/linalg/LoweringUtils.h"

#include <algorithm>
#include <optional>

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"

using namespace mlir;
using namespace mlir::moe;

ContractionKernel
mlir::moe::contractionKernelFor(const CpuKernelConfig &config) {
  ContractionKernel kernel;
  kernel.lanes = config.lanes;
  kernel.rowBlock = config.dotRows;
  kernel.colBlock = config.dotCols;
  kernel.bf16Dot = config.bf16Dot;
  kernel.int8Dot = config.int8Dot;
  kernel.int8PanelRows = config.int8PanelRows;
  kernel.registers = config.registers;
  kernel.weightTileBytes = config.weightTileBytes;
  kernel.streamAheadBytes = config.streamAheadBytes;
  return kernel;
}

bool mlir::moe::roundsRowsToBf16(const ContractionKernel &kernel, Value weight,
                                 Value input) {
  auto eltOf = [](Value v) {
    return cast<RankedTensorType>(v.getType()).getElementType();
  };
  return kernel.bf16Dot && eltOf(weight).isBF16() && !eltOf(input).isBF16();
}

Value mlir::moe::groupSlice(OpBuilder &b, Location loc, Value full, Value g,
                            int64_t dim) {
  if (!full)
    return full;
  auto type = cast<RankedTensorType>(full.getType());
  OpFoldResult z = b.getIndexAttr(0), u = b.getIndexAttr(1);
  SmallVector<OpFoldResult> at, sizes, strides;
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    at.push_back(d == dim ? OpFoldResult(g) : z);
    sizes.push_back(d == dim ? u : b.getIndexAttr(type.getDimSize(d)));
    strides.push_back(u);
    if (d != dim)
      shape.push_back(type.getDimSize(d));
  }
  auto sliceType = RankedTensorType::get(shape, type.getElementType());
  return tensor::ExtractSliceOp::create(b, loc, sliceType, full, at, sizes,
                                        strides);
}

std::pair<Value, Value> mlir::moe::groupRows(OpBuilder &b, Location loc,
                                             Value offsets, Value g) {
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value lo = toIndex(b, loc, tensor::ExtractOp::create(b, loc, offsets, g));
  Value g1 = arith::AddIOp::create(b, loc, g, one);
  Value hi = toIndex(b, loc, tensor::ExtractOp::create(b, loc, offsets, g1));
  return {lo, arith::SubIOp::create(b, loc, hi, lo)};
}

int64_t KernelWeight::rowBytes(int64_t k) const {
  if (quant)
    return quant.getRowBytes(k);
  auto type = cast<RankedTensorType>(tensor.getType());
  return k * std::max<int64_t>(type.getElementTypeBitWidth() / 8, 1);
}

KernelWeight mlir::moe::kernelWeight(Value weight) {
  if (!weight)
    return {};
  QuantizedType quant = getQuantizedElementType(weight.getType());
  if (!quant)
    return {weight, {}};
  auto castOp = weight.getDefiningOp<UnrealizedConversionCastOp>();
  if (!castOp || castOp.getNumOperands() != 1)
    return {Value(), quant};
  // Bytes [.., N, row bytes], or int8 panels one rank higher.
  Value bytes = castOp.getOperand(0);
  bool panels = cast<RankedTensorType>(bytes.getType()).getRank() ==
                cast<RankedTensorType>(weight.getType()).getRank() + 1;
  return {bytes, quant, panels};
}

int64_t mlir::moe::weightTileRows(int64_t n, int64_t k, int64_t bytesPerElement,
                                  const ContractionKernel &kernel) {
  int64_t rows =
      kernel.weightTileBytes / std::max<int64_t>(k * bytesPerElement, 1);
  rows = std::max(rows / kernel.colBlock * kernel.colBlock, kernel.colBlock);
  return std::min(rows, n);
}

Value mlir::moe::bf16Rows(OpBuilder &b, Location loc, Value input, Value rows,
                          Value lo, Value count, int64_t k) {
  MLIRContext *ctx = b.getContext();
  Type bf16 = b.getBF16Type();
  Value init = emptyTensor(b, loc, {count, b.getIndexAttr(k)}, bf16);
  return linalg::GenericOp::create(
             b, loc, init.getType(), ValueRange{}, ValueRange{init},
             {dimsMap(ctx, 2, {0, 1})}, iterators(2),
             [&](OpBuilder &nb, Location nl, ValueRange) {
               Value m = linalg::IndexOp::create(nb, nl, 0);
               Value col = linalg::IndexOp::create(nb, nl, 1);
               Value r = arith::AddIOp::create(nb, nl, lo, m);
               if (rows)
                 r = toIndex(nb, nl,
                             tensor::ExtractOp::create(nb, nl, rows, r));
               Value v =
                   tensor::ExtractOp::create(nb, nl, input, ValueRange{r, col});
               linalg::YieldOp::create(nb, nl, castFloat(nb, nl, v, bf16));
             })
      .getResult(0);
}

bool mlir::moe::usesInt8Rows(const ContractionKernel &kernel,
                             QuantizedType quant, int64_t k) {
  // Halves formats take a last unit of 2 blocks (64 elements) as a tail.
  return kernel.int8Dot && kernel.lanes == 16 && quant &&
         hasInt8Steps(quant.getFormat()) && k % 64 == 0;
}

Value mlir::moe::loopThreading(OpBuilder &b, Location loc, Value lo, Value hi,
                               int64_t step, Value init,
                               function_ref<Value(Value, Value)> body) {
  auto forOp = scf::ForOp::create(
      b, loc, lo, hi, arith::ConstantIndexOp::create(b, loc, step),
      ValueRange{init},
      [&](OpBuilder &nb, Location, Value iv, ValueRange iter) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        scf::YieldOp::create(b, loc, body(iv, iter[0]));
      });
  return forOp.getResult(0);
}

Value mlir::moe::blockEnd(OpBuilder &b, Location loc, Value begin, Value end,
                          int64_t size) {
  if (size == 1)
    return end;
  Value sizeV = arith::ConstantIndexOp::create(b, loc, size);
  Value count = arith::SubIOp::create(b, loc, end, begin);
  Value blocks = arith::DivUIOp::create(b, loc, count, sizeV);
  Value span = arith::MulIOp::create(b, loc, blocks, sizeV);
  return arith::AddIOp::create(b, loc, begin, span);
}

namespace {

/// Emits the blocks of one contraction.
class Emitter {
public:
  Emitter(OpBuilder &b, Location loc, const ContractionOperands &o,
          const ContractionKernel &kernel)
      : b(b), loc(loc), o(o), kernel(kernel) {
    auto wType = cast<RankedTensorType>(o.w.getType());
    k = wType.getDimSize(1);
    if (o.quant)
      k = k / o.quant.getBlockBytes() * o.quant.getBlockElements();
    f32 = b.getF32Type();
    if (o.quant)
      reader.emplace(b, loc, o.quant, kernel.lanes);
    fastmath = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  }

  Value run(Value dest) {
    Value n = o.numCols;
    auto isBf16 = [](Value t) {
      return !t ||
             cast<RankedTensorType>(t.getType()).getElementType().isBF16();
    };
    useDot = !o.quant && kernel.bf16Dot && kernel.lanes == 16 && isBf16(o.a) &&
             isBf16(o.w) && isBf16(o.up);
    gated = o.activation && o.activation.isGated();
    // Rows in blocks of rowBlock, then the rest in blocks of 4, 2 and 1.
    // int8 rows keep three vectors per row in registers (values, scales,
    // the lanes' start) and a weight step two or three: at most 4 rows.
    bool int8 = bool(o.int8.values);
    SmallVector<int64_t> rowSizes = {
        int8 ? std::min<int64_t>(kernel.rowBlock, 4) : kernel.rowBlock};
    for (int64_t s : {int64_t(4), int64_t(2), int64_t(1)})
      if (s < rowSizes.back())
        rowSizes.push_back(s);
    Value begin = index(0);
    for (int64_t mr : rowSizes) {
      Value end = blockEnd(begin, o.numRows, mr);
      // Blocks of fewer rows (decode, small experts, leftovers) are bound by
      // streaming the weight: they take more weight rows, up to 8 streams,
      // within the same accumulator budget (rowBlock x colBlock; with int8
      // rows, the registers the rows' and a weight step's vectors leave).
      // A gated output reads two weight rows, so it gets half as many
      // outputs.
      int64_t budget = kernel.rowBlock * kernel.colBlock;
      if (int8)
        budget = kernel.registers - 3 * mr - 3;
      int64_t weightRows =
          std::clamp<int64_t>(budget / mr, int8 ? 2 : kernel.colBlock, 8);
      int64_t nc = gated ? std::max<int64_t>(weightRows / 2, 1) : weightRows;
      dest = loop(begin, end, mr, dest, [&](Value m0, int64_t mr, Value d) {
        Value colEnd = blockEnd(index(0), n, nc);
        d = loop(index(0), colEnd, nc, d, [&](Value n0, int64_t nr, Value dd) {
          return block(m0, mr, n0, nr, dd);
        });
        if (nc > 1)
          d = loop(colEnd, n, 1, d, [&](Value n0, int64_t nr, Value dd) {
            return block(m0, mr, n0, nr, dd);
          });
        return d;
      });
      begin = end;
    }
    return dest;
  }

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  Value blockEnd(Value begin, Value end, int64_t size) {
    return mlir::moe::blockEnd(b, loc, begin, end, size);
  }

  /// scf.for over [lo, hi) with step `size`, threading a tensor.
  Value loop(Value lo, Value hi, int64_t size, Value init,
             function_ref<Value(Value, int64_t, Value)> body) {
    return loopThreading(b, loc, lo, hi, size, init,
                         [&](Value iv, Value t) { return body(iv, size, t); });
  }

  /// `len` elements of row `row` of `t` from column `col`, as f32.
  Value load(Value t, Value row, Value col, int64_t len) {
    Type elt = cast<RankedTensorType>(t.getType()).getElementType();
    auto type = VectorType::get({len}, elt);
    Value pad = floatConst(b, loc, elt, 0.0);
    Value v = vector::TransferReadOp::create(
        b, loc, type, t, ValueRange{row, col}, pad, ArrayRef<bool>{true});
    if (elt != f32)
      v = arith::ExtFOp::create(b, loc, VectorType::get({len}, f32), v);
    return v;
  }

  /// A vector of f32 zeros of `type` (the accumulators' start).
  Value zeroVector(VectorType type) {
    return arith::ConstantOp::create(
        b, loc, type, DenseElementsAttr::get(type, b.getF32FloatAttr(0)));
  }

  /// Each accumulator's lanes summed (free to reassociate).
  SmallVector<Value> laneSums(ValueRange accs) {
    SmallVector<Value> sums;
    for (Value acc : accs)
      sums.push_back(vector::ReductionOp::create(
          b, loc, vector::CombiningKind::ADD, acc, fastmath));
    return sums;
  }

  /// Sums over k in [k0, k1) like dotProducts, 32 bf16 at a time with
  /// AVX512_BF16 dot products (each f32 lane sums a pair of k).
  SmallVector<Value> bf16DotProducts(ArrayRef<Value> aRows,
                                     ArrayRef<std::pair<Value, Value>> wRows,
                                     int64_t k0, int64_t k1) {
    constexpr int64_t pairs = 32;
    auto accType = VectorType::get({pairs / 2}, f32);
    auto bf16Type = VectorType::get({pairs}, b.getBF16Type());
    Value zero = zeroVector(accType);
    Value pad = floatConst(b, loc, b.getBF16Type(), 0.0);
    auto raw = [&](Value t, Value row, Value col) -> Value {
      return vector::TransferReadOp::create(
          b, loc, bf16Type, t, ValueRange{row, col}, pad, ArrayRef<bool>{true});
    };
    int64_t mr = aRows.size(), nr = wRows.size();
    SmallVector<Value> inits(mr * nr, zero);
    auto forOp = scf::ForOp::create(
        b, loc, index(k0), index(k1), index(pairs), inits,
        [&](OpBuilder &nb, Location, Value kv, ValueRange accs) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          SmallVector<Value> as, ws, next;
          for (Value r : aRows)
            as.push_back(raw(o.a, r, kv));
          for (auto [t, r] : wRows)
            ws.push_back(raw(t, r, kv));
          for (int64_t i = 0; i < mr; ++i)
            for (int64_t j = 0; j < nr; ++j)
              next.push_back(x86vector::DotBF16Op::create(
                  b, loc, accs[i * nr + j], as[i], ws[j]));
          scf::YieldOp::create(b, loc, next);
        });
    return laneSums(forOp.getResults());
  }

  /// dotProducts over all of k for block-quantized weight rows: a block
  /// per step, lanes at a time through the block, each weight row's chunk
  /// decoded once for all the block's input rows.
  SmallVector<Value>
  quantizedDotProducts(ArrayRef<Value> aRows,
                       ArrayRef<std::pair<Value, Value>> wRows) {
    int64_t lanes = kernel.lanes, block = o.quant.getBlockElements();
    auto accType = VectorType::get({lanes}, f32);
    Value zero = zeroVector(accType);
    int64_t mr = aRows.size(), nr = wRows.size();
    SmallVector<Value> inits(mr * nr, zero);
    auto forOp = scf::ForOp::create(
        b, loc, index(0), index(k / block), index(1), inits,
        [&](OpBuilder &nb, Location, Value kb, ValueRange accs) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          Value k0 = arith::MulIOp::create(b, loc, kb, index(block));
          Value base =
              arith::MulIOp::create(b, loc, kb, index(o.quant.getBlockBytes()));
          prefetchNextRows(wRows, base, o.quant.getBlockBytes());
          SmallVector<Value> next(accs.begin(), accs.end());
          for (int64_t c = 0; c < block; c += lanes) {
            Value kc = arith::AddIOp::create(b, loc, k0, index(c));
            SmallVector<Value> as;
            for (Value r : aRows)
              as.push_back(load(o.a, r, kc, lanes));
            for (int64_t j = 0; j < nr; ++j) {
              Value w = reader->quantizedChunk(wRows[j].first, wRows[j].second,
                                               base, c);
              for (int64_t i = 0; i < mr; ++i)
                next[i * nr + j] =
                    vector::FMAOp::create(b, loc, as[i], w, next[i * nr + j]);
            }
          }
          scf::YieldOp::create(b, loc, next);
        });
    return laneSums(forOp.getResults());
  }

  /// Prefetches the bytes [at, at + count) of the weight rows the next
  /// block reads (called for consecutive ranges, each at most a line
  /// apart): each row `stride` further (the rows of its tensor in
  /// this block; the last row at most), so one block streams while the
  /// previous is multiplied. Rows of a few hundred bytes are too short for
  /// the hardware prefetchers to follow each of the block's streams.
  void prefetchNextRows(ArrayRef<std::pair<Value, Value>> wRows, Value at,
                        int64_t count) {
    for (const std::pair<Value, Value> &wRow : wRows) {
      Value t = wRow.first, row = wRow.second;
      int64_t stride =
          llvm::count_if(wRows, [&](const std::pair<Value, Value> &w) {
            return w.first == t;
          });
      auto type = cast<RankedTensorType>(t.getType());
      Value &buffer = buffers[t];
      if (!buffer) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointAfterValue(t);
        buffer = weightRowsBuffer(b, loc, t);
      }
      Value next = arith::MinUIOp::create(
          b, loc, arith::AddIOp::create(b, loc, row, index(stride)),
          index(type.getDimSize(0) - 1));
      // Points at most a line apart, also from one call's last to the
      // next call's first: every line gets one.
      for (int64_t line = 0; line < count; line += 64)
        memref::PrefetchOp::create(
            b, loc, buffer,
            ValueRange{next, arith::AddIOp::create(b, loc, at, index(line))},
            /*isWrite=*/false, /*localityHint=*/3, /*isDataCache=*/true);
    }
  }

  /// dotProducts over all of k with int8 dot products on the int8 rows
  /// o.int8: a unit (4 blocks of 32 in halves, 4 of 16, or one of 128 or
  /// 256) per loop
  /// step, 64 elements per vpdpbusd. Each i32 lane starts from minus the
  /// offset times its row's values summed, so it holds the exact integer
  /// dot product of the stored values (both halves' products, which share
  /// their block); it is converted to f32 and scaled by the weight's and
  /// the row's scales (q4_k and the zero-point formats: plus its min times
  /// the row's scaled sum, int8HasMins).
  SmallVector<Value> int8DotProducts(ArrayRef<Value> aRows,
                                     ArrayRef<std::pair<Value, Value>> wRows) {
    Type i8 = b.getI8Type(), i32 = b.getI32Type();
    auto f32x16 = VectorType::get({16}, f32);
    auto i32x16 = VectorType::get({16}, i32);
    int64_t parts = int8RowsInHalves(o.quant) ? 2 : 1;
    int64_t unit =
        parts == 2 ? 128 : std::max<int64_t>(64, o.quant.getBlockElements());
    int64_t stepElements = 64 * parts;
    int64_t unitBytes =
        unit / o.quant.getBlockElements() * o.quant.getBlockBytes();
    int64_t mr = aRows.size(), nr = wRows.size();
    int64_t offset = reader->int8Offset();
    bool mins = int8HasMins(o.quant);
    SmallVector<Value> inits(mr * nr, zeroVector(f32x16));
    auto forOp = scf::ForOp::create(
        b, loc, index(0), index(k / unit), index(1), inits,
        [&](OpBuilder &nb, Location, Value u, ValueRange accs) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          Value base = arith::MulIOp::create(b, loc, u, index(unitBytes));
          prefetchNextRows(wRows, base, unitBytes);
          reader->beginUnit();
          SmallVector<Value> next(accs.begin(), accs.end());
          for (int64_t c = 0; c < unit / stepElements; ++c) {
            Value e0 = arith::AddIOp::create(
                b, loc, arith::MulIOp::create(b, loc, u, index(unit)),
                index(stepElements * c));
            Value l0 = arith::DivUIOp::create(b, loc, e0, index(4 * parts));
            // The rows' side: values, lane scales, and the lanes' start
            // (minus offset times the lane's sum) and scaled sums (mins).
            SmallVector<SmallVector<Value, 2>> qa;
            SmallVector<Value> sa, start, scaledSums;
            for (Value r : aRows) {
              qa.emplace_back();
              for (int64_t p = 0; p < parts; ++p)
                qa.back().push_back(vector::TransferReadOp::create(
                    b, loc, VectorType::get({64}, i8), o.int8.values,
                    ValueRange{
                        r, arith::AddIOp::create(b, loc, e0, index(64 * p))},
                    arith::ConstantOp::create(b, loc, b.getI8IntegerAttr(0)),
                    ArrayRef<bool>{true}));
              sa.push_back(vector::TransferReadOp::create(
                  b, loc, f32x16, o.int8.scales, ValueRange{r, l0},
                  floatConst(b, loc, f32, 0.0), ArrayRef<bool>{true}));
              Value sums = vector::TransferReadOp::create(
                  b, loc, i32x16, o.int8.sums, ValueRange{r, l0},
                  arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0)),
                  ArrayRef<bool>{true});
              start.push_back(
                  offset ? arith::MulIOp::create(
                               b, loc, sums, reader->intSplat(16, i32, -offset))
                         : reader->intSplat(16, i32, 0));
              if (mins)
                scaledSums.push_back(arith::MulFOp::create(
                    b, loc, sa.back(),
                    arith::SIToFPOp::create(b, loc, f32x16, sums)));
            }
            for (int64_t j = 0; j < nr; ++j) {
              QuantizedWeightReader::Int8Step w =
                  reader->int8Step(wRows[j].first, wRows[j].second, base, c);
              for (int64_t i = 0; i < mr; ++i) {
                Value d = start[i];
                for (int64_t p = 0; p < parts; ++p)
                  d = vpdpbusd(b, loc, d, w.bytes[p], qa[i][p]);
                Value scale = arith::MulFOp::create(b, loc, w.scales, sa[i]);
                Value &acc = next[i * nr + j];
                acc = vector::FMAOp::create(
                    b, loc, arith::SIToFPOp::create(b, loc, f32x16, d), scale,
                    acc);
                if (mins)
                  acc = vector::FMAOp::create(b, loc, w.negMins, scaledSums[i],
                                              acc);
              }
            }
          }
          scf::YieldOp::create(b, loc, next);
        });
    SmallVector<Value> accs(forOp.getResults());
    if (parts == 2 && k % unit != 0)
      int8Tail(aRows, wRows, accs, k / unit);
    return laneSums(accs);
  }

  /// Adds to `accs` (row-major) the last 64 elements of k in halves, 2
  /// blocks after `units` units of 128 (int8Rows stores them as the 2
  /// blocks' first 16 values, then their last 16): one vpdpbusd per (row,
  /// weight row), whose lanes 8 to 15 repeat lanes 0 to 7's scales; the
  /// row's sums (both halves of a block) start lanes 0 to 7 only.
  void int8Tail(ArrayRef<Value> aRows, ArrayRef<std::pair<Value, Value>> wRows,
                SmallVector<Value> &accs, int64_t units) {
    Type i32 = b.getI32Type();
    auto f32x16 = VectorType::get({16}, f32);
    Value e0 = index(128 * units), l0 = index(16 * units);
    Value base = index(units * 4 * o.quant.getBlockBytes());
    int64_t offset = reader->int8Offset();
    SmallVector<int64_t> twice, low;
    for (int64_t l = 0; l < 16; ++l) {
      twice.push_back(l % 8);
      low.push_back(l);
    }
    int64_t nr = wRows.size();
    reader->beginUnit();
    SmallVector<QuantizedWeightReader::Int8Step> w;
    for (auto [t, row] : wRows)
      w.push_back(reader->int8TailStep(t, row, base));
    for (auto [i, r] : llvm::enumerate(aRows)) {
      Value qa = vector::TransferReadOp::create(
          b, loc, VectorType::get({64}, b.getI8Type()), o.int8.values,
          ValueRange{r, e0},
          arith::ConstantOp::create(b, loc, b.getI8IntegerAttr(0)),
          ArrayRef<bool>{true});
      Value sa8 = vector::TransferReadOp::create(
          b, loc, VectorType::get({8}, f32), o.int8.scales, ValueRange{r, l0},
          floatConst(b, loc, f32, 0.0), ArrayRef<bool>{true});
      Value sa = vector::ShuffleOp::create(b, loc, sa8, sa8, twice);
      Value sums8 = vector::TransferReadOp::create(
          b, loc, VectorType::get({8}, i32), o.int8.sums, ValueRange{r, l0},
          arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0)),
          ArrayRef<bool>{true});
      Value sums = vector::ShuffleOp::create(b, loc, sums8,
                                             reader->intSplat(8, i32, 0), low);
      Value start = arith::MulIOp::create(b, loc, sums,
                                          reader->intSplat(16, i32, -offset));
      // Lanes 8 to 15 of the sums are 0, so are their scaled sums.
      Value scaledSums;
      if (int8HasMins(o.quant))
        scaledSums = arith::MulFOp::create(
            b, loc, sa, arith::SIToFPOp::create(b, loc, f32x16, sums));
      for (int64_t j = 0; j < nr; ++j) {
        Value d = vpdpbusd(b, loc, start, w[j].bytes[0], qa);
        Value scale = arith::MulFOp::create(b, loc, w[j].scales, sa);
        Value &acc = accs[i * nr + j];
        acc = vector::FMAOp::create(
            b, loc, arith::SIToFPOp::create(b, loc, f32x16, d), scale, acc);
        if (scaledSums)
          acc = vector::FMAOp::create(b, loc, w[j].negMins, scaledSums, acc);
      }
    }
  }

  /// The row of `a` that block row `m` reads.
  Value inputRow(Value m) {
    Value r = arith::AddIOp::create(b, loc, o.rowBase, m);
    if (!o.rows)
      return r;
    return toIndex(b, loc, tensor::ExtractOp::create(b, loc, o.rows, r));
  }

  /// Sums over k of rows [m0, m0 + mr) against weight rows [n0, n0 + nr),
  /// `len` lanes at a time from `k0` to `k1` (static); row-major sums.
  SmallVector<Value> dotProducts(ArrayRef<Value> aRows,
                                 ArrayRef<std::pair<Value, Value>> wRows,
                                 int64_t k0, int64_t k1, int64_t len) {
    auto accType = VectorType::get({len}, f32);
    Value zero = zeroVector(accType);
    int64_t mr = aRows.size(), nr = wRows.size();
    SmallVector<Value> inits(mr * nr, zero);
    auto step = [&](Value k, ValueRange accs) {
      SmallVector<Value> as, ws, next;
      for (Value r : aRows)
        as.push_back(load(o.a, r, k, len));
      for (auto [t, r] : wRows)
        ws.push_back(load(t, r, k, len));
      for (int64_t i = 0; i < mr; ++i)
        for (int64_t j = 0; j < nr; ++j)
          next.push_back(
              vector::FMAOp::create(b, loc, as[i], ws[j], accs[i * nr + j]));
      return next;
    };
    SmallVector<Value> accs;
    if (k1 - k0 == len) {
      accs = step(index(k0), inits);
    } else {
      auto forOp = scf::ForOp::create(
          b, loc, index(k0), index(k1), index(len), inits,
          [&](OpBuilder &nb, Location, Value kv, ValueRange iter) {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
            scf::YieldOp::create(b, loc, step(kv, iter));
          });
      accs.assign(forOp.getResults().begin(), forOp.getResults().end());
    }
    return laneSums(accs);
  }

  /// The weight (tensor, row) of the gate (or only) and the up projection
  /// of output column `c`; the up pair is null when not gated.
  std::pair<std::pair<Value, Value>, std::pair<Value, Value>>
  weightRows(Value c) {
    if (!gated)
      return {{o.w, c}, {}};
    if (!o.layout)
      return {{o.w, c}, {o.up, c}};
    if (*o.layout == GateUpLayout::interleaved) {
      Value g = arith::MulIOp::create(b, loc, c, index(2));
      return {{o.w, g}, {o.w, arith::AddIOp::create(b, loc, g, index(1))}};
    }
    return {{o.w, c},
            {o.w, arith::AddIOp::create(b, loc, c, index(o.outputs))}};
  }

  /// `sum` plus element `row` of `bias` (when given), in f32.
  Value addBias(Value sum, Value bias, Value row) {
    if (!bias)
      return sum;
    Value v = tensor::ExtractOp::create(b, loc, bias, row);
    return arith::AddFOp::create(b, loc, sum, castFloat(b, loc, v, f32));
  }

  /// One mr x nr block of dest (nr output columns).
  Value block(Value m0, int64_t mr, Value n0, int64_t nr, Value dest) {
    SmallVector<Value> aRows, ms, ns;
    SmallVector<std::pair<Value, Value>> wRows;
    for (int64_t i = 0; i < mr; ++i) {
      ms.push_back(arith::AddIOp::create(b, loc, m0, index(i)));
      aRows.push_back(inputRow(ms.back()));
    }
    // Per output: the gate (or only) row, then the up row when gated.
    int64_t perOutput = gated ? 2 : 1;
    for (int64_t j = 0; j < nr; ++j) {
      ns.push_back(arith::AddIOp::create(b, loc, n0, index(j)));
      Value c = arith::AddIOp::create(b, loc, o.colBase, ns.back());
      auto [g, u] = weightRows(c);
      wRows.push_back(g);
      if (gated)
        wRows.push_back(u);
    }
    int64_t step = useDot ? 32 : kernel.lanes;
    int64_t full = k / step * step;
    SmallVector<Value> sums;
    if (o.int8.values)
      sums = int8DotProducts(aRows, wRows);
    else if (o.quant)
      sums = quantizedDotProducts(aRows, wRows);
    else if (full > 0)
      sums = useDot ? bf16DotProducts(aRows, wRows, 0, full)
                    : dotProducts(aRows, wRows, 0, full, kernel.lanes);
    if (!o.quant && full < k) {
      SmallVector<Value> tail = dotProducts(aRows, wRows, full, k, k - full);
      if (sums.empty())
        sums = tail;
      else
        for (size_t i = 0; i < sums.size(); ++i)
          sums[i] = arith::AddFOp::create(b, loc, sums[i], tail[i], fastmath);
    }
    Type elt = cast<RankedTensorType>(dest.getType()).getElementType();
    int64_t width = nr * perOutput;
    // The token row and routing weight of each block row (fused combine).
    SmallVector<std::pair<Value, Value>> scatterTargets;
    if (o.scatterRows)
      for (Value m : ms) {
        Value at = arith::AddIOp::create(b, loc, o.scatterBase, m);
        Value row = toIndex(
            b, loc, tensor::ExtractOp::create(b, loc, o.scatterRows, at));
        Value scale = castFloat(
            b, loc, tensor::ExtractOp::create(b, loc, o.rowScale, at), f32);
        scatterTargets.push_back({row, scale});
      }
    for (int64_t i = 0; i < mr; ++i)
      for (int64_t j = 0; j < nr; ++j) {
        std::pair<Value, Value> gate = wRows[j * perOutput];
        std::pair<Value, Value> up =
            gated ? wRows[j * perOutput + 1] : std::pair<Value, Value>();
        Value s = sums[i * width + j * perOutput];
        Value h;
        if (gated) {
          // Biases are indexed like their weight rows.
          Value g = addBias(s, o.bias, gate.second);
          Value u = addBias(sums[i * width + j * perOutput + 1],
                            o.layout ? o.bias : o.upBias, up.second);
          h = applyActivation(b, loc, o.activation, g, u);
        } else {
          h = addBias(s, o.bias, gate.second);
          if (o.activation)
            h = applyActivation(b, loc, o.activation, Value(), h);
        }
        if (o.scatterRows) {
          // dest[token, n] += scale · h, in dest's type.
          auto [row, scale] = scatterTargets[i];
          Value old =
              tensor::ExtractOp::create(b, loc, dest, ValueRange{row, ns[j]});
          h = arith::AddFOp::create(b, loc, castFloat(b, loc, old, f32),
                                    arith::MulFOp::create(b, loc, scale, h));
          dest = tensor::InsertOp::create(b, loc, castFloat(b, loc, h, elt),
                                          dest, ValueRange{row, ns[j]});
          continue;
        }
        dest = tensor::InsertOp::create(b, loc, castFloat(b, loc, h, elt), dest,
                                        ValueRange{ms[i], ns[j]});
      }
    return dest;
  }

  OpBuilder &b;
  Location loc;
  const ContractionOperands &o;
  const ContractionKernel &kernel;
  int64_t k;
  bool gated = false;
  bool useDot = false;
  /// Read-only buffers of the weights, for prefetching.
  llvm::DenseMap<Value, Value> buffers;
  /// The quantized weight's reader (with o.quant).
  std::optional<QuantizedWeightReader> reader;
  Type f32;
  arith::FastMathFlags fastmath;
};

} // namespace

Value mlir::moe::emitContraction(OpBuilder &b, Location loc,
                                 const ContractionOperands &operands,
                                 Value dest, const ContractionKernel &kernel) {
  return Emitter(b, loc, operands, kernel).run(dest);
}
