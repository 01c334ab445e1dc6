"""The optimizer: a pipeline of small passes, each `Graph -> (Graph, changes)` in its own file.

`optimize(graph, passes)` runs them in order and returns the new graph with one PassReport per
pass (what changed, node counts, bytes of intermediates, time), which the front end shows.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..graph import Graph

# name -> pass function, in pipeline order. Passes register here by being listed, not by import
# side effects, so the pipeline reads top to bottom.
PASSES: dict = {}
DEFAULT_PIPELINE: tuple = ()


@dataclass
class PassReport:
    name: str
    changes: dict = field(default_factory=dict)
    nodes_before: int = 0
    nodes_after: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    ms: float = 0.0

    def __str__(self):
        what = ", ".join(f"{k}: {v}" for k, v in self.changes.items()) or "no change"
        return (f"{self.name:<14} {self.nodes_before:>5} -> {self.nodes_after:<5} nodes  "
                f"{self.ms:7.2f} ms  {what}")


def intermediate_bytes(graph: Graph) -> int:
    """Bytes of every value a node produces (an upper bound on what the graph allocates)."""
    return sum(v.nbytes for n in graph.nodes if n.op.name != "const" for v in n.outputs)


def resolve(passes) -> list:
    if passes is None:
        names = list(DEFAULT_PIPELINE)
    else:
        names = list(passes)
    unknown = [p for p in names if p not in PASSES]
    if unknown:
        raise ValueError(f"unknown pass(es) {unknown}; available: {list(PASSES)}")
    return names


def optimize(graph: Graph, passes=None, verify: bool = False):
    """Run the pipeline; returns (graph, [PassReport])."""
    reports = []
    for name in resolve(passes):
        before_n, before_b = len(graph.nodes), intermediate_bytes(graph)
        t0 = time.perf_counter()
        graph, changes = PASSES[name](graph)
        ms = (time.perf_counter() - t0) * 1e3
        if verify:
            graph.verify()
        reports.append(PassReport(name, changes, before_n, len(graph.nodes), before_b,
                                  intermediate_bytes(graph), ms))
    return graph, reports
