"""Helpers every pass shares: copying a graph, making nodes, substituting values, reading consts.

Passes rewrite in one forward walk: nodes are already in topological order, so a substitution
map (old Value -> new Value) applied to each node's inputs as we go is enough, and linear.
"""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node, Value

_PY_SCALARS = (bool, int, float, complex)


def copy_graph(g: Graph) -> Graph:
    """A copy with fresh Nodes and Values (sub-graphs and constant arrays are shared, not copied),
    so the optimizer never changes the graph as traced."""
    new = Graph(g.name)
    m: dict = {}
    for v in g.inputs:
        m[v] = nv = _clone(v, None)
        new.inputs.append(nv)
    if not _KNOWN_SLOTS:
        _copy_nodes_slowly(g, new, m)
    else:
        _copy_nodes(g.nodes, new.nodes, m)
    new.outputs = [m[v] for v in g.outputs]
    return new


_new = object.__new__
_KNOWN_SLOTS = (set(Value.__slots__) == {"shape", "dtype", "node", "index", "name", "weak", "__weakref__"}
                and set(Node.__slots__) == {"op", "inputs", "params", "outputs", "loc"})


def _copy_nodes(old_nodes, nodes, m) -> None:
    """copy_graph's loop, the hot part of every optimize() call: Nodes and Values are made
    without their constructors (whose conversions were done when the originals were made)."""
    append = nodes.append
    for n in old_nodes:
        nn = _new(Node)
        nn.op, nn.inputs, nn.params, nn.loc = n.op, [m[v] for v in n.inputs], dict(n.params), n.loc
        nn.outputs = outs = []
        for v in n.outputs:
            c = _new(Value)
            c.shape, c.dtype, c.node, c.index, c.name, c.weak = v.shape, v.dtype, nn, v.index, v.name, v.weak
            m[v] = c
            outs.append(c)
        append(nn)


def _copy_nodes_slowly(g, new, m) -> None:
    """The same through the constructors (if Node or Value gains a field, nothing is left unset)."""
    for n in g.nodes:
        nn = Node(n.op, [m[v] for v in n.inputs], dict(n.params), [], n.loc)
        for v in n.outputs:
            m[v] = c = _clone(v, nn)
            nn.outputs.append(c)
        new.nodes.append(nn)


def _clone(v: Value, node) -> Value:
    """A copy of `v` produced by `node` (skips Value.__init__'s conversions: already done; if
    Value gains a field, the constructor is used instead, so nothing is left unset)."""
    if not _KNOWN_SLOTS:
        return Value(v.shape, v.dtype, node, v.index, v.name, v.weak)
    c = _new(Value)
    c.shape, c.dtype, c.node, c.index, c.name, c.weak = v.shape, v.dtype, node, v.index, v.name, v.weak
    return c


def make_node(op, inputs, params, out_types, loc=None, weak=False) -> Node:
    """A node that is not yet in any graph's node list."""
    node = Node(op, inputs, params, [], loc)
    node.outputs = [Value(s, d, node, i, weak=weak) for i, (s, d) in enumerate(out_types)]
    return node


def const_node(value, loc=None) -> Node:
    from ..ops.creation import const_op
    if isinstance(value, _PY_SCALARS):
        return make_node(const_op, [], {"value": value}, [((), np.result_type(value))], loc, weak=True)
    value = np.asarray(value)
    if value.flags.writeable:
        value = value.copy()
        value.flags.writeable = False
    return make_node(const_op, [], {"value": value}, [(value.shape, value.dtype)], loc)


def scalar_const(v: Value):
    """The single number a const Value holds (a Python scalar or an all-equal array), else None."""
    c = v.const
    if c is None:
        return None
    if isinstance(c, _PY_SCALARS):
        return c
    a = np.asarray(c)
    if a.size == 0 or a.dtype.kind not in "biufc":
        return None
    first = a.flat[0]
    if a.size > 1 and not bool(np.all(a == first)):
        return None
    return first.item()


def apply_subst(graph: Graph, subst: dict, nodes: list) -> None:
    """Install `nodes` as the graph's node list and route graph outputs through `subst`."""
    graph.nodes = nodes
    graph.outputs = [resolve(subst, v) for v in graph.outputs]


def resolve(subst: dict, v: Value) -> Value:
    while v in subst:
        v = subst[v]
    return v


def resolve_inputs(subst: dict, inputs: list) -> list:
    """`inputs` with every value resolved through `subst` (the same list when there is nothing
    to substitute: the common case, and passes call this for every node)."""
    if not subst:
        return inputs
    out = []
    for v in inputs:
        while v in subst:
            v = subst[v]
        out.append(v)
    return out


def has_subgraph(node: Node) -> bool:
    params = node.params
    if not params:               # most nodes: a plain op without params
        return False
    for p in params.values():
        if isinstance(p, Graph):
            return True
    return False


def freeze(p):
    """A hashable stand-in for a param (arrays by identity: equal-valued arrays are not merged)."""
    if type(p) is float:         # the common case (Python scalar constants): answered first
        return ("float", p.hex())
    if isinstance(p, (list, tuple)):
        return (type(p).__name__, tuple(freeze(x) for x in p))
    if isinstance(p, dict):
        return ("dict", tuple(sorted((k, freeze(x)) for k, x in p.items())))
    if isinstance(p, slice):
        return ("slice", freeze(p.start), freeze(p.stop), freeze(p.step))
    if isinstance(p, float):
        return ("float", p.hex())        # tells -0.0 from 0.0, and nan equals nan
    if isinstance(p, complex):
        return ("complex", p.real.hex(), p.imag.hex())
    try:
        hash(p)
    except TypeError:
        return ("id", id(p))
    return (type(p).__name__, p)
