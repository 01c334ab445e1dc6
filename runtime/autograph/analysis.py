"""What a block of statements assigns and reads, as much as the conversion needs to know.

Nested functions, lambdas and comprehensions are their own scopes: what they assign is not
ours, but what they read from us counts as a read (over-approximating is the safe direction:
a variable wrongly thought live becomes a loop variable; one wrongly thought dead would vanish).
"""
from __future__ import annotations

import ast

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


ALL = "*"       # in a set of read names: "every variable" (the code calls locals() ...)


def live(names, live_set) -> list:
    """The `names` that are read later (all of them if the code reads locals())."""
    return [n for n in names if n in live_set or ALL in live_set]


class _Names(ast.NodeVisitor):
    def __init__(self):
        self.stores: dict = {}     # ordered set
        self.loads: set = set()

    def visit_Call(self, node):
        if isinstance(node.func, ast.Name) and node.func.id in ("locals", "vars", "eval", "exec"):
            self.loads.add(ALL)          # reads every variable: all of them stay live
        self.generic_visit(node)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            self.loads.add(node.id)
        elif not node.id.startswith("ag__") or node.id.startswith("ag__break"):
            self.stores[node.id] = None

    def _scope(self, node):
        name = getattr(node, "name", None)
        if name is not None:
            self.stores[name] = None
        for d in getattr(node, "decorator_list", ()):
            self.visit(d)
        args = getattr(node, "args", None)
        if isinstance(args, ast.arguments):
            for d in args.defaults + [d for d in args.kw_defaults if d is not None]:
                self.visit(d)
        body = node.body if isinstance(node.body, list) else [node.body]
        self.loads |= loads(body)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = _scope

    def _comp(self, node):
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                self.loads.add(n.id)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comp

    def visit_Import(self, node):
        for a in node.names:
            self.stores[(a.asname or a.name).split(".")[0]] = None

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node):
        if node.name:
            self.stores[node.name] = None
        self.generic_visit(node)


def _scan(nodes) -> _Names:
    v = _Names()
    for n in nodes:
        v.visit(n)
    return v


def stores(nodes) -> list:
    """Names assigned by these statements, in first-assignment order."""
    return list(_scan(nodes).stores)


def loads(nodes) -> set:
    return _scan(nodes).loads


def exposed_loads(stmts) -> set:
    """Names a block reads before it surely assigns them (what it needs from before it)."""
    defined, exposed = set(), set()
    for s in stmts:
        exposed |= _exposed(s) - defined
        defined |= definite_stores(s)
    return exposed


def _exposed(s) -> set:
    if isinstance(s, (ast.For, ast.AsyncFor)):     # the loop target is set before the body reads it
        return (loads([s.iter]) | (exposed_loads(s.body) - set(stores([s.target])))
                | exposed_loads(s.orelse))
    if isinstance(s, ast.If):
        return loads([s.test]) | exposed_loads(s.body) | exposed_loads(s.orelse)
    if isinstance(s, ast.While):
        return loads([s.test]) | exposed_loads(s.body) | exposed_loads(s.orelse)
    return loads([s])


def definite_stores(s) -> set:
    """Names surely assigned once `s` has run (an if assigns what both branches assign)."""
    if isinstance(s, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Import, ast.ImportFrom,
                      ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return set(stores([s]))
    if isinstance(s, ast.If):
        a = set().union(*(definite_stores(x) for x in s.body)) if s.body else set()
        b = set().union(*(definite_stores(x) for x in s.orelse)) if s.orelse else set()
        return a & b
    if isinstance(s, ast.With):
        return set().union(set(), *(definite_stores(x) for x in s.body))
    return set()


def find(stmts, kinds, *, loop_level: bool = False):
    """The first node of one of `kinds` in these statements (not in nested scopes; with
    loop_level, not inside nested loops either: a break there belongs to that loop)."""
    for s in stmts:
        hit = _find(s, kinds, loop_level)
        if hit is not None:
            return hit
    return None


def _find(node, kinds, loop_level):
    if isinstance(node, kinds):
        return node
    if isinstance(node, _SCOPES) or isinstance(node, _COMPS):
        return None
    if loop_level and isinstance(node, (ast.For, ast.While, ast.AsyncFor)):
        return find(node.orelse, kinds, loop_level=True)
    for child in ast.iter_child_nodes(node):
        hit = _find(child, kinds, loop_level)
        if hit is not None:
            return hit
    return None


def always_returns(block) -> bool:
    """Every path through `block` ends in a `return` at its end, and no return is elsewhere."""
    if not block:
        return False
    *head, last = block
    if find(head, (ast.Return,)) is not None:
        return False
    if isinstance(last, ast.Return):
        return True
    if isinstance(last, ast.If):
        return always_returns(last.body) and always_returns(last.orelse)
    return False
