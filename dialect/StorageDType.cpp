//===- StorageDType.cpp - element types as the runtime stores them --------===//
#include "dialect/StorageDType.h"
#include "dialect/MoEDialect.h"

using namespace mlir;

std::optional<::moe::DType> mlir::moe::storageDType(Type t) {
  if (t.isF32())
    return ::moe::DType::F32;
  if (t.isBF16())
    return ::moe::DType::BF16;
  if (t.isF16())
    return ::moe::DType::F16;
  if (auto q = dyn_cast<QuantizedType>(t))
    return q.getFormat() == QuantFormat::q8_0 ? ::moe::DType::Q8_0
                                              : ::moe::DType::Q4_0;
  return std::nullopt;
}

std::optional<std::string> mlir::moe::storageDTypeName(Type t) {
  if (std::optional<::moe::DType> d = storageDType(t))
    return std::string(::moe::dtypeName(*d));
  return std::nullopt;
}
