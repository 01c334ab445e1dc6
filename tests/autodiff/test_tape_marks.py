"""How a tape knows what depends on its watched tensors: a mark in each tracked tensor's `_tm`
slot (ids only for what cannot carry it), and cotangents kept in that slot during an eager
backward pass. These tests pin the cases where a mark could say the wrong thing: tapes one after
another, nested tapes tracking the same tensors, persistent tapes re-entered, tensors that
outlive their tape, pauses, resets, a backward pass that fails halfway. Oracles: HIPS autograd.
"""
from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import runtime as rt
from runtime import core
from runtime.core import Op

X0 = np.linspace(-0.8, 0.9, 5)
W0 = np.linspace(0.3, 1.1, 5)
C0 = np.linspace(1.5, 0.5, 5)


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), b, rtol=1e-10, atol=1e-12)


# -- random programs: fan-out, reuse (x * x), constants made on the way ---------------------------
# each step: (runtime, autograd) functions of two earlier values a, b
_STEPS = [
    (lambda a, b: rt.tanh(a * b), lambda a, b: anp.tanh(a * b)),
    (lambda a, b: a + b, lambda a, b: a + b),
    (lambda a, b: a - b, lambda a, b: a - b),
    (lambda a, b: a * a, lambda a, b: a * a),
    (lambda a, b: rt.exp(rt.tanh(b)), lambda a, b: anp.exp(anp.tanh(b))),
    (lambda a, b: 2.0 - a * 0.5, lambda a, b: 2.0 - a * 0.5),
    (lambda a, b: rt.asarray(C0) * a, lambda a, b: C0 * a),      # a tensor no tape has met
    (lambda a, b: rt.multiply(b, rt.tanh(a)), lambda a, b: b * anp.tanh(a)),
    (lambda a, b: rt.sum(a * b, axis=0) + b, lambda a, b: anp.sum(a * b, axis=0) + b),  # params
]


def _program(steps, which):
    def run(x, w, c):
        vals = [x, w, c]
        for k, i, j in steps:
            vals.append(_STEPS[k][which](vals[i % len(vals)], vals[j % len(vals)]))
        return vals[-1] + vals[-2] * 0.5
    return run


_step = st.tuples(st.integers(0, len(_STEPS) - 1), st.integers(0, 40), st.integers(0, 40))


@pytest.mark.filterwarnings("ignore:Output seems independent of input")
@settings(max_examples=50, deadline=None)
@given(st.lists(_step, min_size=1, max_size=10))
def test_random_programs_give_autograds_gradients_for_all_or_some_watched(steps):
    x, w, c = rt.asarray(X0), rt.asarray(W0), rt.asarray(C0)
    with rt.GradientTape(persistent=True) as tape:
        tape.watch([x, w])
        y = _program(steps, 0)(x, w, c)
    ex, ew = autograd.grad(lambda a, b: anp.sum(_program(steps, 1)(a, b, C0)), argnum=(0, 1))(X0, W0)
    close(y.numpy(), _program(steps, 1)(X0, W0, C0))
    for _ in range(2):                       # persistent: the same answer twice
        gx, gw = tape.gradient(y, [x, w], unconnected_gradients="zero")   # every watched: fast
        close(gx.numpy(), ex)
        close(gw.numpy(), ew)
    gx = tape.gradient(y, x, unconnected_gradients="zero")   # some of the watched: general path
    close(gx.numpy(), ex)
    gw, gx = tape.gradient(y, {"w": w, "x": x}, unconnected_gradients="zero").values()
    close(gx.numpy(), ex)
    close(gw.numpy(), ew)


# -- tapes one after another -----------------------------------------------------------------------

def test_a_tensor_from_an_earlier_tape_is_a_constant_to_the_next_one():
    x, w = rt.asarray(X0), rt.asarray(W0)
    with rt.GradientTape() as first:
        first.watch(x)
        h = rt.tanh(x) * 2.0                 # carries the first tape's mark
    with rt.GradientTape() as second:
        second.watch(w)
        y = h * w + rt.exp(h)
    assert len(second._records) == 2          # h * w and the sum: exp(h) does not depend on w
    close(second.gradient(y, w).numpy(), np.tanh(X0) * 2.0)
    close(first.gradient(h, x).numpy(), 2.0 * (1 - np.tanh(X0) ** 2))


def test_a_tensor_that_outlived_its_tape_can_be_watched_by_the_next():
    x = rt.asarray(X0)
    with rt.GradientTape() as first:
        first.watch(x)
        h = rt.tanh(x)
    first.gradient(h, x)                      # used up: its mark is gone for good
    with rt.GradientTape() as second:
        second.watch(h)
        y = h * h * x
    close(second.gradient(y, h).numpy(), 2 * np.tanh(X0) * X0)
    with rt.GradientTape() as third:          # h unwatched here: nothing is recorded
        y = h * x
    assert third._records == []
    with pytest.warns(rt.NoneGradientWarning, match="never watched"):
        assert third.gradient(y, h) is None


# -- nested tapes tracking the same tensors --------------------------------------------------------

def test_outer_tape_keeps_following_values_the_inner_tape_marked_over():
    x = rt.asarray(X0)

    def f(v, tanh):
        y = tanh(v) * v                     # inside the inner tape
        return y * y + v * 3.0              # after it, outer alone (the inline route again)

    with rt.GradientTape() as outer:
        outer.watch(x)
        with rt.GradientTape() as inner:
            inner.watch(x)                  # x now carries the inner tape's mark
            y = rt.tanh(x) * x
        z = y * y + x * 3.0
    close(inner.gradient(y, x).numpy(), autograd.elementwise_grad(lambda v: anp.tanh(v) * v)(X0))
    close(outer.gradient(z, x).numpy(), autograd.elementwise_grad(lambda v: f(v, anp.tanh))(X0))


def test_second_derivative_through_nested_tapes_matches_autograd():
    x = rt.asarray(X0)
    with rt.GradientTape() as outer:
        outer.watch(x)
        with rt.GradientTape() as inner:
            inner.watch(x)
            y = rt.exp(rt.tanh(x)) * x
        g = inner.gradient(y, x)
        h = g * g                            # outer records the gradient, then this, inline
    f = lambda v: anp.exp(anp.tanh(v)) * v  # noqa: E731
    d1 = autograd.elementwise_grad(f)
    close(g.numpy(), d1(X0))
    close(outer.gradient(h, x).numpy(), autograd.elementwise_grad(lambda v: d1(v) ** 2)(X0))


def test_a_persistent_tape_reentered_after_another_tape_watched_its_tensor():
    x = rt.asarray(X0)
    first = rt.GradientTape(persistent=True)
    with first:
        first.watch(x)
        a = x * 2.0
    with rt.GradientTape() as second:
        second.watch(x)                      # replaces first's mark on x
        s = rt.tanh(x)
    with first:
        b = a * x + rt.tanh(x)              # first still tracks x (by id) and a (by mark)
    close(first.gradient(b, x).numpy(), 4 * X0 + 1 - np.tanh(X0) ** 2)
    close(second.gradient(s, x).numpy(), 1 - np.tanh(X0) ** 2)
    close(first.gradient(a, x).numpy(), np.full(5, 2.0))


# -- pauses, resets, late watches, sources that are not the watched ---------------------------------

def test_gradient_while_paused_then_recording_resumes():
    x = rt.asarray(X0)
    with rt.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = rt.tanh(x)
        with tape.stop_recording():
            g = tape.gradient(y, x)
            const = y * 4.0                   # not recorded
        z = y * const
    close(g.numpy(), 1 - np.tanh(X0) ** 2)
    close(tape.gradient(z, x).numpy(), 4 * np.tanh(X0) * (1 - np.tanh(X0) ** 2))


def test_reset_forgets_what_was_tracked():
    x = rt.asarray(X0)
    with rt.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * 3.0
        tape.reset()
        z = y * x                            # neither is tracked any more
    with pytest.warns(rt.NoneGradientWarning, match="never watched"):
        assert tape.gradient(z, x) is None
    assert not tape.tracks(x) and not tape.tracks(y)


def test_gradient_for_an_intermediate_and_a_value_watched_late():
    x = rt.asarray(X0)
    with rt.GradientTape(persistent=True) as tape:
        tape.watch(x)
        h = rt.tanh(x)
        tape.watch(h)                        # already computed on the tape
        y = h * h * x
    gx, gh = tape.gradient(y, [x, h])
    t = np.tanh(X0)
    close(gh.numpy(), 2 * t * X0)
    close(gx.numpy(), t * t + 2 * t * X0 * (1 - t * t))
    gh2 = tape.gradient(y, h)
    close(gh2.numpy(), 2 * t * X0)


def test_same_tensor_on_both_sides_and_as_two_sources():
    x = rt.asarray(X0)
    with rt.GradientTape() as tape:
        tape.watch(x)
        y = x * x + x
    g1, g2 = tape.gradient(y, [x, x])
    close(g1.numpy(), 2 * X0 + 1)
    close(g2.numpy(), 2 * X0 + 1)


# -- a backward pass that fails halfway leaves no cotangent behind --------------------------------

def _failing_op():
    def rule(g, out, x):
        if np.any(np.asarray(x) > 100):
            raise FloatingPointError("this rule refuses inputs above 100")
        return g * 3.0
    return Op("triple_checked", lambda x: x * 3.0, lambda x: (x.shape, x.dtype), vjp=(rule,),
              elementwise=True)


def test_a_failed_backward_pass_leaves_the_tape_usable():
    op = _failing_op()
    x, big = rt.asarray(X0), rt.asarray(X0 + 200.0)
    with rt.GradientTape(persistent=True) as tape:
        tape.watch([x, big])
        ok = rt.tanh(x) * 2.0
        sq = ok * ok
        bad = core.bind1(op, big * x)
        y = ok + bad
    with pytest.raises(FloatingPointError):
        tape.gradient(y, [x, big])
    assert tape.tracks(ok) and tape.tracks(x)        # marks are back in place
    close(tape.gradient(ok, [x, big], unconnected_gradients="zero")[0].numpy(),
          2 * (1 - np.tanh(X0) ** 2))
    close(tape.gradient(sq, [x, big])[0].numpy(),
          8 * np.tanh(X0) * (1 - np.tanh(X0) ** 2))
