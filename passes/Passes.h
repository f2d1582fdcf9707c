//===- Passes.h - moe dialect transformations -------------------*- C++ -*-===//
#ifndef MOEC_PASSES_PASSES_H
#define MOEC_PASSES_PASSES_H

#include "dialect/MoEDialect.h"

#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
namespace moe {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

/// Rewrites moe.layer into route, dispatch, gather, grouped_matmul,
/// activation and combine (see moe-decompose).
void populateMoEDecomposePatterns(RewritePatternSet &patterns);

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

} // namespace moe
} // namespace mlir

#endif // MOEC_PASSES_PASSES_H
