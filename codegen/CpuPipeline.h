//===- CpuPipeline.h - moe-cpu-pipeline and its phases ----------*- C++ -*-===//
//
// The CPU lowering from moe IR to the LLVM dialect as named phases, each a
// stopping point of `moe-compile --compile-to=<phase>`:
//
//   moe         the input, verified
//   fused       moe.layer decomposed; with the fusion options, activations
//               folded into the gate/up GEMMs and the token gather into the
//               GEMMs' row loads; expert weights taken as packed panels
//   linalg      convert-moe-to-linalg (moe.layer decomposed first), cleaned
//   bufferized  One-Shot Bufferize across function boundaries; results
//               become caller-provided out-parameters; deallocation added
//   loops       linalg to scf loops (strided copies too); outermost parallel
//               loops outlined for the thread pool; other scf.forall
//               sequential
//   llvm        the LLVM dialect only, ready for translation
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_CODEGEN_CPUPIPELINE_H
#define MOEC_CODEGEN_CPUPIPELINE_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

#include <optional>

namespace mlir::moe {

enum class CpuPhase { Moe, Fused, Linalg, Bufferized, Loops, LLVM };

/// "moe", "fused", "linalg", "bufferized", "loops", "llvm".
StringRef phaseName(CpuPhase phase);
std::optional<CpuPhase> parsePhase(StringRef name);
ArrayRef<CpuPhase> allPhases();

/// What the pipeline tunes for the target CPU.
struct CpuPipelineOptions {
  /// Vector register width in bits: 512 (AVX-512), 256 (AVX2), 128 (SSE).
  int64_t vectorBits = 512;
  /// Run moe-fuse-gate-up / moe-fuse-dispatch / moe-fuse-combine. They
  /// are off by default:
  /// on the machines measured so far the fused kernels are not yet faster
  /// (docs/performance.md).
  bool fuseGateUp = false;
  bool fuseDispatch = false;
  bool fuseCombine = false;
  /// bf16 weights multiply bf16-rounded rows with AVX512_BF16 dot products
  /// (convert-moe-to-linalg bf16-dot; needs vectorBits 512).
  bool bf16Dot = false;
  /// Run moe-pack-weights: the weights of plain GEMMs with f32 results are
  /// taken as panels the runtime packs once, when first used.
  bool packWeights = true;
  /// moe-pack-weights slices: N in this many slices, one after another,
  /// each streamed by the GEMM kernel at once (1: whole panels).
  int64_t panelSlices = 1;
};

/// The vector width to tune for, from the ISA extensions a target has
/// ("avx512f", "avx2", ...).
int64_t vectorBitsFor(ArrayRef<std::string> features);

/// Adds the passes of every phase after `after` up to and including
/// `last`.
void buildCpuPipeline(OpPassManager &pm, CpuPhase last = CpuPhase::LLVM,
                      const CpuPipelineOptions &options = {},
                      CpuPhase after = CpuPhase::Moe);

/// Registers `moe-cpu-pipeline` (all phases) for moe-opt.
void registerMoECpuPipeline();

} // namespace mlir::moe

#endif // MOEC_CODEGEN_CPUPIPELINE_H
