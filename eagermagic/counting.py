"""Counting eager ops at almost no cost, for the `%%eager` watch.

`OpCounter` puts a counting eager interpreter on the runtime's interpreter stack for the length
of a cell; every `every` ops it calls `tick()` (where the watch looks at the clock and the
namespace). Two details keep the count cheap (~a counter decrement per op):

- The counter lives in a closure cell shared by every counting function; a cell is cheaper to
  update than an attribute, and the functions are installed as the interpreter's `process*`
  instance attributes, so a call costs what `EagerInterpreter`'s methods cost.
- The runtime runs Tensor operators (`t * u`) and `rt.<elementwise>(x)` inline, with no
  interpreter call, while the plain eager interpreter is on top (runtime/tensor.py). With a
  counting interpreter on top they would take the generic route, a Python frame more per op. So
  while counting, counting copies of exactly those inline paths are installed (Tensor's
  operators, the `runtime` and `runtime.ops.elementwise` attributes) and the runtime's own are put
  back afterwards. Each copy does what the runtime's does (tests compare them), plus the count.

When something else is on top of the stack (a gradient tape, a trace), the copies hand over to
the runtime's originals, which go to that interpreter; ops that reach us from above are counted
by the interpreter methods.

>>> import numpy as np, runtime as rt
>>> with OpCounter(lambda: None) as c:
...     y = rt.tanh(rt.asarray(np.ones(3)) * 2.0 + 1.0)
>>> c.ops
4
"""
from __future__ import annotations

import numpy as np

import runtime
from runtime import Tensor, core
from runtime import tensor as _rt_tensor
from runtime import errors as _errors
from runtime.errors import op_error, user_location
from runtime.ops import elementwise as _ew
from runtime.surface import BINARY_OPERATORS, UNARY_OPERATORS
from runtime.tensor import EagerInterpreter, _coerce

_new = object.__new__
_ndarray = np.ndarray
# our copies of the runtime's fast paths are machinery too: an error names the user's line
_errors.skip_frames_of(__file__)
_generic_process = EagerInterpreter.process
_generic_process2 = EagerInterpreter.process2


class CountingInterpreter(EagerInterpreter):
    """The interpreter object pushed on the stack; its `process*` are set per instance."""


class OpCounter:
    """Context manager: count the runtime ops run inside it, calling `tick()` every `every` ops.

    `ops` is exact at any time. `fast_paths` says whether the runtime's inline fast paths were
    replaced by counting copies (False when the runtime's design changed: then ops still count,
    through the generic route, a little slower)."""

    def __init__(self, tick, every: int = 16):
        self.tick = tick
        self.every = every
        self.interp = None
        self.fast_paths = False
        self._ops = None
        self._restore = []

    @property
    def ops(self) -> int:
        return self._ops() if self._ops is not None else 0

    # -- install / uninstall ---------------------------------------------------------------------
    def __enter__(self):
        top = core.current_interpreter()
        plain = type(top) is EagerInterpreter
        self.interp, self._ops, patches, on_switch = _build(self.tick, self.every, delegate=not plain,
                                                            start=self.ops)
        core.push_interpreter(self.interp)
        if plain and hasattr(core, "on_switch") and getattr(_rt_tensor, "_OUT_ELLIPSIS", False):
            core.on_switch.append(on_switch)
            on_switch(core.current_interpreter())
            self._restore.append(lambda: core.on_switch.remove(on_switch))
            for owner, name, fn in patches:
                old = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
                setattr(owner, name, fn)
                self._restore.append(lambda o=owner, n=name, f=old: setattr(o, n, f))
            self.fast_paths = True
        return self

    def __exit__(self, *exc):
        for undo in reversed(self._restore):
            undo()
        self._restore = []
        interp = self.interp
        if core.current_interpreter() is interp:
            core.pop_interpreter(interp)
        else:   # the cell left something of its own on top: it cannot outlive the cell
            top = core.current_interpreter()
            while top is not None and top is not interp:
                top = top.parent
            if top is interp:
                core.set_base_interpreter(interp.parent)
        return False


def _is_runtime_inline(fn) -> bool:
    """Is `fn` one of runtime/tensor.py's inline fast paths (the ones we may replace)?"""
    code = getattr(fn, "__code__", None)
    return code is not None and code.co_filename == _rt_tensor.__file__


def _build(tick, every: int, delegate: bool, start: int = 0):
    """The counting functions, sharing one counter cell. Returns (interpreter, ops(), patches,
    on_switch) where patches are (owner, name, counting function) to install."""
    left = every
    done = start        # entering the same OpCounter again continues its count
    on_top = False
    interp = CountingInterpreter()

    def ops():
        return done + every - left

    def count_tick():
        nonlocal left, done
        done += every - left
        left = every
        tick()

    def on_switch(top):
        nonlocal on_top
        on_top = top is interp

    # -- the interpreter's methods ---------------------------------------------------------------
    if delegate:        # something other than the plain eager interpreter is below: hand down
        def process(op, args, params):
            nonlocal left
            left -= 1
            if left <= 0:
                count_tick()
            return interp.parent.process(op, args, params)

        def process1(op, x):
            nonlocal left
            left -= 1
            if left <= 0:
                count_tick()
            return interp.parent.process1(op, x)

        def process2(op, x, y):
            nonlocal left
            left -= 1
            if left <= 0:
                count_tick()
            return interp.parent.process2(op, x, y)
    else:
        def process(op, args, params):      # the generic route is slow anyway: no copy needed
            nonlocal left
            left -= 1
            if left <= 0:
                count_tick()
            return _generic_process(interp, op, args, params)

        def process1(op, x):
            nonlocal left
            left -= 1
            if left <= 0:
                count_tick()
            try:
                r = op.impl(x._v if type(x) is Tensor else _coerce(x))
            except Exception as e:
                raise op_error(op.name, (x,), {}, e, user_location(), "in eager mode") from e
            if type(r) is not _ndarray:
                r = np.asarray(r)
            t = _new(Tensor)
            t._v = r
            return t

        def process2(op, x, y):
            nonlocal left
            left -= 1
            if left <= 0:
                count_tick()
            try:
                r = op.impl(x._v if type(x) is Tensor else _coerce(x),
                            y._v if type(y) is Tensor else _coerce(y))
            except Exception as e:
                raise op_error(op.name, (x, y), {}, e, user_location(), "in eager mode") from e
            if type(r) is not _ndarray:
                r = np.asarray(r)
            t = _new(Tensor)
            t._v = r
            return t

    interp.process, interp.process1, interp.process2 = process, process1, process2

    # -- counting copies of the runtime's inline fast paths -------------------------------------
    def binary_method(name, op, swapped, original):
        impl = op.impl

        def method(self, other):
            nonlocal left
            if not on_top:
                return original(self, other)
            left -= 1
            if left <= 0:
                count_tick()
            if type(other) is Tensor:
                o = other._v
            elif type(other) is float or type(other) is int:
                o = other
            else:   # uncounted generic body: the count was taken above
                return _generic_process2(interp, op, other, self) if swapped else \
                    _generic_process2(interp, op, self, other)
            try:
                r = impl(o, self._v, out=...) if swapped else impl(self._v, o, out=...)
            except Exception as e:
                args = (other, self) if swapped else (self, other)
                raise op_error(op.name, args, {}, e, user_location(), "in eager mode") from e
            t = _new(Tensor)
            t._v = r
            return t
        method.__name__ = method.__qualname__ = name
        return method

    def unary_method(name, op, original):
        impl = op.impl

        def method(self):
            nonlocal left
            if not on_top:
                return original(self)
            left -= 1
            if left <= 0:
                count_tick()
            try:
                r = impl(self._v, out=...)
            except Exception as e:
                raise op_error(op.name, (self,), {}, e, user_location(), "in eager mode") from e
            t = _new(Tensor)
            t._v = r
            return t
        method.__name__ = method.__qualname__ = name
        return method

    def function1(op, original):
        impl = op.impl

        def fn(x, /):
            nonlocal left
            if not on_top or type(x) is not Tensor:
                return original(x)      # (not on top, or the generic route, which counts)
            left -= 1
            if left <= 0:
                count_tick()
            try:
                r = impl(x._v, out=...)
            except Exception as e:
                raise op_error(op.name, (x,), {}, e, user_location(), "in eager mode") from e
            t = _new(Tensor)
            t._v = r
            return t
        fn.__name__, fn.__qualname__, fn.__doc__ = original.__name__, original.__qualname__, original.__doc__
        return fn

    def function2(op, original):
        impl = op.impl

        def fn(x1, x2, /):
            nonlocal left
            if not on_top:
                return original(x1, x2)
            if type(x1) is Tensor and type(x2) is Tensor:
                a, b = x1._v, x2._v
            elif type(x1) is Tensor and (type(x2) is float or type(x2) is int):
                a, b = x1._v, x2
            else:
                return original(x1, x2)     # the generic route, which counts
            left -= 1
            if left <= 0:
                count_tick()
            try:
                r = impl(a, b, out=...)
            except Exception as e:
                raise op_error(op.name, (x1, x2), {}, e, user_location(), "in eager mode") from e
            t = _new(Tensor)
            t._v = r
            return t
        fn.__name__, fn.__qualname__, fn.__doc__ = original.__name__, original.__qualname__, original.__doc__
        return fn

    patches = []
    for name, (op, swapped) in BINARY_OPERATORS.items():
        fn = Tensor.__dict__.get(name)
        if _is_runtime_inline(fn):
            patches.append((Tensor, name, binary_method(name, op, swapped, fn)))
    for name, op in UNARY_OPERATORS.items():
        fn = Tensor.__dict__.get(name)
        if _is_runtime_inline(fn):
            patches.append((Tensor, name, unary_method(name, op, fn)))
    made = {}
    for table, make in ((getattr(_ew, "UNARY_OPS", {}), function1),
                        (getattr(_ew, "BINARY_OPS", {}), function2)):
        for name, op in table.items():
            fn = getattr(_ew, name, None)
            if _is_runtime_inline(fn) and fn not in made:
                made[fn] = make(op, fn)
    for module in (_ew, runtime):          # every name (and alias) bound to an inline function
        for attr, value in list(vars(module).items()):
            try:
                hit = made.get(value) if callable(value) else None
            except TypeError:      # an unhashable callable: not one of ours
                hit = None
            if hit is not None:
                patches.append((module, attr, hit))
    return interp, ops, patches, on_switch
