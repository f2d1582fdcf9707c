//===- safetensors.cpp - fuzz target: the safetensors header checks -------===//
//
// Reads any bytes as a .safetensors file image, as File::open does after
// mapping it: an 8-byte little-endian header length, the JSON header, the
// data section. What passes has tensors that lie inside the data section,
// cover it exactly and do not overlap (docs/Fuzzing.md).
//
//===----------------------------------------------------------------------===//
#include "runtime/support/Safetensors.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 8)
    return 0;
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i)
    length = length << 8 | data[i];
  if (length > size - 8)
    return 0;
  std::string_view header(reinterpret_cast<const char *>(data + 8), length);
  uint64_t dataSize = size - 8 - length;
  std::vector<moe::safetensors::TensorInfo> tensors;
  if (!moe::safetensors::parseHeader(header, dataSize, "fuzz.safetensors",
                                     tensors)
           .empty())
    return 0;
  std::sort(tensors.begin(), tensors.end(),
            [](const auto &a, const auto &b) { return a.begin < b.begin; });
  uint64_t covered = 0;
  for (const auto &t : tensors) {
    if (t.begin != covered || t.end < t.begin || t.end > dataSize)
      std::abort();
    covered = t.end;
  }
  if (covered != dataSize)
    std::abort();
  return 0;
}
