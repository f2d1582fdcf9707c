//===- ApproximateMath.cpp - the moe-cpu-approximate-math pass ------------===//
#include "codegen/cpu/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOECPUAPPROXIMATEMATH
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

void mlir::moe::populateCpuMathApproximationPatterns(
    RewritePatternSet &patterns) {
  // The ops the activations and the routing use; the predicates see the
  // op names.
  auto approximated = [](StringRef name) {
    name.consume_front("math.");
    return name == "exp" || name == "tanh" || name == "erf";
  };
  populateMathF32ExpansionPatterns(patterns, approximated);
  populateMathPolynomialApproximationPatterns(patterns, approximated);
}

namespace {

struct ApproximateMathPass
    : mlir::moe::impl::MoECpuApproximateMathBase<ApproximateMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    mlir::moe::populateCpuMathApproximationPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
