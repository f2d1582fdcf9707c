//===- Npy.h - NumPy .npy files to and from doubles -------------*- C++ -*-===//
//
// Test inputs and outputs travel as .npy files. Reading accepts format
// versions 1.0, 2.0 and 3.0, little-endian C-order arrays of dtype <f2
// (IEEE half), <f4, <f8, <i4 or <i8, and converts every element to double
// (<i8 values beyond 2^53 round). Writing produces version 1.0 (2.0 for huge
// headers) in <f4 or <f8. Nothing here aborts or throws: every failure is a
// message naming the file and the problem.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_SUPPORT_NPY_H
#define MOEC_RUNTIME_SUPPORT_NPY_H

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moe::npy {

struct Array {
  std::vector<int64_t> shape;
  std::vector<double> data;
  /// The descr of the file read, e.g. "<f4".
  std::string dtype;
};

enum class DType { F32, F64 };

/// Reads `path` into `out`. Returns "" on success, otherwise
/// "<path>: <problem>", and `out` is left empty.
std::string read(const std::string &path, Array &out);

/// Decodes the bytes of a whole .npy file; `name` only labels messages.
std::string parse(std::string_view bytes, const std::string &name, Array &out);

/// Encodes `data` (row-major, shape `shape`) as a .npy file image. Returns
/// "" on success, otherwise a message (data size does not match the shape).
std::string serialize(const std::vector<int64_t> &shape,
                      const std::vector<double> &data, DType dtype,
                      std::string &bytes);

/// Writes a .npy file. The file appears under `path` complete or not at all:
/// it is written to a temporary name next to it and renamed on success.
std::string write(const std::string &path, const std::vector<int64_t> &shape,
                  const std::vector<double> &data, DType dtype);

/// IEEE 754 binary16 bits to double, exact (subnormals, inf, NaN included).
double halfToDouble(uint16_t bits);

} // namespace moe::npy

#endif // MOEC_RUNTIME_SUPPORT_NPY_H
