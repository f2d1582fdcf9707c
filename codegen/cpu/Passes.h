//===- Passes.h - CPU code generation ---------------------------*- C++ -*-===//
#ifndef MOEC_CODEGEN_CPU_PASSES_H
#define MOEC_CODEGEN_CPU_PASSES_H

#include "codegen/linalg/Passes.h"

#include "mlir/Dialect/DLTI/DLTI.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
namespace moe {

#define GEN_PASS_DECL
#include "codegen/cpu/Passes.h.inc"

/// The CPU kernels of convert-moe-to-cpu-kernels, for the ops whose CPU
/// `moe.kernel` sizes them: grouped GEMMs, and combines with a fused down
/// projection.
void populateGroupedMatmulToCpuKernelsPatterns(RewritePatternSet &patterns);
void populateCombineToCpuKernelsPatterns(RewritePatternSet &patterns);

/// The polynomial approximations of moe-cpu-approximate-math: math.exp,
/// math.tanh and math.erf (f16 and bf16 computed in f32).
void populateCpuMathApproximationPatterns(RewritePatternSet &patterns);

/// The module attribute in which moe-lower-routing-records lists each
/// function's routing records: {function = [{experts = E, k = k}, ...]}.
constexpr StringLiteral kRoutingSitesAttr = "moe.routing_sites";

/// The module attribute in which moe-lower-collectives lists the functions
/// that run on a group of ranks: {function = devices}.
constexpr StringLiteral kExpertParallelAttr = "moe.expert_parallel";

/// The attribute with which moe-outline-parallel-loops lists, on a loop
/// body, the LLVM argument positions of the aligned pointers of buffers
/// that alias no other buffer it takes; moe-lower-parallel-launches makes
/// them llvm.noalias.
constexpr StringLiteral kNoAliasPointersAttr = "moe.noalias_pointers";

/// The attribute with which moe-outline-parallel-loops gives, on a loop
/// body, the fewest iterations worth the thread pool (too little work per
/// thread below them); moe-lower-parallel-launches runs a launch of fewer
/// on the calling thread.
constexpr StringLiteral kMinParallelIterationsAttr =
    "moe.min_parallel_iterations";

#define GEN_PASS_REGISTRATION
#include "codegen/cpu/Passes.h.inc"

} // namespace moe
} // namespace mlir

#endif // MOEC_CODEGEN_CPU_PASSES_H
