//===- PanelKernel.h - the GEMM kernel on packed weight panels --*- C++ -*-===//
//
// The grouped GEMM on weights packed at load time (moe-pack-weights): a
// weight [N, K] is stored as panels [ceil(N / NB), K, NB], so the NB
// output columns of one k are contiguous. A block of `rowBlock` input rows
// times NB columns keeps rowBlock x NB / lanes vector accumulators in
// registers; each k step loads NB / lanes weight vectors and broadcasts
// one input element per row (an outer product), so no lane sums are
// needed and each panel streams through memory in order. k is cut into
// chunks of the kernel's depth, whose accumulators go through the output
// between chunks, and while a chunk is multiplied the next chunk in memory is
// prefetched (with slices, an item with no full block of rows leaves the
// slices to the hardware prefetcher and prefetches only the next item).
//
// With S slices, N is stored as S slices of N / S columns one after
// another, each in panels of one vector (NB / S columns), and a block reads
// its S weight vectors from panel p of each slice: S long sequential
// streams a quarter of the weight apart (with S = 4), which keep more of
// the memory system busy than one when a block of a few rows cannot keep
// up with a single stream (docs/Rationale.md).
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_CODEGEN_CPU_PANELKERNEL_H
#define MOEC_CODEGEN_CPU_PANELKERNEL_H

#include "codegen/cpu/CpuTarget.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"

namespace mlir::moe {

class GroupedMatmulOp;

/// The register blocking over packed panels, from a `moe.kernel`
/// (moe-cpu-select-kernels, docs/Targets.md).
struct PanelKernel {
  int64_t lanes = 16;                   // f32 lanes of one vector register
  int64_t registers = 32;               // vector registers
  int64_t rowBlock = 6;                 // input rows per block
  int64_t depth = 512;                  // k per chunk
  int64_t weightTileBytes = 512 * 1024; // weights per work item
  int64_t maxPanelWidth = 64; // columns a block holds accumulators for
};
PanelKernel panelKernelFor(const CpuKernelConfig &config);

/// The panels a weight [E, N, K] or [N, K] is read back from
/// (moe-pack-weights): the linalg.unpack it is, or with slices S > 1 the
/// one into [.., S, N / S, K] that a tensor.collapse_shape makes it. A
/// null unpack when the weight is neither.
struct PackedPanels {
  linalg::UnPackOp unpack;
  int64_t slices = 1;
};
PackedPanels packedPanelsOf(Value weight);

/// Whether the panel kernel runs a grouped GEMM of this form, given packed
/// weights (moe-pack-weights packs those, convert-moe-to-linalg lowers
/// them): a plain one with an f32 result, or one with its activation in
/// the epilogue (moe-fuse-gate-up), a gated one with its gate and up given
/// as two weights, an elementwise one without up, of any float result. Not
/// a gate and up weight in one tensor (gate_up_layout).
bool runsOnPanels(GroupedMatmulOp op);

/// Whether `kernel` reads `slices` slices of panels `tile` columns wide as
/// one panel: a vector of at most its lanes from each, together at most
/// its widest panel.
bool readsSlices(const PanelKernel &kernel, int64_t tile, int64_t slices);

/// dest[m, j] = Σ_k a[r(m), k] · W[k, c] + bias[c], r(m) = rowBase + m
/// (rows[rowBase + m] with `rows`, i32 indices into a), for column
/// c = firstPanel · NB + j of the panels [P, K, NB] (W[k, c] is
/// panels[c / NB, k, c % NB]), over panels [firstPanel, firstPanel +
/// numPanels); dest is [numRows, columns] with columns at most numPanels ·
/// NB (the last panel's padding is not written). Sums are f32; dest is f32.
/// With `prefetch` (a rank-1 memref of all the packed weights, of which
/// `panels` starts at element `prefetchBase`), the chunk after each one in
/// memory is prefetched while it is multiplied; with slices, an item of
/// fewer than rowBlock rows prefetches only itemNext.
struct PanelOperands {
  Value a;
  Value rows; // optional
  Value rowBase;
  Value numRows;
  Value panels;
  Value firstPanel;
  Value numPanels;
  Value bias; // optional, rank 1 over all columns
  Value prefetch;
  Value prefetchBase;
  /// Optional, with `prefetch`: the flat element offset of the chunk to
  /// prefetch while the last chunk of the last panel is multiplied (the
  /// next item's first), instead of the chunk after it in memory.
  Value itemNext;
  /// Optional, with itemNext: the buffer itemNext is an offset in, of the
  /// type of `prefetch` (another weight of the same shape; the fused gate
  /// and up projections jump from one to the other), else `prefetch`.
  Value itemNextBuffer;
  /// Pairs of k (AVX512_BF16 dot products): `panels` is [P, K / 2, 2 NB]
  /// bf16 with panels[p, q, 2 j + r] = W[k = 2 q + r, c = p NB + j], and
  /// `a` is bf16.
  bool pairs = false;
  /// Slices S > 1: `panels` is [S, P, K, NB / S] (with pairs [S, P, K / 2,
  /// 2 NB / S]): N in S slices of P panels of one vector's columns each,
  /// and panel p's vector s is panels[s, p], so the weights stream from S
  /// places at once. Its columns are c = s · N / S + p · NB / S + j, and
  /// dest is [numRows, S, columns / S] with dest[m, s, j'] the column
  /// s · N / S + firstPanel · NB / S + j'. `sliceStride` is the distance
  /// between the slices in `prefetch`, and prefetchBase the first slice's
  /// offset.
  int64_t slices = 1;
  int64_t sliceStride = 0;
};
Value emitPanelContraction(OpBuilder &b, Location loc,
                           const PanelOperands &operands, Value dest,
                           const PanelKernel &kernel);

} // namespace mlir::moe

#endif // MOEC_CODEGEN_CPU_PANELKERNEL_H
