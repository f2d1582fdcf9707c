//===- DType.h - element types the runtime binds ----------------*- C++ -*-===//
//
// f32, bf16 and f16 storage, with conversions to and from double (the
// reference evaluator's type). Narrowing rounds to nearest even.
//
// And ggml's block-quantized weights, bound as they lie in a GGUF file and
// read by the kernels without expanding them (docs/MoEDialect.md,
// "Quantized weights"). A row of K elements is K / 32 blocks of 32:
//
//   q8_0  34 bytes: an f16 scale d, then 32 int8 q;  w[j] = d * q[j]
//   q4_0  18 bytes: an f16 scale d, then 16 bytes qs; w[j] = d * (n - 8)
//         with n = qs[j] & 15 for j < 16, qs[j - 16] >> 4 for j >= 16
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_SUPPORT_DTYPE_H
#define MOEC_RUNTIME_SUPPORT_DTYPE_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace moe {

enum class DType { F32, BF16, F16, Q8_0, Q4_0 };

/// "f32", "bf16", "f16", "q8_0", "q4_0" (artifact metadata spelling).
const char *dtypeName(DType t);
std::optional<DType> parseDType(const std::string &name);
/// The bytes of one element of a float dtype (of a block's worth of
/// elements' share for a quantized one: use dtypeBytes for those).
size_t dtypeSize(DType t);

/// Whether `t` is block-quantized (q8_0, q4_0).
bool isBlockQuantized(DType t);
/// Elements per block (1 for the float dtypes, 32 for the quantized ones)
/// and bytes per block.
int64_t dtypeBlockElements(DType t);
int64_t dtypeBlockBytes(DType t);
/// The bytes of `elements` elements in rows of `rowElements` (whole blocks
/// for a quantized dtype: rowElements a multiple of the block); false on
/// overflow or a row of partial blocks.
bool dtypeBytes(DType t, uint64_t elements, uint64_t rowElements,
                uint64_t &bytes);
/// A row of `rowElements` elements in bytes (whole blocks assumed).
int64_t dtypeRowBytes(DType t, int64_t rowElements);

/// Element `index` of a row-major array of `t` (a quantized element
/// dequantized: `index` counts elements, whole blocks laid end to end).
double loadElement(DType t, const void *base, size_t index);
/// Stores into a float dtype; a quantized one is left unchanged.
void storeElement(DType t, void *base, size_t index, double value);

uint16_t floatToBF16(float f);
float bf16ToFloat(uint16_t bits);
uint16_t doubleToHalf(double d);

} // namespace moe

#endif // MOEC_RUNTIME_SUPPORT_DTYPE_H
