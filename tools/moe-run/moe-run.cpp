//===- moe-run.cpp - run a moec artifact on .npy inputs -------------------===//
//
// A thin main over the moert C API (no MLIR, no LLVM): binds the weights,
// reads inputs from .npy into buffers on the chosen device, queues the run,
// writes the output, and optionally checks it against the float64
// reference evaluator and times repeated runs.
//
//===----------------------------------------------------------------------===//
#include "runtime/moert/moert.h"
#include "runtime/reference/ConfigJson.h"
#include "runtime/reference/Reference.h"
#include "runtime/support/DType.h"
#include "runtime/support/Json.h"
#include "runtime/support/Npy.h"
#include "runtime/support/Safetensors.h"
#include "runtime/support/Version.h"
#include "tools/moe-run/ExpertParallel.h"
#include "tools/moe-run/Inputs.h"
#include "tools/moe-run/Verify.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include <sched.h>
#include <sys/stat.h>

using namespace moerun;

namespace {

const char *kUsage =
    "usage: moe-run ARTIFACT [options]\n"
    "\n"
    "Runs an entry point of an artifact written by moe-compile and prints a\n"
    "summary of its result (dtype, shape, min, max, mean, first values).\n"
    "\n"
    "  --input NAME=FILE.npy  an input of the function (repeatable). Shapes\n"
    "                         [..., d] are accepted: leading dimensions are\n"
    "                         flattened into tokens, and restored on output\n"
    "  --output FILE.npy      write the result (float32 .npy)\n"
    "  --weights PATH         bind weights from this .safetensors file, or\n"
    "                         every one in a directory (a checkpoint),\n"
    "                         instead of the files the artifact records\n"
    "                         (repeatable)\n"
    "  --function NAME        the entry point (needed when there are several)\n"
    "  --list                 list the entry points and their signatures\n"
    "  --verify               recompute with the float64 reference evaluator\n"
    "                         and report the relative L2 error; exit 1 above\n"
    "                         the tolerance\n"
    "  --tolerance X          for --verify (default: 1e-5 for f32 outputs,\n"
    "                         1e-3 for f16, 1e-2 for bf16)\n"
    "  --repeat N             run N more times after a warm-up and print the\n"
    "                         median latency and tokens per second (and, for\n"
    "                         an expert-parallel function, each rank's mean\n"
    "                         time in exchanges and bytes sent per run)\n"
    "  --threads N            worker threads (default: all cores; more than\n"
    "                         the cores is allowed, with a warning)\n"
    "  --device NAME          the device to run on: cpu (the host CPU, also\n"
    "                         cpu:0), cuda (the first GPU, also cuda:N); by\n"
    "                         default the first of the kind the artifact was\n"
    "                         compiled for. Inputs and the result are copied\n"
    "                         to and from buffers on it\n"
    "  --cuda-graphs          on a CUDA device, capture the call's kernels\n"
    "                         as a CUDA graph on its first run and replay\n"
    "                         the graph for the runs of --repeat (one launch\n"
    "                         per call instead of one per kernel)\n"
    "  --record-routing FILE  count the tokens each expert receives in the\n"
    "                         first run (not --repeat's) and write the counts\n"
    "                         to FILE as JSON (docs/Runtime.md, \"Routing\n"
    "                         statistics\"), for the expert-parallel planner;\n"
    "                         under mpirun, rank 0 writes the counts of\n"
    "                         every rank's tokens\n"
    "  --record-coselection   with --record-routing, also count the tokens\n"
    "                         that selected each pair of experts\n"
    "  --ep-timeout SECONDS   for an expert-parallel function, how long a\n"
    "                         rank waits for the others in an exchange\n"
    "                         before it gives up and ends the job\n"
    "                         (default 60)\n"
    "  --collectives ENGINE   for an expert-parallel function, what moves\n"
    "                         the token rows between ranks: mpi (default;\n"
    "                         libmoert_mpi) or nccl (libmoert_nccl: NCCL\n"
    "                         on one CUDA device a rank, host buffers\n"
    "                         staged through it; MPI still starts the ranks\n"
    "                         and hands them NCCL's id)\n"
    "  --nccl-device N        with --collectives nccl, the CUDA device of\n"
    "                         this rank (default: its rank within the node,\n"
    "                         from mpirun's environment)\n"
    "  --version              the moec and LLVM versions it was built with\n"
    "  -h, --help             this text\n"
    "\n"
    "Weights files the artifact records are looked for next to the artifact\n"
    "first, then at the recorded path.\n"
    "\n"
    "A function compiled with an expert placement for R ranks\n"
    "(docs/ExpertParallelism.md) runs under mpirun with R processes:\n"
    "  mpirun -np R moe-run ARTIFACT --input x=X.npy --output Y.npy\n"
    "Every rank reads the same inputs and runs the function on its share of\n"
    "the tokens (rank r of R: tokens [T*r/R, T*(r+1)/R)); rank 0 gathers the\n"
    "outputs and prints, verifies and writes them.\n";

int fail(const std::string &msg) {
  std::fflush(stdout); // what was printed before, then why it stops
  std::fprintf(stderr, "moe-run: error: %s\n", msg.c_str());
  return 1;
}

void warn(const std::string &msg) {
  std::fflush(stdout);
  std::fprintf(stderr, "moe-run: warning: %s\n", msg.c_str());
}

/// The cores this process may run on (as moert counts them).
int availableCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
    return CPU_COUNT(&set);
  return 0;
}

struct Options {
  std::string artifact;
  std::vector<std::pair<std::string, std::string>> inputs;
  std::string output;
  std::vector<std::string> weights;
  std::string function;
  std::string device; // "": the artifact's kind
  std::string recordRouting;
  bool list = false, verify = false, version = false, coselection = false;
  bool cudaGraphs = false;
  double tolerance = -1;
  double epTimeout = 60;
  std::string collectives = "mpi";
  int ncclDevice = -1; // -1: the rank within the node
  int repeat = 0, threads = 0;
};

bool parseInt(const char *s, int &out) {
  char *end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (!*s || *end || v < 0 || v > 1000000)
    return false;
  out = static_cast<int>(v);
  return true;
}

/// Returns "" or a message; sets `help` for -h.
std::string parseArgs(int argc, char **argv, Options &o, bool &help) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string &out) -> bool {
      size_t eq = a.find('=');
      if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
        out = a.substr(eq + 1);
        a = a.substr(0, eq);
        return true;
      }
      if (i + 1 >= argc)
        return false;
      out = argv[++i];
      return true;
    };
    std::string key = a.substr(0, a.find('='));
    std::string v;
    if (a == "-h" || a == "--help") {
      help = true;
      return "";
    } else if (a == "--version") {
      o.version = true;
      return "";
    } else if (key == "--input") {
      if (!value(v))
        return "--input needs NAME=FILE.npy";
      size_t eq = v.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == v.size())
        return "--input needs NAME=FILE.npy, got '" + v + "'";
      o.inputs.push_back({v.substr(0, eq), v.substr(eq + 1)});
    } else if (key == "--record-routing") {
      if (!value(o.recordRouting) || o.recordRouting.empty())
        return "--record-routing needs a file";
    } else if (a == "--record-coselection") {
      o.coselection = true;
    } else if (key == "--output") {
      if (!value(o.output))
        return "--output needs a file";
    } else if (key == "--weights") {
      if (!value(v))
        return "--weights needs a file";
      o.weights.push_back(v);
    } else if (key == "--function") {
      if (!value(o.function))
        return "--function needs a name";
    } else if (a == "--list") {
      o.list = true;
    } else if (a == "--verify") {
      o.verify = true;
    } else if (key == "--tolerance") {
      char *end = nullptr;
      if (!value(v) || (o.tolerance = std::strtod(v.c_str(), &end), *end) ||
          !(o.tolerance > 0))
        return "--tolerance needs a positive number";
    } else if (key == "--repeat") {
      if (!value(v) || !parseInt(v.c_str(), o.repeat))
        return "--repeat needs a non-negative integer";
    } else if (key == "--device") {
      if (!value(o.device) || o.device.empty())
        return "--device needs a device name (e.g. cpu)";
    } else if (key == "--ep-timeout") {
      char *end = nullptr;
      if (!value(v) || (o.epTimeout = std::strtod(v.c_str(), &end), *end) ||
          v.empty() || !(o.epTimeout > 0) || o.epTimeout > 86400)
        return "--ep-timeout needs a number of seconds in (0, 86400]";
    } else if (key == "--collectives") {
      if (!value(o.collectives) ||
          (o.collectives != "mpi" && o.collectives != "nccl"))
        return "--collectives needs mpi or nccl";
    } else if (key == "--nccl-device") {
      if (!value(v) || !parseInt(v.c_str(), o.ncclDevice) ||
          o.ncclDevice > 1023)
        return "--nccl-device needs a CUDA device ordinal (0 to 1023)";
    } else if (a == "--cuda-graphs") {
      o.cudaGraphs = true;
    } else if (key == "--threads") {
      if (!value(v) || !parseInt(v.c_str(), o.threads))
        return "--threads needs a non-negative integer (0: all cores)";
    } else if (!a.empty() && a[0] == '-') {
      return "unknown option '" + a + "' (see --help)";
    } else if (o.artifact.empty()) {
      o.artifact = a;
    } else {
      return "more than one artifact given ('" + o.artifact + "', '" + a + "')";
    }
  }
  if (o.artifact.empty())
    return "no artifact given (see --help)";
  if (o.coselection && o.recordRouting.empty())
    return "--record-coselection needs --record-routing FILE";
  return "";
}

void listFunctions(moert_artifact_t *artifact) {
  for (int32_t f = 0; f < moert_artifact_function_count(artifact); ++f) {
    const char *name = moert_artifact_function_name(artifact, f);
    int32_t na = 0, nr = 0;
    const moert_param_t *args = nullptr, *results = nullptr;
    moert_status_free(moert_artifact_function_signature(artifact, name, &na,
                                                        &args, &nr, &results));
    std::printf("%s\n", name);
    for (int32_t i = 0; i < na; ++i)
      std::printf("  %-6s %-40s %s %s\n",
                  args[i].is_weight ? "weight" : "input", args[i].name,
                  moert_dtype_name(args[i].dtype),
                  shapeStr(args[i].shape, args[i].rank).c_str());
    for (int32_t i = 0; i < nr; ++i)
      std::printf("  %-6s %-40s %s %s\n", "result", results[i].name,
                  moert_dtype_name(results[i].dtype),
                  shapeStr(results[i].shape, results[i].rank).c_str());
  }
}

/// The .safetensors files at `path`: the file itself, or those in a
/// directory (a checkpoint), in name order.
std::string weightFilesAt(const std::string &path,
                          std::vector<std::string> &out) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    out.push_back(path);
    return "";
  }
  std::vector<std::string> names;
  if (std::string err = moe::safetensors::filesIn(path, names); !err.empty())
    return err;
  for (const std::string &n : names)
    out.push_back(path + "/" + n);
  if (out.empty())
    return path + ": no .safetensors files in this directory";
  return "";
}

/// One line about a result: its name, dtype and shape, its minimum,
/// maximum and mean, and its first values (non-finite values counted).
void printSummary(const char *name, moert_dtype_t dtype,
                  const std::vector<int64_t> &shape,
                  const std::vector<double> &values) {
  std::printf(
      "result %s: %s %s", name, moert_dtype_name(dtype),
      shapeStr(shape.data(), static_cast<int32_t>(shape.size())).c_str());
  double lo = INFINITY, hi = -INFINITY, sum = 0;
  size_t finite = 0;
  for (double v : values)
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      sum += v;
      ++finite;
    }
  if (finite)
    std::printf(" min %.6g max %.6g mean %.6g", lo, hi, sum / finite);
  if (finite != values.size())
    std::printf(" (%zu non-finite)", values.size() - finite);
  std::printf(" first [");
  for (size_t i = 0; i < values.size() && i < 4; ++i)
    std::printf("%s%.6g", i ? ", " : "", values[i]);
  std::printf("%s]\n", values.size() > 4 ? ", ..." : "");
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  bool help = false;
  if (std::string err = parseArgs(argc, argv, o, help); !err.empty())
    return fail(err);
  if (help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (o.version) {
    std::fputs(MOEC_VERSION_TEXT, stdout);
    return 0;
  }
  if (int cores = availableCores(); cores > 0 && o.threads > cores)
    warn("--threads " + std::to_string(o.threads) + " is more than the " +
         std::to_string(cores) + " core" + (cores > 1 ? "s" : "") +
         " this process may run on; the threads will share them");
  std::string msg;
  moert_artifact_t *artifact = nullptr;
  if (failed(moert_artifact_load(o.artifact.c_str(), &artifact), msg))
    return fail(msg);
  struct Cleanup {
    moert_artifact_t *a;
    moert_session_t *s = nullptr;
    ~Cleanup() {
      moert_session_release(s);
      moert_artifact_release(a);
    }
  } cleanup{artifact};
  if (o.list) {
    listFunctions(artifact);
    return 0;
  }

  std::string fnName = o.function;
  int32_t count = moert_artifact_function_count(artifact);
  if (fnName.empty()) {
    if (count != 1) {
      std::string names;
      for (int32_t i = 0; i < count; ++i)
        names += (i ? ", " : "") +
                 std::string(moert_artifact_function_name(artifact, i));
      return fail("the artifact has " + std::to_string(count) + " functions (" +
                  names + "); pick one with --function");
    }
    fnName = moert_artifact_function_name(artifact, 0);
  }
  int32_t na = 0, nr = 0;
  const moert_param_t *args = nullptr, *results = nullptr;
  if (failed(moert_artifact_function_signature(artifact, fnName.c_str(), &na,
                                               &args, &nr, &results),
             msg))
    return fail(msg);

  // An expert-parallel function runs on the group mpirun started.
  moerun::RankGroup group;
  int64_t epRanks =
      moert_artifact_expert_parallel_ranks(artifact, fnName.c_str());
  if (epRanks > 0) {
    if (std::string err = group.start(o.epTimeout, o.collectives, o.ncclDevice);
        !err.empty()) {
      int code = fail("function '" + fnName + "' runs its experts on " +
                      std::to_string(epRanks) + " ranks: " + err);
      // MPI started but NCCL did not on this rank: the others would wait
      // for it until their time-out.
      if (group.started() && group.size() > 1)
        group.abort(code);
      return code;
    }
    if (group.size() != epRanks)
      return fail("function '" + fnName + "' runs its experts on " +
                  std::to_string(epRanks) + " ranks; start it with mpirun " +
                  "-np " + std::to_string(epRanks) + " (this job has " +
                  std::to_string(group.size()) + " process" +
                  (group.size() == 1 ? "" : "es") + ")");
  }
  // After a failure on one rank, the others would wait for it.
  auto failRank = [&](const std::string &why) {
    bool many = group.started() && group.size() > 1;
    // The collectives' messages name the rank already.
    std::string rank = "rank " + std::to_string(group.rank());
    int code = fail(many && why.find(rank + " of ") == std::string::npos
                        ? rank + ": " + why
                        : why);
    if (group.started() && group.size() > 1)
      group.abort(code);
    return code;
  };

  moert_device_t *device = nullptr;
  std::string deviceName =
      o.device.empty()
          ? moert_device_kind_name(moert_artifact_device_kind(artifact))
          : o.device;
  if (failed(moert_device_find(deviceName.c_str(), &device), msg) ||
      failed(moert_device_supports(device, artifact), msg))
    return fail("--device: " + msg);
  moert_session_config_t config = MOERT_SESSION_CONFIG_INIT;
  config.num_threads = o.threads;
  config.device = device;
  config.cuda_graphs = o.cudaGraphs;
  if (failed(moert_session_create_with_config(artifact, &config, &cleanup.s),
             msg))
    return fail(msg);
  moert_session_t *session = cleanup.s;
  if (group.started() &&
      failed(moert_session_set_collectives(session, &group.collectives()), msg))
    return failRank(msg);
  if (o.weights.empty()) {
    if (moert_artifact_weight_file_count(artifact) == 0) {
      bool needsWeights = false;
      for (int32_t i = 0; i < na; ++i)
        needsWeights |= args[i].is_weight != 0;
      if (needsWeights)
        return fail("the artifact records no weights file; give --weights "
                    "FILE.safetensors");
    }
    if (failed(moert_session_bind_recorded_weights(session), msg))
      return fail(msg);
  }
  for (const std::string &w : o.weights) {
    std::vector<std::string> files;
    if (std::string err = weightFilesAt(w, files); !err.empty())
      return fail(err);
    for (const std::string &f : files)
      if (failed(moert_session_bind_weights_file(session, f.c_str(), nullptr),
                 msg))
        return fail(msg);
  }
  if (failed(moert_session_check_weights(session, fnName.c_str()), msg))
    return fail(msg);

  // Inputs by name, in the function's order.
  std::map<std::string, std::string> given;
  for (const auto &[name, path] : o.inputs) {
    if (!given.emplace(name, path).second)
      return fail("input '" + name + "' given twice");
  }
  std::vector<Buffer> inputBuffers;
  std::map<std::string, Buffer *> byName;
  inputBuffers.reserve(na);
  std::string expectedNames;
  for (int32_t i = 0; i < na; ++i) {
    if (args[i].is_weight)
      continue;
    expectedNames +=
        (expectedNames.empty() ? "" : ", ") + std::string(args[i].name);
    auto it = given.find(args[i].name);
    if (it == given.end())
      return fail("missing --input " + std::string(args[i].name) +
                  "=FILE.npy (function '" + fnName + "' takes " +
                  shapeStr(args[i].shape, args[i].rank) + ")");
    inputBuffers.emplace_back();
    if (std::string err = readInput(args[i], it->second, inputBuffers.back());
        !err.empty())
      return fail(err);
    byName[args[i].name] = &inputBuffers.back();
    given.erase(it);
  }
  if (!given.empty())
    return fail("function '" + fnName + "' has no input '" +
                given.begin()->first + "' (inputs: " + expectedNames + ")");
  if (nr != 1)
    return fail("moe-run handles functions with one result; '" + fnName +
                "' has " + std::to_string(nr));

  // The output: the result shape with the token count of the inputs.
  int64_t tokens = -1;
  for (int32_t i = 0, j = 0; i < na; ++i) {
    if (args[i].is_weight)
      continue;
    const Buffer &b = inputBuffers[j++];
    for (int32_t d = 0; d < args[i].rank; ++d)
      if (args[i].shape[d] < 0 && tokens < 0)
        tokens = b.shape[d];
  }
  // Each rank runs its share of the tokens: the rows of every input with a
  // token dimension. A function with a static token count cannot be split:
  // every rank runs all its tokens, and rank 0's output is the result.
  std::vector<int64_t> rowsPerRank;
  std::vector<Buffer> fullInputs;
  bool split = group.started() && tokens >= 0;
  if (split) {
    int64_t all = std::max<int64_t>(tokens, 0);
    for (int32_t r = 0; r < group.size(); ++r) {
      auto [first, last] = moerun::tokenShare(all, r, group.size());
      rowsPerRank.push_back(last - first);
    }
    auto [first, last] = moerun::tokenShare(all, group.rank(), group.size());
    fullInputs = inputBuffers;
    for (int32_t i = 0, j = 0; i < na; ++i) {
      if (args[i].is_weight)
        continue;
      Buffer &b = inputBuffers[j++];
      if (args[i].rank < 1 || args[i].shape[0] >= 0 || b.shape.empty() ||
          b.shape[0] == 0)
        continue;
      size_t row = b.bytes.size() / static_cast<size_t>(b.shape[0]);
      b.bytes = std::vector<unsigned char>(b.bytes.begin() + first * row,
                                           b.bytes.begin() + last * row);
      b.shape[0] = last - first;
    }
    tokens = last - first;
    byName.clear();
    for (int32_t i = 0, j = 0; i < na; ++i)
      if (!args[i].is_weight)
        byName[args[i].name] = &fullInputs[j++];
  }
  Buffer output;
  output.dtype = results[0].dtype;
  for (int32_t d = 0; d < results[0].rank; ++d)
    output.shape.push_back(results[0].shape[d] < 0
                               ? std::max<int64_t>(tokens, 0)
                               : results[0].shape[d]);
  output.bytes.resize(output.numElements() *
                      moe::dtypeSize(static_cast<moe::DType>(output.dtype)));
  // Inputs and the result live in buffers on the session's device: the
  // inputs are copied there once, the result copied back after the runs.
  struct DeviceBuffers {
    std::vector<moert_buffer_t *> all;
    ~DeviceBuffers() {
      for (moert_buffer_t *b : all)
        moert_buffer_release(b);
    }
  } deviceBuffers;
  auto toDevice = [&](Buffer &b, bool copy,
                      moert_buffer_tensor_t &out) -> bool {
    moert_buffer_t *buffer = nullptr;
    if (failed(moert_buffer_alloc(device, b.bytes.size(), &buffer), msg))
      return false;
    deviceBuffers.all.push_back(buffer);
    if (copy &&
        failed(moert_buffer_write(buffer, 0, b.bytes.data(), b.bytes.size()),
               msg))
      return false;
    out = {b.dtype, static_cast<int32_t>(b.shape.size()), b.shape.data(),
           buffer, 0};
    return true;
  };
  std::vector<moert_buffer_tensor_t> inTensors(inputBuffers.size());
  for (size_t i = 0; i < inputBuffers.size(); ++i)
    if (!toDevice(inputBuffers[i], /*copy=*/true, inTensors[i]))
      return fail(msg);
  moert_buffer_tensor_t outTensor;
  if (!toDevice(output, /*copy=*/false, outTensor))
    return fail(msg);

  auto runOnce = [&]() -> bool {
    return failed(moert_session_enqueue(
                      session, fnName.c_str(), inTensors.data(),
                      static_cast<int32_t>(inTensors.size()), &outTensor, 1),
                  msg) ||
           failed(moert_session_synchronize(session), msg);
  };
  // Routing is counted over the first run, which sees each input once.
  if (!o.recordRouting.empty()) {
    uint32_t flags = MOERT_ROUTING_COUNTS;
    if (o.coselection)
      flags |= MOERT_ROUTING_COSELECTION;
    if (failed(moert_session_record_routing(session, flags), msg))
      return fail("--record-routing: " + msg);
  }
  if (runOnce())
    return failRank(msg);
  if (!o.recordRouting.empty() &&
      failed(moert_session_record_routing(session, MOERT_ROUTING_OFF), msg))
    return fail("--record-routing: " + msg);
  // Ranks that split the tokens each counted their own share; ranks that
  // each ran all of them counted the same tokens, and rank 0's are written.
  if (!o.recordRouting.empty() && split &&
      failed(moert_session_reduce_routing(session), msg))
    return failRank("--record-routing: " + msg);

  if (o.repeat > 0) {
    std::vector<double> ms;
    moert_exchange_stats_t exchange{};
    if (group.started() &&
        failed(moert_session_exchange_stats(session, /*reset=*/1, &exchange),
               msg))
      return failRank(msg);
    for (int r = 0; r < o.repeat; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      if (runOnce())
        return failRank(msg);
      auto t1 = std::chrono::steady_clock::now();
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    double med = median(ms);
    double lo = *std::min_element(ms.begin(), ms.end());
    double hi = *std::max_element(ms.begin(), ms.end());
    // Under mpirun, rank 0 reports its own latency for all the tokens.
    int64_t all = tokens;
    if (split)
      all = std::accumulate(rowsPerRank.begin(), rowsPerRank.end(), int64_t(0));
    if (!group.started() || group.rank() == 0)
      std::printf(
          "latency: median %.3f ms (min %.3f, max %.3f) over %d runs, "
          "%d threads, %lld tokens%s: %.0f tokens/s\n",
          med, lo, hi, o.repeat, moert_session_num_threads(session),
          static_cast<long long>(all),
          group.started()
              ? (" on " + std::to_string(group.size()) + " ranks").c_str()
              : "",
          all / (med / 1000.0));
    if (group.started()) {
      // What each rank spent in the exchanges of the runs (waiting for
      // later ranks included), gathered to rank 0.
      if (failed(moert_session_exchange_stats(session, 0, &exchange), msg))
        return failRank(msg);
      double mine[3] = {exchange.seconds * 1000.0 / o.repeat,
                        std::accumulate(ms.begin(), ms.end(), 0.0) / o.repeat,
                        static_cast<double>(exchange.bytes_sent) / o.repeat};
      std::vector<unsigned char> each;
      std::vector<int64_t> one(group.size(), 1);
      if (std::string err =
              group.gather(reinterpret_cast<const unsigned char *>(mine), one,
                           sizeof(mine), each);
          !err.empty())
        return failRank("gathering the exchange statistics: " + err);
      for (int32_t r = 0; group.rank() == 0 && r < group.size(); ++r) {
        double v[3];
        std::memcpy(v, each.data() + r * sizeof(v), sizeof(v));
        std::printf("exchange: rank %d: %.3f ms of %.3f ms per run (%.1f%%), "
                    "%.0f bytes sent per run\n",
                    r, v[0], v[1], v[1] > 0 ? 100.0 * v[0] / v[1] : 0.0, v[2]);
      }
    }
  }

  if (failed(moert_buffer_read(outTensor.buffer, 0, output.bytes.data(),
                               output.bytes.size()),
             msg))
    return failRank(msg);
  // Ranks that hold their experts' slots only send them to rank 0, which
  // verifies against every expert.
  std::map<std::string, moerun::WholeWeight> whole;
  if (o.verify && group.started())
    if (std::string err =
            gatherExpertSlots(group, artifact, session, fnName, whole);
        !err.empty())
      return failRank("--verify: " + err);
  if (group.started() && !split && group.rank() != 0)
    return 0;
  if (split) {
    // Rank 0 goes on with every rank's rows; the others are done.
    std::vector<unsigned char> all;
    int64_t rowBytes =
        output.shape.empty() || output.shape[0] == 0
            ? 0
            : static_cast<int64_t>(output.bytes.size()) / output.shape[0];
    if (rowBytes == 0 && !output.shape.empty() && results[0].rank > 0) {
      rowBytes = moe::dtypeSize(static_cast<moe::DType>(output.dtype));
      for (int32_t d = 1; d < results[0].rank; ++d)
        rowBytes *= output.shape[d];
    }
    if (std::string err =
            group.gather(output.bytes.data(), rowsPerRank, rowBytes, all);
        !err.empty())
      return failRank("gathering the outputs: " + err);
    if (group.rank() != 0)
      return 0;
    output.bytes = std::move(all);
    output.shape[0] = 0;
    for (int64_t rows : rowsPerRank)
      output.shape[0] += rows;
    inputBuffers = fullInputs;
    tokens = output.shape[0];
  }
  std::vector<double> actual = output.toDouble();
  printSummary(results[0].name, output.dtype, output.shape, actual);
  if (o.verify) {
    std::vector<double> expected;
    if (std::string err =
            verify(artifact, session, fnName, byName, whole, expected);
        !err.empty())
      return fail("--verify: " + err);
    // Against the reference as the output's dtype holds it (a value below
    // its smallest subnormal is 0 there), non-finite values compared by
    // class.
    moe::ref::OutputComparison cmp =
        moe::ref::compareOutput(actual, expected, roundingTo(output.dtype));
    double tol = o.tolerance > 0 ? o.tolerance : defaultTolerance(output.dtype);
    // bf16 dot products round the GEMMs' rows to bf16 (2^-9 relative).
    if (o.tolerance <= 0 && numericsFlag(artifact, "bf16_dot"))
      tol = std::max(tol, 1e-2);
    // int8 dot products round the rows to int8 with one scale per 32
    // elements: each element moves by up to half a step, scale / 2 =
    // max|x| / 254.
    if (o.tolerance <= 0 && numericsFlag(artifact, "int8_dot"))
      tol = std::max(tol, 3e-2);
    bool ok = cmp.relativeL2 <= tol && cmp.mismatches == 0;
    std::string nonFinite;
    if (cmp.nonFinite > 0 || cmp.mismatches > 0)
      nonFinite = ", " + std::to_string(cmp.nonFinite) +
                  " non-finite in the reference, " +
                  std::to_string(cmp.mismatches) + " place" +
                  (cmp.mismatches == 1 ? "" : "s") +
                  " finite in only one or of another class";
    std::printf("verify: relative L2 error %.3e vs the float64 reference "
                "(tolerance %.0e%s): %s\n",
                cmp.relativeL2, tol, nonFinite.c_str(), ok ? "ok" : "FAILED");
    if (!ok) {
      if (!o.output.empty())
        return fail("output '" + o.output +
                    "' not written because verification failed");
      return 1;
    }
  }

  if (!o.output.empty()) {
    // Restore leading dimensions of the first rank-changed input.
    std::vector<int64_t> shape = output.shape;
    if (!inputBuffers.empty() && results[0].rank == 2 &&
        inputBuffers[0].userShape.size() != 2 &&
        !inputBuffers[0].userShape.empty()) {
      shape = inputBuffers[0].userShape;
      shape.back() = output.shape[1];
    }
    std::string tmp = o.output + ".tmp-moe-run";
    if (std::string err =
            moe::npy::write(tmp, shape, actual, moe::npy::DType::F32);
        !err.empty()) {
      std::remove(tmp.c_str());
      return fail(err);
    }
    if (std::rename(tmp.c_str(), o.output.c_str()) != 0) {
      std::remove(tmp.c_str());
      return fail("cannot write '" + o.output + "': " + std::strerror(errno));
    }
  }
  if (!o.recordRouting.empty()) {
    if (failed(moert_session_write_routing(session, o.recordRouting.c_str()),
               msg))
      return fail("--record-routing: " + msg);
    std::printf("routing: %d site(s) of '%s' recorded in %s\n",
                moert_artifact_routing_site_count(artifact, fnName.c_str()),
                fnName.c_str(), o.recordRouting.c_str());
  }
  return 0;
}
