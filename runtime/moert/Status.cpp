//===- Status.cpp - moert status objects ----------------------------------===//
#include "runtime/moert/Internal.h"
#include "runtime/support/Version.h"

#include <new>

namespace {
// Returned when memory runs out, even for the status itself; freeing it is
// a no-op.
moert_status_s outOfMemory{MOERT_RESOURCE_EXHAUSTED, "out of memory"};
} // namespace

moert_status_t moert::makeStatus(moert_status_code_t code,
                                 std::string message) {
  auto *s = new (std::nothrow) moert_status_s{code, std::move(message)};
  return s ? s : &outOfMemory;
}

moert_status_t moert::outOfMemoryStatus() { return &outOfMemory; }

std::string moert::shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ", ";
    s += shape[i] < 0 ? "T" : std::to_string(shape[i]);
  }
  return s + "]";
}

bool moert::bindableShape(const std::vector<int64_t> &have,
                          const std::vector<int64_t> &want) {
  auto strip = [](const std::vector<int64_t> &v) {
    size_t i = 0;
    while (i + 1 < v.size() && v[i] == 1)
      ++i;
    return std::vector<int64_t>(v.begin() + i, v.end());
  };
  return strip(have) == strip(want);
}

extern "C" {

const char *moert_version(void) { return MOEC_VERSION_STRING; }

moert_status_code_t moert_status_code(moert_status_t status) {
  return status ? status->code : MOERT_OK;
}

const char *moert_status_message(moert_status_t status) {
  return status ? status->message.c_str() : "";
}

void moert_status_free(moert_status_t status) {
  if (status != &outOfMemory)
    delete status;
}

const char *moert_dtype_name(moert_dtype_t dtype) {
  switch (dtype) {
  case MOERT_F32:
    return "f32";
  case MOERT_BF16:
    return "bf16";
  case MOERT_F16:
    return "f16";
  case MOERT_Q8_0:
    return "q8_0";
  case MOERT_Q4_0:
    return "q4_0";
  case MOERT_Q4_K:
    return "q4_k";
  case MOERT_Q6_K:
    return "q6_k";
  }
  return "unknown";
}

} // extern "C"
