//===- Gguf.h - GGUF (ggml) model files -------------------------*- C++ -*-===//
//
// The format, little-endian throughout: the magic "GGUF", a uint32 version
// (2 or 3 here), a uint64 tensor count and a uint64 metadata count; the
// metadata entries (a string key, a uint32 value type, the value); the
// tensor infos (a string name, a uint32 rank of 1 to 4, that many uint64
// dimensions innermost first, a uint32 ggml type, a uint64 offset into the
// data section); then padding up to `general.alignment` (default 32) and
// the data section. A string is a uint64 length and that many bytes.
//
// parse() reads a whole file image and checks everything before handing it
// out: every read against the bytes left (a count is compared with what the
// remaining bytes could hold before any memory is reserved for it, and the
// metadata holds at most 2^23 values, array elements included), the
// version, value types, duplicate keys and tensor names, each tensor's rank,
// dimensions, type, whole blocks per row, byte size (overflow-checked),
// aligned offset and range inside the file, and that no two tensors overlap.
// Nothing here aborts or throws; a failure is a message naming the file.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_SUPPORT_GGUF_H
#define MOEC_RUNTIME_SUPPORT_GGUF_H

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace moe::gguf {

/// Metadata value types, numbered as in the file.
enum class ValueType : uint32_t {
  UInt8 = 0,
  Int8 = 1,
  UInt16 = 2,
  Int16 = 3,
  UInt32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  UInt64 = 10,
  Int64 = 11,
  Float64 = 12,
};

/// The type's name as GGUF spells it ("UINT32", "STRING", ...), or
/// "unknown".
const char *valueTypeName(ValueType t);

/// One metadata value. Unsigned integers are in `u`, signed ones in `i`,
/// floats in `f`, a bool in `b`, a string in `s`; an array holds its
/// elements (each of `elementType`) in `array`.
struct Value {
  ValueType type = ValueType::UInt8;
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::string s;
  ValueType elementType = ValueType::UInt8; // for Array
  std::vector<Value> array;
};

/// A ggml tensor type: its name ("F32", "Q4_K", ...), and the elements and
/// bytes of one block (1 element for the plain types).
struct TypeTraits {
  const char *name;
  int64_t blockElements;
  int64_t blockBytes;
};

/// Traits of a ggml type id; nullptr for an unknown id.
const TypeTraits *typeTraits(uint32_t ggmlType);

struct TensorInfo {
  std::string name;
  uint32_t type = 0;             // ggml type id
  std::vector<int64_t> shape;    // row-major, outermost first (ne reversed)
  uint64_t offset = 0, size = 0; // byte range within the data section
};

struct Header {
  uint32_t version = 0;
  std::vector<std::pair<std::string, Value>> metadata; // in file order
  std::vector<TensorInfo> tensors;                     // in file order
  /// The data section starts at `dataStart` (the end of the tensor infos
  /// rounded up to `alignment`) and runs to the end of the file.
  uint64_t alignment = 32, dataStart = 0, dataSize = 0;
  /// The metadata value of `key`, or nullptr.
  const Value *find(const std::string &key) const;
};

/// Parses and checks a whole file image. `path` only names the file in
/// messages. Returns "" or a message naming the file and what is wrong (with
/// the byte offset where useful); `out` is only written on success.
std::string parse(std::string_view image, const std::string &path, Header &out);

/// True when `image` starts with the GGUF magic.
bool hasMagic(std::string_view image);

} // namespace moe::gguf

#endif // MOEC_RUNTIME_SUPPORT_GGUF_H
