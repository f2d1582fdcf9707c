//===- DistributeExperts.cpp - the moe-distribute-experts pass ------------===//
//
// A layer with an expert placement becomes the SPMD program of one rank:
// route locally, send each assignment's token row to the rank of its slot,
// run the experts on the rows received, send the outputs back and combine.
// Expert weights that only placed layers read become the rank's slots.
//
//===----------------------------------------------------------------------===//
#include "dialect/MoEDialect.h"
#include "dialect/MoEOps.h"
#include "passes/LayerBuilder.h"
#include "passes/Passes.h"
#include "runtime/abi/ArtifactAbi.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
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

ExpertPlacementAttr placementOf(LayerOp layer) {
  return layer->getAttrOfType<ExpertPlacementAttr>(
      MoEDialect::kExpertPlacementAttrName);
}

/// Whether `layer`'s expert weights are arguments holding its slots only.
bool hasLocalWeights(LayerOp layer) {
  SmallVector<Value> weights = layer.getExpertOperands();
  return llvm::all_of(weights, [](Value w) {
    auto arg = dyn_cast<BlockArgument>(w);
    auto fn = arg ? dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp())
                  : func::FuncOp();
    return fn && fn.getArgAttr(arg.getArgNumber(), kArgExpertSlotsAttr);
  });
}

/// Gives the placed layers of `fn` the weights of the rank's slots: each
/// expert weight argument [E, ...] read only as an expert weight of layers
/// with one placement becomes [slots_per_rank, ...] with moe.expert_slots,
/// for the layers all of whose expert weights can be so.
void localizeExpertWeights(func::FuncOp fn) {
  if (!fn.isPublic() || fn.isExternal())
    return;
  SetVector<LayerOp> layers;
  fn.walk([&](LayerOp layer) {
    if (ExpertPlacementAttr plan = placementOf(layer);
        plan && layer.getNumExperts() == plan.getNumExperts())
      layers.insert(layer);
  });
  // An argument can be local when every use is an expert weight of a
  // candidate layer with the same placement; a layer stays a candidate
  // while all its expert weights can be local.
  auto canBeLocal = [&](Value w, ExpertPlacementAttr plan) {
    auto arg = dyn_cast<BlockArgument>(w);
    if (!arg || arg.getOwner() != &fn.front())
      return false;
    unsigned i = arg.getArgNumber();
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    // The runtime takes slices of one tensor or of a stack; MXFP4 in the
    // OCP layout and FP8 of one tensor are assembled whole.
    if (!type || type.getRank() < 2 ||
        type.getDimSize(0) != plan.getNumExperts() ||
        fn.getArgAttr(i, kArgMxScalesAttr) ||
        (fn.getArgAttr(i, kArgBlockScalesAttr) &&
         !fn.getArgAttr(i, kArgStackAttr)))
      return false;
    return llvm::all_of(arg.getUses(), [&](OpOperand &use) {
      auto user = dyn_cast<LayerOp>(use.getOwner());
      return user && layers.contains(user) && placementOf(user) == plan &&
             llvm::is_contained(user.getExpertOperands(), w);
    });
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (LayerOp layer : SmallVector<LayerOp>(layers.begin(), layers.end()))
      if (!llvm::all_of(layer.getExpertOperands(), [&](Value w) {
            return canBeLocal(w, placementOf(layer));
          })) {
        layers.remove(layer);
        changed = true;
      }
  }
  SmallVector<Type> argTypes(fn.getArgumentTypes());
  for (LayerOp layer : layers) {
    ExpertPlacementAttr plan = placementOf(layer);
    for (Value w : layer.getExpertOperands()) {
      auto arg = cast<BlockArgument>(w);
      unsigned i = arg.getArgNumber();
      if (fn.getArgAttr(i, kArgExpertSlotsAttr))
        continue;
      auto type = cast<RankedTensorType>(arg.getType());
      SmallVector<int64_t> shape(type.getShape());
      shape[0] = plan.getSlotsPerRank();
      arg.setType(type.clone(shape));
      argTypes[i] = arg.getType();
      fn.setArgAttr(i, kArgExpertSlotsAttr, plan);
    }
  }
  fn.setType(FunctionType::get(fn.getContext(), argTypes, fn.getResultTypes()));
}

/// The slot on `rank` that computes each of `experts` (a [n] i32 tensor of
/// expert ids the rank received rows for): the first of the rank's slots
/// holding that expert, from a constant table of R x E slots.
Value localSlots(PatternRewriter &rewriter, Location loc, Value experts,
                 Value rank, ExpertPlacementAttr plan) {
  int64_t numExperts = plan.getNumExperts();
  int64_t perRank = plan.getSlotsPerRank();
  ArrayRef<int64_t> physToLog = plan.getPhysToLog();
  // Experts a rank has no slot for never reach it; their entries are 0.
  SmallVector<int32_t> table(plan.getNumRanks() * numExperts, 0);
  for (int64_t r = 0; r < plan.getNumRanks(); ++r)
    for (int64_t s = perRank - 1; s >= 0; --s)
      table[r * numExperts + physToLog[r * perRank + s]] =
          static_cast<int32_t>(s);
  auto tableType = RankedTensorType::get({static_cast<int64_t>(table.size())},
                                         rewriter.getI32Type());
  Value slots = arith::ConstantOp::create(
      rewriter, loc, DenseElementsAttr::get(tableType, ArrayRef(table)));
  Value first = arith::MulIOp::create(
      rewriter, loc, rank,
      arith::ConstantIndexOp::create(rewriter, loc, numExperts));
  Value rows = tensor::DimOp::create(rewriter, loc, experts, 0);
  return tensor::GenerateOp::create(
      rewriter, loc, experts.getType(), ValueRange{rows},
      [&](OpBuilder &b, Location l, ValueRange ivs) {
        Value e = tensor::ExtractOp::create(b, l, experts, ivs);
        Value at = arith::AddIOp::create(
            b, l, first, arith::IndexCastOp::create(b, l, b.getIndexType(), e));
        tensor::YieldOp::create(
            b, l, tensor::ExtractOp::create(b, l, slots, at).getResult());
      });
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
    // With scale_inputs (Llama-4) the sender weighs the rows it sends.
    bool scaleInputs = layer.getRouting().getScaleInputs();
    Value sendRows =
        GatherOp::create(rewriter, loc, x, exchange.getSendTokens(),
                         scaleInputs ? route.getWeights() : Value(),
                         scaleInputs ? exchange.getPositions() : Value());
    Value rows = exchangeRows(sendRows, sendCounts, recvCounts);
    Value rowExperts =
        exchangeRows(exchange.getSendExperts(), sendCounts, recvCounts);

    // The experts on the received rows, grouped by expert as on one rank,
    // or by the rank's slot when it holds its slots' weights only.
    Type i32 = rewriter.getI32Type();
    int64_t groups = experts;
    Value rowGroups = rowExperts;
    if (hasLocalWeights(layer)) {
      groups = plan.getSlotsPerRank();
      rowGroups = localSlots(rewriter, loc, rowExperts, rank, plan);
    }
    Value received = tensor::DimOp::create(rewriter, loc, rowGroups, 0);
    Value byRow = tensor::ExpandShapeOp::create(
        rewriter, loc, RankedTensorType::get({ShapedType::kDynamic, 1}, i32),
        rowGroups, SmallVector<ReassociationIndices>{{0, 1}},
        SmallVector<OpFoldResult>{received, rewriter.getIndexAttr(1)});
    auto dispatch = DispatchOp::create(rewriter, loc, byRow,
                                       rewriter.getI64IntegerAttr(groups));
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
        exchange.getPositions(), shared, sharedGate, Value(), Value(), Value(),
        scaleInputs);
    return success();
  }
};

struct MoEDistributeExpertsPass
    : mlir::moe::impl::MoEDistributeExpertsBase<MoEDistributeExpertsPass> {
  using Base::Base;
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
    if (localWeights)
      getOperation()->walk(localizeExpertWeights);
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
