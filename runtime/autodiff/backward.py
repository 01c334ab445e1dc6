"""The backward pass: replay a tape's records in reverse through each op's vjp rules.

`backward` turns a tape's records (tape.py says their layout) into cotangents; `unbroadcast` is
the one place that makes a cotangent fit its input (sums the axes broadcasting added, casts the
dtype); `rule_for` reads an op's rule for one input (a tuple entry, or a variadic op's function).
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
_NOPARAMS: dict = {}
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


def backward(records, seeds, sources, mark=None) -> list:
    """Reverse pass over `records`: the cotangent of each of `sources` (None where there is none).

    Only records on a path from a source are replayed, and only inputs that depend on a source
    get a cotangent, so gradients that nobody asked for are never computed. Integer and boolean
    values never receive a cotangent, so nothing flows back through them.

    When nothing sits above the eager interpreter (no outer tape, no trace), nobody needs to see
    the backward pass as ops, so the rules run on the raw NumPy arrays: the same NumPy calls
    without the tensor dispatch. Otherwise they run on tensors/tracers through the current
    interpreter, so an outer tape records them or a trace puts them in the graph.

    `mark` (the tape's, see tape.py) promises that every value the tape tracks depends on a
    source and that no source is a record's output (the sources are the watched tensors): then,
    eagerly, the tracked test is the mark and cotangents live in the tensors' mark slots.
    """
    if mark is not None and core._interp is EAGER:
        return _backward_eager(records, seeds, sources, mark)
    ct = _backward_general(records, seeds, sources)
    return [ct.get(id(s)) for s in sources]


def _parts(rec):
    """(op, out, args, params) of a record in any of its layouts."""
    n = len(rec)
    if n == 3:
        return rec[0], rec[1], (rec[2],), _NOPARAMS
    if n == 4:
        return rec[0], rec[1], (rec[2], rec[3]), _NOPARAMS
    return rec[0], rec[1], rec[2], rec[3]


def _no_rule(op):
    return NotImplementedError(
        f"no gradient rule (vjp) for op `{op.name}`: it is on the path from a watched "
        f"value to the target. Add a vjp to its definition block in runtime/ops, or wrap "
        f"its input in rt.stop_gradient if no gradient should flow through it")


# -- eager, nothing above: raw arrays, cotangents in the tensors' mark slots -------------------

class _Mark:
    """What a tape writes into the `_tm` slot of the tensors it tracks (tape.py): one per tape,
    a new one after reset() or a used-up gradient(), so older tensors stop counting. `ids`: ids
    of values it tracks that don't carry it (a nested tape's mark replaced it, or a tracer)."""
    __slots__ = ("ids",)

    def __init__(self):
        self.ids = set()


_BY_ID = object()      # "tracked through m.ids": its cotangent lives in the side dict


def _backward_eager(records, seeds, sources, m):
    """The eager backward pass when `m` tells what depends on the sources (see backward()).

    A tracked tensor carries `m` in its `_tm` slot; while the pass runs, that slot holds its
    cotangent instead (m is put back when the cotangent is used, or at the end for the
    sources), so the hot loop reads and writes slots instead of dicts keyed by id(). A value
    tracked by id keeps its cotangent in `side`."""
    ids = m.ids
    side: dict = {}
    try:
        for t, g in seeds:
            v = t._v
            _accumulate(t, np.ones(v.shape, v.dtype) if g is None else unbroadcast(_raw(g), v),
                        m, side)
        for rec in reversed(records):
            out = rec[1]
            n = len(rec)
            if n == 5:
                _eager_record(rec[0], out, rec[2], rec[3], m, side)
                continue
            g = out._tm
            if g is m:                      # no cotangent reached it
                continue
            if g is None or g.__class__ is _Mark:
                g = side.pop(id(out), None)     # tracked by id
                if g is None:
                    continue
            else:
                out._tm = m
            op = rec[0]
            rules = op.vjp
            if type(rules) is not tuple:
                _eager_record(op, out, rec[2:], _NOPARAMS, m, side, g)
                continue
            # out has a cotangent, so it is inexact: an input of its dtype is too (the check
            # that keeps integer inputs out costs a second look only for other dtypes)
            ov = out._v
            od = ov.dtype
            a = rec[2]
            if n == 3:
                if not rules or rules[0] is None or type(a) is not Tensor:
                    continue
                try:
                    am = a._tm
                except AttributeError:             # never met a tape: a constant
                    a._tm = None
                    continue
                if am is not m and (am is None or am.__class__ is _Mark):
                    if not (ids and id(a) in ids):
                        continue
                    am = _BY_ID
                va = a._v
                vd = va.dtype
                if vd is not od and vd.kind not in "fc":
                    continue
                c = rules[0](g, ov, va)
                if c is None:
                    continue
                if type(c) is Tensor:
                    c = c._v
                if c.dtype is not vd or (not op.elementwise and c.shape != va.shape):
                    c = unbroadcast(c, va)
                if am is m:
                    a._tm = c
                elif am is _BY_ID:
                    _accumulate(a, c, m, side)
                else:
                    a._tm = am + c
                continue
            b = rec[3]
            ta, tb = type(a) is Tensor, type(b) is Tensor
            va = a._v if ta else a
            vb = b._v if tb else b
            if ta and rules and rules[0] is not None:
                try:
                    am = a._tm
                except AttributeError:             # never met a tape: a constant
                    am = a._tm = None
                if am is not m and (am is None or am.__class__ is _Mark):
                    am = _BY_ID if ids and id(a) in ids else None
                if am is not None:
                    vd = va.dtype
                    if vd is od or vd.kind in "fc":
                        c = rules[0](g, ov, va, vb)
                        if c is not None:
                            if type(c) is Tensor:
                                c = c._v
                            if c.dtype is not vd or c.shape != va.shape:
                                c = unbroadcast(c, va)
                            if am is m:
                                a._tm = c
                            elif am is _BY_ID:
                                _accumulate(a, c, m, side)
                            else:
                                a._tm = am + c
            if tb and len(rules) > 1 and rules[1] is not None:
                try:
                    bm = b._tm                     # (after a's: b may be a)
                except AttributeError:
                    bm = b._tm = None
                if bm is not m and (bm is None or bm.__class__ is _Mark):
                    bm = _BY_ID if ids and id(b) in ids else None
                if bm is not None:
                    vd = vb.dtype
                    if vd is od or vd.kind in "fc":
                        c = rules[1](g, ov, va, vb)
                        if c is not None:
                            if type(c) is Tensor:
                                c = c._v
                            if c.dtype is not vd or c.shape != vb.shape:
                                c = unbroadcast(c, vb)
                            if bm is m:
                                b._tm = c
                            elif bm is _BY_ID:
                                _accumulate(b, c, m, side)
                            else:
                                b._tm = bm + c
        grads = [_take(s, m, side) for s in sources]
    except BaseException:
        _restore(records, seeds, sources, m)    # leave no cotangent in a slot
        raise
    for s in sources:
        if getattr(s, "_tm", None) is not None and s._tm.__class__ is not _Mark:
            s._tm = m
    return grads


def _take(s, m, side):
    c = getattr(s, "_tm", None)
    if c is m or c is None or c.__class__ is _Mark:
        c = side.get(id(s))
    if c is None:
        return None
    t = _new(Tensor)
    t._v = _asarray(c)
    return t


def _accumulate(x, c, m, side) -> None:
    """Add cotangent c to tracked tensor x's (its slot, or the side dict if tracked by id)."""
    cur = getattr(x, "_tm", None)
    if cur is m:
        x._tm = c
    elif cur is None or cur.__class__ is _Mark:
        k = id(x)
        prev = side.get(k)
        side[k] = c if prev is None else prev + c
    else:
        x._tm = cur + c


def _restore(records, seeds, sources, m):
    objs = [t for t, _ in seeds] + list(sources)
    for rec in records:
        out = rec[1]
        objs.extend(out if type(out) is tuple else (out,))
    for o in objs:
        c = getattr(o, "_tm", None)
        if c is not None and c.__class__ is not _Mark:
            o._tm = m


def _eager_record(op, out, args, params, m, side, g=None):
    """One record the eager loop above doesn't specialise: params, several results, a variadic
    op's rule."""
    if g is not None:
        outv = out._v
    elif op.multiple_results:
        gs = [_pop(o, m, side) for o in out]
        if all(gi is None for gi in gs):
            return
        g = tuple(np.zeros_like(o._v) if gi is None else gi for gi, o in zip(gs, out))
        outv = tuple(o._v for o in out)
    else:
        g = _pop(out, m, side)
        if g is None:
            return
        outv = out._v
    rules = op.vjp
    if rules is None:
        raise _no_rule(op)
    vals = tuple(a._v if type(a) is Tensor else a for a in args)
    if type(rules) is not tuple:         # a variadic op's single rule (concat ...)
        rules = [rule_for(op, i) for i in range(len(args))]
    ids = m.ids
    for i, rule in enumerate(rules[:len(args)]):
        a = args[i]
        if rule is None or type(a) is not Tensor:
            continue
        cur = getattr(a, "_tm", None)
        if cur is None or cur.__class__ is _Mark:
            if cur is not m and not (ids and id(a) in ids):
                continue
        v = vals[i]
        if v.dtype.kind not in "fc":
            continue
        c = rule(g, outv, *vals, **params)
        if c is None:
            continue
        if type(c) is Tensor:
            c = c._v
        if c.shape != v.shape or c.dtype is not v.dtype:
            c = unbroadcast(c, v)
        _accumulate(a, c, m, side)


def _pop(x, m, side):
    """x's cotangent (None if none), its slot given back its mark."""
    c = getattr(x, "_tm", None)
    if c is m:
        return None
    if c is None or c.__class__ is _Mark:
        return side.pop(id(x), None)
    x._tm = m
    return c


# -- the general case: any interpreter on top, any sources --------------------------------------

def _backward_general(records, seeds, sources) -> dict:
    """id(value) -> cotangent, for `sources` and what lies between."""
    raw = core._interp is EAGER
    wanted = frozenset(map(id, sources))
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
    for rec in reversed(live):
        op, out, args, params = _parts(rec)
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
            raise _no_rule(op)
        if raw:
            vals = tuple(a._v if type(a) is Tensor else a for a in args)
        else:
            vals = args
        if type(rules) is not tuple:         # a variadic op's single rule (concat ...)
            rules = [rule_for(op, i) for i in range(len(args))]
        for i, rule in enumerate(rules[:len(args)]):
            if rule is None:
                continue
            a = args[i]
            aid = id(a)
            if aid not in reach:
                continue
            v = vals[i]
            if v.dtype.kind not in "fc":
                continue
            c = rule(g, out, *vals, **params)
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
        op, out, args, _ = _parts(rec)
        for a in args:
            if id(a) in reach:
                break
        else:
            continue
        live.append(rec)
        if op.multiple_results:
            reach.update(id(o) for o in out)
        else:
            reach.add(id(out))
    return reach, live
