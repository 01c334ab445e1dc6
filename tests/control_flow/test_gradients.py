"""Gradients through converted control flow (cond, fori_loop, scan) vs central finite
differences, compiled and eager; HIPS autograd as a second opinion; while_loop refuses."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import runtime as rt
from runtime.control_flow_vjp import LoopGradientError

from .programs import load, programs


def fd_along(f, x, d, eps=1e-6):
    return (f(x + eps * d) - f(x - eps * d)) / (2 * eps)


def check(loss, x, seed=0):
    """Compiled gradient == eager gradient == finite differences along a random direction."""
    x = np.asarray(x, np.float64)
    d = np.random.default_rng(seed).normal(size=x.shape)
    value = lambda v: float(loss(rt.asarray(v)))           # noqa: E731  (eager: Python control flow)
    def grad_of_loss(w):              # a def: autograph converts it and the loss it calls
        return rt.grad(loss)(w)
    compiled = rt.function(grad_of_loss)
    g = np.asarray(compiled(rt.asarray(x)))
    rt.run_functions_eagerly(True)
    try:
        ge = np.asarray(compiled(rt.asarray(x)))
    finally:
        rt.run_functions_eagerly(False)
    np.testing.assert_allclose(g, ge, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.dot(g, d), fd_along(value, x, d), rtol=1e-5, atol=1e-7)
    return g, compiled


def piecewise(w):
    if rt.sum(w) > 0.5:
        y = rt.sin(w) * w
    elif rt.sum(w) < -0.5:
        y = w * w * w
    else:
        y = rt.exp(w) - w
    return rt.sum(y * y)


@given(hnp.arrays(np.float64, 3, elements=st.floats(-1.5, 1.5)))
def test_grad_through_converted_if_elif_else(x):
    if abs(x.sum() - 0.5) < 1e-3 or abs(x.sum() + 0.5) < 1e-3:
        return                                   # at the switch the function has a kink
    g, f = check(piecewise, x)
    assert "cond" in str(f.graph_for(rt.asarray(x)))


def power_loop(w):
    acc = rt.ones_like(w)
    for i in rt.range(4):
        acc = acc * w + rt.sin(w) * i.astype(rt.float64)
    return rt.sum(acc)


@given(hnp.arrays(np.float64, 4, elements=st.floats(-2, 2)))
def test_grad_through_converted_for_range(x):
    g, f = check(power_loop, x)
    traced = f.traced_graph_for(rt.asarray(x)).op_counts()
    assert traced.get("fori_loop") == 1 and traced.get("scan") == 2   # loop, saved carries, reverse
    assert "fori_loop" not in f.graph_for(rt.asarray(x)).op_counts()  # only the gradient is used


def loop_with_branch(w):
    v = w
    for i in rt.range(3):
        if rt.sum(v) > 1.0:
            v = v * 0.5 + rt.tanh(w)
        else:
            v = v * v + w
    return rt.sum(v)


@settings(max_examples=30)
@given(hnp.arrays(np.float64, 2, elements=st.floats(-1, 1)))
def test_grad_through_if_inside_loop(x):
    v = x.copy()
    for _ in range(3):                       # finite differences are meaningless at the switch
        if abs(v.sum() - 1.0) < 1e-4:
            return
        v = v * 0.5 + np.tanh(x) if v.sum() > 1.0 else v * v + x
    check(loop_with_branch, x)


def scan_loss(w):
    carry, ys = rt.scan(lambda c, x: (c * x + w[0], rt.sin(c) * x), rt.asarray(0.3), w)
    return carry + rt.sum(ys * ys)


@given(hnp.arrays(np.float64, st.integers(1, 5), elements=st.floats(-1, 1)))
def test_grad_through_scan_matches_autograd(x):
    import autograd
    import autograd.numpy as anp
    g, _ = check(scan_loss, x)

    def reference(w):
        c, ys = 0.3, []
        for xi in w:
            ys.append(anp.sin(c) * xi)
            c = c * xi + w[0]
        return c + anp.sum(anp.stack(ys) ** 2)
    np.testing.assert_allclose(g, autograd.grad(reference)(x), rtol=1e-9, atol=1e-12)


def test_grad_with_an_integer_counter_in_the_carry():
    def loss(w):
        n, y = rt.fori_loop(0, 3, lambda i, c: (c[0] + 1, c[1] * w), (0, w))
        return rt.sum(y)
    g, _ = check(loss, [1.0, 2.0])
    np.testing.assert_allclose(g, [4.0, 32.0])


def test_reverse_mode_through_while_names_the_loop_and_the_alternatives():
    def loss(w):
        while rt.sum(w) < 10.0:
            w = w * 2.0
        return rt.sum(w)
    def grad_of_loss(w):
        return rt.grad(loss)(w)
    with pytest.raises(LoopGradientError) as e:
        rt.function(grad_of_loss)(rt.ones(2))
    msg = str(e.value)
    assert f"test_gradients.py:{loss.__code__.co_firstlineno + 1}" in msg
    assert "rt.fori_loop" in msg and "rt.scan" in msg and "rt.range(n)" in msg


def test_eager_tape_through_python_while_still_works():
    w = rt.asarray([1.0, 2.0])
    with rt.GradientTape() as tape:
        tape.watch(w)
        v = rt.while_loop(lambda v: rt.sum(v) < 10.0, lambda v: v * 2.0, w)   # eager: plain Python
        loss = rt.sum(v)
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, w)), [4.0, 4.0])


@settings(max_examples=30)
@given(programs(loops=("for",)), hnp.arrays(np.float64, 3, elements=st.floats(-1.5, 1.5)),
       st.floats(-1, 1))
def test_generated_programs_gradients_compiled_match_the_eager_tape(src, x, t):
    prog = load(src)

    def loss(x, t):
        y, s = prog(x, t)
        return rt.sum(y * y) + s

    def grad_fn(x, t):
        return rt.grad(loss)(x, t)
    compiled = rt.function(grad_fn)
    g = np.asarray(compiled(rt.asarray(x), rt.asarray(t)))
    rt.run_functions_eagerly(True)              # Python control flow under the eager tape
    try:
        ge = np.asarray(compiled(rt.asarray(x), rt.asarray(t)))
    finally:
        rt.run_functions_eagerly(False)
    np.testing.assert_allclose(g, ge, rtol=1e-8, atol=1e-10)
    # the loss compiled, on an eager tape: one recorded op whose backward was traced with it
    gt = np.asarray(rt.grad(rt.function(loss))(rt.asarray(x), rt.asarray(t)))
    np.testing.assert_allclose(gt, ge, rtol=1e-8, atol=1e-10)
