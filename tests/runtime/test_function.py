"""`rt.function`: the cache and its key, explain(), the retracing warning, pytrees, eager
debugging, graph_for/code_for, failed traces, and errors raised while compiled code runs."""
from __future__ import annotations

import collections
import inspect
import warnings

import numpy as np
import pytest

import runtime as rt


def lineno_of(text, fn):
    """The line number of the line containing `text` in the source of `fn` (for error checks)."""
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if text in line)


X = rt.asarray(np.arange(6.0).reshape(2, 3))


def test_cache_hits_and_retraces_are_counted():
    calls = []

    @rt.function
    def f(a, b):
        calls.append(1)                  # Python side effects run only while tracing
        return a * b + 1.0

    f(X, X)
    f(X, X)
    f(X, b=X)                            # keyword or positional: the same signature
    assert (f.trace_count, f.cache_hits, f.calls, len(calls)) == (1, 2, 3, 1)
    f(X.astype(rt.float32), X)           # dtype change: retrace
    f(rt.ones((3,)), rt.ones((3,)))      # shape change: retrace
    f(X, X)                              # an old signature is still cached
    assert (f.trace_count, f.cache_hits, len(calls)) == (3, 3, 3)


def test_explain_names_the_argument_and_old_and_new_types():
    @rt.function
    def f(a, b, scale=2.0):
        return rt.sum(rt.exp(a) * b, axis=-1) * scale

    f(X, X)
    f(rt.ones((4, 3)), X[0])
    f(rt.ones((4, 3)), X[0], scale=3.0)
    f(rt.ones((4, 3)), X[0].astype(rt.float32), scale=3.0)
    text = f.explain()
    assert "trace #1: first call" in text
    assert "a: f64[2,3] -> f64[4,3]" in text and "b: f64[2,3] -> f64[3]" in text
    assert "scale: 2.0 -> 3.0" in text
    assert "b: f64[3] -> f32[3]" in text
    assert "4 call(s), 4 trace(s), 0 cache hit(s)" in text
    assert " ms" in text                 # each trace says what it cost


def test_python_numbers_and_static_argnames_are_part_of_the_key():
    @rt.function(static_argnames=("mode",))
    def f(x, k, mode="relu"):
        y = x * k
        return rt.nn.relu(y) if mode == "relu" else rt.tanh(y)   # branching on a static value

    a = np.arange(-2.0, 2.0)
    np.testing.assert_array_equal(f(rt.asarray(a), 2), np.maximum(a * 2, 0))
    np.testing.assert_array_equal(f(rt.asarray(a), 3), np.maximum(a * 3, 0))
    np.testing.assert_allclose(f(rt.asarray(a), 3, mode="tanh"), np.tanh(a * 3))
    f(rt.asarray(a), 3, mode="tanh")
    assert (f.trace_count, f.cache_hits) == (3, 1)
    assert f(rt.asarray(a), 2.0).dtype == np.float64
    assert f.trace_count == 4, "2 and 2.0 are different keys (int vs float)"

    with pytest.raises(TypeError, match="static"):
        rt.function(lambda x, s: x, static_argnames="s")(X, X)
    with pytest.raises(ValueError, match="not parameters"):
        rt.function(lambda x: x, static_argnames=("nope",))


def test_unhashable_non_tensor_argument_is_explained():
    f = rt.function(lambda x, opts: x * opts["k"])
    with pytest.raises(TypeError, match="hashable"):
        f(X, {"k": {1, 2}})


Params = collections.namedtuple("Params", "w b")


def test_pytree_arguments_and_results():
    @rt.function
    def step(params, batch):
        w, b = params["w"], params["b"]
        out = batch["x"] @ w + b
        return {"out": out, "stats": [rt.mean(out), (rt.max(out), "label", 3)]}, Params(w * 2, b)

    p = {"w": rt.ones((3, 2)), "b": rt.zeros(2)}
    batch = {"x": X}
    res, newp = step(p, batch)
    want = np.arange(6.0).reshape(2, 3) @ np.ones((3, 2))
    np.testing.assert_array_equal(res["out"], want)
    assert isinstance(res["stats"], list) and isinstance(res["stats"][1], tuple)
    assert float(res["stats"][0]) == want.mean() and float(res["stats"][1][0]) == want.max()
    assert res["stats"][1][1:] == ("label", 3)           # non-array leaves come back as they were
    assert isinstance(newp, Params) and np.array_equal(newp.w, np.full((3, 2), 2.0))
    step(p, batch)
    assert step.trace_count == 1
    step({"w": p["w"], "b": p["b"], "extra": rt.ones(1)}, batch)
    assert step.trace_count == 2
    assert "structure changed" in step.explain()
    g = step.graph_for(p, batch)
    assert [v.name for v in g.inputs] == ["params_b", "params_w", "batch_x"]  # parameter order


def test_retracing_warning_names_the_changed_argument():
    f = rt.function(lambda data, k: rt.sum(data) * k, retrace_warning_after=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n in range(1, 7):
            f(rt.ones((n,)), 1.0)
    found = [w for w in caught if issubclass(w.category, rt.RetracingWarning)]
    assert len(found) == 1, "warned once, not on every retrace"
    msg = str(found[0].message)
    assert "traced 4 times" in msg and "data: f64[3] -> f64[4]" in msg and "explain()" in msg
    assert found[0].filename == __file__, "the warning points at the caller's line"


def test_run_functions_eagerly_runs_the_python_every_call():
    seen = []

    @rt.function
    def f(x):
        seen.append(type(x).__name__)
        return x * 2.0

    rt.run_functions_eagerly(True)
    try:
        assert rt.functions_run_eagerly()
        r1, r2 = f(X), f(X)
    finally:
        rt.run_functions_eagerly(False)
    assert seen == ["Tensor", "Tensor"] and f.trace_count == 0
    np.testing.assert_array_equal(r1, np.arange(6.0).reshape(2, 3) * 2)
    f(X)
    assert seen[-1] == "Tracer" and f.trace_count == 1


def test_graph_for_and_code_for_are_readable():
    def model(x, w):
        h = rt.tanh(x @ w)
        return rt.mean(h * h, axis=0)

    f = rt.function(model, passes=())
    w = rt.ones((3, 4))
    text = str(f.graph_for(X, w))
    assert text.splitlines()[0] == "graph model(x: f64[2,3], w: f64[3,4]):"
    for piece in ("matmul(x, w)", "tanh(", "mean(", "axis=(0,)", "f64[2,4]", "return"):
        assert piece in text, piece
    code = f.code_for(X, w)
    assert code.startswith("def model(x, w):")
    assert "matmul(x, w)" in code and "tanh(" in code and "return" in code
    line = lineno_of("h = rt.tanh(x @ w)", model)
    assert f"test_function.py:{line}" in code, "each generated line names the user's line"
    compile(code, "<check>", "exec")                     # it is plain Python
    with_locs = f.graph_for(X, w).format(locations=True)
    assert f"test_function.py:{line}" in with_locs


def test_a_failed_trace_leaves_no_cache_entry():
    def f(x):
        if x.shape[0] > 2:
            raise ValueError("too big")
        return x + rt.ones((3, 3))                       # shape error for 2x3 inputs

    g = rt.function(f)
    for _ in range(2):                                   # and failing again, not half-cached
        with pytest.raises(rt.RuntimeOpError, match="add"):
            g(X)
        assert g.trace_count == 0 and not g._cache
    with pytest.raises(ValueError, match="too big"):
        g(rt.ones((4, 3)))
    assert g.trace_count == 0
    np.testing.assert_array_equal(g(rt.ones((1, 3))), np.full((3, 3), 2.0))
    assert g.trace_count == 1


def test_runtime_error_in_compiled_code_names_the_op_and_the_users_line():
    def pick(a, i):
        return a[i] * 2.0          # the index values are data: only the run can check them

    f = rt.function(pick)
    np.testing.assert_array_equal(f(X, rt.asarray([1, 0])), np.arange(6.0).reshape(2, 3)[[1, 0]] * 2)
    with pytest.raises(rt.RuntimeOpError) as info:
        f(X, rt.asarray([5]))
    msg = str(info.value)
    line = lineno_of("return a[i] * 2.0", pick)
    assert "getitem" in msg and "out of bounds" in msg and "compiled function `pick`" in msg
    assert f"test_function.py:{line}" in msg and "return a[i] * 2.0" in msg
    assert info.value.op == "getitem" and info.value.loc.lineno == line


def test_overflowing_cast_in_compiled_code_names_astype_and_the_line():
    def to_int(a):
        return (a * 1e300).astype(rt.int32)

    f = rt.function(to_int)
    with np.errstate(over="ignore", invalid="raise"), pytest.raises(rt.RuntimeOpError) as info:
        f(rt.asarray([1e10]))
    msg = str(info.value)
    assert "astype" in msg and f"test_function.py:{lineno_of('astype(rt.int32)', to_int)}" in msg


def test_function_as_method_and_call_form():
    class Model:
        def __init__(self):
            self.w = rt.ones((3,))

        @rt.function
        def apply(self, x):
            return x * self.w

    m = Model()
    np.testing.assert_array_equal(m.apply(X), np.arange(6.0).reshape(2, 3))
    g = rt.function(lambda a: a + 1, name="plus_one")
    assert "plus_one" in repr(g) and g(X).shape == (2, 3)
    assert "def plus_one(a):" in g.code_for(X)


def test_a_compiled_function_called_while_tracing_is_inlined():
    inner = rt.function(lambda x: x.at[0].add(1.0) * 2)
    outer = rt.function(lambda x: inner(x) + 1)
    x = rt.asarray(np.arange(3.0))
    np.testing.assert_array_equal(outer(x), (np.arange(3.0) + [1, 0, 0]) * 2 + 1)
    ops = outer.graph_for(x).op_counts()
    assert "index_update" in ops and "add" in ops, ops
    np.testing.assert_array_equal(inner(x), (np.arange(3.0) + [1, 0, 0]) * 2)   # alone: compiled
    assert inner.trace_count == 1


def test_an_inlined_function_keeps_its_autograph_conversion():
    @rt.function
    def inner(x):
        if rt.sum(x) > 0:          # a traced condition: autograph makes it rt.cond
            y = x * 2.0
        else:
            y = -x
        return y

    outer = rt.function(lambda x: inner(x) + 1.0)
    np.testing.assert_array_equal(outer(rt.asarray([1.0, 2.0])), [3.0, 5.0])
    np.testing.assert_array_equal(outer(rt.asarray([-1.0, -2.0])), [2.0, 3.0])
    assert outer.trace_count == 1


@pytest.mark.filterwarnings("ignore:divide by zero")
def test_static_float_keys_tell_signed_zeros_apart_and_hit_for_nan():
    f = rt.function(lambda x, k: x / k)
    one = rt.asarray([1.0])
    assert float(f(one, 0.0)[0]) == np.inf
    assert float(f(one, -0.0)[0]) == -np.inf, "-0.0 reused the trace made for 0.0"
    f(one, float("nan"))
    f(one, float("nan"))                       # a different nan object: still the same key
    assert f.trace_count == 3 and f.cache_hits == 1


def test_graph_inputs_are_named_by_their_path_in_the_arguments():
    f = rt.function(lambda p, xs: p.w * xs[0] + p.b * xs[1])
    g = f.graph_for(Params(rt.ones(2), rt.zeros(2)), [X[0, :2], X[1, :2]])
    assert [v.name for v in g.inputs] == ["p_w", "p_b", "xs_0", "xs_1"]


def test_static_argnums_put_a_positional_value_in_the_key():
    f = rt.function(lambda x, n: rt.tile(x, n), static_argnums=1)
    np.testing.assert_array_equal(f(rt.asarray([1, 2]), 2), [1, 2, 1, 2])
    np.testing.assert_array_equal(f(rt.asarray([1, 2]), 3), [1, 2] * 3)
    assert f.trace_count == 2 and "n: 2 -> 3" in f.explain()


@pytest.mark.parametrize("how", ["identity", "reshape", "transpose", "slice", "stop_gradient",
                                 "cond", "times one"])
def test_results_never_share_memory_with_a_numpy_argument(how):
    # the compiled code returns what NumPy gives (a view, or the input itself): a tensor that
    # shared the caller's array would change when the caller writes to it
    fns = {"identity": lambda x: x, "reshape": lambda x: x.reshape(2, 3),
           "transpose": lambda x: x.reshape(2, 3).T, "slice": lambda x: x[1:],
           "stop_gradient": rt.stop_gradient, "times one": lambda x: x * 1,
           "cond": lambda x: rt.cond(rt.sum(x) > 0, lambda v: v, lambda v: -v, x)}
    f = rt.function(fns[how])
    for call in range(2):                    # the first call traces, the second takes the fast path
        a = np.arange(1.0, 7.0)
        y = f(a) if call else f(x=a) if how != "stop_gradient" else f(a)
        want = np.asarray(y).copy()
        a[:] = -100.0
        np.testing.assert_array_equal(np.asarray(y), want, err_msg=f"{how}, call {call}")


def test_tensor_arguments_are_not_copied_on_the_way_out():
    t = rt.asarray(np.arange(6.0))
    f = rt.function(lambda x: x.reshape(2, 3))
    for _ in range(2):
        assert np.shares_memory(np.asarray(f(t)), np.asarray(t)), "a tensor is immutable: no copy needed"
