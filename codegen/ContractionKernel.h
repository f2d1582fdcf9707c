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
#ifndef MOEC_CODEGEN_CONTRACTIONKERNEL_H
#define MOEC_CODEGEN_CONTRACTIONKERNEL_H

#include "mlir/IR/Builders.h"

namespace mlir::moe {

/// The register blocking of the kernel.
struct ContractionKernel {
  int64_t lanes = 16;   // f32 lanes of one vector register
  int64_t rowBlock = 4; // input rows per block
  int64_t colBlock = 4; // weight rows (output columns) per block
};

/// The blocking for a vector register width in bits (512: AVX-512, 256:
/// AVX2, 128: SSE), sized so the accumulators and operands fit the
/// register file.
ContractionKernel contractionKernelFor(int64_t vectorBits);

/// One contraction: row m of the result is
///   dest[m, n] = Σ_k A(m)[k] · w[n, k] + bias[n]   for m < numRows,
/// accumulated in f32 and converted to dest's element type. A(m) is row
/// `rowBase + m` of `a`, or with `rows` row `rows[rowBase + m]` of `a` (the
/// row gather of a fused dispatch). `w` is [N, K] with a static K, `bias`
/// is [N] or null. Returns the updated dest.
struct ContractionOperands {
  Value a;
  Value rows; // optional rank-1 integer tensor
  Value rowBase;
  Value numRows;
  Value w;
  Value bias; // optional
};
Value emitContraction(OpBuilder &b, Location loc,
                      const ContractionOperands &operands, Value dest,
                      const ContractionKernel &kernel);

} // namespace mlir::moe

#endif // MOEC_CODEGEN_CONTRACTIONKERNEL_H
