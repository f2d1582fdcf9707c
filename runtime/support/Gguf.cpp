//===- Gguf.cpp - GGUF (ggml) model files ---------------------------------===//
#include "runtime/support/Gguf.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <unordered_set>

using namespace moe;
using namespace moe::gguf;

namespace {

/// The deepest nesting of arrays in a metadata value (an array of arrays
/// is 2).
constexpr int kMaxArrayDepth = 4;
/// All the metadata values of a file together, array elements included: a
/// vocabulary of 262,144 tokens with scores, types and merges is about a
/// million. Each takes about 100 bytes in memory, so this bounds what a
/// file can make the reader allocate.
constexpr uint64_t kMaxValues = uint64_t(1) << 23;
/// The most elements reserved for a count read from the file before they
/// are read.
constexpr uint64_t kReserveAtMost = 4096;
/// The dimensions ggml allows: GGML_MAX_DIMS, and below 2^62 each.
constexpr uint32_t kMaxDims = 4;
constexpr uint64_t kMaxDim = uint64_t(1) << 62;
/// The fewest bytes of a metadata entry (an empty key, a type, a one-byte
/// value) and of a tensor info (a one-dimensional tensor with an empty
/// name, which is refused, but counts are checked before names are read).
constexpr uint64_t kMinEntryBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;

const TypeTraits kTypes[] = {
    /*0*/ {"F32", 1, 4},
    /*1*/ {"F16", 1, 2},
    /*2*/ {"Q4_0", 32, 18},
    /*3*/ {"Q4_1", 32, 20},
    /*4*/ {nullptr, 0, 0},
    /*5*/ {nullptr, 0, 0},
    /*6*/ {"Q5_0", 32, 22},
    /*7*/ {"Q5_1", 32, 24},
    /*8*/ {"Q8_0", 32, 34},
    // ggml's block_q8_1 (two halves and 32 quants; the gguf Python
    // package still says 40, the layout of two floats).
    /*9*/ {"Q8_1", 32, 36},
    /*10*/ {"Q2_K", 256, 84},
    /*11*/ {"Q3_K", 256, 110},
    /*12*/ {"Q4_K", 256, 144},
    /*13*/ {"Q5_K", 256, 176},
    /*14*/ {"Q6_K", 256, 210},
    /*15*/ {"Q8_K", 256, 292},
    /*16*/ {"IQ2_XXS", 256, 66},
    /*17*/ {"IQ2_XS", 256, 74},
    /*18*/ {"IQ3_XXS", 256, 98},
    /*19*/ {"IQ1_S", 256, 50},
    /*20*/ {"IQ4_NL", 32, 18},
    /*21*/ {"IQ3_S", 256, 110},
    /*22*/ {"IQ2_S", 256, 82},
    /*23*/ {"IQ4_XS", 256, 136},
    /*24*/ {"I8", 1, 1},
    /*25*/ {"I16", 1, 2},
    /*26*/ {"I32", 1, 4},
    /*27*/ {"I64", 1, 8},
    /*28*/ {"F64", 1, 8},
    /*29*/ {"IQ1_M", 256, 56},
    /*30*/ {"BF16", 1, 2},
    /*31*/ {nullptr, 0, 0},
    /*32*/ {nullptr, 0, 0},
    /*33*/ {nullptr, 0, 0},
    /*34*/ {"TQ1_0", 256, 54},
    /*35*/ {"TQ2_0", 256, 66},
    /*36*/ {nullptr, 0, 0},
    /*37*/ {nullptr, 0, 0},
    /*38*/ {nullptr, 0, 0},
    /*39*/ {"MXFP4", 32, 17},
    /*40*/ {"NVFP4", 64, 36},
    /*41*/ {"Q1_0", 128, 18},
};

/// The fewest bytes a value of type `t` takes in the file.
uint64_t minValueBytes(ValueType t) {
  switch (t) {
  case ValueType::UInt8:
  case ValueType::Int8:
  case ValueType::Bool:
    return 1;
  case ValueType::UInt16:
  case ValueType::Int16:
    return 2;
  case ValueType::UInt32:
  case ValueType::Int32:
  case ValueType::Float32:
    return 4;
  case ValueType::UInt64:
  case ValueType::Int64:
  case ValueType::Float64:
  case ValueType::String:
    return 8;
  case ValueType::Array:
    return 4 + 8;
  }
  return 1;
}

bool knownValueType(uint32_t t) {
  return t <= static_cast<uint32_t>(ValueType::Float64);
}

uint32_t byteSwap32(uint32_t v) {
  return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
}

class Parser {
public:
  Parser(std::string_view image, const std::string &path)
      : img_(image), path_(path) {}

  std::string run(Header &out);

private:
  std::string_view img_;
  const std::string &path_;
  uint64_t pos_ = 0;
  std::string err_;
  uint64_t valuesLeft_ = kMaxValues;
  /// What is being read, for truncation messages: " of metadata key 'x'".
  std::string ctx_;

  uint64_t left() const { return img_.size() - pos_; }
  const unsigned char *at() const {
    return reinterpret_cast<const unsigned char *>(img_.data()) + pos_;
  }

  bool fail(const std::string &msg) {
    if (err_.empty())
      err_ = path_ + ": " + msg;
    return false;
  }
  bool need(uint64_t n, const char *field) {
    if (n <= left())
      return true;
    return fail("truncated at byte " + std::to_string(pos_) + " reading " +
                field + ctx_ + " (" + std::to_string(n) + " bytes needed, " +
                std::to_string(left()) + " left)");
  }
  uint64_t load(unsigned bytes) {
    uint64_t v = 0;
    const unsigned char *p = at();
    for (unsigned i = bytes; i-- > 0;)
      v = v << 8 | p[i];
    pos_ += bytes;
    return v;
  }
  bool u8(uint8_t &v, const char *field) {
    if (!need(1, field))
      return false;
    v = static_cast<uint8_t>(load(1));
    return true;
  }
  bool u16(uint16_t &v, const char *field) {
    if (!need(2, field))
      return false;
    v = static_cast<uint16_t>(load(2));
    return true;
  }
  bool u32(uint32_t &v, const char *field) {
    if (!need(4, field))
      return false;
    v = static_cast<uint32_t>(load(4));
    return true;
  }
  bool u64(uint64_t &v, const char *field) {
    if (!need(8, field))
      return false;
    v = load(8);
    return true;
  }
  bool string(std::string &s, const char *lengthField, const char *field) {
    uint64_t n;
    if (!u64(n, lengthField))
      return false;
    if (!need(n, field))
      return false;
    s.assign(img_.data() + pos_, static_cast<size_t>(n));
    pos_ += n;
    return true;
  }

  bool value(ValueType t, Value &v, int depth, const std::string &key);
};

bool Parser::value(ValueType t, Value &v, int depth, const std::string &key) {
  if (valuesLeft_ == 0)
    return fail("metadata holds more than " + std::to_string(kMaxValues) +
                " values in all (at key '" + key + "', byte " +
                std::to_string(pos_) + ")");
  --valuesLeft_;
  v.type = t;
  const char *field = depth == 0 ? "the value" : "an array element";
  switch (t) {
  case ValueType::UInt8: {
    uint8_t x;
    if (!u8(x, field))
      return false;
    v.u = x;
    return true;
  }
  case ValueType::Int8: {
    uint8_t x;
    if (!u8(x, field))
      return false;
    v.i = static_cast<int8_t>(x);
    return true;
  }
  case ValueType::UInt16: {
    uint16_t x;
    if (!u16(x, field))
      return false;
    v.u = x;
    return true;
  }
  case ValueType::Int16: {
    uint16_t x;
    if (!u16(x, field))
      return false;
    v.i = static_cast<int16_t>(x);
    return true;
  }
  case ValueType::UInt32: {
    uint32_t x;
    if (!u32(x, field))
      return false;
    v.u = x;
    return true;
  }
  case ValueType::Int32: {
    uint32_t x;
    if (!u32(x, field))
      return false;
    v.i = static_cast<int32_t>(x);
    return true;
  }
  case ValueType::Float32: {
    uint32_t x;
    if (!u32(x, field))
      return false;
    float f;
    std::memcpy(&f, &x, 4);
    v.f = f;
    return true;
  }
  case ValueType::Bool: {
    uint64_t where = pos_;
    uint8_t x;
    if (!u8(x, field))
      return false;
    if (x > 1)
      return fail("metadata key '" + key + "': a BOOL of " + std::to_string(x) +
                  " at byte " + std::to_string(where) + " (must be 0 or 1)");
    v.b = x == 1;
    return true;
  }
  case ValueType::String:
    return string(v.s, depth == 0 ? "the string length" : "a string length",
                  depth == 0 ? "the string" : "a string");
  case ValueType::UInt64:
    return u64(v.u, field);
  case ValueType::Int64: {
    uint64_t x;
    if (!u64(x, field))
      return false;
    v.i = static_cast<int64_t>(x);
    return true;
  }
  case ValueType::Float64: {
    uint64_t x;
    if (!u64(x, field))
      return false;
    std::memcpy(&v.f, &x, 8);
    return true;
  }
  case ValueType::Array: {
    if (depth >= kMaxArrayDepth)
      return fail("metadata key '" + key + "': arrays nested deeper than " +
                  std::to_string(kMaxArrayDepth) + " at byte " +
                  std::to_string(pos_));
    uint64_t where = pos_;
    uint32_t et;
    if (!u32(et, "the array element type"))
      return false;
    if (!knownValueType(et))
      return fail("metadata key '" + key + "': unknown array element type " +
                  std::to_string(et) + " at byte " + std::to_string(where));
    v.elementType = static_cast<ValueType>(et);
    uint64_t count;
    if (!u64(count, "the array length"))
      return false;
    uint64_t min = minValueBytes(v.elementType);
    if (count > left() / min)
      return fail("metadata key '" + key + "': an array of " +
                  std::to_string(count) + " " + valueTypeName(v.elementType) +
                  " values at byte " + std::to_string(where) +
                  " cannot fit in the " + std::to_string(left()) +
                  " bytes left");
    if (count > valuesLeft_)
      return fail("metadata holds more than " + std::to_string(kMaxValues) +
                  " values in all (an array of " + std::to_string(count) +
                  " at key '" + key + "', byte " + std::to_string(where) + ")");
    v.array.reserve(
        static_cast<size_t>(std::min<uint64_t>(count, kReserveAtMost)));
    for (uint64_t k = 0; k < count; ++k) {
      v.array.emplace_back();
      if (!value(v.elementType, v.array.back(), depth + 1, key))
        return false;
    }
    return true;
  }
  }
  return fail("metadata key '" + key + "': unknown value type");
}

std::string Parser::run(Header &out) {
  Header h;
  if (!need(4, "the magic"))
    return err_;
  if (!hasMagic(img_)) {
    static const char kHex[] = "0123456789abcdef";
    std::string hex;
    for (int i = 0; i < 4; ++i) {
      unsigned char c = at()[i];
      hex += kHex[c >> 4];
      hex += kHex[c & 15];
      hex += i < 3 ? " " : "";
    }
    fail("not a GGUF file (its first bytes are " + hex +
         ", not the magic \"GGUF\")");
    return err_;
  }
  pos_ = 4;
  if (!u32(h.version, "the version"))
    return err_;
  if (h.version != 2 && h.version != 3) {
    uint32_t swapped = byteSwap32(h.version);
    fail("GGUF version " + std::to_string(h.version) +
         " is not supported (supported: 2, 3)" +
         (swapped == 2 || swapped == 3
              ? std::string("; a big-endian file? only little-endian ones "
                            "are read")
              : std::string()));
    return err_;
  }
  uint64_t tensorCount, kvCount;
  if (!u64(tensorCount, "the tensor count") ||
      !u64(kvCount, "the metadata count"))
    return err_;
  if (kvCount > left() / kMinEntryBytes) {
    fail("metadata count " + std::to_string(kvCount) + " cannot fit in the " +
         std::to_string(left()) + " bytes left after the header (each entry " +
         "takes at least " + std::to_string(kMinEntryBytes) + ")");
    return err_;
  }
  if (tensorCount > left() / kMinTensorInfoBytes) {
    fail("tensor count " + std::to_string(tensorCount) + " cannot fit in the " +
         std::to_string(left()) +
         " bytes left after the header (each tensor info takes at least " +
         std::to_string(kMinTensorInfoBytes) + ")");
    return err_;
  }

  if (kvCount > kMaxValues) {
    fail("metadata count " + std::to_string(kvCount) + " is more than the " +
         std::to_string(kMaxValues) + " values allowed in all");
    return err_;
  }

  // Metadata. The vectors grow as entries are read (each takes at least a
  // few bytes of the file); a count is never reserved in full, so a large
  // file with a false count cannot make the reader reserve many times its
  // size.
  h.metadata.reserve(
      static_cast<size_t>(std::min<uint64_t>(kvCount, kReserveAtMost)));
  std::unordered_set<std::string> keys;
  for (uint64_t k = 0; k < kvCount; ++k) {
    ctx_ = " of metadata entry " + std::to_string(k);
    uint64_t where = pos_;
    std::string key;
    if (!string(key, "the key length", "the key"))
      return err_;
    if (!keys.insert(key).second) {
      fail("duplicate metadata key '" + key + "' (entry " + std::to_string(k) +
           ", at byte " + std::to_string(where) + ")");
      return err_;
    }
    ctx_ = " of metadata key '" + key + "'";
    uint64_t typeAt = pos_;
    uint32_t type;
    if (!u32(type, "the value type"))
      return err_;
    if (!knownValueType(type)) {
      fail("metadata key '" + key + "': unknown value type " +
           std::to_string(type) + " at byte " + std::to_string(typeAt));
      return err_;
    }
    Value v;
    if (!value(static_cast<ValueType>(type), v, 0, key))
      return err_;
    h.metadata.emplace_back(std::move(key), std::move(v));
  }
  ctx_.clear();

  if (const Value *a = h.find("general.alignment")) {
    if (a->type != ValueType::UInt32) {
      fail(std::string("general.alignment is a ") + valueTypeName(a->type) +
           ", not a UINT32");
      return err_;
    }
    if (a->u == 0 || (a->u & (a->u - 1)) != 0) {
      fail("general.alignment " + std::to_string(a->u) +
           " is not a non-zero power of two");
      return err_;
    }
    h.alignment = a->u;
  }

  // Tensor infos.
  if (tensorCount > left() / kMinTensorInfoBytes) {
    fail("tensor count " + std::to_string(tensorCount) + " cannot fit in the " +
         std::to_string(left()) +
         " bytes left after the metadata (each tensor info takes at least " +
         std::to_string(kMinTensorInfoBytes) + ")");
    return err_;
  }
  h.tensors.reserve(
      static_cast<size_t>(std::min<uint64_t>(tensorCount, kReserveAtMost)));
  std::unordered_set<std::string> names;
  for (uint64_t k = 0; k < tensorCount; ++k) {
    ctx_ = " of tensor info " + std::to_string(k);
    uint64_t where = pos_;
    TensorInfo t;
    if (!string(t.name, "the name length", "the name"))
      return err_;
    if (t.name.empty()) {
      fail("tensor info " + std::to_string(k) + " at byte " +
           std::to_string(where) + " has an empty name");
      return err_;
    }
    if (!names.insert(t.name).second) {
      fail("duplicate tensor name '" + t.name + "' (tensor info " +
           std::to_string(k) + ", at byte " + std::to_string(where) + ")");
      return err_;
    }
    std::string bad = "tensor '" + t.name + "' (tensor info at byte " +
                      std::to_string(where) + "): ";
    ctx_ = " of tensor '" + t.name + "'";
    uint32_t nDims;
    if (!u32(nDims, "the dimension count"))
      return err_;
    if (nDims < 1 || nDims > kMaxDims) {
      fail(bad + std::to_string(nDims) + " dimensions (1 to " +
           std::to_string(kMaxDims) + " allowed)");
      return err_;
    }
    uint64_t ne[kMaxDims] = {1, 1, 1, 1};
    for (uint32_t d = 0; d < nDims; ++d) {
      if (!u64(ne[d], "a dimension"))
        return err_;
      if (ne[d] >= kMaxDim) {
        fail(bad + "dimension " + std::to_string(d) + " is " +
             std::to_string(ne[d]) + " (must be below 2^62)");
        return err_;
      }
    }
    if (!u32(t.type, "the type") || !u64(t.offset, "the offset"))
      return err_;
    const TypeTraits *traits = typeTraits(t.type);
    if (!traits) {
      fail(bad + "unknown ggml type id " + std::to_string(t.type));
      return err_;
    }
    uint64_t blockElements = static_cast<uint64_t>(traits->blockElements);
    if (ne[0] % blockElements != 0) {
      fail("tensor '" + t.name + "' of type " + traits->name +
           ": its rows of " + std::to_string(ne[0]) +
           " elements are not whole blocks of " +
           std::to_string(blockElements));
      return err_;
    }
    uint64_t size = ne[0] / blockElements, elements = ne[0];
    bool overflow = __builtin_mul_overflow(
        size, static_cast<uint64_t>(traits->blockBytes), &size);
    for (uint32_t d = 1; d < kMaxDims; ++d) {
      overflow |= __builtin_mul_overflow(size, ne[d], &size);
      overflow |= __builtin_mul_overflow(elements, ne[d], &elements);
    }
    if (overflow || elements > static_cast<uint64_t>(INT64_MAX) ||
        size > static_cast<uint64_t>(INT64_MAX)) {
      fail(bad + "its size overflows 64 bits");
      return err_;
    }
    t.size = size;
    if (t.offset % h.alignment != 0) {
      fail(bad + "offset " + std::to_string(t.offset) +
           " is not a multiple of the alignment " +
           std::to_string(h.alignment));
      return err_;
    }
    for (uint32_t d = nDims; d-- > 0;)
      t.shape.push_back(static_cast<int64_t>(ne[d]));
    h.tensors.push_back(std::move(t));
  }
  ctx_.clear();

  // The data section.
  uint64_t infosEnd = pos_;
  uint64_t dataStart =
      infosEnd + (h.alignment - infosEnd % h.alignment) % h.alignment;
  if (dataStart > img_.size()) {
    if (!h.tensors.empty()) {
      fail("the data section would start at byte " + std::to_string(dataStart) +
           " (the tensor infos end at byte " + std::to_string(infosEnd) +
           ", aligned to " + std::to_string(h.alignment) +
           "), past the end of the file (" + std::to_string(img_.size()) +
           " bytes; truncated file?)");
      return err_;
    }
    dataStart = img_.size();
  }
  h.dataStart = dataStart;
  h.dataSize = img_.size() - dataStart;
  for (const TensorInfo &t : h.tensors) {
    uint64_t end;
    if (__builtin_add_overflow(t.offset, t.size, &end) || end > h.dataSize) {
      fail("tensor '" + t.name + "': its " + std::to_string(t.size) +
           " bytes at offset " + std::to_string(t.offset) +
           " extend past the end of the file (the data section at byte " +
           std::to_string(h.dataStart) + " holds " +
           std::to_string(h.dataSize) + " bytes; truncated file?)");
      return err_;
    }
  }
  // An empty tensor overlaps nothing.
  std::vector<const TensorInfo *> byOffset;
  for (const TensorInfo &t : h.tensors)
    if (t.size != 0)
      byOffset.push_back(&t);
  std::sort(byOffset.begin(), byOffset.end(),
            [](const TensorInfo *a, const TensorInfo *b) {
              return a->offset < b->offset;
            });
  for (size_t k = 1; k < byOffset.size(); ++k) {
    const TensorInfo &a = *byOffset[k - 1], &b = *byOffset[k];
    if (b.offset < a.offset + a.size) {
      fail("tensors '" + a.name + "' (bytes " + std::to_string(a.offset) +
           " to " + std::to_string(a.offset + a.size) + ") and '" + b.name +
           "' (from byte " + std::to_string(b.offset) +
           ") overlap in the data section");
      return err_;
    }
  }
  out = std::move(h);
  return "";
}

} // namespace

const char *gguf::valueTypeName(ValueType t) {
  static const char *const kNames[] = {
      "UINT8", "INT8",   "UINT16", "INT16",  "UINT32", "INT32",  "FLOAT32",
      "BOOL",  "STRING", "ARRAY",  "UINT64", "INT64",  "FLOAT64"};
  uint32_t i = static_cast<uint32_t>(t);
  return i < sizeof(kNames) / sizeof(kNames[0]) ? kNames[i] : "unknown";
}

const TypeTraits *gguf::typeTraits(uint32_t ggmlType) {
  if (ggmlType >= sizeof(kTypes) / sizeof(kTypes[0]) || !kTypes[ggmlType].name)
    return nullptr;
  return &kTypes[ggmlType];
}

const Value *Header::find(const std::string &key) const {
  for (const auto &kv : metadata)
    if (kv.first == key)
      return &kv.second;
  return nullptr;
}

bool gguf::hasMagic(std::string_view image) {
  return image.size() >= 4 && std::memcmp(image.data(), "GGUF", 4) == 0;
}

std::string gguf::parse(std::string_view image, const std::string &path,
                        Header &out) {
  // Strings and arrays are bounded by the file, but a file of many small
  // values can still ask for more memory than there is.
  try {
    return Parser(image, path).run(out);
  } catch (const std::bad_alloc &) {
    return path + ": not enough memory to hold the file's metadata";
  }
}
