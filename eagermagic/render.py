"""Drawing graphs with Graphviz: DOT built with the `graphviz` package (which quotes and escapes
every label), shown inline as SVG.

Nodes show op, output shape and dtype; inputs, outputs and constants are drawn distinctly; fused
groups (the `fused` nodes of the fusion pass) are clusters holding the ops they run; hovering a
node shows the source line it came from. Graphs with more ops than `max_nodes` are collapsed into
one box per source line (or fused group), with a note. Without the `dot` program the view says so
once, with how to install it, and shows the DOT text instead.

>>> import runtime as rt
>>> f = rt.function(lambda x: rt.tanh(x) * 2)
>>> view = GraphView(f.graph_for(rt.ones((2, 3))), "tanh")
>>> "tanh" in view.dot.source
True
"""
from __future__ import annotations

import linecache
import os
from collections import Counter

import graphviz
import numpy as np
from runtime.errors import file_label

DEFAULT_MAX_NODES = 150
INSTALL_HINT = ("Graphviz's `dot` program was not found, so graphs are shown as DOT text. "
                "Install it to see pictures: `apt-get install graphviz` (Debian/Ubuntu), "
                "`brew install graphviz` (macOS), `conda install -c conda-forge graphviz`, "
                "or https://graphviz.org/download/ ; then re-run the cell.")

_missing_dot_reported = False

_INPUT = dict(shape="ellipse", style="filled", fillcolor="#d8f0d2", color="#3d8b37")
_OUTPUT = dict(shape="ellipse", style="filled", fillcolor="#d4e4f7", color="#2b5fa8", peripheries="2")
_CONST = dict(shape="box", style="filled,dashed", fillcolor="#eeeeee", color="#888888", fontsize="10")
_SCALAR = dict(shape="plaintext", fontsize="10", fontcolor="#555555")
_OP = dict(shape="box", style="rounded,filled", fillcolor="#ffffff", color="#333333")
_SIDE_EFFECT = "#ffd9b3"
_RANDOM = "#e8d9f5"


def loc_text(loc) -> str:
    """'In[5] line 3: h = rt.tanh(x @ w)' for a node's source location (or '' if unknown)."""
    if loc is None:
        return ""
    filename, lineno = loc[0], loc[1]
    where = file_label(filename) or os.path.basename(filename)   # In[5] for a cell
    text = linecache.getline(filename, lineno).strip()
    return f"{where} line {lineno}: {text}" if text else f"{where} line {lineno}"


def _short_params(node) -> str:
    from runtime import Graph
    parts = []
    for k, p in node.params.items():
        if k in ("value",) or isinstance(p, Graph):
            continue
        if isinstance(p, np.ndarray) or p is None or p is False:
            continue                     # defaults (axis=None, keepdims=False) say nothing
        text = k if p is True else f"{k}={p}"
        if len(text) <= 24:
            parts.append(text)
    return (" " + " ".join(parts)) if parts else ""


def _const_label(value, type_str) -> str:
    a = np.asarray(value)
    if a.size <= 4:
        body = np.array2string(a, separator=" ", precision=4) if a.ndim else f"{a.item()!r}"
        return f"{body}\n{type_str}"
    return f"const\n{type_str}"


def _heat(frac: float) -> str:
    """White (no time) to red (the most time), as Graphviz's 'H S V' colour."""
    return f"0.000 {max(0.0, min(1.0, frac)) * 0.85:.3f} 1.000"


def _ms(seconds: float) -> str:
    us = seconds * 1e6
    return f"{us:.1f} µs" if us < 1000 else f"{us / 1000:.2f} ms"


class _Builder:
    """One walk over a graph, adding DOT nodes and edges; sub-graphs become clusters."""

    def __init__(self, dot, profile=None):
        self.dot = dot
        self.profile = profile or {}
        self.total = sum(self.profile.values()) or 1.0
        self.top = max(self.profile.values(), default=0.0) or 1.0
        self.count = 0

    def fresh(self, kind):
        self.count += 1
        return f"{kind}{self.count}"

    def op_attrs(self, node):
        attrs = dict(_OP)
        if node.op.side_effect:
            attrs["fillcolor"] = _SIDE_EFFECT
        elif node.op.random:
            attrs["fillcolor"] = _RANDOM
        t = self.profile.get(node)
        if t is not None:
            attrs["fillcolor"] = _heat(t / self.top)
        return attrs

    def timing_line(self, node) -> str:
        t = self.profile.get(node)
        return f"\n{_ms(t)} ({100 * t / self.total:.0f}%)" if t is not None else ""

    def draw(self, g, graph, src: dict, names=None):
        """Draw `graph`'s nodes into `g`; `src` maps Values to the DOT node that produces them
        (filled in as we go). Returns `src`."""
        from runtime import Graph
        for node in graph.nodes:
            if node.op.name == "const":
                self.draw_const(g, node, src)
            elif node.op.name == "fused" and isinstance(node.params.get("body"), Graph):
                self.draw_fused(g, node, src)
            else:
                self.draw_op(g, node, src)
        return src

    def draw_const(self, g, node, src):
        v = node.out
        if v.weak:              # drawn next to each use: one shared `0.0` would tangle the graph
            src[v] = _Scalar(repr(node.params["value"]))
            return
        nid = self.fresh("c")
        g.node(nid, _const_label(node.params["value"], v.type_str), tooltip=loc_text(node.loc)
               or "a constant captured while tracing", **_CONST)
        src[v] = nid

    def draw_op(self, g, node, src):
        from runtime import Graph
        nid = self.fresh("n")
        types = ", ".join(v.type_str for v in node.outputs) or "(no result)"
        label = f"{node.op.name}{_short_params(node)}\n{types}{self.timing_line(node)}"
        g.node(nid, label, tooltip=loc_text(node.loc) or node.op.name, **self.op_attrs(node))
        for v in node.inputs:
            self.edge(g, src, v, nid)
        for v in node.outputs:
            src[v] = nid
        for key, sub in node.params.items():
            if isinstance(sub, Graph):
                self.draw_subgraph(g, node, key, sub, nid)

    def draw_subgraph(self, g, node, key, sub, owner):
        """A control-flow body: its own cluster with its own inputs, linked to the op by dashes."""
        with g.subgraph(name=f"cluster_{self.fresh('s')}") as c:
            c.attr(label=f"{node.op.name}: {key}", style="dashed", color="#999999", fontsize="10")
            inner = {}
            for v in sub.inputs:
                iid = self.fresh("i")
                c.node(iid, f"{v.name}\n{v.type_str}", fontsize="10", **{**_INPUT, "style": "filled,dashed"})
                inner[v] = iid
            self.draw(c, sub, inner)
            for v in sub.outputs:
                self.edge(c, inner, v, owner, style="dashed", arrowhead="empty", tooltip=key)

    def draw_fused(self, g, node, src):
        body = node.params["body"]
        n_ops = sum(1 for n in body.nodes if n.op.name != "const")
        t = self.profile.get(node)
        label = f"fused: {n_ops} ops, block_rows={node.params.get('block_rows')}"
        if t is not None:
            label += f", {_ms(t)} ({100 * t / self.total:.0f}%)"
        with g.subgraph(name=f"cluster_{self.fresh('f')}") as c:
            c.attr(label=label, style="rounded,filled", color="#c9a227", fontsize="10",
                   fillcolor=_heat(t / self.top) if t is not None else "#fff7d6",
                   tooltip=f"{n_ops} elementwise ops run as one loop over blocks of rows")
            inner = dict(zip(body.inputs, [src.get(v) for v in node.inputs]))
            sub = _Builder(c, None)
            sub.count, sub.dot = self.count, self.dot
            sub.draw(c, body, inner)
            self.count = sub.count
        for outer, v in zip(node.outputs, body.outputs):
            src[outer] = inner.get(v)

    def edge(self, g, src, v, dst, **attrs):
        s = src.get(v)
        if isinstance(s, _Scalar):
            s = s.node(self, g)
        if s is not None:
            self.dot.edge(s, dst, **attrs)


class _Scalar:
    """A Python number in the graph: a small label drawn once per use."""
    __slots__ = ("label",)

    def __init__(self, label):
        self.label = label

    def node(self, builder, g) -> str:
        nid = builder.fresh("c")
        g.node(nid, self.label, **_SCALAR)
        return nid


def _ops_in(graph) -> int:
    from runtime import Graph
    n = 0
    for node in graph.nodes:
        if node.op.name == "const":
            continue
        n += 1
        for p in node.params.values():
            if isinstance(p, Graph):
                n += _ops_in(p)
    return n


def to_dot(graph, title: str = "", output_names=None, profile=None,
           max_nodes: int = DEFAULT_MAX_NODES, input_names=None) -> tuple:
    """-> (graphviz.Digraph, note). `output_names` / `input_names` map output / input index ->
    name; `profile` maps nodes -> seconds (nodes are coloured by it); the note says when the
    graph was collapsed."""
    dot = graphviz.Digraph(name=graph.name, graph_attr=dict(
        rankdir="TB", fontname="Helvetica", fontsize="11", labelloc="t", nodesep="0.25",
        ranksep="0.3"), node_attr=dict(fontname="Helvetica", fontsize="11", height="0.3"),
        edge_attr=dict(arrowsize="0.6", color="#555555"))
    src = {}
    for i, v in enumerate(graph.inputs):
        nid = f"in{i}"
        name = (input_names or {}).get(i, v.name)
        dot.node(nid, f"{name}\n{v.type_str}", tooltip=f"input {name}", **_INPUT)
        src[v] = nid
    n_ops = _ops_in(graph)
    note = ""
    if n_ops > max_nodes:
        groups = _draw_collapsed(dot, graph, src)
        note = (f"{n_ops:,} ops are more than {max_nodes} (--max-nodes), so they are collapsed "
                f"into {groups} boxes, one per source line or fused group.")
    builder = _Builder(dot, profile)
    if not note:
        builder.draw(dot, graph, src)
    names = output_names or {}
    for k, v in enumerate(graph.outputs):
        nid = f"out{k}"
        name = names.get(k, f"output {k}")
        dot.node(nid, f"{name}\n{v.type_str}", tooltip=f"output {name}", **_OUTPUT)
        builder.edge(dot, src, v, nid)
    label = title + (f"\n{note}" if note else "")
    if label:
        dot.attr(label=label)
    return dot, note


def _group_key(node):
    if node.op.name == "fused":
        return ("fused", id(node))
    if node.loc is not None:
        return ("line", node.loc[0], node.loc[1])
    return ("op", node.op.name)


def _draw_collapsed(dot, graph, src) -> int:
    """One box per source line (or fused group); edges between boxes counted. Returns #boxes."""
    groups: dict = {}
    for node in graph.nodes:
        if node.op.name == "const" and node.out.weak:
            continue
        groups.setdefault(_group_key(node), []).append(node)
    if len(groups) > DEFAULT_MAX_NODES:      # too many distinct lines: group by op instead
        groups = {}
        for node in graph.nodes:
            if not (node.op.name == "const" and node.out.weak):
                groups.setdefault(("op", node.op.name), []).append(node)
    gid = {}
    for i, (key, nodes) in enumerate(groups.items()):
        nid = f"g{i}"
        ops = Counter(n.op.name for n in nodes)
        top = ", ".join(f"{op} ×{c}" for op, c in ops.most_common(3))
        if len(ops) > 3:
            top += ", …"
        if key[0] == "line":
            head = loc_text(nodes[0].loc)
            head = head if len(head) <= 60 else head[:57] + "..."
        elif key[0] == "fused":
            head = "fused group"
        else:
            head = key[1]
        dot.node(nid, f"{head}\n{len(nodes):,} nodes: {top}", tooltip=loc_text(nodes[0].loc) or head,
                 **{**_OP, "fillcolor": "#f3f3f3"})
        for n in nodes:
            gid[n] = nid
            for v in n.outputs:
                src[v] = nid
    edges: Counter = Counter()
    for node in graph.nodes:
        dst = gid.get(node)
        if dst is None:
            continue
        for v in node.inputs:
            s = src.get(v)
            if s is not None and s != dst:
                edges[(s, dst)] += 1
    for (s, d), count in edges.items():
        dot.edge(s, d, label=f"×{count}" if count > 1 else None)
    return len(groups)


def missing_dot_note_pending() -> bool:
    return not _missing_dot_reported


def reset_missing_dot_note() -> None:
    """Say again that `dot` is missing (the note is shown once per session)."""
    global _missing_dot_reported
    _missing_dot_reported = False


class GraphView:
    """A graph drawn for the notebook: inline SVG, or DOT text when `dot` is missing.

    `save(path)` writes .svg, .png, .pdf (needs `dot`) or .dot/.gv (DOT text).
    """

    def __init__(self, graph, title: str = "", output_names=None, profile=None,
                 max_nodes: int = DEFAULT_MAX_NODES, input_names=None):
        self.graph = graph
        self.title = title
        self.dot, self.note = to_dot(graph, title, output_names, profile, max_nodes, input_names)
        self._svg = None
        self.error = None          # why there is no picture, if there is none

    @property
    def source(self) -> str:
        """The DOT text."""
        return self.dot.source

    def svg(self) -> str | None:
        """The SVG text, or None when `dot` could not run (see `.error`)."""
        if self._svg is None and self.error is None:
            try:
                self._svg = self.dot.pipe(format="svg", encoding="utf-8")
            except graphviz.ExecutableNotFound:
                self.error = INSTALL_HINT
            except graphviz.CalledProcessError as e:
                self.error = f"Graphviz's `dot` failed on this graph: {e}"
        return self._svg

    def _repr_mimebundle_(self, include=None, exclude=None):
        global _missing_dot_reported
        svg = self.svg()
        if svg is not None:
            return {"image/svg+xml": svg, "text/plain": self._text()}
        head = ""
        if self.error != INSTALL_HINT or not _missing_dot_reported:
            head = self.error + "\n\n"
            _missing_dot_reported = _missing_dot_reported or self.error == INSTALL_HINT
        return {"text/plain": f"{head}{self.title}\n{self.source}"}

    def _text(self) -> str:
        lines = self.graph.format().splitlines()
        if len(lines) > 40:
            lines = lines[:40] + [f"  ... ({len(lines) - 40} more lines)"]
        return "\n".join([self.title] + ([self.note] if self.note else []) + lines)

    def __repr__(self):
        return f"<GraphView {self.title!r}: {len(self.graph.nodes)} nodes>"

    def save(self, path) -> str:
        """Write the drawing; the format comes from the extension (.svg .png .pdf .dot .gv)."""
        path = os.fspath(path)
        ext = os.path.splitext(path)[1].lower().lstrip(".")
        if ext in ("dot", "gv"):
            with open(path, "w", encoding="utf-8") as f:
                f.write(self.source)
            return path
        if ext not in ("svg", "png", "pdf", "jpg", "jpeg"):
            raise ValueError(f"cannot save a graph as {path!r}: use .svg, .png, .pdf, .dot or .gv")
        try:
            data = self.dot.pipe(format=ext)
        except graphviz.ExecutableNotFound:
            raise RuntimeError(f"cannot write {path}: {INSTALL_HINT} "
                               "(Saving as .dot works without it.)") from None
        with open(path, "wb") as f:
            f.write(data)
        return path
