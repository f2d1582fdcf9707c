//===- artifact_metadata.cpp - fuzz target: an artifact's metadata --------===//
//
// Parses any bytes as an artifact's metadata record, as moert does after
// dlopen (entry points resolved to a stand-in). What parses must answer the
// C API's questions about it consistently: every function by name, its
// signature with as many arguments and results as it declares, each with a
// known dtype and a shape of its rank (docs/Fuzzing.md).
//
//===----------------------------------------------------------------------===//
#include "runtime/moert/Internal.h"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace {
char entry;
void *standIn(void *, const char *) { return &entry; }
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto *a = new moert_artifact_s();
  a->metadataText.assign(reinterpret_cast<const char *>(data), size);
  bool parsed = moert::parseMetadata(*a, standIn, nullptr).empty();
  if (parsed) {
    int32_t n = moert_artifact_function_count(a);
    if (n <= 0 || static_cast<size_t>(n) != a->functions.size())
      std::abort();
    for (int32_t f = 0; f < n; ++f) {
      const char *name = moert_artifact_function_name(a, f);
      int32_t na = -1, nr = -1;
      const moert_param_t *args = nullptr, *results = nullptr;
      moert_status_t st =
          moert_artifact_function_signature(a, name, &na, &args, &nr, &results);
      if (st || na != static_cast<int32_t>(a->functions[f].args.size()) ||
          nr != static_cast<int32_t>(a->functions[f].results.size()))
        std::abort();
      for (int32_t i = 0; i < na + nr; ++i) {
        const moert_param_t &p = i < na ? args[i] : results[i - na];
        if (!p.name || p.rank < 0 || (p.rank > 0 && !p.shape) ||
            std::string(moert_dtype_name(p.dtype)) == "unknown")
          std::abort();
      }
    }
  }
  moert_artifact_release(a);
  return 0;
}
