//===- WeightCheck.cpp - weight files checked against a model -------------===//
#include "compiler/WeightCheck.h"
#include "runtime/support/DType.h"
#include "runtime/support/Safetensors.h"

#include <algorithm>
#include <map>
#include <memory>

namespace json = ::moe::json;
namespace st = ::moe::safetensors;

namespace {

int64_t elements(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

/// "f32" for "F32", "bf16" for "BF16", ...
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string quotedList(const std::vector<std::string> &files) {
  std::string out;
  for (const std::string &f : files)
    out += (out.empty() ? "'" : ", '") + f + "'";
  return out;
}

/// "[a, b, c]".
std::string shapeText(const std::vector<int64_t> &shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

} // namespace

std::string
mlir::moe::checkWeightFiles(const json::Value &metadata,
                            const std::vector<std::string> &files,
                            const std::vector<std::string> &elsewhere) {
  std::vector<std::shared_ptr<st::File>> opened;
  std::map<std::string, const st::TensorInfo *> tensors;
  for (const std::string &path : files) {
    std::shared_ptr<st::File> file;
    if (std::string err = st::File::open(path, file); !err.empty())
      return err;
    for (const st::TensorInfo &t : file->tensors())
      tensors.emplace(t.name, &t);
    opened.push_back(std::move(file));
  }
  const json::Value *functions = metadata.getArray("functions");
  if (!functions)
    return "";
  for (const json::Value &fn : functions->elements()) {
    const std::string *fnName = fn.getString("name");
    const json::Value *args = fn.getArray("arguments");
    if (!fnName || !args)
      continue;
    for (const json::Value &arg : args->elements()) {
      const std::string *kind = arg.getString("kind");
      const std::string *name = arg.getString("name");
      const std::string *dtype = arg.getString("dtype");
      const json::Value *shapeV = arg.getArray("shape");
      if (!kind || *kind != "weight" || !name || !dtype || !shapeV)
        continue;
      std::vector<int64_t> shape;
      for (const json::Value &d : shapeV->elements())
        shape.push_back(d.asInt64().value_or(0));
      std::vector<std::string> sources;
      if (const json::Value *stack = arg.getArray("stack"))
        for (const json::Value &s : stack->elements())
          sources.push_back(s.asString());
      else
        sources.push_back(*name);
      int64_t want = elements(shape) / std::max<int64_t>(sources.size(), 1);
      const std::string *stored = arg.getString("stored_dtype");
      for (const std::string &source : sources) {
        auto it = tensors.find(source);
        if (it == tensors.end()) {
          if (std::find(elsewhere.begin(), elsewhere.end(), source) !=
              elsewhere.end())
            continue;
          return "the weights files " + quotedList(files) +
                 " have no tensor '" + source + "' (weight '" + *name +
                 "' of function '" + *fnName +
                 "'): --weights must name this model's weights";
        }
        const st::TensorInfo &t = *it->second;
        std::string have = lower(t.dtype);
        // A block-quantized weight stored as its bytes.
        std::optional<::moe::DType> wantDType = ::moe::parseDType(*dtype);
        std::optional<std::vector<int64_t>> asBytes =
            wantDType && sources.size() == 1
                ? ::moe::blockBytesShape(*wantDType, shape)
                : std::nullopt;
        if (have == "u8" && asBytes && t.shape == *asBytes)
          continue;
        if (elements(t.shape) != want ||
            (have != *dtype && (!stored || have != *stored)))
          return "tensor '" + source + "' of the weights files " +
                 quotedList(files) + " is " + have + " with " +
                 std::to_string(elements(t.shape)) + " elements, but weight '" +
                 *name + "' of function '" + *fnName + "' needs " + *dtype +
                 (stored ? " (or " + *stored + ")" : std::string()) + " with " +
                 std::to_string(want) +
                 (asBytes ? " (or its blocks as u8 " + shapeText(*asBytes) + ")"
                          : std::string()) +
                 ": --weights must name this model's weights";
      }
    }
  }
  return "";
}
