"""Sub-graphs: tracing a Python function into a Graph inside an ongoing trace, running one,
and the checks that control-flow constructs share (branch and loop-carry types).

A sub-function is traced with a nested TraceInterpreter, so outer traced values it reads are
captured as extra graph inputs; the construct's node passes them in. Sub-graphs run through a
compiled callable cached on each Graph object.
"""
from __future__ import annotations

import numpy as np

from . import core
from .core import Op, using
from .dtypes import short_type
from .graph import Graph
from .pytree import flatten, leaf_paths, unflatten
from .surface import ArrayMethods
from .tensor import Tensor

_PY_NUMBERS = (bool, int, float, complex)


class ControlFlowError(TypeError):
    """A cond/loop cannot be turned into a graph (branch types differ, a loop variable changes)."""


class UndefinedVariableError(ControlFlowError, NameError):
    """A variable has a value on one path through converted code but not on another."""


class Missing:
    """Base of autograph's placeholder for a variable without a value (name, why)."""
    __slots__ = ()


# ----------------------------------------------------------------------------------------------
# When is something traced?

def is_traced(x) -> bool:
    """True for a value known only by shape and dtype (a Tracer), False for concrete values."""
    return isinstance(x, ArrayMethods) and type(x) is not Tensor


def tracing() -> bool:
    """True while some function is being traced (a TraceInterpreter is on the stack)."""
    from .tracing import TraceInterpreter
    it = core.current_interpreter()
    while it is not None:
        if isinstance(it, TraceInterpreter):
            return True
        it = it.parent
    return False


def _is_array(x) -> bool:
    return isinstance(x, (ArrayMethods, np.ndarray, np.generic))


def _aval(x):
    """(shape, dtype) of an array leaf, or of a Python number (which is 'weak': see while_loop)."""
    if isinstance(x, _PY_NUMBERS):
        return (), np.result_type(x)
    return tuple(x.shape), np.dtype(x.dtype)


# ----------------------------------------------------------------------------------------------
# Tracing a Python function into a sub-graph

class SubTrace:
    """A traced sub-function: the graph, the outer traced values it captured, its output tree."""

    def __init__(self, graph, n_explicit, captured, out_tree, out_leaves):
        self.graph = graph
        self.n_explicit = n_explicit    # graph inputs before the captured ones
        self.captured = captured        # [(outer value, inner input Value)]
        self.out_tree = out_tree
        self.out_leaves = out_leaves    # per output leaf: a graph output Value or a static value


def trace_sub(fn, in_avals, in_names, name, rebuild):
    """Trace `fn(*rebuild(tracers))` in a nested trace. Array outputs become graph outputs."""
    from .tracing import TraceInterpreter
    interp = TraceInterpreter(name)
    with using(interp):
        tracers = [interp.new_input(s, d, n) for (s, d), n in zip(in_avals, in_names)]
        out = fn(*rebuild(tracers))
        leaves, tree = flatten(out)
        outs = []
        for leaf in leaves:
            if _is_array(leaf):
                v = interp.lift(leaf)
                outs.append(v)
            else:
                outs.append(leaf)
    return SubTrace(interp.graph, len(in_avals), list(interp.captured), tree, outs)


def _unify_captures(subs):
    """Give every sub-graph the same extra inputs: the union of what any of them captured."""
    from .graph import Value
    union: list = []
    for s in subs:
        for t, _ in s.captured:
            if not any(t is u for u in union):
                union.append(t)
    for s in subs:
        extra = []
        taken = {v.name for v in s.graph.inputs[:s.n_explicit]}
        for k, u in enumerate(union):
            outer = getattr(getattr(u, "_val", None), "name", None)   # an outer input keeps its name
            name = outer if outer and outer not in taken else f"captured{k}"
            taken.add(name)
            inner = next((iv for t, iv in s.captured if t is u), None)
            if inner is None:
                inner = Value(u.shape, u.dtype, name=name)
            else:
                inner.name = name
            extra.append(inner)
        s.graph.inputs = s.graph.inputs[:s.n_explicit] + extra
    return union


def _set_output(graph: Graph, k: int, dtype):
    """Cast graph output k to `dtype` (a weak Python-number output meeting a typed one)."""
    from .ops.creation import astype_op
    v = graph.outputs[k]
    node = graph.add_node(astype_op, [v], {"dtype": np.dtype(dtype)}, [(v.shape, np.dtype(dtype))])
    graph.outputs[k] = node.out


def _weak(v) -> bool:
    return getattr(v, "weak", False)


# ----------------------------------------------------------------------------------------------
# Running sub-graphs: compiled once per Graph object, cached on it

def run_graph(graph: Graph, *args):
    return compiled(graph)(*args)


def compiled(graph: Graph):
    """The graph's compiled callable (made on first use, then kept on the Graph object)."""
    fn = graph.__dict__.get("_compiled_fn")
    if fn is None:
        fn = graph._compiled_fn = _compile(graph)
    return fn


def _compile(graph: Graph):
    # The optimizer already ran over the sub-graphs of the graph being compiled (passes/__init__.py
    # gives cond branches and loop bodies the function's own pipeline): compile them as they are.
    from . import codegen
    return codegen.compile_graph(graph, graph.name).fn


def _has_effects(*graphs) -> bool:
    return any(not n.op.pure for g in graphs for n in g.nodes)


def _op_pair(name, impl, abstract_eval, doc):
    pure = Op(name, impl, abstract_eval, multiple_results=True, doc=doc)
    effectful = Op(f"{name}_effectful", impl, abstract_eval, multiple_results=True,
                   side_effect=True, doc=doc + " (its sub-graphs have side effects)")
    return pure, effectful


def check_inputs(args, graph: Graph, what: str, skip: int = 0):
    """abstract_eval's check (and so verify()'s) that a node feeds its sub-graph the types
    the sub-graph was traced with. Python numbers are only counted."""
    ins = graph.inputs[skip:]
    if len(args) != len(ins):
        raise ControlFlowError(f"{what}: {len(args)} inputs for a sub-graph of {len(ins)}")
    for a, v in zip(args, ins):
        if isinstance(a, _PY_NUMBERS):
            continue
        if tuple(a.shape) != v.shape or np.dtype(a.dtype) != v.dtype:
            raise ControlFlowError(f"{what}: input {v.name} is {short_type(a.dtype, a.shape)} but the "
                                   f"sub-graph expects {v.type_str}")


def _out_types(graph):
    return [(v.shape, v.dtype) for v in graph.outputs]


def _as_output(s: SubTrace, leaf, label, branch, loc):
    """`leaf` as a Value of `s.graph` (a Python number becomes a constant node)."""
    if _is_value(leaf):
        return leaf
    if isinstance(leaf, _PY_NUMBERS):
        from .ops.creation import const_op
        node = s.graph.add_node(const_op, [], {"value": leaf}, [((), np.result_type(leaf))], weak=True)
        return node.out
    if isinstance(leaf, Missing):
        raise UndefinedVariableError(f"variable `{leaf.name}` has no value in the {branch} "
                                     f"branch{_at(loc)}: {leaf.why}")
    raise ControlFlowError(
        f"the {branch} branch of a cond{_at(loc)} gives `{label}` the value {leaf!r} "
        f"({type(leaf).__name__}), which differs from the other branch and is not a tensor: only "
        "tensors and numbers can differ between the branches of a traced `if`.")


def _is_value(x):
    from .graph import Value
    return isinstance(x, Value)


def _same(a, b):
    try:
        return bool(a == b)
    except Exception:
        return a is b


def _tree_text(s: SubTrace):
    leaves = ["tensor" if _is_value(v) else repr(v) for v in s.out_leaves]
    return repr(unflatten(s.out_tree, leaves)).replace("'tensor'", "tensor")


def _at(loc):
    return f" at {loc}" if loc is not None else ""
def _carry_names(init, prefix):
    return [f"{prefix}{p}" for p in leaf_paths(init)] or [prefix]


def _trace_loop_body(fn, leaves, tree, names, pre, post, build, loc, pair_out=False):
    """Trace a loop body over the carry `leaves` until the carry's dtypes settle.

    pre/post: [(aval, name)] inputs before/after the carry (fori's `i`, scan's `x`);
    build(pre_tracers, carry, post_tracers) -> args for `fn`. A carry that starts as a Python
    number is weak, as in eager NumPy: the first pass feeds the number itself, so the dtype the
    first iteration produces (`0.0 + float32 -> float32`) becomes the carry's dtype.
    Returns (SubTrace, carry avals, weak flags, y leaves (scan) or None, y tree).
    """
    for x, n in zip(leaves, names):
        if not (_is_array(x) or isinstance(x, _PY_NUMBERS)):
            raise ControlFlowError(
                f"`{n}` holds {type(x).__name__} {x!r}, which cannot be a variable of a loop on "
                f"traced values{_at(loc)}: only tensors and numbers (or tuples/lists/dicts of "
                "them) can change from one iteration to the next.")
    weak = [isinstance(x, _PY_NUMBERS) for x in leaves]
    avals = [_aval(x) for x in leaves]
    first_weak = any(weak)
    for _ in range(5):
        use = [i for i in range(len(leaves)) if not (first_weak and weak[i])]

        def rebuild(ts, use=use):
            k = len(pre)
            carry = list(leaves)
            for j, i in enumerate(use):
                carry[i] = ts[k + j]
            return build(ts[:k], unflatten(tree, carry), ts[k + len(use):])

        in_avals = [a for a, _ in pre] + [avals[i] for i in use] + [a for a, _ in post]
        in_names = [n for _, n in pre] + [names[i] for i in use] + [n for _, n in post]
        body = trace_sub(fn, in_avals, in_names, "body", rebuild)
        ys, y_tree = None, None
        if pair_out:
            if not (isinstance(body.out_tree, tuple) and body.out_tree[0] is tuple
                    and len(body.out_tree[1]) == 2):
                raise ControlFlowError(f"the rt.scan body{_at(loc)} must return a pair (carry, y)")
            carry_tree, y_tree = body.out_tree[1]
            n_carry = _count_leaves(carry_tree)
            ys = body.out_leaves[n_carry:]
            body.out_tree, body.out_leaves = carry_tree, body.out_leaves[:n_carry]
        new = _check_carry(body, tree, avals, weak, names, loc, "body")
        if pair_out:
            ys = [v if _is_value(v) else _as_output(body, v, "y", "body", loc) for v in ys]
            body.graph.outputs = body.graph.outputs + ys
        if not first_weak and new == avals:
            body.n_explicit = len(in_avals)
            return body, avals, weak, ys, y_tree
        first_weak, avals = False, new
    raise ControlFlowError(f"the loop variables' dtypes keep changing{_at(loc)}: give them a dtype "
                           "before the loop (rt.asarray(0.0, dtype=...))")


def _count_leaves(treedef):
    if treedef == "*":
        return 1
    if treedef is None:
        return 0
    if treedef[0] is dict:
        return sum(_count_leaves(t) for t in treedef[2])
    return sum(_count_leaves(t) for t in treedef[1])


def _cast_weak(leaves, weak, avals):
    """Python-number carries as constants of their settled dtype."""
    from .ops.creation import asarray
    return [asarray(x, dtype=dt) if w else x for x, w, (_, dt) in zip(leaves, weak, avals)]


def _check_carry(body: SubTrace, tree, avals, weak, names, loc, what):
    """The body must return the carry's structure and types; returns settled avals."""
    if body.out_tree != tree:
        raise ControlFlowError(
            f"the loop {what}{_at(loc)} returns {_tree_text(body)} but the loop variables are "
            f"{unflatten(tree, names)!r}: it must return the same structure.")
    new, outs = [], []
    for k, (leaf, (shape, dtype), w, name) in enumerate(zip(body.out_leaves, avals, weak, names)):
        if not _is_value(leaf):
            if not isinstance(leaf, _PY_NUMBERS):
                raise ControlFlowError(f"the loop {what}{_at(loc)} sets `{name}` to {leaf!r}, which "
                                       "is not a tensor or a number")
            leaf = _as_output(body, leaf, name, what, loc)
        if leaf.shape != shape:
            raise ControlFlowError(
                f"`{name}` changes shape inside the loop{_at(loc)}: {short_type(dtype, shape)} "
                f"before, {leaf.type_str} after one iteration. A loop on traced values must keep "
                "each variable's shape (pad to a fixed size, or collect results with rt.scan).")
        if leaf.dtype != dtype:
            if w:             # started as a Python number: adopt the dtype the body produced
                dtype = leaf.dtype
            elif _weak(leaf):
                leaf = _cast_value(body.graph, leaf, dtype)
            else:
                raise ControlFlowError(
                    f"`{name}` changes dtype inside the loop{_at(loc)}: {short_type(dtype, shape)} "
                    f"before, {leaf.type_str} after one iteration. Cast it with "
                    f".astype(...) so it keeps one dtype (or give it that dtype before the loop).")
        new.append((shape, dtype))
        outs.append(leaf)
    body.graph.outputs = outs
    return new


def _cast_value(graph, v, dtype):
    from .ops.creation import astype_op
    return graph.add_node(astype_op, [v], {"dtype": np.dtype(dtype)}, [(v.shape, np.dtype(dtype))]).out


def _check_pred(cnd: SubTrace, loc):
    leaves = cnd.out_leaves
    if len(leaves) != 1:
        raise ControlFlowError(f"the loop condition{_at(loc)} must return one value, got {len(leaves)}")
    v = leaves[0]
    if not _is_value(v):
        v = _as_output(cnd, bool(v), "the condition", "cond", loc)
    if v.shape != ():
        raise ControlFlowError(
            f"the loop condition{_at(loc)} must be a single value, got {v.type_str}: reduce it "
            "with rt.any(...) or rt.all(...)")
    if v.dtype != np.bool_:
        v = _cast_value(cnd.graph, v, np.bool_)
    cnd.graph.outputs = [v]
