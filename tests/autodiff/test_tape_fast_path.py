"""A gradient tape directly over eager: Tensor's operators and rt.tanh & co record inline.

The inline route (runtime/tensor.py, `_tape_on_eager`) must mean exactly what the generic route
(core._interp.process2 -> tape -> eager) means: same values, same gradients, same errors, the
same nondiff notes, and it stops as soon as something else sits on top of the tape.
"""
from __future__ import annotations

import gc
import weakref

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import runtime as rt
from runtime import core
from runtime import tensor as rt_tensor
from runtime.errors import RuntimeOpError

# (runtime op, autograd op): operators with tensors, Python numbers on either side, functions
_STEPS = [
    (lambda v, c: v * c, lambda v, c: v * c),
    (lambda v, c: c * v, lambda v, c: c * v),
    (lambda v, c: v + 1.5, lambda v, c: v + 1.5),
    (lambda v, c: 2.0 - v, lambda v, c: 2.0 - v),
    (lambda v, c: v / (c + 3.0), lambda v, c: v / (c + 3.0)),
    (lambda v, c: -v, lambda v, c: -v),
    (lambda v, c: rt.tanh(v), lambda v, c: anp.tanh(v)),
    (lambda v, c: rt.exp(v * 0.1), lambda v, c: anp.exp(v * 0.1)),
    (lambda v, c: rt.multiply(v, c), lambda v, c: anp.multiply(v, c)),
    (lambda v, c: rt.add(v, 0.5), lambda v, c: anp.add(v, 0.5)),
    (lambda v, c: v ** 2, lambda v, c: v ** 2),
]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, len(_STEPS) - 1), min_size=1, max_size=12))
def test_taped_chains_of_inline_ops_match_autograd(steps):
    x0 = np.linspace(-0.9, 0.8, 6)
    c0 = np.linspace(0.5, 1.5, 6)
    x, c = rt.asarray(x0), rt.asarray(c0)

    def run(v, c, which):
        for k in steps:
            v = _STEPS[k][which](v, c)
        return v

    with rt.GradientTape(persistent=True) as tape:
        tape.watch([x, c])
        y = run(x, c, 0)
    assert len(tape._records) > 0            # the inline route recorded
    gx, gc_ = tape.gradient(y, [x, c])
    ex, ec = autograd.grad(lambda v, w: anp.sum(run(v, w, 1)), argnum=(0, 1))(x0, c0)
    np.testing.assert_allclose(y.numpy(), run(x0, c0, 1), rtol=1e-12)
    np.testing.assert_allclose(gx.numpy(), ex, rtol=1e-9, atol=1e-12)
    if gc_ is None:                          # c appeared only as a constant of the chain
        assert not np.any(ec)
    else:
        np.testing.assert_allclose(gc_.numpy(), ec, rtol=1e-9, atol=1e-12)


def test_inline_route_is_on_only_while_a_tape_sits_directly_on_eager():
    x = rt.asarray([0.5, 1.0])
    assert rt_tensor._tape_on_eager is None
    with rt.GradientTape() as outer:
        assert rt_tensor._tape_on_eager is outer
        with rt.GradientTape() as inner:     # over another tape: the generic route
            assert rt_tensor._tape_on_eager is None
            inner.watch(x)
            outer.watch(x)
            y = rt.tanh(x) * x
        assert rt_tensor._tape_on_eager is outer
        g = inner.gradient(y, x)
    assert rt_tensor._tape_on_eager is None
    gg = outer.gradient(g, x)               # second derivative, recorded by the outer tape
    t = np.tanh([0.5, 1.0])
    np.testing.assert_allclose(g.numpy(), (1 - t * t) * [0.5, 1.0] + t, rtol=1e-12)
    expected = autograd.elementwise_grad(
        autograd.elementwise_grad(lambda v: anp.tanh(v) * v))(np.array([0.5, 1.0]))
    np.testing.assert_allclose(gg.numpy(), expected, rtol=1e-10)


def test_stop_recording_and_unwatched_values_are_not_recorded_inline():
    x, u = rt.asarray([0.3, 0.7]), rt.asarray([2.0, 3.0])
    with rt.GradientTape() as tape:
        tape.watch(x)
        unrelated = rt.tanh(u) * u
        with tape.stop_recording():
            const = x * 3.0
        y = x * const
    assert len(tape._records) == 1                # only y = x * const
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [0.9, 2.1], rtol=1e-12)
    np.testing.assert_allclose(unrelated.numpy(), np.tanh([2.0, 3.0]) * [2.0, 3.0])


def test_nondiff_operators_on_watched_values_are_explained():
    a = rt.asarray([1.0, 3.0, 2.0])
    with rt.GradientTape() as tape:
        tape.watch(a)
        mask = a > 1.5                           # an inline operator with no gradient
        k = rt.astype(mask, rt.float64) * 2.0
    assert tape.gradient(k, a) is None
    assert "greater" in tape.explain_none()


def test_errors_under_a_tape_say_the_same_as_eagerly():
    a, b = rt.asarray(np.ones(3)), rt.asarray(np.ones(4))
    with pytest.raises(RuntimeOpError) as eager:
        a * b
    with rt.GradientTape() as tape:
        tape.watch(a)
        with pytest.raises(RuntimeOpError) as taped:
            a * b                                # noqa: B018  (the error is the point)
    assert str(taped.value) .split("\n  at ")[0] == str(eager.value).split("\n  at ")[0]
    assert "test_tape_fast_path.py" in str(taped.value)    # the user's line


def test_recorded_arrays_are_freed_with_the_tape_without_the_cyclic_gc():
    x = rt.asarray(np.linspace(0, 1, 5))
    gc.disable()
    try:
        with rt.GradientTape() as tape:
            tape.watch(x)
            y = rt.tanh(x) * 2.0
        inner = weakref.ref(tape._records[0][1])   # tanh(x): only the tape holds it
        dead = weakref.ref(tape)
        del tape
        assert dead() is None and inner() is None
    finally:
        gc.enable()
    assert y.shape == (5,)


def test_non_tensor_operands_take_the_generic_route_and_still_record():
    x = rt.asarray([0.5, 2.0])
    with rt.GradientTape() as tape:
        tape.watch(x)
        y = x * np.array([3.0, 4.0]) + [1.0, 1.0]   # a NumPy array, then a list
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [3.0, 4.0])
    assert core.current_interpreter() is rt_tensor.EAGER
