"""A test-case generator for every op in `rt.OPS`, keyed by op name.

A generator is a hypothesis strategy of `Case`: the op's inputs (NumPy arrays and Python
scalars), its params in the canonical form its public function produces, a NumPy oracle
written independently of the runtime (`ref`), and, where one exists, the public rt function
that should give the same result. `test_op_registry.py` runs every case eagerly, through
`abstract_eval`, through the reference interpreter and compiled.

Registering a new op? Add a generator here with `@case_for("name")`; until then the registry
test fails for that op, saying so.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import runtime as rt
from runtime.ops import indexing
from rt_strategies import (DTYPES, any_array, arrays, axes_subset, dtypes, nonempty_shapes,
                           one_axis, operands, py_scalars, shapes)


@dataclass
class Case:
    args: tuple                          # positional inputs: NumPy arrays and Python scalars
    params: dict                         # bind params, canonical form
    ref: Callable                        # NumPy oracle: ref(*args) -> array (or list of arrays)
    public: Callable | None = None       # the public rt function: public(*args) -> same
    exact: bool = True                   # same NumPy calls: bit-identical; else allclose
    traceable: bool = True               # False: tracing must refuse it with a clear error
    before: Callable | None = None       # run before each evaluation (reseeding random ops)
    note: str = ""

    def __repr__(self):
        shown = ", ".join(f"{type(a).__name__}{getattr(a, 'shape', '')}{getattr(a, 'dtype', '')}"
                          f"={np.asarray(a).tolist()!r}" for a in self.args)
        return f"Case({shown}; {self.params}{'; ' + self.note if self.note else ''})"


CASES: dict[str, Callable[[], st.SearchStrategy]] = {}


def case_for(*names):
    def deco(fn):
        for n in names:
            CASES[n] = (lambda n=n: fn(n))
        return fn
    return deco


# --- elementwise: an oracle table written here, not read from the runtime -----------------------

UNARY_REF = {
    "negative": np.negative, "positive": np.positive, "abs": np.absolute, "sign": np.sign,
    "exp": np.exp, "exp2": np.exp2, "expm1": np.expm1, "log": np.log, "log1p": np.log1p,
    "log2": np.log2, "log10": np.log10, "sqrt": np.sqrt, "square": np.square,
    "reciprocal": np.reciprocal, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan, "sinh": np.sinh,
    "cosh": np.cosh, "tanh": np.tanh, "arcsinh": np.arcsinh, "arccosh": np.arccosh,
    "arctanh": np.arctanh, "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc,
    "round": np.round, "logical_not": np.logical_not, "isnan": np.isnan, "isinf": np.isinf,
    "isfinite": np.isfinite, "bitwise_invert": np.invert,
}
BINARY_REF = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
    "pow": np.power, "maximum": np.maximum, "minimum": np.minimum, "arctan2": np.arctan2,
    "hypot": np.hypot, "remainder": np.remainder, "floor_divide": np.floor_divide,
    "equal": np.equal, "not_equal": np.not_equal, "less": np.less, "less_equal": np.less_equal,
    "greater": np.greater, "greater_equal": np.greater_equal, "logical_and": np.logical_and,
    "logical_or": np.logical_or, "logical_xor": np.logical_xor, "bitwise_and": np.bitwise_and,
    "bitwise_or": np.bitwise_or, "bitwise_xor": np.bitwise_xor,
}
PUBLIC_NAME = {"pow": "pow", "bitwise_invert": "bitwise_invert"}


def _public(name):
    return getattr(rt, PUBLIC_NAME.get(name, name))


@case_for(*UNARY_REF)
def _unary(name):
    return any_array().map(lambda x: Case((x,), {}, UNARY_REF[name], _public(name)))


@case_for(*BINARY_REF)
def _binary(name):
    # integer powers with negative exponents raise in NumPy depending on values: keep them >= 0
    return operands(2, nonneg_last=(name == "pow")).map(
        lambda ab: Case(tuple(ab), {}, BINARY_REF[name], _public(name)))


@case_for("where")
def _where(name):
    @st.composite
    def gen(draw):
        c, x, y = draw(operands(3))
        c = np.asarray(c).astype(bool) if isinstance(c, np.ndarray) else bool(c)
        return Case((c, x, y), {}, np.where, rt.where)
    return gen()


# --- reductions ---------------------------------------------------------------------------------

_RED_REF = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "max": np.max, "min": np.min,
            "all": np.all, "any": np.any}


@case_for(*_RED_REF)
def _reduction(name):
    @st.composite
    def gen(draw):
        x = draw(any_array())
        raw, axis = draw(axes_subset(x.ndim))
        keep = draw(st.booleans())
        pub = getattr(rt, name)
        return Case((x,), {"axis": axis, "keepdims": keep},
                    lambda a: _RED_REF[name](a, axis=raw, keepdims=keep),
                    lambda a: pub(a, axis=raw, keepdims=keep), note=f"axis={raw!r}")
    return gen()


@case_for("var", "std")
def _moments(name):
    @st.composite
    def gen(draw):
        x = draw(any_array(dtype=draw(st.sampled_from(DTYPES[1:]))))   # np.var rejects bool
        raw, axis = draw(axes_subset(x.ndim))
        keep, ddof = draw(st.booleans()), draw(st.integers(0, 1))
        npf, pub = getattr(np, name), getattr(rt, name)
        return Case((x,), {"axis": axis, "keepdims": keep, "ddof": ddof},
                    lambda a: npf(a, axis=raw, keepdims=keep, ddof=ddof),
                    lambda a: pub(a, axis=raw, keepdims=keep, correction=ddof), note=f"axis={raw!r}")
    return gen()


@case_for("argmax", "argmin")
def _argreduce(name):
    @st.composite
    def gen(draw):
        x = draw(any_array())
        keep = draw(st.booleans())
        raw, axis = draw(one_axis(x.ndim)) if x.ndim and draw(st.booleans()) else (None, None)
        npf, pub = getattr(np, name), getattr(rt, name)
        return Case((x,), {"axis": None if axis is None else (axis,), "keepdims": keep},
                    lambda a: npf(a, axis=raw, keepdims=keep),
                    lambda a: pub(a, axis=raw, keepdims=keep), note=f"axis={raw!r}")
    return gen()


@case_for("cumsum")
def _cumsum(name):
    @st.composite
    def gen(draw):
        x = draw(any_array())
        raw, axis = draw(one_axis(x.ndim)) if x.ndim and draw(st.booleans()) else (None, None)
        return Case((x,), {"axis": axis}, lambda a: np.cumsum(a, axis=raw),
                    lambda a: rt.cumsum(a, axis=raw), note=f"axis={raw!r}")
    return gen()


# --- linear algebra -----------------------------------------------------------------------------

@case_for("matmul")
def _matmul(name):
    @st.composite
    def gen(draw):
        sa, sb = draw(hnp.mutually_broadcastable_shapes(
            signature="(m?,n),(n,p?)->(m?,p?)", max_dims=3, max_side=3)).input_shapes
        a = draw(any_array(shape=sa))
        b = draw(any_array(shape=sb))
        return Case((a, b), {}, np.matmul, rt.matmul)
    return gen()


# --- movement -----------------------------------------------------------------------------------

@case_for("reshape")
def _reshape(name):
    @st.composite
    def gen(draw):
        x = draw(any_array())
        size, s = x.size, x.shape
        options = [(size,), s[::-1], s + (1,), (1,) + s, (1, size)]
        if len(s) >= 2:
            options.append((s[0] * s[1],) + s[2:])
        new = draw(st.sampled_from(options))
        raw = new
        if size and new and draw(st.booleans()):       # spell one axis -1
            k = draw(st.integers(0, len(new) - 1))
            raw = new[:k] + (-1,) + new[k + 1:]
        return Case((x,), {"shape": tuple(new)}, lambda a: np.reshape(a, raw),
                    lambda a: rt.reshape(a, raw), note=f"shape={raw}")
    return gen()


@case_for("permute_dims")
def _permute(name):
    @st.composite
    def gen(draw):
        x = draw(any_array())
        perm = tuple(draw(st.permutations(range(x.ndim))))
        return Case((x,), {"axes": perm}, lambda a: np.transpose(a, perm),
                    lambda a: rt.permute_dims(a, perm))
    return gen()


@case_for("broadcast_to")
def _broadcast_to(name):
    @st.composite
    def gen(draw):
        target = draw(shapes)
        k = draw(st.integers(0, len(target)))
        src = tuple(1 if draw(st.booleans()) else d for d in target[len(target) - k:])
        x = draw(any_array(shape=src))
        return Case((x,), {"shape": target}, lambda a: np.broadcast_to(a, target),
                    lambda a: rt.broadcast_to(a, target))
    return gen()


@case_for("concat")
def _concat(name):
    @st.composite
    def gen(draw):
        base = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=3))
        raw, axis = draw(one_axis(len(base)))
        n = draw(st.integers(2, 3))
        xs = []
        for _ in range(n):
            s = list(base)
            s[axis] = draw(st.integers(0, 3))
            xs.append(draw(any_array(shape=tuple(s))))
        return Case(tuple(xs), {"axis": axis}, lambda *a: np.concatenate(a, axis=raw),
                    lambda *a: rt.concat(list(a), axis=raw))
    return gen()


@case_for("split")
def _split(name):
    @st.composite
    def gen(draw):
        x = draw(any_array(shape=draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0,
                                                       max_side=4))))
        raw, axis = draw(one_axis(x.ndim))
        n = x.shape[axis]
        if n and draw(st.booleans()):
            k = draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
            spec, idx = k, tuple(range(n // k, n, n // k))[: k - 1]
        else:
            idx = tuple(draw(st.lists(st.integers(-n - 1, n + 1), max_size=3)))
            spec = list(idx)
        return Case((x,), {"indices": idx, "axis": axis}, lambda a: np.split(a, spec, axis=raw),
                    lambda a: rt.split(a, spec, axis=raw), note=f"split {spec} axis={raw}")
    return gen()


@case_for("flip")
def _flip(name):
    @st.composite
    def gen(draw):
        x = draw(any_array())
        raw, axis = draw(axes_subset(x.ndim))
        return Case((x,), {"axis": tuple(range(x.ndim)) if axis is None else axis},
                    lambda a: np.flip(a, axis=raw), lambda a: rt.flip(a, axis=raw))
    return gen()


@case_for("pad")
def _pad(name):
    @st.composite
    def gen(draw):
        x = draw(any_array())
        pw = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(x.ndim))
        cv = draw(st.integers(0, 3) | st.booleans()) if x.dtype.kind in "biu" else draw(py_scalars())
        return Case((x,), {"pad_width": pw, "constant_values": cv},
                    lambda a: np.pad(a, pw or 0, constant_values=cv),  # NumPy rejects () for 0-d
                    lambda a: rt.pad(a, pw, constant_values=cv))
    return gen()


# --- indexing -----------------------------------------------------------------------------------

@st.composite
def index_for(draw, shape, allow_mask=True):
    """A NumPy index for an array of `shape`: basic (ints, slices, None, ...), integer arrays,
    a mix of both, or a boolean mask."""
    kinds = ["basic", "intarray", "mixed"] + (["mask"] if allow_mask else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "mask" or (kind != "basic" and 0 in shape) or not shape:
        if kind == "mask" and shape:
            return draw(hnp.arrays(bool, shape[: draw(st.integers(1, len(shape)))])), "mask"
        return draw(hnp.basic_indices(shape, allow_newaxis=True)), "basic"
    if kind == "basic":
        return draw(hnp.basic_indices(shape, allow_newaxis=True)), "basic"
    if kind == "intarray":
        return tuple(draw(hnp.integer_array_indices(
            shape, result_shape=hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)))), "intarray"
    # mixed: a slice on the first axis, an integer array on the second (if any), int elsewhere
    ia = draw(hnp.arrays(np.int64, draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)),
                         elements=st.integers(-shape[-1], shape[-1] - 1)))
    return (slice(None, None, draw(st.sampled_from([None, -1, 2]))),) * (len(shape) - 1) + (ia,), "mixed"


def _split_for_case(x, idx):
    template, arrays = indexing.split_index(idx)
    return template, [np.asarray(a) for a in arrays]


@case_for("getitem")
def _getitem(name):
    @st.composite
    def gen(draw):
        x = draw(any_array(shape=draw(shapes)))
        idx, kind = draw(index_for(x.shape))
        template, arrs = _split_for_case(x, idx)
        return Case((x, *arrs), {"index": template}, lambda a, *_: a[idx],
                    lambda a, *ar: a[indexing._fill(template, ar)], traceable=kind != "mask",
                    note=f"index={idx!r}")
    return gen()


_AT_UFUNCS = {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum}


def numpy_update(x, idx, v, mode):
    """The oracle of `x.at[idx].<mode>(v)`: NumPy's assignment, or ufunc.at (repeats accumulate)."""
    r = x.copy()
    if mode == "set":
        r[idx] = v
    else:
        _AT_UFUNCS[mode].at(r, idx, v)
    return r


@case_for("index_update")
def _index_update(name):
    @st.composite
    def gen(draw):
        x = draw(any_array(shape=draw(nonempty_shapes), dtype=draw(st.sampled_from(DTYPES[1:]))))
        idx, kind = draw(index_for(x.shape))
        target = x[idx].shape
        mode = draw(st.sampled_from(["set", "add", "multiply", "min", "max"]))
        if draw(st.booleans()):
            v = draw(st.integers(0, 3))
        else:
            vshape = draw(hnp.broadcastable_shapes(target, max_dims=len(target), min_side=0))
            v = draw(arrays(x.dtype, vshape))
        template, arrs = _split_for_case(x, idx)

        def ref(a, v, *_):
            return numpy_update(a, idx, v, mode)

        def public(a, v, *ar):
            at = a.at[indexing._fill(template, ar)]
            return getattr(at, mode)(v)
        return Case((x, v, *arrs), {"index": template, "mode": mode}, ref, public,
                    traceable=kind != "mask", note=f"x.at[{idx!r}].{mode}")
    return gen()


# --- creation and casting -----------------------------------------------------------------------

@case_for("const")
def _const(name):
    return any_array().map(lambda v: Case((), {"value": v}, lambda: v, lambda: rt.asarray(v)))


@case_for("full")
def _full(name):
    @st.composite
    def gen(draw):
        shape = draw(shapes)
        dt = draw(dtypes)
        fill = draw(st.integers(0, 3) | st.booleans()) if dt.kind in "biu" else draw(py_scalars())
        return Case((), {"shape": shape, "fill_value": fill, "dtype": dt},
                    lambda: np.full(shape, fill, dtype=dt), lambda: rt.full(shape, fill, dtype=dt))
    return gen()


@case_for("astype")
def _astype(name):
    @st.composite
    def gen(draw):
        x = draw(any_array())
        dt = draw(dtypes)
        return Case((x,), {"dtype": dt}, lambda a: a.astype(dt), lambda a: rt.astype(a, dt))
    return gen()


# --- random: the oracle is NumPy's Generator seeded the same way --------------------------------

def _random_case(name, draw_ref, public, **params):
    @st.composite
    def gen(draw):
        shape = draw(shapes)
        seed = draw(st.integers(0, 2**16))
        dt = draw(st.sampled_from(params.get("dtypes", [np.dtype("float32"), np.dtype("float64")])))
        extra = {k: v for k, v in params.items() if k != "dtypes"}
        return Case((), {"shape": shape, "dtype": dt, **extra},
                    lambda: draw_ref(np.random.default_rng(seed), shape, dt),
                    lambda: public(shape, dt), before=lambda: rt.random.seed(seed),
                    note=f"seed={seed}")
    return gen()


@case_for("random_normal")
def _normal(name):
    return _random_case(name, lambda g, s, d: g.standard_normal(s, dtype=d),
                        lambda s, d: rt.random.normal(size=s, dtype=d))


@case_for("random_uniform")
def _uniform(name):
    return _random_case(name, lambda g, s, d: g.random(s, dtype=d),
                        lambda s, d: rt.random.uniform(size=s, dtype=d))


@case_for("random_integers")
def _integers(name):
    return _random_case(name, lambda g, s, d: g.integers(-3, 7, size=s, dtype=d),
                        lambda s, d: rt.random.integers(-3, 7, size=s, dtype=d),
                        low=-3, high=7, dtypes=[np.dtype("int32"), np.dtype("int64")])


# --- autodiff -----------------------------------------------------------------------------------

@case_for("stop_gradient")
def _stop_gradient(name):
    """Forward: the identity (its point is the zero gradient, tested with autodiff)."""
    return (any_array() | py_scalars()).map(
        lambda x: Case((x,), {}, lambda a: np.asarray(a), rt.stop_gradient))


# --- ops whose params hold sub-graphs: params are taken from a traced call ----------------------

def traced_case(op_name, public, args, ref, passes=()):
    """A Case for the `op_name` node that tracing `public(*args)` makes: its inputs must come
    from the graph's inputs (or constants), its params (sub-graphs) are used as they are."""
    targs = [rt.asarray(a) for a in args]
    f = rt.function(public, passes=passes)
    g = f.traced_graph_for(*targs) if passes == () else f.graph_for(*targs)
    node = next(n for n in g.nodes if n.op.name == op_name)
    vals = []
    for v in node.inputs:
        if any(v is i for i in g.inputs):
            vals.append(args[next(k for k, i in enumerate(g.inputs) if i is v)])
        elif v.node is not None and v.node.op.name == "const":
            vals.append(v.const if v.weak else np.asarray(v.const))
        else:
            raise AssertionError(f"{op_name}'s inputs must be graph inputs in its test case")
    expected = ref(*args)
    return Case(tuple(vals), dict(node.params), lambda *_: expected, note=f"from {public}")


def _quiet_print(fmt, *xs):
    """rt.print into a list instead of stdout (the effectful variants need a side effect)."""
    rt.print(fmt, *xs)


pos_floats = lambda shape: arrays(np.float64, shape, nonneg=True).map(lambda a: a + 0.5)  # noqa: E731


@case_for("cond", "cond_effectful")
def _cond(name):
    effect = name.endswith("_effectful")

    def true_fn(v):
        if effect:
            _quiet_print("true {}", v)
        return v * 2.0

    @st.composite
    def gen(draw):
        x = draw(pos_floats(draw(shapes)))
        p = np.asarray(draw(st.booleans()))
        return traced_case(name, lambda p, v: rt.cond(p, true_fn, lambda v: v - 1.0, v), [p, x],
                           lambda p, v: [v * 2.0 if p else v - 1.0])
    return gen()


@case_for("while_loop", "while_loop_effectful")
def _while(name):
    effect = name.endswith("_effectful")

    def body(v):
        if effect:
            _quiet_print("v {}", v)
        return v * 2.0 + 1.0

    def ref(x):
        while np.sum(x) < 50:
            x = x * 2.0 + 1.0
        return [x]

    @st.composite
    def gen(draw):
        x = draw(pos_floats(draw(nonempty_shapes)))
        return traced_case(name, lambda v: rt.while_loop(lambda v: rt.sum(v) < 50, body, v), [x], ref)
    return gen()


@case_for("fori_loop", "fori_loop_effectful")
def _fori(name):
    effect = name.endswith("_effectful")

    @st.composite
    def gen(draw):
        x = draw(pos_floats(draw(shapes)))
        n = draw(st.integers(0, 4))

        def body(i, v):
            if effect:
                _quiet_print("i {}", i)
            return v * 1.5 + i

        def ref(x):
            for i in range(n):
                x = x * 1.5 + i
            return [x]
        return traced_case(name, lambda v: rt.fori_loop(0, n, body, v), [x], ref)
    return gen()


@case_for("scan", "scan_effectful")
def _scan(name):
    effect = name.endswith("_effectful")

    def step(c, x):
        if effect:
            _quiet_print("c {}", c)
        return c + x, c * x

    def ref(c, xs):
        ys = []
        for x in xs:
            c, y = c + x, c * x
            ys.append(y)
        return [c, np.stack(ys) if ys else np.empty((0,) + c.shape)]

    @st.composite
    def gen(draw):
        xs = draw(arrays(np.float64, draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))))
        c = draw(arrays(np.float64, xs.shape[1:]))
        return traced_case(name, lambda c, xs: rt.scan(step, c, xs), [c, xs], ref)
    return gen()


@case_for("debug_print")
def _debug_print(name):
    """Values: none (it prints); printing itself is tested with the control-flow tests."""
    return any_array().map(lambda x: Case((x,), {"fmt": "value {}"}, lambda a: []))
