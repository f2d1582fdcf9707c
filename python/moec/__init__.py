"""moec: an ahead-of-time compiler for Mixture-of-Experts layers.

    import moec
    so = moec.compile("checkpoint/")          # or .onnx, .gguf, .mlir
    session = moec.load(so)                   # binds the recorded weights
    y = session.layer0(hidden_states)         # NumPy array or torch tensor

moec.compile runs the compile driver (moe-compile) in this process;
moec.load loads the artifact with libmoert, the C runtime, and its
functions take and return NumPy arrays and PyTorch tensors in place.
moec.transformers swaps compiled MoE blocks into transformers models.
docs/Python.md has the details.
"""

from ._compile import compile
from ._errors import (CompileError, DTypeError, Error, FailedPreconditionError,
                      InternalError, InvalidArgumentError, NotFoundError,
                      ReadError, ResourceExhaustedError, UnsupportedError)
from ._session import (Artifact, Function, Param, RoutingCounts, Session,
                       load)
from . import _runtime

__version__ = _runtime.version()


def devices():
    """The devices this process can use: [(name, kind, description)]."""
    return list(_runtime.devices())


__all__ = [
    "Artifact", "CompileError", "DTypeError", "Error",
    "FailedPreconditionError", "Function", "InternalError",
    "InvalidArgumentError", "NotFoundError", "Param", "ReadError",
    "ResourceExhaustedError", "RoutingCounts", "Session", "UnsupportedError",
    "compile", "devices", "load",
]
