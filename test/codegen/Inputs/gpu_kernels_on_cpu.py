#!/usr/bin/python3
"""Runs the GPU kernels of convert-moe-to-gpu on the CPU and checks them.

For each routing case, writes a module with a moe.route (dynamic token
count) whose indices feed a moe.dispatch, and a main that calls it on random
logits (fixed seed) and prints the results. The module goes through
moe-cuda-pipeline up to its loops phase, the GPU-mapped parallel loops every
kernel is built as, and those loops are lowered for the CPU by upstream
passes and run with mlir-runner: the kernels' logic, one thread after the
other. The routing is compared with the float64 reference evaluator
(moe-reference --print-routing), the dispatch with a stable sort in NumPy.

With --layers, whole layers instead: the cases of the end-to-end
numerics test (test/e2e/Inputs/make_cases.py) small enough to hold their
weights as constants, each decomposed and lowered by the same pipeline (every
op a kernel: router GEMM, routing, dispatch, gather, grouped GEMMs,
activation, combine), against the float64 reference evaluator's output at
the case's tolerance (relative L2).

With --layers --tensor-cores, the cases with 16-bit hidden states and
weights as the GPU runs them for --chip (sm_90a: the staged GEMM on wgmma;
sm_80: on mma.sync): tensor cores on (the staged and direct tensor-core
GEMMs, the fusions), every kernel run by the warp-level emulator
(gpu_emulator.py) instead of mlir-runner, against the same reference.

Prints one line per case and token count; exits 1 if any mismatched.
"""
import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

# name, E, k, logits dtype, routing attributes, correction bias, static E
CASES = [
    ("mixtral", 8, 2, "f32", "renormalize = true", False, True),
    ("olmoe_bf16", 64, 8, "bf16", "", False, True),
    ("deepseek_v3", 32, 8, "f32",
     "scoring = sigmoid, renormalize = true, scale = 2.5, n_group = 8, "
     "topk_group = 4, group_score = top2_sum", True, True),
    ("top2_sum_softmax", 32, 6, "f32",
     "n_group = 4, topk_group = 2, group_score = top2_sum", False, True),
    ("deepseek_v2", 16, 3, "f32",
     "scale = 16.0, n_group = 4, topk_group = 2", False, True),
    ("gpt_oss_f16", 32, 4, "f16", "order = topk_then_score", False, True),
    ("llama4", 16, 1, "f32", "scoring = sigmoid, order = topk_then_score",
     False, True),
    # Phi-3.5-MoE's sparsemixer, with distances wide enough that several
    # experts share each slot's softmax; then k = 3, renormalized, on a
    # dynamic expert count.
    ("phimoe_bf16", 16, 2, "bf16", "order = sparsemixer, sparsemixer_eps = 0.3",
     False, True),
    ("sparsemixer_k3", 12, 3, "f32",
     "order = sparsemixer, renormalize = true, sparsemixer_eps = 0.5", False,
     False),
    ("k_equals_e", 6, 6, "f32", "renormalize = true", False, True),
    ("dynamic_experts", 12, 5, "f32", "scoring = sigmoid", False, False),
]
TOKENS = [1, 300]  # 300 * k assignments: several dispatch chunks of 256

ROUTING_JSON = {
    "scoring": ("scoring = sigmoid", "sigmoid", "softmax"),
}
ORDERS = ("topk_then_score", "sparsemixer")


def routing_config(k, attrs):
    cfg = {"k": k}
    for key, (needle, yes, no) in ROUTING_JSON.items():
        cfg[key] = yes if needle in attrs else no
    cfg["order"] = next((o for o in ORDERS if "order = " + o in attrs),
                        "score_then_topk")
    cfg["renormalize"] = "renormalize = true" in attrs
    cfg["scale_inputs"] = "scale_inputs = true" in attrs
    for key, pattern, cast in (("scale", r"scale = ([0-9.]+)", float),
                               ("n_group", r"n_group = (\d+)", int),
                               ("topk_group", r"topk_group = (\d+)", int),
                               ("sparsemixer_eps",
                                r"sparsemixer_eps = ([0-9.]+)", float)):
        m = re.search(pattern, attrs)
        if m:
            cfg[key] = cast(m.group(1))
    if "top2_sum" in attrs:
        cfg["group_score"] = "top2_sum"
    return cfg


def to_dtype(values, dtype):
    """The values rounded to dtype, as (float64 values, hex of the bytes)."""
    if dtype == "f32":
        v = values.astype(np.float32)
        return v.astype(np.float64), v.tobytes().hex()
    if dtype == "f16":
        v = values.astype(np.float16)
        return v.astype(np.float64), v.tobytes().hex()
    # bf16: round to nearest even on the f32 bits.
    bits = values.astype(np.float32).view(np.uint32).astype(np.uint64)
    bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    wide = (bits.astype(np.uint32) << 16).view(np.float32)
    return wide.astype(np.float64), bits.tobytes().hex()


def module_text(E, k, dtype, attrs, bias, static_e, logits_hex, bias_hex):
    e = str(E) if static_e else "?"
    lt = "tensor<?x%sx%s>" % (e, dtype)
    bias_arg = ", %b: tensor<{}xf32>".format(E) if bias else ""
    bias_use = " bias(%b : tensor<{}xf32>)".format(E) if bias else ""
    lines = [
        "func.func @layer(%l: {lt}{ba}) -> (tensor<?x{k}xf32>, "
        "tensor<?x{k}xi32>, tensor<?xi32>, tensor<?x{k}xi32>, "
        "tensor<{e1}xi32>) {{".format(lt=lt, ba=bias_arg, k=k, e1=E + 1),
        "  %w, %i = moe.route %l{bu} routing(#moe.routing<k = {k}{sep}{a}>) "
        ": {lt}".format(bu=bias_use, k=k, sep=", " if attrs else "", a=attrs,
                        lt=lt),
        "  %s, %inv, %off = moe.dispatch %i experts({E}) : "
        "tensor<?x{k}xi32>".format(E=E, k=k),
        "  return %w, %i, %s, %inv, %off : tensor<?x{k}xf32>, "
        "tensor<?x{k}xi32>, tensor<?xi32>, tensor<?x{k}xi32>, "
        "tensor<{e1}xi32>".format(k=k, e1=E + 1),
        "}",
        "func.func private @printMemrefF32(memref<*xf32>) "
        "attributes {llvm.emit_c_interface}",
        "func.func private @printMemrefI32(memref<*xi32>) "
        "attributes {llvm.emit_c_interface}",
        "func.func @main() {",
    ]
    for n, (T, hexdata) in enumerate(logits_hex):
        st = "tensor<%dx%dx%s>" % (T, E, dtype)
        lines.append('  %%c%d = arith.constant dense<"0x%s"> : %s'
                     % (n, hexdata.upper(), st))
        lines.append("  %%l%d = tensor.cast %%c%d : %s to %s" % (n, n, st, lt))
        args = "%%l%d" % n
        types = lt
        if bias:
            lines.append('  %%b%d = arith.constant dense<"0x%s"> : '
                         "tensor<%dxf32>" % (n, bias_hex.upper(), E))
            args += ", %%b%d" % n
            types += ", tensor<%dxf32>" % E
        outs = ["tensor<?x%dxf32>" % k, "tensor<?x%dxi32>" % k,
                "tensor<?xi32>", "tensor<?x%dxi32>" % k,
                "tensor<%dxi32>" % (E + 1)]
        lines.append("  %%r%d:5 = func.call @layer(%s) : (%s) -> (%s)"
                     % (n, args, types, ", ".join(outs)))
        for j, t in enumerate(outs):
            elem = "f32" if "f32" in t else "i32"
            mt = t.replace("tensor", "memref")
            lines.append("  %%m%d_%d = bufferization.to_buffer %%r%d#%d : %s "
                         "to %s" % (n, j, n, j, t, mt))
            lines.append("  %%u%d_%d = memref.cast %%m%d_%d : %s to "
                         "memref<*x%s>" % (n, j, n, j, mt, elem))
            lines.append("  func.call @printMemref%s(%%u%d_%d) : "
                         "(memref<*x%s>) -> ()"
                         % (elem.upper(), n, j, elem))
    lines += ["  return", "}"]
    return "\n".join(lines) + "\n"


NUMBER = re.compile(r"[-+]?(?:nan|inf|\d+(?:\.\d*)?(?:e[-+]?\d+)?)")


def parse_memrefs(text):
    """The data of each printed memref, flattened, in print order."""
    out = []
    for block in text.split("Unranked Memref")[1:]:
        data = block.split("data =", 1)[1]
        out.append(np.array([float(x) for x in NUMBER.findall(data)]))
    return out


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit("command failed (%d): %s\n%s" % (r.returncode, " ".join(cmd),
                                                  r.stderr[-4000:]))
    return r.stdout


CPU_LOWERING = [
    "--arith-expand=include-bf16=true", "--expand-strided-metadata",
    "--lower-affine", "--convert-scf-to-cf",
    "--finalize-memref-to-llvm", "--convert-math-to-llvm",
    "--convert-math-to-libm",
    "--convert-arith-to-llvm", "--convert-index-to-llvm",
    "--convert-cf-to-llvm", "--convert-func-to-llvm",
    "--reconcile-unrealized-casts",
]


def reference_routing(args, out, name, T, E, k, attrs, logits, bias):
    base = os.path.join(out, "%s.T%d" % (name, T))
    np.save(base + ".logits.npy", logits)
    np.save(base + ".hidden.npy", np.ones((T, 1)))
    np.save(base + ".up.npy", np.ones((E, 1, 1)))
    np.save(base + ".down.npy", np.ones((E, 1, 1)))
    inputs = ["router_logits=%s.logits.npy" % base,
              "hidden=%s.hidden.npy" % base, "up=%s.up.npy" % base,
              "down=%s.down.npy" % base]
    if bias is not None:
        np.save(base + ".bias.npy", bias)
        inputs.append("correction_bias=%s.bias.npy" % base)
    with open(base + ".json", "w") as fh:
        json.dump({"routing": routing_config(k, attrs),
                   "activation": {"kind": "relu"}}, fh)
    cmd = [args.reference, "--config", base + ".json", "-o",
           base + ".out.npy", "--print-routing"]
    for i in inputs:
        cmd += ["--input", i]
    experts = np.zeros((T, k), dtype=np.int64)
    weights = np.zeros((T, k))
    for line in run(cmd).splitlines():
        m = re.match(r"token (\d+):(.*)", line)
        t = int(m.group(1))
        for j, (e, w) in enumerate(re.findall(r"expert (\d+) w=(\S+?),?(?=\s|$)",
                                              m.group(2))):
            experts[t, j] = int(e)
            weights[t, j] = float(w)
    return weights, experts


def run_on_cpu(args, libs, src):
    """moe-cuda-pipeline's loops phase of `src`, run on the CPU by
    mlir-runner; the memrefs main printed."""
    loops = run([args.moe_opt, src, "--moe-cuda-pipeline=compile-to=loops tensor-cores=false"])
    llvm = run([args.mlir_opt] + CPU_LOWERING, input=loops)
    # mlir-runner registers no DLTI: drop the target description.
    llvm = re.sub(r"^module attributes \{dlti\.target_system_spec.*\} \{$",
                  "module {", llvm, count=1, flags=re.M)
    return parse_memrefs(run(
        [args.mlir_runner, "-e", "main", "-entry-point-result=void",
         "-shared-libs=" + libs], input=llvm))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--moe-opt", default="moe-opt")
    p.add_argument("--reference", default="moe-reference")
    p.add_argument("--mlir-opt", default="mlir-opt")
    p.add_argument("--mlir-runner", default="mlir-runner")
    p.add_argument("--lib-dir", required=True,
                   help="where libmlir_runner_utils.so is")
    p.add_argument("--layers", action="store_true",
                   help="whole layers instead of routing and dispatch")
    p.add_argument("--tensor-cores", action="store_true",
                   help="with --layers: the 16-bit layers with tensor cores "
                   "on, run by the warp-level emulator (gpu_emulator.py) "
                   "instead of mlir-runner")
    p.add_argument("--chip", default="sm_90a",
                   help="with --tensor-cores: the GPU target, sm_90a (the "
                   "staged GEMM on wgmma) or sm_80 (mma.sync)")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    libs = ",".join(os.path.join(args.lib_dir, n) for n in
                    ("libmlir_runner_utils.so", "libmlir_c_runner_utils.so"))
    if args.layers and args.tensor_cores:
        failed = check_layers_emulated(args)
    elif args.layers:
        failed = check_layers(args, libs)
    else:
        failed = check_routing(args, libs)
    sys.exit(1 if failed else 0)


def check_routing(args, libs):
    rng = np.random.default_rng(2026)
    failed = False
    for name, E, k, dtype, attrs, has_bias, static_e in CASES:
        logits, hexes = [], []
        for T in TOKENS:
            values, hexdata = to_dtype(rng.standard_normal((T, E)) * 2, dtype)
            logits.append(values)
            hexes.append((T, hexdata))
        bias, bias_hex = None, ""
        if has_bias:
            bias, bias_hex = to_dtype(rng.standard_normal(E) * 0.5, "f32")
        text = module_text(E, k, dtype, attrs, has_bias, static_e, hexes,
                           bias_hex)
        src = os.path.join(args.out, name + ".mlir")
        with open(src, "w") as fh:
            fh.write(text)
        printed = run_on_cpu(args, libs, src)
        for n, T in enumerate(TOKENS):
            w, ids, srt, inv, off = printed[5 * n:5 * n + 5]
            ref_w, ref_ids = reference_routing(args, args.out, name, T, E, k,
                                               attrs, logits[n], bias)
            ids = ids.reshape(T, k).astype(np.int64)
            w = w.reshape(T, k)
            err = np.max(np.abs(w - ref_w) / np.maximum(1.0, np.abs(ref_w)))
            if not np.array_equal(ids, ref_ids) or err > 1e-5:
                bad = np.argwhere((ids != ref_ids).any(axis=1)).flatten()
                print("FAIL %s T=%d: experts differ for tokens %s, weight "
                      "error %.3g" % (name, T, bad[:8].tolist(), err))
                failed = True
                continue
            # The dispatch of the kernel's own routing: a stable sort by
            # expert; the offsets are the experts' first slots.
            flat = ids.flatten()
            order = np.argsort(flat, kind="stable")
            want_inv = np.empty_like(order)
            want_inv[order] = np.arange(flat.size)
            want_off = np.concatenate(
                [[0], np.cumsum(np.bincount(flat, minlength=E))])
            if not (np.array_equal(srt, order // k) and
                    np.array_equal(inv, want_inv) and
                    np.array_equal(off, want_off)):
                print("FAIL %s T=%d: dispatch differs from a stable sort"
                      % (name, T))
                failed = True
                continue
            print("ok %s T=%d: experts equal, weight error %.1e; dispatch "
                  "of %d assignments equal" % (name, T, err, flat.size))
    return failed


# The end-to-end cases whose weights fit in constants (bf16_hidden's bf16
# output has no printer in mlir-runner's library).
LAYER_CASES = ["mixtral", "olmoe_shared_gate", "deepseek_v3", "deepseek_v2",
               "gpt_oss", "geglu_concat", "relu_logits_k_eq_e", "gelu_e128",
               "silu_k1", "identity_sigmoid_topk", "llama4_scale_inputs",
               "scale_inputs_k3", "nemotron_relu2", "shared_gate_up_interleaved",
               "swiglu_clamp_sigmoid",
               "bf16_weights", "f16_weights", "static_tokens"]
LAYER_TOKENS = [1, 64]
ARG = re.compile(r'%(\w+): (tensor<([^>]*)>) \{moe\.name = "([^"]+)"\}')


def activation_config(text):
    parts = [x.strip() for x in text.split(",")]
    cfg = {"kind": parts[0]}
    for part in parts[1:]:
        key, value = [x.strip() for x in part.split("=")]
        cfg[key] = float(value)
    return cfg


def layer_arguments(params, weights, rng, T, d, E):
    """(role, tensor type, element type, values) of each parameter of a
    case's function: its weights, random hidden states [T, d] or router
    logits [T, E]."""
    for role, ttype, dims, tensor in params:
        if tensor in weights:
            value = weights[tensor][0]
        elif role == "hidden":
            value = rng.standard_normal((T, d))
        else:  # router logits given as an input
            value = 2 * rng.standard_normal((T, E))
        yield role, ttype, dims.split("x")[-1], value


def check_layers(args, libs):
    sys.path.insert(0, os.path.join(HERE, "..", "..", "e2e", "Inputs"))
    import make_cases  # noqa: E402
    cases = {c["name"]: c for c in make_cases.CASES}
    rng = np.random.default_rng(7)
    failed = False
    for name in LAYER_CASES:
        c = cases[name]
        weights = {}
        text = make_cases.make_case(c, rng, weights)
        E, d = c["E"], c["d"]
        tokens = [c["static"]] if c.get("static") else LAYER_TOKENS
        params = ARG.findall(text)  # (role, type, shape x dtype, name)
        main, inputs = ["func.func @main() {"], []
        for n, T in enumerate(tokens):
            args_, types, files = [], [], {}
            for role, ttype, dtype, value in layer_arguments(
                    params, weights, rng, T, d, E):
                shape = value.shape
                rounded, hexdata = to_dtype(value, dtype)
                files["router_logits" if role == "logits" else role] = rounded
                st = "tensor<%sx%s>" % ("x".join(map(str, shape)), dtype)
                main.append('  %%%s%d = arith.constant dense<"0x%s"> : %s'
                            % (role, n, hexdata.upper(), st))
                if st != ttype:
                    main.append("  %%%s%dc = tensor.cast %%%s%d : %s to %s"
                                % (role, n, role, n, st, ttype))
                    args_.append("%%%s%dc" % (role, n))
                else:
                    args_.append("%%%s%d" % (role, n))
                types.append(ttype)
            out_t = re.search(r"-> (tensor<[^>]*>) \{", text).group(1)
            main += [
                "  %%y%d = func.call @%s(%s) : (%s) -> %s"
                % (n, name, ", ".join(args_), ", ".join(types), out_t),
                "  %%m%d = bufferization.to_buffer %%y%d : %s to %s"
                % (n, n, out_t, out_t.replace("tensor", "memref")),
                "  %%u%d = memref.cast %%m%d : %s to memref<*xf32>"
                % (n, n, out_t.replace("tensor", "memref")),
                "  func.call @printMemrefF32(%%u%d) : (memref<*xf32>) -> ()"
                % n]
            inputs.append((T, files))
        main += ["  return", "}",
                 "func.func private @printMemrefF32(memref<*xf32>) "
                 "attributes {llvm.emit_c_interface}"]
        src = os.path.join(args.out, name + ".layer.mlir")
        with open(src, "w") as fh:
            fh.write(text + "\n".join(main) + "\n")
        printed = run_on_cpu(args, libs, src)
        for n, (T, files) in enumerate(inputs):
            failed |= not compare_with_reference(args, c, T, files, printed[n])
    return failed


def compare_with_reference(args, c, T, files, got, what=""):
    """Runs the float64 reference evaluator on the case's inputs and prints
    how `got` compares; false on a mismatch."""
    name = c["name"]
    config = {"routing": routing_config(c["k"], c["routing"]),
              "activation": activation_config(c["act"])}
    if c.get("fused"):
        config["gate_up_layout"] = c["fused"]
    base = os.path.join(args.out, "%s.T%d" % (name, T))
    with open(base + ".json", "w") as fh:
        json.dump(config, fh)
    cmd = [args.reference, "--config", base + ".json", "-o",
           base + ".ref.npy", "--dtype", "f64"]
    for role, value in files.items():
        np.save("%s.%s.npy" % (base, role), value)
        cmd += ["--input", "%s=%s.%s.npy" % (role, base, role)]
    run(cmd)
    want = np.load(base + ".ref.npy").flatten()
    got = np.asarray(got, np.float64).flatten()
    err = np.linalg.norm(got - want) / np.linalg.norm(want)
    tolerance = c.get("tolerance", 1e-5)
    if not err <= tolerance:
        print("FAIL %s T=%d: relative L2 error %.3g > %g%s"
              % (name, T, err, tolerance, what))
        return False
    print("ok %s T=%d: relative L2 error %.1e (tolerance %g)%s"
          % (name, T, err, tolerance, what))
    return True


# The end-to-end cases with 16-bit hidden states and weights, whose GEMMs
# take tensor cores (the GPU's own cases, and bf16 hidden states over f32
# weights, which keeps the SIMT GEMMs).
TENSOR_CORE_CASES = ["mma_bf16", "mma_bf16_e128", "mma_f16", "bf16_hidden"]


def check_layers_emulated(args):
    """Whole layers as the GPU runs them, tensor cores included: the loops
    phase with tensor cores on, every kernel run by the warp-level
    emulator."""
    sys.path.insert(0, os.path.join(HERE, "..", "..", "e2e", "Inputs"))
    import make_cases  # noqa: E402
    import gpu_emulator  # noqa: E402
    from mma_gemm_on_cpu import tensor_ops  # noqa: E402
    cases = {c["name"]: c for c in make_cases.CASES}
    rng = np.random.default_rng(11)
    failed = False
    for name in TENSOR_CORE_CASES:
        c = cases[name]
        weights = {}
        text = make_cases.make_case(c, rng, weights)
        src = os.path.join(args.out, "%s.%s.mlir" % (name, args.chip))
        with open(src, "w") as fh:
            fh.write(text)
        loops = run([args.moe_opt, src,
                     "--moe-cuda-pipeline=compile-to=loops chip=" + args.chip,
                     "--mlir-print-op-generic"])
        module = gpu_emulator.parse_module(loops)
        E, d = c["E"], c["d"]
        for T in c.get("tokens", LAYER_TOKENS):
            emu = gpu_emulator.Emulator(module)
            buffers, files = [], {}
            for role, _, dtype, value in layer_arguments(
                    ARG.findall(text), weights, rng, T, d, E):
                rounded, _ = to_dtype(value, dtype)
                files["router_logits" if role == "logits" else role] = rounded
                buffers.append(gpu_emulator.buffer_of(emu, rounded, dtype))
            try:
                (out,) = emu.call(name, buffers)
            except gpu_emulator.EmulationError as e:
                print("FAIL %s T=%d: emulation error: %s" % (name, T, e))
                failed = True
                continue
            failed |= not compare_with_reference(
                args, c, T, files, gpu_emulator.values_of(out),
                " (%s) %s" % (", ".join(sorted(emu.ran)), tensor_ops(loops)))
    return failed


if __name__ == "__main__":
    main()
