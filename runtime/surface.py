"""The array surface shared by the eager Tensor and the tracing Tracer: operators, methods,
properties and NumPy's dispatch protocols. Everything here ends in an op's public function,
so the current interpreter decides what it means."""
from __future__ import annotations

import numpy as np

from . import core as _core
from .core import bind1, bind2
from .errors import ImmutableTensorError
from .ops import creation, elementwise as ew, indexing, linalg, movement, reduction

_B = ew.BINARY_OPS
_U = ew.UNARY_OPS
_add, _sub, _mul, _div = _B["add"], _B["subtract"], _B["multiply"], _B["divide"]
_fdiv, _mod, _pow = _B["floor_divide"], _B["remainder"], _B["pow"]
_and, _or, _xor = _B["bitwise_and"], _B["bitwise_or"], _B["bitwise_xor"]
_lt, _le, _gt, _ge = _B["less"], _B["less_equal"], _B["greater"], _B["greater_equal"]
_eq, _ne = _B["equal"], _B["not_equal"]
_neg, _pos, _abs, _inv = _U["negative"], _U["positive"], _U["abs"], _U["bitwise_invert"]


class ArrayMethods:
    __slots__ = ()
    __array_priority__ = 100
    __hash__ = None  # type: ignore[assignment]  # == is elementwise, as in NumPy

    # arithmetic: straight to the current interpreter (bind2 inlined: this is the eager hot path)
    def __add__(self, o): return _core._interp.process2(_add, self, o)
    def __radd__(self, o): return _core._interp.process2(_add, o, self)
    def __sub__(self, o): return _core._interp.process2(_sub, self, o)
    def __rsub__(self, o): return _core._interp.process2(_sub, o, self)
    def __mul__(self, o): return _core._interp.process2(_mul, self, o)
    def __rmul__(self, o): return _core._interp.process2(_mul, o, self)
    def __truediv__(self, o): return _core._interp.process2(_div, self, o)
    def __rtruediv__(self, o): return _core._interp.process2(_div, o, self)
    def __floordiv__(self, o): return _core._interp.process2(_fdiv, self, o)
    def __rfloordiv__(self, o): return _core._interp.process2(_fdiv, o, self)
    def __mod__(self, o): return _core._interp.process2(_mod, self, o)
    def __rmod__(self, o): return _core._interp.process2(_mod, o, self)
    def __pow__(self, o): return _core._interp.process2(_pow, self, o)
    def __rpow__(self, o): return _core._interp.process2(_pow, o, self)
    def __matmul__(self, o): return linalg.matmul(self, o)
    def __rmatmul__(self, o): return linalg.matmul(o, self)
    def __and__(self, o): return _core._interp.process2(_and, self, o)
    def __rand__(self, o): return _core._interp.process2(_and, o, self)
    def __or__(self, o): return _core._interp.process2(_or, self, o)
    def __ror__(self, o): return _core._interp.process2(_or, o, self)
    def __xor__(self, o): return _core._interp.process2(_xor, self, o)
    def __rxor__(self, o): return _core._interp.process2(_xor, o, self)
    def __lt__(self, o): return _core._interp.process2(_lt, self, o)
    def __le__(self, o): return _core._interp.process2(_le, self, o)
    def __gt__(self, o): return _core._interp.process2(_gt, self, o)
    def __ge__(self, o): return _core._interp.process2(_ge, self, o)
    def __eq__(self, o): return _core._interp.process2(_eq, self, o)  # type: ignore[override]
    def __ne__(self, o): return _core._interp.process2(_ne, self, o)  # type: ignore[override]
    def __neg__(self): return _core._interp.process1(_neg, self)
    def __pos__(self): return _core._interp.process1(_pos, self)
    def __abs__(self): return _core._interp.process1(_abs, self)
    def __invert__(self): return _core._interp.process1(_inv, self)

    # indexing
    def __getitem__(self, idx):
        return indexing.getitem(self, idx)

    def __setitem__(self, idx, value):
        raise ImmutableTensorError(
            "tensors are immutable: `t[i] = v` cannot change them in place. "
            "Write `t = t.at[i].set(v)` (or `.add(v)`) to get an updated copy; it works in eager "
            "and graph mode alike.")

    @property
    def at(self):
        """Functional updates: `x.at[i].set(v)`, `.add(v)`, `.multiply(v)`, `.min(v)`, `.max(v)`."""
        return indexing._AtIndexer(self)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    # properties and methods
    T = property(lambda self: movement.transpose(self))
    mT = property(lambda self: linalg.matrix_transpose(self))

    def sum(self, axis=None, keepdims=False): return reduction.sum(self, axis=axis, keepdims=keepdims)
    def prod(self, axis=None, keepdims=False): return reduction.prod(self, axis=axis, keepdims=keepdims)
    def mean(self, axis=None, keepdims=False): return reduction.mean(self, axis=axis, keepdims=keepdims)
    def max(self, axis=None, keepdims=False): return reduction.max(self, axis=axis, keepdims=keepdims)
    def min(self, axis=None, keepdims=False): return reduction.min(self, axis=axis, keepdims=keepdims)
    def all(self, axis=None, keepdims=False): return reduction.all(self, axis=axis, keepdims=keepdims)
    def any(self, axis=None, keepdims=False): return reduction.any(self, axis=axis, keepdims=keepdims)
    def argmax(self, axis=None, keepdims=False): return reduction.argmax(self, axis=axis, keepdims=keepdims)
    def argmin(self, axis=None, keepdims=False): return reduction.argmin(self, axis=axis, keepdims=keepdims)
    def cumsum(self, axis=None): return reduction.cumsum(self, axis=axis)

    def var(self, axis=None, ddof=0, keepdims=False):
        return reduction.var(self, axis=axis, correction=ddof, keepdims=keepdims)

    def std(self, axis=None, ddof=0, keepdims=False):
        return reduction.std(self, axis=axis, correction=ddof, keepdims=keepdims)

    def reshape(self, *shape):
        return movement.reshape(self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape)

    def transpose(self, *axes):
        if not axes:
            return movement.transpose(self)
        return movement.permute_dims(self, axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes)

    def astype(self, dtype, copy=True): return creation.astype(self, dtype)
    def squeeze(self, axis=None): return movement.squeeze(self, axis)
    def ravel(self): return movement.ravel(self)
    def flatten(self): return movement.ravel(self)
    def clip(self, min=None, max=None): return ew.clip(self, min, max)
    def dot(self, other): return linalg.dot(self, other)
    def round(self, decimals=0): return ew.round(self, decimals)  # type: ignore[attr-defined]
    def swapaxes(self, a, b): return movement.swapaxes(self, a, b)

    # NumPy protocols: np.tanh(t), np.sum(t, axis=0) ... become runtime ops
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        op = UFUNC_OPS.get(ufunc)
        if method != "__call__" or op is None or kwargs:
            if kwargs.get("out") is not None:
                raise ImmutableTensorError(f"np.{ufunc.__name__}(..., out=...) would write into a "
                                           "tensor in place; tensors are immutable")
            return self._numpy_fallback(getattr(ufunc, method), inputs, kwargs,
                                        f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}"))
        if len(inputs) == 1:
            return bind1(op, inputs[0])
        if len(inputs) == 2:
            return bind2(op, inputs[0], inputs[1])
        return NotImplemented

    def __array_function__(self, func, types, args, kwargs):
        fn = FUNCTION_OPS.get(func)
        if fn is None:
            return self._numpy_fallback(func, args, kwargs, f"np.{func.__name__}")
        return fn(*args, **kwargs)


UFUNC_OPS = {op.impl: op for op in (*_U.values(), *_B.values())}
UFUNC_OPS[np.matmul] = linalg.matmul_op


def _np_reduce(fn):
    def call(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
        if out is not None:
            raise ImmutableTensorError("out= would write into an array in place; tensors are immutable")
        if dtype is not None:
            a = creation.astype(a, dtype)
        return fn(a, axis=axis, keepdims=keepdims, **kw)
    return call


def _np_var(fn):
    def call(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
        return fn(a, axis=axis, correction=ddof, keepdims=keepdims)
    return call


FUNCTION_OPS = {
    np.sum: _np_reduce(reduction.sum), np.prod: _np_reduce(reduction.prod),
    np.mean: _np_reduce(reduction.mean), np.max: _np_reduce(reduction.max),
    np.min: _np_reduce(reduction.min), np.amax: _np_reduce(reduction.max),
    np.amin: _np_reduce(reduction.min), np.all: _np_reduce(reduction.all),
    np.any: _np_reduce(reduction.any), np.var: _np_var(reduction.var), np.std: _np_var(reduction.std),
    np.argmax: lambda a, axis=None, keepdims=False: reduction.argmax(a, axis=axis, keepdims=keepdims),
    np.argmin: lambda a, axis=None, keepdims=False: reduction.argmin(a, axis=axis, keepdims=keepdims),
    np.cumsum: lambda a, axis=None: reduction.cumsum(a, axis=axis),
    np.reshape: lambda a, shape=None, **kw: movement.reshape(a, shape if shape is not None else kw["newshape"]),
    np.transpose: lambda a, axes=None: movement.transpose(a, axes),
    np.permute_dims: lambda a, axes=None: movement.transpose(a, axes),
    np.expand_dims: movement.expand_dims, np.squeeze: movement.squeeze,
    np.broadcast_to: movement.broadcast_to, np.ravel: lambda a: movement.ravel(a),
    np.concatenate: lambda arrays, axis=0: movement.concat(arrays, axis=axis),
    np.concat: lambda arrays, axis=0: movement.concat(arrays, axis=axis),
    np.stack: lambda arrays, axis=0: movement.stack(arrays, axis=axis),
    np.split: movement.split, np.flip: lambda m, axis=None: movement.flip(m, axis=axis),
    np.tile: movement.tile, np.repeat: lambda a, repeats, axis=None: movement.repeat(a, repeats, axis=axis),
    np.pad: movement.pad, np.swapaxes: movement.swapaxes, np.moveaxis: movement.moveaxis,
    np.where: lambda c, x, y: ew.where(c, x, y), np.clip: lambda a, a_min=None, a_max=None, **kw:
        ew.clip(a, kw.get("min", a_min), kw.get("max", a_max)),
    np.dot: linalg.dot, np.tensordot: lambda a, b, axes=2: linalg.tensordot(a, b, axes=axes),
    np.outer: linalg.outer, np.round: lambda a, decimals=0: ew.round(a, decimals),
    np.around: lambda a, decimals=0: ew.round(a, decimals),
    np.zeros_like: lambda a, dtype=None: creation.zeros_like(a, dtype=dtype),
    np.ones_like: lambda a, dtype=None: creation.ones_like(a, dtype=dtype),
    np.full_like: lambda a, fill_value, dtype=None: creation.full_like(a, fill_value, dtype=dtype),
    np.shape: lambda a: a.shape, np.ndim: lambda a: a.ndim, np.size: lambda a: a.size,
    np.broadcast_arrays: movement.broadcast_arrays,
}
