"""The gradient tape: an interpreter that records ops on watched values (backward.py replays them).

`GradientTape` sits on the interpreter stack (runtime/core.py) above eager or tracing. Every op
is handed down to the parent interpreter, which computes it; the tape only records it when an
input depends on a watched value. Records are flat tuples: (op, out, x) and (op, out, x, y) for
one- and two-input ops without params (nearly all of them), (op, out, args, params, None) for
the rest (outputs as a tuple for an op with several results).

Dependence: a tracked eager Tensor carries the tape's mark in its `_tm` slot (`t._tm is mark`,
one pointer comparison on the hot path); a value that cannot carry it (a tracer), or whose mark
another tape replaced (nested tapes tracking the same tensor), is tracked by id in `mark.ids`.
The records and the watched list keep those objects alive, so an id can't be reused meanwhile.

The backward pass (backward.py) walks the records in reverse and calls the vjp rules. They are
written with runtime ops and run on whatever interpreter is current: eagerly they compute now,
under `rt.function` they become nodes of the same graph (and are optimized with it), and under
an outer tape they are recorded again, which is how second derivatives work.
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import core
from ..core import Interpreter
from ..errors import user_location
from ..ops.creation import asarray, zeros_like
from ..pytree import flatten, unflatten
from .. import tensor as _tensor
from ..surface import ArrayMethods
from ..tensor import EAGER, ESCAPE_HOOKS, Tensor
from .backward import _Mark, backward

_ndarray = np.ndarray
_asarray = np.asarray

_NOPARAMS: dict = {}
_OFF = _Mark()      # a paused tape's `_rec`: no value carries it and its ids stay empty


class NoneGradientWarning(UserWarning):
    """A gradient came back None, most likely because the path from source to target was cut."""


class NotDifferentiableError(TypeError):
    """Asked for a gradient of, or with respect to, an integer or boolean value."""


def is_inexact(x) -> bool:
    dt = getattr(x, "dtype", None)
    return dt is not None and dt.kind in "fc"


# Tapes that want to hear when a tensor is turned into NumPy or a Python number (`.numpy()`,
# `float(t)`, `np.asarray(t)`): such a conversion cuts the path the tape can follow.
_LISTENING: list = []


def note_escape(t, how: str) -> None:
    """Called by Tensor when its value leaves the runtime; tapes tracking `t` remember where."""
    for tape in _LISTENING:
        if tape.tracks(t):
            tape._note_cut((how, _type_str(t), user_location()))


def _track(x, m) -> None:
    """Mark `x` as tracked by the tape whose mark is `m` (a new output, or a watched value)."""
    if type(x) is Tensor:
        old = getattr(x, "_tm", None)
        if old is not None and old is not m:
            old.ids.add(id(x))      # the tape that marked it first keeps tracking it by id
        x._tm = m
    else:
        m.ids.add(id(x))


def _track_all(op, out, m) -> None:
    if op.multiple_results:
        for o in out:
            _track(o, m)
    else:
        _track(out, m)


def _tracked(x, m) -> bool:
    if type(x) is Tensor and getattr(x, "_tm", None) is m:
        return True
    ids = m.ids
    return bool(ids) and id(x) in ids


def _type_str(x) -> str:
    from ..dtypes import short_type
    shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
    if shape is None or dtype is None:
        return type(x).__name__
    return short_type(dtype, shape)


class GradientTape(Interpreter):
    """Record operations on watched tensors, then compute gradients (TensorFlow's shape of API).

    >>> import runtime as rt
    >>> w = rt.asarray([1.0, 2.0])
    >>> with rt.GradientTape() as tape:
    ...     tape.watch(w)
    ...     loss = rt.sum(w * w)
    >>> tape.gradient(loss, w)
    Tensor([2., 4.], dtype=float64)

    persistent=True allows several `gradient` calls. Tapes nest: a gradient computed while an
    outer tape records is recorded too, so the outer tape differentiates it (higher order). It
    works the same inside `rt.function`, where the backward pass becomes part of the graph.
    """

    records_ops = True     # rt.function asks this: under a tape it runs its Python function
    # runtime/tensor.py asks this: directly over eager, Tensor's operators and rt.tanh & co
    # compute inline and record into `_append` when an input carries `_rec` (see process2)
    records_inline = True
    # (class defaults, so a new tape costs little: P1g's recording figure includes it)
    _late_watch = False          # watch() of a value already computed on the tape
    _cuts = ()                   # (how, type, location) of tracked values that escaped
    _nondiff = frozenset()       # names of nondiff ops applied to tracked values
    _last_none = ()
    _p, _p1, _p2 = EAGER.process, EAGER.process1, EAGER.process2   # the parent's (see __enter__)

    def __init__(self, persistent: bool = False):
        self.persistent = persistent
        self._records: list | None = []
        self._append = self._records.append
        self._mark = self._rec = _Mark()   # what tracked values carry / what recording checks
        self._watched: list = []       # keeps watched objects (and so their ids) alive

    def _note_nondiff(self, name: str) -> None:
        if not self._nondiff:
            self._nondiff = set()
        self._nondiff.add(name)

    def _note_cut(self, cut) -> None:
        if not self._cuts:
            self._cuts = []
        self._cuts.append(cut)

    # -- the interpreter part (hot path: keep it short) -------------------------------------
    def process(self, op, args, params):
        out = self._p(op, args, params)
        m = self._rec
        for a in args:
            if _tracked(a, m):
                break
        else:
            return out
        if op.nondiff:
            self._note_nondiff(op.name)
            return out
        if out is None:                  # an effect without a result (rt.print)
            return out
        self._records.append((op, out, args, params, None))
        if op.multiple_results:
            for o in out:
                _track(o, m)
        else:
            _track(out, m)
        return out

    def _generic1(self, op, x):
        out = self._p1(op, x)
        m = self._rec
        if _tracked(x, m):
            if op.nondiff:
                self._note_nondiff(op.name)
            else:
                self._records.append((op, out, (x,), _NOPARAMS, None) if op.multiple_results
                                     else (op, out, x))
                _track_all(op, out, m)
        return out

    def _generic2(self, op, x, y):
        out = self._p2(op, x, y)
        m = self._rec
        if _tracked(x, m) or _tracked(y, m):
            if op.nondiff:
                self._note_nondiff(op.name)
            else:
                self._records.append((op, out, (x, y), _NOPARAMS, None) if op.multiple_results
                                     else (op, out, x, y))
                _track_all(op, out, m)
        return out

    # core.bind1/bind2 land here: when the parent is the eager interpreter, NumPy is called
    # directly (one Python frame less per op; P1g in benchmarks/bench_autodiff.py measures it)
    def process1(self, op, x):
        if type(x) is not Tensor or self.parent is not EAGER:
            return self._generic1(op, x)
        try:
            r = op.impl(x._v)
        except Exception:
            return self._generic1(op, x)          # the eager interpreter raises its error message
        if type(r) is not _ndarray:
            r = _asarray(r)
        out = _tensor._alloc()     # looked up each time: the %%eager op counter swaps it
        out._v = r
        m = self._rec
        if _tracked(x, m) and not op.nondiff:
            out._tm = m
            self._append((op, out, x))
        else:
            out._tm = None
            if op.nondiff and _tracked(x, m):
                self._note_nondiff(op.name)
        return out

    def process2(self, op, x, y):
        if self.parent is not EAGER:
            return self._generic2(op, x, y)
        tp = type(x)
        if tp is Tensor:
            xv = x._v
        elif tp is float or tp is int:
            xv = x
        else:
            return self._generic2(op, x, y)
        tp = type(y)
        if tp is Tensor:
            yv = y._v
        elif tp is float or tp is int:
            yv = y
        else:
            return self._generic2(op, x, y)
        try:
            r = op.impl(xv, yv)
        except Exception:
            return self._generic2(op, x, y)
        if type(r) is not _ndarray:
            r = _asarray(r)
        out = _tensor._alloc()     # looked up each time: the %%eager op counter swaps it
        out._v = r
        m = self._rec
        hit = _tracked(x, m) or _tracked(y, m)
        if hit and not op.nondiff:
            out._tm = m
            self._append((op, out, x, y))
        else:
            out._tm = None
            if hit:
                self._note_nondiff(op.name)
        return out

    # -- context manager ---------------------------------------------------------------------
    def __enter__(self):
        if self._records is None:
            raise RuntimeError("this GradientTape was already used for a gradient (it is not "
                               "persistent): make a new tape, or use GradientTape(persistent=True)")
        core.push_interpreter(self)
        p = self.parent
        if p is not EAGER:
            self._p, self._p1, self._p2 = p.process, p.process1, p.process2
        if not _LISTENING:
            ESCAPE_HOOKS.append(note_escape)
        _LISTENING.append(self)
        return self

    def __exit__(self, *exc):
        core.pop_interpreter(self)
        if self.parent is not EAGER:
            del self._p, self._p1, self._p2      # back to the class's (EAGER's)
        _LISTENING.remove(self)
        if not _LISTENING and note_escape in ESCAPE_HOOKS:
            ESCAPE_HOOKS.remove(note_escape)
        return False

    # -- user API ------------------------------------------------------------------------------
    def watch(self, tensor) -> None:
        """Track `tensor` (or every tensor in a list/tuple/dict of them) from now on."""
        if self._records is None:
            raise RuntimeError("this GradientTape already computed its gradient (it is not "
                               "persistent): start a new tape to watch more tensors")
        m = self._mark
        if type(tensor) is Tensor and not m.ids:     # the usual case, short (P1g includes it)
            old = getattr(tensor, "_tm", None)
            if old is not m:
                if old is not None:
                    old.ids.add(id(tensor))      # the tape that marked it keeps tracking it
                tensor._tm = m
                self._watched.append(tensor)
                return
        for t in ((tensor,) if type(tensor) is Tensor else flatten(tensor)[0]):
            if not isinstance(t, ArrayMethods):
                raise TypeError(
                    f"tape.watch needs tensors, got {type(t).__name__}: the tape follows tensors, "
                    "so make it one first (w = rt.asarray(w)) and use that tensor in the computation")
            if _tracked(t, m):
                self._late_watch = True    # already an output: backward keeps its cotangent
            _track(t, m)
            self._watched.append(t)

    def tracks(self, x) -> bool:
        """Whether `x` is watched, or was computed from a watched value while recording."""
        return _tracked(x, self._mark)

    def recorded_ops(self) -> list:
        """Names of the ops recorded so far, in order: what `gradient` replays backwards. (A
        compiled rt.function called on the tape is one op, named after it.)"""
        return [rec[0].name for rec in self._records or ()]

    def watched_count(self) -> int:
        return len(self._watched)

    class _Pause:
        __slots__ = ("tape",)

        def __init__(self, tape):
            self.tape = tape

        def __enter__(self):
            self.tape._set_rec(_OFF)

        def __exit__(self, *exc):
            self.tape._set_rec(self.tape._mark)

    def stop_recording(self):
        """Context manager: ops inside it are not recorded (their results are constants)."""
        return GradientTape._Pause(self)

    def reset(self) -> None:
        """Forget everything recorded and watched."""
        self._records = []
        self._append = self._records.append
        paused = self._rec is _OFF
        self._mark = _Mark()
        self._set_rec(_OFF if paused else self._mark)
        self._late_watch = False
        self._watched.clear()
        self._cuts = ()
        self._nondiff = frozenset()

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """d target / d sources, shaped like `sources` (a tensor, or a list/tuple/dict of them).

        target: a tensor (or a list of them: their gradients add up); a non-scalar target is
        treated as its sum unless `output_gradients` (same structure) says how to weigh it.
        unconnected_gradients: "none" (default, as TensorFlow) gives None for a source the
        target does not depend on; "zero" gives zeros. `tape.explain_none()` says why a
        gradient was None.
        """
        if self._records is None:
            raise RuntimeError("a non-persistent GradientTape can compute gradients only once; "
                               "use GradientTape(persistent=True) to call gradient() again")
        mode = getattr(unconnected_gradients, "value", unconnected_gradients)
        if mode not in ("none", "zero"):
            raise ValueError(f"unconnected_gradients must be 'none' or 'zero', got {unconnected_gradients!r}")
        # one tensor each (the usual call) skips flattening
        src_leaves, src_def = ([sources], "*") if type(sources) is Tensor else flatten(sources)
        tgt_leaves = [target] if type(target) is Tensor else flatten(target)[0]
        if output_gradients is None:
            og = [None] * len(tgt_leaves)
        else:
            og = flatten(output_gradients)[0]
            if len(og) != len(tgt_leaves):
                raise ValueError(f"output_gradients has {len(og)} tensors for {len(tgt_leaves)} targets")
        for k, s in enumerate(src_leaves):
            if not is_inexact(s):
                raise NotDifferentiableError(
                    f"source {k} is {_type_str(s)}: gradients exist only with respect to "
                    f"floating-point tensors (integer and boolean values are not differentiable). "
                    f"Cast it first (x = x.astype(rt.float64)) and use the cast tensor")
        grads = self._gradient(tgt_leaves, src_leaves, og)
        self._last_none = []
        if any(g is None for g in grads):      # (not `None in`: tensors compare elementwise)
            names = _source_names(sources)
            for k, g in enumerate(grads):
                if g is None:
                    self._last_none.append(self._explain(names[k], src_leaves[k], tgt_leaves))
                    if mode == "zero":
                        grads[k] = zeros_like(src_leaves[k])
        if not self.persistent:
            self._release()
        loud = [why for why, warn in self._last_none if warn]
        if loud and mode == "none":
            warnings.warn("tape.gradient returned None:\n" + "\n".join(loud), NoneGradientWarning,
                          stacklevel=2)
        return grads[0] if src_def == "*" else unflatten(src_def, grads)

    def explain_none(self) -> str:
        """Why the last `gradient` call returned None for some sources (empty if it did not)."""
        from ..function import Explanation
        return Explanation("\n".join(why for why, _ in self._last_none))

    # -- internals ---------------------------------------------------------------------------
    def _release(self):
        # a used non-persistent tape records nothing more, even if still inside its `with`
        self._records = None
        self._mark = _Mark()              # nothing carries it: nothing more is recorded
        self._set_rec(self._mark)
        self._watched = []

    def _gradient(self, targets, sources, out_grads):
        seeds = []
        for t, g in zip(targets, out_grads):
            if not _tracked(t, self._mark):
                continue
            if not is_inexact(t):
                raise NotDifferentiableError(
                    f"the target is {_type_str(t)}: integer and boolean results are not "
                    "differentiable (comparisons, argmax/argmin, casts to int, floor_divide ...). "
                    "Differentiate a floating-point value computed before them")
            if g is not None and not hasattr(g, "shape"):
                g = asarray(g)
            seeds.append((t, g))
        if not seeds:
            return [None] * len(sources)
        saved = self._rec
        self._set_rec(_OFF)                  # don't record our own backward pass
        try:
            return backward(self._records, seeds, sources,
                            self._mark if self._sources_are_the_watched(sources) else None)
        finally:
            self._set_rec(saved)

    def _set_rec(self, m) -> None:
        self._rec = m
        if core._interp is self:           # the inline route keeps a copy (runtime/tensor.py)
            _tensor._track_top(self)

    def _sources_are_the_watched(self, sources) -> bool:
        """The usual case, which backward() speeds up: the sources are exactly the watched
        tensors, none of them computed on the tape (so everything tracked depends on them)."""
        if self._late_watch or not all(type(s) is Tensor for s in sources):
            return False
        if len(sources) == 1 and len(self._watched) == 1:
            return sources[0] is self._watched[0]
        return set(map(id, sources)) == set(map(id, self._watched))

    def _explain(self, name, source, targets):
        """(text, is_likely_a_mistake) for a None gradient of the source called `name`."""
        what = f"{name} ({_type_str(source)})"
        cuts = "".join(f"\n    - a value computed from watched tensors ({t}) was converted by {how}"
                       f"{f' at {loc}' if loc else ''}: the tape cannot follow NumPy arrays or "
                       "Python numbers, so everything computed from it is a constant"
                       for how, t, loc in self._cuts)
        if self._nondiff:
            cuts += (f"\n    - watched values went through {', '.join(sorted(self._nondiff))}, "
                     "which have no gradient (their results are integers, booleans or "
                     "piecewise constant)")
        tgt_tracked = any(self.tracks(t) for t in targets)
        if not self.tracks(source):
            return (f"  {what} was never watched: call tape.watch(x) inside the `with` block "
                    "before computing with x (only watched tensors and values computed from them "
                    "are recorded)." + cuts, True)
        if not tgt_tracked:
            kinds = ", ".join(sorted({type(t).__name__ for t in targets}))
            why = (f"  {what}: the target ({kinds}) was not computed from any watched tensor while "
                   "the tape was recording. Was it computed outside the `with` block, or from "
                   "a Python number or NumPy array?")
            return why + cuts, bool(self._cuts) or not all(hasattr(t, "shape") for t in targets)
        return (f"  {what}: the target does not depend on it (the path between them is cut or "
                "never existed)." + cuts, bool(self._cuts))


def _source_names(sources) -> list:
    """'the source', or 'source [1]' / "source ['b']" ... for each leaf of `sources`."""
    from ..pytree import leaf_paths
    paths = leaf_paths(sources)
    if paths == [""]:
        return ["the source"]
    return ["source " + "".join(f"[{int(p)}]" if p.isdigit() else f"[{p!r}]"
                                for p in path.split("_")[1:]) for path in paths]
