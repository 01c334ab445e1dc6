"""Reductions (sum, mean, max, ...) and cumulative sums, with Array API `axis` / `keepdims`."""
from __future__ import annotations

import builtins

import numpy as np

from ..core import Op, bind
from ._util import checked, dtype_of, normalize_axes, normalize_axis


def _reduced_shape(shape, axis, keepdims):
    if axis is None:
        return (1,) * len(shape) if keepdims else ()
    if keepdims:
        return tuple(1 if i in axis else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axis)


def _reduction(name, np_fn, **extra):
    def impl(x, axis=None, keepdims=False, **kw):
        return np_fn(x, axis=axis, keepdims=keepdims, **kw)

    def abstract_eval(x, axis=None, keepdims=False, **kw):
        if name in ("max", "min", "argmax", "argmin") and axis is None and 0 in x.shape:
            raise ValueError(f"zero-size array to reduction operation {name} which has no identity")
        if axis is not None and name in ("max", "min", "argmax", "argmin"):
            if builtins.any(x.shape[a] == 0 for a in axis):   # `any` below is rt.any
                raise ValueError(f"zero-size axis in reduction {name} which has no identity")
        return _reduced_shape(x.shape, axis, keepdims), dtype_of(np_fn, x, **kw)

    impl.__name__ = name
    return Op(name, impl, abstract_eval, reduction=True, **extra)


# -- gradient rules: (g, out, x, axis, keepdims) -> dx. `_kept` puts the reduced axes back as
# size 1 so g broadcasts against x (the autodiff code sums/broadcasts nothing else for us).

def _kept(g, x, axis, keepdims):
    if keepdims:
        return g
    from .movement import reshape
    return reshape(g, _reduced_shape(x.shape, axis, True))


def _count(x, axis):
    return int(np.prod([x.shape[a] for a in axis] if axis is not None else x.shape))


def _sum_vjp(g, out, x, axis=None, keepdims=False):
    from .movement import broadcast_to
    return broadcast_to(_kept(g, x, axis, keepdims), x.shape)


def _mean_vjp(g, out, x, axis=None, keepdims=False):
    from .movement import broadcast_to
    return broadcast_to(_kept(g, x, axis, keepdims) / float(builtins.max(_count(x, axis), 1)), x.shape)


def _prod_vjp(g, out, x, axis=None, keepdims=False):
    # out / x, as HIPS autograd does: exact away from zeros in x (nan where x == 0)
    return _kept(g * out, x, axis, keepdims) / x


def _chooser_vjp(g, out, x, axis=None, keepdims=False):
    # max/min: the gradient goes to the elements equal to the result, split evenly on ties
    from .creation import astype
    from .elementwise import equal
    mask = astype(equal(x, _kept(out, x, axis, keepdims)), g.dtype)
    return _kept(g, x, axis, keepdims) * mask / sum(mask, axis=axis, keepdims=True)


def _var_vjp(g, out, x, axis=None, keepdims=False, ddof=0):
    d = x - mean(x, axis=axis, keepdims=True)
    return _kept(g, x, axis, keepdims) * d * (2.0 / (_count(x, axis) - ddof))


def _std_vjp(g, out, x, axis=None, keepdims=False, ddof=0):
    d = x - mean(x, axis=axis, keepdims=True)
    return _kept(g / out, x, axis, keepdims) * d * (1.0 / (_count(x, axis) - ddof))


sum_op = _reduction("sum", np.sum, vjp=(_sum_vjp,))
prod_op = _reduction("prod", np.prod, vjp=(_prod_vjp,))
mean_op = _reduction("mean", np.mean, vjp=(_mean_vjp,))
max_op = _reduction("max", np.max, vjp=(_chooser_vjp,))
min_op = _reduction("min", np.min, vjp=(_chooser_vjp,))
all_op = _reduction("all", np.all, nondiff=True)
any_op = _reduction("any", np.any, nondiff=True)
var_op = _reduction("var", np.var, vjp=(_var_vjp,))
std_op = _reduction("std", np.std, vjp=(_std_vjp,))
# argmax/argmin reduce one axis (or all, flattened); params keep the tuple form for uniformity.
argmax_op = _reduction("argmax", lambda x, axis=None, keepdims=False: np.argmax(
    x, axis=None if axis is None else axis[0], keepdims=keepdims), nondiff=True)
argmin_op = _reduction("argmin", lambda x, axis=None, keepdims=False: np.argmin(
    x, axis=None if axis is None else axis[0], keepdims=keepdims), nondiff=True)


def _reducer(op, doc):
    def fn(x, /, *, axis=None, keepdims=False):
        return bind(op, x, axis=normalize_axes(axis, _ndim(x)), keepdims=bool(keepdims))
    fn.__name__ = fn.__qualname__ = op.name
    fn.__doc__ = doc
    return checked(op.name)(fn)


def _ndim(x):
    return np.ndim(x) if not hasattr(x, "ndim") else x.ndim


sum = _reducer(sum_op, "Sum over `axis` (None: all), as `np.sum`.\n\n>>> rt.sum(rt.ones((2, 3)), axis=1)  # doctest: +SKIP\n")
prod = _reducer(prod_op, "Product over `axis`, as `np.prod`.")
mean = _reducer(mean_op, "Arithmetic mean over `axis`, as `np.mean`.\n\n>>> rt.mean(rt.arange(4.0))  # doctest: +SKIP\n")
max = _reducer(max_op, "Maximum over `axis`, as `np.max`.")
min = _reducer(min_op, "Minimum over `axis`, as `np.min`.")
all = _reducer(all_op, "True where every element along `axis` is true, as `np.all`.")
any = _reducer(any_op, "True where some element along `axis` is true, as `np.any`.")


@checked("var")
def var(x, /, *, axis=None, correction=0, keepdims=False, ddof=None):
    """Variance over `axis`; `correction` (Array API) or its NumPy name `ddof`."""
    c = correction if ddof is None else ddof
    return bind(var_op, x, axis=normalize_axes(axis, _ndim(x)), keepdims=bool(keepdims), ddof=c)


@checked("std")
def std(x, /, *, axis=None, correction=0, keepdims=False, ddof=None):
    """Standard deviation over `axis`; `correction` (Array API) or its NumPy name `ddof`."""
    c = correction if ddof is None else ddof
    return bind(std_op, x, axis=normalize_axes(axis, _ndim(x)), keepdims=bool(keepdims), ddof=c)


def _arg_reducer(op):
    def fn(x, /, *, axis=None, keepdims=False):
        ax = None if axis is None else (normalize_axis(axis, _ndim(x)),)
        return bind(op, x, axis=ax, keepdims=bool(keepdims))
    fn.__name__ = fn.__qualname__ = op.name
    fn.__doc__ = f"Index of the {op.name[3:]}imum along one `axis` (None: of the flattened array), as `np.{op.name}`."
    return checked(op.name)(fn)


argmax = _arg_reducer(argmax_op)
argmin = _arg_reducer(argmin_op)


def _cumsum_abstract(x, axis):
    shape = (int(np.prod(x.shape)),) if axis is None else x.shape
    return shape, dtype_of(np.cumsum, x)


def _cumsum_vjp(g, out, x, axis):
    # each input adds to every later output: a reversed running sum of g
    from .movement import flip, reshape
    ax = 0 if axis is None else axis
    r = flip(cumsum(flip(g, axis=ax), axis=ax), axis=ax)
    return reshape(r, x.shape) if axis is None else r


cumsum_op = Op("cumsum", lambda x, axis: np.cumsum(x, axis=axis), _cumsum_abstract,
               vjp=(_cumsum_vjp,))


@checked("cumsum")
def cumsum(x, /, axis=None):
    """Running sum along `axis` (None: over the flattened array), as `np.cumsum`."""
    return bind(cumsum_op, x, axis=None if axis is None else normalize_axis(axis, _ndim(x)))


@checked("cumsum")
def cumulative_sum(x, /, *, axis=None):
    """Array API name of `cumsum` (axis may be omitted only for 1-D input)."""
    if axis is None and _ndim(x) > 1:
        raise ValueError("cumulative_sum needs `axis` for arrays of more than one dimension")
    return cumsum(x, axis=axis if axis is not None else 0)
