//===- MoEVerifyUtils.h - shared shape checks of the moe ops ----*- C++ -*-===//
//
// The verifiers and the result-type inference of the moe ops share these, so
// that an op is rejected with the same numbered diagnostic whether it comes
// from the parser, a builder or a pass.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_DIALECT_MOEVERIFYUTILS_H
#define MOEC_DIALECT_MOEVERIFYUTILS_H

#include "dialect/MoEDialect.h"

#include "mlir/IR/Diagnostics.h"

#include <optional>
#include <string>

namespace mlir::moe {

/// Emits "'<op>' op (<tag>) <message>" at an optional location, the form
/// emitOpError gives, so inferred and verified ops read alike.
struct OpDiag {
  std::optional<Location> loc;
  StringRef opName;

  template <typename... Args>
  LogicalResult operator()(StringRef tag, Args &&...args) const {
    return emitOptionalError(loc, "'", opName, "' op (", tag, ") ",
                             std::forward<Args>(args)...);
  }
};

/// f32, bf16 or f16: the storage types the dialect computes with.
bool isStorageFloat(Type type);

/// A ranked tensor type of the given rank (any rank when -1), or null.
RankedTensorType getRankedTensor(Type type, int64_t rank = -1);

/// Two sizes agree when either is dynamic or both are equal.
bool isCompatibleDim(int64_t a, int64_t b);

/// `type` is a ranked tensor whose shape agrees with `expected` dimension
/// by dimension (ShapedType::kDynamic matches anything).
bool hasCompatibleShape(Type type, ArrayRef<int64_t> expected);

/// A size as the IR writes it: the number, or '?' when dynamic.
std::string dimStr(int64_t size);

/// The product of two sizes, dynamic if either is.
int64_t mulDims(int64_t a, int64_t b);

/// The devices of a shard.grid (the product of its shape), dynamic when a
/// size is dynamic or the product overflows.
int64_t gridDeviceCount(ArrayRef<int64_t> gridShape);

/// Checks `routing` against `numExperts` experts (possibly dynamic) and an
/// optional correction bias. The constraint tags to report are given by the
/// caller: moe.route and moe.layer number these checks differently.
struct RoutingTags {
  StringRef k, bias, biasOrder, groups;
};
LogicalResult verifyRoutingForExperts(const OpDiag &diag, RoutingAttr routing,
                                      int64_t numExperts, Value correctionBias,
                                      const RoutingTags &tags);

} // namespace mlir::moe

#endif // MOEC_DIALECT_MOEVERIFYUTILS_H
