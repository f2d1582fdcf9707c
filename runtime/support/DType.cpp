//===- DType.cpp - element types the runtime binds ------------------------===//
#include "runtime/support/DType.h"
#include "runtime/support/Npy.h"

#include <cstring>

using namespace moe;

const char *moe::dtypeName(DType t) {
  switch (t) {
  case DType::F32:
    return "f32";
  case DType::BF16:
    return "bf16";
  case DType::F16:
    return "f16";
  }
  return "?";
}

std::optional<DType> moe::parseDType(const std::string &name) {
  if (name == "f32")
    return DType::F32;
  if (name == "bf16")
    return DType::BF16;
  if (name == "f16")
    return DType::F16;
  return std::nullopt;
}

size_t moe::dtypeSize(DType t) { return t == DType::F32 ? 4 : 2; }

uint16_t moe::floatToBF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x007FFFFFu))
    return static_cast<uint16_t>((bits >> 16) | 0x40); // quiet NaN
  uint32_t rounding = 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

float moe::bf16ToFloat(uint16_t bits) {
  uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &wide, 4);
  return f;
}

uint16_t moe::doubleToHalf(double d) {
  _Float16 h = static_cast<_Float16>(d);
  uint16_t bits;
  std::memcpy(&bits, &h, 2);
  return bits;
}

double moe::loadElement(DType t, const void *base, size_t index) {
  const auto *p = static_cast<const unsigned char *>(base);
  switch (t) {
  case DType::F32: {
    float f;
    std::memcpy(&f, p + 4 * index, 4);
    return f;
  }
  case DType::BF16: {
    uint16_t b;
    std::memcpy(&b, p + 2 * index, 2);
    return bf16ToFloat(b);
  }
  case DType::F16: {
    uint16_t b;
    std::memcpy(&b, p + 2 * index, 2);
    return npy::halfToDouble(b);
  }
  }
  return 0.0;
}

void moe::storeElement(DType t, void *base, size_t index, double value) {
  auto *p = static_cast<unsigned char *>(base);
  switch (t) {
  case DType::F32: {
    float f = static_cast<float>(value);
    std::memcpy(p + 4 * index, &f, 4);
    return;
  }
  case DType::BF16: {
    uint16_t b = floatToBF16(static_cast<float>(value));
    std::memcpy(p + 2 * index, &b, 2);
    return;
  }
  case DType::F16: {
    uint16_t b = doubleToHalf(value);
    std::memcpy(p + 2 * index, &b, 2);
    return;
  }
  }
}
