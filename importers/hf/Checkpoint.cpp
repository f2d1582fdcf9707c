//===- Checkpoint.cpp - a Hugging Face checkpoint directory ---------------===//
#include "importers/hf/Checkpoint.h"
#include "runtime/support/FileIO.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

using namespace moe;
using namespace moe::hf;

namespace {

bool isDir(const std::string &p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool isFile(const std::string &p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string absolute(const std::string &p) {
  if (!p.empty() && p[0] == '/')
    return p;
  char *cwd = getcwd(nullptr, 0);
  std::string base = cwd ? cwd : ".";
  free(cwd);
  return base + "/" + p;
}

} // namespace

bool hf::isCheckpointDir(const std::string &path) {
  return isDir(path) && isFile(path + "/config.json");
}

bool hf::isGgufFile(const std::string &path) {
  if (!isFile(path))
    return false;
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return false;
  char magic[4] = {};
  size_t n = std::fread(magic, 1, sizeof(magic), f);
  std::fclose(f);
  return gguf::hasMagic(std::string_view(magic, n));
}

std::string Checkpoint::modelType() const {
  if (gguf_) {
    const gguf::Value *v = gguf_->find("general.architecture");
    return v && v->type == gguf::ValueType::String ? v->s : std::string();
  }
  const std::string *t = config_.getString("model_type");
  return t ? *t : std::string();
}

std::string Checkpoint::openGguf(const std::string &pathIn, Checkpoint &out) {
  std::string path = absolute(pathIn);
  out.dir_ = path;
  out.configPath_ = path;
  std::shared_ptr<safetensors::File> file;
  if (std::string err = safetensors::File::open(path, file); !err.empty())
    return err;
  if (!file->gguf())
    return path + ": not a GGUF file";
  out.gguf_ = file->gguf();
  out.files_.push_back(path);
  out.open_.push_back(file);
  for (const safetensors::TensorInfo &t : file->tensors())
    out.tensors_.emplace(t.name, TensorRef{&t, &out.files_[0]});
  return "";
}

std::optional<TensorRef> Checkpoint::find(const std::string &name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end())
    return std::nullopt;
  return it->second;
}

std::string Checkpoint::open(const std::string &dirIn, Checkpoint &out) {
  std::string dir = absolute(dirIn);
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();
  out.dir_ = dir;
  out.configPath_ = dir + "/config.json";
  std::string text;
  if (std::string err = readFile(out.configPath_, text); !err.empty())
    return err;
  if (std::string err = json::parse(text, out.config_); !err.empty())
    return out.configPath_ + ": " + err;
  if (!out.config_.isObject())
    return out.configPath_ + ": expected a JSON object";

  // The shards: from the index, else every *.safetensors here.
  std::vector<std::string> names;
  std::string index = dir + "/model.safetensors.index.json";
  std::map<std::string, std::string> weightMap;
  if (isFile(index)) {
    std::string itext;
    json::Value doc;
    if (std::string err = readFile(index, itext); !err.empty())
      return err;
    if (std::string err = json::parse(itext, doc); !err.empty())
      return index + ": " + err;
    const json::Value *map = doc.getObject("weight_map");
    if (!map)
      return index + ": missing object 'weight_map'";
    std::set<std::string> shards;
    for (const json::Member &m : map->members()) {
      if (!m.value.isString())
        return index + ": weight_map['" + m.key + "'] is not a file name";
      const std::string &f = m.value.asString();
      if (f.find('/') != std::string::npos)
        return index + ": shard '" + f + "' is not a file of this directory";
      shards.insert(f);
      weightMap[m.key] = f;
    }
    names.assign(shards.begin(), shards.end());
  } else if (std::string err = safetensors::filesIn(dir, names); !err.empty()) {
    return err;
  }
  if (names.empty())
    return dir + ": no .safetensors files (and no "
                 "model.safetensors.index.json)";

  for (const std::string &n : names) {
    std::string path = dir + "/" + n;
    std::shared_ptr<safetensors::File> file;
    if (std::string err = safetensors::File::open(path, file); !err.empty())
      return err;
    out.files_.push_back(path);
    out.open_.push_back(file);
  }
  for (size_t i = 0; i < out.open_.size(); ++i)
    for (const safetensors::TensorInfo &t : out.open_[i]->tensors()) {
      auto [it, inserted] =
          out.tensors_.emplace(t.name, TensorRef{&t, &out.files_[i]});
      if (!inserted)
        return out.files_[i] + ": tensor '" + t.name + "' is also in " +
               *it->second.file;
    }
  for (const auto &[tensor, file] : weightMap) {
    auto it = out.tensors_.find(tensor);
    if (it == out.tensors_.end())
      return index + ": tensor '" + tensor + "' is listed in " + file +
             " but not found there";
  }
  return "";
}
