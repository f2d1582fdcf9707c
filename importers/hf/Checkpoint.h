//===- Checkpoint.h - a Hugging Face checkpoint directory -------*- C++ -*-===//
//
// config.json plus the safetensors files of a checkpoint: one
// model.safetensors, or shards listed by model.safetensors.index.json (or,
// without an index, every *.safetensors in the directory). Every file's
// header is read and checked; tensors are found by name across shards.
// A GGUF file is a checkpoint too: its metadata takes config.json's place
// and its tensors are found by their GGUF names.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_IMPORTERS_HF_CHECKPOINT_H
#define MOEC_IMPORTERS_HF_CHECKPOINT_H

#include "runtime/support/Gguf.h"
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
  /// Reads the GGUF file `path`. Returns "" or a message naming it.
  static std::string openGguf(const std::string &path, Checkpoint &out);

  const std::string &dir() const { return dir_; }
  const std::string &configPath() const { return configPath_; }
  const json::Value &config() const { return config_; }
  /// The safetensors files, absolute, in binding order.
  const std::vector<std::string> &files() const { return files_; }
  std::optional<TensorRef> find(const std::string &name) const;
  /// The model_type of config.json, or a GGUF file's general.architecture
  /// ("" when missing).
  std::string modelType() const;
  /// What holds the model's configuration, for messages: "config.json" or
  /// "the GGUF metadata".
  const char *configName() const {
    return gguf_ ? "the GGUF metadata" : "config.json";
  }
  /// The header of a GGUF checkpoint; null for a directory.
  const gguf::Header *gguf() const { return gguf_; }

private:
  std::string dir_, configPath_;
  json::Value config_;
  std::vector<std::string> files_;
  std::vector<std::shared_ptr<safetensors::File>> open_;
  std::map<std::string, TensorRef> tensors_;
  const gguf::Header *gguf_ = nullptr;
};

/// True when `path` is a directory holding a config.json.
bool isCheckpointDir(const std::string &path);
/// True when `path` is a file starting with the GGUF magic.
bool isGgufFile(const std::string &path);

} // namespace moe::hf

#endif // MOEC_IMPORTERS_HF_CHECKPOINT_H
