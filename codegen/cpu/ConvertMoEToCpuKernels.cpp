//===- ConvertMoEToCpuKernels.cpp - the convert-moe-to-cpu-kernels pass ---===//
#include "codegen/cpu/ContractionKernel.h"
#include "codegen/cpu/CpuTarget.h"
#include "codegen/cpu/PanelKernel.h"
#include "codegen/cpu/Passes.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
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

/// Whether every argument marked moe.int8_panels is a weight the int8
/// panel kernel reads that way, and only read by it: the weight of GEMMs
/// without up, activation or gate_up_layout whose moe.kernel has int8 dot
/// products. Emits the reason where one is not.
LogicalResult checkInt8PanelArguments(Operation *root) {
  WalkResult walk = root->walk([](func::FuncOp fn) {
    if (fn.isExternal())
      return WalkResult::advance();
    for (BlockArgument arg : fn.getArguments()) {
      if (!fn.getArgAttr(arg.getArgNumber(), kArgInt8PanelsAttr))
        continue;
      if (!int8PanelType(arg.getType())) {
        fn.emitError("argument ")
            << arg.getArgNumber() << " of type " << arg.getType()
            << " is marked " << kArgInt8PanelsAttr << ", which only a static "
            << ::moe::abi::Int8PanelLayout::dtypeList("or")
            << " weight of rank 2 or 3 with K a multiple of 128 can be";
        return WalkResult::interrupt();
      }
      for (OpOperand &use : arg.getUses()) {
        bool read = int8PanelUse(use);
        FailureOr<std::optional<CpuKernelConfig>> config =
            read ? readKernelConfig(use.getOwner())
                 : FailureOr<std::optional<CpuKernelConfig>>(std::nullopt);
        if (failed(config))
          return WalkResult::interrupt();
        if (!read || !*config || !(*config)->int8Dot ||
            (*config)->lanes != 16) {
          use.getOwner()->emitOpError("cannot read argument ")
              << arg.getArgNumber() << " in int8 panels (" << kArgInt8PanelsAttr
              << "): only the weight of a moe.grouped_matmul without up, "
                 "activation or gate_up_layout whose moe.kernel has "
                 "int8_dot and 16 lanes can";
          return WalkResult::interrupt();
        }
      }
    }
    return WalkResult::advance();
  });
  return failure(walk.wasInterrupted());
}

/// Retypes each block-quantized function argument to its bytes: a tensor
/// of i8 with the row length in bytes (runtime/support/DType.h), which is
/// how the runtime hands it over; its uses read it through an
/// unrealized_conversion_cast back to the quantized type, which the
/// kernels look through (kernelWeight). A quantized value that is not a
/// function argument is an error.
LogicalResult retypeQuantizedArguments(Operation *root) {
  WalkResult walk = root->walk([](Operation *op) {
    for (Value result : op->getResults())
      if (getQuantizedElementType(result.getType()) &&
          !isa<UnrealizedConversionCastOp>(op)) {
        op->emitOpError("produces a block-quantized value ")
            << result.getType()
            << "; the CPU kernels read quantized weights only as function "
               "arguments";
        return WalkResult::interrupt();
      }
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  root->walk([](func::FuncOp fn) {
    if (fn.isExternal())
      return;
    Block &entry = fn.getBody().front();
    OpBuilder b = OpBuilder::atBlockBegin(&entry);
    SmallVector<Type> inputs(fn.getArgumentTypes());
    for (BlockArgument arg : entry.getArguments()) {
      QuantizedType quant = getQuantizedElementType(arg.getType());
      if (!quant)
        continue;
      auto type = cast<RankedTensorType>(arg.getType());
      SmallVector<int64_t> shape(type.getShape());
      shape.back() = quant.getRowBytes(shape.back());
      // Or its int8 panels (checkInt8PanelArguments).
      if (fn.getArgAttr(arg.getArgNumber(), kArgInt8PanelsAttr)) {
        std::vector<int64_t> packed =
            int8PanelLayout(quant)->packedShape(std::vector<int64_t>(
                type.getShape().begin(), type.getShape().end()));
        shape.assign(packed.begin(), packed.end());
      }
      auto bytes = RankedTensorType::get(shape, b.getI8Type());
      arg.setType(bytes);
      inputs[arg.getArgNumber()] = bytes;
      if (arg.use_empty())
        continue;
      auto cast =
          UnrealizedConversionCastOp::create(b, arg.getLoc(), type, arg);
      arg.replaceAllUsesExcept(cast.getResult(0), cast);
    }
    fn.setFunctionType(
        FunctionType::get(fn.getContext(), inputs, fn.getResultTypes()));
  });
  return success();
}

/// After the kernels: every retyped argument's cast is unused; a quantized
/// weight some other op still reads is an error there.
LogicalResult dropQuantizedCasts(Operation *root) {
  SmallVector<UnrealizedConversionCastOp> casts;
  root->walk([&](UnrealizedConversionCastOp cast) {
    if (cast->getNumResults() == 1 &&
        getQuantizedElementType(cast.getResult(0).getType()))
      casts.push_back(cast);
  });
  for (UnrealizedConversionCastOp cast : casts) {
    if (!cast->use_empty()) {
      Operation *user = *cast->getUsers().begin();
      return user->emitOpError("reads the block-quantized weight ")
             << cast.getResult(0).getType()
             << ", which only the CPU GEMM kernels can (a claimed "
                "moe.grouped_matmul or fused moe.combine)";
    }
    cast->erase();
  }
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

    if (failed(checkInt8PanelArguments(root)) ||
        failed(retypeQuantizedArguments(root)))
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
    if (left.wasInterrupted() || failed(dropQuantizedCasts(root)))
      signalPassFailure();
  }
};
} // namespace
