"""Compiled MoE layers inside transformers models.

    import moec.transformers
    model = AutoModelForCausalLM.from_pretrained(...)
    moec.transformers.compile_moe(model)      # swaps the MoE blocks in place
    model.generate(...)

compile_moe() compiles the model's MoE layers with the Hugging Face importer
(the same one `moe-compile checkpoint/` runs, on the model's config and its
in-memory tensor names), loads the artifact, binds the model's own expert,
router and shared-expert tensors to it (the tensors the model holds, not
copies of them; gpt-oss's [E, in, out] expert tensors are the exception,
transposed once into the [E, out, in] the layer reads), and replaces each
MoE block with a CompiledMoeBlock that runs the compiled layer. With
pack_weights (the default) the layers pack the expert weights into their
kernels' panels on their first call, a copy the session holds and reads
from then on; rebind(model) after changing the model's tensors in place.
The replacement keeps the block's parameters and submodules under the same
names, so the model's state_dict(), named_parameters() and
save_pretrained() are unchanged.

Families: all of the importer's (docs/Importing.md); the MoE block is a
decoder layer's `mlp`, `feed_forward` (LFM2-MoE, Jamba, Llama-4),
`block_sparse_moe` (Granite), `ffn` (DBRX) or `mixer` (Nemotron-H).
GraniteMoeShared's and Granite 4.0's compiled block also adds the layer's
shared MLP, whose module becomes a TakenOver that returns zeros.
Blocks the importer does not compile are left as they are, with a warning
naming them. Inference only: the compiled layers
have no backward.
"""

import json
import os
import shutil
import struct
import tempfile
import warnings
from typing import Any, List, Optional, Tuple, Union

from . import _compile
from . import _errors
from . import _session

__all__ = ["CompiledMoeBlock", "TakenOver", "compile_moe", "moe_blocks",
           "rebind"]


def _torch():
    import torch
    return torch


def _decoder_layers(model):
    """The model's decoder layers (model.model.layers for a CausalLM,
    model.layers for the bare model, the text model's
    model.model.language_model.layers for a vision-language model, or
    model.language_model.model.layers for Llama-4's, and DBRX's blocks,
    model.transformer.blocks)."""
    inner = getattr(model, "model", None)
    language = getattr(model, "language_model", None)
    for owner in (inner, model, getattr(inner, "language_model", None),
                  language, getattr(language, "model", None),
                  getattr(model, "transformer", None)):
        for attr in ("layers", "blocks"):
            layers = getattr(owner, attr, None)
            if layers is not None:
                return owner, layers
    return None, None


def _looks_like_moe(module):
    # Not by class name: dense MLPs of MoE families are named so too
    # (Glm4MoeMLP, Ernie4_5_MoeMLP).
    return hasattr(module, "experts")


def _block_attr(layer):
    """The attribute of a decoder layer that holds its MoE block: `mlp`,
    `feed_forward` (LFM2-MoE, Jamba, Llama-4), `block_sparse_moe` (Granite),
    `ffn` (DBRX) or `mixer` (Nemotron-H, whose other layers' mixers are
    Mamba-2, attention or a dense MLP); None for a layer without one."""
    for attr in ("mlp", "feed_forward", "block_sparse_moe", "ffn", "mixer"):
        module = getattr(layer, attr, None)
        if module is not None and _looks_like_moe(module):
            return attr
    return None


# Modules of a decoder layer beside its MoE block that the compiled layer
# computes too, by model type: Granite's shared MLP, which the decoder layer
# (not the block) adds to the block's output.
_SIBLINGS = {"granitemoeshared": ("shared_mlp",),
             "granitemoehybrid": ("shared_mlp",)}


def _siblings(model, layer):
    """[(attribute, module)] of `layer`'s modules the compiled layer takes
    over with its block (_SIBLINGS; those the layer has)."""
    family = getattr(model.config, "model_type", "")
    return [(a, getattr(layer, a)) for a in _SIBLINGS.get(family, ())
            if getattr(layer, a, None) is not None]


class TakenOver(_torch().nn.Module):
    """A decoder layer's module whose output the compiled MoE layer adds
    already (Granite's shared MLP): it returns zeros, and keeps the
    original's submodules and tensors under their names, which the session
    reads in place."""

    def __init__(self, module):
        super().__init__()
        for name, child in module.named_children():
            self.add_module(name, child)
        for name, p in module.named_parameters(recurse=False):
            self.register_parameter(name, p)

    def forward(self, hidden_states):
        return _torch().zeros_like(hidden_states)

    def extra_repr(self):
        return "its output added by the compiled MoE layer"


def moe_blocks(model: Any) -> List[Tuple[int, str, Any]]:
    """[(layer index, qualified name, module)] of the modules that look like
    MoE blocks: a decoder layer's `mlp` (or `feed_forward`) with experts."""
    _, layers = _decoder_layers(model)
    if layers is None:
        return []
    prefix = {id(m): n for n, m in model.named_modules()}
    blocks = []
    for i, layer in enumerate(layers):
        attr = _block_attr(layer)
        if attr is not None:
            block = getattr(layer, attr)
            blocks.append((i, prefix.get(id(block), f"layers.{i}.{attr}"),
                           block))
    return blocks


class CompiledMoeBlock(_torch().nn.Module):
    """An MoE block whose forward runs a compiled layer.

    It holds the original block's parameters, buffers and submodules under
    their names (the session reads those tensors in place) and returns what
    the original forward returns: the output in the input's shape, and for
    gpt-oss also the router scores, from the block's own router (for
    Llama-4, the output as [T, H] rows and the router logits).
    """

    def __init__(self, block, session, function, family):
        super().__init__()
        for name, child in block.named_children():
            self.add_module(name, child)
        for name, p in block.named_parameters(recurse=False):
            self.register_parameter(name, p)
        non_persistent = getattr(block, "_non_persistent_buffers_set", set())
        for name, b in block.named_buffers(recurse=False):
            self.register_buffer(name, b,
                                 persistent=name not in non_persistent)
        self.moec_session = session
        self.moec_function = function
        self.moec_family = family

    def forward(self, hidden_states):
        shape = hidden_states.shape
        x = hidden_states.reshape(-1, shape[-1]).detach()
        if not x.is_contiguous():
            x = x.contiguous()
        y = self.moec_session.run(self.moec_function, x)
        if self.moec_family in ("llama4", "llama4_text"):
            # Llama-4's block returns [T, H] rows and the router logits.
            _, logits = self.router(x)
            return y, logits
        y = y.reshape(shape)
        if self.moec_family == "gpt_oss":
            _, scores, _ = self.router(x)
            return y, scores
        return y

    def extra_repr(self):
        return (f"compiled by moec: {self.moec_function} of "
                f"{os.path.basename(self.moec_session.artifact.path)}")


_SAFETENSORS_DTYPES = {"float32": "F32", "bfloat16": "BF16",
                       "float16": "F16", "float64": "F64"}


def _write_checkpoint(model, blocks, directory):
    """config.json and a safetensors file naming the blocks' tensors (a
    CompiledMoeBlock's are its original block's), and those of the modules
    beside them the layer computes too (_SIBLINGS), by
    their checkpoint names: what the Hugging Face importer plans a model
    from. The importer reads the header only (names, dtypes, shapes), so
    the data section is left a hole (a sparse file): nothing of the weights
    is copied or written."""
    model.config.to_json_file(os.path.join(directory, "config.json"))
    header, offset = {}, 0
    # Where the importer looks for a layer's tensors: DBRX's
    # transformer.blocks.N., the others' model.layers.N.
    layers = ("transformer.blocks" if model.config.model_type == "dbrx"
              else "model.layers")
    _, decoder = _decoder_layers(model)
    for i, qualified, block in blocks:
        attr = qualified.rsplit(".", 1)[-1]
        modules = [(attr, block)] + _siblings(model, decoder[i])
        tensors = [(f"{a}.{name}", t) for a, m in modules
                   for name, t in m.state_dict().items()]
        for name, t in tensors:
            key = f"{layers}.{i}.{name}"
            dtype = _SAFETENSORS_DTYPES.get(str(t.dtype).replace("torch.", ""))
            if dtype is None:
                raise _errors.DTypeError(
                    f"{key} is {t.dtype}; moec compiles float32, bfloat16 "
                    f"and float16 tensors")
            size = t.numel() * t.element_size()
            header[key] = {"dtype": dtype, "shape": list(t.shape),
                           "data_offsets": [offset, offset + size]}
            offset += size
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(directory, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        f.truncate(8 + len(text) + offset)


def compile_moe(model: Any, output_dir: Optional[Union[str, os.PathLike]] = None,
                threads: Optional[int] = None, verbose: bool = False,
                **options: Any) -> Any:
    """Compiles the MoE blocks of a transformers model and swaps them for
    CompiledMoeBlock modules, in place; returns the model.

    output_dir: where the artifact is kept (default: a new temporary
    directory). threads: the session's worker threads (None: one per core).
    Other keyword arguments are moec.compile's options (cpu, fuse, ...).
    The model must be on the CPU, in float32 or bfloat16, and stay so:
    moving or casting it afterwards replaces the tensors the session reads;
    call compile_moe again then. Blocks the importer cannot compile are left
    alone with a warning naming them.
    """
    blocks = moe_blocks(model)
    if not blocks:
        warnings.warn("moec.transformers.compile_moe: no MoE block found in "
                      f"{type(model).__name__}; the model is unchanged",
                      stacklevel=2)
        return model
    if all(isinstance(b, CompiledMoeBlock) for _, _, b in blocks):
        return model  # compiled already
    family = getattr(model.config, "model_type", "?")
    for _, name, block in blocks:
        for t in list(block.parameters()) + list(block.buffers()):
            if t.device.type != "cpu":
                raise _errors.UnsupportedError(
                    f"{name} is on {t.device}: moec.transformers runs MoE "
                    f"blocks on the CPU; call compile_moe on a CPU model")
    _, layers = _decoder_layers(model)
    if output_dir is None:
        output_dir = tempfile.mkdtemp(prefix="moec-transformers-")
    os.makedirs(output_dir, exist_ok=True)
    checkpoint = tempfile.mkdtemp(prefix="checkpoint-", dir=output_dir)
    try:
        _write_checkpoint(model, blocks, checkpoint)
        artifact = _compile.compile(
            checkpoint, os.path.join(output_dir, "moe_layers.so"),
            verbose=verbose, **options)
    except (_errors.CompileError, _errors.DTypeError) as e:
        names = ", ".join(n for _, n, _ in blocks)
        warnings.warn(
            f"moec.transformers.compile_moe: {family} blocks are left "
            f"as they are ({names}): {e}", stacklevel=2)
        return model
    finally:
        # The session binds the model's tensors, not these files.
        shutil.rmtree(checkpoint, ignore_errors=True)

    session = _session.Session(artifact, weights={}, threads=threads)
    compiled = set(session.functions)
    transposed = _bind(session, layers)
    skipped = []
    for i, name, block in blocks:
        fn = f"layer_{i}"
        if fn not in compiled:
            skipped.append(name)
        elif not isinstance(block, CompiledMoeBlock):
            for attr, module in _siblings(model, layers[i]):
                setattr(layers[i], attr, TakenOver(module))
            setattr(layers[i], name.rsplit(".", 1)[-1],
                    CompiledMoeBlock(block, session, fn, family))
    if skipped:
        warnings.warn(
            "moec.transformers.compile_moe: the importer compiles no layer "
            f"for {', '.join(skipped)}; left as they are", stacklevel=2)
    if transposed and verbose:
        print(f"moec.transformers: {len(transposed)} tensors transposed once "
              f"into the session's layout: {', '.join(transposed)}")
    model.moec_session = session
    model.moec_artifact = artifact
    return model


def _bind(session, layers):
    """Binds every weight of the session's functions to the model's tensor
    of that name; returns the names of those transposed on the way."""
    bound, transposed = {}, []
    for fn in session.functions:
        for w in session.artifact.signature(fn)[1]:
            t = _live_tensor(layers, w.name)
            shape = tuple(w.shape)
            swapped = shape[:-2] + shape[-1:] + shape[-2:-1]
            if _same_row_major(t.shape, shape):
                # The shape, or a view of the same memory: ERNIE 4.5 holds
                # its [E] selection bias as [1, E], DBRX its experts as
                # [E·F, H].
                t = t.reshape(shape)
            elif len(shape) >= 2 and _same_row_major(t.shape, swapped):
                # gpt-oss and Llama-4 hold their experts as [E, in, out],
                # DBRX its down projections as [E·F, H]; the compiled layer
                # reads [E, out, in]: transposed once, here.
                t = t.reshape(swapped).transpose(-1, -2).contiguous()
                transposed.append(w.name)
            bound[w.name] = t
    session.bind_weights(bound)
    return transposed


def _same_row_major(have, want):
    """Whether a tensor of shape `have` is, in the same row-major memory, one
    of shape `want`: equal once leading dimensions of size 1 are dropped
    (ERNIE 4.5's [1, E] bias for [E]), or with `want`'s leading dimensions
    merged into the first (DBRX's [E·F, H] for [E, F, H]). The rule the
    runtime binds weights by (moe::safetensors::sameRowMajorShape)."""
    def strip(shape):
        shape = tuple(shape)
        while len(shape) > 1 and shape[0] == 1:
            shape = shape[1:]
        return shape

    have, want = strip(have), strip(want)
    if have == want:
        return True
    if not have or len(have) >= len(want):
        return False
    lead = len(want) - len(have) + 1
    product = 1
    for n in want[:lead]:
        product *= n
    return have[0] == product and have[1:] == want[lead:]


def rebind(model: Any) -> None:
    """Binds the model's tensors to its compiled layers again, after they
    were changed in place. The layers pack the expert weights into their
    kernels' layout on their first call (with pack_weights, the default)
    and read that copy from then on; rebinding drops it, so the next call
    packs the tensors as they are now."""
    session = getattr(model, "moec_session", None)
    if session is None:
        raise _errors.FailedPreconditionError(
            f"{type(model).__name__} has no compiled MoE layers: call "
            f"compile_moe first")
    _bind(session, _decoder_layers(model)[1])


def _live_tensor(layers, name):
    """The model's own tensor (parameter or buffer) of checkpoint name
    `name`, model.layers.N.<block>.<path>, detached, sharing its memory."""
    parts = name.split(".")
    try:
        owner = getattr(layers[int(parts[2])], parts[3])
        for p in parts[4:]:
            owner = getattr(owner, p)
    except (AttributeError, IndexError, ValueError):
        raise _errors.InternalError(
            f"the compiled layers read weight '{name}', which the model's MoE "
            f"blocks do not hold") from None
    return owner.detach()

