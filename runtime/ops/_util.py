"""Small helpers shared by the op families: abstract dummies and axis normalization."""
from __future__ import annotations

import functools
import operator
import warnings

import numpy as np

from ..errors import ImmutableTensorError, RuntimeOpError, arg_error

PY_SCALARS = (bool, int, float, complex)


def dummy(aval, shape=()):
    """A 0-d stand-in with the aval's dtype (Python scalars stay weak, as NumPy 2 treats them)."""
    if isinstance(aval, PY_SCALARS):
        return aval
    return np.ones(shape, aval.dtype)


def dtype_of(fn, *avals, **params):
    """The dtype NumPy itself would produce: run `fn` on 0-d stand-ins of the inputs.

    Memoized: the answer depends only on fn, the input dtypes (a Python int's value too: it
    decides NumPy's overflow error), and the params. Tracing asks once per node, and running
    NumPy under `catch_warnings` costs more than a whole traced node otherwise."""
    try:
        key = (fn, *[_dtype_key(a) for a in avals], *[(k, type(v), v) for k, v in params.items()])
        hit = _DTYPES.get(key)
    except TypeError:               # an unhashable param: just compute it
        key = hit = None
    if hit is not None:
        return hit
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            dt = np.result_type(fn(*(dummy(a) for a in avals), **params))
        except ValueError:
            # a failure that depends on values (an integer to a negative power), which NumPy
            # raises only when there are elements: ask again with empty stand-ins
            dt = np.result_type(fn(*(dummy(a, (0,)) for a in avals), **params))
    if key is not None:
        if len(_DTYPES) > 4096:
            _DTYPES.clear()
        _DTYPES[key] = dt
    return dt


_DTYPES: dict = {}


def _dtype_key(a):
    tp = type(a)
    if isinstance(a, PY_SCALARS):
        return (tp, a) if issubclass(tp, int) and tp is not bool else (tp,)
    return a.dtype


def broadcast_shapes(*shapes) -> tuple:
    """NumPy's broadcasting of shapes (as `np.broadcast_shapes`, which builds arrays to find out
    and costs more than tracing a node); on a mismatch NumPy itself raises its usual message."""
    if len(shapes) == 2:          # the common case: two operands, often one a scalar
        a, b = shapes
        if a == b or not b:
            return tuple(a)
        if not a:
            return tuple(b)
    first = shapes[0]
    if all(s == first for s in shapes):
        return tuple(first)
    out = [1] * max(len(s) for s in shapes)
    for s in shapes:
        off = len(out) - len(s)
        for i, d in enumerate(s):
            o = out[off + i]
            if d != o:
                if o == 1:
                    out[off + i] = d
                elif d != 1:
                    return np.broadcast_shapes(*shapes)     # raises
    return tuple(out)


def shape_of(a):
    return () if isinstance(a, PY_SCALARS) else a.shape


def normalize_axis(axis, ndim: int, what: str = "axis") -> int:
    try:
        ax = operator.index(axis)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {axis!r}") from None
    if not -ndim <= ax < ndim:
        raise np.exceptions.AxisError(f"{what} {axis} is out of bounds for an array of {ndim} dimension"
                             f"{'s' if ndim != 1 else ''} (valid: {-ndim} .. {ndim - 1})")
    return ax % ndim if ndim else 0


def normalize_axes(axis, ndim: int):
    """None -> None; int or sequence -> sorted tuple of non-negative axes (duplicates rejected)."""
    if axis is None:
        return None
    axes = (axis,) if not isinstance(axis, (tuple, list)) else tuple(axis)
    out = tuple(normalize_axis(a, ndim) for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"axis {axis!r} repeats an axis")
    return tuple(sorted(out))


def check_shape(shape) -> tuple:
    """A shape an array can have (for abstract evals of ops that create arrays): NumPy's error
    at trace time instead of when the compiled code runs."""
    if any(d < 0 for d in shape):
        raise ValueError(f"negative dimensions are not allowed (shape {tuple(shape)})")
    return tuple(shape)


def as_shape(shape) -> tuple:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        return tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"a shape must be a tuple of integers, got {shape!r} (shapes are static: "
                             f"use x.shape, which is known while tracing)") from None


def checked(op_name: str):
    """Decorator for an op's public function: an argument check that fails before `bind`
    (bad axis, shape, dtype, a non-array argument) raises the same error `bind` would, naming
    the op, the inputs and the user's line, in eager mode and while tracing alike."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except (ValueError, TypeError, IndexError, RuntimeOpError) as e:
                if getattr(e, "op", None) is not None or isinstance(e, ImmutableTensorError):
                    raise             # already says which op and where
                raise arg_error(op_name, args, kwargs, e) from e
        return wrapper
    return deco
