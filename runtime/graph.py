"""The graph IR: flat SSA. A Graph has typed input Values, an ordered list of Nodes (op, input
Values, params, output Values, the user's source location) and output Values. Constants are
nodes. It prints as readable typed text, checks itself with `verify()`, and `evaluate` runs it
node by node (the reference interpreter, also used for per-node profiling)."""
from __future__ import annotations

import time
from math import prod as _prod

import numpy as np

from .dtypes import short_type


class Value:
    """One SSA value: produced by `node` (output number `index`), or a graph input (node None)."""
    __slots__ = ("shape", "dtype", "node", "index", "name", "weak", "__weakref__")

    def __init__(self, shape, dtype, node=None, index=0, name=None, weak=False):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.node = node
        self.index = index
        self.name = name
        self.weak = weak          # a Python scalar constant: promotes weakly, as in NumPy 2

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return _prod(self.shape)

    @property
    def nbytes(self):
        return _prod(self.shape) * self.dtype.itemsize

    @property
    def type_str(self):
        return short_type(self.dtype, self.shape)

    @property
    def const(self):
        """The constant's value when this Value comes from a const node, else None."""
        n = self.node
        return n.params["value"] if n is not None and n.op.name == "const" else None

    def __repr__(self):
        return f"<Value {self.name or ''}: {self.type_str}>"


class Node:
    __slots__ = ("op", "inputs", "params", "outputs", "loc")

    def __init__(self, op, inputs, params, outputs, loc=None):
        self.op = op
        self.inputs = list(inputs)
        self.params = params
        self.outputs = outputs
        self.loc = loc

    @property
    def out(self) -> Value:
        return self.outputs[0]

    def __repr__(self):
        return f"<Node {self.op.name} -> {', '.join(v.type_str for v in self.outputs)}>"


class Graph:
    def __init__(self, name: str = "f"):
        self.name = name
        self.inputs: list[Value] = []
        self.nodes: list[Node] = []
        self.outputs: list[Value] = []

    # -- building --------------------------------------------------------------------------
    def add_input(self, shape, dtype, name) -> Value:
        v = Value(shape, dtype, name=name)
        self.inputs.append(v)
        return v

    def add_node(self, op, inputs, params, out_types, loc=None, weak=False) -> Node:
        """Append a node of `op`; `out_types` lists (shape, dtype) per result."""
        node = Node(op, inputs, params, [], loc)
        if type(out_types) not in (list, tuple):
            out_types = list(out_types)
        if len(out_types) == 1:           # most ops (tracing adds every node here): no loop
            (shape, dtype), = out_types
            node.outputs.append(Value(shape, dtype, node, 0, None, weak))
        else:
            node.outputs = [Value(s, d, node, i, weak=weak) for i, (s, d) in enumerate(out_types)]
        self.nodes.append(node)
        return node

    # -- reading ---------------------------------------------------------------------------
    def names(self) -> dict:
        """Readable, unique names for every value: input names, then v0, v1, ... in order."""
        names, used = {}, set()
        for v in self.inputs:
            names[v] = v.name
            used.add(v.name)
        k = 0
        for n in self.nodes:
            if n.op.name == "const" and n.out.weak:
                names[n.out] = repr(n.params["value"])
                continue
            prefix = "c" if n.op.name == "const" else "v"
            for v in n.outputs:
                name = f"{prefix}{k}"
                while name in used:
                    k += 1
                    name = f"{prefix}{k}"
                names[v] = name
                used.add(name)
                k += 1
        return names

    def uses(self) -> dict:
        """Value -> number of nodes (and graph outputs) reading it."""
        count: dict = {}
        for n in self.nodes:
            for v in n.inputs:
                count[v] = count.get(v, 0) + 1
        for v in self.outputs:
            count[v] = count.get(v, 0) + 1
        return count

    def op_counts(self) -> dict:
        c: dict = {}
        for n in self.nodes:
            c[n.op.name] = c.get(n.op.name, 0) + 1
        return c

    def __len__(self):
        return len(self.nodes)

    def __str__(self):
        return self.format()

    def __repr__(self):
        return f"<Graph {self.name}: {len(self.inputs)} inputs, {len(self.nodes)} nodes>"

    def format(self, locations: bool = False, indent: str = "") -> str:
        names = self.names()

        def ref(v):
            if v.weak:
                return repr(v.const)
            return names.get(v, "?")

        sig = ", ".join(f"{names[v]}: {v.type_str}" for v in self.inputs)
        lines = [f"{indent}graph {self.name}({sig}):"]
        for n in self.nodes:
            if n.op.name == "const" and n.out.weak:
                continue      # Python scalars are shown inline where they are used
            lhs = ", ".join(f"{names[v]}: {v.type_str}" for v in n.outputs)
            args = [ref(v) for v in n.inputs]
            sub = []
            for k, p in n.params.items():
                if isinstance(p, Graph):
                    sub.append(p.format(locations, indent + "    ").replace("graph ", f"{k} = graph ", 1))
                    args.append(f"{k}=<graph>")
                elif k == "value":
                    args.append(_short_const(p))
                else:
                    args.append(f"{k}={_param_repr(p)}")
            line = f"{indent}  {lhs + ' = ' if lhs else ''}{n.op.name}({', '.join(args)})"
            if locations and n.loc is not None:
                line = f"{line:<60}  # {n.loc[0].rsplit('/', 1)[-1]}:{n.loc[1]}"
            lines.append(line)
            lines.extend(sub)
        lines.append(f"{indent}  return {', '.join(ref(v) for v in self.outputs)}")
        return "\n".join(lines)

    # -- checking --------------------------------------------------------------------------
    def verify(self, check_types: bool = True) -> None:
        """Raise GraphError unless the graph is well-formed SSA with consistent types."""
        defined = set()
        for v in self.inputs:
            if v.node is not None or v in defined:
                raise GraphError(f"input {v!r} is defined twice or by a node")
            defined.add(v)
        for i, n in enumerate(self.nodes):
            for v in n.inputs:
                if v not in defined:
                    raise GraphError(f"node {i} ({n.op.name}) uses a value not defined before it: {v!r}")
            for j, v in enumerate(n.outputs):
                if v.node is not n or v.index != j:
                    raise GraphError(f"node {i} ({n.op.name}) output {j} does not point back to it")
                if v in defined:
                    raise GraphError(f"node {i} ({n.op.name}) redefines {v!r}")
                defined.add(v)
            if check_types:
                self._check_types(i, n)
            for p in n.params.values():      # sub-graphs (cond branches, loop bodies ...) too
                if isinstance(p, Graph):
                    p.verify(check_types)
        for v in self.outputs:
            if v not in defined:
                raise GraphError(f"graph output {v!r} is not defined")

    def _check_types(self, i, n):
        avals = [v.const if v.weak else v for v in n.inputs]
        try:
            res = n.op.abstract_eval(*avals, **n.params)
        except Exception as e:  # a rewrite produced inputs the op rejects
            raise GraphError(f"node {i} ({n.op.name}) rejects its inputs: {e}") from e
        res = res if n.op.multiple_results else [res]
        for v, (shape, dtype) in zip(n.outputs, res):
            if tuple(shape) != v.shape or np.dtype(dtype) != v.dtype:
                raise GraphError(f"node {i} ({n.op.name}) says {v.type_str} but its op computes "
                                 f"{short_type(dtype, shape)}")


class GraphError(Exception):
    """The graph is malformed (a bug in a pass or in tracing)."""


def _param_repr(p):
    if isinstance(p, np.dtype):
        return str(p)
    return repr(p)


def _short_const(value):
    a = np.asarray(value)
    if a.size <= 6:
        return np.array2string(a, separator=" ") if a.ndim else repr(a.item())
    return f"<{a.size} values, {a.min()}..{a.max()}>" if a.dtype.kind in "biuf" else f"<{a.size} values>"


def evaluate(graph: Graph, *args, on_node=None):
    """Run `graph` node by node on NumPy arrays (the reference interpreter).

    `on_node(node, seconds)` is called after each node, which is how per-node profiles are made.
    """
    env = dict(zip(graph.inputs, args))
    for n in graph.nodes:
        t0 = time.perf_counter() if on_node else 0.0
        vals = [env[v] for v in n.inputs]
        r = n.op.impl(*vals, **n.params)
        if n.op.multiple_results:
            for v, x in zip(n.outputs, r):
                env[v] = x
        else:
            env[n.outputs[0]] = r
        if on_node:
            on_node(n, time.perf_counter() - t0)
    return [env[v] for v in graph.outputs]
