//===- MoEDialect.cpp - moe dialect registration and parameters -----------===//
#include "dialect/MoEDialect.h"
#include "dialect/MoEOps.h"

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

void MoEDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/MoEOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/MoEAttrs.cpp.inc"
      >();
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
  printer << buffer;
  if (std::isfinite(value) && !std::strpbrk(buffer, ".e"))
    printer << ".0";
}
