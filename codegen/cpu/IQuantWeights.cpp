//===- IQuantWeights.cpp - ggml's i-quants in the CPU kernels -----------===//
//
// QuantizedWeightReader's reads of the 1- to 3-bit i-quants (iq2_xxs,
// iq2_xs, iq2_s, iq3_xxs, iq3_s, iq1_s, iq1_m; docs/MoEDialect.md): a
// group of 8 values from its codebook entry (runtime/support/IQGrids.h)
// for the f32 kernel, and a step's codes, signs and scales for the int8
// steps (Int8Steps.cpp).
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/QuantizedWeights.h"
#include "codegen/linalg/LoweringUtils.h"
#include "runtime/support/IQGrids.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::moe;

/// The little-endian 16-bit integer at byte `at` of row `row` of `t`, as
/// i32.
Value QuantizedWeightReader::quantShort(Value t, Value row, Value at) {
  Value bits = vector::BitCastOp::create(
      b, loc, VectorType::get({1}, b.getI16Type()), quantBytes(t, row, at, 2));
  return arith::ExtUIOp::create(b, loc, b.getI32Type(),
                                vector::ExtractOp::create(b, loc, bits, 0));
}

/// Entry `code` (i32) of the format's codebook, as the table holds it: an
/// i64 of 8 values, or for iq3 an i32 of 4 (byte k value k). The table is
/// a constant tensor, read at the code.
Value QuantizedWeightReader::iqCodebookEntry(Value code) {
  ArrayRef<uint64_t> grid8;
  ArrayRef<uint32_t> grid4;
  switch (quant.getFormat()) {
  case QuantFormat::iq2_xxs:
    grid8 = ::moe::iq::kIq2xxsGrid;
    break;
  case QuantFormat::iq2_xs:
    grid8 = ::moe::iq::kIq2xsGrid;
    break;
  case QuantFormat::iq2_s:
    grid8 = ::moe::iq::kIq2sGrid;
    break;
  case QuantFormat::iq3_xxs:
    grid4 = ::moe::iq::kIq3xxsGrid;
    break;
  case QuantFormat::iq3_s:
    grid4 = ::moe::iq::kIq3sGrid;
    break;
  default: // iq1_s, iq1_m
    grid8 = ::moe::iq::kIq1sGrid;
    break;
  }
  bool wide = !grid8.empty();
  Type word = wide ? b.getI64Type() : b.getI32Type();
  int64_t n = wide ? grid8.size() : grid4.size();
  auto tableType = RankedTensorType::get({n}, word);
  DenseElementsAttr values =
      wide ? DenseElementsAttr::get(
                 tableType,
                 ArrayRef(reinterpret_cast<const int64_t *>(grid8.data()),
                          grid8.size()))
           : DenseElementsAttr::get(
                 tableType,
                 ArrayRef(reinterpret_cast<const int32_t *>(grid4.data()),
                          grid4.size()));
  Value table = arith::ConstantOp::create(b, loc, tableType, values);
  return tensor::ExtractOp::create(
      b, loc, table,
      ValueRange{arith::IndexCastUIOp::create(b, loc, b.getIndexType(), code)});
}

/// The codebook entries of a group's `codes` (one, or iq3's two) as one
/// i64, byte k value k.
Value QuantizedWeightReader::iqCodebookWord(ArrayRef<Value> codes) {
  if (codes.size() == 1)
    return iqCodebookEntry(codes[0]);
  Type i64 = b.getI64Type();
  auto wide = [&](Value code) -> Value {
    return arith::ExtUIOp::create(b, loc, i64, iqCodebookEntry(code));
  };
  return arith::OrIOp::create(
      b, loc, wide(codes[0]),
      arith::ShLIOp::create(
          b, loc, wide(codes[1]),
          arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(32))));
}

/// Group `g` (elements [8 g, 8 g + 8)) of the i-quant block at byte
/// `base` of row `row` of `t` (docs/MoEDialect.md): its codes, sign byte
/// (iq1's none), scale and, for iq1, whether its 1/8 is negated.
QuantizedWeightReader::IqGroupCodes
QuantizedWeightReader::iqGroupCodes(Value t, Value row, Value base, int64_t g) {
  int64_t ib = g / 4, l = g % 4;
  auto at = [&](int64_t offset) -> Value {
    return arith::AddIOp::create(b, loc, base, index(offset));
  };
  auto byte = [&](int64_t offset) { return quantByte(t, row, at(offset)); };
  auto shr = [&](Value v, int64_t n) -> Value {
    return n ? arith::ShRUIOp::create(b, loc, v, i32Const(n)).getResult() : v;
  };
  auto shl = [&](Value v, int64_t n) -> Value {
    return arith::ShLIOp::create(b, loc, v, i32Const(n));
  };
  auto andI = [&](Value v, int64_t m) -> Value {
    return arith::AndIOp::create(b, loc, v, i32Const(m));
  };
  auto orI = [&](Value x, Value y) -> Value {
    return arith::OrIOp::create(b, loc, x, y);
  };
  // d (2 c + 1) times `unit`, c an i32.
  auto oddScale = [&](Value d, Value c, double unit) -> Value {
    Value odd = arith::UIToFPOp::create(
        b, loc, f32, arith::AddIOp::create(b, loc, shl(c, 1), i32Const(1)));
    Value s = arith::MulFOp::create(b, loc, d, odd);
    if (unit == 1.0)
      return s;
    return arith::MulFOp::create(b, loc, s, floatConst(b, loc, f32, unit));
  };
  // The sign byte of the 7-bit s: bit 7 the parity of s (popcnt).
  auto paritySigns = [&](Value s) -> Value {
    return orI(s, shl(andI(math::CtPopOp::create(b, loc, s), 1), 7));
  };
  auto codeWithHigh = [&](int64_t low, Value high, int64_t shift) {
    return orI(byte(low), shl(high, shift));
  };

  IqGroupCodes group;
  switch (quant.getFormat()) {
  case QuantFormat::iq2_xxs: {
    Value a = quantWord(t, row, at(6 + 8 * ib));
    group.scale = oddScale(quantHalf(t, row, base), shr(a, 28), 0.125);
    group.codes.push_back(byte(2 + 8 * ib + l));
    group.signs = paritySigns(andI(shr(a, 7 * l), 127));
    break;
  }
  case QuantFormat::iq2_xs: {
    Value q = quantShort(t, row, at(2 + 2 * g));
    group.scale = oddScale(quantHalf(t, row, base),
                           andI(shr(byte(66 + ib), 4 * (l / 2)), 15), 0.125);
    group.codes.push_back(andI(q, 511));
    group.signs = paritySigns(shr(q, 9));
    break;
  }
  case QuantFormat::iq2_s:
    group.scale = oddScale(quantHalf(t, row, base),
                           andI(shr(byte(74 + ib), 4 * (l / 2)), 15), 0.125);
    group.codes.push_back(
        codeWithHigh(2 + g, andI(shr(byte(66 + ib), 2 * l), 3), 8));
    group.signs = byte(34 + g);
    break;
  case QuantFormat::iq3_xxs: {
    Value a = quantWord(t, row, at(66 + 4 * ib));
    group.scale = oddScale(quantHalf(t, row, base), shr(a, 28), 0.25);
    group.codes.push_back(byte(2 + 2 * g));
    group.codes.push_back(byte(3 + 2 * g));
    group.signs = paritySigns(andI(shr(a, 7 * l), 127));
    break;
  }
  case QuantFormat::iq3_s:
    group.scale =
        oddScale(quantHalf(t, row, base),
                 andI(shr(byte(106 + ib / 2), 4 * (ib % 2)), 15), 1.0);
    for (int64_t m = 2 * g; m < 2 * g + 2; ++m)
      group.codes.push_back(
          codeWithHigh(2 + m, andI(shr(byte(66 + m / 8), m % 8), 1), 8));
    group.signs = byte(74 + g);
    break;
  case QuantFormat::iq1_s: {
    Value h = quantShort(t, row, at(34 + 2 * ib));
    group.scale = oddScale(quantHalf(t, row, base), andI(shr(h, 12), 7), 1.0);
    group.codes.push_back(codeWithHigh(2 + g, andI(shr(h, 3 * l), 7), 8));
    group.negDelta = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne,
                                           andI(h, 0x8000), i32Const(0));
    break;
  }
  case QuantFormat::iq1_m: {
    // d's 16 bits are the top nibbles of the 4 scale words.
    Value dBits = shr(quantShort(t, row, at(48)), 12);
    for (int64_t i = 1; i < 4; ++i)
      dBits =
          orI(dBits, andI(shr(quantShort(t, row, at(48 + 2 * i)), 12 - 4 * i),
                          0xf << (4 * i)));
    Value half = arith::BitcastOp::create(
        b, loc, b.getF16Type(),
        arith::TruncIOp::create(b, loc, b.getI16Type(), dBits));
    Value d = arith::ExtFOp::create(b, loc, f32, half);
    Value n = andI(shr(byte(32 + g / 2), 4 * (g % 2)), 15);
    Value c =
        andI(shr(quantShort(t, row, at(48 + 2 * (g / 8))), 3 * (g / 2 % 4)), 7);
    group.scale = oddScale(d, c, 1.0);
    group.codes.push_back(codeWithHigh(g, andI(n, 7), 8));
    group.negDelta = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne,
                                           andI(n, 8), i32Const(0));
    break;
  }
  default:
    llvm_unreachable("not an i-quant");
  }
  return group;
}

/// The codebook codes (i32) of groups 8 c to 8 c + 7 of the i-quant block
/// at byte `base` of row `row` of `t` (iq2_xxs, iq2_xs, iq2_s, iq3_xxs,
/// iq3_s; iq3's 2 a group), in order: iq2_xs's, iq2_s's and iq3_s's
/// assembled as vectors (their low bits and their high bits from qh), then
/// taken lane by lane for the table reads; iq2_xxs's and iq3_xxs's bytes
/// read one by one.
SmallVector<Value, 16>
QuantizedWeightReader::iqStepCodes(Value t, Value row, Value base, int64_t c) {
  auto at = [&](int64_t offset) -> Value {
    return arith::AddIOp::create(b, loc, base, index(offset));
  };
  Type i32 = b.getI32Type();
  SmallVector<Value, 16> codes;
  QuantFormat f = quant.getFormat();
  if (f == QuantFormat::iq2_xxs || f == QuantFormat::iq3_xxs) {
    for (int64_t g = 8 * c; g < 8 * c + 8; ++g) {
      if (f == QuantFormat::iq2_xxs) {
        codes.push_back(quantByte(t, row, at(2 + 8 * (g / 4) + g % 4)));
      } else {
        codes.push_back(quantByte(t, row, at(2 + 2 * g)));
        codes.push_back(quantByte(t, row, at(3 + 2 * g)));
      }
    }
    return codes;
  }
  int64_t n = f == QuantFormat::iq3_s ? 16 : 8;
  auto i32xn = VectorType::get({n}, i32);
  Value v;
  if (f == QuantFormat::iq2_xs) {
    Value q =
        vector::BitCastOp::create(b, loc, VectorType::get({8}, b.getI16Type()),
                                  quantBytes(t, row, at(2 + 16 * c), 16));
    v = arith::AndIOp::create(b, loc, arith::ExtUIOp::create(b, loc, i32xn, q),
                              intSplat(8, i32, 511));
  } else {
    // iq2_s: code g is qs[g] | ((qh[g / 4] >> 2 (g % 4)) & 3) << 8; iq3_s:
    // code m is qs[m] | ((qh[m / 8] >> m % 8) & 1) << 8. A step's codes
    // take qh[2 c] and qh[2 c + 1], half the lanes each.
    bool three = f == QuantFormat::iq3_s;
    Value low = arith::ExtUIOp::create(b, loc, i32xn,
                                       quantBytes(t, row, at(2 + n * c), n));
    Value qh = arith::ExtUIOp::create(b, loc, VectorType::get({2}, i32),
                                      quantBytes(t, row, at(66 + 2 * c), 2));
    SmallVector<int64_t> halves;
    SmallVector<int32_t> shifts;
    for (int64_t i = 0; i < n; ++i) {
      halves.push_back(i / (n / 2));
      shifts.push_back(three ? i % 8 : 2 * (i % 4));
    }
    Value high = vector::ShuffleOp::create(b, loc, qh, qh, halves);
    high = arith::ShRUIOp::create(
        b, loc, high,
        arith::ConstantOp::create(
            b, loc, i32xn, DenseElementsAttr::get(i32xn, ArrayRef(shifts))));
    high = arith::ShLIOp::create(
        b, loc,
        arith::AndIOp::create(b, loc, high, intSplat(n, i32, three ? 1 : 3)),
        intSplat(n, i32, 8));
    v = arith::OrIOp::create(b, loc, low, high);
  }
  for (int64_t i = 0; i < n; ++i)
    codes.push_back(vector::ExtractOp::create(b, loc, v, i));
  return codes;
}

/// The 16 lanes' scales of an int8 step of groups 8 c to 8 c + 7 of the
/// i-quant block at byte `base` of row `row` of `t` (iq2_xxs, iq2_xs,
/// iq2_s, iq3_xxs, iq3_s; 2 lanes a group): iq2_xs's and iq2_s's 4 (one
/// per 16 values) from the nibbles of 2 bytes as one vector, the others'
/// 2 (one per 32) as scalars.
Value QuantizedWeightReader::iqStepScales(Value t, Value row, Value base,
                                          int64_t c) {
  QuantFormat f = quant.getFormat();
  if (f != QuantFormat::iq2_xs && f != QuantFormat::iq2_s) {
    SmallVector<Value, 2> scales;
    for (int64_t g : {8 * c, 8 * c + 4})
      scales.push_back(iqGroupCodes(t, row, base, g).scale);
    return laneRuns(scales);
  }
  Type i32 = b.getI32Type();
  auto i32x4 = VectorType::get({4}, i32);
  auto f32x4 = VectorType::get({4}, f32);
  int64_t at = (f == QuantFormat::iq2_xs ? 66 : 74) + 2 * c;
  Value two =
      quantBytes(t, row, arith::AddIOp::create(b, loc, base, index(at)), 2);
  Value bytes = arith::ExtUIOp::create(
      b, loc, i32x4,
      vector::ShuffleOp::create(b, loc, two, two,
                                ArrayRef<int64_t>{0, 0, 1, 1}));
  Value nibbles = arith::AndIOp::create(
      b, loc,
      arith::ShRUIOp::create(
          b, loc, bytes,
          arith::ConstantOp::create(
              b, loc, i32x4,
              DenseElementsAttr::get(i32x4, ArrayRef<int32_t>{0, 4, 0, 4}))),
      intSplat(4, i32, 15));
  // d (2 c + 1) / 8.
  Value odd = arith::UIToFPOp::create(
      b, loc, f32x4,
      arith::AddIOp::create(
          b, loc, arith::ShLIOp::create(b, loc, nibbles, intSplat(4, i32, 1)),
          intSplat(4, i32, 1)));
  Value d = arith::MulFOp::create(b, loc, quantHalf(t, row, base),
                                  floatConst(b, loc, f32, 0.125));
  Value scales = arith::MulFOp::create(
      b, loc, odd, vector::BroadcastOp::create(b, loc, f32x4, d));
  SmallVector<int64_t> mask;
  for (int64_t l = 0; l < 16; ++l)
    mask.push_back(l / 4);
  return vector::ShuffleOp::create(b, loc, scales, scales, mask);
}

/// The sign bytes of groups 8 c to 8 c + 7 of the i-quant block at byte
/// `base` of row `row` of `t` (iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s), in
/// order, as a vector<8xi8> bitcast to vector<1xi64>: iq2_s's and iq3_s's
/// 8 bytes as stored; the others' 7-bit fields extracted and given their
/// parity bit as vectors of 8 lanes (iq2_xxs and iq3_xxs: 4 fields a
/// 32-bit word, 2 words a step; iq2_xs: bits 9 to 15 of 8 16-bit codes).
Value QuantizedWeightReader::iqStepSigns(Value t, Value row, Value base,
                                         int64_t c) {
  auto at = [&](int64_t offset) -> Value {
    return arith::AddIOp::create(b, loc, base, index(offset));
  };
  Type i32 = b.getI32Type();
  auto i64x1 = VectorType::get({1}, b.getI64Type());
  auto i32x8 = VectorType::get({8}, i32);
  Value fields;
  switch (quant.getFormat()) {
  case QuantFormat::iq2_s:
    return vector::BitCastOp::create(b, loc, i64x1,
                                     quantBytes(t, row, at(34 + 8 * c), 8));
  case QuantFormat::iq3_s:
    return vector::BitCastOp::create(b, loc, i64x1,
                                     quantBytes(t, row, at(74 + 8 * c), 8));
  case QuantFormat::iq2_xs: {
    Value q =
        vector::BitCastOp::create(b, loc, VectorType::get({8}, b.getI16Type()),
                                  quantBytes(t, row, at(2 + 16 * c), 16));
    fields = arith::ShRUIOp::create(
        b, loc, arith::ExtUIOp::create(b, loc, i32x8, q), intSplat(8, i32, 9));
    break;
  }
  default: { // iq2_xxs, iq3_xxs: the words of blocks 2 c and 2 c + 1
    bool three = quant.getFormat() == QuantFormat::iq3_xxs;
    auto word = [&](int64_t ib) -> Value {
      return three ? quantWord(t, row, at(66 + 4 * ib))
                   : quantWord(t, row, at(6 + 8 * ib));
    };
    Value words = vector::FromElementsOp::create(
        b, loc, i32x8,
        ValueRange{word(2 * c), word(2 * c), word(2 * c), word(2 * c),
                   word(2 * c + 1), word(2 * c + 1), word(2 * c + 1),
                   word(2 * c + 1)});
    auto shifts = DenseElementsAttr::get(
        i32x8, ArrayRef<int32_t>{0, 7, 14, 21, 0, 7, 14, 21});
    fields = arith::AndIOp::create(
        b, loc,
        arith::ShRUIOp::create(
            b, loc, words, arith::ConstantOp::create(b, loc, i32x8, shifts)),
        intSplat(8, i32, 127));
    break;
  }
  }
  Value parity = arith::AndIOp::create(
      b, loc, math::CtPopOp::create(b, loc, fields), intSplat(8, i32, 1));
  Value bytes = arith::TruncIOp::create(
      b, loc, VectorType::get({8}, b.getI8Type()),
      arith::OrIOp::create(
          b, loc, fields,
          arith::ShLIOp::create(b, loc, parity, intSplat(8, i32, 7))));
  return vector::BitCastOp::create(b, loc, i64x1, bytes);
}

/// Group `g` of the i-quant block at byte `base` of row `row` of `t` as
/// f32: its codebook entry (two for iq3) times its scale, iq1's plus or
/// minus 1/8 first, negated where its sign byte's bits are set.
Value QuantizedWeightReader::iqGroup(Value t, Value row, Value base,
                                     int64_t g) {
  QuantFormat f = quant.getFormat();
  IqGroupCodes group = iqGroupCodes(t, row, base, g);
  auto vecType = VectorType::get({8}, f32);
  Value bytes = vector::BitCastOp::create(
      b, loc, VectorType::get({8}, b.getI8Type()),
      vector::BroadcastOp::create(b, loc, VectorType::get({1}, b.getI64Type()),
                                  iqCodebookWord(group.codes)));
  bool iq1 = f == QuantFormat::iq1_s || f == QuantFormat::iq1_m;
  Value v = iq1 ? arith::SIToFPOp::create(b, loc, vecType, bytes).getResult()
                : arith::UIToFPOp::create(b, loc, vecType, bytes).getResult();
  if (group.negDelta) {
    Value delta = arith::SelectOp::create(
        b, loc, group.negDelta, floatConst(b, loc, f32, -::moe::iq::kIq1Delta),
        floatConst(b, loc, f32, ::moe::iq::kIq1Delta));
    v = arith::AddFOp::create(
        b, loc, v, vector::BroadcastOp::create(b, loc, vecType, delta));
  }
  v = arith::MulFOp::create(
      b, loc, v, vector::BroadcastOp::create(b, loc, vecType, group.scale));
  if (!group.signs)
    return v;
  Value mask = vector::BitCastOp::create(
      b, loc, VectorType::get({8}, b.getI1Type()),
      vector::BroadcastOp::create(
          b, loc, VectorType::get({1}, b.getI8Type()),
          arith::TruncIOp::create(b, loc, b.getI8Type(), group.signs)));
  return arith::SelectOp::create(b, loc, mask, arith::NegFOp::create(b, loc, v),
                                 v);
}
