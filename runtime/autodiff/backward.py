"""The backward pass: replay a tape's records in reverse through each op's vjp rules.

`backward` turns (op, inputs, params, outputs) records into cotangents; `unbroadcast` is the one
place that makes a cotangent fit its input (sums the axes broadcasting added, casts the dtype);
`rule_for` reads an op's rule for one input (a tuple entry, or a variadic op's function).
"""
from __future__ import annotations

import functools

import numpy as np

from .. import core
from ..ops.creation import astype, ones_like, zeros_like
from ..ops.movement import broadcast_to, reshape
from ..ops.reduction import sum as rsum
from ..tensor import EAGER, Tensor

_new = object.__new__
_ndarray = np.ndarray
_asarray = np.asarray


def unbroadcast(g, x):
    """Make cotangent `g` fit input `x`: sum the axes broadcasting added, cast to x's dtype.

    Every vjp rule returns a cotangent shaped like the op's output (or broadcastable to the
    input); this one helper turns it into one shaped and typed like the input. It works on
    tensors and tracers (runtime ops) and on raw NumPy arrays (NumPy calls; see `backward`).
    """
    shape, gshape = x.shape, g.shape
    raw = isinstance(g, (_ndarray, np.generic))
    if gshape != shape:
        extra = len(gshape) - len(shape)
        if extra < 0:
            g = np.broadcast_to(g, shape) if raw else broadcast_to(g, shape)
        else:
            axes = tuple(range(extra)) + tuple(i + extra for i, d in enumerate(shape)
                                               if d == 1 and gshape[i + extra] != 1)
            if axes:
                g = np.sum(g, axis=axes) if raw else rsum(g, axis=axes)
            if g.shape != shape:
                g = np.reshape(g, shape) if raw else reshape(g, shape)
    if g.dtype != x.dtype:
        g = np.asarray(g).astype(x.dtype) if raw else astype(g, x.dtype)
    return g


def _raw(g):
    return g._v if type(g) is Tensor else np.asarray(g)


def rule_for(op, i):
    """The vjp rule of `op` for input i: a tuple entry, or (variadic ops such as concat) the
    op's single vjp function with the input number bound. None: no gradient for that input."""
    rules = op.vjp
    if callable(rules):
        return functools.partial(rules, i)
    return rules[i] if i < len(rules) else None


def backward(records, seeds, sources, tracked=None, watched=()) -> dict:
    """Reverse pass over `records`: id(value) -> cotangent, for `sources` (and what lies between).

    Only records on a path from a source are replayed, and only inputs that depend on a source
    get a cotangent, so gradients that nobody asked for are never computed. Integer and boolean
    values never receive a cotangent, so nothing flows back through them.

    When nothing sits above the eager interpreter (no outer tape, no trace), nobody needs to see
    the backward pass as ops, so the rules run on the raw NumPy arrays: the same NumPy calls
    without the tensor dispatch. Otherwise they run on tensors/tracers through the current
    interpreter, so an outer tape records them or a trace puts them in the graph.
    """
    raw = core._interp is EAGER
    wanted = frozenset(map(id, sources))
    if tracked is not None and wanted.issuperset(map(id, watched)):
        # the usual case: every watched value is a source, so everything the tape recorded
        # depends on a source and the tape's own set says what is reachable
        reach, live = tracked, records
    else:
        reach, live = _reachable(records, wanted)
    ct: dict = {}
    for t, g in seeds:
        tid = id(t)
        if tid in reach:
            if g is None:        # d target / d target: ones (already fitting t)
                g = np.ones(t._v.shape, t._v.dtype) if raw else ones_like(t)
            else:
                g = unbroadcast(_raw(g), t._v) if raw else unbroadcast(g, t)
            prev = ct.get(tid)
            ct[tid] = g if prev is None else prev + g
    pop, get = ct.pop, ct.get
    for op, args, params, out in reversed(live):
        if raw and not op.multiple_results and not params and len(args) <= 2:
            # the hot path (eager, no outer tape): a one- or two-input op without params; the
            # same steps as the general loop below, inline and without its bookkeeping
            oid = id(out)
            g = pop(oid, None)
            if g is None:
                continue
            if oid in wanted:         # a source computed on the tape: keep its whole cotangent
                ct[oid] = g
            rules = op.vjp
            if type(rules) is tuple:
                # out has a cotangent, so it is inexact: an input of its dtype is too (the check
                # that keeps integer inputs out costs a second look only for other dtypes)
                out = out._v
                od = out.dtype
                a = args[0]
                if len(args) == 1:
                    if id(a) in reach and rules and rules[0] is not None:
                        v = a._v if type(a) is Tensor else a
                        vd = v.dtype
                        if vd is od or vd.kind in "fc":
                            c = rules[0](g, out, v)
                            if c is not None:
                                if type(c) is Tensor:
                                    c = c._v
                                if c.dtype is not vd or c.shape != v.shape:
                                    c = unbroadcast(c, v)
                                aid = id(a)
                                prev = get(aid)
                                ct[aid] = c if prev is None else prev + c
                    continue
                b = args[1]
                va = a._v if type(a) is Tensor else a
                vb = b._v if type(b) is Tensor else b
                aid = id(a)
                if aid in reach and rules and rules[0] is not None:
                    vd = va.dtype
                    if vd is od or vd.kind in "fc":
                        c = rules[0](g, out, va, vb)
                        if c is not None:
                            if type(c) is Tensor:
                                c = c._v
                            if c.dtype is not vd or c.shape != va.shape:
                                c = unbroadcast(c, va)
                            prev = get(aid)
                            ct[aid] = c if prev is None else prev + c
                aid = id(b)
                if aid in reach and len(rules) > 1 and rules[1] is not None:
                    vd = vb.dtype
                    if vd is od or vd.kind in "fc":
                        c = rules[1](g, out, va, vb)
                        if c is not None:
                            if type(c) is Tensor:
                                c = c._v
                            if c.dtype is not vd or c.shape != vb.shape:
                                c = unbroadcast(c, vb)
                            prev = get(aid)
                            ct[aid] = c if prev is None else prev + c
                continue
            ct[oid] = g                 # a variadic op's rule: the general loop reads it again
        if op.multiple_results:
            gs = [get(id(o)) if id(o) in wanted else pop(id(o), None) for o in out]
            if all(g is None for g in gs):
                continue
            g = tuple((np.zeros_like(o._v) if raw else zeros_like(o)) if gi is None else gi
                      for gi, o in zip(gs, out))
            if raw:
                out = tuple(o._v for o in out)
        else:
            oid = id(out)
            g = get(oid) if oid in wanted else pop(oid, None)
            if g is None:
                continue
            if raw:
                out = out._v
        rules = op.vjp
        if rules is None:
            raise NotImplementedError(
                f"no gradient rule (vjp) for op `{op.name}`: it is on the path from a watched "
                f"value to the target. Add a vjp to its definition block in runtime/ops, or wrap "
                f"its input in rt.stop_gradient if no gradient should flow through it")
        if raw:
            n = len(args)
            if n == 2:
                a, b = args
                vals = (a._v if type(a) is Tensor else a, b._v if type(b) is Tensor else b)
            elif n == 1:
                a = args[0]
                vals = (a._v if type(a) is Tensor else a,)
            else:
                vals = tuple(a._v if type(a) is Tensor else a for a in args)
        else:
            vals = args
        if type(rules) is not tuple:         # a variadic op's single rule (concat ...)
            rules = [rule_for(op, i) for i in range(len(args))]
        i = -1
        for rule in rules:
            i += 1
            if rule is None:
                continue
            a = args[i]
            aid = id(a)
            if aid not in reach:
                continue
            v = vals[i]
            if v.dtype.kind not in "fc":
                continue
            if params:
                c = rule(g, out, *vals, **params)
            elif len(vals) == 2:
                c = rule(g, out, vals[0], vals[1])
            else:
                c = rule(g, out, *vals)
            if c is None:
                continue
            if raw and type(c) is Tensor:
                c = c._v
            # `is not`: builtin dtypes are singletons, and unbroadcast compares properly
            if c.shape != v.shape or c.dtype is not v.dtype:
                c = unbroadcast(c, v)
            prev = get(aid)
            ct[aid] = c if prev is None else prev + c
    if raw:
        for k in wanted:
            c = get(k)
            if c is not None and type(c) is not Tensor:
                t = _new(Tensor)
                t._v = _asarray(c)
                ct[k] = t
    return ct


def _reachable(records, wanted):
    """(ids reachable from the sources, the records on such paths), in recording order."""
    reach = set(wanted)
    live = []
    for rec in records:
        for a in rec[1]:
            if id(a) in reach:
                break
        else:
            continue
        live.append(rec)
        out = rec[3]
        if rec[0].multiple_results:
            reach.update(id(o) for o in out)
        else:
            reach.add(id(out))
    return reach, live
