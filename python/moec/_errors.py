"""The exceptions moec raises.

Every failure of the runtime is a :class:`moec.Error` carrying the runtime's
status code (``code``, the ``moert_status_code_t`` of ``moert.h``) and its
message, which names the file, function, tensor or argument at fault. Each
code has its own subclass, which also derives from the built-in exception a
Python caller would expect (``ValueError`` for a wrong argument, ``TypeError``
for a wrong dtype, ``MemoryError`` for memory that ran out).
"""

OK = 0
INVALID_ARGUMENT = 1
NOT_FOUND = 2
IO_ERROR = 3
FAILED_PRECONDITION = 4
UNSUPPORTED = 5
INTERNAL = 6
RESOURCE_EXHAUSTED = 7
# The bindings' own code for a tensor of the wrong dtype, or not a tensor
# (moert reports those as INVALID_ARGUMENT, the code DTypeError carries).
_DTYPE = 100


class Error(Exception):
    """A failure reported by moec; ``code`` is the runtime's status code."""

    code = INTERNAL

    def __init__(self, message, code=None):
        super().__init__(message)
        if code is not None:
            self.code = code


class InvalidArgumentError(Error, ValueError):
    """A wrong shape, name or option."""

    code = INVALID_ARGUMENT


class DTypeError(InvalidArgumentError, TypeError):
    """A tensor of the wrong dtype, or an object that is not a tensor."""


class NotFoundError(Error, LookupError):
    """A file, function or tensor that does not exist."""

    code = NOT_FOUND


class ReadError(Error, OSError):
    """A file that cannot be read or is corrupt."""

    code = IO_ERROR


class FailedPreconditionError(Error, RuntimeError):
    """A call out of order: a weight not bound, a closed session."""

    code = FAILED_PRECONDITION


class UnsupportedError(Error, RuntimeError):
    """Something this build, device or CPU cannot do."""

    code = UNSUPPORTED


class InternalError(Error, RuntimeError):
    """A failure inside moec."""

    code = INTERNAL


class ResourceExhaustedError(Error, MemoryError):
    """Memory, on the host or a device, that ran out."""

    code = RESOURCE_EXHAUSTED


class CompileError(Error):
    """A model the compile driver refused; the message is what it said."""

    code = INVALID_ARGUMENT


_BY_CODE = {
    cls.code: cls
    for cls in (InvalidArgumentError, NotFoundError, ReadError,
                FailedPreconditionError, UnsupportedError, InternalError,
                ResourceExhaustedError)
}


def error_from_status(code, message):
    """The exception for a runtime status (called by the bindings)."""
    if code == _DTYPE:
        return DTypeError(message)
    return _BY_CODE.get(code, Error)(message, code)
