"""Random programs for the optimizer tests: a hypothesis strategy that draws a straight-line
program over a few input arrays (broadcasting shapes, mixed dtypes, Python scalars, reductions
over every axis, movement chains, random draws, outputs that alias inputs), and a runner that
executes it on rt tensors, eagerly or under tracing alike.

A program is a list of steps `(op, arg indices, extra)`; values are numbered inputs first, then
one per step. Everything is data, so hypothesis prints a failing program readably."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import runtime as rt

UNARY = ["exp", "tanh", "sin", "abs", "negative", "sqrt_abs", "log1p_abs", "square",
         "neg_neg", "floor"]
BINARY = ["add", "subtract", "multiply", "divide", "maximum", "where_gt", "pow_int"]
SCALAR = ["mul1", "add0", "sub0", "div1", "mul_neg1", "div4", "div_half", "div3", "pow1",
          "pow2", "pow_half", "pow_m1", "add_scalar", "mul_scalar", "rsub_scalar", "int_scale"]
REDUCE = ["sum", "mean", "max", "min", "var", "argmax", "prod"]
MOVE = ["transpose2", "reshape2", "astype32", "astype64", "gram", "const_array"]
RANDOM = ["normal", "normal_twice"]
CONTROL = ["cond", "loop"]

DTYPES = [np.float64, np.float32, np.int32]


@st.composite
def programs(draw, max_steps=10, allow_random=True):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(2, 9), min_size=ndim, max_size=ndim)))
    n_in = draw(st.integers(1, 3))
    inputs = []
    for i in range(n_in):
        s = list(shape)
        if i > 0 and draw(st.booleans()):       # broadcasting variants: fewer dims or 1s
            drop = draw(st.integers(0, ndim - 1))
            s = s[drop:]
            s = [1 if draw(st.integers(0, 3)) == 0 else d for d in s]
        dtype = draw(st.sampled_from(DTYPES)) if i > 0 else draw(st.sampled_from(DTYPES[:2]))
        inputs.append((tuple(s), np.dtype(dtype).name))
    kinds = UNARY + BINARY + SCALAR + REDUCE + MOVE + CONTROL + (RANDOM if allow_random else [])
    steps = []
    n_vals = n_in
    for _ in range(draw(st.integers(1, max_steps))):
        op = draw(st.sampled_from(kinds))
        a = draw(st.integers(0, n_vals - 1))
        b = draw(st.integers(0, n_vals - 1))
        extra = draw(st.integers(0, 7))
        steps.append((op, (a, b), extra))
        n_vals += 1
    n_out = draw(st.integers(1, 3))
    outs = sorted(set(draw(st.lists(st.integers(0, n_vals - 1), min_size=n_out, max_size=n_out))))
    if draw(st.integers(0, 4)) == 0:
        outs.append(0)                          # an output that is an input, unchanged
    seed = draw(st.integers(0, 2 ** 16))
    return {"inputs": inputs, "steps": steps, "outputs": outs, "seed": seed}


def make_inputs(prog):
    rng = np.random.default_rng(prog["seed"])
    arrays = []
    for shape, dtype in prog["inputs"]:
        if np.dtype(dtype).kind == "i":
            arrays.append(rng.integers(-5, 6, size=shape).astype(dtype))
        else:
            arrays.append((rng.normal(size=shape) * 2).astype(dtype))
    return arrays


def run_program(prog, *xs):
    """Execute the program on rt tensors (or tracers); returns a tuple of outputs."""
    vals = list(xs)
    for op, (ia, ib), extra in prog["steps"]:
        a, b = vals[ia], vals[ib]
        vals.append(_step(op, a, b, extra))
    return tuple(vals[i] for i in prog["outputs"])


def _float(a):
    return a if a.dtype.kind == "f" else rt.astype(a, rt.float64)


def _step(op, a, b, extra):
    f = {"exp": lambda: rt.exp(_float(a) * 0.25), "tanh": lambda: rt.tanh(a), "sin": lambda: rt.sin(a),
         "abs": lambda: rt.abs(a), "negative": lambda: -a, "sqrt_abs": lambda: rt.sqrt(rt.abs(a)),
         "log1p_abs": lambda: rt.log1p(rt.abs(a)), "square": lambda: rt.square(a),
         "neg_neg": lambda: -(-a), "floor": lambda: rt.floor(_float(a))}.get(op)
    if f is not None:
        return f()
    if op in BINARY:
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            b = a                               # shapes that do not broadcast: use a twice
        if op == "where_gt":
            return rt.where(a > b, a, b)
        if op == "pow_int":
            return _float(a) ** rt.abs(rt.floor(_float(b)) % 3.0)
        if op == "divide":
            return a / (rt.abs(_float(b)) + 1.0)
        return getattr(rt, op)(a, b)
    if op in SCALAR:
        return {"mul1": lambda: a * 1, "add0": lambda: 0 + a, "sub0": lambda: a - 0.0,
                "div1": lambda: a / 1, "mul_neg1": lambda: a * -1.0, "div4": lambda: a / 4.0,
                "div_half": lambda: a / 0.5, "div3": lambda: a / 3.0, "pow1": lambda: a ** 1,
                "pow2": lambda: a ** 2, "pow_half": lambda: rt.abs(_float(a)) ** 0.5,
                "pow_m1": lambda: (rt.abs(_float(a)) + 0.5) ** -1, "add_scalar": lambda: a + 1.5,
                "mul_scalar": lambda: 3 * a, "rsub_scalar": lambda: 2.0 - a,
                "int_scale": lambda: a * 2}[op]()
    if op in REDUCE:
        ax = extra % (a.ndim + 1)
        axis = None if ax == a.ndim or a.ndim == 0 else ax
        if op in ("max", "min", "argmax") and a.ndim == 0:
            return a
        if op == "prod":
            return rt.prod(rt.tanh(a), axis=axis, keepdims=bool(extra & 1))
        return getattr(rt, op)(a, axis=axis, keepdims=bool(extra & 1))
    if op == "transpose2":
        return rt.transpose(rt.transpose(a)) if extra & 1 else rt.transpose(a)
    if op == "reshape2":
        return rt.reshape(rt.reshape(a, (-1,)), a.shape)
    if op == "gram":              # a fresh full-size array from outside any fused group
        m = rt.reshape(_float(a), (a.shape[0], -1)) if a.ndim else rt.reshape(_float(a), (1, 1))
        return m @ rt.transpose(m) * 0.1
    if op == "const_array":       # a NumPy array captured as a constant of a's shape
        return a * np.linspace(-1.0, 1.0, max(1, int(np.prod(a.shape)))).reshape(a.shape)
    if op == "astype32":
        return rt.astype(a, rt.float32)
    if op == "astype64":
        return rt.astype(a, rt.float64)
    if op == "cond":              # sub-graphs: optimized with the same pipeline
        return rt.cond(rt.sum(a) > 0, lambda t: t * 2.0 + 1.0, lambda t: -(t * 1.0), _float(a))
    if op == "loop":
        return rt.fori_loop(0, 2, lambda i, acc: acc * 0.5 + rt.tanh(acc), _float(a))
    if op == "normal":
        return a + rt.random.normal(size=a.shape)
    if op == "normal_twice":      # two identical draws: CSE must not merge them
        return rt.random.normal(size=a.shape) - rt.random.normal(size=a.shape)
    raise ValueError(op)
