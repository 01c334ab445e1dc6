"""Autograph: Python `if`/`while`/`for i in rt.range(n)` and `a if c else b` on traced values
become graph control flow (rt.cond, rt.while_loop, rt.fori_loop) when a function is compiled
with `rt.function`; `and`/`or`/`not` in their conditions become logical ops.

The function's source comes from `linecache` (so functions defined in a notebook cell, whose
source the front end registers there, convert too), is rewritten (see transform.py) and
compiled under its own file name and line numbers, so errors and tracebacks point at the
user's lines. Conditions on Python values run exactly as written.

What converts: the body of the function given to rt.function (helpers it calls run as
written: convert them with `rt.autograph.convert` or use rt.cond). Documented limits, each
with its own error when the condition is traced: `break`/`continue` inside a `with` or `try`
in a converted loop (elsewhere they work: a flag and guarded code); `return` inside a
converted loop, or in an `if` except at the end of both branches (or an `if` followed by the
rest of the function); a `while`/`for` with `else:`; variables assigned in only one branch and
used afterwards; loop variables changing shape or dtype; loop variables that are not tensors or
numbers.

>>> def f(x):
...     if rt.sum(x) > 0:
...         y = x * 2
...     else:
...         y = -x
...     return y
>>> g = rt.function(f)                       # autograph is on by default
>>> g(rt.asarray([1.0, -3.0]))                # the sum is negative: the else branch
Tensor([-1.,  3.], dtype=float64)
"""
from __future__ import annotations

import ast
import inspect
import linecache
import os
import site
import textwrap
import types

from . import operators
from .operators import AutographError, Undefined  # noqa: F401  (public)
from .transform import CallsThrough, Converter, IfExps

__all__ = ["convert", "convert_module", "module_globals", "to_source", "why_not", "AutographError",
           "ConversionSkipped"]


class ConversionSkipped(Exception):
    """The function cannot be converted (no source, a lambda, ...): it runs as written."""


_cache: dict = {}      # code object -> (factory code, freevar names) or the reason it was skipped


def convert(fn):
    """A version of `fn` whose `if`/`while`/`for ... in rt.range(...)` on traced values build
    graph control flow. Returns `fn` itself when it cannot be converted (see `why_not`).

    >>> h = rt.autograph.convert(lambda x: x)   # lambdas are not converted
    >>> h(1)
    1
    """
    try:
        return _convert(fn)
    except ConversionSkipped:
        return fn


_LIBRARY_DIRS = tuple({os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,
                        os.path.dirname(os.__file__) + os.sep,
                        *(p + os.sep for p in site.getsitepackages() if p)})


def convert_user_function(f):
    """`f` converted if it is a plain Python function of user code (not the runtime's, the
    standard library's or an installed package's), else `f` itself."""
    code = getattr(f, "__code__", None)
    if (not isinstance(f, types.FunctionType) or code is None or f.__name__ == "<lambda>"
            or getattr(f, "__ag_original__", None) is not None
            or code.co_filename.startswith(_LIBRARY_DIRS) or code.co_filename.startswith("<frozen")):
        return f
    return convert(f)


def convert_module(module: ast.Module, filename: str) -> ast.Module:
    r"""Convert every top-level def of a module AST in place, for a caller (a notebook front end)
    that builds functions as ASTs. Exec the compiled module with `module_globals()` added to
    its globals (the converted code calls `ag__`).

    >>> tree = ast.parse("def f(x):\n    if rt.sum(x) > 0:\n        x = -x\n    return x\n")
    >>> ns = {"rt": rt, **rt.autograph.module_globals()}
    >>> exec(compile(rt.autograph.convert_module(tree, "<cell>"), "<cell>", "exec"), ns)
    >>> rt.function(ns["f"])(rt.asarray([1.0, 2.0]))
    Tensor([-1., -2.], dtype=float64)
    """
    for i, node in enumerate(module.body):
        if isinstance(node, ast.FunctionDef):
            node.body = [CallsThrough().visit(s) for s in node.body]
            node.body = Converter(filename, node.name).function_body(node.body)
    ast.fix_missing_locations(module)
    return module


def module_globals() -> dict:
    """What code made by `convert_module` needs in its globals."""
    return {"ag__": operators}


def why_not(fn) -> str | None:
    """Why `fn` is not converted (None when it is)."""
    try:
        _convert(fn)
        return None
    except ConversionSkipped as e:
        return str(e)


def to_source(fn) -> str:
    """The converted source of `fn` (for reading what autograph does)."""
    tree, _ = _converted_ast(fn)
    return ast.unparse(tree)


def _convert(fn):
    code = getattr(fn, "__code__", None)
    if code is None or not isinstance(fn, types.FunctionType):
        raise ConversionSkipped(f"{fn!r} is not a Python function")
    if (getattr(fn, "__ag_original__", None) is not None or "ag__" in code.co_freevars
            or "ag__" in code.co_names):
        return fn               # converted already (a def nested in converted code is, too)
    hit = _cache.get(code)
    if hit is None:
        try:
            tree, name = _converted_ast(fn)
            module = compile(tree, code.co_filename, "exec")
        except ConversionSkipped as e:
            hit = _cache[code] = e
        else:
            factory = next(c for c in module.co_consts if isinstance(c, types.CodeType)
                           and c.co_name == "ag__factory")
            hit = _cache[code] = (factory, name)
    if isinstance(hit, ConversionSkipped):
        raise hit
    factory_code, name = hit
    factory = types.FunctionType(factory_code, fn.__globals__, "ag__factory")
    cells = []
    for var, cell in zip(code.co_freevars, fn.__closure__ or ()):
        try:
            cells.append(cell.cell_contents)
        except ValueError:
            cells.append(Undefined(var, "it had no value when the function was converted"))
    new = factory(operators, *cells)
    new.__defaults__ = fn.__defaults__
    new.__kwdefaults__ = fn.__kwdefaults__
    new.__name__, new.__qualname__, new.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    new.__module__ = fn.__module__
    new.__ag_original__ = fn
    return new


def _source(fn):
    code = fn.__code__
    lines = linecache.getlines(code.co_filename, fn.__globals__)
    if not lines:
        raise ConversionSkipped(f"no source for {fn.__qualname__} ({code.co_filename}): it was not "
                                "defined in a file or a registered notebook cell")
    block = inspect.getblock(lines[code.co_firstlineno - 1:])
    return "".join(block), code.co_firstlineno


def _converted_ast(fn):
    if fn.__code__.co_flags & (inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR):
        raise ConversionSkipped("generators and coroutines are not converted")
    if fn.__name__ == "<lambda>":
        raise ConversionSkipped("lambdas are not converted (write a def to use `if` on traced values)")
    src, first = _source(fn)
    try:
        tree = ast.parse(textwrap.dedent(src))
    except SyntaxError as e:
        raise ConversionSkipped(f"the source of {fn.__qualname__} could not be parsed: {e}") from None
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not defs or defs[0].name != fn.__name__:
        raise ConversionSkipped(f"the source at {fn.__code__.co_filename}:{first} is not the "
                                f"definition of {fn.__name__}")
    fdef = defs[0]
    if isinstance(fdef, ast.AsyncFunctionDef):
        raise ConversionSkipped("async functions are not converted")
    ast.increment_lineno(tree, first - 1)
    fdef.decorator_list = []
    fdef.body = [CallsThrough().visit(s) for s in fdef.body]
    if_exps = IfExps(fn.__code__.co_filename, fn.__name__)
    fdef.body = [if_exps.visit(s) for s in fdef.body]
    fdef.body = Converter(fn.__code__.co_filename, fn.__name__).function_body(fdef.body)
    freevars = list(fn.__code__.co_freevars)
    factory = ast.parse(f"def ag__factory(ag__, {', '.join(freevars)}):\n    pass\n").body[0]
    for n in ast.walk(factory):
        if hasattr(n, "lineno"):
            n.lineno = n.end_lineno = fdef.lineno
    factory.body = [fdef, ast.copy_location(ast.Return(value=ast.Name(fdef.name, ast.Load())), fdef)]
    module = ast.Module(body=[factory], type_ignores=[])
    ast.fix_missing_locations(module)
    return module, fdef.name
