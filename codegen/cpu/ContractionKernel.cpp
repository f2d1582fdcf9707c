//===- ContractionKernel.cpp - register-blocked contraction on tensors ----===//
#include "codegen/cpu/ContractionKernel.h"
#include "codegen/linalg/LoweringUtils.h"

#include <algorithm>

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
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
  kernel.weightTileBytes = config.weightTileBytes;
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
  auto cast = weight.getDefiningOp<UnrealizedConversionCastOp>();
  if (!cast || cast.getNumOperands() != 1)
    return {Value(), quant};
  return {cast.getOperand(0), quant};
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
    SmallVector<int64_t> rowSizes = {kernel.rowBlock};
    for (int64_t s : {int64_t(4), int64_t(2), int64_t(1)})
      if (s < rowSizes.back())
        rowSizes.push_back(s);
    Value begin = index(0);
    for (int64_t mr : rowSizes) {
      Value end = blockEnd(begin, o.numRows, mr);
      // Blocks of fewer rows (decode, small experts, leftovers) are bound by
      // streaming the weight: they take more weight rows, up to 8 streams,
      // within the same accumulator budget (rowBlock x colBlock). A gated
      // output reads two weight rows, so it gets half as many outputs.
      int64_t weightRows = std::clamp<int64_t>(
          kernel.rowBlock * kernel.colBlock / mr, kernel.colBlock, 8);
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

  /// begin + ((end - begin) / size) * size: where blocks of `size` stop.
  Value blockEnd(Value begin, Value end, int64_t size) {
    if (size == 1)
      return end;
    Value count = arith::SubIOp::create(b, loc, end, begin);
    Value blocks = arith::DivUIOp::create(b, loc, count, index(size));
    Value span = arith::MulIOp::create(b, loc, blocks, index(size));
    return arith::AddIOp::create(b, loc, begin, span);
  }

  /// scf.for over [lo, hi) with step `size`, threading a tensor.
  Value loop(Value lo, Value hi, int64_t size, Value init,
             function_ref<Value(Value, int64_t, Value)> body) {
    auto forOp = scf::ForOp::create(
        b, loc, lo, hi, index(size), ValueRange{init},
        [&](OpBuilder &nb, Location, Value iv, ValueRange iter) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          Value result = body(iv, size, iter[0]);
          scf::YieldOp::create(b, loc, result);
        });
    return forOp.getResult(0);
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

  /// `count` bytes of weight row `row` of the bytes `t` from byte `at`.
  Value quantBytes(Value t, Value row, Value at, int64_t count) {
    Type i8 = b.getI8Type();
    Value zero8 = arith::ConstantOp::create(b, loc, b.getI8IntegerAttr(0));
    return vector::TransferReadOp::create(b, loc, VectorType::get({count}, i8),
                                          t, ValueRange{row, at}, zero8,
                                          ArrayRef<bool>{true});
  }

  /// Byte `at` of row `row` of `t`, zero-extended to i32.
  Value quantByte(Value t, Value row, Value at) {
    Value v = tensor::ExtractOp::create(b, loc, t, ValueRange{row, at});
    return arith::ExtUIOp::create(b, loc, b.getI32Type(), v);
  }

  /// The little-endian f16 at byte `at` of row `row` of `t`, as f32.
  Value quantHalf(Value t, Value row, Value at) {
    Value bits =
        vector::BitCastOp::create(b, loc, VectorType::get({1}, b.getF16Type()),
                                  quantBytes(t, row, at, 2));
    Value half = vector::ExtractOp::create(b, loc, bits, 0);
    return arith::ExtFOp::create(b, loc, f32, half);
  }

  /// A splat of `v` over `lanes` i8.
  Value splat8(int64_t v) {
    auto type = VectorType::get({kernel.lanes}, b.getI8Type());
    return arith::ConstantOp::create(
        b, loc, type, DenseElementsAttr::get(type, b.getI8IntegerAttr(v)));
  }

  /// Elements [e0, e0 + lanes) of the block at byte `base` of weight row
  /// `row` of the bytes `t` (format o.quant, docs/MoEDialect.md), as f32:
  /// the quantized values widened in registers, times their (sub-)block's
  /// scale, less its min (q4_k). `e0` is a multiple of the lanes, which
  /// divide 16, so the elements share their scale and their bytes are
  /// contiguous.
  Value quantizedChunk(Value t, Value row, Value base, int64_t e0) {
    int64_t lanes = kernel.lanes;
    auto vecType = VectorType::get({lanes}, f32);
    auto at = [&](int64_t offset) -> Value {
      return arith::AddIOp::create(b, loc, base, index(offset));
    };
    auto i32 = [&](int64_t v) -> Value {
      return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
    };
    auto splat = [&](Value scalar) -> Value {
      return vector::BroadcastOp::create(b, loc, vecType, scalar);
    };
    // The low (e.g. first half) or high nibbles of `raw`.
    auto nibbles = [&](Value raw, bool high) -> Value {
      if (high)
        return arith::ShRUIOp::create(b, loc, raw, splat8(4));
      return arith::AndIOp::create(b, loc, raw, splat8(15));
    };
    switch (o.quant.getFormat()) {
    case QuantFormat::q8_0: {
      Value q = quantBytes(t, row, at(2 + e0), lanes);
      Value v = arith::SIToFPOp::create(b, loc, vecType, q);
      return arith::MulFOp::create(b, loc, v, splat(quantHalf(t, row, base)));
    }
    case QuantFormat::q4_0: {
      Value raw = quantBytes(t, row, at(2 + e0 % 16), lanes);
      Value q =
          arith::SubIOp::create(b, loc, nibbles(raw, e0 >= 16), splat8(8));
      Value v = arith::SIToFPOp::create(b, loc, vecType, q);
      return arith::MulFOp::create(b, loc, v, splat(quantHalf(t, row, base)));
    }
    case QuantFormat::q4_k: {
      // The sub-block's 6-bit scale and min from the 12 bytes at 4.
      int64_t sub = e0 / 32;
      auto s = [&](int64_t i) { return quantByte(t, row, at(4 + i)); };
      auto andI = [&](Value v, int64_t m) -> Value {
        return arith::AndIOp::create(b, loc, v, i32(m));
      };
      auto shr = [&](Value v, int64_t n) -> Value {
        return arith::ShRUIOp::create(b, loc, v, i32(n));
      };
      auto shl = [&](Value v, int64_t n) -> Value {
        return arith::ShLIOp::create(b, loc, v, i32(n));
      };
      Value sc, m;
      if (sub < 4) {
        sc = andI(s(sub), 63);
        m = andI(s(sub + 4), 63);
      } else {
        sc = arith::OrIOp::create(b, loc, andI(s(sub + 4), 15),
                                  shl(shr(s(sub - 4), 6), 4));
        m = arith::OrIOp::create(b, loc, shr(s(sub + 4), 4),
                                 shl(shr(s(sub), 6), 4));
      }
      Value scale =
          arith::MulFOp::create(b, loc, quantHalf(t, row, base),
                                arith::UIToFPOp::create(b, loc, f32, sc));
      Value min =
          arith::MulFOp::create(b, loc, quantHalf(t, row, at(2)),
                                arith::UIToFPOp::create(b, loc, f32, m));
      Value raw = quantBytes(t, row, at(16 + 32 * (e0 / 64) + e0 % 32), lanes);
      Value v =
          arith::UIToFPOp::create(b, loc, vecType, nibbles(raw, e0 % 64 >= 32));
      return arith::SubFOp::create(
          b, loc, arith::MulFOp::create(b, loc, v, splat(scale)), splat(min));
    }
    case QuantFormat::q6_k: {
      int64_t h = e0 / 128, r = e0 % 128;
      Value low =
          nibbles(quantBytes(t, row, at(64 * h + r % 64), lanes), r >= 64);
      Value hq = quantBytes(t, row, at(128 + 32 * h + r % 32), lanes);
      if (r / 32)
        hq = arith::ShRUIOp::create(b, loc, hq, splat8(2 * (r / 32)));
      hq = arith::ShLIOp::create(
          b, loc, arith::AndIOp::create(b, loc, hq, splat8(3)), splat8(4));
      Value q = arith::SubIOp::create(
          b, loc, arith::OrIOp::create(b, loc, low, hq), splat8(32));
      Value sc = tensor::ExtractOp::create(b, loc, t,
                                           ValueRange{row, at(192 + e0 / 16)});
      Value scale =
          arith::MulFOp::create(b, loc, quantHalf(t, row, at(208)),
                                arith::SIToFPOp::create(b, loc, f32, sc));
      Value v = arith::SIToFPOp::create(b, loc, vecType, q);
      return arith::MulFOp::create(b, loc, v, splat(scale));
    }
    }
    llvm_unreachable("unknown quantized format");
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
          SmallVector<Value> next(accs.begin(), accs.end());
          for (int64_t c = 0; c < block; c += lanes) {
            Value kc = arith::AddIOp::create(b, loc, k0, index(c));
            SmallVector<Value> as;
            for (Value r : aRows)
              as.push_back(load(o.a, r, kc, lanes));
            for (int64_t j = 0; j < nr; ++j) {
              Value w =
                  quantizedChunk(wRows[j].first, wRows[j].second, base, c);
              for (int64_t i = 0; i < mr; ++i)
                next[i * nr + j] =
                    vector::FMAOp::create(b, loc, as[i], w, next[i * nr + j]);
            }
          }
          scf::YieldOp::create(b, loc, next);
        });
    return laneSums(forOp.getResults());
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
    if (o.quant)
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
  Type f32;
  arith::FastMathFlags fastmath;
};

} // namespace

Value mlir::moe::emitContraction(OpBuilder &b, Location loc,
                                 const ContractionOperands &operands,
                                 Value dest, const ContractionKernel &kernel) {
  return Emitter(b, loc, operands, kernel).run(dest);
}
