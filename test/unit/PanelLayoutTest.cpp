//===- PanelLayoutTest.cpp - the one definition of weight panels ----------===//
//
// runtime/abi/PanelLayout.h: the ranges, the packed shape of each
// combination as docs/Artifact.md gives it, and the element mapping, which
// moert's packing follows.
//
//===----------------------------------------------------------------------===//
#include "runtime/abi/PanelLayout.h"

#include "runtime/moert/Packing.h"
#include "test/unit/Check.h"
#include <cstring>
#include <string>

using moe::abi::PanelLayout;
using Shape = std::vector<int64_t>;

TEST(panelLayoutRanges) {
  CHECK(PanelLayout::validPanel(1) && PanelLayout::validPanel(1 << 20));
  CHECK(!PanelLayout::validPanel(0) && !PanelLayout::validPanel((1 << 20) + 1));
  CHECK(PanelLayout::validKGroup(1) && PanelLayout::validKGroup(16));
  CHECK(!PanelLayout::validKGroup(0) && !PanelLayout::validKGroup(17));
  CHECK(PanelLayout::validSlices(4, 16, 64) &&
        PanelLayout::validSlices(1, 3, 6));
  CHECK(!PanelLayout::validSlices(4, 16, 96)); // 64 does not divide 96
  CHECK(!PanelLayout::validSlices(0, 1, 8) &&
        !PanelLayout::validSlices(65, 1, 65));
  CHECK_EQ((PanelLayout{64, 1, 1}.validate({8, 96, 64})), std::string());
  CHECK_EQ((PanelLayout{64, 1, 1}.validate({96, 64})), std::string());
  CHECK_CONTAINS((PanelLayout{64, 1, 1}.validate({96})), "rank 2 or 3");
  CHECK_CONTAINS((PanelLayout{64, 1, 1}.validate({2, 8, 96, 64})),
                 "rank 2 or 3");
  CHECK_CONTAINS((PanelLayout{0, 1, 1}.validate({96, 64})), "panel");
  CHECK_CONTAINS((PanelLayout{8, 17, 1}.validate({96, 64})), "k group");
  CHECK_CONTAINS((PanelLayout{64, 1, 2}.validate({96, 64})), "divide 96");
  CHECK_CONTAINS((PanelLayout{8, 1, 1}.validate({-1, 64})), "static");
}

TEST(panelLayoutPackedShapes) {
  // docs/Artifact.md, "packed", for [E, N, K] = [3, 40, 7] and [N, K]:
  // [E, ceil(N / NB), K, NB]; with G, [E, ceil(N / NB), ceil(K / G), NB, G];
  // with S, [S, E, N / (S NB), K, NB]; with both, [S, E, N / (S NB),
  // ceil(K / G), NB, G]; [N, K] the same without E.
  CHECK((PanelLayout{16, 1, 1}.packedShape({3, 40, 7}) == Shape{3, 3, 7, 16}));
  CHECK(
      (PanelLayout{16, 2, 1}.packedShape({3, 40, 7}) == Shape{3, 3, 4, 16, 2}));
  CHECK((PanelLayout{4, 1, 5}.packedShape({3, 40, 7}) == Shape{5, 3, 2, 7, 4}));
  CHECK((PanelLayout{4, 2, 5}.packedShape({3, 40, 7}) ==
         Shape{5, 3, 2, 4, 4, 2}));
  CHECK((PanelLayout{16, 1, 1}.packedShape({40, 7}) == Shape{3, 7, 16}));
  CHECK((PanelLayout{16, 2, 1}.packedShape({40, 7}) == Shape{3, 4, 16, 2}));
  CHECK((PanelLayout{4, 1, 5}.packedShape({40, 7}) == Shape{5, 2, 7, 4}));
  CHECK((PanelLayout{4, 2, 5}.packedShape({40, 7}) == Shape{5, 2, 4, 4, 2}));
  // moert's packedShape is this one.
  CHECK((moert::packedShape({3, 40, 7}, 4, 2, 5) == Shape{5, 3, 2, 4, 4, 2}));
}

TEST(panelLayoutMapsElements) {
  // [E, N, K] = [2, 6, 3] in panels of 2, pairs of k and 3 slices:
  // packed [3, 2, 1, 2, 2, 2], W[e, n, k] at [s, e, p, q, j, r] with
  // n = s * 2 + p * 2 + j (p = 0 here), k = q * 2 + r; k = 3 is padding.
  PanelLayout layout{2, 2, 3};
  Shape weight = {2, 6, 3};
  CHECK_EQ(layout.validate(weight), std::string());
  Shape packed = layout.packedShape(weight);
  CHECK((packed == Shape{3, 2, 1, 2, 2, 2}));
  PanelLayout::Map m = layout.map(weight);
  CHECK_EQ(m.elements(), int64_t(3 * 2 * 1 * 2 * 2 * 2));
  auto docIndex = [&](int64_t s, int64_t e, int64_t p, int64_t q, int64_t j,
                      int64_t r) {
    return ((((s * 2 + e) * 1 + p) * 2 + q) * 2 + j) * 2 + r;
  };
  for (int64_t e = 0; e < 2; ++e)
    for (int64_t n = 0; n < 6; ++n)
      for (int64_t k = 0; k < 3; ++k)
        CHECK_EQ(m.index(e, n, k), docIndex(n / 2, e, 0, k / 2, n % 2, k % 2));
  // Spot values: W[1, 5, 2] is at [2, 1, 0, 1, 1, 0].
  CHECK_EQ(m.index(1, 5, 2), docIndex(2, 1, 0, 1, 1, 0));
  // Every packed index maps back: to its source, or to padding.
  int64_t sources = 0, padding = 0;
  for (int64_t i = 0; i < m.elements(); ++i) {
    int64_t e, n, k;
    if (m.source(i, e, n, k)) {
      ++sources;
      CHECK_EQ(m.index(e, n, k), i);
    } else {
      ++padding;
      CHECK(n >= 6 || k >= 3);
    }
  }
  CHECK_EQ(sources, int64_t(2 * 6 * 3));
  CHECK_EQ(padding, m.elements() - sources);

  // N past the last panel pads too: [N, K] = [5, 2] in panels of 4.
  PanelLayout::Map dense = PanelLayout{4, 1, 1}.map({5, 2});
  int64_t e, n, k;
  CHECK(dense.source(dense.index(0, 4, 1), e, n, k) && n == 4 && k == 1);
  CHECK(!dense.source(dense.index(0, 4, 1) + 1, e, n, k) && n == 5);
}

TEST(packingFollowsThePanelLayout) {
  // moert's packing puts W[e, n, k] where the layout says and zeros
  // elsewhere, for each combination of k group and slices.
  Shape weight = {3, 24, 5};
  std::vector<float> w(3 * 24 * 5);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = 1.0f + static_cast<float>(i);
  for (int64_t group : {1, 2})
    for (int64_t slices : {1, 3}) {
      PanelLayout layout{4, group, slices};
      PanelLayout::Map m = layout.map(weight);
      std::vector<float> out(m.elements(), -1.0f);
      moert::packPanels(w.data(), out.data(), weight, 4, group, sizeof(float),
                        nullptr, slices);
      bool ok = true;
      for (int64_t i = 0; i < m.elements(); ++i) {
        int64_t e, n, k;
        float want = m.source(i, e, n, k) ? w[(e * 24 + n) * 5 + k] : 0.0f;
        ok &= out[i] == want;
      }
      CHECK(ok);
    }
}

TEST(int8PanelLayoutShapes) {
  using moe::abi::Int8PanelLayout;
  for (const char *dtype :
       {"q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "mxfp4", "u8z", "u4z", "q4_k",
        "q5_k", "q6_k", "q3_k", "q2_k", "iq4_nl", "iq4_xs"})
    CHECK(Int8PanelLayout::forDType(dtype).has_value());
  // The messages' list names exactly the dtypes forDType takes.
  CHECK_EQ(Int8PanelLayout::dtypeList("or"),
           std::string("q8_0, q4_0, q4_1, q5_0, q5_1, mxfp4, u8z, u4z, q4_k, "
                       "q5_k, q6_k, q3_k, q2_k, iq4_nl or iq4_xs"));
  // q2_k: its 84 bytes exactly.
  CHECK_EQ(Int8PanelLayout::forDType("q2_k")->panelRecordBytes(),
           int64_t(16 * 84));
  // q3_k: 114 bytes for its 110 (16 6-bit scales unpacked to a byte each).
  CHECK_EQ(Int8PanelLayout::forDType("q3_k")->panelRecordBytes(),
           int64_t(16 * 114));
  CHECK_EQ(Int8PanelLayout::forDType("q3_k")->rowBytes(512), int64_t(220));
  // iq4_nl: q4_0's 18 bytes; iq4_xs: 138 bytes for its 136 (6-bit scales
  // unpacked to a byte each).
  CHECK_EQ(Int8PanelLayout::forDType("iq4_nl")->panelRecordBytes(),
           int64_t(16 * 18));
  CHECK_EQ(Int8PanelLayout::forDType("iq4_xs")->panelRecordBytes(),
           int64_t(16 * 138));
  CHECK_EQ(Int8PanelLayout::forDType("iq4_xs")->rowBytes(512), int64_t(272));
  CHECK(!Int8PanelLayout::forDType("u4z128") &&
        !Int8PanelLayout::forDType("f32") && !Int8PanelLayout::forDType("u2z"));
  Int8PanelLayout q8 = *Int8PanelLayout::forDType("q8_0");
  Int8PanelLayout q4 = *Int8PanelLayout::forDType("q4_0");
  Int8PanelLayout mx = *Int8PanelLayout::forDType("mxfp4");
  Int8PanelLayout qk = *Int8PanelLayout::forDType("q4_k");
  // Per panel of 16 columns and block of 32: the blocks' own bytes; per
  // q4_k super-block 148 bytes a column for its 144 (scales unpacked).
  CHECK_EQ(q8.panelRecordBytes(), int64_t(16 * 34));
  CHECK_EQ(q4.panelRecordBytes(), int64_t(16 * 18));
  CHECK_EQ(mx.panelRecordBytes(), int64_t(16 * 17));
  CHECK_EQ(Int8PanelLayout::forDType("u8z")->panelRecordBytes(),
           int64_t(16 * 37));
  CHECK_EQ(Int8PanelLayout::forDType("u4z")->panelRecordBytes(),
           int64_t(16 * 21));
  // q5_k: 180 bytes for its 176 (scales unpacked); q6_k: its 210 bytes a
  // super-block and column exactly.
  CHECK_EQ(Int8PanelLayout::forDType("q5_k")->panelRecordBytes(),
           int64_t(16 * 180));
  CHECK_EQ(Int8PanelLayout::forDType("q6_k")->panelRecordBytes(),
           int64_t(16 * 210));
  CHECK_EQ(Int8PanelLayout::forDType("q6_k")->recordValues(), int64_t(256));
  CHECK_EQ(qk.panelRecordBytes(), int64_t(16 * 148));
  CHECK_EQ(qk.recordValues(), int64_t(256));
  CHECK(qk.packedShape({2, 40, 512}) == (Shape{2, 3, 2, 2368}));
  CHECK_EQ(qk.rowBytes(512), int64_t(288));
  CHECK_CONTAINS(qk.validate({40, 384}), "multiple of 256");
  CHECK(q8.packedShape({3, 40, 128}) == (Shape{3, 3, 4, 544}));
  CHECK(q4.packedShape({24, 64}) == (Shape{2, 2, 288}));
  CHECK(mx.packedShape({16, 32}) == (Shape{1, 1, 272}));
  CHECK_EQ(q8.validate({3, 40, 128}), std::string());
  CHECK_CONTAINS(q8.validate({128}), "rank 2 or 3");
  CHECK_CONTAINS(q8.validate({40, 48}), "multiple of 32");
  CHECK_CONTAINS(q4.validate({0, 64}), "non-empty");
}

/// A random weight [e, n, k] of `layout`'s format (bytes of a linear
/// congruential generator from `seed`) and its int8 panels.
struct RandomInt8Panels {
  std::vector<uint8_t> src, dst;
  Shape packed;

  /// Calls fn(out, c, b) for every panel record of a weight of n columns
  /// whose rows are `records` records of `stored` bytes, packed in `pb`
  /// bytes per panel and record: `out` the packed record, c the column in
  /// its panel, `b` the column's stored record (null for the padding
  /// columns past n).
  template <typename Fn>
  void forEachRecord(int64_t n, int64_t records, int64_t pb, int64_t stored,
                     Fn fn) const {
    for (int64_t x = 0; x < packed[0]; ++x)
      for (int64_t col = 0; col < packed[1] * 16; ++col)
        for (int64_t rec = 0; rec < records; ++rec)
          fn(dst.data() + ((x * packed[1] + col / 16) * records + rec) * pb,
             col % 16,
             col < n ? src.data() + ((x * n + col) * records + rec) * stored
                     : nullptr);
  }
};
RandomInt8Panels packRandomInt8(const moe::abi::Int8PanelLayout &layout,
                                int64_t e, int64_t n, int64_t k,
                                uint32_t seed) {
  RandomInt8Panels r;
  r.src.resize(e * n * layout.rowBytes(k));
  for (uint8_t &b : r.src) {
    seed = seed * 1664525u + 1013904223u;
    b = static_cast<uint8_t>(seed >> 24);
  }
  r.packed = layout.packedShape({e, n, k});
  r.dst.assign(r.packed[0] * r.packed[1] * r.packed[2] * r.packed[3], 0xAB);
  moert::packInt8Panels(r.src.data(), r.dst.data(), {e, n, k}, layout, nullptr);
  return r;
}

TEST(int8PanelPackingKeepsEveryValue) {
  // Random q8_0, q4_0, mxfp4, u8z, u4z and iq4_nl blocks of a weight [2, 21,
  // 96] (a last panel of 5 columns), packed, and every value, scale and zero
  // point read back through the layout's mapping (Int8PanelLayout.h)
  // equals the block's: q8_0's value at byte 64 t + 4 c + i is v + 128 for
  // v = 4 t + i, u8z's is its code; q4_0's, iq4_nl's, mxfp4's and u4z's byte
  // holds the codes of v = 4 t + i (low) and 16 + 4 t + i (high); the scales (2
  // bytes, mxfp4's 1, u8z's and u4z's 4) follow the lanes, then u8z's and u4z's
  // zero points.
  using moe::abi::Int8PanelLayout;
  uint32_t seed = 7;
  for (const char *dtype : {"q8_0", "q4_0", "mxfp4", "u8z", "u4z", "iq4_nl"}) {
    Int8PanelLayout layout = *Int8PanelLayout::forDType(dtype);
    const int64_t e = 2, n = 21, k = 96, blocks = k / 32;
    int64_t bytes = layout.storedRecordBytes(), sb = layout.scaleBytes();
    int64_t zb = layout.zeroPointBytes(), head = sb + zb;
    RandomInt8Panels r = packRandomInt8(layout, e, n, k, seed++);
    const std::vector<uint8_t> &src = r.src, &dst = r.dst;
    const Shape &packed = r.packed;
    int64_t pb = layout.panelRecordBytes();
    bool ok = true;
    for (int64_t x = 0; x < e; ++x)
      for (int64_t col = 0; col < packed[1] * 16; ++col)
        for (int64_t b = 0; b < blocks; ++b) {
          const uint8_t *out =
              dst.data() + ((x * packed[1] + col / 16) * blocks + b) * pb;
          int64_t c = col % 16;
          const uint8_t *block =
              col < n ? src.data() + ((x * n + col) * blocks + b) * bytes
                      : nullptr;
          // The scale, or zero past N.
          for (int64_t h = 0; h < sb; ++h)
            ok &= out[64 * layout.laneRows() + sb * c + h] ==
                  (block ? block[h] : 0);
          if (zb)
            ok &= out[pb - 16 + c] == (block ? block[sb] : 0);
          for (int64_t v = 0; v < 32; ++v) {
            int64_t t = (v % 16) / 4, i = v % 4;
            if (layout.format == Int8PanelLayout::Format::Q8_0) {
              t = v / 4;
              int value = out[64 * t + 4 * c + i] - 128;
              ok &=
                  value == (block ? static_cast<int8_t>(block[sb + v]) : -128);
            } else if (layout.format == Int8PanelLayout::Format::U8Z) {
              t = v / 4;
              ok &= out[64 * t + 4 * c + i] == (block ? block[head + v] : 0);
            } else {
              uint8_t byte = out[64 * t + 4 * c + i];
              int code = v < 16 ? byte & 15 : byte >> 4;
              int want = block ? (v < 16 ? block[head + v] & 15
                                         : block[head + v - 16] >> 4)
                               : 0;
              ok &= code == want;
            }
          }
        }
    CHECK(ok);
  }
}

TEST(int8PanelPackingKeepsEveryQ4KQ5KValue) {
  // Random q4_k and q5_k super-blocks of a weight [2, 21, 512] (two per
  // row, a last panel of 5 columns), packed, and every value's code, 6-bit
  // scale and min and the super-block's d and dmin read back through the
  // layout's mapping (Int8PanelLayout.h) equal the ones the dialect's
  // definition (dialect/MoETypes.td) reads from the stored super-block;
  // q5_k's 5-bit codes take their fifth bit from bit j / 32 of qh[j % 32]
  // (ggml's dequantize_row_q5_K), read back from the fifth lane row (bit
  // t for the low nibbles, 4 + t for the high).
  using moe::abi::Int8PanelLayout;
  uint32_t seed = 11;
  for (const char *dtype : {"q4_k", "q5_k"}) {
    Int8PanelLayout layout = *Int8PanelLayout::forDType(dtype);
    bool q5 = std::string(dtype) == "q5_k";
    const int64_t e = 2, n = 21, k = 512, supers = k / 256;
    RandomInt8Panels r = packRandomInt8(layout, e, n, k, seed++);
    const std::vector<uint8_t> &src = r.src, &dst = r.dst;
    const Shape &packed = r.packed;
    // Bytes per panel and super-block, per stored super-block, per block's
    // lane rows; where d, dmin, the scales and the mins start.
    const int64_t pb = q5 ? 2880 : 2368, stored = q5 ? 176 : 144;
    const int64_t lanes = q5 ? 320 : 256, d = 8 * lanes;
    CHECK_EQ(layout.panelRecordBytes(), pb);
    bool ok = true;
    for (int64_t x = 0; x < e; ++x)
      for (int64_t col = 0; col < packed[1] * 16; ++col)
        for (int64_t rec = 0; rec < supers; ++rec) {
          const uint8_t *out =
              dst.data() + ((x * packed[1] + col / 16) * supers + rec) * pb;
          int64_t c = col % 16;
          const uint8_t *b =
              col < n ? src.data() + ((x * n + col) * supers + rec) * stored
                      : nullptr;
          for (int64_t h = 0; h < 2; ++h) {
            ok &= out[d + 2 * c + h] == (b ? b[h] : 0);          // d
            ok &= out[d + 32 + 2 * c + h] == (b ? b[2 + h] : 0); // dmin
          }
          for (int64_t j = 0; j < 256; ++j) {
            int64_t t = j / 32, w = j % 32, lane = (w % 16) / 4;
            int want = 0, wantSc = 0, wantM = 0;
            if (b) {
              const uint8_t *s = b + 4, *qh = b + 16, *qs = b + (q5 ? 48 : 16);
              uint8_t q = qs[32 * (j / 64) + j % 32];
              want = j % 64 < 32 ? q & 15 : q >> 4;
              if (q5)
                want |= ((qh[j % 32] >> (j / 32)) & 1) << 4;
              wantSc =
                  t < 4 ? s[t] & 63 : (s[t + 4] & 15) | (s[t - 4] >> 6) << 4;
              wantM =
                  t < 4 ? s[t + 4] & 63 : (s[t + 4] >> 4) | (s[t] >> 6) << 4;
            }
            uint8_t byte = out[lanes * t + 64 * lane + 4 * c + w % 4];
            int code = w < 16 ? byte & 15 : byte >> 4;
            if (q5)
              code |= ((out[lanes * t + 256 + 4 * c + w % 4] >>
                        (w < 16 ? lane : 4 + lane)) &
                       1)
                      << 4;
            ok &= code == want;
            ok &= out[d + 64 + 16 * t + c] == wantSc;
            ok &= out[d + 192 + 16 * t + c] == wantM;
          }
        }
    CHECK(ok);
  }
}

TEST(int8PanelPackingKeepsEveryQ6KValue) {
  // Random q6_k super-blocks of a weight [2, 21, 512] (two per row, a last
  // panel of 5 columns), packed, and every value's 6-bit code, its int8
  // scale and the super-block's d read back through the layout's mapping
  // (Int8PanelLayout.h) equal the ones ggml's q6_k decoder reads from the
  // stored super-block (for each half of 128 values and l < 32: values
  // l, l + 32, l + 64 and l + 96 from the low nibbles of ql[l] and
  // ql[l + 32], then their high nibbles, with bits 0-1, 2-3, 4-5 and 6-7
  // of qh[l]; scale l / 16 + 2 i for the i-th of them).
  using moe::abi::Int8PanelLayout;
  Int8PanelLayout layout = *Int8PanelLayout::forDType("q6_k");
  const int64_t e = 2, n = 21, k = 512, supers = k / 256;
  RandomInt8Panels r = packRandomInt8(layout, e, n, k, 13);
  const Shape &packed = r.packed;
  const int64_t pb = 3360;
  bool ok = true;
  int64_t checked = 0;
  r.forEachRecord(
      n, supers, pb, 210, [&](const uint8_t *out, int64_t c, const uint8_t *b) {
        int want[256] = {}, wantSc[256] = {};
        if (b)
          for (int64_t half = 0; half < 2; ++half) {
            const uint8_t *ql = b + 64 * half, *qh = b + 128 + 32 * half;
            const uint8_t *sc = b + 192 + 8 * half;
            for (int64_t l = 0; l < 32; ++l) {
              int64_t y = 128 * half + l;
              want[y] = (ql[l] & 15) | ((qh[l] >> 0) & 3) << 4;
              want[y + 32] = (ql[l + 32] & 15) | ((qh[l] >> 2) & 3) << 4;
              want[y + 64] = (ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4;
              want[y + 96] = (ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4;
              for (int64_t i = 0; i < 4; ++i)
                wantSc[y + 32 * i] = sc[l / 16 + 2 * i];
            }
          }
        for (int64_t h = 0; h < 2; ++h)
          ok &= out[3072 + 2 * c + h] == (b ? b[208 + h] : 0); // d
        for (int64_t v = 0; v < 256; ++v) {
          int64_t j = v / 32, w = v % 32, t = (w % 16) / 4, i = w % 4;
          uint8_t nib = out[384 * j + 64 * t + 4 * c + i];
          uint8_t high = out[384 * j + 256 + 64 * (w / 16) + 4 * c + i];
          int code = (w < 16 ? nib & 15 : nib >> 4) | ((high >> (2 * t)) & 3)
                                                          << 4;
          ok &= code == want[v];
          ok &= out[3104 + 16 * (v / 16) + c] == wantSc[v];
          ++checked;
        }
      });
  CHECK(ok);
  CHECK_EQ(checked, e * packed[1] * 16 * k);
}

TEST(int8PanelPackingKeepsEveryQ41Q5Value) {
  // Random q4_1, q5_0 and q5_1 blocks of a weight [2, 21, 96] (a last
  // panel of 5 columns), packed, and every value's code (4 or 5 bits), d
  // and m read back through the layout's mapping (Int8PanelLayout.h) equal
  // the ones ggml's decoders read from the stored block (q4_1: d, m, 16
  // bytes qs; q5_0: d, 4 bytes qh, qs; q5_1: d, m, qh, qs; value j < 16
  // from the low nibble of qs[j], 16 + j from its high one; the fifth bit
  // of value j is bit j of qh as a little-endian u32).
  using moe::abi::Int8PanelLayout;
  uint32_t seed = 21;
  for (const char *dtype : {"q4_1", "q5_0", "q5_1"}) {
    Int8PanelLayout layout = *Int8PanelLayout::forDType(dtype);
    bool fifthBits = std::string(dtype) != "q4_1";
    bool min = std::string(dtype) != "q5_0";
    const int64_t e = 2, n = 21, k = 96, blocks = k / 32;
    int64_t bytes = 2 + (min ? 2 : 0) + (fifthBits ? 4 : 0) + 16;
    CHECK_EQ(layout.storedRecordBytes(), bytes);
    CHECK_EQ(layout.panelRecordBytes(), 16 * bytes);
    RandomInt8Panels r = packRandomInt8(layout, e, n, k, seed++);
    const std::vector<uint8_t> &src = r.src, &dst = r.dst;
    const Shape &packed = r.packed;
    int64_t pb = 16 * bytes, lanes = fifthBits ? 320 : 256;
    bool ok = true;
    for (int64_t x = 0; x < e; ++x)
      for (int64_t col = 0; col < packed[1] * 16; ++col)
        for (int64_t b = 0; b < blocks; ++b) {
          const uint8_t *out =
              dst.data() + ((x * packed[1] + col / 16) * blocks + b) * pb;
          int64_t c = col % 16;
          const uint8_t *block =
              col < n ? src.data() + ((x * n + col) * blocks + b) * bytes
                      : nullptr;
          for (int64_t h = 0; h < 2; ++h) {
            ok &= out[lanes + 2 * c + h] == (block ? block[h] : 0); // d
            if (min)
              ok &= out[lanes + 32 + 2 * c + h] == (block ? block[2 + h] : 0);
          }
          uint32_t qh = 0;
          const uint8_t *qs = nullptr;
          if (block) {
            int64_t at = min ? 4 : 2;
            if (fifthBits) {
              std::memcpy(&qh, block + at, 4);
              at += 4;
            }
            qs = block + at;
          }
          for (int64_t v = 0; v < 32; ++v) {
            int64_t t = (v % 16) / 4, i = v % 4;
            int want = 0;
            if (block)
              want = (v < 16 ? qs[v] & 15 : qs[v - 16] >> 4) |
                     (fifthBits ? int((qh >> v) & 1) << 4 : 0);
            uint8_t byte = out[64 * t + 4 * c + i];
            int code = v < 16 ? byte & 15 : byte >> 4;
            if (fifthBits)
              code |= ((out[256 + 4 * c + i] >> (v < 16 ? t : 4 + t)) & 1) << 4;
            ok &= code == want;
          }
        }
    CHECK(ok);
  }
}

TEST(int8PanelPackingKeepsEveryIQ4XSValue) {
  // Random iq4_xs super-blocks of a weight [2, 21, 512] (two per row, a
  // last panel of 5 columns), packed, and every value's code, its
  // sub-block's scale and the super-block's d read back through the
  // layout's mapping (Int8PanelLayout.h) equal the ones ggml's
  // dequantize_row_iq4_xs reads from the stored super-block (sub-block t:
  // codes of qs[16 t + l] low then high nibbles, scale ((sl[t / 2] >> 4 (t
  // % 2)) & 15 | ((sh >> 2 t) & 3) << 4) - 32).
  using moe::abi::Int8PanelLayout;
  Int8PanelLayout layout = *Int8PanelLayout::forDType("iq4_xs");
  const int64_t e = 2, n = 21, k = 512, supers = k / 256, pb = 2208;
  RandomInt8Panels r = packRandomInt8(layout, e, n, k, 31);
  CHECK_EQ(layout.panelRecordBytes(), pb);
  bool ok = true;
  r.forEachRecord(
      n, supers, pb, 136, [&](const uint8_t *out, int64_t c, const uint8_t *b) {
        for (int64_t h = 0; h < 2; ++h)
          ok &= out[2048 + 2 * c + h] == (b ? b[h] : 0);
        for (int64_t j = 0; j < 256; ++j) {
          int64_t t = j / 32, w = j % 32, lane = (w % 16) / 4;
          int want = 0, wantLs = 0;
          if (b) {
            uint8_t q = b[8 + 16 * t + w % 16];
            want = w < 16 ? q & 15 : q >> 4;
            int sh = b[2] | b[3] << 8;
            wantLs = (((b[4 + t / 2] >> (4 * (t % 2))) & 15) |
                      ((sh >> (2 * t)) & 3) << 4) -
                     32;
          }
          uint8_t byte = out[256 * t + 64 * lane + 4 * c + w % 4];
          ok &= (w < 16 ? byte & 15 : byte >> 4) == want;
          ok &= static_cast<int8_t>(out[2080 + 16 * t + c]) == wantLs;
        }
      });
  CHECK(ok);
}

TEST(int8PanelPackingKeepsEveryQ3KValue) {
  // Random q3_k super-blocks of a weight [2, 21, 512] (two per row, a last
  // panel of 5 columns), packed, and every value's 3-bit code, its scale
  // and the super-block's d read back through the layout's mapping
  // (Int8PanelLayout.h) equal the ones ggml's dequantize_row_q3_K reads
  // from the stored super-block: per half of 128 values (q advancing by
  // 32 bytes) and j < 4, values 32 j + l (l < 32) from bits 2 j and 2 j + 1
  // of q[l], the third bit set where hm[l] has bit m (m = 1 shifted left
  // once per j, across the halves); the 16 scales unpacked from 12 bytes
  // with the masks 0x0f0f0f0f and 0x03030303, less 32.
  using moe::abi::Int8PanelLayout;
  Int8PanelLayout layout = *Int8PanelLayout::forDType("q3_k");
  const int64_t e = 2, n = 21, k = 512, supers = k / 256, pb = 1824;
  RandomInt8Panels r = packRandomInt8(layout, e, n, k, 17);
  const Shape &packed = r.packed;
  CHECK_EQ(layout.panelRecordBytes(), pb);
  bool ok = true;
  int64_t checked = 0;
  r.forEachRecord(
      n, supers, pb, 110, [&](const uint8_t *out, int64_t c, const uint8_t *b) {
        int want[256] = {}, wantSc[16] = {};
        if (b) {
          const uint8_t *hm = b, *q = b + 32;
          int m = 1;
          for (int64_t half = 0; half < 2; ++half, q += 32)
            for (int64_t j = 0; j < 4; ++j, m <<= 1)
              for (int64_t l = 0; l < 32; ++l)
                want[128 * half + 32 * j + l] =
                    ((q[l] >> (2 * j)) & 3) | (hm[l] & m ? 4 : 0);
          uint32_t aux[4];
          std::memcpy(aux, b + 96, 12);
          uint32_t tmp = aux[2];
          aux[2] =
              ((aux[0] >> 4) & 0x0f0f0f0f) | (((tmp >> 4) & 0x03030303) << 4);
          aux[3] =
              ((aux[1] >> 4) & 0x0f0f0f0f) | (((tmp >> 6) & 0x03030303) << 4);
          aux[0] = (aux[0] & 0x0f0f0f0f) | (((tmp >> 0) & 0x03030303) << 4);
          aux[1] = (aux[1] & 0x0f0f0f0f) | (((tmp >> 2) & 0x03030303) << 4);
          int8_t sc[16];
          std::memcpy(sc, aux, 16);
          for (int64_t s = 0; s < 16; ++s)
            wantSc[s] = sc[s] - 32;
        }
        for (int64_t h = 0; h < 2; ++h)
          ok &= out[1536 + 2 * c + h] == (b ? b[108 + h] : 0); // d
        for (int64_t v = 0; v < 256; ++v) {
          int64_t j = v / 32, w = v % 32, half = w / 16, s = (w % 16) / 4;
          int64_t i = w % 4, t = 4 * half + s;
          uint8_t crumbs = out[192 * j + 64 * half + 4 * c + i];
          uint8_t third = out[192 * j + 128 + 4 * c + i];
          int code = ((crumbs >> (2 * s)) & 3) | ((third >> t) & 1) << 2;
          ok &= code == want[v];
          ok &= static_cast<int8_t>(out[1568 + 16 * (v / 16) + c]) ==
                wantSc[v / 16];
          ++checked;
        }
      });
  CHECK(ok);
  CHECK_EQ(checked, e * packed[1] * 16 * k);
}

TEST(int8PanelPackingKeepsEveryQ2KValue) {
  // Random q2_k super-blocks of a weight [2, 21, 512] (two per row, a last
  // panel of 5 columns), packed, and every value's 2-bit code, its scale
  // and min byte, the super-block's d and dmin read back through the
  // layout's mapping (Int8PanelLayout.h) equal the ones ggml's
  // dequantize_row_q2_K reads from the stored super-block: per half of 128
  // values (q advancing by 32 bytes) and j < 4, values 32 j + l (l < 32)
  // from bits 2 j and 2 j + 1 of q[l]; scales[v / 16] holding the scale
  // (low nibble) and the min (high nibble) of value v.
  using moe::abi::Int8PanelLayout;
  Int8PanelLayout layout = *Int8PanelLayout::forDType("q2_k");
  const int64_t e = 2, n = 21, k = 512, supers = k / 256, pb = 1344;
  RandomInt8Panels r = packRandomInt8(layout, e, n, k, 23);
  const Shape &packed = r.packed;
  CHECK_EQ(layout.panelRecordBytes(), pb);
  bool ok = true;
  int64_t checked = 0;
  r.forEachRecord(
      n, supers, pb, 84, [&](const uint8_t *out, int64_t c, const uint8_t *b) {
        int want[256] = {};
        if (b) {
          const uint8_t *q = b + 16;
          for (int64_t half = 0; half < 2; ++half, q += 32)
            for (int64_t j = 0; j < 4; ++j)
              for (int64_t l = 0; l < 32; ++l)
                want[128 * half + 32 * j + l] = (q[l] >> (2 * j)) & 3;
        }
        for (int64_t h = 0; h < 2; ++h) {
          ok &= out[1024 + 2 * c + h] == (b ? b[80 + h] : 0); // d
          ok &= out[1056 + 2 * c + h] == (b ? b[82 + h] : 0); // dmin
        }
        for (int64_t v = 0; v < 256; ++v) {
          int64_t j = v / 32, w = v % 32, half = w / 16, s = (w % 16) / 4;
          uint8_t crumbs = out[128 * j + 64 * half + 4 * c + w % 4];
          ok &= ((crumbs >> (2 * s)) & 3) == want[v];
          ok &= out[1088 + 16 * (v / 16) + c] == (b ? b[v / 16] : 0);
          ++checked;
        }
      });
  CHECK(ok);
  CHECK_EQ(checked, e * packed[1] * 16 * k);
}
