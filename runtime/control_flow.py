"""Control flow that survives tracing: `rt.cond`, `rt.while_loop`, `rt.fori_loop`, `rt.scan`.

In eager mode each one is plain Python. While tracing, the functions it is given are traced
into sub-graphs (with a nested TraceInterpreter, so outer traced values they read become extra
inputs) and the construct becomes one node whose params hold those sub-graphs. The node's impl
runs the sub-graphs through compiled callables cached on each Graph, so generated code stays
one line per node and the optimizer sees an ordinary node.

Each construct has two ops: a pure one, and an `_effectful` twin (side_effect=True) used when a
sub-graph holds a side effect (rt.print) or a random op, so passes never drop or merge it.
"""
from __future__ import annotations

import numpy as np

from .core import ShapedArray, bind
from .dtypes import short_type
from .errors import user_location
from .pytree import flatten, leaf_paths, unflatten
from .tensor import Tensor
from .subgraph import (  # noqa: F401  (re-exported: errors, is_traced, tracing, run_graph)
    ControlFlowError, Missing, SubTrace, UndefinedVariableError, _as_output, _at, _aval,
    _carry_names, _cast_weak, _check_pred, _has_effects, _is_array, _is_value, _op_pair,
    _out_types, _same, _set_output, _trace_loop_body, _tree_text, _unify_captures, _weak,
    check_inputs, compiled, is_traced, run_graph, trace_sub, tracing)


# ----------------------------------------------------------------------------------------------
# cond

def _cond_impl(pred, *args, true_graph, false_graph):
    return run_graph(true_graph if pred else false_graph, *args)


def _cond_abstract(pred, *args, true_graph, false_graph):
    shape = getattr(pred, "shape", ())
    if tuple(shape) != ():
        raise ControlFlowError(f"cond's predicate must be a scalar, got shape {tuple(shape)}")
    check_inputs(args, true_graph, "cond")
    check_inputs(args, false_graph, "cond")
    return _out_types(true_graph)


COND_OPS = _op_pair("cond", _cond_impl, _cond_abstract, "choose one of two sub-graphs")


def cond(pred, true_fn, false_fn, *operands):
    """`true_fn(*operands)` if `pred` else `false_fn(*operands)`; one graph node when traced.

    Both branches must return the same structure with the same shapes and dtypes.

    >>> x = rt.asarray([1.0, -2.0])
    >>> rt.cond(rt.sum(x) > 0, lambda v: v * 2, lambda v: -v, x)     # sum is -1: false branch
    Tensor([-1.,  2.], dtype=float64)
    """
    if not is_traced(pred):
        return true_fn(*operands) if pred else false_fn(*operands)
    return cond_traced(pred, true_fn, false_fn, operands)


def cond_traced(pred, true_fn, false_fn, operands, out_names=None, loc=None, in_names=None):
    """The traced form of cond; `out_names`/`in_names` (from autograph) name outputs and inputs."""
    loc = loc or user_location()
    if tuple(pred.shape) != ():
        raise ControlFlowError(
            f"the condition of an `if`/rt.cond must be a single value, got "
            f"{short_type(pred.dtype, pred.shape)}{_at(loc)}. Use rt.any(...) or rt.all(...) to "
            "reduce it, or rt.where(c, a, b) to choose elementwise.")
    leaves, tree = flatten(list(operands))
    dyn = [i for i, x in enumerate(leaves) if _is_array(x)]
    avals = [_aval(leaves[i]) for i in dyn]
    paths = leaf_paths(list(operands))      # "_0", "_1_w" ...: operand number, then the path
    names = []
    for i in dyn:
        top, _, rest = paths[i][1:].partition("_")
        base = in_names[int(top)] if in_names and int(top) < len(in_names) else f"operand{top}"
        names.append(f"{base}_{rest}" if rest else base)

    def rebuild(tracers):
        new = list(leaves)
        for i, t in zip(dyn, tracers):
            new[i] = t
        return unflatten(tree, new)

    t = trace_sub(true_fn, avals, names, "true_branch", rebuild)
    f = trace_sub(false_fn, avals, names, "false_branch", rebuild)
    spec = _join_branches(t, f, out_names, loc)
    captured = _unify_captures([t, f])
    op = COND_OPS[1] if _has_effects(t.graph, f.graph) else COND_OPS[0]
    outs = bind(op, pred, *[leaves[i] for i in dyn], *captured,
                true_graph=t.graph, false_graph=f.graph)
    return unflatten(t.out_tree, [outs[x] if kind == "dyn" else x for kind, x in spec])


def _join_branches(t: SubTrace, f: SubTrace, out_names, loc):
    """Check both branches return the same types; -> out spec [("dyn", k) | ("static", value)]."""
    if t.out_tree != f.out_tree:
        raise ControlFlowError(
            f"the two branches of a cond{_at(loc)} return different structures:\n"
            f"  true branch:  {_tree_text(t)}\n  false branch: {_tree_text(f)}")
    names = out_names or [f"output {p.lstrip('_') or 0}"
                          for p in leaf_paths(unflatten(t.out_tree, list(range(len(t.out_leaves)))))]
    spec, pairs = [], []
    for k, (a, b) in enumerate(zip(t.out_leaves, f.out_leaves)):
        label = names[k] if k < len(names) else f"output {k}"
        if not _is_value(a) and not _is_value(b) and type(a) is type(b) and _same(a, b):
            spec.append(("static", a))
            continue
        a = t.out_leaves[k] = _as_output(t, a, label, "true", loc)
        b = f.out_leaves[k] = _as_output(f, b, label, "false", loc)
        if a.shape != b.shape or (a.dtype != b.dtype and not (_weak(a) or _weak(b))):
            raise ControlFlowError(
                f"the branches of a cond{_at(loc)} give `{label}` different types: "
                f"{a.type_str} in the true branch, {b.type_str} in the false branch. Both branches "
                "must produce the same shape and dtype (cast with .astype(...), or broadcast).")
        spec.append(("dyn", len(pairs)))
        pairs.append((a, b))
    t.graph.outputs = [a for a, _ in pairs]
    f.graph.outputs = [b for _, b in pairs]
    for k, (a, b) in enumerate(pairs):
        if a.dtype != b.dtype:      # one side is a Python number: it takes the other's dtype
            if _weak(a) != _weak(b):
                dt = b.dtype if _weak(a) else a.dtype
            else:
                dt = np.result_type(a.dtype, b.dtype)
            for g, v in ((t.graph, a), (f.graph, b)):
                if v.dtype != dt:
                    _set_output(g, k, dt)
    return spec


# ----------------------------------------------------------------------------------------------
# while_loop

def _while_impl(*args, cond_graph, body_graph, n_carry):
    carry, consts = args[:n_carry], args[n_carry:]
    test, body = compiled(cond_graph), compiled(body_graph)
    while test(*carry, *consts)[0]:
        carry = body(*carry, *consts)
    return tuple(carry)


def _while_abstract(*args, cond_graph, body_graph, n_carry):
    check_inputs(args, cond_graph, "while_loop")
    check_inputs(args, body_graph, "while_loop")
    return _out_types(body_graph)


WHILE_OPS = _op_pair("while_loop", _while_impl, _while_abstract,
                     "repeat a body sub-graph while a cond sub-graph is true")


def while_loop(cond_fn, body_fn, init):
    """`val = init; while cond_fn(val): val = body_fn(val); return val`, one node when traced.

    `val` may be a tensor or a tuple/list/dict of them; the body must keep every shape and dtype
    (a Python number's dtype may follow the tensors it is mixed with, as NumPy's weak scalars do).
    Reverse-mode gradients need a known trip count: use rt.fori_loop or rt.scan for those.

    >>> rt.while_loop(lambda v: v < 100, lambda v: v * 3, rt.asarray(1))
    Tensor(243, dtype=int64)
    """
    if not tracing():
        val = init
        while cond_fn(val):
            val = body_fn(val)
        return val
    return while_traced(cond_fn, body_fn, init)


def while_traced(cond_fn, body_fn, init, names=None, loc=None):
    """The traced form; `names` (from autograph) name the loop variables in errors."""
    loc = loc or user_location()
    leaves, tree = flatten(init)
    names = names or _carry_names(init, "val")
    body, avals, weak, _, _ = _trace_loop_body(
        body_fn, leaves, tree, names, [], [], lambda pre, carry, post: (carry,), loc)
    cnd = trace_sub(cond_fn, avals, names, "cond", lambda ts: (unflatten(tree, ts),))
    _check_pred(cnd, loc)
    body.graph.loc = loc          # named by the error for gradients through this loop
    captured = _unify_captures([cnd, body])
    op = WHILE_OPS[1] if _has_effects(cnd.graph, body.graph) else WHILE_OPS[0]
    outs = bind(op, *_cast_weak(leaves, weak, avals), *captured, cond_graph=cnd.graph,
                body_graph=body.graph, n_carry=len(leaves))
    return unflatten(tree, list(outs))


# ----------------------------------------------------------------------------------------------
# fori_loop: a loop with a trip count known when tracing (static bounds), so it can be reversed

def _fori_impl(*args, lo, hi, body_graph, n_carry):
    carry, consts = args[:n_carry], args[n_carry:]
    body = compiled(body_graph)
    for i in np.arange(lo, hi, dtype=np.int64):       # the index as an int64 scalar, as traced
        carry = body(i, *carry, *consts)
    return tuple(carry)


def _fori_abstract(*args, lo, hi, body_graph, n_carry):
    check_inputs(args, body_graph, "fori_loop", skip=1)
    return _out_types(body_graph)


FORI_OPS = _op_pair("fori_loop", _fori_impl, _fori_abstract,
                    "run a body sub-graph for i in range(lo, hi)")


def fori_loop(lower, upper, body_fn, init):
    """`val = init; for i in range(lower, upper): val = body_fn(i, val); return val`.

    `i` is an int64 tensor (in eager mode too, so both modes promote types alike). With Python
    int bounds the trip count is known while tracing and gradients flow through the loop; with
    traced bounds it becomes a while_loop (forward only).

    >>> rt.fori_loop(0, 4, lambda i, acc: acc + i, rt.asarray(0))
    Tensor(6, dtype=int64)
    """
    static = isinstance(lower, (int, np.integer)) and isinstance(upper, (int, np.integer))
    if not tracing():
        val = init
        for i in range(int(lower), int(upper)):
            val = body_fn(Tensor(np.int64(i)), val)
        return val
    if not static:
        return _fori_as_while(lower, upper, body_fn, init)
    return fori_traced(int(lower), int(upper), body_fn, init)


def fori_traced(lo, hi, body_fn, init, names=None, loc=None):
    loc = loc or user_location()
    leaves, tree = flatten(init)
    names = names or _carry_names(init, "val")
    body, avals, weak, _, _ = _trace_loop_body(
        body_fn, leaves, tree, names, [(((), np.dtype(np.int64)), "i")], [],
        lambda pre, carry, post: (pre[0], carry), loc)
    captured = _unify_captures([body])
    op = FORI_OPS[1] if _has_effects(body.graph) else FORI_OPS[0]
    outs = bind(op, *_cast_weak(leaves, weak, avals), *captured, lo=lo, hi=hi,
                body_graph=body.graph, n_carry=len(leaves))
    return unflatten(tree, list(outs))


def _fori_as_while(lower, upper, body_fn, init):
    from .ops.creation import astype
    lo, hi = astype(lower, np.int64), astype(upper, np.int64)
    out = while_loop(lambda c: c[0] < c[1], lambda c: (c[0] + 1, c[1], body_fn(c[0], c[2])),
                     (lo, hi, init))
    return out[2]


# ----------------------------------------------------------------------------------------------
# scan

def _scan_impl(*args, body_graph, length, n_carry, n_xs):
    carry, xs, consts = args[:n_carry], args[n_carry:n_carry + n_xs], args[n_carry + n_xs:]
    ys, body = None, compiled(body_graph)
    for i in range(length):
        out = body(*carry, *(x[i] for x in xs), *consts)
        carry, y = out[:n_carry], out[n_carry:]
        if ys is None:
            ys = [np.empty((length,) + np.shape(v), np.asarray(v).dtype) for v in y]
        for buf, v in zip(ys, y):
            buf[i] = v
    if ys is None:       # zero iterations: empty stacks of the right type
        ys = [np.empty((0,) + v.shape, v.dtype) for v in body_graph.outputs[n_carry:]]
    return tuple(carry) + tuple(ys)


def _scan_abstract(*args, body_graph, length, n_carry, n_xs):
    xs = [ShapedArray(x.shape[1:], x.dtype) if not isinstance(x, (int, float, bool)) else x
          for x in args[n_carry:n_carry + n_xs]]
    check_inputs(args[:n_carry] + tuple(xs) + args[n_carry + n_xs:], body_graph, "scan")
    outs = _out_types(body_graph)
    return outs[:n_carry] + [((length,) + tuple(s), d) for s, d in outs[n_carry:]]


SCAN_OPS = _op_pair("scan", _scan_impl, _scan_abstract,
                    "run a body sub-graph over the leading axis of xs, carrying state")


def scan(f, init, xs=None, length=None):
    """`f(carry, x) -> (carry, y)` over the leading axis of `xs`; returns (carry, stacked ys).

    >>> carry, ys = rt.scan(lambda c, x: (c + x, c * x), rt.asarray(0.0), rt.arange(1.0, 4.0))
    >>> ys
    Tensor([0., 2., 9.], dtype=float64)
    """
    from .ops.movement import stack
    xs_leaves, xs_tree = flatten(xs)
    if length is None:
        if not xs_leaves:
            raise ValueError("rt.scan needs xs or length=")
        length = int(xs_leaves[0].shape[0])
    for x in xs_leaves:
        if int(x.shape[0]) != length:
            raise ValueError(f"rt.scan: every xs leaf needs leading axis {length}, "
                             f"got shape {tuple(x.shape)}")
    if not tracing():
        carry, ys = init, []
        for i in range(length):
            x = unflatten(xs_tree, [x[i] for x in xs_leaves]) if xs is not None else None
            carry, y = f(carry, x)
            ys.append(y)
        if not ys:
            raise ValueError("rt.scan over zero items in eager mode: the type of ys is unknown")
        ys_leaves = [flatten(y)[0] for y in ys]
        stacked = [stack([yl[k] for yl in ys_leaves]) for k in range(len(ys_leaves[0]))]
        return carry, unflatten(flatten(ys[0])[1], stacked)
    return scan_traced(f, init, xs_leaves, xs_tree, xs is None, length)


def scan_traced(f, init, xs_leaves, xs_tree, no_xs, length, loc=None):
    loc = loc or user_location()
    leaves, tree = flatten(init)
    names = _carry_names(init, "carry")
    post = [((tuple(x.shape[1:]), np.dtype(x.dtype)), f"x{k}") for k, x in enumerate(xs_leaves)]
    body, avals, weak, ys, y_tree = _trace_loop_body(
        f, leaves, tree, names, [], post,
        lambda pre, carry, post: (carry, None if no_xs else unflatten(xs_tree, post)), loc,
        pair_out=True)
    captured = _unify_captures([body])
    n = len(leaves)
    op = SCAN_OPS[1] if _has_effects(body.graph) else SCAN_OPS[0]
    outs = bind(op, *_cast_weak(leaves, weak, avals), *xs_leaves, *captured,
                body_graph=body.graph, length=length, n_carry=n, n_xs=len(xs_leaves))
    return unflatten(tree, list(outs[:n])), unflatten(y_tree, list(outs[n:]))


# ----------------------------------------------------------------------------------------------
# rt.range: the loop marker autograph turns into a graph loop

class Range:
    """rt.range: `for i in rt.range(n):` in an `rt.function` becomes one loop node (fori_loop) instead of
    being unrolled; elsewhere it iterates like `range`, yielding int64 tensors (as the compiled
    loop does, so both modes promote types alike). Bounds may be traced values when the
    function is compiled (then the loop is a while_loop: forward only).

    >>> [int(i) for i in rt.range(3)]
    [0, 1, 2]
    """

    def __init__(self, start, stop=None, step=1):
        if stop is None:
            start, stop = 0, start
        if not isinstance(step, (int, np.integer)) or step == 0:
            raise ValueError(f"rt.range step must be a non-zero Python int, got {step!r}")
        self.start, self.stop, self.step = start, stop, int(step)

    @property
    def static(self) -> bool:
        return not (is_traced(self.start) or is_traced(self.stop))

    def __iter__(self):
        if not self.static:
            raise TypeError("rt.range with traced bounds can only drive a converted `for` loop "
                            "(inside an rt.function with autograph on)")
        for i in range(int(self.start), int(self.stop), self.step):
            yield Tensor(np.int64(i))

    def __len__(self):
        return len(range(int(self.start), int(self.stop), self.step))

    def __repr__(self):
        return f"rt.range({self.start}, {self.stop}, {self.step})"


def loop_over_range(r: Range, body_fn, init, names=None, loc=None):
    """`for i in r: val = body_fn(i, val)` as one loop node (what autograph emits)."""
    if r.static:
        lo, hi, step = int(r.start), int(r.stop), r.step
        trip = len(range(lo, hi, step))
        if step == 1:
            return fori_traced(lo, lo + trip, body_fn, init, names, loc)
        return fori_traced(0, trip, lambda k, v: body_fn(k * step + lo, v), init, names, loc)
    if r.step not in (1, -1):
        raise ControlFlowError("rt.range with traced bounds supports step 1 or -1 only")
    from .ops.creation import astype
    lo, hi = astype(r.start, np.int64), astype(r.stop, np.int64)
    s = r.step
    init_c = (lo, hi, init)
    names_c = ["i", "stop"] + (names or _carry_names(init, "val"))
    out = while_traced(lambda c: c[0] < c[1] if s > 0 else c[0] > c[1],
                       lambda c: (c[0] + s, c[1], body_fn(c[0], c[2])), init_c, names_c, loc)
    return out[2]
