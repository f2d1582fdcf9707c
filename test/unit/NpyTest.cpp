//===- NpyTest.cpp - .npy reading and writing -----------------------------===//

#include "runtime/support/Npy.h"
#include "test/unit/Check.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

using namespace moe;

namespace {

/// A .npy v1.0 image with `header` (a dict literal, padded here) and raw
/// little-endian `data`, built by hand so the reader is not checked against
/// the writer alone.
std::string npyImage(const std::string &header, const std::string &data,
                     int major = 1) {
  std::string h = header;
  size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + h.size() + 1) % 64)
    h += ' ';
  h += '\n';
  std::string img = "\x93NUMPY";
  img += static_cast<char>(major);
  img += '\0';
  img += static_cast<char>(h.size() & 0xFF);
  img += static_cast<char>(h.size() >> 8);
  if (major != 1)
    img += std::string(2, '\0');
  return img + h + data;
}

std::string le16(uint16_t v) {
  return std::string{static_cast<char>(v & 0xFF), static_cast<char>(v >> 8)};
}

std::string le32(uint32_t v) {
  return le16(static_cast<uint16_t>(v & 0xFFFF)) +
         le16(static_cast<uint16_t>(v >> 16));
}

std::string tempPath(const char *name) {
  const char *dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/moe-npytest-" +
         std::to_string(::getpid()) + "-" + name;
}

bool writeBytes(const std::string &path, const std::string &bytes) {
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return false;
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

} // namespace

TEST(npyRoundTripF32AndF64) {
  std::vector<double> data = {1.0, -2.5, 0.1, 1e-30, 3e38, -0.0};
  std::string p64 = tempPath("f64.npy"), p32 = tempPath("f32.npy");
  CHECK_EQ(npy::write(p64, {2, 3}, data, npy::DType::F64), std::string());
  CHECK_EQ(npy::write(p32, {3, 1, 2}, data, npy::DType::F32), std::string());
  npy::Array a;
  CHECK_EQ(npy::read(p64, a), std::string());
  CHECK(a.shape == std::vector<int64_t>({2, 3}));
  CHECK_EQ(a.dtype, std::string("<f8"));
  CHECK(a.data == data); // bit-exact
  CHECK(std::signbit(a.data[5]));
  CHECK_EQ(npy::read(p32, a), std::string());
  CHECK(a.shape == std::vector<int64_t>({3, 1, 2}));
  CHECK_EQ(a.dtype, std::string("<f4"));
  for (size_t i = 0; i < data.size(); ++i)
    CHECK_EQ(a.data[i], static_cast<double>(static_cast<float>(data[i])));
  std::remove(p64.c_str());
  std::remove(p32.c_str());

  // Scalars and 1-D shapes use numpy's tuple spellings () and (n,).
  std::string bytes;
  CHECK_EQ(npy::serialize({}, {7.0}, npy::DType::F64, bytes), std::string());
  CHECK_CONTAINS(bytes, "'shape': (), }");
  CHECK_EQ(bytes.size() % 64, size_t(8)); // 64-byte header, one f8
  CHECK_EQ(npy::parse(bytes, "scalar", a), std::string());
  CHECK(a.shape.empty() && a.data.size() == 1 && a.data[0] == 7.0);
  CHECK_EQ(npy::serialize({2}, {1, 2}, npy::DType::F32, bytes), std::string());
  CHECK_CONTAINS(bytes, "'shape': (2,), }");
  CHECK_CONTAINS(npy::serialize({2, 2}, {1, 2}, npy::DType::F32, bytes),
                 "shape holds 4 elements but 2 values were given");
}

TEST(npyReadsHandWrittenF2AndI4) {
  // Half: 0x3C00 = 1, 0xC000 = -2, 0x3555 = 0.333251953125, 0x0001 = 2^-24
  // (smallest subnormal), 0x7C00 = inf, 0x7BFF = 65504 (largest finite).
  std::string half = le16(0x3C00) + le16(0xC000) + le16(0x3555) + le16(0x0001) +
                     le16(0x7C00) + le16(0x7BFF);
  npy::Array a;
  CHECK_EQ(npy::parse(npyImage("{'descr': '<f2', 'fortran_order': False, "
                               "'shape': (2, 3), }",
                               half),
                      "half.npy", a),
           std::string());
  CHECK(a.shape == std::vector<int64_t>({2, 3}));
  CHECK_EQ(a.dtype, std::string("<f2"));
  if (a.data.size() == 6) {
    CHECK_EQ(a.data[0], 1.0);
    CHECK_EQ(a.data[1], -2.0);
    CHECK_EQ(a.data[2], 0.333251953125);
    CHECK_EQ(a.data[3], std::ldexp(1.0, -24));
    CHECK(std::isinf(a.data[4]) && a.data[4] > 0);
    CHECK_EQ(a.data[5], 65504.0);
  }
  CHECK(std::isnan(npy::halfToDouble(0x7E00)));

  // <i4 in a version 2.0 file, header keys in another order.
  std::string ints = le32(7) + le32(static_cast<uint32_t>(-3)) + le32(0);
  CHECK_EQ(npy::parse(npyImage("{'shape': (3,), 'fortran_order': False, "
                               "'descr': '<i4'}",
                               ints, 2),
                      "ints.npy", a),
           std::string());
  CHECK(a.data == std::vector<double>({7.0, -3.0, 0.0}));

  // Through the file system as well.
  std::string p = tempPath("i4.npy");
  CHECK(writeBytes(p, npyImage("{'descr': '<i4', 'fortran_order': False, "
                               "'shape': (1, 3), }",
                               ints)));
  CHECK_EQ(npy::read(p, a), std::string());
  CHECK(a.shape == std::vector<int64_t>({1, 3}));
  std::remove(p.c_str());
}

TEST(npyErrors) {
  npy::Array a;
  const std::string hdr =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
  std::string good = npyImage(hdr, std::string(16, '\0'));
  CHECK_EQ(npy::parse(good, "g.npy", a), std::string());

  CHECK_EQ(npy::read("/nonexistent/dir/x.npy", a),
           std::string("/nonexistent/dir/x.npy: cannot open: No such file or "
                       "directory"));
  CHECK_EQ(npy::parse("\x93NUMPX" + good.substr(6), "m.npy", a),
           std::string("m.npy: not a .npy file (bad magic)"));
  CHECK_EQ(npy::parse("PK\x03\x04", "z.npy", a),
           std::string("z.npy: not a .npy file (bad magic)"));
  CHECK_EQ(npy::parse(good.substr(0, 9), "t.npy", a),
           std::string("t.npy: truncated header"));
  CHECK_CONTAINS(npy::parse(good.substr(0, 40), "t.npy", a),
                 "t.npy: truncated header: needs 118 bytes, file has 30");
  CHECK_EQ(npy::parse(good.substr(0, good.size() - 1), "t.npy", a),
           std::string("t.npy: data is truncated: shape needs 16 bytes, file "
                       "has 15"));
  CHECK(a.data.empty() && a.shape.empty()); // failures leave `a` empty
  CHECK_EQ(npy::parse(good + "xy", "x.npy", a),
           std::string("x.npy: 2 unexpected trailing bytes after the data"));
  CHECK_CONTAINS(npy::parse(npyImage("{'descr': '<f4', 'fortran_order': True, "
                                     "'shape': (2, 2), }",
                                     std::string(16, '\0')),
                            "f.npy", a),
                 "f.npy: fortran_order arrays are not supported");
  CHECK_EQ(npy::parse(npyImage("{'descr': '<u2', 'fortran_order': False, "
                               "'shape': (1,), }",
                               "ab"),
                      "u.npy", a),
           std::string("u.npy: unsupported dtype '<u2' (supported: <f2, <f4, "
                       "<f8, <i4, <i8)"));
  CHECK_EQ(npy::parse(npyImage("{'descr': '>f8', 'fortran_order': False, "
                               "'shape': (), }",
                               std::string(8, '\0')),
                      "b.npy", a),
           std::string("b.npy: big-endian dtype '>f8' is not supported"));
  CHECK_EQ(npy::parse(npyImage("[1, 2]", ""), "l.npy", a),
           std::string("l.npy: header is not a dict"));
  CHECK_EQ(npy::parse(npyImage("{'descr': '<f4', 'shape': (1,), }", "abcd"),
                      "k.npy", a),
           std::string("k.npy: header lacks 'fortran_order'"));
  CHECK_EQ(npy::parse(npyImage("{'descr': '<f4', 'fortran_order': False, "
                               "'shape': (-1,), }",
                               ""),
                      "s.npy", a),
           std::string("s.npy: header 'shape' is not a tuple of non-negative "
                       "integers"));
  CHECK_CONTAINS(npy::parse(npyImage("{'descr': [('a', '<f4')], "
                                     "'fortran_order': False, 'shape': (1,), }",
                                     "abcd"),
                            "r.npy", a),
                 "structured dtypes are not supported");
  // Too large, also when empty: a zero dimension does not hide the others.
  CHECK_EQ(npy::parse(npyImage("{'descr': '<f4', 'fortran_order': False, "
                               "'shape': (1, 4611686018427387904, 24), }",
                               ""),
                      "b.npy", a),
           std::string("b.npy: shape is too large (its non-zero dimensions "
                       "multiply to more than 2^48)"));
  CHECK_EQ(npy::parse(npyImage("{'descr': '<f4', 'fortran_order': False, "
                               "'shape': (0, 4611686018427387904, 24), }",
                               ""),
                      "e.npy", a),
           std::string("e.npy: shape is too large (its non-zero dimensions "
                       "multiply to more than 2^48)"));
  CHECK_EQ(npy::parse(npyImage("{'descr': '<f4', 'fortran_order': False, "
                               "'shape': (0, 24), }",
                               ""),
                      "z0.npy", a),
           std::string());
  std::string v9 = good;
  v9[6] = 9;
  CHECK_EQ(npy::parse(v9, "v.npy", a),
           std::string("v.npy: unsupported .npy format version 9.0"));

  // A failed write leaves nothing behind, not even the temporary file.
  CHECK_CONTAINS(
      npy::write("/nonexistent/dir/out.npy", {1}, {1.0}, npy::DType::F32),
      "/nonexistent/dir/out.npy: cannot create");
}
