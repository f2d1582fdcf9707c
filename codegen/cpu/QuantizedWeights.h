//===- QuantizedWeights.h - block-quantized weights in the CPU kernels ----===//
//
// The int8 rows of int8 dot products, and the reads of a block-quantized
// weight's bytes (docs/MoEDialect.md defines the formats) in the
// dot-product kernel's vector code: decoded to f32 lanes, or as unsigned
// bytes with their lanes' scales for vpdpbusd.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_CODEGEN_CPU_QUANTIZEDWEIGHTS_H
#define MOEC_CODEGEN_CPU_QUANTIZEDWEIGHTS_H

#include "dialect/MoEDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir::moe {

/// Whether int8 rows for `quant` are laid out in halves: q8_0, q4_0,
/// mxfp4, u8z, u4z and u2z, whose 32-element blocks hold their values as
/// two runs of 16 (q4_0's, mxfp4's and u4z's low and high nibbles, u2z's
/// low and high 4 bits), each 128
/// elements (4 blocks j) stored as the blocks' first 16 values, then their last
/// 16, so one 64-byte vector of each half puts block j in lanes [4 j, 4 j + 4)
/// of the dot products; a last 2 blocks (k not a multiple of 128) as their
/// first 16 values, then their last 16, one vector. Otherwise (blocks of 16,
/// 128 or 256) the values are in order, 64 per vector.
bool int8RowsInHalves(QuantizedType quant);

/// Whether the int8 dot-product kernel reads `format` (int8Step); FP8
/// and iq1_s and iq1_m keep the f32 kernel.
bool hasInt8Steps(QuantFormat format);

/// Whether int8 dot products with `quant` add a min per lane times the
/// row's scaled sums (q2_k's and q4_k's mins, q4_1's and q5_1's; the zero
/// points of u8z, u4z, u2z and their blocks of 128 and 16 times their scales).
bool int8HasMins(QuantizedType quant);

/// Rows quantized to int8 for int8 dot products, each row in blocks of 32
/// with one scale: the block's largest magnitude maps to 127, values round
/// to nearest even. Per i32 lane of the dot products (4 consecutive stored
/// values, or 4 in each half) the row also carries its block's scale and
/// the lane's values summed (for the weights' offsets and mins).
struct Int8Rows {
  Value values; // [count, k] i8
  Value scales; // [count, k / 4 (or k / 8 in halves)] f32
  Value sums;   // [count, k / 4 (or k / 8 in halves)] i32
};
/// Rows [lo, lo + count) of `input` (through `rows` when given) as
/// Int8Rows, in halves or in order (int8RowsInHalves of the weight's
/// format; always in halves for weights in int8 panels), row m at m: fresh
/// tensors, or written into `into`'s (of those shapes) when given.
Int8Rows int8Rows(OpBuilder &b, Location loc, Value input, Value rows, Value lo,
                  Value count, int64_t k, bool halves,
                  const Int8Rows *into = nullptr);

/// All `m` rows of `input` (through `rows` when given) as Int8Rows, in
/// chunks of about 8192 values that run in parallel (an scf.forall): the rows
/// every work item of a GEMM reads, quantized once for all its weight tiles.
Int8Rows allInt8Rows(OpBuilder &b, Location loc, Value input, Value rows,
                     Value m, int64_t k, bool halves);

/// One x86 instruction `text` (AT&T operand order, `constraints` as LLVM's
/// inline assembly spells them) of result type `result`: inline assembly
/// without side effects, since llvm.call_intrinsic has unknown memory
/// effects, which buffer deallocation refuses.
Value x86Instruction(OpBuilder &b, Location loc, Type result, StringRef text,
                     StringRef constraints, ValueRange operands);

/// acc plus, per i32 lane, the 4 products of the unsigned bytes `u` and
/// the signed bytes `s` at the lane summed (AVX512_VNNI vpdpbusd; 512-bit
/// vectors of any element type).
Value vpdpbusd(OpBuilder &b, Location loc, Value acc, Value u, Value s);

/// A read-only memref of the weight rows `t` ([rows, row bytes], or int8
/// panels [panels, blocks, bytes]; possibly a group's slice, at a dynamic
/// offset), for prefetching them.
Value weightRowsBuffer(OpBuilder &b, Location loc, Value t);

/// Reads the weight rows of a block-quantized weight given as its bytes
/// `t` ([rows, row bytes] of i8, KernelWeight), a block (or a unit of
/// int8 steps) at byte `base` of row `row`.
class QuantizedWeightReader {
public:
  QuantizedWeightReader(OpBuilder &b, Location loc, QuantizedType quant,
                        int64_t lanes)
      : b(b), loc(loc), quant(quant), lanes(lanes), f32(b.getF32Type()) {}

  /// Elements [e0, e0 + lanes) of the block at `base`, as f32.
  Value quantizedChunk(Value t, Value row, Value base, int64_t e0);

  /// The weight side of one int8 dot-product step.
  struct Int8Step {
    SmallVector<Value, 2> bytes;
    Value scales;
    Value negMins;
  };
  Int8Step int8Step(Value t, Value row, Value base, int64_t c);
  /// The weight side of the tail of k in halves (int8RowsInHalves): the 2
  /// blocks at byte `base` of row `row` as one vector of 64 unsigned
  /// bytes, the blocks' first 16 values then their last 16, with the
  /// lanes' scales (blocks 0, 1, 0, 1, 4 lanes each) and for u8z, u4z and
  /// u2z their mins negated (q4_1's and q5_1's mins as they are).
  Int8Step int8TailStep(Value t, Value row, Value base);

  /// What int8Step adds to each stored value to make it unsigned.
  int64_t int8Offset() const;

  /// Starts a unit of int8 steps (a loop trip): sub-block scales converted
  /// for the previous unit are not reused.
  void beginUnit() { unitScales.clear(); }

  /// A constant vector of `n` copies of the integer `v` of type `elt`.
  Value intSplat(int64_t n, Type elt, int64_t v);

  /// The 64 e2m1 codes `n` (i8, one per byte) as their values doubled plus
  /// 12, unsigned bytes for vpdpbusd (vpshufb on a table).
  Value mxfp4Bytes(Value n);

  /// The 64 iq4_nl (and iq4_xs) codes `n` (i8, one per byte, each below
  /// 16) as their non-linear values plus 128, unsigned bytes for vpdpbusd
  /// (vpshufb on a table).
  Value iq4Bytes(Value n);

  /// Half the e8m0 scales `e` (i32, or a vector of i32, each 0 to 255),
  /// 2^(e - 128), as f32: the scales of doubled e2m1 values.
  Value e8m0HalfOf(Value e);

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value quantBytes(Value t, Value row, Value at, int64_t count);
  Value quantByte(Value t, Value row, Value at);
  Value quantBits(Value t, Value row, Value at, int64_t shift, int64_t mask);
  Value sixBitScale(Value d, Value sc);
  Value i32Const(int64_t v) {
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
  }
  Value quantHalf(Value t, Value row, Value at);
  Value quantFloat(Value t, Value row, Value at);
  Value quantWord(Value t, Value row, Value at);
  Value bitBytes(ArrayRef<Value> runs, int64_t bits, int64_t value);
  std::pair<Value, Value> zeroPointScale(Value t, Value row, Value base);
  std::pair<Value, Value> zeroPointLanes(Value t, Value row, Value base,
                                         ArrayRef<int64_t> blocks);
  Value splat8(int64_t v);
  std::pair<Value, Value> q4kScaleMin(Value t, Value row, Value base,
                                      int64_t sub);
  std::pair<Value, Value> q4kBlockScales(Value t, Value row, Value base);
  Value concat(Value x, Value y);
  Value laneRuns(ArrayRef<Value> scalars);
  Value nibblesOf(Value raw, bool high);
  Value crumbsOf(Value raw, int64_t i);
  Value bitPlane(Value raw, int64_t bit, int64_t to);
  Value runsOf(Value first, Value second, int64_t run);
  Value mxfp4Doubled(Value n);
  Value tableBytes(Value n, ArrayRef<int64_t> table);
  Value iq4Floats(Value n);
  Value e8m0Half(Value t, Value row, Value base);
  /// An i-quant group's parts (iqGroupCodes): its codebook codes (i32,
  /// iq3's two), its sign byte (i32; none for iq1), its f32 scale, and
  /// for iq1 whether its 1/8 is negated (i1).
  struct IqGroupCodes {
    SmallVector<Value, 2> codes;
    Value signs, scale, negDelta;
  };
  IqGroupCodes iqGroupCodes(Value t, Value row, Value base, int64_t g);
  Value iqCodebookEntry(Value code);
  Value iqCodebookWord(ArrayRef<Value> codes);
  Value iqStepSigns(Value t, Value row, Value base, int64_t c);
  Value iqStepScales(Value t, Value row, Value base, int64_t c);
  SmallVector<Value, 16> iqStepCodes(Value t, Value row, Value base, int64_t c);
  Value iqGroup(Value t, Value row, Value base, int64_t g);
  Value quantShort(Value t, Value row, Value at);

  OpBuilder &b;
  Location loc;
  QuantizedType quant;
  int64_t lanes;
  Type f32;
  /// The sub-block scales (and for q4_k the mins negated) of (weight,
  /// row) in the int8 loop's current trip (q4kBlockScales, q6_k's).
  llvm::DenseMap<std::pair<Value, Value>, std::pair<Value, Value>> unitScales;
};

} // namespace mlir::moe

#endif // MOEC_CODEGEN_CPU_QUANTIZEDWEIGHTS_H
