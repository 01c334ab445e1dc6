"""Codegen: a Graph becomes plain Python source, one readable line per node, compiled once.

The source is registered with `linecache` under a stable name so tracebacks show it, values are
released after their last use, and each line remembers its node so a run-time error can name
the op and the user's line that created it.
"""
from __future__ import annotations

import itertools
import keyword
import linecache
import re

import numpy as np

from .codegen_fused import FUSED_GLOBALS, emit_fused, source_label
from .errors import op_error_class
from .graph import Graph

FREE_AFTER_BYTES = 16384    # below this, dropping a value early saves nothing worth a `del` line
_counter = itertools.count()
_LITERAL_TYPES = (bool, int, float, str, type(None), slice, type(Ellipsis))


class Compiled:
    """A compiled graph: `fn(*arrays) -> tuple of arrays`, with its source and line map."""

    def __init__(self, graph, fn, source, filename, line_nodes):
        self.graph = graph
        self.fn = fn
        self.source = source
        self.filename = filename
        self.line_nodes = line_nodes    # generated line number -> Node

    def __call__(self, *arrays):
        return self.fn(*arrays)

    def explain_error(self, exc: BaseException, fname: str) -> Exception | None:
        """An error that names the op and the user's line, if `exc` came from generated code."""
        tb, line = exc.__traceback__, None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                line = tb.tb_lineno
            tb = tb.tb_next
        node = self.line_nodes.get(line)
        if node is None:
            return None
        from .errors import describe_arg
        ins = ", ".join(describe_arg(v) if not v.weak else repr(v.const) for v in node.inputs)
        msg = f"{node.op.name}({ins}) failed while running compiled function `{fname}`: {exc}"
        if node.loc is not None:
            msg += f"\n  traced from {node.loc}"
        msg += f"\n  generated code, {self.filename} line {line}: {linecache.getline(self.filename, line).strip()}"
        err = op_error_class(exc)(msg)          # also the builtin error class exc had
        err.op, err.loc = node.op.name, node.loc
        return err


def _literal(p) -> bool:
    if type(p) in _LITERAL_TYPES:   # exact types: repr(np.float64(1)) or a Slot(0) is no literal
        return not (isinstance(p, float) and not np.isfinite(p))
    if isinstance(p, tuple):
        return all(_literal(x) for x in p)
    return False


def _ident(name: str) -> str:
    s = re.sub(r"\W", "_", name or "x")
    if not s or s[0].isdigit():
        s = "_" + s
    return s


def _where(loc, labels: dict) -> str:
    """`file:line` of a source location, for a comment; `labels` memoizes source_label per file
    (one generate() call asks for every node, mostly from the same few files)."""
    filename = loc[0]
    label = labels.get(filename)
    if label is None:
        label = labels[filename] = source_label(filename)
    return f"{label}:{loc[1]}"


def _node_line(n, args, names, printed, plan, fresh, glb, labels):
    """One node as one line of source; -> (line, names of donor buffers it wrote into)."""
    op = n.op
    out = n.outputs[0] if n.outputs else None
    if out is not None and out in plan:
        # memory planning: write into a dead buffer, and keep its name (fewer locals also keeps
        # Python's compile() fast: it grows faster than linearly with the number of names).
        # Only ufuncs without params are planned so (memory.py), so there are no params here.
        glb[op.name] = op.impl
        buf = names[out] = names[plan[out]]
        line = f"    {op.name}({', '.join(args)}, out={buf})"
        where = f" {_where(n.loc, labels)}" if n.loc is not None else ""
        return f"{line:<56}  # {printed[out]}{where}", []
    params = {}
    for key, p in n.params.items():
        if _literal(p) or isinstance(p, np.dtype):
            params[key] = repr(p)
        else:
            pname = fresh(f"{op.name}_{key}")
            glb[pname] = p
            params[key] = pname
    reused = []
    if op.emit is None:
        glb[op.name] = op.impl
        expr = f"{op.name}({', '.join(args + [f'{a}={b}' for a, b in params.items()])})"
    elif callable(op.emit):
        glb[op.name] = op.impl
        expr = op.emit(args, n.params)
    else:
        expr = op.emit.format(*args, **params)
    outs = []
    for v in n.outputs:
        names[v] = fresh(printed[v])
        outs.append(names[v])
    lhs = ", ".join(outs) + ("," if op.multiple_results and len(outs) == 1 else "")  # unpack 1-tuples
    line = f"    {lhs} = {expr}" if outs else f"    {expr}"     # no outputs (rt.print): a statement
    if n.loc is not None:
        line = f"{line:<56}  # {_where(n.loc, labels)}"
    return line, reused


def _donated(a):
    """A donated input's array, made writable (tensors keep their arrays read-only); a copy when
    NumPy refuses (a view of someone else's read-only memory) or it is not an ndarray."""
    if isinstance(a, np.ndarray) and not a.flags.writeable:
        try:
            a.flags.writeable = True
        except ValueError:
            return a.copy()
    return a if isinstance(a, np.ndarray) else np.array(a)


def generate(graph: Graph, fname: str = "f"):
    """-> (source, globals, line_nodes)."""
    glb: dict = {"dtype": np.dtype, "inf": float("inf"), "nan": float("nan"), "empty": np.empty,
                 "donated": _donated}
    used = set(glb)
    for n in graph.nodes:
        if n.op.name != "const":
            used.add(n.op.name)
        if n.op.name == "fused":
            used.update(m.op.name for m in n.params["body"].nodes)
            used.update(FUSED_GLOBALS)
    names: dict = {}

    def fresh(base):
        base = _ident(base)
        if keyword.iskeyword(base) or base in used:
            base += "_"
        k, cand = 1, base
        while cand in used:
            cand = f"{base}{k}"
            k += 1
        used.add(cand)
        return cand

    fname = fresh(fname)
    printed = graph.names()      # the names `print(graph)` shows, so text and code read alike
    for v in graph.inputs:
        names[v] = fresh(v.name or "x")
    last_use: dict = {}
    for i, n in enumerate(graph.nodes):
        for v in n.inputs:
            last_use[v] = i
    outputs = set(graph.outputs)
    plan = getattr(graph, "memory_plan", None) or {}     # value -> donor whose array it reuses
    donors = set(plan.values())

    # the function's lines, and generated line number -> node, for error messages
    lines = [f"def {fname}({', '.join(names[v] for v in graph.inputs)}):"]
    for v in graph.inputs:
        if v in donors:          # the caller donated it: its buffer is reused (see passes/memory.py)
            glb["donated"] = _donated
            lines.append(f"    {names[v]} = donated({names[v]})")
    line_nodes, labels = {}, {}
    for i, n in enumerate(graph.nodes):
        op = n.op
        if op.name == "const":
            val, out = n.params["value"], n.outputs[0]
            if out.weak and _literal(val):
                names[out] = repr(val)
                continue
            names[out] = cname = fresh(printed[out])
            glb[cname] = val
            continue
        args = [names[v] for v in n.inputs]
        if op.name == "fused":
            outs = [fresh(printed[v]) for v in n.outputs]
            bufs = [names[plan[v]] if v in plan else None for v in n.outputs]
            for text, node in emit_fused(n, args, outs, bufs, fresh, glb, _literal):
                lines.append(text)
                if node is not None:
                    line_nodes[len(lines)] = node
            names.update(zip(n.outputs, outs))
            reused = [names[plan[v]] for v in n.outputs if v in plan]
        else:
            line, reused = _node_line(n, args, names, printed, plan, fresh, glb, labels)
            lines.append(line)
            line_nodes[len(lines)] = n
        dead = []
        for v in n.inputs:
            if (last_use[v] == i and v not in donors and v.node is not None and v not in outputs
                    and v.nbytes >= FREE_AFTER_BYTES and v.node.op.name != "const"):
                dead.append(names[v])
        if reused:               # the buffer lives on under its new name
            dead += [r for r in reused if r not in dead]
        if dead:
            lines.append(f"    del {', '.join(dict.fromkeys(dead))}")
    rets = [names[v] for v in graph.outputs]
    lines.append(f"    return ({', '.join(rets)}{',' if len(rets) == 1 else ''})")
    return "\n".join(lines) + "\n", glb, line_nodes, fname


def compile_graph(graph: Graph, fname: str | None = None) -> Compiled:
    fname = fname or graph.name
    source, glb, line_nodes, pyname = generate(graph, fname)
    filename = f"<rt-compiled {_ident(fname)}#{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    code = compile(source, filename, "exec")
    exec(code, glb)
    return Compiled(graph, glb[pyname], source, filename, line_nodes)
