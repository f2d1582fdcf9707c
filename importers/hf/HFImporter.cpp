//===- HFImporter.cpp - Hugging Face checkpoints to moe IR ----------------===//
#include "importers/hf/HFImporter.h"
#include "dialect/MoEOps.h"
#include "dialect/StorageDType.h"
#include "importers/hf/LayerPlan.h"
#include "runtime/reference/Reference.h"
#include "runtime/support/Safetensors.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;
using namespace mlir::moe;
namespace hf = ::moe::hf;

namespace {

std::string shapeStr(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// The element type of a tensor's dtype the runtime binds: F32, BF16, F16,
/// and in a GGUF file ggml's block-quantized types the kernels read
/// (!moe.quant); null for the others.
Type elementType(MLIRContext *ctx, const std::string &dtype, bool gguf) {
  std::optional<::moe::DType> d = ::moe::dtypeFromStorageName(dtype);
  if (!d || (::moe::isBlockQuantized(*d) && !gguf))
    return nullptr;
  return storageElementType(ctx, *d);
}

/// The dtype config.json declares (torch_dtype, or dtype in newer
/// transformers), as an element type; null when absent or not a float type
/// the runtime binds.
Type declaredElementType(MLIRContext *ctx, const hf::Checkpoint &ckpt,
                         std::string *spelling = nullptr) {
  // A vision-language model declares it at the top, or for its text model
  // in text_config.
  const ::moe::json::Value &top = ckpt.config();
  const ::moe::json::Value *text = top.getObject("text_config");
  for (const std::string *t :
       {top.getString("torch_dtype"), top.getString("dtype"),
        text ? text->getString("torch_dtype") : nullptr,
        text ? text->getString("dtype") : nullptr})
    if (t) {
      if (spelling)
        *spelling = *t;
      if (*t == "float32")
        return Float32Type::get(ctx);
      if (*t == "bfloat16")
        return BFloat16Type::get(ctx);
      if (*t == "float16")
        return Float16Type::get(ctx);
    }
  return nullptr;
}

/// The hidden-state type: f32 for a GGUF file (llama.cpp keeps
/// activations in f32), else the declared dtype, else the router weight's.
Type hiddenElementType(MLIRContext *ctx, const hf::Checkpoint &ckpt,
                       Type routerType) {
  if (ckpt.gguf())
    return Float32Type::get(ctx);
  Type declared = declaredElementType(ctx, ckpt);
  return declared ? declared : routerType;
}

/// "f32", "bf16", "f16": the artifact's spelling of an element type.
std::string dtypeSpelling(Type t) { return storageDTypeName(t).value_or("?"); }

/// Checks the two u8 tensors of an MXFP4 operand in transformers' layout
/// (WeightSource::mxScales); returns !moe.quant<mxfp4>, or null after
/// emitting an error.
Type checkMxfp4Source(Location loc, const hf::Checkpoint &ckpt,
                      const hf::LayerPlan &plan, const std::string &role,
                      const hf::WeightSource &src) {
  // [..., N, K] as [..., N, K/32, 16] codes and [..., N, K/32] scales.
  std::vector<int64_t> scales = src.shape;
  scales.back() /= 32;
  std::vector<int64_t> blocks = scales;
  blocks.push_back(16);
  for (auto [name, shape] : {std::make_pair(&src.name, &blocks),
                             std::make_pair(&src.mxScales, &scales)}) {
    std::optional<hf::TensorRef> t = ckpt.find(*name);
    if (!t) {
      emitError(loc) << ckpt.dir() << ": tensor '" << *name
                     << "' not found (the MXFP4 "
                     << (name == &src.name ? "blocks" : "scales") << " of the "
                     << role << " of MoE layer " << plan.layer << ")";
      return nullptr;
    }
    if (t->info->dtype != "U8" || t->info->shape != *shape) {
      emitError(loc) << *t->file << ": tensor '" << *name << "' is "
                     << t->info->dtype << " " << shapeStr(t->info->shape)
                     << " but MXFP4 " << role << " " << shapeStr(src.shape)
                     << " is stored as U8 " << shapeStr(*shape);
      return nullptr;
    }
  }
  return storageElementType(loc.getContext(), ::moe::DType::MXFP4);
}

/// FP8 block scales: one f32 per 128 x 128 block of a weight.
constexpr int64_t kFp8Block = 128;

/// Checks an operand whose checkpoint tensors are F8_E4M3 (an FP8
/// checkpoint, DeepSeek-V3's format): quantization_config says fp8 with
/// 128 x 128 blocks, and each tensor [N, K] has its f32 scales
/// `<name>_scale_inv` [ceil(N / 128), K / 128], named in `blockScales`.
/// Returns !moe.quant<fp8_e4m3>, or null after emitting an error.
Type checkFp8Source(Location loc, const hf::Checkpoint &ckpt,
                    const hf::LayerPlan &plan, const std::string &role,
                    const hf::WeightSource &src, const std::string &first,
                    std::vector<std::string> &blockScales) {
  auto fail = [&]() -> InFlightDiagnostic {
    return emitError(loc) << ckpt.dir() << ": tensor '" << first << "' (the "
                          << role << " of MoE layer " << plan.layer
                          << ") is F8_E4M3, ";
  };
  const ::moe::json::Value *q = ckpt.config().getObject("quantization_config");
  const std::string *method = q ? q->getString("quant_method") : nullptr;
  if (!method || *method != "fp8") {
    fail() << "but " << ckpt.configName()
           << " has no 'quantization_config' with quant_method 'fp8'";
    return nullptr;
  }
  if (const ::moe::json::Value *block = q->getArray("weight_block_size")) {
    bool ok = block->elements().size() == 2;
    for (const ::moe::json::Value &v : block->elements())
      ok &= v.asInt64() == kFp8Block;
    if (!ok) {
      fail() << "but quantization_config's weight_block_size is not [128, "
                "128], the only FP8 block supported";
      return nullptr;
    }
  }
  for (auto [key, want] : {std::make_pair("fmt", "e4m3"),
                           std::make_pair("activation_scheme", "dynamic")})
    if (const std::string *v = q->getString(key); v && *v != want) {
      fail() << "but quantization_config's " << key << " is '" << *v
             << "' (supported: '" << want << "')";
      return nullptr;
    }
  if (!isQuantizableLayerOperand(role) || src.transposed ||
      src.shape.size() < 2) {
    fail() << "but FP8 is read for the experts' projections only";
    return nullptr;
  }
  int64_t n = src.shape[src.shape.size() - 2], k = src.shape.back();
  if (k % kFp8Block != 0) {
    fail() << "but its rows of " << k
           << " are not whole FP8 blocks of 128 (the scales' blocks)";
    return nullptr;
  }
  std::vector<int64_t> values = src.shape,
                       scales = {(n + kFp8Block - 1) / kFp8Block,
                                 k / kFp8Block};
  if (!src.stack.empty())
    values.erase(values.begin());
  std::vector<std::string> names =
      src.stack.empty() ? std::vector<std::string>{src.name} : src.stack;
  for (const std::string &name : names) {
    const std::string scaleName = name + "_scale_inv";
    for (auto [tensor, want, dtype] :
         {std::make_tuple(&name, &values, "F8_E4M3"),
          std::make_tuple(&scaleName, &scales, "F32")}) {
      std::optional<hf::TensorRef> t = ckpt.find(*tensor);
      if (!t) {
        emitError(loc) << ckpt.dir() << ": tensor '" << *tensor
                       << "' not found (the FP8 "
                       << (tensor == &name ? "values" : "block scales")
                       << " of the " << role << " of MoE layer " << plan.layer
                       << ")";
        return nullptr;
      }
      if (t->info->dtype != dtype || t->info->shape != *want) {
        emitError(loc) << *t->file << ": tensor '" << *tensor << "' is "
                       << t->info->dtype << " " << shapeStr(t->info->shape)
                       << " but the FP8 " << role << " " << shapeStr(src.shape)
                       << " needs " << dtype << " " << shapeStr(*want);
        return nullptr;
      }
    }
    blockScales.push_back(scaleName);
  }
  return storageElementType(loc.getContext(), ::moe::DType::FP8_E4M3);
}

/// Checks the tensors of one operand against the plan; returns the element
/// type they are stored in, or null after emitting an error. FP8 sources
/// name their block scales in `blockScales`.
Type checkSource(Location loc, const hf::Checkpoint &ckpt,
                 const hf::LayerPlan &plan, const std::string &role,
                 const hf::WeightSource &src,
                 std::vector<std::string> &blockScales) {
  MLIRContext *ctx = loc.getContext();
  if (!src.mxScales.empty())
    return checkMxfp4Source(loc, ckpt, plan, role, src);
  const std::string &first = src.stack.empty() ? src.name : src.stack.front();
  if (std::optional<hf::TensorRef> t = ckpt.find(first);
      t && !ckpt.gguf() && t->info->dtype == "F8_E4M3")
    return checkFp8Source(loc, ckpt, plan, role, src, first, blockScales);
  std::vector<int64_t> expected = src.shape;
  if (!src.stack.empty())
    expected.erase(expected.begin());
  if (src.transposed)
    std::swap(expected[expected.size() - 1], expected[expected.size() - 2]);
  std::vector<std::string> names =
      src.stack.empty() ? std::vector<std::string>{src.name} : src.stack;
  Type type;
  std::string typeName; // as stored: "BF16", "Q4_K"
  for (const std::string &name : names) {
    std::optional<hf::TensorRef> t = ckpt.find(name);
    if (!t) {
      emitError(loc) << ckpt.dir() << ": tensor '" << name
                     << "' not found (the " << role << " of MoE layer "
                     << plan.layer
                     << (ckpt.gguf() ? ", architecture '" : ", model_type '")
                     << ckpt.modelType() << "')";
      return nullptr;
    }
    const std::string &file = *t->file;
    Type et = elementType(ctx, t->info->dtype, ckpt.gguf());
    auto quant = dyn_cast_or_null<QuantizedType>(et);
    // The roles are moe.layer's operand names.
    if (quant && !isQuantizableLayerOperand(role)) {
      emitError(loc) << file << ": tensor '" << name << "' has dtype "
                     << t->info->dtype << ", but the " << role
                     << " is read as F32, BF16 or F16 only (Q8_0, Q4_0, "
                        "Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, "
                        "IQ4_NL, IQ4_XS, the IQ1-IQ3 i-quants and MXFP4 are "
                        "read for the experts' projections)";
      return nullptr;
    }
    if (!et) {
      bool fp8 = t->info->dtype.rfind("F8", 0) == 0;
      emitError(loc)
          << file << ": tensor '" << name << "' has dtype " << t->info->dtype
          << (fp8           ? "; FP8 is read for an operand whose tensors "
                              "are all F8_E4M3, with 128 x 128 block scales "
                              "(quantization_config fp8)"
              : ckpt.gguf() ? "; this quantized GGUF type is not supported "
                              "yet (supported: F32, BF16, F16, and Q8_0, "
                              "Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, "
                              "Q6_K, IQ4_NL, IQ4_XS, IQ2_XXS, IQ2_XS, IQ2_S, "
                              "IQ3_XXS, IQ3_S, IQ1_S, IQ1_M and MXFP4 for "
                              "the experts' projections)"
                            : "; supported: F32, BF16, F16");
      return nullptr;
    }
    if (type && et != type) {
      emitError(loc) << file << ": tensor '" << name << "' is "
                     << t->info->dtype << " but the other experts' " << role
                     << " tensors are " << typeName;
      return nullptr;
    }
    type = et;
    typeName = t->info->dtype;
    // A GGUF file stores a [1, d] weight as [d], ERNIE 4.5 its [E] bias as
    // [1, E], DBRX its experts [E·F, H]; the runtime binds them so.
    if (!::moe::safetensors::sameRowMajorShape(t->info->shape, expected)) {
      emitError(loc) << file << ": tensor '" << name << "' has shape "
                     << shapeStr(t->info->shape) << " but " << ckpt.configName()
                     << " implies " << shapeStr(expected);
      return nullptr;
    }
  }
  return type;
}

/// The element type transformers holds a weight in: the declared dtype
/// (config.json's torch_dtype or dtype; from_pretrained casts every
/// weight to it), f32 for the tensors it keeps in f32 whatever is
/// declared, and the stored type when nothing is declared.
Type heldElementType(MLIRContext *ctx, const hf::Checkpoint &ckpt,
                     const hf::WeightSource &src, Type stored) {
  Type declared = declaredElementType(ctx, ckpt);
  // Quantized weights stay quantized (transformers dequantizes them to the
  // declared dtype; MXFP4 values are exact in f32 and bf16, FP8 values
  // times their scales are rounded to a declared bf16).
  if (!declared || isa<QuantizedType>(stored))
    return stored;
  if (src.keepF32 && !declared.isF32())
    return Float32Type::get(ctx);
  return declared;
}

LogicalResult buildLayer(OpBuilder &b, ModuleOp module,
                         const hf::Checkpoint &ckpt, const hf::LayerPlan &plan,
                         std::vector<std::string> &notes) {
  MLIRContext *ctx = b.getContext();
  Location loc = NameLoc::get(
      b.getStringAttr(plan.prefix.substr(0, plan.prefix.size() - 1)),
      // A GGUF file is binary: no line to point at.
      ckpt.gguf() ? FileLineColLoc::get(ctx, ckpt.configPath(), 0, 0)
                  : FileLineColLoc::get(ctx, ckpt.configPath(), 1, 1));
  // Operands in moe.layer's role order.
  const std::vector<std::string> &roles = ::moe::ref::roleNames();
  SmallVector<std::pair<std::string, const hf::WeightSource *>> weights;
  SmallVector<Type> weightTypes, storedTypes;
  SmallVector<std::vector<std::string>> blockScales;
  // Weights stored in another dtype than transformers holds them in, by
  // (stored, held) dtype: their roles.
  std::map<std::pair<std::string, std::string>, std::string> casts;
  for (const std::string &role : roles) {
    auto it = plan.operands.find(role);
    if (it == plan.operands.end())
      continue;
    std::vector<std::string> scales;
    Type stored = checkSource(loc, ckpt, plan, role, it->second, scales);
    if (!stored)
      return failure();
    blockScales.push_back(std::move(scales));
    Type held = heldElementType(ctx, ckpt, it->second, stored);
    weights.push_back({role, &it->second});
    weightTypes.push_back(RankedTensorType::get(it->second.shape, held));
    storedTypes.push_back(stored);
    if (held != stored) {
      std::string &list = casts[{dtypeSpelling(stored), dtypeSpelling(held)}];
      list += (list.empty() ? "" : ", ") + role;
    }
  }
  for (const auto &[types, list] : casts) {
    std::string declared;
    declaredElementType(ctx, ckpt, &declared);
    notes.push_back("layer_" + std::to_string(plan.layer) + ": " + list +
                    " stored as " + types.first + ", cast to " + types.second +
                    " when bound (config.json declares " + declared +
                    "; transformers casts on load)");
  }
  Type routerElt = cast<RankedTensorType>(weightTypes.front()).getElementType();
  auto hiddenType =
      RankedTensorType::get({ShapedType::kDynamic, plan.hidden},
                            hiddenElementType(ctx, ckpt, routerElt));
  SmallVector<Type> inputs = {hiddenType};
  inputs.append(weightTypes);
  std::string name = "layer_" + std::to_string(plan.layer);
  b.setInsertionPointToEnd(module.getBody());
  auto fn = func::FuncOp::create(b, loc, name,
                                 b.getFunctionType(inputs, {hiddenType}));
  fn.setArgAttr(0, kArgNameAttr, b.getStringAttr("hidden_states"));
  for (auto [i, w] : llvm::enumerate(weights)) {
    const hf::WeightSource &src = *w.second;
    fn.setArgAttr(i + 1, kArgNameAttr, b.getStringAttr(src.name));
    if (!src.stack.empty()) {
      SmallVector<Attribute> parts;
      for (const std::string &p : src.stack)
        parts.push_back(b.getStringAttr(p));
      fn.setArgAttr(i + 1, kArgStackAttr, b.getArrayAttr(parts));
    }
    if (src.transposed)
      fn.setArgAttr(i + 1, kArgTransposedAttr, b.getUnitAttr());
    if (!src.mxScales.empty())
      fn.setArgAttr(i + 1, kArgMxScalesAttr, b.getStringAttr(src.mxScales));
    if (!blockScales[i].empty()) {
      SmallVector<Attribute> names;
      for (const std::string &n : blockScales[i])
        names.push_back(b.getStringAttr(n));
      fn.setArgAttr(i + 1, kArgBlockScalesAttr, b.getArrayAttr(names));
    }
    Type held = cast<RankedTensorType>(weightTypes[i]).getElementType();
    if (storedTypes[i] != held)
      fn.setArgAttr(i + 1, kArgStoredDtypeAttr,
                    b.getStringAttr(dtypeSpelling(storedTypes[i])));
  }
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  std::map<std::string, Value> byRole;
  for (auto [i, w] : llvm::enumerate(weights))
    byRole[w.first] = entry->getArgument(i + 1);
  auto get = [&](const char *role) {
    auto it = byRole.find(role);
    return it == byRole.end() ? Value() : it->second;
  };
  auto emit = [&]() { return emitError(loc); };
  RoutingAttr routing = RoutingAttr::getChecked(
      emit, ctx, plan.k, plan.scoring, plan.order, plan.renormalize,
      APFloat(plan.scale), plan.nGroup, plan.topkGroup, plan.groupScore,
      APFloat(plan.renormEpsilon), APFloat(plan.sparsemixerEps),
      plan.scaleInputs);
  std::optional<APFloat> limit;
  if (plan.limit)
    limit = APFloat(*plan.limit);
  ActivationAttr activation = ActivationAttr::getChecked(
      emit, ctx, plan.activation, APFloat(plan.alpha), APFloat(plan.beta),
      limit);
  if (!routing || !activation)
    return failure();
  GateUpLayoutAttr layout;
  if (plan.layout)
    layout = GateUpLayoutAttr::get(ctx, *plan.layout);
  auto layer = LayerOp::create(
      b, loc, hiddenType, entry->getArgument(0), get("router_weight"),
      get("router_bias"), get("router_logits"), get("correction_bias"),
      get("gate"), get("up"), get("gate_up"), get("down"), get("gate_bias"),
      get("up_bias"), get("gate_up_bias"), get("down_bias"), get("shared_gate"),
      get("shared_up"), get("shared_gate_up"), get("shared_down"),
      get("shared_expert_gate"), routing, activation, layout);
  func::ReturnOp::create(b, loc, layer.getResult());
  return success();
}

/// Opens `path` as a directory (Hugging Face) or a GGUF file, plans its
/// layers and builds one function per MoE layer.
OwningOpRef<ModuleOp> importCheckpoint(const std::string &path, bool gguf,
                                       MLIRContext *context,
                                       std::vector<std::string> &weightFiles,
                                       std::vector<std::string> *notes) {
  context->loadDialect<MoEDialect, func::FuncDialect>();
  Location dirLoc = FileLineColLoc::get(context, path, 0, 0);
  hf::Checkpoint ckpt;
  if (std::string err = gguf ? hf::Checkpoint::openGguf(path, ckpt)
                             : hf::Checkpoint::open(path, ckpt);
      !err.empty()) {
    emitError(dirLoc) << err;
    return nullptr;
  }
  std::vector<hf::LayerPlan> plans;
  if (std::string err = gguf ? hf::readGgufMoELayers(ckpt, plans)
                             : hf::readMoELayers(ckpt, plans);
      !err.empty()) {
    emitError(dirLoc) << err;
    return nullptr;
  }
  OpBuilder b(context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(dirLoc);
  std::vector<std::string> layerNotes;
  for (const hf::LayerPlan &plan : plans)
    if (failed(buildLayer(b, *module, ckpt, plan, layerNotes)))
      return nullptr;
  if (failed(verify(*module)))
    return nullptr;
  weightFiles = ckpt.files();
  if (notes)
    *notes = std::move(layerNotes);
  return module;
}

} // namespace

OwningOpRef<ModuleOp>
mlir::moe::importHuggingFace(const std::string &dir, MLIRContext *context,
                             std::vector<std::string> &weightFiles,
                             std::vector<std::string> *notes) {
  return importCheckpoint(dir, /*gguf=*/false, context, weightFiles, notes);
}

OwningOpRef<ModuleOp>
mlir::moe::importGguf(const std::string &path, MLIRContext *context,
                      std::vector<std::string> &weightFiles) {
  return importCheckpoint(path, /*gguf=*/true, context, weightFiles, nullptr);
}
