//===- StagedGemm.h - the staged tensor-core GEMM kernel --------*- C++ -*-===//
//
// The kernel of GroupedMatmulStagedToGpu.cpp, built for the ops that end in
// a grouped GEMM: moe.grouped_matmul (its result stored) and moe.combine
// with its down projection fused (each product scattered into its token's
// row, CombineDownToGpu.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_CODEGEN_CUDA_STAGEDGEMM_H
#define MOEC_CODEGEN_CUDA_STAGEDGEMM_H

#include "codegen/cuda/KernelBuilder.h"
#include "dialect/MoEOps.h"

#include <optional>

namespace mlir::moe {
struct GpuKernelShape;
} // namespace mlir::moe

namespace mlir::moe::gpu_kernels {

/// A staged GEMM: its buffers, sizes and epilogue.
struct StagedGemm : GemmBuffers {
  /// The rows M (the gather indices' count with `rows`).
  Value rowCount;
  int64_t K = 0;
  /// The weight's rows, and the result's columns (half the weight's rows
  /// with gate_up_layout).
  int64_t weightRows = 0, outCols = 0;
  Type elemType, outType;
  ActivationAttr activation;
  std::optional<GateUpLayout> layout;
  /// Gate and up projections (`up` or gate_up_layout): each output column
  /// takes two weight rows.
  bool gated = false;
  /// The epilogue: store into `result` [M, outCols] (of outType), or, with
  /// `scatter.sums`, the fused combine's: product row p (plus its group's
  /// bias) scaled by its routing weight and added with an f32 atomic to
  /// its token's row of `sums` [T, outCols], where `scatter.slotOf` [T·k]
  /// (i32) holds the assignment t·k + j whose slot is p and
  /// `scatter.weights` [T, k] the routing weights. Rows p >= T·k and rows
  /// outside every group add nothing.
  Value result;
  struct Scatter {
    Value sums, slotOf, weights, slotsPerToken, assignments;
  } scatter;
  /// The kernel's name (moe.kernel_name).
  StringRef kernelName = "gemm_mma_staged";
};

/// The sizes and types of the GEMM of `buffers` (16-bit input and weight)
/// with `activation` and `layout` (null and none for a plain GEMM); the
/// epilogue (result or scatter) is the caller's to set.
StagedGemm describeStagedGemm(OpBuilder &b, Location loc,
                              const GemmBuffers &buffers,
                              ActivationAttr activation,
                              std::optional<GateUpLayout> layout, Type outType);

/// Builds the kernel (docs in GroupedMatmulStagedToGpu.cpp) at the builder's
/// insertion point, declaring the staging buffer in `module` on first use.
void buildStagedGemm(OpBuilder &b, Location loc, const GpuKernelShape &shape,
                     ModuleOp module, const StagedGemm &gemm);

/// Whether the staged kernel takes a GEMM of `input` rows by `weight` (and
/// `up`, which may be null): one 16-bit type, static weight rows, K a
/// multiple of both tiles' depth, and the shape has staged tiles.
bool takesStagedOperands(Type input, Type weight, Type up,
                         const GpuKernelShape &shape);

} // namespace mlir::moe::gpu_kernels

#endif // MOEC_CODEGEN_CUDA_STAGEDGEMM_H
