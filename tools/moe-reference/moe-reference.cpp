//===- moe-reference.cpp - evaluate a moe.layer in float64 ----------------===//
//
// Command-line front end of the reference evaluator: a config JSON and .npy
// operands in, the layer output as .npy out. Plain C++ with hand-parsed argv,
// like the rest of the runtime side: no LLVM.
//
//===----------------------------------------------------------------------===//

#include "runtime/reference/ConfigJson.h"
#include "runtime/reference/Reference.h"
#include "runtime/support/FileIO.h"
#include "runtime/support/Npy.h"
#include "runtime/support/Version.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

using namespace moe;

namespace {

const char *const kUsage =
    R"(USAGE: moe-reference --config CFG.json --input ROLE=FILE.npy [--input ...]
                     -o OUT.npy [--dtype f32|f64] [--print-routing]

Evaluates one MoE layer (the semantics of moe.layer) in float64, straight from
its definition; the oracle that numerical tests compare against.

OPTIONS:
  --config FILE        layer config JSON:
                         {"routing": {"k": 2, "scoring": "softmax"|"sigmoid",
                                      "order": "score_then_topk"|"topk_then_score"
                                               |"sparsemixer",
                                      "sparsemixer_eps": 0.01,
                                      "scale_inputs": false,
                                      "renormalize": false,
                                      "renorm_epsilon": 0.0, "scale": 1.0,
                                      "n_group": 1, "topk_group": 1,
                                      "group_score": "max"|"top2_sum"},
                          "activation": {"kind": "swiglu"|"geglu"|"relu"|"relu2"|
                                                 "gelu"|"gelu_tanh"|"silu"|"identity",
                                         "alpha": 1.0, "beta": 0.0, "limit": 7.0},
                          "gate_up_layout": "interleaved"|"concatenated"}
                       routing.k and activation.kind are required.
  --input ROLE=FILE    bind a .npy file (little-endian, C order; <f2 <f4 <f8
                       <i4 <i8, read as float64) to an operand role; repeat.
  -o, --output FILE    the output .npy, shaped like hidden. Written only when
                       everything succeeded.
  --dtype f32|f64      output element type (default f32).
  --print-routing      print each token's experts and routing weights.
  -h, --help           this text.
  --version            the moec and LLVM versions it was built with.
  Options taking a value also accept --opt=VALUE.

ROLES (shapes; E experts, f expert width, fs shared width):
  hidden [T, d] or [..., d]   (leading dimensions are flattened to T and
                              restored in the output)
  router_weight [E, d]  router_bias [E]  |  router_logits [T, E] (or [..., E])
  correction_bias [E]   (selection-only bias, order score_then_topk)
  gated kinds (swiglu, geglu):  gate [E, f, d] and up [E, f, d], or
                                gate_up [E, 2f, d] (rows per gate_up_layout)
  elementwise kinds:            up [E, f, d]
  down [E, d, f]
  gate_bias [E, f]  up_bias [E, f]  gate_up_bias [E, 2f]  down_bias [E, d]
  shared_up [fs, d]  shared_gate [fs, d] (gated kinds)  shared_down [d, fs]
  shared_gate_up [2fs, d] (gated kinds, for shared_gate and shared_up; rows
                           per gate_up_layout)
  shared_expert_gate [1, d]

Errors go to stderr as "moe-reference: error: ..." with exit code 1.
)";

int error(const std::string &message) {
  std::fprintf(stderr, "moe-reference: error: %s\n", message.c_str());
  return 1;
}

struct Options {
  std::string config, output;
  std::vector<std::pair<std::string, std::string>> inputs; // role, file
  npy::DType dtype = npy::DType::F32;
  bool printRouting = false;
  bool help = false;
  bool version = false;
};

std::string joinRoles() {
  std::string s;
  for (const std::string &r : ref::roleNames())
    s += (s.empty() ? "" : ", ") + r;
  return s;
}

/// Returns "" or the problem.
std::string parseArgs(int argc, char **argv, Options &o) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    bool inlineValue = false;
    if (arg.rfind("--", 0) == 0) {
      size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        inlineValue = true;
      }
    }
    auto takeValue = [&](std::string &out) -> std::string {
      if (!inlineValue) {
        if (i + 1 >= argc)
          return "option '" + arg + "' needs a value";
        value = argv[++i];
      }
      out = value;
      return "";
    };
    auto once = [&](std::string &out) -> std::string {
      if (!out.empty())
        return "option '" + arg + "' given twice";
      std::string err = takeValue(out);
      if (err.empty() && out.empty())
        return "option '" + arg + "' needs a non-empty value";
      return err;
    };
    std::string err;
    if (arg == "-h" || arg == "--help") {
      o.help = true;
    } else if (arg == "--version" && !inlineValue) {
      o.version = true;
    } else if (arg == "--print-routing" && !inlineValue) {
      o.printRouting = true;
    } else if (arg == "--config") {
      err = once(o.config);
    } else if (arg == "-o" || arg == "--output") {
      err = once(o.output);
    } else if (arg == "--dtype") {
      std::string d;
      err = takeValue(d);
      if (err.empty() && d == "f32")
        o.dtype = npy::DType::F32;
      else if (err.empty() && d == "f64")
        o.dtype = npy::DType::F64;
      else if (err.empty())
        err = "--dtype: unknown type '" + d + "' (expected f32 or f64)";
    } else if (arg == "--input") {
      std::string spec;
      err = takeValue(spec);
      size_t eq = spec.find('=');
      if (err.empty() &&
          (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()))
        err = "--input expects ROLE=FILE, got '" + spec + "'";
      if (!err.empty())
        return err;
      std::string role = spec.substr(0, eq);
      bool known = false;
      for (const std::string &r : ref::roleNames())
        known = known || r == role;
      if (!known)
        return "--input: unknown role '" + role + "' (roles: " + joinRoles() +
               ")";
      for (const auto &in : o.inputs)
        if (in.first == role)
          return "--input: role '" + role + "' given twice";
      o.inputs.emplace_back(role, spec.substr(eq + 1));
    } else {
      err = "unknown argument '" + std::string(argv[i]) + "' (see --help)";
    }
    if (!err.empty())
      return err;
  }
  if (o.help || o.version)
    return "";
  if (o.config.empty())
    return "missing --config (see --help)";
  if (o.output.empty())
    return "missing -o OUT.npy (see --help)";
  return "";
}

/// Collapses all but the last dimension: [..., n] -> [prod(...), n].
void flattenLeading(ref::Array &a) {
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < a.shape.size(); ++i)
    rows *= a.shape[i];
  a.shape = {rows, a.shape.back()};
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int run(const Options &o) {
  std::string text;
  if (std::string err = moe::readFile(o.config, text); !err.empty())
    return error("cannot read config '" + o.config + "': " + err);
  ref::LayerConfig config;
  if (std::string err = ref::parseConfig(text, config); !err.empty())
    return error("config '" + o.config + "': " + err);

  ref::LayerOperands ops;
  std::map<std::string, std::string> fileOf;
  bool haveHidden = false;
  std::vector<int64_t> leading;
  for (const auto &[role, file] : o.inputs) {
    npy::Array a;
    if (std::string err = npy::read(file, a); !err.empty())
      return error("input '" + role + "': " + err);
    fileOf[role] = file;
    ref::Array arr{std::move(a.shape), std::move(a.data)};
    if (role == "hidden") {
      if (arr.shape.size() < 2)
        return error("input 'hidden' (" + file +
                     "): expected shape [T, d] or [..., d], got " +
                     shapeString(arr.shape));
      leading.assign(arr.shape.begin(), arr.shape.end() - 1);
      flattenLeading(arr);
      ops.hidden = std::move(arr);
      haveHidden = true;
      continue;
    }
    if (role == "router_logits" && arr.shape.size() > 2)
      flattenLeading(arr);
    *ref::optionalOperand(ops, role) = std::move(arr);
  }
  if (!haveHidden)
    return error("missing required input 'hidden' (--input hidden=FILE.npy)");

  if (std::string err = ref::validate(config, ops); !err.empty()) {
    // Point at the file behind the role the message starts with.
    size_t colon = err.find(':');
    if (colon != std::string::npos && fileOf.count(err.substr(0, colon)))
      err += " (input '" + err.substr(0, colon) + "' from " +
             fileOf[err.substr(0, colon)] + ")";
    return error(err);
  }

  ref::Array out;
  if (std::string err = ref::evaluate(config, ops, out); !err.empty())
    return error(err);

  if (o.printRouting) {
    ref::Routing r = ref::route(config, ops);
    int64_t k = config.routing.k;
    for (int64_t t = 0; t < ops.hidden.shape[0]; ++t) {
      std::printf("token %lld:", static_cast<long long>(t));
      for (int64_t j = 0; j < k; ++j)
        std::printf(" expert %lld w=%.17g%s",
                    static_cast<long long>(r.experts[t * k + j]),
                    r.weights[t * k + j], j + 1 < k ? "," : "");
      std::printf("\n");
    }
  }

  std::vector<int64_t> shape = leading;
  shape.push_back(ops.hidden.shape[1]);
  if (std::string err = npy::write(o.output, shape, out.data, o.dtype);
      !err.empty())
    return error("cannot write output: " + err);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  if (std::string err = parseArgs(argc, argv, o); !err.empty())
    return error(err);
  if (o.help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (o.version) {
    std::fputs(MOEC_VERSION_TEXT, stdout);
    return 0;
  }
  return run(o);
}
