//===- SelectKernels.cpp - the moe-cpu-select-kernels pass ----------------===//
#include "codegen/cpu/ContractionKernel.h"
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

    if (int8PanelRows < 0) {
      module.emitError("moe-cpu-select-kernels: int8-panel-rows must be 0 "
                       "(the cost model) or positive, not ")
          << static_cast<int64_t>(int8PanelRows);
      return signalPassFailure();
    }
    CpuKernelConfig base = kernelConfigFor(*target, bf16Dot, int8Dot);
    DictionaryAttr config = kernelConfigAttr(&getContext(), base);
    module.walk([&](Operation *op) {
      auto combine = dyn_cast<CombineOp>(op);
      auto mm = dyn_cast<GroupedMatmulOp>(op);
      if (!mm && !(combine && combine.getDown()))
        return;
      // int8 dot products on a weight whose int8 rows are in halves (the
      // formats the panel kernel takes): the row count from which items
      // repack it for the panel kernel.
      QuantizedType quant =
          mm ? getQuantizedElementType(mm.getWeight().getType())
             : QuantizedType();
      if (int8Dot && quant && int8RowsInHalves(quant)) {
        CpuKernelConfig c = base;
        c.int8PanelRows =
            int8PanelRows > 0 ? int8PanelRows : int8PanelMinRows(quant);
        op->setAttr(kKernelAttrName, kernelConfigAttr(&getContext(), c));
        return;
      }
      op->setAttr(kKernelAttrName, config);
    });
  }
};
} // namespace
