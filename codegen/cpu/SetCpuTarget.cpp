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
    if (l1dCacheBytes < 0 || l2CacheBytes < 0) {
      getOperation().emitError("moe-set-cpu-target: cache sizes must be "
                               "positive (or 0: the CPU's), not ")
          << (l1dCacheBytes < 0 ? l1dCacheBytes.getValue()
                                : l2CacheBytes.getValue());
      return signalPassFailure();
    }
    if (l1dCacheBytes > 0)
      target.l1dBytes = l1dCacheBytes;
    if (l2CacheBytes > 0)
      target.l2Bytes = l2CacheBytes;
    setCpuTarget(getOperation(), target);
  }
};
} // namespace
