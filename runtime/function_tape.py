"""A compiled function called while a gradient tape records: one op on the tape.

TensorFlow records a `tf.function` called under a `GradientTape` as one op with a compiled
gradient; so does this. Once per input signature (and set of inputs the tapes follow) the
function's forward and backward passes are traced together (`rt.vjp` of it) and the joint
graph is split where the cotangents come in: a forward graph that returns the results plus the
values the backward needs (residuals), and a backward graph from residuals and cotangents to
the inputs' cotangents; each is optimized and compiled. The tape records one op, whose residuals travel in its params, and its gradient rule
runs the compiled backward. The forward pass is never repeated.

When an outer tape records the backward pass (higher-order gradients) the rule instead calls the
joint function as an `rt.function`, recomputing the forward: a call the outer tape records the
same way, so it can be differentiated again.

A function that draws random numbers or prints (its recomputation would draw or print again),
that donates its arguments, or whose gradient can't be traced (a `while` loop of data-dependent
length, an op without a gradient rule) runs as Python on the tape instead, as any function does
under an eager tape.
"""
from __future__ import annotations

from . import codegen, core
from . import passes as passes_mod
from .core import Op
from .graph import Graph
from .pytree import flatten, unflatten
from .tensor import EAGER, Tensor
from .autodiff.api import _outer_tapes
from .tracing import trace_to_graph


def call_on_tape(fn, args, kwargs):
    """`fn(*args, **kwargs)` recorded as one op, or NotImplemented: run the Python function."""
    if fn.donate_argnames:
        return NotImplemented
    key, leaves = fn._key_leaves(args, kwargs)
    tapes = list(_outer_tapes())
    # the inputs that will get a cotangent: followed by a tape, and inexact
    tracked = tuple(x.dtype.kind in "fc" and any(t.tracks(x) for t in tapes) for x in leaves)
    entry = fn._cache.get(key)
    with _EagerOnTop():               # tracing and compiling are not for the tape to record
        if entry is None:
            entry = fn._trace(key, args, kwargs)
        else:
            fn.cache_hits += 1
        if entry.taped is None:
            entry.taped = {} if _pure(entry.traced_graph) else False
        if entry.taped is False:
            return NotImplemented
        if not any(tracked):          # nothing the tapes follow goes in: a plain call
            fn.calls += 1
            return fn._run(entry, [x._v if type(x) is Tensor else x for x in leaves], True)
        call = entry.taped.get(tracked)
        if call is None:
            try:
                call = _TapedCall(fn, entry, key, args, kwargs, tracked)
            except Exception:         # no traced gradient (a while loop of data-dependent length,
                call = False          # an op without a vjp): on the tape, as before, in Python
            entry.taped[tracked] = call
    if call is False:
        return NotImplemented
    fn.calls += 1
    outs = core.bind(call.op, *leaves, saved=_Saved())
    return unflatten(entry.out_tree, [outs[v] if kind == "dyn" else v for kind, v in entry.out_spec])


class _EagerOnTop:
    """Run the body with the eager interpreter on top of the stack, then put the stack back."""

    def __enter__(self):
        self.saved = core.current_interpreter()
        core.set_base_interpreter(EAGER)

    def __exit__(self, *exc):
        core.set_base_interpreter(self.saved)


def _pure(graph) -> bool:
    for n in graph.nodes:
        if not n.op.pure or any(isinstance(p, Graph) and not _pure(p) for p in n.params.values()):
            return False
    return True


class _Saved:
    """One recorded call's residuals, and the cotangents last computed from them."""
    __slots__ = ("residuals", "g", "grads")

    def __init__(self):
        self.residuals = self.g = self.grads = None


class _TapedCall:
    """The op one cache entry of `fn` is recorded as, and its compiled backward, for calls in
    which the tapes follow the inputs marked in `tracked` (only those get cotangents)."""

    def __init__(self, fn, entry, key, args, kwargs, tracked):
        from .function import _aliasing_outputs, _unalias
        rebuild = fn._call_parts(key, args, kwargs)[3]
        self.fn_name, self.passes = fn.name, fn.passes
        ins, outs = entry.traced_graph.inputs, entry.graph.outputs
        n_x, n_out = len(ins), len(outs)
        # which leaf of the Python function's result each compiled output is (out_spec, reversed)
        out_leaf = {v: k for k, (kind, v) in enumerate(entry.out_spec) if kind == "dyn"}
        python_fn = fn.python_function
        if fn.autograph:
            from .autograph import convert
            python_fn = convert(python_fn)

        def forward(*xs):            # the compiled outputs, as the Python function makes them
            a, k = rebuild(xs)
            leaves, _ = flatten(python_fn(*a, **k))
            return [leaves[out_leaf[v]] for v in range(n_out)]

        wanted = [i for i, t in enumerate(tracked) if t]       # the inputs that get a cotangent
        self.grad_of = {i: k for k, i in enumerate(wanted)}

        def joint(*flat):            # (inputs..., output cotangents...) -> outputs, cotangents
            from .autodiff.api import vjp
            xs, cts = flat[:n_x], flat[n_x:]

            def of_wanted(*ws):
                full = list(xs)
                for i, w in zip(wanted, ws):
                    full[i] = w
                return forward(*full)
            results, pullback = vjp(of_wanted, *[xs[i] for i in wanted])
            return list(results) + list(pullback(list(cts)))

        self._joint = joint
        types = [(v.shape, v.dtype) for v in ins] + [(v.shape, v.dtype) for v in outs]
        names = [v.name for v in ins] + [f"ct{k}" for k in range(n_out)]
        graph, _, _, _ = trace_to_graph(joint, types, names, f"{fn.name}_joint")
        fwd, bwd = split_at_cotangents(graph, n_x, n_out)
        fwd.verify()
        bwd.verify()
        self.n_out = n_out
        fwd = passes_mod.optimize(fwd, fn.passes)[0]
        fwd_code = codegen.compile_graph(fwd, f"{fn.name}_forward")
        self._bwd_code = codegen.compile_graph(passes_mod.optimize(bwd, fn.passes)[0], f"{fn.name}_backward")
        aliasing = tuple(i for i in _aliasing_outputs(fwd) if i < n_out)
        name = fn.name

        def impl(*arrays, saved):
            try:
                res = fwd_code.fn(*arrays)
            except Exception as e:
                err = fwd_code.explain_error(e, name)
                if err is None:
                    raise
                raise err from e
            saved.residuals = res[n_out:]
            res = res[:n_out]
            return _unalias(res, aliasing, arrays) if aliasing else res

        def abstract(*avals, saved):
            return [(v.shape, v.dtype) for v in outs]

        self.op = Op(f"{fn.name} (compiled)", impl, abstract, vjp=self._rule,
                     multiple_results=True, register=False,
                     doc=f"a call of the compiled function {fn.name}, recorded by a gradient tape")
        self._recompute = None

    def _rule(self, i, g, out, *inputs, saved):
        k = self.grad_of.get(i)
        if k is None:
            return None
        if saved.g is not g:         # the backward pass asks once per input: one call answers all
            if core.current_interpreter() is EAGER:
                saved.grads = self._bwd_code.fn(*saved.residuals, *g)
            else:                    # an outer tape records this pass: higher order
                if self._recompute is None:
                    from .function import function
                    self._recompute = function(self._joint, name=f"{self.fn_name}_vjp",
                                               passes=self.passes, autograph=False)
                saved.grads = self._recompute(*inputs, *g)[self.n_out:]
            saved.g = g
        return saved.grads[k]


def split_at_cotangents(graph: Graph, n_x: int, n_out: int):
    """Split a traced (x..., ct...) -> (out..., grads...) graph into (x...) -> (out...,
    residuals...) and (residuals..., ct...) -> (grads...): the backward graph holds the nodes
    that depend on a cotangent; what it reads from the forward part are the residuals
    (constants are copied instead). The outputs must not depend on the cotangents."""
    cts = graph.inputs[n_x:]
    late = set(cts)
    early_nodes, late_nodes = [], []
    for n in graph.nodes:
        if any(v in late for v in n.inputs):
            late.update(n.outputs)
            late_nodes.append(n)
        else:
            early_nodes.append(n)
    results, grads = graph.outputs[:n_out], graph.outputs[n_out:]
    assert not any(v in late for v in results), "a result depends on a cotangent"
    needed = [v for n in late_nodes for v in n.inputs] + list(grads)
    consts = {v.node for v in needed if v not in late and v.node is not None and v.node.op.name == "const"}
    residuals = list(dict.fromkeys(v for v in needed if v not in late and v.node not in consts))
    fwd = _rebuild(f"{graph.name}_forward", graph.inputs[:n_x], early_nodes, results + residuals)
    late_nodes = [n for n in graph.nodes if n in consts] + late_nodes      # constants first
    bwd = _rebuild(f"{graph.name}_backward", residuals + cts, late_nodes, grads,
                   names=[f"r{k}" for k in range(len(residuals))] + [v.name for v in cts])
    return fwd, bwd


def _rebuild(name, inputs, nodes, outputs, names=None) -> Graph:
    """A new graph of copies of `nodes`, whose inputs stand for the values `inputs`."""
    g = Graph(name)
    new = {v: g.add_input(v.shape, v.dtype, names[k] if names else v.name)
           for k, v in enumerate(inputs)}
    for n in nodes:
        m = g.add_node(n.op, [new[v] for v in n.inputs], dict(n.params),
                       [(v.shape, v.dtype) for v in n.outputs], n.loc,
                       weak=bool(n.outputs) and n.outputs[0].weak)
        new.update(zip(n.outputs, m.outputs))
    g.outputs = [new[v] for v in outputs]
    return g
