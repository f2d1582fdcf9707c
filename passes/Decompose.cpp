//===- Decompose.cpp - the moe-decompose pass -----------------------------===//
#include "dialect/MoEOps.h"
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEDECOMPOSE
#include "passes/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
struct MoEDecomposePass : moe::impl::MoEDecomposeBase<MoEDecomposePass> {
  void runOnOperation() override {
    // Layers the pattern cannot expand are errors, not silently kept.
    WalkResult result = getOperation()->walk([](LayerOp layer) {
      if (ShapedType::isDynamic(layer.getNumExperts())) {
        layer.emitOpError("cannot be decomposed: its expert count is "
                          "dynamic (give router_weight, router_logits or "
                          "down a static expert dimension)");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      return signalPassFailure();
    RewritePatternSet patterns(&getContext());
    populateMoEDecomposePatterns(patterns);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};
} // namespace
