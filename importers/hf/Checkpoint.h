//===- Checkpoint.h - a Hugging Face checkpoint directory -------*- C++ -*-===//
//
// config.json plus the safetensors files of a checkpoint: one
// model.safetensors, or shards listed by model.safetensors.index.json (or,
// without an index, every *.safetensors in the directory). Every file's
// header is read and checked; tensors are found by name across shards.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_IMPORTERS_HF_CHECKPOINT_H
#define MOEC_IMPORTERS_HF_CHECKPOINT_H

#include "runtime/support/Json.h"
#include "runtime/support/Safetensors.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace moe::hf {

struct TensorRef {
  const safetensors::TensorInfo *info = nullptr;
  const std::string *file = nullptr;
};

class Checkpoint {
public:
  /// Reads `dir`. Returns "" or a message naming the file at fault.
  static std::string open(const std::string &dir, Checkpoint &out);

  const std::string &dir() const { return dir_; }
  const std::string &configPath() const { return configPath_; }
  const json::Value &config() const { return config_; }
  /// The safetensors files, absolute, in binding order.
  const std::vector<std::string> &files() const { return files_; }
  std::optional<TensorRef> find(const std::string &name) const;
  /// The model_type of config.json ("" when missing).
  std::string modelType() const;

private:
  std::string dir_, configPath_;
  json::Value config_;
  std::vector<std::string> files_;
  std::vector<std::shared_ptr<safetensors::File>> open_;
  std::map<std::string, TensorRef> tensors_;
};

/// True when `path` is a directory holding a config.json.
bool isCheckpointDir(const std::string &path);

} // namespace moe::hf

#endif // MOEC_IMPORTERS_HF_CHECKPOINT_H
