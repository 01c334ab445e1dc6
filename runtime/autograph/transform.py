"""The AST rewrite: each `if`, `while` and `for ... in <iterable>` gets a traced twin.

    if x > 0:                      ag__test_1 = x > 0
        y = f(x)                   if ag__.is_traced(ag__test_1):
    else:              ->              def ag__true_1(y): y = f(x); return (y,)
        y = g(x)                       def ag__false_1(y): y = g(x); return (y,)
                                       (y,) = ag__.if_stmt(ag__test_1, ag__true_1, ag__false_1, ...)
                                   else:
                                       if ag__test_1: y = f(x)
                                       else: y = g(x)

A condition is evaluated once; when it is a Python value the original statement runs (so
`break`, `return` and everything else keep Python's meaning), when it is traced the functional
form builds a cond / while_loop / fori_loop node. Generated lines carry the user's line numbers.
"""
from __future__ import annotations

import ast
import copy

from . import analysis as an

_BREAK_FIX = ("A `break`/`continue` directly in the loop or in its `if`s converts; inside a "
              "`with` or `try` it does not: keep a flag variable instead (`done = x > tol`) and "
              "test it in the loop condition (`while i < n and not done:`).")
_IF = "an `if` whose condition is a traced value"
_RETURN_FIX = ("In a loop, `break` out of it and return after the loop. A traced `if` can end "
               "in `return` in both branches (or in the `if` with the rest of the function after "
               "it); elsewhere assign the result to a variable and return it once at the end.")


def _parse(src: str) -> list:
    return ast.parse(src).body


def _at_line(nodes, line):
    for root in nodes:
        for n in ast.walk(root):
            if hasattr(n, "lineno") or isinstance(n, (ast.stmt, ast.expr)):
                n.lineno, n.end_lineno = line, line
                n.col_offset, n.end_col_offset = 0, 0
    return nodes


def _tuple_src(names) -> str:
    return "(" + "".join(f"{n}, " for n in names) + ")"


class Converter:
    def __init__(self, filename: str, funcname: str):
        self.filename = filename
        self.funcname = funcname
        self.k = 0

    def _where(self, line):
        return repr((self.filename, line, self.funcname))

    def _new(self):
        self.k += 1
        return self.k

    # -- blocks ------------------------------------------------------------------------------
    def block(self, stmts, live_after: set) -> list:
        live, after = set(live_after), []
        for s in reversed(stmts):          # what is read later before being surely written
            after.append(live)
            live = an.exposed_loads([s]) | (live - an.definite_stores(s))
        out = []
        for s, later in zip(stmts, reversed(after)):
            out.extend(self.stmt(s, later))
        return out

    @staticmethod
    def lift_returns(stmts):
        """`if c: ...; return a` + rest  ->  `if c: ...; return a  else: rest` (same meaning),
        in every block, so a traced `if` that returns can become one cond whose branches
        both return."""
        for s in stmts:
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                  ast.ClassDef)):
                    setattr(s, field, Converter.lift_returns(inner))
            for h in getattr(s, "handlers", ()):
                h.body = Converter.lift_returns(h.body)
        for i, s in enumerate(stmts):
            if (isinstance(s, ast.If) and not s.orelse and i < len(stmts) - 1
                    and an.always_returns(s.body)):
                s.orelse = Converter.lift_returns(stmts[i + 1:])
                return stmts[:i + 1]
        return stmts

    def function_body(self, body):
        body = self.lift_returns(body)
        if not an.always_returns(body):
            body.append(ast.copy_location(ast.Return(value=None), body[-1]))
        return self.block(body, set())

    def stmt(self, s, live_after):
        if isinstance(s, ast.If):
            return self.if_(s, live_after)
        if isinstance(s, ast.While):
            return self.while_(s, live_after)
        if isinstance(s, ast.For):
            return self.for_(s, live_after)
        if isinstance(s, ast.FunctionDef):       # a nested def (a loss function ...) converts too
            outer, self.funcname = self.funcname, s.name
            s.body = self.function_body(s.body)
            self.funcname = outer
            return [s]
        if isinstance(s, (ast.With, ast.AsyncWith)):
            s.body = self.block(s.body, live_after)
        elif isinstance(s, ast.Try):
            s.body = self.block(s.body, live_after)
            for h in s.handlers:
                h.body = self.block(h.body, live_after)
            s.orelse = self.block(s.orelse, live_after)
            s.finalbody = self.block(s.finalbody, live_after)
        return [s]

    # -- if ----------------------------------------------------------------------------------
    def if_(self, s, live_after):
        k, line = self._new(), s.lineno
        test = self.test(s.test)
        returns = an.always_returns(s.body) and an.always_returns(s.orelse)
        params = an.stores(s.body + s.orelse)
        body = self.block(copy.deepcopy(s.body), live_after)
        orelse = self.block(copy.deepcopy(s.orelse), live_after)
        py_body = self.block(s.body, live_after)
        py_orelse = self.block(s.orelse, live_after)

        traced = self._if_unsupported(s, returns)
        if traced is None:
            outs = None if returns else an.live(params, live_after)
            why = f"it has no value before the `if` at line {line}"
            out_src = None if outs is None else _tuple_src(repr(n) for n in outs)
            call = (f"ag__.if_stmt(ag__test_{k}, ag__true_{k}, ag__false_{k}, "
                    f"ag__.vars(locals(), {_tuple_src(repr(n) for n in params)}, {why!r}), "
                    f"{out_src}, {self._where(line)})")
            tail = f"    return {call}" if returns else (
                f"    {_tuple_src(outs)} = {call}" if outs else f"    {call}")
            traced = _parse(
                f"if True:\n"
                f"    def ag__true_{k}({', '.join(params)}):\n        pass\n"
                f"    def ag__false_{k}({', '.join(params)}):\n        pass\n{tail}\n")[0].body
            ret = [] if returns else _parse(f"return {_tuple_src(outs)}")
            _at_line(traced + ret, line)
            traced[0].body = (body + copy.deepcopy(ret)) or _at_line([ast.Pass()], line)
            traced[1].body = (orelse + copy.deepcopy(ret)) or _at_line([ast.Pass()], line)
        return self._dispatch(k, test, line, traced,
                              [ast.If(test=ast.Name(f"ag__test_{k}", ast.Load()), body=py_body,
                                      orelse=py_orelse)])

    def _if_unsupported(self, s, returns):
        line = s.lineno
        if not returns and an.find(s.body + s.orelse, (ast.Return,)) is not None:
            return self._raise("return", _IF, line, _RETURN_FIX)
        hit = an.find(s.body + s.orelse, (ast.Break, ast.Continue), loop_level=True)
        if hit is not None:
            word = "break" if isinstance(hit, ast.Break) else "continue"
            return self._raise(word, _IF, hit.lineno, _BREAK_FIX)
        hit = an.find(s.body + s.orelse, (ast.Global, ast.Nonlocal))
        if hit is not None:
            return self._raise("global/nonlocal", _IF, hit.lineno,
                               "Return the value instead of assigning an outer variable.")
        return None

    def _raise(self, what, kind, line, fix):
        return _at_line(_parse(f"ag__.unsupported({what!r}, {kind!r}, {line}, {fix!r})"), line)

    def _dispatch(self, k, test, line, traced, python):
        head = _at_line(_parse(f"ag__test_{k} = None\nif ag__.is_traced(ag__test_{k}):\n    pass\n"
                               "else:\n    pass\n"), line)
        head[0].value = test
        head[1].body = traced
        head[1].orelse = python
        return head

    # -- while -------------------------------------------------------------------------------
    def while_(self, s, live_after):
        k, line = self._new(), s.lineno
        loop_live = live_after | an.loads([s.test]) | an.exposed_loads(s.body)
        flag, jumpless = self._without_jumps(s, k)
        params = an.stores(jumpless if jumpless is not None else s.body)
        test = self.test(s.test)
        py_body = self.block(s.body, loop_live)
        py_orelse = self.block(s.orelse, live_after)

        traced = self._loop_unsupported(s, "a `while` loop whose condition is a traced value",
                                        jumpless is not None)
        if traced is None:
            body = self.block(jumpless, loop_live | {flag})
            if flag in params:            # after a `break` the loop condition is false
                test = _and_not(flag, test)
            live = an.live(params, loop_live)
            why = f"it is first assigned inside the `while` loop at line {line}"
            call = (f"ag__.while_stmt(ag__cond_{k}, ag__body_{k}, "
                    f"ag__.vars(locals(), {_tuple_src(repr(n) for n in params)}, {why!r}), "
                    f"{_tuple_src(repr(n) for n in params)}, {_tuple_src(repr(n) for n in live)}, "
                    f"{self._where(line)})")
            traced = _at_line(_parse(
                f"if True:\n"
                f"    def ag__cond_{k}({', '.join(params)}):\n        return None\n"
                f"    def ag__body_{k}({', '.join(params)}):\n        return {_tuple_src(params)}\n"
                f"    {_tuple_src(params)} = {call}\n")[0].body, line)
            traced[0].body[0].value = copy.deepcopy(test)
            traced[1].body = body + traced[1].body
            if flag in params:
                traced[2:2] = _at_line(_parse(f"{flag} = False"), line)
            test = self.test(s.test)
        first = f"ag__first_{k}"
        py = _at_line(_parse(f"{first} = [ag__test_{k}]\nwhile ({first}.pop() if {first} else None):\n"
                             "    pass\n"), line)
        recheck = _at_line(_parse(f"ag__.python_loop_test(None, {line})"), line)[0].value
        recheck.args[0] = copy.deepcopy(test)
        py[1].test.orelse = recheck
        py[1].body = py_body
        py[1].orelse = py_orelse
        return self._dispatch(k, test, line, traced, py)

    def _without_jumps(self, s, k):
        """(flag name, the body with `break`/`continue` rewritten) or (flag, None) if a jump
        sits where the rewrite cannot reach (inside `with`/`try`). `break` sets the flag and
        skips the rest of the body; `continue` skips the rest; later iterations test the flag."""
        flag = f"ag__break_{k}"
        return flag, _rewrite_jumps(copy.deepcopy(s.body), flag)

    def _loop_unsupported(self, s, kind, jumps_ok=False):
        ret = an.find(s.body, (ast.Return,))
        if ret is not None:
            return self._raise("return", kind, ret.lineno, _RETURN_FIX)
        hit = None if jumps_ok else an.find(s.body, (ast.Break, ast.Continue), loop_level=True)
        if hit is not None:
            word = "break" if isinstance(hit, ast.Break) else "continue"
            return self._raise(word, kind, hit.lineno, _BREAK_FIX)
        if s.orelse:
            return self._raise("else", kind, s.lineno, "Move the `else:` block after the loop.")
        hit = an.find(s.body, (ast.Global, ast.Nonlocal))
        if hit is not None:
            return self._raise("global/nonlocal", kind, hit.lineno,
                               "Return the value instead of assigning an outer variable.")
        return None

    # -- for ---------------------------------------------------------------------------------
    def for_(self, s, live_after):
        if not isinstance(s.target, ast.Name):
            s.body = self.block(s.body, live_after | an.exposed_loads(s.body))
            s.orelse = self.block(s.orelse, live_after)
            return [s]
        k, line = self._new(), s.lineno
        target = s.target.id
        # the next iteration assigns the target first; after the last one it is read as left
        loop_live = live_after | (an.exposed_loads(s.body) - {target})
        flag, jumpless = self._without_jumps(s, k)
        assigned = an.stores(jumpless if jumpless is not None else s.body)
        params = [n for n in assigned if n != target]
        py_body = self.block(s.body, loop_live)
        py_orelse = self.block(s.orelse, live_after)

        traced = self._loop_unsupported(s, "a `for i in rt.range(...)` loop (compiled as one loop node)",
                                        jumpless is not None)
        if traced is None:
            if flag in params:            # after a `break` the remaining iterations do nothing
                guard = _at_line(_parse(f"if not {flag}:\n    pass"), line)[0]
                guard.body = jumpless
                jumpless = [guard]
            body = self.block(jumpless, loop_live | {flag})
            live = an.live(params, loop_live)
            # After the loop the target holds its value at the end of the last iteration that
            # ran (the one that broke, if one did). Without a `break` and with the body leaving
            # the target alone that is just the last index; otherwise the loop carries it.
            broke = flag if flag in params else None
            carried = (broke is not None or target in assigned) and bool(an.live([target],
                                                                             live_after))
            outs = ([target] if carried else []) + params
            why = f"it is first assigned inside the `for` loop at line {line}"
            call = (f"ag__.for_stmt(ag__test_{k}, ag__body_{k}, "
                    f"ag__.vars(locals(), {_tuple_src(repr(n) for n in params)}, {why!r}), "
                    f"{_tuple_src(repr(n) for n in params)}, {_tuple_src(repr(n) for n in live)}, "
                    f"{self._where(line)}, ag__.vars(locals(), ({target!r},), {why!r})[0], "
                    f"carry_target={(target if carried else None)!r}, break_flag={broke!r})")
            traced = _at_line(_parse(
                f"if True:\n"
                f"    def ag__body_{k}({', '.join([target] + params)}):\n"
                f"        return {_tuple_src(outs)}\n"
                f"    {_tuple_src([target] + params)} = {call}\n")[0].body, line)
            traced[0].body = body + traced[0].body
            if flag in params:
                traced[1:1] = _at_line(_parse(f"{flag} = False"), line)
        py = ast.For(target=s.target, iter=ast.Name(f"ag__test_{k}", ast.Load()), body=py_body,
                     orelse=py_orelse, type_comment=None)
        _at_line([py.iter], line)
        ast.copy_location(py, s)
        head = _at_line(_parse(f"ag__test_{k} = None\nif ag__.is_range_loop(ag__test_{k}):\n"
                               "    pass\nelse:\n    pass\n"), line)
        head[0].value = s.iter
        head[1].body = traced
        head[1].orelse = [py]
        return head

    # -- conditions: `and`, `or`, `not` on traced values -------------------------------------
    def test(self, node):
        return _BoolOps().visit(copy.deepcopy(node))


class _BoolOps(ast.NodeTransformer):
    """a and b -> ag__.and_(lambda: a, lambda: b); not a -> ag__.not_(a) (lazy, as Python)."""

    def visit_BoolOp(self, node):
        self.generic_visit(node)
        fn = "and_" if isinstance(node.op, ast.And) else "or_"
        call = ast.Call(func=ast.Attribute(ast.Name("ag__", ast.Load()), fn, ast.Load()),
                        args=[ast.Lambda(args=_no_args(), body=v) for v in node.values], keywords=[])
        return ast.copy_location(call, node)

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if not isinstance(node.op, ast.Not):
            return node
        call = ast.Call(func=ast.Attribute(ast.Name("ag__", ast.Load()), "not_", ast.Load()),
                        args=[node.operand], keywords=[])
        return ast.copy_location(call, node)

    def visit_Lambda(self, node):
        return node         # a lambda's body is its own code

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_Lambda


class IfExps(ast.NodeTransformer):
    """a if c else b -> ag__.if_exp(c, lambda: a, lambda: b, where): lazy sides, as Python; the
    test converts `and`/`or`/`not` like an `if`'s. Everywhere in the function, nested lambdas,
    comprehensions and defs included (they run while it does)."""

    def __init__(self, filename: str, funcname: str):
        self.filename, self.funcname = filename, funcname

    def visit_IfExp(self, node):
        self.generic_visit(node)
        where = ast.Constant((self.filename, node.lineno, self.funcname))
        call = ast.Call(func=ast.Attribute(ast.Name("ag__", ast.Load()), "if_exp", ast.Load()),
                        args=[_BoolOps().visit(node.test),
                              ast.Lambda(args=_no_args(), body=node.body),
                              ast.Lambda(args=_no_args(), body=node.orelse), where], keywords=[])
        return ast.copy_location(call, node)


def _no_args():
    return ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[],
                         kwarg=None, defaults=[])


def _rewrite_jumps(block, flag):
    """`block` without `break`/`continue` at its loop's level: what follows a jump moves into
    the other branch of the `if` holding it; `break` also sets `flag`. None: a jump inside a
    statement other than `if` (with, try), which this does not rewrite."""
    out = []
    for i, st in enumerate(block):
        if isinstance(st, ast.Break):
            return out + _at_line(_parse(f"{flag} = True"), st.lineno)
        if isinstance(st, ast.Continue):
            return out
        if an.find([st], (ast.Break, ast.Continue), loop_level=True) is None:
            out.append(st)
            continue
        if not isinstance(st, ast.If):
            return None
        tail = block[i + 1:]
        body = _rewrite_jumps(st.body + copy.deepcopy(tail), flag)
        orelse = _rewrite_jumps(st.orelse + copy.deepcopy(tail), flag)
        if body is None or orelse is None:
            return None
        st.body = body or _at_line([ast.Pass()], st.lineno)
        st.orelse = orelse
        return out + [st]
    return out


def _and_not(flag, test):
    """`not flag and test`, lazily, as the converted condition of a loop with a `break`."""
    call = _parse(f"ag__.and_(lambda: ag__.not_({flag}), lambda: None)")[0].value
    _at_line([call], test.lineno)
    call.args[1].body = test
    return call


# Calls left alone: they depend on the calling frame (super, locals ...) or are builtins that
# never need converting (keeps the converted source readable).
_DIRECT = {"super", "locals", "globals", "vars", "eval", "exec", "print", "len", "range",
           "isinstance", "type", "int", "float", "bool", "str", "tuple", "list", "dict", "zip",
           "enumerate", "min", "max", "abs", "sum", "getattr", "hasattr", "setattr", "repr"}


class CallsThrough(ast.NodeTransformer):
    """f(a, b=c) -> ag__.call(f, a, b=c): helpers the function calls are converted as well."""

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in _DIRECT:
            return node
        call = ast.Call(func=ast.Attribute(ast.Name("ag__", ast.Load()), "call", ast.Load()),
                        args=[node.func, *node.args], keywords=node.keywords)
        return ast.copy_location(call, node)
