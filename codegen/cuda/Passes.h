//===- Passes.h - NVIDIA GPU code generation --------------------*- C++ -*-===//
#ifndef MOEC_CODEGEN_CUDA_PASSES_H
#define MOEC_CODEGEN_CUDA_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/DLTI/DLTI.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Pass/Pass.h"

#include "codegen/cuda/CudaTarget.h"

namespace mlir {
class RewritePatternSet;
namespace moe {
class CombineOp;
class GroupedMatmulOp;

#define GEN_PASS_DECL
#include "codegen/cuda/Passes.h.inc"

/// The launch shape every pattern of convert-moe-to-gpu uses, from the
/// target description (CudaTarget.h).
/// The attribute moe-gpu-pointer-arguments gives each kernel: Triton's
/// type name of each parameter before the two scratch pointers ("*fp32",
/// "i64", ...), as Triton's launchers and cache metadata spell them.
constexpr llvm::StringLiteral kTritonSignatureAttr = "moe.triton_signature";

struct GpuKernelShape {
  /// Threads per program (num_warps * warp size).
  int64_t threadsPerProgram = 128;
  /// Assignments per thread of the dispatch kernels.
  int64_t dispatchChunk = 256;
  /// The tensor-core GEMM's tile; warps 0: every GEMM in its SIMT form.
  int64_t mmaRows = 16, mmaWarps = 0, mmaNTiles = 2;
  /// The staged tensor-core GEMM's tiles; none (stages 0) without tensor
  /// cores.
  StagedGemmRule staged;
};

/// Each op as GPU-mapped loop nests on buffers (the unfused forms).
void populateRouteToGpuPatterns(RewritePatternSet &patterns,
                                const GpuKernelShape &shape);
void populateDispatchToGpuPatterns(RewritePatternSet &patterns,
                                   const GpuKernelShape &shape);
void populateGatherToGpuPatterns(RewritePatternSet &patterns,
                                 const GpuKernelShape &shape);
void populateGroupedMatmulToGpuPatterns(RewritePatternSet &patterns,
                                        const GpuKernelShape &shape);
/// Whether `op` is a grouped GEMM the direct tensor-core kernel can take:
/// the shape has tensor cores (mmaWarps > 0), no fused form, input and
/// weight both bf16 or both f16, a static K that is a multiple of 16 and
/// a static N that is a multiple of 8. It takes those takesStagedGemm
/// refuses; the SIMT pattern leaves both kinds to them.
bool takesMmaGemm(GroupedMatmulOp op, const GpuKernelShape &shape);
/// Whether `op` is one the staged tensor-core kernel takes: the shape has
/// staged tiles, input and weight (and `up`) of one 16-bit type, static
/// weight rows and a K that is a multiple of the tiles' depth (32); plain
/// or fused (gather, up, activation, gate_up_layout). Fused GEMMs it
/// refuses are unfused before the patterns run.
bool takesStagedGemm(GroupedMatmulOp op, const GpuKernelShape &shape);
void populateGroupedMatmulStagedToGpuPatterns(RewritePatternSet &patterns,
                                              const GpuKernelShape &shape);
void populateGroupedMatmulMmaToGpuPatterns(RewritePatternSet &patterns,
                                           const GpuKernelShape &shape);
void populateActivationToGpuPatterns(RewritePatternSet &patterns,
                                     const GpuKernelShape &shape);
void populateCombineToGpuPatterns(RewritePatternSet &patterns,
                                  const GpuKernelShape &shape);
/// Whether `op` is a moe.combine with its down projection fused whose
/// GEMM the staged tensor-core kernel takes (16-bit rows and down weights,
/// K a multiple of 32) and whose slots come from a moe.dispatch: the fused
/// combine's kernels (CombineDownToGpu.cpp). convert-moe-to-gpu unfuses
/// the others.
bool takesFusedCombine(CombineOp op, const GpuKernelShape &shape);
void populateCombineDownToGpuPatterns(RewritePatternSet &patterns,
                                      const GpuKernelShape &shape);
/// All of the above.
void populateMoEToGpuPatterns(RewritePatternSet &patterns,
                              const GpuKernelShape &shape);

#define GEN_PASS_REGISTRATION
#include "codegen/cuda/Passes.h.inc"

} // namespace moe
} // namespace mlir

#endif // MOEC_CODEGEN_CUDA_PASSES_H
