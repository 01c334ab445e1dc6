"""Tracing: run Python code on Tracers (shape + dtype, no values) and record a Graph."""
from __future__ import annotations

import numpy as np

from .core import Interpreter, using
from .errors import ConcretizationError, TracerLeakError, op_error, user_location
from .graph import Graph, Value
from .ops.creation import const_op
from .surface import ArrayMethods
from .tensor import Tensor

_new = object.__new__
_PY_SCALARS = (bool, int, float, complex)
_WEAK_DTYPES = {t: np.result_type(t(0)) for t in _PY_SCALARS}   # what np.result_type says
_I63 = 2 ** 63


class Tracer(ArrayMethods):
    """Stands for a tensor while a function is traced: shape and dtype are known, values are not."""
    __slots__ = ("_trace", "_val")

    shape = property(lambda self: self._val.shape)
    dtype = property(lambda self: self._val.dtype)
    ndim = property(lambda self: len(self._val.shape))
    size = property(lambda self: self._val.size)
    nbytes = property(lambda self: self._val.nbytes)

    def __repr__(self):
        return f"Tracer<{self._val.type_str}>"

    def _concrete(self, what):
        raise ConcretizationError(concretization_message(self, what))

    def __bool__(self):
        self._concrete("bool()  (an `if`, `while`, `and`/`or`/`not` or assert on it)")

    def __int__(self):
        self._concrete("int()")

    def __float__(self):
        self._concrete("float()")

    def __complex__(self):
        self._concrete("complex()")

    def __index__(self):
        self._concrete("an index or size (__index__)")

    def __array__(self, dtype=None, copy=None):
        self._concrete("a NumPy array (np.asarray / np.array)")

    def __format__(self, spec):
        if spec:
            self._concrete(f"a formatted number (f-string format {spec!r}); use rt.print to show values")
        return repr(self)

    def item(self):
        self._concrete(".item()")

    def tolist(self):
        self._concrete(".tolist()")

    def numpy(self):
        self._concrete(".numpy()")

    def _numpy_fallback(self, func, args, kwargs, name):
        raise TypeError(f"{name} has no runtime op, so it cannot be traced. Use the rt.* function "
                        f"for it, or compute it outside the traced function and pass it in.")


def _make_tracer(trace, val):
    t = _new(Tracer)
    t._trace = trace
    t._val = val
    return t


class TraceInterpreter(Interpreter):
    """bind -> abstract_eval + append a node to the graph; returns Tracers."""

    def __init__(self, name="f"):
        self.graph = Graph(name)
        self._consts: dict = {}      # id(obj) -> (obj, Value): one const node per outside tensor
        self.captured: list = []     # (outer tracer, inner input Value) for closures over outer traces
        self._types: dict = {}       # (op, input types) -> abstract_eval's answer (_abstract_eval)

    def new_input(self, shape, dtype, name) -> Tracer:
        return _make_tracer(self, self.graph.add_input(shape, dtype, name))

    def lift(self, a) -> Value:
        if type(a) is Tracer:
            if a._trace is self:
                return a._val
            return self._capture(a)
        if type(a) in _PY_SCALARS:     # exact types: NumPy scalars (np.float64 is a float) are strong
            dt = _WEAK_DTYPES.get(type(a)) if type(a) is not int or -_I63 <= a < _I63 else None
            if dt is None:
                dt = np.result_type(a)
            node = self.graph.add_node(const_op, [], {"value": a}, [((), dt)], weak=True)
            return node.out
        key = id(a)
        hit = self._consts.get(key)
        if hit is not None and hit[0] is a:
            return hit[1]
        if type(a) is Tensor:
            value = a._v
        elif isinstance(a, (np.ndarray, np.generic, list, tuple)):
            value = np.array(a)      # a copy: later changes to the caller's array cannot leak in
            value.flags.writeable = False
        elif isinstance(a, ArrayMethods):
            raise TypeError(f"unexpected array type {type(a).__name__}")
        else:
            raise TypeError(f"expected a tensor, a NumPy array or a number, got {type(a).__name__}: {a!r}")
        node = self.graph.add_node(const_op, [], {"value": value}, [(value.shape, value.dtype)],
                                   loc=user_location())
        self._consts[key] = (a, node.out)
        return node.out

    def _capture(self, t: Tracer) -> Value:
        outer = self.parent
        while outer is not None and outer is not t._trace:
            outer = outer.parent
        if outer is None:
            raise TracerLeakError(
                f"a traced value ({t!r}) from a trace that has finished was used here"
                f"{_at(user_location())}. Traced values live only inside the function being "
                "traced: return them instead of storing them in outside variables.")
        for outer_t, inner in self.captured:
            if outer_t is t:
                return inner
        inner = self.graph.add_input(t.shape, t.dtype, f"captured{len(self.captured)}")
        self.captured.append((t, inner))
        return inner

    def process(self, op, args, params):
        loc = user_location()
        vals, avals = [], []        # the inputs' Values, and what abstract_eval gets for them
        try:
            for a in args:
                v = a._val if type(a) is Tracer and a._trace is self else self.lift(a)
                vals.append(v)
                avals.append(v.const if v.weak else v)     # Python scalars as themselves
        except TypeError as e:      # a non-array argument: say which op and where
            raise op_error(op.name, args, params, e, loc, "while tracing") from e
        try:
            res = op.abstract_eval(*avals, **params) if params else self._abstract_eval(op, avals)
        except Exception as e:
            raise op_error(op.name, vals, params, e, loc, "while tracing") from e
        node = self.graph.add_node(op, vals, params, res if op.multiple_results else (res,), loc)
        if op.multiple_results:
            return tuple(_make_tracer(self, v) for v in node.outputs)
        t = _new(Tracer)            # _make_tracer, inlined: this runs for every traced op
        t._trace = self
        t._val = node.outputs[0]
        return t

    def _abstract_eval(self, op, avals):
        """op.abstract_eval(*avals) for an op without params, remembered for this trace: the
        answer depends only on the op and the inputs' shapes and dtypes (a Python scalar's type
        and value), and a traced program asks the same question over and over (a chain of N
        ops, a handful of distinct ones)."""
        key = (op, *[(a.shape, a.dtype) if type(a) is Value else (type(a), a) for a in avals])
        res = self._types.get(key)
        if res is None:
            res = self._types[key] = op.abstract_eval(*avals)
        return res


def _at(loc):
    return f" at {loc}" if loc is not None else ""


def input_dependencies(graph: Graph, value: Value) -> list:
    """The graph inputs `value` depends on (walking the graph backwards)."""
    deps, seen, stack = [], set(), [value]
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        if v.node is None:
            deps.append(v)
        else:
            stack.extend(v.node.inputs)
    order = {v: i for i, v in enumerate(graph.inputs)}
    return sorted(deps, key=lambda v: order.get(v, 0))


# Extra "ways out" lines a later module wants to add.
CONCRETIZATION_HINTS: list = []


def concretization_message(t: Tracer, what: str) -> str:
    loc = user_location()
    deps = input_dependencies(t._trace.graph, t._val)
    dep_text = ", ".join(f"`{v.name}` ({v.type_str})" for v in deps) or "no input (a random op?)"
    ways = [
        "autograph: rt.function turns `if`/`while` statements and `a if c else b` on traced "
        "values (with `and`/`or`/`not` in their conditions) and `for i in rt.range(n)` into graph "
        "control flow, in the compiled function's body and the defs nested in it. This line is "
        "not converted: an `assert`, code in a helper function or lambda (wrap a helper with "
        "rt.autograph.convert), code whose source Python can't show (typed at a plain `python` "
        "prompt), or anything with rt.function(..., autograph=False)"
        if what.startswith("bool") else None,
        "rt.cond(pred, true_fn, false_fn, *operands) chooses between computations (rt.while_loop"
        " / rt.fori_loop for loops); rt.where(cond, a, b) chooses values elementwise",
        "make the argument static: rt.function(f, static_argnames=(...)) (one trace per value)",
        *CONCRETIZATION_HINTS,
        "or run this function eagerly: rt.run_functions_eagerly(True) while debugging",
    ]
    ways = [w for w in ways if w]
    return (f"a traced value was used as {what} while tracing{_at(loc)}\n"
            f"  The value is {t._val.type_str}, computed from {dep_text}. While tracing only its "
            f"shape and dtype are known, not its value, so Python cannot branch on it or convert it.\n"
            f"  Ways out:\n" + "".join(f"    - {w}\n" for w in ways))


def is_tracer(x) -> bool:
    return type(x) is Tracer



def trace_to_graph(fn, in_types, in_names, name="f", rebuild=None):
    """Trace `fn` into a Graph whose outputs are the array leaves of what `fn` returns.

    Returns (graph, interp, out_treedef, out_spec) where out_spec has, per returned leaf,
    ("dyn", k) for the k-th graph output or ("static", value) for a non-array leaf.
    """
    from .pytree import flatten
    interp = TraceInterpreter(name)
    with using(interp):
        tracers = [interp.new_input(s, d, n) for (s, d), n in zip(in_types, in_names)]
        args, kwargs = rebuild(tracers) if rebuild else (tracers, {})
        out = fn(*args, **kwargs)
        leaves, treedef = flatten(out)
        spec = []
        for leaf in leaves:
            if isinstance(leaf, (ArrayMethods, np.ndarray)):
                spec.append(("dyn", len(interp.graph.outputs)))
                interp.graph.outputs.append(interp.lift(leaf))
            else:
                spec.append(("static", leaf))
    return interp.graph, interp, treedef, spec
