//===- npy.cpp - fuzz target: the .npy reader -----------------------------===//
//
// Parses any bytes as a .npy file; what parses has as many values as its
// shape says, and serializes and parses back to the same array
// (docs/Fuzzing.md).
//
//===----------------------------------------------------------------------===//
#include "runtime/support/Npy.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char *>(data), size);
  moe::npy::Array a;
  if (!moe::npy::parse(bytes, "fuzz.npy", a).empty())
    return 0;
  uint64_t count = 1;
  for (int64_t d : a.shape)
    count *= static_cast<uint64_t>(d);
  if (count != a.data.size())
    std::abort();
  // As float64 every value read comes back bit for bit (NaNs included).
  moe::npy::Array back;
  std::string image;
  if (!moe::npy::serialize(a.shape, a.data, moe::npy::DType::F64, image)
           .empty() ||
      !moe::npy::parse(image, "back.npy", back).empty() ||
      back.shape != a.shape || back.data.size() != a.data.size() ||
      (!a.data.empty() && std::memcmp(back.data.data(), a.data.data(),
                                      a.data.size() * sizeof(double))))
    std::abort();
  return 0;
}
