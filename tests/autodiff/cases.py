"""Gradient test cases per op, keyed by op name, so tests can walk `runtime.core.OPS` and fail on
an op nobody wrote a case for.

A case is a function of tensors (the op applied through the public API), a maker of inputs
(NumPy arrays from a seeded generator, kept away from kinks and outside domains), the inputs to
differentiate, and optionally the same function in `autograd.numpy` (the second oracle).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import autograd.numpy as anp
import numpy as np

import runtime as rt
from runtime.ops import elementwise as ew
from runtime.ops.indexing import index_update_op, split_index
from runtime.core import bind


@dataclass
class Case:
    op: str
    label: str
    fn: Callable                 # tensors -> tensor or list of tensors
    make: Callable               # rng -> list of np arrays
    diff: tuple | None = None    # indices of inputs to differentiate (None: every float input)
    ag: Callable | None = None   # autograd.numpy version of fn, if autograd has it
    rtol: float = 1e-6
    eager_only: bool = False     # boolean masks: data-dependent shapes cannot be traced
    compiled_raises: tuple | None = None   # (exception class name, message part) when compiled
    eps: float = 1e-5            # finite-difference step (larger where the op rounds to float32)

    @property
    def id(self):
        return f"{self.op}-{self.label}"


CASES: dict[str, list[Case]] = {}
# Ops with no array inputs: they create values, so there is nothing to differentiate.
NO_INPUTS = {"const", "full"}


def case(op, label, fn, make, **kw):
    CASES.setdefault(op, []).append(Case(op, label, fn, make, **kw))


def U(lo, hi, shape):
    return lambda rng: rng.uniform(lo, hi, shape)


def away_from_int(shape, frac=0.3):
    """Values k + frac with random integers k: far from the jumps of floor/ceil/round."""
    return lambda rng: rng.integers(-3, 3, shape) + frac


def distinct(shape, rng):
    """Well-separated values in random order (no ties for max/min/maximum)."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.37 - n * 0.15).reshape(shape)


def inputs(*makers):
    return lambda rng: [m(rng) for m in makers]


# --- elementwise unary -------------------------------------------------------------------------
_DOMAIN = {
    "log": (0.3, 2.0), "log2": (0.3, 2.0), "log10": (0.3, 2.0), "sqrt": (0.3, 2.0),
    "reciprocal": (0.5, 2.0), "log1p": (-0.5, 2.0), "arcsin": (-0.8, 0.8), "arccos": (-0.8, 0.8),
    "arctanh": (-0.8, 0.8), "arccosh": (1.2, 3.0), "tan": (-1.2, 1.2),
}
_KINKED = {"floor": 0.3, "ceil": 0.3, "trunc": 0.3, "round": 0.2, "sign": 0.4, "abs": 0.4}

for _name, _op in ew.UNARY_OPS.items():
    if _op.nondiff:
        continue
    _fn = getattr(ew, _name)
    _ag = getattr(anp, _op.impl.__name__, None) if _name != "positive" else None  # autograd: no vjp
    if _name in _KINKED:
        _mk = away_from_int((3, 4), _KINKED[_name])
    else:
        _mk = U(*_DOMAIN.get(_name, (-1.5, 1.5)), (3, 4))
    case(_name, "3x4", (lambda f: lambda x: f(x))(_fn), inputs(_mk), ag=_ag)

# --- elementwise binary ------------------------------------------------------------------------
_BIN_DOMAIN = {
    "divide": ((-2, 2), (0.5, 2.0)), "pow": ((0.5, 2.0), (0.5, 2.0)),
    "remainder": ((2.5, 3.3), (1.8, 2.2)), "floor_divide": ((2.5, 3.3), (1.8, 2.2)),
    "arctan2": ((-2, 2), (0.5, 2.0)), "hypot": ((0.5, 2.0), (-2.0, -0.5)),
}
for _name, _op in ew.BINARY_OPS.items():
    if _op.nondiff:
        continue
    _fn = getattr(ew, "pow" if _name == "pow" else _name)
    _ag = getattr(anp, _op.impl.__name__, None)
    (alo, ahi), (blo, bhi) = _BIN_DOMAIN.get(_name, ((-2, 2), (-2, 2)))
    if _name in ("maximum", "minimum"):
        mk_same = lambda rng: [distinct((3, 4), rng), distinct((3, 4), rng) + 0.11]  # noqa: E731
        mk_bc = lambda rng: [distinct((2, 1, 4), rng), distinct((3, 1), rng) + 0.13]  # noqa: E731
    else:
        mk_same = inputs(U(alo, ahi, (3, 4)), U(blo, bhi, (3, 4)))
        mk_bc = inputs(U(alo, ahi, (2, 1, 4)), U(blo, bhi, (3, 1)))
    f2 = (lambda f: lambda a, b: f(a, b))(_fn)
    case(_name, "same", f2, mk_same, ag=_ag)
    case(_name, "broadcast", f2, mk_bc, ag=_ag)
    case(_name, "scalar", (lambda f: lambda a: f(a, 1.7))(_fn), inputs(U(alo, ahi, (3,))),
         ag=(lambda g: (lambda a: g(a, 1.7)) if g else None)(_ag))

case("where", "broadcast", lambda c, x, y: ew.where(c, x, y),
     lambda rng: [rng.random((3, 4)) > 0.5, rng.normal(size=(3, 4)), rng.normal(size=(4,))],
     diff=(1, 2))
case("where", "same-shape", lambda c, x, y: ew.where(c, x, y),
     lambda rng: [rng.random((3, 4)) > 0.5, rng.normal(size=(3, 4)), rng.normal(size=(3, 4))],
     diff=(1, 2), ag=lambda c, x, y: anp.where(c, x, y))
case("astype", "f64-f32-f64", lambda x: rt.astype(rt.astype(x, rt.float32), rt.float64) * 1.0,
     inputs(U(-2, 2, (5,))), rtol=1e-4, eps=1e-2)

# --- reductions --------------------------------------------------------------------------------
for _name, _agf in [("sum", anp.sum), ("mean", anp.mean), ("prod", anp.prod), ("max", anp.max),
                    ("min", anp.min), ("var", anp.var), ("std", anp.std)]:
    _fn = getattr(rt, _name)
    for axis, keep in [(None, False), (1, False), ((0, 2), True), (-1, True)]:
        mk = (lambda rng: [distinct((2, 3, 4), rng)]) if _name in ("max", "min") else \
            (inputs(U(0.5, 1.5, (2, 3, 4))) if _name == "prod" else inputs(U(-2, 2, (2, 3, 4))))
        case(_name, f"axis{axis}-keep{keep}",
             (lambda f, a, k: lambda x: f(x, axis=a, keepdims=k))(_fn, axis, keep), mk,
             ag=(lambda f, a, k: lambda x: f(x, axis=a, keepdims=k))(_agf, axis, keep))
case("var", "ddof1", lambda x: rt.var(x, axis=0, correction=1), inputs(U(-2, 2, (4, 3))),
     ag=lambda x: anp.var(x, axis=0, ddof=1))
case("std", "ddof1", lambda x: rt.std(x, axis=1, correction=1), inputs(U(-2, 2, (4, 3))),
     ag=lambda x: anp.std(x, axis=1, ddof=1))
case("cumsum", "flat", lambda x: rt.cumsum(x), inputs(U(-2, 2, (3, 4))), ag=lambda x: anp.cumsum(x))
case("cumsum", "axis1", lambda x: rt.cumsum(x, axis=1), inputs(U(-2, 2, (3, 4))),
     ag=lambda x: anp.cumsum(x, axis=1))

# --- matmul ------------------------------------------------------------------------------------
for a_shape, b_shape in [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
                         ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (3, 4, 2)), ((4,), (2, 4, 3)),
                         ((2, 3, 4), (4,))]:
    case("matmul", f"{a_shape}@{b_shape}", lambda a, b: rt.matmul(a, b),
         inputs(U(-1, 1, a_shape), U(-1, 1, b_shape)), ag=lambda a, b: anp.matmul(a, b))

# --- movement ----------------------------------------------------------------------------------
case("reshape", "3x4->2x6", lambda x: rt.reshape(x, (2, 6)), inputs(U(-1, 1, (3, 4))),
     ag=lambda x: anp.reshape(x, (2, 6)))
case("permute_dims", "3d", lambda x: rt.permute_dims(x, (2, 0, 1)), inputs(U(-1, 1, (2, 3, 4))),
     ag=lambda x: anp.transpose(x, (2, 0, 1)))
case("broadcast_to", "3x1->2x3x4", lambda x: rt.broadcast_to(x, (2, 3, 4)),
     inputs(U(-1, 1, (3, 1))))
case("concat", "three-axis1", lambda a, b, c: rt.concat([a, b, c], axis=1),
     inputs(U(-1, 1, (2, 1)), U(-1, 1, (2, 3)), U(-1, 1, (2, 2))),
     ag=lambda a, b, c: anp.concatenate([a, b, c], axis=1))
case("split", "all-pieces", lambda x: rt.split(x, [1, 3], axis=1), inputs(U(-1, 1, (2, 5))))
case("split", "one-piece-used", lambda x: rt.split(x, 3, axis=0)[1] * 2.0, inputs(U(-1, 1, (6, 2))))
case("flip", "axis0", lambda x: rt.flip(x, axis=0), inputs(U(-1, 1, (3, 4))))
case("pad", "2d", lambda x: rt.pad(x, ((1, 2), (0, 3)), constant_values=1.5),
     inputs(U(-1, 1, (3, 4))), ag=lambda x: anp.pad(x, ((1, 2), (0, 3)), mode="constant"))

# --- indexing ----------------------------------------------------------------------------------
for label, idx in [("slice", (slice(1, None), slice(None, None, 2))), ("int", 1),
                   ("newaxis-ellipsis", (None, Ellipsis, 2)), ("negative-step", slice(None, None, -1))]:
    case("getitem", label, (lambda i: lambda x: x[i])(idx), inputs(U(-1, 1, (3, 4))),
         ag=(lambda i: lambda x: x[i])(idx))
case("getitem", "int-array-repeats", lambda x, i: x[i], lambda rng: [rng.uniform(-1, 1, (4, 3)),
     np.array([0, 2, 2, 3, 0])], diff=(0,), ag=lambda x, i: x[i])
case("getitem", "int-array-2d", lambda x, i, j: x[i, j], lambda rng: [rng.uniform(-1, 1, (4, 3)),
     np.array([[0, 1], [3, 3]]), np.array([[2, 2], [0, 2]])], diff=(0,), ag=lambda x, i, j: x[i, j])
case("getitem", "bool-mask", lambda x: x[np.array([True, False, True])],
     inputs(U(-1, 1, (3, 2))), ag=lambda x: x[np.array([True, False, True])], eager_only=True)


def _update(mode, idx):
    def fn(x, v):
        template, arrays = split_index(idx)
        return bind(index_update_op, x, v, *arrays, index=template, mode=mode)
    return fn


for mode in ("set", "add", "multiply"):
    case("index_update", f"{mode}-slice", _update(mode, (slice(1, 3), 0)),
         inputs(U(0.5, 1.5, (4, 3)), U(0.5, 1.5, (2,))))
    case("index_update", f"{mode}-int-array", _update(mode, np.array([3, 0])),
         inputs(U(0.5, 1.5, (4, 3)), U(0.5, 1.5, (3,))))
case("index_update", "add-repeats", _update("add", np.array([1, 1, 2])),
     inputs(U(0.5, 1.5, (4,)), U(0.5, 1.5, (3,))))
for mode in ("min", "max"):
    case("index_update", f"{mode}-slice", _update(mode, slice(0, 4)),
         lambda rng: [distinct((6,), rng), distinct((4,), rng) + 0.05])

# --- control flow: eagerly these are plain Python, so the compiled run is what exercises the
# ops' own vjp rules (and is compared with eager and with finite differences).
case("cond", "true-branch", lambda p, x: rt.cond(rt.sum(p) > 0, lambda v: rt.sin(v) * 2.0,
                                                 lambda v: v * v, x),
     inputs(U(0.5, 1.0, (2,)), U(-1, 1, (3,))))
case("cond", "false-branch", lambda p, x: rt.cond(rt.sum(p) > 0, lambda v: rt.sin(v) * 2.0,
                                                  lambda v: v * v * p[0], x),
     inputs(U(-1.0, -0.5, (2,)), U(-1, 1, (3,))))
case("fori_loop", "3-steps", lambda x, w: rt.fori_loop(0, 3, lambda i, v: rt.tanh(v * w) + 0.1, x),
     inputs(U(-1, 1, (3,)), U(0.5, 1.5, (3,))))
case("scan", "carry-and-ys", lambda c, xs: rt.scan(lambda c, x: (c * rt.cos(x) + x, c * x), c, xs),
     inputs(U(-1, 1, (2,)), U(-1, 1, (4, 2))))
case("while_loop", "refuses-compiled", lambda x: rt.while_loop(lambda v: rt.sum(v) < 10.0,
                                                              lambda v: v * 1.5, x),
     inputs(U(0.5, 1.0, (3,))), compiled_raises=("LoopGradientError", "fori_loop"))

# stop_gradient is checked on its own: its gradient is zero by definition, unlike its forward.
ZERO_GRADIENT = {"stop_gradient"}
case("stop_gradient", "zero", lambda x: rt.stop_gradient(x) * x, inputs(U(-1, 1, (3,))))

SECOND_ORDER = {
    "tanh": (lambda x: rt.sum(rt.tanh(x)), lambda x: anp.sum(anp.tanh(x))),
    "exp*sin": (lambda x: rt.sum(rt.exp(x) * rt.sin(x)), lambda x: anp.sum(anp.exp(x) * anp.sin(x))),
    "log-div": (lambda x: rt.sum(rt.log(x) / (x + 1.0)), lambda x: anp.sum(anp.log(x) / (x + 1.0))),
    "pow": (lambda x: rt.sum(x ** 3.0), lambda x: anp.sum(x ** 3.0)),
    "matmul-tanh": (lambda x: rt.sum(rt.tanh(rt.matmul(rt.reshape(x, (2, 2)), rt.reshape(x, (2, 2))))),
                    lambda x: anp.sum(anp.tanh(anp.dot(anp.reshape(x, (2, 2)), anp.reshape(x, (2, 2)))))),
    "softmax-ce": (lambda x: -rt.sum(rt.nn.log_softmax(x) * rt.asarray([0.0, 1.0, 0.0, 0.0])),
                   lambda x: -anp.sum((x - anp.log(anp.sum(anp.exp(x)))) * anp.array([0.0, 1.0, 0.0, 0.0]))),
}


def all_cases():
    return [c for cs in CASES.values() for c in cs]
