//===- CpuPipeline.h - moe-cpu-pipeline and its phases ----------*- C++ -*-===//
//
// The CPU lowering from moe IR to the LLVM dialect as named phases, each a
// stopping point of `moe-compile --compile-to=<phase>` and of
// `moe-opt --moe-cpu-pipeline="compile-to=<phase>"`:
//
//   moe         the input, verified
//   fused       moe.layer decomposed; the CPU target description set
//               (moe-set-cpu-target); with the fusion options, activations
//               folded into the gate/up GEMMs, the token gather into the
//               GEMMs' row loads, the down GEMM into the combine; expert
//               weights taken as packed panels; the GEMMs claimed and sized
//               for the CPU kernels (moe-cpu-select-kernels)
//   linalg      convert-moe-to-linalg: everything else as linalg on
//               tensors, target-neutral
//   kernels     convert-moe-to-cpu-kernels: the claimed GEMMs as
//               register-blocked vector kernels
//   bufferized  One-Shot Bufferize across function boundaries; results
//               become caller-provided out-parameters; deallocation added
//   loops       linalg to scf loops (strided copies too); outermost parallel
//               loops outlined for the thread pool; other scf.forall
//               sequential
//   llvm        the LLVM dialect only, ready for translation
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_CODEGEN_CPU_CPUPIPELINE_H
#define MOEC_CODEGEN_CPU_CPUPIPELINE_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

#include <optional>

namespace mlir::moe {

enum class CpuPhase { Moe, Fused, Linalg, Kernels, Bufferized, Loops, LLVM };

/// "moe", "fused", "linalg", "kernels", "bufferized", "loops", "llvm".
StringRef phaseName(CpuPhase phase);
std::optional<CpuPhase> parsePhase(StringRef name);

/// The options of `moe-cpu-pipeline`, which moe-compile's flags set alike.
struct CpuPipelineOptions : PassPipelineOptions<CpuPipelineOptions> {
  Option<std::string> cpu{
      *this, "cpu",
      llvm::cl::desc("The CPU to generate code for (moe-set-cpu-target): "
                     "native, x86-64, x86-64-v2/v3/v4 or an LLVM CPU name"),
      llvm::cl::init("native")};
  Option<int64_t> l1dCacheBytes{
      *this, "l1d-cache-bytes",
      llvm::cl::desc("The per-core L1d in bytes (0: the CPU's)"),
      llvm::cl::init(0)};
  Option<int64_t> l2CacheBytes{
      *this, "l2-cache-bytes",
      llvm::cl::desc("The per-core L2 in bytes (0: the CPU's)"),
      llvm::cl::init(0)};
  // The fusion passes; off by default: on the machines measured so far the
  // fused kernels are not yet faster (docs/performance.md).
  Option<bool> fuseGateUp{*this, "fuse-gate-up",
                          llvm::cl::desc("Run moe-fuse-gate-up"),
                          llvm::cl::init(false)};
  Option<bool> fuseDispatch{*this, "fuse-dispatch",
                            llvm::cl::desc("Run moe-fuse-dispatch"),
                            llvm::cl::init(false)};
  Option<bool> fuseCombine{*this, "fuse-combine",
                           llvm::cl::desc("Run moe-fuse-combine"),
                           llvm::cl::init(false)};
  Option<bool> packWeights{
      *this, "pack-weights",
      llvm::cl::desc("Take the GEMM weights as panels the runtime packs "
                     "once (moe-pack-weights)"),
      llvm::cl::init(true)};
  Option<int64_t> panelSlices{
      *this, "panel-slices",
      llvm::cl::desc("moe-pack-weights slices (0: from the target "
                     "description)"),
      llvm::cl::init(0)};
  Option<bool> bf16Dot{
      *this, "bf16-dot",
      llvm::cl::desc("bf16 weights multiply bf16-rounded rows with "
                     "AVX512_BF16 dot products (needs avx512bf16)"),
      llvm::cl::init(false)};
  Option<bool> int8Dot{
      *this, "int8-dot",
      llvm::cl::desc("Block-quantized expert weights multiply rows "
                     "quantized to int8 on the fly (per 32 elements) with "
                     "AVX512_VNNI dot products (needs avx512vnni)"),
      llvm::cl::init(false)};
  Option<int64_t> int8PanelRows{
      *this, "int8-panel-rows",
      llvm::cl::desc("With int8-dot: the fewest rows of a work item that "
                     "repacks its weights for the int8 panel kernel (0: "
                     "the cost model's count per format)"),
      llvm::cl::init(0)};
  Option<bool> recordRouting{
      *this, "record-routing",
      llvm::cl::desc("Let the layers report their expert selection to the "
                     "runtime's routing statistics (moe-instrument-routing; "
                     "one call per layer call, which returns at once "
                     "while nothing records)"),
      llvm::cl::init(true)};
  Option<bool> kernels{
      *this, "kernels",
      llvm::cl::desc("Run the GEMMs on the CPU kernels "
                     "(moe-cpu-select-kernels); false lowers them as "
                     "target-neutral linalg, correct and slow, and packs no "
                     "weights"),
      llvm::cl::init(true)};
  Option<CpuPhase> compileTo{
      *this, "compile-to", llvm::cl::desc("The last phase to run"),
      llvm::cl::init(CpuPhase::LLVM),
      llvm::cl::values(
          clEnumValN(CpuPhase::Moe, "moe", "the input, verified"),
          clEnumValN(CpuPhase::Fused, "fused",
                     "target set, fusions, packed weights, kernels claimed"),
          clEnumValN(CpuPhase::Linalg, "linalg",
                     "the rest as target-neutral linalg"),
          clEnumValN(CpuPhase::Kernels, "kernels",
                     "the claimed GEMMs as CPU vector kernels"),
          clEnumValN(CpuPhase::Bufferized, "bufferized", "on buffers"),
          clEnumValN(CpuPhase::Loops, "loops", "loops, parallel ones outlined"),
          clEnumValN(CpuPhase::LLVM, "llvm", "the LLVM dialect"))};
};

/// Adds the passes of every phase after `after` up to and including
/// `last` (options.compileTo when not given).
void buildCpuPipeline(OpPassManager &pm, const CpuPipelineOptions &options,
                      std::optional<CpuPhase> last = std::nullopt,
                      CpuPhase after = CpuPhase::Moe);

/// Registers `moe-cpu-pipeline` (up to its compile-to phase) for moe-opt.
void registerMoECpuPipeline();

} // namespace mlir::moe

#endif // MOEC_CODEGEN_CPU_CPUPIPELINE_H
