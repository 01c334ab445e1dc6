"""Constant folding: a node whose inputs are all constants is computed now and becomes a constant.

Never folds random ops or side effects (they must run on every call), nodes holding sub-graphs,
or results bigger than MAX_FOLD_ELEMENTS (folding `rt.zeros((10000, 10000))` would bake an
800 MB array into the compiled function). NumPy warnings (divide by zero ...) are silenced while
folding; a node whose computation raises is left in place so the error happens at run time.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..graph import Graph
from ._rewrite import apply_subst, const_node, has_subgraph, resolve_inputs

MAX_FOLD_ELEMENTS = 1 << 16


def _all_inputs_const(n) -> bool:
    """Does every input of `n` come from a const node (`v.const is not None`)? Asked first: it
    is the cheap test that rules out almost every node."""
    for v in n.inputs:
        p = v.node
        if p is None or p.op.name != "const" or p.params["value"] is None:
            return False
    return True


def fold(graph: Graph):
    subst: dict = {}
    nodes = []
    folded = 0
    for n in graph.nodes:
        n.inputs = resolve_inputs(subst, n.inputs)
        if (not _all_inputs_const(n) or n.op.name == "const" or not n.op.pure or has_subgraph(n)
                or sum(v.size for v in n.outputs) > MAX_FOLD_ELEMENTS):
            nodes.append(n)
            continue
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = n.op.impl(*[v.const for v in n.inputs], **n.params)
            res = res if n.op.multiple_results else (res,)
            values = [np.array(r, dtype=v.dtype) for r, v in zip(res, n.outputs)]
        except Exception:
            nodes.append(n)
            continue
        if any(a.shape != v.shape for a, v in zip(values, n.outputs)):
            nodes.append(n)            # abstract_eval and impl disagree: leave it for verify()
            continue
        for a, v in zip(values, n.outputs):
            c = const_node(a, n.loc)
            nodes.append(c)
            subst[v] = c.out
        folded += 1
    apply_subst(graph, subst, nodes)
    return graph, ({"folded": folded} if folded else {})
