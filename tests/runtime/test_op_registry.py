"""Every op in `rt.OPS`, over generated shapes and dtypes: eager vs NumPy, `abstract_eval` vs the
real eager result, the reference interpreter and compiled code vs eager.

The parametrization reads the registry, so an op registered anywhere is tested here; an op
without a generator in rt_op_cases.py fails with a message saying so.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import runtime as rt
from runtime.core import bind
from runtime.graph import Value, evaluate
from rt_op_cases import CASES, Case
from rt_strategies import examples

ALL_OPS = sorted(rt.OPS)


def test_every_registered_op_has_a_case_generator():
    missing = [name for name in ALL_OPS if name not in CASES]
    assert not missing, (f"ops without a test-case generator: {missing}. Add one to "
                         "tests/runtime/rt_op_cases.py with @case_for(name).")


def _tensor(a):
    return rt.asarray(a) if isinstance(a, np.ndarray) else a


def _as_list(r):
    return list(r) if isinstance(r, (list, tuple)) else [r]


def assert_same(got, expected, exact=True, what=""):
    """Same dtype, same shape, values bit-identical (NaNs equal) or close."""
    got, expected = _as_list(got), _as_list(expected)
    assert len(got) == len(expected), f"{what}: {len(got)} results, expected {len(expected)}"
    for g, e in zip(got, expected):
        g, e = np.asarray(g), np.asarray(e)
        assert g.dtype == e.dtype, f"{what}: dtype {g.dtype}, NumPy gives {e.dtype}"
        assert g.shape == e.shape, f"{what}: shape {g.shape}, NumPy gives {e.shape}"
        if exact or e.dtype.kind not in "fc":
            np.testing.assert_array_equal(g, e, err_msg=what)
        else:
            tol = {2: 2e-3, 4: 2e-6, 8: 1e-13}[e.dtype.itemsize]
            np.testing.assert_allclose(g, e, rtol=tol, atol=tol, err_msg=what)


def _avals(args):
    """What tracing hands abstract_eval: typed Values for arrays, Python scalars as they are."""
    return [Value(a.shape, a.dtype) if isinstance(a, np.ndarray) else a for a in args]


def _types(r):
    return [(tuple(s), np.dtype(d)) for s, d in _as_list(r)] if isinstance(r, list) else \
        [(tuple(r[0]), np.dtype(r[1]))]


def check_case(op, case: Case):
    before = case.before or (lambda: None)
    before()
    try:
        expected = case.ref(*case.args)
        ref_error = None
    except Exception as e:          # NumPy rejects these inputs: so must every mode
        ref_error = e
    targs = [_tensor(a) for a in case.args]

    # 1. eager, through bind and through the public function, vs NumPy
    if ref_error is not None:
        with pytest.raises(rt.RuntimeOpError) as info:
            before()
            bind(op, *targs, **case.params)
        assert op.name in str(info.value), "the error names the op"
        with pytest.raises(Exception):
            op.abstract_eval(*_avals(case.args), **case.params)
        return
    before()
    eager = bind(op, *targs, **case.params)
    assert_same(eager, expected, case.exact, f"eager {op.name}")
    if case.public is not None:
        before()
        assert_same(case.public(*targs), expected, case.exact, f"public rt function for {op.name}")

    fn = case.public or (lambda *xs: bind(op, *xs, **case.params))
    f = rt.function(lambda *xs: fn(*xs), passes=())
    if not case.traceable:          # a boolean mask: the shape depends on values
        with pytest.raises(IndexError, match="boolean mask"):
            op.abstract_eval(*_avals(case.args), **case.params)
        # the op itself (the public x.at[mask] traces when it keeps x's shape: test_masked_update)
        f = rt.function(lambda *xs: bind(op, *xs, **case.params), passes=())
        with pytest.raises(rt.RuntimeOpError, match="boolean mask"):
            f(*targs)
        assert f.trace_count == 0, "a failed trace leaves no cache entry"
        return

    # 2. abstract_eval predicts exactly what eager produced
    res = op.abstract_eval(*_avals(case.args), **case.params)
    predicted = _types(res if op.multiple_results else (res[0], res[1]))
    actual = [(np.shape(r), np.asarray(r).dtype) for r in _as_list(eager)]
    assert predicted == actual, f"abstract_eval says {predicted}, eager gives {actual}"

    # 3. compiled (no passes: the same NumPy calls, so bit-identical) and the reference
    #    interpreter on the traced graph, both vs eager
    before()
    compiled = f(*targs)
    assert_same(compiled, _as_list(eager) if op.multiple_results else eager, True, f"compiled {op.name}")
    graph = f.graph_for(*targs)
    graph.verify()
    assert [(v.shape, v.dtype) for v in graph.outputs] == actual, "graph output types = eager"
    before()
    interp = evaluate(graph, *[a for a in case.args if isinstance(a, np.ndarray)])
    assert_same(interp if op.multiple_results else interp[0],
                _as_list(eager) if op.multiple_results else eager, True, f"evaluate {op.name}")


@pytest.mark.parametrize("name", ALL_OPS)
def test_op(name):
    op = rt.OPS[name]
    gen = CASES.get(name)
    if gen is None:
        pytest.fail(f"op {name!r} has no test-case generator: add one to "
                    "tests/runtime/rt_op_cases.py with @case_for({name!r})")

    @settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(gen())
    def run(case):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_case(op, case)
    run()
