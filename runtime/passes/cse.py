"""Common subexpression elimination: a node equal to an earlier one (same op, same inputs, same
params) is replaced by the earlier one's results.

Random ops and side-effect ops are never merged (two draws are two draws; two prints print
twice). Python-scalar constants are merged by value and type; array constants by identity.
Commutative ops whose result does not depend on the order of the operands, bit for bit (IEEE
addition and multiplication, comparisons for equality, logical and/or), are keyed by their
inputs in a canonical order, so `a * b` and `b * a` merge. (Not maximum/minimum: NumPy's
`maximum(-0.0, 0.0)` keeps the first zero.)
"""
from __future__ import annotations

from ..graph import Graph
from ._rewrite import apply_subst, freeze, has_subgraph, resolve_inputs


COMMUTATIVE = frozenset({"add", "multiply", "equal", "not_equal", "logical_and", "logical_or"})


def _same_types(outs_a, outs_b) -> bool:
    """Do the results pair up with the same dtypes and shapes (zip's pairs, as merging uses)?"""
    for a, b in zip(outs_a, outs_b):
        if not (a.dtype == b.dtype and a.shape == b.shape):
            return False
    return True


def cse(graph: Graph):
    subst: dict = {}
    seen: dict = {}
    nodes = []
    merged = 0
    for n in graph.nodes:
        n.inputs = resolve_inputs(subst, n.inputs)
        op = n.op
        if op.random or op.side_effect or (n.params and has_subgraph(n)):     # not op.pure
            nodes.append(n)
            continue
        if op.name == "const":
            val = n.params["value"]
            weak = n.outputs[0].weak
            key = ("const", weak, type(val), freeze(val) if weak else id(val))
        elif not n.params:
            ids = map(id, n.inputs)
            key = (op.name, *(sorted(ids) if op.name in COMMUTATIVE else ids))
        else:
            try:
                key = (n.op.name, tuple(map(id, n.inputs)),
                       tuple((k, freeze(p)) for k, p in n.params.items()))
                hash(key)
            except TypeError:
                nodes.append(n)
                continue
        prev = seen.get(key)
        if prev is not None and _same_types(prev.outputs, n.outputs):
            for a, b in zip(n.outputs, prev.outputs):
                subst[a] = b
            merged += 1
            continue
        seen[key] = n
        nodes.append(n)
    apply_subst(graph, subst, nodes)
    return graph, ({"merged": merged} if merged else {})
