//===- ArtifactAbi.h - the names an artifact and moert agree on -*- C++ -*-===//
//
// The one definition of the symbols and metadata keys by which moe-compile's
// generated code and the moert runtime find each other (docs/Artifact.md).
// Both sides include this header: the compiler when it names what it emits,
// the runtime when it looks the names up. Plain C++17, no dependencies.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_ABI_ARTIFACTABI_H
#define MOEC_RUNTIME_ABI_ARTIFACTABI_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace moe::abi {

/// The metadata record: a NUL-terminated JSON string.
inline constexpr const char *kMetadataSymbol = "moec_artifact_metadata";
/// Its "format" and the "version" this runtime and compiler speak.
inline constexpr const char *kMetadataFormat = "moec-artifact";
inline constexpr int64_t kMetadataVersion = 1;

/// `void moec_entry_NAME(void **args)`: the packed entry point of public
/// function NAME, args[i] pointing at its i-th memref descriptor.
inline constexpr const char *kEntryPrefix = "moec_entry_";
inline std::string entrySymbol(const std::string &function) {
  return kEntryPrefix + function;
}

/// Exported pointer slots the runtime fills when it loads an artifact
/// (null: the code runs without the runtime):
///   moec_parallel_for: void (*)(void (*body)(void *ctx, int64_t begin,
///                      int64_t end), void *ctx, int64_t n)
///   moec_alloc:        void *(*)(int64_t bytes)
///   moec_free:         void (*)(void *ptr)
inline constexpr const char *kParallelForSlot = "moec_parallel_for";
inline constexpr const char *kAllocSlot = "moec_alloc";
inline constexpr const char *kFreeSlot = "moec_free";

/// The seal moe-compile appends to every artifact, after the shared object
/// (the dynamic loader ignores bytes past what the ELF headers describe):
///   8 bytes  kSealMagic
///   8 bytes  the length of everything before the seal, little-endian
///   8 bytes  artifactChecksum of those bytes, little-endian
/// moert reads the file and checks the seal before it hands it to dlopen,
/// so a truncated or corrupted artifact is refused with a message instead
/// of crashing the loader or the process (docs/Artifact.md). It detects
/// accidents, not malice: artifacts are native code from a trusted
/// compiler.
inline constexpr char kSealMagic[8] = {'M', 'O', 'E', 'C', 'S', 'E', 'A', 'L'};
inline constexpr size_t kSealBytes = 24;

/// 64-bit FNV-1a of `size` bytes.
inline uint64_t artifactChecksum(const unsigned char *data, size_t size) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; ++i) {
    h ^= data[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

/// The seal of `size` bytes at `data`.
inline std::string artifactSeal(const unsigned char *data, size_t size) {
  std::string seal(kSealMagic, sizeof(kSealMagic));
  for (uint64_t v : {uint64_t(size), artifactChecksum(data, size)})
    for (int i = 0; i < 8; ++i)
      seal.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return seal;
}

/// "" when the `size` bytes at `data` end in a seal that matches what
/// precedes it; else what is wrong.
inline std::string checkArtifactSeal(const unsigned char *data, size_t size) {
  if (size < kSealBytes ||
      std::memcmp(data + size - kSealBytes, kSealMagic, sizeof(kSealMagic)))
    return "no moec seal at its end: not an artifact moe-compile wrote, or "
           "a truncated one";
  size_t length = size - kSealBytes;
  std::string expected = artifactSeal(data, length);
  if (std::memcmp(data + length + 8, expected.data() + 8, 8))
    return "its seal records " + std::to_string([&] {
             uint64_t v = 0;
             for (int i = 7; i >= 0; --i)
               v = v << 8 | data[length + 8 + i];
             return v;
           }()) +
           " bytes before it but " + std::to_string(length) +
           " are there: truncated or spliced";
  if (std::memcmp(data + length + 16, expected.data() + 16, 8))
    return "its content does not match the checksum in its seal: corrupted "
           "(or edited) after moe-compile wrote it";
  return "";
}

} // namespace moe::abi

#endif // MOEC_RUNTIME_ABI_ARTIFACTABI_H
