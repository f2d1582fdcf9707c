#!/usr/bin/env bash
# Installs what moec needs from Debian's packages and PyPI, then configures
# and builds it. Safe to rerun: it installs only what is missing and rebuilds
# incrementally.
#
# Debian: LLVM/MLIR 22 and the tools to build moec; the ONNX headers of the
# ONNX importer; Open MPI for the expert-parallel collectives. PyPI
# (requirements.lock, into the virtual environment $build/venv): numpy,
# onnx, ONNX Runtime, PyTorch, transformers and safetensors, which the tests
# and benchmarks use as references; nanobind and pytest for the moec Python
# package (python/), which the build makes in $build/python. The PyTorch
# wheel pulls NVIDIA's CUDA wheels (about 4 GB in all); it runs without a
# GPU.
#
#   scripts/setup.sh            install, configure, build (into ./build)
#   MOEC_BUILD_DIR=dir ...      build elsewhere
#   MOEC_SKIP_INSTALL=1 ...     only configure and build
#   MOEC_WHEEL_CACHE=dir ...    keep downloaded wheels there (default
#                               ~/.cache/moec/wheels)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${MOEC_BUILD_DIR:-$root/build}
venv=$build/venv
lock=$root/requirements.lock
# Downloaded wheels are kept here, so that a new build directory (a fresh
# clone on the same machine) installs without downloading them again.
wheels=${MOEC_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/moec/wheels}

log() { printf 'moec setup: %s\n' "$*"; }
die() { printf 'moec setup: error: %s\n' "$*" >&2; exit 1; }

# Debian 12 packages: LLVM/MLIR 22 with clang and lld to build, clang's
# fuzzer and sanitizer runtimes for the fuzz targets, the ONNX and protobuf
# headers of the ONNX importer, Python with venv for the project's virtual
# environment and its headers for the moec package's bindings, Open MPI (mpirun, and the library and headers that
# libmoert_mpi's expert-parallel collectives build on; mpirun starts the
# ranks of one machine itself, and the ssh client it depends on is only for
# other machines).
packages=(
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools clang-22 lld-22
  libclang-rt-22-dev ninja-build cmake python3 python3-venv python3-dev
  libonnx-dev libprotobuf-dev openmpi-bin libopenmpi-dev
)

install_packages() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
      missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "system packages present"
    return
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 ||
      die "need root (or sudo) to install: ${missing[*]}"
    sudo=sudo
  fi
  log "installing ${missing[*]}"
  $sudo apt-get update -qq || die "apt-get update failed"
  for p in "${missing[@]}"; do
    apt-cache show "$p" >/dev/null 2>&1 ||
      die "package '$p' is not available from this machine's apt sources" \
          "(moec needs Debian 12 with bookworm-security for LLVM/MLIR 22)"
  done
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null ||
    die "apt-get install ${missing[*]} failed"
}

# The Python packages, pinned in requirements.lock, into $venv. A stamp with
# the lock file's checksum makes a rerun skip pip when nothing changed.
install_python_packages() {
  local stamp=$venv/.moec-requirements sum
  sum=$(sha256sum "$lock" | cut -d' ' -f1)
  if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] &&
     [ "$(cat "$stamp")" = "$sum" ]; then
    log "Python packages present in $venv ($(grep -E '^(onnxruntime|torch|transformers)==' "$lock" | tr '\n' ' '))"
    return
  fi
  if [ ! -x "$venv/bin/python" ]; then
    log "creating the virtual environment $venv"
    /usr/bin/python3 -m venv "$venv" || die "python3 -m venv $venv failed"
  fi
  log "installing from PyPI into $venv (about 4 GB on first run):" \
      "$(grep -vE '^(#|$)' "$root/requirements.txt" | tr '\n' ' ')"
  local pip_log=$build/pip-install.log
  mkdir -p "$wheels"
  log "downloading the wheels into $wheels (kept there for later builds)"
  "$venv/bin/pip" download --progress-bar off --no-deps -r "$lock" \
    -d "$wheels" > "$pip_log" 2>&1 || {
    tail -n 20 "$pip_log" >&2
    die "pip download -r $lock failed (log: $pip_log)"
  }
  "$venv/bin/pip" install --progress-bar off --no-index --find-links "$wheels" \
    -r "$lock" >> "$pip_log" 2>&1 || {
    tail -n 20 "$pip_log" >&2
    die "pip install -r $lock failed (log: $pip_log)"
  }
  grep -E '^Successfully installed' "$pip_log" | fold -s -w 100 || true
  "$venv/bin/python" -c "import numpy, onnx, onnxruntime, torch, transformers, safetensors, nanobind, pytest" ||
    die "the packages of $lock do not import in $venv"
  echo "$sum" > "$stamp"
}

configure_and_build() {
  if [ ! -f "$build/build.ninja" ] ||
     ! grep -qx "MOEC_PYTHON:FILEPATH=$venv/bin/python" "$build/CMakeCache.txt"; then
    log "configuring into $build"
    cmake -G Ninja -S "$root" -B "$build" \
      -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
      -DLLVM_USE_LINKER=lld \
      -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit \
      -DMOEC_PYTHON="$venv/bin/python" >/dev/null ||
      die "cmake configuration failed"
  fi
  log "building (ninja -C $build)"
  ninja -C "$build" -j "$(nproc)" || die "build failed"
}

if [ "${MOEC_SKIP_INSTALL:-0}" != 1 ]; then
  install_packages
fi
mkdir -p "$build"
if [ "${MOEC_SKIP_INSTALL:-0}" != 1 ]; then
  install_python_packages
fi
configure_and_build
log "done: tools in $build/bin"
