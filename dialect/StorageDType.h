//===- StorageDType.h - element types as the runtime stores them -*- C++
//-*-===//
//
// The one mapping between MLIR float types and the dtypes artifacts and the
// runtime speak (runtime/support/DType.h: f32, bf16, f16, and the
// !moe.quant formats q8_0, q4_0, q4_k, q6_k, mxfp4), for everything
// that writes a dtype name: artifact metadata, importers, diagnostics.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_DIALECT_STORAGEDTYPE_H
#define MOEC_DIALECT_STORAGEDTYPE_H

#include "runtime/support/DType.h"

#include "mlir/IR/Types.h"

#include <optional>
#include <string>

namespace mlir::moe {

/// The runtime dtype of element type `t`, or none (f64, integers, ...).
std::optional<::moe::DType> storageDType(Type t);

/// The element type of runtime dtype `t` (the inverse of storageDType).
Type storageElementType(MLIRContext *ctx, ::moe::DType t);

/// Its name as artifacts spell it ("f32", "bf16", "f16", "q8_0", ...), or
/// none.
std::optional<std::string> storageDTypeName(Type t);

} // namespace mlir::moe

#endif // MOEC_DIALECT_STORAGEDTYPE_H
