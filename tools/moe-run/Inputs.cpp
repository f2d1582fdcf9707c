//===- Inputs.cpp - moe-run's inputs and outputs --------------------------===//
#include "tools/moe-run/Inputs.h"
#include "runtime/support/Npy.h"

using namespace moerun;

bool moerun::failed(moert_status_t st, std::string &msg) {
  if (!st)
    return false;
  msg = moert_status_message(st);
  moert_status_free(st);
  return true;
}

std::string moerun::shapeStr(const int64_t *shape, int32_t rank) {
  std::string s = "[";
  for (int32_t i = 0; i < rank; ++i)
    s += (i ? ", " : "") +
         (shape[i] < 0 ? std::string("T") : std::to_string(shape[i]));
  return s + "]";
}

std::string moerun::readInput(const moert_param_t &p, const std::string &path,
                              Buffer &out) {
  moe::npy::Array a;
  if (std::string err = moe::npy::read(path, a); !err.empty())
    return err;
  std::string where = "input '" + std::string(p.name) + "' (" + path + ")";
  out.dtype = p.dtype;
  out.userShape = a.shape;
  if (p.rank == 2 && a.shape.size() >= 1 && a.shape.size() != 2) {
    // [..., d] -> [prod(...), d]
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < a.shape.size(); ++i)
      rows *= a.shape[i];
    out.shape = {rows, a.shape.back()};
  } else {
    out.shape = a.shape;
  }
  if (static_cast<int32_t>(out.shape.size()) != p.rank)
    return where + " has shape " +
           shapeStr(a.shape.data(), static_cast<int32_t>(a.shape.size())) +
           " but the function takes " + shapeStr(p.shape, p.rank);
  for (int32_t i = 0; i < p.rank; ++i)
    if (p.shape[i] >= 0 && out.shape[i] != p.shape[i])
      return where + " has shape " +
             shapeStr(a.shape.data(), static_cast<int32_t>(a.shape.size())) +
             " but the function takes " + shapeStr(p.shape, p.rank) +
             (i == p.rank - 1 ? " (wrong width)" : "");
  out.bytes.resize(out.numElements() *
                   moe::dtypeSize(static_cast<moe::DType>(p.dtype)));
  for (int64_t i = 0; i < out.numElements(); ++i)
    moe::storeElement(static_cast<moe::DType>(p.dtype), out.bytes.data(), i,
                      a.data[i]);
  return "";
}
