"""Indexing (`x[i]`) and its functional update (`x.at[i].set(v)`), with NumPy's semantics.

An index is split into a static template (slices, ints, None, ...) kept in the op's params, and
the index arrays, which are inputs. Tracing knows template and array shapes, so it knows the
result shape; boolean masks (data-dependent shape) are eager-only, except in updates that keep
x's shape (`x.at[mask].set(0.0)`: a `where`, see _masked_update).
"""
from __future__ import annotations

import numpy as np

from ..core import Op, bind
from ._util import checked, dummy


class Slot(int):
    """Placeholder in an index template for the k-th index array input."""
    def __repr__(self):
        return f"Slot({int(self)})"


def split_index(idx):
    """User index -> (template tuple, list of index arrays)."""
    from ..surface import ArrayMethods
    items = idx if isinstance(idx, tuple) else (idx,)
    template, arrays = [], []
    for it in items:
        if isinstance(it, slice):
            for b in (it.start, it.stop, it.step):
                if b is not None and not isinstance(b, (int, np.integer)):
                    raise TypeError(
                        f"slice bounds must be Python integers, got {type(b).__name__} in {it!r}: "
                        "a traced value cannot set a shape (use a static argument, or rt.where)")
            template.append(slice(*(None if b is None else int(b) for b in (it.start, it.stop, it.step))))
        elif it is None or it is Ellipsis:
            template.append(it)
        elif isinstance(it, (bool, np.bool_)):
            template.append(Slot(len(arrays)))
            arrays.append(np.asarray(it))
        elif isinstance(it, (int, np.integer)):
            template.append(int(it))
        elif isinstance(it, (ArrayMethods, np.ndarray, list)):
            template.append(Slot(len(arrays)))
            arrays.append(np.asarray(it) if isinstance(it, list) else it)
        else:
            raise IndexError(f"unsupported index {it!r} ({type(it).__name__}): use ints, slices, "
                                 "None, ..., integer arrays or boolean masks")
    return tuple(template), arrays


def _fill(template, arrays):
    return tuple(arrays[t] if type(t) is Slot else t for t in template)


def _dummy_index(template, arrays):
    out = []
    for a in arrays:
        if np.dtype(a.dtype) == np.bool_:
            raise IndexError(          # as JAX's NonConcreteBooleanIndexError
                "boolean mask indexing while tracing: the result's shape depends on the mask's "
                "values, which tracing does not know. Keep the shape with rt.where(mask, x, 0) or "
                "x.at[mask].set(scalar), or run this part eagerly")
        out.append(np.zeros(a.shape, a.dtype))
    return _fill(template, out)


def _getitem_abstract(x, *arrays, index):
    r = np.broadcast_to(np.zeros((), x.dtype), x.shape)[_dummy_index(index, arrays)]
    return np.shape(r), x.dtype


def format_index(template, arg_exprs) -> str:
    parts = []
    for t in template:
        if type(t) is Slot:
            parts.append(arg_exprs[t])
        elif isinstance(t, slice):
            s = f"{'' if t.start is None else t.start}:{'' if t.stop is None else t.stop}"
            parts.append(s + ("" if t.step is None else f":{t.step}"))
        elif t is Ellipsis:
            parts.append("...")
        else:
            parts.append(repr(t))
    return ", ".join(parts) if len(parts) != 1 else parts[0] + ("," if parts[0] == "" else "")


def _getitem_vjp(g, out, x, *arrays, index):
    # scatter g into zeros shaped like x; with integer index arrays repeated positions add up
    from .creation import zeros_like
    mode = "add" if any(np.dtype(a.dtype) != np.bool_ for a in arrays) else "set"
    return bind(index_update_op, zeros_like(x, dtype=g.dtype), g, *arrays, index=index, mode=mode)


getitem_op = Op(
    "getitem", lambda x, *arrays, index: x[_fill(index, arrays)], _getitem_abstract,
    movement=True, vjp=(_getitem_vjp,),
    emit=lambda args, params: f"{args[0]}[{format_index(params['index'], args[1:]) or '()'}]")


@checked("getitem")
def getitem(x, idx):
    """`x[idx]` with NumPy's basic and advanced indexing."""
    template, arrays = split_index(idx)
    return bind(getitem_op, x, *arrays, index=template)


_UFUNC_AT = {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum}


def _update_impl(x, v, *arrays, index, mode):
    r = np.array(x, copy=True)
    idx = _fill(index, arrays)
    if mode == "set":
        r[idx] = v
    else:   # ufunc.at accumulates repeated indices, as `.at[i].add` promises
        _UFUNC_AT[mode].at(r, idx, v)
    return r


def _update_abstract(x, v, *arrays, index, mode):
    target = np.broadcast_to(np.zeros((), x.dtype), x.shape)[_dummy_index(index, arrays)]
    vshape = getattr(v, "shape", ())
    if np.broadcast_shapes(np.shape(target), vshape) != np.shape(target):
        raise ValueError(f"cannot {mode} values of shape {vshape} into x[...] of shape {np.shape(target)}")
    # NumPy's casting rules for the update, on one element (a Python scalar stays weak):
    # `set` casts unsafely, the ufunc modes only 'same_kind' (float into an int array fails)
    probe, val = np.zeros(1, x.dtype), dummy(v)
    if mode == "set":
        probe[0] = val
    else:
        _UFUNC_AT[mode].at(probe, 0, val)
    return x.shape, x.dtype


def _update_vjp_x(g, out, x, v, *arrays, index, mode):
    from .elementwise import equal, where
    if mode == "add":
        return g
    if mode == "set":         # the overwritten positions no longer depend on x
        return bind(index_update_op, g, 0.0, *arrays, index=index, mode="set")
    if mode == "multiply":
        return bind(index_update_op, g, v, *arrays, index=index, mode="multiply")
    return where(equal(out, x), g, 0.0)        # min/max: where x is still the result


def _update_vjp_v(g, out, x, v, *arrays, index, mode):
    # exact for indices without repeats (with repeats, `set` keeps only one write)
    from .elementwise import equal, where
    gv = bind(getitem_op, g, *arrays, index=index)
    if mode in ("add", "set"):
        return gv
    if mode == "multiply":
        return gv * bind(getitem_op, x, *arrays, index=index)
    return where(equal(bind(getitem_op, out, *arrays, index=index), v), gv, 0.0)


index_update_op = Op("index_update", _update_impl, _update_abstract,
                     vjp=(_update_vjp_x, _update_vjp_v))


class _AtIndexer:
    """`x.at[idx]`: functional updates, since tensors are immutable (JAX's `.at` API).

    With a boolean mask and a scalar value (`x.at[x < 0].set(0.0)`) the result keeps x's shape,
    so unlike `x[mask]` it also works under tracing."""
    __slots__ = ("_x",)

    def __init__(self, x):
        self._x = x

    def __getitem__(self, idx):
        return _AtRef(self._x, idx)


class _AtRef:
    __slots__ = ("_x", "_idx")

    def __init__(self, x, idx):
        self._x, self._idx = x, idx

    @checked("index_update")
    def _apply(self, v, mode):
        masked = _masked_update(self._x, self._idx, v, mode)
        if masked is not None:
            return masked
        template, arrays = split_index(self._idx)
        return bind(index_update_op, self._x, v, *arrays, index=template, mode=mode)

    def get(self):
        """Same as `x[idx]`."""
        return getitem(self._x, self._idx)

    def set(self, v):
        """A copy of x with x[idx] replaced by v."""
        return self._apply(v, "set")

    def add(self, v):
        """A copy of x with v added at idx (repeated indices accumulate)."""
        return self._apply(v, "add")

    def multiply(self, v):
        return self._apply(v, "multiply")

    def min(self, v):
        return self._apply(v, "min")

    def max(self, v):
        return self._apply(v, "max")


def _masked_update(x, idx, v, mode):
    """`x.at[mask].set(v)` (and add, multiply, min, max) as `where(mask, new, x)`, or None.

    A boolean mask over x's leading axes with a value that needs no count of the True entries
    (a scalar, or one that broadcasts to the trailing axes) keeps x's shape, so it traces
    (JAX refuses it under jit). The same code runs eagerly, so both modes agree exactly."""
    from ..surface import ArrayMethods
    from . import elementwise as ew
    from .creation import astype
    from .movement import reshape
    mask = idx[0] if isinstance(idx, tuple) and len(idx) == 1 else idx
    if not isinstance(mask, (ArrayMethods, np.ndarray)) or np.dtype(mask.dtype) != np.bool_:
        return None
    xshape, mshape = tuple(x.shape), tuple(mask.shape)
    trailing = xshape[len(mshape):]
    vshape = tuple(np.shape(v)) if not isinstance(v, ArrayMethods) else tuple(v.shape)
    if (xshape[:len(mshape)] != mshape or len(vshape) > len(trailing)
            or np.broadcast_shapes(trailing, vshape) != trailing):
        return None              # NumPy's own rules (and errors): the general op
    _update_abstract(x, v, index=(), mode=mode)     # NumPy's casting rules for the update
    if trailing:
        mask = reshape(mask, mshape + (1,) * len(trailing))
    dt = np.dtype(x.dtype)
    new = astype(v, dt) if mode == "set" else getattr(ew, _UFUNC_AT[mode].__name__)(x, v)
    if np.dtype(new.dtype) != dt:
        new = astype(new, dt)
    return ew.where(mask, new, x)
