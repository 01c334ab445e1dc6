"""Hypothesis-generated programs: chains of elementwise math with broadcasting and Python scalars,
reductions over random axes, reshape/transpose/indexing/concat, matmul, functional updates and
composites (clip, tile, repeat, stack, pad, tensordot). Each program runs three ways:

- NumPy itself (the oracle),
- eagerly on rt Tensors: the same NumPy calls, so dtypes and shapes must match exactly and
  values to within rounding (composites such as tensordot may round differently from NumPy's);
- compiled with `rt.function`: with no passes the generated code makes exactly the eager
  NumPy calls, so the results are bit-identical; with the default pipeline, rewrites may
  reorder floating-point work, so values are compared with a tight tolerance per dtype.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import runtime as rt
from rt_strategies import arrays

PROGRAM_DTYPES = [np.dtype(t) for t in ("float64", "float64", "float32", "float16", "int32",
                                        "int64", "uint8", "bool")]
UNARY = ["negative", "abs", "exp", "tanh", "sin", "square", "sqrt", "log1p", "floor", "sign",
         "isnan", "logical_not", "cos", "expm1", "round"]
BINARY = ["add", "subtract", "multiply", "divide", "maximum", "minimum", "greater",
          "less_equal", "equal", "pow", "floor_divide", "remainder", "arctan2", "logical_and"]
REDUCTIONS = ["sum", "mean", "max", "min", "prod", "var", "std", "any", "all"]
NP_NAMES = {"pow": "power", "concat": "concatenate"}


def _fn(name, use_rt):
    return getattr(rt, name) if use_rt else getattr(np, NP_NAMES.get(name, name))


def apply(step, env, use_rt):
    """Run one program step on values in `env` (NumPy arrays, Tensors or Tracers)."""
    kind, *a = step
    f = lambda name: _fn(name, use_rt)  # noqa: E731
    if kind == "unary":
        return f(a[0])(env[a[1]])
    if kind == "binary":
        return f(a[0])(env[a[1]], env[a[2]])
    if kind == "scalar":                       # a Python scalar: weak in NumPy 2 promotion
        name, i, c, left = a
        return f(name)(c, env[i]) if left else f(name)(env[i], c)
    if kind == "where":
        return f("where")(env[a[0]] > 0, env[a[1]], env[a[2]])
    if kind == "reduce":
        name, i, axis, keep = a
        return f(name)(env[i], axis=axis, keepdims=keep)
    if kind == "argmax":
        return f("argmax")(env[a[0]], axis=a[1], keepdims=a[2])
    if kind == "cumsum":
        return f("cumsum")(env[a[0]], axis=a[1])
    if kind == "reshape":
        return f("reshape")(env[a[0]], a[1])
    if kind == "permute":
        return f("permute_dims")(env[a[0]], a[1])
    if kind == "T":
        return env[a[0]].T
    if kind == "getitem":
        return env[a[0]][a[1]]
    if kind == "concat":
        return f("concat")([env[i] for i in a[0]], axis=a[1])
    if kind == "stack":
        return f("stack")([env[i] for i in a[0]], axis=a[1])
    if kind == "matmul":
        return env[a[0]] @ env[a[1]]
    if kind == "astype":
        return env[a[0]].astype(a[1])
    if kind == "clip":
        return f("clip")(env[a[0]], a[1], a[2])
    if kind == "tile":
        return f("tile")(env[a[0]], a[1])
    if kind == "repeat":
        return f("repeat")(env[a[0]], a[1], axis=a[2])
    if kind == "pad":
        return f("pad")(env[a[0]], a[1])
    if kind == "flip":
        return f("flip")(env[a[0]], axis=a[1])
    if kind == "tensordot":
        return f("tensordot")(env[a[0]], env[a[1]], axes=a[2])
    if kind == "at":
        x, idx, mode, c = env[a[0]], a[1], a[2], a[3]
        if use_rt:
            return getattr(x.at[idx], mode)(c)
        r = np.array(x, copy=True)
        if mode == "set":
            r[idx] = c
        else:
            np.add.at(r, idx, c)
        return r
    raise AssertionError(kind)


@st.composite
def steps(draw, env):
    """One step over the values computed so far (their shapes decide what is possible)."""
    n = len(env)
    i = draw(st.integers(0, n - 1))
    x = env[i]
    kind = draw(st.sampled_from(["unary", "binary", "binary", "scalar", "scalar", "where",
                                 "reduce", "reduce", "argmax", "cumsum", "reshape", "permute",
                                 "T", "getitem", "concat", "stack", "matmul", "astype", "clip",
                                 "tile", "repeat", "pad", "flip", "tensordot", "at"]))
    other = lambda: draw(st.integers(0, n - 1))  # noqa: E731
    if kind == "unary":
        return ("unary", draw(st.sampled_from(UNARY)), i)
    if kind == "binary":
        return ("binary", draw(st.sampled_from(BINARY)), i, other())
    if kind == "scalar":
        c = draw(st.integers(-3, 3) | st.floats(-2, 2, allow_nan=False, allow_subnormal=False)
                 | st.booleans())
        return ("scalar", draw(st.sampled_from(BINARY)), i, c, draw(st.booleans()))
    if kind == "where":
        return ("where", i, other(), other())
    if kind in ("reduce", "argmax", "cumsum"):
        nd = x.ndim
        one = draw(st.integers(-nd, nd - 1)) if nd and draw(st.booleans()) else None
        if kind == "argmax":
            return ("argmax", i, one, draw(st.booleans()))
        if kind == "cumsum":
            return ("cumsum", i, one)
        axes = None
        if nd and draw(st.booleans()):
            axes = tuple(draw(st.lists(st.integers(0, nd - 1), unique=True, min_size=1, max_size=nd)))
            axes = axes[0] if len(axes) == 1 and draw(st.booleans()) else axes
        return ("reduce", draw(st.sampled_from(REDUCTIONS)), i, axes, draw(st.booleans()))
    if kind == "reshape":
        options = [(-1,), x.shape[::-1], (1,) + x.shape, x.shape + (1,)]
        if x.ndim >= 2:
            options.append((x.shape[0] * x.shape[1],) + x.shape[2:])
        return ("reshape", i, draw(st.sampled_from(options)))
    if kind == "permute":
        return ("permute", i, tuple(draw(st.permutations(range(x.ndim)))))
    if kind == "T":
        return ("T", i)
    if kind == "getitem":
        if x.ndim and 0 not in x.shape and draw(st.booleans()):
            idx = tuple(draw(hnp.integer_array_indices(
                x.shape, result_shape=hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))))
        else:
            idx = draw(hnp.basic_indices(x.shape, allow_newaxis=True))
        return ("getitem", i, idx)
    if kind in ("concat", "stack"):
        return (kind, (i, other()), draw(st.integers(-x.ndim - 1, x.ndim)))
    if kind == "matmul":
        return ("matmul", i, draw(st.sampled_from([i, other()])))
    if kind == "astype":
        return ("astype", i, draw(st.sampled_from(PROGRAM_DTYPES)))
    if kind == "clip":
        lo = draw(st.integers(-2, 1) | st.floats(-2, 1, allow_nan=False))
        return ("clip", i, lo, lo + draw(st.integers(0, 3)))
    if kind == "tile":
        return ("tile", i, tuple(draw(st.lists(st.integers(0, 2), max_size=3))))
    if kind == "repeat":
        return ("repeat", i, draw(st.integers(0, 2)),
                draw(st.integers(-x.ndim, x.ndim - 1)) if x.ndim and draw(st.booleans()) else None)
    if kind == "pad":
        return ("pad", i, tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(x.ndim)))
    if kind == "flip":
        return ("flip", i, draw(st.integers(-x.ndim, x.ndim - 1)) if x.ndim and draw(st.booleans()) else None)
    if kind == "tensordot":
        j = other()
        y = env[j]
        pairs = [(p, q) for p in range(x.ndim) for q in range(y.ndim) if x.shape[p] == y.shape[q]]
        if not pairs:
            return ("tensordot", i, j, 0)
        return ("tensordot", i, j, tuple(map(list, zip(draw(st.sampled_from(pairs))))))
    if kind == "at":
        if x.ndim and 0 not in x.shape and draw(st.booleans()):
            idx = tuple(draw(hnp.integer_array_indices(   # repeated indices: .add accumulates
                x.shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=1, max_side=4))))
        else:
            idx = draw(hnp.basic_indices(x.shape))
        return ("at", i, idx, draw(st.sampled_from(["set", "add"])), draw(st.integers(-2, 2)))
    raise AssertionError(kind)


@st.composite
def programs(draw):
    base = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    inputs = []
    for _ in range(draw(st.integers(1, 3))):
        shape = draw(hnp.broadcastable_shapes(base, min_side=0, max_side=4))
        inputs.append(draw(arrays(draw(st.sampled_from(PROGRAM_DTYPES)), shape)))
    env, prog = list(inputs), []
    for _ in range(draw(st.integers(1, 12))):
        step = draw(steps(env))
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = np.asarray(apply(step, env, use_rt=False))
        except Exception:          # NumPy rejects it (shapes, dtypes, axes): not a valid program
            continue
        if value.size > 4096:      # keep tile/outer chains small
            continue
        env.append(value)
        prog.append(step)
    return inputs, prog


def run_program(prog, xs, use_rt=True):
    env = list(xs)
    for step in prog:
        env.append(apply(step, env, use_rt))
    return tuple(env[len(xs):])


def _close(got, want, what, exact):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if exact or want.dtype.kind not in "fc":
        np.testing.assert_array_equal(got, want, err_msg=what)
    else:
        tol = {2: 1e-2, 4: 1e-5, 8: 1e-12}[want.dtype.itemsize]
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=True, err_msg=what)


@settings(max_examples=int(os.environ.get('RT_PROGRAM_EXAMPLES', 150)), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.filter_too_much])
@given(programs())
def test_random_programs_eager_compiled_and_numpy_agree(program):
    inputs, prog = program
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = run_program(prog, inputs, use_rt=False)
        tensors = [rt.asarray(x) for x in inputs]
        eager = run_program(prog, tensors)
        for k, (e, want) in enumerate(zip(eager, expected)):
            assert isinstance(e, rt.Tensor), f"step {k} ({prog[k]}) gave {type(e).__name__}"
            exact = prog[k][0] not in ("tensordot",)
            _close(e, want, f"eager step {k}: {prog[k]}", exact)

        plain = rt.function(lambda *xs: run_program(prog, xs), passes=())
        for k, (c, e) in enumerate(zip(plain(*tensors), eager)):
            _close(c, e, f"compiled (no passes) step {k}: {prog[k]}", exact=True)
        plain.graph_for(*tensors).verify()

        optimized = rt.function(lambda *xs: run_program(prog, xs))
        for k, (c, e) in enumerate(zip(optimized(*tensors), eager)):
            _close(c, e, f"compiled (default passes) step {k}: {prog[k]}", exact=False)
        rt.passes.optimize(plain.traced_graph_for(*tensors), verify=True)   # after every pass


@pytest.mark.parametrize("passes", [(), None])
def test_a_program_with_every_step_kind_compiles(passes):
    """A fixed program touching every step kind: a smoke check that the generator's vocabulary
    itself traces (hypothesis may not hit all kinds in a short run)."""
    x = np.arange(12.0).reshape(3, 4) / 7
    prog = [("unary", "tanh", 0), ("binary", "add", 0, 1), ("scalar", "multiply", 2, 2.5, True),
            ("where", 0, 1, 2), ("reduce", "var", 3, (0,), True), ("argmax", 0, -1, False),
            ("cumsum", 0, 1), ("reshape", 0, (4, 3)), ("permute", 0, (1, 0)), ("T", 0),
            ("getitem", 0, (slice(None, None, -1), None, 2)), ("concat", (0, 2), 1),
            ("stack", (0, 2), 0), ("matmul", 0, 9), ("astype", 0, np.dtype("float32")),
            ("clip", 0, 0.2, 1), ("tile", 0, (2, 1)), ("repeat", 0, 2, 1), ("pad", 0, ((1, 0), (0, 2))),
            ("flip", 0, None), ("tensordot", 0, 0, ([1], [1])),
            ("at", 0, (np.array([0, 0, 2]),), "add", 1)]
    inputs = [x, x[0] * 3]
    with np.errstate(all="ignore"):
        expected = run_program(prog, inputs, use_rt=False)
        f = rt.function(lambda *xs: run_program(prog, xs), passes=passes)
        got = f(*[rt.asarray(v) for v in inputs])
    for k, (g, e) in enumerate(zip(got, expected)):
        _close(g, e, f"step {k}: {prog[k]}", exact=False)
    assert f.trace_count == 1


# --- big arrays: the default pipeline fuses elementwise chains and row reductions into blocks ---

ROWS, COLS = 1100, 520         # 572K elements: several fusion blocks (64K elements, or 1 MB of rows)
ELEMENTWISE = ["tanh", "exp", "negative", "abs", "square", "sin"]


@st.composite
def row_programs(draw):
    """Elementwise chains with row vectors, column vectors, Python scalars and row reductions
    (`axis=-1, keepdims=True`, as softmax and layer norm use): what the fusion pass groups."""
    dt = draw(st.sampled_from([np.dtype("float32"), np.dtype("float64")]))
    seed = draw(st.integers(0, 2**16))
    g = np.random.default_rng(seed)
    inputs = [g.uniform(-2, 2, size=(ROWS, COLS)).astype(dt), g.uniform(-2, 2, size=COLS).astype(dt),
              g.uniform(-2, 2, size=(ROWS, 1)).astype(dt)]
    prog = []
    full = [0]                  # env indices holding (ROWS, COLS) values
    n_env = 3
    for _ in range(draw(st.integers(2, 8))):
        i = draw(st.sampled_from(full))
        kind = draw(st.sampled_from(["unary", "binary", "scalar", "reduce"]))
        if kind == "unary":
            prog.append(("unary", draw(st.sampled_from(ELEMENTWISE)), i))
        elif kind == "binary":
            j = draw(st.sampled_from(full + [1, 2]))
            prog.append(("binary", draw(st.sampled_from(["add", "subtract", "multiply", "maximum"])), i, j))
        elif kind == "scalar":
            prog.append(("scalar", draw(st.sampled_from(["add", "multiply", "subtract"])), i,
                         draw(st.floats(-2, 2, allow_nan=False, width=32)), draw(st.booleans())))
        else:
            prog.append(("reduce", draw(st.sampled_from(["sum", "max", "mean"])), i, -1, True))
        if kind != "reduce":
            full.append(n_env)
        n_env += 1
    return inputs, prog


@settings(max_examples=int(os.environ.get("RT_FUSED_EXAMPLES", 12)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(row_programs())
def test_fused_big_programs_match_eager(program):
    inputs, prog = program
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tensors = [rt.asarray(x) for x in inputs]
        eager = run_program(prog, tensors)
        f = rt.function(lambda *xs: run_program(prog, xs))
        got = f(*tensors)
        rt.passes.optimize(f.traced_graph_for(*tensors), verify=True)       # after every pass
    env = [*inputs, *eager]
    for k, (c, e) in enumerate(zip(got, eager)):
        step = prog[k]
        if step[0] == "reduce" and step[1] in ("sum", "mean"):
            # row sums run as BLAS dot products over chunks (the inexact rewrite blas_rows): a
            # different order of additions. Each is within 3.3 (BLAS chunks) or 2.9 (NumPy)
            # eps * sum|x| of the exact sum (simplify.py), so within 6.2 of each other
            x = np.asarray(env[step[2]], dtype=np.float64)
            scale = np.abs(x).sum(-1, keepdims=True) / (x.shape[-1] if step[1] == "mean" else 1)
            eps = np.finfo(np.asarray(e).dtype).eps
            err = np.abs(np.asarray(c, np.float64) - np.asarray(e, np.float64))
            assert np.all(err <= 6.2 * eps * scale + 4 * eps * np.abs(np.asarray(e))), (step, err.max())
        else:
            _close(c, e, f"fused step {k}: {prog[k]}", exact=False)


def test_fusion_really_happens_for_big_elementwise_chains():
    x = rt.asarray(np.random.default_rng(0).normal(size=(ROWS, COLS)))
    f = rt.function(lambda a: rt.nn.softmax(a) * 2.0 + rt.tanh(a))
    np.testing.assert_allclose(f(x), rt.nn.softmax(x) * 2.0 + rt.tanh(x), rtol=1e-12)
    assert "fused" in f.graph_for(x).op_counts()
