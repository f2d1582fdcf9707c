//===- ContractionKernel.h - register-blocked contraction on tensors ------===//
//
// The inner kernel of every grouped GEMM on the CPU, emitted as vector
// dialect code on tensors. Weights stay in the nn.Linear layout [N, K], so
// each output is a dot product over k: a block of `rowBlock` input rows and
// `colBlock` weight rows keeps rowBlock x colBlock vector accumulators in
// registers, loading rowBlock + colBlock vectors per rowBlock * colBlock
// FMAs. The lanes are reduced once per output, after the k loop.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_CODEGEN_CPU_CONTRACTIONKERNEL_H
#define MOEC_CODEGEN_CPU_CONTRACTIONKERNEL_H

#include "dialect/MoEDialect.h"

#include "codegen/cpu/CpuTarget.h"
#include "codegen/cpu/QuantizedWeights.h"
#include "mlir/IR/Builders.h"
#include "runtime/abi/Int8PanelLayout.h"

namespace mlir::moe {

/// The register blocking of the kernel.
struct ContractionKernel {
  int64_t lanes = 16;     // f32 lanes of one vector register
  int64_t rowBlock = 6;   // input rows per block
  int64_t colBlock = 4;   // weight rows (output columns) per block
  int64_t registers = 32; // vector registers
  /// With bf16 inputs and weights, accumulate pairs of k with AVX512_BF16
  /// dot products (x86vector.avx512.dot, 32 bf16 per step) instead of
  /// widening both to f32.
  bool bf16Dot = false;
  /// With block-quantized weights, multiply rows quantized to int8
  /// (int8Rows) with AVX512_VNNI dot products (vpdpbusd, 64 bytes per
  /// step) instead of decoding the weights to f32.
  bool int8Dot = false;
  /// With int8Dot: items of at least this many rows run emitInt8Panels
  /// where it applies (runsOnInt8Panels); 0: none.
  int64_t int8PanelRows = 0;
  /// Weight bytes a work item keeps in L2 while its rows stream past.
  int64_t weightTileBytes = 512 * 1024;
  /// Weight bytes the int8 panel kernel prefetches ahead of its reads when
  /// it reads each once (streamAheadBytesFor).
  int64_t streamAheadBytes = 6 * 1024;
};

/// A GEMM weight as the kernel reads it: a float tensor [.., N, K] as it
/// is, or a block-quantized one (!moe.quant) as its bytes [.., N, row
/// bytes] of i8 (the function argument convert-moe-to-cpu-kernels retypes,
/// seen through the cast it leaves) with its format.
struct KernelWeight {
  Value tensor;
  QuantizedType quant;
  /// The argument holds the weight in int8 panels (moe.int8_panels):
  /// `tensor` is then [.., ceil(N / 16), K / R, B] bytes
  /// (runtime/abi/Int8PanelLayout.h).
  bool int8Panels = false;
  /// Bytes of one weight row of `k` elements.
  int64_t rowBytes(int64_t k) const;
};
/// Null stays null; a quantized weight that is not a retyped argument has
/// a null tensor.
KernelWeight kernelWeight(Value weight);

/// Output columns per weight tile (at most the kernel's weightTileBytes of
/// weight rows, which then stay in L2 while the rows stream past): a
/// multiple of the kernel's column block, at most n; `bytesPerElement`
/// counts every weight row a column reads.
int64_t weightTileRows(int64_t n, int64_t k, int64_t bytesPerElement,
                       const ContractionKernel &kernel);

/// Rows [lo, lo + count) of `input` (through `rows` when given) rounded to
/// bf16, as a fresh [count, k] tensor: the rows bf16 dot products read.
Value bf16Rows(OpBuilder &b, Location loc, Value input, Value rows, Value lo,
               Value count, int64_t k);

/// Whether a GEMM of `weight` with rows of `input` rounds the rows to bf16
/// first (bf16 dot products on bf16 weights and wider rows).
bool roundsRowsToBf16(const ContractionKernel &kernel, Value weight,
                      Value input);

/// Whether a GEMM over `k` on a weight of format `quant` multiplies int8
/// rows (int8Rows): int8 dot products on a block-quantized weight (not
/// fp8_e4m3, whose values are not integers) whose k is a multiple of 64
/// (steps of 128 in halves, the last 64 a step of its own; else steps of
/// 64).
bool usesInt8Rows(const ContractionKernel &kernel, QuantizedType quant,
                  int64_t k);

/// Group `g` of a per-group tensor [G, ...] (a weight or bias; the groups
/// along dimension `dim`, e.g. [S, G, ...] for panels in slices) as a
/// rank-reduced slice; null stays null.
Value groupSlice(OpBuilder &b, Location loc, Value full, Value g,
                 int64_t dim = 0);

/// The first row and the row count of group `g`: offsets[g] and
/// offsets[g + 1] - offsets[g], as indices.
std::pair<Value, Value> groupRows(OpBuilder &b, Location loc, Value offsets,
                                  Value g);

/// The blocking of a `moe.kernel` (moe-cpu-select-kernels, whose rule
/// sizes it so the accumulators and operands fit the register file).
ContractionKernel contractionKernelFor(const CpuKernelConfig &config);

/// One contraction into dest [numRows, numCols]: with output column
/// c = colBase + j,
///   dest[m, j] = act(Σ_k A(m)[k] · G(c)[k] + gateBias(c),
///                    Σ_k A(m)[k] · U(c)[k] + upBias(c))
/// accumulated in f32 and converted to dest's element type. A(m) is row
/// `rowBase + m` of `a`, or with `rows` row `rows[rowBase + m]` of `a` (the
/// row gather of a fused dispatch). Without a gated activation only G
/// contributes: G(c) is row c of `w` and `act` is the elementwise
/// activation, or none. With a gated one, G(c) and U(c) are rows c of `w`
/// and `up`, or with `layout` rows 2c and 2c + 1 (interleaved), or c and
/// `outputs` + c (concatenated) of `w`; biases are indexed alike. `w` and
/// `up` are [rows, K] with a static K, biases rank 1 or null.
struct ContractionOperands {
  Value a;
  Value rows; // optional rank-1 integer tensor
  Value rowBase;
  Value numRows;
  Value w;
  Value bias;                // optional
  Value up;                  // optional (gated, separate up weight)
  Value upBias;              // optional
  ActivationAttr activation; // optional
  std::optional<GateUpLayout> layout;
  int64_t outputs = 0; // output columns of the whole weight (concatenated)
  Value colBase;
  Value numCols;
  /// With a block-quantized `w` (and `up`): their format; `w` and `up`
  /// are then their bytes [rows, row bytes] (KernelWeight).
  QuantizedType quant;
  /// With `quant` and int8 dot products: the rows as int8Rows makes them,
  /// read at rowBase + m (instead of `a` and `rows`).
  Int8Rows int8;
  /// With `quant`: `w` is the group's weight in int8 panels [ceil(N / 16),
  /// K / R, B] bytes (KernelWeight::int8Panels), which only
  /// emitInt8Panels reads, and colBase is a multiple of 32.
  bool int8Panels = false;
  /// Optional scatter-add epilogue (a fused combine): output row m goes to
  /// dest row scatterRows[scatterBase + m], scaled by
  /// rowScale[scatterBase + m], and is added to what is there. Not with an
  /// activation.
  Value scatterRows; // rank-1 index tensor
  Value rowScale;    // rank-1 f32 tensor
  Value scatterBase;
};
Value emitContraction(OpBuilder &b, Location loc,
                      const ContractionOperands &operands, Value dest,
                      const ContractionKernel &kernel);

/// An scf.for over [lo, hi) with `step` threading one tensor, `init`
/// first; `body` (at the loop body, given the induction variable and the
/// tensor) returns the next one.
Value loopThreading(OpBuilder &b, Location loc, Value lo, Value hi,
                    int64_t step, Value init,
                    function_ref<Value(Value, Value)> body);

/// begin + ((end - begin) / size) * size: where blocks of `size` from
/// `begin` stop before `end`.
Value blockEnd(OpBuilder &b, Location loc, Value begin, Value end,
               int64_t size);

/// The int8 dot-product kernel on panels (Int8Panels.cpp), 16 output
/// columns (a panel) at a time in groups of `panels`, where one i32 lane
/// holds 4 stored values of one column (the lane order of the int8 rows'
/// halves), so a block of `rows` input rows takes one vpdpbusd per (row,
/// panel) and 4 values of k, its lane summing one block of one column for
/// the block's 8 steps before the sum is converted and scaled (the row
/// kernel converts and scales after every 2 dot products). The panels are
/// the weight's own when it is packed in int8 panels at binding
/// (ContractionOperands::int8Panels); otherwise, for items with many rows,
/// the item's weight rows are repacked into a scratch tile of panels,
/// rebuilt for each group and reused by all the item's rows.
/// With `sums` i32 sums per (row, panel) (q6_k's 2: its blocks of 32 take
/// two scales), the rows are fewer.
struct Int8PanelShape {
  int64_t panels = 2; // panels of 16 columns per group
  int64_t rows = 6;   // input rows per block
};
Int8PanelShape int8PanelShape(const ContractionKernel &kernel,
                              int64_t sums = 1);

/// Whether emitInt8Panels runs `operands`: int8 rows (usesInt8Rows) of a
/// weight in halves (int8RowsInHalves) whose k is a multiple of 128, no
/// activation, up weight or scatter.
bool runsOnInt8Panels(const ContractionOperands &operands,
                      const ContractionKernel &kernel);

/// Whether the int8 panel kernel takes weights of format `quant` with `k`
/// values per row (in halves, k a multiple of 128).
bool int8PanelsTake(QuantizedType quant, int64_t k);

/// The layout of `quant`'s weights packed in int8 panels at binding
/// (runtime/abi/Int8PanelLayout.h), for q8_0, q4_0, q4_1, q5_0, q5_1, mxfp4,
/// u8z, u4z, q4_k, q5_k and q6_k.
std::optional<::moe::abi::Int8PanelLayout> int8PanelLayout(QuantizedType quant);

/// Whether a weight of `type` can be taken in int8 panels: a static
/// tensor of rank 2 or 3 of a format with an int8PanelLayout whose K is a
/// multiple of 128 (the int8 rows' units in halves) and of the layout's
/// record.
bool int8PanelType(Type type);

/// Whether `use` is one the int8 panel kernel reads a weight in int8
/// panels through: the weight of a moe.grouped_matmul without up,
/// activation or gate_up_layout.
bool int8PanelUse(OpOperand &use);

/// The fewest rows for which an item repacks its weights (the cost model
/// of docs/Targets.md): below it the row kernel is cheaper.
int64_t int8PanelMinRows(QuantizedType quant);

/// emitContraction for operands that runsOnInt8Panels accepts.
Value emitInt8Panels(OpBuilder &b, Location loc,
                     const ContractionOperands &operands, Value dest,
                     const ContractionKernel &kernel);

} // namespace mlir::moe

#endif // MOEC_CODEGEN_CPU_CONTRACTIONKERNEL_H
