//===- Int8PanelLayout.h - the one definition of int8 weight panels -*- C++
//-*-//
//
// A block-quantized weight the artifact takes `int8_panels`
// (docs/Artifact.md) is laid out for the int8 panel kernel
// (codegen/cpu/Int8Panels.cpp): output columns in panels of 16, each
// panel's blocks of 32 values of k one after another, and per panel and
// block the 16 columns' values as the i32 lanes vpdpbusd multiplies
// (4 values of one column per lane), then their 16 scales.
// moe-pack-weights (codegen/cpu/PackWeights.cpp) marks the argument,
// convert-moe-to-cpu-kernels types it with packedShape(), and moert
// (runtime/moert/SessionWeights.cpp) fills it with packMatrix(). For a
// weight [E, N, K] (a dense [N, K] is one expert, without E):
//
//   packed shape  [E?, ceil(N / 16), K / R, B] bytes, R and B per
//   format below (R = 32 but for q4_k); panel p, record r holds columns
//   n = 16 p + c (c < 16) and values k = R r + v (v < R):
//
//   q8_0 (B = 544)   byte 64 t + 4 c + i (t < 8, i < 4): the value at
//                    v = 4 t + i plus 128 (an unsigned byte, the value's
//                    two's complement with its sign bit flipped); then at
//                    byte 512 + 2 c the block's f16 scale d as stored;
//   q4_0 (B = 288)   byte 64 t + 4 c + i (t < 4, i < 4): the block's code
//                    byte 4 t + i as stored (low nibble: the code of
//                    v = 4 t + i, high nibble: of v = 16 + 4 t + i); then
//                    at byte 256 + 2 c the block's f16 scale d;
//   mxfp4 (B = 272)  the codes as q4_0's (e2m1 codes); then at byte
//                    256 + c the block's e8m0 scale byte;
//   u8z (B = 592)    the codes as q8_0's values, as stored (unsigned);
//                    then at byte 512 + 4 c the block's f32 scale d and
//                    at byte 576 + c its zero point z;
//   u4z (B = 336)    the codes as q4_0's; then at byte 256 + 4 c the f32
//                    scale d and at byte 320 + c the zero point z;
//   q4_k (R = 256, B = 2368)  per sub-block j < 8 (v = 32 j + w, w < 32)
//                    at byte 256 j + 64 t + 4 c + i the codes of w = 4 t + i
//                    (low nibble) and w = 16 + 4 t + i (high nibble), as
//                    q4_0's; then at byte 2048 + 2 c the super-block's f16
//                    d, at 2080 + 2 c its f16 dmin, at 2112 + 16 j + c
//                    sub-block j's 6-bit scale sc and at 2240 + 16 j + c
//                    its 6-bit min m, one byte each.
//   q5_k (R = 256, B = 2880)  as q4_k, with per block j < 8 a fifth row of
//                    lanes: at byte 320 j + 256 + 4 c + i the fifth bits
//                    of the codes of w = 4 t + i in bit t and of w = 16 +
//                    4 t + i in bit 4 + t (t < 4), the nibbles at 320 j +
//                    64 t + 4 c + i; then at byte 2560 + 2 c the f16 d,
//                    at 2592 + 2 c the f16 dmin, at 2624 + 16 j + c block
//                    j's 6-bit scale and at 2752 + 16 j + c its 6-bit min.
//   q6_k (R = 256, B = 3360)  per block j < 8 (v = 32 j + w, w < 32) at
//                    byte 384 j + 64 t + 4 c + i the low 4 bits of the
//                    6-bit codes q of w = 4 t + i (low nibble) and
//                    w = 16 + 4 t + i (high nibble), and at byte
//                    384 j + 256 + 64 h + 4 c + i (h < 2) the high 2 bits
//                    of the codes of w = 16 h + 4 t + i in bits 2 t and
//                    2 t + 1 (t < 4); then at byte 3072 + 2 c the
//                    super-block's f16 d and at 3104 + 16 s + c the int8
//                    scale of its values 16 s to 16 s + 15 (s < 16), so
//                    that block j's low nibbles take scale 2 j and its
//                    high nibbles 2 j + 1. A value is d sc (q - 32).
//   q4_1 (B = 320)   the codes as q4_0's; then at byte 256 + 2 c the f16
//                    scale d and at 288 + 2 c the f16 min m (w = d q + m);
//   q5_0 (B = 352), q5_1 (B = 384)  the low 4 bits of the codes as q4_0's,
//                    then at byte 256 + 4 c + i their fifth bits: of
//                    w = 4 t + i in bit t, of w = 16 + 4 t + i in bit 4 + t
//                    (t < 4); then at byte 320 + 2 c the f16 scale d and
//                    for q5_1 at 352 + 2 c the f16 min m;
//   q3_k (R = 256, B = 1824)  per block j < 8 (v = 32 j + w, w < 32) at
//                    byte 192 j + 64 h + 4 c + i (h < 2) the low 2 bits of
//                    the 3-bit codes q of w = 16 h + 4 s + i in bits 2 s and
//                    2 s + 1 (s < 4), and at byte 192 j + 128 + 4 c + i
//                    their third bits: of w = 16 (t / 4) + 4 (t % 4) + i in
//                    bit t (t < 8); then at byte 1536 + 2 c the super-block's
//                    f16 d and at 1568 + 16 s + c the 6-bit scale less 32,
//                    as an int8, of its values 16 s to 16 s + 15 (s < 16),
//                    so that block j's first 16 values take scale 2 j and
//                    its last 16 scale 2 j + 1. A value is d sc (q - 4).
//   q2_k (R = 256, B = 1344)  per block j < 8 at byte 128 j + 64 h + 4 c + i
//                    (h < 2) the 2-bit codes q of w = 16 h + 4 s + i in
//                    bits 2 s and 2 s + 1 (s < 4), as q3_k's crumbs; then
//                    at byte 1024 + 2 c the super-block's f16 d, at 1056 +
//                    2 c its f16 dmin, and at 1088 + 16 s + c the byte of
//                    values 16 s to 16 s + 15 (s < 16) as stored: the
//                    scale sc in its low nibble, the min m in its high
//                    one. A value is d sc q - dmin m.
//   iq4_nl (B = 288) as q4_0 (its codes index the non-linear values);
//   iq4_xs (R = 256, B = 2208)  per sub-block j < 8 the codes of its 16
//                    bytes qs[16 j + w] as q4_0's, at byte 256 j + 64 t +
//                    4 c + i; then at byte 2048 + 2 c the super-block's
//                    f16 d and at 2080 + 16 j + c sub-block j's scale
//                    ls - 32 as an int8. A value is d (ls - 32) v[q].
//   padding          columns n >= N: zero bytes, scales and zero points.
//
// The panels hold exactly the bytes of the blocks they come from (q6_k's
// 210 a super-block and column, q2_k's 84), but q4_k's and q5_k's, whose 12
// bytes of 6-bit scales and mins per super-block take 16 bytes unpacked: 148
// bytes for q4_k's 144 (1.03x), 180 for q5_k's 176 (1.02x), q3_k's, whose 12
// bytes of 16 6-bit scales take 16: 114 bytes for 110 (1.04x), and
// iq4_xs's, whose 6 bytes of 6-bit scales take 8: 138 bytes for 136
// (1.015x).
//
// Plain C++17 without dependencies: the compiler and the runtime both
// include it.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_ABI_INT8PANELLAYOUT_H
#define MOEC_RUNTIME_ABI_INT8PANELLAYOUT_H

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moe::abi {

struct Int8PanelLayout {
  enum class Format {
    Q8_0,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    MXFP4,
    U8Z,
    U4Z,
    Q4_K,
    Q5_K,
    Q6_K,
    Q3_K,
    Q2_K,
    IQ4_NL,
    IQ4_XS
  };
  Format format = Format::Q8_0;

  /// Columns per panel, values per block (of one scale).
  static constexpr int64_t kPanel = 16, kBlock = 32;

  /// The dtypes that have a layout, by name, in the order of messages.
  static constexpr struct {
    const char *name;
    Format format;
  } kDTypes[] = {{"q8_0", Format::Q8_0},    {"q4_0", Format::Q4_0},
                 {"q4_1", Format::Q4_1},    {"q5_0", Format::Q5_0},
                 {"q5_1", Format::Q5_1},    {"mxfp4", Format::MXFP4},
                 {"u8z", Format::U8Z},      {"u4z", Format::U4Z},
                 {"q4_k", Format::Q4_K},    {"q5_k", Format::Q5_K},
                 {"q6_k", Format::Q6_K},    {"q3_k", Format::Q3_K},
                 {"q2_k", Format::Q2_K},    {"iq4_nl", Format::IQ4_NL},
                 {"iq4_xs", Format::IQ4_XS}};

  /// The layout of a weight of dtype `name` (one of kDTypes), if it has
  /// one.
  static std::optional<Int8PanelLayout> forDType(std::string_view name) {
    for (const auto &d : kDTypes)
      if (name == d.name)
        return Int8PanelLayout{d.format};
    return std::nullopt;
  }

  /// kDTypes' names for messages: "q8_0, q4_0, ..., iq4_nl `last` iq4_xs"
  /// with `last` "or" or "and".
  static std::string dtypeList(std::string_view last) {
    std::string list;
    size_t count = sizeof(kDTypes) / sizeof(kDTypes[0]);
    for (size_t i = 0; i < count; ++i) {
      if (i)
        list += i + 1 < count ? ", " : " " + std::string(last) + " ";
      list += kDTypes[i].name;
    }
    return list;
  }

  /// Whether a record is a super-block of 256 values (the K-quants',
  /// iq4_xs's).
  bool superBlocks() const {
    return format == Format::Q4_K || format == Format::Q5_K ||
           format == Format::Q6_K || format == Format::Q3_K ||
           format == Format::Q2_K || format == Format::IQ4_XS;
  }
  /// Whether the codes' low bits are in rows of 2-bit crumbs (two per
  /// block; q3_k's third bits in a row after them) rather than nibbles.
  bool crumbs() const {
    return format == Format::Q3_K || format == Format::Q2_K;
  }
  /// Whether a block takes two scales, one per 16 values (q6_k, q3_k,
  /// q2_k).
  bool halfScales() const {
    return format == Format::Q6_K || format == Format::Q3_K ||
           format == Format::Q2_K;
  }
  /// Whether a super-block has an f16 dmin after its d (q4_k, q5_k, q2_k).
  bool superMins() const {
    return format == Format::Q4_K || format == Format::Q5_K ||
           format == Format::Q2_K;
  }
  /// Whether the codes index ggml's non-linear 4-bit values (iq4_nl,
  /// iq4_xs) rather than being the values' integers.
  bool nonLinear() const {
    return format == Format::IQ4_NL || format == Format::IQ4_XS;
  }
  /// Blocks of 32 per record (R / 32): a super-block's 8, else 1.
  int64_t recordBlocks() const { return superBlocks() ? 8 : 1; }
  /// R: values of k per record.
  int64_t recordValues() const { return kBlock * recordBlocks(); }

  /// Bytes of a block's scale: an f16, an e8m0 byte for mxfp4, an f32 for
  /// u8z and u4z (the super-blocks' d; their sub-blocks': subScalesAt).
  int64_t scaleBytes() const {
    switch (format) {
    case Format::MXFP4:
      return 1;
    case Format::U8Z:
    case Format::U4Z:
      return 4;
    default:
      return 2;
    }
  }
  /// Bytes of a block's zero point: 1 for u8z and u4z, q4_1's and q5_1's
  /// f16 min m, else none.
  int64_t zeroPointBytes() const {
    if (format == Format::Q4_1 || format == Format::Q5_1)
      return 2;
    return format == Format::U8Z || format == Format::U4Z ? 1 : 0;
  }
  /// Rows of 64 bytes of the codes' bits above their low 4 per panel and
  /// block, after 4 rows of nibbles: 1 of fifth bits (q5_0, q5_1, q5_k),
  /// 2 of high bit pairs (q6_k), else none.
  int64_t highBitRows() const {
    if (format == Format::Q5_0 || format == Format::Q5_1 ||
        format == Format::Q5_K)
      return 1;
    return format == Format::Q6_K ? 2 : 0;
  }
  /// Rows of 64 bytes per panel and block: 8 of 4 values a lane, 2 of
  /// crumbs (and q3_k's of third bits), or 4 of 8 nibbles and the
  /// highBitRows.
  int64_t laneRows() const {
    if (crumbs())
      return format == Format::Q3_K ? 3 : 2;
    return format == Format::Q8_0 || format == Format::U8Z ? 8
                                                           : 4 + highBitRows();
  }
  /// Bytes of one stored record of a row (a block, or q4_k's super-block):
  /// the scale, the zero point, the values.
  int64_t storedRecordBytes() const {
    if (format == Format::Q4_K)
      return 144;
    if (format == Format::Q5_K)
      return 176;
    if (format == Format::Q6_K)
      return 210;
    if (format == Format::Q3_K)
      return 110;
    if (format == Format::Q2_K)
      return 84;
    if (format == Format::IQ4_XS)
      return 136;
    return scaleBytes() + zeroPointBytes() + laneRows() * 4;
  }
  /// Bytes of a row of k values as stored.
  int64_t rowBytes(int64_t k) const {
    return k / recordValues() * storedRecordBytes();
  }
  /// Where block j's lanes of a panel's record start.
  int64_t lanesAt(int64_t j) const { return laneRows() * 64 * j; }
  /// B: bytes per panel and record, the lanes, the scales, the zero
  /// points (q4_k's and q5_k's d, dmin, scales and mins; q2_k's d, dmin
  /// and bytes of scale and min; q6_k's and q3_k's d and scales).
  int64_t panelRecordBytes() const {
    if (superMins())
      return lanesAt(8) + 4 * kPanel + 16 * kPanel;
    if (halfScales())
      return lanesAt(8) + 2 * kPanel + 16 * kPanel;
    if (format == Format::IQ4_XS)
      return lanesAt(8) + 2 * kPanel + 8 * kPanel;
    return lanesAt(1) + (scaleBytes() + zeroPointBytes()) * kPanel;
  }
  /// Where a panel and record's scales start (q4_k's d), and its zero
  /// points (q4_k's dmin).
  int64_t scalesAt() const { return lanesAt(recordBlocks()); }
  int64_t zeroPointsAt() const { return scalesAt() + scaleBytes() * kPanel; }
  /// Where the 16 columns' scales sc of sub-block j start in a panel's
  /// record (q4_k, q5_k and iq4_xs: block j, q6_k, q3_k and q2_k: values
  /// 16 j to 16 j + 15), and q4_k's and q5_k's 16 mins m of block j.
  int64_t subScalesAt(int64_t j) const {
    return scalesAt() + (superMins() ? 64 : 32) + 16 * j;
  }
  int64_t subMinsAt(int64_t j) const { return subScalesAt(8) + 16 * j; }

  /// "" when the layout applies to a weight of `shape` ([E, N, K] or
  /// [N, K], static), else what is wrong.
  std::string validate(const std::vector<int64_t> &shape) const {
    if (shape.size() != 2 && shape.size() != 3)
      return "a weight in int8 panels must have rank 2 or 3";
    for (int64_t d : shape)
      if (d < 1)
        return "a weight in int8 panels must have a static, non-empty shape";
    if (shape.back() % recordValues())
      return "a weight in int8 panels must have K a multiple of " +
             std::to_string(recordValues());
    return "";
  }

  /// [E?, ceil(N / 16), K / R, B] for a valid `shape`.
  std::vector<int64_t> packedShape(const std::vector<int64_t> &shape) const {
    std::vector<int64_t> packed(shape.begin(), shape.end() - 2);
    int64_t n = shape[shape.size() - 2], k = shape.back();
    packed.push_back((n + kPanel - 1) / kPanel);
    packed.push_back(k / recordValues());
    packed.push_back(panelRecordBytes());
    return packed;
  }

  /// Bytes of the packed form of one [N, K] matrix.
  int64_t matrixBytes(int64_t n, int64_t k) const {
    return (n + kPanel - 1) / kPanel * (k / recordValues()) *
           panelRecordBytes();
  }

  /// Packs panels [p0, p1) of the [n, k] matrix whose rows of stored
  /// records start at `src` into `dst`, the matrix's packed form (of
  /// matrixBytes(n, k)).
  void packPanels(const uint8_t *src, int64_t n, int64_t k, int64_t p0,
                  int64_t p1, uint8_t *dst) const {
    int64_t records = k / recordValues(), bytes = storedRecordBytes();
    int64_t rowBytes = records * bytes, pb = panelRecordBytes();
    for (int64_t p = p0; p < p1; ++p)
      for (int64_t r = 0; r < records; ++r) {
        uint8_t *out = dst + (p * records + r) * pb;
        std::memset(out, 0, static_cast<size_t>(pb));
        for (int64_t c = 0; c < kPanel && p * kPanel + c < n; ++c) {
          const uint8_t *record = src + (p * kPanel + c) * rowBytes + r * bytes;
          if (format == Format::Q4_K || format == Format::Q5_K)
            packQ45K(record, c, out);
          else if (format == Format::Q6_K)
            packQ6K(record, c, out);
          else if (crumbs())
            packQ23K(record, c, out);
          else if (format == Format::IQ4_XS)
            packIQ4XS(record, c, out);
          else if (highBitRows())
            packQ5(record, c, out);
          else
            packBlock(record, c, out);
        }
      }
  }

private:
  /// Column c's block at `block` into the panel's record at `out`.
  void packBlock(const uint8_t *block, int64_t c, uint8_t *out) const {
    int64_t sb = scaleBytes(), head = sb + zeroPointBytes();
    std::memcpy(out + scalesAt() + sb * c, block, static_cast<size_t>(sb));
    int64_t zb = zeroPointBytes();
    std::memcpy(out + zeroPointsAt() + zb * c, block + sb,
                static_cast<size_t>(zb));
    for (int64_t t = 0; t < laneRows(); ++t)
      for (int64_t i = 0; i < 4; ++i) {
        uint8_t v = block[head + 4 * t + i];
        out[64 * t + 4 * c + i] =
            format == Format::Q8_0 ? uint8_t(v ^ 0x80) : v;
      }
  }

  /// Column c's q5_0 or q5_1 block at `block` (d, q5_1's m, 4 bytes qh
  /// whose bit w is the fifth bit of value w, 16 bytes of codes: byte w
  /// holds the low 4 bits of values w and 16 + w) into the panel's record.
  void packQ5(const uint8_t *block, int64_t c, uint8_t *out) const {
    int64_t zb = zeroPointBytes(), head = 2 + zb;
    std::memcpy(out + scalesAt() + 2 * c, block, 2);
    std::memcpy(out + zeroPointsAt() + zb * c, block + 2,
                static_cast<size_t>(zb));
    const uint8_t *qh = block + head, *qs = block + head + 4;
    auto fifth = [&](int64_t w) { return (qh[w / 8] >> (w % 8)) & 1; };
    for (int64_t t = 0; t < 4; ++t)
      for (int64_t i = 0; i < 4; ++i) {
        int64_t w = 4 * t + i;
        out[64 * t + 4 * c + i] = qs[w];
        out[256 + 4 * c + i] |=
            uint8_t(fifth(w) << t | fifth(16 + w) << (4 + t));
      }
  }

  /// Column c's q4_k or q5_k super-block at `sb` (d, dmin, 12 bytes of
  /// 6-bit scales and mins; q5_k: 32 bytes qh whose byte w holds the fifth
  /// bits of values 32 b + w in bit b; 128 bytes of codes: byte 32 h + w
  /// holds the low 4 bits of values 64 h + w and 64 h + 32 + w) into the
  /// panel's record.
  void packQ45K(const uint8_t *sb, int64_t c, uint8_t *out) const {
    std::memcpy(out + scalesAt() + 2 * c, sb, 2);
    std::memcpy(out + zeroPointsAt() + 2 * c, sb + 2, 2);
    bool fifth = format == Format::Q5_K;
    const uint8_t *s = sb + 4, *qh = sb + 16, *qs = sb + (fifth ? 48 : 16);
    for (int64_t j = 0; j < 8; ++j) {
      uint8_t sc, m;
      if (j < 4) {
        sc = s[j] & 63;
        m = s[j + 4] & 63;
      } else {
        sc = uint8_t((s[j + 4] & 15) | (s[j - 4] >> 6) << 4);
        m = uint8_t((s[j + 4] >> 4) | (s[j] >> 6) << 4);
      }
      out[subScalesAt(j) + c] = sc;
      out[subMinsAt(j) + c] = m;
      // Sub-block j's codes: nibble j % 2 of bytes 32 (j / 2) + w.
      const uint8_t *q = qs + 32 * (j / 2);
      int shift = j % 2 ? 4 : 0;
      for (int64_t t = 0; t < 4; ++t)
        for (int64_t i = 0; i < 4; ++i) {
          int64_t w = 4 * t + i;
          uint8_t lo = (q[w] >> shift) & 15, hi = (q[16 + w] >> shift) & 15;
          out[lanesAt(j) + 64 * t + 4 * c + i] = uint8_t(lo | hi << 4);
          if (fifth)
            out[lanesAt(j) + 256 + 4 * c + i] |= uint8_t(
                ((qh[w] >> j) & 1) << t | ((qh[16 + w] >> j) & 1) << (4 + t));
        }
    }
  }

  /// Column c's iq4_xs super-block at `sb` (f16 d, a 16-bit sh, 4 bytes
  /// sl, 128 bytes of codes: sub-block j's 16 bytes at 16 j, byte w holding
  /// the codes of values w (low nibble) and 16 + w (high nibble)) into the
  /// panel's record; sub-block j's scale ls, nibble j % 2 of sl[j / 2] with
  /// bits 2 j and 2 j + 1 of sh above, less 32.
  void packIQ4XS(const uint8_t *sb, int64_t c, uint8_t *out) const {
    std::memcpy(out + scalesAt() + 2 * c, sb, 2);
    int sh = sb[2] | sb[3] << 8;
    const uint8_t *sl = sb + 4, *qs = sb + 8;
    for (int64_t j = 0; j < 8; ++j) {
      int ls = ((sl[j / 2] >> (4 * (j % 2))) & 15) | ((sh >> (2 * j)) & 3) << 4;
      out[subScalesAt(j) + c] = uint8_t(int8_t(ls - 32));
      for (int64_t t = 0; t < 4; ++t)
        for (int64_t i = 0; i < 4; ++i)
          out[lanesAt(j) + 64 * t + 4 * c + i] = qs[16 * j + 4 * t + i];
    }
  }

  /// Column c's q6_k super-block at `sb` (128 bytes ql of low 4 bits,
  /// 64 bytes qh of high 2 bits, 16 int8 scales, f16 d; value v = 128 H +
  /// 32 Q + l: ql byte 64 H + 32 (Q % 2) + l, nibble Q / 2; qh byte 32 H +
  /// l, bits 2 Q and 2 Q + 1) into the panel's record.
  void packQ6K(const uint8_t *sb, int64_t c, uint8_t *out) const {
    const uint8_t *ql = sb, *qh = sb + 128;
    auto code = [&](int64_t v) {
      int64_t h = v / 128, q = v % 128 / 32, l = v % 32;
      int lo = (ql[64 * h + 32 * (q % 2) + l] >> (4 * (q / 2))) & 15;
      int hi = (qh[32 * h + l] >> (2 * q)) & 3;
      return uint8_t(lo | hi << 4);
    };
    std::memcpy(out + scalesAt() + 2 * c, sb + 208, 2);
    for (int64_t s = 0; s < 16; ++s)
      out[subScalesAt(s) + c] = sb[192 + s];
    for (int64_t j = 0; j < 8; ++j)
      for (int64_t t = 0; t < 4; ++t)
        for (int64_t i = 0; i < 4; ++i) {
          int64_t w = 32 * j + 4 * t + i;
          uint8_t lo = code(w), hi = code(w + 16);
          out[lanesAt(j) + 64 * t + 4 * c + i] =
              uint8_t((lo & 15) | (hi & 15) << 4);
          for (int64_t h = 0; h < 2; ++h)
            out[lanesAt(j) + 256 + 64 * h + 4 * c + i] |=
                uint8_t((code(w + 16 * h) >> 4) << (2 * t));
        }
  }

  /// Column c's q3_k or q2_k super-block at `sb` into the panel's record.
  /// q3_k: 32 bytes hmask, 64 bytes qs, 12 bytes of 16 6-bit scales, f16
  /// d; q2_k: 16 bytes of scales and mins, 64 bytes qs, f16 d, f16 dmin.
  /// Value v = 128 H + 32 Q + l: the low 2 bits of its code in bits 2 Q and
  /// 2 Q + 1 of qs[32 H + l], q3_k's third in bit v / 32 of hmask[l]; q3_k's
  /// scale s's low 4 bits in nibble s / 8 of byte 96 + s % 8, its high 2
  /// in bits 2 (s / 4) and 2 (s / 4) + 1 of byte 104 + s % 4.
  void packQ23K(const uint8_t *sb, int64_t c, uint8_t *out) const {
    bool q3 = format == Format::Q3_K;
    const uint8_t *hm = sb, *qs = sb + (q3 ? 32 : 16), *sc = q3 ? sb + 96 : sb;
    auto code = [&](int64_t v) {
      int q = (qs[32 * (v / 128) + v % 32] >> (2 * (v % 128 / 32))) & 3;
      return q3 ? q | ((hm[v % 32] >> (v / 32)) & 1) << 2 : q;
    };
    std::memcpy(out + scalesAt() + 2 * c, sb + (q3 ? 108 : 80), 2);
    if (!q3)
      std::memcpy(out + zeroPointsAt() + 2 * c, sb + 82, 2);
    for (int64_t s = 0; s < 16; ++s) {
      if (!q3) {
        out[subScalesAt(s) + c] = sb[s];
        continue;
      }
      int ls = ((sc[s % 8] >> (4 * (s / 8))) & 15) |
               ((sc[8 + s % 4] >> (2 * (s / 4))) & 3) << 4;
      out[subScalesAt(s) + c] = uint8_t(int8_t(ls - 32));
    }
    for (int64_t j = 0; j < 8; ++j)
      for (int64_t t = 0; t < 8; ++t)
        for (int64_t i = 0; i < 4; ++i) {
          int64_t h = t / 4, s = t % 4;
          int q = code(32 * j + 16 * h + 4 * s + i);
          out[lanesAt(j) + 64 * h + 4 * c + i] |= uint8_t((q & 3) << (2 * s));
          if (q3)
            out[lanesAt(j) + 128 + 4 * c + i] |= uint8_t((q >> 2) << t);
        }
  }
};

} // namespace moe::abi

#endif // MOEC_RUNTIME_ABI_INT8PANELLAYOUT_H
