"""rt.cond, rt.while_loop, rt.fori_loop, rt.scan: eager (plain Python) vs compiled agree on
generated inputs that take every branch and different trip counts; the documented errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import runtime as rt
from runtime import control_flow as cf

floats = hnp.arrays(np.float64, st.integers(1, 6), elements=st.floats(-3, 3, allow_nan=False))


def both(f, *args, **kw):
    """(eager result, compiled result, compiled function) as NumPy."""
    g = rt.function(f, **kw)
    rt.run_functions_eagerly(True)
    try:
        e = g(*args)
    finally:
        rt.run_functions_eagerly(False)
    c = g(*args)
    return e, c, g


def close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a, b)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@given(floats, st.floats(-3, 3))
def test_cond_takes_both_branches_like_eager(x, t):
    def f(x, t):
        return rt.cond(rt.sum(x) > t, lambda a: rt.sin(a) * t, lambda a: a - t, x)
    e, c, g = both(f, rt.asarray(x), rt.asarray(t))
    close(e, c)
    close(c, np.sin(x) * t if x.sum() > t else x - t)
    assert g.graph_for(rt.asarray(x), rt.asarray(t)).op_counts().get("cond") == 1


@given(st.floats(0.1, 50), st.integers(1, 4))
def test_while_loop_trip_counts_follow_the_data(limit, k):
    def f(limit):
        return rt.while_loop(lambda c: c[1] < limit, lambda c: (c[0] + 1, c[1] * 2.0 + k),
                             (0, rt.asarray(0.5)))
    e, c, g = both(f, rt.asarray(limit))
    n, v = 0, 0.5
    while v < limit:
        n, v = n + 1, v * 2.0 + k
    assert int(c[0]) == n and int(e[0]) == n
    close(c[1], v)
    close(e[1], c[1])


@given(floats, st.integers(0, 5))
def test_fori_loop_static_bounds_any_trip_count(x, n):
    def f(x):
        return rt.fori_loop(0, n, lambda i, acc: acc * 0.5 + x * i.astype(rt.float64), rt.zeros_like(x))
    e, c, g = both(f, rt.asarray(x))
    acc = np.zeros_like(x)
    for i in range(n):
        acc = acc * 0.5 + x * i
    close(c, acc)
    close(e, c)
    assert "fori_loop" in g.graph_for(rt.asarray(x)).op_counts()


@given(st.integers(-2, 6))
def test_fori_loop_traced_bounds_becomes_while(n):
    def f(n):
        return rt.fori_loop(0, n, lambda i, s: s + i, rt.asarray(0))
    c = rt.function(f)(rt.asarray(n))
    assert int(c) == sum(range(n))
    assert "while_loop" in rt.function(f).graph_for(rt.asarray(n)).op_counts()


@given(hnp.arrays(np.float64, st.tuples(st.integers(0, 5), st.integers(1, 3)),
                  elements=st.floats(-2, 2, allow_nan=False)))
def test_scan_like_a_python_loop(xs):
    def f(xs):
        return rt.scan(lambda c, x: (c * 0.9 + x, rt.sum(c * x)), rt.zeros(xs.shape[1]), xs)
    carry, ys = rt.function(f)(rt.asarray(xs))
    c, expect = np.zeros(xs.shape[1]), []
    for x in xs:
        expect.append(np.sum(c * x))
        c = c * 0.9 + x
    close(carry, c)
    close(ys, np.array(expect).reshape(len(xs)))
    if len(xs):
        ec, eys = f(rt.asarray(xs))        # eager
        close(ec, carry)
        close(eys, ys)


def test_weak_python_number_carry_takes_the_dtype_eager_gives():
    x = rt.asarray(np.arange(3, dtype=np.float32))

    def f(x):
        return rt.fori_loop(0, 3, lambda i, acc: acc + rt.sum(x), 0.0)
    e, c, _ = both(f, x)
    assert c.dtype == np.float32 == e.dtype
    close(c, e)


def test_closures_over_outer_values_become_inputs():
    def f(x, y):
        return rt.cond(rt.sum(x) > 0, lambda: x * y, lambda: x + y)
    g = rt.function(f)
    gr = g.graph_for(rt.ones(2), rt.ones(2))
    gr.verify()
    node = [n for n in gr.nodes if n.op.name == "cond"][0]
    assert [v.name for v in node.params["true_graph"].inputs] == ["x", "y"]
    close(g(rt.ones(2), rt.ones(2) * 3), [3.0, 3.0])
    close(g(-rt.ones(2), rt.ones(2) * 3), [2.0, 2.0])


def test_nested_cond_in_loop_in_cond_verifies_and_runs():
    def f(x):
        def body(i, v):
            return rt.cond(rt.sum(v) > 4.0, lambda a: a - 1.0, lambda a: a * 2.0, v)
        return rt.cond(rt.sum(x) > 0, lambda: rt.fori_loop(0, 5, body, x), lambda: x)
    e, c, g = both(f, rt.asarray([0.5, 0.25]))
    close(e, c)
    g.traced_graph_for(rt.asarray([0.5, 0.25])).verify()
    g.graph_for(rt.asarray([0.5, 0.25])).verify()
    assert "graph body" in str(g.graph_for(rt.asarray([0.5, 0.25])))


# -- errors ---------------------------------------------------------------------------------

def test_branches_with_different_shapes_name_both():
    f = rt.function(lambda x: rt.cond(rt.sum(x) > 0, lambda: x, lambda: x[:1]))
    with pytest.raises(cf.ControlFlowError) as e:
        f(rt.ones(3))
    msg = str(e.value)
    assert "f64[3] in the true branch" in msg and "f64[1] in the false branch" in msg
    assert "test_constructs.py" in msg


def test_branches_with_different_dtypes_name_both():
    f = rt.function(lambda x: rt.cond(rt.sum(x) > 0, lambda: x, lambda: x.astype(rt.float32)))
    with pytest.raises(cf.ControlFlowError, match=r"f64\[3\] in the true branch, f32\[3\] in the false"):
        f(rt.ones(3))


def test_branches_with_different_structures():
    f = rt.function(lambda x: rt.cond(rt.sum(x) > 0, lambda: (x, x), lambda: x))
    with pytest.raises(cf.ControlFlowError, match="different structures"):
        f(rt.ones(3))


def test_python_number_in_one_branch_takes_the_other_dtype():
    f = rt.function(lambda x: rt.cond(rt.sum(x) > 0, lambda: rt.sum(x), lambda: 0.0))
    x = rt.asarray(np.ones(3, np.float32))
    assert f(x).dtype == np.float32 and float(f(x)) == 3.0 and float(f(-x)) == 0.0


def test_predicate_must_be_a_scalar():
    f = rt.function(lambda x: rt.cond(x > 0, lambda: x, lambda: -x))
    with pytest.raises(cf.ControlFlowError, match=r"single value, got bool\[3\].*rt.any"):
        f(rt.ones(3))


def test_loop_shape_change_names_the_value():
    f = rt.function(lambda x: rt.while_loop(lambda v: rt.sum(v) < 10, lambda v: rt.concat([v, v]), x))
    with pytest.raises(cf.ControlFlowError, match=r"changes shape inside the loop.*f64\[2\] before, f64\[4\] after"):
        f(rt.ones(2))


def test_loop_dtype_change_names_the_value():
    f = rt.function(lambda x: rt.fori_loop(0, 3, lambda i, c: (c[0], c[1] * 0.5), (x, rt.asarray(1))))
    with pytest.raises(cf.ControlFlowError, match=r"`val_1` changes dtype.*i64\[\] before, f64\[\] after"):
        f(rt.ones(2))


def test_loop_value_that_is_not_a_tensor():
    f = rt.function(lambda x: rt.while_loop(lambda c: rt.sum(c[0]) < 3, lambda c: (c[0] + 1, c[1]), (x, "s")))
    with pytest.raises(cf.ControlFlowError, match="str 's'.*only tensors and numbers"):
        f(rt.ones(2))


# -- op properties seen by the passes --------------------------------------------------------

def test_pure_subgraphs_give_a_pure_node_and_effects_an_effectful_one():
    x = rt.ones(2)
    pure = rt.function(lambda x: rt.cond(rt.sum(x) > 0, lambda: x, lambda: -x)).traced_graph_for(x)
    noisy = rt.function(lambda x: rt.cond(rt.sum(x) > 0, lambda: x + rt.random.normal(size=2),
                                          lambda: -x)).traced_graph_for(x)
    [p] = [n for n in pure.nodes if n.op.name.startswith("cond")]
    [q] = [n for n in noisy.nodes if n.op.name.startswith("cond")]
    assert p.op.pure and not q.op.pure and q.op.side_effect


def test_unused_pure_cond_is_dropped_but_random_draws_in_a_loop_stay():
    def f(x):
        rt.cond(rt.sum(x) > 0, lambda: x * 2, lambda: x)           # unused and pure
        rt.fori_loop(0, 2, lambda i, v: v + rt.random.normal(size=2), x)  # unused, random
        return x + 1
    ops = rt.function(f).graph_for(rt.ones(2)).op_counts()
    assert "cond" not in ops and ops.get("fori_loop_effectful") == 1


def test_verify_checks_subgraphs_and_what_feeds_them():
    g = rt.function(lambda x: rt.cond(rt.sum(x) > 0, lambda: x * 2, lambda: x)).traced_graph_for(rt.ones(2))
    g.verify()
    [node] = [n for n in g.nodes if n.op.name == "cond"]
    inner = node.params["true_graph"]
    inner.inputs[0].dtype = np.dtype(np.float32)          # a broken rewrite
    with pytest.raises(rt.GraphError, match="expects f32"):
        g.verify()
    inner.inputs[0].dtype = np.dtype(np.float64)
    inner.outputs.append(rt.Graph().add_input((), np.float64, "stray"))   # not defined in it
    with pytest.raises(rt.GraphError, match="not defined"):
        g.verify()


def test_subgraphs_get_the_passes_of_their_function():
    def f(x):
        return rt.cond(rt.sum(x) > 0, lambda: (rt.sin(x), x * 2.0)[1], lambda: x)   # sin: dead
    for passes in (None, ()):
        g = rt.function(f, passes=passes)
        close(g(rt.ones(2)), np.full(2, 2.0))
        [node] = [n for n in g.graph_for(rt.ones(2)).nodes if n.op.name == "cond"]
        src = node.params["true_graph"]._compiled_fn.__code__
        assert ("sin" in src.co_names) == (passes == ()), (passes, src.co_names)
