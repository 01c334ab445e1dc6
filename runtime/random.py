"""Seedable random numbers (`rt.random.seed`, `normal`, `uniform`, `integers`).

Random ops have no inputs and the `random` property: under tracing they stay in the graph and
draw fresh values on every call of the compiled function; passes never fold or merge them.
"""
from __future__ import annotations

import numpy as np

from .core import Op, bind
from .dtypes import as_dtype
from .ops._util import as_shape, check_shape, checked

_rng = np.random.default_rng()


def seed(s: int | None = None) -> None:
    """Reseed the generator every random op draws from (eager and compiled alike).

    >>> rt.random.seed(0); a = rt.random.normal(size=3); rt.random.seed(0)
    >>> bool((a == rt.random.normal(size=3)).all())
    True
    """
    global _rng
    _rng = np.random.default_rng(s)


def _draw_normal(*, shape, dtype):
    return _rng.standard_normal(shape, dtype=dtype)


def _draw_uniform(*, shape, dtype):
    return _rng.random(shape, dtype=dtype)


def _draw_integers(*, shape, dtype, low, high):
    return _rng.integers(low, high, size=shape, dtype=dtype)


def _abstract(*, shape, dtype, low=0, high=1):
    if low >= high:
        raise ValueError(f"low >= high ({low} >= {high}): the range of integers to draw from is empty")
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        if low < info.min or high - 1 > info.max:
            raise ValueError(f"[{low}, {high}) is out of bounds for {np.dtype(dtype)}")
    return check_shape(shape), dtype


normal_op = Op("random_normal", _draw_normal, _abstract, random=True)
uniform_op = Op("random_uniform", _draw_uniform, _abstract, random=True)
integers_op = Op("random_integers", _draw_integers, _abstract, random=True)


def _float_dtype(dtype):
    dt = as_dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"random floats come as float32 or float64, not {dt}")
    return dt


@checked("random_normal")
def normal(loc=0.0, scale=1.0, size=None, *, dtype=np.float64):
    """Normal samples, as `np.random.Generator.normal` (loc and scale may be tensors)."""
    shape = as_shape(size) if size is not None else np.broadcast_shapes(np.shape(loc), np.shape(scale))
    z = bind(normal_op, shape=shape, dtype=_float_dtype(dtype))
    if not _is_number(scale, 1):
        z = z * scale
    if not _is_number(loc, 0):
        z = z + loc
    return z


def _is_number(x, value) -> bool:
    """x is the Python number `value` (never compares a tensor, which may be a tracer)."""
    return type(x) in (int, float) and x == value


@checked("random_uniform")
def uniform(low=0.0, high=1.0, size=None, *, dtype=np.float64):
    """Uniform samples in [low, high), as `np.random.Generator.uniform`."""
    shape = as_shape(size) if size is not None else np.broadcast_shapes(np.shape(low), np.shape(high))
    u = bind(uniform_op, shape=shape, dtype=_float_dtype(dtype))
    if _is_number(low, 0) and _is_number(high, 1):
        return u
    return u * (high - low) + low


@checked("random_integers")
def integers(low, high=None, size=None, *, dtype=np.int64):
    """Random integers in [low, high) (or [0, low)), as `np.random.Generator.integers`."""
    if high is None:
        low, high = 0, low
    if as_dtype(dtype).kind not in "iu":
        raise TypeError(f"random integers come as an integer dtype, not {as_dtype(dtype)}")
    return bind(integers_op, shape=as_shape(size) if size is not None else (),
                dtype=as_dtype(dtype), low=int(low), high=int(high))
