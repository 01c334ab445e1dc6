"""Algebraic simplification and strength reduction.

Exact rewrites (same bits as the original, on by default):
  x*1, 1*x, x/1, x**1, x-0 -> x        x*-1 -> -x          --x -> x
  x+0, 0+x -> x   (IEEE: -0.0 + 0 is +0.0, the rewrite keeps -0.0; the two compare equal)
  x**2 -> x*x     (NumPy's power squares exactly; checked on 1e6 values of f32 and f64)
  x**-1 -> 1/x, x**0.5 -> sqrt(x)   (measured 0 ulp on 1e6 values; they differ only at
                  x = -0.0 and x = -inf, where sqrt gives -0.0 and nan, pow gives +0.0 and inf)
  x / c -> x * (1/c) when c is a power of two (1/c is then exact, so both round alike)
  permute_dims(permute_dims(x)) -> one permute_dims (or x, if it is the identity)
  reshape(reshape(x)) -> reshape(x); reshape to its own shape -> x; broadcast_to its own shape -> x
  stop_gradient(x) -> x   (it only matters to a tape, and gradients were taken while tracing)
A rewrite only applies when it keeps the node's shape and dtype (x*1 where 1 broadcasts x to a
bigger shape, or promotes it, stays as it is).

Inexact rewrites (listed in INEXACT with their measured error; on by default only when within
a few ulps, else opt-in with `simplify_options(inexact=...)`):
  pow3: x**3 -> x*x*x   max 2 ulp (f32), 1 ulp (f64) on 1e6 normal values; on by default.
        NumPy's power(x, 3) costs 30-60x more than two multiplies (60x on this project's VMs).
  tanh_exp: tanh(u) -> 1 - 2/(exp(2u) + 1)   max 5 ulp where |u| >= 0.5, but near 0 the
        relative error is unbounded (absolute error <= 1.8e-7 f32, 3.3e-16 f64: cancellation in
        1 - ...); and it does not pay here: in cache, f32 tanh is 0.57 ns/element against 1.38
        for the five ops, f64 3.34 against 3.00. Opt-in.
  blas_rows: in fused row groups (fusion.py, codegen_fused.py), a sum/mean over the last axis of
        float rows of n = k*c elements (c a divisor of n in 32..48) computed in the group ->
        BLAS dot products of chunks of c with ones, then NumPy's pairwise sum of the k partials.
        Against the exact sum, on rows of 32..10000 float32 and float64 terms (normal, uniform,
        1000 + normal, exp, max(x, column): many equal terms): <= 5 ulp where the terms share a
        sign (NumPy's own sum: <= 4.8) and <= 3.3 eps * sum|x| in all (NumPy: 2.9). On by
        default: row sums in cache about 2x faster. Longer chunks are faster still but add more
        terms in sequence: chunks of 96-128 reached 7.5 eps * sum|x|, one dot per row 100.
"""
from __future__ import annotations

import math

import numpy as np

from ..graph import Graph
from ._rewrite import apply_subst, const_node, make_node, resolve_inputs, scalar_const

# name -> (description, measured error, on by default)
INEXACT = {
    "pow3": ("x**3 -> x*x*x", "<= 2 ulp f32, <= 1 ulp f64 (1e6 normal values, scale 10)", True),
    "tanh_exp": ("tanh(u) -> 1 - 2/(exp(2u)+1)", "<= 5 ulp for |u| >= 0.5; absolute <= 1.8e-7 f32 "
                 "and 3.3e-16 f64 near 0 (unbounded in ulps)", False),
    "blas_rows": ("row sums in fused groups as BLAS dot products of chunks of <= 48, the "
                  "partials summed pairwise",
                  "<= 5 ulp where terms share a sign (NumPy's own sum: <= 4.8); <= 3.3 "
                  "eps*sum|x| in all (NumPy: 2.9)", True),
}
ENABLED_INEXACT = {k for k, (_, _, on) in INEXACT.items() if on}


def simplify_options(inexact=None):
    """Choose the inexact rewrites to apply (names from INEXACT); None restores the defaults."""
    global ENABLED_INEXACT
    if inexact is None:
        ENABLED_INEXACT = {k for k, (_, _, on) in INEXACT.items() if on}
        return
    unknown = set(inexact) - set(INEXACT)
    if unknown:
        raise ValueError(f"unknown inexact rewrite(s) {sorted(unknown)}; known: {sorted(INEXACT)}")
    ENABLED_INEXACT = set(inexact)


def _ops():
    from ..core import OPS
    return OPS


def _is(v, c):
    return _equals(scalar_const(v), c)


def _equals(s, c):
    """Is the scalar_const `s` the number c (never a bool)?"""
    return s is not None and not isinstance(s, bool) and s == c and not (
        isinstance(s, complex) and c != s)


def _same_type(a, b):
    return a.shape == b.shape and a.dtype == b.dtype


def _power_of_two(c) -> bool:
    if isinstance(c, (bool, complex)) or not isinstance(c, (int, float)) or c == 0 or not math.isfinite(c):
        return False
    m, _ = math.frexp(abs(c))
    return m == 0.5


class _Rewriter:
    def __init__(self):
        self.nodes, self.subst, self.counts = [], {}, {}

    def count(self, rule):
        self.counts[rule] = self.counts.get(rule, 0) + 1

    def emit(self, op_name, inputs, out, loc):
        """Append a new node computing `out`'s type from `inputs`; returns its output Value."""
        node = make_node(_ops()[op_name], inputs, {}, [(out.shape, out.dtype)], loc)
        self.nodes.append(node)
        return node.out

    def replace(self, n, value, rule):
        self.subst[n.out] = value
        self.count(rule)


def _rewrite(rw: _Rewriter, n):
    name, ins, out = n.op.name, n.inputs, n.outputs[0] if n.outputs else None
    if name in ("multiply", "add", "subtract", "divide", "pow"):
        a, b = ins
        if name == "multiply":
            for x, c in ((a, b), (b, a)):
                s = scalar_const(c)
                if s is None:
                    continue
                if _equals(s, 1) and _same_type(x, out):
                    return rw.replace(n, x, "x*1")
                if _equals(s, -1) and _same_type(x, out) and x.dtype.kind in "fc":
                    return rw.replace(n, rw.emit("negative", [x], out, n.loc), "x*-1")
        elif name == "add":
            for x, c in ((a, b), (b, a)):
                if _is(c, 0) and _same_type(x, out):
                    return rw.replace(n, x, "x+0")
        elif name == "subtract":
            if _is(b, 0) and _same_type(a, out):
                return rw.replace(n, a, "x-0")
        elif name == "divide":
            if _is(b, 1) and _same_type(a, out):
                return rw.replace(n, a, "x/1")
            c = scalar_const(b)
            if (c is not None and _power_of_two(c) and out.dtype.kind == "f" and b.size == 1
                    and np.finfo(out.dtype).tiny <= abs(1.0 / c) <= np.finfo(out.dtype).max
                    and abs(c) <= np.finfo(out.dtype).max):
                k = const_node(1.0 / c if b.weak else np.asarray(1.0 / c, b.dtype).reshape(b.shape), n.loc)
                rw.nodes.append(k)
                node = make_node(_ops()["multiply"], [a, k.out], {}, [(out.shape, out.dtype)], n.loc)
                rw.nodes.append(node)
                return rw.replace(n, node.out, "x/2^k")
        elif name == "pow" and b.size == 1 and _same_type(a, out):
            c = scalar_const(b)
            if c is None or isinstance(c, (bool, complex)):
                return None
            if c == 1:
                return rw.replace(n, a, "x**1")
            if c == 2:
                return rw.replace(n, rw.emit("multiply", [a, a], out, n.loc), "x**2")
            if c == 3 and (a.dtype.kind in "iu" or "pow3" in ENABLED_INEXACT):
                sq = rw.emit("multiply", [a, a], out, n.loc)
                return rw.replace(n, rw.emit("multiply", [sq, a], out, n.loc), "x**3")
            if c == 0.5 and a.dtype.kind == "f":
                return rw.replace(n, rw.emit("sqrt", [a], out, n.loc), "x**0.5")
            if c == -1 and a.dtype.kind == "f":
                return rw.replace(n, rw.emit("reciprocal", [a], out, n.loc), "x**-1")
        return None
    if name == "tanh" and "tanh_exp" in ENABLED_INEXACT and out.dtype.kind == "f":
        two, one = const_node(2.0, n.loc), const_node(1.0, n.loc)
        rw.nodes += [two, one]
        e = rw.emit("exp", [rw.emit("multiply", [ins[0], two.out], out, n.loc)], out, n.loc)
        q = rw.emit("divide", [two.out, rw.emit("add", [e, one.out], out, n.loc)], out, n.loc)
        return rw.replace(n, rw.emit("subtract", [one.out, q], out, n.loc), "tanh via exp")
    if name == "negative" and ins[0].node is not None and ins[0].node.op.name == "negative":
        return rw.replace(n, ins[0].node.inputs[0], "--x")
    if name == "permute_dims":
        axes = n.params["axes"]
        x = ins[0]
        if x.node is not None and x.node.op.name == "permute_dims":
            inner = x.node.params["axes"]
            axes = tuple(inner[a] for a in axes)
            x = x.node.inputs[0]
            if axes == tuple(range(len(axes))):
                return rw.replace(n, x, "transpose(transpose)")
            node = make_node(n.op, [x], {"axes": axes}, [(out.shape, out.dtype)], n.loc)
            rw.nodes.append(node)
            return rw.replace(n, node.out, "transpose(transpose)")
        if axes == tuple(range(len(axes))):
            return rw.replace(n, x, "identity transpose")
    if name == "reshape":
        x = ins[0]
        if x.shape == out.shape:
            return rw.replace(n, x, "identity reshape")
        if x.node is not None and x.node.op.name == "reshape":
            node = make_node(n.op, [x.node.inputs[0]], dict(n.params), [(out.shape, out.dtype)], n.loc)
            rw.nodes.append(node)
            return rw.replace(n, node.out, "reshape(reshape)")
    if name == "broadcast_to" and ins[0].shape == out.shape:
        return rw.replace(n, ins[0], "identity broadcast")
    if name == "stop_gradient" and _same_type(ins[0], out):
        # gradients were taken while tracing (the tape ran then): in a graph it is the identity
        return rw.replace(n, ins[0], "stop_gradient")
    return None


# the ops _rewrite has rules for (tanh only with the inexact rewrite tanh_exp): other nodes are
# kept without looking further, which is most of a graph
_RULE_OPS = frozenset({"multiply", "add", "subtract", "divide", "pow", "tanh", "negative",
                       "permute_dims", "reshape", "broadcast_to", "stop_gradient"})


def simplify(graph: Graph):
    rw = _Rewriter()
    subst, nodes = rw.subst, rw.nodes
    rule_ops = _RULE_OPS if "tanh_exp" in ENABLED_INEXACT else _RULE_OPS - {"tanh"}
    for n in graph.nodes:
        n.inputs = resolve_inputs(subst, n.inputs)
        op = n.op
        if op.name in rule_ops and op.pure and not op.multiple_results and n.outputs:
            _rewrite(rw, n)                  # a rule that applies puts n.out in rw.subst
            if n.outputs[0] in subst:
                continue
        nodes.append(n)
    apply_subst(graph, rw.subst, rw.nodes)
    return graph, rw.counts
