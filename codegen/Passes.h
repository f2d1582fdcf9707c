//===- Passes.h - moe lowerings and code generation -------------*- C++ -*-===//
#ifndef MOEC_CODEGEN_PASSES_H
#define MOEC_CODEGEN_PASSES_H

#include "dialect/MoEDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
namespace moe {

#define GEN_PASS_DECL
#include "codegen/Passes.h.inc"

/// One pattern set per op, each lowering it to linalg/tensor/scf/arith/math
/// on tensors (see convert-moe-to-linalg).
void populateRouteToLinalgPatterns(RewritePatternSet &patterns);
void populateDispatchToLinalgPatterns(RewritePatternSet &patterns);
void populateGatherToLinalgPatterns(RewritePatternSet &patterns);
/// `vectorBits` is the vector register width the GEMM kernel is blocked
/// for (512: AVX-512, 256: AVX2, 128: SSE); `bf16Dot` (with 512) rounds the
/// rows multiplied with bf16 weights to bf16 and uses AVX512_BF16 dot
/// products.
void populateGroupedMatmulToLinalgPatterns(RewritePatternSet &patterns,
                                           int64_t vectorBits = 512,
                                           bool bf16Dot = false);
void populateActivationToLinalgPatterns(RewritePatternSet &patterns);
/// A fused down projection (moe-fuse-combine) runs the GEMM kernel blocked
/// for `vectorBits` (and bf16 dot products with `bf16Dot`).
void populateCombineToLinalgPatterns(RewritePatternSet &patterns,
                                     int64_t vectorBits = 512,
                                     bool bf16Dot = false);

/// All of the above.
void populateMoEToLinalgPatterns(RewritePatternSet &patterns,
                                 int64_t vectorBits = 512,
                                 bool bf16Dot = false);

#define GEN_PASS_REGISTRATION
#include "codegen/Passes.h.inc"

} // namespace moe
} // namespace mlir

#endif // MOEC_CODEGEN_PASSES_H
