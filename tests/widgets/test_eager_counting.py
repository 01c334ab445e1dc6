"""The op counter: exact counts, ticks every N ops, the runtime left exactly as it was."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import runtime as rt
from runtime import core
from runtime import tensor as rt_tensor
from runtime.tensor import EAGER
import eagermagic.counting as counting
from eagermagic.counting import OpCounter

STEPS = {"add": (lambda y: y + y, 1), "mul": (lambda y: y * 0.5, 1), "neg": (lambda y: -y, 1),
         "tanh": (rt.tanh, 1), "sum": (lambda y: rt.sum(y, keepdims=True) + y, 2),
         "getitem": (lambda y: y[::-1], 1), "np_exp": (np.exp, 1),
         "maximum": (lambda y: rt.maximum(y, 0.2), 1), "rsub": (lambda y: 1.0 - y, 1),
         "matmul": (lambda y: rt.reshape(rt.reshape(y, (1, -1)) @ rt.ones((y.size, 1)) * y, (-1,)), 5)}


@pytest.fixture(params=["alloc", "interpreter"])
def mode(request, monkeypatch):
    if request.param == "interpreter":       # the fallback, as if the runtime changed
        monkeypatch.setattr(counting, "_allocates_tensors", lambda alloc: False)
    return request.param


@given(st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=40), st.integers(1, 7))
def test_every_op_is_counted_once(program, every):
    for mode in ("alloc", "interpreter"):
        ticks = []
        x = rt.asarray(np.linspace(0.1, 1.0, 5))
        c = OpCounter(lambda: ticks.append(c.ops), every=every)
        if mode == "interpreter":
            counting._allocates_tensors, saved = (lambda alloc: False), counting._allocates_tensors
        try:
            with c, np.errstate(all="ignore"):
                y = x
                for s in program:
                    y = STEPS[s][0](y)
        finally:
            if mode == "interpreter":
                counting._allocates_tensors = saved
        n = sum(STEPS[s][1] for s in program)
        assert c.mode == mode and c.ops == n
        # a tick comes with the op after each `every` ops (alloc: the one that needs a segment)
        k = n // every if mode == "interpreter" else (n - 1) // every
        assert ticks == [every * (i + 1) for i in range(k)]


def test_runtime_restored_and_counts_continue(mode):
    before = rt_tensor._alloc
    c = OpCounter(lambda: None, every=4)
    with c:
        rt.ones(3) * 2.0
    with c:                                   # entering again continues the count
        rt.ones(3) * 2.0
    assert c.ops == 4
    assert rt_tensor._alloc is before and core.current_interpreter() is EAGER
    np.testing.assert_array_equal(np.asarray(rt.ones(2) + 1), [2.0, 2.0])


def test_an_interrupt_in_a_tick_stops_the_op_and_restores_the_runtime(mode):
    def tick():
        raise KeyboardInterrupt
    before = rt_tensor._alloc
    with pytest.raises(KeyboardInterrupt):
        with OpCounter(tick, every=3):
            y = rt.ones(2)
            for _ in range(10):
                y = y + 1.0
    assert rt_tensor._alloc is before and core.current_interpreter() is EAGER
    assert float(rt.sum(rt.ones(2) + 1.0)) == 4.0


def test_under_a_tape_ops_are_counted_and_gradients_right(mode):
    w = rt.asarray(np.array([1.0, 2.0]))
    with OpCounter(lambda: None) as c:
        with rt.GradientTape() as tape:
            tape.watch(w)
            loss = rt.sum(rt.tanh(w * w))
        g = tape.gradient(loss, w)
    expected = 2 * np.array([1.0, 2.0]) * (1 - np.tanh(np.array([1.0, 4.0])) ** 2)
    np.testing.assert_allclose(np.asarray(g), expected)
    assert c.ops >= 3


def test_rt_function_inside_is_undisturbed(mode):
    f = rt.function(lambda a: rt.tanh(a * 2.0) + 1.0)
    x = rt.asarray(np.array([0.1, 0.2]))
    with OpCounter(lambda: None):
        out = f(x)
    np.testing.assert_allclose(np.asarray(out), np.tanh(np.array([0.2, 0.4])) + 1.0)


def test_errors_name_the_users_line(mode):
    a, b = rt.asarray(np.ones(4)), rt.asarray(np.ones(5))
    for bad in (lambda: a + b, lambda: rt.add(a, b), lambda: a @ b, lambda: rt.sum(a, axis=3)):
        with pytest.raises(Exception) as plain:
            bad()
        with OpCounter(lambda: None):
            with pytest.raises(Exception) as counted:
                bad()
        assert str(counted.value) == str(plain.value)
        assert "test_eager_counting.py" in str(counted.value)
