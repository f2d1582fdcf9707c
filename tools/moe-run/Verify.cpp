//===- Verify.cpp - moe-run --verify --------------------------------------===//
#include "tools/moe-run/Verify.h"
#include "runtime/reference/ConfigJson.h"
#include "runtime/reference/Reference.h"
#include "runtime/support/DType.h"
#include "runtime/support/Json.h"

#include <algorithm>
#include <optional>

using namespace moerun;

namespace {

/// The reference value as an output of dtype `t` holds it.
template <moe::DType D>
double roundTo(double v) {
  unsigned char bytes[8];
  moe::storeElement(D, bytes, 0, v);
  return moe::loadElement(D, bytes, 0);
}

} // namespace

double (*moerun::roundingTo(moert_dtype_t t))(double) {
  switch (t) {
  case MOERT_BF16:
    return roundTo<moe::DType::BF16>;
  case MOERT_F16:
    return roundTo<moe::DType::F16>;
  case MOERT_F32:
    return roundTo<moe::DType::F32>;
  case MOERT_Q8_0:
  case MOERT_Q4_0:
  case MOERT_Q4_K:
  case MOERT_Q6_K:
  case MOERT_MXFP4:
  case MOERT_U8Z:
  case MOERT_U4Z:
  case MOERT_FP8_E4M3:
  case MOERT_U8Z128:
  case MOERT_U4Z128:
  case MOERT_U2Z:
  case MOERT_U2Z128:
  case MOERT_U8Z16:
  case MOERT_U4Z16:
  case MOERT_U2Z16:
  case MOERT_Q4_1:
  case MOERT_Q5_0:
  case MOERT_Q5_1:
  case MOERT_Q5_K:
  case MOERT_Q2_K:
  case MOERT_Q3_K:
  case MOERT_IQ4_NL:
  case MOERT_IQ4_XS:
  case MOERT_IQ2_XXS:
  case MOERT_IQ2_XS:
  case MOERT_IQ2_S:
  case MOERT_IQ3_XXS:
  case MOERT_IQ3_S:
  case MOERT_IQ1_S:
  case MOERT_IQ1_M:
    break; // weights only, never a result
  }
  return nullptr;
}

double moerun::defaultTolerance(moert_dtype_t t) {
  return t == MOERT_BF16 ? 1e-2 : t == MOERT_F16 ? 1e-3 : 1e-5;
}

bool moerun::numericsFlag(moert_artifact_t *artifact, const char *name) {
  moe::json::Value doc;
  if (!moe::json::parse(moert_artifact_metadata(artifact), doc).empty())
    return false;
  const moe::json::Value *numerics = doc.getObject("numerics");
  const bool *flag = numerics ? numerics->getBool(name) : nullptr;
  return flag && *flag;
}

namespace {
/// The metadata record of function `fnName`, or null.
const moe::json::Value *functionRecord(const moe::json::Value &doc,
                                       const std::string &fnName) {
  if (const moe::json::Value *fns = doc.getArray("functions"))
    for (const moe::json::Value &f : fns->elements())
      if (const std::string *n = f.getString("name"); n && *n == fnName)
        return &f;
  return nullptr;
}
} // namespace

std::string
moerun::gatherExpertSlots(RankGroup &group, moert_artifact_t *artifact,
                          moert_session_t *session, const std::string &fnName,
                          std::map<std::string, WholeWeight> &whole) {
  moe::json::Value doc;
  if (std::string err =
          moe::json::parse(moert_artifact_metadata(artifact), doc);
      !err.empty())
    return "artifact metadata: " + err;
  const moe::json::Value *fn = functionRecord(doc, fnName);
  const moe::json::Value *args = fn ? fn->getArray("arguments") : nullptr;
  if (!args)
    return "";
  std::string msg;
  for (const moe::json::Value &a : args->elements()) {
    const moe::json::Value *slots = a.getObject("expert_slots");
    const std::string *name = a.getString("name");
    if (!slots || !name)
      continue;
    // The runtime checked the record when it loaded the artifact.
    int64_t experts = slots->get("experts")->asInt64().value_or(0);
    std::vector<int64_t> physToLog;
    for (const moe::json::Value &e : slots->getArray("phys_to_log")->elements())
      physToLog.push_back(e.asInt64().value_or(0));
    moert_tensor_t t;
    if (failed(moert_session_weight(session, name->c_str(), &t), msg))
      return msg;
    auto dtype = static_cast<moe::DType>(t.dtype);
    std::vector<int64_t> shape(t.shape, t.shape + t.rank);
    uint64_t count = 1, bytes = 0;
    for (int32_t d = 1; d < t.rank; ++d)
      count *= static_cast<uint64_t>(shape[d]);
    moe::dtypeBytes(dtype, count, shape.back(), bytes);
    auto expertBytes = static_cast<int64_t>(bytes);
    std::vector<unsigned char> all;
    if (std::string err = group.gather(
            static_cast<const unsigned char *>(t.data),
            std::vector<int64_t>(group.size(), shape[0]), expertBytes, all);
        !err.empty())
      return "gathering weight '" + *name + "': " + err;
    if (group.rank() != 0)
      continue;
    WholeWeight &w = whole[*name];
    w.dtype = t.dtype;
    w.shape = shape;
    w.shape[0] = experts;
    w.bytes.assign(static_cast<size_t>(experts * expertBytes), 0);
    std::vector<bool> seen(static_cast<size_t>(experts), false);
    for (size_t p = 0; p < physToLog.size(); ++p) {
      auto e = static_cast<size_t>(physToLog[p]);
      if (e >= seen.size() || seen[e])
        continue;
      seen[e] = true;
      std::copy_n(all.begin() + p * expertBytes, expertBytes,
                  w.bytes.begin() + e * expertBytes);
    }
  }
  return "";
}

std::string moerun::verify(moert_artifact_t *artifact, moert_session_t *session,
                           const std::string &fnName,
                           const std::map<std::string, Buffer *> &inputs,
                           const std::map<std::string, WholeWeight> &whole,
                           std::vector<double> &expected) {
  moe::json::Value doc;
  if (std::string err =
          moe::json::parse(moert_artifact_metadata(artifact), doc);
      !err.empty())
    return "artifact metadata: " + err;
  const moe::json::Value *layer = nullptr;
  if (const moe::json::Value *fn = functionRecord(doc, fnName))
    layer = fn->getObject("layer");
  if (!layer)
    return "function '" + fnName +
           "' is not a single moe.layer, so the reference evaluator cannot "
           "recompute it";
  moe::ref::LayerConfig config;
  const moe::json::Value *cfg = layer->getObject("config");
  const moe::json::Value *operands = layer->getObject("operands");
  if (!cfg || !operands)
    return "artifact metadata: layer record lacks config or operands";
  if (std::string err = moe::ref::configFromJson(*cfg, config); !err.empty())
    return "artifact metadata: " + err;
  int32_t na = 0;
  const moert_param_t *args = nullptr;
  std::string msg;
  if (failed(moert_artifact_function_signature(artifact, fnName.c_str(), &na,
                                               &args, nullptr, nullptr),
             msg))
    return msg;
  moe::ref::LayerOperands ops;
  for (const moe::json::Member &m : operands->members()) {
    std::optional<int64_t> idx = m.value.asInt64();
    if (!idx || *idx < 0 || *idx >= na)
      return "artifact metadata: bad operand index for " + m.key;
    const moert_param_t &p = args[*idx];
    moe::ref::Array arr;
    if (auto w = whole.find(p.name); w != whole.end()) {
      arr.shape = w->second.shape;
      arr.data.resize(arr.numElements());
      for (size_t i = 0; i < arr.data.size(); ++i)
        arr.data[i] = moe::loadElement(static_cast<moe::DType>(w->second.dtype),
                                       w->second.bytes.data(), i);
    } else if (p.is_weight) {
      moert_tensor_t t;
      if (failed(moert_session_weight(session, p.name, &t), msg))
        return msg;
      arr.shape.assign(t.shape, t.shape + t.rank);
      arr.data.resize(arr.numElements());
      for (size_t i = 0; i < arr.data.size(); ++i)
        arr.data[i] =
            moe::loadElement(static_cast<moe::DType>(t.dtype), t.data, i);
    } else {
      const Buffer *b = inputs.at(p.name);
      arr.shape = b->shape;
      arr.data = b->toDouble();
    }
    if (m.key == "hidden") {
      ops.hidden = std::move(arr);
    } else if (std::optional<moe::ref::Array> *slot =
                   moe::ref::optionalOperand(ops, m.key)) {
      *slot = std::move(arr);
    } else {
      return "artifact metadata: unknown operand role '" + m.key + "'";
    }
  }
  moe::ref::Array out;
  if (std::string err = moe::ref::evaluate(config, ops, out); !err.empty())
    return "reference evaluator: " + err;
  expected = std::move(out.data);
  return "";
}
