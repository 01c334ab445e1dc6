"""rt.function's fast call path (positional tensors / arrays, a call style seen before) must be
invisible: the same results, the same traces and reasons, the same counters as binding and
flattening every call. The oracle is the same function with the fast path switched off."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import runtime as rt
from runtime.function import Function


class SlowOnly(Function):
    """The reference: never remembers a fast entry, so every call binds and flattens."""

    def _remember_fast(self, args, entry):
        pass


def sub(z, a):                      # parameter order differs from the sorted order of names
    return z - 2.0 * a


def with_default(x, y, scale=3.0):
    return x * scale + y


def with_array_default(x, w=np.arange(3.0)):
    return x + w


def star(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = out * x
    return out


def static_power(x, k):
    return x ** k


def kwonly(x, *, bias=1.0):
    return x + bias


FUNCTIONS = {
    "sub": (sub, {}, 2), "with_default": (with_default, {}, 2),
    "with_array_default": (with_array_default, {}, 1), "star": (star, {}, 3),
    "static_power": (static_power, {"static_argnums": (1,)}, 1), "kwonly": (kwonly, {}, 1),
}

shapes = st.sampled_from([(3,), (2, 3), (1, 3)])
dtypes = st.sampled_from([np.float64, np.float32])


@st.composite
def call(draw, n_arrays):
    shape, dtype = draw(shapes), draw(dtypes)
    rng = np.random.default_rng(draw(st.integers(0, 99)))
    arrays = [rng.normal(size=shape).astype(dtype) for _ in range(n_arrays)]
    as_tensor = draw(st.lists(st.booleans(), min_size=n_arrays, max_size=n_arrays))
    return [rt.asarray(a) if t else a for a, t in zip(arrays, as_tensor)]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_fast_path_is_invisible(name, data):
    fn, options, n = FUNCTIONS[name]
    fast = Function(fn, retrace_warning_after=10**6, **options)
    slow = SlowOnly(fn, retrace_warning_after=10**6, **options)
    calls = data.draw(st.lists(call(n), min_size=1, max_size=6))
    for args in calls:
        extra = ()
        if name == "static_power":
            extra = (data.draw(st.sampled_from([2, 3])),)
        kwargs = {}
        if name == "kwonly" and data.draw(st.booleans()):
            kwargs = {"bias": 0.5}
        got = fast(*args, *extra, **kwargs)
        want = slow(*args, *extra, **kwargs)
        assert type(got) is rt.Tensor and got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        numpy_args = [np.asarray(a) for a in args]
        np.testing.assert_allclose(got.numpy(), fn(*numpy_args, *extra, **kwargs), rtol=1e-6)
    assert (fast.calls, fast.cache_hits, fast.trace_count) == (slow.calls, slow.cache_hits, slow.trace_count)
    assert [r.reason for r in fast.ledger] == [r.reason for r in slow.ledger]


def test_repeated_calls_take_the_fast_path_and_keep_the_order_of_arguments():
    f = rt.function(sub)
    z, a = rt.asarray([5.0, 7.0]), rt.asarray([1.0, 2.0])
    f(z, a)
    assert f._fast, "a positional call of tensors should be remembered"
    np.testing.assert_array_equal(f(z, a).numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(f(a, z).numpy(), [-9.0, -12.0])
    np.testing.assert_array_equal(f(np.array([0.0, 0.0]), a).numpy(), [-2.0, -4.0])
    assert (f.trace_count, f.cache_hits) == (1, 3)
    f(rt.ones((2, 2)), rt.ones((2, 2)))                # new shape: a retrace, reason named
    assert f.trace_count == 2 and "z: f64[2] -> f64[2,2]" in f.ledger[-1].reason


def test_static_positions_and_array_defaults_never_take_the_fast_path():
    p = rt.function(static_power, static_argnums=1)
    x = rt.asarray([2.0, 3.0])
    assert [p(x, 2).numpy().tolist(), p(x, 3).numpy().tolist()] == [[4.0, 9.0], [8.0, 27.0]]
    assert p.trace_count == 2 and not p._fast
    w = rt.function(with_array_default)
    w(rt.zeros(3))
    assert not w._fast and w._fast_orders == {1: False}


def test_run_functions_eagerly_still_wins_over_the_fast_path():
    seen = []
    f = rt.function(lambda x: seen.append(1) or x + 1)
    x = rt.ones(2)
    f(x), f(x)
    assert len(seen) == 1
    rt.run_functions_eagerly(True)
    try:
        f(x)
    finally:
        rt.run_functions_eagerly(False)
    assert len(seen) == 2
