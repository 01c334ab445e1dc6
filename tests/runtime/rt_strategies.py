"""Hypothesis strategies for runtime tests: dtypes, shapes (0-d, size 0 and 1, broadcasting),
arrays with values that keep every dtype well inside its range, and weak Python scalars."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

BOOL = np.dtype(bool)
INTS = [np.dtype(t) for t in ("int8", "int32", "int64", "uint8")]
FLOATS = [np.dtype(t) for t in ("float16", "float32", "float64")]
DTYPES = [BOOL, *INTS, *FLOATS]
NUMERIC = [*INTS, *FLOATS]

dtypes = st.sampled_from(DTYPES)
numeric_dtypes = st.sampled_from(NUMERIC)
float_dtypes = st.sampled_from(FLOATS)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)
nonempty_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)


def elements(dtype, nonneg=False):
    dtype = np.dtype(dtype)
    if dtype == BOOL:
        return st.booleans()
    if dtype.kind in "iu":
        return st.integers(0 if nonneg or dtype.kind == "u" else -20, 20)
    width = dtype.itemsize * 8
    lo = 0.0 if nonneg else -8.0
    return st.floats(lo, 8.0, width=width, allow_subnormal=False) | st.sampled_from([lo, 0.5, 1.0])


def arrays(dtype, shape, nonneg=False):
    return hnp.arrays(np.dtype(dtype), shape, elements=elements(dtype, nonneg))


@st.composite
def any_array(draw, shape=None, dtype=None, nonneg=False):
    dt = draw(dtypes) if dtype is None else dtype
    sh = draw(shapes) if shape is None else shape
    return draw(arrays(dt, sh, nonneg))


def py_scalars(nonneg=False):
    """Python scalars: weak operands under NumPy 2 promotion (np.result_type is the oracle)."""
    lo = 0 if nonneg else -5
    return (st.booleans() | st.integers(lo, 5)
            | st.floats(float(lo), 4.0, allow_nan=False, allow_subnormal=False))


@st.composite
def operands(draw, n, nonneg_last=False, scalar_p=True):
    """n operands with mutually broadcastable shapes and independent dtypes; any of them may be
    a Python scalar (but not all of them)."""
    shp = draw(hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=0, max_dims=3,
                                                 min_side=0, max_side=3)).input_shapes
    out = []
    for i, s in enumerate(shp):
        nonneg = nonneg_last and i == n - 1
        pick = draw(st.integers(0, 7)) if scalar_p else 7
        if pick <= 1:
            out.append(draw(py_scalars(nonneg)))
        elif pick == 2:                  # a NumPy scalar: strong, like a 0-d array
            dt = draw(dtypes)
            out.append(dt.type(draw(elements(dt, nonneg))))
        else:
            out.append(draw(any_array(shape=s, nonneg=nonneg)))
    if all(not isinstance(o, np.ndarray) for o in out):   # at least one array
        out[0] = draw(any_array(shape=shp[0]))
    return out


@st.composite
def axes_subset(draw, ndim):
    """None, or a subset of the axes, each maybe spelled negatively: (raw, normalized)."""
    if draw(st.booleans()):
        return None, None
    chosen = draw(st.lists(st.integers(0, max(ndim - 1, 0)), unique=True, max_size=ndim)) if ndim else []
    raw = tuple(a - ndim if draw(st.booleans()) else a for a in chosen)
    if len(raw) == 1 and draw(st.booleans()):
        return raw[0], tuple(sorted(chosen))
    return raw, tuple(sorted(chosen))


@st.composite
def one_axis(draw, ndim):
    """(raw axis, normalized axis) for an array of ndim >= 1."""
    a = draw(st.integers(0, ndim - 1))
    return (a - ndim if draw(st.booleans()) else a), a


def examples(n: int) -> int:
    """n hypothesis examples, times RT_HYPOTHESIS_SCALE (set it high for a longer bug hunt)."""
    import os
    return max(1, int(n * float(os.environ.get("RT_HYPOTHESIS_SCALE", "1"))))
