//===- ConvertMoEToGpu.cpp - the convert-moe-to-gpu pass ------------------===//
#include "codegen/cuda/CudaTarget.h"
#include "codegen/cuda/Passes.h"
#include "dialect/MoEOps.h"
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTMOETOGPU
#include "codegen/cuda/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

void mlir::moe::populateMoEToGpuPatterns(RewritePatternSet &patterns,
                                         const GpuKernelShape &shape) {
  populateRouteToGpuPatterns(patterns, shape);
  populateDispatchToGpuPatterns(patterns, shape);
  populateGatherToGpuPatterns(patterns, shape);
  populateGroupedMatmulToGpuPatterns(patterns, shape);
  populateActivationToGpuPatterns(patterns, shape);
  populateCombineToGpuPatterns(patterns, shape);
}

namespace {
struct ConvertMoEToGpuPass
    : mlir::moe::impl::ConvertMoEToGpuBase<ConvertMoEToGpuPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<CudaTargetDescription> target =
        getCudaTarget(module, "convert-moe-to-gpu");
    if (failed(target))
      return signalPassFailure();
    GpuKernelShape shape;
    shape.threadsPerProgram = itemKernelWarps(*target) * target->warpSize;
    shape.dispatchChunk = dispatchChunk(*target);

    // Layers first become their parts (moe-decompose), whose checks
    // follow: what no pattern lowers is an error at the op (a layer's parts
    // carry its location), found before any kernel is built.
    RewritePatternSet decompose(&getContext());
    populateMoEDecomposePatterns(decompose);
    walkAndApplyPatterns(module, std::move(decompose));

    WalkResult check = module->walk([&](Operation *op) {
      if (!isa_and_nonnull<MoEDialect>(op->getDialect()))
        return WalkResult::advance();
      if (auto route = dyn_cast<RouteOp>(op)) {
        RoutingAttr r = route.getRouting();
        auto type = cast<RankedTensorType>(route.getLogits().getType());
        if (r.isGroupLimited() && type.isDynamicDim(1)) {
          route.emitOpError("cannot be lowered to the GPU: group-limited "
                            "routing needs a static expert count");
          return WalkResult::interrupt();
        }
        if (r.getNGroup() > 64) {
          route.emitOpError("cannot be lowered to the GPU: at most 64 "
                            "expert groups (the kept groups are a 64-bit "
                            "mask), not ")
              << r.getNGroup();
          return WalkResult::interrupt();
        }
        return WalkResult::advance();
      }
      if (auto dispatch = dyn_cast<DispatchOp>(op)) {
        auto type = cast<RankedTensorType>(dispatch.getIndices().getType());
        if (type.isDynamicDim(1)) {
          dispatch.emitOpError("cannot be lowered to the GPU: the number of "
                               "experts per token (dimension 1 of the "
                               "indices) must be static");
          return WalkResult::interrupt();
        }
        return WalkResult::advance();
      }
      if (auto mm = dyn_cast<GroupedMatmulOp>(op)) {
        if (mm.getRows() || mm.getUp() || mm.getActivation() ||
            mm.getGateUpLayout()) {
          mm.emitOpError("cannot be lowered to the GPU: its fused form "
                         "(gather, up, activation or gate_up_layout) has no "
                         "GPU kernel yet; lower the unfused ops");
          return WalkResult::interrupt();
        }
        if (mm.getOffsets() &&
            cast<RankedTensorType>(mm.getWeight().getType()).isDynamicDim(0)) {
          mm.emitOpError("cannot be lowered to the GPU: its weight's group "
                         "count is dynamic");
          return WalkResult::interrupt();
        }
        return WalkResult::advance();
      }
      if (auto combine = dyn_cast<CombineOp>(op)) {
        if (combine.getDown()) {
          combine.emitOpError("cannot be lowered to the GPU: its fused down "
                              "projection has no GPU kernel yet; lower the "
                              "unfused ops");
          return WalkResult::interrupt();
        }
        return WalkResult::advance();
      }
      if (isa<GatherOp, ActivationOp>(op))
        return WalkResult::advance();
      op->emitOpError("has no GPU lowering");
      return WalkResult::interrupt();
    });
    if (check.wasInterrupted())
      return signalPassFailure();

    RewritePatternSet patterns(&getContext());
    populateMoEToGpuPatterns(patterns, shape);
    walkAndApplyPatterns(module, std::move(patterns));
  }
};
} // namespace
