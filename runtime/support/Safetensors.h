//===- Safetensors.h - memory-mapped weights files --------------*- C++ -*-===//
//
// A File maps either format and hands out its tensors the same way.
//
// .safetensors: an 8-byte little-endian header length N, N bytes of JSON
//   {"NAME": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
//    ..., "__metadata__": {...}}
// then the data section; offsets are relative to its start. Everything is
// checked before a tensor is handed out: the header length against the file
// size, the JSON, each dtype, shape and offset range, the byte count against
// the shape, and that no two tensors overlap. Messages name the file and the
// tensor.
//
// GGUF (ggml's format, recognized by its magic "GGUF"): read and checked by
// gguf::parse (Gguf.h). Each tensor's dtype is its ggml type's name ("F32",
// "F16", "BF16", "Q8_0", "Q4_K", ...; the plain types spelled as the
// safetensors dtypes), its shape row-major (outermost first), its byte
// range relative to the data section; the metadata is in gguf().
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_SUPPORT_SAFETENSORS_H
#define MOEC_RUNTIME_SUPPORT_SAFETENSORS_H

#include "runtime/support/Gguf.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace moe::safetensors {

struct TensorInfo {
  std::string name;
  std::string dtype; // as in the file: "F32", "BF16", "F16", "I64", ...;
                     // of a GGUF file its ggml type: "Q8_0", "Q4_K", ...
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0; // byte range within the data section
};

/// Parses and checks a header against a data section of `dataSize` bytes.
/// `path` only names the file in messages. Returns "" or a message.
std::string parseHeader(std::string_view header, uint64_t dataSize,
                        const std::string &path, std::vector<TensorInfo> &out);

/// A read-only mapping of one file; tensors point into it while it lives.
class File {
public:
  /// Maps and checks `path`, a .safetensors or a GGUF file (told apart by
  /// the GGUF magic). Returns "" or a message naming the file.
  static std::string open(const std::string &path, std::shared_ptr<File> &out);
  ~File();
  File(const File &) = delete;
  File &operator=(const File &) = delete;

  const std::string &path() const { return path_; }
  const std::vector<TensorInfo> &tensors() const { return tensors_; }
  const TensorInfo *find(const std::string &name) const;
  /// The parsed header of a GGUF file (its metadata, ggml types and
  /// offsets); nullptr for a .safetensors file.
  const gguf::Header *gguf() const { return gguf_.get(); }
  const void *data(const TensorInfo &t) const {
    return static_cast<const char *>(map_) + dataStart_ + t.begin;
  }
  /// Drops the whole pages of `t`'s first `bytes` bytes (all of them by
  /// default) from the process's resident memory (they stay in the page
  /// cache, and a later read maps them again): for a tensor read once into
  /// another form.
  void release(const TensorInfo &t, uint64_t bytes = UINT64_MAX) const;
  /// The same for the `bytes` bytes at `from` (the pages wholly inside),
  /// when they lie in `t`'s mapping: nothing for memory elsewhere (a
  /// converted copy).
  void release(const TensorInfo &t, const void *from, uint64_t bytes) const;
  /// "" while the mapped file is at least as long as when it was opened;
  /// else a message naming it. Reading the mapping of a file another
  /// process has cut short faults, so sessions ask before each run.
  std::string checkUnchanged() const;

private:
  File() = default;
  std::string path_;
  int fd_ = -1;
  void *map_ = nullptr;
  size_t size_ = 0;
  size_t dataStart_ = 0;
  std::vector<TensorInfo> tensors_;
  std::unique_ptr<gguf::Header> gguf_;
};

/// The names of the *.safetensors files in directory `dir`, sorted.
/// Returns "" or a message naming the directory.
std::string filesIn(const std::string &dir, std::vector<std::string> &out);

/// A tensor to write: little-endian bytes of `dtype` ("F32", "BF16", ...).
struct TensorData {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

/// Writes a .safetensors file (data 8-byte aligned). Writes to a temporary
/// next to `path` and renames it, so no partial file is left. Returns "" or
/// a message.
std::string write(const std::string &path,
                  const std::vector<TensorData> &tensors);

/// True when a tensor stored with shape `have` is, in the same row-major
/// bytes, a tensor of shape `want`: the shapes are equal once leading
/// dimensions of size 1 are dropped (a GGUF file stores a [1, d] weight as
/// [d], ERNIE 4.5 its [E] bias as [1, E]), or `have`'s first dimension is
/// the product of `want`'s leading ones and the rest are equal (DBRX
/// stores its experts [E·F, H] for [E, F, H]).
bool sameRowMajorShape(const std::vector<int64_t> &have,
                       const std::vector<int64_t> &want);

} // namespace moe::safetensors

#endif // MOEC_RUNTIME_SUPPORT_SAFETENSORS_H
