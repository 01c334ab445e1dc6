"""Gradients (vjp rules) for the control-flow ops: cond, fori_loop and scan; while_loop refuses.

The rules follow the autodiff convention (`rule(i, g, out, *inputs, **params)` for variadic
ops) and are written with runtime ops, so under `rt.function` the backward pass is itself a
cond / scan in the same graph. A sub-graph is differentiated by replaying its nodes through
`bind` under a tape (`graph_vjp`). Loops save the carry before each step in a forward scan and
walk those values backwards in a reverse scan (memory: one carry per iteration).

One backward step asks each input's rule in turn with the same (g, out): the first call
computes every input's cotangent and the rest read them from `_memo`.
"""
from __future__ import annotations

import numpy as np

from . import control_flow as cf
from .core import OPS, bind
from .graph import Graph

_memo: list = [None, None, None]        # [g, out, cotangents by input]


class LoopGradientError(TypeError):
    """Reverse-mode differentiation through a loop whose trip count is unknown."""


def _inexact(x) -> bool:
    dt = getattr(x, "dtype", None)
    return dt is not None and np.dtype(dt).kind in "fc"


def replay(graph, args):
    """Run `graph`'s nodes through `bind` (so the current interpreters see every op). Prints
    are left out, here and in nested sub-graphs: they ran in the forward pass already."""
    from .ops.creation import const_op
    env = dict(zip(graph.inputs, args))
    for n in graph.nodes:
        if n.op.name == "const":
            env[n.out] = n.params["value"] if n.out.weak else bind(const_op, **n.params)
            continue
        if n.op.side_effect and not n.outputs:
            continue
        op, params = n.op, n.params
        if any(isinstance(p, Graph) for p in params.values()):
            params = {k: quiet(p) if isinstance(p, Graph) else p for k, p in params.items()}
            if op.name.endswith("_effectful") and not cf._has_effects(
                    *[p for p in params.values() if isinstance(p, Graph)]):
                op = OPS[op.name[:-len("_effectful")]]
        r = bind(op, *[env[v] for v in n.inputs], **params)
        for v, x in zip(n.outputs, r if n.op.multiple_results else (r,)):
            env[v] = x
    return [env[v] for v in graph.outputs]


def quiet(graph: Graph) -> Graph:
    """`graph` without its rt.print nodes (nested ones too); made once, kept on the graph."""
    q = graph.__dict__.get("_quiet")
    if q is None:
        if not any(n.op.side_effect for n in graph.nodes):
            q = graph
        else:
            q = Graph(graph.name)
            m = {v: q.add_input(v.shape, v.dtype, v.name) for v in graph.inputs}
            for n in graph.nodes:
                if n.op.side_effect and not n.outputs:
                    continue
                params = {k: quiet(p) if isinstance(p, Graph) else p for k, p in n.params.items()}
                op = n.op
                if op.name.endswith("_effectful") and not cf._has_effects(
                        *[p for p in params.values() if isinstance(p, Graph)]):
                    op = OPS[op.name[:-len("_effectful")]]
                new = q.add_node(op, [m[v] for v in n.inputs], params,
                                 [(v.shape, v.dtype) for v in n.outputs], n.loc,
                                 weak=bool(n.outputs) and n.outputs[0].weak)
                m.update(zip(n.outputs, new.outputs))
            q.outputs = [m[v] for v in graph.outputs]
        graph._quiet = q
    return q


def graph_vjp(graph, inputs, cts):
    """Cotangents of `graph`'s inputs at `inputs` given output cotangents `cts`: a tensor for
    every floating-point input (zeros where it does not matter), None for the others."""
    from .autodiff import vjp
    diff = [i for i, x in enumerate(inputs) if _inexact(x)]
    od = [k for k, v in enumerate(graph.outputs) if v.dtype.kind in "fc"]
    res = [None] * len(inputs)
    if not diff:
        return res

    def f(*d):
        args = list(inputs)
        for i, a in zip(diff, d):
            args[i] = a
        outs = replay(graph, args)
        return [outs[k] for k in od]

    from .ops.creation import zeros
    _, fn = vjp(f, *[inputs[i] for i in diff])
    grads = fn([zeros(graph.outputs[k].shape, dtype=graph.outputs[k].dtype) if cts[k] is None
                else cts[k] for k in od])
    for i, gi in zip(diff, grads):
        res[i] = gi
    return res


def _memoized(compute):
    def rule(i, g, out, *args, **params):
        if _memo[0] is not g or _memo[1] is not out:
            _memo[:] = [g, out, compute(g, out, *args, **params)]
        return _memo[2][i]
    return rule


# -- cond ---------------------------------------------------------------------------------------

def _cond_cotangents(g, out, pred, *args, true_graph, false_graph):
    n = len(args)
    diff = [k for k, a in enumerate(args) if _inexact(a)]

    def backward(graph):
        def bwd(*xs):
            cts = graph_vjp(graph, list(xs[:n]), list(xs[n:]))
            return tuple(cts[k] for k in diff)
        return bwd

    res = cf.cond(pred, backward(true_graph), backward(false_graph), *args, *g)
    out_cts = [None] * (n + 1)
    for k, c in zip(diff, res):
        out_cts[k + 1] = c
    return out_cts


# -- loops: fori_loop (as a scan over the index) and scan -----------------------------------------

def _loop_cotangents(g_carry, g_ys, carry, xs, consts, step):
    """Reverse a loop `carry, y = step(carry, x, consts)` over the leading axis of xs.

    Returns (cotangents of carry, of each xs leaf, of consts); None where not differentiable.
    `step` is (body graph, _Layout): where carry, x and consts sit among the graph's inputs.
    """
    from .ops.creation import zeros_like
    from .ops.movement import flip
    graph, layout = step
    nc, nx = len(carry), len(xs)
    cd = [k for k in range(nc) if _inexact(carry[k])]
    kd = [k for k in range(len(consts)) if _inexact(consts[k])]
    xd = [k for k in range(nx) if _inexact(xs[k])]

    def fwd(c, x):
        outs = replay(graph, layout(list(c), list(x), consts))
        return tuple(outs[:nc]), tuple(c)

    _, saved = cf.scan(fwd, tuple(carry), tuple(xs))

    def bwd(acc, x):
        gc, gk = acc
        cs, xk, gy = x[:nc], x[nc:nc + nx], x[nc + nx:]
        full = [None] * nc
        for k, gi in zip(cd, gc):
            full[k] = gi
        cts = graph_vjp(graph, layout(list(cs), list(xk), consts), full + list(gy))
        c_cts, x_cts, k_cts = layout.split(cts, nc, nx)
        new_k = tuple(a + k_cts[k] for a, k in zip(gk, kd))
        return (tuple(c_cts[k] for k in cd), new_k), tuple(x_cts[k] for k in xd)

    init = (tuple(g_carry[k] for k in cd), tuple(zeros_like(consts[k]) for k in kd))
    rev = tuple(flip(a, axis=0) for a in (*saved, *xs, *g_ys))
    (gc, gk), gx = cf.scan(bwd, init, rev)
    c_out, x_out, k_out = [None] * nc, [None] * nx, [None] * len(consts)
    for k, v in zip(cd, gc):
        c_out[k] = v
    for k, v in zip(xd, gx):
        x_out[k] = flip(v, axis=0)
    for k, v in zip(kd, gk):
        k_out[k] = v
    return c_out, x_out, k_out


class _Layout:
    """Where carry, x and consts sit among a body graph's inputs."""

    def __init__(self, kind):
        self.kind = kind

    def __call__(self, c, x, consts):
        return (x + c + list(consts)) if self.kind == "fori" else (c + x + list(consts))

    def split(self, cts, nc, nx):
        if self.kind == "fori":         # inputs: i, *carry, *consts (x is the index)
            return cts[1:1 + nc], cts[:1], cts[1 + nc:]
        return cts[:nc], cts[nc:nc + nx], cts[nc + nx:]


def _fori_cotangents(g, out, *args, lo, hi, body_graph, n_carry):
    from .ops.creation import arange
    carry, consts = list(args[:n_carry]), list(args[n_carry:])
    if hi <= lo:
        return [g[k] if _inexact(a) else None for k, a in enumerate(carry)] + [None] * len(consts)
    idx = arange(lo, hi, dtype=np.int64)
    c_cts, _, k_cts = _loop_cotangents(list(g), [], carry, [idx], consts, (body_graph, _Layout("fori")))
    return c_cts + k_cts


def _scan_cotangents(g, out, *args, body_graph, length, n_carry, n_xs):
    carry = list(args[:n_carry])
    xs = list(args[n_carry:n_carry + n_xs])
    consts = list(args[n_carry + n_xs:])
    if length == 0:
        return ([g[k] if _inexact(a) else None for k, a in enumerate(carry)]
                + [None] * (n_xs + len(consts)))
    g_carry, g_ys = list(g[:n_carry]), list(g[n_carry:])
    from .ops.creation import zeros_like
    g_ys = [zeros_like(o) if gy is None else gy for gy, o in zip(g_ys, out[n_carry:])]
    c_cts, x_cts, k_cts = _loop_cotangents(g_carry, g_ys, carry, xs, consts,
                                           (body_graph, _Layout("scan")))
    return c_cts + x_cts + k_cts


def _while_vjp(i, g, out, *args, cond_graph, body_graph, n_carry):
    loc = getattr(body_graph, "loc", None)
    raise LoopGradientError(
        f"cannot take a reverse-mode gradient through a while loop{f' at {loc}' if loc else ''}: "
        "its number of iterations is known only when it runs, so the backward pass cannot be "
        "built ahead of time. Use rt.fori_loop(lower, upper, body, init) with Python int bounds, "
        "or rt.scan, or with autograph write `for i in rt.range(n):` with a Python int n (a "
        "`while` with a fixed maximum can become a fori_loop whose body does nothing once done: "
        "x = rt.where(done, x, step(x))).")


def install():
    for op in cf.COND_OPS:
        op.vjp = _memoized(_cond_cotangents)
    for op in cf.FORI_OPS:
        op.vjp = _memoized(_fori_cotangents)
    for op in cf.SCAN_OPS:
        op.vjp = _memoized(_scan_cotangents)
    for op in cf.WHILE_OPS:
        op.vjp = _while_vjp


install()
