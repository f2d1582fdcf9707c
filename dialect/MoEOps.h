//===- MoEOps.h - moe dialect operations ------------------------*- C++ -*-===//
#ifndef MOEC_DIALECT_MOEOPS_H
#define MOEC_DIALECT_MOEOPS_H

#include "dialect/MoEDialect.h"

#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialect/MoEOps.h.inc"

namespace mlir::moe {
/// The bounds of moe.record_routing (its (C2)): the runtime counts up to
/// 2^20 experts per site, and site numbers fit in 31 bits.
inline constexpr int64_t kMaxRecordedExperts = int64_t(1) << 20;
inline constexpr int64_t kMaxRoutingSite = (int64_t(1) << 31) - 1;
} // namespace mlir::moe

#endif // MOEC_DIALECT_MOEOPS_H
