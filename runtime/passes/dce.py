"""Dead code elimination: drop nodes whose results nobody reads.

Nodes of ops with a side effect (`op.side_effect`, e.g. `rt.print`) are always kept, and so is
everything they read. Random draws are kept too, even unused: they advance the generator, so
dropping one would change every later draw (compiled code draws the same numbers as eager code
after the same `rt.random.seed`).
"""
from __future__ import annotations

from ..graph import Graph


def dce(graph: Graph):
    live = set(graph.outputs)
    keep = []
    for n in reversed(graph.nodes):
        op = n.op
        if op.random or op.side_effect or not live.isdisjoint(n.outputs):   # impure, or read
            keep.append(n)
            live.update(n.inputs)
    removed = len(graph.nodes) - len(keep)
    keep.reverse()
    graph.nodes = keep
    return graph, ({"removed": removed} if removed else {})
