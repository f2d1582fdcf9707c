//===- QuantizedWeights.cpp - block-quantized weights in the CPU kernels --===//
//
// The reads of a block-quantized weight's bytes, decoded to f32 lanes
// (quantizedChunk) and the helpers of both kernels' reads; the int8
// dot-product steps on them are in Int8Steps.cpp, the i-quants' reads in
// IQuantWeights.cpp.
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/QuantizedWeights.h"
#include "codegen/linalg/LoweringUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::moe;

Value mlir::moe::x86Instruction(OpBuilder &b, Location loc, Type result,
                                StringRef text, StringRef constraints,
                                ValueRange operands) {
  MLIRContext *ctx = b.getContext();
  return LLVM::InlineAsmOp::create(
             b, loc, result, operands, b.getStringAttr(text),
             b.getStringAttr(constraints), UnitAttr(), UnitAttr(),
             LLVM::TailCallKindAttr::get(
                 ctx, LLVM::tailcallkind::TailCallKind::None),
             LLVM::AsmDialectAttr::get(ctx, LLVM::AsmDialect::AD_ATT),
             ArrayAttr())
      .getResult(0);
}

Value mlir::moe::vpdpbusd(OpBuilder &b, Location loc, Value acc, Value u,
                          Value s) {
  return x86Instruction(b, loc, acc.getType(), "vpdpbusd $3, $2, $0",
                        "=v,0,v,v", ValueRange{acc, u, s});
}

Value mlir::moe::weightRowsBuffer(OpBuilder &b, Location loc, Value t) {
  auto type = cast<RankedTensorType>(t.getType());
  SmallVector<int64_t> strides(type.getRank() - 1, ShapedType::kDynamic);
  strides.push_back(1);
  auto layout =
      StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides);
  return bufferization::ToBufferOp::create(
      b, loc, MemRefType::get(type.getShape(), type.getElementType(), layout),
      t, /*read_only=*/true);
}

/// MXFP4's e2m1 values doubled, by code (bit 3 the sign).
static constexpr int8_t kMxfp4Doubled[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                             0, -1, -2, -3, -4, -6, -8, -12};

/// iq4_nl's and iq4_xs's non-linear values, by code.
static constexpr int8_t kIq4Values[16] = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

bool mlir::moe::hasInt8Steps(QuantFormat format) {
  switch (format) {
  case QuantFormat::fp8_e4m3: // FP8 values are not integers
  case QuantFormat::iq1_s:    // nor iq1's, codebook values plus 1/8
  case QuantFormat::iq1_m:
    return false;
  default:
    return true;
  }
}

bool mlir::moe::int8RowsInHalves(QuantizedType quant) {
  return quant.getBlockElements() == 32;
}

bool mlir::moe::int8HasMins(QuantizedType quant) {
  QuantFormat f = quant.getFormat();
  return f == QuantFormat::q4_k || f == QuantFormat::q5_k ||
         f == QuantFormat::q2_k || f == QuantFormat::q4_1 ||
         f == QuantFormat::q5_1 || f == QuantFormat::u8z ||
         f == QuantFormat::u4z || f == QuantFormat::u2z ||
         f == QuantFormat::u8z128 || f == QuantFormat::u4z128 ||
         f == QuantFormat::u2z128 || f == QuantFormat::u8z16 ||
         f == QuantFormat::u4z16 || f == QuantFormat::u2z16;
}

/// `count` bytes of weight row `row` of the bytes `t` from byte `at`.
Value QuantizedWeightReader::quantBytes(Value t, Value row, Value at,
                                        int64_t count) {
  Type i8 = b.getI8Type();
  Value zero8 = arith::ConstantOp::create(b, loc, b.getI8IntegerAttr(0));
  return vector::TransferReadOp::create(b, loc, VectorType::get({count}, i8), t,
                                        ValueRange{row, at}, zero8,
                                        ArrayRef<bool>{true});
}

/// Byte `at` of row `row` of `t`, zero-extended to i32.
Value QuantizedWeightReader::quantByte(Value t, Value row, Value at) {
  Value v = tensor::ExtractOp::create(b, loc, t, ValueRange{row, at});
  return arith::ExtUIOp::create(b, loc, b.getI32Type(), v);
}

/// Bits [shift, shift + width) of byte `at` of row `row` of `t` (`mask`
/// = 2^width - 1), as i32.
Value QuantizedWeightReader::quantBits(Value t, Value row, Value at,
                                       int64_t shift, int64_t mask) {
  Value v = quantByte(t, row, at);
  if (shift)
    v = arith::ShRUIOp::create(b, loc, v, i32Const(shift));
  return arith::AndIOp::create(b, loc, v, i32Const(mask));
}

/// `d` times the 6-bit scale `sc` (i32) less 32: q3_k's and iq4_xs's
/// sub-block scales, as f32.
Value QuantizedWeightReader::sixBitScale(Value d, Value sc) {
  return arith::MulFOp::create(
      b, loc, d,
      arith::SIToFPOp::create(b, loc, f32,
                              arith::SubIOp::create(b, loc, sc, i32Const(32))));
}

/// The little-endian f16 at byte `at` of row `row` of `t`, as f32.
Value QuantizedWeightReader::quantHalf(Value t, Value row, Value at) {
  Value bits = vector::BitCastOp::create(
      b, loc, VectorType::get({1}, b.getF16Type()), quantBytes(t, row, at, 2));
  Value half = vector::ExtractOp::create(b, loc, bits, 0);
  return arith::ExtFOp::create(b, loc, f32, half);
}

/// The little-endian 32-bit integer at byte `at` of row `row` of `t`
/// (q5_0's and q5_1's fifth bits), as i32.
Value QuantizedWeightReader::quantWord(Value t, Value row, Value at) {
  Value bits = vector::BitCastOp::create(
      b, loc, VectorType::get({1}, b.getI32Type()), quantBytes(t, row, at, 4));
  return vector::ExtractOp::create(b, loc, bits, 0);
}

/// The low `bits` bits of each integer of `runs` end to end (run 0's
/// first; at most 64 in all) as as many bytes, each `value` where its
/// bit is set and 0 where not (q5_0's and q5_1's fifth bits, 16 each).
Value QuantizedWeightReader::bitBytes(ArrayRef<Value> runs, int64_t bits,
                                      int64_t value) {
  Type i64 = b.getI64Type();
  int64_t n = bits * static_cast<int64_t>(runs.size());
  Value all;
  for (auto [i, run] : llvm::enumerate(runs)) {
    Value v = arith::ExtUIOp::create(b, loc, i64, run);
    if (bits < 64)
      v = arith::AndIOp::create(
          b, loc, v,
          arith::ConstantOp::create(
              b, loc, b.getI64IntegerAttr((int64_t(1) << bits) - 1)));
    if (i)
      v = arith::ShLIOp::create(
          b, loc, v,
          arith::ConstantOp::create(
              b, loc, b.getI64IntegerAttr(bits * static_cast<int64_t>(i))));
    all = all ? arith::OrIOp::create(b, loc, all, v).getResult() : v;
  }
  Type word = b.getIntegerType(n);
  if (n < 64)
    all = arith::TruncIOp::create(b, loc, word, all);
  Value mask = vector::BitCastOp::create(
      b, loc, VectorType::get({n}, b.getI1Type()),
      vector::BroadcastOp::create(b, loc, VectorType::get({1}, word), all));
  Type i8 = b.getI8Type();
  return arith::SelectOp::create(b, loc, mask, intSplat(n, i8, value),
                                 intSplat(n, i8, 0));
}

/// The little-endian f32 at byte `at` of row `row` of `t`.
Value QuantizedWeightReader::quantFloat(Value t, Value row, Value at) {
  Value bits = vector::BitCastOp::create(b, loc, VectorType::get({1}, f32),
                                         quantBytes(t, row, at, 4));
  return vector::ExtractOp::create(b, loc, bits, 0);
}

/// The scale d and minus d times the zero point z of the zero-point block
/// (u8z, u4z, u2z, and their blocks of 128 and 16) at byte `base` of row
/// `row` of `t`, as f32.
std::pair<Value, Value>
QuantizedWeightReader::zeroPointScale(Value t, Value row, Value base) {
  Value d = quantFloat(t, row, base);
  Value z = arith::UIToFPOp::create(
      b, loc, f32,
      quantByte(t, row, arith::AddIOp::create(b, loc, base, index(4))));
  return {d,
          arith::NegFOp::create(b, loc, arith::MulFOp::create(b, loc, d, z))};
}

/// The 16 lanes' scales d and mins negated, -d z, of the zero-point
/// blocks (u8z, u4z, u2z, u8z16, u4z16, u2z16) at byte `base` +
/// `blocks[i]` times the block bytes of row `row` of `t`, lane run i (of
/// 16 / blocks.size() lanes) taking blocks[i]'s. The distinct blocks' scales
/// and zero points are read as scalars and converted and multiplied as one
/// vector each, then spread over the lanes with one shuffle each.
std::pair<Value, Value>
QuantizedWeightReader::zeroPointLanes(Value t, Value row, Value base,
                                      ArrayRef<int64_t> blocks) {
  int64_t n = *llvm::max_element(blocks) + 1, bb = quant.getBlockBytes();
  SmallVector<Value, 4> ds, zs;
  for (int64_t j = 0; j < n; ++j) {
    Value at = arith::AddIOp::create(b, loc, base, index(j * bb));
    ds.push_back(quantFloat(t, row, at));
    zs.push_back(tensor::ExtractOp::create(
        b, loc, t,
        ValueRange{row, arith::AddIOp::create(b, loc, at, index(4))}));
  }
  auto f32n = VectorType::get({n}, f32);
  Value d = vector::FromElementsOp::create(b, loc, f32n, ds);
  Value z = arith::UIToFPOp::create(
      b, loc, f32n,
      vector::FromElementsOp::create(b, loc,
                                     VectorType::get({n}, b.getI8Type()), zs));
  Value negMin =
      arith::NegFOp::create(b, loc, arith::MulFOp::create(b, loc, d, z));
  int64_t run = 16 / static_cast<int64_t>(blocks.size());
  SmallVector<int64_t> mask;
  for (int64_t l = 0; l < 16; ++l)
    mask.push_back(blocks[l / run]);
  return {vector::ShuffleOp::create(b, loc, d, d, mask),
          vector::ShuffleOp::create(b, loc, negMin, negMin, mask)};
}

/// A splat of `v` over `lanes` i8.
Value QuantizedWeightReader::splat8(int64_t v) {
  auto type = VectorType::get({lanes}, b.getI8Type());
  return arith::ConstantOp::create(
      b, loc, type, DenseElementsAttr::get(type, b.getI8IntegerAttr(v)));
}

/// The scale and the min of sub-block `sub` (of 32) of the q4_k block at
/// byte `base` of weight row `row` of `t`: d and dmin times the
/// sub-block's 6-bit scale and min, packed in the 12 bytes at 4.
std::pair<Value, Value> QuantizedWeightReader::q4kScaleMin(Value t, Value row,
                                                           Value base,
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
  Value scale = arith::MulFOp::create(b, loc, quantHalf(t, row, base),
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
std::pair<Value, Value>
QuantizedWeightReader::q4kBlockScales(Value t, Value row, Value base) {
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
/// `row` of the bytes `t` (format quant, docs/MoEDialect.md), as f32:
/// the quantized values widened in registers, times their (sub-)block's
/// scale, less its min (q4_k). `e0` is a multiple of the lanes, which
/// divide 16, so the elements share their scale and their bytes are
/// contiguous.
Value QuantizedWeightReader::quantizedChunk(Value t, Value row, Value base,
                                            int64_t e0) {
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
  switch (quant.getFormat()) {
  case QuantFormat::q8_0: {
    Value q = quantBytes(t, row, at(2 + e0), lanes);
    Value v = arith::SIToFPOp::create(b, loc, vecType, q);
    return arith::MulFOp::create(b, loc, v, splat(quantHalf(t, row, base)));
  }
  case QuantFormat::q4_0: {
    Value raw = quantBytes(t, row, at(2 + e0 % 16), lanes);
    Value q = arith::SubIOp::create(b, loc, nibbles(raw, e0 >= 16), splat8(8));
    Value v = arith::SIToFPOp::create(b, loc, vecType, q);
    return arith::MulFOp::create(b, loc, v, splat(quantHalf(t, row, base)));
  }
  case QuantFormat::q4_1: {
    Value raw = quantBytes(t, row, at(4 + e0 % 16), lanes);
    Value v = arith::UIToFPOp::create(b, loc, vecType, nibbles(raw, e0 >= 16));
    return arith::AddFOp::create(
        b, loc,
        arith::MulFOp::create(b, loc, v, splat(quantHalf(t, row, base))),
        splat(quantHalf(t, row, at(2))));
  }
  case QuantFormat::q5_0:
  case QuantFormat::q5_1: {
    // The 4 low bits as q4_0's, the fifth bit of element j bit j of qh.
    bool withMin = quant.getFormat() == QuantFormat::q5_1;
    int64_t qh = withMin ? 4 : 2;
    Value raw = quantBytes(t, row, at(qh + 4 + e0 % 16), lanes);
    Value word = quantWord(t, row, at(qh));
    if (e0)
      word = arith::ShRUIOp::create(
          b, loc, word,
          arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(e0)));
    Value n = arith::OrIOp::create(b, loc, nibbles(raw, e0 >= 16),
                                   bitBytes({word}, lanes, 16));
    Value d = splat(quantHalf(t, row, base));
    if (!withMin)
      return arith::MulFOp::create(
          b, loc,
          arith::SIToFPOp::create(b, loc, vecType,
                                  arith::SubIOp::create(b, loc, n, splat8(16))),
          d);
    return arith::AddFOp::create(
        b, loc,
        arith::MulFOp::create(b, loc,
                              arith::UIToFPOp::create(b, loc, vecType, n), d),
        splat(quantHalf(t, row, at(2))));
  }
  case QuantFormat::q4_k:
  case QuantFormat::q5_k: {
    // q5_k: q4_k with a fifth bit per value, bit t of qh[j % 32] for
    // sub-block t, and its qs 32 bytes on.
    bool five = quant.getFormat() == QuantFormat::q5_k;
    auto [scale, min] = q4kScaleMin(t, row, base, e0 / 32);
    Value raw = quantBytes(
        t, row, at((five ? 48 : 16) + 32 * (e0 / 64) + e0 % 32), lanes);
    Value n = nibbles(raw, e0 % 64 >= 32);
    if (five)
      n = arith::OrIOp::create(
          b, loc, n,
          bitPlane(quantBytes(t, row, at(16 + e0 % 32), lanes), e0 / 32, 4));
    Value v = arith::UIToFPOp::create(b, loc, vecType, n);
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
  case QuantFormat::q2_k:
  case QuantFormat::q3_k: {
    // 2 bits of each value from qs, sub-blocks of 16 (docs/MoEDialect.md);
    // q3_k's third bit from hm, and its 6-bit signed scales.
    bool three = quant.getFormat() == QuantFormat::q3_k;
    int64_t sub = e0 / 16;
    Value n = crumbsOf(
        quantBytes(t, row, at((three ? 32 : 16) + 32 * (e0 / 128) + e0 % 32),
                   lanes),
        e0 % 128 / 32);
    auto field = [&](int64_t byte, int64_t shift, int64_t mask) {
      return quantBits(t, row, at(byte), shift, mask);
    };
    if (!three) {
      Value scale = arith::MulFOp::create(
          b, loc, quantHalf(t, row, at(80)),
          arith::UIToFPOp::create(b, loc, f32, field(sub, 0, 15)));
      Value min = arith::MulFOp::create(
          b, loc, quantHalf(t, row, at(82)),
          arith::UIToFPOp::create(b, loc, f32, field(sub, 4, 15)));
      Value v = arith::UIToFPOp::create(b, loc, vecType, n);
      return arith::SubFOp::create(
          b, loc, arith::MulFOp::create(b, loc, v, splat(scale)), splat(min));
    }
    n = arith::OrIOp::create(
        b, loc, n,
        bitPlane(quantBytes(t, row, at(e0 % 32), lanes), e0 / 32, 2));
    Value sc = arith::OrIOp::create(
        b, loc, field(96 + sub % 8, 4 * (sub / 8), 15),
        arith::ShLIOp::create(b, loc, field(104 + sub % 4, 2 * (sub / 4), 3),
                              i32Const(4)));
    Value scale = sixBitScale(quantHalf(t, row, at(108)), sc);
    Value v = arith::SIToFPOp::create(
        b, loc, vecType, arith::SubIOp::create(b, loc, n, splat8(4)));
    return arith::MulFOp::create(b, loc, v, splat(scale));
  }
  case QuantFormat::iq4_nl: {
    Value raw = quantBytes(t, row, at(2 + e0 % 16), lanes);
    return arith::MulFOp::create(b, loc, iq4Floats(nibbles(raw, e0 >= 16)),
                                 splat(quantHalf(t, row, base)));
  }
  case QuantFormat::iq4_xs: {
    // Sub-block s of 32 as an iq4_nl block, its scale d (ls - 32): ls's
    // low 4 bits from sl[s / 2], its high 2 from bits 2 s of sh.
    int64_t s = e0 / 32;
    Value raw = quantBytes(t, row, at(8 + 16 * s + e0 % 16), lanes);
    Value ls = arith::OrIOp::create(
        b, loc, quantBits(t, row, at(4 + s / 2), 4 * (s % 2), 15),
        arith::ShLIOp::create(b, loc,
                              quantBits(t, row, at(2 + s / 4), 2 * (s % 4), 3),
                              i32Const(4)));
    Value scale = sixBitScale(quantHalf(t, row, base), ls);
    return arith::MulFOp::create(b, loc, iq4Floats(nibbles(raw, e0 % 32 >= 16)),
                                 splat(scale));
  }
  case QuantFormat::iq2_xxs:
  case QuantFormat::iq2_xs:
  case QuantFormat::iq2_s:
  case QuantFormat::iq3_xxs:
  case QuantFormat::iq3_s:
  case QuantFormat::iq1_s:
  case QuantFormat::iq1_m: {
    // Groups of 8 elements, each decoded whole: two end to end for 16
    // lanes, half of one for 4.
    if (lanes < 8) {
      Value group = iqGroup(t, row, base, e0 / 8);
      SmallVector<int64_t> part;
      for (int64_t i = 0; i < lanes; ++i)
        part.push_back(e0 % 8 + i);
      return vector::ShuffleOp::create(b, loc, group, group, part);
    }
    Value v = iqGroup(t, row, base, e0 / 8);
    for (int64_t g = e0 / 8 + 1; g < (e0 + lanes) / 8; ++g)
      v = concat(v, iqGroup(t, row, base, g));
    return v;
  }
  case QuantFormat::mxfp4: {
    Value raw = quantBytes(t, row, at(1 + e0 % 16), lanes);
    Value v;
    if (lanes == 16) {
      // AVX-512: the 16 doubled values as a table, looked up with
      // vpermps, which reads the low 4 bits of each index.
      Type i32 = b.getI32Type();
      Value idx =
          arith::ExtUIOp::create(b, loc, VectorType::get({16}, i32), raw);
      if (e0 >= 16)
        idx = arith::ShRUIOp::create(b, loc, idx, intSplat(16, i32, 4));
      SmallVector<float> table(std::begin(kMxfp4Doubled),
                               std::end(kMxfp4Doubled));
      table[8] = -0.0f;
      Value tableV = arith::ConstantOp::create(
          b, loc, vecType, DenseElementsAttr::get(vecType, ArrayRef(table)));
      v = x86Instruction(b, loc, vecType, "vpermps $2, $1, $0", "=v,v,v",
                         ValueRange{idx, tableV});
    } else {
      v = arith::SIToFPOp::create(b, loc, vecType,
                                  mxfp4Doubled(nibbles(raw, e0 >= 16)));
    }
    return arith::MulFOp::create(b, loc, v, splat(e8m0Half(t, row, base)));
  }
  case QuantFormat::u8z:
  case QuantFormat::u4z:
  case QuantFormat::u8z128:
  case QuantFormat::u4z128:
  case QuantFormat::u2z:
  case QuantFormat::u2z128:
  case QuantFormat::u8z16:
  case QuantFormat::u4z16:
  case QuantFormat::u2z16: {
    // d (q - z), as ONNX Runtime's QMoE computes it: q - z is exact in f32.
    Value q;
    QuantFormat f = quant.getFormat();
    if (f == QuantFormat::u4z16 && lanes == 16) {
      // The 8 bytes' low nibbles, then their high ones.
      Value x = quantBytes(t, row, at(5), 8);
      q = concat(nibblesOf(x, false), nibblesOf(x, true));
    } else if (f == QuantFormat::u4z16) {
      q = nibbles(quantBytes(t, row, at(5 + e0 % 8), lanes), e0 >= 8);
    } else if (f == QuantFormat::u2z16) {
      // Elements [e0, e0 + lanes): bits 2 (e0 / 4) and on of the 4 bytes,
      // 4 elements per 2 bits.
      Value x = quantBytes(t, row, at(5), 4);
      SmallVector<Value, 4> parts;
      for (int64_t i = 0; i < lanes / 4; ++i)
        parts.push_back(crumbsOf(x, e0 / 4 + i));
      while (parts.size() > 1) {
        SmallVector<Value, 4> joined;
        for (size_t i = 0; i < parts.size(); i += 2)
          joined.push_back(concat(parts[i], parts[i + 1]));
        parts = joined;
      }
      q = parts[0];
    } else if (f == QuantFormat::u4z) {
      q = nibbles(quantBytes(t, row, at(5 + e0 % 16), lanes), e0 >= 16);
    } else if (f == QuantFormat::u4z128) {
      q = nibbles(quantBytes(t, row, at(5 + 32 * (e0 / 64) + e0 % 32), lanes),
                  e0 % 64 >= 32);
    } else if (f == QuantFormat::u2z && lanes > 8) {
      // Elements [e0, e0 + 16): bits 2 (e0 / 8) and the next 2 of the 8
      // bytes.
      Value x = quantBytes(t, row, at(5), 8);
      q = concat(crumbsOf(x, e0 / 8), crumbsOf(x, e0 / 8 + 1));
    } else if (f == QuantFormat::u2z) {
      q = crumbsOf(quantBytes(t, row, at(5 + e0 % 8), lanes), e0 / 8);
    } else if (f == QuantFormat::u2z128) {
      q = crumbsOf(quantBytes(t, row, at(5 + 16 * (e0 / 64) + e0 % 16), lanes),
                   e0 % 64 / 16);
    } else {
      q = quantBytes(t, row, at(5 + e0), lanes);
    }
    Value z = arith::UIToFPOp::create(b, loc, f32, quantByte(t, row, at(4)));
    Value v = arith::SubFOp::create(
        b, loc, arith::UIToFPOp::create(b, loc, vecType, q), splat(z));
    return arith::MulFOp::create(b, loc, v, splat(quantFloat(t, row, base)));
  }
  case QuantFormat::fp8_e4m3: {
    // e4m3 bits s eeee mmm as the f16 s 0eeee mmm0000000: the same value
    // times 2^-8 (exponent bias 15, not 7; subnormals alike), widened to
    // f32 exactly (vcvtph2ps with F16C); the 2^8 goes into the scale,
    // exactly.
    Type i16 = b.getI16Type();
    auto i16Vec = VectorType::get({lanes}, i16);
    Value q = arith::ExtUIOp::create(b, loc, i16Vec,
                                     quantBytes(t, row, at(4 + e0), lanes));
    Value sign = arith::ShLIOp::create(
        b, loc, arith::AndIOp::create(b, loc, q, intSplat(lanes, i16, 0x80)),
        intSplat(lanes, i16, 8));
    Value rest = arith::ShLIOp::create(
        b, loc, arith::AndIOp::create(b, loc, q, intSplat(lanes, i16, 0x7f)),
        intSplat(lanes, i16, 7));
    Value half = arith::BitcastOp::create(
        b, loc, VectorType::get({lanes}, b.getF16Type()),
        arith::OrIOp::create(b, loc, sign, rest));
    Value v = arith::ExtFOp::create(b, loc, vecType, half);
    Value d = arith::MulFOp::create(b, loc, quantFloat(t, row, base),
                                    floatConst(b, loc, f32, 256.0));
    return arith::MulFOp::create(b, loc, v, splat(d));
  }
  }
  llvm_unreachable("unknown quantized format");
}

/// The e2m1 values of the nibbles `n` doubled, as i8: the magnitude of
/// e2m1 bits x (e1 e0 m) doubled is x + max(x - 4, 0) + 2 max(x - 6, 0)
/// (0, 1, 2, 3, 4, 6, 8, 12), and bit 3 is the sign.
Value QuantizedWeightReader::mxfp4Doubled(Value n) {
  int64_t count = cast<VectorType>(n.getType()).getNumElements();
  Type i8 = b.getI8Type();
  auto c = [&](int64_t v) { return intSplat(count, i8, v); };
  Value x = arith::AndIOp::create(b, loc, n, c(7));
  auto above = [&](int64_t from) -> Value {
    return arith::MaxSIOp::create(
        b, loc, arith::SubIOp::create(b, loc, x, c(from)), c(0));
  };
  Value mag =
      arith::AddIOp::create(b, loc, arith::AddIOp::create(b, loc, x, above(4)),
                            arith::ShLIOp::create(b, loc, above(6), c(1)));
  // (mag ^ -s) + s negates where s = 1.
  Value sign = arith::ShRUIOp::create(b, loc, n, c(3));
  Value flip = arith::SubIOp::create(b, loc, c(0), sign);
  return arith::AddIOp::create(b, loc, arith::XOrIOp::create(b, loc, mag, flip),
                               sign);
}

/// The 64 MXFP4 codes `n` (each below 16) as unsigned bytes for int8 dot
/// products, their doubled e2m1 values plus 12: looked up with vpshufb in
/// a table of the 16 codes' (repeated in each 128-bit lane, as vpshufb
/// reads them).
Value QuantizedWeightReader::mxfp4Bytes(Value n) {
  SmallVector<int64_t> table;
  for (int8_t v : kMxfp4Doubled)
    table.push_back(v + 12);
  return tableBytes(n, table);
}

Value QuantizedWeightReader::iq4Bytes(Value n) {
  SmallVector<int64_t> table;
  for (int8_t v : kIq4Values)
    table.push_back(v + 128);
  return tableBytes(n, table);
}

/// The 64 codes `n` (i8, each below 16) as the bytes `table` gives them
/// (16 values, 0 to 255): vpshufb on the table repeated in each 128-bit
/// lane, as vpshufb reads it.
Value QuantizedWeightReader::tableBytes(Value n, ArrayRef<int64_t> table) {
  auto i8x64 = VectorType::get({64}, b.getI8Type());
  SmallVector<int8_t> bytes;
  for (int64_t l = 0; l < 64; ++l)
    bytes.push_back(static_cast<int8_t>(static_cast<uint8_t>(table[l % 16])));
  Value tableV = arith::ConstantOp::create(
      b, loc, i8x64, DenseElementsAttr::get(i8x64, ArrayRef(bytes)));
  return x86Instruction(b, loc, i8x64, "vpshufb $2, $1, $0", "=v,v,v",
                        ValueRange{tableV, n});
}

/// The `lanes` iq4 codes `n` (i8, each below 16) as their values in f32:
/// with AVX-512 looked up with vpermps in a table of the 16 values, which
/// reads the low 4 bits of each index; otherwise picked from splats by a
/// tree of selects on the code's 4 bits (15 selects of i8 vectors).
Value QuantizedWeightReader::iq4Floats(Value n) {
  auto vecType = VectorType::get({lanes}, f32);
  if (lanes == 16) {
    Type i32 = b.getI32Type();
    Value idx = arith::ExtUIOp::create(b, loc, VectorType::get({16}, i32), n);
    SmallVector<float> table(std::begin(kIq4Values), std::end(kIq4Values));
    Value tableV = arith::ConstantOp::create(
        b, loc, vecType, DenseElementsAttr::get(vecType, ArrayRef(table)));
    return x86Instruction(b, loc, vecType, "vpermps $2, $1, $0", "=v,v,v",
                          ValueRange{idx, tableV});
  }
  Type i8 = b.getI8Type();
  SmallVector<Value, 16> level;
  for (int8_t v : kIq4Values)
    level.push_back(intSplat(lanes, i8, v));
  for (int64_t bit = 0; level.size() > 1; ++bit) {
    Value set = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::ne,
        arith::AndIOp::create(b, loc, n, intSplat(lanes, i8, 1 << bit)),
        intSplat(lanes, i8, 0));
    SmallVector<Value, 16> next;
    for (size_t i = 0; i < level.size(); i += 2)
      next.push_back(
          arith::SelectOp::create(b, loc, set, level[i + 1], level[i]));
    level = next;
  }
  return arith::SIToFPOp::create(b, loc, vecType, level[0]);
}

/// Half the e8m0 scale at byte `base` of row `row` of `t`, 2^(e - 128),
/// as an f32 (for the doubled e2m1 values): the bits 0x00200000 << e for
/// e < 2, else (e - 1) << 23.
Value QuantizedWeightReader::e8m0Half(Value t, Value row, Value base) {
  return e8m0HalfOf(quantByte(t, row, base));
}

Value QuantizedWeightReader::e8m0HalfOf(Value e) {
  auto vec = dyn_cast<VectorType>(e.getType());
  auto c = [&](int64_t v) -> Value {
    if (vec)
      return intSplat(vec.getNumElements(), b.getI32Type(), v);
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
  };
  Value small =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, e, c(2));
  Value bits = arith::SelectOp::create(
      b, loc, small, arith::ShLIOp::create(b, loc, c(0x00200000), e),
      arith::ShLIOp::create(b, loc, arith::SubIOp::create(b, loc, e, c(1)),
                            c(23)));
  Type f = vec ? Type(VectorType::get(vec.getShape(), f32)) : f32;
  return arith::BitcastOp::create(b, loc, f, bits);
}

/// A constant vector of `n` copies of the integer `v` of type `elt`.
Value QuantizedWeightReader::intSplat(int64_t n, Type elt, int64_t v) {
  auto type = VectorType::get({n}, elt);
  return arith::ConstantOp::create(
      b, loc, type, DenseElementsAttr::get(type, b.getIntegerAttr(elt, v)));
}

/// `x` and `y` (vectors of one type) end to end.
Value QuantizedWeightReader::concat(Value x, Value y) {
  int64_t n = cast<VectorType>(x.getType()).getNumElements();
  SmallVector<int64_t> mask;
  for (int64_t i = 0; i < 2 * n; ++i)
    mask.push_back(i);
  return vector::ShuffleOp::create(b, loc, x, y, mask);
}

/// 16 f32 lanes, the scalars' in equal runs and order (each the scale of
/// the lanes of its (sub-)block).
Value QuantizedWeightReader::laneRuns(ArrayRef<Value> scalars) {
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

/// Bit `bit` of each of the bytes `raw`, moved to bit `to` (q5_k's fifth
/// and q3_k's third bits, from their bit planes).
Value QuantizedWeightReader::bitPlane(Value raw, int64_t bit, int64_t to) {
  int64_t n = cast<VectorType>(raw.getType()).getNumElements();
  Type i8 = b.getI8Type();
  if (bit)
    raw = arith::ShRUIOp::create(b, loc, raw, intSplat(n, i8, bit));
  return arith::ShLIOp::create(
      b, loc, arith::AndIOp::create(b, loc, raw, intSplat(n, i8, 1)),
      intSplat(n, i8, to));
}

/// The low or high nibbles of the bytes `raw`.
Value QuantizedWeightReader::nibblesOf(Value raw, bool high) {
  int64_t n = cast<VectorType>(raw.getType()).getNumElements();
  Type i8 = b.getI8Type();
  if (high)
    return arith::ShRUIOp::create(b, loc, raw, intSplat(n, i8, 4));
  return arith::AndIOp::create(b, loc, raw, intSplat(n, i8, 15));
}

/// The 2-bit values at bits [2 i, 2 i + 2) of the bytes `raw`.
Value QuantizedWeightReader::crumbsOf(Value raw, int64_t i) {
  int64_t n = cast<VectorType>(raw.getType()).getNumElements();
  Type i8 = b.getI8Type();
  if (i)
    raw = arith::ShRUIOp::create(b, loc, raw, intSplat(n, i8, 2 * i));
  if (i == 3)
    return raw;
  return arith::AndIOp::create(b, loc, raw, intSplat(n, i8, 3));
}

/// Runs of `run` values of `first` and `second` (vectors of one type)
/// taken in turn: first's run j, then second's run j, for each j. The u2z
/// blocks' runs of 16 values from two vectors of their 2-bit values, 8 per
/// block (`first`: bits 0-1 or 4-5 of each block's 8 bytes, `second`: bits
/// 2-3 or 6-7), are runs of 8; u4z16's blocks from their bytes' low and
/// high nibbles, too.
Value QuantizedWeightReader::runsOf(Value first, Value second, int64_t run) {
  int64_t n = cast<VectorType>(first.getType()).getNumElements();
  SmallVector<int64_t> mask;
  for (int64_t j = 0; j < n / run; ++j) {
    for (int64_t i = 0; i < run; ++i)
      mask.push_back(run * j + i);
    for (int64_t i = 0; i < run; ++i)
      mask.push_back(n + run * j + i);
  }
  return vector::ShuffleOp::create(b, loc, first, second, mask);
}
