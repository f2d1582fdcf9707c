//===- DistributeExperts.cpp - the moe-distribute-experts pass ------------===//
//
// A layer with an expert placement becomes the SPMD program of one rank:
// route locally, send each assignment's token row to the rank of its slot,
// run the experts on the rows received, send the outputs back and combine.
//
//===----------------------------------------------------------------------===//
#include "dialect/MoEDialect.h"
#include "dialect/MoEOps.h"
#include "passes/LayerBuilder.h"
#include "passes/Passes.h"
#include "runtime/abi/ArtifactAbi.h"

#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEDISTRIBUTEEXPERTS
#include "passes/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

/// A 64-bit checksum of the placement as printed: equal on every rank that
/// compiled the same plan.
int64_t fingerprint(ExpertPlacementAttr plan) {
  std::string text;
  llvm::raw_string_ostream os(text);
  Attribute(plan).print(os);
  return static_cast<int64_t>(::moe::abi::artifactChecksum(
      reinterpret_cast<const unsigned char *>(text.data()), text.size()));
}

struct DistributeLayer : OpRewritePattern<LayerOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LayerOp layer,
                                PatternRewriter &rewriter) const override {
    auto plan = layer->getAttrOfType<ExpertPlacementAttr>(
        MoEDialect::kExpertPlacementAttrName);
    if (!plan)
      return rewriter.notifyMatchFailure(layer, "no expert placement");
    auto grid = SymbolTable::lookupNearestSymbolFrom<shard::GridOp>(
        layer, plan.getGrid());
    if (!grid)
      return rewriter.notifyMatchFailure(layer, "the grid is missing");
    LayerBuilder b(rewriter, layer);
    Location loc = layer.getLoc();
    Value x = layer.getHidden();
    int64_t experts = plan.getNumExperts();

    auto route = RouteOp::create(rewriter, loc, b.routerLogits(),
                                 layer.getCorrectionBias(), layer.getRouting());
    Value rank = shard::ProcessLinearIndexOp::create(rewriter, loc, grid);
    auto exchange =
        ExchangePlanOp::create(rewriter, loc, route.getIndices(), rank, plan);
    Value sendCounts = exchange.getSendCounts();
    SmallVector<int16_t> axes;
    for (int64_t axis = 0, e = grid.getRank(); axis < e; ++axis)
      axes.push_back(axis);
    auto countExchange = shard::AllToAllOp::create(
        rewriter, loc, sendCounts.getType(), plan.getGrid().getValue(), axes,
        sendCounts, APInt(64, 0), APInt(64, 0));
    // The count exchange is where the ranks first meet for this layer:
    // the runtime checks there that they all run this placement.
    countExchange->setAttr(kPlacementFingerprintAttr,
                           rewriter.getI64IntegerAttr(fingerprint(plan)));
    Value recvCounts = countExchange;
    auto exchangeRows = [&](Value rows, Value send, Value recv) {
      auto type = cast<RankedTensorType>(rows.getType());
      SmallVector<int64_t> shape(type.getShape());
      shape[0] = ShapedType::kDynamic;
      return AllToAllVOp::create(rewriter, loc, type.clone(shape), rows, send,
                                 recv, plan.getGrid())
          .getResult();
    };

    // The rows this rank's tokens send, and what the rank receives.
    Value sendRows =
        GatherOp::create(rewriter, loc, x, exchange.getSendTokens());
    Value rows = exchangeRows(sendRows, sendCounts, recvCounts);
    Value rowExperts =
        exchangeRows(exchange.getSendExperts(), sendCounts, recvCounts);

    // The experts on the received rows, grouped by expert as on one rank.
    Type i32 = rewriter.getI32Type();
    Value received = tensor::DimOp::create(rewriter, loc, rowExperts, 0);
    Value byRow = tensor::ExpandShapeOp::create(
        rewriter, loc, RankedTensorType::get({ShapedType::kDynamic, 1}, i32),
        rowExperts, SmallVector<ReassociationIndices>{{0, 1}},
        SmallVector<OpFoldResult>{received, rewriter.getIndexAttr(1)});
    auto dispatch = DispatchOp::create(rewriter, loc, byRow,
                                       rewriter.getI64IntegerAttr(experts));
    Value grouped =
        GatherOp::create(rewriter, loc, rows, dispatch.getSortedTokens());
    Value expertOut = b.routedExperts(grouped, dispatch.getOffsets());
    // Back in the order received, then to the ranks that sent them.
    Value slotOfRow = tensor::CollapseShapeOp::create(
        rewriter, loc, dispatch.getInverse(),
        SmallVector<ReassociationIndices>{{0, 1}});
    Value inOrder = GatherOp::create(rewriter, loc, expertOut, slotOfRow);
    Value returned = exchangeRows(inOrder, recvCounts, sendCounts);

    auto [shared, sharedGate] = b.sharedExperts();
    rewriter.replaceOpWithNewOp<CombineOp>(
        layer, layer.getType(), returned, route.getWeights(),
        exchange.getPositions(), shared, sharedGate);
    return success();
  }
};

struct MoEDistributeExpertsPass
    : mlir::moe::impl::MoEDistributeExpertsBase<MoEDistributeExpertsPass> {
  void runOnOperation() override {
    // The dialect verified each placement against its layer and grid; a
    // layer the pattern cannot rewrite is an error, not a silent
    // single-process layer.
    WalkResult result = getOperation()->walk([](LayerOp layer) {
      if (layer->hasAttr(MoEDialect::kExpertPlacementAttrName) &&
          ShapedType::isDynamic(layer.getNumExperts())) {
        layer.emitOpError("cannot be distributed: its expert count is "
                          "dynamic");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      return signalPassFailure();
    RewritePatternSet patterns(&getContext());
    populateMoEDistributeExpertsPatterns(patterns);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace

void mlir::moe::populateMoEDistributeExpertsPatterns(
    RewritePatternSet &patterns) {
  patterns.add<DistributeLayer>(patterns.getContext());
}
