//===- ConvertMoEToGpu.cpp - the convert-moe-to-gpu pass ------------------===//
#include "codegen/cuda/CudaTarget.h"
#include "codegen/cuda/Passes.h"
#include "dialect/MoEOps.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTMOETOGPU
#include "codegen/cuda/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

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

    // What no pattern lowers is an error at the op, found before anything
    // is rewritten.
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
      op->emitOpError("has no GPU lowering yet (convert-moe-to-gpu lowers "
                      "moe.route and moe.dispatch)");
      return WalkResult::interrupt();
    });
    if (check.wasInterrupted())
      return signalPassFailure();

    RewritePatternSet patterns(&getContext());
    populateRouteToGpuPatterns(patterns, shape);
    populateDispatchToGpuPatterns(patterns, shape);
    walkAndApplyPatterns(module, std::move(patterns));
  }
};
} // namespace
