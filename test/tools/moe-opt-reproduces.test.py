"""Compares moe-compile --compile-to with moe-opt --moe-cpu-pipeline."""
import argparse
import subprocess
import sys

p = argparse.ArgumentParser()
p.add_argument("--moe-compile", required=True)
p.add_argument("--moe-opt", required=True)
p.add_argument("--input", required=True)
p.add_argument("--out", required=True)
a = p.parse_args()

# (cpu, moe-compile flags, the same as pipeline options, phase)
CASES = [
    ("x86-64-v4", [], "", "fused"),
    ("x86-64-v4", [], "", "linalg"),
    ("x86-64-v4", [], "", "kernels"),
    ("x86-64-v4", [], "", "llvm"),
    ("x86-64-v3", [], "", "llvm"),
    ("x86-64", [], "", "llvm"),
    ("x86-64-v3", ["--fuse=all", "--panel-slices=1"],
     "fuse-gate-up fuse-dispatch fuse-combine panel-slices=1", "llvm"),
    ("x86-64-v4", ["--fuse=dispatch", "--pack-weights=false"],
     "fuse-dispatch pack-weights=false", "llvm"),
    ("x86-64", ["--cpu-kernels=false"], "kernels=false", "llvm"),
    ("cooperlake", ["--bf16-dot"], "bf16-dot", "kernels"),
]


def compile_to(cpu, flags, phase):
    return subprocess.run(
        [a.moe_compile, a.input, f"--cpu={cpu}", f"--compile-to={phase}"] +
        flags, check=True, capture_output=True, text=True).stdout


def opt(cpu, options, phase):
    pipeline = f"cpu={cpu} compile-to={phase} {options}".strip()
    return subprocess.run(
        [a.moe_opt, a.input, f"--moe-cpu-pipeline={pipeline}"],
        check=True, capture_output=True, text=True).stdout


same = 0
for cpu, flags, options, phase in CASES:
    x, y = compile_to(cpu, flags, phase), opt(cpu, options, phase)
    label = " ".join([cpu] + flags + [phase])
    if x == y and x:
        same += 1
        print(f"{label}: same")
    else:
        with open(f"{a.out}/{cpu}-{phase}.compile.mlir", "w") as f:
            f.write(x)
        with open(f"{a.out}/{cpu}-{phase}.opt.mlir", "w") as f:
            f.write(y)
        print(f"{label}: DIFFERENT (see {a.out})")
print(f"{same} of {len(CASES)} same")
control = compile_to("x86-64-v4", [], "llvm") == opt("x86-64", "", "llvm")
print("control x86-64-v4 vs x86-64 llvm:",
      "same" if control else "different")
sys.exit(0 if same == len(CASES) else 1)
