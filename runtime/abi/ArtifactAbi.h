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

#include <cstdint>
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

} // namespace moe::abi

#endif // MOEC_RUNTIME_ABI_ARTIFACTABI_H
