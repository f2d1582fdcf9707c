//===- DType.cpp - element types the runtime binds ------------------------===//
#include "runtime/support/DType.h"
#include "runtime/support/Gguf.h"
#include "runtime/support/IQGrids.h"
#include "runtime/support/Npy.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace moe;

namespace {

/// A dtype's names and its ggml type id, whose block sizes it takes; or,
/// for moec's own formats (no storage name, no ggml type), its block
/// sizes.
struct DTypeInfo {
  DType type;
  const char *name;        // artifact metadata
  const char *storageName; // safetensors, or ggml's name in a GGUF file
  uint32_t ggmlType;
  int64_t blockElements = 0, blockBytes = 0; // without a ggml type
};

constexpr uint32_t kNoGgmlType = ~0u;

constexpr DTypeInfo kDTypes[] = {
    {DType::F32, "f32", "F32", 0},
    {DType::BF16, "bf16", "BF16", 30},
    {DType::F16, "f16", "F16", 1},
    {DType::Q8_0, "q8_0", "Q8_0", 8},
    {DType::Q4_0, "q4_0", "Q4_0", 2},
    {DType::Q4_K, "q4_k", "Q4_K", 12},
    {DType::Q6_K, "q6_k", "Q6_K", 14},
    {DType::MXFP4, "mxfp4", "MXFP4", 39},
    {DType::U8Z, "u8z", nullptr, kNoGgmlType, 32, 37},
    {DType::U4Z, "u4z", nullptr, kNoGgmlType, 32, 21},
    {DType::FP8_E4M3, "fp8_e4m3", nullptr, kNoGgmlType, 128, 132},
    {DType::U8Z128, "u8z128", nullptr, kNoGgmlType, 128, 133},
    {DType::U4Z128, "u4z128", nullptr, kNoGgmlType, 128, 69},
    {DType::U2Z, "u2z", nullptr, kNoGgmlType, 32, 13},
    {DType::U2Z128, "u2z128", nullptr, kNoGgmlType, 128, 37},
    {DType::U8Z16, "u8z16", nullptr, kNoGgmlType, 16, 21},
    {DType::U4Z16, "u4z16", nullptr, kNoGgmlType, 16, 13},
    {DType::U2Z16, "u2z16", nullptr, kNoGgmlType, 16, 9},
    {DType::Q4_1, "q4_1", "Q4_1", 3},
    {DType::Q5_0, "q5_0", "Q5_0", 6},
    {DType::Q5_1, "q5_1", "Q5_1", 7},
    {DType::Q5_K, "q5_k", "Q5_K", 13},
    {DType::Q2_K, "q2_k", "Q2_K", 10},
    {DType::Q3_K, "q3_k", "Q3_K", 11},
    {DType::IQ4_NL, "iq4_nl", "IQ4_NL", 20},
    {DType::IQ4_XS, "iq4_xs", "IQ4_XS", 23},
    {DType::IQ2_XXS, "iq2_xxs", "IQ2_XXS", 16},
    {DType::IQ2_XS, "iq2_xs", "IQ2_XS", 17},
    {DType::IQ2_S, "iq2_s", "IQ2_S", 22},
    {DType::IQ3_XXS, "iq3_xxs", "IQ3_XXS", 18},
    {DType::IQ3_S, "iq3_s", "IQ3_S", 21},
    {DType::IQ1_S, "iq1_s", "IQ1_S", 19},
    {DType::IQ1_M, "iq1_m", "IQ1_M", 29},
};

// Indexed by DType (the reference evaluator asks per element).
constexpr bool inEnumOrder() {
  for (size_t i = 0; i < sizeof(kDTypes) / sizeof(kDTypes[0]); ++i)
    if (static_cast<size_t>(kDTypes[i].type) != i)
      return false;
  return true;
}
static_assert(inEnumOrder(), "kDTypes lists the dtypes in DType's order");

const DTypeInfo &info(DType t) { return kDTypes[static_cast<size_t>(t)]; }

/// Elements and bytes per block (1 and the element size for the float
/// dtypes).
gguf::TypeTraits traits(DType t) {
  const DTypeInfo &i = info(t);
  if (i.ggmlType == kNoGgmlType)
    return {i.name, i.blockElements, i.blockBytes};
  return *gguf::typeTraits(i.ggmlType);
}

} // namespace

const char *moe::dtypeName(DType t) { return info(t).name; }

std::optional<DType> moe::parseDType(const std::string &name) {
  for (const DTypeInfo &i : kDTypes)
    if (name == i.name)
      return i.type;
  return std::nullopt;
}

std::optional<DType> moe::dtypeFromStorageName(const std::string &name) {
  for (const DTypeInfo &i : kDTypes)
    if (i.storageName && name == i.storageName)
      return i.type;
  return std::nullopt;
}

size_t moe::dtypeSize(DType t) {
  return isBlockQuantized(t) ? 1 : static_cast<size_t>(traits(t).blockBytes);
}

bool moe::isBlockQuantized(DType t) { return traits(t).blockElements > 1; }

int64_t moe::dtypeBlockElements(DType t) { return traits(t).blockElements; }

int64_t moe::dtypeBlockBytes(DType t) { return traits(t).blockBytes; }

bool moe::dtypeBytes(DType t, uint64_t elements, uint64_t rowElements,
                     uint64_t &bytes) {
  auto block = static_cast<uint64_t>(dtypeBlockElements(t));
  if (rowElements % block != 0 || elements % block != 0)
    return false;
  return !__builtin_mul_overflow(
      elements / block, static_cast<uint64_t>(dtypeBlockBytes(t)), &bytes);
}

int64_t moe::dtypeRowBytes(DType t, int64_t rowElements) {
  return rowElements / dtypeBlockElements(t) * dtypeBlockBytes(t);
}

std::optional<std::vector<int64_t>>
moe::blockBytesShape(DType t, const std::vector<int64_t> &shape) {
  if (!isBlockQuantized(t) || shape.empty() || shape.back() < 0 ||
      shape.back() % dtypeBlockElements(t) != 0)
    return std::nullopt;
  std::vector<int64_t> bytes = shape;
  bytes.back() = dtypeRowBytes(t, shape.back());
  return bytes;
}

float moe::e4m3ToFloat(uint8_t q) {
  int e = (q >> 3) & 15, m = q & 7;
  if (e == 15 && m == 7)
    return std::numeric_limits<float>::quiet_NaN();
  float v = e ? std::ldexp(1.0f + m / 8.0f, e - 7) : std::ldexp(m / 8.0f, -6);
  return q & 0x80 ? -v : v;
}

void moe::mxfp4FromOcp(const uint8_t *codes, const uint8_t *scales,
                       size_t blocks, uint8_t *out) {
  for (size_t b = 0; b < blocks; ++b, codes += 16, out += 17) {
    out[0] = scales[b];
    // ggml's byte j holds elements j and j + 16, which the OCP layout
    // keeps in the nibbles of bytes j / 2 and 8 + j / 2.
    for (int j = 0; j < 16; ++j) {
      int lo = (codes[j / 2] >> (4 * (j & 1))) & 15;
      int hi = (codes[8 + j / 2] >> (4 * (j & 1))) & 15;
      out[1 + j] = static_cast<uint8_t>(lo | hi << 4);
    }
  }
}

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

/// The little-endian 16- and 32-bit integers at `p`.
static uint32_t u16At(const unsigned char *p) { return p[0] | p[1] << 8; }
static uint32_t u32At(const unsigned char *p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

/// Value k of codebook entry `entry` (bytes little-endian; iq1's signed).
static int gridValue(uint64_t entry, size_t k, bool isSigned) {
  auto byte = static_cast<uint8_t>(entry >> (8 * k));
  return isSigned ? static_cast<int8_t>(byte) : byte;
}

/// -1 where bit k of the sign byte of the 7-bit `s` (bit 7 its parity)
/// is set, else 1.
static int paritySign(uint32_t s, size_t k) {
  uint32_t bits = s | (__builtin_popcount(s) & 1u) << 7;
  return (bits >> k) & 1 ? -1 : 1;
}

/// Element j of the i-quant block at `b` (docs/MoEDialect.md).
double moe::iqElement(DType t, const unsigned char *b, size_t j) {
  size_t g = j / 8, k = j % 8, ib = j / 32, l = g % 4;
  auto d = [&] { return npy::halfToDouble(static_cast<uint16_t>(u16At(b))); };
  switch (t) {
  case DType::IQ2_XXS: {
    uint32_t a = u32At(b + 6 + 8 * ib);
    return d() * (2 * (a >> 28) + 1) / 8 *
           gridValue(iq::kIq2xxsGrid[b[2 + 8 * ib + l]], k, false) *
           paritySign((a >> (7 * l)) & 127, k);
  }
  case DType::IQ2_XS: {
    uint32_t q = u16At(b + 2 + 2 * g);
    uint32_t c = (b[66 + ib] >> (4 * (l / 2))) & 15;
    return d() * (2 * c + 1) / 8 *
           gridValue(iq::kIq2xsGrid[q & 511], k, false) * paritySign(q >> 9, k);
  }
  case DType::IQ2_S: {
    uint32_t c = (b[74 + ib] >> (4 * (l / 2))) & 15;
    uint32_t code = b[2 + g] | ((b[66 + ib] >> (2 * l)) & 3) << 8;
    return d() * (2 * c + 1) / 8 * gridValue(iq::kIq2sGrid[code], k, false) *
           ((b[34 + g] >> k) & 1 ? -1 : 1);
  }
  case DType::IQ3_XXS: {
    uint32_t a = u32At(b + 66 + 4 * ib);
    return d() * (2 * (a >> 28) + 1) / 4 *
           gridValue(iq::kIq3xxsGrid[b[2 + 2 * g + k / 4]], k % 4, false) *
           paritySign((a >> (7 * l)) & 127, k);
  }
  case DType::IQ3_S: {
    size_t m = 2 * g + k / 4;
    uint32_t code = b[2 + m] | ((b[66 + m / 8] >> (m % 8)) & 1) << 8;
    uint32_t c = (b[106 + ib / 2] >> (4 * (ib % 2))) & 15;
    return d() * (2 * c + 1) * gridValue(iq::kIq3sGrid[code], k % 4, false) *
           ((b[74 + g] >> k) & 1 ? -1 : 1);
  }
  case DType::IQ1_S: {
    uint32_t h = u16At(b + 34 + 2 * ib);
    uint32_t code = b[2 + g] | ((h >> (3 * l)) & 7) << 8;
    double delta = h & 0x8000 ? -iq::kIq1Delta : iq::kIq1Delta;
    return d() * (2 * ((h >> 12) & 7) + 1) *
           (gridValue(iq::kIq1sGrid[code], k, true) + delta);
  }
  case DType::IQ1_M: {
    uint32_t sc[4];
    for (int i = 0; i < 4; ++i)
      sc[i] = u16At(b + 48 + 2 * i);
    auto dBits =
        static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0xf0) |
                              ((sc[2] >> 4) & 0xf00) | (sc[3] & 0xf000));
    uint32_t n = (b[32 + g / 2] >> (4 * (g % 2))) & 15;
    uint32_t c = (sc[g / 8] >> (3 * (g / 2 % 4))) & 7;
    uint32_t code = b[g] | (n & 7) << 8;
    double delta = n & 8 ? -iq::kIq1Delta : iq::kIq1Delta;
    return npy::halfToDouble(dBits) * (2 * c + 1) *
           (gridValue(iq::kIq1sGrid[code], k, true) + delta);
  }
  default:
    return 0.0;
  }
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
  case DType::Q8_0:
  case DType::Q4_0:
  case DType::Q4_K:
  case DType::Q6_K:
  case DType::MXFP4:
  case DType::U8Z:
  case DType::U4Z:
  case DType::FP8_E4M3:
  case DType::U8Z128:
  case DType::U4Z128:
  case DType::U2Z:
  case DType::U2Z128:
  case DType::U8Z16:
  case DType::U4Z16:
  case DType::U2Z16:
  case DType::Q4_1:
  case DType::Q5_0:
  case DType::Q5_1:
  case DType::Q5_K:
  case DType::Q2_K:
  case DType::Q3_K:
  case DType::IQ4_NL:
  case DType::IQ4_XS:
  case DType::IQ2_XXS:
  case DType::IQ2_XS:
  case DType::IQ2_S:
  case DType::IQ3_XXS:
  case DType::IQ3_S:
  case DType::IQ1_S:
  case DType::IQ1_M: {
    auto perBlock = static_cast<size_t>(dtypeBlockElements(t));
    const unsigned char *block =
        p + index / perBlock * static_cast<size_t>(dtypeBlockBytes(t));
    size_t j = index % perBlock;
    auto half = [&](size_t at) {
      uint16_t h;
      std::memcpy(&h, block + at, 2);
      return npy::halfToDouble(h);
    };
    switch (t) {
    case DType::Q8_0:
      return half(0) * static_cast<int8_t>(block[2 + j]);
    case DType::Q4_0: {
      unsigned char q = block[2 + j % 16];
      return half(0) * ((j < 16 ? (q & 15) : (q >> 4)) - 8);
    }
    case DType::Q4_1: {
      unsigned char q = block[4 + j % 16];
      return half(0) * (j < 16 ? (q & 15) : (q >> 4)) + half(2);
    }
    case DType::Q5_0:
    case DType::Q5_1: {
      // The 5th bit of element j is bit j of qh.
      size_t qh = t == DType::Q5_0 ? 2 : 4;
      unsigned char q = block[qh + 4 + j % 16];
      int n = (j < 16 ? (q & 15) : (q >> 4)) |
              ((block[qh + j / 8] >> (j % 8)) & 1) << 4;
      if (t == DType::Q5_0)
        return half(0) * (n - 16);
      return half(0) * n + half(2);
    }
    case DType::Q4_K:
    case DType::Q5_K: {
      const unsigned char *b = block + 4;
      size_t s = j / 32;
      int sc = s < 4 ? b[s] & 63 : (b[s + 4] & 15) | (b[s - 4] >> 6) << 4;
      int m = s < 4 ? b[s + 4] & 63 : (b[s + 4] >> 4) | (b[s] >> 6) << 4;
      size_t qs = t == DType::Q5_K ? 48 : 16;
      unsigned char q = block[qs + 32 * (j / 64) + j % 32];
      int n = j % 64 < 32 ? (q & 15) : (q >> 4);
      if (t == DType::Q5_K)
        n |= ((block[16 + j % 32] >> s) & 1) << 4;
      return half(0) * sc * n - half(2) * m;
    }
    case DType::Q2_K:
    case DType::Q3_K: {
      // Sub-blocks of 16; 2 bits of n from qs (bits 2 ((j % 128) / 32)
      // of qs[32 (j / 128) + j % 32]), q3_k's third from hm.
      size_t t16 = j / 16;
      size_t qs = t == DType::Q2_K ? 16 : 32;
      int n = (block[qs + 32 * (j / 128) + j % 32] >> (2 * (j % 128 / 32))) & 3;
      if (t == DType::Q2_K)
        return half(80) * (block[t16] & 15) * n - half(82) * (block[t16] >> 4);
      n |= ((block[j % 32] >> (j / 32)) & 1) << 2;
      int sc = ((block[96 + t16 % 8] >> (4 * (t16 / 8))) & 15) |
               ((block[104 + t16 % 4] >> (2 * (t16 / 4))) & 3) << 4;
      return half(108) * (sc - 32) * (n - 4);
    }
    case DType::IQ4_NL:
    case DType::IQ4_XS: {
      // ggml's kvalues_iq4nl.
      static constexpr int kValues[16] = {-127, -104, -83, -65, -49, -35,
                                          -22,  -10,  1,   13,  25,  38,
                                          53,   69,   89,  113};
      if (t == DType::IQ4_NL) {
        unsigned char q = block[2 + j % 16];
        return half(0) * kValues[j < 16 ? (q & 15) : (q >> 4)];
      }
      size_t s = j / 32, r = j % 32;
      unsigned char q = block[8 + 16 * s + r % 16];
      int sh = block[2] | block[3] << 8;
      int ls = ((block[4 + s / 2] >> (4 * (s % 2))) & 15) |
               ((sh >> (2 * s)) & 3) << 4;
      return half(0) * (ls - 32) * kValues[r < 16 ? (q & 15) : (q >> 4)];
    }
    case DType::IQ2_XXS:
    case DType::IQ2_XS:
    case DType::IQ2_S:
    case DType::IQ3_XXS:
    case DType::IQ3_S:
    case DType::IQ1_S:
    case DType::IQ1_M:
      return iqElement(t, block, j);
    case DType::MXFP4: {
      // The e2m1 values doubled, and 2^(e - 128) as ggml computes it.
      static constexpr int kValues[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                          0, -1, -2, -3, -4, -6, -8, -12};
      uint32_t e = block[0];
      uint32_t bits = e < 2 ? 0x00200000u << e : (e - 1) << 23;
      float scale;
      std::memcpy(&scale, &bits, 4);
      unsigned char q = block[1 + j % 16];
      return static_cast<double>(scale) * kValues[j < 16 ? (q & 15) : (q >> 4)];
    }
    case DType::U8Z:
    case DType::U4Z:
    case DType::U8Z128:
    case DType::U4Z128:
    case DType::U2Z:
    case DType::U2Z128:
    case DType::U8Z16:
    case DType::U4Z16:
    case DType::U2Z16: {
      // d (q - z) in f32, as ONNX Runtime's QMoE dequantizes.
      float d;
      std::memcpy(&d, block, 4);
      // The byte holding element j: the 4- and 2-bit formats pack two or
      // four a byte, so j itself may lie past their block.
      int q;
      if (t == DType::U4Z) {
        q = block[5 + j % 16];
        q = j < 16 ? (q & 15) : (q >> 4);
      } else if (t == DType::U4Z128) {
        q = block[5 + 32 * (j / 64) + j % 32];
        q = j % 64 < 32 ? (q & 15) : (q >> 4);
      } else if (t == DType::U2Z) {
        q = (block[5 + j % 8] >> (2 * (j / 8))) & 3;
      } else if (t == DType::U2Z128) {
        q = (block[5 + 16 * (j / 64) + j % 16] >> (2 * (j % 64 / 16))) & 3;
      } else if (t == DType::U4Z16) {
        q = block[5 + j % 8];
        q = j < 8 ? (q & 15) : (q >> 4);
      } else if (t == DType::U2Z16) {
        q = (block[5 + j % 4] >> (2 * (j / 4))) & 3;
      } else {
        q = block[5 + j];
      }
      return d * static_cast<float>(q - block[4]);
    }
    case DType::FP8_E4M3: {
      float d;
      std::memcpy(&d, block, 4);
      return d * e4m3ToFloat(block[4 + j]);
    }
    default: { // Q6_K
      size_t h = j / 128, r = j % 128;
      unsigned char l = block[64 * h + r % 64];
      int q = (r < 64 ? (l & 15) : (l >> 4)) |
              ((block[128 + 32 * h + r % 32] >> (2 * (r / 32))) & 3) << 4;
      return half(208) * static_cast<int8_t>(block[192 + j / 16]) * (q - 32);
    }
    }
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
  case DType::Q8_0:
  case DType::Q4_0:
  case DType::Q4_K:
  case DType::Q6_K:
  case DType::MXFP4:
  case DType::U8Z:
  case DType::U4Z:
  case DType::FP8_E4M3:
  case DType::U8Z128:
  case DType::U4Z128:
  case DType::U2Z:
  case DType::U2Z128:
  case DType::U8Z16:
  case DType::U4Z16:
  case DType::U2Z16:
  case DType::Q4_1:
  case DType::Q5_0:
  case DType::Q5_1:
  case DType::Q5_K:
  case DType::Q2_K:
  case DType::Q3_K:
  case DType::IQ4_NL:
  case DType::IQ4_XS:
  case DType::IQ2_XXS:
  case DType::IQ2_XS:
  case DType::IQ2_S:
  case DType::IQ3_XXS:
  case DType::IQ3_S:
  case DType::IQ1_S:
  case DType::IQ1_M:
    return;
  }
}
