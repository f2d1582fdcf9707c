//===- MoEOps.h - moe dialect operations ------------------------*- C++ -*-===//
#ifndef MOEC_DIALECT_MOEOPS_H
#define MOEC_DIALECT_MOEOPS_H

#include "dialect/MoEDialect.h"

#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialect/MoEOps.h.inc"

#endif // MOEC_DIALECT_MOEOPS_H
