"""The array surface shared by Tensor and Tracer: Python operators (both operand orders, with
NumPy arrays and Python scalars), methods and properties, eager and traced, vs NumPy."""
from __future__ import annotations

import operator
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import runtime as rt
from rt_strategies import any_array, examples, operands

BINARY_OPERATORS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
                    operator.mod, operator.pow, operator.lt, operator.le, operator.gt, operator.ge,
                    operator.eq, operator.ne, operator.and_, operator.or_, operator.xor]
UNARY_OPERATORS = [operator.neg, operator.pos, operator.abs, operator.invert]


def _same(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    np.testing.assert_array_equal(got, want)


def _run_both(fn, args):
    """NumPy's answer (or its exception type), then eager and compiled must give the same."""
    wrap = [rt.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
    try:
        want = fn(*args)
    except Exception:
        with pytest.raises(Exception):
            fn(*wrap)
        return
    _same(fn(*wrap), want)
    _same(rt.function(lambda *xs: fn(*xs), passes=())(*wrap), want)


@settings(max_examples=examples(80), deadline=None)
@given(op=st.sampled_from(BINARY_OPERATORS), ab=operands(2, nonneg_last=True),
       mix=st.sampled_from(["tt", "tn", "nt"]))
@example(op=operator.pow, ab=[np.array([True, False]), 2], mix="tt")   # NumPy's `**` squares: int8
def test_binary_operators_match_numpy_in_both_orders(op, ab, mix):
    """tt: tensor op tensor; tn / nt: one side stays a NumPy array (reflected operators)."""
    a, b = ab
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            want = op(a, b)
        except Exception:
            return
        ta = rt.asarray(a) if isinstance(a, np.ndarray) and mix != "nt" else a
        tb = rt.asarray(b) if isinstance(b, np.ndarray) and mix != "tn" else b
        if not isinstance(ta, rt.Tensor) and not isinstance(tb, rt.Tensor):
            return
        got = op(ta, tb)
        assert isinstance(got, rt.Tensor)
        _same(got, want)
        if isinstance(ta, rt.Tensor) and isinstance(tb, rt.Tensor):
            _same(rt.function(lambda x, y: op(x, y), passes=())(ta, tb), want)


@settings(max_examples=examples(40), deadline=None)
@given(op=st.sampled_from(UNARY_OPERATORS), x=any_array())
def test_unary_operators_match_numpy(op, x):
    with np.errstate(all="ignore"):
        _run_both(op, [x])


METHODS = [
    ("sum", lambda a: a.sum(axis=0)), ("prod", lambda a: a.prod(axis=1, keepdims=True)),
    ("mean", lambda a: a.mean()), ("max", lambda a: a.max(axis=-1)), ("min", lambda a: a.min()),
    ("all", lambda a: (a > 0).all(axis=0)), ("any", lambda a: (a > 3).any()),
    ("argmax", lambda a: a.argmax(axis=1)), ("argmin", lambda a: a.argmin()),
    ("cumsum", lambda a: a.cumsum(axis=0)), ("var", lambda a: a.var(axis=0, ddof=1)),
    ("std", lambda a: a.std(ddof=1)), ("reshape", lambda a: a.reshape(3, 2)),
    ("reshape_tuple", lambda a: a.reshape((-1,))), ("transpose", lambda a: a.transpose()),
    ("transpose_axes", lambda a: a.transpose(1, 0)), ("T", lambda a: a.T),
    ("astype", lambda a: a.astype(np.float32)), ("squeeze", lambda a: a[None].squeeze(0)),
    ("ravel", lambda a: a.ravel()), ("flatten", lambda a: a.flatten()),
    ("clip", lambda a: a.clip(1, 4)), ("dot", lambda a: a.dot(a.T)), ("round", lambda a: (a / 3).round(2)),
    ("swapaxes", lambda a: a.swapaxes(0, 1)), ("len", lambda a: a * len(a)),
    ("iter", lambda a: sum(row for row in a)), ("shape", lambda a: a + a.shape[1] + a.ndim + a.size),
]


@pytest.mark.parametrize("name,fn", METHODS, ids=[m[0] for m in METHODS])
def test_methods_match_numpy_eager_and_traced(name, fn):
    a = np.arange(6.0).reshape(2, 3) - 1.5
    _run_both(fn, [a])


def test_mT_and_item_tolist():
    a = np.arange(24.0).reshape(2, 3, 4)
    t = rt.asarray(a)
    _same(t.mT, np.swapaxes(a, -1, -2))
    assert rt.asarray(3.5).item() == 3.5 and t[0, 0].tolist() == a[0, 0].tolist()
    assert t.nbytes == a.nbytes and t.size == a.size and len(t) == 2


def test_augmented_assignment_rebinds_and_never_mutates():
    t = rt.asarray([1.0, 2.0])
    alias = t
    t += 1.0
    t *= 2.0
    _same(t, np.array([4.0, 6.0]))
    _same(alias, np.array([1.0, 2.0]))


def test_tensors_pickle_and_are_unhashable():
    t = rt.asarray(np.arange(3, dtype=np.int8))
    back = pickle.loads(pickle.dumps(t))
    _same(back, np.arange(3, dtype=np.int8))
    with pytest.raises(TypeError):
        hash(t)
    with pytest.raises(TypeError, match="0-d"):
        len(rt.asarray(1.0))


def test_format_and_round_builtins():
    loss = rt.asarray(0.123456)
    assert f"{loss:.3f}" == "0.123" and f"{loss}" == "0.123456"
    assert f"{rt.asarray([1.5, 2.25])}" == str(np.array([1.5, 2.25]))
    _same(round(rt.asarray([1.234, 5.678]), 1), np.round([1.234, 5.678], 1))
    _same(round(rt.asarray(2.5)), np.round(np.array(2.5)))
    _same(rt.function(lambda a: round(a, 2))(rt.asarray([1.2345])), np.round([1.2345], 2))
