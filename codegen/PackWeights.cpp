//===- PackWeights.cpp - the moe-pack-weights pass
//-------------------------===//
//
// Public functions take qualifying expert weights as packed panels and
// unpack them with linalg.unpack, which the grouped GEMM lowering folds
// away (see Passes.td).
//
//===----------------------------------------------------------------------===//
#include "codegen/Passes.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEPACKWEIGHTS
#include "codegen/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

/// Whether every use of `arg` is the weight of a plain grouped GEMM on f32.
bool packable(BlockArgument arg) {
  auto type = dyn_cast<RankedTensorType>(arg.getType());
  if (!type || type.getRank() != 3 || !type.hasStaticShape() ||
      !type.getElementType().isF32() || arg.use_empty())
    return false;
  auto isF32 = [](Value v) {
    return cast<RankedTensorType>(v.getType()).getElementType().isF32();
  };
  for (OpOperand &use : arg.getUses()) {
    auto mm = dyn_cast<GroupedMatmulOp>(use.getOwner());
    if (!mm || use.get() != mm.getWeight() || mm.getInput() == arg ||
        !mm.getOffsets() || mm.getRows() || mm.getUp() ||
        mm.getActivationAttr() || mm.getGateUpLayout() ||
        !isF32(mm.getInput()) || !isF32(mm.getResult()) ||
        mm.getBias() == arg || mm.getOffsets() == arg)
      return false;
  }
  return true;
}

struct MoEPackWeightsPass : moe::impl::MoEPackWeightsBase<MoEPackWeightsPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (panelWidth < 1) {
      emitError(module.getLoc())
          << "moe-pack-weights: panel-width must be positive, not "
          << panelWidth.getValue();
      return signalPassFailure();
    }
    int64_t width = panelWidth;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal() || !func.isPublic() ||
          !SymbolTable::symbolKnownUseEmpty(func, module))
        continue;
      Block &entry = func.getBody().front();
      SmallVector<Type> inputs(func.getArgumentTypes());
      bool changed = false;
      for (BlockArgument arg : entry.getArguments()) {
        if (!packable(arg))
          continue;
        auto type = cast<RankedTensorType>(arg.getType());
        int64_t e = type.getDimSize(0), n = type.getDimSize(1),
                k = type.getDimSize(2);
        auto packedType = RankedTensorType::get(
            {e, (n + width - 1) / width, k, width}, type.getElementType());
        arg.setType(packedType);
        inputs[arg.getArgNumber()] = packedType;
        OpBuilder b = OpBuilder::atBlockBegin(&entry);
        Location loc = arg.getLoc();
        Value dest = tensor::EmptyOp::create(b, loc, type.getShape(),
                                             type.getElementType());
        auto unpack = linalg::UnPackOp::create(
            b, loc, arg, dest, ArrayRef<int64_t>{1},
            ArrayRef<OpFoldResult>{b.getIndexAttr(width)});
        arg.replaceAllUsesExcept(unpack.getResult(), unpack);
        func.setArgAttr(arg.getArgNumber(), kArgPackedPanelAttr,
                        b.getI64IntegerAttr(width));
        changed = true;
      }
      if (changed)
        func.setFunctionType(
            FunctionType::get(&getContext(), inputs, func.getResultTypes()));
    }
  }
};

} // namespace
