//===- ArtifactMetadata.cpp - what an artifact tells the runtime ----------===//
#include "compiler/ArtifactMetadata.h"
#include "codegen/cpu/Passes.h"
#include "runtime/abi/ArtifactAbi.h"

#include "dialect/MoEOps.h"
#include "dialect/StorageDType.h"
#include "runtime/reference/ConfigJson.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlir::moe;
namespace json = ::moe::json;
namespace ref = ::moe::ref;

namespace {

/// The layer config in the reference evaluator's terms.
ref::LayerConfig referenceConfig(LayerOp layer) {
  ref::LayerConfig c;
  RoutingAttr r = layer.getRouting();
  c.routing.scoring = r.getScoring() == ScoringFunc::softmax
                          ? ref::Scoring::Softmax
                          : ref::Scoring::Sigmoid;
  switch (r.getOrder()) {
  case RoutingOrder::score_then_topk:
    c.routing.order = ref::ScoreOrder::ScoreThenTopK;
    break;
  case RoutingOrder::topk_then_score:
    c.routing.order = ref::ScoreOrder::TopKThenScore;
    break;
  case RoutingOrder::sparsemixer:
    c.routing.order = ref::ScoreOrder::SparseMixer;
    break;
  }
  c.routing.sparsemixerEps = r.getSparsemixerEpsValue();
  c.routing.scaleInputs = r.getScaleInputs();
  c.routing.k = r.getK();
  c.routing.renormalize = r.getRenormalize();
  c.routing.renormEpsilon = r.getRenormEpsilonValue();
  c.routing.scalingFactor = r.getScaleValue();
  c.routing.numGroups = r.getNGroup();
  c.routing.topkGroups = r.getTopkGroup();
  c.routing.groupScore = r.getGroupScore() == GroupScoreFunc::max
                             ? ref::GroupScore::Max
                             : ref::GroupScore::Top2Sum;
  ActivationAttr a = layer.getActivation();
  switch (a.getKind()) {
  case ActivationKind::swiglu:
    c.activation.kind = ref::ActivationKind::SwiGLU;
    break;
  case ActivationKind::geglu:
    c.activation.kind = ref::ActivationKind::GeGLU;
    break;
  case ActivationKind::relu:
    c.activation.kind = ref::ActivationKind::Relu;
    break;
  case ActivationKind::relu2:
    c.activation.kind = ref::ActivationKind::Relu2;
    break;
  case ActivationKind::gelu:
    c.activation.kind = ref::ActivationKind::Gelu;
    break;
  case ActivationKind::gelu_tanh:
    c.activation.kind = ref::ActivationKind::GeluTanh;
    break;
  case ActivationKind::silu:
    c.activation.kind = ref::ActivationKind::Silu;
    break;
  case ActivationKind::identity:
    c.activation.kind = ref::ActivationKind::Identity;
    break;
  }
  c.activation.alpha = a.getAlphaValue();
  c.activation.beta = a.getBetaValue();
  if (std::optional<APFloat> limit = a.getLimit())
    c.activation.limit = limit->convertToDouble();
  if (std::optional<GateUpLayout> layout = layer.getGateUpLayout())
    c.gateUpLayout = *layout == GateUpLayout::interleaved
                         ? ref::GateUpLayout::Interleaved
                         : ref::GateUpLayout::Concatenated;
  return c;
}

/// Roles whose operands are per-call inputs rather than weights.
bool isInputRole(StringRef role) {
  return role == "hidden" || role == "router_logits";
}

/// The default name of an argument in a layer role.
std::string roleArgName(StringRef role) {
  if (role == "hidden")
    return "hidden_states";
  return role.str();
}

/// What the uses of an argument say about it.
struct ArgUse {
  std::string role; // first moe.layer role, if any
  bool usedAsInput = false;
  bool usedAsWeight = false;
};

/// Operands of decomposed ops that hold weights.
bool isWeightOperand(OpOperand &use) {
  Operation *owner = use.getOwner();
  if (auto mm = dyn_cast<GroupedMatmulOp>(owner))
    return use.get() == mm.getWeight() || use.get() == mm.getBias();
  if (auto route = dyn_cast<RouteOp>(owner))
    return use.get() == route.getCorrectionBias();
  return false;
}

json::Value shapeJson(RankedTensorType type) {
  json::Value shape = json::Value::array();
  for (int64_t d : type.getShape())
    shape.push(json::Value::integer(ShapedType::isDynamic(d) ? -1 : d));
  return shape;
}

/// Checks a tensor type the runtime can bind; `what` names it in errors.
LogicalResult checkTensorType(Location loc, Type type, const Twine &what,
                              bool isWeight) {
  auto ranked = dyn_cast<RankedTensorType>(type);
  if (!ranked)
    return emitError(loc) << what << " must be a ranked tensor, got " << type;
  if (!storageDTypeName(ranked.getElementType()))
    return emitError(loc) << what << " has element type "
                          << ranked.getElementType()
                          << "; the runtime binds f32, bf16 and f16 (and "
                             "!moe.quant weights)";
  if (!isWeight && isa<QuantizedType>(ranked.getElementType()))
    return emitError(loc) << what << " has element type "
                          << ranked.getElementType()
                          << "; only weights may be block-quantized";
  for (auto [i, d] : llvm::enumerate(ranked.getShape())) {
    if (!ShapedType::isDynamic(d))
      continue;
    if (isWeight)
      return emitError(loc) << what << " is a weight with a dynamic shape "
                            << type << "; weight shapes must be static";
    if (i != 0)
      return emitError(loc)
             << what << " has a dynamic dimension " << i << " in " << type
             << "; only the leading (token) dimension may be dynamic";
  }
  return success();
}

/// Records `moe.stack` / `moe.transposed` / `moe.stored_dtype` /
/// `moe.mx_scales` / `moe.block_scales` of argument `i` in `rec`.
LogicalResult addAssembly(func::FuncOp fn, unsigned i, bool isWeight,
                          RankedTensorType type, json::Value &rec) {
  Location loc = fn.getArgument(i).getLoc();
  Attribute stack = fn.getArgAttr(i, kArgStackAttr);
  Attribute transposed = fn.getArgAttr(i, kArgTransposedAttr);
  Attribute stored = fn.getArgAttr(i, kArgStoredDtypeAttr);
  Attribute mxScales = fn.getArgAttr(i, kArgMxScalesAttr);
  if (mxScales) {
    auto quant = dyn_cast<QuantizedType>(type.getElementType());
    auto name = dyn_cast<StringAttr>(mxScales);
    if (!quant || quant.getFormat() != QuantFormat::mxfp4 || !isWeight ||
        !fn.getArgAttr(i, kArgNameAttr) || !name || name.getValue().empty() ||
        stack || transposed || stored)
      return emitError(loc)
             << kArgMxScalesAttr
             << " names the scales tensor of a !moe.quant<mxfp4> weight "
                "argument with a "
             << kArgNameAttr << " and no " << kArgStackAttr << ", "
             << kArgTransposedAttr << " or " << kArgStoredDtypeAttr;
    rec.set("mx_scales", json::Value::string(name.getValue().str()));
    return success();
  }
  if (Attribute blockScales = fn.getArgAttr(i, kArgBlockScalesAttr)) {
    auto quant = dyn_cast<QuantizedType>(type.getElementType());
    auto list = dyn_cast<ArrayAttr>(blockScales);
    auto stackList = dyn_cast_or_null<ArrayAttr>(stack);
    size_t sources = stackList ? stackList.size() : 1;
    json::Value names = json::Value::array();
    bool named = list && list.size() == sources;
    for (Attribute a : list ? list.getValue() : ArrayRef<Attribute>()) {
      auto s = dyn_cast<StringAttr>(a);
      named &= s && !s.getValue().empty();
      if (s)
        names.push(json::Value::string(s.getValue().str()));
    }
    if (!quant || quant.getFormat() != QuantFormat::fp8_e4m3 || !isWeight ||
        !fn.getArgAttr(i, kArgNameAttr) || !named || transposed || stored ||
        (stack && !stackList) || type.getRank() < 2)
      return emitError(loc)
             << kArgBlockScalesAttr
             << " names the block scales of a !moe.quant<fp8_e4m3> weight "
                "argument with a "
             << kArgNameAttr << ", one tensor per source (per name of its "
             << kArgStackAttr << ", or one), and no " << kArgTransposedAttr
             << " or " << kArgStoredDtypeAttr;
    if (stack) {
      json::Value parts = json::Value::array();
      for (Attribute a : stackList.getValue()) {
        auto s = dyn_cast<StringAttr>(a);
        if (!s)
          return emitError(loc) << kArgStackAttr << " must list tensor names";
        parts.push(json::Value::string(s.getValue().str()));
      }
      if (static_cast<int64_t>(stackList.size()) != type.getDimSize(0))
        return emitError(loc) << kArgStackAttr << " must name one tensor per "
                              << "index of the leading dimension of " << type;
      rec.set("stack", std::move(parts));
    }
    rec.set("block_scales", std::move(names));
    return success();
  }
  if (!stack && !transposed && !stored)
    return success();
  if (isa<QuantizedType>(type.getElementType()) && (transposed || stored))
    return emitError(loc) << "a block-quantized weight (" << type
                          << ") is bound as it lies, or stacked from "
                             "tensors of its type: no "
                          << kArgTransposedAttr << " or "
                          << kArgStoredDtypeAttr;
  if (!isWeight || !fn.getArgAttr(i, kArgNameAttr))
    return emitError(loc) << (stored && !stack && !transposed
                                  ? std::string(kArgStoredDtypeAttr) +
                                        " applies"
                                  : std::string(kArgStackAttr) + " and " +
                                        kArgTransposedAttr + " apply")
                          << " to weight arguments with a " << kArgNameAttr;
  if (stored) {
    auto s = dyn_cast<StringAttr>(stored);
    if (!s || (s.getValue() != "f32" && s.getValue() != "bf16" &&
               s.getValue() != "f16"))
      return emitError(loc)
             << kArgStoredDtypeAttr << " must be \"f32\", \"bf16\" or \"f16\"";
    if (s.getValue() != *storageDTypeName(type.getElementType()))
      rec.set("stored_dtype", json::Value::string(s.getValue().str()));
  }
  if (stack) {
    auto list = dyn_cast<ArrayAttr>(stack);
    json::Value names = json::Value::array();
    for (Attribute a : list ? list.getValue() : ArrayRef<Attribute>()) {
      auto s = dyn_cast<StringAttr>(a);
      if (!s)
        return emitError(loc) << kArgStackAttr << " must list tensor names";
      names.push(json::Value::string(s.getValue().str()));
    }
    if (!list || type.getRank() < 1 ||
        static_cast<int64_t>(list.size()) != type.getDimSize(0))
      return emitError(loc) << kArgStackAttr << " must name one tensor per "
                            << "index of the leading dimension of " << type;
    rec.set("stack", std::move(names));
  }
  if (transposed) {
    if (!isa<UnitAttr>(transposed) || type.getRank() < 2)
      return emitError(loc) << kArgTransposedAttr
                            << " is a unit attribute on a tensor of rank >= 2";
    rec.set("transposed", json::Value::boolean(true));
  }
  return success();
}

/// `s` with its non-printing characters escaped, for a diagnostic.
std::string escaped(StringRef s) {
  std::string out;
  llvm::raw_string_ostream os(out);
  llvm::printEscapedString(s, os);
  return out;
}

FailureOr<json::Value> functionMetadata(func::FuncOp fn) {
  json::Value rec = json::Value::object();
  rec.set("name", json::Value::string(fn.getSymName().str()));
  rec.set("symbol",
          json::Value::string(::moe::abi::entrySymbol(fn.getSymName().str())));
  // The runtime's C API hands names out as C strings, so moert refuses
  // metadata whose names hold a NUL.
  if (fn.getSymName().contains('\0'))
    return fn.emitError("function name '")
           << escaped(fn.getSymName())
           << "' holds a NUL character; an entry point's name is a C string";
  if (fn.getNumResults() == 0)
    return fn.emitError("function '")
           << fn.getSymName()
           << "' returns nothing; an entry point returns its output";

  // Uses of each argument.
  std::vector<ArgUse> uses(fn.getNumArguments());
  LayerOp onlyLayer;
  unsigned layers = 0;
  fn.walk([&](LayerOp layer) {
    ++layers;
    onlyLayer = layer;
    const std::vector<std::string> &roles = ref::roleNames();
    for (unsigned i = 0; i < roles.size(); ++i)
      for (Value v : layer.getODSOperands(i))
        if (auto arg = dyn_cast<BlockArgument>(v);
            arg && arg.getOwner() == &fn.front()) {
          ArgUse &u = uses[arg.getArgNumber()];
          if (u.role.empty())
            u.role = roles[i];
          (isInputRole(roles[i]) ? u.usedAsInput : u.usedAsWeight) = true;
        }
  });
  for (BlockArgument arg : fn.getArguments())
    for (OpOperand &use : arg.getUses())
      if (isWeightOperand(use))
        uses[arg.getArgNumber()].usedAsWeight = true;
      else if (!isa<LayerOp>(use.getOwner()))
        uses[arg.getArgNumber()].usedAsInput = true;

  json::Value args = json::Value::array();
  llvm::StringMap<unsigned> seen;
  for (BlockArgument arg : fn.getArguments()) {
    unsigned i = arg.getArgNumber();
    Location loc = arg.getLoc();
    const ArgUse &u = uses[i];
    // A weight is only ever read as one; anything else is a per-call input.
    bool isWeight = u.usedAsWeight && !u.usedAsInput;
    std::string name;
    if (auto attr = fn.getArgAttrOfType<StringAttr>(i, kArgNameAttr))
      name = attr.getValue().str();
    else if (!u.role.empty())
      name = roleArgName(u.role);
    else
      name = "arg" + std::to_string(i);
    if (name.empty())
      return emitError(loc) << "argument " << i << " of '" << fn.getSymName()
                            << "' has an empty " << kArgNameAttr;
    if (StringRef(name).contains('\0'))
      return emitError(loc) << "argument " << i << " of '" << fn.getSymName()
                            << "' has a " << kArgNameAttr << " holding a NUL "
                            << "character; an argument's name is a C string";
    if (failed(checkTensorType(loc, arg.getType(), "argument '" + name + "'",
                               isWeight)))
      return failure();
    auto [it, inserted] = seen.try_emplace(name, i);
    if (!inserted)
      return emitError(loc)
             << "arguments " << it->second << " and " << i << " of '"
             << fn.getSymName() << "' are both named '" << name
             << "'; give them distinct " << kArgNameAttr;
    auto type = cast<RankedTensorType>(arg.getType());
    json::Value a = json::Value::object();
    a.set("name", json::Value::string(name));
    a.set("kind", json::Value::string(isWeight ? "weight" : "input"));
    a.set("dtype",
          json::Value::string(*storageDTypeName(type.getElementType())));
    a.set("shape", shapeJson(type));
    if (failed(addAssembly(fn, i, isWeight, type, a)))
      return failure();
    args.push(std::move(a));
  }
  rec.set("arguments", std::move(args));

  json::Value results = json::Value::array();
  for (auto [i, t] : llvm::enumerate(fn.getResultTypes())) {
    std::string name =
        fn.getNumResults() == 1 ? "output" : "output" + std::to_string(i);
    if (failed(checkTensorType(fn.getLoc(), t, "result '" + name + "'",
                               /*isWeight=*/false)))
      return failure();
    auto type = cast<RankedTensorType>(t);
    json::Value r = json::Value::object();
    r.set("name", json::Value::string(name));
    r.set("dtype",
          json::Value::string(*storageDTypeName(type.getElementType())));
    r.set("shape", shapeJson(type));
    results.push(std::move(r));
  }
  rec.set("results", std::move(results));

  // A function that is exactly one layer returned as is can be verified.
  auto ret = cast<func::ReturnOp>(fn.front().getTerminator());
  if (layers == 1 && fn.getNumResults() == 1 &&
      ret.getOperand(0) == onlyLayer.getResult()) {
    json::Value operands = json::Value::object();
    const std::vector<std::string> &roles = ref::roleNames();
    bool allArgs = true;
    for (unsigned i = 0; i < roles.size(); ++i)
      for (Value v : onlyLayer.getODSOperands(i)) {
        auto arg = dyn_cast<BlockArgument>(v);
        if (!arg || arg.getOwner() != &fn.front())
          allArgs = false;
        else
          operands.set(roles[i], json::Value::integer(arg.getArgNumber()));
      }
    if (allArgs) {
      json::Value layer = json::Value::object();
      layer.set("config", ref::configToJsonValue(referenceConfig(onlyLayer)));
      layer.set("operands", std::move(operands));
      rec.set("layer", std::move(layer));
    }
  }
  return rec;
}

} // namespace

FailureOr<json::Value> mlir::moe::collectArtifactMetadata(ModuleOp module) {
  json::Value functions = json::Value::array();
  bool failed = false;
  unsigned count = 0;
  module.walk([&](func::FuncOp fn) {
    if (fn.isPrivate() || fn.isExternal())
      return;
    ++count;
    FailureOr<json::Value> rec = functionMetadata(fn);
    if (mlir::failed(rec)) {
      failed = true;
      return;
    }
    functions.push(std::move(*rec));
  });
  if (failed)
    return failure();
  if (count == 0)
    return emitError(module.getLoc())
           << "the module has no public function to compile";
  json::Value doc = json::Value::object();
  doc.set("format", json::Value::string(::moe::abi::kMetadataFormat));
  doc.set("version", json::Value::integer(::moe::abi::kMetadataVersion));
  doc.set("functions", std::move(functions));
  return doc;
}

/// Calls `record` with each argument of each entry point of `module` and
/// its record in `metadata` (from collectArtifactMetadata).
static void forEachArgumentRecord(
    ModuleOp module, json::Value &metadata,
    llvm::function_ref<void(func::FuncOp, unsigned, json::Value &)> record) {
  json::Value *functions = metadata.get("functions");
  if (!functions)
    return;
  for (func::FuncOp fn : module.getOps<func::FuncOp>()) {
    if (!fn.isPublic() || fn.isExternal())
      continue;
    json::Value *args = nullptr;
    for (json::Value &f : functions->elements())
      if (const std::string *name = f.getString("name");
          name && *name == fn.getSymName())
        args = f.get("arguments");
    for (unsigned i = 0;
         args && i < fn.getNumArguments() && i < args->elements().size(); ++i)
      record(fn, i, args->elements()[i]);
  }
}

void mlir::moe::recordPackedWeights(ModuleOp module, json::Value &metadata) {
  forEachArgumentRecord(
      module, metadata, [](func::FuncOp fn, unsigned i, json::Value &arg) {
        if (fn.getArgAttr(i, kArgInt8PanelsAttr))
          arg.set("int8_panels", json::Value::boolean(true));
        auto panel = fn.getArgAttrOfType<IntegerAttr>(i, kArgPackedPanelAttr);
        if (!panel)
          return;
        auto group = fn.getArgAttrOfType<IntegerAttr>(i, kArgPackedKGroupAttr);
        auto slices = fn.getArgAttrOfType<IntegerAttr>(i, kArgPackedSlicesAttr);
        json::Value packed = json::Value::object();
        packed.set("panel", json::Value::integer(panel.getInt()));
        if (group && group.getInt() > 1)
          packed.set("k_group", json::Value::integer(group.getInt()));
        if (slices && slices.getInt() > 1)
          packed.set("slices", json::Value::integer(slices.getInt()));
        arg.set("packed", std::move(packed));
      });
}

void mlir::moe::recordExpertSlots(ModuleOp module, json::Value &metadata) {
  forEachArgumentRecord(
      module, metadata, [](func::FuncOp fn, unsigned i, json::Value &arg) {
        auto plan =
            fn.getArgAttrOfType<ExpertPlacementAttr>(i, kArgExpertSlotsAttr);
        json::Value *shape = arg.get("shape");
        if (!plan || !shape || shape->elements().empty())
          return;
        json::Value slots = json::Value::object();
        slots.set("experts", json::Value::integer(plan.getNumExperts()));
        slots.set("slots_per_rank",
                  json::Value::integer(plan.getSlotsPerRank()));
        json::Value physToLog = json::Value::array();
        for (int64_t e : plan.getPhysToLog())
          physToLog.push(json::Value::integer(e));
        slots.set("phys_to_log", std::move(physToLog));
        // The weight's shape as bound, with the rank's slots for its experts
        // (the argument's type may be its panels by now).
        shape->elements()[0] = json::Value::integer(plan.getSlotsPerRank());
        arg.set("expert_slots", std::move(slots));
      });
}

std::vector<std::string> mlir::moe::entryPointNames(ModuleOp module) {
  std::vector<std::string> names;
  for (func::FuncOp fn : module.getOps<func::FuncOp>())
    if (fn.isPublic() && !fn.isExternal())
      names.push_back(fn.getSymName().str());
  return names;
}

std::map<std::string, std::string>
mlir::moe::shareIdenticalFunctions(ModuleOp module) {
  std::map<std::string, std::string> shared;
  llvm::StringMap<std::string> firstOfKind;
  SmallVector<func::FuncOp> duplicates;
  for (func::FuncOp fn : module.getOps<func::FuncOp>()) {
    // (A function called from within the module keeps its body.)
    if (!fn.isPublic() || fn.isExternal() ||
        !SymbolTable::symbolKnownUseEmpty(fn, module))
      continue;
    // The function without what does not reach the code: its name and
    // its argument and result attributes.
    auto copy = cast<func::FuncOp>(fn->clone());
    copy.setSymName("f");
    for (unsigned i = 0; i < copy.getNumArguments(); ++i)
      copy.setArgAttrs(i, ArrayRef<NamedAttribute>());
    for (unsigned i = 0; i < copy.getNumResults(); ++i)
      copy.setResultAttrs(i, ArrayRef<NamedAttribute>());
    std::string key;
    llvm::raw_string_ostream os(key);
    copy->print(os, OpPrintingFlags().printGenericOpForm());
    copy->erase();
    auto [it, inserted] = firstOfKind.try_emplace(key, fn.getSymName().str());
    if (!inserted) {
      shared[fn.getSymName().str()] = it->second;
      duplicates.push_back(fn);
    }
  }
  for (func::FuncOp fn : duplicates)
    fn.erase();
  return shared;
}

void mlir::moe::recordSharedEntryPoints(
    json::Value &metadata, const std::map<std::string, std::string> &shared) {
  json::Value *functions = metadata.get("functions");
  if (!functions)
    return;
  auto find = [&](const std::string &name) -> json::Value * {
    for (json::Value &f : functions->elements())
      if (const std::string *n = f.getString("name"); n && *n == name)
        return &f;
    return nullptr;
  };
  for (const auto &[name, representative] : shared) {
    json::Value *rec = find(name), *rep = find(representative);
    if (!rec || !rep)
      continue;
    if (const std::string *symbol = rep->getString("symbol"))
      rec->set("symbol", json::Value::string(*symbol));
    json::Value *args = rec->get("arguments");
    const json::Value *repArgs = rep->get("arguments");
    if (!args || !repArgs)
      continue;
    for (size_t i = 0;
         i < args->elements().size() && i < repArgs->elements().size(); ++i)
      for (const char *key : {"packed", "int8_panels", "expert_slots"})
        if (const json::Value *packed = repArgs->elements()[i].get(key)) {
          args->elements()[i].set(key, *packed);
          // A rank's slots have the representative's shape.
          if (std::string(key) == "expert_slots")
            if (const json::Value *shape = repArgs->elements()[i].get("shape"))
              args->elements()[i].set("shape", *shape);
        }
  }
}

/// Calls `record` with each function's metadata record and the entry of
/// `table` under its name (its representative's, for an erased function
/// in `shared`), where there is one.
static void
forEachTableEntry(DictionaryAttr table, json::Value &metadata,
                  const std::map<std::string, std::string> &shared,
                  llvm::function_ref<void(json::Value &, Attribute)> record) {
  json::Value *functions = metadata.get("functions");
  if (!table || !functions)
    return;
  for (json::Value &f : functions->elements()) {
    const std::string *name = f.getString("name");
    if (!name)
      continue;
    auto it = shared.find(*name);
    if (Attribute entry = table.get(it == shared.end() ? *name : it->second))
      record(f, entry);
  }
}

void mlir::moe::recordRoutingSites(
    ModuleOp module, json::Value &metadata,
    const std::map<std::string, std::string> &shared) {
  auto table = module->getAttrOfType<DictionaryAttr>(kRoutingSitesAttr);
  module->removeAttr(kRoutingSitesAttr);
  forEachTableEntry(table, metadata, shared, [](json::Value &f, Attribute a) {
    auto sites = dyn_cast<ArrayAttr>(a);
    if (!sites)
      return;
    json::Value list = json::Value::array();
    for (auto site : sites.getAsRange<DictionaryAttr>()) {
      json::Value rec = json::Value::object();
      for (const char *key : {"site", "experts", "k"})
        if (auto v = site.getAs<IntegerAttr>(key))
          rec.set(key, json::Value::integer(v.getInt()));
      list.push(std::move(rec));
    }
    f.set("routing_sites", std::move(list));
  });
}

void mlir::moe::recordExpertParallel(
    ModuleOp module, json::Value &metadata,
    const std::map<std::string, std::string> &shared) {
  auto table = module->getAttrOfType<DictionaryAttr>(kExpertParallelAttr);
  module->removeAttr(kExpertParallelAttr);
  forEachTableEntry(table, metadata, shared, [](json::Value &f, Attribute a) {
    auto devices = dyn_cast<IntegerAttr>(a);
    if (!devices)
      return;
    json::Value rec = json::Value::object();
    rec.set("devices", json::Value::integer(devices.getInt()));
    f.set("expert_parallel", std::move(rec));
  });
}
