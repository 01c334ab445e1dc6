"""GradientTape, grad, value_and_grad, vjp: behaviour users rely on, eagerly and compiled."""
from __future__ import annotations

import warnings

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import runtime as rt

RNG = np.random.default_rng(0)
W = RNG.normal(size=(3, 2))
X = RNG.normal(size=(5, 3))
Y = RNG.normal(size=(5, 2))


def loss_fn(w, x, y):
    return rt.mean((rt.matmul(x, w) - y) ** 2)


def loss_np(w, x, y):
    return anp.mean((anp.dot(x, w) - y) ** 2)


def test_issue_example_tape_grad_value_and_grad_and_compiled_train_step():
    w, x, y = rt.asarray(W), rt.asarray(X), rt.asarray(Y)
    expected = autograd.grad(loss_np)(W, X, Y)
    with rt.GradientTape() as tape:
        tape.watch(w)
        loss = loss_fn(w, x, y)
    np.testing.assert_allclose(tape.gradient(loss, w).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(rt.grad(loss_fn)(w, x, y).numpy(), expected, rtol=1e-12)
    value, (g,) = rt.value_and_grad(loss_fn, argnums=(0,))(w, x, y)
    assert float(value) == pytest.approx(loss_np(W, X, Y))
    np.testing.assert_allclose(g.numpy(), expected, rtol=1e-12)

    @rt.function
    def train_step(w, x, y):
        loss, g = rt.value_and_grad(loss_fn)(w, x, y)
        return w - 0.1 * g, loss

    w2, loss2 = train_step(w, x, y)
    np.testing.assert_allclose(w2.numpy(), W - 0.1 * expected, rtol=1e-12)
    assert float(loss2) == pytest.approx(loss_np(W, X, Y))
    graph = train_step.graph_for(w, x, y)
    ops = graph.op_counts()
    assert ops.get("matmul", 0) >= 2, f"forward and backward matmuls are in one graph:\n{graph}"


def test_tape_sources_as_list_and_dict_and_persistent():
    a, b = rt.asarray([1.0, 2.0]), rt.asarray([3.0, -1.0])
    with rt.GradientTape(persistent=True) as tape:
        tape.watch([a, b])
        z = rt.sum(a * b + a * a)
    ga, gb = tape.gradient(z, [a, b])
    np.testing.assert_allclose(ga.numpy(), [5.0, 3.0])
    np.testing.assert_allclose(gb.numpy(), [1.0, 2.0])
    d = tape.gradient(z, {"first": a, "nested": [b]})
    assert set(d) == {"first", "nested"} and isinstance(d["nested"], list)
    np.testing.assert_allclose(d["nested"][0].numpy(), [1.0, 2.0])


def test_non_persistent_tape_refuses_second_gradient():
    a = rt.asarray([1.0])
    with rt.GradientTape() as tape:
        tape.watch(a)
        z = rt.sum(a * 3.0)
    tape.gradient(z, a)
    with pytest.raises(RuntimeError, match="persistent=True"):
        tape.gradient(z, a)


def test_output_gradients_weigh_a_non_scalar_target():
    a = rt.asarray([1.0, 2.0, 3.0])
    with rt.GradientTape(persistent=True) as tape:
        tape.watch(a)
        y = a * a
    np.testing.assert_allclose(tape.gradient(y, a).numpy(), [2.0, 4.0, 6.0])  # as if summed
    w = rt.asarray([1.0, 0.0, -2.0])
    np.testing.assert_allclose(tape.gradient(y, a, output_gradients=w).numpy(), [2.0, 0.0, -12.0])


def test_gradient_with_respect_to_an_intermediate():
    a = rt.asarray([1.0, 2.0])
    with rt.GradientTape() as tape:
        tape.watch(a)
        h = rt.exp(a)
        z = rt.sum(h * h)
    np.testing.assert_allclose(tape.gradient(z, h).numpy(), 2 * np.exp([1.0, 2.0]))


def test_unconnected_gradients_none_or_zero():
    a, b = rt.asarray([1.0, 2.0]), rt.asarray([5.0])
    with rt.GradientTape(persistent=True) as tape:
        tape.watch([a, b])
        z = rt.sum(a)
    assert tape.gradient(z, [a, b])[1] is None
    assert "does not depend" in tape.explain_none()
    zb = tape.gradient(z, [a, b], unconnected_gradients="zero")[1]
    assert zb.shape == (1,) and float(zb[0]) == 0.0
    with pytest.raises(ValueError, match="'none' or 'zero'"):
        tape.gradient(z, a, unconnected_gradients="zeros")


def test_none_gradient_explains_unwatched_source():
    a = rt.asarray([1.0, 2.0])
    with rt.GradientTape() as tape:
        z = rt.sum(a * a)
    with pytest.warns(rt.NoneGradientWarning, match=r"never watched: call tape.watch"):
        assert tape.gradient(z, a) is None
    assert "never watched" in tape.explain_none()


@pytest.mark.parametrize("cut", ["numpy", "float", "item", "asarray"])
def test_none_gradient_names_where_the_path_was_cut(cut):
    a = rt.asarray([1.0, 2.0])
    with rt.GradientTape() as tape:
        tape.watch(a)
        s = rt.sum(a * a)
        if cut == "numpy":
            c = s.numpy() * 2.0
        elif cut == "float":
            c = float(s) * 2.0
        elif cut == "item":
            c = s.item() * 2.0
        else:
            c = np.asarray(s) * 2.0
        z = rt.asarray(c) * rt.asarray(3.0)
    with pytest.warns(rt.NoneGradientWarning) as rec:
        assert tape.gradient(z, a) is None
    text = str(rec[0].message)
    how = {"numpy": ".numpy()", "float": "float()", "item": ".item()", "asarray": "np.asarray"}[cut]
    assert how in text and "test_api.py" in text, text        # what cut it, and on which line
    assert "constant" in text


def test_integer_results_and_sources_are_not_differentiable():
    a = rt.asarray([1.0, 3.0, 2.0])
    with rt.GradientTape(persistent=True) as tape:
        tape.watch(a)
        i = rt.argmax(a)
        n = rt.astype(a * 2.0, rt.int64)
    with pytest.raises(rt.NotDifferentiableError, match="integer and boolean"):
        tape.gradient(n, a)
    assert tape.gradient(i, a) is None          # nondiff ops are never recorded: no path
    with pytest.raises(rt.NotDifferentiableError, match="not differentiable"):
        rt.grad(lambda x: rt.sum(x > 1.0))(a)
    with pytest.raises(rt.NotDifferentiableError, match="floating-point"):
        rt.grad(lambda k: rt.sum(k * 2.0))(rt.asarray([1, 2]))
    k = rt.asarray([1, 2])
    with rt.GradientTape() as tape:
        tape.watch(k)
        z = rt.sum(k * 2.0)
    with pytest.raises(rt.NotDifferentiableError, match="source"):
        tape.gradient(z, k)


def test_cast_to_int_on_the_path_gives_no_gradient_through_it():
    a = rt.asarray([1.4, 2.6])
    g = rt.grad(lambda x: rt.sum(rt.astype(rt.astype(x, rt.int64), rt.float64) * x))(a)
    np.testing.assert_allclose(g.numpy(), [1.0, 2.0])        # only the direct use of x counts


def test_value_and_grad_argnums_has_aux_and_pytrees():
    params = {"w": rt.asarray(W), "b": rt.asarray(np.zeros(2))}
    x, y = rt.asarray(X), rt.asarray(Y)

    def model_loss(p, x, y):
        pred = rt.matmul(x, p["w"]) + p["b"]
        return rt.mean((pred - y) ** 2), pred

    (value, pred), grads = rt.value_and_grad(model_loss, has_aux=True)(params, x, y)
    assert set(grads) == {"w", "b"} and pred.shape == (5, 2)
    ew = autograd.grad(lambda w, b: anp.mean((anp.dot(X, w) + b - Y) ** 2), (0, 1))(W, np.zeros(2))
    np.testing.assert_allclose(grads["w"].numpy(), ew[0], rtol=1e-12)
    np.testing.assert_allclose(grads["b"].numpy(), ew[1], rtol=1e-12)
    gx, gy = rt.grad(lambda p, x, y: model_loss(p, x, y)[0], argnums=(1, 2))(params, x, y)
    assert gx.shape == (5, 3) and gy.shape == (5, 2)
    g, aux = rt.grad(model_loss, has_aux=True)(params, x, y)
    assert aux.shape == (5, 2) and set(g) == {"w", "b"}
    # the same inside rt.function
    step = rt.function(lambda p, x, y: rt.value_and_grad(model_loss, has_aux=True)(p, x, y))
    (v2, _), g2 = step(params, x, y)
    np.testing.assert_allclose(g2["w"].numpy(), ew[0], rtol=1e-12)
    assert float(v2) == pytest.approx(float(value))


def test_grad_of_a_function_that_ignores_its_argument_is_zero():
    g = rt.grad(lambda x: rt.sum(rt.asarray([1.0, 2.0])))(rt.asarray([3.0, 4.0]))
    np.testing.assert_allclose(g.numpy(), [0.0, 0.0])


def test_grad_needs_a_scalar_result():
    with pytest.raises(TypeError, match="scalar"):
        rt.grad(lambda x: x * 2.0)(rt.asarray([1.0, 2.0]))


def test_closure_over_the_differentiated_tensor_stays_constant():
    w = rt.asarray([1.0, 2.0])
    np.testing.assert_allclose(rt.grad(lambda v: rt.sum(v * w))(w).numpy(), [1.0, 2.0])
    np.testing.assert_allclose(rt.grad(lambda v, u: rt.sum(v * u), argnums=(0, 1))(w, w)[1].numpy(),
                               [1.0, 2.0])


def test_vjp_with_non_scalar_and_multiple_outputs():
    a = rt.asarray(RNG.normal(size=(2, 3)))
    out, back = rt.vjp(lambda x: [rt.sin(x), rt.sum(x, axis=0)], a)
    ct = [rt.asarray(np.ones((2, 3))), rt.asarray(np.array([1.0, 2.0, 3.0]))]
    (g,) = back(ct)
    np.testing.assert_allclose(g.numpy(), np.cos(a.numpy()) + np.array([1.0, 2.0, 3.0]))
    (g2,) = back(ct)                    # callable again
    np.testing.assert_allclose(g2.numpy(), g.numpy())
    with pytest.raises(ValueError, match="structure"):
        back(ct[0])
    out, back, aux = rt.vjp(lambda x: (x * 2.0, "aux"), a, has_aux=True)
    assert aux == "aux"


def test_tape_and_functional_gradients_agree_eager_and_compiled():
    params = [rt.asarray(RNG.normal(size=(4, 3))), rt.asarray(RNG.normal(size=(3,)))]
    x = rt.asarray(RNG.normal(size=(6, 4)))

    def f(p, x):
        return rt.sum(rt.tanh(rt.matmul(x, p[0]) + p[1]) ** 2) / 6.0

    with rt.GradientTape() as tape:
        tape.watch(params)
        loss = f(params, x)
    tape_g = tape.gradient(loss, params)
    fun_g = rt.grad(f)(params, x)
    comp_g = rt.function(rt.grad(f))(params, x)

    def taped(p, x):
        with rt.GradientTape() as t:
            t.watch(p)
            z = f(p, x)
        return t.gradient(z, p)

    comp_tape_g = rt.function(taped)(params, x)
    for a, b, c, d in zip(tape_g, fun_g, comp_g, comp_tape_g):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
        np.testing.assert_allclose(a.numpy(), c.numpy(), rtol=1e-12)
        np.testing.assert_allclose(a.numpy(), d.numpy(), rtol=1e-12)


def test_float32_gradients_stay_float32():
    w = rt.asarray(W.astype(np.float32))
    x = rt.asarray(X.astype(np.float32))
    g = rt.grad(lambda w: rt.mean(rt.tanh(rt.matmul(x, w)) ** 2 + rt.sum(w) * 0.5))(w)
    assert g.dtype == np.float32
    g64 = rt.grad(lambda w: rt.sum(w * rt.asarray(np.ones(2))))(w)   # promoted to f64 inside
    assert g64.dtype == np.float32


def test_stop_recording_and_tape_inside_with_block():
    a = rt.asarray([2.0])
    with rt.GradientTape(persistent=True) as tape:
        tape.watch(a)
        with tape.stop_recording():
            c = a * 10.0
        z = rt.sum(a * c)
        g_inside = tape.gradient(z, a)            # computing inside the block: not recorded
        n_before = len(tape._records)
        z2 = rt.sum(a * 1.0)
        assert len(tape._records) == n_before + 2
    np.testing.assert_allclose(g_inside.numpy(), [20.0])
    np.testing.assert_allclose(tape.gradient(z2, a).numpy(), [1.0])


def test_second_order_with_persistent_outer_tape_and_rt_function():
    def hess_diag(x):
        with rt.GradientTape() as outer:
            outer.watch(x)
            with rt.GradientTape() as inner:
                inner.watch(x)
                y = rt.sum(rt.sin(x) * x)
            g = inner.gradient(y, x)
            s = rt.sum(g)
        return outer.gradient(s, x)

    x = rt.asarray([0.3, 1.1])
    expected = 2 * np.cos(x.numpy()) - x.numpy() * np.sin(x.numpy())
    np.testing.assert_allclose(hess_diag(x).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(rt.function(hess_diag)(x).numpy(), expected, rtol=1e-12)
    third = rt.grad(lambda x: rt.sum(rt.grad(lambda x: rt.sum(rt.grad(lambda x: rt.sum(x ** 4.0))(x)))(x)))(x)
    np.testing.assert_allclose(third.numpy(), 24 * x.numpy(), rtol=1e-10)


def test_watch_rejects_non_tensors():
    with rt.GradientTape() as tape:
        with pytest.raises(TypeError, match="rt.asarray"):
            tape.watch(np.ones(2))


# -- property: random elementwise programs, tape vs autograd ----------------------------------
_UNARY = [("tanh", rt.tanh, anp.tanh), ("sin", rt.sin, anp.sin), ("exp", lambda x: rt.exp(x * 0.1),
          lambda x: anp.exp(x * 0.1)), ("sq", lambda x: x * x, lambda x: x * x)]
_BINARY = [("add", lambda a, b: a + b, lambda a, b: a + b), ("mul", lambda a, b: a * b, lambda a, b: a * b),
           ("sub", lambda a, b: a - b, lambda a, b: a - b)]


@settings(max_examples=40)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 10), st.integers(0, 10)),
                min_size=1, max_size=12),
       st.sampled_from(["eager", "compiled", "no-passes", "compiled forward on an eager tape"]))
def test_random_programs_match_autograd(program, mode):
    x0 = np.array([0.3, -0.7, 1.1])

    def run(x, un, bi, total):
        vals = [x]
        for k, i, j in program:
            a, b = vals[i % len(vals)], vals[j % len(vals)]
            if k < len(_UNARY):
                vals.append(un[k](a))
            else:
                vals.append(bi[k - len(_UNARY)](a, b))
        return total(vals[-1])

    ours = rt.grad(lambda x: run(x, [u[1] for u in _UNARY], [b[1] for b in _BINARY], rt.sum))
    if mode == "compiled forward on an eager tape":     # one recorded op, a compiled backward
        ours = rt.grad(rt.function(lambda x: run(x, [u[1] for u in _UNARY], [b[1] for b in _BINARY], rt.sum)))
    elif mode != "eager":
        ours = rt.function(ours, passes=() if mode == "no-passes" else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = autograd.grad(lambda x: run(x, [u[2] for u in _UNARY], [b[2] for b in _BINARY], anp.sum))(x0)
    np.testing.assert_allclose(ours(rt.asarray(x0)).numpy(), theirs, rtol=1e-10, atol=1e-12)


def test_explain_none_names_ops_without_gradient_on_the_path():
    a = rt.asarray([1.0, 3.0, 2.0])
    with rt.GradientTape() as tape:
        tape.watch(a)
        k = rt.astype(rt.argmax(a), rt.float64) * 2.0
    assert tape.gradient(k, a) is None
    text = tape.explain_none()
    assert "argmax" in text and "no gradient" in text, text


def test_compiled_function_called_under_a_tape_is_differentiated():
    f = rt.function(lambda v: rt.tanh(v) * 2.0)
    x = rt.asarray([0.1, -0.4])
    f(x)                                            # compiled and cached first
    with rt.GradientTape() as tape:
        tape.watch(x)
        y = rt.sum(f(x))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), 2 * (1 - np.tanh(x.numpy()) ** 2))
    np.testing.assert_allclose(rt.grad(lambda v: rt.sum(f(v)))(x).numpy(),
                               2 * (1 - np.tanh(x.numpy()) ** 2))


def test_python_float_target_gets_a_warning_naming_it():
    a = rt.asarray([1.0, 2.0])
    with rt.GradientTape() as tape:
        tape.watch(a)
        loss = float(rt.sum(a * a)) * 0.5
    with pytest.warns(rt.NoneGradientWarning, match=r"target \(float\)[\s\S]*float\(\)"):
        assert tape.gradient(loss, a) is None


def test_non_persistent_gradient_inside_the_with_block_then_more_ops():
    a = rt.asarray([1.0, 2.0])
    with rt.GradientTape() as tape:
        tape.watch(a)
        z = rt.sum(a * a)
        g = tape.gradient(z, a)
        more = rt.sum(a * 3.0)           # still inside: must not fail, nothing is recorded
        with pytest.raises(RuntimeError, match="new tape"):
            tape.watch(a)
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
    assert float(more) == 9.0


def test_vjp_passes_integer_primals_through_with_none_cotangent():
    x = rt.asarray([1.0, 2.0, 3.0])
    idx = rt.asarray([2, 0])
    out, back = rt.vjp(lambda x, i: x[i] * 2.0, x, idx)
    gx, gi = back(rt.asarray([1.0, 10.0]))
    assert gi is None
    np.testing.assert_allclose(gx.numpy(), [20.0, 0.0, 2.0])
    out, back = rt.vjp(lambda x: (x * 3.0, rt.argmax(x)), x)     # an integer output: no cotangent
    (g,) = back((rt.ones(3), rt.asarray(0)))
    np.testing.assert_allclose(g.numpy(), [3.0, 3.0, 3.0])


@settings(max_examples=40)
@given(st.lists(st.integers(1, 3), min_size=0, max_size=3), st.data(),
       st.sampled_from(["add", "multiply", "divide", "maximum", "subtract"]),
       st.sampled_from([np.float32, np.float64]))
def test_broadcasting_gradients_sum_back_to_each_input_shape(shape, data, name, dtype):
    # each input keeps a random subset of the output's axes (as size 1 or dropped in front)
    def sub(shape):
        keep = data.draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
        s = [d if k else 1 for d, k in zip(shape, keep)]
        drop = data.draw(st.integers(0, len(s)))
        return tuple(s[drop:])
    sa, sb = sub(shape), sub(shape)
    rng = np.random.default_rng(len(shape))
    a = rng.uniform(0.5, 1.5, sa).astype(dtype)
    b = (rng.uniform(0.5, 1.5, sb) + 0.03).astype(dtype)
    fn = getattr(rt, name)
    ga, gb = rt.grad(lambda a, b: rt.sum(fn(a, b) * 1.5), argnums=(0, 1))(rt.asarray(a), rt.asarray(b))
    agf = getattr(anp, name)
    ea, eb = autograd.grad(lambda a, b: anp.sum(agf(a, b) * 1.5), (0, 1))(a.astype(np.float64),
                                                                           b.astype(np.float64))
    assert ga.shape == sa and gb.shape == sb and ga.dtype == dtype and gb.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(ga.numpy(), ea, rtol=tol, atol=tol)
    np.testing.assert_allclose(gb.numpy(), eb, rtol=tol, atol=tol)


def test_grad_warns_when_the_path_is_cut_by_numpy():
    x = rt.asarray([1.0, 2.0])
    with pytest.warns(rt.NoneGradientWarning, match=r"\.numpy\(\)[\s\S]*test_api\.py"):
        g = rt.grad(lambda v: rt.sum(rt.asarray(v.numpy()) * 2.0))(x)
    np.testing.assert_allclose(g.numpy(), [0.0, 0.0])
    with warnings.catch_warnings():           # logging a value is fine when the path is intact
        warnings.simplefilter("error")
        rt.grad(lambda v: rt.sum(v * v) + 0.0 * float(rt.sum(v)))(x)
