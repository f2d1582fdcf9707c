//===- Passes.h - moe dialect transformations -------------------*- C++ -*-===//
#ifndef MOEC_PASSES_PASSES_H
#define MOEC_PASSES_PASSES_H

#include "dialect/MoEDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Shard/IR/ShardDialect.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
namespace moe {

/// The strategies of moe-plan-expert-parallelism.
enum class EpStrategy { Auto, Hierarchical, Global, Contiguous };

/// The discardable attribute of the count exchange (shard.all_to_all) that
/// moe-distribute-experts creates for a layer: a fingerprint (i64) of the
/// layer's expert placement, on which the ranks must agree.
constexpr StringLiteral kPlacementFingerprintAttr = "moe.placement_fingerprint";

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

/// Rewrites moe.layer into route, dispatch, gather, grouped_matmul,
/// activation and combine (see moe-decompose).
void populateMoEDecomposePatterns(RewritePatternSet &patterns);

/// Rewrites each moe.layer with a moe.expert_placement into the program of
/// one rank of its grid (see moe-distribute-experts).
void populateMoEDistributeExpertsPatterns(RewritePatternSet &patterns);

/// Folds each moe.activation into the f32 grouped_matmul(s) feeding it:
/// gate and up become one GEMM with the activation in its epilogue (see
/// moe-fuse-gate-up).
void populateMoEFuseGateUpPatterns(RewritePatternSet &patterns);

/// Reads a grouped_matmul's rows through a moe.gather's indices instead of
/// its copy (see moe-fuse-dispatch).
void populateMoEFuseDispatchPatterns(RewritePatternSet &patterns);

/// Folds the experts' down projection into moe.combine: routing weight and
/// scatter-add in the GEMM's epilogue (see moe-fuse-combine).
void populateMoEFuseCombinePatterns(RewritePatternSet &patterns);

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

} // namespace moe
} // namespace mlir

#endif // MOEC_PASSES_PASSES_H
