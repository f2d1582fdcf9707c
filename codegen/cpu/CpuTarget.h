//===- CpuTarget.h - the CPU target description and its kernel rules -----===//
//
// One description of the CPU code is generated for, carried by the module as
// a DLTI target system spec (docs/Targets.md):
//
//   module attributes {dlti.target_system_spec = #dlti.target_system_spec<
//     "CPU" = #dlti.target_device_spec<
//       "triple" = "x86_64-unknown-linux-gnu", "cpu" = "znver3",
//       "features" = "sse4.2,avx,avx2,fma,f16c",
//       "vector_bits" = 256 : i64, "vector_registers" = 16 : i64,
//       "L1_cache_size_in_bytes" = 32768 : i64,
//       "L2_cache_size_in_bytes" = 524288 : i64>>}
//
// moe-set-cpu-target writes it; every CPU-specific pass reads it, and the
// kernel sizes (panel width, register blocks, weight tiles, k chunks) follow
// from it by the rules below, so nothing is tuned to one machine's
// constants.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_CODEGEN_CPU_CPUTARGET_H
#define MOEC_CODEGEN_CPU_CPUTARGET_H

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace mlir::moe {

/// What the CPU kernels are generated for.
struct CpuTargetDescription {
  std::string triple;
  /// The LLVM CPU name ("znver4", "x86-64-v3", "x86-64").
  std::string cpu;
  /// The ISA extensions the code may use, as the runtime checks them
  /// ("avx2", "avx512f", "avx512bf16", ...).
  std::vector<std::string> features;
  /// Vector register width in bits (512: AVX-512, 256: AVX2, 128: SSE) and
  /// the number of vector registers (32 with AVX-512, else 16).
  int64_t vectorBits = 128;
  int64_t vectorRegisters = 16;
  /// Per-core data cache sizes.
  int64_t l1dBytes = 32 * 1024;
  int64_t l2Bytes = 1024 * 1024;

  bool hasFeature(StringRef feature) const;
  /// f32 lanes of one vector register.
  int64_t lanes() const { return vectorBits / 32; }
};

/// Describes the CPU named `cpu`: "native" is the host (its features, and
/// its cache sizes as the operating system reports them, else as the table
/// below has them for the host's CPU name); "x86-64" (or
/// "generic") is a baseline any x86-64 runs; any other name is an LLVM CPU
/// ("x86-64-v3", "znver4", "skylake-avx512", ...), whose cache sizes come
/// from a table of known CPUs (docs/Targets.md) or the generic 32 KiB L1d
/// and 1 MiB L2. Returns a message naming the CPU on failure.
std::string describeCpu(StringRef cpu, CpuTargetDescription &out);

/// The description as the module attribute `dlti.target_system_spec`.
void setCpuTarget(ModuleOp module, const CpuTargetDescription &target);

/// The description `module` carries. Emits an error at `op` naming the
/// missing or malformed entry, and what writes it (moe-set-cpu-target),
/// when there is none.
FailureOr<CpuTargetDescription> getCpuTarget(Operation *op, StringRef passName);

//===----------------------------------------------------------------------===//
// Kernel sizes from the description
//===----------------------------------------------------------------------===//

/// The register blocking of the outer-product kernel on packed panels: a
/// block of `rows` input rows times `vectors` panel vectors keeps
/// rows * vectors accumulators, loads `vectors` weight vectors and
/// broadcasts one element per k step, so it needs rows * vectors +
/// vectors + 1 registers. The rule: the largest rows * vectors with
/// vectors in {1, 2, 4} and rows = min(6, (registers - 1 - vectors) /
/// vectors), the smaller vectors on ties (32 registers: 6 x 4; 16: 6 x 2).
/// At most 6 rows: each k step then still loads fewer operands than it
/// issues FMAs.
struct PanelBlocking {
  int64_t rows = 6;
  int64_t vectors = 4;
};
PanelBlocking panelBlockingFor(const CpuTargetDescription &target);

/// Output columns of one packed panel (moe-pack-weights): the vectors of
/// the panel blocking times the lanes (AVX-512: 64, AVX2: 16, SSE: 8).
int64_t panelWidthFor(const CpuTargetDescription &target);

/// The slices moe-pack-weights stores N in by default: one per vector of a
/// panel where a vector is at least 32 bytes (AVX2 and AVX-512), so each
/// core streams its weights from that many places; whole panels with SSE,
/// whose 16-byte slices cost more than they gain (docs/performance.md).
int64_t defaultPanelSlices(const CpuTargetDescription &target);

/// The register blocking of the dot-product kernel on unpacked weights
/// ([N, K] rows): rows * cols accumulators, the block's `rows` input
/// vectors and one weight vector at a time, so rows * cols + rows + 1
/// registers. The rule: the largest rows * cols with rows at most 6 and
/// cols at most 4, the more rows on ties (32 registers: 6 x 4; 16: 3 x 4).
struct DotBlocking {
  int64_t rows = 6;
  int64_t cols = 4;
};
DotBlocking dotBlockingFor(const CpuTargetDescription &target);

/// Bytes of weights one work item keeps hot while its rows stream past:
/// half of L2, the other half left to the rows and the next tile's
/// prefetch (1 MiB L2: 512 KiB).
int64_t weightTileBytesFor(const CpuTargetDescription &target);

/// Bytes of weights the int8 panel kernel's prefetches run ahead of its
/// reads when it reads each weight byte once (decode: an item's rows fit
/// one row block), over all the streams it reads at once: an eighth of
/// L1d (6 KiB on Zen 5, 4 KiB with 32 KiB), as the prefetched lines wait
/// in L1 and must not evict the lines being read. On Zen 5 (48 KiB L1d;
/// docs/performance.md) 2.3 KiB ahead was 6% to 10% slower than
/// prefetching the whole next group of panels (36 KiB), 4.5 to 9 KiB 3%
/// to 12% faster (6.8 KiB the most), 11.5 KiB 2% to 4%, 13.5 KiB and more
/// no faster.
int64_t streamAheadBytesFor(const CpuTargetDescription &target);

/// k per chunk of the panel kernel, whose accumulators go through the
/// output between chunks and whose next chunk is prefetched while one is
/// multiplied: the largest power of two such that a block's rows of one
/// chunk (rows * k * 4 bytes) take at most half of L1d and one chunk of an
/// f32 panel (k * panel width * 4 bytes) at most an eighth of L2: 512 on
/// Zen 3 (AVX2), Zen 4 and Zen 5 (AVX-512).
int64_t panelDepthFor(const CpuTargetDescription &target);

//===----------------------------------------------------------------------===//
// The sizes one GEMM's kernel is generated with
//===----------------------------------------------------------------------===//

/// The `moe.kernel` dictionary of a CPU kernel (moe-cpu-select-kernels;
/// the attribute's name is kKernelAttrName of codegen/linalg/Passes.h).
struct CpuKernelConfig {
  int64_t lanes = 16;
  int64_t registers = 32;
  int64_t panelRows = 6;
  int64_t dotRows = 6;
  int64_t dotCols = 4;
  int64_t weightTileBytes = 512 * 1024;
  int64_t panelDepth = 512;
  int64_t streamAheadBytes = 6 * 1024;
  bool bf16Dot = false;
  /// Block-quantized weights multiply int8-quantized rows with AVX512_VNNI
  /// dot products.
  bool int8Dot = false;
  /// With int8Dot: work items of at least this many rows repack their
  /// weights for the int8 panel kernel (emitInt8Panels); 0: none do.
  int64_t int8PanelRows = 0;

  /// The widest panel the panel kernel holds accumulators for: the vectors
  /// of panelBlockingFor's rule on `registers`, times the lanes.
  int64_t maxPanelWidth() const;
};

/// The sizes for `target` by the rules above; `bf16Dot` needs avx512bf16
/// and `int8Dot` avx512vnni (checked by the caller).
CpuKernelConfig kernelConfigFor(const CpuTargetDescription &target,
                                bool bf16Dot, bool int8Dot = false);

/// The config as the `moe.kernel` attribute, and back. `readKernelConfig`
/// returns std::nullopt for an op without a CPU `moe.kernel`, and emits an
/// error at the op and fails for a malformed one.
DictionaryAttr kernelConfigAttr(MLIRContext *ctx, const CpuKernelConfig &c);
FailureOr<std::optional<CpuKernelConfig>> readKernelConfig(Operation *op);

} // namespace mlir::moe

#endif // MOEC_CODEGEN_CPU_CPUTARGET_H
