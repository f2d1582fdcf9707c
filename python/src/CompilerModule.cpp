//===- CompilerModule.cpp - moec._compiler: the compile driver for Python -===//
//
// moec.compile() calls compiler/Driver.h's compileModel(), the library
// moe-compile itself is, with the GIL released. The driver reports on the
// process's stderr; while it runs, this module tees file descriptor 2
// through a pipe so that what it says still reaches the terminal as it
// happens (progress with verbose=True) and is also returned, for the
// exception a failed compile raises. Compiles are serialized: the tee
// owns the process's stderr while one runs.
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/ObjectEmission.h"
#include "compiler/Driver.h"

#include <nanobind/nanobind.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cerrno>
#include <fcntl.h>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>

namespace nb = nanobind;

namespace {

// Copies everything written to fd 2 while it lives to the original fd 2
// and into `captured`.
class StderrTee {
public:
  explicit StderrTee(std::string &captured) : captured(captured) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
      return;
    saved = fcntl(2, F_DUPFD_CLOEXEC, 3);
    if (saved < 0 || dup2(fds[1], 2) < 0) {
      close(fds[0]);
      close(fds[1]);
      if (saved >= 0)
        close(saved);
      saved = -1;
      return;
    }
    close(fds[1]);
    readEnd = fds[0];
    reader = std::thread([this] { pump(); });
  }
  ~StderrTee() {
    if (saved < 0)
      return;
    // Restoring fd 2 closes the pipe's last write end: the reader drains
    // it and sees end of file.
    dup2(saved, 2);
    reader.join();
    close(readEnd);
    close(saved);
  }

private:
  void pump() {
    char buffer[4096];
    for (;;) {
      ssize_t n = read(readEnd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      captured.append(buffer, static_cast<size_t>(n));
      for (ssize_t done = 0; done < n;) {
        ssize_t w = write(saved, buffer + done, static_cast<size_t>(n - done));
        if (w < 0 && errno == EINTR)
          continue;
        if (w <= 0)
          break;
        done += w;
      }
    }
  }

  std::string &captured;
  int saved = -1;
  int readEnd = -1;
  std::thread reader;
};

std::mutex compileMutex;

} // namespace

NB_MODULE(_compiler, m) {
  m.doc() = "moec's compile driver (use moec.compile, not this module)";
  m.def(
      "compile_model",
      [](const std::string &input, const std::string &output,
         const std::string &target, const std::string &cpu,
         const std::string &gpuChip, const std::vector<std::string> &fuse,
         const std::vector<std::string> &weights, bool recordRouting,
         bool packWeights, bool kernels, bool bf16Dot, bool int8Dot,
         const std::string &linker, bool verbose) {
        mlir::moe::CompileOptions o;
        o.input = input;
        o.output = output;
        o.target = target;
        o.cpu = cpu;
        o.gpuChip = gpuChip;
        for (const std::string &f : fuse) {
          o.fuseGateUp |= f == "gate-up";
          o.fuseDispatch |= f == "dispatch";
          o.fuseCombine |= f == "combine";
        }
        o.weights = weights;
        o.recordRouting = recordRouting;
        o.packWeights = packWeights;
        o.kernels = kernels;
        o.bf16Dot = bf16Dot;
        o.int8Dot = int8Dot;
        o.linker = linker.empty() ? mlir::moe::defaultLinker() : linker;
        o.verbose = verbose;
        o.toolName = "moec.compile";
        std::string captured;
        int rc;
        {
          nb::gil_scoped_release release;
          std::lock_guard<std::mutex> lock(compileMutex);
          fflush(stderr);
          StderrTee tee(captured);
          rc = mlir::moe::compileModel(o);
          fflush(stderr);
        }
        return std::make_pair(rc, captured);
      },
      nb::arg("input"), nb::arg("output"), nb::arg("target"), nb::arg("cpu"),
      nb::arg("gpu_chip"), nb::arg("fuse"), nb::arg("weights"),
      nb::arg("record_routing"), nb::arg("pack_weights"), nb::arg("kernels"),
      nb::arg("bf16_dot"), nb::arg("int8_dot"), nb::arg("linker"),
      nb::arg("verbose"),
      "Runs the compile driver; returns (exit code, what it wrote to "
      "stderr).");
}
