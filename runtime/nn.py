"""Neural-network helpers built from runtime ops (no new primitives), so they trace into graphs
the optimizer can see into and differentiate through."""
from __future__ import annotations

import math

from .ops import elementwise as ew
from .ops import reduction as red
from .ops.creation import astype
from .ops.movement import expand_dims


def relu(x):
    """max(x, 0)."""
    return ew.maximum(x, 0.0)


def sigmoid(x):
    """1 / (1 + exp(-x)), written so large |x| does not overflow."""
    z = ew.exp(-ew.abs(x))
    return ew.where(ew.greater_equal(x, 0.0), 1.0 / (1.0 + z), z / (1.0 + z))


def softplus(x):
    """log(1 + exp(x)), stable for large |x|."""
    return ew.maximum(x, 0.0) + ew.log1p(ew.exp(-ew.abs(x)))


def gelu(x, approximate: bool = True):
    """GELU; the tanh form by default (as in BERT/GPT-2), the erf form is not available."""
    if not approximate:
        raise NotImplementedError("rt.nn.gelu(approximate=False) needs erf, which has no op yet")
    c = math.sqrt(2.0 / math.pi)
    return 0.5 * x * (1.0 + ew.tanh(c * (x + 0.044715 * x ** 3)))


def _shift(x, axis):
    """The max along `axis`, for numerical stability only: the result does not depend on it, so
    its gradient is exactly zero and stop_gradient spares the backward pass its work (as JAX)."""
    from .autodiff.api import stop_gradient
    return stop_gradient(red.max(x, axis=axis, keepdims=True))


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) along `axis`, shifted by the max for stability."""
    m = _shift(x, axis)
    m = ew.where(ew.isfinite(m), m, 0.0)
    out = ew.log(red.sum(ew.exp(x - m), axis=axis, keepdims=True)) + m
    if keepdims:
        return out
    from .ops.movement import squeeze
    return squeeze(out, axis) if axis is not None else squeeze(out)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along `axis`, shifted by the max for stability."""
    e = ew.exp(x - _shift(x, axis))
    return e / red.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    shifted = x - _shift(x, axis)
    return shifted - ew.log(red.sum(ew.exp(shifted), axis=axis, keepdims=True))


def layer_norm(x, axis=-1, eps=1e-5, weight=None, bias=None):
    """Normalize to zero mean and unit variance along `axis`, then scale and shift."""
    mu = red.mean(x, axis=axis, keepdims=True)
    d = x - mu
    var = red.mean(d * d, axis=axis, keepdims=True)
    y = d / ew.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def one_hot(labels, num_classes: int, dtype="float64"):
    """A (..., num_classes) array with 1 at each label's index."""
    from .ops.creation import arange
    return astype(ew.equal(expand_dims(labels, -1), arange(num_classes)), dtype)
