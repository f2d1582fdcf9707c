//===- PackWeights.cpp - the moe-pack-weights pass ------------------------===//
//
// Public functions take qualifying GEMM weights as packed panels and
// unpack them with linalg.unpack, which the grouped GEMM lowering folds
// away (see Passes.td).
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/ContractionKernel.h"
#include "codegen/cpu/CpuTarget.h"
#include "codegen/cpu/PanelKernel.h"
#include "codegen/cpu/Passes.h"
#include "dialect/MoEOps.h"
#include "runtime/abi/PanelLayout.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEPACKWEIGHTS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

/// Whether `use` is the weight, or the up weight, of a grouped GEMM the
/// panel kernel runs (runsOnPanels; its rows may be read through a
/// dispatch's indices, moe-fuse-dispatch), with offsets exactly when
/// `grouped`.
bool panelUse(OpOperand &use, bool grouped) {
  auto mm = dyn_cast<GroupedMatmulOp>(use.getOwner());
  if (!mm || bool(mm.getOffsets()) != grouped || !runsOnPanels(mm))
    return false;
  // (A float argument is never the offsets or the gather indices.)
  if (use.get() == mm.getInput() || use.get() == mm.getBias() ||
      use.get() == mm.getUpBias())
    return false;
  return &use == &mm.getWeightMutable() ||
         (mm.getUp() && &use == &mm.getUpMutable()[0]);
}

/// Whether every use of `arg` is a weight the panel kernel reads
/// (panelUse): [E, N, K] with offsets, or [N, K] without (a dense one).
bool packable(BlockArgument arg) {
  auto type = dyn_cast<RankedTensorType>(arg.getType());
  if (!type || (type.getRank() != 2 && type.getRank() != 3) ||
      !type.hasStaticShape() || arg.use_empty())
    return false;
  Type elt = type.getElementType();
  if (!elt.isF32() && !elt.isF16() && !elt.isBF16())
    return false;
  bool grouped = type.getRank() == 3;
  return llvm::all_of(arg.getUses(),
                      [&](OpOperand &use) { return panelUse(use, grouped); });
}

/// Whether `arg` of `func` can be taken in int8 panels (int8PanelType: a
/// weight of a dtype with an Int8PanelLayout, Int8PanelLayout::dtypeList,
/// with k a multiple of 128), is bound as the file holds it (not
/// an mxfp4 weight assembled from OCP codes and scales), and every use is one
/// the int8 panel kernel reads (int8PanelUse).
bool int8Packable(func::FuncOp func, BlockArgument arg) {
  return int8PanelType(arg.getType()) && !arg.use_empty() &&
         !func.getArgAttr(arg.getArgNumber(), kArgMxScalesAttr) &&
         llvm::all_of(arg.getUses(), int8PanelUse);
}

struct MoEPackWeightsPass
    : mlir::moe::impl::MoEPackWeightsBase<MoEPackWeightsPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (panelWidth < 0) {
      emitError(module.getLoc())
          << "moe-pack-weights: panel-width must be positive (or 0: from "
             "the target description), not "
          << panelWidth.getValue();
      return signalPassFailure();
    }
    if (slices < 0) {
      emitError(module.getLoc())
          << "moe-pack-weights: slices must be positive (or 0: from the "
             "target description), not "
          << slices.getValue();
      return signalPassFailure();
    }
    // What is not given comes from the target description.
    int64_t panelCols = panelWidth, sliceCount = slices;
    if (panelCols == 0 || sliceCount == 0) {
      FailureOr<CpuTargetDescription> target =
          getCpuTarget(module, "moe-pack-weights");
      if (failed(target))
        return signalPassFailure();
      if (panelCols == 0)
        panelCols = panelWidthFor(*target);
      if (sliceCount == 0)
        sliceCount = defaultPanelSlices(*target);
    }
    if (panelCols % sliceCount) {
      emitError(module.getLoc())
          << "moe-pack-weights: slices must divide the panel width "
          << panelCols << ", not " << sliceCount;
      return signalPassFailure();
    }
    Builder b0(&getContext());
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal() || !func.isPublic() ||
          !SymbolTable::symbolKnownUseEmpty(func, module))
        continue;
      Block &entry = func.getBody().front();
      SmallVector<Type> inputs(func.getArgumentTypes());
      bool changed = false;
      llvm::SmallDenseSet<Value> pack;
      for (BlockArgument arg : entry.getArguments()) {
        if (packable(arg))
          pack.insert(arg);
        // Quantized weights keep their type: convert-moe-to-cpu-kernels
        // retypes them to their bytes, here to the panels' bytes.
        if (int8Dot && int8Packable(func, arg))
          func.setArgAttr(arg.getArgNumber(), kArgInt8PanelsAttr,
                          b0.getUnitAttr());
      }
      // The gate and up weights of one GEMM are packed together or not at
      // all: the panel kernel runs the pair or neither.
      for (bool again = true; again;) {
        again = false;
        func.walk([&](GroupedMatmulOp mm) {
          if (!mm.getUp() || mm.getGateUpLayout())
            return;
          bool gate = pack.contains(mm.getWeight());
          if (gate != pack.contains(mm.getUp())) {
            pack.erase(gate ? mm.getWeight() : mm.getUp());
            again = true;
          }
        });
      }
      for (BlockArgument arg : entry.getArguments()) {
        if (!pack.contains(arg))
          continue;
        auto type = cast<RankedTensorType>(arg.getType());
        // [.., N, K] -> [.., ceil(N / NB), K, NB]; with bf16 dot products,
        // experts' [E, N, K] -> [E, ceil(N / NB), K / 2, NB, 2]. With S
        // slices (N a multiple of NB), panels of NB / S columns, slice
        // first: [S, .., N / NB, K, NB / S], unpacked into [.., S, N / S,
        // K] and collapsed.
        int64_t nDim = type.getRank() - 2;
        int64_t n = type.getDimSize(nDim);
        int64_t argSlices =
            sliceCount > 1 && n % panelCols == 0 ? sliceCount : 1;
        int64_t width = panelCols / argSlices;
        bool pairs = bf16Dot && type.getElementType().isBF16() &&
                     type.getRank() == 3 && type.getDimSize(2) % 2 == 0;
        SmallVector<int64_t> unpacked(type.getShape());
        int64_t tiled = nDim;
        if (argSlices > 1) {
          unpacked[nDim] = n / argSlices;
          unpacked.insert(unpacked.begin() + nDim, argSlices);
          tiled = nDim + 1;
        }
        SmallVector<int64_t> innerPos = {tiled};
        SmallVector<OpFoldResult> innerTiles = {b0.getIndexAttr(width)};
        if (pairs) {
          innerPos.push_back(tiled + 1);
          innerTiles.push_back(b0.getIndexAttr(2));
        }
        // The slices outermost: [S, E, ..] for experts' weights.
        SmallVector<int64_t> perm;
        if (argSlices > 1 && nDim == 1)
          perm = {1, 0, 2, 3};
        // The packed type is the runtime's layout (docs/Artifact.md), of
        // one definition with the runtime's packing.
        ::moe::abi::PanelLayout layout{width, pairs ? 2 : 1, argSlices};
        std::vector<int64_t> weightShape(type.getShape().begin(),
                                         type.getShape().end());
        assert(layout.validate(weightShape).empty() && "a valid layout");
        std::vector<int64_t> packed = layout.packedShape(weightShape);
        SmallVector<int64_t> shape(packed.begin(), packed.end());
        auto packedType = RankedTensorType::get(shape, type.getElementType());
        arg.setType(packedType);
        inputs[arg.getArgNumber()] = packedType;
        OpBuilder b = OpBuilder::atBlockBegin(&entry);
        Location loc = arg.getLoc();
        Value dest =
            tensor::EmptyOp::create(b, loc, unpacked, type.getElementType());
        Operation *unpack = linalg::UnPackOp::create(
            b, loc, arg, dest, innerPos, innerTiles, perm);
        Operation *last = unpack;
        if (argSlices > 1) {
          SmallVector<ReassociationIndices> groups;
          for (int64_t d = 0; d < type.getRank(); ++d)
            groups.push_back(d == nDim
                                 ? ReassociationIndices{d, d + 1}
                                 : ReassociationIndices{d < nDim ? d : d + 1});
          last = tensor::CollapseShapeOp::create(b, loc, type,
                                                 unpack->getResult(0), groups);
        }
        arg.replaceAllUsesExcept(last->getResult(0), unpack);
        func.setArgAttr(arg.getArgNumber(), kArgPackedPanelAttr,
                        b.getI64IntegerAttr(width));
        if (pairs)
          func.setArgAttr(arg.getArgNumber(), kArgPackedKGroupAttr,
                          b.getI64IntegerAttr(2));
        if (argSlices > 1)
          func.setArgAttr(arg.getArgNumber(), kArgPackedSlicesAttr,
                          b.getI64IntegerAttr(argSlices));
        changed = true;
      }
      if (changed)
        func.setFunctionType(
            FunctionType::get(&getContext(), inputs, func.getResultTypes()));
    }
  }
};

} // namespace
