//===- CudaPipeline.cpp - moe-cuda-pipeline -------------------------------===//
#include "codegen/cuda/CudaPipeline.h"
#include "codegen/cpu/Passes.h"
#include "codegen/cuda/CudaTarget.h"
#include "codegen/cuda/Passes.h"
#include "passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::moe;

namespace {
constexpr std::pair<CudaPhase, const char *> kPhases[] = {
    {CudaPhase::Moe, "moe"},     {CudaPhase::Fused, "fused"},
    {CudaPhase::Loops, "loops"}, {CudaPhase::Gpu, "gpu"},
    {CudaPhase::NVVM, "nvvm"},   {CudaPhase::PTX, "ptx"},
    {CudaPhase::LLVM, "llvm"}};
} // namespace

StringRef mlir::moe::cudaPhaseName(CudaPhase phase) {
  for (const auto &[p, name] : kPhases)
    if (p == phase)
      return name;
  return "";
}

std::optional<CudaPhase> mlir::moe::parseCudaPhase(StringRef name) {
  for (const auto &[p, phaseName] : kPhases)
    if (name == phaseName)
      return p;
  return std::nullopt;
}

namespace {
void buildFusedPhase(OpPassManager &pm, const CudaPipelineOptions &options);
void buildLoopsPhase(OpPassManager &pm, const CudaPipelineOptions &options);
void buildGpuPhase(OpPassManager &pm);
void buildNVVMPhase(OpPassManager &pm, const CudaPipelineOptions &options);
void buildLLVMPhase(OpPassManager &pm);
} // namespace

void mlir::moe::buildCudaPipeline(OpPassManager &pm,
                                  const CudaPipelineOptions &options,
                                  CudaPhase after) {
  CudaPhase last = options.compileTo;
  auto runs = [&](CudaPhase phase) { return phase > after && phase <= last; };
  if (runs(CudaPhase::Fused))
    buildFusedPhase(pm, options);
  if (runs(CudaPhase::Loops))
    buildLoopsPhase(pm, options);
  if (runs(CudaPhase::Gpu))
    buildGpuPhase(pm);
  if (runs(CudaPhase::NVVM))
    buildNVVMPhase(pm, options);
  if (runs(CudaPhase::PTX))
    buildBinaryPhase(pm, options, last == CudaPhase::PTX ? "isa" : "bin");
  if (runs(CudaPhase::LLVM))
    buildLLVMPhase(pm);
}

namespace {

void buildFusedPhase(OpPassManager &pm, const CudaPipelineOptions &options) {
  MoESetCudaTargetOptions target;
  target.chip = options.chip;
  pm.addPass(createMoESetCudaTarget(target));
  pm.addPass(createMoEPrepareEntryPoints());
  pm.addPass(createMoEDecompose());
  pm.addPass(createCanonicalizerPass());
  // The gather into the GEMMs that read it, gate and up with the
  // activation into one GEMM, the down projection into the combine:
  // convert-moe-to-gpu gives the fused forms the staged tensor-core kernel
  // takes its kernels, and unfuses the others.
  pm.addPass(createMoEFuseDispatch());
  pm.addPass(createMoEFuseGateUp());
  if (options.fuseCombine)
    pm.addPass(createMoEFuseCombine());
}

void buildLoopsPhase(OpPassManager &pm, const CudaPipelineOptions &options) {
  ConvertMoEToGpuOptions convert;
  convert.tensorCores = options.tensorCores;
  convert.fuseCombine = options.fuseCombine;
  pm.addPass(createConvertMoEToGpu(convert));
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  // No canonicalizer before the nests are launches: it merges nested
  // scf.parallel loops and folds single-iteration ones into new ops
  // without the mapping attributes, which would leave them on the host.
  pm.addPass(createCSEPass());
}

void buildGpuPhase(OpPassManager &pm) {
  // Results are written into buffers the caller provides, as on the CPU.
  bufferization::BufferResultsToOutParamsPassOptions outParams;
  outParams.modifyPublicFunctions = true;
  outParams.hoistStaticAllocs = true;
  outParams.hoistDynamicAllocs = true;
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));
  pm.addNestedPass<func::FuncOp>(createConvertParallelLoopToGpuPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createGpuLaunchSinkIndexComputationsPass());
  pm.addPass(createMoENameGpuKernels());
  pm.addPass(createGpuKernelOutliningPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createMoEGpuDeviceBuffers());
  pm.addNestedPass<func::FuncOp>(createGpuAsyncRegionPass());
  pm.addPass(createMoEGpuPointerArguments());
}

void buildNVVMPhase(OpPassManager &pm, const CudaPipelineOptions &options) {
  // The chip and PTX version: the ones moe-set-cuda-target records (an
  // unknown chip fails there, before this pass runs).
  CudaTargetDescription description;
  (void)describeCuda(options.chip, description);
  GpuNVVMAttachTargetOptions attach;
  attach.chip =
      description.chip.empty() ? options.chip.getValue() : description.chip;
  attach.features = description.ptxFeatures;
  attach.optLevel = 3;
  pm.addPass(createGpuNVVMAttachTarget(attach));
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  kernels.addPass(createSCFToControlFlowPass());
  kernels.addPass(createConvertGpuOpsToNVVMOps());
  // The NVVM ops LLVM has no intrinsic for (wgmma.mma_async) as inline PTX.
  kernels.addPass(createConvertNVVMToLLVMPass());
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  kernels.addPass(createReconcileUnrealizedCastsPass());
}

void buildLLVMPhase(OpPassManager &pm) {
  // The host functions: launches become calls into the runtime when the
  // module is translated (docs/Artifact.md); views and index arithmetic
  // become LLVM.
  GpuToLLVMConversionPassOptions toLLVM;
  pm.addPass(createGpuToLLVMConversionPass(toLLVM));
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

} // namespace

void mlir::moe::buildBinaryPhase(OpPassManager &pm,
                                 const CudaPipelineOptions &options,
                                 StringRef format) {
  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = format.str();
  binary.toolkitPath = options.cudaToolkit;
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

void mlir::moe::registerMoECudaPipeline() {
  PassPipelineRegistration<CudaPipelineOptions>(
      "moe-cuda-pipeline",
      "Lower moe IR for an NVIDIA GPU: the phases moe, fused, loops, gpu, "
      "nvvm, ptx (kernels as PTX) and llvm (kernels as cubins, host code in "
      "the LLVM dialect) (docs/Targets.md)",
      [](OpPassManager &pm, const CudaPipelineOptions &options) {
        buildCudaPipeline(pm, options);
      });
}
