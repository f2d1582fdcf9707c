//===- hf_checkpoint.cpp - fuzz target: Hugging Face checkpoint import ----===//
//
// Imports a Hugging Face checkpoint made from the input: the bytes before
// the first "\n\0\n" are config.json, those after it the JSON header of
// model.safetensors (without one, the directory has no safetensors file).
// The data section is written as zeros, as long as the header's largest
// data offset (at most 16 MiB), so the fuzzer spends its effort on the
// planning: config.json's keys against the tensors' names, dtypes and
// shapes. A module that comes back must verify (docs/Fuzzing.md).
//
//===----------------------------------------------------------------------===//
#include "dialect/MoEDialect.h"
#include "fuzz/FuzzContext.h"
#include "importers/hf/HFImporter.h"
#include "runtime/support/Json.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

using namespace mlir;

namespace {

/// A directory of this process, made once.
const std::string &workDir() {
  static std::string dir = [] {
    char path[] = "/tmp/moec-fuzz-hf-XXXXXX";
    if (!mkdtemp(path))
      std::abort();
    return std::string(path);
  }();
  return dir;
}

bool writeFile(const std::string &path, const std::string &bytes) {
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return false;
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

/// The largest end of the header's data_offsets, 0 if it has none.
uint64_t dataSize(const std::string &header) {
  ::moe::json::Value root;
  if (!::moe::json::parse(header, root).empty() || !root.isObject())
    return 0;
  uint64_t end = 0;
  for (const ::moe::json::Member &m : root.members()) {
    const ::moe::json::Value *offsets = m.value.getArray("data_offsets");
    if (!offsets || offsets->elements().size() != 2 ||
        !offsets->elements()[1].isNumber())
      continue;
    double e = offsets->elements()[1].asNumber();
    if (e > 0 && e <= double(16 << 20) && uint64_t(e) > end)
      end = uint64_t(e);
  }
  return end;
}

void registerDialects(DialectRegistry &registry) {
  registry.insert<mlir::moe::MoEDialect, func::FuncDialect>();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string input(reinterpret_cast<const char *>(data), size);
  const std::string dir = workDir();
  size_t split = input.find(std::string("\n\0\n", 3));
  std::string config = input.substr(0, split);
  std::string st = dir + "/model.safetensors";
  std::remove(st.c_str());
  if (!writeFile(dir + "/config.json", config))
    std::abort();
  if (split != std::string::npos) {
    std::string header = input.substr(split + 3);
    std::string file(8, '\0');
    uint64_t n = header.size();
    for (int i = 0; i < 8; ++i)
      file[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    file += header;
    file.append(dataSize(header), '\0');
    if (!writeFile(st, file))
      std::abort();
  }
  MLIRContext &ctx = moec_fuzz::context(/*fresh=*/true, registerDialects);
  ScopedDiagnosticHandler quiet(&ctx, [](Diagnostic &) { return success(); });
  std::vector<std::string> files;
  OwningOpRef<ModuleOp> module = mlir::moe::importHuggingFace(dir, &ctx, files);
  if (module && failed(verify(*module)))
    std::abort(); // the importer made IR that does not verify
  return 0;
}
