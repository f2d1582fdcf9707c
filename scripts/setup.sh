#!/usr/bin/env bash
# Installs what moec needs from Debian's packages and npm, then configures
# and builds it. Safe to rerun: it installs only what is missing and rebuilds
# incrementally.
#
#   scripts/setup.sh            install, configure, build (into ./build)
#   MOEC_BUILD_DIR=dir ...      build elsewhere
#   MOEC_SKIP_INSTALL=1 ...     only configure and build
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${MOEC_BUILD_DIR:-$root/build}
ort_version=1.30.0

log() { printf 'moec setup: %s\n' "$*"; }
die() { printf 'moec setup: error: %s\n' "$*" >&2; exit 1; }

# Debian 12 packages: LLVM/MLIR 22 with clang and lld to build, Python with
# numpy and onnx for the test helpers, node and npm for ONNX Runtime.
packages=(
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools clang-22 lld-22
  ninja-build cmake python3 python3-numpy python3-onnx libonnx-dev
  libprotobuf-dev
)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

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

# ONNX Runtime's CPU build, the outside reference of the numerical tests.
# --ignore-scripts: the package ships its native library; its install script
# would only try a download.
install_onnxruntime() {
  local dir=$build/ort
  local pkg=$dir/node_modules/onnxruntime-node/package.json
  if [ -f "$pkg" ] && grep -q "\"version\": \"$ort_version\"" "$pkg"; then
    log "onnxruntime-node $ort_version present"
    return
  fi
  log "installing onnxruntime-node $ort_version (npm)"
  mkdir -p "$dir"
  npm install --silent --no-audit --no-fund --ignore-scripts \
    --prefix "$dir" "onnxruntime-node@$ort_version" >/dev/null ||
    die "npm install onnxruntime-node@$ort_version failed"
}

configure_and_build() {
  if [ ! -f "$build/build.ninja" ]; then
    log "configuring into $build"
    cmake -G Ninja -S "$root" -B "$build" \
      -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
      -DLLVM_USE_LINKER=lld \
      -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit >/dev/null ||
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
  install_onnxruntime
fi
configure_and_build
log "done: tools in $build/bin"
