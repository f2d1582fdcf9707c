//===- moe-compile.cpp - compile moe IR into a loadable artifact ----------===//
//
//   moe-compile MODEL --target=cpu -o OUT.so [--cpu=native|x86-64|...]
//   moe-compile MODEL --target=cuda -o OUT.so [--gpu-chip=sm_90a|sm_80|...]
//               [--weights=FILE.safetensors]... [--compile-to=PHASE]
//
// MODEL is a .mlir file, an .onnx file (docs/Importing.md; its weights are
// written to OUT.weights.safetensors), a Hugging Face checkpoint directory
// or a GGUF file (its weights are bound from the file itself).
//
// Writes a shared object with a C entry point per public function and a
// metadata record (docs/Artifact.md); `--compile-to` prints the IR of one
// phase instead (moe, fused, linalg, kernels, bufferized, loops, llvm,
// llvm-ir, asm). The work is compiler/Driver.h's; this file parses flags.
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/ObjectEmission.h"
#include "compiler/Driver.h"
#include "runtime/support/Version.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::moe;
namespace cl = llvm::cl;

static cl::OptionCategory category("moe-compile options");
static cl::opt<std::string>
    inputFile(cl::Positional, cl::Required,
              cl::desc("<model: a .mlir file, an .onnx file, a Hugging "
                       "Face checkpoint directory or a .gguf file>"),
              cl::cat(category));
static cl::opt<std::string>
    outputFile("o",
               cl::desc("Output: the artifact (.so), or the printed IR "
                        "with --compile-to (default: stdout)"),
               cl::value_desc("path"), cl::cat(category));
static cl::opt<std::string> targetName(
    "target",
    cl::desc("Code generation target: cpu (the host, or --cpu) or cuda (an "
             "NVIDIA GPU, --gpu-chip)"),
    cl::init("cpu"), cl::cat(category));
static cl::opt<std::string>
    gpuChip("gpu-chip",
            cl::desc("With --target=cuda, the GPU: sm_80, sm_86, sm_89, sm_90, "
                     "sm_90a, sm_100, sm_100a or sm_120 (default sm_90a)"),
            cl::init("sm_90a"), cl::cat(category));
static cl::opt<bool> gpuDeterministic(
    "gpu-deterministic",
    cl::desc("With --target=cuda, the same result bits on every run: the "
             "experts' down projection stays apart from the combine, which "
             "sums each token's rows in slot order. By default the down "
             "GEMM adds its products to the tokens' rows with f32 atomic "
             "adds (fewer bytes moved), whose order varies from run to run"),
    cl::init(false), cl::cat(category));
static cl::opt<std::string>
    tritonCache("emit-triton-cache",
                cl::desc("With --target=cuda, also write each kernel into this "
                         "directory as Triton's cache stores a compiled kernel "
                         "(KERNEL/KERNEL.json, .ptx, .cubin; docs/Targets.md)"),
                cl::value_desc("dir"), cl::cat(category));
static cl::opt<std::string> cudaToolkit(
    "cuda-toolkit",
    cl::desc("With --target=cuda, the CUDA toolkit whose libdevice and "
             "ptxas compile the kernels (default " MOEC_CUDA_TOOLKIT ")"),
    cl::init(MOEC_CUDA_TOOLKIT), cl::cat(category));
static cl::opt<std::string>
    cpuName("cpu",
            cl::desc("CPU to generate code for: native (the host, with all "
                     "its ISA extensions, the default), x86-64 (any x86-64), "
                     "x86-64-v2/v3/v4, or an LLVM CPU name"),
            cl::init("native"), cl::cat(category));
static cl::opt<int64_t> l1dCacheBytes(
    "l1d-cache-bytes",
    cl::desc("The target's per-core L1 data cache in bytes, instead of the "
             "host's (native) or the table's (a named CPU); the kernels' k "
             "chunks follow from it (docs/Targets.md)"),
    cl::init(0), cl::cat(category));
static cl::opt<int64_t> l2CacheBytes(
    "l2-cache-bytes",
    cl::desc("The target's per-core L2 in bytes, instead of the host's or "
             "the table's; the kernels' weight tiles are half of it"),
    cl::init(0), cl::cat(category));
static cl::opt<std::string> compileTo(
    "compile-to",
    cl::desc("Stop after a phase and print its IR: moe, fused, linalg, "
             "kernels, bufferized, loops, llvm (MLIR; moe-opt "
             "--moe-cpu-pipeline=\"compile-to=PHASE ...\" prints the same), "
             "llvm-ir (LLVM IR before optimization), asm (optimized "
             "assembly); with --target=cuda: moe, fused, loops, gpu, nvvm, "
             "ptx, llvm (moe-opt --moe-cuda-pipeline's), llvm-ir, asm"),
    cl::value_desc("phase"), cl::cat(category));
static cl::list<std::string>
    weightFiles("weights",
                cl::desc("A .safetensors file the artifact takes its weights "
                         "from by default (repeatable; checked against the "
                         "model's weights and recorded as an absolute "
                         "path)"),
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
    cl::desc(
        "Take the GEMM weights as panels that the runtime packs once, "
        "when first used (moe-pack-weights), for the faster GEMM "
        "kernel; with --int8-dot also q8_0, q4_0, q4_1, q5_0, q5_1, mxfp4, "
        "u8z, u4z, q4_k, q5_k, q6_k, q3_k, q2_k, iq4_nl and iq4_xs expert "
        "weights, as int8 panels of the same bytes. On by default; "
        "--pack-weights=false keeps every weight in its checkpoint layout."),
    cl::init(true), cl::cat(category));

static cl::opt<bool> recordRouting(
    "record-routing",
    cl::desc("Let every layer report the experts it selects, so that "
             "moe-run --record-routing can count them (one call per layer "
             "call, which returns at once while nothing records). On by "
             "default; the "
             "cuda target does not record yet."),
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
static cl::opt<bool> int8Dot(
    "int8-dot",
    cl::desc("Multiply block-quantized expert weights (!moe.quant: GGUF's "
             "q8_0, q4_0, q4_1, q5_0, q5_1, K-quants, iq4_nl, iq4_xs and "
             "mxfp4, the iq2 and iq3 i-quants, QMoE's blocks; iq1_s, iq1_m and "
             "fp8_e4m3 "
             "keep the f32 kernel) with AVX512_VNNI int8 dot products "
             "(vpdpbusd) on activations quantized to int8 as they are read: "
             "one f32 scale per 32 elements, rounded to nearest even. This "
             "rounds the rows each such GEMM reads, a relative error of the "
             "order of 1e-2 in its outputs (moe-run --verify then allows "
             "3e-2). Other weights, and GEMMs whose K is not a multiple of "
             "64, keep the f32 path. Needs a CPU with avx512vnni."),
    cl::cat(category));
static cl::opt<int64_t> int8PanelRows(
    "int8-panel-rows",
    cl::desc("With --int8-dot: the fewest rows (tokens routed to an expert, "
             "per work item) for which a GEMM repacks the expert's weights "
             "into panels for the int8 panel kernel; items with fewer run "
             "the row kernel. 0 (the default) takes the cost model's count "
             "for each format (docs/Targets.md); a large count keeps every "
             "item on the row kernel. Weights packed into int8 panels when "
             "bound (the dtypes --pack-weights names) run every item on the "
             "panel kernel instead."),
    cl::init(0), cl::cat(category));
static cl::opt<bool> cpuKernels(
    "cpu-kernels",
    cl::desc("Run the GEMMs on the CPU's register-blocked kernels "
             "(moe-cpu-select-kernels). On by default; --cpu-kernels=false "
             "lowers them as target-neutral linalg loops: correct, slow, "
             "for checking the kernels against."),
    cl::init(true), cl::cat(category));
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

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::SetVersionPrinter([](llvm::raw_ostream &os) { os << MOEC_VERSION_TEXT; });
  cl::ParseCommandLineOptions(
      argc, argv,
      "moe-compile: compile an MoE model (.mlir, .onnx, a Hugging Face "
      "checkpoint directory, or a .gguf file) into a shared object that the "
      "moert runtime loads.\n\n"
      "  moe-compile model.mlir -o model.so [--weights=model.safetensors]\n"
      "  moe-compile checkpoint/ -o model.so\n"
      "  moe-compile model.gguf -o model.so   # F32/F16/BF16 tensors\n"
      "  moe-compile model.onnx -o model.so   # + model.weights.safetensors\n"
      "  moe-compile model.mlir --compile-to=linalg\n");

  auto fail = [](const llvm::Twine &message) {
    llvm::errs() << "moe-compile: error: " << message << "\n";
    return 1;
  };
  CompileOptions options;
  options.input = inputFile;
  options.output = outputFile;
  options.target = targetName;
  if (compileTo == "llvm-ir") {
    options.llvmIR = true;
  } else if (compileTo == "asm") {
    options.assembly = true;
  } else if (!compileTo.empty() && targetName == "cuda") {
    options.cudaStopAfter = parseCudaPhase(compileTo);
    if (!options.cudaStopAfter)
      return fail("unknown phase '" + compileTo +
                  "' for --compile-to with --target=cuda (moe, fused, "
                  "loops, gpu, nvvm, ptx, llvm, llvm-ir, asm)");
  } else if (!compileTo.empty()) {
    options.stopAfter = parsePhase(compileTo);
    if (!options.stopAfter)
      return fail("unknown phase '" + compileTo +
                  "' for --compile-to (moe, fused, linalg, kernels, "
                  "bufferized, loops, llvm, llvm-ir, asm)");
  }
  options.gpuChip = gpuChip;
  options.gpuDeterministic = gpuDeterministic;
  options.cudaToolkit = cudaToolkit;
  options.tritonCacheDir = tritonCache;
  for (llvm::StringRef f : llvm::split(llvm::StringRef(fuse), ',')) {
    bool all = f == "all";
    options.fuseGateUp |= all || f == "gate-up";
    options.fuseDispatch |= all || f == "dispatch";
    options.fuseCombine |= all || f == "combine";
    if (f != "gate-up" && f != "dispatch" && f != "combine" && !all &&
        f != "none")
      return fail("unknown fusion '" + f.str() +
                  "' for --fuse (none, gate-up, dispatch, combine, all)");
  }
  options.cpu = cpuName;
  options.l1dCacheBytes = l1dCacheBytes;
  options.l2CacheBytes = l2CacheBytes;
  options.packWeights = packWeights;
  options.recordRouting = recordRouting;
  options.panelSlices = panelSlices;
  options.bf16Dot = bf16Dot;
  options.int8Dot = int8Dot;
  options.int8PanelRows = int8PanelRows;
  options.kernels = cpuKernels;
  options.weights.assign(weightFiles.begin(), weightFiles.end());
  options.linker = linker;
  options.verbose = verbose;
  return compileModel(options);
}
