//===- moe-compile.cpp - compile moe IR into a loadable artifact ----------===//
//
//   moe-compile MODEL --target=cpu -o OUT.so [--cpu=native|x86-64|...]
//               [--weights=FILE.safetensors]... [--compile-to=PHASE]
//
// MODEL is a .mlir file, an .onnx file (docs/Importing.md; its weights are
// written to OUT.weights.safetensors) or a Hugging Face checkpoint
// directory.
//
// Writes a shared object with a C entry point per public function and a
// metadata record (docs/Artifact.md); `--compile-to` prints the IR of one
// phase instead (moe, linalg, bufferized, loops, llvm, llvm-ir, asm).
//
//===----------------------------------------------------------------------===//
#include "codegen/ArtifactMetadata.h"
#include "codegen/CpuPipeline.h"
#include "codegen/ObjectEmission.h"
#include "codegen/PanelKernel.h"
#include "codegen/Passes.h"
#include "dialect/MoEDialect.h"
#include "importers/hf/Checkpoint.h"
#include "importers/hf/HFImporter.h"
#include "importers/onnx/OnnxImporter.h"
#include "passes/Passes.h"
#include "runtime/support/Safetensors.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

using namespace mlir;
using namespace mlir::moe;
namespace json = ::moe::json;
namespace cl = llvm::cl;

static cl::OptionCategory category("moe-compile options");
static cl::opt<std::string>
    inputFile(cl::Positional, cl::Required,
              cl::desc("<model: a .mlir file, an .onnx file or a Hugging "
                       "Face checkpoint directory>"),
              cl::cat(category));
static cl::opt<std::string>
    outputFile("o",
               cl::desc("Output: the artifact (.so), or the printed IR "
                        "with --compile-to (default: stdout)"),
               cl::value_desc("path"), cl::cat(category));
static cl::opt<std::string> targetName("target",
                                       cl::desc("Code generation target (cpu)"),
                                       cl::init("cpu"), cl::cat(category));
static cl::opt<std::string>
    cpuName("cpu",
            cl::desc("CPU to generate code for: native (the host, with all "
                     "its ISA extensions, the default), x86-64 (any x86-64), "
                     "x86-64-v2/v3/v4, or an LLVM CPU name"),
            cl::init("native"), cl::cat(category));
static cl::opt<std::string> compileTo(
    "compile-to",
    cl::desc("Stop after a phase and print its IR: moe, fused, linalg, "
             "bufferized, loops, llvm (MLIR), llvm-ir (LLVM IR before "
             "optimization), asm (optimized assembly)"),
    cl::value_desc("phase"), cl::cat(category));
static cl::list<std::string>
    weightFiles("weights",
                cl::desc("A .safetensors file the artifact takes its weights "
                         "from by default (repeatable; recorded as an "
                         "absolute path)"),
                cl::value_desc("file"), cl::cat(category));
static cl::opt<std::string> linker("linker",
                                   cl::desc("The linker for the shared object"),
                                   cl::init(defaultLinker()),
                                   cl::cat(category));
static cl::opt<bool> verbose("v",
                             cl::desc("Print each phase and its time, and "
                                      "how checkpoint weights are converted"),
                             cl::cat(category));
static cl::alias verboseLong("verbose", cl::desc("Alias for -v"),
                             cl::aliasopt(verbose), cl::cat(category));
static cl::opt<bool> packWeights(
    "pack-weights",
    cl::desc("Take the GEMM weights as panels that the runtime packs once, "
             "when first used (moe-pack-weights), for the faster GEMM "
             "kernel. On by default; --pack-weights=false keeps every weight "
             "in its checkpoint layout."),
    cl::init(true), cl::cat(category));

static cl::opt<int64_t> panelSlices(
    "panel-slices",
    cl::desc("Pack each weight's output columns in this many slices stored "
             "one after another, and have the GEMM kernel read one vector "
             "from each (moe-pack-weights slices): the weights then stream "
             "from that many places in memory at once. 0 (the default) "
             "picks a slice per vector of a panel with AVX-512 (4) and AVX2 "
             "(2), and 1 (whole panels) with SSE; it must divide the vectors "
             "of a panel (4 with AVX-512, 2 with AVX2 and SSE). A weight "
             "whose output count is not a multiple of the panel width (64 "
             "with AVX-512, 16 with AVX2, 8 with SSE) keeps whole panels."),
    cl::init(0), cl::cat(category));

static cl::opt<bool> bf16Dot(
    "bf16-dot",
    cl::desc("Multiply bf16 weights with AVX512_BF16 dot products (vdpbf16ps) "
             "on bf16-rounded activations: about twice the f32 FMA rate, at "
             "the cost of rounding the rows each such GEMM reads to bf16 "
             "(moe-run --verify then allows 1e-2). Needs a CPU with "
             "avx512bf16."),
    cl::cat(category));
static cl::opt<std::string> fuse(
    "fuse",
    cl::desc("Fusion passes to run: none (the default), gate-up "
             "(moe-fuse-gate-up: gate and up as one GEMM with the activation "
             "in its epilogue), dispatch (moe-fuse-dispatch: the token gather "
             "in the GEMMs' row loads), combine (moe-fuse-combine: routing "
             "weight and scatter-add in the down GEMM's epilogue), a "
             "comma-separated list, or all. Results are the same up to the "
             "order of f32 sums."),
    cl::init("none"), cl::value_desc("list"), cl::cat(category));

namespace {

int fail(const llvm::Twine &message) {
  llvm::errs() << "moe-compile: error: " << message << "\n";
  return 1;
}

/// Writes `text` to the output atomically: a temporary next to it, renamed
/// on success, so a failure never leaves a partial file.
int writeOutput(llvm::StringRef text) {
  if (outputFile.empty() || outputFile == "-") {
    llvm::outs() << text;
    return 0;
  }
  std::string error;
  auto out = openOutputFile(outputFile, &error);
  if (!out)
    return fail(error);
  out->os() << text;
  out->keep();
  return 0;
}

std::string printModule(ModuleOp module) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module.print(os);
  return text;
}

struct PhaseTimer {
  std::chrono::steady_clock::time_point start =
      std::chrono::steady_clock::now();
  void done(llvm::StringRef what) {
    if (!verbose)
      return;
    auto now = std::chrono::steady_clock::now();
    double ms = std::chrono::duration<double, std::milli>(now - start).count();
    llvm::errs() << "moe-compile: " << what << " (" << llvm::format("%.1f", ms)
                 << " ms)\n";
    start = now;
  }
};

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "moe-compile: compile an MoE model (.mlir, .onnx, or a Hugging Face "
      "checkpoint directory) into a shared object that the moert runtime "
      "loads.\n\n"
      "  moe-compile model.mlir -o model.so [--weights=model.safetensors]\n"
      "  moe-compile checkpoint/ -o model.so\n"
      "  moe-compile model.onnx -o model.so   # + model.weights.safetensors\n"
      "  moe-compile model.mlir --compile-to=linalg\n");

  if (targetName != "cpu")
    return fail("unknown target '" + targetName +
                "'; this build supports --target=cpu");
  bool toLLVMIR = compileTo == "llvm-ir", toAsm = compileTo == "asm";
  std::optional<CpuPhase> stopPhase;
  if (!compileTo.empty() && !toLLVMIR && !toAsm) {
    stopPhase = parsePhase(compileTo);
    if (!stopPhase)
      return fail("unknown phase '" + compileTo +
                  "' for --compile-to (moe, fused, linalg, bufferized, loops, "
                  "llvm, llvm-ir, asm)");
  }
  if (compileTo.empty() && outputFile.empty())
    return fail("no output: give -o ARTIFACT.so (or --compile-to=PHASE)");
  bool fuseGateUp = false, fuseDispatch = false, fuseCombine = false;
  for (llvm::StringRef f : llvm::split(llvm::StringRef(fuse), ',')) {
    fuseGateUp |= f == "gate-up" || f == "all";
    fuseDispatch |= f == "dispatch" || f == "all";
    fuseCombine |= f == "combine" || f == "all";
    if (f != "gate-up" && f != "dispatch" && f != "combine" && f != "all" &&
        f != "none")
      return fail("unknown fusion '" + f.str() +
                  "' for --fuse (none, gate-up, dispatch, combine, all)");
  }

  DialectRegistry registry;
  registry.insert<MoEDialect>();
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  PhaseTimer timer;

  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  OwningOpRef<ModuleOp> module;
  // Weight files the input itself names (a checkpoint's shards, or the
  // file moe-compile writes for an ONNX model's initializers).
  std::vector<std::string> importedWeights;
  ImportedWeights onnxWeights;
  std::string sidecar;
  if (llvm::sys::fs::is_directory(inputFile)) {
    if (!::moe::hf::isCheckpointDir(inputFile))
      return fail("'" + inputFile +
                  "' is a directory without config.json; expected a Hugging "
                  "Face checkpoint directory, an .onnx file or a .mlir "
                  "file");
    std::vector<std::string> notes;
    module = importHuggingFace(inputFile, &context, importedWeights, &notes);
    if (!module)
      return 1; // the importer reported what and where
    if (verbose)
      for (const std::string &note : notes)
        llvm::errs() << "moe-compile: " << note << "\n";
  } else if (llvm::StringRef(inputFile).ends_with(".onnx")) {
    module = importOnnx(inputFile, &context, onnxWeights);
    if (!module)
      return 1; // the importer named the node
    // The initializers go into a safetensors file next to the artifact.
    if (compileTo.empty()) {
      llvm::SmallString<256> side(outputFile.getValue());
      if (llvm::sys::path::extension(side) == ".so")
        llvm::sys::path::replace_extension(side, "");
      side += ".weights.safetensors";
      if (std::error_code ec = llvm::sys::fs::make_absolute(side))
        return fail("cannot resolve '" + side + "': " + ec.message());
      sidecar = side.str().str();
      importedWeights.push_back(sidecar);
    }
  } else {
    std::string error;
    auto file = openInputFile(inputFile, &error);
    if (!file)
      return fail(error);
    sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
    module = parseSourceFile<ModuleOp>(sourceMgr, &context);
    if (!module)
      return 1; // the parser reported where
  }
  timer.done("read " + inputFile);
  if (stopPhase == CpuPhase::Moe)
    return writeOutput(printModule(*module));

  // What the runtime needs to know, read before lowering.
  FailureOr<json::Value> metadata = collectArtifactMetadata(*module);
  if (failed(metadata))
    return 1;
  std::vector<std::string> entryPoints = prepareEntryPoints(*module);

  // The target decides the vector width the kernels are blocked for.
  CpuTarget target;
  if (std::string msg = createCpuTarget(cpuName, target); !msg.empty())
    return fail(msg);
  CpuPipelineOptions pipelineOptions;
  pipelineOptions.vectorBits = vectorBitsFor(target.required);
  if (bf16Dot && !llvm::is_contained(target.required, "avx512bf16"))
    return fail("--bf16-dot needs a target CPU with avx512bf16 (AVX512_BF16); "
                "'" +
                target.cpu + "' has none");
  pipelineOptions.bf16Dot = bf16Dot;
  pipelineOptions.fuseGateUp = fuseGateUp;
  pipelineOptions.fuseDispatch = fuseDispatch;
  pipelineOptions.fuseCombine = fuseCombine;
  pipelineOptions.packWeights = packWeights;
  {
    int64_t vectors = panelWidthFor(pipelineOptions.vectorBits) /
                      (pipelineOptions.vectorBits / 32);
    int64_t slices = panelSlices;
    // Slices paid with AVX-512 and AVX2 and cost with SSE, whose slices
    // are one 16-byte vector wide (docs/performance.md).
    if (slices == 0)
      slices = pipelineOptions.vectorBits >= 256 ? vectors : 1;
    if (slices < 1 || vectors % slices)
      return fail("--panel-slices must divide the " + std::to_string(vectors) +
                  " vectors of a panel for '" + target.cpu + "', not " +
                  std::to_string(panelSlices));
    pipelineOptions.panelSlices = slices;
  }

  // The fused phase decides which weights are packed, which the metadata
  // records; then the rest of the lowering.
  CpuPhase last = stopPhase.value_or(CpuPhase::LLVM);
  PassManager fusedPm(&context);
  buildCpuPipeline(fusedPm, std::min(last, CpuPhase::Fused), pipelineOptions);
  if (failed(fusedPm.run(*module)))
    return 1;
  if (!stopPhase || *stopPhase > CpuPhase::Fused)
    recordPackedWeights(*module, *metadata);
  PassManager pm(&context);
  buildCpuPipeline(pm, last, pipelineOptions, CpuPhase::Fused);
  if (failed(pm.run(*module)))
    return 1;
  timer.done("lowered to " +
             phaseName(stopPhase.value_or(CpuPhase::LLVM)).str());
  if (stopPhase)
    return writeOutput(printModule(*module));

  // Only the LLVM dialect may remain: a partial conversion would silently
  // drop work otherwise.
  Operation *stray = nullptr;
  module->walk([&](Operation *op) {
    if (!stray && !isa<ModuleOp>(op) &&
        !isa<LLVM::LLVMDialect>(op->getDialect()))
      stray = op;
  });
  if (stray) {
    stray->emitError("'") << stray->getName()
                          << "' was not lowered to the LLVM dialect";
    return 1;
  }

  json::Value tgt = json::Value::object();
  tgt.set("triple", json::Value::string(target.triple));
  tgt.set("cpu", json::Value::string(target.cpu));
  json::Value required = json::Value::array();
  for (const std::string &f : target.required)
    required.push(json::Value::string(f));
  tgt.set("required_features", std::move(required));
  metadata->set("target", std::move(tgt));
  // How the generated arithmetic departs from f32 (moe-run --verify's
  // default tolerance follows it).
  json::Value numerics = json::Value::object();
  numerics.set("bf16_dot", json::Value::boolean(bf16Dot));
  metadata->set("numerics", std::move(numerics));
  json::Value weights = json::Value::array();
  // --weights replaces the files a checkpoint names.
  std::vector<std::string> recorded(weightFiles.begin(), weightFiles.end());
  if (recorded.empty())
    recorded = importedWeights;
  for (const std::string &w : recorded) {
    llvm::SmallString<256> abs(w);
    if (std::error_code ec = llvm::sys::fs::make_absolute(abs))
      return fail("cannot resolve '" + w + "': " + ec.message());
    if (abs != llvm::StringRef(sidecar) && !llvm::sys::fs::exists(abs))
      return fail("weights file '" + w + "' does not exist");
    weights.push(json::Value::string(abs.str().str()));
  }
  metadata->set("weights", std::move(weights));

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule = translateForArtifact(
      *module, llvmContext, entryPoints, json::write(*metadata), target);
  if (!llvmModule)
    return 1;
  timer.done("translated to LLVM IR");
  if (toLLVMIR) {
    std::string text;
    llvm::raw_string_ostream os(text);
    llvmModule->print(os, nullptr);
    return writeOutput(text);
  }
  optimizeModule(*llvmModule, target);
  timer.done("optimized (O3, cpu " + target.cpu + ")");
  std::string code;
  if (std::string msg = emitMachineCode(*llvmModule, target, toAsm, code);
      !msg.empty())
    return fail(msg);
  timer.done(toAsm ? "emitted assembly" : "emitted object code");
  if (toAsm)
    return writeOutput(code);

  // Object to a temporary, linked to a temporary next to the output, then
  // renamed: no partial artifact on failure.
  llvm::SmallString<128> objPath;
  int fd;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("moec", "o", fd, objPath))
    return fail("cannot create a temporary object file: " + ec.message());
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << code;
  }
  std::string tmpOut = outputFile + ".tmp-moec";
  std::string msg = linkSharedObject(linker, objPath.str().str(), tmpOut);
  llvm::sys::fs::remove(objPath);
  if (!msg.empty()) {
    llvm::sys::fs::remove(tmpOut);
    return fail(msg);
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
  if (std::error_code ec = llvm::sys::fs::rename(tmpOut, outputFile)) {
    llvm::sys::fs::remove(tmpOut);
    return fail("cannot write '" + outputFile + "': " + ec.message());
  }
  timer.done("linked " + outputFile);
  return 0;
}
