//===- Passes.h - target-neutral lowering to linalg -------------*- C++ -*-===//
#ifndef MOEC_CODEGEN_LINALG_PASSES_H
#define MOEC_CODEGEN_LINALG_PASSES_H

#include "dialect/MoEDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
namespace moe {

#define GEN_PASS_DECL
#include "codegen/linalg/Passes.h.inc"

/// The discardable attribute by which a target's kernel selection claims an
/// op (moe-cpu-select-kernels): convert-moe-to-linalg leaves such ops to
/// the target's own lowering.
constexpr StringLiteral kKernelAttrName = "moe.kernel";

/// One pattern set per op, each lowering it to linalg/tensor/scf/arith/math
/// on tensors (see convert-moe-to-linalg). The grouped GEMM and combine
/// patterns skip ops that carry a `moe.kernel`.
void populateRouteToLinalgPatterns(RewritePatternSet &patterns);
void populateDispatchToLinalgPatterns(RewritePatternSet &patterns);
void populateExchangePlanToLinalgPatterns(RewritePatternSet &patterns);
void populateGatherToLinalgPatterns(RewritePatternSet &patterns);
void populateGroupedMatmulToLinalgPatterns(RewritePatternSet &patterns);
void populateActivationToLinalgPatterns(RewritePatternSet &patterns);
void populateCombineToLinalgPatterns(RewritePatternSet &patterns);

/// All of the above.
void populateMoEToLinalgPatterns(RewritePatternSet &patterns);

#define GEN_PASS_REGISTRATION
#include "codegen/linalg/Passes.h.inc"

} // namespace moe
} // namespace mlir

#endif // MOEC_CODEGEN_LINALG_PASSES_H
