//===- RuntimeModule.cpp - moec._runtime: Python over the moert C API -----===//
//
// The extension module under the moec package's sessions: thin classes over
// libmoert's C API (runtime/moert/moert.h), not a second runtime. Tensors
// arrive as nanobind ndarrays (NumPy arrays, PyTorch tensors: anything with
// DLPack or the buffer protocol) and are handed to moert in place; the
// checks that name an argument are here so that a wrong dtype, a
// non-contiguous tensor or a tensor off the host raises a Python exception
// naming it before moert sees a pointer. Failures of moert calls become the
// exception classes of moec/_errors.py (set once by the package).
//
// A session on a GPU takes the same host arrays: each call copies the
// inputs to the device and the results back (runOnDevice).
//
// Calls on one session are serialized here (each waits, without the GIL,
// for the one before), so one session may be shared by Python threads;
// moert itself refuses overlapping calls (docs/Runtime.md).
//
//===----------------------------------------------------------------------===//
#include "runtime/moert/moert.h"
#include "runtime/support/DType.h"

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace nb = nanobind;

namespace {

// moec._errors.error_from_status(code, message) -> an exception instance.
PyObject *errorFactory = nullptr;

[[noreturn]] void raiseError(int code, const std::string &message) {
  if (!errorFactory)
    throw std::runtime_error(message);
  nb::object exc = nb::borrow(errorFactory)(code, message);
  PyErr_SetObject(reinterpret_cast<PyObject *>(Py_TYPE(exc.ptr())), exc.ptr());
  throw nb::python_error();
}

// The code moec/_errors.py raises as DTypeError (a TypeError).
constexpr int kDtypeError = 100;

// Raises the status as a moec exception (and frees it); nothing for NULL.
void check(moert_status_t status) {
  if (!status)
    return;
  int code = moert_status_code(status);
  std::string message = moert_status_message(status);
  moert_status_free(status);
  raiseError(code, message);
}

const char *dtypeName(moert_dtype_t dtype) { return moert_dtype_name(dtype); }

// The moert dtype of an ndarray, or false when moert has none for it.
bool moertDtype(nb::dlpack::dtype t, moert_dtype_t &out) {
  if (t.lanes != 1)
    return false;
  if (t.code == static_cast<uint8_t>(nb::dlpack::dtype_code::Float)) {
    if (t.bits == 32)
      out = MOERT_F32;
    else if (t.bits == 16)
      out = MOERT_F16;
    else
      return false;
    return true;
  }
  if (t.code == static_cast<uint8_t>(nb::dlpack::dtype_code::Bfloat) &&
      t.bits == 16) {
    out = MOERT_BF16;
    return true;
  }
  return false;
}

std::string describeDtype(nb::dlpack::dtype t) {
  const char *kind = "?";
  switch (static_cast<nb::dlpack::dtype_code>(t.code)) {
  case nb::dlpack::dtype_code::Int:
    kind = "int";
    break;
  case nb::dlpack::dtype_code::UInt:
    kind = "uint";
    break;
  case nb::dlpack::dtype_code::Float:
    kind = "float";
    break;
  case nb::dlpack::dtype_code::Bfloat:
    kind = "bfloat";
    break;
  case nb::dlpack::dtype_code::Complex:
    kind = "complex";
    break;
  case nb::dlpack::dtype_code::Bool:
    kind = "bool";
    break;
  }
  return std::string(kind) + std::to_string(t.bits);
}

// A tensor handed to moert in place: checked on the host, row-major
// contiguous, of `expected` dtype. `what` names it in errors ("input
// 'hidden_states' of 'layer0'").
template <typename Array>
moert_tensor_t viewOf(const Array &a, moert_dtype_t expected,
                      const std::string &what, std::vector<int64_t> &shape) {
  if (a.device_type() != nb::device::cpu::value)
    raiseError(MOERT_INVALID_ARGUMENT,
               what + " is not in host memory (DLPack device type " +
                   std::to_string(a.device_type()) +
                   "); sessions take host tensors (a GPU session copies "
                   "them to its device): move it with .cpu()");
  moert_dtype_t dtype;
  if (!moertDtype(a.dtype(), dtype))
    raiseError(kDtypeError, what + " has dtype " + describeDtype(a.dtype()) +
                                ", expected " + dtypeName(expected));
  if (dtype != expected)
    raiseError(kDtypeError, what + " has dtype " + dtypeName(dtype) +
                                ", expected " + dtypeName(expected));
  shape.assign(a.ndim(), 0);
  int64_t stride = 1;
  bool contiguous = true;
  for (size_t i = a.ndim(); i-- > 0;) {
    shape[i] = static_cast<int64_t>(a.shape(i));
    // Strides of size-1 dimensions say nothing about the layout.
    if (shape[i] != 1 && a.stride(i) != stride)
      contiguous = false;
    stride *= shape[i];
  }
  if (!contiguous && stride != 0)
    raiseError(MOERT_INVALID_ARGUMENT,
               what + " is not contiguous (row-major); pass a contiguous copy "
                      "(numpy.ascontiguousarray(x), x.contiguous())");
  return moert_tensor_t{dtype, static_cast<int32_t>(shape.size()), nullptr,
                        const_cast<void *>(a.data())};
}

nb::tuple paramTuple(const moert_param_t &p) {
  nb::list shape;
  for (int32_t d = 0; d < p.rank; ++d)
    shape.append(p.shape[d]);
  return nb::make_tuple(std::string(p.name), p.is_weight != 0,
                        std::string(dtypeName(p.dtype)), nb::tuple(shape));
}

class Artifact {
public:
  explicit Artifact(const std::string &path) {
    moert_status_t st;
    {
      nb::gil_scoped_release release;
      st = moert_artifact_load(path.c_str(), &handle);
    }
    check(st);
  }
  ~Artifact() { moert_artifact_release(handle); }
  Artifact(const Artifact &) = delete;
  Artifact &operator=(const Artifact &) = delete;

  moert_artifact_t *get() const { return handle; }

  std::string deviceKind() const {
    return moert_device_kind_name(moert_artifact_device_kind(handle));
  }
  std::string metadata() const { return moert_artifact_metadata(handle); }
  std::vector<std::string> functions() const {
    std::vector<std::string> names;
    for (int32_t i = 0, n = moert_artifact_function_count(handle); i < n; ++i)
      names.push_back(moert_artifact_function_name(handle, i));
    return names;
  }
  std::vector<std::string> weightFiles() const {
    std::vector<std::string> files;
    for (int32_t i = 0, n = moert_artifact_weight_file_count(handle); i < n;
         ++i)
      files.push_back(moert_artifact_weight_file(handle, i));
    return files;
  }
  // (arguments, results), each a list of (name, is_weight, dtype, shape)
  // with -1 for the token dimension.
  nb::tuple signature(const std::string &function) const {
    int32_t na = 0, nr = 0;
    const moert_param_t *args = nullptr, *results = nullptr;
    check(moert_artifact_function_signature(handle, function.c_str(), &na,
                                            &args, &nr, &results));
    nb::list a, r;
    for (int32_t i = 0; i < na; ++i)
      a.append(paramTuple(args[i]));
    for (int32_t i = 0; i < nr; ++i)
      r.append(paramTuple(results[i]));
    return nb::make_tuple(a, r);
  }
  // [(experts, k)] per routing site of `function`.
  std::vector<std::pair<int64_t, int64_t>>
  routingSites(const std::string &function) const {
    int32_t n = moert_artifact_routing_site_count(handle, function.c_str());
    if (n < 0)
      raiseError(MOERT_NOT_FOUND,
                 "the artifact has no function named '" + function + "'");
    std::vector<std::pair<int64_t, int64_t>> sites;
    for (int32_t i = 0; i < n; ++i) {
      int64_t e = 0, k = 0;
      check(moert_artifact_routing_site(handle, function.c_str(), i, &e, &k));
      sites.push_back({e, k});
    }
    return sites;
  }
  int64_t expertParallelRanks(const std::string &function) const {
    return moert_artifact_expert_parallel_ranks(handle, function.c_str());
  }

private:
  moert_artifact_t *handle = nullptr;
};

using InArray = nb::ndarray<nb::ro>;
using OutArray = nb::ndarray<>;

class Session {
public:
  Session(Artifact &artifact, int32_t threads, const std::string &device)
      : artifact(artifact.get()) {
    moert_session_config_t config = MOERT_SESSION_CONFIG_INIT;
    config.num_threads = threads;
    check(moert_device_find(device.c_str(), &config.device));
    onHost = moert_device_kind(config.device) == MOERT_DEVICE_CPU;
    moert_status_t st;
    {
      nb::gil_scoped_release release;
      st = moert_session_create_with_config(artifact.get(), &config, &handle);
    }
    check(st);
  }
  ~Session() { moert_session_release(handle); }
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  // Waits (without the GIL) for the calls of other threads, then runs `f`
  // on the open handle.
  template <typename F>
  void call(const char *what, F &&f) {
    moert_status_t st = nullptr;
    bool closed = false;
    {
      nb::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex);
      if (!handle)
        closed = true;
      else
        st = f(handle);
    }
    if (closed)
      raiseError(MOERT_FAILED_PRECONDITION,
                 "the session is closed (" + std::string(what) + ")");
    check(st);
  }

  void close() {
    nb::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(mutex);
    moert_session_release(handle);
    handle = nullptr;
  }
  bool closed() {
    std::lock_guard<std::mutex> lock(mutex);
    return handle == nullptr;
  }

  int32_t numThreads() {
    int32_t n = 0;
    call("num_threads", [&](moert_session_t *s) -> moert_status_t {
      n = moert_session_num_threads(s);
      return nullptr;
    });
    return n;
  }
  std::string deviceName() {
    std::string name;
    call("device", [&](moert_session_t *s) -> moert_status_t {
      name = moert_device_name(moert_session_device(s));
      return nullptr;
    });
    return name;
  }

  int32_t bindWeightsFile(const std::string &path) {
    int32_t bound = 0;
    call("bind_weights_file", [&](moert_session_t *s) {
      return moert_session_bind_weights_file(s, path.c_str(), &bound);
    });
    return bound;
  }
  void bindRecordedWeights() {
    call("bind_recorded_weights", [&](moert_session_t *s) {
      return moert_session_bind_recorded_weights(s);
    });
  }
  // Binds caller memory: the caller keeps `array` alive while it is bound.
  void bindWeight(const std::string &name, InArray array,
                  const std::string &dtype) {
    std::vector<int64_t> shape;
    moert_tensor_t t =
        viewOf(array, parseDtype(dtype), "weight '" + name + "'", shape);
    t.shape = shape.data();
    call("bind_weight", [&](moert_session_t *s) {
      return moert_session_bind_weight(s, name.c_str(), &t);
    });
  }
  void checkWeights(const std::string &function) {
    call("check_weights", [&](moert_session_t *s) {
      return moert_session_check_weights(s, function.c_str());
    });
  }

  // inputs and outputs: the function's non-weight arguments and its
  // results, in declaration order.
  void run(const std::string &function, const std::vector<InArray> &inputs,
           const std::vector<OutArray> &outputs) {
    runTensors(function, inputs, outputs, 1, nullptr);
  }

  // Runs `function` `repeat` times in a loop here, with no Python between
  // the calls; returns the median seconds of one moert_session_run().
  // run() is one such call: timing both measures what the bindings add.
  double timeRun(const std::string &function,
                 const std::vector<InArray> &inputs,
                 const std::vector<OutArray> &outputs, int64_t repeat) {
    std::vector<double> seconds;
    runTensors(function, inputs, outputs, repeat, &seconds);
    if (seconds.empty())
      return 0;
    std::nth_element(seconds.begin(), seconds.begin() + seconds.size() / 2,
                     seconds.end());
    return seconds[seconds.size() / 2];
  }

  void recordRouting(uint32_t flags) {
    call("record_routing", [&](moert_session_t *s) {
      return moert_session_record_routing(s, flags);
    });
  }
  // (calls, tokens, counts[E], coselection[E*E] or empty).
  nb::tuple routingCounts(const std::string &function, int32_t index,
                          int64_t experts, bool coselection) {
    int64_t calls = 0, tokens = 0;
    std::vector<int64_t> counts(experts), pairs;
    if (coselection)
      pairs.resize(experts * experts);
    call("routing_counts", [&](moert_session_t *s) {
      return moert_session_routing_counts(s, function.c_str(), index, &calls,
                                          &tokens, counts.data(), experts,
                                          coselection ? pairs.data() : nullptr);
    });
    return nb::make_tuple(calls, tokens, counts, pairs);
  }
  void writeRouting(const std::string &path) {
    call("write_routing", [&](moert_session_t *s) {
      return moert_session_write_routing(s, path.c_str());
    });
  }

private:
  // Checks the tensors against the function's signature and runs it
  // `repeat` times; with `seconds`, also times each call.
  void runTensors(const std::string &function,
                  const std::vector<InArray> &inputs,
                  const std::vector<OutArray> &outputs, int64_t repeat,
                  std::vector<double> *seconds) {
    const Signature &sig = signature(function);
    if (inputs.size() != sig.inputs.size() ||
        outputs.size() != sig.results.size())
      raiseError(MOERT_INVALID_ARGUMENT,
                 "'" + function + "' takes " +
                     std::to_string(sig.inputs.size()) + " inputs and " +
                     std::to_string(sig.results.size()) + " outputs, " +
                     std::to_string(inputs.size()) + " and " +
                     std::to_string(outputs.size()) + " given");
    std::vector<std::vector<int64_t>> shapes(inputs.size() + outputs.size());
    std::vector<moert_tensor_t> in, out;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const auto &[name, dtype] = sig.inputs[i];
      in.push_back(viewOf(inputs[i], dtype,
                          "input '" + name + "' of '" + function + "'",
                          shapes[i]));
      in.back().shape = shapes[i].data();
    }
    for (size_t i = 0; i < outputs.size(); ++i) {
      const auto &[name, dtype] = sig.results[i];
      std::vector<int64_t> &shape = shapes[inputs.size() + i];
      out.push_back(viewOf(outputs[i], dtype,
                           "output '" + name + "' of '" + function + "'",
                           shape));
      out.back().shape = shape.data();
    }
    auto once = [&](moert_session_t *s) {
      return onHost ? moert_session_run(s, function.c_str(), in.data(),
                                        static_cast<int32_t>(in.size()),
                                        out.data(),
                                        static_cast<int32_t>(out.size()))
                    : runOnDevice(s, function, in, out);
    };
    call("run", [&](moert_session_t *s) -> moert_status_t {
      for (int64_t r = 0; r < repeat; ++r) {
        auto t0 = seconds ? std::chrono::steady_clock::now()
                          : std::chrono::steady_clock::time_point();
        if (moert_status_t st = once(s))
          return st;
        if (seconds)
          seconds->push_back(std::chrono::duration<double>(
                                 std::chrono::steady_clock::now() - t0)
                                 .count());
      }
      return nullptr;
    });
  }

  // A call of a session on a device the host cannot address (a GPU): the
  // inputs copied into buffers of the device, the call queued on them and
  // waited for, the results copied back into the caller's arrays.
  static moert_status_t runOnDevice(moert_session_t *s,
                                    const std::string &function,
                                    const std::vector<moert_tensor_t> &in,
                                    const std::vector<moert_tensor_t> &out) {
    struct Buffers {
      std::vector<moert_buffer_t *> all;
      ~Buffers() {
        for (moert_buffer_t *b : all)
          moert_buffer_release(b);
      }
    } buffers;
    moert_device_t *device = moert_session_device(s);
    auto place = [&](const moert_tensor_t &t, bool upload,
                     std::vector<moert_buffer_tensor_t> &to) {
      uint64_t bytes = moe::dtypeSize(static_cast<moe::DType>(t.dtype));
      for (int32_t d = 0; d < t.rank; ++d)
        bytes *= static_cast<uint64_t>(t.shape[d]);
      moert_buffer_t *b = nullptr;
      if (moert_status_t st = moert_buffer_alloc(device, bytes, &b))
        return st;
      buffers.all.push_back(b);
      if (upload && bytes)
        if (moert_status_t st = moert_buffer_write(b, 0, t.data, bytes))
          return st;
      to.push_back({t.dtype, t.rank, t.shape, b, 0});
      return moert_status_t{nullptr};
    };
    std::vector<moert_buffer_tensor_t> bin, bout;
    for (const moert_tensor_t &t : in)
      if (moert_status_t st = place(t, true, bin))
        return st;
    for (const moert_tensor_t &t : out)
      if (moert_status_t st = place(t, false, bout))
        return st;
    if (moert_status_t st = moert_session_enqueue(
            s, function.c_str(), bin.data(), static_cast<int32_t>(bin.size()),
            bout.data(), static_cast<int32_t>(bout.size())))
      return st;
    if (moert_status_t st = moert_session_synchronize(s))
      return st;
    for (size_t i = 0; i < out.size(); ++i) {
      uint64_t bytes = moert_buffer_size(bout[i].buffer);
      if (bytes)
        if (moert_status_t st =
                moert_buffer_read(bout[i].buffer, 0, out[i].data, bytes))
          return st;
    }
    return nullptr;
  }

  // The names and dtypes of a function's inputs and results, looked up
  // once (with the GIL held, which guards the cache).
  struct Signature {
    std::vector<std::pair<std::string, moert_dtype_t>> inputs, results;
  };
  const Signature &signature(const std::string &function) {
    auto it = signatures.find(function);
    if (it != signatures.end())
      return it->second;
    int32_t na = 0, nr = 0;
    const moert_param_t *args = nullptr, *results = nullptr;
    check(moert_artifact_function_signature(artifact, function.c_str(), &na,
                                            &args, &nr, &results));
    Signature sig;
    for (int32_t i = 0; i < na; ++i)
      if (!args[i].is_weight)
        sig.inputs.emplace_back(args[i].name, args[i].dtype);
    for (int32_t i = 0; i < nr; ++i)
      sig.results.emplace_back(results[i].name, results[i].dtype);
    return signatures.emplace(function, std::move(sig)).first->second;
  }

  static moert_dtype_t parseDtype(const std::string &name) {
    if (name == "f32")
      return MOERT_F32;
    if (name == "bf16")
      return MOERT_BF16;
    if (name == "f16")
      return MOERT_F16;
    raiseError(MOERT_INVALID_ARGUMENT, "unknown dtype '" + name + "'");
  }

  std::mutex mutex;
  moert_artifact_t *artifact;
  bool onHost = true; // the session's device reads host memory
  moert_session_t *handle = nullptr;
  std::unordered_map<std::string, Signature> signatures;
};

} // namespace

NB_MODULE(_runtime, m) {
  m.doc() = "moec's runtime bindings (use the moec package, not this module)";
  m.def("version", [] { return std::string(moert_version()); });
  m.def(
      "_set_error_factory",
      [](nb::object factory) {
        Py_XDECREF(errorFactory);
        errorFactory = factory.release().ptr();
      },
      "Sets the callable (code, message) -> exception that moert failures "
      "raise.");
  m.def("devices", [] {
    std::vector<std::tuple<std::string, std::string, std::string>> all;
    for (int32_t i = 0, n = moert_device_count(); i < n; ++i) {
      moert_device_t *d = nullptr;
      check(moert_device_get(i, &d));
      all.emplace_back(moert_device_name(d),
                       moert_device_kind_name(moert_device_kind(d)),
                       moert_device_description(d));
    }
    return all;
  });

  nb::class_<Artifact>(m, "Artifact")
      .def(nb::init<const std::string &>(), nb::arg("path"))
      .def_prop_ro("device_kind", &Artifact::deviceKind)
      .def_prop_ro("metadata", &Artifact::metadata)
      .def_prop_ro("functions", &Artifact::functions)
      .def_prop_ro("weight_files", &Artifact::weightFiles)
      .def("signature", &Artifact::signature, nb::arg("function"))
      .def("routing_sites", &Artifact::routingSites, nb::arg("function"))
      .def("expert_parallel_ranks", &Artifact::expertParallelRanks,
           nb::arg("function"));

  nb::class_<Session>(m, "Session")
      .def(nb::init<Artifact &, int32_t, const std::string &>(),
           nb::arg("artifact"), nb::arg("threads"), nb::arg("device"),
           nb::keep_alive<1, 2>())
      .def("close", &Session::close)
      .def_prop_ro("closed", &Session::closed)
      .def_prop_ro("num_threads", &Session::numThreads)
      .def_prop_ro("device", &Session::deviceName)
      .def("bind_weights_file", &Session::bindWeightsFile, nb::arg("path"))
      .def("bind_recorded_weights", &Session::bindRecordedWeights)
      .def("bind_weight", &Session::bindWeight, nb::arg("name"),
           nb::arg("array"), nb::arg("dtype"))
      .def("check_weights", &Session::checkWeights, nb::arg("function"))
      .def("run", &Session::run, nb::arg("function"), nb::arg("inputs"),
           nb::arg("outputs"))
      .def("time_run", &Session::timeRun, nb::arg("function"),
           nb::arg("inputs"), nb::arg("outputs"), nb::arg("repeat"),
           "Median seconds of one moert_session_run() over `repeat` calls "
           "made in a loop in C++ (for measuring the bindings' overhead).")
      .def("record_routing", &Session::recordRouting, nb::arg("flags"))
      .def("routing_counts", &Session::routingCounts, nb::arg("function"),
           nb::arg("index"), nb::arg("experts"), nb::arg("coselection"))
      .def("write_routing", &Session::writeRouting, nb::arg("path"));
}
