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

    # arithmetic and comparisons: generated below from BINARY_OPERATORS / UNARY_OPERATORS
    def __matmul__(self, o): return linalg.matmul(self, o)
    def __rmatmul__(self, o): return linalg.matmul(o, self)

    # indexing
    def __getitem__(self, idx):
        return indexing.getitem(self, idx)

    def __setitem__(self, idx, value):
        traced = type(self).__name__ == "Tracer"
        raise ImmutableTensorError(
            ("traced values are immutable (a NumPy array passed into rt.function or a %%graph "
             "cell is traced like a tensor)" if traced else "tensors are immutable")
            + ": `t[i] = v` cannot change them in place. Write `t = t.at[i].set(v)` (or "
            "`.add(v)`) to get an updated copy; it works in eager and graph mode alike.")

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
    def __round__(self, ndigits=None): return ew.round(self, ndigits or 0)  # type: ignore[attr-defined]
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
            return self._numpy_fallback(func, args, kwargs, _numpy_name(func))
        return fn(*args, **kwargs)


def _numpy_name(func) -> str:
    """np.linalg.norm, not np.norm: the name a user would type (no private modules)."""
    module = getattr(func, "__module__", None) or "numpy"
    if module == "numpy" or module.startswith("numpy."):
        module = ".".join(["np"] + [p for p in module.split(".")[1:] if not p.startswith("_")])
    return f"{module}.{func.__name__}"


# Which op each operator binds, and whether the operands are swapped (`2 - t` is t.__rsub__(2)).
# The eager Tensor reads the same table for its inline fast paths (tensor.py).
BINARY_OPERATORS = {
    "__add__": (_add, False), "__radd__": (_add, True), "__sub__": (_sub, False),
    "__rsub__": (_sub, True), "__mul__": (_mul, False), "__rmul__": (_mul, True),
    "__truediv__": (_div, False), "__rtruediv__": (_div, True),
    "__floordiv__": (_fdiv, False), "__rfloordiv__": (_fdiv, True),
    "__mod__": (_mod, False), "__rmod__": (_mod, True), "__pow__": (_pow, False),
    "__rpow__": (_pow, True), "__and__": (_and, False), "__rand__": (_and, True),
    "__or__": (_or, False), "__ror__": (_or, True), "__xor__": (_xor, False),
    "__rxor__": (_xor, True), "__lt__": (_lt, False), "__le__": (_le, False),
    "__gt__": (_gt, False), "__ge__": (_ge, False), "__eq__": (_eq, False), "__ne__": (_ne, False),
}
UNARY_OPERATORS = {"__neg__": _neg, "__pos__": _pos, "__abs__": _abs, "__invert__": _inv}


def _binary_method(name, op, swapped):
    """An operator: straight to the current interpreter (bind2, inlined: this is a hot path)."""
    if swapped:
        def method(self, other):
            return _core._interp.process2(op, other, self)
    else:
        def method(self, other):
            return _core._interp.process2(op, self, other)
    method.__name__ = method.__qualname__ = name
    return method


def _unary_method(name, op):
    def method(self):
        return _core._interp.process1(op, self)
    method.__name__ = method.__qualname__ = name
    return method


for _name, (_op, _swapped) in BINARY_OPERATORS.items():
    setattr(ArrayMethods, _name, _binary_method(_name, _op, _swapped))
for _name, _op in UNARY_OPERATORS.items():
    setattr(ArrayMethods, _name, _unary_method(_name, _op))
del _name, _op, _swapped


_generic_pow = ArrayMethods.__pow__


def _pow_as_numpy_operator(self, other):
    """`**` as NumPy's operator does it: `b ** 2` on a bool array is NumPy's square (int8),
    where np.power gives int64 (the operator takes a shortcut for the exponent 2). The eager
    Tensor's inline operator calls NumPy's `**` itself (tensor.py)."""
    if type(other) is int and other == 2 and self.dtype == np.bool_:
        return ew.square(self)
    return _generic_pow(self, other)


ArrayMethods.__pow__ = _pow_as_numpy_operator

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
        if out is not None:
            raise ImmutableTensorError("out= would write into an array in place; tensors are immutable")
        if dtype is not None:
            a = creation.astype(a, dtype)
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
