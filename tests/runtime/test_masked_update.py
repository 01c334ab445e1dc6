"""`x.at[mask].set(v)` and friends keep x's shape, so they trace (as a `where`), unlike x[mask]."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import runtime as rt
from rt_op_cases import numpy_update
from rt_strategies import arrays

MODES = ["set", "add", "multiply", "min", "max"]
DTYPES = [np.float64, np.float32, np.int64, np.int32]


@st.composite
def masked_updates(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    x = draw(arrays(dtype, shape))
    mask = draw(hnp.arrays(bool, shape[:draw(st.integers(1, len(shape)))]))
    trailing = shape[mask.ndim:]
    if draw(st.booleans()):
        v = draw(st.sampled_from([0, 2, -1.5, 3.25]))          # a Python scalar (weak)
    else:
        vshape = draw(hnp.broadcastable_shapes(trailing, max_dims=len(trailing)).filter(
            lambda s: np.broadcast_shapes(s, trailing) == trailing)) if trailing else ()
        v = draw(arrays(draw(st.sampled_from([dtype, np.float64])), vshape))
    return x, mask, v, draw(st.sampled_from(MODES))


@settings(max_examples=150, deadline=None)
@given(masked_updates())
def test_masked_update_eager_and_compiled_match_numpy(case):
    x, mask, v, mode = case
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = numpy_update(x, mask, v, mode)
        tv = rt.asarray(v) if isinstance(v, np.ndarray) else v
        eager = getattr(rt.asarray(x).at[rt.asarray(mask)], mode)(tv)
        f = rt.function(lambda a, m, *w: getattr(a.at[m], mode)(w[0] if w else v))
        got = f(rt.asarray(x), rt.asarray(mask), *([tv] if isinstance(v, np.ndarray) else []))
    for what, r in (("eager", eager), ("compiled", got)):
        r = np.asarray(r)
        assert r.dtype == want.dtype and r.shape == want.shape, what
        np.testing.assert_array_equal(r, want, err_msg=f"{what} x.at[mask].{mode}({v!r})")


def test_a_mask_computed_inside_the_function_traces_once_and_is_a_where():
    f = rt.function(lambda x: x.at[x < 0].set(0.0))       # a ReLU written as an update
    x = np.array([[-1.0, 2.0], [3.0, -4.0]])
    np.testing.assert_array_equal(f(x), np.maximum(x, 0))
    np.testing.assert_array_equal(f(-x), np.maximum(-x, 0))
    assert f.trace_count == 1
    assert "where(" in f.code_for(x)


def test_row_mask_with_a_row_value():
    x = np.arange(12.0).reshape(3, 4)
    f = rt.function(lambda x, v: x.at[rt.sum(x, axis=1) > 10].add(v))
    v = np.array([1.0, 2.0, 3.0, 4.0])
    want = x.copy()
    want[x.sum(1) > 10] += v
    np.testing.assert_array_equal(f(x, v), want)


def test_gradients_through_a_masked_update_match_finite_differences():
    rng = np.random.default_rng(0)
    x0, s0 = rng.normal(size=(3, 4)), 1.7

    def loss(x, s):
        y = x.at[x > 0].multiply(s)
        return rt.sum(rt.tanh(y.at[x < -0.5].set(s * 2.0)) ** 2)

    gx, gs = rt.grad(loss, argnums=(0, 1))(rt.asarray(x0), rt.asarray(s0))
    cx, cs = rt.function(rt.grad(loss, argnums=(0, 1)))(x0, np.asarray(s0))
    eps = 1e-6
    fd_x = np.zeros_like(x0)
    for i in np.ndindex(x0.shape):
        d = np.zeros_like(x0)
        d[i] = eps
        fd_x[i] = (float(loss(rt.asarray(x0 + d), s0)) - float(loss(rt.asarray(x0 - d), s0))) / (2 * eps)
    fd_s = (float(loss(rt.asarray(x0), s0 + eps)) - float(loss(rt.asarray(x0), s0 - eps))) / (2 * eps)
    np.testing.assert_allclose(np.asarray(gx), fd_x, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(float(gs), fd_s, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(cx), np.asarray(gx), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(float(cs), float(gs), rtol=1e-12)


def test_a_value_per_true_entry_still_needs_eager_and_says_so():
    x = rt.asarray(np.arange(4.0))
    np.testing.assert_array_equal(x.at[x > 1].set(rt.asarray([7.0, 8.0])), [0, 1, 7, 8])
    f = rt.function(lambda x, v: x.at[x > 1].set(v))
    with pytest.raises(rt.RuntimeOpError, match="boolean mask"):
        f(x, rt.asarray([7.0, 8.0]))
