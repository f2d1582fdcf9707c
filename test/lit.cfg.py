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

tools = [
    ToolSubst("moe-opt", extra_args=moe_opt_flags, unresolved="fatal"),
    ToolSubst("%moe-reference", command=os.path.join(config.moec_tools_dir,
                                                      "moe-reference"),
              unresolved="ignore"),
    ToolSubst("moe-compile", unresolved="fatal"),
    ToolSubst("%moe-run", command=os.path.join(config.moec_tools_dir,
                                                "moe-run"),
              unresolved="fatal"),
    ToolSubst("%moe-bench", command=os.path.join(config.moec_tools_dir,
                                                  "moe-bench"),
              unresolved="fatal"),
    ToolSubst("%moe-runtime-unittests",
              command=os.path.join(config.moec_tools_dir,
                                   "moe-runtime-unittests"),
              unresolved="ignore"),
]
llvm_config.add_tool_substitutions(tools, [config.moec_tools_dir])
config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(("%node", "node"))
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

# ONNX Runtime (onnxruntime-node) is the outside reference for numerics.
ort = config.moec_ort_node_modules
if ort and os.path.isdir(os.path.join(ort, "onnxruntime-node")):
    config.available_features.add("onnxruntime")
    config.environment["MOEC_ORT_NODE_MODULES"] = ort
elif lit_config.params.get("require_onnxruntime"):
    lit_config.fatal("onnxruntime-node is not installed under %s; run "
                     "scripts/setup.sh" % ort)
