//===- Driver.cpp - the compile driver: import, lower, emit, link ---------===//
#include "compiler/Driver.h"
#include "codegen/cpu/CpuTarget.h"
#include "codegen/cpu/ObjectEmission.h"
#include "codegen/cuda/CudaTarget.h"
#include "codegen/cuda/GpuRuntimeCalls.h"
#include "codegen/cuda/TritonCache.h"
#include "codegen/linalg/Passes.h"
#include "compiler/ArtifactMetadata.h"
#include "compiler/WeightCheck.h"
#include "dialect/MoEDialect.h"
#include "importers/hf/Checkpoint.h"
#include "importers/hf/HFImporter.h"
#include "importers/onnx/OnnxImporter.h"
#include "runtime/abi/ArtifactAbi.h"
#include "runtime/support/Safetensors.h"

#include "mlir/Dialect/DLTI/DLTI.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

using namespace mlir;
using namespace mlir::moe;
namespace json = ::moe::json;

void mlir::moe::setPipelineOptions(const CompileOptions &options,
                                   CpuPipelineOptions &pipeline) {
  pipeline.cpu = options.cpu;
  pipeline.l1dCacheBytes = options.l1dCacheBytes;
  pipeline.l2CacheBytes = options.l2CacheBytes;
  pipeline.fuseGateUp = options.fuseGateUp;
  pipeline.fuseDispatch = options.fuseDispatch;
  pipeline.fuseCombine = options.fuseCombine;
  pipeline.packWeights = options.packWeights;
  pipeline.panelSlices = options.panelSlices;
  pipeline.bf16Dot = options.bf16Dot;
  pipeline.int8Dot = options.int8Dot;
  pipeline.int8PanelRows = options.int8PanelRows;
  pipeline.kernels = options.kernels;
  pipeline.recordRouting = options.recordRouting;
  if (options.stopAfter)
    pipeline.compileTo = *options.stopAfter;
}

namespace {

/// Appends the artifact seal (runtime/abi/ArtifactAbi.h) to the linked
/// shared object at `path`; returns "" or why not.
std::string sealArtifact(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return "cannot read the linked artifact '" + path +
           "': " + buffer.getError().message();
  StringRef bytes = (*buffer)->getBuffer();
  std::string seal = ::moe::abi::artifactSeal(
      reinterpret_cast<const unsigned char *>(bytes.data()), bytes.size());
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_Append);
  if (ec)
    return "cannot write the seal of '" + path + "': " + ec.message();
  os << seal;
  os.close();
  if (os.has_error()) {
    std::string why = os.error().message();
    os.clear_error();
    return "cannot write the seal of '" + path + "': " + why;
  }
  return "";
}

class Driver {
public:
  explicit Driver(const CompileOptions &o) : o(o) {}
  int run();

private:
  int fail(const Twine &message) {
    llvm::errs() << o.toolName << ": error: " << message << "\n";
    return 1;
  }
  int writeOutput(StringRef text);
  void done(const Twine &what);
  /// The phase after which `module` was printed, when it is not moe-level
  /// IR; null when it is.
  std::optional<std::string> laterPhaseOf(ModuleOp module);

  const CompileOptions &o;
  std::chrono::steady_clock::time_point start =
      std::chrono::steady_clock::now();
};

int Driver::writeOutput(StringRef text) {
  if (o.output.empty() || o.output == "-") {
    llvm::outs() << text;
    return 0;
  }
  std::string error;
  auto out = openOutputFile(o.output, &error);
  if (!out)
    return fail(error);
  out->os() << text;
  out->keep();
  return 0;
}

void Driver::done(const Twine &what) {
  if (!o.verbose)
    return;
  auto now = std::chrono::steady_clock::now();
  double ms = std::chrono::duration<double, std::milli>(now - start).count();
  llvm::errs() << o.toolName << ": " << what << " (" << llvm::format("%.1f", ms)
               << " ms)\n";
  start = now;
}

std::string printModule(ModuleOp module) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module.print(os);
  os << "\n"; // as moe-opt prints it
  return text;
}

std::optional<std::string> Driver::laterPhaseOf(ModuleOp module) {
  // The most lowered op decides.
  int rank = 0;
  auto note = [&](int r) { rank = std::max(rank, r); };
  if (module->hasAttr(DLTIDialect::kTargetSystemDescAttrName))
    note(1);
  module.walk([&](Operation *op) {
    StringRef ns = op->getDialect() ? op->getDialect()->getNamespace() : "";
    if (ns == "llvm")
      note(5);
    else if (ns == "vector" || ns == "x86vector" || ns == "memref")
      note(3);
    else if (ns == "scf" || (ns == "linalg" && !isa<linalg::UnPackOp>(op)))
      note(2); // the fused phase has only the packed weights' unpacks
    if (op->hasAttr(kKernelAttrName))
      note(1);
    if (auto fn = dyn_cast<func::FuncOp>(op))
      for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
        if (fn.getArgAttr(i, kArgPackedPanelAttr) ||
            fn.getArgAttr(i, kArgInt8PanelsAttr))
          note(1);
        if (isa<BaseMemRefType>(fn.getArgumentTypes()[i]))
          note(4);
      }
  });
  static const char *const names[] = {nullptr,   "fused",      "linalg",
                                      "kernels", "bufferized", "llvm"};
  if (rank == 0)
    return std::nullopt;
  return std::string(names[rank]);
}

int Driver::run() {
  if (o.target != "cpu" && o.target != "cuda")
    return fail("unknown target '" + o.target + "' (cpu, cuda)");
  bool cuda = o.target == "cuda";
  if (!o.tritonCacheDir.empty() && !cuda)
    return fail("--emit-triton-cache writes GPU kernels: it needs "
                "--target=cuda");
  if (cuda && (o.fuseGateUp || o.fuseDispatch || o.fuseCombine || o.bf16Dot ||
               o.int8Dot))
    return fail("--fuse, --bf16-dot and --int8-dot apply to --target=cpu; the "
                "CUDA pipeline fuses wherever its kernels take the fused "
                "forms (docs/Targets.md)");
  bool printing =
      (cuda ? o.cudaStopAfter.has_value() : o.stopAfter.has_value()) ||
      o.llvmIR || o.assembly;
  if (!printing && o.output.empty())
    return fail("no output: give -o ARTIFACT.so (or --compile-to=PHASE)");
  if (printing && !o.tritonCacheDir.empty())
    return fail("--emit-triton-cache comes with an artifact (-o), not with "
                "--compile-to");
  // Where the output goes must exist before anything is compiled.
  if (!o.output.empty() && o.output != "-") {
    StringRef dir = llvm::sys::path::parent_path(o.output);
    if (!dir.empty() && !llvm::sys::fs::is_directory(dir))
      return fail("cannot write '" + o.output + "': the directory '" + dir +
                  "' does not exist");
  }
  // The target, checked before the model is read.
  CudaTargetDescription gpu;
  if (cuda)
    if (std::string msg = describeCuda(o.gpuChip, gpu); !msg.empty())
      return fail("--gpu-chip: " + msg);
  std::vector<TritonKernel> tritonKernels;
  std::map<std::string, std::string> tritonPtx;
  CpuTargetDescription description;
  if (std::string msg = describeCpu(o.cpu, description); !msg.empty())
    return fail(msg);
  if (o.l1dCacheBytes < 0 || o.l2CacheBytes < 0)
    return fail("--l1d-cache-bytes and --l2-cache-bytes must be positive (or "
                "0: the CPU's)");
  if (o.bf16Dot && !description.hasFeature("avx512bf16"))
    return fail("--bf16-dot needs a target CPU with avx512bf16 "
                "(AVX512_BF16); '" +
                description.cpu + "' has none");
  if (o.int8PanelRows < 0 || (o.int8PanelRows > 0 && !o.int8Dot))
    return fail("--int8-panel-rows takes a positive row count (or 0: the "
                "cost model's) and applies with --int8-dot");
  if (o.int8Dot && !description.hasFeature("avx512vnni"))
    return fail("--int8-dot needs a target CPU with avx512vnni "
                "(AVX512_VNNI); '" +
                description.cpu + "' has none");
  if (o.panelSlices != 0) {
    int64_t vectors = panelWidthFor(description) / description.lanes();
    if (o.panelSlices < 1 || vectors % o.panelSlices)
      return fail("--panel-slices must divide the " + Twine(vectors) +
                  " vectors of a panel for '" + description.cpu + "', not " +
                  Twine(o.panelSlices));
  }
  for (const std::string &w : o.weights)
    if (!llvm::sys::fs::exists(w))
      return fail("weights file '" + w + "' does not exist");

  DialectRegistry registry;
  registry.insert<MoEDialect>();
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  OwningOpRef<ModuleOp> module;
  // Weight files the input itself names (a checkpoint's shards, or the
  // file written for an ONNX model's initializers).
  std::vector<std::string> importedWeights;
  ImportedWeights onnxWeights;
  std::string sidecar;
  if (llvm::sys::fs::is_directory(o.input)) {
    if (!::moe::hf::isCheckpointDir(o.input))
      return fail("'" + o.input +
                  "' is a directory without config.json; expected a Hugging "
                  "Face checkpoint directory, a .gguf file, an .onnx file or "
                  "a .mlir file");
    std::vector<std::string> notes;
    module = importHuggingFace(o.input, &context, importedWeights, &notes);
    if (!module)
      return 1; // the importer reported what and where
    if (o.verbose)
      for (const std::string &note : notes)
        llvm::errs() << o.toolName << ": " << note << "\n";
  } else if (::moe::hf::isGgufFile(o.input)) {
    module = importGguf(o.input, &context, importedWeights);
    if (!module)
      return 1; // the importer reported what and where
  } else if (StringRef(o.input).ends_with(".onnx")) {
    module = importOnnx(o.input, &context, onnxWeights);
    if (!module)
      return 1; // the importer named the node
    // The initializers go into a safetensors file next to the artifact.
    if (!printing) {
      SmallString<256> side(o.output);
      if (llvm::sys::path::extension(side) == ".so")
        llvm::sys::path::replace_extension(side, "");
      side += ".weights.safetensors";
      if (std::error_code ec = llvm::sys::fs::make_absolute(side))
        return fail("cannot resolve '" + side + "': " + ec.message());
      sidecar = side.str().str();
    }
  } else {
    std::string error;
    auto file = openInputFile(o.input, &error);
    if (!file)
      return fail(error);
    sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
    module = parseSourceFile<ModuleOp>(sourceMgr, &context);
    if (!module)
      return 1; // the parser reported where
    if (std::optional<std::string> phase = laterPhaseOf(*module))
      return fail("'" + o.input + "' holds IR printed after the '" + *phase +
                  "' phase (--compile-to=" + *phase +
                  "); compile the model itself, or IR of the 'moe' phase "
                  "(--compile-to=moe)");
  }
  done("read " + o.input);
  if (cuda ? o.cudaStopAfter == CudaPhase::Moe : o.stopAfter == CpuPhase::Moe)
    return writeOutput(printModule(*module));

  // What the runtime needs to know, read before lowering.
  FailureOr<json::Value> metadata = collectArtifactMetadata(*module);
  if (failed(metadata))
    return 1;
  // Functions that compile to the same code (identical layers) share one
  // kernel when an artifact is made; printed IR keeps them all, as moe-opt
  // prints it.
  std::map<std::string, std::string> shared;
  if (!printing) {
    shared = shareIdenticalFunctions(*module);
    if (o.verbose && !shared.empty()) {
      size_t kept = entryPointNames(*module).size();
      llvm::errs() << o.toolName << ": " << shared.size() << " of "
                   << shared.size() + kept
                   << " functions reuse the code of an identical one; " << kept
                   << " compiled\n";
    }
  }
  std::vector<std::string> entryPoints = entryPointNames(*module);

  // The files the weights come from: --weights replaces those a checkpoint
  // names; an ONNX model's initializers always come from its own file.
  std::vector<std::string> recorded(o.weights.begin(), o.weights.end());
  if (recorded.empty())
    recorded = importedWeights;
  if (!o.weights.empty()) {
    std::vector<std::string> initializers;
    for (const ImportedWeights::Entry &e : onnxWeights.tensors)
      initializers.push_back(e.name);
    if (std::string msg = checkWeightFiles(*metadata, o.weights, initializers);
        !msg.empty())
      return fail(msg);
  }
  if (!sidecar.empty())
    recorded.push_back(sidecar);

  if (cuda) {
    // The GPU kernels take every weight as it is bound: nothing is packed.
    recordSharedEntryPoints(*metadata, shared);
    CudaPipelineOptions pipeline;
    pipeline.chip = o.gpuChip;
    pipeline.fuseCombine = !o.gpuDeterministic;
    pipeline.cudaToolkit = o.cudaToolkit;
    CudaPhase last = o.cudaStopAfter.value_or(CudaPhase::LLVM);
    // For a Triton cache, the kernels are serialized as PTX too, from a
    // copy of the nvvm phase.
    CudaPhase first =
        o.tritonCacheDir.empty() ? CudaPhase::Moe : CudaPhase::NVVM;
    if (first != CudaPhase::Moe) {
      pipeline.compileTo = first;
      PassManager pm(&context);
      buildCudaPipeline(pm, pipeline);
      if (failed(pm.run(*module)))
        return 1;
      if (!collectTritonKernels(*module, tritonKernels))
        return 1;
      OwningOpRef<ModuleOp> copy(module->clone());
      PassManager ptxPm(&context);
      buildBinaryPhase(ptxPm, pipeline, "isa");
      if (failed(ptxPm.run(*copy)))
        return 1;
      tritonPtx = gpuBinaryObjects(*copy);
    }
    pipeline.compileTo = last;
    PassManager pm(&context);
    buildCudaPipeline(pm, pipeline, first);
    if (failed(pm.run(*module)))
      return 1;
    done("lowered to " + cudaPhaseName(last));
    if (o.cudaStopAfter)
      return writeOutput(printModule(*module));
  } else {
    // The fused phase decides which weights are packed, which the metadata
    // records; then the rest of the lowering.
    CpuPipelineOptions pipeline;
    setPipelineOptions(o, pipeline);
    CpuPhase last = o.stopAfter.value_or(CpuPhase::LLVM);
    PassManager fusedPm(&context);
    buildCpuPipeline(fusedPm, pipeline, std::min(last, CpuPhase::Fused));
    if (failed(fusedPm.run(*module)))
      return 1;
    recordPackedWeights(*module, *metadata);
    recordExpertSlots(*module, *metadata);
    recordSharedEntryPoints(*metadata, shared);
    PassManager pm(&context);
    buildCpuPipeline(pm, pipeline, last, CpuPhase::Fused);
    if (failed(pm.run(*module)))
      return 1;
    if (!o.stopAfter) {
      recordRoutingSites(*module, *metadata, shared);
      recordExpertParallel(*module, *metadata, shared);
    }
    done("lowered to " + phaseName(last));
    if (o.stopAfter)
      return writeOutput(printModule(*module));
  }

  // Only the LLVM dialect may remain (and, for a GPU, the cubins and their
  // launches, which the translation turns into runtime calls): a partial
  // conversion would silently drop work otherwise.
  Operation *stray = nullptr;
  module->walk([&](Operation *op) {
    if (!stray && !isa<ModuleOp>(op) &&
        !isa<LLVM::LLVMDialect>(op->getDialect()) &&
        !(cuda && isa<gpu::BinaryOp, gpu::LaunchFuncOp>(op)))
      stray = op;
  });
  if (stray) {
    stray->emitError("'") << stray->getName()
                          << "' was not lowered to the LLVM dialect";
    return 1;
  }

  // The host code of a GPU artifact only sizes buffers and launches
  // kernels: it is compiled for any x86-64.
  CpuTarget target;
  if (std::string msg = createCpuTarget(cuda ? "x86-64" : o.cpu, target);
      !msg.empty())
    return fail(msg);
  json::Value tgt = json::Value::object();
  json::Value required = json::Value::array();
  if (cuda) {
    tgt.set("triple", json::Value::string("nvptx64-nvidia-cuda"));
    tgt.set("cpu", json::Value::string(gpu.chip));
    tgt.set("host_triple", json::Value::string(target.triple));
  } else {
    tgt.set("triple", json::Value::string(target.triple));
    tgt.set("cpu", json::Value::string(target.cpu));
    for (const std::string &f : target.required)
      required.push(json::Value::string(f));
  }
  tgt.set("required_features", std::move(required));
  metadata->set("target", std::move(tgt));
  // How the generated arithmetic departs from f32 (moe-run --verify's
  // default tolerance follows it).
  json::Value numerics = json::Value::object();
  numerics.set("bf16_dot", json::Value::boolean(o.bf16Dot));
  numerics.set("int8_dot", json::Value::boolean(o.int8Dot));
  metadata->set("numerics", std::move(numerics));
  json::Value weights = json::Value::array();
  for (const std::string &w : recorded) {
    SmallString<256> abs(w);
    if (std::error_code ec = llvm::sys::fs::make_absolute(abs))
      return fail("cannot resolve '" + w + "': " + ec.message());
    if (abs != StringRef(sidecar) && !llvm::sys::fs::exists(abs))
      return fail("weights file '" + w + "' does not exist");
    weights.push(json::Value::string(abs.str().str()));
  }
  metadata->set("weights", std::move(weights));

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule = translateForArtifact(
      *module, llvmContext, entryPoints, json::write(*metadata), target);
  if (!llvmModule)
    return 1;
  if (cuda)
    if (std::string msg = bindGpuRuntimeCalls(*llvmModule); !msg.empty())
      return fail(msg);
  done("translated to LLVM IR");
  if (o.llvmIR) {
    std::string text;
    llvm::raw_string_ostream os(text);
    llvmModule->print(os, nullptr);
    return writeOutput(text);
  }
  optimizeModule(*llvmModule, target);
  done("optimized (O3, cpu " + target.cpu + ")");
  std::string code;
  if (std::string msg = emitMachineCode(*llvmModule, target, o.assembly, code);
      !msg.empty())
    return fail(msg);
  done(o.assembly ? "emitted assembly" : "emitted object code");
  if (o.assembly)
    return writeOutput(code);

  // Object to a temporary, linked to a temporary next to the output, then
  // renamed: no partial artifact on failure.
  SmallString<128> objPath;
  int fd;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("moec", "o", fd, objPath))
    return fail("cannot create a temporary object file: " + ec.message());
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << code;
  }
  std::string tmpOut = o.output + ".tmp-moec";
  std::string msg = linkSharedObject(o.linker, objPath.str().str(), tmpOut);
  llvm::sys::fs::remove(objPath);
  if (!msg.empty()) {
    llvm::sys::fs::remove(tmpOut);
    return fail(msg);
  }
  if (std::string err = sealArtifact(tmpOut); !err.empty()) {
    llvm::sys::fs::remove(tmpOut);
    return fail(err);
  }
  if (!sidecar.empty()) {
    std::vector<::moe::safetensors::TensorData> tensors;
    for (ImportedWeights::Entry &e : onnxWeights.tensors)
      tensors.push_back({e.name, e.dtype, e.shape, std::move(e.bytes)});
    if (std::string err = ::moe::safetensors::write(sidecar, tensors);
        !err.empty()) {
      llvm::sys::fs::remove(tmpOut);
      return fail(err);
    }
  }
  if (!o.tritonCacheDir.empty()) {
    if (std::string err =
            writeTritonCache(o.tritonCacheDir, gpu, tritonKernels, tritonPtx,
                             gpuBinaryObjects(*module));
        !err.empty()) {
      llvm::sys::fs::remove(tmpOut);
      return fail("--emit-triton-cache: " + err);
    }
    done("wrote " + Twine(tritonKernels.size()) + " kernels into " +
         o.tritonCacheDir);
  }
  if (std::error_code ec = llvm::sys::fs::rename(tmpOut, o.output)) {
    llvm::sys::fs::remove(tmpOut);
    return fail("cannot write '" + o.output + "': " + ec.message());
  }
  done("linked " + o.output);
  return 0;
}

} // namespace

int mlir::moe::compileModel(const CompileOptions &options) {
  return Driver(options).run();
}
