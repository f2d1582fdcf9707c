#!/usr/bin/env bash
# Installs the llama.cpp peer of bench/run.sh: the llama-cpp-python PyPI
# package at exactly VERSION (run.sh pins it), into its own virtual
# environment VENV (run.sh: build/bench-llama-venv). It is an sdist: pip
# compiles llama.cpp with cmake, here for the native CPU (GGML_NATIVE=ON,
# so -march=native: AVX512, VNNI, BF16, and AMX where the CPU reports it),
# Release, 2 build jobs, under flock LOCK so that it never overlaps a build
# of moec or a benchmark. Never part of requirements.lock or
# scripts/setup.sh: CI does not build it.
#
#   bench/peers/install_llama_cpp.sh PYTHON VENV LOCK VERSION
#
# PYTHON makes the venv (its base interpreter). Says what it does and how
# long the lock wait and the build took on stderr; exits non-zero if any
# step fails.
set -euo pipefail
[ $# -eq 4 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
python=$1 venv=$2 lock=$3 version=$4
say() { echo "install_llama_cpp.sh: $*" >&2; }
if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv"
  "$python" -m venv "$venv"
fi
export CMAKE_ARGS="-DGGML_NATIVE=ON -DCMAKE_BUILD_TYPE=Release"
export CMAKE_BUILD_PARALLEL_LEVEL=2 MAKEFLAGS=-j2
start=$(date +%s)
if command -v flock > /dev/null; then
  say "waiting for flock $lock"
  exec 9> "$lock"
  flock 9
fi
locked=$(date +%s)
say "pip install llama-cpp-python==$version into $venv (CMAKE_ARGS=$CMAKE_ARGS," \
    "CMAKE_BUILD_PARALLEL_LEVEL=2; compiles llama.cpp: minutes)"
"$venv/bin/python" -m pip install --no-cache-dir --verbose \
  "llama-cpp-python==$version"
say "installed llama-cpp-python $version: built in $(( $(date +%s) - locked )) s" \
    "(after $(( locked - start )) s waiting for the lock)"
"$venv/bin/python" -c "import llama_cpp; print('llama_cpp', llama_cpp.__version__)" >&2
