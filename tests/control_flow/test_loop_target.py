"""The loop variable after a converted `for i in rt.range(...)` has Python's value: the index of
the iteration that hit `break`, the last index after a loop that completes, the body's own value
when the body assigns it, and its old value after a loop of zero iterations. Oracles: the same
function run eagerly (Python's `for`) and plain Python on NumPy."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import runtime as rt
from runtime.control_flow import ControlFlowError

from .programs import load
from .test_autograph import eager_and_compiled

vec3 = hnp.arrays(np.float64, 3, elements=st.floats(-2, 2))


def first_above(x, t, n):
    i = rt.asarray(-7)
    for i in rt.range(n):
        if x[i] > t:
            break
    return i


def first_above_python(x, t, n):
    i = -7
    for i in range(n):
        if x[i] > t:
            break
    return i


@given(hnp.arrays(np.float64, 4, elements=st.floats(-2, 2)), st.floats(-2, 2), st.integers(0, 4))
def test_target_after_break_complete_and_zero_trip_loops(x, t, n):
    """Static bounds: the trip count is part of the compiled function (one per n)."""
    def f(x, t):
        return first_above(x, t, n)
    e, c, _ = eager_and_compiled(f, rt.asarray(x), rt.asarray(t))
    assert int(c) == int(e) == first_above_python(x, t, n)


@given(hnp.arrays(np.float64, 4, elements=st.floats(-2, 2)), st.floats(-2, 2), st.integers(-1, 4))
def test_target_after_loop_with_traced_bounds(x, t, n):
    """A traced trip count (a while_loop): n <= 0 leaves the old value, as Python does."""
    e, c, g = eager_and_compiled(first_above, rt.asarray(x), rt.asarray(t), rt.asarray(n))
    assert int(c) == int(e) == first_above_python(x, t, n)


def last_and_broken(x, t):
    for i in rt.range(3):
        x = x * 0.5
    after_complete = i
    for i in rt.range(4):
        if rt.sum(x) > t:
            break
        x = x + 1.0
    after_break = i
    return after_complete, after_break, x


@given(vec3, st.floats(-3, 6))
def test_target_read_after_consecutive_loops(x, t):
    e, c, g = eager_and_compiled(last_and_broken, rt.asarray(x), rt.asarray(t))
    assert int(c[0]) == int(e[0]) == 2
    assert int(c[1]) == int(e[1])
    np.testing.assert_allclose(np.asarray(c[2]), np.asarray(e[2]))
    assert "fori_loop" in str(g.graph_for(rt.asarray(x), rt.asarray(t)))


def shadowed(x, t):
    s = rt.asarray(0.0)
    for i in rt.range(2):
        for i in rt.range(3):          # reuses the outer name, as Python allows
            if rt.sum(x) * i.astype(rt.float64) > t:
                break
            x = x * 0.75 + 0.5
        s = s + i.astype(rt.float64)   # the inner loop's break index, not the outer index
        x = x - 0.25
    return i, s, x


@given(vec3, st.floats(-3, 3))
def test_shadowed_target_in_nested_loops(x, t):
    e, c, _ = eager_and_compiled(shadowed, rt.asarray(x), rt.asarray(t))
    for a, b in zip(e, c):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-12)


def body_assigns_target(x):
    for i in rt.range(3):
        x = x + i.astype(rt.float64)
        i = i * 2
    return i, x


def test_target_assigned_in_the_body_keeps_the_bodys_value():
    e, c, _ = eager_and_compiled(body_assigns_target, rt.asarray([1.0, 2.0]))
    assert int(c[0]) == int(e[0]) == 4
    np.testing.assert_allclose(np.asarray(c[1]), [4.0, 5.0])


def target_becomes_float(x):
    for i in rt.range(3):
        x = x * 2.0
        i = i * 0.5
    return i, x


def test_target_changing_dtype_in_the_body_is_an_error_naming_it():
    with pytest.raises(ControlFlowError) as e:
        rt.function(target_becomes_float)(rt.asarray([1.0]))
    assert "`i` changes dtype" in str(e.value) and "test_loop_target.py" in str(e.value)


REGRESSION = '''def prog(x, t):
    y = x
    s = 0.0
    for i in rt.range(1):
        for i in rt.range(2):
            y = rt.tanh(y * 0.5) + x * 0.5
            s = s * 0.5 + rt.sum(y * i.astype(rt.float64))
        for i in rt.range(2):
            y = rt.sin(y) - s * 0.5
            y = rt.tanh(y * 0.5) + x * -0.75
            if rt.max(y) > t * 0.5 + 1:
                break
            s = s * 0.5 + rt.sum(y * i.astype(rt.float64))
        s = s * 0.5 + rt.sum(y * i.astype(rt.float64))
    return y, s
'''


def regression_numpy(x, t):
    """REGRESSION in plain Python on NumPy (the oracle for `s`)."""
    y, s = x, 0.0
    for i in range(1):
        for i in range(2):
            y = np.tanh(y * 0.5) + x * 0.5
            s = s * 0.5 + np.sum(y * i)
        for i in range(2):
            y = np.sin(y) - s * 0.5
            y = np.tanh(y * 0.5) + x * -0.75
            if np.max(y) > t * 0.5 + 1:
                break
            s = s * 0.5 + np.sum(y * i)
        s = s * 0.5 + np.sum(y * i)
    return y, s


def test_regression_gradient_after_break_in_a_shadowing_loop():
    """Found by the generated-program gradient test: the loop broke at i = 0 but the compiled
    code read i = 1 after it (forward s and the gradient both differed from eager)."""
    prog = load(REGRESSION)
    x, t = rt.asarray([-1.0, -1.0, -1.0]), rt.asarray(0.0)
    e, c, _ = eager_and_compiled(prog, x, t)
    np.testing.assert_allclose(float(c[1]), float(e[1]), rtol=1e-12)
    np.testing.assert_allclose(float(c[1]), regression_numpy(np.asarray(x), 0.0)[1], rtol=1e-12)

    def loss(x, t):
        y, s = prog(x, t)
        return rt.sum(y * y) + s

    def grad_fn(x, t):
        return rt.grad(loss)(x, t)
    ge, gc, _ = eager_and_compiled(grad_fn, x, t)
    np.testing.assert_allclose(np.asarray(gc), np.asarray(ge), rtol=1e-9)
    eps = 1e-6                        # and both agree with finite differences
    fd = (float(loss(x + eps, t)) - float(loss(x - eps, t))) / (2 * eps)
    np.testing.assert_allclose(float(np.sum(np.asarray(gc))), fd, rtol=1e-5)


def outer_break_inner_shadow(x, t):
    i = rt.asarray(-3)
    for i in rt.range(2):
        for i in rt.range(1):          # sets i = 0 in every outer iteration
            x = rt.tanh(x * 0.5) + 0.5
        if rt.max(x) > t:
            break
        x = x + i.astype(rt.float64)
    return i, x


@given(vec3, st.floats(-1, 2))
def test_inner_loop_value_survives_an_outer_break(x, t):
    """Found by the generated programs: the outer loop's `if not broken:` guard dropped the
    inner loop's `i`, so the outer index came out instead of Python's 0."""
    e, c, _ = eager_and_compiled(outer_break_inner_shadow, rt.asarray(x), rt.asarray(t))
    assert int(c[0]) == int(e[0]) == 0
    np.testing.assert_allclose(np.asarray(c[1]), np.asarray(e[1]), rtol=1e-12)


def python_loop_traced_if_sets_target(x):
    for i in range(3):                 # a Python loop: unrolled while tracing
        if rt.sum(x) > 0:              # a traced `if` that reassigns the loop variable
            i = i + 10
        x = x * 0.5
    return i, x


@given(hnp.arrays(np.float64, 2, elements=st.floats(-2, 2)))
def test_traced_if_assigning_the_target_of_a_python_loop(x):
    e, c, _ = eager_and_compiled(python_loop_traced_if_sets_target, rt.asarray(x))
    assert int(c[0]) == int(e[0]) == (12 if (x * 0.25).sum() > 0 else 2)
