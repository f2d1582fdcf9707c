//===- NameGpuKernels.cpp - the moe-name-gpu-kernels pass -----------------===//
#include "codegen/cuda/KernelBuilder.h"
#include "codegen/cuda/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/ADT/StringMap.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOENAMEGPUKERNELS
#include "codegen/cuda/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
struct MoENameGpuKernelsPass
    : mlir::moe::impl::MoENameGpuKernelsBase<MoENameGpuKernelsPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    bool failedAny = false;
    getOperation().walk([&](FunctionOpInterface func) {
      llvm::StringMap<unsigned> uses;
      func.walk([&](gpu::LaunchOp launch) {
        Operation *marked = nullptr;
        launch.getBody().walk([&](Operation *op) {
          if (!op->hasAttr(gpu_kernels::kKernelNameAttr))
            return WalkResult::advance();
          marked = op;
          return WalkResult::interrupt();
        });
        if (!marked)
          return;
        auto name =
            dyn_cast<StringAttr>(marked->getAttr(gpu_kernels::kKernelNameAttr));
        if (!name || name.getValue().empty()) {
          marked->emitOpError("has a malformed ")
              << gpu_kernels::kKernelNameAttr
              << " attribute: expected a non-empty string";
          failedAny = true;
          return;
        }
        marked->removeAttr(gpu_kernels::kKernelNameAttr);
        std::string kernel = (func.getName() + "_" + name.getValue()).str();
        if (unsigned n = uses[name.getValue()]++)
          kernel += "_" + std::to_string(n);
        launch.setFunctionAttr(FlatSymbolRefAttr::get(ctx, kernel));
        launch.setModuleAttr(
            FlatSymbolRefAttr::get(ctx, (func.getName() + "_kernels").str()));
      });
    });
    if (failedAny)
      signalPassFailure();
  }
};
} // namespace
