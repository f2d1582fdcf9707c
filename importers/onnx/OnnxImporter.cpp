//===- OnnxImporter.cpp - ONNX MoE graphs to moe IR -----------------------===//
//
// Walks the graph in order. Values computed only from initializers are
// folded; values computed from graph inputs are tracked symbolically
// through the few ops exported graphs use around an MoE node (Reshape and
// Cast of the hidden states, MatMul + Add for the router logits). Each
// com.microsoft.MoE / QMoE node becomes a moe.layer with ONNX Runtime's
// CPU semantics, as docs/Importing.md states them and the tests check
// against the onnxruntime wheel (test/importers/onnx-ort.test).
//
// A graph that is one MoE layer (one MoE node, whose output is the graph's
// output) becomes one function of the graph's inputs, and any other op is
// an error. A whole model (MoE nodes among attention, norms, ...) becomes
// one function per MoE node, of the node's own inputs: the outputs of ops
// outside the MoE pattern are opaque values the function takes as inputs,
// named after them.
//
//===----------------------------------------------------------------------===//
#include "importers/onnx/OnnxImporter.h"
#include "dialect/MoEOps.h"
#include "importers/onnx/OnnxTensors.h"
#include "importers/onnx/QmoeWeight.h"
#include "runtime/support/FileIO.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <set>

using namespace mlir;
using namespace mlir::moe;
using namespace ::moe::onnximport;
using onnx::TensorProto;

namespace {

/// A value computed from graph inputs.
struct Dyn {
  enum Kind { Input, Logits, Output } kind = Input;
  std::string input;  // the graph input it comes from
  int32_t type = 0;   // element type
  int64_t width = -1; // last dimension (-1: unknown)
  // Logits = MatMul(hidden, router) + routerBias, for kind Logits.
  const Tensor *router = nullptr;
  std::string routerName;
  const Tensor *routerBias = nullptr;
  std::string routerBiasName;
};

/// The MoE / QMoE node, resolved.
struct MoENode {
  const onnx::NodeProto *node = nullptr;
  bool quantized = false;
  Dyn hidden, logits;
  std::string activation = "relu";
  int64_t k = 1;
  bool normalize = false;
  int64_t swigluFusion = 0;
  std::optional<double> limit;
  double alpha = 1.0, beta = 0.0;
  int64_t bits = 4, blockSize = 0;
  // Inputs by position (null when absent).
  std::vector<const Tensor *> in;
  std::vector<std::string> inNames;
};

std::string where(const onnx::NodeProto &n) {
  return "node '" + n.name() + "' (" +
         (n.domain().empty() ? "" : n.domain() + ".") + n.op_type() + ")";
}

Type mlirType(MLIRContext *ctx, int32_t t) {
  if (t == TensorProto::FLOAT)
    return Float32Type::get(ctx);
  if (t == TensorProto::FLOAT16)
    return Float16Type::get(ctx);
  if (t == TensorProto::BFLOAT16)
    return BFloat16Type::get(ctx);
  return nullptr;
}

std::string safetensorsType(int32_t t) {
  return t == TensorProto::FLOAT16    ? "F16"
         : t == TensorProto::BFLOAT16 ? "BF16"
                                      : "F32";
}

class Importer {
public:
  Importer(MLIRContext *ctx, const std::string &path) : ctx(ctx), path(path) {
    size_t slash = path.rfind('/');
    dir = slash == std::string::npos ? "." : path.substr(0, slash);
  }

  OwningOpRef<ModuleOp> run(ImportedWeights &weights);

private:
  LogicalResult fail(const std::string &msg) {
    if (!quiet)
      emitError(FileLineColLoc::get(ctx, path, 0, 0)) << msg;
    return failure();
  }
  LogicalResult walkNode(const onnx::NodeProto &n);
  LogicalResult walkSupported(const onnx::NodeProto &n);
  LogicalResult resolveMoE(const onnx::NodeProto &n);

  MLIRContext *ctx;
  std::string path, dir;
  onnx::ModelProto model;
  std::map<std::string, Tensor> consts;
  std::map<std::string, Dyn> dyns;
  std::vector<MoENode> moes;
  // A whole model: one function per MoE node, of its own inputs.
  bool whole = false;
  // While walking a node of a whole model that may be opaque: failures are
  // not diagnosed.
  bool quiet = false;
  std::map<std::string, const onnx::TypeProto_Tensor *> declaredTypes;

  void makeOpaque(const std::string &name);
  bool isSingleLayer() const;
  LogicalResult buildFunction(const MoENode &m, const std::string &fname,
                              ModuleOp module, ImportedWeights &weights);
};

/// Defines tensor `name` as an opaque value: a function input of that name,
/// of the type the graph declares for it, if any.
void Importer::makeOpaque(const std::string &name) {
  if (name.empty())
    return;
  Dyn d;
  d.input = name;
  auto it = declaredTypes.find(name);
  if (it != declaredTypes.end()) {
    d.type = it->second->elem_type();
    if (it->second->has_shape() && it->second->shape().dim_size() > 0) {
      const auto &last =
          it->second->shape().dim(it->second->shape().dim_size() - 1);
      if (last.has_dim_value())
        d.width = last.dim_value();
    }
  }
  dyns[name] = d;
}

/// Whether the graph is one MoE layer: one MoE / QMoE node, and one graph
/// output that is that node's output, through Reshape and Cast at most.
bool Importer::isSingleLayer() const {
  const onnx::GraphProto &g = model.graph();
  std::map<std::string, const onnx::NodeProto *> producer;
  int count = 0;
  for (const onnx::NodeProto &n : g.node()) {
    bool isMoE = n.domain() == "com.microsoft" &&
                 (n.op_type() == "MoE" || n.op_type() == "QMoE");
    count += isMoE;
    for (const std::string &o : n.output())
      producer[o] = &n;
  }
  if (count != 1 || g.output_size() != 1)
    return false;
  std::string name = g.output(0).name();
  for (size_t steps = 0; steps <= producer.size(); ++steps) {
    auto it = producer.find(name);
    if (it == producer.end())
      return false;
    const onnx::NodeProto &n = *it->second;
    if (n.domain() == "com.microsoft")
      return n.op_type() == "MoE" || n.op_type() == "QMoE";
    if ((n.op_type() != "Reshape" && n.op_type() != "Cast") ||
        n.input_size() < 1)
      return false;
    name = n.input(0);
  }
  return false;
}

LogicalResult Importer::walkNode(const onnx::NodeProto &n) {
  // ONNX graphs are single-assignment; a name defined again would replace
  // a value earlier nodes (or a resolved MoE node) refer to.
  for (const std::string &o : n.output())
    if (!o.empty() && (consts.count(o) || dyns.count(o)))
      return fail(where(n) + ": output '" + o + "' is already defined");
  const std::string &op = n.op_type();
  bool msDomain = n.domain() == "com.microsoft";
  if (msDomain && (op == "MoE" || op == "QMoE"))
    return resolveMoE(n);
  if (whole) {
    // What the single-layer rules cannot track is an opaque value.
    quiet = true;
    bool tracked = succeeded(walkSupported(n));
    quiet = false;
    if (!tracked)
      for (const std::string &o : n.output())
        makeOpaque(o);
    return success();
  }
  return walkSupported(n);
}

LogicalResult Importer::walkSupported(const onnx::NodeProto &n) {
  const std::string &op = n.op_type();
  static const std::set<std::string> ordinary = {
      "MatMul", "Cast", "Reshape", "Unsqueeze", "Concat", "Transpose", "Add"};
  if (!(n.domain().empty() || n.domain() == "ai.onnx") || !ordinary.count(op))
    return fail(where(n) +
                ": unsupported op (supported: com.microsoft.MoE, "
                "com.microsoft.QMoE, MatMul, Cast, Reshape, Unsqueeze, "
                "Concat, Transpose, Add)");
  if (n.output_size() != 1)
    return fail(where(n) + ": expected one output");
  std::vector<const Tensor *> cin;
  std::vector<const Dyn *> din;
  for (const std::string &name : n.input()) {
    auto c = consts.find(name);
    auto d = dyns.find(name);
    cin.push_back(c == consts.end() ? nullptr : &c->second);
    din.push_back(d == dyns.end() ? nullptr : &d->second);
    if (!name.empty() && !cin.back() && !din.back())
      return fail(where(n) + ": input '" + name + "' is not defined");
  }
  const std::string &out = n.output(0);
  bool anyDyn = false;
  for (const Dyn *d : din)
    anyDyn |= d != nullptr;
  if (!anyDyn) {
    Tensor t;
    if (std::string err = foldConstantNode(n, cin, t); !err.empty())
      return fail(err);
    consts[out] = std::move(t);
    return success();
  }
  // Ops on values computed from graph inputs.
  static const Dyn kNone;
  const Dyn &d0 = din[0] ? *din[0] : kNone;
  if ((op == "Reshape" || op == "Cast") && din[0]) {
    Dyn r = d0;
    if (op == "Cast") {
      int32_t to = 0;
      for (const onnx::AttributeProto &a : n.attribute())
        if (a.name() == "to")
          to = static_cast<int32_t>(a.i());
      if (!isFloatType(to))
        return fail(where(n) + ": casts the " +
                    (d0.kind == Dyn::Logits ? "logits" : "hidden states") +
                    " to " + typeName(to) +
                    "; only float and float16 are "
                    "supported");
      r.type = to;
    } else {
      if (n.input_size() < 2 || !cin[1])
        return fail(where(n) + ": the target shape must be a constant");
      std::vector<double> spec = cin[1]->values();
      int64_t last = -2;
      if (!spec.empty() && !::moe::onnximport::asInteger(spec.back(), last))
        return fail(where(n) + ": the target shape holds " +
                    std::to_string(spec.back()) + ", not a dimension");
      // Flattening or restoring leading dimensions keeps rows intact; the
      // width itself must stay (0 copies it).
      bool keepsRows =
          last == 0 || (d0.width >= 0 ? last == d0.width : last > 0);
      if (!keepsRows)
        return fail(
            where(n) +
            ": a Reshape that changes the last "
            "dimension of the " +
            std::string(d0.kind == Dyn::Logits ? "logits" : "hidden states") +
            " is not supported");
      if (last > 0)
        r.width = last;
    }
    dyns[out] = r;
    return success();
  }
  if (op == "MatMul" && din.size() == 2 && din[0] && !din[1] && cin[1] &&
      d0.kind == Dyn::Input) {
    const Tensor &w = *cin[1];
    if (w.shape.size() != 2 || !isFloatType(w.type) ||
        (d0.width >= 0 && w.shape[0] != d0.width))
      return fail(where(n) + ": the router weight must be a float matrix "
                             "[hidden, experts]");
    Dyn r;
    r.kind = Dyn::Logits;
    r.input = d0.input;
    r.type = d0.type;
    r.width = w.shape[1];
    r.router = &w;
    r.routerName = n.input(1);
    dyns[out] = r;
    return success();
  }
  if (op == "Add" && din.size() == 2 &&
      (din[0] != nullptr) != (din[1] != nullptr)) {
    const Dyn &d = din[0] ? *din[0] : *din[1];
    const Tensor *b = din[0] ? cin[1] : cin[0];
    const std::string &bName = din[0] ? n.input(1) : n.input(0);
    if (d.kind == Dyn::Logits && d.router && !d.routerBias && b &&
        b->numElements() == d.width && isFloatType(b->type)) {
      Dyn r = d;
      r.routerBias = b;
      r.routerBiasName = bName;
      dyns[out] = r;
      return success();
    }
  }
  return fail(where(n) + ": this use on values computed from the graph "
                         "inputs is not supported (only Reshape and Cast of "
                         "the hidden states or logits, and MatMul + Add for "
                         "the router logits)");
}

LogicalResult Importer::resolveMoE(const onnx::NodeProto &n) {
  MoENode m;
  m.node = &n;
  m.quantized = n.op_type() == "QMoE";
  for (int i = 0; i < n.input_size(); ++i) {
    const std::string &name = n.input(i);
    auto c = consts.find(name);
    m.in.push_back(name.empty() || c == consts.end() ? nullptr : &c->second);
    m.inNames.push_back(name);
    if (i >= 2 && !name.empty() && !m.in.back())
      return fail(where(n) + ": input " + std::to_string(i) + " ('" + name +
                  "') must be an initializer (weights are bound at load "
                  "time)");
  }
  m.in.resize(15, nullptr);
  m.inNames.resize(15);
  if (n.input_size() < 2 || !dyns.count(n.input(0)) || !dyns.count(n.input(1)))
    return fail(where(n) + (whole ? ": input and router_probs must be "
                                    "computed, not constant"
                                  : ": input and router_probs must come "
                                    "from the graph inputs"));
  m.hidden = dyns[n.input(0)];
  m.logits = dyns[n.input(1)];
  if (m.hidden.kind != Dyn::Input)
    return fail(where(n) + ": input 0 must be the hidden states");
  if (m.logits.kind == Dyn::Logits && m.logits.input != m.hidden.input)
    return fail(where(n) + ": the router logits are computed from another "
                           "tensor than the MoE input");
  if (m.logits.kind == Dyn::Input && m.logits.input == m.hidden.input)
    return fail(where(n) + ": router_probs is the MoE input itself");
  // Attributes.
  for (const onnx::AttributeProto &a : n.attribute()) {
    const std::string &k = a.name();
    if (k == "activation_type")
      m.activation = a.s();
    else if (k == "k")
      m.k = a.i();
    else if (k == "normalize_routing_weights")
      m.normalize = a.i() != 0;
    else if (k == "use_sparse_mixer") {
      // The model asks for Phi-3.5-MoE's sparsemixer routing. ONNX Runtime's
      // CPU kernel ignores the attribute and computes softmax top-k: which
      // layer such a file means is ambiguous, so it is refused rather than
      // computed either way.
      if (a.i() != 0)
        return fail(where(n) + ": use_sparse_mixer = " + std::to_string(a.i()) +
                    " asks for Phi-3.5-MoE's sparsemixer routing, which "
                    "ONNX Runtime's CPU kernel ignores (it computes softmax "
                    "top-k); refused as ambiguous (Phi-3.5-MoE's Hugging "
                    "Face checkpoints import with sparsemixer)");
    } else if (k == "swiglu_fusion")
      m.swigluFusion = a.i();
    else if (k == "swiglu_limit") {
      if (std::isfinite(a.f()))
        m.limit = a.f();
    } else if (k == "activation_alpha")
      m.alpha = a.f();
    else if (k == "activation_beta")
      m.beta = a.f();
    else if (m.quantized && k == "expert_weight_bits")
      m.bits = a.i();
    else if (m.quantized && k == "block_size")
      m.blockSize = a.i();
    else
      return fail(where(n) + ": unsupported attribute '" + k + "'");
  }
  static const std::set<std::string> acts = {"relu", "gelu", "silu", "identity",
                                             "swiglu"};
  if (!acts.count(m.activation))
    return fail(where(n) + ": unsupported activation_type '" + m.activation +
                "' (relu, gelu, silu, identity, swiglu)");
  if (m.activation == "swiglu" && m.swigluFusion != 1)
    return fail(where(n) + ": swiglu needs swiglu_fusion = 1 (interleaved "
                           "gate and up rows), as in ONNX Runtime");
  size_t fc3 = m.quantized ? 8 : 6;
  for (size_t i = fc3; i < fc3 + (m.quantized ? 3 : 2); ++i)
    if (!m.inNames[i].empty())
      return fail(where(n) + ": fc3 experts are not supported (ONNX "
                             "Runtime's CPU kernel does not implement them)");
  if (m.quantized && !m.inNames[13].empty())
    return fail(where(n) + ": fc3_zero_points are not supported");
  if (m.quantized && !m.inNames[14].empty())
    return fail(where(n) + ": router_weights (input 14) is not supported");
  if (m.quantized && !(m.bits == 2 || m.bits == 4 || m.bits == 8))
    return fail(where(n) + ": expert_weight_bits must be 2, 4 or 8");
  if (m.quantized && m.blockSize != 0 &&
      (m.blockSize < 16 || (m.blockSize & (m.blockSize - 1))))
    return fail(where(n) + ": block_size must be a power of 2 >= 16");
  moes.push_back(std::move(m));
  for (const std::string &o : n.output())
    if (whole) {
      makeOpaque(o);
    } else if (!o.empty()) {
      Dyn r = moes.back().hidden;
      r.kind = Dyn::Output;
      dyns[o] = r;
    }
  return success();
}

OwningOpRef<ModuleOp> Importer::run(ImportedWeights &weights) {
  std::string bytes;
  if (std::string err = ::moe::readFile(path, bytes); !err.empty()) {
    (void)fail("cannot read: " + err);
    return nullptr;
  }
  if (!model.ParseFromString(bytes)) {
    (void)fail("malformed ONNX protobuf (cannot parse a ModelProto)");
    return nullptr;
  }
  const onnx::GraphProto &g = model.graph();
  for (const onnx::TensorProto &t : g.initializer()) {
    Tensor tensor;
    if (std::string err = decodeInitializer(t, dir, tensor); !err.empty()) {
      (void)fail(err);
      return nullptr;
    }
    consts[t.name()] = std::move(tensor);
  }
  for (const onnx::ValueInfoProto &v : g.input()) {
    if (consts.count(v.name()))
      continue;
    Dyn d;
    d.input = v.name();
    const onnx::TypeProto_Tensor &tt = v.type().tensor_type();
    d.type = tt.elem_type();
    if (tt.has_shape() && tt.shape().dim_size() > 0) {
      const auto &last = tt.shape().dim(tt.shape().dim_size() - 1);
      if (last.has_dim_value())
        d.width = last.dim_value();
    }
    dyns[v.name()] = d;
  }
  for (const onnx::ValueInfoProto &v : g.value_info())
    declaredTypes[v.name()] = &v.type().tensor_type();
  for (const onnx::ValueInfoProto &v : g.output())
    declaredTypes[v.name()] = &v.type().tensor_type();
  bool anyMoE = false;
  for (const onnx::NodeProto &n : g.node())
    anyMoE |= n.domain() == "com.microsoft" &&
              (n.op_type() == "MoE" || n.op_type() == "QMoE");
  whole = anyMoE && !isSingleLayer();
  for (const onnx::NodeProto &n : g.node())
    if (failed(walkNode(n)))
      return nullptr;
  if (moes.empty()) {
    (void)fail("no com.microsoft.MoE or QMoE node");
    return nullptr;
  }
  OwningOpRef<ModuleOp> module =
      ModuleOp::create(FileLineColLoc::get(ctx, path, 0, 0));
  if (!whole) {
    if (g.output_size() != 1 || !dyns.count(g.output(0).name()) ||
        dyns[g.output(0).name()].kind != Dyn::Output) {
      (void)fail("the graph must have one output, the MoE node's (possibly "
                 "reshaped or cast)");
      return nullptr;
    }
    // The graph's name, if it is a symbol name.
    std::string fname = g.name();
    bool valid = !fname.empty() && (isalpha(fname[0]) || fname[0] == '_');
    for (char c : fname)
      valid &= isalnum(static_cast<unsigned char>(c)) || c == '_';
    if (failed(buildFunction(moes[0], valid ? fname : "moe", *module, weights)))
      return nullptr;
  } else {
    // One function per MoE node, named after it: its name's letters,
    // digits and underscores, the others as '_', without leading or
    // trailing ones (e.g. "/model/layers.0/moe/MoE" is
    // "model_layers_0_moe_MoE"); "moe_N" for the N-th node (from 0) when
    // that leaves nothing; "_2", "_3", ... appended to a repeated name.
    std::set<std::string> used;
    for (auto [i, m] : llvm::enumerate(moes)) {
      std::string fname;
      for (char c : m.node->name())
        fname += isalnum(static_cast<unsigned char>(c)) ? c : '_';
      size_t first = fname.find_first_not_of('_');
      fname =
          first == std::string::npos
              ? std::string()
              : fname.substr(first, fname.find_last_not_of('_') - first + 1);
      if (fname.empty() || isdigit(static_cast<unsigned char>(fname[0])))
        fname = "moe_" + (fname.empty() ? std::to_string(i) : fname);
      std::string unique = fname;
      for (int suffix = 2; used.count(unique); ++suffix)
        unique = fname + "_" + std::to_string(suffix);
      used.insert(unique);
      if (failed(buildFunction(m, unique, *module, weights)))
        return nullptr;
    }
  }
  if (failed(verify(*module)))
    return nullptr;
  return module;
}

LogicalResult Importer::buildFunction(const MoENode &m,
                                      const std::string &fname, ModuleOp module,
                                      ImportedWeights &weights) {
  const onnx::NodeProto &n = *m.node;
  auto bad = [&](const std::string &msg) {
    return fail(where(n) + ": " + msg);
  };
  // An opaque value of undeclared type has the node's type T: that of the
  // expert weights (MoE) or of their scales (QMoE).
  const Tensor *typed = m.in[m.quantized ? 3 : 2];
  int32_t hiddenOnnx = m.hidden.type, logitsType = m.logits.type;
  if (typed && !hiddenOnnx)
    hiddenOnnx = typed->type;
  if (typed && !logitsType)
    logitsType = typed->type;
  Type elt = mlirType(ctx, hiddenOnnx);
  if (!elt || !isFloatType(hiddenOnnx))
    return bad("the hidden states are " + typeName(hiddenOnnx) +
               "; float and float16 are supported");
  const Tensor *fc1 = m.in[2];
  const Tensor *fc2 = m.quantized ? m.in[5] : m.in[4];
  if (!fc1 || !fc2)
    return bad("fc1_experts_weights and fc2_experts_weights are required");
  bool gated = m.activation == "swiglu";
  int64_t fusion = gated ? 2 : 1;
  // Plain, dequantized or block-quantized (kept) expert weights
  // [E, out, in].
  Tensor w1, w2;
  std::optional<QuantFormat> keep1, keep2;
  std::string blocks1, blocks2;
  if (m.quantized) {
    if (!m.in[3] || !m.in[6])
      return bad("fc1_scales and fc2_scales are required");
    int64_t d = fc2->shape.size() == 3 ? fc2->shape[1] : -1;
    QmoeWeight q1, q2;
    if (std::string e =
            q1.check("fc1", *fc1, *m.in[3], m.in[11], m.bits, m.blockSize, d);
        !e.empty())
      return bad(e);
    int64_t f = q1.rows() / fusion;
    if (std::string e =
            q2.check("fc2", *fc2, *m.in[6], m.in[12], m.bits, m.blockSize, f);
        !e.empty())
      return bad(e);
    // Both kept as blocks (each in its own format: u8z, u4z, u2z and
    // their blocks of 128 and of 16) or both dequantized to f32.
    auto shaped = [](int64_t E, int64_t rows, int64_t cols) {
      Tensor t;
      t.shape = {E, rows, cols};
      return t;
    };
    keep1 = q1.blockFormat();
    keep2 = q2.blockFormat();
    if (keep1 && keep2) {
      w1 = shaped(q1.experts(), q1.rows(), d);
      w2 = shaped(q2.experts(), q2.rows(), f);
      blocks1 = q1.blocksOf(*keep1);
      blocks2 = q2.blocksOf(*keep2);
    } else {
      keep1 = keep2 = std::nullopt;
      w1 = q1.dequantized();
      w2 = q2.dequantized();
    }
  } else {
    if (!isFloatType(fc1->type) || fc1->type != fc2->type)
      return bad("expert weights must be float or float16 of one type");
    w1 = *fc1;
    w2 = *fc2;
  }
  if (w1.shape.size() != 3 || w2.shape.size() != 3)
    return bad("expert weights must be [E, out, in]");
  int64_t E = w1.shape[0], d = w1.shape[2], f = w2.shape[2];
  if (w1.shape[1] != fusion * f || w2.shape[0] != E || w2.shape[1] != d)
    return bad("fc1 [" + std::to_string(w1.shape[0]) + ", " +
               std::to_string(w1.shape[1]) + ", " + std::to_string(d) +
               "] and fc2 [" + std::to_string(w2.shape[0]) + ", " +
               std::to_string(w2.shape[1]) + ", " + std::to_string(f) +
               "] disagree (fc1 must be [E, " + std::string(gated ? "2*" : "") +
               "f, d], fc2 [E, d, f])");
  if (m.hidden.width >= 0 && m.hidden.width != d)
    return bad("the input has " + std::to_string(m.hidden.width) +
               " features but the experts take " + std::to_string(d));
  if (m.k < 1 || m.k > E)
    return bad("k = " + std::to_string(m.k) + " must be in [1, " +
               std::to_string(E) + "]");

  // Arguments: the graph inputs, then the weights.
  OpBuilder b(ctx);
  Location loc = NameLoc::get(b.getStringAttr(n.name()),
                              FileLineColLoc::get(ctx, path, 0, 0));
  SmallVector<Type> argTypes;
  SmallVector<std::string> argNames;
  auto hiddenType = RankedTensorType::get({ShapedType::kDynamic, d}, elt);
  argTypes.push_back(hiddenType);
  argNames.push_back(m.hidden.input);
  bool logitsInput = m.logits.kind == Dyn::Input;
  if (logitsInput) {
    Type le = mlirType(ctx, logitsType);
    if (!le || !isFloatType(logitsType))
      return bad("router_probs must be float or float16");
    argTypes.push_back(RankedTensorType::get({ShapedType::kDynamic, E}, le));
    argNames.push_back(m.logits.input);
  }
  std::map<std::string, unsigned> roleArg;
  auto addWeight = [&](const std::string &role, const std::string &name,
                       const Tensor &t) {
    // Functions share the weights they name alike (the same initializer).
    bool written = false;
    for (const ImportedWeights::Entry &e : weights.tensors)
      written |= e.name == name;
    if (!written)
      weights.tensors.push_back(
          {name, safetensorsType(t.type), t.shape, t.bytes});
    roleArg[role] = argTypes.size();
    argTypes.push_back(RankedTensorType::get(t.shape, mlirType(ctx, t.type)));
    argNames.push_back(name);
  };
  if (!logitsInput) {
    // MatMul's [d, E] is moe.layer's [E, d].
    const Tensor &w = *m.logits.router;
    if (w.shape[0] != d || w.shape[1] != E)
      return bad("the router MatMul weight '" + m.logits.routerName +
                 "' must be [" + std::to_string(d) + ", " + std::to_string(E) +
                 "]");
    Tensor rt;
    std::vector<double> v = w.values(), t(v.size());
    for (int64_t i = 0; i < d; ++i)
      for (int64_t e = 0; e < E; ++e)
        t[e * d + i] = v[i * E + e];
    rt = Tensor::fromValues(w.type, {E, d}, t);
    addWeight("router_weight", m.logits.routerName + ".T", rt);
    if (m.logits.routerBias) {
      Tensor bias = *m.logits.routerBias;
      bias.shape = {E};
      addWeight("router_bias", m.logits.routerBiasName, bias);
    }
  }
  // A kept QMoE weight is its blocks, stored as bytes (U8 [E, rows, row
  // bytes]), named after the initializer and the format.
  auto addBlocks = [&](const std::string &role, const std::string &name,
                       const Tensor &shape, QuantFormat fmt,
                       std::string &bytes) {
    auto quant = QuantizedType::get(ctx, fmt);
    int64_t rowBytes = quant.getRowBytes(shape.shape[2]);
    bool written = false;
    for (const ImportedWeights::Entry &e : weights.tensors)
      written |= e.name == name;
    if (!written)
      weights.tensors.push_back({name,
                                 "U8",
                                 {shape.shape[0], shape.shape[1], rowBytes},
                                 std::move(bytes)});
    roleArg[role] = argTypes.size();
    argTypes.push_back(RankedTensorType::get(shape.shape, quant));
    argNames.push_back(name);
  };
  auto suffix = [&](const std::optional<QuantFormat> &keep) -> std::string {
    return !m.quantized ? ""
           : keep       ? "." + stringifyQuantFormat(*keep).str()
                        : ".dequantized";
  };
  std::string fc1Name = m.inNames[2] + suffix(keep1);
  std::string fc2Name = m.inNames[m.quantized ? 5 : 4] + suffix(keep2);
  if (keep1)
    addBlocks(gated ? "gate_up" : "up", fc1Name, w1, *keep1, blocks1);
  else
    addWeight(gated ? "gate_up" : "up", fc1Name, w1);
  const Tensor *b1 = m.in[m.quantized ? 4 : 3];
  const Tensor *b2 = m.in[m.quantized ? 7 : 5];
  if (keep2)
    addBlocks("down", fc2Name, w2, *keep2, blocks2);
  else
    addWeight("down", fc2Name, w2);
  if (b1) {
    if (b1->numElements() != E * fusion * f || !isFloatType(b1->type))
      return bad("fc1_experts_bias must be float [E, " +
                 std::to_string(fusion * f) + "]");
    Tensor t = *b1;
    t.shape = {E, fusion * f};
    addWeight(gated ? "gate_up_bias" : "up_bias",
              m.inNames[m.quantized ? 4 : 3], t);
  }
  if (b2) {
    if (b2->numElements() != E * d || !isFloatType(b2->type))
      return bad("fc2_experts_bias must be float [E, d]");
    Tensor t = *b2;
    t.shape = {E, d};
    addWeight("down_bias", m.inNames[m.quantized ? 7 : 5], t);
  }
  // Names must be unique arguments.
  std::set<std::string> seen;
  for (const std::string &a : argNames)
    if (!seen.insert(a).second)
      return bad("two arguments would both be named '" + a + "'");

  b.setInsertionPointToEnd(module.getBody());
  auto fn = func::FuncOp::create(b, loc, fname,
                                 b.getFunctionType(argTypes, {hiddenType}));
  for (auto [i, name] : llvm::enumerate(argNames))
    fn.setArgAttr(i, kArgNameAttr, b.getStringAttr(name));
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  auto get = [&](const char *role) -> Value {
    auto it = roleArg.find(role);
    return it == roleArg.end() ? Value() : entry->getArgument(it->second);
  };
  ActivationKind kind = m.activation == "swiglu"     ? ActivationKind::swiglu
                        : m.activation == "gelu"     ? ActivationKind::gelu_tanh
                        : m.activation == "silu"     ? ActivationKind::silu
                        : m.activation == "identity" ? ActivationKind::identity
                                                     : ActivationKind::relu;
  auto emit = [&]() { return emitError(loc); };
  std::optional<APFloat> limit;
  if (m.limit && gated)
    limit = APFloat(*m.limit);
  ActivationAttr act = ActivationAttr::getChecked(
      emit, ctx, kind, APFloat(gated ? m.alpha : 1.0),
      APFloat(gated ? m.beta : 0.0), limit);
  // QMoE always renormalizes (its routing is a softmax over the top k).
  RoutingAttr routing = RoutingAttr::getChecked(
      emit, ctx, m.k, ScoringFunc::softmax, RoutingOrder::score_then_topk,
      m.quantized || m.normalize, APFloat(1.0), int64_t(1), int64_t(1),
      GroupScoreFunc::max, APFloat(0.0), APFloat(0.01),
      /*scaleInputs=*/false);
  if (!act || !routing)
    return failure();
  GateUpLayoutAttr layout;
  if (gated)
    layout = GateUpLayoutAttr::get(ctx, GateUpLayout::interleaved);
  Value logits = logitsInput ? entry->getArgument(1) : Value();
  auto layer = LayerOp::create(
      b, loc, hiddenType, entry->getArgument(0), get("router_weight"),
      get("router_bias"), logits, Value(), Value(), get("up"), get("gate_up"),
      get("down"), Value(), get("up_bias"), get("gate_up_bias"),
      get("down_bias"), Value(), Value(), Value(), Value(), Value(), routing,
      act, layout);
  func::ReturnOp::create(b, loc, layer.getResult());
  return success();
}

} // namespace

OwningOpRef<ModuleOp> mlir::moe::importOnnx(const std::string &path,
                                            MLIRContext *context,
                                            ImportedWeights &weights) {
  context->loadDialect<MoEDialect, func::FuncDialect>();
  Importer importer(context, path);
  return importer.run(weights);
}
