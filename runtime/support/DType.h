//===- DType.h - element types the runtime binds ----------------*- C++ -*-===//
//
// f32, bf16 and f16 storage, with conversions to and from double (the
// reference evaluator's type). Narrowing rounds to nearest even.
//
// And ggml's block-quantized weights, bound as they lie in a GGUF file and
// read by the kernels without expanding them (docs/MoEDialect.md, the
// !moe.quant type). A row of K elements is K / B blocks of B laid end to
// end; f16 values are little-endian:
//
//   q8_0  B = 32, 34 bytes: an f16 scale d, then 32 int8 q; w[j] = d q[j]
//   q4_0  B = 32, 18 bytes: an f16 scale d, then 16 bytes qs;
//         w[j] = d (n - 8), n = qs[j] & 15 (j < 16), qs[j - 16] >> 4
//   q4_k  B = 256, 144 bytes: f16 d, f16 dmin, 12 bytes of 6-bit scales
//         and mins, 128 bytes qs; w[j] = d sc[s] n - dmin m[s] for
//         sub-block s = j / 32, n the low nibble of qs[32 (j / 64) + j %
//         32] when j % 64 < 32, else its high nibble; sc[s], m[s] =
//         (b[s] & 63, b[s + 4] & 63) for s < 4, else ((b[s + 4] & 15) |
//         (b[s - 4] >> 6) << 4, (b[s + 4] >> 4) | (b[s] >> 6) << 4)
//   q5_k  B = 256, 176 bytes: as q4_k, with 32 bytes qh between the
//         scales and qs (qs from byte 48); n gains a fifth bit,
//         ((qh[j % 32] >> (j / 32)) & 1) << 4
//   q6_k  B = 256, 210 bytes: 128 bytes ql, 64 bytes qh, 16 int8 scales
//         sc, f16 d; w[j] = d sc[j / 16] (q - 32) with, for h = j / 128
//         and r = j % 128, q = the low (r < 64) or high nibble of ql[64 h +
//         r % 64] | ((qh[32 h + r % 32] >> 2 (r / 32)) & 3) << 4
//   q2_k  B = 256, 84 bytes: 16 bytes s of 4-bit scales and mins, 64
//         bytes qs, f16 d, f16 dmin; w[j] = d (s[t] & 15) n - dmin
//         (s[t] >> 4) for sub-block t = j / 16, n = (qs[32 (j / 128) + j %
//         32] >> 2 ((j % 128) / 32)) & 3
//   q3_k  B = 256, 110 bytes: 32 bytes hm, 64 bytes qs, 12 bytes s of
//         6-bit scales, f16 d; w[j] = d (sc[t] - 32) (n - 4) for t = j /
//         16, n = q2_k's n | ((hm[j % 32] >> (j / 32)) & 1) << 2, sc[t] =
//         (s[t % 8] >> 4 (t / 8)) & 15 | ((s[8 + t % 4] >> 2 (t / 4)) & 3)
//         << 4
//   iq4_nl B = 32, 18 bytes: an f16 scale d, then 16 bytes qs; w[j] =
//         d v[n], n as q4_0's, v = -127, -104, -83, -65, -49, -35, -22,
//         -10, 1, 13, 25, 38, 53, 69, 89, 113
//   iq4_xs B = 256, 136 bytes: f16 d, a 16-bit sh, 4 bytes sl, 128 bytes
//         qs; w[j] = d (ls[t] - 32) v[n] for t = j / 32, n the low (j % 32
//         < 16) or high nibble of qs[16 t + j % 16], ls[t] = (sl[t / 2] >>
//         4 (t % 2)) & 15 | ((sh >> 2 t) & 3) << 4
//   q4_1  B = 32, 20 bytes: f16 d, f16 m, then 16 bytes qs; w[j] = d n +
//         m, n = qs[j] & 15 (j < 16), qs[j - 16] >> 4
//   q5_0  B = 32, 22 bytes: f16 d, 4 bytes qh (a little-endian u32), 16
//         bytes qs; w[j] = d (n - 16), n = (qs[j] & 15 (j < 16),
//         qs[j - 16] >> 4) | ((qh >> j) & 1) << 4
//   q5_1  B = 32, 24 bytes: f16 d, f16 m, 4 bytes qh, 16 bytes qs;
//         w[j] = d n + m, n as q5_0's
//   iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s, iq1_s, iq1_m  B = 256, 66,
//         74, 82, 98, 110, 50 and 56 bytes: ggml's i-quants, groups of 8
//         values from a codebook (IQGrids.h) with a scale per 16 or 32,
//         signs per group; their layouts are docs/MoEDialect.md's
//   mxfp4 B = 32, 17 bytes: an e8m0 exponent e, then 16 bytes qs of
//         e2m1 values (OCP microscaling); w[j] = v[n] 2^(e - 128), n =
//         qs[j] & 15 (j < 16), qs[j - 16] >> 4, v = 0, 1, 2, 3, 4, 6, 8,
//         12, -0, -1, -2, -3, -4, -6, -8, -12 (the e2m1 values doubled);
//         2^(e - 128) is the f32 0x00200000 << e for e < 2
//
// Block sizes are ggml's (runtime/support/Gguf.h, gguf::typeTraits).
//
// And formats of moec's own, unsigned codes with a zero point and an
// f32 scale per block of 16, 32 or 128 (ONNX Runtime QMoE's 8-, 4- and 2-bit
// weights, assembled into blocks when imported; f32 values little-endian):
//
//   u8z   B = 32, 37 bytes: an f32 scale d, a zero point z, then 32
//         bytes q; w[j] = d (q[j] - z)
//   u4z   B = 32, 21 bytes: an f32 scale d, a zero point z, then 16
//         bytes qs; w[j] = d (n - z), n = qs[j] & 15 (j < 16),
//         qs[j - 16] >> 4
//   u8z128  B = 128, 133 bytes: as u8z, 128 bytes q
//   u4z128  B = 128, 69 bytes: an f32 scale d, a zero point z, then 64
//         bytes qs; w[j] = d (n - z), n the low nibble of qs[32 (j / 64)
//         + j % 32] when j % 64 < 32, else its high nibble (as q4_k)
//   u2z   B = 32, 13 bytes: an f32 scale d, a zero point z, then 8 bytes
//         qs; w[j] = d (n - z), n = (qs[j % 8] >> 2 (j / 8)) & 3
//   u2z128  B = 128, 37 bytes: an f32 scale d, a zero point z, then 32
//         bytes qs; w[j] = d (n - z), n = (qs[16 (j / 64) + j % 16] >>
//         2 ((j % 64) / 16)) & 3
//   u8z16 B = 16, 21 bytes: as u8z, 16 bytes q
//   u4z16 B = 16, 13 bytes: an f32 scale d, a zero point z, then 8 bytes
//         qs; w[j] = d (n - z), n = qs[j] & 15 (j < 8), qs[j - 8] >> 4
//   u2z16 B = 16, 9 bytes: an f32 scale d, a zero point z, then 4 bytes
//         qs; w[j] = d (n - z), n = (qs[j % 4] >> 2 (j / 4)) & 3
//
// And FP8 with a block scale (DeepSeek-V3's 128 x 128 weight_scale_inv,
// one f32 per 128 weights of a row, assembled into blocks when bound):
//
//   fp8_e4m3  B = 128, 132 bytes: an f32 scale d, then 128 e4m3fn bytes
//         q; w[j] = d e4m3(q[j]), e4m3(x) = (-1)^s 2^(e - 7) (1 + m / 8)
//         for bits s eeee mmm, e > 0, and (-1)^s 2^-6 m / 8 for e = 0;
//         0x7F and 0xFF are NaN
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_SUPPORT_DTYPE_H
#define MOEC_RUNTIME_SUPPORT_DTYPE_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moe {

enum class DType {
  F32,
  BF16,
  F16,
  Q8_0,
  Q4_0,
  Q4_K,
  Q6_K,
  MXFP4,
  U8Z,
  U4Z,
  FP8_E4M3,
  U8Z128,
  U4Z128,
  U2Z,
  U2Z128,
  U8Z16,
  U4Z16,
  U2Z16,
  Q4_1,
  Q5_0,
  Q5_1,
  Q5_K,
  Q2_K,
  Q3_K,
  IQ4_NL,
  IQ4_XS,
  IQ2_XXS,
  IQ2_XS,
  IQ2_S,
  IQ3_XXS,
  IQ3_S,
  IQ1_S,
  IQ1_M
};

/// "f32", "bf16", "f16", "q8_0", "q4_0", "q4_k", "q6_k", "mxfp4", "u8z",
/// "u4z", "fp8_e4m3", "u8z128", "u4z128", "u2z", "u2z128", "u8z16",
/// "u4z16", "u2z16", "q4_1", "q5_0", "q5_1", "q5_k", "q2_k", "q3_k",
/// "iq4_nl", "iq4_xs", "iq2_xxs", "iq2_xs", "iq2_s", "iq3_xxs", "iq3_s",
/// "iq1_s", "iq1_m" (artifact metadata spelling).
const char *dtypeName(DType t);
std::optional<DType> parseDType(const std::string &name);
/// The dtype of a tensor stored as `name` in a weights file: safetensors'
/// "F32", "BF16", "F16", or ggml's name of a block-quantized type a GGUF
/// file holds ("Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K",
/// "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS", "IQ2_XXS", "IQ2_XS",
/// "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ1_S", "IQ1_M", "MXFP4"); none for the
/// others (moec's zero-point formats and fp8_e4m3 are stored as
/// their bytes, U8, or fp8_e4m3 as F8_E4M3 values with their block scales
/// apart).
std::optional<DType> dtypeFromStorageName(const std::string &name);
/// The bytes of one element of a float dtype; 1 for a quantized one,
/// whose storage is counted in bytes (a row of dtypeRowBytes).
size_t dtypeSize(DType t);

/// Whether `t` is block-quantized (q8_0, q4_0, q4_1, q5_0, q5_1, q2_k,
/// q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs, the 1- to 3-bit i-quants,
/// mxfp4, u8z, u4z, u2z, u8z128,
/// u4z128, u2z128, u8z16, u4z16, u2z16, fp8_e4m3).
bool isBlockQuantized(DType t);
/// Elements per block (1 for the float dtypes, 16 to 256 for the
/// quantized ones) and bytes per block.
int64_t dtypeBlockElements(DType t);
int64_t dtypeBlockBytes(DType t);
/// The bytes of `elements` elements in rows of `rowElements` (whole blocks
/// for a quantized dtype: rowElements a multiple of the block); false on
/// overflow or a row of partial blocks.
bool dtypeBytes(DType t, uint64_t elements, uint64_t rowElements,
                uint64_t &bytes);
/// A row of `rowElements` elements in bytes (whole blocks assumed).
int64_t dtypeRowBytes(DType t, int64_t rowElements);
/// The shape of a U8 tensor holding a block-quantized weight of `shape` as
/// its bytes: the last dimension in bytes (dtypeRowBytes); none for a float
/// dtype, a scalar, or a last dimension of partial blocks. Weights files
/// store moec's zero-point formats (u8z, u4z, u2z and their blocks of 128
/// and 16) so (safetensors has no block dtypes).
std::optional<std::vector<int64_t>>
blockBytesShape(DType t, const std::vector<int64_t> &shape);

/// Element `index` of a row-major array of `t` (a quantized element
/// dequantized: `index` counts elements, whole blocks laid end to end).
double loadElement(DType t, const void *base, size_t index);
/// Element `j` (< 256) of the i-quant (iq2_xxs, iq2_xs, iq2_s, iq3_xxs,
/// iq3_s, iq1_s, iq1_m) block at `block`; 0 for another dtype.
double iqElement(DType t, const unsigned char *block, size_t j);
/// Stores into a float dtype; a quantized one is left unchanged.
void storeElement(DType t, void *base, size_t index, double value);

/// The value of the e4m3fn byte `q` (NaN for 0x7F and 0xFF).
float e4m3ToFloat(uint8_t q);

/// Assembles `blocks` mxfp4 blocks from the OCP layout transformers stores
/// gpt-oss's experts in: `codes` 16 bytes per block, element 2i in the low
/// nibble of byte i and 2i + 1 in the high one, and `scales` one e8m0
/// exponent per block. Writes 17 bytes per block to `out`, which holds the
/// same values (w[j] = e2m1[j] 2^(e - 127)).
void mxfp4FromOcp(const uint8_t *codes, const uint8_t *scales, size_t blocks,
                  uint8_t *out);

uint16_t floatToBF16(float f);
float bf16ToFloat(uint16_t bits);
uint16_t doubleToHalf(double d);

} // namespace moe

#endif // MOEC_RUNTIME_SUPPORT_DTYPE_H
