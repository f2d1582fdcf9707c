//===- SetCpuTarget.cpp - the moe-set-cpu-target pass ---------------------===//
#include "codegen/cpu/CpuTarget.h"
#include "codegen/cpu/Passes.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOESETCPUTARGET
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
struct MoESetCpuTargetPass
    : mlir::moe::impl::MoESetCpuTargetBase<MoESetCpuTargetPass> {
  using Base::Base;
  void runOnOperation() override {
    CpuTargetDescription target;
    if (std::string msg = describeCpu(cpu, target); !msg.empty()) {
      getOperation().emitError("moe-set-cpu-target: ") << msg;
      return signalPassFailure();
    }
    setCpuTarget(getOperation(), target);
  }
};
} // namespace
