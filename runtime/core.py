"""The op model and `bind`.

An `Op` is defined once: `impl` (NumPy), `abstract_eval` (shapes and dtypes), `vjp` (gradients,
written with runtime ops), `emit` (codegen) and properties that passes ask. Every public function
ends in `bind(op, ...)`; what bind *does* is decided by the current interpreter (eager, tracing,
a gradient tape), so modes are interpreters swapped on a stack, never `if mode ==` inside ops.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np


class ShapedArray:
    """An abstract value: just a shape and a dtype (what tracing knows about a tensor)."""
    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        from .dtypes import short_type
        return short_type(self.dtype, self.shape)


class Op:
    """One primitive operation, defined in one block and read by every interpreter and pass.

    impl(*arrays, **params) -> ndarray (or tuple for multiple results)
    abstract_eval(*avals, **params) -> (shape, dtype) (or a list of them)
    vjp: tuple of rules, one per input: rule(cotangent, out, *inputs, **params) -> cotangent
         for that input, or None where the input is not differentiable.
    emit: None (call impl by the op's name), a template like "{0} + {1}", or a callable
          (arg_exprs, params) -> expression string.
    """
    __slots__ = ("name", "impl", "abstract_eval", "vjp", "emit", "elementwise", "reduction",
                 "movement", "random", "side_effect", "multiple_results", "nondiff", "doc")

    def __init__(self, name: str, impl: Callable, abstract_eval: Callable, *, vjp=None, emit=None,
                 elementwise=False, reduction=False, movement=False, random=False,
                 side_effect=False, multiple_results=False, nondiff=False, doc="", register=True):
        self.name = name
        self.impl = impl
        self.abstract_eval = abstract_eval
        self.vjp = vjp
        self.emit = emit
        self.elementwise = elementwise
        self.reduction = reduction
        self.movement = movement
        self.random = random
        self.side_effect = side_effect
        self.multiple_results = multiple_results
        self.nondiff = nondiff          # outputs are never differentiable (comparisons, argmax ...)
        self.doc = doc
        if not register:         # made at run time for one use (function_tape.py): not a primitive
            return
        if name in OPS:
            raise ValueError(f"op {name!r} is defined twice")
        OPS[name] = self

    @property
    def pure(self) -> bool:
        """Safe to fold, merge or drop: no randomness and no side effect."""
        return not (self.random or self.side_effect)

    def __repr__(self):
        return f"<op {self.name}>"


OPS: dict[str, Op] = {}   # every op by name; tests iterate over it


# ----------------------------------------------------------------------------------------------
# The interpreter stack. `_interp` is the top; each interpreter knows its parent so a tape or a
# nested trace can hand the actual computation down.

class Interpreter:
    parent: "Interpreter | None" = None
    level = 0

    def process(self, op: Op, args: tuple, params: dict) -> Any:
        raise NotImplementedError

    def process1(self, op: Op, x):
        return self.process(op, (x,), {})

    def process2(self, op: Op, x, y):
        return self.process(op, (x, y), {})


_interp: Interpreter = None  # type: ignore[assignment]  # set by tensor.py to the eager interpreter

# Called with the new top interpreter after every change of the stack. The eager Tensor keeps a
# flag "the eager interpreter is on top" this way, so its inline fast paths test one global.
on_switch: list = []


def _set_top(interp) -> None:
    global _interp
    _interp = interp
    for fn in on_switch:
        fn(interp)


def current_interpreter() -> Interpreter:
    return _interp


def push_interpreter(interp: Interpreter) -> Interpreter:
    interp.parent = _interp
    interp.level = _interp.level + 1 if _interp is not None else 0
    _set_top(interp)
    return interp


def pop_interpreter(interp: Interpreter) -> None:
    if _interp is not interp:
        raise RuntimeError("interpreter stack corrupted: popping an interpreter that is not on top")
    _set_top(interp.parent)


def set_base_interpreter(interp: Interpreter) -> None:
    _set_top(interp)


class using:
    """Context manager: run the body with `interp` on top of the stack."""
    __slots__ = ("interp",)

    def __init__(self, interp):
        self.interp = interp

    def __enter__(self):
        return push_interpreter(self.interp)

    def __exit__(self, *exc):
        pop_interpreter(self.interp)
        return False


def bind(op: Op, *args, **params):
    """Apply `op` to `args` in the current mode."""
    return _interp.process(op, args, params)


def bind1(op: Op, x):
    """bind for a one-input op without params (the hot path of unary math)."""
    return _interp.process1(op, x)


def bind2(op: Op, x, y):
    """bind for a two-input op without params (the hot path of + - * /)."""
    return _interp.process2(op, x, y)
