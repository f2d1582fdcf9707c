# -*- Python -*-
# lit configuration of the moec test suite.
import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "moec"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "README.md", "lit.cfg.py",
                   "lit.site.cfg.py", "ort"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.moec_obj_root, "test")

# LLVM 22's FileCheck, not an older one elsewhere on PATH.
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.moec_tools_dir, append_path=True)
llvm_config.use_default_substitutions()

# `--param moe_opt_flags=--verify-roundtrip` runs every moe-opt invocation
# with extra flags (the CI leg that checks printing and parsing agree).
moe_opt_flags = lit_config.params.get("moe_opt_flags", "").split()

# A build with the project's code under AddressSanitizer and
# UndefinedBehaviorSanitizer (LLVM_USE_SANITIZER, scripts/test-sanitized.sh):
# its libraries take the sanitizers' shared runtime, which every process of
# the tests preloads (Python, the tests' C programs and mlir-runner load
# them). A report fails the process (exit code 86). Leaks are looked for in
# moec's tools, which the tests run through wrappers that ask for it; the
# programs that are not moec's keep memory to their exit and are not
# checked for leaks or for new/delete pairing. Upstream MLIR hands out
# BumpPtrAllocator memory it poisoned without unpoisoning it
# (docs/Fuzzing.md), so manual poisoning is off; an allocation too large
# for memory returns null, as the runtime's tests of that expect.
sanitized = bool(getattr(config, "moec_sanitizer", ""))
tool_dir = config.moec_tools_dir
ours = ("moe-opt", "moe-reference", "moe-compile", "moe-ep-plan", "moe-run",
        "moe-bench", "moe-runtime-unittests")
if sanitized:
    config.available_features.add("sanitized")
    common = ("allow_user_poisoning=0:verify_asan_link_order=0:"
              "allocator_may_return_null=1:exitcode=86:"
              "malloc_context_size=20")
    config.environment["LD_PRELOAD"] = os.path.join(
        config.sanitizer_runtime_dir, "libclang_rt.asan-x86_64.so")
    config.environment["ASAN_OPTIONS"] = (
        common + ":detect_leaks=0:alloc_dealloc_mismatch=0")
    config.environment["UBSAN_OPTIONS"] = (
        "print_stacktrace=1:halt_on_error=1:exitcode=86")
    tool_dir = os.path.join(config.moec_obj_root, "test", "sanitized-tools")
    os.makedirs(tool_dir, exist_ok=True)
    # A rank under mpirun is not checked for leaks: Open MPI's libraries
    # keep memory (some of it in components unloaded by then) to the exit.
    for name in ours:
        path = os.path.join(tool_dir, name)
        with open(path, "w") as fh:
            fh.write('#!/bin/sh\nleaks=1\n'
                     '[ -z "${OMPI_COMM_WORLD_RANK:-}" ] || leaks=0\n'
                     'ASAN_OPTIONS="%s:detect_leaks=$leaks" exec "%s" "$@"\n'
                     % (common, os.path.join(config.moec_tools_dir, name)))
        os.chmod(path, 0o755)

tools = [
    ToolSubst("moe-opt", extra_args=moe_opt_flags, unresolved="fatal"),
    ToolSubst("%moe-reference", command=os.path.join(tool_dir,
                                                      "moe-reference"),
              unresolved="ignore"),
    ToolSubst("moe-compile", unresolved="fatal"),
    ToolSubst("moe-ep-plan", unresolved="fatal"),
    ToolSubst("%moe-run", command=os.path.join(tool_dir, "moe-run"),
              unresolved="fatal"),
    ToolSubst("%moe-bench", command=os.path.join(tool_dir, "moe-bench"),
              unresolved="fatal"),
    ToolSubst("%moe-runtime-unittests",
              command=os.path.join(tool_dir, "moe-runtime-unittests"),
              unresolved="ignore"),
]
llvm_config.add_tool_substitutions(tools, [tool_dir])
# %python is the project's Python (build/venv), not lit's own interpreter,
# which use_default_substitutions() made it.
config.substitutions = [(k, v) for k, v in config.substitutions
                        if k != "%python"]
config.substitutions.append(("%python", '"%s"' % config.python_executable))
config.substitutions.append(("%moec_src_root", config.moec_src_root))
config.substitutions.append(("%moec_obj_root", config.moec_obj_root))

# CPU features some end-to-end tests need (they run the code they compile).
try:
    with open("/proc/cpuinfo") as fh:
        cpu_flags = set(fh.read().split())
except OSError:
    cpu_flags = set()
if "avx512_bf16" in cpu_flags:
    config.available_features.add("avx512bf16")
if "avx512_vnni" in cpu_flags:
    config.available_features.add("avx512vnni")

# The fuzz targets (fuzz/), built where clang's fuzzer runtime is installed;
# the README's test command (require_references) insists on them.
if os.path.exists(os.path.join(config.moec_tools_dir, "moec-fuzz-json")):
    config.available_features.add("libfuzzer")
elif lit_config.params.get("require_references"):
    lit_config.fatal("the fuzz targets are not built (install "
                     "libclang-rt-22-dev: scripts/setup.sh)")

# libmoert built with ThreadSanitizer and with AddressSanitizer +
# UndefinedBehaviorSanitizer (runtime/CMakeLists.txt), where the compiler
# has their runtimes, like the fuzz targets; the programs that link them are
# built with the same compiler.
if all(os.path.exists(os.path.join(config.moec_obj_root, "lib",
                                   "libmoert-%s.so" % v))
       for v in ("tsan", "asan")):
    config.available_features.add("sanitizers")
elif lit_config.params.get("require_references"):
    lit_config.fatal("libmoert-tsan.so or libmoert-asan.so is not built "
                     "(install libclang-rt-22-dev: scripts/setup.sh)")
config.substitutions.append(("%cc", config.c_compiler))
config.substitutions.append(("%cxx", config.cxx_compiler))

# libmoert_mpi's collectives (runtime/moert-mpi), built where CMake finds
# MPI, run by the launcher CMake found with it (else mpirun on PATH): Open
# MPI's, from Debian's openmpi-bin and libopenmpi-dev. %mpirun starts ranks
# on this machine only, more of them than it has cores, as root too (a
# container's user); the shared-memory transport copies through its own
# buffers, since a container may forbid the kernel's cross-process copies.
import shutil

mpiexec = getattr(config, "mpiexec", "")
if not os.path.isfile(mpiexec):
    mpiexec = shutil.which("mpirun") or ""
if mpiexec and os.path.exists(os.path.join(config.moec_tools_dir,
                                           "moert-mpi-check")):
    config.available_features.add("mpi")
elif lit_config.params.get("require_references"):
    lit_config.fatal("libmoert_mpi or mpirun is missing (install openmpi-bin "
                     "and libopenmpi-dev: scripts/setup.sh)")
config.substitutions.append(
    ("%mpirun", "env OMPI_MCA_btl_vader_single_copy_mechanism=none "
     "OMPI_MCA_rmaps_base_oversubscribe=1 %s --allow-run-as-root "
     "--oversubscribe" % (mpiexec or "mpirun")))

# The GPU kernels' logic runs on the CPU through mlir-runner (Debian's
# mlir-22-tools and libmlir-22-dev).
if (os.path.exists(os.path.join(config.llvm_tools_dir, "mlir-runner")) and
        os.path.exists(os.path.join(config.llvm_lib_dir,
                                    "libmlir_runner_utils.so"))):
    config.available_features.add("mlir-runner")
elif lit_config.params.get("require_references"):
    lit_config.fatal("mlir-runner or libmlir_runner_utils.so is missing "
                     "(install mlir-22-tools and libmlir-22-dev: "
                     "scripts/setup.sh)")
config.substitutions.append(("%llvm_lib_dir", config.llvm_lib_dir))
# PTX is checked with the CUDA toolkit's ptxas, and its libdevice is linked
# into the kernels; no GPU is needed for either. The toolkit is not
# something scripts/setup.sh installs, so without it those tests are
# UNSUPPORTED (and listed as skipped).
ptxas = os.path.join(config.cuda_toolkit, "bin", "ptxas")
if (os.path.exists(ptxas) and os.path.exists(
        os.path.join(config.cuda_toolkit, "nvvm", "libdevice",
                     "libdevice.10.bc"))):
    config.available_features.add("ptxas")
config.substitutions.append(("%ptxas", ptxas))
config.substitutions.append(("%cuda_toolkit", config.cuda_toolkit))


# A GPU to run compiled layers on: the CUDA driver loads, starts and
# reports a device whose compute capability moe-compile has a chip for
# (%cuda_chip: the arch-specific sm_90a and sm_100a where there are such).
# CI has none; scripts/gpu-check.sh runs these tests on a GPU machine.
def cuda_chip():
    import ctypes
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return None
    count, major, minor = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
    device = ctypes.c_int()
    if (cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0
            or count.value < 1
            or cuda.cuDeviceGet(ctypes.byref(device), 0) != 0
            or cuda.cuDeviceGetAttribute(ctypes.byref(major), 75, device) != 0
            or cuda.cuDeviceGetAttribute(ctypes.byref(minor), 76, device) != 0):
        return None
    sm = "sm_%d%d" % (major.value, minor.value)
    known = {"sm_80": "sm_80", "sm_86": "sm_86", "sm_89": "sm_89",
             "sm_90": "sm_90a", "sm_100": "sm_100a", "sm_120": "sm_120"}
    return known.get(sm)


chip = cuda_chip()
if chip:
    config.available_features.add("cuda")
    config.substitutions.append(("%cuda_chip", chip))

# The outside references run in the project's Python (build/venv, made by
# scripts/setup.sh from requirements.txt): ONNX Runtime's wheel for the
# com.microsoft.MoE checks, transformers and PyTorch for the Hugging Face
# families, Triton (PyTorch's dependency) for the kernels moe-compile
# writes into a Triton cache. Each is a lit feature; `--param
# require_references=1` (the README's test command) makes a missing one
# fatal instead of UNSUPPORTED.
import subprocess


def python_has(modules):
    try:
        return subprocess.run(
            [config.python_executable, "-c", "import " + ", ".join(modules)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=300).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


references = {"onnxruntime": ["onnxruntime"],
              "transformers": ["torch", "transformers"],
              "triton": ["triton"]}
for feature, modules in references.items():
    if python_has(modules):
        config.available_features.add(feature)
    elif lit_config.params.get("require_references"):
        lit_config.fatal("%s cannot import %s; run scripts/setup.sh" %
                         (config.python_executable, ", ".join(modules)))

# cuobjdump disassembles cubins into SASS (the tensor-core instructions
# the kernels must hold): the CUDA toolkit's where it has one, else the one
# Triton's wheel carries (requirements.lock pins Triton).
cuobjdump = os.path.join(config.cuda_toolkit, "bin", "cuobjdump")
if not os.path.exists(cuobjdump):
    try:
        cuobjdump = subprocess.run(
            [config.python_executable, "-c",
             "import os, triton; print(os.path.join(os.path.dirname("
             "triton.__file__), 'backends', 'nvidia', 'bin', 'cuobjdump'))"],
            capture_output=True, text=True, timeout=300).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        cuobjdump = ""
if cuobjdump and os.access(cuobjdump, os.X_OK):
    config.available_features.add("cuobjdump")
config.substitutions.append(("%cuobjdump", cuobjdump or "cuobjdump"))
