//===- artifact_seal.cpp - fuzz target: the artifact seal check -----------===//
//
// Checks any bytes as an artifact's seal (runtime/abi/ArtifactAbi.h), as
// moert does before dlopen; bytes that pass must end in the seal of what
// precedes it, and sealing any bytes must pass (docs/Fuzzing.md).
//
//===----------------------------------------------------------------------===//
#include "runtime/abi/ArtifactAbi.h"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace moe::abi;
  if (checkArtifactSeal(data, size).empty() &&
      artifactSeal(data, size - kSealBytes) !=
          std::string(reinterpret_cast<const char *>(data) + size - kSealBytes,
                      kSealBytes))
    std::abort();
  std::string sealed(reinterpret_cast<const char *>(data), size);
  sealed += artifactSeal(data, size);
  if (!checkArtifactSeal(reinterpret_cast<const unsigned char *>(sealed.data()),
                         sealed.size())
           .empty())
    std::abort();
  return 0;
}
