//===- Status.cpp - moert status objects ----------------------------------===//
#include "runtime/moert/Internal.h"
#include "runtime/support/Safetensors.h"
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
  return moe::safetensors::sameRowMajorShape(have, want);
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

static_assert(static_cast<int>(moe::DType::IQ1_M) == MOERT_IQ1_M &&
                  static_cast<int>(moe::DType::IQ2_XXS) == MOERT_IQ2_XXS &&
                  static_cast<int>(moe::DType::IQ4_XS) == MOERT_IQ4_XS &&
                  static_cast<int>(moe::DType::IQ4_NL) == MOERT_IQ4_NL &&
                  static_cast<int>(moe::DType::Q3_K) == MOERT_Q3_K &&
                  static_cast<int>(moe::DType::Q2_K) == MOERT_Q2_K &&
                  static_cast<int>(moe::DType::Q5_K) == MOERT_Q5_K &&
                  static_cast<int>(moe::DType::Q5_1) == MOERT_Q5_1 &&
                  static_cast<int>(moe::DType::Q5_0) == MOERT_Q5_0 &&
                  static_cast<int>(moe::DType::Q4_1) == MOERT_Q4_1 &&
                  static_cast<int>(moe::DType::U2Z16) == MOERT_U2Z16 &&
                  static_cast<int>(moe::DType::U4Z16) == MOERT_U4Z16 &&
                  static_cast<int>(moe::DType::U8Z16) == MOERT_U8Z16 &&
                  static_cast<int>(moe::DType::U2Z128) == MOERT_U2Z128 &&
                  static_cast<int>(moe::DType::U2Z) == MOERT_U2Z &&
                  static_cast<int>(moe::DType::U4Z128) == MOERT_U4Z128 &&
                  static_cast<int>(moe::DType::FP8_E4M3) == MOERT_FP8_E4M3 &&
                  static_cast<int>(moe::DType::U4Z) == MOERT_U4Z &&
                  static_cast<int>(moe::DType::MXFP4) == MOERT_MXFP4 &&
                  static_cast<int>(moe::DType::Q8_0) == MOERT_Q8_0,
              "moert_dtype_t numbers the dtypes as moe::DType does");

const char *moert_dtype_name(moert_dtype_t dtype) {
  if (dtype < MOERT_F32 || dtype > MOERT_IQ1_M)
    return "unknown";
  return moe::dtypeName(static_cast<moe::DType>(dtype));
}

} // extern "C"
