"""Memory planning: liveness-based buffer reuse. A big array the function allocated and no longer
needs becomes the `out=` buffer of a later op of the same shape and dtype, so the compiled
function touches fresh memory (expensive on these machines: ~1 ms per MB of 4 KiB pages) less.

The plan is `graph.memory_plan = {value: donor}`: codegen writes `value` into `donor`'s array.
A donor must be
  - owned: made by an op that returns a fresh array (ufuncs, where, astype, reductions, matmul,
    fused groups), never a graph input, a constant, or a view (reshape, transpose, slicing ...);
    a graph input only if the caller donated it (`rt.function(f, donate_argnames=...)`);
  - dead: neither it nor any view of it is read later or returned to the caller;
  - the same shape and dtype, at least REUSE_MIN_BYTES (small arrays are cheap, out= is not free).
Ufunc nodes may write into one of their own inputs (NumPy handles exact overlap); fused groups
only into buffers that died before them (a block writes its outputs before it reads all inputs).
"""
from __future__ import annotations

from math import prod as _prod

import numpy as np

from ..graph import Graph
from ..ops.elementwise import NOT_IN_PLACE

REUSE_MIN_BYTES = 1 << 16


def _fresh(n, op_fresh: dict) -> bool:
    """Does node n return a fresh array? `op_fresh` caches per op the part only the op decides."""
    op = n.op
    fresh = op_fresh.get(op)
    if fresh is None:
        fresh = op_fresh[op] = (op.name in _FRESH_OPS
                                or bool(op.elementwise and isinstance(op.impl, np.ufunc)))
    return fresh or (op.reduction and n.params.get("axis") != ())


_FRESH_OPS = ("fused", "matmul", "where", "astype")


def _writes_out(n, ufunc_ops: dict) -> bool:
    """Can this node be emitted as `ufunc(..., out=buffer)`? `ufunc_ops` caches per op whether
    it is an elementwise ufunc with one output."""
    op = n.op
    ufunc = ufunc_ops.get(op)
    if ufunc is None:
        ufunc = ufunc_ops[op] = bool(op.elementwise and isinstance(op.impl, np.ufunc)
                                     and op.impl.nout == 1)
    return (ufunc and not n.params and len(n.outputs[0].shape) > 0
            and op.name not in NOT_IN_PLACE)


def _reusable(v) -> bool:
    """Big enough to be worth reusing: not 0-d, and at least REUSE_MIN_BYTES."""
    shape = v.shape
    return len(shape) > 0 and _prod(shape) * v.dtype.itemsize >= REUSE_MIN_BYTES


def _lifetimes(graph: Graph, donated):
    """-> (owned, end, root): `owned` maps the buffers that may be reused, in the order they are
    made, to their kind (a number per (shape, dtype): buffers of one kind can stand in for each
    other); `end` maps each buffer to the last node index reading it or a view of it
    (len(graph.nodes): returned); `root` maps each value to the buffers it is a view of."""
    n_nodes = len(graph.nodes)
    # alias roots: a view shares its input's buffer, so the buffer lives as long as its views
    root: dict = {}
    end: dict = {}
    # a dict, not a set: a set of Values iterates in an order set by their memory addresses, so
    # the plan, and the generated code, changed from one run to the next where two buffers die
    # at the same node
    owned: dict = {}
    kinds: dict = {}                     # (shape, dtype) -> kind
    donated = set(donated)
    for v in graph.inputs:
        if v in donated:
            owned[v] = kinds.setdefault((v.shape, v.dtype), len(kinds))
    for v in graph.inputs:
        root[v] = (v,)
    op_fresh: dict = {}
    for i, n in enumerate(graph.nodes):
        for v in n.inputs:
            for r in root.get(v, ()):
                end[r] = i               # nodes come in order: i is the latest read so far
        fresh = _fresh(n, op_fresh)
        for v in n.outputs:
            if fresh:
                root[v] = (v,)
                end[v] = i               # a result nobody reads dies where it is made
                if _reusable(v):
                    owned[v] = kinds.setdefault((v.shape, v.dtype), len(kinds))
            elif n.op.name != "const":
                root[v] = tuple({r for u in n.inputs for r in root.get(u, ())})
    for v in graph.outputs:
        for r in root.get(v, ()):
            end[r] = n_nodes
    return owned, end, root


def plan_memory(graph: Graph, donated=()):
    """-> {value: donor value}; `donated` are graph inputs the caller gave up."""
    n_nodes = len(graph.nodes)
    owned, end, root = _lifetimes(graph, donated)
    dies_at: dict = {}
    for r in owned:
        e = end.get(r, -1)
        if e < n_nodes:
            dies_at.setdefault(e, []).append(r)
    plan: dict = {}
    taken_all: set = set()
    pool: dict = {}                      # kind -> free buffers
    for r in dies_at.get(-1, ()):        # never read (a donated input nobody uses)
        pool.setdefault(owned[r], []).append(r)
    ufunc_ops: dict = {}
    for i, n in enumerate(graph.nodes):
        fused = n.op.name == "fused"
        dying, unread = _split_dying(dies_at.get(i), n)
        if not fused:
            for r in dying:
                pool.setdefault(owned[r], []).append(r)
        if fused or _writes_out(n, ufunc_ops):
            taken = set()
            for k, v in enumerate(n.outputs):
                # these nodes return fresh arrays, so an output is owned if it is big enough
                kind = owned.get(v)
                if kind is None:
                    continue
                free = pool.get(kind)
                if free:
                    plan[v] = free.pop()      # v, owned too, returns the buffer when it dies
                elif fused:
                    donor = _fused_in_place(n, k, dying, taken, root)
                    if donor is not None:
                        plan[v] = donor
                        taken.add(donor)
                        taken_all.add(donor)
        for r in (dying + unread if fused else unread):
            if r not in taken_all:
                pool.setdefault(owned[r], []).append(r)
    graph.memory_plan = plan
    return plan


def _split_dying(here, n):
    """The buffers dying at node n -> (read by n for the last time, results of n nobody reads)."""
    dying, unread = [], []
    for r in here or ():
        (unread if r.node is n else dying).append(r)
    return dying, unread


def _fused_in_place(n, k, dying, taken, root):
    """A dying input of fused node `n` whose buffer output k may overwrite: read in row blocks,
    same shape and dtype, never read again in a block after output k is written there, and no
    other input a view of it (a transpose reads its rows in another order)."""
    body = n.params["body"]
    out = body.outputs[k]
    if out.node is None:
        return None
    written = body.nodes.index(out.node)
    first = next(m for m in body.nodes if m.op.name != "const")
    loop = first.inputs[0] if first.op.reduction else first.out
    if out.ndim != loop.ndim:            # not read in row blocks: read whole, so never overwritten
        return None
    for j, (outer, inner) in enumerate(zip(n.inputs, body.inputs)):
        if outer not in dying or outer in taken or outer.shape != out.shape or outer.dtype != out.dtype:
            continue
        if any(outer in root.get(u, ()) for u in n.inputs if u is not outer):
            continue
        last_read = max((i for i, m in enumerate(body.nodes) if inner in m.inputs), default=-1)
        if last_read <= written:
            return outer
    return None


def memory(graph: Graph):
    plan = plan_memory(graph, getattr(graph, "donated", ()))
    saved = sum(v.nbytes for v in plan)
    return graph, ({"buffers reused": len(plan), "bytes saved": saved} if plan else {})
