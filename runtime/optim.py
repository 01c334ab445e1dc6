"""Small functional optimizers over nested parameters (lists, tuples, dicts of tensors).

An optimizer is a pair of pure functions: `state = opt.init(params)` and
`params, state = opt.step(params, grads, state)`. State is a pytree of tensors too (the step
count included), so a compiled training step takes it as an input and does not retrace.

>>> import runtime as rt
>>> opt = rt.optim.sgd(0.1)
>>> params = {"w": rt.asarray([1.0, 2.0])}
>>> state = opt.init(params)
>>> params, state = opt.step(params, {"w": rt.asarray([1.0, 1.0])}, state)
>>> params["w"]
Tensor([0.9, 1.9], dtype=float64)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .ops import elementwise as ew
from .ops.creation import asarray, astype, zeros_like
from .pytree import flatten, unflatten


@dataclass(frozen=True)
class Optimizer:
    """`init(params) -> state`; `step(params, grads, state) -> (params, state)`."""
    name: str
    init: Callable
    step: Callable

    def __repr__(self):
        return f"<rt.optim.{self.name}>"


def _leaves_like(params, grads, what):
    p, tree = flatten(params)
    g, gtree = flatten(grads)
    if gtree != tree:
        raise ValueError(f"{what}: grads must have the structure of params ({tree!r}), got {gtree!r}")
    return p, g, tree


def sgd(learning_rate: float = 0.01) -> Optimizer:
    """Plain gradient descent: p <- p - lr * g. Its state is empty (None)."""
    lr = learning_rate

    def init(params):
        return None

    def step(params, grads, state=None):
        p, g, tree = _leaves_like(params, grads, "sgd")
        return unflatten(tree, [pi - lr * gi for pi, gi in zip(p, g)]), state

    return Optimizer("sgd", init, step)


def momentum(learning_rate: float = 0.01, beta: float = 0.9, nesterov: bool = False) -> Optimizer:
    """Heavy-ball momentum: v <- beta * v + g; p <- p - lr * v (or the Nesterov form)."""
    lr = learning_rate

    def init(params):
        p, tree = flatten(params)
        return {"velocity": unflatten(tree, [zeros_like(x) for x in p])}

    def step(params, grads, state):
        p, g, tree = _leaves_like(params, grads, "momentum")
        v = flatten(state["velocity"])[0]
        v = [beta * vi + gi for vi, gi in zip(v, g)]
        d = [gi + beta * vi for gi, vi in zip(g, v)] if nesterov else v
        new = [pi - lr * di for pi, di in zip(p, d)]
        return unflatten(tree, new), {"velocity": unflatten(tree, v)}

    return Optimizer("momentum", init, step)


def adam(learning_rate: float = 0.001, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8) -> Optimizer:
    """Adam (Kingma & Ba) with bias correction; the step count lives in the state as a tensor."""
    lr = learning_rate

    def init(params):
        p, tree = flatten(params)
        return {"count": asarray(0.0), "m": unflatten(tree, [zeros_like(x) for x in p]),
                "v": unflatten(tree, [zeros_like(x) for x in p])}

    def step(params, grads, state):
        p, g, tree = _leaves_like(params, grads, "adam")
        t = state["count"] + 1.0
        m = [b1 * mi + (1.0 - b1) * gi for mi, gi in zip(flatten(state["m"])[0], g)]
        v = [b2 * vi + (1.0 - b2) * (gi * gi) for vi, gi in zip(flatten(state["v"])[0], g)]
        # bias corrections 1/(1 - b^t): scalars, cast to each parameter's dtype. eps is added
        # after the corrected sqrt, as in PyTorch and optax.
        c1, c2 = 1.0 / (1.0 - ew.pow(b1, t)), 1.0 / (1.0 - ew.pow(b2, t))
        new = [pi - lr * (mi * astype(c1, pi.dtype)) / (ew.sqrt(vi * astype(c2, pi.dtype)) + eps)
               for pi, mi, vi in zip(p, m, v)]
        return unflatten(tree, new), {"count": t, "m": unflatten(tree, m), "v": unflatten(tree, v)}

    return Optimizer("adam", init, step)
