//===- CpuPipeline.cpp - moe-cpu-pipeline and its phases ------------------===//
#include "codegen/cpu/CpuPipeline.h"
#include "codegen/cpu/Passes.h"
#include "passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::moe;

namespace {
struct PhaseInfo {
  CpuPhase phase;
  const char *name;
};
constexpr PhaseInfo kPhases[] = {{CpuPhase::Moe, "moe"},
                                 {CpuPhase::Fused, "fused"},
                                 {CpuPhase::Linalg, "linalg"},
                                 {CpuPhase::Kernels, "kernels"},
                                 {CpuPhase::Bufferized, "bufferized"},
                                 {CpuPhase::Loops, "loops"},
                                 {CpuPhase::LLVM, "llvm"}};
} // namespace

StringRef mlir::moe::phaseName(CpuPhase phase) {
  for (const PhaseInfo &p : kPhases)
    if (p.phase == phase)
      return p.name;
  return "";
}

std::optional<CpuPhase> mlir::moe::parsePhase(StringRef name) {
  for (const PhaseInfo &p : kPhases)
    if (name == p.name)
      return p.phase;
  return std::nullopt;
}

void mlir::moe::buildCpuPipeline(OpPassManager &pm,
                                 const CpuPipelineOptions &options,
                                 std::optional<CpuPhase> lastPhase,
                                 CpuPhase after) {
  CpuPhase last = lastPhase.value_or(options.compileTo);
  auto runs = [&](CpuPhase phase) { return after < phase && phase <= last; };
  if (runs(CpuPhase::Fused)) {
    MoESetCpuTargetOptions target;
    target.cpu = options.cpu;
    target.l1dCacheBytes = options.l1dCacheBytes;
    target.l2CacheBytes = options.l2CacheBytes;
    pm.addPass(createMoESetCpuTarget(target));
    pm.addPass(createMoEPrepareEntryPoints());
    pm.addPass(createMoEDistributeExperts());
    pm.addPass(createMoEDecompose());
    if (options.recordRouting)
      pm.addNestedPass<func::FuncOp>(createMoEInstrumentRouting());
    if (options.fuseGateUp)
      pm.addPass(createMoEFuseGateUp());
    if (options.fuseDispatch)
      pm.addPass(createMoEFuseDispatch());
    if (options.fuseCombine)
      pm.addPass(createMoEFuseCombine());
    pm.addPass(createCanonicalizerPass());
    // Panels are the kernels' layout: the target-neutral GEMM reads the
    // weights as they are.
    if (options.packWeights && options.kernels) {
      MoEPackWeightsOptions pack;
      pack.slices = options.panelSlices;
      pack.bf16Dot = options.bf16Dot;
      pack.int8Dot = options.int8Dot;
      pm.addPass(createMoEPackWeights(pack));
    }
    if (options.kernels) {
      MoECpuSelectKernelsOptions select;
      select.bf16Dot = options.bf16Dot;
      select.int8Dot = options.int8Dot;
      select.int8PanelRows = options.int8PanelRows;
      pm.addPass(createMoECpuSelectKernels(select));
    }
  }
  if (runs(CpuPhase::Linalg)) {
    pm.addPass(createConvertMoEToLinalg());
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
  }
  if (runs(CpuPhase::Kernels)) {
    pm.addPass(createConvertMoEToCpuKernels());
    pm.addPass(createMoELowerRoutingRecords());
    pm.addPass(createMoELowerCollectives());
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
  }
  if (!runs(CpuPhase::Bufferized))
    return;
  // bufferized
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  // Results are written into buffers the caller provides.
  bufferization::BufferResultsToOutParamsPassOptions outParams;
  outParams.modifyPublicFunctions = true;
  outParams.hoistStaticAllocs = true;
  outParams.hoistDynamicAllocs = true;
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));
  pm.addPass(createCanonicalizerPass());
  bufferization::BufferDeallocationPipelineOptions dealloc;
  bufferization::buildBufferDeallocationPipeline(pm, dealloc);
  if (last == CpuPhase::Bufferized)
    return;
  assert(runs(CpuPhase::Loops) && "the phases after bufferized run together");

  // loops
  // Parallel dimensions become scf.parallel; the outermost parallel loops
  // run on the runtime's thread pool, everything nested stays sequential.
  pm.addPass(createMoELowerCopies());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
  pm.addPass(createMoEOutlineParallelLoops());
  pm.addNestedPass<func::FuncOp>(createForallToForLoopPass());
  pm.addPass(createCanonicalizerPass());
  if (last == CpuPhase::Loops)
    return;

  // llvm
  // exp, tanh and erf without libm calls, so that their loops vectorize.
  pm.addPass(createMoECpuApproximateMath());
  // bf16 conversions as integer arithmetic (round to nearest even): no
  // compiler-rt builtins are needed on CPUs without native bf16.
  arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true;
  pm.addPass(arith::createArithExpandOpsPass(expand));
  pm.addPass(createSCFToControlFlowPass());
  // The GEMM kernel's lane sums may be reassociated (tree reductions).
  ConvertVectorToLLVMPassOptions vectorToLLVM;
  vectorToLLVM.reassociateFPReductions = true;
  vectorToLLVM.x86Vector = true; // x86vector.avx512.dot (bf16-dot)
  pm.addPass(createConvertVectorToLLVMPass(vectorToLLVM));
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  // Buffers are allocated through the runtime's scratch allocator.
  FinalizeMemRefToLLVMConversionPassOptions memrefToLLVM;
  memrefToLLVM.useGenericFunctions = true;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefToLLVM));
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createMoELowerParallelLaunches());
  pm.addPass(createMoELowerAllocations());
}

void mlir::moe::registerMoECpuPipeline() {
  PassPipelineRegistration<CpuPipelineOptions>(
      "moe-cpu-pipeline",
      "Lower moe IR to the LLVM dialect for the CPU: the phases of "
      "moe-compile (fused, linalg, kernels, bufferized, loops, llvm), with "
      "its options, so moe-compile --compile-to=PHASE --cpu=C and "
      "moe-opt --moe-cpu-pipeline=\"compile-to=PHASE cpu=C\" print the same "
      "IR",
      [](OpPassManager &pm, const CpuPipelineOptions &options) {
        buildCpuPipeline(pm, options);
      });
}
