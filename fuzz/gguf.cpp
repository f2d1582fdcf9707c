//===- gguf.cpp - fuzz target: the GGUF reader's checks -------------------===//
//
// Reads any bytes as a GGUF file image, as File::open does after mapping
// it. What passes has tensors of 1 to 4 dimensions that lie inside the data
// section, at aligned offsets, none overlapping another, each as many bytes
// as its ggml type and shape make; and each metadata key is found by name
// (docs/Fuzzing.md).
//
//===----------------------------------------------------------------------===//
#include "runtime/support/Gguf.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

using namespace moe;

namespace {
void check(bool ok) {
  if (!ok)
    __builtin_trap();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view image(reinterpret_cast<const char *>(data), size);
  gguf::Header h;
  if (!gguf::parse(image, "fuzz.gguf", h).empty())
    return 0;
  check(gguf::hasMagic(image));
  check(h.version == 2 || h.version == 3);
  check(h.alignment != 0 && (h.alignment & (h.alignment - 1)) == 0);
  check(h.dataStart <= size && h.dataSize == size - h.dataStart);
  if (!h.tensors.empty())
    check(h.dataStart % h.alignment == 0);
  for (const auto &kv : h.metadata)
    check(h.find(kv.first) == &kv.second);
  std::vector<const gguf::TensorInfo *> byOffset;
  for (const gguf::TensorInfo &t : h.tensors) {
    check(!t.name.empty());
    const gguf::TypeTraits *traits = gguf::typeTraits(t.type);
    check(traits != nullptr);
    check(!t.shape.empty() && t.shape.size() <= 4);
    // The size again, in 128 bits, from the shape (outermost first).
    unsigned __int128 bytes = 1;
    for (size_t d = 0; d + 1 < t.shape.size(); ++d) {
      check(t.shape[d] >= 0);
      bytes *= static_cast<uint64_t>(t.shape[d]);
    }
    int64_t row = t.shape.back();
    check(row >= 0 && row % traits->blockElements == 0);
    bytes *= static_cast<uint64_t>(row / traits->blockElements);
    bytes *= static_cast<uint64_t>(traits->blockBytes);
    check(bytes == t.size);
    check(t.offset % h.alignment == 0);
    check(t.offset <= h.dataSize && t.size <= h.dataSize - t.offset);
    if (t.size != 0)
      byOffset.push_back(&t);
  }
  std::sort(byOffset.begin(), byOffset.end(),
            [](const gguf::TensorInfo *a, const gguf::TensorInfo *b) {
              return a->offset < b->offset;
            });
  for (size_t i = 1; i < byOffset.size(); ++i)
    check(byOffset[i - 1]->offset + byOffset[i - 1]->size <=
          byOffset[i]->offset);
  return 0;
}
