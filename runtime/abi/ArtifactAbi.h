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

/// Exported pointer slot through which a layer reports the experts it
/// selected (moe.record_routing; docs/Runtime.md, "Routing statistics"):
///   moec_record_routing: void (*)(int64_t site, const int32_t *indices,
///                        int64_t tokens, int64_t k, int64_t rowStride,
///                        int64_t columnStride)
/// `indices[t * rowStride + j * columnStride]` is the j-th expert of token
/// t; `site`
/// numbers the records of the function being called (its metadata's
/// "routing_sites"). Null: nothing records.
inline constexpr const char *kRecordRoutingSlot = "moec_record_routing";

/// Exported pointer slots through which an expert-parallel function (one
/// rank's program of a layer with an expert placement,
/// docs/ExpertParallelism.md) reaches the ranks of its group. `devices` is
/// the number of devices of the function's grid, which must be the group's
/// size:
///   moec_ep_rank:      int64_t (*)(int64_t devices)
///                      this process's rank in the group
///   moec_all_to_all:   void (*)(int64_t devices, int64_t fingerprint,
///                      const void *send, void *recv, int64_t bytes)
///                      equal split, `bytes` per rank: a layer's count
///                      exchange, the first exchange of the layer, where
///                      `fingerprint` identifies its expert placement, on
///                      which every rank must agree (0: nothing to check)
///   moec_all_to_all_v: void (*)(int64_t devices, const void *send,
///                      const int64_t *send_counts, void *recv,
///                      const int64_t *recv_counts, int64_t row_bytes)
///                      variable counts, in rows of row_bytes bytes
/// A failure is the runtime's to report after the call; the outputs then
/// hold zeros, so the rest of the call stays in bounds.
inline constexpr const char *kEpRankSlot = "moec_ep_rank";
inline constexpr const char *kAllToAllSlot = "moec_all_to_all";
inline constexpr const char *kAllToAllVSlot = "moec_all_to_all_v";

/// A CUDA artifact's host code calls the runtime for its GPU work through
/// exported pointer slots, one per call of MLIR's GPU runtime interface it
/// uses, named kGpuSlotPrefix + the call ("moec_mgpuLaunchKernel"). The
/// runtime fills every slot the artifact has, then calls
/// `void moec_gpu_load_modules(void)`, which hands it the embedded cubins
/// (mgpuModuleLoad); `void moec_gpu_unload_modules(void)` before it unloads
/// the artifact. The calls and what the runtime does for each
/// (docs/Artifact.md):
///   void *mgpuModuleLoad(const void *cubin, int64_t bytes)
///   void  mgpuModuleUnload(void *module)
///   void *mgpuModuleGetFunction(void *module, const char *kernel)
///   void  mgpuLaunchKernel(void *function, int64_t gridX, int64_t gridY,
///                          int64_t gridZ, int64_t blockX, int64_t blockY,
///                          int64_t blockZ, int32_t sharedBytes,
///                          void *stream, void **params, void **extra,
///                          int64_t paramCount)
///   void *mgpuStreamCreate(void)
///   void  mgpuStreamSynchronize(void *stream)
///   void  mgpuStreamDestroy(void *stream)
///   void *mgpuMemAlloc(int64_t bytes, void *stream, int8_t hostShared)
///   void  mgpuMemFree(void *ptr, void *stream)
///   void  mgpuMemcpy(void *dst, void *src, int64_t bytes, void *stream)
inline constexpr const char *kGpuSlotPrefix = "moec_";
inline constexpr const char *kGpuLoadModules = "moec_gpu_load_modules";
inline constexpr const char *kGpuUnloadModules = "moec_gpu_unload_modules";
inline constexpr const char *kGpuRuntimeCalls[] = {
    "mgpuModuleLoad",    "mgpuModuleUnload", "mgpuModuleGetFunction",
    "mgpuLaunchKernel",  "mgpuStreamCreate", "mgpuStreamSynchronize",
    "mgpuStreamDestroy", "mgpuMemAlloc",     "mgpuMemFree",
    "mgpuMemcpy"};
inline bool isGpuRuntimeCall(const char *name) {
  for (const char *call : kGpuRuntimeCalls)
    if (std::strcmp(call, name) == 0)
      return true;
  return false;
}

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
