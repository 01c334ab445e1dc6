"""The eager Tensor and the eager interpreter (bind -> run the NumPy impl now)."""
from __future__ import annotations

import numpy as np

from . import core
from .core import Interpreter
from .errors import TracerLeakError, op_error, user_location
from .surface import ArrayMethods

_new = object.__new__
_ndarray = np.ndarray
_PASS_THROUGH = (int, float, bool, complex, np.ndarray, np.generic)

# hook(tensor, how) for each value that leaves the runtime as NumPy or a Python number: a
# gradient tape notes it, since such a conversion cuts the path gradients can follow.
ESCAPE_HOOKS: list = []


def _escape(t, how):
    for hook in ESCAPE_HOOKS:
        hook(t, how)


class Tensor(ArrayMethods):
    """An immutable n-dimensional array that runs each op at once (eager mode).

    >>> import runtime as rt
    >>> x = rt.asarray([[1.0, 2.0], [3.0, 4.0]])
    >>> (x @ x.T + 1).numpy()  # doctest: +NORMALIZE_WHITESPACE
    array([[ 6., 12.], [12., 26.]])
    """
    __slots__ = ("_v", "__weakref__")

    def __init__(self, value):
        v = np.array(value)
        v.flags.writeable = False
        self._v = v

    shape = property(lambda self: self._v.shape)
    dtype = property(lambda self: self._v.dtype)
    ndim = property(lambda self: self._v.ndim)
    size = property(lambda self: self._v.size)
    nbytes = property(lambda self: self._v.nbytes)

    def numpy(self) -> np.ndarray:
        """The values as a read-only NumPy array (no copy; `.copy()` it to get a writable one)."""
        if ESCAPE_HOOKS:
            _escape(self, ".numpy()")
        v = self._v.view()
        v.flags.writeable = False
        return v

    def item(self):
        if ESCAPE_HOOKS:
            _escape(self, ".item()")
        return self._v.item()

    def tolist(self):
        if ESCAPE_HOOKS:
            _escape(self, ".tolist()")
        return self._v.tolist()

    def __array__(self, dtype=None, copy=None):
        if ESCAPE_HOOKS:
            _escape(self, "np.asarray() (or another NumPy call)")
        v = self._v
        if dtype is not None and np.dtype(dtype) != v.dtype:
            return v.astype(dtype)
        return v.copy() if copy else v

    def __bool__(self):
        return bool(self._v)

    def __int__(self):
        if ESCAPE_HOOKS:
            _escape(self, "int()")
        return int(self._v)

    def __float__(self):
        if ESCAPE_HOOKS:
            _escape(self, "float()")
        return float(self._v)

    def __complex__(self):
        return complex(self._v)

    def __index__(self):
        return self._v.__index__()

    def __repr__(self):
        v = self._v
        body = np.array2string(v, prefix="Tensor(", separator=", ")
        return f"Tensor({body}, dtype={v.dtype})"

    def __str__(self):
        return str(self._v)

    def _numpy_fallback(self, func, args, kwargs, name):
        """A NumPy function with no runtime op: run it on the arrays (eager only), wrap results."""
        return _from_numpy(func(*_to_numpy(args), **_to_numpy(kwargs)))

    def __reduce__(self):
        return (Tensor, (np.asarray(self._v),))


def wrap(r) -> Tensor:
    if type(r) is not _ndarray:
        r = np.asarray(r)
    t = _new(Tensor)
    t._v = r
    return t


def _coerce(a):
    """Eager input that is not a Tensor: NumPy arrays and Python scalars pass; lists become arrays."""
    if isinstance(a, _PASS_THROUGH) or a is None:
        return a
    if isinstance(a, (list, tuple)):
        return np.asarray(a)
    if isinstance(a, ArrayMethods):   # a Tracer here means it escaped its trace
        loc = user_location()
        graph = getattr(getattr(a, "_trace", None), "graph", None)
        raise TracerLeakError(
            f"a traced value ({a!r}) was used outside the function that was being traced"
            f"{f' (`{graph.name}`)' if graph is not None else ''}{f' at {loc}' if loc else ''}. "
            "Return it from the function instead of storing it in an outside variable.")
    raise TypeError(f"expected a tensor, a NumPy array or a number, got {type(a).__name__}")


class EagerInterpreter(Interpreter):
    """Runs each op's NumPy impl at once."""

    def process(self, op, args, params):
        try:
            vals = [a._v if type(a) is Tensor else _coerce(a) for a in args]
            r = op.impl(*vals, **params)
        except Exception as e:
            raise op_error(op.name, args, params, e, user_location(), "in eager mode") from e
        if op.multiple_results:
            return tuple(wrap(x) for x in r)
        return wrap(r)

    def process1(self, op, x):
        try:
            r = op.impl(x._v if type(x) is Tensor else _coerce(x))
        except Exception as e:
            raise op_error(op.name, (x,), {}, e, user_location(), "in eager mode") from e
        if type(r) is not _ndarray:
            r = np.asarray(r)
        t = _new(Tensor)
        t._v = r
        return t

    def process2(self, op, x, y):
        try:
            r = op.impl(x._v if type(x) is Tensor else _coerce(x),
                        y._v if type(y) is Tensor else _coerce(y))
        except Exception as e:
            raise op_error(op.name, (x, y), {}, e, user_location(), "in eager mode") from e
        if type(r) is not _ndarray:
            r = np.asarray(r)
        t = _new(Tensor)
        t._v = r
        return t


EAGER = EagerInterpreter()
core.set_base_interpreter(EAGER)


def _to_numpy(tree):
    if type(tree) is Tensor:
        return tree._v
    if isinstance(tree, (list, tuple)):
        return type(tree)(_to_numpy(t) for t in tree)
    if isinstance(tree, dict):
        return {k: _to_numpy(v) for k, v in tree.items()}
    return tree


def _from_numpy(tree):
    if isinstance(tree, (np.ndarray, np.generic)) and not isinstance(tree, (np.str_, np.bytes_)):
        return wrap(tree)
    if isinstance(tree, (list, tuple)) and not hasattr(tree, "_fields"):
        return type(tree)(_from_numpy(t) for t in tree)
    return tree
