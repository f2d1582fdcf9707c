//===- SelectKernels.cpp - the moe-cpu-select-kernels pass ----------------===//
#include "codegen/cpu/CpuTarget.h"
#include "codegen/cpu/Passes.h"
#include "dialect/MoEOps.h"
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOECPUSELECTKERNELS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
struct MoECpuSelectKernelsPass
    : mlir::moe::impl::MoECpuSelectKernelsBase<MoECpuSelectKernelsPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<CpuTargetDescription> target =
        getCpuTarget(module, "moe-cpu-select-kernels");
    if (failed(target))
      return signalPassFailure();
    if (bf16Dot && !target->hasFeature("avx512bf16")) {
      module.emitError("moe-cpu-select-kernels: bf16-dot needs a target with "
                       "avx512bf16 (AVX512_BF16); '")
          << target->cpu << "' has none";
      return signalPassFailure();
    }
    if (int8Dot && !target->hasFeature("avx512vnni")) {
      module.emitError("moe-cpu-select-kernels: int8-dot needs a target with "
                       "avx512vnni (AVX512_VNNI); '")
          << target->cpu << "' has none";
      return signalPassFailure();
    }
    RewritePatternSet decompose(&getContext());
    populateMoEDecomposePatterns(decompose);
    walkAndApplyPatterns(module, std::move(decompose));

    DictionaryAttr config = kernelConfigAttr(
        &getContext(), kernelConfigFor(*target, bf16Dot, int8Dot));
    module.walk([&](Operation *op) {
      auto combine = dyn_cast<CombineOp>(op);
      if (isa<GroupedMatmulOp>(op) || (combine && combine.getDown()))
        op->setAttr(kKernelAttrName, config);
    });
  }
};
} // namespace
