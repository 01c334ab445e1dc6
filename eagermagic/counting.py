"""Counting eager ops at almost no cost, for the `%%eager` watch.

Every eager op hands its result to `runtime.tensor._alloc()`, which makes the empty Tensor that
will hold it (in C; the runtime's inline fast paths and its eager interpreter all use it). While
counting, `_alloc` is replaced by a chain of C iterators that makes the same Tensor:

    starmap(_alloc, chain.from_iterable(segments()))     # segments: repeat((), every)

so an op still runs no Python code of ours; the count is read from how far the current
`repeat` has got. Every `every` ops the chain asks the `segments()` generator for the next
segment, and that is where `tick()` runs (the watch's look at the clock and the namespace).
The runtime's fast paths stay untouched and the eager interpreter stays on top of the stack.

An op with several results counts once per result. If the runtime stops allocating through
`_alloc`, `OpCounter` falls back to a counting interpreter pushed on the interpreter stack
(every op then takes the runtime's generic route: correct, a little slower).

>>> import numpy as np, runtime as rt
>>> with OpCounter(lambda: None) as c:
...     y = rt.tanh(rt.asarray(np.ones(3)) * 2.0 + 1.0)
>>> c.ops
4
"""
from __future__ import annotations

import itertools

from runtime import Tensor, core, errors
from runtime import tensor as _rt_tensor
from runtime.core import Interpreter

# the fallback interpreter's frames sit between the user and the op: errors name the user's line
errors.skip_frames_of(__file__)


class OpCounter:
    """Context manager: count the runtime's eager ops run inside it and call `tick()` every
    `every` ops (from the thread that ran the op; `every` may be changed at any time, it applies
    from the next tick). `ops` is exact at any time.

    `mode` says how: "alloc" (the C-level counter above) or "interpreter" (the fallback)."""

    def __init__(self, tick, every: int = 16):
        self.tick = tick
        self.every = every
        self.mode = None
        self._done = 0              # ops in finished segments (and in earlier `with` blocks)
        self._seg = None            # the current itertools.repeat: its length hint is what's left
        self._seg_len = every
        self.last_len = every       # ops between the last two ticks
        self._orig = None
        self._interp = None

    @property
    def ops(self) -> int:
        if self._interp is not None:
            return self._interp.ops
        seg = self._seg
        if seg is not None:
            return self._done + self._seg_len - seg.__length_hint__()
        return self._done

    def __enter__(self):
        orig = getattr(_rt_tensor, "_alloc", None)
        if orig is not None and _allocates_tensors(orig):
            self._orig = orig
            self._seg_len = self.every
            self._seg = itertools.repeat((), self.every)
            # (starmap calling the original bound allocator is the cheapest C route: ~13 ns)
            _rt_tensor._alloc = itertools.starmap(orig, itertools.chain.from_iterable(
                self._segments(self._seg))).__next__
            self.mode = "alloc"
        else:
            self._interp = _CountingInterpreter(self, start=self._done)
            core.push_interpreter(self._interp)
            self.mode = "interpreter"
        return self

    def _segments(self, first):
        yield first
        while True:
            # `every` may have changed (the watch adapts it): the next segment has the new length
            self._done += self._seg_len
            self.last_len = self._seg_len           # ops since the previous tick
            n = self._seg_len = self.every
            self._seg = seg = itertools.repeat((), n)
            try:
                self.tick()
            except BaseException:
                # this generator ends with the exception: allocate without it from now on
                self._uninstall()
                raise
            yield seg

    def _uninstall(self):
        if self._orig is not None:
            if self._seg is not None:
                self._done = self.ops
                self._seg = None
            _rt_tensor._alloc = self._orig
            self._orig = None

    def __exit__(self, *exc):
        if self._interp is not None:
            interp, self._interp = self._interp, None
            self._done = interp.ops
            _pop(interp)
        self._uninstall()
        return False


def _allocates_tensors(alloc) -> bool:
    try:
        return type(alloc()) is Tensor
    except Exception:
        return False


def _pop(interp) -> None:
    if core.current_interpreter() is interp:
        core.pop_interpreter(interp)
        return
    top = core.current_interpreter()       # the cell left something of its own on top
    while top is not None and top is not interp:
        top = top.parent
    if top is interp:
        core.set_base_interpreter(interp.parent)


class _CountingInterpreter(Interpreter):
    """The fallback: counts each op and hands it to the interpreter below."""

    def __init__(self, counter: OpCounter, start=0):
        self.counter, self.left, self.done = counter, counter.every, start
        self.n = counter.every

    @property
    def ops(self) -> int:
        return self.done + self.n - self.left

    def _count(self):
        self.left -= 1
        if self.left <= 0:
            self.done += self.n
            self.counter.last_len = self.n
            self.left = self.n = self.counter.every
            self.counter.tick()

    def process(self, op, args, params):
        self._count()
        return self.parent.process(op, args, params)

    def process1(self, op, x):
        self._count()
        return self.parent.process1(op, x)

    def process2(self, op, x, y):
        self._count()
        return self.parent.process2(op, x, y)
