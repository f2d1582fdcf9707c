//===- ConvertMoEToGpu.cpp - the convert-moe-to-gpu pass ------------------===//
#include "codegen/cuda/CudaTarget.h"
#include "codegen/cuda/Passes.h"
#include "dialect/MoEOps.h"
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTMOETOGPU
#include "codegen/cuda/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

void mlir::moe::populateMoEToGpuPatterns(RewritePatternSet &patterns,
                                         const GpuKernelShape &shape) {
  populateRouteToGpuPatterns(patterns, shape);
  populateDispatchToGpuPatterns(patterns, shape);
  populateGatherToGpuPatterns(patterns, shape);
  populateGroupedMatmulToGpuPatterns(patterns, shape);
  populateGroupedMatmulMmaToGpuPatterns(patterns, shape);
  populateGroupedMatmulStagedToGpuPatterns(patterns, shape);
  populateActivationToGpuPatterns(patterns, shape);
  populateCombineToGpuPatterns(patterns, shape);
  populateCombineDownToGpuPatterns(patterns, shape);
}

namespace {

/// Emits an error at `op` when no kernel of the patterns lowers it (after
/// moe-decompose, so no moe.layer is left).
LogicalResult checkLowerable(Operation *op) {
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case<RouteOp>([](RouteOp route) -> LogicalResult {
        RoutingAttr r = route.getRouting();
        auto type = cast<RankedTensorType>(route.getLogits().getType());
        if (r.isGroupLimited() && type.isDynamicDim(1))
          return route.emitOpError("cannot be lowered to the GPU: "
                                   "group-limited routing needs a static "
                                   "expert count");
        if (r.getNGroup() > 64)
          return route.emitOpError("cannot be lowered to the GPU: at most 64 "
                                   "expert groups (the kept groups are a "
                                   "64-bit mask), not ")
                 << r.getNGroup();
        return success();
      })
      .Case<DispatchOp>([](DispatchOp dispatch) -> LogicalResult {
        auto type = cast<RankedTensorType>(dispatch.getIndices().getType());
        if (type.isDynamicDim(1))
          return dispatch.emitOpError(
              "cannot be lowered to the GPU: the number of experts per token "
              "(dimension 1 of the indices) must be static");
        return success();
      })
      .Case<GroupedMatmulOp>([](GroupedMatmulOp mm) -> LogicalResult {
        if (mm.getOffsets() &&
            cast<RankedTensorType>(mm.getWeight().getType()).isDynamicDim(0))
          return mm.emitOpError("cannot be lowered to the GPU: its weight's "
                                "group count is dynamic");
        if (getQuantizedElementType(mm.getWeight().getType()))
          return mm.emitOpError("cannot be lowered to the GPU: its weight ")
                 << mm.getWeight().getType()
                 << " is block-quantized, which only the CPU kernels read "
                    "so far";
        return success();
      })
      .Case<RecordRoutingOp>([](RecordRoutingOp record) -> LogicalResult {
        return record.emitOpError(
            "cannot be lowered to the GPU: routing statistics are recorded "
            "on the CPU only; compile for the CPU to record them");
      })
      .Case<ExchangePlanOp, AllToAllVOp>([](Operation *op) -> LogicalResult {
        return op->emitOpError("cannot be lowered to the GPU: expert "
                               "parallelism runs on CPU ranks only so far");
      })
      .Case<LayerOp>([](LayerOp layer) -> LogicalResult {
        if (layer->hasAttr(MoEDialect::kExpertPlacementAttrName))
          return layer.emitOpError(
              "cannot be lowered to the GPU: it has an expert placement, and "
              "expert parallelism runs on CPU ranks only so far");
        return success();
      })
      .Default([](Operation *) { return success(); });
}

/// The 16-bit element type of `v`'s shaped type, or null.
Type lowType(Value v) {
  Type t = cast<ShapedType>(v.getType()).getElementType();
  return t.isBF16() || t.isF16() ? t : Type();
}

/// With tensor cores, the activation between two GEMMs of 16-bit rows and
/// weights (a moe.activation of the gate GEMM, or the gate GEMM with the
/// activation fused into it) is rounded to that type, as the CPU's fused
/// epilogue rounds it and as the checkpoint's framework computes it, so
/// that the down GEMM's rows are 16-bit too and take tensor cores. Only
/// where every user is a GEMM (or a combine with the down projection
/// fused) with weights of that type; f32 hidden states keep f32
/// activations.
void roundActivationsForTensorCores(ModuleOp module) {
  auto roundIfDownGemmsOnly = [](Value h, Type t) {
    if (h.use_empty())
      return;
    for (Operation *user : h.getUsers()) {
      if (auto down = dyn_cast<GroupedMatmulOp>(user);
          down && down.getInput() == h && lowType(down.getWeight()) == t)
        continue;
      if (auto combine = dyn_cast<CombineOp>(user);
          combine && combine.getDown() && combine.getExpertOut() == h &&
          lowType(combine.getDown()) == t)
        continue;
      return;
    }
    auto type = cast<RankedTensorType>(h.getType());
    h.setType(type.clone(t));
  };
  module->walk([&](Operation *op) {
    GroupedMatmulOp gate;
    if (auto act = dyn_cast<ActivationOp>(op))
      gate = act.getInput().getDefiningOp<GroupedMatmulOp>();
    else if (auto mm = dyn_cast<GroupedMatmulOp>(op); mm && mm.getActivation())
      gate = mm;
    if (!gate)
      return;
    Type t = lowType(gate.getInput());
    if (t && lowType(gate.getWeight()) == t)
      roundIfDownGemmsOnly(op->getResult(0), t);
  });
}

/// A fused grouped GEMM (moe-fuse-dispatch, moe-fuse-gate-up) that no GPU
/// kernel takes as it is, as the ops it was fused from: a moe.gather of
/// its rows, the GEMM (two for separate gate and up weights) in f32, and a
/// moe.activation producing its result.
void unfuse(GroupedMatmulOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value input = op.getInput();
  if (op.getRows())
    input = GatherOp::create(b, loc, input, op.getRows());
  auto resultType = cast<RankedTensorType>(op.getResult().getType());
  ActivationAttr act = op.getActivationAttr();
  auto gemm = [&](Value weight, Value bias, RankedTensorType type) -> Value {
    return GroupedMatmulOp::create(b, loc, type, input, weight, Value(),
                                   op.getOffsets(), bias, Value(), Value(),
                                   ActivationAttr(), GateUpLayoutAttr());
  };
  Value out;
  if (!act) {
    out = gemm(op.getWeight(), op.getBias(), resultType);
  } else {
    auto weightType = cast<RankedTensorType>(op.getWeight().getType());
    int64_t rows = weightType.getDimSize(weightType.getRank() - 2);
    auto sums =
        RankedTensorType::get({resultType.getDimSize(0), rows}, b.getF32Type());
    Value first = gemm(op.getWeight(), op.getBias(), sums);
    Value second =
        op.getUp() ? gemm(op.getUp(), op.getUpBias(), sums) : Value();
    out = ActivationOp::create(b, loc, resultType, first, second, act,
                               op.getGateUpLayoutAttr());
  }
  op.getResult().replaceAllUsesWith(out);
  op.erase();
}

/// A moe.combine with its down projection fused that the fused kernels do
/// not take, as the ops it was fused from: the down GEMM in f32, then the
/// combine of its rows.
void unfuse(CombineOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto in = cast<RankedTensorType>(op.getExpertOut().getType());
  auto down = cast<RankedTensorType>(op.getDown().getType());
  auto projected = RankedTensorType::get(
      {in.getDimSize(0), down.getDimSize(down.getRank() - 2)}, b.getF32Type());
  Value rows = GroupedMatmulOp::create(
      b, loc, projected, op.getExpertOut(), op.getDown(), Value(),
      op.getDownOffsets(), op.getDownBias(), Value(), Value(), ActivationAttr(),
      GateUpLayoutAttr());
  Value out = CombineOp::create(b, loc, op.getType(), rows, op.getWeights(),
                                op.getInverse(), op.getShared(),
                                op.getSharedGateLogits(), Value(), Value(),
                                Value(), op.getUnweighted());
  op.getResult().replaceAllUsesWith(out);
  op.erase();
}

struct ConvertMoEToGpuPass
    : mlir::moe::impl::ConvertMoEToGpuBase<ConvertMoEToGpuPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<CudaTargetDescription> target =
        getCudaTarget(module, "convert-moe-to-gpu");
    if (failed(target))
      return signalPassFailure();
    GpuKernelShape shape;
    shape.threadsPerProgram = itemKernelWarps(*target) * target->warpSize;
    shape.dispatchChunk = dispatchChunk(*target);
    if (tensorCores && !target->tensorCore.empty()) {
      MmaGemmTile tile = mmaGemmTile(*target);
      shape.mmaRows = tile.rows;
      shape.mmaWarps = tile.warps;
      shape.mmaNTiles = tile.nTiles;
      shape.staged = stagedGemmRule(*target);
    }

    // Layers first become their parts (moe-decompose), whose checks
    // follow: what no pattern lowers is an error at the op (a layer's parts
    // carry its location), found before any kernel is built.
    WalkResult placed = module->walk([](LayerOp layer) {
      return failed(checkLowerable(layer)) ? WalkResult::interrupt()
                                           : WalkResult::advance();
    });
    if (placed.wasInterrupted())
      return signalPassFailure();
    RewritePatternSet decompose(&getContext());
    populateMoEDecomposePatterns(decompose);
    walkAndApplyPatterns(module, std::move(decompose));

    WalkResult check = module->walk([](Operation *op) {
      return failed(checkLowerable(op)) ? WalkResult::interrupt()
                                        : WalkResult::advance();
    });
    if (check.wasInterrupted())
      return signalPassFailure();

    if (shape.mmaWarps > 0)
      roundActivationsForTensorCores(module);
    SmallVector<GroupedMatmulOp> fused;
    module->walk([&](GroupedMatmulOp mm) {
      if ((mm.getRows() || mm.getActivation()) && !takesStagedGemm(mm, shape))
        fused.push_back(mm);
    });
    for (GroupedMatmulOp mm : fused)
      unfuse(mm);
    SmallVector<CombineOp> combines;
    module->walk([&](CombineOp combine) {
      if (combine.getDown() &&
          (!fuseCombine || !takesFusedCombine(combine, shape)))
        combines.push_back(combine);
    });
    for (CombineOp combine : combines)
      unfuse(combine);
    RewritePatternSet patterns(&getContext());
    populateMoEToGpuPatterns(patterns, shape);
    walkAndApplyPatterns(module, std::move(patterns));
  }
};
} // namespace
