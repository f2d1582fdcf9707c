//===- moe-bench.cpp - moec's MoE layers against the machine's limits -----===//
//
//   moe-bench [--shapes qwen3-30b-a3b,olmoe,mixtral-small,gpt-oss-20b]
//   [--tokens 1,8,64,512]
//             [--dtype
//             f32|bf16|q8_0|q4_0|q4_1|q5_0|q5_1|q2_k|q3_k|q4_k|q5_k|q6_k|
//                      iq4_nl|iq4_xs|iq2_xxs|iq2_xs|iq2_s|iq3_xxs|
//                      iq3_s|iq1_s|iq1_m|mxfp4|
//                      u8z|u4z|u2z|
//                      u8z128|u4z128|u2z128|u8z16|u4z16|u2z16|fp8_e4m3]
//             [--int8-dot]
//             [--threads N] [--min-time S]
//             [--csv FILE] [--device cpu|cuda] [--cuda-graphs]
//             [--save-artifacts DIR | --artifacts DIR]
//             [--peak-gflops G] [--bandwidth-gbps B]
//
// Compiles each shape with moe-compile, binds random weights from memory,
// and times the layer on a pool of 16 random inputs rotated between calls
// (so decode does not run on cache-resident experts; 2 above T = 512),
// after warm-up. Prints
// median (min-max) ms, GFLOP/s and its share of the FMA peak measured in the
// same run, and at decode the activated-weight bytes per second against the
// measured DRAM read bandwidth. After timing each token count it checks
// output rows 0 and T - 1 of one input against the float64 reference
// evaluator (relative L2 within 1e-4 with f32 weights, 1e-2 with bf16 ones,
// whose outputs are bf16) and stops with an error if they are off. With
// q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs,
// the iq1 to iq3 i-quants or mxfp4 the experts are random ggml blocks, with
// u8z, u4z, u2z and their blocks of 128 and 16 (QMoE's 8, 4 and 2 bits) or
// fp8_e4m3 (FP8 checkpoints) random blocks of moec's
// (!moe.quant weights), and the router, inputs and outputs f32; the reference
// multiplies the dequantized weights, within 1e-4; the bytes are the blocks'.
// --int8-dot compiles them with moe-compile --int8-dot (AVX512_VNNI dot
// products on activations quantized to int8; fp8_e4m3 stays f32), checked
// within 3e-2. bench/run.sh puts the peers next to it.
//
// --device cuda times layers compiled with --target=cuda on the GPU
// (inputs, output and weights in device memory; each call queued and
// waited for), quoted against the limits the caller measured in the same
// run (--peak-gflops, --bandwidth-gbps; scripts/gpu-check.sh takes them
// from PyTorch there). A GPU machine has no moe-compile: --save-artifacts
// DIR compiles the layers here, --artifacts DIR times them there.
// --cuda-graphs runs the session with CUDA graphs (moert_session_config_t
// cuda_graphs): the warm-up captures one graph per pooled input, the timed
// calls replay them.
//
//===----------------------------------------------------------------------===//
#include "MachineLimits.h"
#include "Verify.h"
#include "runtime/moert/moert.h"
#include "runtime/reference/Reference.h"
#include "runtime/support/DType.h"
#include "runtime/support/Version.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace moe;
using namespace moe::bench;

namespace {

struct Shape {
  const char *name;
  int64_t d, f, E, k;
  bool renormalize;
};

const Shape kShapes[] = {{"qwen3-30b-a3b", 2048, 768, 128, 8, true},
                         {"olmoe", 2048, 1024, 64, 8, false},
                         {"mixtral-small", 1024, 3584, 8, 2, true},
                         {"mixtral", 4096, 14336, 8, 2, true},
                         // DeepSeek-V3's routing is sigmoid with groups and
                         // a correction bias, its experts 256 of 2048 and
                         // one shared; only the routed experts' shape is
                         // timed, with softmax top-8.
                         {"deepseek-v3", 7168, 2048, 256, 8, true},
                         // gpt-oss's experts are SwiGLU with a clamp,
                         // alpha and biases; only the shape is timed.
                         {"gpt-oss-20b", 2880, 2880, 32, 4, true}};

int fail(const std::string &msg) {
  std::fprintf(stderr, "moe-bench: error: %s\n", msg.c_str());
  return 1;
}

std::vector<std::string> split(const std::string &s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos)
      comma = s.size();
    if (comma > start)
      out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

/// xorshift64*: fast, deterministic random normals-ish in [-1, 1).
struct Random {
  uint64_t s;
  float next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    uint64_t v = s * 2685821657736338717ull;
    return static_cast<float>((v >> 40) * (1.0 / (1ull << 24)) * 2.0 - 1.0);
  }
};

/// The layer with hidden states and router of element type `dt` and
/// experts of `experts`.
std::string layerMlir(const Shape &s, const char *dt, const char *experts) {
  char buf[2048];
  std::snprintf(
      buf, sizeof(buf),
      "func.func @layer(%%x: tensor<?x%ldx%s>, %%r: tensor<%ldx%ldx%s> "
      "{moe.name = \"router\"}, %%g: tensor<%ldx%ldx%ldx%s> {moe.name = "
      "\"gate\"}, %%u: tensor<%ldx%ldx%ldx%s> {moe.name = \"up\"}, %%w: "
      "tensor<%ldx%ldx%ldx%s> {moe.name = \"down\"}) -> tensor<?x%ldx%s> {\n"
      "  %%y = moe.layer %%x router_weight(%%r : tensor<%ldx%ldx%s>) "
      "gate(%%g : tensor<%ldx%ldx%ldx%s>) up(%%u : tensor<%ldx%ldx%ldx%s>) "
      "down(%%w : tensor<%ldx%ldx%ldx%s>) routing(#moe.routing<k = %ld, "
      "renormalize = %s>) activation(#moe.activation<swiglu>) : "
      "tensor<?x%ldx%s>\n  return %%y : tensor<?x%ldx%s>\n}\n",
      (long)s.d, dt, (long)s.E, (long)s.d, dt, (long)s.E, (long)s.f, (long)s.d,
      experts, (long)s.E, (long)s.f, (long)s.d, experts, (long)s.E, (long)s.d,
      (long)s.f, experts, (long)s.d, dt, (long)s.E, (long)s.d, dt, (long)s.E,
      (long)s.f, (long)s.d, experts, (long)s.E, (long)s.f, (long)s.d, experts,
      (long)s.E, (long)s.d, (long)s.f, experts, (long)s.k,
      s.renormalize ? "true" : "false", (long)s.d, dt, (long)s.d, dt);
  return buf;
}

/// Distinct experts the top-k of x·Wrᵀ selects over a batch (decode bytes).
int64_t distinctExperts(const Shape &s, const std::vector<float> &router,
                        const float *x, int64_t tokens) {
  std::set<int64_t> hit;
  std::vector<std::pair<float, int64_t>> l(s.E);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t e = 0; e < s.E; ++e) {
      double acc = 0;
      for (int64_t i = 0; i < s.d; ++i)
        acc += double(x[t * s.d + i]) * router[e * s.d + i];
      l[e] = {float(acc), e};
    }
    std::partial_sort(l.begin(), l.begin() + s.k, l.end(),
                      [](auto &a, auto &b) { return a.first > b.first; });
    for (int64_t j = 0; j < s.k; ++j)
      hit.insert(l[j].second);
  }
  return static_cast<int64_t>(hit.size());
}

void removeDir(const std::string &dir) {
  std::string rm = "rm -rf '" + dir + "'";
  if (std::system(rm.c_str()) != 0)
    std::fprintf(stderr, "moe-bench: could not remove %s\n", dir.c_str());
}

bool check(moert_status_t st, std::string &msg) {
  if (!st)
    return true;
  msg = moert_status_message(st);
  moert_status_free(st);
  return false;
}

} // namespace

int main(int argc, char **argv) {
  std::string shapesArg = "qwen3-30b-a3b,olmoe,mixtral-small";
  std::string tokensArg = "1,8,64,512", dtype = "f32", csv;
  int threads = 0;
  double minTime = 1.0;
  std::string compiler;
  std::string deviceName = "cpu";
  std::string saveDir, artifactDir;
  double givenPeak = 0, givenBandwidth = 0;
  std::vector<std::string> compileArgs;
  bool int8Dot = false;
  bool cudaGraphs = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&](std::string &out) {
      if (i + 1 >= argc)
        return false;
      out = argv[++i];
      return true;
    };
    std::string v;
    if (a == "--shapes" && val(v))
      shapesArg = v;
    else if (a == "--tokens" && val(v))
      tokensArg = v;
    else if (a == "--dtype" && val(v))
      dtype = v;
    else if (a == "--int8-dot")
      int8Dot = true;
    else if (a == "--threads" && val(v))
      threads = std::atoi(v.c_str());
    else if (a == "--min-time" && val(v))
      minTime = std::atof(v.c_str());
    else if (a == "--csv" && val(v))
      csv = v;
    else if (a == "--moe-compile" && val(v))
      compiler = v;
    else if (a == "--compile-arg" && val(v))
      compileArgs.push_back(v);
    else if (a == "--device" && val(v))
      deviceName = v;
    else if (a == "--cuda-graphs")
      cudaGraphs = true;
    else if (a == "--save-artifacts" && val(v))
      saveDir = v;
    else if (a == "--artifacts" && val(v))
      artifactDir = v;
    else if (a == "--peak-gflops" && val(v))
      givenPeak = std::atof(v.c_str());
    else if (a == "--bandwidth-gbps" && val(v))
      givenBandwidth = std::atof(v.c_str());
    else if (a == "--version") {
      std::fputs(MOEC_VERSION_TEXT, stdout);
      return 0;
    } else if (a == "-h" || a == "--help") {
      std::printf(
          "usage: moe-bench [--shapes A,B] [--tokens 1,8,64,512] "
          "[--dtype f32|bf16|q8_0|q4_0|q4_1|q5_0|q5_1|q2_k|q3_k|q4_k|q5_k|q6_k|"
          "iq4_nl|iq4_xs|iq2_xxs|iq2_xs|iq2_s|iq3_xxs|iq3_s|iq1_s|iq1_m|"
          "mxfp4|u8z|u4z|u2z|u8z128|"
          "u4z128|u2z128|u8z16|u4z16|u2z16|fp8_e4m3] "
          "[--int8-dot] "
          "[--threads N] "
          "[--min-time S] "
          "[--csv FILE] "
          "[--moe-compile PATH] [--compile-arg ARG]... [--device NAME] "
          "[--cuda-graphs] "
          "[--save-artifacts DIR | --artifacts DIR] [--peak-gflops G] "
          "[--bandwidth-gbps B] "
          "[--version]\n\nshapes: "
          "qwen3-30b-a3b (d 2048, f 768, E 128, k 8), olmoe (d 2048, f 1024, "
          "E 64, k 8), mixtral-small (d 1024, f 3584, E 8, k 2); not in the "
          "default list: mixtral (d 4096, f 14336, E 8, k 2), deepseek-v3 "
          "(d 7168, f 2048, E 256, k 8, softmax routing), gpt-oss-20b (d "
          "2880, f 2880, E 32, k 4); SwiGLU "
          "experts.\n--compile-arg passes ARG on to moe-compile (e.g. "
          "--fuse=gate-up, --cpu=x86-64-v3, --gpu-chip=sm_80).\n--device "
          "runs the layer on that device (default cpu; cpu:N, cuda, "
          "cuda:N), its inputs and output in buffers there. On a CPU the "
          "limits are probed in the run; on a GPU they are those given by "
          "--peak-gflops and --bandwidth-gbps (scripts/gpu-check.sh "
          "measures them in the same run), else no shares are printed; a "
          "GPU's layers are compiled with --target=cuda; --cuda-graphs "
          "captures each call as a CUDA graph in the warm-up (one per "
          "pooled input) and times the graphs' replays.\n"
          "--save-artifacts DIR only compiles each shape into "
          "DIR/SHAPE.DTYPE.so; --artifacts DIR times those instead of "
          "compiling (a GPU machine needs no moe-compile).\n"
          "Each token count's output "
          "rows 0 and T-1 are checked against the float64 reference "
          "(relative L2 within 1e-4 with f32 weights, 1e-2 with bf16); a "
          "wrong result is an error, not a time.\n--dtype q8_0, q4_0, q4_1, "
          "q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs, iq2_xxs, "
          "iq2_xs, iq2_s, iq3_xxs, iq3_s, iq1_s, iq1_m or mxfp4 "
          "gives the experts random ggml blocks, u8z, u4z, u2z, u8z128, "
          "u4z128, u2z128, u8z16, u4z16, u2z16 or fp8_e4m3 "
          "random blocks of moec's (QMoE's 8, 4 and 2 bits, FP8 checkpoints; "
          "kept quantized; the router "
          "and activations f32), checked within 1e-4 against the reference "
          "on the dequantized weights.\n--int8-dot compiles the layers with "
          "moe-compile --int8-dot: the quantized experts multiply "
          "activations quantized to int8 (one scale per 32 elements) with "
          "AVX512_VNNI dot products, checked within 3e-2; it needs a "
          "quantized --dtype and a CPU with avx512vnni (iq1_s and iq1_m keep "
          "the f32 kernel).\n");
      return 0;
    } else
      return fail("unknown or incomplete option '" + a + "' (see --help)");
  }
  std::optional<DType> parsedDtype = parseDType(dtype);
  if (!parsedDtype)
    return fail("--dtype must be f32, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, "
                "q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs, iq2_xxs, "
                "iq2_xs, iq2_s, iq3_xxs, iq3_s, iq1_s, iq1_m, mxfp4, u8z, "
                "u4z, u2z, u8z128, "
                "u4z128, u2z128, "
                "u8z16, u4z16, u2z16 or fp8_e4m3");
  if (int8Dot &&
      (!isBlockQuantized(*parsedDtype) || *parsedDtype == DType::FP8_E4M3))
    return fail(
        "--int8-dot multiplies block-quantized experts: it needs "
        "--dtype q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, "
        "iq4_nl, iq4_xs, iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s, "
        "mxfp4, u8z, "
        "u4z, u2z, u8z128, u4z128, u2z128, u8z16, u4z16 or u2z16 (or "
        "iq1_s or iq1_m, which keep the f32 kernel), not " +
        dtype);
  // int8 dot products, asked for here or passed on to moe-compile, round
  // the rows the quantized experts multiply (moe-run --verify's tolerance).
  bool int8Arg = false;
  for (const std::string &arg : compileArgs)
    int8Arg |= arg == "--int8-dot" || arg == "-int8-dot" ||
               arg == "--int8-dot=true" || arg == "--int8-dot=1";
  bool int8Rows = (int8Dot || int8Arg) && isBlockQuantized(*parsedDtype) &&
                  *parsedDtype != DType::FP8_E4M3;
  if (compiler.empty()) {
    std::string self = argv[0];
    size_t slash = self.rfind('/');
    compiler = (slash == std::string::npos ? std::string(".")
                                           : self.substr(0, slash)) +
               "/moe-compile";
  }
  std::vector<int64_t> tokenCounts;
  for (const std::string &t : split(tokensArg))
    tokenCounts.push_back(std::atoll(t.c_str()));
  if (threads <= 0)
    threads = static_cast<int>(std::thread::hardware_concurrency());
  moert_device_t *device = nullptr;
  {
    std::string msg;
    if (!check(moert_device_find(deviceName.c_str(), &device), msg))
      return fail("--device: " + msg);
  }
  bool onCpu = moert_device_kind(device) == MOERT_DEVICE_CPU;
  if (!saveDir.empty() && !artifactDir.empty())
    return fail("--save-artifacts compiles and --artifacts loads: give one");
  if (onCpu && (givenPeak > 0 || givenBandwidth > 0))
    return fail("--peak-gflops and --bandwidth-gbps are a GPU's limits; a "
                "CPU's are probed in the run");
  if (!onCpu) {
    bool targetGiven = false;
    for (const std::string &arg : compileArgs)
      targetGiven |= arg.rfind("--target", 0) == 0;
    if (!targetGiven)
      compileArgs.push_back("--target=cuda");
  }

  for (const std::string &name : split(shapesArg)) {
    bool known = false;
    for (const Shape &s : kShapes)
      known |= name == s.name;
    if (!known)
      return fail("unknown shape '" + name +
                  "' (qwen3-30b-a3b, olmoe, mixtral-small, mixtral, "
                  "deepseek-v3, gpt-oss-20b)");
  }
  for (int64_t t : tokenCounts)
    if (t < 1)
      return fail("--tokens takes positive counts");
  // The CPU's limits are probed here; a GPU's are given (--peak-gflops,
  // --bandwidth-gbps); only compiling needs none.
  bool probe = onCpu && saveDir.empty();
  Limits limits;
  if (probe) {
    std::fprintf(stderr, "moe-bench: measuring the machine (%d threads)...\n",
                 threads);
    limits = measureLimits(threads);
    std::printf("machine: fp32 FMA peak %.0f GFLOP/s (%s), DRAM read %.1f "
                "GB/s, %d threads\n",
                limits.fmaGflops, limits.fmaIsa, limits.readGBps, threads);
  } else if (saveDir.empty()) {
    std::printf("device: %s; limits given: peak %.0f GFLOP/s, bandwidth %.1f "
                "GB/s\n",
                moert_device_name(device), givenPeak, givenBandwidth);
  }
  if (givenPeak > 0)
    limits.fmaGflops = limits.bf16DotGflops = givenPeak;
  if (givenBandwidth > 0)
    limits.readGBps = givenBandwidth;
  // bf16 runs are quoted against the bf16 dot-product peak where the CPU
  // has one (what --bf16-dot code runs on), else the fp32 FMA peak.
  bool bf16Peak = dtype == "bf16" && limits.bf16DotGflops > 0;
  double peak = bf16Peak ? limits.bf16DotGflops : limits.fmaGflops;
  if (probe && limits.bf16DotGflops > 0)
    std::printf("machine: bf16 dot-product peak %.0f GFLOP/s (vdpbf16ps)\n",
                limits.bf16DotGflops);
  if (probe && bf16Peak)
    std::printf("%%peak is against the bf16 dot-product peak\n");
  if (saveDir.empty())
    std::printf("%-14s %4s %5s %22s %9s %7s %9s %7s\n", "shape", "dtype", "T",
                "ms median (min-max)", "GFLOP/s", "%peak", "GB/s", "%bw");
  FILE *csvOut = csv.empty() ? nullptr : std::fopen(csv.c_str(), "w");
  if (!csv.empty() && !csvOut)
    return fail("cannot write " + csv);
  if (csvOut)
    std::fprintf(csvOut, "impl,shape,dtype,T,ms_median,ms_min,ms_max,gflops,"
                         "peak_pct,gbps,bw_pct,peak_gflops,dram_gbps\n");

  char dirTemplate[] = "/tmp/moe-bench-XXXXXX";
  if (!mkdtemp(dirTemplate))
    return fail("cannot create a temporary directory");
  std::string work = dirTemplate;
  if (!saveDir.empty() && mkdir(saveDir.c_str(), 0755) != 0 && errno != EEXIST)
    return fail("--save-artifacts: cannot create " + saveDir + ": " +
                std::strerror(errno));
  // The experts' dtype, and that of the router, inputs and outputs.
  DType wdt = *parsedDtype;
  DType adt = isBlockQuantized(wdt) ? DType::F32 : wdt;
  std::string expertType = dtypeName(wdt);
  if (isBlockQuantized(wdt))
    expertType = "!moe.quant<" + expertType + ">";
  // The limits are probed again before every shape and the best reading
  // kept; where a kernel itself runs faster than the probes read, the limit
  // is raised to the kernel's rate (marked '*'), so no share exceeds 100%.
  int probes = 1;
  bool raised = false;
  bool firstShape = true;
  for (const std::string &name : split(shapesArg)) {
    if (!firstShape && probe) {
      Limits again = measureLimits(threads);
      ++probes;
      limits.fmaGflops = std::max(limits.fmaGflops, again.fmaGflops);
      limits.bf16DotGflops =
          std::max(limits.bf16DotGflops, again.bf16DotGflops);
      limits.readGBps = std::max(limits.readGBps, again.readGBps);
      peak = bf16Peak ? limits.bf16DotGflops : limits.fmaGflops;
    }
    firstShape = false;
    const Shape *shape = nullptr;
    for (const Shape &s : kShapes)
      if (name == s.name)
        shape = &s;
    const Shape &s = *shape;
    std::string mlir = work + "/" + name + ".mlir",
                so = work + "/" + name + ".so";
    std::string kept = name + "." + dtype + ".so";
    if (!saveDir.empty())
      so = saveDir + "/" + kept;
    if (!artifactDir.empty()) {
      so = artifactDir + "/" + kept;
      if (access(so.c_str(), R_OK) != 0)
        return fail("--artifacts: no " + so +
                    " (made by moe-bench "
                    "--save-artifacts with the same --shapes and --dtype)");
    } else {
      std::ofstream(mlir) << layerMlir(s, dtypeName(adt), expertType.c_str());
      std::string cmd = "'" + compiler + "' '" + mlir + "' -o '" + so + "'";
      if (int8Dot && !int8Arg)
        cmd += " --int8-dot";
      for (const std::string &arg : compileArgs) {
        if (arg.find('\'') != std::string::npos)
          return fail("--compile-arg may not contain a single quote");
        cmd += " '" + arg + "'";
      }
      auto c0 = std::chrono::steady_clock::now();
      if (std::system(cmd.c_str()) != 0)
        return fail("moe-compile failed on " + mlir);
      double compileS =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - c0)
              .count();
      std::fprintf(stderr, "moe-bench: %s compiled in %.2f s\n", name.c_str(),
                   compileS);
      if (!saveDir.empty()) {
        std::printf("%s\n", so.c_str());
        continue;
      }
    }
    std::fprintf(stderr, "moe-bench: %s: generating weights...\n",
                 name.c_str());
    std::string msg;
    moert_artifact_t *artifact = nullptr;
    moert_session_t *session = nullptr;
    moert_session_config_t opts = MOERT_SESSION_CONFIG_INIT;
    opts.num_threads = threads;
    opts.device = device;
    opts.cuda_graphs = cudaGraphs;
    if (!check(moert_artifact_load(so.c_str(), &artifact), msg) ||
        !check(moert_session_create_with_config(artifact, &opts, &session),
               msg))
      return fail(msg);
    Random rng{0x9E3779B97F4A7C15ull ^ (uint64_t)s.E};
    size_t esz = dtypeSize(adt);
    std::vector<float> routerF(s.E * s.d);
    for (float &v : routerF)
      v = rng.next() * (3.0f / std::sqrt(float(s.d)));
    // n weights of about `scale`: as elements, or as blocks of random bytes
    // (int8 values in [-16, 16] for q8_0) whose f16 scales (and q4_k's
    // min scale) are sized so the weights are about `scale`, times a
    // random factor in [0.5, 1.5] (q4_1's and q5_1's mins about minus
    // their mean code times d); mxfp4's exponents make them about
    // `scale` within a factor of 2; the zero-point formats' (u8z, u4z,
    // u2z and their blocks of 128 and 16) codes are random bits, their zero
    // points about the middle, their f32 scales sized alike; fp8_e4m3's values
    // are random codes below 2 in magnitude (no NaN), their f32 scales sized
    // alike. Bits per code of moec's zero-point formats, 0 for the others.
    int zeroPointBits =
        wdt == DType::U8Z || wdt == DType::U8Z128 || wdt == DType::U8Z16   ? 8
        : wdt == DType::U4Z || wdt == DType::U4Z128 || wdt == DType::U4Z16 ? 4
        : wdt == DType::U2Z || wdt == DType::U2Z128 || wdt == DType::U2Z16 ? 2
                                                                           : 0;
    auto makeWeight = [&](int64_t n, float scale) {
      uint64_t bytes = 0;
      dtypeBytes(wdt, n, dtypeBlockElements(wdt), bytes);
      std::vector<unsigned char> w(bytes);
      if (!isBlockQuantized(wdt)) {
        for (int64_t i = 0; i < n; ++i)
          storeElement(wdt, w.data(), i, rng.next() * scale);
        return w;
      }
      // (byte offset, weight per unit of the f16 there) of each f16.
      std::vector<std::pair<int64_t, double>> halves = {{0, 1.0 / 8}};
      if (wdt == DType::Q4_K)
        halves = {{0, 1.0 / (63 * 8)}, {2, 1.0 / 63}};
      else if (wdt == DType::Q5_K)
        halves = {{0, 1.0 / (63 * 16)}, {2, 1.0 / 63}};
      else if (wdt == DType::Q6_K)
        halves = {{208, 1.0 / (128 * 16)}};
      else if (wdt == DType::Q2_K)
        halves = {{80, 1.0 / (8 * 2)}, {82, 1.0 / 8}};
      else if (wdt == DType::Q3_K)
        halves = {{108, 1.0 / (16 * 4)}};
      else if (wdt == DType::IQ4_NL)
        halves = {{0, 1.0 / 64}};
      else if (wdt == DType::IQ4_XS)
        halves = {{0, 1.0 / (16 * 64)}};
      else if (wdt == DType::IQ2_XXS || wdt == DType::IQ2_XS ||
               wdt == DType::IQ2_S)
        halves = {{0, 1.0 / 50}}; // scale factors about 2, values 25
      else if (wdt == DType::IQ3_XXS || wdt == DType::IQ3_S)
        halves = {{0, 1.0 / 128}}; // about 4 times 30, or 16 times 8
      else if (wdt == DType::IQ1_S)
        halves = {{0, 1.0 / 6}}; // about 8 times 0.7
      else if (wdt == DType::Q4_1)
        halves = {{0, 1.0 / 8}, {2, -1.0}};
      else if (wdt == DType::Q5_0)
        halves = {{0, 1.0 / 16}};
      else if (wdt == DType::Q5_1)
        halves = {{0, 1.0 / 16}, {2, -1.0}};
      else if (wdt == DType::MXFP4 || zeroPointBits || wdt == DType::FP8_E4M3)
        halves.clear();
      int64_t blockBytes = dtypeBlockBytes(wdt);
      for (uint64_t b = 0; b < bytes; b += blockBytes) {
        for (int64_t i = 0; i < blockBytes; ++i)
          w[b + i] = static_cast<unsigned char>(
              wdt == DType::Q8_0 ? std::lround(rng.next() * 16) & 0xFF
                                 : std::lround(rng.next() * 128 + 128) & 0xFF);
        for (auto [at, unit] : halves) {
          uint16_t h = doubleToHalf(scale * unit * (1.0 + rng.next() / 2));
          std::memcpy(&w[b + at], &h, 2);
        }
        // iq1_m's f16 d is the top nibbles of its 4 scale words.
        if (wdt == DType::IQ1_M) {
          uint16_t h = doubleToHalf(scale / 6 * (1.0 + rng.next() / 2));
          for (int i = 0; i < 4; ++i)
            w[b + 49 + 2 * i] = static_cast<unsigned char>(
                (w[b + 49 + 2 * i] & 15) | ((h >> (4 * i)) & 15) << 4);
        }
        // The doubled e2m1 values average about 5.
        if (wdt == DType::MXFP4)
          w[b] = static_cast<unsigned char>(
              128 + std::lround(std::log2(scale / 5) + rng.next() / 2));
        // Codes less the zero point average about 74 (8 bits), 4.6 (4)
        // or 1 (2) in magnitude; FP8 values below 2 about 0.7.
        if (zeroPointBits || wdt == DType::FP8_E4M3) {
          double typical = zeroPointBits == 8   ? 74
                           : zeroPointBits == 4 ? 4.6
                           : zeroPointBits == 2 ? 1.0
                                                : 0.7;
          float d =
              static_cast<float>(scale / typical * (1.0 + rng.next() / 2));
          std::memcpy(&w[b], &d, 4);
          if (wdt == DType::FP8_E4M3) {
            // Exponent field below 8: magnitudes below 2, never NaN.
            for (int64_t i = 4; i < blockBytes; ++i)
              w[b + i] &= 0xBF;
          } else {
            // About the middle of the codes, within the codes' range.
            int64_t mid = int64_t(1) << (zeroPointBits - 1);
            w[b + 4] = static_cast<unsigned char>(
                mid + std::lround(rng.next() * (zeroPointBits == 2 ? 1 : 4)));
          }
        }
      }
      return w;
    };
    std::vector<unsigned char> router(s.E * s.d * esz);
    for (int64_t i = 0; i < s.E * s.d; ++i)
      storeElement(adt, router.data(), i, routerF[i]);
    std::vector<unsigned char> gate =
        makeWeight(s.E * s.f * s.d, 1.0f / std::sqrt(float(s.d)));
    std::vector<unsigned char> up =
        makeWeight(s.E * s.f * s.d, 1.0f / std::sqrt(float(s.d)));
    std::vector<unsigned char> down =
        makeWeight(s.E * s.d * s.f, 1.0f / std::sqrt(float(s.f)));
    // moert's dtypes are numbered as moe::DType's.
    auto mdt = static_cast<moert_dtype_t>(adt);
    auto mwt = static_cast<moert_dtype_t>(wdt);
    int64_t rShape[2] = {s.E, s.d}, guShape[3] = {s.E, s.f, s.d},
            dShape[3] = {s.E, s.d, s.f};
    moert_tensor_t rt{mdt, 2, rShape, router.data()},
        gt{mwt, 3, guShape, gate.data()}, ut{mwt, 3, guShape, up.data()},
        dt{mwt, 3, dShape, down.data()};
    if (!check(moert_session_bind_weight(session, "router", &rt), msg) ||
        !check(moert_session_bind_weight(session, "gate", &gt), msg) ||
        !check(moert_session_bind_weight(session, "up", &ut), msg) ||
        !check(moert_session_bind_weight(session, "down", &dt), msg))
      return fail(msg);
    double flopsPerToken = 2.0 * s.k * 3 * s.d * s.f + 2.0 * s.d * s.E;
    double bytesPerExpert = 3.0 * gate.size() / s.E;
    for (int64_t T : tokenCounts) {
      // 16 inputs rotated at up to 512 tokens (decode must not find the
      // experts in cache); beyond, every expert is touched by every call
      // and 2 suffice.
      const int pool = T <= 512 ? 16 : 2;
      std::vector<std::vector<unsigned char>> inputs(pool);
      std::vector<std::vector<float>> inputsF(pool);
      for (int p = 0; p < pool; ++p) {
        inputsF[p].resize(T * s.d);
        inputs[p].resize(T * s.d * esz);
        for (int64_t i = 0; i < T * s.d; ++i) {
          inputsF[p][i] = rng.next() * 1.7f;
          storeElement(adt, inputs[p].data(), i, inputsF[p][i]);
          inputsF[p][i] = float(loadElement(adt, inputs[p].data(), i));
        }
      }
      std::vector<unsigned char> out(T * s.d * esz);
      int64_t xShape[2] = {T, s.d};
      // Inputs and the output in buffers on the device, written once; each
      // timed call is queued and waited for (docs/Runtime.md).
      struct Buffers {
        std::vector<moert_buffer_t *> all;
        ~Buffers() {
          for (moert_buffer_t *b : all)
            moert_buffer_release(b);
        }
      } buffers;
      auto onDevice = [&](const std::vector<unsigned char> *bytes,
                          moert_buffer_tensor_t &t) {
        moert_buffer_t *b = nullptr;
        if (!check(moert_buffer_alloc(device, out.size(), &b), msg))
          return false;
        buffers.all.push_back(b);
        t = {mdt, 2, xShape, b, 0};
        return !bytes ||
               check(moert_buffer_write(b, 0, bytes->data(), bytes->size()),
                     msg);
      };
      std::vector<moert_buffer_tensor_t> ins(pool);
      moert_buffer_tensor_t o;
      for (int p = 0; p < pool; ++p)
        if (!onDevice(&inputs[p], ins[p]))
          return fail(msg);
      if (!onDevice(nullptr, o))
        return fail(msg);
      auto runOn = [&](const moert_buffer_tensor_t &in) {
        return check(moert_session_enqueue(session, "layer", &in, 1, &o, 1),
                     msg) &&
               check(moert_session_synchronize(session), msg);
      };
      std::vector<double> ms;
      double elapsed = 0;
      // With CUDA graphs, every pooled input's call is captured before the
      // timing starts.
      const int warmUp = cudaGraphs ? pool + 1 : 3;
      for (int it = 0; it < warmUp + pool * 64; ++it) {
        auto t0 = std::chrono::steady_clock::now();
        if (!runOn(ins[it % pool]))
          return fail(msg);
        double t = std::chrono::duration<double, std::milli>(
                       std::chrono::steady_clock::now() - t0)
                       .count();
        if (it == 0 && T == tokenCounts.front())
          // The session's first run packs the weights the artifact takes
          // packed (docs/Runtime.md).
          std::fprintf(stderr,
                       "moe-bench: %s first run (packs weights): "
                       "%.0f ms\n",
                       name.c_str(), t);
        if (it >= warmUp) {
          ms.push_back(t);
          elapsed += t / 1000;
        }
        if (ms.size() >= 5 && elapsed >= minTime)
          break;
      }
      // Rows 0 and T - 1 of the first input against the float64
      // reference; bf16 outputs are rounded to bf16 (2^-9 relative).
      {
        if (!runOn(ins[0]) ||
            !check(moert_buffer_read(o.buffer, 0, out.data(), out.size()), msg))
          return fail(msg);
        BenchLayer layer{s.d,           s.f,       s.E,        s.k,
                         s.renormalize, wdt,       adt,        router.data(),
                         gate.data(),   up.data(), down.data()};
        // int8 rows with one scale per 32 elements move each element by
        // up to half a step (max|x| / 254).
        double tolerance = int8Rows            ? 3e-2
                           : adt == DType::F32 ? 1e-4
                                               : 1e-2,
               worst = 0;
        for (int64_t row : {int64_t(0), T - 1}) {
          std::vector<double> want =
              referenceRow(layer, &inputsF[0][row * s.d]);
          std::vector<double> got(s.d);
          for (int64_t i = 0; i < s.d; ++i)
            got[i] = loadElement(adt, out.data(), row * s.d + i);
          double err = want.empty() ? INFINITY : ref::relativeL2(got, want);
          if (!(err <= tolerance)) {
            char text[160];
            std::snprintf(text, sizeof(text),
                          "%s T=%ld: output row %ld is off the float64 "
                          "reference (relative L2 %.3g, tolerance %.0e)",
                          name.c_str(), (long)T, (long)row, err, tolerance);
            // No partial table: the CSV goes with the run.
            if (csvOut) {
              std::fclose(csvOut);
              std::remove(csv.c_str());
            }
            removeDir(work);
            return fail(text);
          }
          worst = std::max(worst, err);
        }
        std::string rows =
            T == 1 ? "row 0" : "rows 0 and " + std::to_string(T - 1);
        std::fprintf(stderr,
                     "moe-bench: %s T=%ld: output %s within %.0e of the "
                     "float64 reference (relative L2 %.2g)\n",
                     name.c_str(), (long)T, rows.c_str(), tolerance, worst);
      }
      std::sort(ms.begin(), ms.end());
      double med = ms[ms.size() / 2];
      double gflops = flopsPerToken * T / (med / 1000) / 1e9;
      double gbps = 0;
      if (T <= 64) {
        double experts = 0;
        for (int p = 0; p < pool; ++p)
          experts += distinctExperts(s, routerF, inputsF[p].data(), T);
        experts /= pool;
        gbps =
            (experts * bytesPerExpert + s.E * s.d * esz) / (med / 1000) / 1e9;
      }
      char range[64];
      std::snprintf(range, sizeof(range), "%.3f (%.3f-%.3f)", med, ms.front(),
                    ms.back());
      // A GPU run given no limits prints no shares.
      bool shares = peak > 0;
      bool overPeak = shares && gflops > peak,
           overBw = shares && limits.readGBps > 0 && gbps > limits.readGBps;
      if (overPeak)
        peak = gflops;
      if (overBw)
        limits.readGBps = gbps;
      raised |= overPeak || overBw;
      double peakPct = shares ? 100 * gflops / peak : 0,
             bwPct = gbps > 0 && limits.readGBps > 0
                         ? 100 * gbps / limits.readGBps
                         : 0;
      std::printf("%-14s %4s %5ld %22s %9.1f ", name.c_str(), dtype.c_str(),
                  (long)T, range, gflops);
      if (shares)
        std::printf("%6.1f%%%s", peakPct, overPeak ? "*" : " ");
      else
        std::printf("%7s ", "-");
      if (gbps > 0)
        std::printf("%9.1f ", gbps);
      else
        std::printf("%9s ", "-");
      if (bwPct > 0)
        std::printf("%6.1f%%%s\n", bwPct, overBw ? "*" : "");
      else
        std::printf("%7s\n", "-");
      std::fflush(stdout);
      if (csvOut)
        std::fprintf(csvOut,
                     "moec,%s,%s,%ld,%.4f,%.4f,%.4f,%.2f,%.2f,%.2f,"
                     "%.2f,%.1f,%.2f\n",
                     name.c_str(), dtype.c_str(), (long)T, med, ms.front(),
                     ms.back(), gflops, peakPct, gbps, bwPct, peak,
                     limits.readGBps);
    }
    moert_session_release(session);
    moert_artifact_release(artifact);
  }
  if (csvOut)
    std::fclose(csvOut);
  removeDir(work);
  if (!saveDir.empty())
    return 0;
  if (!probe) {
    std::printf("limits: given%s\n",
                raised ? "; '*': the kernel ran faster than the limit given, "
                         "and its own rate is the limit"
                       : "");
    return 0;
  }
  std::printf("limits: the best of %d probes: fp32 FMA %.0f GFLOP/s, DRAM "
              "read %.1f GB/s%s\n",
              probes, bf16Peak ? limits.fmaGflops : peak, limits.readGBps,
              raised ? "; '*': the kernel ran faster than the probes read, "
                       "and its own rate is the limit"
                     : "");
  return 0;
}
