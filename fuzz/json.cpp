//===- json.cpp - fuzz target: the runtime's JSON parser ------------------===//
//
// Parses any bytes as JSON; what parses is written back and parsed again,
// and must give the same text (docs/Fuzzing.md).
//
//===----------------------------------------------------------------------===//
#include "runtime/support/Json.h"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  moe::json::Value v;
  if (!moe::json::parse(text, v).empty())
    return 0;
  std::string once = moe::json::write(v);
  moe::json::Value again;
  if (!moe::json::parse(once, again).empty() || moe::json::write(again) != once)
    std::abort(); // what the writer writes, the parser must read back
  return 0;
}
