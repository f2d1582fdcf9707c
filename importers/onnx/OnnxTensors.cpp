//===- OnnxTensors.cpp - ONNX initializers as host tensors ----------------===//
#include "importers/onnx/OnnxTensors.h"
#include "runtime/support/DType.h"
#include "runtime/support/FileIO.h"
#include "runtime/support/Npy.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <fstream>

using namespace moe;
using namespace moe::onnximport;
using onnx::TensorProto;

bool onnximport::asInteger(double v, int64_t &out) {
  if (!std::isfinite(v) || v != std::trunc(v) || std::fabs(v) > 0x1p53)
    return false;
  out = static_cast<int64_t>(v);
  return true;
}

namespace {
/// `v` truncated toward zero into [lo, hi]; NaN gives 0.
int64_t saturate(double v, double lo, double hi) {
  if (std::isnan(v))
    return 0;
  // hi + 1 is exactly representable for the integer types here.
  if (v >= hi + 1.0)
    return static_cast<int64_t>(hi);
  if (v <= lo)
    return static_cast<int64_t>(lo);
  return static_cast<int64_t>(v);
}
} // namespace

size_t onnximport::elementSize(int32_t type) {
  switch (type) {
  case TensorProto::FLOAT:
  case TensorProto::INT32:
    return 4;
  case TensorProto::DOUBLE:
  case TensorProto::INT64:
    return 8;
  case TensorProto::FLOAT16:
  case TensorProto::BFLOAT16:
    return 2;
  case TensorProto::UINT8:
  case TensorProto::INT8:
  case TensorProto::BOOL:
    return 1;
  default:
    return 0;
  }
}

bool onnximport::isFloatType(int32_t type) {
  return type == TensorProto::FLOAT || type == TensorProto::FLOAT16;
}

std::string onnximport::typeName(int32_t type) {
  if (TensorProto::DataType_IsValid(type))
    return TensorProto::DataType_Name(static_cast<TensorProto::DataType>(type));
  return "type " + std::to_string(type);
}

bool onnximport::shapeFits(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return false;
    if (d && (__builtin_mul_overflow(n, d, &n) || n > (int64_t{1} << 62)))
      return false;
  }
  return true;
}

int64_t Tensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::vector<double> Tensor::values() const {
  std::vector<double> out(numElements());
  const char *p = bytes.data();
  for (size_t i = 0; i < out.size(); ++i) {
    switch (type) {
    case TensorProto::FLOAT:
      out[i] = loadElement(DType::F32, p, i);
      break;
    case TensorProto::FLOAT16:
      out[i] = loadElement(DType::F16, p, i);
      break;
    case TensorProto::BFLOAT16:
      out[i] = loadElement(DType::BF16, p, i);
      break;
    case TensorProto::DOUBLE: {
      double d;
      std::memcpy(&d, p + 8 * i, 8);
      out[i] = d;
      break;
    }
    case TensorProto::INT64: {
      int64_t v;
      std::memcpy(&v, p + 8 * i, 8);
      out[i] = static_cast<double>(v);
      break;
    }
    case TensorProto::INT32: {
      int32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      out[i] = v;
      break;
    }
    case TensorProto::INT8:
      out[i] = static_cast<int8_t>(p[i]);
      break;
    default: // UINT8, BOOL
      out[i] = static_cast<unsigned char>(p[i]);
      break;
    }
  }
  return out;
}

Tensor Tensor::fromValues(int32_t type, std::vector<int64_t> shape,
                          const std::vector<double> &values) {
  Tensor t;
  t.type = type;
  t.shape = std::move(shape);
  size_t size = elementSize(type);
  t.bytes.assign(values.size() * size, '\0');
  char *p = t.bytes.data();
  for (size_t i = 0; i < values.size(); ++i) {
    double v = values[i];
    switch (type) {
    case TensorProto::FLOAT:
      storeElement(DType::F32, p, i, v);
      break;
    case TensorProto::FLOAT16:
      storeElement(DType::F16, p, i, v);
      break;
    case TensorProto::BFLOAT16:
      storeElement(DType::BF16, p, i, v);
      break;
    case TensorProto::DOUBLE:
      std::memcpy(p + 8 * i, &v, 8);
      break;
    case TensorProto::INT64: {
      // 2^63 - 1 is not a double: what is at or above 2^63 saturates.
      int64_t x = std::isnan(v) ? 0
                  : v >= 0x1p63 ? INT64_MAX
                  : v < -0x1p63 ? INT64_MIN
                                : static_cast<int64_t>(v);
      std::memcpy(p + 8 * i, &x, 8);
      break;
    }
    case TensorProto::INT32: {
      int32_t x = static_cast<int32_t>(saturate(v, INT32_MIN, INT32_MAX));
      std::memcpy(p + 4 * i, &x, 4);
      break;
    }
    case TensorProto::INT8:
      p[i] = static_cast<char>(saturate(v, INT8_MIN, INT8_MAX));
      break;
    default: // the unsigned bytes: uint8, bool
      p[i] = static_cast<char>(saturate(v, 0, UINT8_MAX));
      break;
    }
  }
  return t;
}

std::string onnximport::decodeInitializer(const TensorProto &proto,
                                          const std::string &modelDir,
                                          Tensor &out) {
  std::string what = "initializer '" + proto.name() + "'";
  out.type = proto.data_type();
  size_t size = elementSize(out.type);
  if (!size)
    return what + ": unsupported element type " + typeName(out.type);
  out.shape.assign(proto.dims().begin(), proto.dims().end());
  for (int64_t d : out.shape)
    if (d < 0)
      return what + ": negative dimension";
  uint64_t expected;
  if (!shapeFits(out.shape) ||
      __builtin_mul_overflow(static_cast<uint64_t>(out.numElements()), size,
                             &expected))
    return what + ": its dimensions have more elements than a tensor can hold";
  if (proto.data_location() == TensorProto::EXTERNAL) {
    std::string location;
    uint64_t offset = 0, length = expected;
    bool hasLength = false;
    for (const auto &kv : proto.external_data()) {
      if (kv.key() == "location")
        location = kv.value();
      else if (kv.key() == "offset")
        offset = std::strtoull(kv.value().c_str(), nullptr, 10);
      else if (kv.key() == "length") {
        length = std::strtoull(kv.value().c_str(), nullptr, 10);
        hasLength = true;
      }
    }
    if (location.empty() || location[0] == '/' ||
        location.find("..") != std::string::npos)
      return what + ": external data location '" + location +
             "' must be a relative path inside the model's directory";
    if (hasLength && length != expected)
      return what + ": external data length " + std::to_string(length) +
             " does not match its shape (" + std::to_string(expected) +
             " bytes)";
    std::string path = modelDir + "/" + location;
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    if (!f)
      return what + ": cannot open external data file " + path;
    uint64_t fileSize = static_cast<uint64_t>(f.tellg());
    if (offset > fileSize || expected > fileSize - offset)
      return what + ": external data [" + std::to_string(offset) + ", " +
             std::to_string(offset + expected) + ") lies beyond the end of " +
             path + " (" + std::to_string(fileSize) + " bytes)";
    out.bytes.resize(expected);
    f.seekg(static_cast<std::streamoff>(offset));
    if (!f.read(out.bytes.data(), static_cast<std::streamsize>(expected)))
      return what + ": cannot read " + path;
    return "";
  }
  if (proto.has_raw_data()) {
    if (proto.raw_data().size() != expected)
      return what + ": raw_data holds " +
             std::to_string(proto.raw_data().size()) +
             " bytes but its shape needs " + std::to_string(expected);
    out.bytes = proto.raw_data();
    return "";
  }
  // Typed fields.
  std::vector<double> v;
  switch (out.type) {
  case TensorProto::FLOAT:
    v.assign(proto.float_data().begin(), proto.float_data().end());
    break;
  case TensorProto::DOUBLE:
    v.assign(proto.double_data().begin(), proto.double_data().end());
    break;
  case TensorProto::INT64:
    v.assign(proto.int64_data().begin(), proto.int64_data().end());
    break;
  case TensorProto::FLOAT16:
  case TensorProto::BFLOAT16: {
    // 16-bit values sit in int32_data as their bit patterns.
    out.bytes.resize(2 * proto.int32_data_size());
    for (int i = 0; i < proto.int32_data_size(); ++i) {
      uint16_t bits = static_cast<uint16_t>(proto.int32_data(i));
      std::memcpy(out.bytes.data() + 2 * i, &bits, 2);
    }
    if (out.bytes.size() != expected)
      return what + ": holds " + std::to_string(proto.int32_data_size()) +
             " values but its shape needs " + std::to_string(out.numElements());
    return "";
  }
  default:
    v.assign(proto.int32_data().begin(), proto.int32_data().end());
    break;
  }
  if (static_cast<int64_t>(v.size()) != out.numElements())
    return what + ": holds " + std::to_string(v.size()) +
           " values but its shape needs " + std::to_string(out.numElements());
  out = Tensor::fromValues(out.type, out.shape, v);
  return "";
}

namespace {

int64_t normalizeAxis(int64_t axis, int64_t rank) {
  return axis < 0 ? axis + rank : axis;
}

/// Row-major strides of `shape`.
std::vector<int64_t> strides(const std::vector<int64_t> &shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;)
    s[i - 1] = s[i] * shape[i];
  return s;
}

const onnx::AttributeProto *attr(const onnx::NodeProto &n, const char *name) {
  for (const onnx::AttributeProto &a : n.attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

} // namespace

std::string onnximport::foldConstantNode(const onnx::NodeProto &node,
                                         const std::vector<const Tensor *> &in,
                                         Tensor &out) {
  const std::string &op = node.op_type();
  std::string where = "node '" + node.name() + "' (" + op + ")";
  auto need = [&](size_t n) { return in.size() >= n && in[0]; };
  if (op == "Cast") {
    const onnx::AttributeProto *to = attr(node, "to");
    if (!need(1) || !to || !elementSize(static_cast<int32_t>(to->i())))
      return where + ": needs an input and a supported 'to' type";
    out = Tensor::fromValues(static_cast<int32_t>(to->i()), in[0]->shape,
                             in[0]->values());
    return "";
  }
  if (op == "Reshape") {
    if (in.size() < 2 || !in[0] || !in[1])
      return where + ": needs data and shape";
    std::vector<double> spec = in[1]->values();
    std::vector<int64_t> shape;
    int64_t known = 1, inferred = -1;
    for (size_t i = 0; i < spec.size(); ++i) {
      int64_t d;
      if (!asInteger(spec[i], d) || d < -1)
        return where + ": the target shape holds " + std::to_string(spec[i]) +
               ", not a dimension";
      if (d == 0 && i < in[0]->shape.size())
        d = in[0]->shape[i];
      if (d == -1) {
        inferred = static_cast<int64_t>(i);
        shape.push_back(1);
        continue;
      }
      if (__builtin_mul_overflow(known, d, &known))
        return where + ": the target shape has too many elements";
      shape.push_back(d);
    }
    if (inferred >= 0 && known > 0)
      shape[inferred] = in[0]->numElements() / known;
    if (!shapeFits(shape))
      return where + ": the target shape has too many elements";
    out = *in[0];
    out.shape = shape;
    if (out.numElements() != in[0]->numElements())
      return where + ": cannot reshape " +
             std::to_string(in[0]->numElements()) + " elements";
    return "";
  }
  if (op == "Unsqueeze") {
    if (!need(1))
      return where + ": needs an input";
    std::vector<int64_t> axes;
    if (in.size() >= 2 && in[1])
      for (double a : in[1]->values()) {
        int64_t axis;
        if (!asInteger(a, axis))
          return where + ": the axes hold " + std::to_string(a) +
                 ", not an axis";
        axes.push_back(axis);
      }
    else if (const onnx::AttributeProto *a = attr(node, "axes"))
      axes.assign(a->ints().begin(), a->ints().end());
    std::vector<int64_t> shape = in[0]->shape;
    int64_t rank = static_cast<int64_t>(shape.size() + axes.size());
    for (int64_t &a : axes)
      a = normalizeAxis(a, rank);
    std::sort(axes.begin(), axes.end());
    for (int64_t a : axes) {
      if (a < 0 || a > static_cast<int64_t>(shape.size()))
        return where + ": axis out of range";
      shape.insert(shape.begin() + a, 1);
    }
    out = *in[0];
    out.shape = shape;
    return "";
  }
  if (op == "Concat") {
    const onnx::AttributeProto *a = attr(node, "axis");
    if (in.empty() || !a)
      return where + ": needs inputs and 'axis'";
    for (const Tensor *t : in)
      if (!t || t->type != in[0]->type ||
          t->shape.size() != in[0]->shape.size())
        return where + ": inputs differ in type or rank";
    int64_t rank = static_cast<int64_t>(in[0]->shape.size());
    int64_t axis = normalizeAxis(a->i(), rank);
    if (axis < 0 || axis >= rank)
      return where + ": axis out of range";
    std::vector<int64_t> shape = in[0]->shape;
    shape[axis] = 0;
    for (const Tensor *t : in) {
      for (int64_t i = 0; i < rank; ++i)
        if (i != axis && t->shape[i] != in[0]->shape[i])
          return where + ": input shapes disagree off the axis";
      if (__builtin_add_overflow(shape[axis], t->shape[axis], &shape[axis]))
        return where + ": the result has too many elements";
    }
    if (!shapeFits(shape))
      return where + ": the result has too many elements";
    // Copy blocks: outer = product before axis.
    int64_t outer = 1;
    for (int64_t i = 0; i < axis; ++i)
      outer *= shape[i];
    out.type = in[0]->type;
    out.shape = shape;
    out.bytes.clear();
    for (int64_t o = 0; o < outer; ++o)
      for (const Tensor *t : in) {
        size_t block = t->bytes.size() / (outer ? outer : 1);
        out.bytes.append(t->bytes, o * block, block);
      }
    return "";
  }
  if (op == "Transpose") {
    if (!need(1))
      return where + ": needs an input";
    int64_t rank = static_cast<int64_t>(in[0]->shape.size());
    std::vector<int64_t> perm;
    if (const onnx::AttributeProto *a = attr(node, "perm"))
      perm.assign(a->ints().begin(), a->ints().end());
    else
      for (int64_t i = rank - 1; i >= 0; --i)
        perm.push_back(i);
    if (static_cast<int64_t>(perm.size()) != rank)
      return where + ": perm does not match the rank";
    std::vector<bool> seen(rank, false);
    for (int64_t p : perm) {
      if (p < 0 || p >= rank || seen[p])
        return where + ": perm is not a permutation of the " +
               std::to_string(rank) + " axes";
      seen[p] = true;
    }
    std::vector<int64_t> shape(rank);
    for (int64_t i = 0; i < rank; ++i)
      shape[i] = in[0]->shape[perm[i]];
    std::vector<int64_t> inStrides = strides(in[0]->shape);
    std::vector<int64_t> outStrides = strides(shape);
    size_t size = elementSize(in[0]->type);
    out.type = in[0]->type;
    out.shape = shape;
    out.bytes.assign(in[0]->bytes.size(), '\0');
    int64_t n = in[0]->numElements();
    for (int64_t flat = 0; flat < n; ++flat) {
      int64_t src = 0, rem = flat;
      for (int64_t i = 0; i < rank; ++i) {
        int64_t idx = rem / outStrides[i];
        rem %= outStrides[i];
        src += idx * inStrides[perm[i]];
      }
      std::memcpy(out.bytes.data() + flat * size,
                  in[0]->bytes.data() + src * size, size);
    }
    return "";
  }
  if (op == "Add") {
    if (in.size() < 2 || !in[0] || !in[1])
      return where + ": needs two inputs";
    // Broadcasting of a trailing-aligned operand (numpy rules).
    const Tensor &a = *in[0], &b = *in[1];
    size_t rank = std::max(a.shape.size(), b.shape.size());
    std::vector<int64_t> sa(rank, 1), sb(rank, 1), shape(rank);
    std::copy(a.shape.begin(), a.shape.end(), sa.end() - a.shape.size());
    std::copy(b.shape.begin(), b.shape.end(), sb.end() - b.shape.size());
    for (size_t i = 0; i < rank; ++i) {
      if (sa[i] != sb[i] && sa[i] != 1 && sb[i] != 1)
        return where + ": shapes do not broadcast";
      // A 1 broadcasts to the other's size, 0 included.
      shape[i] = sa[i] == 1 ? sb[i] : sa[i];
    }
    // One operand has the result's shape: broadcasting that grows both (an
    // outer sum) could turn two small constants into a huge one.
    if (shape != sa && shape != sb)
      return where + ": broadcasting would grow both operands";
    std::vector<double> va = a.values(), vb = b.values(), r;
    std::vector<int64_t> st = strides(shape), sta = strides(sa),
                         stb = strides(sb);
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    r.resize(n);
    for (int64_t flat = 0; flat < n; ++flat) {
      int64_t ia = 0, ib = 0, rem = flat;
      for (size_t i = 0; i < rank; ++i) {
        int64_t idx = rem / st[i];
        rem %= st[i];
        ia += (sa[i] == 1 ? 0 : idx) * sta[i];
        ib += (sb[i] == 1 ? 0 : idx) * stb[i];
      }
      r[flat] = va[ia] + vb[ib];
    }
    out = Tensor::fromValues(a.type, shape, r);
    return "";
  }
  return where + ": cannot be folded";
}
