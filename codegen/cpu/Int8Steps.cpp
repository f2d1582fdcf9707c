//===- Int8Steps.cpp - the weight side of the int8 dot products ----------===//
//
// QuantizedWeightReader's int8 steps (QuantizedWeights.h): a unit of a
// block-quantized weight row's values as unsigned bytes for vpdpbusd,
// with their lanes' scales and mins, for every format; the offset each
// format adds to make its values unsigned.
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/QuantizedWeights.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::moe;

/// The weight side of one int8 dot-product step: in halves (q8_0,
/// q4_0, q4_1, q5_0, q5_1, iq4_nl, mxfp4, u8z, u4z, u2z: int8RowsInHalves), the
/// unit of 4 blocks at byte `base` of weight row `row` of `t` as two vectors of
/// 64 unsigned bytes (the stored value plus the format's offset, int8Offset),
/// the blocks' first 16 values then their last 16; for blocks of 16 (u8z16,
/// u4z16, u2z16) the unit of 4 blocks at `base` in order as one; else elements
/// [64 c, 64 c + 64) of the block of 128 or 256 at `base` as one. With the 16
/// lanes' scales and, for q2_k, q4_k and the zero-point formats (int8HasMins),
/// the lanes' mins negated (q4_1's and q5_1's mins m as they are: w = d n + m).
QuantizedWeightReader::Int8Step
QuantizedWeightReader::int8Step(Value t, Value row, Value base, int64_t c) {
  Type i8 = b.getI8Type();
  auto at = [&](int64_t offset) -> Value {
    return arith::AddIOp::create(b, loc, base, index(offset));
  };
  int64_t bb = quant.getBlockBytes();
  // 16 bytes of each of the unit's 4 blocks from byte `from` of each.
  auto fourBlocks = [&](int64_t from) {
    return concat(concat(quantBytes(t, row, at(from), 16),
                         quantBytes(t, row, at(bb + from), 16)),
                  concat(quantBytes(t, row, at(2 * bb + from), 16),
                         quantBytes(t, row, at(3 * bb + from), 16)));
  };
  // The 4 blocks' f16 at byte `from` of each (their scales, or q4_1's and
  // q5_1's mins), 4 lanes each: gathered as one 64-bit integer in scalar
  // registers, then converted together (a vector conversion and splat per
  // scale would take more vector work than the dot products).
  auto blockHalves = [&](int64_t from) {
    Type i16 = b.getI16Type(), i64 = b.getI64Type();
    Value bits;
    for (int64_t j = 0; j < 4; ++j) {
      Value h = vector::ExtractOp::create(
          b, loc,
          vector::BitCastOp::create(b, loc, VectorType::get({1}, i16),
                                    quantBytes(t, row, at(j * bb + from), 2)),
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
    Value d = arith::ExtFOp::create(b, loc, VectorType::get({4}, f32), halves);
    SmallVector<int64_t> mask;
    for (int64_t l = 0; l < 16; ++l)
      mask.push_back(l / 4);
    return vector::ShuffleOp::create(b, loc, d, d, mask).getResult();
  };
  switch (quant.getFormat()) {
  case QuantFormat::q8_0: {
    // Flipping the sign bit adds 128.
    Int8Step step;
    for (int64_t from : {2, 18})
      step.bytes.push_back(arith::XOrIOp::create(b, loc, fourBlocks(from),
                                                 intSplat(64, i8, -128)));
    step.scales = blockHalves(0);
    return step;
  }
  case QuantFormat::q4_0: {
    // Low nibbles: the first 16 values; high: the last 16.
    Value x = fourBlocks(2);
    return {{nibblesOf(x, false), nibblesOf(x, true)}, blockHalves(0), {}};
  }
  case QuantFormat::q4_1: {
    // As q4_0, with the blocks' mins m (w = d n + m).
    Value x = fourBlocks(4);
    return {{nibblesOf(x, false), nibblesOf(x, true)},
            blockHalves(0),
            blockHalves(2)};
  }
  case QuantFormat::q5_0:
  case QuantFormat::q5_1: {
    // As q4_0 (q4_1), each value's fifth bit from its block's qh: bits 0
    // to 15 for the first 16 values, 16 to 31 for the last 16.
    bool withMin = quant.getFormat() == QuantFormat::q5_1;
    int64_t qh = withMin ? 4 : 2;
    Value x = fourBlocks(qh + 4);
    SmallVector<Value, 4> first, last;
    for (int64_t j = 0; j < 4; ++j) {
      Value word = quantWord(t, row, at(j * bb + qh));
      first.push_back(word);
      last.push_back(arith::ShRUIOp::create(
          b, loc, word,
          arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(16))));
    }
    Int8Step step;
    step.bytes = {arith::OrIOp::create(b, loc, nibblesOf(x, false),
                                       bitBytes(first, 16, 16)),
                  arith::OrIOp::create(b, loc, nibblesOf(x, true),
                                       bitBytes(last, 16, 16))};
    step.scales = blockHalves(0);
    if (withMin)
      step.negMins = blockHalves(2);
    return step;
  }
  case QuantFormat::mxfp4: {
    // As q4_0, with the e2m1 values (doubled, plus 12: mxfp4Bytes) and
    // e8m0 scales.
    Value x = fourBlocks(1);
    Int8Step step;
    for (bool high : {false, true})
      step.bytes.push_back(mxfp4Bytes(nibblesOf(x, high)));
    SmallVector<Value, 4> scales;
    for (int64_t j = 0; j < 4; ++j)
      scales.push_back(e8m0Half(t, row, at(j * bb)));
    step.scales = laneRuns(scales);
    return step;
  }
  case QuantFormat::u8z:
  case QuantFormat::u4z:
  case QuantFormat::u2z: {
    // The codes are unsigned bytes already (u4z's as q4_0's); the zero
    // points go in as mins, -d z per lane.
    Int8Step step;
    if (quant.getFormat() == QuantFormat::u8z) {
      step.bytes = {fourBlocks(5), fourBlocks(21)};
    } else if (quant.getFormat() == QuantFormat::u4z) {
      Value x = fourBlocks(5);
      step.bytes = {nibblesOf(x, false), nibblesOf(x, true)};
    } else {
      // u2z: block j's 8 bytes give its first 16 values as their bits 0-1
      // then 2-3, its last 16 as bits 4-5 then 6-7.
      Value x = concat(concat(quantBytes(t, row, at(5), 8),
                              quantBytes(t, row, at(bb + 5), 8)),
                       concat(quantBytes(t, row, at(2 * bb + 5), 8),
                              quantBytes(t, row, at(3 * bb + 5), 8)));
      for (int64_t half = 0; half < 2; ++half)
        step.bytes.push_back(
            runsOf(crumbsOf(x, 2 * half), crumbsOf(x, 2 * half + 1), 8));
    }
    std::tie(step.scales, step.negMins) =
        zeroPointLanes(t, row, base, {0, 1, 2, 3});
    return step;
  }
  case QuantFormat::u8z16:
  case QuantFormat::u4z16:
  case QuantFormat::u2z16: {
    // The unit's 4 blocks of 16 in order, 4 lanes each.
    int64_t codeBytes = bb - 5;
    Value x = concat(concat(quantBytes(t, row, at(5), codeBytes),
                            quantBytes(t, row, at(bb + 5), codeBytes)),
                     concat(quantBytes(t, row, at(2 * bb + 5), codeBytes),
                            quantBytes(t, row, at(3 * bb + 5), codeBytes)));
    Int8Step step;
    if (quant.getFormat() == QuantFormat::u8z16) {
      step.bytes = {x};
    } else if (quant.getFormat() == QuantFormat::u4z16) {
      // Block j: the low nibbles of its 8 bytes, then their high ones.
      step.bytes = {runsOf(nibblesOf(x, false), nibblesOf(x, true), 8)};
    } else {
      // Block j: its 4 bytes' bits 0-1, 2-3, 4-5, then 6-7.
      step.bytes = {runsOf(runsOf(crumbsOf(x, 0), crumbsOf(x, 1), 4),
                           runsOf(crumbsOf(x, 2), crumbsOf(x, 3), 4), 8)};
    }
    std::tie(step.scales, step.negMins) =
        zeroPointLanes(t, row, base, {0, 1, 2, 3});
    return step;
  }
  case QuantFormat::iq4_nl: {
    // As q4_0, the codes' non-linear values plus 128 (iq4Bytes).
    Value x = fourBlocks(2);
    return {{iq4Bytes(nibblesOf(x, false)), iq4Bytes(nibblesOf(x, true))},
            blockHalves(0),
            {}};
  }
  case QuantFormat::iq4_xs: {
    // Elements [64 c, 64 c + 64), sub-blocks 2 c and 2 c + 1: each the
    // low nibbles of its 16 bytes, then their high ones, as iq4_nl's
    // values plus 128.
    Value x = quantBytes(t, row, at(8 + 32 * c), 32);
    Value q = iq4Bytes(runsOf(nibblesOf(x, false), nibblesOf(x, true), 16));
    // The 8 sub-block scales d (ls - 32), converted once per block and
    // weight row (cached for the loop trip's steps): ls's low 4 bits are
    // nibble s % 2 of sl[s / 2], its high 2 bits 2 s of sh.
    auto key = std::make_pair(t, row);
    auto it = unitScales.find(key);
    if (it == unitScales.end()) {
      Value sl = quantBytes(t, row, at(4), 4);
      Value low = vector::ShuffleOp::create(
          b, loc, nibblesOf(sl, false), nibblesOf(sl, true),
          ArrayRef<int64_t>{0, 4, 1, 5, 2, 6, 3, 7});
      Value sh = quantBytes(t, row, at(2), 2);
      Value crumbs = concat(concat(crumbsOf(sh, 0), crumbsOf(sh, 1)),
                            concat(crumbsOf(sh, 2), crumbsOf(sh, 3)));
      Value high = vector::ShuffleOp::create(
          b, loc, crumbs, crumbs, ArrayRef<int64_t>{0, 2, 4, 6, 1, 3, 5, 7});
      Value ls = arith::SubIOp::create(
          b, loc,
          arith::OrIOp::create(
              b, loc, low,
              arith::ShLIOp::create(b, loc, high, intSplat(8, i8, 4))),
          intSplat(8, i8, 32));
      auto f32x8 = VectorType::get({8}, f32);
      Value scales = arith::MulFOp::create(
          b, loc, arith::SIToFPOp::create(b, loc, f32x8, ls),
          vector::BroadcastOp::create(b, loc, f32x8, quantHalf(t, row, base)));
      it = unitScales.try_emplace(key, scales, Value()).first;
    }
    Value scales = it->second.first;
    SmallVector<int64_t> mask;
    for (int64_t l = 0; l < 16; ++l)
      mask.push_back(2 * c + l / 8);
    return {{q}, vector::ShuffleOp::create(b, loc, scales, scales, mask), {}};
  }
  case QuantFormat::iq2_xxs:
  case QuantFormat::iq2_xs:
  case QuantFormat::iq2_s:
  case QuantFormat::iq3_xxs:
  case QuantFormat::iq3_s: {
    // Elements [64 c, 64 c + 64): groups 8 c to 8 c + 7, each its codebook
    // entry's 8 bytes (iq3's two entries of 4) with its signs applied,
    // plus 64 (the values are at most 62); 2 lanes per group, each its
    // group's scale.
    // The entries as the table holds them (iq3's 16 i32s of 4 values),
    // except iq3_s's, whose codes come from a vector: joined into 8 i64s
    // (measured faster for it, slower for iq3_xxs: docs/performance.md).
    SmallVector<Value, 16> codes = iqStepCodes(t, row, base, c);
    bool join = quant.getFormat() == QuantFormat::iq3_s;
    SmallVector<Value, 16> words;
    for (size_t i = 0; i < codes.size(); i += join ? 2 : 1)
      words.push_back(join ? iqCodebookWord({codes[i], codes[i + 1]})
                           : iqCodebookEntry(codes[i]));
    Value entries = vector::BitCastOp::create(
        b, loc, VectorType::get({64}, i8),
        vector::FromElementsOp::create(
            b, loc,
            VectorType::get({static_cast<int64_t>(words.size())},
                            words[0].getType()),
            words));
    Value negative =
        vector::BitCastOp::create(b, loc, VectorType::get({64}, b.getI1Type()),
                                  iqStepSigns(t, row, base, c));
    Value offset = intSplat(64, i8, 64);
    Value q = arith::SelectOp::create(
        b, loc, negative, arith::SubIOp::create(b, loc, offset, entries),
        arith::AddIOp::create(b, loc, offset, entries));
    return {{q}, iqStepScales(t, row, base, c), {}};
  }
  case QuantFormat::fp8_e4m3:
  case QuantFormat::iq1_s:
  case QuantFormat::iq1_m:
    llvm_unreachable("no int8 dot products (hasInt8Steps)");
  case QuantFormat::u8z128:
  case QuantFormat::u4z128:
  case QuantFormat::u2z128: {
    // Elements [64 c, 64 c + 64) of the block in order (u4z128's as
    // q4_k's: the low nibbles of 32 bytes, then their high ones; u2z128's
    // the 4 2-bit values of 16 bytes, low bits first), one scale and one
    // min, -d z, for all lanes.
    Value q;
    if (quant.getFormat() == QuantFormat::u8z128) {
      q = quantBytes(t, row, at(5 + 64 * c), 64);
    } else if (quant.getFormat() == QuantFormat::u4z128) {
      Value x = quantBytes(t, row, at(5 + 32 * c), 32);
      q = concat(nibblesOf(x, false), nibblesOf(x, true));
    } else {
      Value x = quantBytes(t, row, at(5 + 16 * c), 16);
      q = concat(concat(crumbsOf(x, 0), crumbsOf(x, 1)),
                 concat(crumbsOf(x, 2), crumbsOf(x, 3)));
    }
    auto [d, negMin] = zeroPointScale(t, row, base);
    auto f32x16 = VectorType::get({16}, f32);
    return {{q},
            vector::BroadcastOp::create(b, loc, f32x16, d),
            vector::BroadcastOp::create(b, loc, f32x16, negMin)};
  }
  case QuantFormat::q4_k:
  case QuantFormat::q5_k: {
    bool five = quant.getFormat() == QuantFormat::q5_k;
    Value x = quantBytes(t, row, at((five ? 48 : 16) + 32 * c), 32);
    Value q = concat(nibblesOf(x, false), nibblesOf(x, true));
    if (five) {
      // Sub-blocks 2c and 2c + 1's fifth bits: bits 2c and 2c + 1 of qh.
      Value qh = quantBytes(t, row, at(16), 32);
      q = arith::OrIOp::create(
          b, loc, q,
          concat(bitPlane(qh, 2 * c, 4), bitPlane(qh, 2 * c + 1, 4)));
    }
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
      it = unitScales
               .try_emplace(key, arith::MulFOp::create(b, loc, sc, d), Value())
               .first;
    }
    Value scales = it->second.first;
    SmallVector<int64_t> mask;
    for (int64_t l = 0; l < 16; ++l)
      mask.push_back(4 * c + l / 4);
    return {{q}, vector::ShuffleOp::create(b, loc, scales, scales, mask), {}};
  }
  case QuantFormat::q2_k:
  case QuantFormat::q3_k: {
    // Elements [64 c, 64 c + 64): bits 4 (c % 2) to 4 (c % 2) + 3 of the
    // 32 bytes of qs from 32 (c / 2), 2 bits at a time (docs/MoEDialect.md);
    // q3_k's third bits, bits 2 c and 2 c + 1 of hm, over the offset 4.
    bool three = quant.getFormat() == QuantFormat::q3_k;
    Value x = quantBytes(t, row, at((three ? 32 : 16) + 32 * (c / 2)), 32);
    Value q = concat(crumbsOf(x, 2 * (c % 2)), crumbsOf(x, 2 * (c % 2) + 1));
    if (three) {
      Value hm = quantBytes(t, row, at(0), 32);
      q = arith::OrIOp::create(
          b, loc, q,
          concat(bitPlane(hm, 2 * c, 2), bitPlane(hm, 2 * c + 1, 2)));
    }
    // The 16 sub-block scales (q2_k's mins negated too) times d (dmin),
    // converted once per block and weight row (cached for the loop
    // trip's steps); this step's 4 (of 16 elements, 4 lanes each).
    auto key = std::make_pair(t, row);
    auto it = unitScales.find(key);
    if (it == unitScales.end()) {
      auto f32x16 = VectorType::get({16}, f32);
      auto times = [&](Value v, bool isSigned, int64_t half) -> Value {
        Value f = isSigned
                      ? arith::SIToFPOp::create(b, loc, f32x16, v).getResult()
                      : arith::UIToFPOp::create(b, loc, f32x16, v).getResult();
        return arith::MulFOp::create(
            b, loc, f,
            vector::BroadcastOp::create(b, loc, f32x16,
                                        quantHalf(t, row, at(half))));
      };
      if (three) {
        // Scale t: the nibble t / 8 of s[t % 8], or'ed with bits 2 (t / 4)
        // and on of s[8 + t % 4] as its bits 4 and 5; less 32.
        Value s = quantBytes(t, row, at(96), 12);
        Value lo = vector::ShuffleOp::create(
            b, loc, s, s, ArrayRef<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
        Value hi = vector::ShuffleOp::create(b, loc, s, s,
                                             ArrayRef<int64_t>{8, 9, 10, 11});
        Value high = concat(concat(crumbsOf(hi, 0), crumbsOf(hi, 1)),
                            concat(crumbsOf(hi, 2), crumbsOf(hi, 3)));
        Value sc = arith::OrIOp::create(
            b, loc, concat(nibblesOf(lo, false), nibblesOf(lo, true)),
            arith::ShLIOp::create(b, loc, high, intSplat(16, i8, 4)));
        sc = arith::SubIOp::create(b, loc, sc, intSplat(16, i8, 32));
        it = unitScales.try_emplace(key, times(sc, true, 108), Value()).first;
      } else {
        // Scale t the low nibble of s[t], its min the high one.
        Value s = quantBytes(t, row, at(0), 16);
        it = unitScales
                 .try_emplace(key, times(nibblesOf(s, false), false, 80),
                              arith::NegFOp::create(
                                  b, loc, times(nibblesOf(s, true), false, 82)))
                 .first;
      }
    }
    SmallVector<int64_t> mask;
    for (int64_t l = 0; l < 16; ++l)
      mask.push_back(4 * c + l / 4);
    auto [scales, negMins] = it->second;
    Int8Step step{
        {q}, vector::ShuffleOp::create(b, loc, scales, scales, mask), {}};
    if (!three)
      step.negMins = vector::ShuffleOp::create(b, loc, negMins, negMins, mask);
    return step;
  }
  }
  llvm_unreachable("unknown quantized format");
}

QuantizedWeightReader::Int8Step
QuantizedWeightReader::int8TailStep(Value t, Value row, Value base) {
  Type i8 = b.getI8Type();
  int64_t bb = quant.getBlockBytes();
  auto at = [&](int64_t offset) -> Value {
    return arith::AddIOp::create(b, loc, base, index(offset));
  };
  // 16 bytes of each of the 2 blocks from byte `from` of each.
  auto twoBlocks = [&](int64_t from) {
    return concat(quantBytes(t, row, at(from), 16),
                  quantBytes(t, row, at(bb + from), 16));
  };
  Int8Step step;
  Value s0, s1;
  switch (quant.getFormat()) {
  case QuantFormat::q8_0:
    // Flipping the sign bit adds 128.
    step.bytes.push_back(arith::XOrIOp::create(
        b, loc, concat(twoBlocks(2), twoBlocks(18)), intSplat(64, i8, -128)));
    s0 = quantHalf(t, row, base);
    s1 = quantHalf(t, row, at(bb));
    break;
  case QuantFormat::q4_0: {
    Value x = twoBlocks(2);
    step.bytes.push_back(concat(nibblesOf(x, false), nibblesOf(x, true)));
    s0 = quantHalf(t, row, base);
    s1 = quantHalf(t, row, at(bb));
    break;
  }
  case QuantFormat::q4_1: {
    Value x = twoBlocks(4);
    step.bytes.push_back(concat(nibblesOf(x, false), nibblesOf(x, true)));
    s0 = quantHalf(t, row, base);
    s1 = quantHalf(t, row, at(bb));
    Value m0 = quantHalf(t, row, at(2)), m1 = quantHalf(t, row, at(bb + 2));
    step.negMins = laneRuns({m0, m1, m0, m1});
    break;
  }
  case QuantFormat::q5_0:
  case QuantFormat::q5_1: {
    bool withMin = quant.getFormat() == QuantFormat::q5_1;
    int64_t qh = withMin ? 4 : 2;
    Value x = twoBlocks(qh + 4);
    Value w0 = quantWord(t, row, at(qh)), w1 = quantWord(t, row, at(bb + qh));
    Value sixteen = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(16));
    Value high = bitBytes({w0, w1, arith::ShRUIOp::create(b, loc, w0, sixteen),
                           arith::ShRUIOp::create(b, loc, w1, sixteen)},
                          16, 16);
    step.bytes.push_back(arith::OrIOp::create(
        b, loc, concat(nibblesOf(x, false), nibblesOf(x, true)), high));
    s0 = quantHalf(t, row, base);
    s1 = quantHalf(t, row, at(bb));
    if (withMin) {
      Value m0 = quantHalf(t, row, at(2)), m1 = quantHalf(t, row, at(bb + 2));
      step.negMins = laneRuns({m0, m1, m0, m1});
    }
    break;
  }
  case QuantFormat::iq4_nl: {
    Value x = twoBlocks(2);
    step.bytes.push_back(
        iq4Bytes(concat(nibblesOf(x, false), nibblesOf(x, true))));
    s0 = quantHalf(t, row, base);
    s1 = quantHalf(t, row, at(bb));
    break;
  }
  case QuantFormat::mxfp4: {
    Value x = twoBlocks(1);
    step.bytes.push_back(
        mxfp4Bytes(concat(nibblesOf(x, false), nibblesOf(x, true))));
    s0 = e8m0Half(t, row, base);
    s1 = e8m0Half(t, row, at(bb));
    break;
  }
  case QuantFormat::u8z:
  case QuantFormat::u4z:
  case QuantFormat::u2z: {
    if (quant.getFormat() == QuantFormat::u8z) {
      step.bytes.push_back(concat(twoBlocks(5), twoBlocks(21)));
    } else if (quant.getFormat() == QuantFormat::u4z) {
      Value x = twoBlocks(5);
      step.bytes.push_back(concat(nibblesOf(x, false), nibblesOf(x, true)));
    } else {
      Value x = concat(quantBytes(t, row, at(5), 8),
                       quantBytes(t, row, at(bb + 5), 8));
      step.bytes.push_back(concat(runsOf(crumbsOf(x, 0), crumbsOf(x, 1), 8),
                                  runsOf(crumbsOf(x, 2), crumbsOf(x, 3), 8)));
    }
    std::tie(step.scales, step.negMins) =
        zeroPointLanes(t, row, base, {0, 1, 0, 1});
    return step;
  }
  default:
    llvm_unreachable("the K-quants have no tail");
  }
  step.scales = laneRuns({s0, s1, s0, s1});
  return step;
}

/// What int8Step adds to each stored value to make it unsigned.
int64_t QuantizedWeightReader::int8Offset() const {
  switch (quant.getFormat()) {
  case QuantFormat::q8_0:
    return 128;
  case QuantFormat::q4_0:
    return 8;
  case QuantFormat::q5_0:
    return 16;
  case QuantFormat::q4_1:
  case QuantFormat::q5_1:
  case QuantFormat::q4_k:
  case QuantFormat::q5_k:
    return 0;
  case QuantFormat::q6_k:
    return 32;
  case QuantFormat::q2_k:
    return 0;
  case QuantFormat::q3_k:
    return 4;
  case QuantFormat::iq4_nl:
  case QuantFormat::iq4_xs:
    return 128; // the non-linear values are -127 to 113
  case QuantFormat::mxfp4:
    return 12; // the doubled e2m1 values are -12 to 12
  case QuantFormat::u8z:
  case QuantFormat::u4z:
  case QuantFormat::u8z128:
  case QuantFormat::u4z128:
  case QuantFormat::u2z:
  case QuantFormat::u2z128:
  case QuantFormat::u8z16:
  case QuantFormat::u4z16:
  case QuantFormat::u2z16:
    return 0; // unsigned codes; the zero points are mins
  case QuantFormat::iq2_xxs:
  case QuantFormat::iq2_xs:
  case QuantFormat::iq2_s:
  case QuantFormat::iq3_xxs:
  case QuantFormat::iq3_s:
    return 64; // codebook values of at most 62, signed
  case QuantFormat::fp8_e4m3:
  case QuantFormat::iq1_s:
  case QuantFormat::iq1_m:
    break;
  }
  llvm_unreachable("unknown quantized format");
}
