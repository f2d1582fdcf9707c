//===- Safetensors.cpp - memory-mapped weights files ----------------------===//
#include "runtime/support/Safetensors.h"
#include "runtime/support/Json.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace moe;
using namespace moe::safetensors;

namespace {

/// Bytes per element of the safetensors dtypes; 0 for unknown ones.
uint64_t elementBytes(const std::string &dtype) {
  static const struct {
    const char *name;
    uint64_t bytes;
  } kTypes[] = {{"F64", 8},  {"F32", 4},     {"F16", 2},    {"BF16", 2},
                {"I64", 8},  {"I32", 4},     {"I16", 2},    {"I8", 1},
                {"U64", 8},  {"U32", 4},     {"U16", 2},    {"U8", 1},
                {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  for (const auto &t : kTypes)
    if (dtype == t.name)
      return t.bytes;
  return 0;
}

} // namespace

std::string safetensors::parseHeader(std::string_view header, uint64_t dataSize,
                                     const std::string &path,
                                     std::vector<TensorInfo> &out) {
  auto fail = [&](const std::string &msg) { return path + ": " + msg; };
  json::Value doc;
  if (std::string err = json::parse(header, doc); !err.empty())
    return fail("corrupt header (not valid JSON): " + err);
  if (!doc.isObject())
    return fail("corrupt header: expected a JSON object");
  std::vector<TensorInfo> tensors;
  for (const json::Member &m : doc.members()) {
    if (m.key == "__metadata__")
      continue;
    auto bad = [&](const std::string &msg) {
      return fail("tensor '" + m.key + "': " + msg);
    };
    const json::Value &v = m.value;
    if (!v.isObject())
      return bad("expected an object with dtype, shape and data_offsets");
    TensorInfo t;
    t.name = m.key;
    const std::string *dtype = v.getString("dtype");
    if (!dtype)
      return bad("missing or non-string 'dtype'");
    t.dtype = *dtype;
    uint64_t bytes = elementBytes(t.dtype);
    if (bytes == 0)
      return bad("unknown dtype '" + t.dtype + "'");
    const json::Value *shape = v.getArray("shape");
    if (!shape)
      return bad("missing or non-array 'shape'");
    uint64_t numel = 1;
    for (const json::Value &d : shape->elements()) {
      std::optional<int64_t> n = d.asInt64();
      if (!d.isNumber() || !n || *n < 0)
        return bad("shape entries must be non-negative integers");
      if (*n != 0 && numel > UINT64_MAX / 16 / static_cast<uint64_t>(*n))
        return bad("shape is too large");
      numel *= static_cast<uint64_t>(*n);
      t.shape.push_back(*n);
    }
    const json::Value *offsets = v.getArray("data_offsets");
    if (!offsets || offsets->elements().size() != 2)
      return bad("'data_offsets' must be an array [begin, end]");
    std::optional<int64_t> b = offsets->elements()[0].asInt64();
    std::optional<int64_t> e = offsets->elements()[1].asInt64();
    if (!b || !e || *b < 0 || *e < *b)
      return bad("'data_offsets' must be integers with 0 <= begin <= end");
    t.begin = static_cast<uint64_t>(*b);
    t.end = static_cast<uint64_t>(*e);
    if (t.end > dataSize)
      return bad("data_offsets [" + std::to_string(t.begin) + ", " +
                 std::to_string(t.end) + "] extend past the data section (" +
                 std::to_string(dataSize) + " bytes; truncated file?)");
    if (t.end - t.begin != numel * bytes)
      return bad("data_offsets cover " + std::to_string(t.end - t.begin) +
                 " bytes but dtype " + t.dtype + " and the shape need " +
                 std::to_string(numel * bytes));
    tensors.push_back(std::move(t));
  }
  std::vector<const TensorInfo *> byOffset;
  for (const TensorInfo &t : tensors)
    byOffset.push_back(&t);
  std::sort(byOffset.begin(), byOffset.end(),
            [](const TensorInfo *a, const TensorInfo *b) {
              return a->begin < b->begin;
            });
  for (size_t i = 1; i < byOffset.size(); ++i)
    if (byOffset[i]->begin < byOffset[i - 1]->end)
      return fail("tensors '" + byOffset[i - 1]->name + "' and '" +
                  byOffset[i]->name + "' overlap in the data section");
  // The format indexes every byte of the data section, as the safetensors
  // library checks: no hole before a tensor, nothing after the last one.
  uint64_t covered = 0;
  for (const TensorInfo *t : byOffset) {
    if (t->begin > covered)
      return fail("a hole of " + std::to_string(t->begin - covered) +
                  " bytes before tensor '" + t->name +
                  "' in the data section (the format indexes every byte)");
    covered = t->end;
  }
  if (covered < dataSize)
    return fail(std::to_string(dataSize - covered) +
                " bytes after the last tensor in the data section (trailing "
                "bytes; the format indexes every byte)");
  out = std::move(tensors);
  return "";
}

std::string File::open(const std::string &path, std::shared_ptr<File> &out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return path + ": cannot open: " + std::strerror(errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    std::string msg = path + ": cannot stat: " + std::strerror(errno);
    ::close(fd);
    return msg;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return path + ": not a regular file";
  }
  size_t size = static_cast<size_t>(st.st_size);
  auto tooShort = [&] {
    return path + ": truncated: " + std::to_string(size) +
           " bytes, shorter than the 8-byte header length";
  };
  if (size == 0) {
    ::close(fd);
    return tooShort();
  }
  void *map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) {
    std::string msg = path + ": cannot map: " + std::strerror(errno);
    ::close(fd);
    return msg;
  }
  // The descriptor stays open: checkUnchanged() asks it whether the mapped
  // file has been cut short since.
  std::shared_ptr<File> file(new File());
  file->path_ = path;
  file->map_ = map;
  file->size_ = size;
  file->fd_ = fd;
  const auto *bytes = static_cast<const unsigned char *>(map);
  std::string_view image(static_cast<const char *>(map), size);
  if (gguf::hasMagic(image)) {
    auto header = std::make_unique<gguf::Header>();
    if (std::string err = gguf::parse(image, path, *header); !err.empty())
      return err;
    file->tensors_.reserve(header->tensors.size());
    for (const gguf::TensorInfo &g : header->tensors) {
      TensorInfo t;
      t.name = g.name;
      t.dtype = gguf::typeTraits(g.type)->name;
      t.shape = g.shape;
      t.begin = g.offset;
      t.end = g.offset + g.size;
      file->tensors_.push_back(std::move(t));
    }
    file->dataStart_ = static_cast<size_t>(header->dataStart);
    file->gguf_ = std::move(header);
    out = std::move(file);
    return "";
  }
  if (size < 8)
    return tooShort();
  uint64_t headerLen = 0;
  for (int i = 7; i >= 0; --i)
    headerLen = (headerLen << 8) | bytes[i];
  if (headerLen > size - 8)
    return path + ": header length " + std::to_string(headerLen) +
           " exceeds the file size (" + std::to_string(size) +
           " bytes; truncated or not a safetensors file)";
  file->dataStart_ = 8 + static_cast<size_t>(headerLen);
  std::string_view header(reinterpret_cast<const char *>(bytes + 8),
                          static_cast<size_t>(headerLen));
  if (std::string err =
          parseHeader(header, size - file->dataStart_, path, file->tensors_);
      !err.empty())
    return err;
  out = std::move(file);
  return "";
}

File::~File() {
  if (map_)
    munmap(map_, size_);
  if (fd_ >= 0)
    ::close(fd_);
}

void File::release(const TensorInfo &t, uint64_t bytes) const {
  release(t, data(t), std::min<uint64_t>(bytes, t.end - t.begin));
}

void File::release(const TensorInfo &t, const void *from,
                   uint64_t bytes) const {
  uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  auto first = reinterpret_cast<uintptr_t>(data(t));
  auto begin = reinterpret_cast<uintptr_t>(from);
  uint64_t size = t.end - t.begin;
  if (begin < first || begin - first > size || bytes > size - (begin - first))
    return;
  uintptr_t end = begin + bytes;
  begin = (begin + page - 1) / page * page;
  end = end / page * page;
  // Advice only: a mapping that keeps its pages is still correct.
  if (begin < end)
    madvise(reinterpret_cast<void *>(begin), end - begin, MADV_DONTNEED);
}

std::string File::checkUnchanged() const {
  struct stat st;
  if (fd_ < 0 || fstat(fd_, &st) != 0)
    return "";
  if (static_cast<uint64_t>(st.st_size) < size_)
    return path_ + ": cut short since it was bound (" + std::to_string(size_) +
           " bytes then, " + std::to_string(st.st_size) +
           " now); rebind it or restore it";
  return "";
}

const TensorInfo *File::find(const std::string &name) const {
  for (const TensorInfo &t : tensors_)
    if (t.name == name)
      return &t;
  return nullptr;
}

std::string safetensors::write(const std::string &path,
                               const std::vector<TensorData> &tensors) {
  json::Value header = json::Value::object();
  uint64_t offset = 0;
  for (const TensorData &t : tensors) {
    json::Value entry = json::Value::object();
    entry.set("dtype", json::Value::string(t.dtype));
    json::Value shape = json::Value::array();
    for (int64_t d : t.shape)
      shape.push(json::Value::integer(d));
    entry.set("shape", std::move(shape));
    json::Value offsets = json::Value::array();
    offsets.push(json::Value::integer(static_cast<int64_t>(offset)));
    offset += t.bytes.size();
    offsets.push(json::Value::integer(static_cast<int64_t>(offset)));
    entry.set("data_offsets", std::move(offsets));
    header.set(t.name, std::move(entry));
  }
  std::string text = json::write(header);
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string tmp = path + ".tmp-moec";
  FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f)
    return path + ": cannot write: " + std::strerror(errno);
  unsigned char len[8];
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i)
    len[i] = static_cast<unsigned char>(n >> (8 * i));
  bool ok = std::fwrite(len, 1, 8, f) == 8 &&
            std::fwrite(text.data(), 1, text.size(), f) == text.size();
  for (const TensorData &t : tensors)
    ok = ok &&
         std::fwrite(t.bytes.data(), 1, t.bytes.size(), f) == t.bytes.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string msg = path + ": cannot write: " + std::strerror(errno);
    std::remove(tmp.c_str());
    return msg;
  }
  return "";
}

bool safetensors::sameRowMajorShape(const std::vector<int64_t> &have,
                                    const std::vector<int64_t> &want) {
  auto strip = [](const std::vector<int64_t> &v) {
    size_t i = 0;
    while (i + 1 < v.size() && v[i] == 1)
      ++i;
    return std::vector<int64_t>(v.begin() + i, v.end());
  };
  std::vector<int64_t> h = strip(have), w = strip(want);
  if (h == w)
    return true;
  if (h.empty() || h.size() >= w.size())
    return false;
  // h = [w0·…·wm, w(m+1), …]: the trailing dimensions equal, the first the
  // product of the rest of w.
  size_t merged = w.size() - h.size() + 1;
  if (!std::equal(h.begin() + 1, h.end(), w.begin() + merged))
    return false;
  int64_t product = 1;
  for (size_t i = 0; i < merged; ++i) {
    if (w[i] < 0 || (w[i] > 0 && product > INT64_MAX / w[i]))
      return false;
    product *= w[i];
  }
  return h.front() == product;
}

std::string safetensors::filesIn(const std::string &dir,
                                 std::vector<std::string> &out) {
  DIR *d = opendir(dir.c_str());
  if (!d)
    return dir + ": cannot list: " + std::strerror(errno);
  const std::string suffix = ".safetensors";
  while (dirent *e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > suffix.size() &&
        n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return "";
}
