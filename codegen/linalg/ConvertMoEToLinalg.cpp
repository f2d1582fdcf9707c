//===- ConvertMoEToLinalg.cpp - the convert-moe-to-linalg pass ------------===//
#include "codegen/linalg/Passes.h"
#include "dialect/MoEOps.h"
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTMOETOLINALG
#include "codegen/linalg/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

void mlir::moe::populateMoEToLinalgPatterns(RewritePatternSet &patterns) {
  populateRouteToLinalgPatterns(patterns);
  populateDispatchToLinalgPatterns(patterns);
  populateExchangePlanToLinalgPatterns(patterns);
  populateGatherToLinalgPatterns(patterns);
  populateGroupedMatmulToLinalgPatterns(patterns);
  populateActivationToLinalgPatterns(patterns);
  populateCombineToLinalgPatterns(patterns);
}

namespace {
struct ConvertMoEToLinalgPass
    : mlir::moe::impl::ConvertMoEToLinalgBase<ConvertMoEToLinalgPass> {
  using Base::Base;
  void runOnOperation() override {
    Operation *root = getOperation();
    // What no pattern can lower is an error at the op, checked up front so
    // that nothing is half converted.
    WalkResult check = root->walk([&](Operation *op) {
      if (auto layer = dyn_cast<LayerOp>(op);
          layer && ShapedType::isDynamic(layer.getNumExperts())) {
        layer.emitOpError("cannot be lowered: its expert count is dynamic "
                          "(give router_weight, router_logits or down a "
                          "static expert dimension)");
        return WalkResult::interrupt();
      }
      // Block-quantized weights are read by the CPU kernels only.
      if (!op->hasAttr(kKernelAttrName) &&
          isa<GroupedMatmulOp, CombineOp, LayerOp>(op)) {
        for (Value operand : op->getOperands())
          if (getQuantizedElementType(operand.getType())) {
            op->emitOpError("cannot be lowered to linalg: its weight ")
                << operand.getType()
                << " is block-quantized, which only the CPU kernels read "
                   "(moe-cpu-select-kernels; not with kernels=false)";
            return WalkResult::interrupt();
          }
      }
      if (auto mm = dyn_cast<GroupedMatmulOp>(op);
          mm && mm.getOffsets() && !mm->hasAttr(kKernelAttrName) &&
          cast<RankedTensorType>(mm.getWeight().getType()).isDynamicDim(0)) {
        mm.emitOpError("cannot be lowered: its weight's group count is "
                       "dynamic");
        return WalkResult::interrupt();
      }
      if (auto combine = dyn_cast<CombineOp>(op);
          combine && combine.getDown() && !combine->hasAttr(kKernelAttrName) &&
          cast<RankedTensorType>(combine.getDown().getType()).isDynamicDim(0)) {
        combine.emitOpError("cannot be lowered: its down weight's group "
                            "count is dynamic");
        return WalkResult::interrupt();
      }
      if (auto route = dyn_cast<RouteOp>(op)) {
        auto type = cast<RankedTensorType>(route.getLogits().getType());
        if (route.getRouting().isGroupLimited() && type.isDynamicDim(1)) {
          route.emitOpError("cannot be lowered: group-limited routing needs "
                            "a static expert count");
          return WalkResult::interrupt();
        }
      }
      return WalkResult::advance();
    });
    if (check.wasInterrupted())
      return signalPassFailure();

    RewritePatternSet decompose(&getContext());
    populateMoEDecomposePatterns(decompose);
    walkAndApplyPatterns(root, std::move(decompose));

    RewritePatternSet lower(&getContext());
    populateMoEToLinalgPatterns(lower);
    GreedyRewriteConfig config;
    config.enableFolding(false);
    if (failed(applyPatternsGreedily(root, std::move(lower), config)))
      return signalPassFailure();

    WalkResult left = root->walk([](Operation *op) {
      if (isa<MoEDialect>(op->getDialect()) && !op->hasAttr(kKernelAttrName) &&
          !isa<RecordRoutingOp, AllToAllVOp>(op)) {
        op->emitOpError("was not lowered to linalg");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
