"""Error types and the helper that finds the user's line behind a runtime call."""
from __future__ import annotations

import os
import sys
import linecache

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# Frames from these files are the machinery between the user and the op, never the "where".
_SKIP_PREFIXES = (_RUNTIME_DIR, "<__array_function__", os.path.dirname(os.__file__) + os.sep + "contextlib")


class SourceLoc(tuple):
    """(filename, lineno, function name) of the user's code that created something."""
    __slots__ = ()

    def __new__(cls, filename, lineno, func):
        return tuple.__new__(cls, (filename, lineno, func))

    filename = property(lambda s: s[0])
    lineno = property(lambda s: s[1])
    func = property(lambda s: s[2])

    @property
    def line(self) -> str:
        return linecache.getline(self[0], self[1]).strip()

    def __str__(self):
        where = f"{_short(self[0])}:{self[1]}"
        text = self.line
        return f"{where}: {text}" if text else where


# filename -> how to show it, e.g. a notebook cell's generated filename -> "In[5]" (set by a front end)
FILE_LABELS: dict = {}
# functions filename -> label or None, asked when FILE_LABELS has no entry: a front end that knows
# its files only when they run (eagermagic asks the IPython shell which cell a filename is)
FILE_LABELERS: list = []


def file_label(filename: str) -> str | None:
    """How a front end names `filename` ("In[5]" for a notebook cell), or None."""
    label = FILE_LABELS.get(filename)
    if label is None:
        for labeler in FILE_LABELERS:
            label = labeler(filename)
            if label is not None:
                break
    return label


def _short(filename: str) -> str:
    label = file_label(filename)
    if label is not None:
        return label
    if filename.startswith("<"):
        return filename
    try:
        rel = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if rel.startswith("..") else rel


def user_location(skip_extra=()) -> SourceLoc | None:
    """The innermost frame outside runtime/ (and numpy's dispatch): where the user called us."""
    f = sys._getframe(1)
    machinery = _MACHINERY
    while f is not None:
        code = f.f_code
        fn = code.co_filename
        skip = machinery.get(fn)
        if skip is None:        # once per file: tracing asks for every node it records
            if len(machinery) > 10000:
                machinery.clear()
            skip = machinery[fn] = fn.startswith(_SKIP_PREFIXES) or fn.startswith(_NUMPY_DIR)
        if not skip and fn not in skip_extra:
            return SourceLoc(fn, f.f_lineno, code.co_name)
        f = f.f_back
    return None


_MACHINERY: dict = {}      # filename -> True for runtime/, numpy and contextlib frames


def skip_frames_of(filename: str) -> None:
    """Count frames from `filename` as machinery too, never as the user's line (for a front end
    that runs ops on the user's behalf, like eagermagic's op counter)."""
    global _SKIP_PREFIXES
    if filename not in _SKIP_PREFIXES:
        _SKIP_PREFIXES = (*_SKIP_PREFIXES, filename)
        _MACHINERY.clear()


import numpy as _np  # noqa: E402  (after the helpers so the module reads top-down)

_NUMPY_DIR = os.path.dirname(os.path.abspath(_np.__file__)) + os.sep


class RuntimeOpError(Exception):
    """An op was given inputs it cannot work with (bad shapes, dtypes, axes, arguments).

    What is raised is a subclass that is also the builtin error NumPy would raise (ValueError,
    TypeError, IndexError, ArithmeticError), so `except IndexError:` written for NumPy works."""


class OpValueError(RuntimeOpError, ValueError):
    pass


class OpTypeError(RuntimeOpError, TypeError):
    pass


class OpIndexError(RuntimeOpError, IndexError):
    pass


class OpArithmeticError(RuntimeOpError, ArithmeticError):
    pass


for _cls in (OpValueError, OpTypeError, OpIndexError, OpArithmeticError):
    _cls.__name__ = _cls.__qualname__ = "RuntimeOpError"    # tracebacks show the one name users know


def op_error_class(exc: BaseException) -> type:
    """The RuntimeOpError subclass matching the builtin category of `exc`."""
    for base, cls in ((IndexError, OpIndexError), (TypeError, OpTypeError),
                      (ArithmeticError, OpArithmeticError), (ValueError, OpValueError)):
        if isinstance(exc, base):
            return cls
    return RuntimeOpError


class ConcretizationError(Exception):
    """A traced value was asked for a concrete Python value while tracing."""


class TracerLeakError(Exception):
    """A traced value escaped the function being traced and was used afterwards."""


class ImmutableTensorError(TypeError):
    """Tensors cannot be changed in place."""


def describe_arg(a) -> str:
    if getattr(a, "weak", False):          # a graph Value holding a Python scalar: show the number
        a = a.const
    shape = getattr(a, "shape", None)
    dtype = getattr(a, "dtype", None)
    if shape is not None and dtype is not None and not isinstance(a, type):
        from .dtypes import short_type
        return short_type(dtype, shape)
    if isinstance(a, (list, tuple)) and a and all(hasattr(x, "shape") for x in a):
        return "[" + ", ".join(describe_arg(x) for x in a) + "]"
    text = repr(a)
    if isinstance(a, tuple) and all(isinstance(x, int) for x in a):
        return text                       # a shape
    return f"{type(a).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def op_error(op_name: str, args, params, exc: BaseException, loc: SourceLoc | None, mode: str):
    """Wrap a NumPy/shape exception into one message: which op, what inputs, where, what to do.

    Errors that already say all of that (a leaked tracer, a concretization) pass through as
    they are, so callers can catch them by type."""
    if isinstance(exc, (TracerLeakError, ConcretizationError, ImmutableTensorError)):
        return exc
    shown = ", ".join(describe_arg(a) for a in args)
    ps = ", ".join(f"{k}={v!r}" for k, v in params.items() if k != "value")
    msg = f"{op_name}({shown}{', ' if ps and shown else ''}{ps}) failed {mode}: {exc}"
    if loc is not None:
        msg += f"\n  at {loc}"
    hint = _HINTS.get(op_name)
    if hint:
        msg += f"\n  hint: {hint}"
    err = op_error_class(exc)(msg)
    err.op = op_name
    err.loc = loc
    return err


def arg_error(op_name: str, args, params, exc: BaseException):
    """An op's public function rejected its arguments (bad axis, shape, dtype ...) before binding:
    the same message as `op_error`, in the mode (eager or tracing) the arguments show."""
    from .core import current_interpreter
    from .tracing import TraceInterpreter, Tracer     # late: tracing imports this module
    leaves = [x for a in args for x in (a if isinstance(a, (list, tuple)) else (a,))]
    interp = current_interpreter()
    while interp is not None and not isinstance(interp, TraceInterpreter):
        interp = interp.parent            # a gradient tape may sit on top of a trace
    tracing = interp is not None or any(type(x) is Tracer for x in leaves)
    shown = {k: v for k, v in params.items() if v is not None}
    return op_error(op_name, args, shown, exc, user_location(),
                    "while tracing" if tracing else "in eager mode")


_HINTS = {
    "matmul": "the last axis of the first operand must equal the second-to-last axis of the second "
              "(use .T or rt.matrix_transpose to line them up)",
    "reshape": "the new shape must hold the same number of elements (use -1 for one inferred axis)",
    "concat": "all inputs must have the same shape except along the concatenation axis",
}
