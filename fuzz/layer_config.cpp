//===- layer_config.cpp - fuzz target: layer configs (moe-reference) -----===//
//
// Parses any bytes as a layer config (the JSON moe-reference and the
// artifact metadata carry); what parses is written back and must parse to
// the same record (docs/Fuzzing.md).
//
//===----------------------------------------------------------------------===//
#include "runtime/reference/ConfigJson.h"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  moe::ref::LayerConfig config;
  if (!moe::ref::parseConfig(text, config).empty())
    return 0;
  std::string once = moe::ref::configToJson(config);
  moe::ref::LayerConfig again;
  if (!moe::ref::parseConfig(once, again).empty() ||
      moe::ref::configToJson(again) != once)
    std::abort();
  return 0;
}
