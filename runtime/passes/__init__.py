"""The optimizer: a pipeline of small passes, each `Graph -> (Graph, changes)` in its own file.

`optimize(graph, passes)` copies the graph (the traced graph stays as traced), runs the passes in
order and returns the new graph with one PassReport per pass (what changed, node counts, bytes of
intermediates, time), which the front end shows (`f.lower(*args).reports`, `f.passes_for(...)`).

The default pipeline, in order (each can be left out: `rt.function(f, passes=[...])`):
  fold      constant folding (never random or side-effect ops; results up to 64K elements)
  simplify  algebraic simplification and strength reduction (simplify.py lists every rewrite,
            exact and inexact, with its measured error)
  cse       common subexpression elimination (never merges random or side-effect ops)
  dce       dead code elimination (never drops side-effect ops)
  fuse      elementwise fusion + chunked execution
  memory    liveness-based buffer reuse with out= (memory.py); honours donate_argnames

How fused groups look in the optimized graph (for printing and for drawing clusters): a group is
ONE node whose op is `fused` (`node.op.name == "fused"`). Its params are
  body:       a Graph holding the group's nodes (each with its own source location), whose inputs
              correspond one to one to the fused node's inputs and whose outputs to its outputs;
  block_rows: how many rows (along axis 0) one block of the generated loop processes;
  flat:       (only when True) the loop runs over blocks of block_rows flattened elements.
`print(graph)` shows the fused node followed by its body, indented. Codegen turns the node into one
loop over row blocks with reusable scratch buffers (runtime/codegen_fused.py).
The memory plan is stored as `graph.memory_plan = {value: donor value}` (see memory.py).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from ..codegen_fused import scratch_bytes
from ..graph import Graph

from . import cse, dce, fold, fusion, memory, simplify
from ._rewrite import copy_graph, has_subgraph

# name -> pass function, in pipeline order. Passes register here by being listed, not by import
# side effects, so the pipeline reads top to bottom.
PASSES: dict = {"fold": fold.fold, "simplify": simplify.simplify, "cse": cse.cse, "dce": dce.dce,
                "fuse": fusion.fuse, "memory": memory.memory}
DEFAULT_PIPELINE: tuple = ("fold", "simplify", "cse", "dce", "fuse", "memory")


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
        return (f"{self.name:<9} {self.nodes_before:>5} -> {self.nodes_after:<5} nodes  "
                f"{_mb(self.bytes_before):>9} -> {_mb(self.bytes_after):<9} intermediates  "
                f"{self.ms:6.2f} ms  {what}")


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def intermediate_bytes(graph: Graph) -> int:
    """Bytes the graph allocates for values it does not return (an upper bound): every node's
    results except those written into a reused buffer, plus the scratch of fused groups' loops."""
    plan = getattr(graph, "memory_plan", None) or {}
    returned = set(graph.outputs)
    prod = math.prod
    total = 0
    for n in graph.nodes:
        op_name = n.op.name
        if op_name == "const":
            continue
        for v in n.outputs:
            if v not in plan and v not in returned:
                total += prod(v.shape) * v.dtype.itemsize
        if op_name == "fused":
            total += scratch_bytes(n)
    return total


def describe() -> str:
    """The passes, default pipeline first, with the first line of each one's documentation."""
    import sys
    lines = []
    for name, fn in PASSES.items():
        doc = (sys.modules[fn.__module__].__doc__ or "").strip().splitlines()[0]
        on = "on " if name in DEFAULT_PIPELINE else "off"
        lines.append(f"{name:<9} {on}  {doc}")
    return "\n".join(lines)


def resolve(passes) -> list:
    if passes is None:
        names = list(DEFAULT_PIPELINE)
    else:
        names = list(passes)
    unknown = [p for p in names if p not in PASSES]
    if unknown:
        raise ValueError(f"unknown pass(es) {unknown}; available: {list(PASSES)}")
    return names


def optimize(graph: Graph, passes=None, verify: bool = False, donated=()):
    """Run the pipeline on a copy of `graph`; returns (graph, [PassReport]).

    `donated`: names of graph inputs whose arrays the caller gives up (memory planning may write
    into them). `verify=True` checks the graph after every pass (the tests do).

    >>> g, reports = optimize(traced_graph)               # doctest: +SKIP
    >>> print("\n".join(map(str, reports)))              # doctest: +SKIP
    """
    names = resolve(passes)
    graph = copy_graph(graph)
    graph.donated = [v for v in graph.inputs if v.name in set(donated)]
    sub_reports = []         # sub-graphs (cond branches, loop bodies) get the same pipeline
    for n in graph.nodes:
        if n.op.name == "fused" or not has_subgraph(n):
            continue         # fused: already optimized, its body is what codegen turns into one loop
        for k, p in list(n.params.items()):
            if isinstance(p, Graph):
                n.params[k], reps = optimize(p, names, verify)
                sub_reports.append(reps)
    reports = []
    before_b = intermediate_bytes(graph)
    for name in names:
        before_n = len(graph.nodes)
        if name != "memory":
            graph.memory_plan = None        # a plan made before this pass may name removed values
        t0 = time.perf_counter()
        graph, changes = PASSES[name](graph)
        ms = (time.perf_counter() - t0) * 1e3
        if verify:
            graph.verify()
        after_b = intermediate_bytes(graph) if changes else before_b
        reports.append(PassReport(name, changes, before_n, len(graph.nodes), before_b, after_b, ms))
        before_b = after_b
    for reps in sub_reports:     # what the passes did inside sub-graphs counts as theirs
        for mine, sub in zip(reports, reps):
            mine.ms += sub.ms
            for k, v in sub.changes.items():
                mine.changes[k] = mine.changes.get(k, 0) + v
    return graph, reports
