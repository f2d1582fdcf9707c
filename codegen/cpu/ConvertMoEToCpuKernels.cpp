//===- ConvertMoEToCpuKernels.cpp - the convert-moe-to-cpu-kernels pass ---===//
#include "codegen/cpu/CpuTarget.h"
#include "codegen/cpu/PanelKernel.h"
#include "codegen/cpu/Passes.h"
#include "dialect/MoEOps.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTMOETOCPUKERNELS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

/// Whether the kernel `config` sizes can run `mm`'s packed weight; emits
/// the reason at the op when not.
LogicalResult checkPackedWeight(GroupedMatmulOp mm,
                                const CpuKernelConfig &config) {
  PackedPanels packed = packedPanelsOf(mm.getWeight());
  linalg::UnPackOp unpack = packed.unpack;
  if (!unpack)
    return success();
  if (unpack.getInnerDimsPos().size() == 2 && config.lanes != 16)
    return mm.emitOpError("cannot be lowered: its weight is packed in pairs "
                          "of k (moe-pack-weights bf16-dot), which needs a "
                          "moe.kernel of 16 lanes (AVX512_BF16 dot "
                          "products), not ")
           << config.lanes;
  ArrayRef<int64_t> tiles = unpack.getStaticInnerTiles();
  if (packed.slices > 1 && !tiles.empty() &&
      !readsSlices(panelKernelFor(config), tiles[0], packed.slices))
    return mm.emitOpError("cannot be lowered: its weight is packed in ")
           << packed.slices << " slices of panels of " << tiles[0]
           << " columns (moe-pack-weights slices), more than the "
           << config.maxPanelWidth() << "-column panel of its moe.kernel ("
           << config.lanes << " lanes) holds with one vector per slice";
  return success();
}

struct ConvertMoEToCpuKernelsPass
    : mlir::moe::impl::ConvertMoEToCpuKernelsBase<ConvertMoEToCpuKernelsPass> {
  using Base::Base;
  void runOnOperation() override {
    Operation *root = getOperation();
    // Malformed sizes and weights the kernel cannot read are errors at the
    // op, found before anything is rewritten.
    WalkResult check = root->walk([&](Operation *op) {
      if (!isa<GroupedMatmulOp, CombineOp>(op))
        return WalkResult::advance();
      FailureOr<std::optional<CpuKernelConfig>> config = readKernelConfig(op);
      if (failed(config))
        return WalkResult::interrupt();
      if (!*config)
        return WalkResult::advance();
      if (auto combine = dyn_cast<CombineOp>(op);
          combine && !combine.getDown()) {
        op->emitOpError("has a CPU moe.kernel but no fused down projection: "
                        "only a moe-fuse-combine'd combine runs a kernel");
        return WalkResult::interrupt();
      }
      if (auto mm = dyn_cast<GroupedMatmulOp>(op)) {
        auto type = cast<RankedTensorType>(mm.getWeight().getType());
        if (!type.hasStaticShape()) {
          mm.emitOpError("cannot run the CPU kernel: its weight's shape ")
              << type << " is not static";
          return WalkResult::interrupt();
        }
        if (failed(checkPackedWeight(mm, **config)))
          return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (check.wasInterrupted())
      return signalPassFailure();

    RewritePatternSet lower(&getContext());
    populateGroupedMatmulToCpuKernelsPatterns(lower);
    populateCombineToCpuKernelsPatterns(lower);
    GreedyRewriteConfig config;
    config.enableFolding(false);
    if (failed(applyPatternsGreedily(root, std::move(lower), config)))
      return signalPassFailure();

    WalkResult left = root->walk([](Operation *op) {
      if (!isa<GroupedMatmulOp, CombineOp>(op))
        return WalkResult::advance();
      FailureOr<std::optional<CpuKernelConfig>> config = readKernelConfig(op);
      if (succeeded(config) && *config) {
        op->emitOpError("was not lowered to a CPU kernel");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
