//===- DType.h - element types the runtime binds ----------------*- C++ -*-===//
//
// f32, bf16 and f16 storage, with conversions to and from double (the
// reference evaluator's type). Narrowing rounds to nearest even.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_SUPPORT_DTYPE_H
#define MOEC_RUNTIME_SUPPORT_DTYPE_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace moe {

enum class DType { F32, BF16, F16 };

/// "f32", "bf16", "f16" (artifact metadata spelling).
const char *dtypeName(DType t);
std::optional<DType> parseDType(const std::string &name);
size_t dtypeSize(DType t);

double loadElement(DType t, const void *base, size_t index);
void storeElement(DType t, void *base, size_t index, double value);

uint16_t floatToBF16(float f);
float bf16ToFloat(uint16_t bits);
uint16_t doubleToHalf(double d);

} // namespace moe

#endif // MOEC_RUNTIME_SUPPORT_DTYPE_H
