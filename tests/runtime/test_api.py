"""The public API as a user meets it: the issue's example, NumPy interop, immutability and
`.at[]`, indexing, creation and dtypes, rt.random, rt.nn and the composite helpers."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import runtime as rt
from runtime.ops import indexing
from rt_strategies import any_array, arrays, float_dtypes


def same(got, want, exact=True):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def compiled(fn, *args, **kw):
    return rt.function(fn, **kw)(*args)


# --- the issue's example, end to end --------------------------------------------------------

def test_issue_example_end_to_end():
    a = np.arange(6.0).reshape(2, 3)
    x = rt.asarray(a)
    y = rt.tanh(x @ x.T) + 1
    want = np.tanh(a @ a.T) + 1
    assert isinstance(y, rt.Tensor)
    e = np.exp(y)
    assert isinstance(e, rt.Tensor)
    same(e, np.exp(want))
    same(y.numpy(), want)
    assert float(y.sum()) == float(want.sum())
    same(y[0, 1:], want[0, 1:])
    assert y.T.shape == (2, 2)

    @rt.function
    def f(a, b, scale=2.0):
        return rt.sum(rt.exp(a) * b, axis=-1) * scale

    same(f(x, x), np.sum(np.exp(a) * a, axis=-1) * 2.0)
    assert f.trace_count == 1
    f(x, x)
    assert (f.trace_count, f.cache_hits) == (1, 1)
    r = f(rt.ones((4, 3)), rt.ones((4, 3)))
    same(r, np.sum(np.exp(np.ones((4, 3))), axis=-1) * 2.0)
    assert f.trace_count == 2
    text = f.explain()
    assert "a: f64[2,3] -> f64[4,3]" in text
    g = str(f.graph_for(x, x))
    assert "exp(a)" in g and "sum(" in g and "f64[2,3]" in g
    code = f.code_for(x, x)
    assert code.startswith("def f(a, b):") and "exp(a)" in code
    assert f.trace_count == 2, "graph_for/code_for of a cached signature do not retrace"


# --- NumPy interop --------------------------------------------------------------------------

A = np.arange(6.0).reshape(2, 3) - 2.5


def test_numpy_functions_on_tensors_return_tensors():
    t = rt.asarray(A)
    cases = [
        (np.tanh(t), np.tanh(A)), (np.sum(t, axis=0), np.sum(A, axis=0)),
        (np.concatenate([t, t]), np.concatenate([A, A])), (np.ones(3) + t, np.ones(3) + A),
        (A * t, A * A), (np.maximum(t, 0), np.maximum(A, 0)), (np.mean(t, axis=1, keepdims=True),
                                                              np.mean(A, axis=1, keepdims=True)),
        (np.transpose(t), A.T), (np.reshape(t, (3, 2)), A.reshape(3, 2)),
        (np.where(t > 0, t, 0.0), np.where(A > 0, A, 0.0)), (np.round(t), np.round(A)),
        (np.clip(t, -1, 1), np.clip(A, -1, 1)), (np.stack([t, t], axis=1), np.stack([A, A], axis=1)),
        (t @ np.ones(3), A @ np.ones(3)), (np.ones((4, 2)) @ t, np.ones((4, 2)) @ A),
    ]
    for got, want in cases:
        assert isinstance(got, rt.Tensor), type(got)
        same(got, want)


@pytest.mark.parametrize("make", [lambda: rt.asarray(A), lambda: rt.asarray(A) + 1.0 - 1.0,
                                  lambda: rt.function(lambda a: a * 1.0)(rt.asarray(A)),
                                  lambda: rt.reshape(rt.asarray(A), (2, 3))],
                         ids=["asarray", "op result", "compiled result", "view"])
def test_np_asarray_of_a_tensor_is_a_read_only_view(make):
    t = make()
    arr = np.asarray(t)
    assert type(arr) is np.ndarray
    same(arr, A)
    with pytest.raises(ValueError):
        arr[0, 0] = 1.0            # writing through it would change an immutable tensor
    same(t, A)


def test_numpy_interop_under_tracing_becomes_graph_ops():
    def f(a):
        return np.tanh(a) + np.sum(a, axis=0) + np.concatenate([a, a], axis=0)[:2] + np.ones(3)

    fn = rt.function(f)
    t = rt.asarray(A)
    same(fn(t), f(A))
    ops = fn.traced_graph_for(t).op_counts()
    assert {"tanh", "sum", "concat"} <= set(ops), ops


def test_numpy_without_a_runtime_op_is_refused_clearly_under_tracing():
    with pytest.raises(TypeError, match=r"^np\.sort has no runtime op"):
        rt.function(lambda a: np.sort(a))(rt.asarray(A))
    with pytest.raises(TypeError, match=r"^np\.linalg\.norm has no runtime op"):   # its full name
        rt.function(lambda a: np.linalg.norm(a))(rt.asarray(A))
    same(np.sort(rt.asarray(A), axis=0), np.sort(A, axis=0))     # eager: NumPy runs it


# --- immutability and .at -------------------------------------------------------------------

def test_item_assignment_names_the_functional_form():
    t = rt.asarray(A)
    with pytest.raises(rt.ImmutableTensorError, match=r"\.at\[i\]\.set\(v\)") as info:
        t[0] = 1.0
    assert ".add(v)" in str(info.value)
    with pytest.raises(rt.ImmutableTensorError):
        np.add(t, 1.0, out=t)
    same(t, A)
    with pytest.raises(rt.ImmutableTensorError, match="a NumPy array passed into rt.function"):
        rt.function(lambda a: a.__setitem__(0, 1.0))(A.copy())       # `a[0] = 1.0` on an input


def test_at_set_add_eager_and_compiled_with_repeated_indices_accumulating():
    x = np.zeros(5)
    idx = np.array([0, 2, 2, 2, 4, 0])
    want_add = x.copy()
    for i in idx:                                  # the loop is the oracle for accumulation
        want_add[i] += 1.5
    t = rt.asarray(x)
    same(t.at[idx].add(1.5), want_add)
    same(compiled(lambda a, i: a.at[i].add(1.5), t, rt.asarray(idx)), want_add)
    want_set = x.copy()
    want_set[1:3] = [7.0, 8.0]
    same(t.at[1:3].set(rt.asarray([7.0, 8.0])), want_set)
    same(compiled(lambda a, v: a.at[1:3].set(v), t, rt.asarray([7.0, 8.0])), want_set)
    same(t, x)                                     # the original is unchanged
    m = np.arange(6.0).reshape(2, 3)
    same(rt.asarray(m).at[:, 1].multiply(10.0), m * [1, 10, 1])
    same(rt.asarray(m).at[0].max(2.0), np.where([[1], [0]], np.maximum(m, 2.0), m))
    same(rt.asarray(m).at[..., -1].min(0.0), np.concatenate([m[:, :2], np.minimum(m[:, 2:], 0)], 1))
    same(rt.asarray(m).at[1, 2].get(), m[1, 2])


# --- indexing -------------------------------------------------------------------------------

X = np.arange(24).reshape(2, 3, 4)
INDICES = [0, -1, (1, 2), (slice(None), 1), (Ellipsis, 2), (None, 0), (0, None, slice(1, 3)),
           slice(None, None, -1), (slice(0, 2), slice(None, None, 2), 3), np.array([1, 0, 1]),
           (np.array([0, 1]), np.array([2, 0])), (slice(None), np.array([[0, 2], [1, 1]])),
           (0, Ellipsis, np.array([3, -1])), [1, 0], ()]


@pytest.mark.parametrize("idx", INDICES, ids=repr)
def test_indexing_eager_and_compiled_match_numpy(idx):
    t = rt.asarray(X)
    same(t[idx], X[idx])
    same(compiled(lambda a: a[idx], t), X[idx])


def test_boolean_masks_eager_and_clear_error_under_tracing():
    t = rt.asarray(X)
    same(t[X > 5], X[X > 5])
    same(t[t % 2 == 0], X[X % 2 == 0])
    same(t[np.array([True, False])], X[np.array([True, False])])
    with pytest.raises(rt.RuntimeOpError, match="boolean mask") as info:
        rt.function(lambda a: a[a > 5])(t)
    msg = str(info.value)
    assert "rt.where" in msg and "test_api.py" in msg


def test_index_with_a_tensor_index_array_compiles_as_an_input():
    t = rt.asarray(X)
    f = rt.function(lambda a, i: a[:, i])
    i1, i2 = rt.asarray([0, 2]), rt.asarray([1, 1])
    same(f(t, i1), X[:, [0, 2]])
    same(f(t, i2), X[:, [1, 1]])
    assert f.trace_count == 1, "index values are data, not part of the cache key"


# --- creation and dtypes --------------------------------------------------------------------

def test_dtypes_are_numpys():
    assert rt.float32 == np.float32 and rt.int8 == np.dtype("int8") and rt.bool_ == np.bool_
    assert rt.asarray([1, 2], dtype=rt.int8).dtype == np.int8
    assert rt.asarray([1.5]).dtype == np.float64 and rt.asarray([True]).dtype == np.bool_
    assert rt.ones((2,), dtype="float32").astype(rt.int32).dtype == np.int32


CREATION = [
    (lambda m: m.zeros((2, 3)), None), (lambda m: m.ones((2,), dtype=m.int32), None),
    (lambda m: m.full((2, 2), 7), None), (lambda m: m.full((3,), 1.5, dtype=m.float32), None),
    (lambda m: m.full((2,), True), None),
    (lambda m: m.arange(5), None), (lambda m: m.arange(1, 7, 2), None),
    (lambda m: m.arange(0.0, 1.0, 0.25), None), (lambda m: m.arange(4, dtype=m.float32), None),
    (lambda m: m.linspace(0, 1, 5), None), (lambda m: m.linspace(0, 1, 4, endpoint=False), None),
    (lambda m: m.eye(3), None), (lambda m: m.eye(2, 4, k=1), None), (lambda m: m.eye(3, dtype=m.int64), None),
    (lambda m: m.zeros_like(m.asarray(A)), None), (lambda m: m.ones_like(m.asarray(A), dtype=m.int8), None),
    (lambda m: m.full_like(m.asarray(A), 3), None), (lambda m: m.asarray([[1, 2], [3, 4]]), None),
]


@pytest.mark.parametrize("k", range(len(CREATION)))
def test_creation_functions_match_numpy_eager_and_compiled(k):
    make, _ = CREATION[k]
    want = make(np)
    same(make(rt), want)
    same(compiled(lambda: make(rt)), want)


def test_asarray_copies_numpy_input():
    a = np.arange(3.0)
    t = rt.asarray(a)
    a[0] = 99.0
    assert float(t[0]) == 0.0


# --- random ---------------------------------------------------------------------------------

def test_seeded_draws_are_reproducible_and_match_numpys_generator():
    rt.random.seed(123)
    a = rt.random.normal(size=(3, 2))
    u = rt.random.uniform(-1.0, 3.0, size=4)
    k = rt.random.integers(0, 10, size=5)
    g = np.random.default_rng(123)
    same(a, g.normal(size=(3, 2)))
    same(u, g.uniform(-1.0, 3.0, size=4))
    same(k, g.integers(0, 10, size=5))
    rt.random.seed(123)
    same(rt.random.normal(size=(3, 2)), a)
    assert rt.random.normal(size=3, dtype=rt.float32).dtype == np.float32


@pytest.mark.parametrize("passes", [(), None])
def test_random_ops_draw_fresh_values_on_every_compiled_call(passes):
    @rt.function(passes=passes)
    def f(x):
        a = rt.random.normal(size=(4,))
        b = rt.random.normal(size=(4,))     # same op and params: must not be merged
        return x + a, a - b

    x = rt.zeros(4)
    r1, d1 = f(x)
    r2, d2 = f(x)
    assert f.trace_count == 1
    assert not np.array_equal(r1, r2), "a compiled random op drew the same values twice"
    assert np.all(np.asarray(d1) != 0), "two random draws were merged into one"
    assert f.graph_for(x).op_counts().get("random_normal") == 2
    rt.random.seed(7)
    c, _ = f(x)
    rt.random.seed(7)
    e = rt.random.normal(size=(4,))
    same(c, e)                                     # compiled draws follow the seed like eager


# --- rt.nn ----------------------------------------------------------------------------------

def _np_logsumexp(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m, axis=axis)


NN = [
    ("relu", lambda x: rt.nn.relu(x), lambda x: np.maximum(x, 0.0)),
    ("sigmoid", lambda x: rt.nn.sigmoid(x), lambda x: 1 / (1 + np.exp(-x))),
    ("softplus", lambda x: rt.nn.softplus(x), lambda x: np.log1p(np.exp(x))),
    ("gelu", lambda x: rt.nn.gelu(x),
     lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
    ("softmax", lambda x: rt.nn.softmax(x, axis=-1),
     lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
    ("log_softmax", lambda x: rt.nn.log_softmax(x, axis=0),
     lambda x: x - np.log(np.exp(x).sum(0, keepdims=True))),
    ("logsumexp", lambda x: rt.nn.logsumexp(x, axis=1), lambda x: np.log(np.exp(x).sum(1))),
    ("logsumexp_all", lambda x: rt.nn.logsumexp(x), lambda x: np.log(np.exp(x).sum())),
    ("layer_norm", lambda x: rt.nn.layer_norm(x, weight=2.0, bias=0.5),
     lambda x: 2.0 * (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) + 0.5),
]


@pytest.mark.parametrize("name,rt_fn,np_fn", NN, ids=[n for n, _, _ in NN])
@settings(max_examples=15, deadline=None)
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=4),
                    elements=st.floats(-6, 6)))
def test_nn_helpers_match_numpy_formulas_eager_and_compiled(name, rt_fn, np_fn, x):
    want = np_fn(x)
    got = rt_fn(rt.asarray(x))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert got.dtype == np.float64
    np.testing.assert_allclose(compiled(rt_fn, rt.asarray(x)), got, rtol=1e-12, atol=1e-14)


def test_nn_helpers_are_stable_at_extremes():
    x = rt.asarray([-1000.0, 0.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")             # no overflow warnings either
        np.testing.assert_allclose(rt.nn.sigmoid(x), [0.0, 0.5, 1.0])
        np.testing.assert_allclose(rt.nn.softplus(x), [0.0, np.log(2), 1000.0])
        np.testing.assert_allclose(rt.nn.softmax(x), [0.0, 0.0, 1.0])
        np.testing.assert_allclose(rt.nn.logsumexp(x), 1000.0)


def test_one_hot_and_nn_helpers_trace_into_plain_ops():
    labels = rt.asarray([2, 0, 1])
    same(rt.nn.one_hot(labels, 4), np.eye(4)[[2, 0, 1]])
    same(compiled(lambda l: rt.nn.one_hot(l, 4, dtype=rt.float32), labels),
         np.eye(4, dtype=np.float32)[[2, 0, 1]])
    f = rt.function(lambda x: rt.nn.softmax(x))
    ops = f.traced_graph_for(rt.ones((2, 3))).op_counts()
    assert {"exp", "max", "sum", "divide"} <= set(ops), ops


# --- composite helpers ----------------------------------------------------------------------

B3 = np.arange(24.0).reshape(2, 3, 4) / 5
V = np.arange(4.0) - 1
COMPOSITES = [
    ("stack", lambda m: m.stack([B3, B3 * 2], axis=-1)),
    ("expand_dims", lambda m: m.expand_dims(B3, axis=(0, 2))),
    ("squeeze", lambda m: m.squeeze(B3[:, :1, None], axis=(1, 2))),
    ("swapaxes", lambda m: m.swapaxes(B3, 0, 2)), ("moveaxis", lambda m: m.moveaxis(B3, 0, -1)),
    ("matrix_transpose", lambda m: m.matrix_transpose(B3)),
    ("tensordot", lambda m: m.tensordot(B3, B3, axes=([1, 2], [1, 2]))),
    ("tensordot_int", lambda m: m.tensordot(B3, np.ones((3, 4, 2)), axes=2)),
    ("tensordot_0", lambda m: m.tensordot(V, V, axes=0)),
    ("outer", lambda m: m.outer(V, V[:3])), ("vecdot", lambda m: m.vecdot(B3, B3[0], axis=-1)),
    ("dot", lambda m: m.dot(B3[0], V)), ("ravel", lambda m: m.ravel(B3)),
    ("tile", lambda m: m.tile(V, (2, 1, 2))), ("repeat", lambda m: m.repeat(B3, 2, axis=1)),
    ("repeat_flat", lambda m: m.repeat(V, 3)), ("flip", lambda m: m.flip(B3, axis=1)),
    ("split", lambda m: m.split(B3, 2, axis=2)), ("pad", lambda m: m.pad(V, (1, 2), constant_values=9)),
    ("clip", lambda m: m.clip(B3, 1, 3)), ("broadcast_to", lambda m: m.broadcast_to(V, (3, 4))),
    ("cumsum", lambda m: m.cumsum(B3, axis=1)), ("concat_none", lambda m: (m.concat if m is rt else m.concatenate)([B3, V], axis=None)),
]


@pytest.mark.parametrize("name,make", COMPOSITES, ids=[c[0] for c in COMPOSITES])
def test_composite_helpers_match_numpy_eager_and_compiled(name, make):
    want = make(np)
    for got in (make(rt), compiled(lambda: make(rt))):
        if isinstance(want, list):
            assert len(got) == len(want)
            for g, w in zip(got, want):
                same(g, w, exact=False)
        else:
            same(got, want, exact=False)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), dtype=float_dtypes)
def test_python_scalars_are_weak_in_eager_and_traced_code(data, dtype):
    x = data.draw(any_array(dtype=dtype))
    c = data.draw(st.integers(-3, 3) | st.floats(-2, 2, allow_nan=False))
    want = x * c + c
    assert want.dtype == np.result_type(x, c)   # NumPy 2: the scalar does not widen the array
    same(rt.asarray(x) * c + c, want)
    same(compiled(lambda a: a * c + c, rt.asarray(x)), want)
    same(compiled(lambda a: a * np.float64(2.0), rt.asarray(x)), x * np.float64(2.0))


@pytest.mark.parametrize("decimals", [0, 1, 2, -1])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int64"])
def test_round_with_decimals_matches_numpy(decimals, dtype):
    a = (np.array([0.125, 2.5, -1.375, 123.456, 15.0]) * (1 if dtype[0] == "f" else 10)).astype(dtype)
    want = np.round(a, decimals)
    same(np.round(rt.asarray(a), decimals), want)
    same(rt.asarray(a).round(decimals), want)
    same(compiled(lambda x: rt.round(x, decimals), rt.asarray(a)), want)


def test_full_with_a_tensor_fill_value_eager_and_traced():
    x = rt.asarray(np.arange(6.0).reshape(2, 3))
    same(rt.full((2, 2), rt.asarray(np.int8(3))), np.full((2, 2), np.int8(3)))
    same(compiled(lambda a: rt.full((3,), a[1, 1]), x), np.full((3,), 4.0))
    same(compiled(lambda a: rt.full_like(a, a[0, 2], dtype=rt.int32), x), np.full((2, 3), 2, np.int32))


def test_asarray_of_a_list_of_tensors_stacks_them_eager_and_traced():
    a = np.arange(3.0, dtype=np.float32)
    x = rt.asarray(a)
    same(rt.asarray([x, x * 2]), np.array([a, a * 2]))
    nested = lambda m, v: m.asarray([[v[0], v[1]], [v[2], 0.0]])  # noqa: E731
    same(compiled(lambda v: nested(rt, v), x), nested(np, a))
    same(rt.asarray([x[0], x[1]], dtype=rt.int32), np.array([a[0], a[1]], dtype=np.int32))


def test_movement_ops_on_a_writable_numpy_array_do_not_alias_it():
    a = np.arange(6.0)
    views = [rt.reshape(a, (2, 3)), rt.flip(a), a.reshape(3, 2) @ np.ones(2), indexing.getitem(a, slice(1, 3)),
             rt.split(a, 2)[0], rt.broadcast_to(a, (2, 6))]
    before = [np.array(v) for v in views]
    a[:] = -1.0
    for v, b in zip(views, before):
        same(v, b)
