"""The inexact rewrite "blas_rows" (on by default): in fused row groups, sums and means over the
last axis run as BLAS dot products of chunks of at most 48 elements, the partials then summed
pairwise. Its error is documented in runtime/passes/simplify.py; these tests hold it to that
(including rows of many equal terms, where one dot over a whole row would not be), check that
it applies where it should (layernorm, softmax) and that switching it off gives eager's bits."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runtime as rt
from runtime.passes import fusion, simplify

EPS = {np.float32: np.finfo(np.float32).eps, np.float64: np.finfo(np.float64).eps}


def layernorm(x):
    mu = rt.mean(x, axis=-1, keepdims=True)
    d = x - mu
    return d / rt.sqrt(rt.mean(d * d, axis=-1, keepdims=True) + 1e-5)


def softmax(x):
    e = rt.exp(x - rt.max(x, axis=-1, keepdims=True))
    return e / rt.sum(e, axis=-1, keepdims=True)


@pytest.fixture
def small_row_blocks(monkeypatch):
    """Row loops of several blocks on small arrays (flat elementwise groups keep their big
    default blocks, so the sums join row groups)."""
    monkeypatch.setattr(fusion, "ROW_BLOCK_BYTES", 256)


def _data(draw, shape, dtype):
    kind = draw(st.sampled_from(["normal", "uniform", "offset", "exp", "equal terms"]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    x = {"normal": lambda: rng.normal(size=shape), "uniform": lambda: rng.uniform(size=shape),
         "offset": lambda: 1000 + rng.normal(size=shape),
         "exp": lambda: np.exp(rng.normal(size=shape) - 4),
         # many equal terms per row: where sequential BLAS sums lose most (see simplify.py)
         "equal terms": lambda: np.maximum(rng.uniform(-2, 2, size=shape),
                                           rng.uniform(0, 2, size=(shape[0], 1)))}[kind]()
    return x.astype(dtype)


@st.composite
def row_sums(draw):
    """(function, its terms as float64 for the exact sum, reduction, inputs): a sum or mean over
    the last axis of x, x*x or x*y, in a group with an elementwise op so that it fuses."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    chunk, k = draw(st.integers(32, 48)), draw(st.integers(1, 40))
    shape = (draw(st.integers(16, 40)), chunk * k)
    x, y = _data(draw, shape, dtype), _data(draw, shape, dtype)
    what = draw(st.sampled_from(["x", "x*x", "x*y"]))
    red = draw(st.sampled_from(["sum", "mean"]))
    keep = draw(st.booleans())

    def f(a, b):
        a = a * 1.5                              # something to fuse with
        t = {"x": lambda: a, "x*x": lambda: a * a, "x*y": lambda: a * b}[what]()
        return getattr(rt, red)(t, axis=-1, keepdims=keep), a * 2.0

    a64 = x.astype(np.float64) * 1.5
    terms = {"x": a64, "x*x": a64 * a64, "x*y": a64 * y}[what]
    return f, terms, red, (x, y)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=row_sums())
def test_blas_row_sums_stay_within_the_documented_error(case, small_row_blocks):
    f, terms, red, (x, y) = case
    compiled = rt.function(f)
    got = compiled(x, y)[0].numpy()
    assert "matmul(" in compiled.code_for(x, y)
    n = terms.shape[-1] if red == "mean" else 1
    exact = terms.sum(-1, keepdims=True) / n
    scale = np.abs(terms).sum(-1, keepdims=True) / n
    got = got.reshape(exact.shape).astype(np.float64)
    eps = EPS[x.dtype.type]
    ulp = np.spacing(np.abs(exact).astype(x.dtype)).astype(np.float64)
    # documented: <= 5 ulp where the terms share a sign, <= 3.3 eps * sum|x| in all; the bound
    # adds a rounding each for the 1.5 scaling and the products (and float64's reference sum)
    err = np.abs(got - exact)
    assert np.all(err <= 6 * ulp + 3 * eps * scale), (err / (eps * scale)).max()


def test_row_sums_of_computed_values_go_through_blas_and_of_inputs_stay_add_reduce():
    # the variance sums (x - mean)**2, made in the block and in cache: BLAS; the mean sums x,
    # read from memory, where add.reduce streams faster (codegen_fused.py)
    x = np.random.default_rng(0).normal(size=(64, 4096)).astype(np.float32)
    f = rt.function(layernorm)
    src = f.code_for(x)
    assert src.count("matmul(") == 1 and "add_reduce(x_, axis=(1,)" in src, src
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(f(x).numpy(), want, rtol=2e-5, atol=2e-5)
    g = rt.function(softmax)
    assert g.code_for(x).count("matmul(") == 1
    e = np.exp(x - x.max(-1, keepdims=True))
    np.testing.assert_allclose(g(x).numpy(), e / e.sum(-1, keepdims=True), rtol=2e-6, atol=1e-9)


def test_switched_off_the_compiled_code_has_eagers_bits():
    x = np.random.default_rng(2).normal(size=(64, 4096)).astype(np.float32)
    simplify.simplify_options(inexact={"pow3"})
    try:
        f = rt.function(layernorm)
        src = f.code_for(x)
        got = f(x).numpy()
    finally:
        simplify.simplify_options(None)
    assert "matmul(" not in src and "add_reduce(" in src
    np.testing.assert_array_equal(got, layernorm(rt.asarray(x)).numpy())


def test_rows_without_a_chunk_integers_and_other_axes_keep_numpys_reduction():
    xp = np.random.default_rng(3).normal(size=(2048, 131)).astype(np.float32)    # 131: prime
    xi = np.arange(64 * 4096, dtype=np.int32).reshape(64, 4096) % 7
    xf = np.random.default_rng(3).normal(size=(4096, 64)).astype(np.float32)
    fp = rt.function(lambda a: rt.sum(a * 2, axis=-1, keepdims=True) + a)
    fi = rt.function(lambda a: rt.sum(a * 2, axis=-1) + 1)
    ff = rt.function(lambda a: rt.sum(a * 2, axis=0, keepdims=True) + a)     # not the last axis
    for f, x in ((fp, xp), (fi, xi)):
        assert "fused" in f.graph_for(x).op_counts() and "matmul(" not in f.code_for(x)
    assert "matmul(" not in ff.code_for(xf)
    np.testing.assert_array_equal(fp(xp).numpy(), (xp * 2).sum(-1, keepdims=True) + xp)
    np.testing.assert_array_equal(fi(xi).numpy(), (xi * 2).sum(-1) + 1)
    np.testing.assert_array_equal(ff(xf).numpy(), (xf * 2).sum(0, keepdims=True) + xf)
