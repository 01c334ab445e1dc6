"""Creating arrays: constants, filled arrays, ranges; and casting (`astype`)."""
from __future__ import annotations

import numpy as np

from ..core import Op, bind
from ..dtypes import as_dtype
from ._util import as_shape, check_shape, checked


def _const_abstract(*, value):
    return np.shape(value), np.result_type(value)


const_op = Op("const", lambda *, value: value, _const_abstract)


@checked("asarray")
def asarray(obj, /, *, dtype=None, copy=None):
    """A tensor from a NumPy array, nested lists, a number or another tensor.

    NumPy inputs are copied (tensors are immutable, so later changes to the array cannot leak in).

    >>> rt.asarray([[1, 2], [3, 4]], dtype=rt.float32).dtype
    dtype('float32')
    """
    from ..surface import ArrayMethods
    if isinstance(obj, ArrayMethods):
        return obj if dtype is None or as_dtype(dtype) == obj.dtype else astype(obj, dtype)
    if isinstance(obj, (list, tuple)) and obj and _holds_tensors(obj):
        from .movement import stack      # [t1, t2] of (maybe traced) tensors: stack, as np.array does
        return asarray(stack([asarray(o) for o in obj]), dtype=dtype)
    value = np.array(obj, dtype=None if dtype is None else as_dtype(dtype), copy=True)
    if value.dtype == object:
        raise TypeError(f"cannot make a tensor from {type(obj).__name__}: it is not numeric "
                        f"(ragged nested lists are not arrays)")
    as_dtype(value.dtype)            # rejects strings, datetimes ... with a clear message
    value.flags.writeable = False
    return bind(const_op, value=value)


def _holds_tensors(obj) -> bool:
    from ..surface import ArrayMethods
    return any(isinstance(o, ArrayMethods) or (isinstance(o, (list, tuple)) and _holds_tensors(o))
               for o in obj)


def _full_abstract(*, shape, fill_value, dtype):
    return check_shape(shape), dtype


full_op = Op("full", lambda *, shape, fill_value, dtype: np.full(shape, fill_value, dtype),
             _full_abstract)


@checked("full")
def full(shape, fill_value, *, dtype=None):
    """An array of `shape` filled with `fill_value` (dtype inferred as NumPy does).

    >>> rt.full((2, 2), 7).dtype
    dtype('int64')
    """
    from ..surface import ArrayMethods
    if isinstance(fill_value, ArrayMethods):      # a tensor (maybe traced): broadcast its value
        from .movement import broadcast_to
        v = fill_value if dtype is None else astype(fill_value, dtype)
        return broadcast_to(v, as_shape(shape))      # a view is fine: tensors are immutable
    dt = np.result_type(np.asarray(fill_value)) if dtype is None else as_dtype(dtype)
    return bind(full_op, shape=as_shape(shape), fill_value=fill_value, dtype=dt)


@checked("zeros")
def zeros(shape, *, dtype=None):
    """>>> rt.zeros((2, 3)).shape
    (2, 3)
    """
    return full(shape, 0, dtype=np.float64 if dtype is None else dtype)


@checked("ones")
def ones(shape, *, dtype=None):
    return full(shape, 1, dtype=np.float64 if dtype is None else dtype)


@checked("full_like")
def full_like(x, /, fill_value, *, dtype=None):
    return full(x.shape, fill_value, dtype=x.dtype if dtype is None else dtype)


@checked("zeros_like")
def zeros_like(x, /, *, dtype=None):
    return full_like(x, 0, dtype=dtype)


@checked("ones_like")
def ones_like(x, /, *, dtype=None):
    return full_like(x, 1, dtype=dtype)


@checked("arange")
def arange(start, /, stop=None, step=1, *, dtype=None):
    """Evenly spaced values in [start, stop), as `np.arange` (a constant: its values are known)."""
    return asarray(np.arange(start, stop, step, dtype=None if dtype is None else as_dtype(dtype)))


@checked("linspace")
def linspace(start, stop, /, num=50, *, dtype=None, endpoint=True):
    return asarray(np.linspace(start, stop, num, endpoint=endpoint,
                               dtype=None if dtype is None else as_dtype(dtype)))


@checked("eye")
def eye(n_rows, n_cols=None, /, *, k=0, dtype=None):
    return asarray(np.eye(n_rows, n_cols, k=k, dtype=np.float64 if dtype is None else as_dtype(dtype)))


def _astype_abstract(x, dtype):
    return getattr(x, "shape", ()), dtype


def _astype_vjp(g, out, x, dtype):
    return astype(g, x.dtype) if np.dtype(x.dtype).kind in "fc" else None


astype_op = Op("astype", lambda x, dtype: np.asarray(x).astype(dtype), _astype_abstract,
               elementwise=True, vjp=(_astype_vjp,))


@checked("astype")
def astype(x, dtype, /, *, copy=True):
    """Cast to `dtype` (NumPy's casting rules: float to int truncates)."""
    dt = as_dtype(dtype)
    if getattr(x, "dtype", None) is not None and x.dtype == dt:   # (None == float64 is True)
        return x
    return bind(astype_op, x, dtype=dt)


