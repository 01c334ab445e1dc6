"""Every differentiable op's vjp, driven by the op registry: central finite differences (float64,
random directions) eagerly and compiled, with HIPS autograd as a second oracle."""
from __future__ import annotations

import warnings
import zlib

import autograd
import numpy as np
import pytest

import runtime as rt
from runtime.core import OPS
from runtime.pytree import flatten

from .cases import CASES, NO_INPUTS, SECOND_ORDER, ZERO_GRADIENT, all_cases

EXEMPT_WHY = "creates values from no inputs"


def _exempt(op):
    # no inputs to differentiate; or an op that only optimization passes create (defined in
    # runtime/passes): passes run after tracing, when tapes have already taken the gradients
    made_by_pass = getattr(op.impl, "__module__", "").startswith("runtime.passes")
    return op.name in NO_INPUTS or op.random or op.side_effect or made_by_pass


def test_every_differentiable_op_has_a_vjp():
    missing = [name for name, op in OPS.items()
               if not op.nondiff and not _exempt(op) and op.vjp is None]
    assert not missing, (f"ops that are differentiable (not nondiff) but have no vjp rule: "
                         f"{missing}. Add a vjp to each op's definition block, or mark it nondiff")


def test_every_differentiable_op_has_a_gradient_case():
    missing = [name for name, op in OPS.items()
               if not op.nondiff and not _exempt(op) and name not in CASES]
    assert not missing, f"no gradient test case in tests/autodiff/cases.py for ops: {missing}"


def _rng(c):
    return np.random.default_rng(zlib.crc32(c.id.encode()))


def _setup(c):
    rng = _rng(c)
    args = c.make(rng)
    diff = c.diff if c.diff is not None else tuple(
        i for i, a in enumerate(args) if np.asarray(a).dtype.kind == "f")
    out = c.fn(*[rt.asarray(a) for a in args])
    leaves, tree = flatten(out)
    cts = [rng.normal(size=np.shape(leaf)) for leaf in leaves]
    return rng, args, diff, tree, cts


def _scalar(c, arrays, cts):
    """<fn(arrays), cts> in float64: the function finite differences look at."""
    leaves = flatten(c.fn(*[rt.asarray(a) for a in arrays]))[0]
    return float(sum(np.sum(np.asarray(leaf, dtype=np.float64) * r) for leaf, r in zip(leaves, cts)))


def _ours(c, args, diff, tree, cts, compiled):
    from runtime.pytree import unflatten

    def pullback(*xs):
        def f(*d):
            full = list(xs)
            for i, di in zip(diff, d):
                full[i] = di
            return c.fn(*full)
        _, back = rt.vjp(f, *[xs[i] for i in diff])
        return back(unflatten(tree, [rt.asarray(r) for r in cts]))

    fn = rt.function(pullback) if compiled else pullback
    tensors = [rt.asarray(a) for a in args]
    grads = fn(*tensors)
    if compiled:   # the op itself was traced (and so its vjp rule ran on tracers)
        ops = fn.traced_graph_for(*tensors).op_counts()
        assert c.op in ops, f"{c.id}: {c.op} is not in the traced graph: {sorted(ops)}"
    return [np.asarray(g) for g in grads]


def _fd_check(c, args, diff, cts, grads, rng):
    eps = c.eps
    for k, i in enumerate(diff):
        for _ in range(2):
            v = rng.normal(size=np.shape(args[i]))
            plus, minus = list(args), list(args)
            plus[i] = args[i] + eps * v
            minus[i] = args[i] - eps * v
            fd = (_scalar(c, plus, cts) - _scalar(c, minus, cts)) / (2 * eps)
            ours = float(np.sum(grads[k] * v))
            assert np.isclose(ours, fd, rtol=c.rtol, atol=1e-7), (
                f"{c.id}: d/d(input {i}) along a random direction: vjp gives {ours}, "
                f"finite differences {fd}")


@pytest.mark.parametrize("c", [c for c in all_cases() if c.op not in ZERO_GRADIENT], ids=lambda c: c.id)
def test_vjp_matches_finite_differences_eager_and_compiled(c):
    rng, args, diff, tree, cts = _setup(c)
    eager = _ours(c, args, diff, tree, cts, compiled=False)
    for i, g in zip(diff, eager):
        assert g.shape == np.shape(args[i]) and g.dtype == np.asarray(args[i]).dtype, c.id
    _fd_check(c, args, diff, cts, eager, rng)
    if c.eager_only:
        with pytest.raises(rt.RuntimeOpError, match="boolean mask"):
            _ours(c, args, diff, tree, cts, compiled=True)
        return
    if c.compiled_raises:
        name, part = c.compiled_raises
        with pytest.raises(Exception, match=part) as info:
            _ours(c, args, diff, tree, cts, compiled=True)
        assert type(info.value).__name__ == name
        return
    compiled = _ours(c, args, diff, tree, cts, compiled=True)
    for e, g in zip(eager, compiled):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12, err_msg=f"{c.id}: compiled != eager")


AG_CASES = [c for c in all_cases() if c.ag is not None and c.op not in ZERO_GRADIENT]


@pytest.mark.parametrize("c", AG_CASES, ids=lambda c: c.id)
def test_vjp_matches_autograd(c):
    rng, args, diff, tree, cts = _setup(c)
    ours = _ours(c, args, diff, tree, cts, compiled=False)
    ct = cts[0] if tree == "*" else cts
    for k, i in enumerate(diff):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # "Output seems independent of input" (floor ...)
            back, _ = autograd.make_vjp(c.ag, i)(*args)
            theirs = np.asarray(back(ct), dtype=np.float64)
        np.testing.assert_allclose(ours[k], np.broadcast_to(theirs, ours[k].shape), rtol=1e-8,
                                   atol=1e-10, err_msg=f"{c.id}: input {i} differs from autograd")


def test_autograd_oracle_covers_most_ops():
    covered = {c.op for c in AG_CASES}
    assert len(covered) >= 50, sorted(covered)


def test_stop_gradient_has_zero_gradient_but_is_identity():
    x = rt.asarray([1.0, -2.0, 3.0])
    f = lambda x: rt.sum(rt.stop_gradient(x) * x)  # noqa: E731
    np.testing.assert_allclose(rt.grad(f)(x).numpy(), x.numpy())          # d/dx (c * x) = c
    np.testing.assert_allclose(rt.function(rt.grad(f))(x).numpy(), x.numpy())
    np.testing.assert_allclose(rt.grad(lambda x: rt.sum(rt.stop_gradient(x)))(x).numpy(), 0.0)
    assert rt.function(lambda x: rt.stop_gradient(x) + 1.0)(x).numpy().tolist() == [2.0, -1.0, 4.0]


@pytest.mark.parametrize("name", list(SECOND_ORDER))
@pytest.mark.parametrize("mode", ["grad-of-grad", "nested-tapes", "compiled"])
def test_second_derivatives(name, mode):
    f, agf = SECOND_ORDER[name]
    x = np.random.default_rng(len(name)).uniform(0.4, 1.2, 4)
    v = np.random.default_rng(7).normal(size=4)
    # Hessian-vector product: d/dx <grad f(x), v>
    expected = autograd.grad(lambda x: anp_dot(autograd.grad(agf)(x), v))(x)
    g_dot_v = lambda x: rt.sum(rt.grad(f)(x) * v)  # noqa: E731
    if mode == "grad-of-grad":
        got = rt.grad(g_dot_v)(rt.asarray(x))
    elif mode == "compiled":
        got = rt.function(rt.grad(g_dot_v))(rt.asarray(x))
    else:
        xt = rt.asarray(x)
        with rt.GradientTape() as outer:
            outer.watch(xt)
            with rt.GradientTape() as inner:
                inner.watch(xt)
                y = f(xt)
            gv = rt.sum(inner.gradient(y, xt) * v)
        got = outer.gradient(gv, xt)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-9, atol=1e-12)
    # and against finite differences of our own first derivative
    eps = 1e-5
    fd = (np.asarray(rt.grad(f)(rt.asarray(x + eps * v))) -
          np.asarray(rt.grad(f)(rt.asarray(x - eps * v)))) / (2 * eps)
    np.testing.assert_allclose(np.asarray(got), fd, rtol=1e-5, atol=1e-7)


def anp_dot(a, b):
    import autograd.numpy as anp
    return anp.sum(a * b)


NN = {
    "relu": lambda x: rt.nn.relu(x), "sigmoid": lambda x: rt.nn.sigmoid(x),
    "softplus": lambda x: rt.nn.softplus(x), "gelu": lambda x: rt.nn.gelu(x),
    "logsumexp": lambda x: rt.nn.logsumexp(x, axis=1), "softmax": lambda x: rt.nn.softmax(x),
    "log_softmax": lambda x: rt.nn.log_softmax(x, axis=0),
    "layer_norm": lambda x: rt.nn.layer_norm(x, weight=rt.asarray(np.arange(1.0, 5.0))),
    "clip": lambda x: rt.clip(x, -0.5, 0.7),
}


@pytest.mark.parametrize("name", list(NN))
@pytest.mark.parametrize("compiled", [False, True])
def test_nn_helpers_gradients_match_finite_differences(name, compiled):
    fn = NN[name]
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, (3, 4))
    x = np.where(np.abs(x) < 0.05, 0.3, x)                     # away from relu's kink
    x = np.where(np.abs(np.abs(x - 0.1) - 0.6) < 0.05, 0.0, x)  # and from clip's bounds
    ct = rng.normal(size=(3, 4) if name != "logsumexp" else (3,))
    f = lambda v: rt.sum(fn(v) * ct)  # noqa: E731
    g = (rt.function(rt.grad(f)) if compiled else rt.grad(f))(rt.asarray(x)).numpy()
    v = rng.normal(size=x.shape)
    eps = 1e-6
    fd = (float(f(rt.asarray(x + eps * v))) - float(f(rt.asarray(x - eps * v)))) / (2 * eps)
    assert np.isclose(np.sum(g * v), fd, rtol=1e-6, atol=1e-8), (name, np.sum(g * v), fd)
