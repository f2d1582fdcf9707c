"""moec.compile: the compile driver moe-compile is, called in-process."""

import os
import pathlib
import tempfile
from typing import Optional, Sequence, Union

from . import _errors

_FUSIONS = ("gate-up", "dispatch", "combine")


def _looks_like_mlir(text):
    return "\n" in text or text.lstrip().startswith(("module", "func.func"))


def compile(model: Union[str, os.PathLike],
            output: Optional[Union[str, os.PathLike]] = None, *,
            target: str = "cpu", cpu: str = "native",
            gpu_chip: str = "sm_90a", fuse: Union[str, Sequence[str]] = (),
            weights: Union[str, os.PathLike,
                           Sequence[Union[str, os.PathLike]]] = (),
            record_routing: bool = True, pack_weights: bool = True,
            kernels: bool = True, bf16_dot: bool = False,
            int8_dot: bool = False, linker: Optional[str] = None,
            verbose: bool = False) -> pathlib.Path:
    """Compiles a model into an artifact that :func:`moec.load` runs.

    model: a ``.mlir``, ``.onnx`` or ``.gguf`` file, a Hugging Face
    checkpoint directory, or ``moe`` IR as text. output: the artifact's path
    (default: the model's name with ``.so`` in the current directory, or a
    new temporary directory for IR text). The options are moe-compile's
    (``moe-compile --help``): target "cpu" or "cuda", cpu (an LLVM CPU name,
    "native"), gpu_chip, fuse (any of "gate-up", "dispatch", "combine", or
    "all"), weights (files to record instead of those the model names),
    record_routing, pack_weights, kernels, bf16_dot, int8_dot, linker.
    verbose prints each phase and its time as it goes. bf16_dot
    (``--bf16-dot``) multiplies bf16 weights with AVX512_BF16 dot products
    on activations rounded to bf16 (needs a cpu with avx512bf16); int8_dot
    (``--int8-dot``) multiplies block-quantized expert weights (GGUF q8_0,
    q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs, mxfp4;
    iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s; iq1_s and iq1_m keep the f32
    kernel) with AVX512_VNNI int8 dot products on
    activations quantized to int8, one scale per 32 elements (needs a cpu with
    avx512vnni). Both round the activations, so results differ slightly
    from the f32 path.

    Returns the artifact's path (a pathlib.Path). Raises CompileError with
    the driver's diagnostics when the model is refused; nothing is left at
    `output` then.
    """
    if isinstance(fuse, str):
        fuse = [f for f in fuse.split(",") if f]
    fuse = list(fuse)
    for f in fuse:
        if f not in _FUSIONS + ("all", "none"):
            raise _errors.InvalidArgumentError(
                f"unknown fusion '{f}' (gate-up, dispatch, combine, all, "
                f"none)")
    if "all" in fuse:
        fuse = list(_FUSIONS)
    fuse = [f for f in fuse if f != "none"]
    if isinstance(weights, (str, os.PathLike)):
        weights = [weights]
    weights = [os.fspath(w) for w in weights]

    tmpdir = None
    if isinstance(model, str) and not os.path.exists(model) and \
            _looks_like_mlir(model):
        tmpdir = tempfile.mkdtemp(prefix="moec-")
        path = os.path.join(tmpdir, "model.mlir")
        with open(path, "w") as f:
            f.write(model)
        model = path
        if output is None:
            output = os.path.join(tmpdir, "model.so")
    model = os.fspath(model)
    if output is None:
        name = pathlib.Path(model.rstrip("/")).name
        stem = pathlib.Path(name).stem if os.path.isfile(model) else name
        output = os.path.join(os.getcwd(), stem + ".so")
    output = os.fspath(output)

    from . import _compiler
    try:
        rc, said = _compiler.compile_model(
            model, output, target, cpu, gpu_chip, fuse, weights,
            bool(record_routing), bool(pack_weights), bool(kernels),
            bool(bf16_dot), bool(int8_dot), linker or "", bool(verbose))
    finally:
        if tmpdir is not None:
            os.remove(model)
    if rc != 0:
        if tmpdir is not None and not os.listdir(tmpdir):
            os.rmdir(tmpdir)
        errors = [line for line in said.splitlines() if ": error:" in line]
        message = "\n".join(errors) if errors else said.strip()
        raise _errors.CompileError(
            message or f"compiling {model} failed (exit code {rc})")
    return pathlib.Path(output)
