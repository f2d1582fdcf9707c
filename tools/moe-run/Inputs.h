//===- Inputs.h - moe-run's inputs and outputs ------------------*- C++ -*-===//
//
// The buffers moe-run reads inputs into and writes outputs from: .npy
// files flattened to the function's rank and converted to its dtypes.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_TOOLS_MOE_RUN_INPUTS_H
#define MOEC_TOOLS_MOE_RUN_INPUTS_H

#include "runtime/moert/moert.h"
#include "runtime/support/DType.h"

#include <cstdint>
#include <string>
#include <vector>

namespace moerun {

/// Turns a status into a message and frees it: whether it was a failure.
bool failed(moert_status_t st, std::string &msg);

/// "[2, T, 64]": a shape as the messages print it (T for a dynamic size).
std::string shapeStr(const int64_t *shape, int32_t rank);

/// A buffer of one dtype holding an input or output.
struct Buffer {
  moert_dtype_t dtype = MOERT_F32;
  std::vector<int64_t> shape;     // as the function sees it
  std::vector<int64_t> userShape; // as the file had it (leading dims)
  std::vector<unsigned char> bytes;
  int64_t numElements() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
  std::vector<double> toDouble() const {
    std::vector<double> out(numElements());
    for (size_t i = 0; i < out.size(); ++i)
      out[i] =
          moe::loadElement(static_cast<moe::DType>(dtype), bytes.data(), i);
    return out;
  }
};

/// Reads `path` as input `p`: flattens [..., d] into the function's rank
/// and converts to its dtype. "" or what is wrong, naming the input.
std::string readInput(const moert_param_t &p, const std::string &path,
                      Buffer &out);

} // namespace moerun

#endif // MOEC_TOOLS_MOE_RUN_INPUTS_H
