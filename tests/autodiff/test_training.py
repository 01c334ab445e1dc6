"""Training end to end: an MLP trained eagerly and compiled reaches the same loss as a hand-written
NumPy loop, and the functional optimizers match their textbook update rules."""
from __future__ import annotations

import numpy as np
import pytest

import runtime as rt

STEPS = 300


def make_data(seed=0, n=64, d=8, classes=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    teacher = rng.normal(size=(d, classes))
    labels = np.argmax(x @ teacher + 0.3 * rng.normal(size=(n, classes)), axis=1)
    return x, np.eye(classes)[labels]


def init_params(seed=1, d=8, h=16, classes=3):
    rng = np.random.default_rng(seed)
    return {"w1": rng.normal(size=(d, h)) / np.sqrt(d), "b1": np.zeros(h),
            "w2": rng.normal(size=(h, classes)) / np.sqrt(h), "b2": np.zeros(classes)}


def loss_fn(p, x, y):
    h = rt.nn.relu(rt.matmul(x, p["w1"]) + p["b1"])
    logits = rt.matmul(h, p["w2"]) + p["b2"]
    return -rt.mean(rt.sum(y * rt.nn.log_softmax(logits), axis=-1))


def numpy_training(params, x, y, lr, steps):
    """The oracle: forward and backward written out by hand, plain SGD."""
    p = {k: v.copy() for k, v in params.items()}
    losses = []
    for _ in range(steps):
        z1 = x @ p["w1"] + p["b1"]
        h = np.maximum(z1, 0.0)
        logits = h @ p["w2"] + p["b2"]
        shifted = logits - logits.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        losses.append(-np.mean(np.sum(y * logp, axis=1)))
        dlogits = (np.exp(logp) - y) / len(x)
        dw2, db2 = h.T @ dlogits, dlogits.sum(0)
        dz1 = (dlogits @ p["w2"].T) * (z1 > 0)
        dw1, db1 = x.T @ dz1, dz1.sum(0)
        for k, g in (("w1", dw1), ("b1", db1), ("w2", dw2), ("b2", db2)):
            p[k] = p[k] - lr * g
    return losses


def rt_training(params, x, y, opt, steps, compiled):
    def step(p, state, x, y):
        loss, g = rt.value_and_grad(loss_fn)(p, x, y)
        p, state = opt.step(p, g, state)
        return p, state, loss

    if compiled == ():        # compiled with no optimization pass
        fn = rt.function(step, passes=())
    else:
        fn = rt.function(step) if compiled else step
    p = {k: rt.asarray(v) for k, v in params.items()}
    state = opt.init(p)
    xt, yt = rt.asarray(x), rt.asarray(y)
    losses = []
    for _ in range(steps):
        p, state, loss = fn(p, state, xt, yt)
        losses.append(float(loss))
    return losses, fn


def test_mlp_eager_and_compiled_reach_the_numpy_loss():
    x, y = make_data()
    params = init_params()
    ref = numpy_training(params, x, y, 0.5, STEPS)
    eager, _ = rt_training(params, x, y, rt.optim.sgd(0.5), STEPS, compiled=False)
    compiled, fn = rt_training(params, x, y, rt.optim.sgd(0.5), STEPS, compiled=True)
    unoptimized, _ = rt_training(params, x, y, rt.optim.sgd(0.5), 20, compiled=())
    assert ref[-1] < 0.5 * ref[0]                          # it learns
    np.testing.assert_allclose(eager, ref, rtol=1e-9)      # every step, not just the last
    np.testing.assert_allclose(compiled, ref, rtol=1e-9)
    np.testing.assert_allclose(unoptimized, ref[:20], rtol=1e-9)     # every pass switched off
    assert fn.trace_count == 1, fn.explain()               # params/state as inputs: no retrace


@pytest.mark.parametrize("make", [lambda: rt.optim.momentum(0.1, 0.9),
                                  lambda: rt.optim.momentum(0.1, 0.9, nesterov=True),
                                  lambda: rt.optim.adam(0.02)], ids=["momentum", "nesterov", "adam"])
def test_mlp_with_momentum_and_adam_learns_the_same_eager_and_compiled(make):
    x, y = make_data(seed=3)
    params = init_params(seed=4)
    eager, _ = rt_training(params, x, y, make(), 150, compiled=False)
    compiled, fn = rt_training(params, x, y, make(), 150, compiled=True)
    assert eager[-1] < 0.5 * eager[0]
    np.testing.assert_allclose(compiled, eager, rtol=1e-9)
    assert fn.trace_count == 1


def test_float32_training_step_compiled_matches_eager():
    x, y = make_data(seed=5)
    params = {k: v.astype(np.float32) for k, v in init_params(seed=6).items()}
    x, y = x.astype(np.float32), y.astype(np.float32)
    eager, _ = rt_training(params, x, y, rt.optim.adam(0.01), 50, compiled=False)
    compiled, _ = rt_training(params, x, y, rt.optim.adam(0.01), 50, compiled=True)
    np.testing.assert_allclose(compiled, eager, rtol=1e-4)
    assert eager[-1] < eager[0]


def _reference_updates(kind, p, grads, steps, lr, beta=0.9, b1=0.9, b2=0.999, eps=1e-8):
    v = np.zeros_like(p)
    m = np.zeros_like(p)
    s = np.zeros_like(p)
    for t, g in enumerate(grads[:steps], start=1):
        if kind == "sgd":
            p = p - lr * g
        elif kind == "momentum":
            v = beta * v + g
            p = p - lr * v
        elif kind == "nesterov":
            v = beta * v + g
            p = p - lr * (g + beta * v)
        else:
            m = b1 * m + (1 - b1) * g
            s = b2 * s + (1 - b2) * g * g
            p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(s / (1 - b2 ** t)) + eps)
    return p


@pytest.mark.parametrize("kind", ["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("compiled", [False, True])
def test_optimizers_follow_their_update_rules(kind, compiled):
    rng = np.random.default_rng(11)
    p0 = rng.normal(size=(3, 2))
    grads = [rng.normal(size=(3, 2)) for _ in range(4)]
    opt = {"sgd": lambda: rt.optim.sgd(0.1), "momentum": lambda: rt.optim.momentum(0.1, 0.9),
           "nesterov": lambda: rt.optim.momentum(0.1, 0.9, nesterov=True),
           "adam": lambda: rt.optim.adam(0.1)}[kind]()
    params = [{"w": rt.asarray(p0)}]
    state = opt.init(params)
    step = rt.function(opt.step) if compiled else opt.step
    for g in grads:
        params, state = step(params, [{"w": rt.asarray(g)}], state)
    expected = _reference_updates(kind, p0, grads, 4, 0.1)
    np.testing.assert_allclose(params[0]["w"].numpy(), expected, rtol=1e-12)


def test_optimizer_rejects_mismatched_structures():
    opt = rt.optim.sgd(0.1)
    with pytest.raises(ValueError, match="structure"):
        opt.step({"w": rt.ones(2)}, {"v": rt.ones(2)}, None)


def test_adam_keeps_float32_parameters_float32():
    opt = rt.optim.adam(0.1)
    p = {"w": rt.asarray(np.ones(3, np.float32))}
    s = opt.init(p)
    p, s = opt.step(p, {"w": rt.asarray(np.ones(3, np.float32))}, s)
    assert p["w"].dtype == np.float32
