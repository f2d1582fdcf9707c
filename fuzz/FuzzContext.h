//===- FuzzContext.h - what the MLIR fuzz targets share ---------*- C++ -*-===//
//
// Included once by each MLIR fuzz target (moe_ir, hf_checkpoint,
// gguf_model, onnx_model): its MLIRContext, the file an importer target
// reads its input from, and the AddressSanitizer options the mix of
// instrumented and uninstrumented MLIR needs.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_FUZZ_FUZZCONTEXT_H
#define MOEC_FUZZ_FUZZCONTEXT_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <unistd.h>

namespace moec_fuzz {

/// Writes the input to `name` in a directory of this process (made once
/// with `prefix`, e.g. "/tmp/moec-fuzz-onnx-XXXXXX") and returns its path;
/// an importer target reads its model from there as the tools do.
inline const std::string &writeInput(const char *prefix, const char *name,
                                     const uint8_t *data, size_t size) {
  static std::string path = [&] {
    std::string dir = prefix;
    if (!mkdtemp(dir.data()))
      std::abort();
    return dir + "/" + name;
  }();
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    std::abort();
  bool ok = std::fwrite(data, 1, size, f) == size;
  if (std::fclose(f) != 0 || !ok)
    std::abort();
  return path;
}

/// The target's context, with the dialects `registerDialects` adds, made
/// anew every 1000 inputs (`fresh` counts one): uniqued types and
/// attributes accumulate in a context for its lifetime, which would
/// otherwise grow past libFuzzer's memory limit in a long run.
inline mlir::MLIRContext &
context(bool fresh, void (*registerDialects)(mlir::DialectRegistry &)) {
  static std::unique_ptr<mlir::MLIRContext> ctx;
  static unsigned uses = 0;
  if (!ctx || (fresh && ++uses % 1000 == 0)) {
    ctx.reset();
    mlir::DialectRegistry registry;
    registerDialects(registry);
    ctx = std::make_unique<mlir::MLIRContext>(
        registry, mlir::MLIRContext::Threading::DISABLED);
    ctx->loadAllAvailableDialects();
  }
  return *ctx;
}

} // namespace moec_fuzz

/// LLVM's BumpPtrAllocator poisons its free slab memory when compiled with
/// AddressSanitizer, as the code instrumented here is; upstream MLIR is not,
/// and its own copies of the allocator hand out that memory without
/// unpoisoning it. Manual poisoning is off, so the mix reports nothing that
/// is not there; heap, stack and global checks stay on.
extern "C" const char *__asan_default_options() {
  return "allow_user_poisoning=0";
}

#endif // MOEC_FUZZ_FUZZCONTEXT_H
