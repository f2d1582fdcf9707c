//===- CudaPipeline.cpp - moe-cuda-pipeline -------------------------------===//
#include "codegen/cuda/CudaPipeline.h"
#include "codegen/cuda/CudaTarget.h"
#include "codegen/cuda/Passes.h"
#include "passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::moe;

void mlir::moe::buildCudaPipeline(OpPassManager &pm,
                                  const CudaPipelineOptions &options) {
  CudaPhase last = options.compileTo;
  if (last < CudaPhase::Fused)
    return;
  MoESetCudaTargetOptions target;
  target.chip = options.chip;
  pm.addPass(createMoESetCudaTarget(target));
  pm.addPass(createMoEDecompose());
  pm.addPass(createCanonicalizerPass());
  if (last < CudaPhase::Loops)
    return;

  pm.addPass(createConvertMoEToGpu());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  // No canonicalizer before the nests are launches: it merges nested
  // scf.parallel loops and folds single-iteration ones into new ops
  // without the mapping attributes, which would leave them on the host.
  pm.addPass(createCSEPass());
  if (last < CudaPhase::Gpu)
    return;

  pm.addNestedPass<func::FuncOp>(createConvertParallelLoopToGpuPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createGpuLaunchSinkIndexComputationsPass());
  pm.addPass(createMoENameGpuKernels());
  pm.addPass(createGpuKernelOutliningPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (last < CudaPhase::NVVM)
    return;

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
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  kernels.addPass(createReconcileUnrealizedCastsPass());
  if (last < CudaPhase::PTX)
    return;

  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = "isa";
  binary.toolkitPath = options.cudaToolkit;
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

void mlir::moe::registerMoECudaPipeline() {
  PassPipelineRegistration<CudaPipelineOptions>(
      "moe-cuda-pipeline",
      "Lower moe IR to PTX for an NVIDIA GPU: the phases moe, fused, loops, "
      "gpu, nvvm and ptx (docs/Targets.md)",
      [](OpPassManager &pm, const CudaPipelineOptions &options) {
        buildCudaPipeline(pm, options);
      });
}
