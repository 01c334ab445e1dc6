"""Elementwise fusion: maximal groups of elementwise ops (and row reductions, as in softmax and
layernorm) become one `fused` node that codegen runs as a loop over row blocks of its inputs.

Every value in a group is *row-aligned*: it has the group's number of dimensions D and the same
length N along axis 0, so block `rows[i:j]` of every output depends only on block `rows[i:j]` of
the inputs. That holds for elementwise ops and for reductions whose axes leave axis 0 alone
(`sum(x, axis=-1, keepdims=True)`), which is why softmax and layernorm fuse whole. Inputs that
broadcast along axis 0 (fewer dimensions, or length 1 there) are read whole in every block.

A group is only formed when it pays: two or more ops, and at least MIN_BLOCKS blocks of work
(small arrays keep their plain one-line-per-op code). Groups never form a cycle: a node joins a
group only if none of its inputs depends on that group through a node outside it. Groups that
only share an input (`a * 2` and `a + 1`) merge too (sibling fusion: the input is read once).
Random and side-effect ops never join a group.

Rows much longer than a block (a (2, 10**7) array) would make blocks too big: elementwise ops
whose inputs all have the output's shape (or one element) then form *flat* groups, which run
over blocks of the flattened elements instead (`flat=True`). A node joins a row group when it
can (so reductions can follow), else a flat one.

The fused node: `outs = fused(*inputs, body=<Graph>, block_rows=B[, flat=True])`; `body` holds
the group's nodes (with their source locations) reading `inputs`, and returns the values used
outside. `block_rows` is rows per block (elements per block when flat). `blas_rows=True` (the
inexact rewrite of that name in simplify.INEXACT, on by default) lets codegen compute row sums
as BLAS dot products.
"""
from __future__ import annotations

import heapq
import math

import numpy as np

from ..core import OPS, Op
from ..graph import Graph, Value, evaluate
from . import simplify
from ._rewrite import has_subgraph, make_node

# Block sizes, measured with benchmarks/bench_optimizer.py on the project's machines: GELU was
# fastest at 64K elements (32K-128K within noise); softmax and layernorm rows of (1000, 10000)
# float32 at 1 MB blocks (interleaved runs, best of 15: layernorm 1.77x at 256 KB, 1.88x at
# 512 KB, 1.91x at 1 MB, 1.90x at 2 MB; softmax 1.67x-1.72x for all): the per-op Python
# overhead is paid once per block, and 2-3 block buffers still fit in L3.
CHUNK_ELEMENTS = 1 << 16          # elementwise groups: blocks of 64K elements
ROW_BLOCK_BYTES = 1024 * 1024     # groups with a reduction: row blocks of about 1 MB
MIN_BLOCKS = 2                    # below this, chunking saves nothing


def _fused_impl(*arrays, body, block_rows, flat=False, blas_rows=False):
    return tuple(evaluate(body, *arrays))


def _fused_abstract(*avals, body, block_rows, flat=False, blas_rows=False):
    return [(v.shape, v.dtype) for v in body.outputs]


fused_op = Op("fused", _fused_impl, _fused_abstract, multiple_results=True,
              doc="A group of elementwise ops and row reductions run as one loop over row blocks "
                  "(made by the fusion pass; never called by users).")
OPS.pop("fused")      # internal: not a user-facing op, so not in the registry the op tests iterate


def _row_aligned(v: Value, key) -> bool:
    if key[0] == "flat":
        return v.shape == key[1]
    return v.ndim == key[0] and v.ndim > 0 and v.shape[0] == key[1]


def _flat_key(n):
    """("flat", shape) when this elementwise node could run in blocks of its flattened elements
    and its rows are too long for row blocks (a (2, 10**7) array): all inputs have its shape or
    a single element. Else None."""
    if not (n.op.elementwise and n.op.pure and len(n.outputs) == 1) or has_subgraph(n):
        return None
    out = n.out
    if _long_rows(out) and all(v.shape == out.shape or v.size == 1 for v in n.inputs):
        return ("flat", out.shape)
    return None


def _long_rows(v: Value) -> bool:
    """Rows of MIN_BLOCKS blocks of elements or more (a flat group's loop pays)."""
    return len(v.shape) > 1 and math.prod(v.shape[1:]) >= MIN_BLOCKS * CHUNK_ELEMENTS


def _key(n):
    """(ndim, rows): the row-block loop this node can run in, or None if it cannot be fused."""
    op = n.op
    if op.random or op.side_effect or op.multiple_results or len(n.outputs) != 1 or has_subgraph(n):
        return None              # impure, several results, or control flow
    if op.elementwise:
        out = n.out
        return (out.ndim, out.shape[0]) if out.ndim > 0 and out.shape[0] > 1 else None
    if n.op.reduction and n.inputs:
        x, axis = n.inputs[0], n.params.get("axis")
        if axis is None or 0 in axis or x.ndim < 2 or x.shape[0] < 2 or x.weak:
            return None
        return (x.ndim, x.shape[0])
    return None


class _Groups:
    """Union-find over group ids, with each group's members and the groups it must not join."""

    def __init__(self):
        self.parent, self.members, self.blocked, self.key = [], [], [], []

    def new(self, key):
        self.parent.append(len(self.parent))
        self.members.append([])
        self.blocked.append(set())
        self.key.append(key)
        return len(self.parent) - 1

    def find(self, g):
        while self.parent[g] != g:
            self.parent[g] = self.parent[self.parent[g]]
            g = self.parent[g]
        return g

    def roots(self, ids):
        return {self.find(g) for g in ids}

    def merge(self, gs):
        gs = sorted(gs)
        r = gs[0]
        for g in gs[1:]:
            self.parent[g] = r
            self.members[r].extend(self.members[g])
            self.blocked[r] |= self.blocked[g]
            self.members[g], self.blocked[g] = [], set()
        return r


def _candidates(G, n, key, group_of, terminal, readers, reach):
    """Groups of loop `key` that node n can join (merging them): those producing its inputs (in
    blocks it can read) and those reading its inputs too (siblings), minus any that would make a
    cycle."""
    cands, bad = set(), set()
    for v in n.inputs:
        if v.node is None or v.node not in group_of:
            continue
        g = G.find(group_of[v.node])
        if G.key[g] == key and _row_aligned(v, key) and v not in terminal:
            cands.add(g)
        else:
            bad.add(g)
    for v in n.inputs:    # sibling fusion: groups that read the same input
        if v in readers and (v.node is None or v.node.op.name != "const"):
            cands |= {g for g in G.roots(readers[v]) if G.key[g] == key}
    cands -= bad
    cands -= reach
    # merging two groups is a cycle if one depends on the other through an outside node
    for g in list(cands):
        if G.roots(G.blocked[g]) & (cands - {g}):
            cands.discard(g)
    return cands


def _plan_groups(graph: Graph):
    G = _Groups()
    group_of: dict = {}       # node -> group id (raw; use find)
    blocked: dict = {}        # value -> group ids reached through a node outside that group
    terminal: set = set()     # values a group produces that it cannot use itself (keepdims=False)
    readers: dict = {}        # value from outside -> groups reading it (siblings share a loop)
    for n in graph.nodes:
        keys = [k for k in (_key(n), _flat_key(n)) if k is not None]
        reach = set()         # groups n's inputs depend on via outside paths
        direct = set()        # groups producing n's inputs
        for v in n.inputs:
            b = blocked.get(v)
            if b:
                reach |= b
            if v.node is not None and v.node in group_of:
                g = G.find(group_of[v.node])
                direct.add(g)
                reach |= G.blocked[g]     # what that group depends on from outside, n does too
        reach = G.roots(reach)
        key, cands = None, set()
        for k in keys:        # join a row group, else a flat one; else start flat if rows are long
            c = _candidates(G, n, k, group_of, terminal, readers, reach)
            if c or key is None or (k[0] == "flat" and not cands):
                key, cands = k, c
            if c:
                break
        if key is not None:
            g = G.merge(cands) if cands else G.new(key)
            group_of[n] = g
            G.members[g].append(n)
            G.blocked[g] |= reach | (direct - {g} - cands)
            if n.op.reduction and not n.params.get("keepdims"):
                terminal.add(n.out)
            for v in n.inputs:
                if v.node is None or (v.node not in group_of and v.node.op.name != "const"):
                    readers.setdefault(v, set()).add(g)
                elif v.node in group_of and G.find(group_of[v.node]) != g:
                    readers.setdefault(v, set()).add(g)
            out_block = reach | (direct - {g} - cands)
        else:
            out_block = reach | direct
        if out_block:
            for v in n.outputs:
                blocked[v] = out_block
    return G, group_of


def _worth_it(G, g) -> bool:
    members = G.members[g]
    if sum(1 for n in members if n.op.name != "const") < 2:
        return False
    key = G.key[g]
    if key[0] == "flat":
        return math.prod(key[1]) >= MIN_BLOCKS * CHUNK_ELEMENTS
    return key[1] >= MIN_BLOCKS * _block_rows(members, key)


def _block_rows(members, key) -> int:
    """Rows per block: ~64K elements for elementwise groups, ~1 MB of rows with a reduction
    (in a flat group, a "row" is one element)."""
    if key[0] == "flat":
        return CHUNK_ELEMENTS
    row = max(math.prod((n.inputs[0] if n.op.reduction else n.out).shape[1:]) for n in members)
    if any(n.op.reduction for n in members):
        row_bytes = max(1, row * max(np.dtype(n.out.dtype).itemsize for n in members))
        rows = max(1, ROW_BLOCK_BYTES // row_bytes)
        if key[1] < MIN_BLOCKS * rows and key[1] * row_bytes >= ROW_BLOCK_BYTES // 2:
            rows = -(-key[1] // MIN_BLOCKS)      # 0.5-2 MB of rows: still two blocks
        return rows
    return max(1, CHUNK_ELEMENTS // max(1, row))


def _build(members, graph_outputs, used_outside, index, block_rows, key):
    """The fused node for one group: body sub-graph and outer inputs/outputs."""
    inside = set(members)
    body = Graph(f"fused{index}")
    m: dict = {}
    outer_inputs = []
    for n in members:
        for v in n.inputs:
            if v in m or (v.node is not None and v.node in inside):
                continue
            if v.node is not None and v.node.op.name == "const" and not _row_aligned(v, key):
                # a constant read whole in every block lives in the body; a row-aligned one
                # (an array with the loop's rows) stays outside and is read in blocks
                c = make_node(v.node.op, [], dict(v.node.params), [(v.shape, v.dtype)],
                              v.node.loc, weak=v.weak)
                body.nodes.append(c)
                m[v] = c.out
            else:
                m[v] = body.add_input(v.shape, v.dtype, f"in{len(outer_inputs)}")
                outer_inputs.append(v)
    outs = []
    for n in members:
        nn = make_node(n.op, [m[v] for v in n.inputs], n.params,
                       [(v.shape, v.dtype) for v in n.outputs], n.loc)
        body.nodes.append(nn)
        for a, b in zip(n.outputs, nn.outputs):
            m[a] = b
            if a in used_outside or a in graph_outputs:
                outs.append(a)
    body.outputs = [m[v] for v in outs]
    params = {"body": body, "block_rows": block_rows}
    if key[0] == "flat":
        params["flat"] = True
    elif "blas_rows" in simplify.ENABLED_INEXACT and any(n.op.reduction for n in members):
        params["blas_rows"] = True       # row sums as BLAS dot products (codegen_fused.py)
    node = make_node(fused_op, outer_inputs, params,
                     [(v.shape, v.dtype) for v in outs], members[-1].loc)
    return node, dict(zip(outs, node.outputs))


def _toposort(nodes):
    """Stable topological order (by original position) of nodes whose inputs may come later."""
    pos = {n: i for i, n in enumerate(nodes)}
    producer = {v: n for n in nodes for v in n.outputs}
    waiting = {n: 0 for n in nodes}
    users: dict = {}
    for n in nodes:
        for v in set(n.inputs):
            p = producer.get(v)
            if p is not None:
                waiting[n] += 1
                users.setdefault(p, []).append(n)
    ready = [(pos[n], n) for n in nodes if waiting[n] == 0]
    heapq.heapify(ready)
    out = []
    while ready:
        _, n = heapq.heappop(ready)
        out.append(n)
        for u in users.get(n, ()):
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, (pos[u], u))
    if len(out) != len(nodes):
        raise AssertionError("fusion produced a cycle")   # the blocked sets should prevent this
    return out


def _any_group_can_pay(graph: Graph) -> bool:
    """A cheap look before planning: could any group have MIN_BLOCKS blocks? (Keeps the pass
    near-free on graphs of small arrays, the common case in traced training steps.)"""
    widest, reduces = {}, set()
    # (op, shape) of plain elementwise nodes (no params, one result) already counted: another
    # one adds nothing, as its loop key and row length depend on the op and shape alone
    counted = set()
    for n in graph.nodes:
        op = n.op
        if not (op.elementwise or op.reduction):
            continue                     # neither _flat_key nor _key takes it (consts, views ...)
        plain = not op.reduction and not n.params and len(n.outputs) == 1
        if plain:
            op_shape = (op, n.outputs[0].shape)
            if op_shape in counted:
                continue
        if op.elementwise and n.outputs and _long_rows(n.outputs[0]):
            if _flat_key(n) is not None:
                return True              # rows of MIN_BLOCKS blocks or more
        elif plain:
            counted.add(op_shape)          # (with long rows, the inputs decide: never skipped)
        key = _key(n)
        if key is None:
            continue
        v = n.inputs[0] if n.op.reduction else n.out
        row = math.prod(v.shape[1:])
        widest[key] = max(widest.get(key, 0), row)
        if n.op.reduction:
            reduces.add(key)
    for key, row in widest.items():
        rows = max(1, CHUNK_ELEMENTS // max(1, row))
        if key[1] >= MIN_BLOCKS * rows or (key in reduces and key[1] >= MIN_BLOCKS
                                           and key[1] * row >= ROW_BLOCK_BYTES // 16):
            return True
    return False


def fuse(graph: Graph):
    if not _any_group_can_pay(graph):
        return graph, {}
    G, group_of = _plan_groups(graph)
    groups = sorted({G.find(g) for g in group_of.values()})
    groups = [g for g in groups if _worth_it(G, g)]
    if not groups:
        return graph, {}
    chosen = set(groups)
    member_group = {n: G.find(group_of[n]) for n in group_of if G.find(group_of[n]) in chosen}
    used_outside = set()
    for n in graph.nodes:
        g = member_group.get(n)
        for v in n.inputs:
            if v.node is not None and member_group.get(v.node) is not None and member_group[v.node] != g:
                used_outside.add(v)
    graph_outputs = set(graph.outputs)
    subst, fused_nodes, last = {}, {}, {}
    for n in graph.nodes:
        if n in member_group:
            last[member_group[n]] = n
    pos = {n: i for i, n in enumerate(graph.nodes)}
    for k, g in enumerate(groups):
        members = sorted(G.members[g], key=pos.__getitem__)
        node, outmap = _build(members, graph_outputs, used_outside, k,
                              _block_rows(members, G.key[g]), G.key[g])
        fused_nodes[g] = node
        subst.update(outmap)
    nodes, used = [], set(graph.outputs)
    for n in graph.nodes:
        g = member_group.get(n)
        if g is None:
            nodes.append(n)
        elif last[g] is n:
            nodes.append(fused_nodes[g])
        else:
            continue
        n = nodes[-1]
        n.inputs = [subst.get(v, v) for v in n.inputs]
        used.update(n.inputs)
    # constants now copied into bodies and read by nobody else go away with their group
    nodes = [n for n in nodes if n.op.name != "const" or n.out in used]
    graph.nodes = _toposort(nodes)
    graph.outputs = [subst.get(v, v) for v in graph.outputs]
    n_ops = sum(len(G.members[g]) for g in groups)
    return graph, {"groups": len(groups), "ops fused": n_ops}

