//===- ContractionKernel.cpp - register-blocked contraction on tensors ----===//
#include "codegen/cpu/ContractionKernel.h"
#include "codegen/linalg/LoweringUtils.h"

#include <algorithm>

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
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
  kernel.registers = config.registers;
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

bool mlir::moe::int8RowsInHalves(QuantizedType quant) {
  return quant.getFormat() == QuantFormat::q8_0 ||
         quant.getFormat() == QuantFormat::q4_0;
}

bool mlir::moe::usesInt8Rows(const ContractionKernel &kernel,
                             QuantizedType quant, int64_t k) {
  return kernel.int8Dot && kernel.lanes == 16 && quant &&
         k % (int8RowsInHalves(quant) ? 128 : 64) == 0;
}

Int8Rows mlir::moe::int8Rows(OpBuilder &b, Location loc, Value input,
                             Value rows, Value lo, Value count, int64_t k,
                             QuantizedType quant) {
  constexpr int64_t block = 32, lanes = block / 4;
  bool halves = int8RowsInHalves(quant);
  // Elements per i32 lane of the scales and sums: 4, or 8 in two halves.
  int64_t perLane = halves ? 8 : 4;
  Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type();
  auto cst = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  OpFoldResult countF = count;
  Value values = emptyTensor(b, loc, {countF, b.getIndexAttr(k)}, i8);
  Value scales =
      emptyTensor(b, loc, {countF, b.getIndexAttr(k / perLane)}, f32);
  Value sums = emptyTensor(b, loc, {countF, b.getIndexAttr(k / perLane)}, i32);
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
                v = write(nb, slice(nb, q, 0, 16), iter[0], m, at);
                v = write(nb, slice(nb, q, 16, 16), v, m,
                          arith::AddIOp::create(nb, loc, at, cst(64)));
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

  /// The scale and the min of sub-block `sub` (of 32) of the q4_k block at
  /// byte `base` of weight row `row` of `t`: d and dmin times the
  /// sub-block's 6-bit scale and min, packed in the 12 bytes at 4.
  std::pair<Value, Value> q4kScaleMin(Value t, Value row, Value base,
                                      int64_t sub) {
    auto i32 = [&](int64_t v) -> Value {
      return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
    };
    auto at = [&](int64_t offset) -> Value {
      return arith::AddIOp::create(b, loc, base, index(offset));
    };
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
    Value min = arith::MulFOp::create(b, loc, quantHalf(t, row, at(2)),
                                      arith::UIToFPOp::create(b, loc, f32, m));
    return {scale, min};
  }

  /// The 8 sub-block scales (d times the 6-bit scale) and mins negated
  /// (minus dmin times the 6-bit min) of the q4_k block at byte `base` of
  /// weight row `row` of `t`, as two vector<8xf32>: unpacked from the 12
  /// bytes at 4 as vectors (as q4kScaleMin does one at a time), once per
  /// block and weight row (cached for the loop trip's steps).
  std::pair<Value, Value> q4kBlockScales(Value t, Value row, Value base) {
    auto key = std::make_pair(t, row);
    if (auto it = unitScales.find(key); it != unitScales.end())
      return it->second;
    Type i8 = b.getI8Type();
    auto at = [&](int64_t offset) -> Value {
      return arith::AddIOp::create(b, loc, base, index(offset));
    };
    Value bytes = quantBytes(t, row, at(4), 12);
    auto part = [&](int64_t from) -> Value {
      return vector::ShuffleOp::create(
          b, loc, bytes, bytes,
          ArrayRef<int64_t>{from, from + 1, from + 2, from + 3});
    };
    auto andI = [&](Value v, int64_t m) -> Value {
      return arith::AndIOp::create(b, loc, v, intSplat(4, i8, m));
    };
    auto shr = [&](Value v, int64_t n) -> Value {
      return arith::ShRUIOp::create(b, loc, v, intSplat(4, i8, n));
    };
    auto shl = [&](Value v, int64_t n) -> Value {
      return arith::ShLIOp::create(b, loc, v, intSplat(4, i8, n));
    };
    Value lo = part(0), mid = part(4), hi = part(8);
    // Sub-blocks 0-3: the low 6 bits of bytes 0-3 (scales) and 4-7
    // (mins); 4-7: the nibbles of bytes 8-11 below the top 2 bits of
    // bytes 0-3 (scales) and 4-7 (mins).
    Value sc = concat(andI(lo, 63), arith::OrIOp::create(b, loc, andI(hi, 15),
                                                         shl(shr(lo, 6), 4)));
    Value m = concat(andI(mid, 63), arith::OrIOp::create(b, loc, shr(hi, 4),
                                                         shl(shr(mid, 6), 4)));
    auto f32x8 = VectorType::get({8}, f32);
    auto times = [&](Value v, Value scalar) -> Value {
      return arith::MulFOp::create(
          b, loc, arith::UIToFPOp::create(b, loc, f32x8, v),
          vector::BroadcastOp::create(b, loc, f32x8, scalar));
    };
    Value scales = times(sc, quantHalf(t, row, base));
    Value negMins =
        arith::NegFOp::create(b, loc, times(m, quantHalf(t, row, at(2))));
    return unitScales[key] = {scales, negMins};
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
      auto [scale, min] = q4kScaleMin(t, row, base, e0 / 32);
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
          prefetchNextRows(wRows, base, o.quant.getBlockBytes());
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

  /// A constant vector of `n` copies of the integer `v` of type `elt`.
  Value intSplat(int64_t n, Type elt, int64_t v) {
    auto type = VectorType::get({n}, elt);
    return arith::ConstantOp::create(
        b, loc, type, DenseElementsAttr::get(type, b.getIntegerAttr(elt, v)));
  }

  /// `x` and `y` (vectors of one type) end to end.
  Value concat(Value x, Value y) {
    int64_t n = cast<VectorType>(x.getType()).getNumElements();
    SmallVector<int64_t> mask;
    for (int64_t i = 0; i < 2 * n; ++i)
      mask.push_back(i);
    return vector::ShuffleOp::create(b, loc, x, y, mask);
  }

  /// 16 f32 lanes, the scalars' in equal runs and order (each the scale of
  /// the lanes of its (sub-)block).
  Value laneRuns(ArrayRef<Value> scalars) {
    int64_t run = 16 / scalars.size();
    SmallVector<Value> parts;
    for (Value v : scalars)
      parts.push_back(
          vector::BroadcastOp::create(b, loc, VectorType::get({run}, f32), v));
    while (parts.size() > 1) {
      SmallVector<Value> next;
      for (size_t i = 0; i < parts.size(); i += 2)
        next.push_back(concat(parts[i], parts[i + 1]));
      parts = next;
    }
    return parts[0];
  }

  /// The low or high nibbles of the bytes `raw`.
  Value nibblesOf(Value raw, bool high) {
    int64_t n = cast<VectorType>(raw.getType()).getNumElements();
    Type i8 = b.getI8Type();
    if (high)
      return arith::ShRUIOp::create(b, loc, raw, intSplat(n, i8, 4));
    return arith::AndIOp::create(b, loc, raw, intSplat(n, i8, 15));
  }

  /// The weight side of one int8 dot-product step: in halves (q8_0,
  /// q4_0: int8RowsInHalves), the unit of 4 blocks at byte `base` of
  /// weight row `row` of `t` as two vectors of 64 unsigned bytes (the
  /// stored value plus the format's offset, int8Offset), the blocks' first
  /// 16 values then their last 16; else elements [64 c, 64 c + 64) of the
  /// block of 256 at `base` as one. With the 16 lanes' scales and, for
  /// q4_k, the lanes' mins negated.
  struct Int8Step {
    SmallVector<Value, 2> bytes;
    Value scales;
    Value negMins;
  };
  Int8Step int8Step(Value t, Value row, Value base, int64_t c) {
    Type i8 = b.getI8Type();
    auto at = [&](int64_t offset) -> Value {
      return arith::AddIOp::create(b, loc, base, index(offset));
    };
    int64_t bb = o.quant.getBlockBytes();
    // 16 bytes of each of the unit's 4 blocks from byte `from` of each.
    auto fourBlocks = [&](int64_t from) {
      return concat(concat(quantBytes(t, row, at(from), 16),
                           quantBytes(t, row, at(bb + from), 16)),
                    concat(quantBytes(t, row, at(2 * bb + from), 16),
                           quantBytes(t, row, at(3 * bb + from), 16)));
    };
    // The 4 blocks' f16 scales, 4 lanes each: gathered as one 64-bit
    // integer in scalar registers, then converted together (a vector
    // conversion and splat per scale would take more vector work than the
    // dot products).
    auto blockScales = [&] {
      Type i16 = b.getI16Type(), i64 = b.getI64Type();
      Value bits;
      for (int64_t j = 0; j < 4; ++j) {
        Value h = vector::ExtractOp::create(
            b, loc,
            vector::BitCastOp::create(b, loc, VectorType::get({1}, i16),
                                      quantBytes(t, row, at(j * bb), 2)),
            0);
        Value w = arith::ExtUIOp::create(b, loc, i64, h);
        if (j)
          w = arith::ShLIOp::create(
              b, loc, w,
              arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(16 * j)));
        bits = bits ? arith::OrIOp::create(b, loc, bits, w).getResult() : w;
      }
      Value halves = vector::BitCastOp::create(
          b, loc, VectorType::get({4}, b.getF16Type()),
          vector::BroadcastOp::create(b, loc, VectorType::get({1}, i64), bits));
      Value d =
          arith::ExtFOp::create(b, loc, VectorType::get({4}, f32), halves);
      SmallVector<int64_t> mask;
      for (int64_t l = 0; l < 16; ++l)
        mask.push_back(l / 4);
      return vector::ShuffleOp::create(b, loc, d, d, mask).getResult();
    };
    switch (o.quant.getFormat()) {
    case QuantFormat::q8_0: {
      // Flipping the sign bit adds 128.
      Int8Step step;
      for (int64_t from : {2, 18})
        step.bytes.push_back(arith::XOrIOp::create(b, loc, fourBlocks(from),
                                                   intSplat(64, i8, -128)));
      step.scales = blockScales();
      return step;
    }
    case QuantFormat::q4_0: {
      // Low nibbles: the first 16 values; high: the last 16.
      Value x = fourBlocks(2);
      return {{nibblesOf(x, false), nibblesOf(x, true)}, blockScales(), {}};
    }
    case QuantFormat::q4_k: {
      Value x = quantBytes(t, row, at(16 + 32 * c), 32);
      Value q = concat(nibblesOf(x, false), nibblesOf(x, true));
      auto [scales, negMins] = q4kBlockScales(t, row, base);
      // Sub-blocks 2c and 2c + 1, 8 lanes each.
      SmallVector<int64_t> mask;
      for (int64_t l = 0; l < 16; ++l)
        mask.push_back(2 * c + l / 8);
      return {{q},
              vector::ShuffleOp::create(b, loc, scales, scales, mask),
              vector::ShuffleOp::create(b, loc, negMins, negMins, mask)};
    }
    case QuantFormat::q6_k: {
      // Low 4 bits from ql, high 2 from qh (docs/MoEDialect.md).
      int64_t h = c / 2, shift = 4 * (c % 2);
      Value low = nibblesOf(quantBytes(t, row, at(64 * h), 64), c % 2);
      Value qh = quantBytes(t, row, at(128 + 32 * h), 32);
      auto twoBits = [&](int64_t s) -> Value {
        Value v = qh;
        if (s)
          v = arith::ShRUIOp::create(b, loc, v, intSplat(32, i8, s));
        return arith::AndIOp::create(b, loc, v, intSplat(32, i8, 3));
      };
      Value high = arith::ShLIOp::create(
          b, loc, concat(twoBits(shift), twoBits(shift + 2)),
          intSplat(64, i8, 4));
      Value q = arith::OrIOp::create(b, loc, low, high);
      // The 16 int8 sub-block scales times d, converted once per block and
      // weight row (cached for the loop trip's steps); this step's 4 (of
      // 16 elements, 4 lanes each).
      auto key = std::make_pair(t, row);
      auto it = unitScales.find(key);
      if (it == unitScales.end()) {
        auto f32x16 = VectorType::get({16}, f32);
        Value sc = arith::SIToFPOp::create(b, loc, f32x16,
                                           quantBytes(t, row, at(192), 16));
        Value d = vector::BroadcastOp::create(b, loc, f32x16,
                                              quantHalf(t, row, at(208)));
        it =
            unitScales
                .try_emplace(key, arith::MulFOp::create(b, loc, sc, d), Value())
                .first;
      }
      Value scales = it->second.first;
      SmallVector<int64_t> mask;
      for (int64_t l = 0; l < 16; ++l)
        mask.push_back(4 * c + l / 4);
      return {{q}, vector::ShuffleOp::create(b, loc, scales, scales, mask), {}};
    }
    }
    llvm_unreachable("unknown quantized format");
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
        // A group's slice of the weights: rows at a dynamic offset.
        auto layout = StridedLayoutAttr::get(
            b.getContext(), ShapedType::kDynamic, {ShapedType::kDynamic, 1});
        buffer = bufferization::ToBufferOp::create(
            b, loc,
            MemRefType::get(type.getShape(), type.getElementType(), layout), t,
            /*read_only=*/true);
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

  /// acc plus, per i32 lane, the 4 products of the unsigned bytes `u` and
  /// the signed bytes `s` at the lane summed (AVX512_VNNI vpdpbusd). As
  /// inline assembly without side effects: llvm.call_intrinsic has unknown
  /// memory effects, which buffer deallocation refuses.
  Value vpdpbusd(Value acc, Value u, Value s) {
    MLIRContext *ctx = b.getContext();
    return LLVM::InlineAsmOp::create(
               b, loc, acc.getType(), ValueRange{acc, u, s},
               b.getStringAttr("vpdpbusd $3, $2, $0"),
               b.getStringAttr("=v,0,v,v"), UnitAttr(), UnitAttr(),
               LLVM::TailCallKindAttr::get(
                   ctx, LLVM::tailcallkind::TailCallKind::None),
               LLVM::AsmDialectAttr::get(ctx, LLVM::AsmDialect::AD_ATT),
               ArrayAttr())
        .getResult(0);
  }

  /// What int8Step adds to each stored value to make it unsigned.
  int64_t int8Offset() const {
    switch (o.quant.getFormat()) {
    case QuantFormat::q8_0:
      return 128;
    case QuantFormat::q4_0:
      return 8;
    case QuantFormat::q4_k:
      return 0;
    case QuantFormat::q6_k:
      return 32;
    }
    llvm_unreachable("unknown quantized format");
  }

  /// dotProducts over all of k with int8 dot products on the int8 rows
  /// o.int8: a unit (4 blocks of 32 in halves, or one of 256) per loop
  /// step, 64 elements per vpdpbusd. Each i32 lane starts from minus the
  /// offset times its row's values summed, so it holds the exact integer
  /// dot product of the stored values (both halves' products, which share
  /// their block); it is converted to f32 and scaled by the weight's and
  /// the row's scales (q4_k: plus its min times the row's scaled sum).
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
    int64_t offset = int8Offset();
    bool mins = o.quant.getFormat() == QuantFormat::q4_k;
    SmallVector<Value> inits(mr * nr, zeroVector(f32x16));
    auto forOp = scf::ForOp::create(
        b, loc, index(0), index(k / unit), index(1), inits,
        [&](OpBuilder &nb, Location, Value u, ValueRange accs) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          Value base = arith::MulIOp::create(b, loc, u, index(unitBytes));
          prefetchNextRows(wRows, base, unitBytes);
          unitScales.clear();
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
                  offset ? arith::MulIOp::create(b, loc, sums,
                                                 intSplat(16, i32, -offset))
                         : intSplat(16, i32, 0));
              if (mins)
                scaledSums.push_back(arith::MulFOp::create(
                    b, loc, sa.back(),
                    arith::SIToFPOp::create(b, loc, f32x16, sums)));
            }
            for (int64_t j = 0; j < nr; ++j) {
              Int8Step w = int8Step(wRows[j].first, wRows[j].second, base, c);
              for (int64_t i = 0; i < mr; ++i) {
                Value d = start[i];
                for (int64_t p = 0; p < parts; ++p)
                  d = vpdpbusd(d, w.bytes[p], qa[i][p]);
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
  /// The sub-block scales (and for q4_k the mins negated) of (weight,
  /// row) in the int8 loop's current trip (q4kBlockScales, q6_k's).
  llvm::DenseMap<std::pair<Value, Value>, std::pair<Value, Value>> unitScales;
  Type f32;
  arith::FastMathFlags fastmath;
};

} // namespace

Value mlir::moe::emitContraction(OpBuilder &b, Location loc,
                                 const ContractionOperands &operands,
                                 Value dest, const ContractionKernel &kernel) {
  return Emitter(b, loc, operands, kernel).run(dest);
}
