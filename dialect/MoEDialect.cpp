//===- MoEDialect.cpp - moe dialect registration and parameters -----------===//
#include "dialect/MoEDialect.h"
#include "dialect/MoEOps.h"
#include "dialect/MoEVerifyUtils.h"
#include "dialect/StorageDType.h"

#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace mlir;
using namespace mlir::moe;

#include "dialect/MoEDialect.cpp.inc"
#include "dialect/MoEEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/MoEAttrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "dialect/MoETypes.cpp.inc"

void MoEDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/MoEOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/MoEAttrs.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialect/MoETypes.cpp.inc"
      >();
}

int64_t QuantizedType::getBlockElements() const {
  return ::moe::dtypeBlockElements(*storageDType(*this));
}

int64_t QuantizedType::getBlockBytes() const {
  return ::moe::dtypeBlockBytes(*storageDType(*this));
}

int64_t QuantizedType::getRowBytes(int64_t elements) const {
  return elements / getBlockElements() * getBlockBytes();
}

QuantizedType mlir::moe::getQuantizedElementType(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor ? dyn_cast<QuantizedType>(tensor.getElementType())
                : QuantizedType();
}

bool mlir::moe::isQuantizableLayerOperand(llvm::StringRef name) {
  return llvm::is_contained({"gate", "up", "gate_up", "down", "shared_gate",
                             "shared_up", "shared_gate_up", "shared_down"},
                            name);
}

// The plan of moe-plan-expert-parallelism sits on a moe.layer: it places
// that layer's experts on the ranks of an existing grid of as many devices.
LogicalResult MoEDialect::verifyOperationAttribute(Operation *op,
                                                   NamedAttribute attr) {
  if (attr.getName() != kExpertPlacementAttrName)
    return success();
  auto layer = dyn_cast<LayerOp>(op);
  if (!layer)
    return op->emitError("'")
           << kExpertPlacementAttrName << "' belongs on a moe.layer";
  auto plan = dyn_cast<ExpertPlacementAttr>(attr.getValue());
  if (!plan)
    return op->emitError("'")
           << kExpertPlacementAttrName << "' must be a #moe.expert_placement";
  int64_t experts = layer.getNumExperts();
  if (!ShapedType::isDynamic(experts) && experts != plan.getNumExperts())
    return op->emitError("expert placement for ")
           << plan.getNumExperts() << " experts on a layer of " << experts;
  auto grid =
      SymbolTable::lookupNearestSymbolFrom<shard::GridOp>(op, plan.getGrid());
  if (!grid)
    return op->emitError("expert placement on ")
           << plan.getGrid() << ", which is not a shard.grid";
  int64_t devices = gridDeviceCount(grid.getShape());
  if (devices != plan.getNumRanks())
    return op->emitError("expert placement on ")
           << plan.getNumRanks() << " ranks, but grid " << plan.getGrid()
           << " has "
           << (ShapedType::isDynamic(devices) ? std::string("a dynamic number")
                                              : std::to_string(devices))
           << " of devices";
  return success();
}

LogicalResult MoEDialect::verifyRegionArgAttribute(Operation *op,
                                                   unsigned regionIndex,
                                                   unsigned argIndex,
                                                   NamedAttribute attr) {
  if (attr.getName() != kArgExpertSlotsAttr)
    return success();
  auto plan = dyn_cast<ExpertPlacementAttr>(attr.getValue());
  if (!plan)
    return op->emitError("'")
           << kArgExpertSlotsAttr << "' must be a #moe.expert_placement";
  Type type = op->getRegion(regionIndex).getArgument(argIndex).getType();
  auto ranked = dyn_cast<RankedTensorType>(type);
  // Float panels (moe-pack-weights) put the experts where their layout
  // says (runtime/abi/PanelLayout.h); int8 panels keep them leading.
  bool panels = false;
  if (auto fn = dyn_cast<FunctionOpInterface>(op))
    panels = static_cast<bool>(fn.getArgAttr(argIndex, kArgPackedPanelAttr));
  if (!ranked || ranked.getRank() < 2 ||
      (!panels && ranked.getDimSize(0) != plan.getSlotsPerRank()))
    return op->emitError("'")
           << kArgExpertSlotsAttr << "' on argument " << argIndex
           << " needs a tensor of rank >= 2 with the placement's "
           << plan.getSlotsPerRank() << " slots per rank leading, got " << type;
  return success();
}

FailureOr<llvm::APFloat> params::parseF64(AsmParser &parser) {
  double value;
  if (parser.parseFloat(value))
    return failure();
  return llvm::APFloat(value);
}

FailureOr<std::optional<llvm::APFloat>>
params::parseOptionalF64(AsmParser &parser) {
  FailureOr<llvm::APFloat> value = parseF64(parser);
  if (failed(value))
    return failure();
  return std::optional<llvm::APFloat>(*value);
}

FailureOr<SmallVector<int64_t>> params::parseI64List(AsmParser &parser) {
  SmallVector<int64_t> values;
  if (parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, [&] {
        return parser.parseInteger(values.emplace_back());
      }))
    return failure();
  return values;
}

void params::printI64List(AsmPrinter &printer, ArrayRef<int64_t> values) {
  printer << '[';
  llvm::interleaveComma(values, printer);
  printer << ']';
}

FailureOr<bool> params::parseBool(AsmParser &parser) {
  if (succeeded(parser.parseOptionalKeyword("true")))
    return true;
  if (succeeded(parser.parseOptionalKeyword("false")))
    return false;
  return parser.emitError(parser.getCurrentLocation(),
                          "expected 'true' or 'false'");
}

// Prints the shortest decimal that reads back as the same double, always
// with a '.' or an exponent so that it reads as a float.
void params::printF64(AsmPrinter &printer, const llvm::APFloat &apValue) {
  double value = apValue.convertToDouble();
  char buffer[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value)
      break;
  }
  // MLIR's lexer reads a float only with a '.': "2.0", "1.0e-06".
  std::string text = buffer;
  if (std::isfinite(value) && text.find('.') == std::string::npos) {
    size_t e = text.find('e');
    text.insert(e == std::string::npos ? text.size() : e, ".0");
  }
  printer << text;
}
