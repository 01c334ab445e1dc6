"""`rt.print`: printing that happens every time a compiled function runs, and hooks that let a
front end tell it apart from Python's `print`, which runs once, while the function is traced.

`rt.print(fmt, *tensors)` is a side-effect op with no result: eagerly it prints at once; under
tracing it becomes a node that passes never fold, merge or drop, and prints on every call.
"""
from __future__ import annotations

import contextlib
import sys

import numpy as np

from .core import Op, bind

# Where run-time output goes: a function taking the finished text (None: sys.stdout at call time).
_print_hook = None
# A factory `(function name) -> context manager` active while a function is traced, so a front
# end can capture or label what Python's `print` writes at trace time.
_trace_hook = None


def set_print_hook(hook) -> object:
    """Send rt.print's text to `hook(text)` instead of sys.stdout (None: back to stdout).
    Returns the previous hook."""
    global _print_hook
    old, _print_hook = _print_hook, hook
    return old


def set_trace_hook(hook) -> object:
    r"""`hook(name)` returns a context manager entered while `rt.function` `name` is traced.

    A front end uses it to mark output printed while tracing (Python `print` runs only then).
    Returns the old hook; None removes it.

    >>> import contextlib, io
    >>> buf = io.StringIO()
    >>> old = rt.set_trace_hook(lambda name: contextlib.redirect_stdout(buf))
    >>> f = rt.function(lambda x: (print("tracing"), x + 1)[1])
    >>> _ = f(rt.ones(2)); _ = f(rt.ones(2))
    >>> buf.getvalue()
    'tracing\n'
    >>> _ = rt.set_trace_hook(old)
    """
    global _trace_hook
    old, _trace_hook = _trace_hook, hook
    return old


def trace_context(name: str):
    """The context the tracing code enters (the hook's, or a no-op)."""
    return _trace_hook(name) if _trace_hook is not None else contextlib.nullcontext()


def _format(fmt, arrays):
    shown = [a.item() if isinstance(a, np.ndarray) and a.ndim == 0 else a for a in arrays]
    try:
        return fmt.format(*shown)
    except (IndexError, KeyError, ValueError) as e:
        raise ValueError(f"rt.print format {fmt!r} does not fit {len(arrays)} value(s): {e}") from None


def _print_impl(*arrays, fmt):
    text = _format(fmt, arrays)
    if _print_hook is not None:
        _print_hook(text)
    else:
        sys.stdout.write(text + "\n")
    return ()


def _print_abstract(*avals, fmt):
    _format(fmt, [np.zeros(getattr(a, "shape", ()), getattr(a, "dtype", np.float64)) for a in avals])
    return []


print_op = Op("debug_print", _print_impl, _print_abstract, side_effect=True,
              multiple_results=True, nondiff=True,
              doc="print values each time the graph runs (never removed by passes)")


def print(fmt: str, *tensors) -> None:  # noqa: A001  (rt.print, as tf.print / jax.debug.print)
    """Print `fmt.format(*values)` now in eager mode, and on every call of a compiled function.

    Python's own `print` inside an `rt.function` runs once, while tracing, and shows Tracers;
    `rt.print` shows the values each time the function runs.

    >>> f = rt.function(lambda x: (rt.print("x = {}", x), x * 2)[1])
    >>> _ = f(rt.asarray(3.0))
    x = 3.0
    >>> _ = f(rt.asarray(4.0))
    x = 4.0
    """
    if not isinstance(fmt, str):
        raise TypeError(f"rt.print's first argument is the format string, got {type(fmt).__name__}; "
                        "write rt.print('{}', x)")
    bind(print_op, *tensors, fmt=fmt)
