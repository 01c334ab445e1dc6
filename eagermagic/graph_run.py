"""Running a cell as a graph: the `%%graph` pipeline without the IPython display.

cell source -> analysis -> a Python function of the cell's inputs -> `rt.function` (trace,
optimize, codegen, cached by signature) -> run -> optional eager check / timing / profile ->
bind outputs. Outputs reach the namespace only after every step succeeded, so a failure at any
point leaves it exactly as it was.
"""
from __future__ import annotations

import contextlib
import io
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

import runtime as rt

from . import cell as cellmod
from .render import DEFAULT_MAX_NODES, GraphView
from .report import CheckReport, ProfileReport, compare_outputs
from .timing import Timings, measure

CACHE_SIZE = 64
TRACE_OUTPUT_HEADER = ("── trace-time output (Python print runs once, while tracing; use rt.print to "
                       "print on every run) ──")


@dataclass
class _CellFunction:
    function: rt.Function
    python_function: object
    analysis: cellmod.CellAnalysis
    bindings: cellmod.Bindings
    filename: str
    printed_at_trace: set = field(default_factory=set)    # trace numbers whose Python print wrote



@dataclass
class GraphResult:
    """What `%%graph -o` returns: the graphs, the compiled function, timings and pass reports.

    >>> r = _                                   # doctest: +SKIP  (after `%%graph -o`)
    >>> print(r.graph); print(r.source); r.save("cell.svg")   # doctest: +SKIP
    """
    outputs: dict                 # name -> value bound in the namespace
    value: object                 # the cell's last expression (None if it has none)
    function: rt.Function         # the compiled cell; .explain() lists its traces
    entry: object                 # rt.function's cache entry for these inputs
    inputs: list                  # names passed as tensors (traced)
    statics: list                 # names passed as static values (part of the cache key)
    cache_hit: bool
    reason: str                   # why it was traced ("first call", "retrace because ...") or ""
    trace_output: str = ""        # what Python `print` wrote while tracing
    printed_when_traced: bool = False   # a cache hit whose trace printed (not repeated now)
    run_output: str = ""          # what ran at run time (rt.print)
    output_names: dict = field(default_factory=dict)    # graph output index -> name
    input_names: dict = field(default_factory=dict)     # graph input index -> name
    timings: Timings | None = None
    check: CheckReport | None = None
    profile: ProfileReport | None = None
    max_nodes: int = DEFAULT_MAX_NODES
    _views: dict = field(default_factory=dict, repr=False)

    @property
    def traced_graph(self):
        return self.entry.traced_graph

    @property
    def graph(self):
        """The optimized graph."""
        return self.entry.graph

    @property
    def source(self) -> str:
        """The generated Python code."""
        return self.entry.source

    @property
    def compiled(self):
        """The compiled graph: `compiled.fn(*arrays)` runs it."""
        return self.entry.compiled

    @property
    def reports(self) -> list:
        """One `PassReport` per optimization pass."""
        return self.entry.reports

    @property
    def record(self):
        """The trace record: signature, reason, trace/optimize/codegen milliseconds."""
        return self.entry.record

    def view(self, which: str = "optimized") -> GraphView:
        """The drawing of the 'traced' or 'optimized' graph."""
        if which not in ("traced", "optimized"):
            raise ValueError(f"which must be 'traced' or 'optimized', not {which!r}")
        if which not in self._views:
            g = self.traced_graph if which == "traced" else self.graph
            prof = self.profile.seconds if (self.profile and which == "optimized") else None
            title = f"{which} graph: {_count_ops(g)} ops"
            if which == "optimized" and self.unchanged_by_passes:
                title += " (the same as traced: no pass changed it)"
            if prof:
                title += " (coloured by time per node)"
            self._views[which] = GraphView(g, title, self.output_names, prof, self.max_nodes,
                                           self.input_names)
        return self._views[which]

    @property
    def unchanged_by_passes(self) -> bool:
        """No optimization pass changed the traced graph."""
        return self.traced_graph is self.graph or self.traced_graph.format() == self.graph.format()

    def save(self, path, which: str = "optimized") -> str:
        """Save a graph drawing: .svg, .png, .pdf (need Graphviz's `dot`) or .dot/.gv (DOT text)."""
        return self.view(which).save(path)

    def __repr__(self):
        outs = ", ".join(self.outputs) or "nothing"
        return (f"<GraphResult: bound {outs}; {_count_ops(self.traced_graph)} ops traced, "
                f"{_count_ops(self.graph)} after optimizing; "
                f"{'cache hit' if self.cache_hit else self.reason}>")

    def _repr_pretty_(self, p, cycle):
        p.text(repr(self))


def _count_ops(graph) -> int:
    return sum(1 for n in graph.nodes if n.op.name != "const")


def _copy_arrays(tree):
    """NumPy arrays copied (eager code may change them in place); everything else shared."""
    if isinstance(tree, np.ndarray):
        return tree.copy()
    if isinstance(tree, (list, tuple)) and not hasattr(tree, "_fields"):
        return type(tree)(_copy_arrays(t) for t in tree)
    if isinstance(tree, dict):
        return {k: _copy_arrays(v) for k, v in tree.items()}
    return tree


class CellCache:
    """Compiled cells by (source, passes, identities of plain globals); rt.function inside each
    caches by input signature. Bounded: the least recently used cells are dropped."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self._entries: OrderedDict = OrderedDict()
        self._last_static: dict = {}      # (source, passes) -> last identity key seen

    def __len__(self):
        return len(self._entries)

    def clear(self):
        self._entries.clear()
        self._last_static.clear()

    def get(self, key):
        hit = self._entries.get(key)
        if hit is not None:
            self._entries.move_to_end(key)
        return hit

    def put(self, key, value):
        """Keep a cell function (after it traced successfully) and remember its identities."""
        self._last_static[key[:2]] = key[2]
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def identity_reason(self, key) -> str:
        """Why a cell seen before needs a new function: which plain global is another object."""
        source, passes, ids = key
        old = self._last_static.get((source, passes))
        if old is None or old == ids:
            return ""
        before = dict(old)
        changed = [label for label, i in ids if before.get(label, i) != i]
        names = ", ".join(changed) or "a global the cell reads"
        verb = "is a different object" if len(changed) <= 1 else "are different objects"
        return f"retrace because {names} {verb} than last time (compared by identity)"


@dataclass
class Options:
    passes: object = None           # None: default pipeline; () none; or a list of names
    check: bool = False
    compare: bool = False
    number: int = 0
    repeat: int = 7
    profile: bool = False
    max_nodes: int = DEFAULT_MAX_NODES


def run_graph_cell(cell: str, ns: dict, cache: CellCache, filename: str, opts: Options,
                   line_offset: int = 1) -> GraphResult | None:
    """Trace, compile and run `cell` against namespace `ns`; bind its outputs into `ns` only at
    the end. Returns None (after printing why) when there is nothing to run."""
    analysis = cellmod.analyze(cell, filename, line_offset)
    if analysis.empty:
        print("%%graph: the cell is empty (only comments or blank lines): nothing to trace.")
        return None
    bindings = cellmod.classify(analysis, ns)
    passes_key = None if opts.passes is None else tuple(opts.passes)
    key = (cell, passes_key, cellmod.static_key(bindings, ns))
    entry_cf = cache.get(key)
    identity_reason = cache.identity_reason(key)
    if entry_cf is None:
        pyfn = cellmod.build_function(analysis, bindings, filename)
        fn = rt.function(pyfn, static_argnames=tuple(bindings.statics), passes=opts.passes, name="cell")
        entry_cf = _CellFunction(fn, pyfn, analysis, bindings, filename)
    fn = entry_cf.function
    args = [ns[n] for n in bindings.params]

    traces_before = len(fn.ledger)
    trace_buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(trace_buf), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", rt.RetracingWarning)
            entry = fn.lower(*args)
    except BaseException:
        if trace_buf.getvalue():           # what the cell printed before failing helps debug it
            print(TRACE_OUTPUT_HEADER)
            print(trace_buf.getvalue(), end="")
        raise
    for w in caught:
        if issubclass(w.category, rt.RetracingWarning):
            warnings.warn(_retracing_message(fn), rt.RetracingWarning, stacklevel=2)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    traced = len(fn.ledger) > traces_before
    cache.put(key, entry_cf)           # only after a successful trace
    if traced and trace_buf.getvalue():
        entry_cf.printed_at_trace.add(entry.record.number)

    run_buf = io.StringIO()
    with contextlib.redirect_stdout(run_buf):
        t0 = time.perf_counter()
        out = fn(*args)
        first_ms = (time.perf_counter() - t0) * 1e3
    outputs = dict(out)
    value = outputs.pop(cellmod.LAST, None)

    result = GraphResult(
        outputs=outputs, value=value, function=fn, entry=entry, inputs=list(bindings.inputs),
        statics=list(bindings.statics), cache_hit=not traced,
        reason=(identity_reason or entry.record.reason) if traced else "",
        trace_output=trace_buf.getvalue(), run_output=run_buf.getvalue(),
        printed_when_traced=not traced and entry.record.number in entry_cf.printed_at_trace,
        output_names=_output_names(out, entry), max_nodes=opts.max_nodes,
        input_names=_input_names(bindings, args, entry.graph))

    eager_args = None
    if opts.check or opts.compare:
        eager_args = _copy_arrays(args)
    if opts.check:
        with contextlib.redirect_stdout(io.StringIO()):
            eager_out = dict(entry_cf.python_function(*eager_args))
        eager_out.pop(cellmod.LAST, None)
        result.check = compare_outputs(eager_out, outputs)
    if opts.compare:
        result.timings = _time_both(entry_cf.python_function, fn, args, eager_args, entry,
                                    first_ms if traced else None, opts)
    if opts.profile:
        result.profile = ProfileReport.measure(entry.graph, _graph_arrays(fn, args))

    bind_outputs(ns, outputs, analysis, filename)
    return result


def _retracing_message(fn) -> str:
    cost = sum(r.total_ms for r in fn.ledger)
    return (f"%%graph: this cell has been traced {len(fn.ledger)} times ({cost:.1f} ms in all). "
            f"Last: {fn.ledger[-1].reason}. A number the cell reads is static (part of the cache "
            "key): pass it as a tensor, e.g. `n = rt.asarray(n)`, to make it an input; if a shape "
            "keeps changing, pad or bucket it. `%%graph -o` then `_.function.explain()` lists "
            "every trace.")


def _output_names(out, entry) -> dict:
    """Graph output index -> the cell's name for it ('h', 'params["w"]', '(last expression)')."""
    names = {}
    paths = (name for key in sorted(out, key=repr) for name, _ in _named_leaves(out[key], key))
    for (kind, k), path in zip(entry.out_spec, paths):
        if kind == "dyn":
            if path.startswith(cellmod.LAST):
                path = "(last expression)" + path[len(cellmod.LAST):]
            names.setdefault(k, path)
    return names


def _input_names(bindings, args, graph) -> dict:
    """Graph input index -> the cell's name for it (`params['w']` rather than `params_w`).
    rt.function makes inputs of the array leaves of its arguments, in parameter order."""
    names = [name for p, value in zip(bindings.inputs, args)
             for name, leaf in _named_leaves(value, p) if cellmod.is_array(leaf)]
    if len(names) != len(graph.inputs):
        return {}
    return dict(enumerate(names))


def _named_leaves(tree, prefix):
    tp = type(tree)
    if tp is dict:
        for k in sorted(tree, key=repr):
            yield from _named_leaves(tree[k], f"{prefix}[{k!r}]")
    elif tp in (list, tuple) or (isinstance(tree, tuple) and hasattr(tree, "_fields")):
        for i, x in enumerate(tree):
            yield from _named_leaves(x, f"{prefix}[{i}]")
    elif tree is not None:
        yield prefix, tree


def _graph_arrays(fn, args):
    """The input arrays in the graph's order (as rt.function passes them to the compiled code)."""
    _, arrays = fn._key(args, {})
    return arrays


def _time_both(pyfn, fn, args, eager_args, entry, first_ms, opts) -> Timings:
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):       # print / rt.print would repeat on every loop
        eager = measure(lambda: pyfn(*eager_args), opts.number, opts.repeat)
        graph = measure(lambda: fn(*args), opts.number, opts.repeat)
    rec = entry.record
    return Timings(eager, graph, rec.trace_ms, rec.optimize_ms, rec.codegen_ms, first_ms,
                   cache_hit=first_ms is None)


def bind_outputs(ns: dict, outputs: dict, analysis, filename: str) -> None:
    """Put the outputs into `ns`, then define the cell's top-level functions and classes there
    (so they see the namespace, as in a normal cell). All or nothing."""
    missing = object()
    gone = [n for n in analysis.deleted if n not in outputs]     # `del x` in the cell, as in a normal cell
    names = set(outputs) | {d.name for d in analysis.defs} | set(gone)
    saved = {n: ns.get(n, missing) for n in names}
    try:
        ns.update(outputs)
        for n in gone:
            ns.pop(n, None)
        code = cellmod.def_statements_code(analysis, filename)
        if code is not None:
            exec(code, ns)
    except BaseException:
        for n, v in saved.items():
            if v is missing:
                ns.pop(n, None)
            else:
                ns[n] = v
        raise


def without_tensors(result: GraphResult) -> bool:
    """The cell computed no tensors at all (plain Python, or only imports)."""
    return not result.traced_graph.outputs and _count_ops(result.traced_graph) == 0


