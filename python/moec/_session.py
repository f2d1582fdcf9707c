"""Sessions: a compiled artifact loaded with its weights, called from Python.

A :class:`Session` is one ``moert_session_t``. Its functions take NumPy
arrays or PyTorch tensors (anything with DLPack or the buffer protocol, in
host memory, contiguous, of the dtype the function declares) and hand them
to the runtime in place, without copies; results come back as new arrays of
the inputs' kind (PyTorch when any input is a tensor) or in the ``out=``
tensors given.
"""

import os
import threading
from collections import namedtuple
from typing import Any, List, Optional, Tuple, Union

import numpy

from . import _errors
from . import _runtime

_NDARRAY = numpy.ndarray

_runtime._set_error_factory(_errors.error_from_status)

Param = namedtuple("Param", ["name", "dtype", "shape"])
Param.__doc__ = """An argument or result of a function: its dtype ("f32",
"bf16", "f16") and shape, with -1 for the token dimension."""

RoutingCounts = namedtuple("RoutingCounts",
                           ["calls", "tokens", "counts", "coselection"])
RoutingCounts.__doc__ = """What one routing site saw since recording started:
the calls and tokens, the tokens per expert (``counts[e]``), and with
coselection the tokens that selected both experts a and b
(``coselection[a, b]``), else None."""

_NUMPY_DTYPES = {"f32": "float32", "f16": "float16"}
_TORCH_DTYPES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}
# Weights in ggml's blocks (docs/Runtime.md): bound from their file only.
_QUANTIZED_DTYPES = ("q8_0", "q4_0", "q4_k", "q6_k", "mxfp4", "u8z", "u4z",
                     "fp8_e4m3", "u8z128", "u4z128", "u2z", "u2z128",
                     "u8z16", "u4z16", "u2z16", "q4_1", "q5_0", "q5_1",
                     "q5_k", "q2_k", "q3_k", "iq4_nl", "iq4_xs", "iq2_xxs",
                     "iq2_xs", "iq2_s", "iq3_xxs", "iq3_s", "iq1_s", "iq1_m")


_TORCH_TYPES = {}


def _is_torch(x):
    t = type(x)
    known = _TORCH_TYPES.get(t)
    if known is None:
        known = _TORCH_TYPES[t] = t.__module__.split(".")[0] == "torch"
    return known


def _is_tensor(x):
    return (hasattr(x, "__dlpack__") or hasattr(x, "__array_interface__")
            or _is_torch(x))


def _require_tensor(what, x):
    """Raises DTypeError naming `what` unless `x` is a tensor."""
    if not _is_tensor(x):
        raise _errors.DTypeError(
            f"{what} is a {type(x).__name__}, expected a NumPy array or a "
            f"PyTorch tensor")


def _shape_text(shape):
    return "(" + ", ".join("T" if d < 0 else str(d) for d in shape) + ")"


def _as_view(x):
    """What the bindings take for `x`, sharing its memory: NumPy arrays as
    they are; a CPU torch tensor of a dtype NumPy has as its .numpy() view
    (cheaper to hand over than DLPack); other tensors (bf16, one that
    requires grad, one off the host) through DLPack, detached."""
    if type(x) is _NDARRAY:
        return x
    if _is_torch(x):
        try:
            return x.numpy()
        except (RuntimeError, TypeError):
            return x.detach()
    return x


class Artifact:
    """A loaded artifact of ``moe-compile`` or :func:`moec.compile`."""

    def __init__(self, path: Union[str, os.PathLike]):
        self.path = os.fspath(path)
        self._handle = _runtime.Artifact(self.path)

    @property
    def functions(self) -> List[str]:
        """The entry points, in the artifact's order."""
        return list(self._handle.functions)

    @property
    def device_kind(self) -> str:
        """The kind of device its code runs on: "cpu" or "cuda"."""
        return self._handle.device_kind

    @property
    def metadata(self) -> str:
        """The metadata record, as JSON text (docs/Artifact.md)."""
        return self._handle.metadata

    @property
    def weight_files(self) -> List[str]:
        """The weight files recorded at compile time."""
        return list(self._handle.weight_files)

    def signature(
            self, function: str
    ) -> Tuple[List[Param], List[Param], List[Param]]:
        """(inputs, weights, results) of `function`, as lists of Param."""
        args, results = self._handle.signature(function)
        inputs = [Param(n, d, s) for n, w, d, s in args if not w]
        weights = [Param(n, d, s) for n, w, d, s in args if w]
        return inputs, weights, [Param(n, d, s) for n, _, d, s in results]

    def routing_sites(self, function: str) -> List[Tuple[int, int]]:
        """[(experts, k)] for each layer of `function` that reports its
        expert selection."""
        return list(self._handle.routing_sites(function))

    def expert_parallel_ranks(self, function: str) -> int:
        """The ranks `function` exchanges tokens with; 0 on one process."""
        return self._handle.expert_parallel_ranks(function)

    def __repr__(self):
        return f"moec.Artifact({self.path!r}, functions={self.functions})"


class Function:
    """One entry point of a session; call it like a Python function."""

    def __init__(self, session, name):
        self.session = session
        self.name = name
        self.inputs, self.weights, self.results = (
            session.artifact.signature(name))
        # Where the token count is read from: the first input dimension of
        # the function's dynamic size, and the input ranks.
        self._ranks = [len(p.shape) for p in self.inputs]
        self._tokens_at = next(
            ((i, d) for i, p in enumerate(self.inputs)
             for d, n in enumerate(p.shape) if n < 0), None)

    def __call__(self, *args, out=None, **kwargs):
        if kwargs or len(args) != len(self.inputs):
            return self.session.run(self.name, *args, out=out, **kwargs)
        return self.session._call(self, args, out)

    def __repr__(self):
        ins = ", ".join(f"{p.name}: {p.dtype}{_shape_text(p.shape)}"
                        for p in self.inputs)
        outs = ", ".join(f"{p.dtype}{_shape_text(p.shape)}"
                         for p in self.results)
        return f"<moec function {self.name}({ins}) -> {outs}>"


class Session:
    """An artifact loaded for running, with its weights bound.

    Use :func:`moec.load` to make one. Calls on one session from several
    threads run one at a time (each waits for the one before, without
    holding the GIL); give each thread its own session to run them in
    parallel. ``close()`` (or leaving a ``with`` block) frees the session;
    calls after it raise :class:`moec.FailedPreconditionError`.
    """

    def __init__(self, artifact: Union["Artifact", str, os.PathLike],
                 weights: Any = None, device: str = "cpu",
                 threads: Optional[int] = None):
        if not isinstance(artifact, Artifact):
            artifact = Artifact(artifact)
        if threads is None:
            threads = 0
        if not isinstance(threads, int) or isinstance(threads, bool) or \
                threads < 0:
            raise _errors.InvalidArgumentError(
                f"threads must be a non-negative int (0 or None: one per "
                f"core), not {threads!r}")
        self.artifact = artifact
        self._handle = _runtime.Session(artifact._handle, threads, device)
        # Caller memory bound as weights, kept alive while it is bound.
        self._held = {}
        self._functions = {}
        self._lock = threading.Lock()
        if weights is None:
            if artifact.weight_files:
                self._handle.bind_recorded_weights()
        else:
            self.bind_weights(weights)

    # ---- weights ---------------------------------------------------------

    def bind_weights(self, weights: Any) -> int:
        """Binds weights: a ``.safetensors`` or ``.gguf`` file, a list of
        them (a sharded checkpoint), or a dict of tensors by weight name
        (bound in place; the session keeps a reference to each)."""
        if isinstance(weights, (str, os.PathLike)):
            return self._handle.bind_weights_file(os.fspath(weights))
        if isinstance(weights, dict):
            declared = {}
            for fn in self.functions:
                for p in self.artifact.signature(fn)[1]:
                    declared[p.name] = p
            for name, array in weights.items():
                p = declared.get(name)
                if p is None:
                    raise _errors.NotFoundError(
                        f"the artifact has no weight named '{name}'")
                if p.dtype in _QUANTIZED_DTYPES:
                    raise _errors.DTypeError(
                        f"weight '{name}' is {p.dtype} (block-quantized): "
                        f"bind it from the file that holds it "
                        f"(weights=PATH)")
                _require_tensor(f"weight '{name}'", array)
                view = _as_view(array)
                self._handle.bind_weight(name, view, p.dtype)
                self._held[name] = view
            return len(weights)
        if isinstance(weights, (list, tuple)):
            return sum(self.bind_weights(w) for w in weights)
        raise _errors.DTypeError(
            f"weights must be a file path, a list of paths or a dict of "
            f"tensors, not {type(weights).__name__}")

    def check_weights(self, function: str) -> None:
        """Raises NotFoundError naming the weights of `function` that are
        not bound."""
        self._handle.check_weights(function)

    # ---- functions -------------------------------------------------------

    @property
    def functions(self) -> List[str]:
        return self.artifact.functions

    def function(self, name: str) -> "Function":
        """The entry point `name` as a callable :class:`Function`."""
        with self._lock:
            fn = self._functions.get(name)
            if fn is None:
                fn = self._functions[name] = Function(self, name)
            return fn

    def __getitem__(self, name):
        return self.function(name)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self.artifact.functions:
            return self.function(name)
        raise AttributeError(
            f"'{type(self).__name__}' object has no attribute '{name}' "
            f"(functions: {', '.join(self.artifact.functions)})")

    def run(self, function: str, *args: Any, out: Any = None,
            **kwargs: Any) -> Any:
        """Runs `function` on its inputs, given in declaration order or by
        name. Returns its result (a tuple when it has several), new tensors
        of the inputs' kind, or `out` (a tensor, or a tuple of them) filled
        in place."""
        fn = self.function(function)
        return self._call(fn, self._match_inputs(fn, args, kwargs), out)

    def _call(self, fn, inputs, out):
        """Runs `fn` on `inputs` (declaration order). The shapes and dtypes
        are checked by the bindings and moert, which name the argument."""
        try:
            views = [_as_view(x) for x in inputs]
            if out is None:
                outputs = self._new_results(fn, inputs)
                self._handle.run(fn.name, views,
                                 [_as_view(o) for o in outputs])
                return outputs[0] if len(outputs) == 1 else tuple(outputs)
            outputs = out if isinstance(out, (list, tuple)) else (out,)
            self._handle.run(fn.name, views, [_as_view(o) for o in outputs])
            return out
        except TypeError as e:
            if isinstance(e, _errors.Error):
                raise
            # nanobind refused an object that is no tensor at all.
            self._explain_not_tensors(fn, inputs, out)
            raise

    def _new_results(self, fn, inputs):
        tokens = 0
        if fn._tokens_at is not None:
            i, d = fn._tokens_at
            shape = getattr(inputs[i], "shape", None)
            if shape is None or len(shape) != fn._ranks[i]:
                self._check_shapes(fn, inputs)
            tokens = shape[d]
        torch_like = False
        for x in inputs:
            if _is_torch(x):
                torch_like = True
                break
        return [self._empty(fn, r, tokens, torch_like) for r in fn.results]

    @staticmethod
    def _check_shapes(fn, inputs):
        for p, x in zip(fn.inputs, inputs):
            _require_tensor(f"input '{p.name}' of '{fn.name}'", x)
            shape = tuple(x.shape)
            if len(shape) != len(p.shape) or any(
                    d >= 0 and d != n for d, n in zip(p.shape, shape)):
                raise _errors.InvalidArgumentError(
                    f"input '{p.name}' of '{fn.name}' has shape {shape}, "
                    f"expected {_shape_text(p.shape)}")

    @staticmethod
    def _explain_not_tensors(fn, inputs, out):
        for p, x in zip(fn.inputs, inputs):
            _require_tensor(f"input '{p.name}' of '{fn.name}'", x)
        outputs = out if isinstance(out, (list, tuple)) else (out,)
        if out is not None and len(outputs) != len(fn.results):
            raise _errors.InvalidArgumentError(
                f"'{fn.name}' has {len(fn.results)} results, out= gives "
                f"{len(outputs)}")
        for r, o in zip(fn.results, outputs):
            if o is not None:
                _require_tensor(f"output '{r.name}' of '{fn.name}'", o)

    @staticmethod
    def _match_inputs(fn, args, kwargs):
        names = [p.name for p in fn.inputs]
        if len(args) > len(names):
            raise _errors.InvalidArgumentError(
                f"'{fn.name}' takes {len(names)} inputs ({', '.join(names)}), "
                f"{len(args)} given")
        given = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise _errors.InvalidArgumentError(
                    f"'{fn.name}' has no input '{k}' (inputs: "
                    f"{', '.join(names)})")
            if k in given:
                raise _errors.InvalidArgumentError(
                    f"input '{k}' of '{fn.name}' given twice")
            given[k] = v
        missing = [n for n in names if n not in given]
        if missing:
            raise _errors.InvalidArgumentError(
                f"'{fn.name}' is missing input(s) {', '.join(missing)}")
        return [given[n] for n in names]

    @staticmethod
    def _empty(fn, result, tokens, torch_like):
        shape = tuple([tokens if d < 0 else d for d in result.shape])
        if torch_like:
            import torch
            return torch.empty(shape,
                               dtype=getattr(torch,
                                             _TORCH_DTYPES[result.dtype]))
        if result.dtype not in _NUMPY_DTYPES:
            raise _errors.DTypeError(
                f"result '{result.name}' of '{fn.name}' is {result.dtype}, "
                f"which NumPy has no dtype for: pass PyTorch tensors, or "
                f"out=")
        return numpy.empty(shape, dtype=_NUMPY_DTYPES[result.dtype])

    # ---- routing statistics ----------------------------------------------

    def record_routing(self, enable: bool = True,
                       coselection: bool = False) -> None:
        """Starts counting, from zero, the experts each routing site selects
        (with `coselection`, also pairs of experts), or stops
        (``enable=False``; the counts stay readable)."""
        flags = 0
        if enable:
            flags = 1 | (2 if coselection else 0)
        self._handle.record_routing(flags)

    def routing_counts(self, function: str, site: int = 0,
                       coselection: bool = False) -> RoutingCounts:
        """What routing site `site` of `function` saw: a RoutingCounts."""
        sites = self.artifact.routing_sites(function)
        if not 0 <= site < len(sites):
            raise _errors.InvalidArgumentError(
                f"'{function}' has {len(sites)} routing sites; there is no "
                f"site {site}")
        experts = sites[site][0]
        calls, tokens, counts, pairs = self._handle.routing_counts(
            function, site, experts, coselection)
        counts = numpy.asarray(counts, dtype=numpy.int64)
        pairs = (numpy.asarray(pairs, dtype=numpy.int64).reshape(
            experts, experts) if coselection else None)
        return RoutingCounts(calls, tokens, counts, pairs)

    def write_routing(self, path: Union[str, os.PathLike]) -> None:
        """Writes the routing statistics as moe-run --record-routing does
        (docs/Runtime.md), for moe-plan-expert-parallelism."""
        self._handle.write_routing(os.fspath(path))

    # ---- lifetime --------------------------------------------------------

    @property
    def num_threads(self) -> int:
        return self._handle.num_threads

    @property
    def device(self) -> str:
        return self._handle.device

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def close(self) -> None:
        """Frees the session (after any call in progress); idempotent."""
        self._handle.close()
        self._held.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else f"{self.device}"
        return (f"<moec.Session {self.artifact.path!r} ({state}), functions "
                f"{self.functions}>")


def load(artifact: Union[Artifact, str, os.PathLike], weights: Any = None,
         device: str = "cpu", threads: Optional[int] = None) -> Session:
    """Loads an artifact and binds its weights: a :class:`Session`.

    weights: None binds the files the artifact records (found next to it
    first); a path, a list of paths, or a dict of tensors by weight name
    binds those instead. device: "cpu" (the only kind the package runs
    today). threads: worker threads of the session's parallel loops (None
    or 0: one per core).
    """
    return Session(artifact, weights=weights, device=device, threads=threads)
