"""`rt.function`: trace once per input signature, optimize, compile, cache; explain retraces."""
from __future__ import annotations

import functools
import gc
import inspect
import math
import operator
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import codegen, core as _core, passes as passes_mod
from .dtypes import short_type
from .graph import Graph
from .pytree import flatten, leaf_paths, unflatten
from .surface import ArrayMethods
from .tensor import EAGER as _EAGER, Tensor, wrap
from .tracing import TraceInterpreter, trace_to_graph

_run_eagerly = False


def run_functions_eagerly(flag: bool = True) -> None:
    """Make every `rt.function` run its Python code eagerly (for debugging with print and pdb)."""
    global _run_eagerly
    _run_eagerly = bool(flag)


def functions_run_eagerly() -> bool:
    return _run_eagerly


def _inside_trace() -> bool:
    """Called while another function is traced: inline the Python function into that trace (as
    jax.jit does), since compiled NumPy code cannot run on tracers."""
    interp = _core._interp
    while interp is not None:
        if isinstance(interp, TraceInterpreter):
            return True
        interp = interp.parent
    return False


def _under_tape() -> bool:
    """A gradient tape is recording: then a call is recorded as one op with a compiled gradient
    (function_tape.py), or, where that can't be done, the Python function runs on the tape; a
    plain compiled call would hide its ops from the tape and the gradient would be None."""
    interp = _core._interp
    while interp is not None:
        if getattr(interp, "records_ops", False):
            return True
        interp = interp.parent
    return False


class RetracingWarning(UserWarning):
    """A compiled function keeps being traced again, which costs more than it saves."""


@dataclass
class TraceRecord:
    number: int
    reason: str
    signature: str
    trace_ms: float
    optimize_ms: float
    codegen_ms: float
    nodes_traced: int
    nodes_optimized: int

    @property
    def total_ms(self):
        return self.trace_ms + self.optimize_ms + self.codegen_ms

    def __str__(self):
        return (f"trace #{self.number}: {self.reason}\n    ({self.signature})\n"
                f"    trace {self.trace_ms:.2f} ms, optimize {self.optimize_ms:.2f} ms, codegen "
                f"{self.codegen_ms:.2f} ms; {self.nodes_traced} -> {self.nodes_optimized} nodes")


@dataclass
class CacheEntry:
    """Everything made for one input signature."""
    compiled: codegen.Compiled
    traced_graph: object
    graph: object
    reports: list
    out_tree: object
    out_spec: list
    record: TraceRecord
    single: bool = field(default=False)     # returns one array: skip unflatten
    aliasing: tuple = ()    # outputs that may be views of an input (see _aliasing_outputs)
    taped: object = None    # how a call under a gradient tape runs (function_tape.py)

    @property
    def source(self):
        return self.compiled.source


def _aliasing_outputs(graph) -> tuple:
    """Positions of the graph's outputs that may be an input or a view of one: an input returned
    as it is, or through reshape, transpose, slicing ... (movement ops), stop_gradient or control
    flow. The compiled code returns what NumPy gives, so such an output would share memory with
    the caller's array, and a later write to that array would change an immutable tensor."""
    may = set(graph.inputs)
    for n in graph.nodes:
        op = n.op
        passes_through = (op.movement or op.name == "stop_gradient"
                          or (op.name != "fused" and any(isinstance(p, Graph) for p in n.params.values())))
        if passes_through and any(v in may for v in n.inputs):
            may.update(n.outputs)
    return tuple(i for i, v in enumerate(graph.outputs) if v in may)


def _unalias(outs, positions, arrays):
    """Copies of the outputs at `positions` that share memory with an argument's array."""
    outs = list(outs)
    for i in positions:
        o = outs[i]
        if isinstance(o, _ndarray) and any(np.may_share_memory(o, a) for a in arrays):
            outs[i] = o.copy()
    return outs


class Explanation(str):
    """Text that shows as itself both printed and as a REPL value."""
    def __repr__(self):
        return str(self)


_DYN_TYPES = (ArrayMethods, np.ndarray)
_ndarray = np.ndarray


class _Probe:
    """A stand-in argument used once per call style to see where binding puts each position."""
    __slots__ = ()


def _leaf_sig(x, static: bool):
    if not static and isinstance(x, _DYN_TYPES):
        return (x.shape, x.dtype)
    if isinstance(x, ArrayMethods):
        raise TypeError("a tensor was passed as a static argument: static arguments are hashed "
                        "into the cache key, tensors are not hashable (pass it as a normal argument)")
    try:
        hash(x)
    except TypeError:
        raise TypeError(f"argument value {x!r} is not hashable: non-tensor arguments are part of "
                        "the cache key, so they must be hashable (use a tuple instead of a list, "
                        "or pass arrays as tensors)") from None
    if type(x) is float:
        # -0.0 == 0.0 but 1/x differs; nan != nan would miss the cache on every call
        return ("static", float, x if x == x else _NAN, math.copysign(1.0, x))
    return ("static", type(x), x)


_NAN = float("nan")     # one nan object: tuples compare items by identity first


def _sig_text(sig) -> str:
    if len(sig) == 2 and isinstance(sig[0], tuple):
        return short_type(sig[1], sig[0])
    return repr(sig[2])


def _gc_paused(method):
    """Tracing, optimizing and compiling make many small objects (nodes, values, tracers) that
    all live to the end: the cyclic GC would walk them, and the rest of a big notebook heap,
    again and again for nothing (it doubled trace time at 1000 nodes). Paused meanwhile;
    collections resume afterwards."""
    @functools.wraps(method)
    def paused(*args, **kwargs):
        if not gc.isenabled():
            return method(*args, **kwargs)
        gc.disable()
        try:
            return method(*args, **kwargs)
        finally:
            gc.enable()
    return paused


class Function:
    """A Python function compiled per input signature (like `tf.function` / `jax.jit`).

    >>> @rt.function
    ... def f(a, b, scale=2.0):
    ...     return rt.sum(rt.exp(a) * b, axis=-1) * scale
    >>> x = rt.ones((2, 3)); _ = f(x, x)     # traced, compiled, run
    >>> _ = f(x, x)                          # cache hit
    >>> print(f.graph_for(x, x))             # doctest: +SKIP
    """

    def __init__(self, fn, *, static_argnames=(), static_argnums=(), passes=None,
                 donate_argnames=(), autograph=True, name=None, retrace_warning_after=5):
        functools.update_wrapper(self, fn)
        self.python_function = fn
        self.name = name or getattr(fn, "__name__", "f")
        if self.name == "<lambda>":
            self.name = "lambda_"
        try:
            self._signature = inspect.signature(fn)
            params = list(self._signature.parameters)
        except (TypeError, ValueError):
            self._signature, params = None, []
        static_argnames = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
        static_argnums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
        self.static_argnames = frozenset(static_argnames) | {params[i] for i in static_argnums if i < len(params)}
        unknown = [n for n in static_argnames if self._signature and n not in params]
        if unknown:
            raise ValueError(f"static_argnames {unknown} are not parameters of {self.name}{self._signature}")
        self.passes = passes
        passes_mod.resolve(passes)          # an unknown pass name fails here, not at first call
        self.donate_argnames = frozenset((donate_argnames,) if isinstance(donate_argnames, str) else donate_argnames)
        self.autograph = autograph
        self.retrace_warning_after = retrace_warning_after
        self._cache: dict = {}
        self._fast: dict = {}               # (n, shape0, dtype0, ...) -> (entry, input order)
        self._fast_orders: dict = {}        # n -> input order for n positional arrays, or False
        self.ledger: list[TraceRecord] = []
        self.calls = 0
        self.cache_hits = 0
        self._warned = False
        self._last_key = None

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def __repr__(self):
        return f"<rt.function {self.name}: {len(self.ledger)} trace(s), {self.cache_hits} cache hit(s)>"

    # -- the call path -------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if _run_eagerly or (_core._interp is not _EAGER and (_under_tape() or _inside_trace())):
            inside_trace = not _run_eagerly and _inside_trace()
            if self.autograph and inside_trace:
                from .autograph import convert       # inlined into a trace: convert as a trace would
                return convert(self.python_function)(*args, **kwargs)
            if not _run_eagerly and not inside_trace:
                from .function_tape import call_on_tape     # one compiled op on the tape
                out = call_on_tape(self, args, kwargs)
                if out is not NotImplemented:
                    return out
            return self.python_function(*args, **kwargs)
        if not kwargs:
            # Fast path: only positional tensors / arrays, a call style seen before. Keyed by
            # (count, shapes, dtypes), which decides the full key below (see _remember_fast).
            arrays, sig, raw = [], [len(args)], False
            for a in args:
                tp = type(a)
                if tp is Tensor:
                    a = a._v
                elif tp is _ndarray:
                    raw = True
                else:
                    break
                arrays.append(a)
                sig.append(a.shape)
                sig.append(a.dtype)
            else:
                hit = self._fast.get(tuple(sig))
                if hit is not None:
                    self.calls += 1
                    self.cache_hits += 1
                    entry, order = hit
                    return self._run(entry, arrays if order is None else order(arrays), raw)
        key, leaves = self._key_leaves(args, kwargs)
        self.calls += 1
        entry = self._cache.get(key)
        if entry is None:
            entry = self._trace(key, args, kwargs)
        else:
            self.cache_hits += 1
        if not kwargs:
            self._remember_fast(args, entry)
        raw = not all(type(x) is Tensor for x in leaves)      # a caller's (writable) array
        return self._run(entry, [x._v if type(x) is Tensor else x for x in leaves], raw)

    def _remember_fast(self, args, entry):
        """Let later calls with the same count, shapes and dtypes of positional tensors skip
        binding and flattening. Sound because for such calls the full key is a function of
        exactly those: the tree is fixed by the count, defaults are fixed values, and each
        array's signature is its (shape, dtype). Not for array defaults or static positions."""
        if not all(type(a) is Tensor or type(a) is _ndarray for a in args):
            return
        n = len(args)
        if n not in self._fast_orders:
            self._fast_orders[n] = self._fast_order(n)
        order = self._fast_orders[n]
        if order is False:
            return
        sig = [n]
        for a in args:
            sig.append(a.shape)
            sig.append(a.dtype)
        self._fast[tuple(sig)] = (entry, order)

    def _fast_order(self, n):
        """Where the slow path puts each of n positional arrays among the compiled function's
        inputs: None (same order), an itemgetter that reorders them, or False (this call style can't be
        fast: a static position, an array default, a binding error)."""
        probes = [_Probe() for _ in range(n)]
        try:
            bound = self._bind(tuple(probes), {})
        except TypeError:
            return False
        leaves, _ = flatten(tuple(bound.values()))
        statics = self._static_mask(bound, len(leaves))
        index = {id(p): i for i, p in enumerate(probes)}
        order = []
        for leaf, static in zip(leaves, statics):
            if type(leaf) is _Probe:
                if static:
                    return False
                order.append(index[id(leaf)])
            elif not static and isinstance(leaf, _DYN_TYPES):
                return False
        if sorted(order) != list(range(n)):
            return False
        if order == list(range(n)):
            return None
        return operator.itemgetter(*order)      # n >= 2 here, so it returns a tuple

    def _key(self, args, kwargs):
        """-> (cache key, the arrays the compiled code takes)."""
        key, leaves = self._key_leaves(args, kwargs)
        return key, [x._v if type(x) is Tensor else x for x in leaves]

    def _key_leaves(self, args, kwargs):
        """-> (cache key, the array leaves of the arguments as given: tensors or arrays)."""
        bound = self._bind(args, kwargs)
        leaves, tree = flatten(tuple(bound.values()))    # parameter order, as the user wrote them
        statics = self._static_mask(bound, len(leaves))
        sigs, arrays = [], []
        for x, st in zip(leaves, statics):
            sig = _leaf_sig(x, st)
            sigs.append(sig)
            if len(sig) == 2:
                arrays.append(x)
        return (tree, tuple(sigs)), arrays

    def _bind(self, args, kwargs):
        """Arguments as a dict by parameter name (defaults filled), so keys don't depend on call style."""
        if self._signature is None:
            return {"args": args, "kwargs": kwargs}
        try:
            b = self._signature.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self.name}{self._signature}: {e}") from None
        b.apply_defaults()
        return dict(b.arguments)

    def _static_mask(self, bound, n):
        if not self.static_argnames:
            return [False] * n
        mask = []
        for k in bound:
            count = len(flatten(bound[k])[0])
            mask.extend([k in self.static_argnames] * count)
        return mask

    def _run(self, entry: CacheEntry, arrays, raw: bool):
        """`raw`: some argument may be a caller's NumPy array (writable, unlike a tensor)."""
        try:
            outs = entry.compiled.fn(*arrays)
        except Exception as e:
            err = entry.compiled.explain_error(e, self.name)
            if err is None:
                raise
            raise err from e
        if raw and entry.aliasing:
            outs = _unalias(outs, entry.aliasing, arrays)
        if entry.single:
            return wrap(outs[0])
        leaves = [wrap(outs[v]) if kind == "dyn" else v for kind, v in entry.out_spec]
        return unflatten(entry.out_tree, leaves)

    # -- tracing ---------------------------------------------------------------------------------
    def _call_parts(self, key, args, kwargs):
        """-> (leaves, paths, dyn_idx, rebuild) of a call: its flattened arguments, their names,
        which are arrays (graph inputs), and rebuild(values) -> (args, kwargs) with `values` in
        the arrays' places (the statics stay as given)."""
        tree, sigs = key
        bound = self._bind(args, kwargs)
        leaves, _ = flatten(tuple(bound.values()))
        paths = [p.lstrip("_") for k, v in bound.items() for p in leaf_paths(v, "_" + k)]
        dyn_idx = [i for i, s in enumerate(sigs) if len(s) == 2]

        def rebuild(values):
            new = list(leaves)
            for i, t in zip(dyn_idx, values):
                new[i] = t
            b = dict(zip(bound, unflatten(tree, new)))
            if self._signature is None:
                return b["args"], b["kwargs"]
            ba = inspect.BoundArguments(self._signature, b)
            return ba.args, ba.kwargs
        return leaves, paths, dyn_idx, rebuild

    @_gc_paused
    def _trace(self, key, args, kwargs) -> CacheEntry:
        sigs = key[1]
        leaves, paths, dyn_idx, rebuild = self._call_parts(key, args, kwargs)
        in_types = [sigs[i] for i in dyn_idx]
        in_names = [paths[i] for i in dyn_idx]

        t0 = time.perf_counter()
        fn = self.python_function
        if self.autograph:           # `if`/`while`/`for rt.range` on traced values -> graph control flow
            from .autograph import convert
            fn = convert(fn)
        from .debug_print import trace_context
        with trace_context(self.name):   # lets a front end label what Python's print shows now
            traced, _, out_tree, out_spec = trace_to_graph(fn, in_types, in_names, self.name, rebuild)
        t1 = time.perf_counter()
        donated = [n for n in in_names for d in self.donate_argnames if n == d or n.startswith(d + "_")]
        graph, reports = passes_mod.optimize(traced, self.passes, donated=donated)
        t2 = time.perf_counter()
        compiled = codegen.compile_graph(graph, self.name)
        t3 = time.perf_counter()
        record = TraceRecord(len(self.ledger) + 1, self._reason(key, paths),
                             ", ".join(f"{p}: {_sig_text(s)}" for p, s in zip(paths, sigs)),
                             (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3,
                             len(traced.nodes), len(graph.nodes))
        entry = CacheEntry(compiled, traced, graph, reports, out_tree, out_spec, record,
                           single=(out_tree == "*" and out_spec == [("dyn", 0)]),
                           aliasing=_aliasing_outputs(graph))
        self._cache[key] = entry            # only now: a failed trace leaves nothing behind
        self.ledger.append(record)
        self._last_key = (key, paths)
        if len(self.ledger) >= self.retrace_warning_after and not self._warned:
            self._warned = True
            warnings.warn(self._retrace_warning(), RetracingWarning, stacklevel=4)  # the caller of __call__
        return entry

    def _reason(self, key, paths) -> str:
        if self._last_key is None:
            return "first call"
        (old_tree, old_sigs), old_paths = self._last_key
        if old_tree != key[0] or len(old_sigs) != len(key[1]):
            return f"the arguments' structure changed: ({', '.join(old_paths)}) -> ({', '.join(paths)})"
        diffs = [f"{p}: {_sig_text(a)} -> {_sig_text(b)}" for p, a, b in zip(paths, old_sigs, key[1]) if a != b]
        if not diffs:
            return "new signature (an earlier one was evicted)"
        return "retrace because " + "; ".join(diffs)

    def _retrace_warning(self) -> str:
        last = self.ledger[-1]
        cost = sum(r.total_ms for r in self.ledger)
        return (f"rt.function `{self.name}` has been traced {len(self.ledger)} times "
                f"({cost:.1f} ms spent tracing and compiling). Last: {last.reason}. "
                "If a shape keeps changing, pad or bucket it; if a Python number changes on each "
                "call, pass it as a tensor (rt.asarray(x)) so it is an input, not a constant. "
                "See f.explain().")

    # -- looking inside ------------------------------------------------------------------------
    def lower(self, *args, **kwargs) -> CacheEntry:
        """Trace and compile for these arguments (or take the cached entry) without running."""
        key, _ = self._key(args, kwargs)
        entry = self._cache.get(key)
        return entry if entry is not None else self._trace(key, args, kwargs)

    def graph_for(self, *args, **kwargs):
        """The optimized graph for these arguments; `print()` it to read it."""
        return self.lower(*args, **kwargs).graph

    def traced_graph_for(self, *args, **kwargs):
        """The graph as traced, before any optimization pass."""
        return self.lower(*args, **kwargs).traced_graph

    def code_for(self, *args, **kwargs) -> str:
        """The generated Python source for these arguments."""
        return Explanation(self.lower(*args, **kwargs).source)

    def passes_for(self, *args, **kwargs) -> Explanation:
        """What each optimizer pass did for these arguments (nodes, bytes, time, changes)."""
        return Explanation("\n".join(str(r) for r in self.lower(*args, **kwargs).reports))

    def explain(self) -> Explanation:
        """Every trace so far, why it happened and what it cost."""
        head = (f"rt.function `{self.name}`: {self.calls} call(s), {len(self.ledger)} trace(s), "
                f"{self.cache_hits} cache hit(s)")
        return Explanation("\n".join([head] + [f"  {r}".replace("\n", "\n  ") for r in self.ledger]))

    @property
    def trace_count(self) -> int:
        return len(self.ledger)


def function(fn=None, /, **options):
    """Compile `fn` into a graph per input signature: `@rt.function` or `@rt.function(...)`.

    Options: static_argnames / static_argnums (values become part of the cache key),
    passes (None = default pipeline, or a list of pass names, () for none; `rt.passes.describe()`
    lists them), donate_argnames (the compiled code may reuse these arguments' arrays for its
    results, as jax.jit does: do not use a donated argument after the call), autograph.
    """
    if fn is None:
        return lambda f: Function(f, **options)
    return Function(fn, **options)
