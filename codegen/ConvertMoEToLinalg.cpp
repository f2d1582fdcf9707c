//===- ConvertMoEToLinalg.cpp - the convert-moe-to-linalg pass ------------===//
#include "codegen/PanelKernel.h"
#include "codegen/Passes.h"
#include "dialect/MoEOps.h"
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTMOETOLINALG
#include "codegen/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

void mlir::moe::populateMoEToLinalgPatterns(RewritePatternSet &patterns,
                                            int64_t vectorBits, bool bf16Dot) {
  populateRouteToLinalgPatterns(patterns);
  populateDispatchToLinalgPatterns(patterns);
  populateGatherToLinalgPatterns(patterns);
  populateGroupedMatmulToLinalgPatterns(patterns, vectorBits, bf16Dot);
  populateActivationToLinalgPatterns(patterns);
  populateCombineToLinalgPatterns(patterns, vectorBits, bf16Dot);
}

namespace {
struct ConvertMoEToLinalgPass
    : moe::impl::ConvertMoEToLinalgBase<ConvertMoEToLinalgPass> {
  using Base::Base;
  void runOnOperation() override {
    Operation *root = getOperation();
    if (vectorBits != 128 && vectorBits != 256 && vectorBits != 512) {
      emitError(root->getLoc())
          << "convert-moe-to-linalg: vector-bits must be 128, 256 or 512, "
             "not "
          << vectorBits.getValue();
      return signalPassFailure();
    }
    if (bf16Dot && vectorBits != 512) {
      emitError(root->getLoc())
          << "convert-moe-to-linalg: bf16-dot needs vector-bits=512 "
             "(AVX512_BF16)";
      return signalPassFailure();
    }
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
      if (auto mm = dyn_cast<GroupedMatmulOp>(op)) {
        PackedPanels packed = packedPanelsOf(mm.getWeight());
        linalg::UnPackOp unpack = packed.unpack;
        if (unpack && unpack.getInnerDimsPos().size() == 2 &&
            vectorBits != 512) {
          mm.emitOpError("cannot be lowered: its weight is packed in pairs "
                         "of k (moe-pack-weights bf16-dot), which needs "
                         "vector-bits=512 (AVX512_BF16 dot products)");
          return WalkResult::interrupt();
        }
        ArrayRef<int64_t> tiles =
            unpack ? unpack.getStaticInnerTiles() : ArrayRef<int64_t>();
        if (packed.slices > 1 && !tiles.empty() &&
            !readsSlices(vectorBits, tiles[0], packed.slices)) {
          mm.emitOpError("cannot be lowered: its weight is packed in ")
              << packed.slices << " slices of panels of " << tiles[0]
              << " columns (moe-pack-weights slices), more than the "
              << panelWidthFor(vectorBits)
              << "-column panel of vector-bits=" << vectorBits.getValue()
              << " holds with one vector per slice";
          return WalkResult::interrupt();
        }
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
    populateMoEToLinalgPatterns(lower, vectorBits, bf16Dot);
    GreedyRewriteConfig config;
    config.enableFolding(false);
    if (failed(applyPatternsGreedily(root, std::move(lower), config)))
      return signalPassFailure();

    WalkResult left = root->walk([](Operation *op) {
      if (isa<MoEDialect>(op->getDialect())) {
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
