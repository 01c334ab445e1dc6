"""The inexact rewrite "blas_rows" (on by default): in fused row groups, sums and means over the
last axis run as BLAS dot products (`x @ ones`, and `vecdot(a, b)` for `sum(a * b)`). Its error
is documented in runtime/passes/simplify.py; these tests hold it to that, check that it applies
where it should (layernorm, softmax) and that switching it off gives eager's bits back."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runtime as rt
from runtime import codegen_fused
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
def short_rows(monkeypatch):
    """Rows of a few elements already take the BLAS route, in row loops of several blocks
    (flat elementwise groups keep their big default blocks, so the sums join row groups)."""
    monkeypatch.setattr(codegen_fused, "BLAS_MIN_ROW", 1)
    monkeypatch.setattr(fusion, "ROW_BLOCK_BYTES", 64)


def _data(draw, shape, dtype):
    kind = draw(st.sampled_from(["normal", "uniform", "offset", "exp"]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    x = {"normal": lambda: rng.normal(size=shape), "uniform": lambda: rng.uniform(size=shape),
         "offset": lambda: 1000 + rng.normal(size=shape),
         "exp": lambda: np.exp(rng.normal(size=shape) - 4)}[kind]()
    return x.astype(dtype)


@st.composite
def row_sums(draw):
    """(function, its terms as float64 for the exact sum, inputs): a sum or mean over the last
    axis of x, x*x or x*y, in a group with an elementwise op before it so that it fuses."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = (draw(st.integers(32, 60)), draw(st.integers(1, 50)))   # >= 2 blocks: it fuses
    if draw(st.booleans()):
        shape = (shape[0], draw(st.integers(1, 4)), shape[1])
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


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=row_sums())
def test_blas_row_sums_stay_within_the_documented_error(case, short_rows):
    f, terms, red, (x, y) = case
    compiled = rt.function(f)
    got = compiled(x, y)[0].numpy()
    src = compiled.code_for(x, y)
    assert "matmul(" in src or "vecdot(" in src, src
    n = terms.shape[-1]
    exact = terms.sum(-1, keepdims=True) / (n if red == "mean" else 1)
    scale = np.abs(terms).sum(-1, keepdims=True) / (n if red == "mean" else 1)
    got = got.reshape(exact.shape).astype(np.float64)
    eps = EPS[x.dtype.type]
    ulp = np.spacing(np.abs(exact).astype(x.dtype)).astype(np.float64)
    # documented: <= 3.1 ulp where the terms share a sign, <= 0.17 eps * sum|x| where they
    # cancel; the bound adds the rounding of the 1.5 scaling and of the products (one ulp each)
    err = np.abs(got - exact)
    assert np.all(err <= 4 * ulp + 0.5 * eps * scale + 2 * eps * np.abs(exact)), err.max()


def test_layernorm_variance_is_one_vecdot_and_the_mean_a_matvec():
    x = np.random.default_rng(0).normal(size=(64, 4096)).astype(np.float32)
    f = rt.function(layernorm)
    src = f.code_for(x)
    assert src.count("matmul(") == 1 and src.count("vecdot(") == 1, src
    assert "multiply(" not in src              # (x - mean)**2 is never written
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(f(x).numpy(), want, rtol=2e-5, atol=2e-5)


def test_softmax_row_sum_is_a_matvec():
    x = np.random.default_rng(1).normal(size=(64, 4096)).astype(np.float32) * 4
    f = rt.function(softmax)
    src = f.code_for(x)
    assert "matmul(" in src and "add_reduce" not in src, src
    e = np.exp(x - x.max(-1, keepdims=True))
    np.testing.assert_allclose(f(x).numpy(), e / e.sum(-1, keepdims=True), rtol=2e-6, atol=1e-9)


def test_switched_off_the_compiled_code_has_eagers_bits():
    x = np.random.default_rng(2).normal(size=(64, 4096)).astype(np.float32)
    simplify.simplify_options(inexact={"pow3"})
    try:
        f = rt.function(layernorm)
        src = f.code_for(x)
        got = f(x).numpy()
    finally:
        simplify.simplify_options(None)
    assert "matmul(" not in src and "vecdot(" not in src and "add_reduce(" in src
    np.testing.assert_array_equal(got, layernorm(rt.asarray(x)).numpy())


def test_integer_rows_and_other_axes_keep_numpys_reduction():
    xi = np.arange(64 * 4096, dtype=np.int32).reshape(64, 4096) % 7
    xf = np.random.default_rng(3).normal(size=(4096, 64)).astype(np.float32)
    fi = rt.function(lambda a: rt.sum(a * 2, axis=-1) + 1)
    ff = rt.function(lambda a: rt.sum(a * 2, axis=0, keepdims=True) + a)   # not the last axis
    assert "matmul(" not in fi.code_for(xi) and "matmul(" not in ff.code_for(xf)
    np.testing.assert_array_equal(fi(xi).numpy(), (xi * 2).sum(-1) + 1)
    np.testing.assert_array_equal(ff(xf).numpy(), (xf * 2).sum(0, keepdims=True) + xf)
