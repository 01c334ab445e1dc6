"""A compiled rt.function called while a GradientTape records is one op on the tape: its forward
and its backward both run compiled (no Python re-run), and gradients match eager ones."""
from __future__ import annotations

import numpy as np
import pytest

import runtime as rt

RNG = np.random.default_rng(0)
W = RNG.normal(size=(3, 4))
X = RNG.normal(size=(5, 3))


def layer(w, x):
    return rt.sum(rt.tanh(x @ w) ** 2)


def taped_grad(f, w, x):
    w = rt.asarray(w)
    with rt.GradientTape() as tape:
        tape.watch(w)
        loss = f(w, rt.asarray(x))
    return loss, tape.gradient(loss, w)


def test_after_the_first_call_neither_pass_runs_python():
    runs = []

    def body(w, x):
        runs.append(1)
        return layer(w, x)

    f = rt.function(body)
    loss0, g0 = taped_grad(layer, W, X)           # the eager oracle: every op on the tape
    for _ in range(3):
        loss, g = taped_grad(f, W, X)
        np.testing.assert_allclose(float(loss), float(loss0), rtol=1e-13)
        np.testing.assert_allclose(g.numpy(), g0.numpy(), rtol=1e-12, atol=1e-14)
    w = rt.asarray(W)
    with rt.GradientTape() as tape:
        tape.watch(w)
        rt.sum(f(w, rt.asarray(X)) * 2.0)
    assert tape.recorded_ops() == ["body (compiled)", "multiply", "sum"]
    # traced twice in all: the forward alone, then together with the backward (split into
    # the compiled forward and backward the tape uses); after that the Python body never runs
    assert len(runs) == 2 and f.trace_count == 1


def test_pytrees_statics_integer_inputs_and_unused_outputs():
    def model(p, x, n, scale=2.0):
        h = rt.tanh(x @ p["w"] + p["b"])
        return {"loss": rt.sum(h * h) * scale, "h": h, "count": rt.sum(n), "label": "ok"}

    f = rt.function(model, static_argnames=("scale",))
    p = {"w": rt.asarray(W), "b": rt.asarray(np.ones(4))}
    n = rt.asarray(np.arange(3))                  # an integer input: no gradient
    x = rt.asarray(X)
    for fn in (model, f):
        with rt.GradientTape(persistent=True) as tape:
            tape.watch([p["w"], p["b"]])
            out = fn(p, x, n, scale=3.0)
        assert out["label"] == "ok" and int(out["count"]) == 3
        grads = tape.gradient(out["loss"], p)
        gh = tape.gradient(out["h"], p["w"], output_gradients=rt.ones((5, 4)) * 0.5)
        if fn is model:
            want, want_h = grads, gh
    np.testing.assert_allclose(grads["w"].numpy(), want["w"].numpy(), rtol=1e-12)
    np.testing.assert_allclose(grads["b"].numpy(), want["b"].numpy(), rtol=1e-12)
    np.testing.assert_allclose(gh.numpy(), want_h.numpy(), rtol=1e-12)


def test_higher_order_gradients_through_a_compiled_function():
    cube_sin = rt.function(lambda x: rt.sum(x * x * x + rt.sin(x)))
    x = rt.asarray([0.3, -1.2])
    with rt.GradientTape() as outer:
        outer.watch(x)
        with rt.GradientTape() as inner:
            inner.watch(x)
            y = cube_sin(x)
        g = inner.gradient(y, x)
        s = rt.sum(g)
    xv = x.numpy()
    np.testing.assert_allclose(g.numpy(), 3 * xv ** 2 + np.cos(xv), rtol=1e-13)
    np.testing.assert_allclose(outer.gradient(s, x).numpy(), 6 * xv - np.sin(xv), rtol=1e-13)
    third = rt.grad(lambda v: rt.sum(rt.grad(lambda v: rt.sum(rt.grad(cube_sin)(v)))(v)))(x)
    np.testing.assert_allclose(third.numpy(), 6 - np.cos(xv), rtol=1e-12)


def test_gradients_match_finite_differences():
    f = rt.function(lambda w, x: rt.sum(rt.nn.softplus(x @ w) * rt.cos(w[0])))
    _, g = taped_grad(f, W, X)
    eps, fd = 1e-6, np.zeros_like(W)
    for i in np.ndindex(W.shape):
        d = np.zeros_like(W)
        d[i] = eps
        fd[i] = (float(f(W + d, X)) - float(f(W - d, X))) / (2 * eps)
    np.testing.assert_allclose(g.numpy(), fd, rtol=1e-6, atol=1e-9)


def test_random_and_printing_functions_run_as_python_on_the_tape(capsys):
    # recomputing them for the backward pass would draw new numbers, or print again
    noisy = rt.function(lambda w: rt.sum(w * rt.random.normal(size=w.shape)))
    printing = rt.function(lambda w: rt.print("w0 = {}", w[0, 0]) or rt.sum(w * w))
    w = rt.asarray(W)
    for _ in range(2):
        rt.random.seed(7)
        with rt.GradientTape() as tape:
            tape.watch(w)
            a = noisy(w)
        rt.random.seed(7)
        np.testing.assert_array_equal(tape.gradient(a, w).numpy(), rt.random.normal(size=W.shape).numpy())
        np.testing.assert_allclose(rt.grad(printing)(w).numpy(), 2 * W, rtol=1e-15)
    assert capsys.readouterr().out.count("w0 = ") == 2    # once per call: not recomputed


def test_donating_functions_run_as_python_on_the_tape():
    f = rt.function(lambda w, x: rt.sum(rt.tanh(x @ w) ** 2), donate_argnames=("w",))
    loss, g = taped_grad(f, W.copy(), X)
    _, want = taped_grad(layer, W, X)
    np.testing.assert_allclose(g.numpy(), want.numpy(), rtol=1e-12)


def test_an_error_in_the_function_is_the_same_on_a_tape():
    f = rt.function(lambda w, x: rt.sum(w @ x))     # (3, 4) @ (5, 3): shapes don't fit
    with pytest.raises(rt.RuntimeOpError, match="matmul") as plain:
        f(rt.asarray(W), rt.asarray(X))
    with rt.GradientTape() as tape:
        w = rt.asarray(W)
        tape.watch(w)
        with pytest.raises(rt.RuntimeOpError, match="matmul") as taped:
            f(w, rt.asarray(X))
    assert str(taped.value).split("\n")[0] == str(plain.value).split("\n")[0]


def test_a_call_on_values_no_tape_follows_is_a_plain_compiled_call():
    f = rt.function(lambda w, x: rt.sum(rt.tanh(x @ w)))
    w, x = rt.asarray(W), rt.asarray(X)
    with rt.GradientTape() as tape:
        tape.watch(w)
        const = f(rt.asarray(W * 2), x)           # not watched: a constant to the tape
        loss = f(w, x) + const
    assert not tape.tracks(const) and tape.tracks(loss)
    _, want = taped_grad(lambda w, x: rt.sum(rt.tanh(x @ w)), W, X)
    np.testing.assert_allclose(tape.gradient(loss, w).numpy(), want.numpy(), rtol=1e-12)


def test_training_with_a_compiled_loss_on_an_eager_tape_follows_the_eager_run():
    def loss_fn(p, x, y):
        h = rt.nn.relu(x @ p["w1"] + p["b1"])
        return rt.mean((h @ p["w2"] - y) ** 2)

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    start = {"w1": rng.normal(size=(3, 8)), "b1": np.zeros(8), "w2": rng.normal(size=(8, 1))}
    opt = rt.optim.sgd(0.05)
    runs = {}
    for name, fn in (("eager", loss_fn), ("compiled", rt.function(loss_fn))):
        p = {k: rt.asarray(v) for k, v in start.items()}
        losses = []
        for _ in range(20):
            loss, g = rt.value_and_grad(fn)(p, x, y)
            p = opt.step(p, g, None)[0]
            losses.append(float(loss))
        runs[name] = (losses, p)
    assert runs["eager"][0][-1] < 0.5 * runs["eager"][0][0]
    np.testing.assert_allclose(runs["compiled"][0], runs["eager"][0], rtol=1e-10)
    for k in start:
        np.testing.assert_allclose(runs["compiled"][1][k].numpy(), runs["eager"][1][k].numpy(), rtol=1e-9)


def test_a_gradient_that_cannot_be_traced_runs_the_python_function_on_the_tape():
    # a while loop whose trip count depends on the data compiles (forward), but has no traced
    # gradient (LoopGradientError under rt.function(rt.grad(...))); on an eager tape it runs as
    # Python, where the loop is an ordinary loop
    @rt.function
    def doubled_until_big(w):
        while rt.sum(w) < 10.0:
            w = w * 2.0
        return rt.sum(w)

    w = rt.asarray([1.0, 2.0])
    np.testing.assert_allclose(float(doubled_until_big(w)), 12.0)
    with rt.GradientTape() as tape:
        tape.watch(w)
        loss = doubled_until_big(w)
    np.testing.assert_allclose(tape.gradient(loss, w).numpy(), [4.0, 4.0])
    np.testing.assert_allclose(rt.grad(doubled_until_big)(w).numpy(), [4.0, 4.0])
