"""Elementwise ops, one table row each: NumPy ufunc, gradient rule, properties.

Gradient rules get (g, out, *inputs) and return the cotangent of one input; the autodiff
machinery sums broadcast axes away (one unbroadcast helper for all of them). None = zero/none.
"""
from __future__ import annotations

import math

import numpy as np

from .. import core as _core
from ..core import Op, bind
from ._util import broadcast_shapes, dtype_of, shape_of


def _abstract(ufunc):
    def abstract_eval(*avals):
        shape = broadcast_shapes(*[shape_of(a) for a in avals])
        return shape, dtype_of(ufunc, *avals)
    return abstract_eval


_LN2, _LN10 = math.log(2.0), math.log(10.0)

# name, ufunc, gradient rule (g, y, x) -> dx (None: zero), no-gradient output
_UNARY = [
    ("negative", np.negative, lambda g, y, x: -g),
    ("positive", np.positive, lambda g, y, x: g),
    ("abs", np.abs, lambda g, y, x: g * sign(x)),
    ("sign", np.sign, None),
    ("exp", np.exp, lambda g, y, x: g * y),
    ("exp2", np.exp2, lambda g, y, x: g * y * _LN2),
    ("expm1", np.expm1, lambda g, y, x: g * (y + 1.0)),
    ("log", np.log, lambda g, y, x: g / x),
    ("log1p", np.log1p, lambda g, y, x: g / (x + 1.0)),
    ("log2", np.log2, lambda g, y, x: g / (x * _LN2)),
    ("log10", np.log10, lambda g, y, x: g / (x * _LN10)),
    ("sqrt", np.sqrt, lambda g, y, x: g / (y * 2.0)),
    ("square", np.square, lambda g, y, x: g * x * 2.0),
    ("reciprocal", np.reciprocal, lambda g, y, x: -g * y * y),
    ("sin", np.sin, lambda g, y, x: g * cos(x)),
    ("cos", np.cos, lambda g, y, x: -g * sin(x)),
    ("tan", np.tan, lambda g, y, x: g * (y * y + 1.0)),
    ("arcsin", np.arcsin, lambda g, y, x: g / sqrt(1.0 - x * x)),
    ("arccos", np.arccos, lambda g, y, x: -g / sqrt(1.0 - x * x)),
    ("arctan", np.arctan, lambda g, y, x: g / (x * x + 1.0)),
    ("sinh", np.sinh, lambda g, y, x: g * cosh(x)),
    ("cosh", np.cosh, lambda g, y, x: g * sinh(x)),
    ("tanh", np.tanh, lambda g, y, x: g - g * y * y),   # no op with a Python float: faster
    ("arcsinh", np.arcsinh, lambda g, y, x: g / sqrt(x * x + 1.0)),
    ("arccosh", np.arccosh, lambda g, y, x: g / sqrt(x * x - 1.0)),
    ("arctanh", np.arctanh, lambda g, y, x: g / (1.0 - x * x)),
    ("floor", np.floor, None),
    ("ceil", np.ceil, None),
    ("trunc", np.trunc, None),
    ("round", np.round, None),
]
_UNARY_NONDIFF = [
    ("logical_not", np.logical_not), ("isnan", np.isnan), ("isinf", np.isinf),
    ("isfinite", np.isfinite), ("bitwise_invert", np.invert),
]


def _first_wins(wins, loses):
    # maximum/minimum: at a tie the first input takes the whole gradient, the second none.
    # g * mask, not where(mask, g, 0): NumPy's where with a scalar is ~10x slower (relu backward)
    return (lambda g, y, a, b: g * wins(a, b), lambda g, y, a, b: g * loses(a, b))


def _pow_grad_base(g, y, a, b):
    if isinstance(b, (int, float)) and not isinstance(b, bool):   # x ** 2 in a loss: no power()
        if b == 2:
            return g * (a * 2.0)
        if b == 1:
            return g
        return g * (power(a, float(b) - 1.0) * float(b))
    return g * b * power(a, b - 1.0)


def _pow_grad_exp(g, y, a, b):
    safe = where(equal(a, 0.0), 1.0, a)          # log(0) would poison the product with nan
    return where(equal(a, 0.0), 0.0, g * y * log(safe))


# name, ufunc, (rule for input 0, rule for input 1)
_BINARY = [
    ("add", np.add, (lambda g, y, a, b: g, lambda g, y, a, b: g)),
    ("subtract", np.subtract, (lambda g, y, a, b: g, lambda g, y, a, b: -g)),
    ("multiply", np.multiply, (lambda g, y, a, b: g * b, lambda g, y, a, b: g * a)),
    ("divide", np.divide, (lambda g, y, a, b: g / b, lambda g, y, a, b: -g * y / b)),
    ("pow", np.power, (_pow_grad_base, _pow_grad_exp)),
    ("maximum", np.maximum, _first_wins(lambda a, b: greater_equal(a, b), lambda a, b: less(a, b))),
    ("minimum", np.minimum, _first_wins(lambda a, b: less_equal(a, b), lambda a, b: greater(a, b))),
    ("arctan2", np.arctan2, (lambda g, y, a, b: g * b / (a * a + b * b),
                             lambda g, y, a, b: -g * a / (a * a + b * b))),
    ("hypot", np.hypot, (lambda g, y, a, b: g * a / y, lambda g, y, a, b: g * b / y)),
    ("remainder", np.remainder, (lambda g, y, a, b: g, lambda g, y, a, b: -g * floor_divide(a, b))),
    ("floor_divide", np.floor_divide, (None, None)),
]


_BINARY_NONDIFF = [
    ("equal", np.equal), ("not_equal", np.not_equal), ("less", np.less),
    ("less_equal", np.less_equal), ("greater", np.greater), ("greater_equal", np.greater_equal),
    ("logical_and", np.logical_and), ("logical_or", np.logical_or),
    ("logical_xor", np.logical_xor), ("bitwise_and", np.bitwise_and),
    ("bitwise_or", np.bitwise_or), ("bitwise_xor", np.bitwise_xor),
]

UNARY_OPS: dict[str, Op] = {}
BINARY_OPS: dict[str, Op] = {}


def _unary_fn(op):
    def fn(x, /):
        return _core._interp.process1(op, x)   # bind1, inlined for eager speed
    fn.__name__ = fn.__qualname__ = op.name
    fn.__doc__ = (f"Elementwise {op.name}, as NumPy's `np.{op.impl.__name__}`.\n\n"
                  f">>> rt.{op.name}(rt.asarray([0.5, 1.0]))  # doctest: +SKIP\n")
    return fn


def _binary_fn(op):
    def fn(x1, x2, /):
        return _core._interp.process2(op, x1, x2)   # bind2, inlined for eager speed
    fn.__name__ = fn.__qualname__ = op.name
    fn.__doc__ = (f"Elementwise {op.name} with NumPy broadcasting and type promotion, as "
                  f"`np.{op.impl.__name__}`.\n\n>>> rt.{op.name}(rt.ones(3), 2.0)  # doctest: +SKIP\n")
    return fn


for _name, _uf, _rule in _UNARY:
    UNARY_OPS[_name] = _op = Op(_name, _uf, _abstract(_uf), vjp=(_rule,), elementwise=True)
    globals()[_name] = _unary_fn(_op)
for _name, _uf in _UNARY_NONDIFF:
    UNARY_OPS[_name] = _op = Op(_name, _uf, _abstract(_uf), elementwise=True, nondiff=True)
    globals()[_name] = _unary_fn(_op)
for _name, _uf, _rules in _BINARY:
    BINARY_OPS[_name] = _op = Op(_name, _uf, _abstract(_uf), vjp=_rules, elementwise=True)
    globals()[_name] = _binary_fn(_op)
for _name, _uf in _BINARY_NONDIFF:
    BINARY_OPS[_name] = _op = Op(_name, _uf, _abstract(_uf), elementwise=True, nondiff=True)
    globals()[_name] = _binary_fn(_op)

power = globals()["pow"]

# Ops whose NumPy result can change in the last bit when the output is one of the inputs:
# np.power on a one-element array written in place runs another loop (seen for 0.5% of
# float32 and float64 values). Compiled code never writes them in place (memory planning,
# fused loops), so it stays bit-identical to eager.
NOT_IN_PLACE = frozenset({"pow"})
_round0 = globals()["round"]


def round(x, /, decimals=0):  # noqa: A001  (NumPy's name)
    """Round half to even, to `decimals` places, as `np.round` (the same multiply, rint, divide).

    >>> rt.round(rt.asarray([0.125, 2.5]), 2)  # doctest: +SKIP
    """
    if decimals == 0:
        return _round0(x)
    dt = np.dtype(x.dtype if hasattr(x, "dtype") else np.result_type(x))
    if dt.kind in "biu" and decimals > 0:
        return positive(x)  # noqa: F821  (integers have no fractional digits to round)
    if dt.kind not in "biuf":
        raise TypeError(f"round with decimals={decimals} is supported for real arrays, not {dt}")
    f = 10.0 ** -decimals if decimals < 0 else 10.0 ** decimals   # a Python float: weak
    if decimals > 0:
        return _round0(x * f) / f
    r = _round0(x / f) * f
    if dt.kind in "biu":               # integers to tens, hundreds ...: in float64, cast back
        from .creation import astype
        r = astype(r, dt)
    return r


def _where_abstract(c, x, y):
    shape = broadcast_shapes(shape_of(c), shape_of(x), shape_of(y))
    return shape, dtype_of(np.where, c, x, y)


where_op = Op("where", np.where, _where_abstract, elementwise=True,
              vjp=(None, lambda g, out, c, x, y: _masked(g, c, False),
                   lambda g, out, c, x, y: _masked(g, c, True)))


def _masked(g, c, negate):
    """g where c (or where not c) holds, else 0; a product for boolean c (faster than where)."""
    if getattr(c, "dtype", None) == np.bool_:
        return g * (logical_not(c) if negate else c)  # noqa: F821  (defined by the table above)
    return where(c, 0.0, g) if negate else where(c, g, 0.0)


def where(condition, x1, x2, /):
    """Elementwise choice: x1 where `condition` is true, else x2 (as `np.where` with 3 args).

    >>> rt.where(rt.asarray([True, False]), 1.0, 2.0)  # doctest: +SKIP
    """
    return bind(where_op, condition, x1, x2)


def clip(x, /, min=None, max=None):
    """Clamp to [min, max] (either may be None), as `np.clip`; a composite of minimum/maximum.

    >>> rt.clip(rt.asarray([-2.0, 0.5, 3.0]), 0.0, 1.0)  # doctest: +SKIP
    """
    dt = getattr(x, "dtype", None)
    if dt is not None and np.dtype(dt).kind in "iu":
        # as np.clip: a Python int bound beyond the integer dtype's range is no bound (NEP 50)
        info = np.iinfo(dt)
        if type(min) is int and min <= info.min:
            min = None
        if type(max) is int and max >= info.max:
            max = None
    if min is None and max is None:
        return positive(x)  # noqa: F821
    # NumPy's order: max(., min) first, then min(., max), so min > max gives max everywhere
    if min is not None:
        x = maximum(x, min)  # noqa: F821  (defined by the table above)
    if max is not None:
        x = minimum(x, max)  # noqa: F821
    return x


del _name, _uf, _rule, _rules, _op
