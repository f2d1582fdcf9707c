//===- Npy.cpp - NumPy .npy files to and from doubles ---------------------===//

#include "runtime/support/Npy.h"
#include "runtime/support/FileIO.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <unistd.h>

namespace moe::npy {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

uint16_t loadU16(const unsigned char *p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
uint32_t loadU32(const unsigned char *p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t loadU64(const unsigned char *p) {
  return static_cast<uint64_t>(loadU32(p)) |
         (static_cast<uint64_t>(loadU32(p + 4)) << 32);
}

/// The header is a Python dict literal such as
///   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
/// This reads exactly the subset numpy writes.
class HeaderParser {
public:
  explicit HeaderParser(std::string_view text) : text_(text) {}

  std::string descr;
  bool fortranOrder = false;
  std::vector<int64_t> shape;

  /// Returns "" or a problem description.
  std::string run() {
    bool haveDescr = false, haveOrder = false, haveShape = false;
    skipSpace();
    if (!consume('{'))
      return "header is not a dict";
    while (true) {
      skipSpace();
      if (consume('}'))
        break;
      std::string key;
      if (!parseString(key))
        return "header dict has a malformed key";
      skipSpace();
      if (!consume(':'))
        return "header dict: expected ':' after '" + key + "'";
      skipSpace();
      if (key == "descr") {
        if (peek() == '[')
          return "structured dtypes are not supported";
        if (!parseString(descr))
          return "header 'descr' is not a string";
        haveDescr = true;
      } else if (key == "fortran_order") {
        if (!parseBool(fortranOrder))
          return "header 'fortran_order' is not True or False";
        haveOrder = true;
      } else if (key == "shape") {
        if (!parseShape())
          return "header 'shape' is not a tuple of non-negative integers";
        haveShape = true;
      } else {
        return "unexpected key '" + key + "' in header";
      }
      skipSpace();
      if (consume(','))
        continue;
      skipSpace();
      if (consume('}'))
        break;
      return "header dict is malformed";
    }
    skipSpace();
    if (pos_ != text_.size())
      return "unexpected data after the header dict";
    if (!haveDescr)
      return "header lacks 'descr'";
    if (!haveOrder)
      return "header lacks 'fortran_order'";
    if (!haveShape)
      return "header lacks 'shape'";
    return "";
  }

private:
  std::string_view text_;
  size_t pos_ = 0;

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool consume(char c) {
    if (peek() != c)
      return false;
    ++pos_;
    return true;
  }
  void skipSpace() {
    while (peek() == ' ' || peek() == '\n' || peek() == '\t' || peek() == '\r')
      ++pos_;
  }
  bool parseString(std::string &out) {
    char quote = peek();
    if (quote != '\'' && quote != '"')
      return false;
    size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos)
      return false;
    out = std::string(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return out.find('\\') == std::string::npos;
  }
  bool parseBool(bool &out) {
    if (text_.substr(pos_, 4) == "True") {
      out = true;
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      out = false;
      pos_ += 5;
      return true;
    }
    return false;
  }
  bool parseShape() {
    if (!consume('('))
      return false;
    while (true) {
      skipSpace();
      if (consume(')'))
        return true;
      if (peek() < '0' || peek() > '9')
        return false;
      int64_t dim = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (dim > (std::numeric_limits<int64_t>::max() - 9) / 10)
          return false;
        dim = dim * 10 + (peek() - '0');
        ++pos_;
      }
      consume('L'); // Python 2 longs
      shape.push_back(dim);
      skipSpace();
      if (consume(','))
        continue;
      skipSpace();
      if (consume(')'))
        return true;
      return false;
    }
  }
};

struct DTypeInfo {
  const char *descr;
  size_t itemSize;
};
constexpr DTypeInfo kDTypes[] = {
    {"<f2", 2}, {"<f4", 4}, {"<f8", 8}, {"<i4", 4}, {"<i8", 8}};

double decode(const std::string &descr, const unsigned char *p) {
  if (descr == "<f2")
    return halfToDouble(loadU16(p));
  if (descr == "<f4") {
    uint32_t bits = loadU32(p);
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  if (descr == "<f8") {
    uint64_t bits = loadU64(p);
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
  }
  if (descr == "<i4")
    return static_cast<int32_t>(loadU32(p));
  return static_cast<double>(static_cast<int64_t>(loadU64(p)));
}

} // namespace

double halfToDouble(uint16_t bits) {
  int sign = bits >> 15;
  int exp = (bits >> 10) & 0x1F;
  int mant = bits & 0x3FF;
  double v;
  if (exp == 0)
    v = std::ldexp(static_cast<double>(mant), -24);
  else if (exp == 31)
    v = mant ? std::numeric_limits<double>::quiet_NaN()
             : std::numeric_limits<double>::infinity();
  else
    v = std::ldexp(static_cast<double>(mant | 0x400), exp - 25);
  return sign ? -v : v;
}

std::string parse(std::string_view bytes, const std::string &name, Array &out) {
  out = Array();
  auto fail = [&](const std::string &problem) { return name + ": " + problem; };
  const auto *u = reinterpret_cast<const unsigned char *>(bytes.data());
  if (bytes.size() < kMagicLen || bytes.substr(0, kMagicLen) != kMagic)
    return fail("not a .npy file (bad magic)");
  if (bytes.size() < kMagicLen + 2)
    return fail("truncated header");
  unsigned major = u[6], minor = u[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    return fail("unsupported .npy format version " + std::to_string(major) +
                "." + std::to_string(minor));
  size_t lenBytes = major == 1 ? 2 : 4;
  size_t prefix = kMagicLen + 2 + lenBytes;
  if (bytes.size() < prefix)
    return fail("truncated header");
  uint64_t headerLen = major == 1 ? loadU16(u + 8) : loadU32(u + 8);
  if (bytes.size() - prefix < headerLen)
    return fail("truncated header: needs " + std::to_string(headerLen) +
                " bytes, file has " + std::to_string(bytes.size() - prefix));
  std::string_view header = bytes.substr(prefix, headerLen);

  HeaderParser hp(header);
  if (std::string err = hp.run(); !err.empty())
    return fail(err);
  if (hp.fortranOrder)
    return fail("fortran_order arrays are not supported; save a C-order "
                "array (numpy.ascontiguousarray)");
  const DTypeInfo *info = nullptr;
  for (const DTypeInfo &t : kDTypes)
    if (hp.descr == t.descr)
      info = &t;
  if (!info) {
    if (!hp.descr.empty() && hp.descr[0] == '>')
      return fail("big-endian dtype '" + hp.descr + "' is not supported");
    return fail("unsupported dtype '" + hp.descr +
                "' (supported: <f2, <f4, <f8, <i4, <i8)");
  }

  // Bounded with its zero dimensions left out too: an empty array of
  // shape (0, 2^62, 24) would otherwise pass here and overflow whatever
  // multiplies its other dimensions later.
  uint64_t count = 1, extent = 1;
  for (int64_t dim : hp.shape) {
    if (dim != 0 && extent > (uint64_t(1) << 48) / static_cast<uint64_t>(dim))
      return fail("shape is too large (its non-zero dimensions multiply to "
                  "more than 2^48)");
    extent *= dim != 0 ? static_cast<uint64_t>(dim) : 1;
    count *= static_cast<uint64_t>(dim);
  }
  uint64_t need = count * info->itemSize;
  uint64_t have = bytes.size() - prefix - headerLen;
  if (have < need)
    return fail("data is truncated: shape needs " + std::to_string(need) +
                " bytes, file has " + std::to_string(have));
  if (have > need)
    return fail(std::to_string(have - need) +
                " unexpected trailing bytes after the data");

  const unsigned char *data = u + prefix + headerLen;
  out.data.resize(count);
  for (uint64_t i = 0; i < count; ++i)
    out.data[i] = decode(hp.descr, data + i * info->itemSize);
  out.shape = std::move(hp.shape);
  out.dtype = hp.descr;
  return "";
}

std::string read(const std::string &path, Array &out) {
  out = Array();
  std::string bytes;
  std::string error = readFile(path, bytes);
  if (!error.empty())
    return path + ": cannot open: " + error;
  return parse(bytes, path, out);
}

std::string serialize(const std::vector<int64_t> &shape,
                      const std::vector<double> &data, DType dtype,
                      std::string &bytes) {
  uint64_t count = 1;
  std::string dims;
  for (int64_t d : shape) {
    if (d < 0)
      return "negative dimension in shape";
    count *= static_cast<uint64_t>(d);
    dims += std::to_string(d) + (shape.size() == 1 ? "," : ", ");
  }
  if (shape.size() > 1)
    dims.resize(dims.size() - 2);
  if (count != data.size())
    return "shape holds " + std::to_string(count) + " elements but " +
           std::to_string(data.size()) + " values were given";
  std::string header = std::string("{'descr': '") +
                       (dtype == DType::F32 ? "<f4" : "<f8") +
                       "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // numpy aligns the data to 64 bytes; the header ends with '\n'. Version
  // 1.0 stores the header length in 16 bits, 2.0 in 32.
  auto paddedLen = [&](size_t prefix) {
    return (prefix + header.size() + 1 + 63) / 64 * 64 - prefix;
  };
  size_t prefix = paddedLen(10) < 65536 ? 10 : 12;
  header.append(paddedLen(prefix) - header.size() - 1, ' ');
  header += '\n';
  size_t hlen = header.size();

  bytes.assign(kMagic, kMagicLen);
  bytes += static_cast<char>(prefix == 10 ? 1 : 2);
  bytes += '\0';
  for (size_t i = 0; i < prefix - 8; ++i)
    bytes += static_cast<char>((hlen >> (8 * i)) & 0xFF);
  bytes += header;
  size_t item = dtype == DType::F32 ? 4 : 8;
  size_t start = bytes.size();
  bytes.resize(start + data.size() * item);
  for (size_t i = 0; i < data.size(); ++i) {
    uint64_t bits;
    if (dtype == DType::F32) {
      float f = static_cast<float>(data[i]);
      uint32_t b32;
      std::memcpy(&b32, &f, 4);
      bits = b32;
    } else {
      std::memcpy(&bits, &data[i], 8);
    }
    for (size_t b = 0; b < item; ++b)
      bytes[start + i * item + b] = static_cast<char>((bits >> (8 * b)) & 0xFF);
  }
  return "";
}

std::string write(const std::string &path, const std::vector<int64_t> &shape,
                  const std::vector<double> &data, DType dtype) {
  std::string bytes;
  if (std::string err = serialize(shape, data, dtype, bytes); !err.empty())
    return path + ": " + err;
  std::string tmp = path + ".tmp" + std::to_string(::getpid());
  FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f)
    return path + ": cannot create: " + std::strerror(errno);
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  int err = errno;
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    std::remove(tmp.c_str());
    return path + ": cannot write: " + std::strerror(err);
  }
  return "";
}

} // namespace moe::npy
