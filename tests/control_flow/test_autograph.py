"""Autograph: Python control flow on traced values becomes graph control flow in rt.function,
agreeing with eager execution; each documented limitation gives its documented error."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import runtime as rt
from runtime.autograph import AutographError

from .programs import load, programs

vectors = hnp.arrays(np.float64, st.integers(1, 5), elements=st.floats(-2, 2, allow_nan=False))


def eager_and_compiled(f, *args, **kw):
    g = rt.function(f, **kw)
    rt.run_functions_eagerly(True)
    try:
        e = g(*args)
    finally:
        rt.run_functions_eagerly(False)
    return e, g(*args), g


def assert_same(e, c):
    for a, b in zip(e if isinstance(e, tuple) else (e,), c if isinstance(c, tuple) else (c,)):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


@settings(max_examples=40)
@given(programs(), vectors, st.floats(-2, 2), st.sampled_from([None, ()]))
def test_generated_programs_compiled_agree_with_eager(src, x, t, passes):
    prog = load(src)
    e, c, g = eager_and_compiled(prog, rt.asarray(x), rt.asarray(t), passes=passes)
    assert_same(e, c)
    graph = g.traced_graph_for(rt.asarray(x), rt.asarray(t))
    graph.verify()
    ops = all_ops(graph)
    if " > 1:" in src:
        return                      # a Python `if` may skip code: no claim about which ops exist
    if "while" in src:
        assert "while_loop" in ops, src
    if "rt.range" in src:
        assert "fori_loop" in ops, src
    if any(t in src for t in ("if rt.", "if not rt.", "if s <")):
        assert "cond" in ops, src


def all_ops(graph):
    """Op names in the graph and every sub-graph (effectful twins counted under the base name)."""
    names = set()
    for n in graph.nodes:
        names.add(n.op.name.replace("_effectful", ""))
        for p in n.params.values():
            if isinstance(p, rt.Graph):
                names |= all_ops(p)
    return names


def classify(x):
    if rt.sum(x) > 1:
        y = x * 2
    elif rt.sum(x) < -1:
        y = -x
    else:
        y = x * 0
    return y


@given(vectors)
def test_if_elif_else_takes_every_branch(x):
    e, c, g = eager_and_compiled(classify, rt.asarray(x))
    assert_same(e, c)
    s = x.sum()
    assert_same(c, x * 2 if s > 1 else -x if s < -1 else x * 0)
    assert g.graph_for(rt.asarray(x)).op_counts().get("cond") == 1


def nested(x, n):
    total = rt.zeros_like(x)
    i = 0
    while rt.sum(total) < n and i < 6:
        for j in rt.range(3):
            if rt.max(total) > 2.0:
                total = total + 0.25 * x
            else:
                total = total + x
        i = i + 1
    return total, i


@given(hnp.arrays(np.float64, 3, elements=st.floats(0.1, 1.0)), st.floats(-1, 20))
def test_nested_while_for_if(x, n):
    e, c, g = eager_and_compiled(nested, rt.asarray(x), rt.asarray(n))
    assert_same(e, c)
    ops = str(g.graph_for(rt.asarray(x), rt.asarray(n)))
    assert "while_loop(" in ops and "fori_loop(" in ops and "cond(" in ops


def python_conditions(x, mode):
    if mode == "double":              # a Python value: stays a Python `if`
        x = x * 2
    for _ in range(2):                # a Python loop: unrolled
        x = x + 1
    return x


def test_python_valued_conditions_stay_python():
    g = rt.function(python_conditions, static_argnames="mode")
    ops = g.graph_for(rt.ones(2), "double").op_counts()
    assert not any(k.startswith(("cond", "while", "fori")) for k in ops)
    assert_same(g(rt.ones(2), "double"), np.full(2, 4.0))
    assert_same(g(rt.ones(2), "same"), np.full(2, 3.0))


def early_return(x):
    if rt.sum(x) > 0:
        return x * 3
    y = x - 1
    return y * y


@given(vectors)
def test_return_in_both_paths_of_an_if(x):
    e, c, _ = eager_and_compiled(early_return, rt.asarray(x))
    assert_same(e, c)


def boolean_ops(x, t):
    if rt.sum(x) > t and not rt.max(x) > 1.5 or rt.min(x) < -1.5:
        return x + 1
    return x - 1


@given(vectors, st.floats(-2, 2))
def test_and_or_not_in_conditions(x, t):
    e, c, _ = eager_and_compiled(boolean_ops, rt.asarray(x), rt.asarray(t))
    assert_same(e, c)


def test_cell_source_from_linecache_converts():
    f = load("def cell_fn(x):\n    if rt.sum(x) > 0:\n        x = x + 1\n    return x\n", "cell_fn")
    g = rt.function(f)
    assert_same(g(rt.ones(2)), [2.0, 2.0])
    assert_same(g(-rt.ones(2)), [-1.0, -1.0])
    assert "cond" in g.graph_for(rt.ones(2)).op_counts()


def test_autograph_off_gives_the_concretization_error_with_the_ways_out():
    with pytest.raises(rt.ConcretizationError) as e:
        rt.function(classify, autograph=False)(rt.ones(2))
    msg = str(e.value)
    assert "test_autograph.py" in msg and "if rt.sum(x) > 1:" in msg   # the user's line
    assert "`x` (f64[2])" in msg                                       # the input
    assert "autograph" in msg and "rt.cond(" in msg and "static_argnames" in msg


# -- documented limitations ------------------------------------------------------------------

def one_branch(x):
    if rt.sum(x) > 0:
        y = x * 2
    return y


def test_variable_defined_in_one_branch_names_it_and_the_line():
    with pytest.raises(NameError) as e:
        rt.function(one_branch)(rt.ones(2))
    msg = str(e.value)
    assert "`y`" in msg and "only in the true branch" in msg and "line" in msg
    assert str(one_branch.__code__.co_firstlineno + 1) in msg


def grows(x):
    while rt.sum(x) < 100:
        x = rt.concat([x, x])
    return x


def test_shape_change_in_loop_names_the_variable_and_line():
    with pytest.raises(rt.ControlFlowError) as e:
        rt.function(grows)(rt.ones(2))
    msg = str(e.value)
    assert "`x` changes shape" in msg and "f64[2] before, f64[4] after" in msg
    assert f"test_autograph.py:{grows.__code__.co_firstlineno + 1}" in msg


def first_assigned_in_loop(x):
    i = 0
    while rt.sum(x) < 10:
        z = x * 2
        x = z
        i = i + 1
    return x + z


def test_variable_first_assigned_in_loop_and_used_after():
    with pytest.raises(AutographError, match="`z` is first assigned inside the `while` loop"):
        rt.function(first_assigned_in_loop)(rt.ones(2))


def temp_in_loop(x):
    while rt.sum(x) < 10:
        z = x * 2
        x = z + 1
    return x


def test_temporary_in_loop_is_fine():
    assert_same(rt.function(temp_in_loop)(rt.ones(2)), [7.0, 7.0])


def with_break(x):
    while rt.sum(x) < 100:
        x = x * 2
        if rt.max(x) > 3:
            break
        x = x + 1
    return x


@given(hnp.arrays(np.float64, 2, elements=st.floats(0.1, 2)))
def test_break_in_traced_while(x):
    e, c, g = eager_and_compiled(with_break, rt.asarray(x))
    assert_same(e, c)
    assert "while_loop" in all_ops(g.graph_for(rt.asarray(x)))


def search(x, target):
    found = rt.asarray(-1)
    for i in rt.range(x.shape[0]):
        if x[i] < 0:
            continue
        if x[i] > target:
            found = i
            break
        x = x * 1.0
    return found


@given(hnp.arrays(np.float64, 5, elements=st.floats(-2, 2)), st.floats(-1, 1.5))
def test_break_and_continue_in_converted_for(x, t):
    e, c, g = eager_and_compiled(search, rt.asarray(x), rt.asarray(t))
    assert int(e) == int(c)
    expect = next((i for i, v in enumerate(x) if v >= 0 and v > t), -1)
    assert int(c) == expect
    assert "fori_loop" in all_ops(g.graph_for(rt.asarray(x), rt.asarray(t)))


def break_in_with(x):
    import contextlib
    while rt.sum(x) < 10:
        with contextlib.nullcontext():
            if rt.max(x) > 3:
                break
        x = x * 2
    return x


def test_break_the_rewrite_cannot_reach_is_a_clear_error():
    with pytest.raises(AutographError) as e:
        rt.function(break_in_with)(rt.ones(2))
    assert "`break`" in str(e.value) and f"line {break_in_with.__code__.co_firstlineno + 5}" in str(e.value)
    assert "flag" in str(e.value)


def break_in_python_loop(x):
    for i in range(10):               # a Python loop: break keeps Python's meaning
        x = x + 1
        if i == 2:
            break
    return x


def test_break_in_python_loop_still_works():
    assert_same(rt.function(break_in_python_loop)(rt.ones(2)), [4.0, 4.0])


def return_in_loop(x):
    for i in rt.range(3):
        x = x + 1
        if rt.sum(x) > 5:
            return x
    return x


def test_return_inside_a_converted_loop_is_a_clear_error():
    with pytest.raises(AutographError, match=r"`return` inside a `for i in rt.range\(...\)` loop"):
        rt.function(return_in_loop)(rt.ones(2))


def test_lambdas_are_not_converted_and_say_so():
    from runtime.autograph import why_not
    assert "lambda" in why_not(lambda x: x)
    with pytest.raises(rt.ConcretizationError, match="not converted: .*helper function or lambda"):
        rt.function(lambda x: x if rt.sum(x) > 0 else -x)(rt.ones(2))


def conditional_expressions(x, flag):
    y = x * 2 if rt.sum(x) > 0 else -x
    z = 1.0 if flag else 1 / 0          # a Python test: only the chosen side runs
    w = y if (rt.max(x) > 1 and not rt.min(x) > 0) else y * 0
    scale = (lambda v: v if rt.sum(v) > 2 else v * 0.5)(w)     # inside a lambda too
    return y + z + scale


@pytest.mark.parametrize("v", [[1.0, 2.0], [-1.0, -2.0], [-1.0, 3.0], [0.5, 0.25]])
def test_conditional_expressions_on_traced_values_become_conds(v):
    x = np.array(v)
    f = rt.function(conditional_expressions)
    assert_same(f(x, True), conditional_expressions(rt.asarray(x), True))
    assert f.graph_for(x, True).op_counts().get("cond", 0) == 3
    gf = rt.function(grad_of_conditional_expressions)                 # backward through conds
    assert gf.graph_for(x).op_counts().get("cond", 0) >= 3
    assert_same(gf(x), grad_of_conditional_expressions(rt.asarray(x)))


def grad_of_conditional_expressions(x):
    return rt.grad(lambda a: rt.sum(conditional_expressions(a, True)))(x)


def ifexp_branches_differ(x):
    return rt.ones(3) if rt.sum(x) > 0 else rt.ones(4)


def test_conditional_expression_branches_of_different_shapes_say_where():
    with pytest.raises(rt.ControlFlowError, match=r"test_autograph.py:\d+: return rt.ones\(3\) if"):
        rt.function(ifexp_branches_differ)(rt.ones(2))


def helper(x):
    if rt.sum(x) > 0:
        return x * 10
    return x


def calls_helper(x):
    return helper(x) + rt.cond(rt.sum(x) > 0, helper, lambda v: -v, x)


def test_helpers_called_from_converted_code_are_converted_too():
    e, c, g = eager_and_compiled(calls_helper, rt.ones(2))
    assert_same(e, c)
    assert_same(c, [20.0, 20.0])
    assert_same(rt.function(calls_helper)(-rt.ones(2)), [0.0, 0.0])
    assert "cond" in all_ops(g.graph_for(rt.ones(2)))


def test_library_functions_are_not_converted():
    from runtime.autograph import convert_user_function
    assert convert_user_function(np.linalg.norm) is np.linalg.norm
    assert convert_user_function(rt.sum) is rt.sum
    assert convert_user_function(helper) is not helper


def becomes_traced(x):
    v = 1.0
    while v < 10:                     # a Python condition at first ...
        v = v * rt.sum(x)             # ... that becomes traced
    return v


def test_while_whose_condition_becomes_traced_says_so():
    with pytest.raises(AutographError, match="was a Python value when the loop started"):
        rt.function(becomes_traced)(rt.ones(2) * 2)
    assert float(becomes_traced(rt.ones(2) * 2)) == 16.0       # eager: plain Python


def test_generators_are_not_converted():
    from runtime.autograph import why_not

    def gen(x):
        yield x
    assert "generators" in why_not(gen)
