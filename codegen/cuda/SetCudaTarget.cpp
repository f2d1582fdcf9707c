//===- SetCudaTarget.cpp - the moe-set-cuda-target pass -------------------===//
#include "codegen/cuda/CudaTarget.h"
#include "codegen/cuda/Passes.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOESETCUDATARGET
#include "codegen/cuda/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
struct MoESetCudaTargetPass
    : mlir::moe::impl::MoESetCudaTargetBase<MoESetCudaTargetPass> {
  using Base::Base;
  void runOnOperation() override {
    CudaTargetDescription target;
    if (std::string msg = describeCuda(chip, target); !msg.empty()) {
      getOperation().emitError("moe-set-cuda-target: ") << msg;
      return signalPassFailure();
    }
    setCudaTarget(getOperation(), target);
  }
};
} // namespace
