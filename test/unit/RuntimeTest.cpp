//===- RuntimeTest.cpp - moert pieces: dtypes, safetensors, pool, C API ---===//
#include "runtime/moert/Internal.h"
#include "runtime/moert/Packing.h"
#include "runtime/moert/Scratch.h"
#include "runtime/moert/ThreadPool.h"
#include "runtime/moert/moert.h"
#include "runtime/support/DType.h"
#include "runtime/support/IQGrids.h"
#include "runtime/support/Safetensors.h"
#include "test/unit/Check.h"

#include <atomic>
#include <cmath>
#include <cstring>
#include <thread>

using namespace moe;

TEST(sameRowMajorShapes) {
  using moe::safetensors::sameRowMajorShape;
  CHECK(sameRowMajorShape({4, 3, 2}, {4, 3, 2}));
  // Leading dimensions of size 1, either way.
  CHECK(sameRowMajorShape({16}, {1, 16}));
  CHECK(sameRowMajorShape({1, 8}, {8}));
  // Leading dimensions merged into the first (DBRX's [E·F, H]).
  CHECK(sameRowMajorShape({96, 16}, {8, 12, 16}));
  CHECK(sameRowMajorShape({24, 16}, {2, 3, 4, 16}));
  CHECK(sameRowMajorShape({6, 4, 16}, {2, 3, 4, 16}));
  // Not the same bytes: the trailing dimensions differ, the product is
  // wrong, or the stored tensor would split a dimension.
  CHECK(!sameRowMajorShape({96, 16}, {8, 16, 12}));
  CHECK(!sameRowMajorShape({95, 16}, {8, 12, 16}));
  CHECK(!sameRowMajorShape({8, 12, 16}, {96, 16}));
  CHECK(!sameRowMajorShape({16, 12}, {12, 16}));
  CHECK(!sameRowMajorShape({}, {4}));
}

TEST(bf16RoundsToNearestEven) {
  // 1 + 2^-8 lies halfway between two bf16 values: ties go to the even one.
  CHECK_EQ(floatToBF16(1.0f + 1.0f / 256), uint16_t(0x3F80));
  CHECK_EQ(floatToBF16(1.0f + 3.0f / 256), uint16_t(0x3F82));
  CHECK_EQ(floatToBF16(-2.0f), uint16_t(0xC000));
  CHECK_EQ(bf16ToFloat(0x3F82), 1.0f + 2.0f / 128);
  std::vector<uint16_t> buf(3);
  storeElement(DType::BF16, buf.data(), 1, 3.140625);
  CHECK_EQ(loadElement(DType::BF16, buf.data(), 1), 3.140625);
}

TEST(f16AndF32Elements) {
  std::vector<uint16_t> h(2);
  storeElement(DType::F16, h.data(), 0, 0.333333);
  CHECK_NEAR(loadElement(DType::F16, h.data(), 0), 0.333333, 1e-4);
  CHECK_EQ(h[0], uint16_t(0x3555));
  std::vector<float> f(2);
  storeElement(DType::F32, f.data(), 1, 0.1);
  CHECK_EQ(f[1], 0.1f);
  CHECK_EQ(std::string(dtypeName(DType::BF16)), std::string("bf16"));
  CHECK(!parseDType("f64"));
}

TEST(blockQuantizedElements) {
  // One q8_0 block: scale 0.5 (f16 0x3800), then q = 0, 1, ..., -1 at 31.
  std::vector<unsigned char> q8(34 * 2, 0);
  q8[0] = 0x00;
  q8[1] = 0x38;
  for (int j = 0; j < 32; ++j)
    q8[2 + j] = static_cast<unsigned char>(static_cast<int8_t>(j - 16));
  q8[34] = 0x00; // second block: scale 2 (0x4000), q[3] = 7
  q8[35] = 0x40;
  q8[34 + 2 + 3] = 7;
  CHECK_EQ(loadElement(DType::Q8_0, q8.data(), 0), -8.0);
  CHECK_EQ(loadElement(DType::Q8_0, q8.data(), 31), 7.5);
  CHECK_EQ(loadElement(DType::Q8_0, q8.data(), 35), 14.0);
  // One q4_0 block: scale -1 (0xBC00); byte 2 holds 3 (low) and 12 (high).
  std::vector<unsigned char> q4(18, 0x88);
  q4[0] = 0x00;
  q4[1] = 0xBC;
  q4[2 + 2] = 0xC3;
  CHECK_EQ(loadElement(DType::Q4_0, q4.data(), 2), 5.0);   // -(3 - 8)
  CHECK_EQ(loadElement(DType::Q4_0, q4.data(), 18), -4.0); // -(12 - 8)
  CHECK_EQ(loadElement(DType::Q4_0, q4.data(), 0), -0.0);
  CHECK_EQ(dtypeBlockElements(DType::Q4_0), int64_t(32));
  CHECK_EQ(dtypeBlockBytes(DType::Q8_0), int64_t(34));
  CHECK_EQ(dtypeBlockElements(DType::F16), int64_t(1));
  CHECK_EQ(dtypeRowBytes(DType::Q4_0, 64), int64_t(36));
  uint64_t bytes = 0;
  CHECK(dtypeBytes(DType::Q8_0, 6 * 32 * 64, 64, bytes));
  CHECK_EQ(bytes, uint64_t(6 * 32 * 2 * 34));
  CHECK(!dtypeBytes(DType::Q8_0, 40, 40, bytes));
  CHECK(!dtypeBytes(DType::Q8_0, ~uint64_t(31), 32, bytes)); // overflow
  CHECK_EQ(std::string(dtypeName(DType::Q4_0)), std::string("q4_0"));
  CHECK(parseDType("q8_0") == DType::Q8_0);
  CHECK(isBlockQuantized(DType::Q8_0) && !isBlockQuantized(DType::BF16));
  CHECK_EQ(std::string(moert_dtype_name(MOERT_Q8_0)), std::string("q8_0"));
}

TEST(minAndFifthBitElements) {
  // q4_1: d = 0.5 (0x3800), m = -2 (0xC000); byte 4 + 2 holds 3 (low:
  // element 2) and 12 (high: element 18).
  std::vector<unsigned char> q41(20, 0);
  q41[1] = 0x38;
  q41[3] = 0xC0;
  q41[4 + 2] = 0xC3;
  CHECK_EQ(loadElement(DType::Q4_1, q41.data(), 2), -0.5); // 0.5 3 - 2
  CHECK_EQ(loadElement(DType::Q4_1, q41.data(), 18), 4.0); // 0.5 12 - 2
  CHECK_EQ(loadElement(DType::Q4_1, q41.data(), 0), -2.0);
  // q5_0: d = -1 (0xBC00); qh bit 2 (element 2) and bit 18 (element 18)
  // set; byte 6 + 2 holds 3 and 12: element 2 is 16 + 3, element 18
  // 16 + 12, element 3 (no fifth bit) 0.
  std::vector<unsigned char> q50(22, 0);
  q50[1] = 0xBC;
  q50[2] = 0x04;     // bit 2
  q50[2 + 2] = 0x04; // bit 18
  q50[6 + 2] = 0xC3;
  CHECK_EQ(loadElement(DType::Q5_0, q50.data(), 2), -3.0);   // -(19 - 16)
  CHECK_EQ(loadElement(DType::Q5_0, q50.data(), 18), -12.0); // -(28 - 16)
  CHECK_EQ(loadElement(DType::Q5_0, q50.data(), 3), 16.0);   // -(0 - 16)
  // q5_1: d = 2 (0x4000), m = 1 (0x3C00); qh bit 31 set (element 31);
  // byte 8 + 15 holds 0 (low) and 15 (high: element 31).
  std::vector<unsigned char> q51(24, 0);
  q51[1] = 0x40;
  q51[3] = 0x3C;
  q51[4 + 3] = 0x80;
  q51[8 + 15] = 0xF0;
  CHECK_EQ(loadElement(DType::Q5_1, q51.data(), 31), 63.0); // 2 31 + 1
  CHECK_EQ(loadElement(DType::Q5_1, q51.data(), 15), 1.0);  // 2 0 + 1
  // q5_k: d = 1 (0x3C00), dmin = 0.5 (0x3800); sub-block 5's scale 19
  // (low 4 bits 3 in scale byte 9, high 2 bits 1 in byte 1's top) and min
  // 2 (byte 9's high nibble). Element 180 (sub-block 5, the high nibble of
  // qs[64 + 20], qs from byte 48) is 7 with fifth bit 5 of qh[20] set: 23.
  std::vector<unsigned char> q5k(176, 0);
  q5k[1] = 0x3C;
  q5k[3] = 0x38;
  q5k[4 + 9] = 0x23;
  q5k[4 + 1] = 0x40;
  q5k[48 + 64 + 20] = 0x70;
  q5k[16 + 20] = 0x20;
  CHECK_EQ(loadElement(DType::Q5_K, q5k.data(), 180), 436.0); // 19 23 - 1
  CHECK_EQ(loadElement(DType::Q5_K, q5k.data(), 160), -1.0);  // 19 0 - 1
  CHECK_EQ(dtypeBlockBytes(DType::Q5_K), int64_t(176));
  CHECK_EQ(dtypeBlockBytes(DType::Q4_1), int64_t(20));
  CHECK_EQ(dtypeBlockBytes(DType::Q5_0), int64_t(22));
  CHECK_EQ(dtypeBlockBytes(DType::Q5_1), int64_t(24));
  CHECK_EQ(dtypeBlockElements(DType::Q5_1), int64_t(32));
  CHECK(parseDType("q5_0") == DType::Q5_0);
  CHECK(dtypeFromStorageName("Q4_1") == DType::Q4_1);
  CHECK(dtypeFromStorageName("Q5_1") == DType::Q5_1);
  CHECK_EQ(std::string(moert_dtype_name(MOERT_Q5_1)), std::string("q5_1"));
  CHECK_EQ(std::string(moert_dtype_name(MOERT_Q5_K)), std::string("q5_k"));
  CHECK_EQ(std::string(moert_dtype_name(MOERT_Q2_K)), std::string("q2_k"));
  CHECK_EQ(std::string(moert_dtype_name(MOERT_Q3_K)), std::string("q3_k"));
  CHECK_EQ(std::string(moert_dtype_name(static_cast<moert_dtype_t>(32))),
           std::string("iq1_m"));
  CHECK_EQ(std::string(moert_dtype_name(static_cast<moert_dtype_t>(33))),
           std::string("unknown"));
}

TEST(lowBitKQuantElements) {
  // q2_k: d = 1 (0x3C00 at 80), dmin = 0.5 (0x3800 at 82). Element 170
  // is of sub-block 10 (scale 5, min 3: s[10] = 0x35), its 2 bits at bits
  // 2-3 (j % 128 / 32 = 1) of qs[32 + 10], byte 16 + 42: 3.
  std::vector<unsigned char> q2k(84, 0);
  q2k[81] = 0x3C;
  q2k[83] = 0x38;
  q2k[10] = 0x35;
  q2k[16 + 42] = 0x0C;
  CHECK_EQ(loadElement(DType::Q2_K, q2k.data(), 170), 13.5); // 5 3 - 1.5
  CHECK_EQ(loadElement(DType::Q2_K, q2k.data(), 160), -1.5); // 5 0 - 1.5
  CHECK_EQ(dtypeBlockBytes(DType::Q2_K), int64_t(84));
  CHECK_EQ(dtypeBlockElements(DType::Q2_K), int64_t(256));
  // q3_k: d = 1 (0x3C00 at 108). Sub-block 10's scale: the high nibble of
  // s[2] (byte 98), 7, and bits 4-5 of s[10] (byte 106), 2, as its bits
  // 4-5: 39, less 32: 7. Element 170: 2 bits 1 at bits 2-3 of qs[42]
  // (byte 32 + 42), third bit 5 of hm[10] set: 5, less 4: 1. Element 160:
  // 0 without its third bit: -4.
  std::vector<unsigned char> q3k(110, 0);
  q3k[109] = 0x3C;
  q3k[96 + 2] = 0x70;
  q3k[96 + 10] = 0x20;
  q3k[32 + 42] = 0x04;
  q3k[10] = 0x20;
  CHECK_EQ(loadElement(DType::Q3_K, q3k.data(), 170), 7.0);
  CHECK_EQ(loadElement(DType::Q3_K, q3k.data(), 160), -28.0);
  CHECK_EQ(dtypeBlockBytes(DType::Q3_K), int64_t(110));
  CHECK(parseDType("q3_k") == DType::Q3_K);
  CHECK(isBlockQuantized(DType::Q2_K));
}

TEST(iq4Elements) {
  // iq4_nl: d = 2 (0x4000); element 20 is the high nibble of qs[4], 14:
  // v[14] = 89; element 4 its low nibble, 1: v[1] = -104.
  std::vector<unsigned char> nl(18, 0);
  nl[1] = 0x40;
  nl[2 + 4] = 0xE1;
  CHECK_EQ(loadElement(DType::IQ4_NL, nl.data(), 20), 178.0);
  CHECK_EQ(loadElement(DType::IQ4_NL, nl.data(), 4), -208.0);
  CHECK_EQ(dtypeBlockBytes(DType::IQ4_NL), int64_t(18));
  // iq4_xs: d = 1. Sub-block 5's ls: the high nibble of sl[2] (byte 6),
  // 3, and bits 10-11 of sh (byte 3's bits 2-3), 2, as its bits 4-5: 35,
  // less 32: 3. Element 180 (sub-block 5, j % 32 = 20) is the high nibble
  // of qs[16 5 + 4] (byte 8 + 84), 15: v[15] = 113, times 3.
  std::vector<unsigned char> xs(136, 0);
  xs[1] = 0x3C;
  xs[4 + 2] = 0x30;
  xs[3] = 0x08;
  xs[8 + 84] = 0xF0;
  CHECK_EQ(loadElement(DType::IQ4_XS, xs.data(), 180), 339.0);
  CHECK_EQ(loadElement(DType::IQ4_XS, xs.data(), 164), -381.0); // 3 v[0]
  CHECK_EQ(dtypeBlockBytes(DType::IQ4_XS), int64_t(136));
  CHECK(dtypeFromStorageName("IQ4_XS") == DType::IQ4_XS);
  CHECK(dtypeFromStorageName("IQ4_NL") == DType::IQ4_NL);
  CHECK_EQ(std::string(moert_dtype_name(MOERT_IQ4_XS)), std::string("iq4_xs"));
}

TEST(iqGridElements) {
  // iq2_xxs: d = 1. Elements 32-63 (ib 1) take a = b[14..17]: scale
  // 3 (2 3 + 1) / 8 = 7 / 8, group 4's 7-bit signs 1 (sign byte 0x81, an
  // odd count made even by bit 7), group 5's 5 (0x05). Group 5's code
  // b[11] = 1: entry 0x080808080808082b, values 43, 8, 8, ...
  std::vector<unsigned char> xxs(66, 0);
  xxs[1] = 0x3C;
  uint32_t a = 3u << 28 | 5u << 7 | 1u;
  std::memcpy(&xxs[14], &a, 4);
  xxs[11] = 1;
  CHECK_EQ(loadElement(DType::IQ2_XXS, xxs.data(), 40), -37.625);
  CHECK_EQ(loadElement(DType::IQ2_XXS, xxs.data(), 41), 7.0);
  CHECK_EQ(loadElement(DType::IQ2_XXS, xxs.data(), 42), -7.0);
  CHECK_EQ(loadElement(DType::IQ2_XXS, xxs.data(), 39), -7.0); // bit 7
  CHECK_EQ(loadElement(DType::IQ2_XXS, xxs.data(), 38), 7.0);
  // iq1_m: d = 0.5 (0x3800), its nibbles 0, 0, 8, 3 the top nibbles of
  // the scale words (bytes 49, 51, 53, 55). Group 2 (elements 16-23):
  // qh[1]'s low nibble 9 (code bits 8-10 1, delta -1/8); scale 3-bit c
  // of index 1, bits 3-5 of the first word, 2: 2 c + 1 = 5; code
  // 256 + qs[2] = 256.
  std::vector<unsigned char> m(56, 0);
  m[53] = 0x80;
  m[55] = 0x30;
  m[33] = 0x09;
  m[48] = 2 << 3;
  for (size_t k = 0; k < 8; ++k) {
    double g = static_cast<int8_t>(moe::iq::kIq1sGrid[256] >> (8 * k));
    CHECK_EQ(loadElement(DType::IQ1_M, m.data(), 16 + k),
             0.5 * 5 * (g - 0.125));
  }
  CHECK_EQ(dtypeBlockBytes(DType::IQ1_M), int64_t(56));
  CHECK_EQ(std::string(moert_dtype_name(MOERT_IQ1_M)), std::string("iq1_m"));
}

TEST(kQuantElements) {
  // q4_k: d = 1, dmin = 0.5; sub-block 0 has scale 5, min 3; sub-block 5
  // (packed in the high bits) scale 18, min 55.
  std::vector<unsigned char> q4(144, 0);
  q4[1] = 0x3C;
  q4[3] = 0x38;
  unsigned char *s = &q4[4], *qs = &q4[16];
  s[0] = 5;
  s[4] = 3;
  s[1] = 0x40; // scale 5's high bits: 1
  s[5] = 0xC0; // min 5's high bits: 3
  s[9] = 0x72; // scale 5's low bits 2, min 5's 7
  qs[0] = 0x21;
  qs[65] = 0x90;
  CHECK_EQ(loadElement(DType::Q4_K, q4.data(), 0), 1.0 * 5 * 1 - 0.5 * 3);
  CHECK_EQ(loadElement(DType::Q4_K, q4.data(), 32), 0.0); // scale 1 is 0
  CHECK_EQ(loadElement(DType::Q4_K, q4.data(), 161), 18.0 * 9 - 0.5 * 55);
  // q6_k: d = 0.25; scales -2 (elements 0..15) and 3 (96..111).
  std::vector<unsigned char> q6(210, 0);
  q6[209] = 0x34;
  q6[192] = 0xFE;
  q6[192 + 6] = 3;
  q6[0] = 0x0A;       // element 0's low 4 bits
  q6[128] = 0x02;     // and its high 2: q = 42
  q6[36] = 0x50;      // element 100: high nibble of ql[36]
  q6[128 + 4] = 0xC0; // with bits 6..7 of qh[4]: q = 53
  CHECK_EQ(loadElement(DType::Q6_K, q6.data(), 0), 0.25 * -2 * (42 - 32));
  CHECK_EQ(loadElement(DType::Q6_K, q6.data(), 100), 0.25 * 3 * (53 - 32));
  CHECK_EQ(dtypeBlockElements(DType::Q6_K), int64_t(256));
  CHECK_EQ(dtypeRowBytes(DType::Q4_K, 512), int64_t(288));
  CHECK(parseDType("q6_k") == DType::Q6_K);
  CHECK_EQ(std::string(moert_dtype_name(MOERT_Q4_K)), std::string("q4_k"));
}

TEST(mxfp4FromOcpLayout) {
  // Each of the 96 positions of 3 blocks in transformers' layout
  // (element 2i low, 2i + 1 high in byte i; w = e2m1 2^(e - 127)), decoded
  // here from that layout, against loadElement of the assembled blocks.
  const double e2m1[16] = {0,  0.5,  1,  1.5,  2,  3,  4,  6,
                           -0, -0.5, -1, -1.5, -2, -3, -4, -6};
  std::vector<uint8_t> codes(3 * 16), scales = {127, 120, 131};
  for (size_t i = 0; i < codes.size(); ++i)
    codes[i] = static_cast<uint8_t>((i * 7) ^ (i >> 3) * 0x35);
  std::vector<uint8_t> out(3 * 17);
  mxfp4FromOcp(codes.data(), scales.data(), 3, out.data());
  for (size_t b = 0; b < 3; ++b)
    for (size_t j = 0; j < 32; ++j) {
      int code = (codes[b * 16 + j / 2] >> (j % 2 ? 4 : 0)) & 15;
      CHECK_EQ(loadElement(DType::MXFP4, out.data(), b * 32 + j),
               std::ldexp(e2m1[code], scales[b] - 127));
    }
}

TEST(mxfp4Elements) {
  // e = 130: the doubled e2m1 values times 2^2. Byte 3 of qs holds 0x5
  // (3, doubled 6: element 3) low and 0xF (-6: element 19) high.
  std::vector<unsigned char> mx(17 * 2, 0);
  mx[0] = 130;
  mx[1 + 3] = 0xF5;
  mx[1 + 15] = 0x09; // element 15: -0.5 doubled
  CHECK_EQ(loadElement(DType::MXFP4, mx.data(), 3), 6.0 * 4);
  CHECK_EQ(loadElement(DType::MXFP4, mx.data(), 19), -12.0 * 4);
  CHECK_EQ(loadElement(DType::MXFP4, mx.data(), 15), -1.0 * 4);
  CHECK_EQ(loadElement(DType::MXFP4, mx.data(), 0), 0.0);
  // Second block: e = 1 and 0 are subnormal scales, 2^-127 and 2^-128.
  mx[17] = 1;
  mx[17 + 1] = 0x02; // element 32: code 2, 1.0 (2 doubled)
  CHECK_EQ(loadElement(DType::MXFP4, mx.data(), 32),
           2.0 * std::ldexp(1.0, -127));
  mx[17] = 0;
  CHECK_EQ(loadElement(DType::MXFP4, mx.data(), 32),
           2.0 * std::ldexp(1.0, -128));
  mx[17] = 255; // the largest, 2^127 (ggml's decode; OCP's NaN)
  CHECK_EQ(loadElement(DType::MXFP4, mx.data(), 32),
           2.0 * std::ldexp(1.0, 127));
  CHECK_EQ(dtypeBlockElements(DType::MXFP4), int64_t(32));
  CHECK_EQ(dtypeBlockBytes(DType::MXFP4), int64_t(17));
  CHECK_EQ(dtypeRowBytes(DType::MXFP4, 2880), int64_t(90 * 17));
  CHECK(parseDType("mxfp4") == DType::MXFP4);
  CHECK(isBlockQuantized(DType::MXFP4));
  CHECK_EQ(std::string(moert_dtype_name(MOERT_MXFP4)), std::string("mxfp4"));
  // The names of weights files: safetensors' and ggml's.
  CHECK(dtypeFromStorageName("MXFP4") == DType::MXFP4);
  CHECK(dtypeFromStorageName("Q4_K") == DType::Q4_K);
  CHECK(dtypeFromStorageName("BF16") == DType::BF16);
  CHECK(dtypeFromStorageName("Q5_0") == DType::Q5_0);
  CHECK(dtypeFromStorageName("Q5_K") == DType::Q5_K);
  CHECK(dtypeFromStorageName("Q2_K") == DType::Q2_K);
  CHECK(dtypeFromStorageName("Q3_K") == DType::Q3_K);
  CHECK(dtypeFromStorageName("IQ2_XXS") == DType::IQ2_XXS);
  CHECK(!dtypeFromStorageName("TQ1_0"));
  CHECK(!dtypeFromStorageName("Q8_K"));
  CHECK(!dtypeFromStorageName("q4_0"));
  CHECK_EQ(dtypeSize(DType::F32), size_t(4));
  CHECK_EQ(dtypeSize(DType::MXFP4), size_t(1));
}

TEST(zeroPointBlockElements) {
  // u8z: d = 0.5, z = 130; q[7] = 3 and q[31] = 255. u4z: d = -0.25,
  // z = 9; byte 2 of qs holds element 2 (low nibble 1) and element 18
  // (high nibble 15).
  std::vector<unsigned char> u8(37 * 2, 0), u4(21, 0);
  float d8 = 0.5f, d4 = -0.25f, d8b = 3.0f;
  std::memcpy(u8.data(), &d8, 4);
  u8[4] = 130;
  u8[5 + 7] = 3;
  u8[5 + 31] = 255;
  std::memcpy(u8.data() + 37, &d8b, 4); // second block: d 3, z 0
  u8[37 + 5] = 200;
  CHECK_EQ(loadElement(DType::U8Z, u8.data(), 7), 0.5 * (3 - 130));
  CHECK_EQ(loadElement(DType::U8Z, u8.data(), 31), 0.5 * (255 - 130));
  CHECK_EQ(loadElement(DType::U8Z, u8.data(), 0), 0.5 * -130);
  CHECK_EQ(loadElement(DType::U8Z, u8.data(), 32), 3.0 * 200);
  std::memcpy(u4.data(), &d4, 4);
  u4[4] = 9;
  u4[5 + 2] = 0xF1;
  CHECK_EQ(loadElement(DType::U4Z, u4.data(), 2), -0.25 * (1 - 9));
  CHECK_EQ(loadElement(DType::U4Z, u4.data(), 18), -0.25 * (15 - 9));
  CHECK_EQ(loadElement(DType::U4Z, u4.data(), 3), -0.25 * -9);
  // u4z128: d = 2, z = 3; byte 7 of qs holds element 7 (low nibble 4)
  // and element 39 (high nibble 10), byte 40 element 72 (low, 9) and 104
  // (high, 1). u8z128: element 100 is q[100].
  std::vector<unsigned char> u4b(69, 0), u8b(133, 0);
  float two = 2.0f;
  std::memcpy(u4b.data(), &two, 4);
  u4b[4] = 3;
  u4b[5 + 7] = 0xA4;
  u4b[5 + 40] = 0x19;
  CHECK_EQ(loadElement(DType::U4Z128, u4b.data(), 7), 2.0 * (4 - 3));
  CHECK_EQ(loadElement(DType::U4Z128, u4b.data(), 39), 2.0 * (10 - 3));
  CHECK_EQ(loadElement(DType::U4Z128, u4b.data(), 72), 2.0 * (9 - 3));
  CHECK_EQ(loadElement(DType::U4Z128, u4b.data(), 104), 2.0 * (1 - 3));
  std::memcpy(u8b.data(), &two, 4);
  u8b[4] = 100;
  u8b[5 + 100] = 250;
  CHECK_EQ(loadElement(DType::U8Z128, u8b.data(), 100), 2.0 * 150);
  CHECK_EQ(dtypeBlockBytes(DType::U4Z128), int64_t(69));
  CHECK_EQ(dtypeBlockBytes(DType::U8Z128), int64_t(133));
  CHECK_EQ(dtypeBlockElements(DType::U4Z128), int64_t(128));
  CHECK_EQ(std::string(moert_dtype_name(MOERT_U4Z128)), std::string("u4z128"));
  CHECK_EQ(dtypeBlockElements(DType::U8Z), int64_t(32));
  CHECK_EQ(dtypeBlockBytes(DType::U8Z), int64_t(37));
  CHECK_EQ(dtypeBlockBytes(DType::U4Z), int64_t(21));
  CHECK(isBlockQuantized(DType::U4Z));
  CHECK(parseDType("u4z") == DType::U4Z);
  CHECK_EQ(std::string(moert_dtype_name(MOERT_U8Z)), std::string("u8z"));
  CHECK_EQ(std::string(moert_dtype_name(MOERT_U4Z)), std::string("u4z"));
  // u2z: d = 0.5, z = 2; byte 3 of qs holds elements 3, 11, 19, 27
  // (bits 0-1, 2-3, 4-5, 6-7: 1, 3, 0, 2). The second block: d = -1,
  // z = 1, element 32 + 7 in bits 0-1 of byte 7 (3).
  std::vector<unsigned char> u2(13 * 2, 0);
  float half = 0.5f, minusOne = -1.0f;
  std::memcpy(u2.data(), &half, 4);
  u2[4] = 2;
  u2[5 + 3] = 0x8D; // 10 00 11 01
  std::memcpy(u2.data() + 13, &minusOne, 4);
  u2[13 + 4] = 1;
  u2[13 + 5 + 7] = 0x03;
  CHECK_EQ(loadElement(DType::U2Z, u2.data(), 3), 0.5 * (1 - 2));
  CHECK_EQ(loadElement(DType::U2Z, u2.data(), 11), 0.5 * (3 - 2));
  CHECK_EQ(loadElement(DType::U2Z, u2.data(), 19), 0.5 * (0 - 2));
  CHECK_EQ(loadElement(DType::U2Z, u2.data(), 27), 0.5 * (2 - 2));
  CHECK_EQ(loadElement(DType::U2Z, u2.data(), 39), -1.0 * (3 - 1));
  CHECK_EQ(loadElement(DType::U2Z, u2.data(), 47), -1.0 * (0 - 1));
  // u2z128: d = 2, z = 1; byte 16 + 5 of qs holds elements 64 + 5, + 21,
  // + 37, + 53 (0x1B: 3, 2, 1, 0); the last byte, 31, element 127 in its
  // top bits (0xC0: 3).
  std::vector<unsigned char> u2b(37, 0);
  std::memcpy(u2b.data(), &two, 4);
  u2b[4] = 1;
  u2b[5 + 16 + 5] = 0x1B;
  u2b[5 + 31] = 0xC0;
  CHECK_EQ(loadElement(DType::U2Z128, u2b.data(), 69), 2.0 * (3 - 1));
  CHECK_EQ(loadElement(DType::U2Z128, u2b.data(), 85), 2.0 * (2 - 1));
  CHECK_EQ(loadElement(DType::U2Z128, u2b.data(), 101), 2.0 * (1 - 1));
  CHECK_EQ(loadElement(DType::U2Z128, u2b.data(), 117), 2.0 * (0 - 1));
  CHECK_EQ(loadElement(DType::U2Z128, u2b.data(), 127), 2.0 * (3 - 1));
  CHECK_EQ(loadElement(DType::U2Z128, u2b.data(), 5), 2.0 * (0 - 1));
  CHECK_EQ(dtypeBlockBytes(DType::U2Z), int64_t(13));
  CHECK_EQ(dtypeBlockElements(DType::U2Z), int64_t(32));
  CHECK_EQ(dtypeBlockBytes(DType::U2Z128), int64_t(37));
  CHECK_EQ(dtypeBlockElements(DType::U2Z128), int64_t(128));
  CHECK(parseDType("u2z128") == DType::U2Z128);
  CHECK_EQ(std::string(moert_dtype_name(MOERT_U2Z)), std::string("u2z"));
  CHECK_EQ(std::string(moert_dtype_name(MOERT_U2Z128)), std::string("u2z128"));
  // Blocks of 16. u8z16: d = 0.5, z = 7, element 15 is q[15]; the second
  // block, d = 2 and z = 1, element 16 + 3 q[3]. u4z16: d = -1, z = 8;
  // byte 5 of qs holds element 5 (low nibble 2) and 13 (high nibble 12).
  // u2z16: d = 0.25, z = 2; byte 1 of qs holds elements 1, 5, 9, 13
  // (0xE4: 0, 1, 2, 3); in the second block (d = 4, z = 0) element 16 + 3
  // is bits 0-1 of its byte 3 (0x02: 2).
  std::vector<unsigned char> u8s(21 * 2, 0), u4s(13, 0), u2s(9 * 2, 0);
  float quarter = 0.25f, four = 4.0f;
  std::memcpy(u8s.data(), &half, 4);
  u8s[4] = 7;
  u8s[5 + 15] = 200;
  std::memcpy(u8s.data() + 21, &two, 4);
  u8s[21 + 4] = 1;
  u8s[21 + 5 + 3] = 9;
  CHECK_EQ(loadElement(DType::U8Z16, u8s.data(), 15), 0.5 * (200 - 7));
  CHECK_EQ(loadElement(DType::U8Z16, u8s.data(), 0), 0.5 * (0 - 7));
  CHECK_EQ(loadElement(DType::U8Z16, u8s.data(), 19), 2.0 * (9 - 1));
  std::memcpy(u4s.data(), &minusOne, 4);
  u4s[4] = 8;
  u4s[5 + 5] = 0xC2;
  CHECK_EQ(loadElement(DType::U4Z16, u4s.data(), 5), -1.0 * (2 - 8));
  CHECK_EQ(loadElement(DType::U4Z16, u4s.data(), 13), -1.0 * (12 - 8));
  CHECK_EQ(loadElement(DType::U4Z16, u4s.data(), 12), -1.0 * (0 - 8));
  std::memcpy(u2s.data(), &quarter, 4);
  u2s[4] = 2;
  u2s[5 + 1] = 0xE4; // 11 10 01 00
  std::memcpy(u2s.data() + 9, &four, 4);
  u2s[9 + 5 + 3] = 0x02;
  CHECK_EQ(loadElement(DType::U2Z16, u2s.data(), 1), 0.25 * (0 - 2));
  CHECK_EQ(loadElement(DType::U2Z16, u2s.data(), 5), 0.25 * (1 - 2));
  CHECK_EQ(loadElement(DType::U2Z16, u2s.data(), 9), 0.25 * (2 - 2));
  CHECK_EQ(loadElement(DType::U2Z16, u2s.data(), 13), 0.25 * (3 - 2));
  CHECK_EQ(loadElement(DType::U2Z16, u2s.data(), 19), 4.0 * 2);
  CHECK_EQ(loadElement(DType::U2Z16, u2s.data(), 23), 0.0);
  for (DType t : {DType::U8Z16, DType::U4Z16, DType::U2Z16})
    CHECK_EQ(dtypeBlockElements(t), int64_t(16));
  CHECK_EQ(dtypeBlockBytes(DType::U8Z16), int64_t(21));
  CHECK_EQ(dtypeBlockBytes(DType::U4Z16), int64_t(13));
  CHECK_EQ(dtypeBlockBytes(DType::U2Z16), int64_t(9));
  CHECK(parseDType("u4z16") == DType::U4Z16);
  CHECK_EQ(std::string(moert_dtype_name(MOERT_U8Z16)), std::string("u8z16"));
  CHECK_EQ(std::string(moert_dtype_name(MOERT_U2Z16)), std::string("u2z16"));
  // No weights file names them: they are stored as their bytes.
  CHECK(!dtypeFromStorageName("U4Z"));
  CHECK(!dtypeFromStorageName("u4z"));
  // The U8 shape of those bytes: the last dimension in bytes, whole
  // blocks only, quantized dtypes only.
  CHECK(blockBytesShape(DType::U4Z, {8, 64, 96}) ==
        std::vector<int64_t>({8, 64, 63}));
  CHECK(blockBytesShape(DType::Q4_K, {3, 512}) ==
        std::vector<int64_t>({3, 288}));
  CHECK(!blockBytesShape(DType::U8Z, {8, 64, 48}));
  CHECK(!blockBytesShape(DType::F32, {8, 64}));
  CHECK(!blockBytesShape(DType::U8Z, {}));
}

TEST(fp8Elements) {
  // e4m3fn, bits s eeee mmm: normal 2^(e - 7) (1 + m / 8), subnormal
  // 2^-6 m / 8, NaN at 0x7F and 0xFF only (448 is the largest).
  CHECK_EQ(double(e4m3ToFloat(0x38)), 1.0);                 // e 7
  CHECK_EQ(double(e4m3ToFloat(0xC4)), -std::ldexp(1.5, 1)); // e 8, m 4
  CHECK_EQ(double(e4m3ToFloat(0x7E)), 448.0);
  CHECK_EQ(double(e4m3ToFloat(0xFE)), -448.0);
  CHECK_EQ(double(e4m3ToFloat(0x01)), std::ldexp(1.0, -9)); // subnormal
  CHECK_EQ(double(e4m3ToFloat(0x07)), 7 * std::ldexp(1.0, -9));
  CHECK(std::signbit(e4m3ToFloat(0x80)) && e4m3ToFloat(0x80) == 0.0f);
  CHECK(std::isnan(e4m3ToFloat(0x7F)) && std::isnan(e4m3ToFloat(0xFF)));
  // A block: d = 0.25, then 128 values; element 3 is 0x40 (2.0), element
  // 127 is 0xB8 (-1.0); the next block's d = 3.
  std::vector<unsigned char> fp8(132 * 2, 0);
  float d = 0.25f, d2 = 3.0f;
  std::memcpy(fp8.data(), &d, 4);
  fp8[4 + 3] = 0x40;
  fp8[4 + 127] = 0xB8;
  std::memcpy(fp8.data() + 132, &d2, 4);
  fp8[132 + 4] = 0x3C; // 1.5
  CHECK_EQ(loadElement(DType::FP8_E4M3, fp8.data(), 3), 0.5);
  CHECK_EQ(loadElement(DType::FP8_E4M3, fp8.data(), 127), -0.25);
  CHECK_EQ(loadElement(DType::FP8_E4M3, fp8.data(), 128), 4.5);
  CHECK_EQ(dtypeBlockElements(DType::FP8_E4M3), int64_t(128));
  CHECK_EQ(dtypeBlockBytes(DType::FP8_E4M3), int64_t(132));
  CHECK(parseDType("fp8_e4m3") == DType::FP8_E4M3);
  CHECK_EQ(std::string(moert_dtype_name(MOERT_FP8_E4M3)),
           std::string("fp8_e4m3"));
  // F8_E4M3 in a safetensors file is the values alone, not this dtype.
  CHECK(!dtypeFromStorageName("F8_E4M3"));
}

TEST(safetensorsHeaderChecks) {
  std::vector<safetensors::TensorInfo> out;
  const std::string ok =
      R"({"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
          "b": {"dtype": "BF16", "shape": [4], "data_offsets": [24, 32]},
          "__metadata__": {"format": "pt"}})";
  CHECK_EQ(safetensors::parseHeader(ok, 32, "w", out), std::string());
  CHECK_EQ(out.size(), size_t(2));
  CHECK_EQ(out[1].shape[0], int64_t(4));
  auto err = [&](const std::string &header, uint64_t size) {
    std::vector<safetensors::TensorInfo> t;
    return safetensors::parseHeader(header, size, "w.safetensors", t);
  };
  CHECK_CONTAINS(err(ok, 31), "tensor 'b': data_offsets [24, 32] extend past");
  CHECK_CONTAINS(err("[1]", 0), "expected a JSON object");
  CHECK_CONTAINS(err("{", 0), "corrupt header (not valid JSON)");
  CHECK_CONTAINS(
      err(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})",
          8),
      "data_offsets cover 4 bytes but dtype F32 and the shape need 8");
  CHECK_CONTAINS(
      err(R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})",
          8),
      "shape entries must be non-negative integers");
  CHECK_CONTAINS(
      err(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}})",
          8),
      "0 <= begin <= end");
  CHECK_CONTAINS(err(R"({"a": {"shape": [1], "data_offsets": [0, 4]}})", 8),
                 "missing or non-string 'dtype'");
  CHECK_CONTAINS(
      err(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
              "b": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}})",
          8),
      "tensors 'a' and 'b' overlap");
  // Every byte of the data section belongs to a tensor.
  CHECK_CONTAINS(
      err(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
          8),
      "a hole of 4 bytes before tensor 'a' in the data section");
  CHECK_CONTAINS(
      err(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})",
          8),
      "4 bytes after the last tensor in the data section");
  CHECK_CONTAINS(
      err(R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296, 16],
                    "data_offsets": [0, 4]}})",
          8),
      "shape is too large");
}

namespace {
struct Work {
  std::atomic<int64_t> sum{0};
  std::vector<int> hits;
};
void addRange(void *ctx, int64_t begin, int64_t end) {
  auto *w = static_cast<Work *>(ctx);
  for (int64_t i = begin; i < end; ++i) {
    // Uneven work: later iterations are heavier.
    volatile int64_t spin = 0;
    for (int64_t j = 0; j < i * 100; ++j)
      spin = spin + j;
    w->sum += i;
    ++w->hits[i];
  }
}
} // namespace

TEST(threadPoolRunsEveryIterationOnce) {
  for (int threads : {1, 2, 5}) {
    moert::ThreadPool pool(threads);
    CHECK_EQ(pool.threads(), threads);
    for (int64_t n : {0, 1, 7, 1000}) {
      Work w;
      w.hits.assign(n, 0);
      pool.parallelFor(addRange, &w, n);
      CHECK_EQ(w.sum.load(), n * (n - 1) / 2);
      bool once = true;
      for (int h : w.hits)
        once &= h == 1;
      CHECK(once);
    }
  }
  CHECK(moert::ThreadPool::availableCores() >= 1);
  // Without a current pool the dispatcher runs inline.
  Work w;
  w.hits.assign(10, 0);
  moert_parallel_for(addRange, &w, 10);
  CHECK_EQ(w.sum.load(), int64_t(45));
}

TEST(weightsPackIntoZeroPaddedPanels) {
  // [E, N, K] = [3, 37, 5] into panels of 16: 3 panels, the last holding
  // 5 columns and 11 of zeros.
  std::vector<int64_t> shape = {3, 37, 5};
  std::vector<int64_t> packed = moert::packedShape(shape, 16);
  CHECK(packed == (std::vector<int64_t>{3, 3, 5, 16}));
  std::vector<float> w(3 * 37 * 5);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = 0.5f + static_cast<float>((i * 7919) % 1009);
  for (int threads : {1, 2}) {
    moert::ThreadPool pool(threads);
    std::vector<float> out(3 * 3 * 5 * 16, -1.0f);
    moert::packPanels(w.data(), out.data(), shape, 16, 1, sizeof(float),
                      threads > 1 ? &pool : nullptr);
    bool ok = true;
    for (int64_t e = 0; e < 3; ++e)
      for (int64_t p = 0; p < 3; ++p)
        for (int64_t k = 0; k < 5; ++k)
          for (int64_t j = 0; j < 16; ++j) {
            int64_t n = p * 16 + j;
            float want = n < 37 ? w[(e * 37 + n) * 5 + k] : 0.0f;
            ok &= out[((e * 3 + p) * 5 + k) * 16 + j] == want;
          }
    CHECK(ok);
  }
  // 2-byte elements (bf16 bits) move the same way.
  std::vector<uint16_t> h = {1, 2, 3, 4, 5, 6}; // [1, 3, 2]
  std::vector<uint16_t> hp(1 * 2 * 2 * 2, 9);
  moert::packPanels(h.data(), hp.data(), {1, 3, 2}, 2, 1, 2, nullptr);
  CHECK(hp == (std::vector<uint16_t>{1, 3, 2, 4, 5, 0, 6, 0}));
  // Pairs of k side by side: [N, K] = [3, 3] in panels of 2 and pairs,
  // [2, 2, 2, 2]; K pads to 4 and N to 4 with zeros.
  std::vector<uint16_t> m = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  CHECK(moert::packedShape({3, 3}, 2, 2) == (std::vector<int64_t>{2, 2, 2, 2}));
  std::vector<uint16_t> mp(16, 9);
  moert::packPanels(m.data(), mp.data(), {3, 3}, 2, 2, 2, nullptr);
  CHECK(mp == (std::vector<uint16_t>{1, 2, 4, 5, 3, 0, 6, 0, //
                                     7, 8, 0, 0, 9, 0, 0, 0}));
}

TEST(weightsPackFromStackedAndTransposedSources) {
  // [E, N, K] = [2, 19, 6] in panels of 8 (the last padded) and pairs of
  // k: packed from the contiguous weight, from one buffer per expert, and
  // from per-expert [K, N] buffers, the results agree bit for bit.
  const int64_t e = 2, n = 19, k = 6;
  std::vector<int64_t> shape = {e, n, k};
  std::vector<float> w(e * n * k);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = 0.25f + static_cast<float>((i * 7919) % 1013);
  std::vector<std::vector<float>> rows(e), cols(e);
  for (int64_t x = 0; x < e; ++x)
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < k; ++c) {
        rows[x].push_back(w[(x * n + r) * k + c]);
        cols[x].resize(n * k);
        cols[x][c * n + r] = w[(x * n + r) * k + c];
      }
  for (int64_t group : {1, 2}) {
    std::vector<int64_t> packed = moert::packedShape(shape, 8, group);
    size_t size = 1;
    for (int64_t d : packed)
      size *= d;
    moert::ThreadPool pool(2);
    std::vector<float> want(size, -1.0f), stacked(size, -2.0f),
        transposed(size, -3.0f);
    moert::packPanels(w.data(), want.data(), shape, 8, group, sizeof(float),
                      &pool);
    moert::PackSource fromRows{{rows[0].data(), rows[1].data()}, false};
    moert::packPanels(fromRows, stacked.data(), shape, 8, group, sizeof(float),
                      &pool);
    moert::PackSource fromCols{{cols[0].data(), cols[1].data()}, true};
    moert::packPanels(fromCols, transposed.data(), shape, 8, group,
                      sizeof(float), nullptr);
    CHECK(stacked == want);
    CHECK(transposed == want);
    // A spot check of the layout itself: expert 1, panel 2 (columns
    // 16..18), k 5, column 17.
    int64_t kq = group == 1 ? 5 : 2, r = group == 1 ? 0 : 1;
    size_t at = ((((1 * 3 + 2) * packed[2] + kq) * 8 + 1) * group) + r;
    CHECK_EQ(want[at], w[(1 * n + 17) * k + 5]);
  }
}

TEST(weightsPackInSlices) {
  // [E, N, K] = [3, 48, 5] in 4 slices of 12 columns, panels of 4 (3 per
  // slice), with and without pairs of k (K = 5 pads to 6): every element
  // lands at [s, e, p, k, j] (s, p and j from its column), whether packed
  // from the stacked weight or from per-expert [K, N] buffers; padding is
  // zero. Without experts, [N, K] packs as [S, P, K, w].
  const int64_t e = 3, n = 48, k = 5, panel = 4, slices = 4;
  std::vector<int64_t> shape = {e, n, k};
  std::vector<float> w(e * n * k);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = 0.5f + static_cast<float>((i * 104729) % 997);
  std::vector<std::vector<float>> cols(e, std::vector<float>(n * k));
  for (int64_t x = 0; x < e; ++x)
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < k; ++c)
        cols[x][c * n + r] = w[(x * n + r) * k + c];
  for (int64_t group : {1, 2}) {
    std::vector<int64_t> packed =
        moert::packedShape(shape, panel, group, slices);
    int64_t kq = (k + group - 1) / group;
    std::vector<int64_t> expect = {slices, e, 3, kq, panel};
    if (group > 1)
      expect.push_back(group);
    CHECK(packed == expect);
    size_t size = 1;
    for (int64_t d : packed)
      size *= d;
    moert::ThreadPool pool(2);
    std::vector<float> got(size, -1.0f), fromCols(size, -2.0f);
    moert::packPanels(w.data(), got.data(), shape, panel, group, sizeof(float),
                      &pool, slices);
    moert::PackSource source{{cols[0].data(), cols[1].data(), cols[2].data()},
                             true};
    moert::packPanels(source, fromCols.data(), shape, panel, group,
                      sizeof(float), nullptr, slices);
    CHECK(fromCols == got);
    size_t seen = 0;
    for (int64_t x = 0; x < e; ++x)
      for (int64_t r = 0; r < n; ++r)
        for (int64_t c = 0; c < k; ++c) {
          int64_t s = r / 12, p = r % 12 / panel, j = r % panel;
          size_t at =
              ((((s * e + x) * 3 + p) * kq + c / group) * panel + j) * group +
              c % group;
          CHECK_EQ(got[at], w[(x * n + r) * k + c]);
          ++seen;
        }
    size_t zeros = 0;
    for (float v : got)
      zeros += v == 0.0f;
    CHECK_EQ(seen + zeros, size);
  }
  std::vector<float> dense(n * k), denseGot(n * k);
  for (size_t i = 0; i < dense.size(); ++i)
    dense[i] = 1.0f + static_cast<float>(i);
  CHECK((moert::packedShape({n, k}, panel, 1, slices) ==
         std::vector<int64_t>{slices, 3, k, panel}));
  moert::packPanels(dense.data(), denseGot.data(), {n, k}, panel, 1,
                    sizeof(float), nullptr, slices);
  // Column 29 (slice 2, panel 1, lane 1), k 3.
  CHECK_EQ(denseGot[((2 * 3 + 1) * k + 3) * panel + 1], dense[29 * k + 3]);
}

TEST(scratchBuffersAreReusedWithinASession) {
  // Outside a session: plain, aligned, writable allocations.
  CHECK(moert::currentScratch() == nullptr);
  void *plain = moert_scratch_alloc(1000);
  CHECK(plain != nullptr);
  CHECK_EQ(reinterpret_cast<uintptr_t>(plain) % 64, uintptr_t(0));
  std::memset(plain, 1, 1000);
  moert_scratch_free(plain);
  moert_scratch_free(nullptr);
  CHECK(moert_scratch_alloc(-1) == nullptr);

  moert::ScratchCache cache;
  moert::currentScratch() = &cache;
  void *a = moert_scratch_alloc(3 << 20);
  void *b = moert_scratch_alloc(1 << 20);
  CHECK(a != nullptr && b != nullptr && a != b);
  CHECK_EQ(reinterpret_cast<uintptr_t>(a) % 64, uintptr_t(0));
  std::memset(a, 2, 3 << 20);
  moert_scratch_free(a);
  CHECK_EQ(cache.retainedBytes(), size_t(3 << 20));
  // The same size again gets the same buffer back; a much smaller one does
  // not take it (it would waste over half).
  void *c = moert_scratch_alloc(1 << 10);
  CHECK(c != a);
  void *d = moert_scratch_alloc(3 << 20);
  CHECK(d == a);
  CHECK_EQ(cache.retainedBytes(), size_t(0));
  // Buffers go back to their own cache from any thread.
  std::thread([&] {
    CHECK(moert::currentScratch() == nullptr);
    moert_scratch_free(b);
  }).join();
  CHECK_EQ(cache.retainedBytes(), size_t(1 << 20));
  moert_scratch_free(c);
  moert_scratch_free(d);
  moert::currentScratch() = nullptr;
  // The cache frees what it holds when it goes; no test here checks that
  // (the suite has no sanitizer or valgrind run yet).
}

TEST(capiRejectsNullsWithStatuses) {
  moert_artifact_t *artifact = reinterpret_cast<moert_artifact_t *>(1);
  moert_status_t st = moert_artifact_load(nullptr, &artifact);
  CHECK(artifact == nullptr);
  CHECK_EQ(moert_status_code(st), MOERT_INVALID_ARGUMENT);
  moert_status_free(st);
  st = moert_artifact_load("/nonexistent/model.so", &artifact);
  CHECK_EQ(moert_status_code(st), MOERT_IO_ERROR);
  CHECK_CONTAINS(moert_status_message(st), "cannot load artifact");
  moert_status_free(st);
  CHECK_EQ(moert_status_code(nullptr), MOERT_OK);
  CHECK_EQ(std::string(moert_status_message(nullptr)), std::string());
  moert_session_t *session = reinterpret_cast<moert_session_t *>(1);
  st = moert_session_create(nullptr, nullptr, &session);
  CHECK(session == nullptr);
  CHECK_EQ(moert_status_code(st), MOERT_INVALID_ARGUMENT);
  moert_status_free(st);
  st = moert_session_run(nullptr, "f", nullptr, 0, nullptr, 0);
  CHECK_EQ(moert_status_code(st), MOERT_INVALID_ARGUMENT);
  moert_status_free(st);
  CHECK_EQ(moert_artifact_function_count(nullptr), 0);
  CHECK(moert_artifact_function_name(nullptr, 0) == nullptr);
  moert_artifact_release(nullptr);
  moert_session_release(nullptr);
}

namespace {
char metadataEntry;
void *metadataStandIn(void *, const char *) { return &metadataEntry; }

/// parseMetadata's answer for a record whose "functions" array holds
/// `functions` (the JSON text of its elements).
std::string parseRecord(const std::string &functions) {
  moert_artifact_s a;
  a.metadataText = R"({"format": "moec-artifact", "version": 1, )"
                   R"("functions": [)" +
                   functions + "]}";
  return moert::parseMetadata(a, metadataStandIn, nullptr);
}

const char *kArgs =
    R"("arguments": [{"name": "x", "kind": "input", "dtype": "f32", )"
    R"("shape": [-1, 4]}], "results": [{"name": "output", "dtype": "f32", )"
    R"("shape": [-1, 4]}])";
} // namespace

// Names reach C callers as NUL-terminated strings: one with a NUL inside
// (JSON's \u0000), or an empty one, or two functions of one name, would
// answer lookups for another function (found by fuzz/artifact-metadata).
TEST(metadataRejectsNamesTheCApiCannotCarry) {
  std::string ok =
      std::string(R"({"name": "f", "symbol": "s", )") + kArgs + "}";
  CHECK_EQ(parseRecord(ok), std::string());
  CHECK_EQ(parseRecord(std::string(R"({"name": "f\u0000g", "symbol": "s", )") +
                       kArgs + "}"),
           std::string("a function's name or symbol is empty or contains a "
                       "NUL character"));
  CHECK_EQ(parseRecord(std::string(R"({"name": "f", "symbol": "s\u0000", )") +
                       kArgs + "}"),
           std::string("a function's name or symbol is empty or contains a "
                       "NUL character"));
  CHECK_EQ(
      parseRecord(std::string(R"({"name": "", "symbol": "s", )") + kArgs + "}"),
      std::string("a function's name or symbol is empty or contains a "
                  "NUL character"));
  CHECK_EQ(parseRecord(ok + ", " + ok),
           std::string("two functions are named 'f'"));
  std::string nulArg = R"({"name": "f", "symbol": "s", "arguments": [)"
                       R"({"name": "x\u0000", "kind": "input", "dtype": )"
                       R"("f32", "shape": [-1, 4]}], "results": []})";
  CHECK_EQ(parseRecord(nulArg),
           std::string("function 'f': a parameter's name is empty or "
                       "contains a NUL character"));
}
