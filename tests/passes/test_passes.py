"""Each pass on programs where we know what it must do: what changes, what must never change
(random draws, side effects, the caller's arrays), and what it reports."""
import math
import tracemalloc

import numpy as np
import pytest

import runtime as rt
from runtime.core import OPS, Op
from runtime.errors import RuntimeOpError
from runtime.passes import DEFAULT_PIPELINE, PASSES, describe

# A side-effect op for these tests only (it records every run), kept out of the op registry.
RECORDED: list = []
record_op = Op("test_record", lambda x: (RECORDED.append(np.array(x)), np.array(x))[1],
               lambda x: (x.shape, x.dtype), side_effect=True)
OPS.pop("test_record")


def record(x):
    return rt.bind(record_op, x)


def ops_of(graph, deep=True):
    names = []
    for n in graph.nodes:
        names.append(n.op.name)
        if deep and n.op.name == "fused":
            names += ops_of(n.params["body"])
    return names


def changes(f, *args):
    return {r.name: r.changes for r in f.lower(*args).reports}


X = np.random.default_rng(0).normal(size=(4, 5))


# -- the pipeline -----------------------------------------------------------------------------
def test_pipeline_is_listed_and_every_pass_documented():
    assert list(DEFAULT_PIPELINE) == ["fold", "simplify", "cse", "dce", "fuse", "memory"]
    text = describe()
    for name in PASSES:
        assert name in text
    assert "Dead code" in text and "Constant folding" in text


def test_unknown_pass_is_rejected_when_the_function_is_made():
    with pytest.raises(ValueError, match="unknown pass.*available"):
        rt.function(lambda x: x, passes=["dce", "inline_everything"])


def test_reports_say_what_each_pass_did():
    f = rt.function(lambda x: rt.exp(x * 1.0) + rt.exp(x * 1.0))
    reports = f.lower(X).reports
    assert [r.name for r in reports] == list(DEFAULT_PIPELINE)
    for a, b in zip(reports, reports[1:]):
        assert a.nodes_after == b.nodes_before and a.bytes_after == b.bytes_before
    assert all(r.ms >= 0 for r in reports)
    ch = {r.name: r.changes for r in reports}
    assert ch["simplify"] == {"x*1": 2} and ch["cse"] == {"merged": 2}
    assert ch["dce"]["removed"] >= 1
    text = f.passes_for(X)
    assert "simplify" in text and "x*1: 2" in text and "nodes" in text


def test_switching_passes_off():
    fn = lambda x: rt.exp(x * 1.0) + rt.exp(x * 1.0)  # noqa: E731
    none = rt.function(fn, passes=[])
    assert none.graph_for(X).format() == none.traced_graph_for(X).format()
    only_cse = rt.function(fn, passes=["cse"])
    assert [r.name for r in only_cse.lower(X).reports] == ["cse"]
    assert ops_of(only_cse.graph_for(X)).count("multiply") == 1
    np.testing.assert_array_equal(none(X).numpy(), only_cse(X).numpy())


# -- dce / cse / fold ---------------------------------------------------------------------------
def test_dce_drops_unused_work_but_never_side_effects_or_random_draws():
    def fn(x):
        rt.exp(x)                 # unused: goes
        record(x * 2.0)           # unused result, but a side effect: stays, with its input
        rt.random.normal(size=3)  # unused, but it advances the generator: stays
        return x + rt.random.normal(size=x.shape)
    f = rt.function(fn)
    ops = ops_of(f.graph_for(X))
    assert "exp" not in ops and "test_record" in ops and "multiply" in ops
    assert ops.count("random_normal") == 2
    rt.random.seed(5)
    want = fn(rt.asarray(X)).numpy()      # eager: the same draws in the same order
    RECORDED.clear()
    rt.random.seed(5)
    np.testing.assert_array_equal(f(X).numpy(), want)
    RECORDED.clear()
    f(X)
    f(X)
    assert len(RECORDED) == 2 and np.array_equal(RECORDED[0], X * 2.0)


def test_cse_merges_equal_work_but_not_random_draws_or_side_effects():
    def fn(x):
        a, b = rt.random.normal(size=x.shape), rt.random.normal(size=x.shape)
        record(x)
        record(x)
        return rt.tanh(x) * rt.tanh(x), a, b
    f = rt.function(fn)
    ops = ops_of(f.graph_for(X))
    assert ops.count("tanh") == 1 and ops.count("random_normal") == 2 and ops.count("test_record") == 2
    RECORDED.clear()
    y, a, b = f(X)
    assert len(RECORDED) == 2
    assert not np.array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(y.numpy(), np.tanh(X) * np.tanh(X))


def test_cse_merges_commutative_ops_in_either_order_but_not_maximum():
    y = np.random.default_rng(4).normal(size=X.shape).astype(X.dtype)
    y[0, 0] = np.nan
    def fn(x, y):
        return x * y + y * x, (x + y) - (y + x), rt.maximum(x, y) + rt.maximum(y, x)
    f = rt.function(fn, passes=["cse"])
    ops = ops_of(f.graph_for(X, y))
    assert ops.count("multiply") == 1 and ops.count("add") == 3 and ops.count("maximum") == 2
    for got, want in zip(f(X, y), fn(rt.asarray(X), rt.asarray(y))):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_stop_gradient_is_the_identity_in_a_compiled_graph():
    f = rt.function(lambda x: rt.nn.softmax(x) * 2.0)       # softmax stops the max's gradient
    assert "stop_gradient" in ops_of(f.traced_graph_for(X))
    assert "stop_gradient" not in ops_of(f.graph_for(X))
    assert changes(f, X)["simplify"].get("stop_gradient") == 1
    g = rt.function(lambda x: rt.grad(lambda v: rt.sum(rt.nn.softmax(v) * x))(x))
    want = rt.grad(lambda v: rt.sum(rt.nn.softmax(v) * rt.asarray(X)))(rt.asarray(X))
    np.testing.assert_allclose(g(X).numpy(), want.numpy(), rtol=1e-12, atol=1e-12)


def test_fold_computes_constants_but_not_random_ops_nor_huge_arrays():
    c = rt.asarray([1.0, 2.0, 3.0, 4.0, 5.0])
    f = rt.function(lambda x: x * (rt.exp(c) * 2.0 + 1.0))
    assert ops_of(f.graph_for(X)) == ["const", "multiply"]
    assert changes(f, X)["fold"] == {"folded": 3}
    np.testing.assert_array_equal(f(X).numpy(), X * (np.exp(c.numpy()) * 2.0 + 1.0))

    g = rt.function(lambda x: x + rt.random.uniform(size=(5,)) * 2.0)
    assert "random_uniform" in ops_of(g.graph_for(X))
    assert not np.array_equal(g(X).numpy(), g(X).numpy())      # fresh draws on every call

    h = rt.function(lambda x: x + (rt.zeros((300, 300)) + 1.0))   # 90000 elements > the bound
    assert "full" in ops_of(h.graph_for(np.ones((300, 300))))


# -- simplify -------------------------------------------------------------------------------------
EXACT_RULES = [
    (lambda x: x * 1, "multiply", "x*1"),
    (lambda x: 1.0 * x, "multiply", "x*1"),
    (lambda x: x + 0, "add", "x+0"),
    (lambda x: x - 0.0, "subtract", "x-0"),
    (lambda x: x / 1, "divide", "x/1"),
    (lambda x: x ** 1, "pow", "x**1"),
    (lambda x: -(-x), "negative", "--x"),
    (lambda x: x ** 2, "pow", "x**2"),
    (lambda x: rt.abs(x) ** 0.5, "pow", "x**0.5"),
    (lambda x: x ** -1, "pow", "x**-1"),
    (lambda x: x / 8.0, "divide", "x/2^k"),
    (lambda x: x / 0.25, "divide", "x/2^k"),
    (lambda x: rt.transpose(rt.transpose(x)), "permute_dims", "transpose(transpose)"),
    (lambda x: rt.reshape(rt.reshape(x, (-1,)), (5, 4)), None, "reshape(reshape)"),
]


@pytest.mark.parametrize("fn, gone, rule", EXACT_RULES, ids=[r[2] + str(i) for i, r in enumerate(EXACT_RULES)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_exact_rewrites_give_the_same_bits(fn, gone, rule, dtype):
    x = (X * 3).astype(dtype)
    f = rt.function(fn)
    assert changes(f, x)["simplify"].get(rule, 0) >= 1
    if gone:
        assert gone not in ops_of(f.graph_for(x))
    want = fn(rt.asarray(x)).numpy()
    got = f(x).numpy()
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_rewrites_that_would_change_shape_or_dtype_are_not_made():
    f = rt.function(lambda x: x * rt.ones((3, 4, 5)))         # broadcasts x up: keep the multiply
    assert "multiply" in ops_of(f.graph_for(X))
    g = rt.function(lambda x: x * 1.0)                         # int * 1.0 is float: keep it
    xi = np.arange(6)
    assert g(xi).dtype == np.float64 and "multiply" in ops_of(g.graph_for(xi))
    h = rt.function(lambda x: x / 3.0)                         # 1/3 is not exact: keep the divide
    assert "divide" in ops_of(h.graph_for(X))


# -- fusion ---------------------------------------------------------------------------------------
def gelu(x):
    return 0.5 * x * (1.0 + rt.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def softmax(x):
    e = rt.exp(x - rt.max(x, axis=-1, keepdims=True))
    return e / rt.sum(e, axis=-1, keepdims=True)


def layernorm(x):
    mu = rt.mean(x, axis=-1, keepdims=True)
    d = x - mu
    var = rt.mean(d * d, axis=-1, keepdims=True)
    return d / rt.sqrt(var + 1e-5)


@pytest.mark.parametrize("fn, x", [
    (gelu, np.random.default_rng(1).normal(size=300_000).astype(np.float32)),
    (softmax, np.random.default_rng(2).normal(size=(400, 3000)).astype(np.float32)),
    (layernorm, np.random.default_rng(3).normal(size=(400, 3000))),
])
def test_whole_workloads_fuse_into_one_chunked_loop(fn, x):
    f = rt.function(fn)
    graph = f.graph_for(x)
    assert [n.op.name for n in graph.nodes if n.op.name != "const"] == ["fused"]
    text = graph.format()
    assert "fused(" in text and "body = graph" in text
    src = f.code_for(x)
    assert "for lo in range(" in src and "out=" in src
    # only the output is allocated at full size: every intermediate lives in block-sized scratch
    assert src.count(f"empty({x.shape!r}") == 1
    fuse = {r.name: r for r in f.lower(x).reports}["fuse"]
    assert fuse.bytes_before >= 2 * x.nbytes and fuse.bytes_after <= x.nbytes / 4
    want = fn(rt.asarray(x)).numpy()
    got = f(x).numpy()
    # the inexact rewrites on by default: x**3 -> x*x*x (<= 2 ulp where it applies) and the
    # row sums as BLAS dot products (test_blas_rows.py holds those to their documented error)
    tol = 1e-6 if x.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_fused_gelu_needs_no_full_size_temporaries():
    x = np.random.default_rng(0).normal(size=1_000_000)        # float64, 8 MB
    f = rt.function(gelu)
    f(x)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    y = f(x)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    assert peak - x.nbytes < 0.25 * x.nbytes                   # naive NumPy holds 2 more arrays
    del y


def test_an_error_inside_a_fused_loop_names_the_op_and_the_users_line():
    def fn(x, k):
        y = x + 1
        z = y ** k                                             # integers to negative powers fail
        return z * 2
    f = rt.function(fn)
    x = np.arange(200_000).reshape(100_000, 2)
    k = np.full((100_000, 2), -1)
    assert "fused" in ops_of(f.graph_for(x, k))
    with pytest.raises(RuntimeOpError) as info:
        f(x, k)
    msg = str(info.value)
    assert "pow(" in msg and "z = y ** k" in msg and "line" in msg


# -- memory ---------------------------------------------------------------------------------------
def test_buffers_are_reused_but_never_the_callers():
    def fn(x):
        a = rt.exp(x @ x.T)            # matmul breaks fusion: full-size values, then reuse
        b = rt.tanh(a @ x)
        return b * 2.0
    x = np.random.default_rng(0).normal(size=(200, 200)) * 0.1
    keep = x.copy()
    f = rt.function(fn)
    assert changes(f, x)["memory"]["buffers reused"] >= 2
    y = f(x)
    np.testing.assert_array_equal(x, keep)
    np.testing.assert_array_equal(y.numpy(), fn(rt.asarray(keep)).numpy())
    y2 = f(x)
    np.testing.assert_array_equal(y.numpy(), y2.numpy())
    assert not np.shares_memory(y.numpy(), y2.numpy())


def test_a_fused_group_never_overwrites_an_input_it_still_reads(small_blocks):
    def fn(x):
        a = x @ x.T                    # owned, full size, dies in the group below
        t = a + 1.0
        first = t * 2.0                # an output written early in each block ...
        return first, a * t            # ... while `a` is still read later in the block
    x = np.random.default_rng(0).normal(size=(12, 5))
    f = rt.function(fn)
    assert "fused" in ops_of(f.graph_for(x))
    for got, want in zip(f(x), fn(rt.asarray(x))):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_a_donated_input_becomes_the_output_buffer():
    x = np.random.default_rng(0).normal(size=200_000)
    want = gelu(rt.asarray(x)).numpy()
    plain = rt.function(gelu)
    y = plain(x)
    assert not np.shares_memory(y.numpy(), x)
    donating = rt.function(gelu, donate_argnames="x")
    mine = x.copy()
    y = donating(mine)
    assert np.shares_memory(y.numpy(), mine)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12, atol=1e-12)


def test_inexact_rewrites_are_listed_and_tanh_via_exp_is_opt_in():
    from runtime.passes import simplify
    assert simplify.INEXACT["pow3"][2] is True and simplify.INEXACT["tanh_exp"][2] is False
    u = np.linspace(-20, 20, 4001)
    default = rt.function(lambda u: rt.tanh(u))
    assert "tanh" in ops_of(default.graph_for(u))
    simplify.simplify_options(inexact={"pow3", "tanh_exp"})
    try:
        opted = rt.function(lambda u: rt.tanh(u))
        assert "tanh" not in ops_of(opted.graph_for(u)) and "exp" in ops_of(opted.graph_for(u))
        got, want = opted(u).numpy(), np.tanh(u)
    finally:
        simplify.simplify_options(None)
    far = np.abs(u) >= 0.5                       # the documented error: 5 ulp there, 3.3e-16 near 0
    assert np.all(np.abs(got - want)[far] <= 5 * np.spacing(np.abs(want[far])))
    assert np.max(np.abs(got - want)) <= 3.4e-16
    with pytest.raises(ValueError, match="unknown inexact rewrite"):
        simplify.simplify_options(inexact={"fast_math"})


def test_rt_print_survives_every_pass_and_prints_on_every_call(capsys):
    def fn(x):
        y = rt.exp(x) * 1.0
        rt.print("sum {}", rt.sum(y))
        rt.print("sum {}", rt.sum(y))          # the same print twice: printed twice, not merged
        return y + 0.0
    f = rt.function(fn)
    ops = ops_of(f.graph_for(X))
    assert ops.count("debug_print") == 2
    capsys.readouterr()
    f(X)
    f(X)
    assert capsys.readouterr().out.count("sum ") == 4


def test_graphs_with_control_flow_optimize_and_match_eager(small_blocks):
    def fn(x, k):
        y = rt.cond(rt.sum(x) > 0, lambda a: a * 2.0, lambda a: a - 1.0, x)
        z = rt.fori_loop(0, 3, lambda i, acc: acc * 1.0 + rt.tanh(acc), y)
        return (z * z + 1.0) * k, y
    x = np.random.default_rng(0).normal(size=(16, 3))
    f = rt.function(fn)
    for k in (0.5, 2.0):
        for got, want in zip(f(x, k), fn(rt.asarray(x), k)):
            np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_sibling_ops_reading_one_input_share_a_loop():
    x = np.random.default_rng(0).normal(size=(400, 1000))
    f = rt.function(lambda x: (rt.exp(x) * 2.0, rt.tanh(x) + 1.0, rt.sum(x * x, axis=-1)))
    graph = f.graph_for(x)
    fused = [n for n in graph.nodes if n.op.name == "fused"]
    assert len(fused) == 1 and len(fused[0].outputs) == 3
    e, t, s = f(x)
    np.testing.assert_array_equal(e.numpy(), np.exp(x) * 2.0)
    np.testing.assert_array_equal(t.numpy(), np.tanh(x) + 1.0)
    assert "matmul(" in f.code_for(x)                 # the row sum goes through BLAS (blas_rows)
    np.testing.assert_allclose(s.numpy(), np.sum(x * x, axis=-1), rtol=1e-14)


@pytest.mark.parametrize("layout", ["contiguous", "transposed view", "one row"])
def test_few_long_rows_are_chunked_over_their_elements(layout):
    rng = np.random.default_rng(0)
    x = {"contiguous": rng.normal(size=(2, 200_000)),
         "transposed view": rng.normal(size=(200_000, 2)).T,     # not contiguous: reshape copies
         "one row": rng.normal(size=(1, 400_000))}[layout]
    keep = x.copy()
    f = rt.function(lambda x, b: rt.tanh(x * 0.5 + b) * x)
    b = np.float64(0.25)
    fused = [n for n in f.graph_for(x, b).nodes if n.op.name == "fused"]
    assert len(fused) == 1 and fused[0].params.get("flat") is True
    assert "in blocks of 65536 elements" in f.code_for(x, b)
    got = f(x, b).numpy()
    np.testing.assert_array_equal(got, np.tanh(x * 0.5 + b) * x)
    np.testing.assert_array_equal(x, keep)


def test_fusion_makes_no_cycle_through_a_group_that_depends_on_another(small_blocks):
    # found by hypothesis: `u` is made in the second group, which depends on the first through
    # the scalar `p` (outside both); x0 ** u reads x0 like the first group does, but joining it
    # would make the first group wait for the second and the second for the first
    def f(x0, x1):
        a = rt.exp(x0 * 0.25)
        t = rt.tanh(x0)
        p = rt.prod(t)
        b = x1 + p
        u = rt.abs(rt.floor(x1) % 3.0)
        return x0 ** u, a, b

    x0, x1 = np.linspace(0.5, 2, 4), np.linspace(-3, 3, 4)
    want = f(rt.asarray(x0), rt.asarray(x1))
    for passes in (["fuse"], None):
        got = rt.function(f, passes=passes)(x0, x1)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
