//===- GgufTest.cpp - the GGUF reader and weights files in GGUF
//------------===//
#include "runtime/support/Gguf.h"
#include "runtime/support/Safetensors.h"
#include "test/unit/Check.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

using namespace moe;

namespace {

/// Little-endian bytes of a GGUF file, built field by field.
struct Bytes {
  std::string b;
  Bytes &u8(uint8_t v) {
    b += static_cast<char>(v);
    return *this;
  }
  Bytes &u32(uint32_t v) {
    for (int i = 0; i < 4; ++i)
      b += static_cast<char>(v >> (8 * i));
    return *this;
  }
  Bytes &u64(uint64_t v) {
    for (int i = 0; i < 8; ++i)
      b += static_cast<char>(v >> (8 * i));
    return *this;
  }
  Bytes &str(const std::string &s) {
    u64(s.size());
    b += s;
    return *this;
  }
  Bytes &raw(const std::string &s) {
    b += s;
    return *this;
  }
};

struct Tensor {
  std::string name;
  std::vector<uint64_t> ne; // innermost first, as stored
  uint32_t type;
  uint64_t offset;
};

/// A file of `kv` (its `kvCount` entries' bytes), `tensors`, padding to
/// `align` and `data` bytes of data.
std::string image(const std::string &kv, uint64_t kvCount,
                  const std::vector<Tensor> &tensors, uint64_t data,
                  uint64_t align = 32, uint32_t version = 3) {
  Bytes f;
  f.raw("GGUF").u32(version).u64(tensors.size()).u64(kvCount).raw(kv);
  for (const Tensor &t : tensors) {
    f.str(t.name).u32(static_cast<uint32_t>(t.ne.size()));
    for (uint64_t n : t.ne)
      f.u64(n);
    f.u32(t.type).u64(t.offset);
  }
  f.b.append((align - f.b.size() % align) % align, '\0');
  for (uint64_t i = 0; i < data; ++i)
    f.u8(static_cast<uint8_t>(i));
  return f.b;
}

/// The metadata of the valid file: a string, the alignment, an array of
/// int32, a bool, an array of arrays of strings.
std::string validKv() {
  Bytes kv;
  kv.str("general.architecture").u32(8).str("moe");
  kv.str("general.alignment").u32(4).u32(32);
  kv.str("layers").u32(9).u32(5).u64(3).u32(1).u32(2).u32(uint32_t(-3));
  kv.str("flag").u32(7).u8(1);
  kv.str("names").u32(9).u32(9).u64(2);
  kv.u32(8).u64(1).str("a");
  kv.u32(8).u64(2).str("bc").str("");
  return kv.b;
}

const std::vector<Tensor> kValidTensors = {
    {"a", {3, 2}, 0, 0},   // F32 [2, 3]: 24 bytes
    {"q", {32, 2}, 8, 32}, // Q8_0 [2, 32]: 2 blocks of 34 bytes
    {"h", {4}, 1, 128},    // F16 [4]: 8 bytes
};

std::string valid() { return image(validKv(), 5, kValidTensors, 136); }

std::string parseError(const std::string &img) {
  gguf::Header h;
  return gguf::parse(img, "m.gguf", h);
}

std::string tempPath(const char *name) {
  const char *dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/moe-ggufttest-" +
         std::to_string(::getpid()) + "-" + name;
}

bool writeBytes(const std::string &path, const std::string &bytes) {
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return false;
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

} // namespace

TEST(ggufTypeTraits) {
  CHECK_EQ(std::string(gguf::typeTraits(0)->name), std::string("F32"));
  CHECK_EQ(gguf::typeTraits(12)->blockElements, int64_t(256));
  CHECK_EQ(gguf::typeTraits(12)->blockBytes, int64_t(144));
  CHECK_EQ(gguf::typeTraits(9)->blockBytes, int64_t(36)); // Q8_1, as ggml
  CHECK_EQ(std::string(gguf::typeTraits(30)->name), std::string("BF16"));
  CHECK_EQ(gguf::typeTraits(39)->blockBytes, int64_t(17)); // MXFP4
  CHECK(!gguf::typeTraits(4));
  CHECK(!gguf::typeTraits(31));
  CHECK(!gguf::typeTraits(1000));
}

TEST(ggufParsesAValidFile) {
  std::string img = valid();
  CHECK(gguf::hasMagic(img));
  gguf::Header h;
  CHECK_EQ(gguf::parse(img, "m.gguf", h), std::string());
  CHECK_EQ(h.version, 3u);
  CHECK_EQ(h.metadata.size(), size_t(5));
  CHECK_EQ(h.metadata[0].first, std::string("general.architecture"));
  CHECK_EQ(h.find("general.architecture")->s, std::string("moe"));
  CHECK_EQ(h.find("general.alignment")->u, uint64_t(32));
  const gguf::Value *layers = h.find("layers");
  CHECK(layers && layers->type == gguf::ValueType::Array &&
        layers->elementType == gguf::ValueType::Int32 &&
        layers->array.size() == 3);
  if (layers && layers->array.size() == 3)
    CHECK_EQ(layers->array[2].i, int64_t(-3));
  CHECK(h.find("flag")->b);
  const gguf::Value *names = h.find("names");
  CHECK(names && names->array.size() == 2 &&
        names->array[1].array.size() == 2 &&
        names->array[1].array[0].s == "bc");
  CHECK(!h.find("missing"));
  CHECK_EQ(h.tensors.size(), size_t(3));
  CHECK(h.tensors[0].shape == std::vector<int64_t>({2, 3}));
  CHECK_EQ(h.tensors[0].size, uint64_t(24));
  CHECK(h.tensors[1].shape == std::vector<int64_t>({2, 32}));
  CHECK_EQ(h.tensors[1].type, 8u);
  CHECK_EQ(h.tensors[1].offset, uint64_t(32));
  CHECK_EQ(h.tensors[1].size, uint64_t(68));
  CHECK_EQ(h.dataStart % 32, uint64_t(0));
  CHECK_EQ(h.dataStart + h.dataSize, uint64_t(img.size()));
  CHECK_EQ(h.dataSize, uint64_t(136));
  // Version 2 has the same layout; trailing bytes after the last tensor
  // are allowed; a file may have no tensors at all.
  CHECK_EQ(parseError(image(validKv(), 5, kValidTensors, 200, 32, 2)),
           std::string());
  CHECK_EQ(parseError(image("", 0, {}, 0)), std::string());
  // A larger alignment moves the data section; a zero dimension is empty.
  Bytes kv;
  kv.str("general.alignment").u32(4).u32(256);
  CHECK_EQ(parseError(image(kv.b, 1, {{"e", {0, 7}, 0, 0}, {"f", {1}, 0, 256}},
                            260, 256)),
           std::string());
}

TEST(ggufRefusesBadHeaders) {
  CHECK_CONTAINS(parseError("GGUX" + valid().substr(4)),
                 "m.gguf: not a GGUF file (its first bytes are 47 47 55 58");
  std::string v4 = image(validKv(), 5, kValidTensors, 136, 32, 4);
  CHECK_CONTAINS(parseError(v4),
                 "m.gguf: GGUF version 4 is not supported (supported: 2, 3)");
  CHECK_CONTAINS(parseError(image("", 0, {}, 0, 32, 1)),
                 "GGUF version 1 is not supported (supported: 2, 3)");
  CHECK_CONTAINS(parseError(image("", 0, {}, 0, 32, 0x03000000)),
                 "a big-endian file?");
  // Truncated at several points, each naming the field and the offset.
  std::string img = valid();
  CHECK_CONTAINS(parseError(img.substr(0, 2)),
                 "m.gguf: truncated at byte 0 reading the magic");
  CHECK_CONTAINS(parseError(img.substr(0, 6)),
                 "truncated at byte 4 reading the version (4 bytes needed, 2 "
                 "left)");
  CHECK_CONTAINS(parseError(img.substr(0, 10)),
                 "truncated at byte 8 reading the tensor count");
  CHECK_CONTAINS(parseError(img.substr(0, 20)),
                 "truncated at byte 16 reading the metadata count");
  // The counts are checked against what is left before anything else.
  CHECK_CONTAINS(parseError(img.substr(0, 30)),
                 "metadata count 5 cannot fit in the 6 bytes left");
  CHECK_CONTAINS(parseError(img.substr(0, 134)),
                 "metadata key 'layers': an array of 3 INT32 values at byte "
                 "118 cannot fit in the 4 bytes left");
  CHECK_CONTAINS(parseError(img.substr(0, 215)),
                 "truncated at byte 213 reading the array length of metadata "
                 "key 'names' (8 bytes needed, 2 left)");
  CHECK_CONTAINS(parseError(img.substr(0, 152)),
                 "truncated at byte 150 reading the key of metadata entry 3 "
                 "(4 bytes needed, 2 left)");
  CHECK_CONTAINS(parseError(img.substr(0, 300)),
                 "tensor count 3 cannot fit in the 61 bytes left after the "
                 "metadata");
  CHECK_CONTAINS(parseError(img.substr(0, 340)),
                 "truncated at byte 334 reading a dimension of tensor 'h' (8 "
                 "bytes needed, 6 left)");
  // Every shorter prefix of a valid file is refused, none crashes.
  bool allRefused = true;
  for (size_t n = 0; n < img.size() - 136; ++n)
    allRefused &= !parseError(img.substr(0, n)).empty();
  CHECK(allRefused);
  // The data section cut short.
  CHECK_CONTAINS(parseError(img.substr(0, img.size() - 1)),
                 "tensor 'h': its 8 bytes at offset 128 extend past the end "
                 "of the file (the data section at byte");
  CHECK_CONTAINS(parseError(image(validKv(), 5, kValidTensors, 0)),
                 "past the end of the file");
}

TEST(ggufRefusesBadMetadata) {
  auto one = [](const Bytes &kv) { return parseError(image(kv.b, 1, {}, 0)); };
  Bytes dup;
  dup.str("k").u32(4).u32(1).str("k").u32(4).u32(2);
  CHECK_CONTAINS(parseError(image(dup.b, 2, {}, 0)),
                 "duplicate metadata key 'k' (entry 1, at byte 41)");
  CHECK_CONTAINS(one(Bytes().str("k").u32(13).u32(0)),
                 "metadata key 'k': unknown value type 13 at byte 33");
  CHECK_CONTAINS(one(Bytes().str("k").u32(7).u8(2).u32(0)),
                 "metadata key 'k': a BOOL of 2 at byte 37 (must be 0 or 1)");
  CHECK_CONTAINS(one(Bytes().str("general.alignment").u32(5).u32(32)),
                 "general.alignment is a INT32, not a UINT32");
  CHECK_CONTAINS(one(Bytes().str("general.alignment").u32(4).u32(48)),
                 "general.alignment 48 is not a non-zero power of two");
  CHECK_CONTAINS(one(Bytes().str("general.alignment").u32(4).u32(0)),
                 "general.alignment 0 is not a non-zero power of two");
  // Huge lengths and counts are refused before memory is reserved.
  CHECK_CONTAINS(one(Bytes().str("k").u32(8).u64(uint64_t(1) << 60).u32(0)),
                 "truncated at byte 45 reading the string of metadata key "
                 "'k' (1152921504606846976 bytes needed, 19 left)");
  CHECK_CONTAINS(one(Bytes().u64(uint64_t(-1)).u32(0).u8(0)),
                 "reading the key of metadata entry 0");
  CHECK_CONTAINS(
      one(Bytes().str("k").u32(9).u32(0).u64(uint64_t(1) << 60).u32(0)),
      "metadata key 'k': an array of 1152921504606846976 UINT8 values at "
      "byte 37 cannot fit in the 15 bytes left");
  CHECK_CONTAINS(one(Bytes().str("k").u32(9).u32(20).u64(0)),
                 "metadata key 'k': unknown array element type 20");
  CHECK_CONTAINS(
      parseError(Bytes().raw("GGUF").u32(3).u64(0).u64(uint64_t(1) << 62).b +
                 std::string(64, '\0')),
      "metadata count 4611686018427387904 cannot fit in the 64 bytes left");
  CHECK_CONTAINS(
      parseError(Bytes().raw("GGUF").u32(3).u64(uint64_t(-1)).u64(0).b +
                 std::string(64, '\0')),
      "tensor count 18446744073709551615 cannot fit in the 64 bytes left");
  // Arrays nest 4 deep, not 5.
  auto nested = [](int depth) {
    Bytes kv;
    kv.str("k").u32(9);
    for (int i = 1; i < depth; ++i)
      kv.u32(9).u64(1);
    kv.u32(4).u64(1).u32(7);
    return kv;
  };
  CHECK_EQ(one(nested(4)), std::string());
  CHECK_CONTAINS(one(nested(5)), "metadata key 'k': arrays nested deeper "
                                 "than 4");
}

TEST(ggufRefusesBadTensors) {
  auto err = [](const std::vector<Tensor> &t, uint64_t data = 512) {
    return parseError(image("", 0, t, data));
  };
  CHECK_CONTAINS(err({{"a", {4}, 0, 0}, {"a", {4}, 0, 32}}),
                 "m.gguf: duplicate tensor name 'a' (tensor info 1, at byte");
  CHECK_CONTAINS(err({{"", {4}, 0, 0}}),
                 "tensor info 0 at byte 24 has an empty name");
  CHECK_CONTAINS(err({{"a", {}, 0, 0}}),
                 "tensor 'a' (tensor info at byte 24): 0 dimensions (1 to 4 "
                 "allowed)");
  CHECK_CONTAINS(err({{"a", {1, 1, 1, 1, 1}, 0, 0}}),
                 "5 dimensions (1 to 4 allowed)");
  CHECK_CONTAINS(err({{"a", {4, uint64_t(1) << 62}, 0, 0}}),
                 "tensor 'a' (tensor info at byte 24): dimension 1 is "
                 "4611686018427387904 (must be below 2^62)");
  CHECK_CONTAINS(err({{"a", {4}, 4, 0}}),
                 "tensor 'a' (tensor info at byte 24): unknown ggml type id 4");
  CHECK_CONTAINS(err({{"a", {4}, 1000, 0}}), "unknown ggml type id 1000");
  CHECK_CONTAINS(err({{"X", {100, 2}, 12, 0}}),
                 "tensor 'X' of type Q4_K: its rows of 100 elements are not "
                 "whole blocks of 256");
  CHECK_CONTAINS(err({{"a", {uint64_t(1) << 61, uint64_t(1) << 61}, 0, 0}}),
                 "tensor 'a' (tensor info at byte 24): its size overflows 64 "
                 "bits");
  CHECK_CONTAINS(err({{"a", {4}, 0, 16}}),
                 "offset 16 is not a multiple of the alignment 32");
  CHECK_CONTAINS(err({{"a", {16}, 0, 0}, {"b", {4}, 0, 32}}),
                 "tensors 'a' (bytes 0 to 64) and 'b' (from byte 32) overlap "
                 "in the data section");
  CHECK_CONTAINS(err({{"a", {4}, 0, 0}, {"b", {4}, 0, 0}}), "overlap");
  // An empty tensor overlaps nothing.
  CHECK_EQ(err({{"a", {16}, 0, 0}, {"b", {0}, 0, 32}}), std::string());
  CHECK_CONTAINS(err({{"a", {4}, 0, 512}}),
                 "tensor 'a': its 16 bytes at offset 512 extend past the end "
                 "of the file (the data section at byte 64 holds 512 bytes");
  CHECK_CONTAINS(err({{"a", {4}, 0, uint64_t(-32)}}), "extend past the end");
  CHECK_CONTAINS(err({{"a", {uint64_t(1) << 59}, 0, 0}}),
                 "extend past the end");
}

TEST(weightsFileReadsGguf) {
  std::string path = tempPath("w.gguf");
  std::string img = valid();
  CHECK(writeBytes(path, img));
  std::shared_ptr<safetensors::File> file;
  CHECK_EQ(safetensors::File::open(path, file), std::string());
  if (file) {
    CHECK(file->gguf() != nullptr);
    CHECK_EQ(file->tensors().size(), size_t(3));
    const safetensors::TensorInfo *a = file->find("a");
    const safetensors::TensorInfo *q = file->find("q");
    CHECK(a && a->dtype == "F32" && a->shape == std::vector<int64_t>({2, 3}) &&
          a->begin == 0 && a->end == 24);
    CHECK(q && q->dtype == "Q8_0" && q->begin == 32 && q->end == 100);
    CHECK_EQ(file->find("h")->dtype, std::string("F16"));
    // The data section holds bytes 0, 1, 2, ... in the image built here.
    if (q)
      CHECK_EQ(static_cast<const unsigned char *>(file->data(*q))[0], 32);
    CHECK_EQ(file->gguf()->find("general.architecture")->s, std::string("moe"));
    CHECK_EQ(file->checkUnchanged(), std::string());
  }
  CHECK(writeBytes(path, img.substr(0, img.size() - 20)));
  CHECK_CONTAINS(safetensors::File::open(path, file),
                 path + ": tensor 'h': its 8 bytes at offset 128 extend past");
  CHECK(writeBytes(path, "GGUF"));
  CHECK_CONTAINS(safetensors::File::open(path, file),
                 path + ": truncated at byte 4 reading the version");
  std::remove(path.c_str());

  std::string st = tempPath("w.safetensors");
  CHECK_EQ(safetensors::write(st, {{"x", "F32", {1}, std::string(4, '\0')}}),
           std::string());
  std::shared_ptr<safetensors::File> sfile;
  CHECK_EQ(safetensors::File::open(st, sfile), std::string());
  CHECK(sfile && !sfile->gguf() && sfile->tensors().size() == 1);
  CHECK(writeBytes(st, "abc"));
  CHECK_CONTAINS(safetensors::File::open(st, sfile),
                 "truncated: 3 bytes, shorter than the 8-byte header length");
  CHECK(writeBytes(st, ""));
  CHECK_CONTAINS(safetensors::File::open(st, sfile),
                 "truncated: 0 bytes, shorter than the 8-byte header length");
  std::remove(st.c_str());
}
