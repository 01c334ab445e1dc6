"""Linear algebra: matmul is the primitive; tensordot, outer, vecdot and friends are built on it."""
from __future__ import annotations

import math

import numpy as np

from ..core import Op, bind
from ._util import checked, normalize_axis


def _matmul_abstract(a, b):
    sa, sb = getattr(a, "shape", ()), getattr(b, "shape", ())
    if len(sa) == 0 or len(sb) == 0:
        raise ValueError("matmul does not take scalars (0-d inputs); use * for scaling")
    a2 = (1,) + sa if len(sa) == 1 else sa
    b2 = sb + (1,) if len(sb) == 1 else sb
    if a2[-1] != b2[-2]:
        raise ValueError(f"matmul: contracted axes differ: {sa} @ {sb} ({a2[-1]} != {b2[-2]})")
    batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    shape = batch + ((a2[-2],) if len(sa) > 1 else ()) + ((b2[-1],) if len(sb) > 1 else ())
    dtype = np.matmul(np.ones((1, 1), a.dtype), np.ones((1, 1), b.dtype)).dtype
    return shape, dtype


def _matmul_vjp_a(g, out, a, b):
    # 1-D operands are promoted to matrices (a: (1, k), b: (k, 1)) so one formula serves all;
    # batch axes that broadcasting added are summed away by the autodiff code.
    from .movement import reshape
    if a.ndim == 1 and b.ndim == 1:
        return g * b
    b2 = reshape(b, (b.shape[0], 1)) if b.ndim == 1 else b
    g2 = g if b.ndim > 1 else reshape(g, g.shape + (1,))
    if a.ndim == 1:
        g2 = reshape(g2, g2.shape[:-1] + (1, g2.shape[-1]))
    ga = matmul(g2, matrix_transpose(b2))
    return reshape(ga, ga.shape[:-2] + (ga.shape[-1],)) if a.ndim == 1 else ga


def _matmul_vjp_b(g, out, a, b):
    from .movement import reshape
    if a.ndim == 1 and b.ndim == 1:
        return g * a
    a2 = reshape(a, (1, a.shape[0])) if a.ndim == 1 else a
    g2 = g if a.ndim > 1 else reshape(g, g.shape[:-1] + (1, g.shape[-1]))
    if b.ndim == 1:
        g2 = reshape(g2, g2.shape + (1,))
    gb = matmul(matrix_transpose(a2), g2)
    return reshape(gb, gb.shape[:-1]) if b.ndim == 1 else gb


matmul_op = Op("matmul", np.matmul, _matmul_abstract, vjp=(_matmul_vjp_a, _matmul_vjp_b))


def matmul(x1, x2, /):
    """Matrix product with NumPy's rules for 1-D operands and batch broadcasting (`@`).

    >>> rt.matmul(rt.ones((2, 3)), rt.ones((3, 4))).shape
    (2, 4)
    """
    return bind(matmul_op, x1, x2)


@checked("matrix_transpose")
def matrix_transpose(x, /):
    """Swap the last two axes (the Array API's `matrix_transpose`, `x.mT`)."""
    from .movement import permute_dims
    n = x.ndim
    if n < 2:
        raise ValueError(f"matrix_transpose needs at least 2 dimensions, got shape {x.shape}")
    return permute_dims(x, tuple(range(n - 2)) + (n - 1, n - 2))


@checked("tensordot")
def tensordot(x1, x2, /, *, axes=2):
    """Contract `axes` of x1 with those of x2 (as `np.tensordot`), built from permute, reshape, matmul."""
    from .movement import permute_dims, reshape
    na, nb = x1.ndim, x2.ndim
    if isinstance(axes, int):
        ax_a, ax_b = tuple(range(na - axes, na)), tuple(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = (ax_a,) if isinstance(ax_a, int) else tuple(ax_a)
        ax_b = (ax_b,) if isinstance(ax_b, int) else tuple(ax_b)
    ax_a = tuple(normalize_axis(a, na) for a in ax_a)
    ax_b = tuple(normalize_axis(b, nb) for b in ax_b)
    if len(ax_a) != len(ax_b) or any(x1.shape[i] != x2.shape[j] for i, j in zip(ax_a, ax_b)):
        raise ValueError(f"tensordot: shape-mismatch for sum: {x1.shape} axes {ax_a} vs "
                         f"{x2.shape} axes {ax_b}")
    free_a = [i for i in range(na) if i not in ax_a]
    free_b = [j for j in range(nb) if j not in ax_b]
    k = math.prod(x1.shape[i] for i in ax_a)
    # explicit sizes, not -1: a zero-size contraction or free part must still reshape
    a = reshape(permute_dims(x1, tuple(free_a) + ax_a), (math.prod(x1.shape[i] for i in free_a), k))
    b = reshape(permute_dims(x2, ax_b + tuple(free_b)), (k, math.prod(x2.shape[j] for j in free_b)))
    out_shape = tuple(x1.shape[i] for i in free_a) + tuple(x2.shape[j] for j in free_b)
    return reshape(matmul(a, b), out_shape)


@checked("outer")
def outer(x1, x2, /):
    """Outer product of two vectors (inputs are flattened, as `np.outer`)."""
    from .movement import reshape
    return reshape(x1, (-1, 1)) * reshape(x2, (1, -1))


@checked("vecdot")
def vecdot(x1, x2, /, *, axis=-1):
    """Dot product along `axis` with broadcasting (Array API `vecdot`, real inputs)."""
    from .reduction import sum
    return sum(x1 * x2, axis=axis)


@checked("dot")
def dot(a, b, /):
    """`np.dot` for 1-D and 2-D operands (matmul); scalars multiply."""
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim > 2 or b.ndim > 2:
        raise ValueError("rt.dot takes 1-D or 2-D inputs; use rt.matmul or rt.tensordot for more")
    return matmul(a, b)
