//===- Int8PanelRules.cpp - what runs on the int8 panel kernel ------------===//
//
// The rules around the int8 panel kernel (Int8Panels.cpp): its row and
// panel blocks, which weights can be packed in int8 panels and which uses
// read them, which GEMM items run the kernel, and from how many rows
// repacking a weight per item pays. See ContractionKernel.h.
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/ContractionKernel.h"
#include "codegen/cpu/QuantizedWeights.h"
#include "dialect/MoEOps.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::moe;

/// The int8 rows' unit in halves: 4 blocks of 32 (int8RowsInHalves).
static constexpr int64_t kUnit = 128;

Int8PanelShape mlir::moe::int8PanelShape(const ContractionKernel &kernel,
                                         int64_t sums) {
  // Per (row, panel) an f32 accumulator and `sums` i32 ones; per panel a
  // weight vector and its scales; two for the broadcast row values and
  // scratch.
  Int8PanelShape shape;
  shape.panels = 2;
  shape.rows = std::clamp<int64_t>((kernel.registers - 2 * shape.panels - 2) /
                                       ((1 + sums) * shape.panels),
                                   1, kernel.rowBlock);
  return shape;
}

bool mlir::moe::int8PanelsTake(QuantizedType quant, int64_t k) {
  return quant && int8RowsInHalves(quant) && k % kUnit == 0;
}

std::optional<::moe::abi::Int8PanelLayout>
mlir::moe::int8PanelLayout(QuantizedType quant) {
  return ::moe::abi::Int8PanelLayout::forDType(
      stringifyQuantFormat(quant.getFormat()).str());
}

bool mlir::moe::int8PanelType(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  QuantizedType quant = getQuantizedElementType(type);
  if (!tensor || !quant || !tensor.hasStaticShape() ||
      (tensor.getRank() != 2 && tensor.getRank() != 3))
    return false;
  std::optional<::moe::abi::Int8PanelLayout> layout = int8PanelLayout(quant);
  // The kernel reads int8 rows in halves, in units of 4 blocks.
  int64_t k = tensor.getShape().back();
  return layout && k % kUnit == 0 && k % layout->recordValues() == 0;
}

bool mlir::moe::int8PanelUse(OpOperand &use) {
  auto mm = dyn_cast<GroupedMatmulOp>(use.getOwner());
  return mm && &use == &mm.getWeightMutable() && !mm.getUp() &&
         !mm.getActivationAttr() && !mm.getGateUpLayout();
}

bool mlir::moe::runsOnInt8Panels(const ContractionOperands &o,
                                 const ContractionKernel &kernel) {
  if (!o.int8.values || !o.quant || kernel.lanes != 16 || o.activation ||
      o.up || o.layout || o.scatterRows)
    return false;
  // The weight's own panels are for this kernel alone.
  if (o.int8Panels)
    return true;
  auto wType = cast<RankedTensorType>(o.w.getType());
  int64_t k = wType.getDimSize(1) / o.quant.getBlockBytes() *
              o.quant.getBlockElements();
  return int8PanelsTake(o.quant, k);
}

int64_t mlir::moe::int8PanelMinRows(QuantizedType quant) {
  // Vector instructions per 16 weight rows (one panel) and 128 values of
  // k (one unit): the row kernel takes 16 x (2 vpdpbusd, a conversion, a
  // scale product, an FMA) per input row, the panel kernel 4 blocks x (8
  // vpdpbusd and the same three); with mins one FMA more each per lane
  // group. Repacking them reads 16 units (int8Step, about 10 instructions
  // each), transposes two 16 x 16 lane matrices (4 x 16 shuffles each),
  // gathers the blocks' scales (24 shuffles, and 24 for the mins) and
  // writes 36 vectors (40 with mins). An item repacks once for all its
  // rows, so it pays from the row count where the rows' savings cover it.
  bool mins = int8HasMins(quant);
  int64_t rowKernel = 16 * (mins ? 6 : 5);
  int64_t panelKernel = 4 * (mins ? 12 : 11);
  int64_t repack = 16 * 10 + 2 * 64 + (mins ? 48 : 24) + (mins ? 40 : 36);
  int64_t saved = rowKernel - panelKernel;
  return (repack + saved - 1) / saved;
}
