"""Movement ops: reshape, permute, broadcast, concat, split, flip, pad (primitives) and the
shape helpers built on them (expand_dims, squeeze, stack, tile, repeat, moveaxis ...)."""
from __future__ import annotations

import math

import numpy as np

from ..core import Op, bind
from ._util import as_shape, checked, dtype_of, normalize_axes, normalize_axis


def _aval(x):
    """Shape/ndim of anything array-like; lists and scalars become constants first."""
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return x
    from .creation import asarray
    return asarray(x)


# --- reshape ---------------------------------------------------------------------------------

def _reshape_vjp(g, out, x, shape):
    return bind(reshape_op, g, shape=tuple(x.shape))


reshape_op = Op("reshape", lambda x, shape: np.reshape(x, shape),
                lambda x, shape: (shape, x.dtype), movement=True, vjp=(_reshape_vjp,))


def _resolve_shape(old, new):
    new = as_shape(new)
    size = math.prod(old)
    if new.count(-1) > 1:
        raise ValueError(f"reshape: only one -1 is allowed in the new shape {new}")
    if -1 in new:
        known = math.prod(d for d in new if d != -1)
        if known == 0 or size % known:
            raise ValueError(f"cannot reshape array of size {size} (shape {old}) into shape {new}")
        new = tuple(size // known if d == -1 else d for d in new)
    if math.prod(new) != size or any(d < 0 for d in new):
        raise ValueError(f"cannot reshape array of size {size} (shape {old}) into shape {new}")
    return new


@checked("reshape")
def reshape(x, /, shape, *, copy=None):
    """New shape, same elements in row-major order; one axis may be -1 (inferred).

    >>> rt.reshape(rt.arange(6), (2, -1)).shape
    (2, 3)
    """
    x = _aval(x)
    return bind(reshape_op, x, shape=_resolve_shape(x.shape, shape))


@checked("reshape")
def ravel(x, /):
    return reshape(x, (-1,))


@checked("expand_dims")
def expand_dims(x, /, axis=0):
    """Insert size-1 axes at `axis` (int or tuple), as `np.expand_dims` (a reshape)."""
    x = _aval(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    n = x.ndim + len(axes)
    axes = normalize_axes(axes, n)
    it = iter(x.shape)
    return reshape(x, tuple(1 if i in axes else next(it) for i in range(n)))


@checked("squeeze")
def squeeze(x, /, axis=None):
    """Drop size-1 axes (all of them, or those in `axis`), as `np.squeeze` (a reshape)."""
    x = _aval(x)
    axes = normalize_axes(axis, x.ndim)
    if axes is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} has size {x.shape[a]}, not 1 (shape {x.shape})")
    return reshape(x, tuple(d for i, d in enumerate(x.shape) if i not in axes))


# --- permute ---------------------------------------------------------------------------------

def _permute_vjp(g, out, x, axes):
    return bind(permute_dims_op, g, axes=tuple(int(i) for i in np.argsort(axes)))


permute_dims_op = Op("permute_dims", lambda x, axes: np.transpose(x, axes),
                     lambda x, axes: (tuple(x.shape[a] for a in axes), x.dtype), movement=True,
                     vjp=(_permute_vjp,))


@checked("permute_dims")
def permute_dims(x, /, axes):
    """Reorder axes: output axis i is input axis axes[i] (Array API; `np.transpose` with axes)."""
    x = _aval(x)
    axes = tuple(normalize_axis(a, x.ndim) for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"permute_dims: axes {axes} are not a permutation of {tuple(range(x.ndim))}")
    return bind(permute_dims_op, x, axes=axes)


@checked("permute_dims")
def transpose(x, /, axes=None):
    """Reverse the axes (or permute them by `axes`), as `np.transpose`."""
    x = _aval(x)
    return permute_dims(x, tuple(reversed(range(x.ndim))) if axes is None else axes)


@checked("swapaxes")
def swapaxes(x, axis1, axis2, /):
    x = _aval(x)
    perm = list(range(x.ndim))
    a, b = normalize_axis(axis1, x.ndim), normalize_axis(axis2, x.ndim)
    perm[a], perm[b] = perm[b], perm[a]
    return permute_dims(x, tuple(perm))


@checked("moveaxis")
def moveaxis(x, source, destination, /):
    x = _aval(x)
    src, dst = normalize_axis(source, x.ndim), normalize_axis(destination, x.ndim)
    perm = [i for i in range(x.ndim) if i != src]
    perm.insert(dst, src)
    return permute_dims(x, tuple(perm))


# --- broadcast -------------------------------------------------------------------------------

def _broadcast_abstract(x, shape):
    np.broadcast_shapes(x.shape, shape)   # raises the NumPy message on mismatch
    if len(shape) < x.ndim or any(s != d and s != 1 for s, d in zip(x.shape[::-1], shape[::-1])):
        raise ValueError(f"cannot broadcast shape {x.shape} to {shape}")
    return shape, x.dtype


broadcast_to_op = Op("broadcast_to", lambda x, shape: np.broadcast_to(x, shape),
                     _broadcast_abstract, movement=True,
                     vjp=(lambda g, out, x, shape: g,))   # the autodiff code sums the copies


@checked("broadcast_to")
def broadcast_to(x, /, shape):
    """View `x` as `shape` by repeating size-1 axes, as `np.broadcast_to`."""
    x = _aval(x)
    shape = as_shape(shape)
    if tuple(x.shape) == shape:
        return x
    return bind(broadcast_to_op, x, shape=shape)


@checked("broadcast_arrays")
def broadcast_arrays(*arrays):
    shape = np.broadcast_shapes(*(_aval(a).shape for a in arrays))
    return [broadcast_to(a, shape) for a in arrays]


# --- concat / stack / split ------------------------------------------------------------------

def _concat_abstract(*xs, axis):
    first = xs[0].shape
    for x in xs[1:]:
        if len(x.shape) != len(first) or any(a != b for i, (a, b) in enumerate(zip(first, x.shape))
                                             if i != axis):
            raise ValueError(f"concat: all input shapes must match except on axis {axis}: "
                             f"{', '.join(str(x.shape) for x in xs)}")
    shape = list(first)
    shape[axis] = sum(x.shape[axis] for x in xs)
    dtype = dtype_of(lambda *a: np.concatenate([np.reshape(v, (1,)) for v in a]), *xs)
    return tuple(shape), dtype


def _concat_vjp(i, g, out, *xs, axis):
    # variadic: one rule for every input, told which input it is (see autodiff.tape.rule_for)
    from .indexing import getitem
    start = sum(x.shape[axis] for x in xs[:i])
    return getitem(g, (slice(None),) * axis + (slice(start, start + xs[i].shape[axis]),))


concat_op = Op("concat", lambda *xs, axis: np.concatenate(xs, axis=axis), _concat_abstract,
               movement=True, vjp=_concat_vjp)


@checked("concat")
def concat(arrays, /, *, axis=0):
    """Join a sequence of arrays along an existing `axis` (None: flatten first), as `np.concatenate`."""
    arrays = [_aval(a) for a in arrays]
    if not arrays:
        raise ValueError("concat needs at least one array")
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    if any(a.ndim == 0 for a in arrays):
        raise ValueError("concat: zero-dimensional arrays cannot be concatenated")
    axis = normalize_axis(axis, arrays[0].ndim)
    if len(arrays) == 1:
        return arrays[0]
    return bind(concat_op, *arrays, axis=axis)


@checked("stack")
def stack(arrays, /, *, axis=0):
    """Join arrays of one shape along a new `axis`, as `np.stack`."""
    arrays = [_aval(a) for a in arrays]
    if not arrays:
        raise ValueError("stack needs at least one array")
    shapes = {tuple(a.shape) for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"stack: all input arrays must have the same shape, got {sorted(shapes)}")
    ax = normalize_axis(axis, arrays[0].ndim + 1)
    return concat([expand_dims(a, ax) for a in arrays], axis=ax)


def _split_abstract(x, indices, axis):
    n = x.shape[axis]
    bounds = [0, *indices, n]
    outs = []
    for lo, hi in zip(bounds, bounds[1:]):
        shape = list(x.shape)
        shape[axis] = len(range(*slice(lo, hi).indices(n)))   # np.split slices x[lo:hi]
        outs.append((tuple(shape), x.dtype))
    return outs


def _split_vjp(gs, outs, x, indices, axis):
    # multiple results: gs has one cotangent per piece (zeros where a piece was unused)
    return concat(list(gs), axis=axis)


split_op = Op("split", lambda x, indices, axis: tuple(np.split(x, indices, axis=axis)),
              _split_abstract, movement=True, multiple_results=True, vjp=(_split_vjp,))


@checked("split")
def split(x, indices_or_sections, /, axis=0):
    """Split into pieces along `axis`: N equal sections, or at the given indices (as `np.split`)."""
    x = _aval(x)
    axis = normalize_axis(axis, x.ndim)
    n = x.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0 or n % k:
            raise ValueError(f"split: axis {axis} of size {n} does not divide into {k} equal sections")
        indices = tuple(range(n // k, n, n // k))[: k - 1]
    else:
        indices = tuple(int(i) for i in indices_or_sections)
    return list(bind(split_op, x, indices=indices, axis=axis))


# --- flip / pad / tile / repeat --------------------------------------------------------------

flip_op = Op("flip", lambda x, axis: np.flip(x, axis), lambda x, axis: (x.shape, x.dtype),
             movement=True, vjp=(lambda g, out, x, axis: bind(flip_op, g, axis=axis),))


@checked("flip")
def flip(x, /, *, axis=None):
    """Reverse the order of elements along `axis` (all axes when None), as `np.flip`."""
    x = _aval(x)
    axes = normalize_axes(axis, x.ndim)
    return bind(flip_op, x, axis=tuple(range(x.ndim)) if axes is None else axes)


def _pad_abstract(x, pad_width, constant_values):
    shape = tuple(d + lo + hi for d, (lo, hi) in zip(x.shape, pad_width))
    return shape, dtype_of(lambda a: np.pad(np.reshape(a, (1,)), 0, constant_values=constant_values), x)


def _pad_vjp(g, out, x, pad_width, constant_values):
    from .indexing import getitem
    return getitem(g, tuple(slice(lo, lo + d) for d, (lo, _) in zip(x.shape, pad_width)))


pad_op = Op("pad", lambda x, pad_width, constant_values: np.pad(   # `or 0`: np.pad rejects () for 0-d
    x, pad_width or 0, mode="constant", constant_values=constant_values), _pad_abstract, movement=True,
    vjp=(_pad_vjp,))


@checked("pad")
def pad(x, /, pad_width, mode="constant", constant_values=0):
    """Pad with a constant (the only mode), `pad_width` as in `np.pad`."""
    x = _aval(x)
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, got {mode!r}")
    pw = np.asarray(pad_width, dtype=np.int64)
    pw = np.broadcast_to(pw, (x.ndim, 2)) if x.ndim else np.zeros((0, 2), np.int64)  # 0-d: nothing to pad
    if (pw < 0).any():
        raise ValueError(f"pad: widths must be non-negative, got {pad_width!r}")
    pw = tuple((int(lo), int(hi)) for lo, hi in pw)
    return bind(pad_op, x, pad_width=pw, constant_values=constant_values)


@checked("tile")
def tile(x, reps, /):
    """Repeat the whole array `reps` times along each axis, as `np.tile` (broadcast + reshape)."""
    x = _aval(x)
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    n = max(len(reps), x.ndim)
    reps = (1,) * (n - len(reps)) + reps
    shape = (1,) * (n - x.ndim) + tuple(x.shape)
    y = reshape(x, tuple(v for d in shape for v in (1, d)))
    y = broadcast_to(y, tuple(v for r, d in zip(reps, shape) for v in (r, d)))
    return reshape(y, tuple(r * d for r, d in zip(reps, shape)))


@checked("repeat")
def repeat(x, repeats, /, *, axis=None):
    """Repeat each element `repeats` times (an int) along `axis` (None: flattened), as `np.repeat`."""
    x = _aval(x)
    if not isinstance(repeats, (int, np.integer)):
        raise ValueError("rt.repeat takes an integer `repeats` (per-element counts would give a "
                         "data-dependent shape)")
    if axis is None:
        x, axis = ravel(x), 0
    axis = normalize_axis(axis, x.ndim)
    y = expand_dims(x, axis + 1)
    shape = list(y.shape)
    shape[axis + 1] = int(repeats)
    y = broadcast_to(y, tuple(shape))
    out = list(x.shape)
    out[axis] *= int(repeats)
    return reshape(y, tuple(out))
