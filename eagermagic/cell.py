"""What a notebook cell reads and writes, and the cell turned into a Python function.

Shared by the magics: `analyze(source)` finds the names a cell reads before assigning them
(its free names), the names it assigns, and its last expression; `classify(analysis, ns)` sorts
the free names into tensor inputs, static values and plain globals; `build_function` compiles the
cell as `def cell(<inputs and statics>): <cell body>; return {<assigned names>}` so that
`rt.function` can trace it, with the cell's own line numbers (the source is registered in
`linecache` by the caller).

>>> a = analyze("h = x @ w\\nloss = (h * h).mean()\\nloss")
>>> a.reads, a.assigned, a.last_expr
(['x', 'w'], ['h', 'loss'], True)
"""
from __future__ import annotations

import ast
import builtins
import types
from dataclasses import dataclass, field

import numpy as np

LAST = "__graph_last__"          # holds the value of the cell's last expression
_COLLECT = "__graph_collect__"   # helper the generated function calls to return its outputs
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


@dataclass
class CellAnalysis:
    """The result of `analyze`: names in order of first appearance."""
    source: str
    tree: ast.Module
    reads: list = field(default_factory=list)       # read while possibly not yet assigned
    assigned: list = field(default_factory=list)    # every name the cell binds at top level
    defs: list = field(default_factory=list)        # top-level def/class statements
    last_expr: bool = False                         # the last statement is an expression
    kinds: set = field(default_factory=set)         # statement kinds: "import", "def", "other"
    deleted: list = field(default_factory=list)     # names a `del` at top level removes

    @property
    def empty(self) -> bool:
        return not self.tree.body

    @property
    def only_imports(self) -> bool:
        return self.kinds == {"import"}


def analyze(source: str, filename: str = "<cell>", line_offset: int = 0) -> CellAnalysis:
    """Parse a cell and find what it reads and writes (raises SyntaxError with the cell's line).

    `line_offset` shifts line numbers, e.g. 1 when the cell's first line is the `%%magic` line.
    """
    tree = ast.parse("\n" * line_offset + source, filename, "exec")
    _reject_outside_function_syntax(tree, filename)
    tree.body = [s for s in tree.body if not isinstance(s, ast.Global)]   # no-op at top level
    walker = _Walker()
    for stmt in tree.body:
        walker.visit(stmt)
    a = CellAnalysis(source, tree, list(walker.reads), list(walker.assigned))
    a.deleted = list(walker.deleted)
    a.defs = [s for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    a.last_expr = bool(tree.body) and isinstance(tree.body[-1], ast.Expr)
    for s in tree.body:
        if isinstance(s, (ast.Import, ast.ImportFrom)):
            a.kinds.add("import")
        elif isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            a.kinds.add("def")
        else:
            a.kinds.add("other")
    return a


def _reject_outside_function_syntax(tree, filename):
    """`return`/`yield`/`await` at a cell's top level are errors in a normal cell; wrapping the
    cell in a function must not quietly make them legal."""
    for node in _walk_top_scope(tree):
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            raise SyntaxError(f"`from {node.module} import *` cannot be traced in a %%graph cell: "
                              "import the names you use, or run the import in a normal cell",
                              (filename, node.lineno, node.col_offset + 1, None))
        what = {ast.Return: "'return' outside function", ast.Yield: "'yield' outside function",
                ast.YieldFrom: "'yield' outside function",
                ast.Await: "'await' is not supported in a %%graph cell"}.get(type(node))
        if what:
            err = SyntaxError(what, (filename, node.lineno, node.col_offset + 1, None))
            raise err


def _walk_top_scope(tree):
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, _SCOPES):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


class _Walker(ast.NodeVisitor):
    """Visits a cell in evaluation order, tracking which names are surely assigned so far."""

    def __init__(self):
        self.defined: set = set()
        self.reads: dict = {}
        self.assigned: dict = {}
        self.local_scopes: list = []       # names local to comprehensions and lambdas
        self.deleted: dict = {}

    # -- names --------------------------------------------------------------------------------
    def _read(self, name):
        if any(name in s for s in self.local_scopes):
            return
        if name not in self.defined:
            self.reads.setdefault(name, None)

    def _store(self, name):
        if self.local_scopes and any(name in s for s in self.local_scopes):
            return
        self.defined.add(name)
        self.assigned.setdefault(name, None)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            self._read(node.id)
        elif isinstance(node.ctx, ast.Store):
            self._store(node.id)
        else:  # Del: needs the name bound, so it reads it
            self._read(node.id)
            self.defined.discard(node.id)
            if not self.local_scopes:
                self.deleted.setdefault(node.id, None)

    # -- statements in evaluation order ---------------------------------------------------------
    def visit_Assign(self, node):
        self.visit(node.value)
        for t in node.targets:
            self.visit(t)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self.visit(node.value)
            self.visit(node.target)

    def visit_AugAssign(self, node):
        if isinstance(node.target, ast.Name):
            self._read(node.target.id)
            self.visit(node.value)
            self._store(node.target.id)
        else:
            self.visit(node.value)
            self.visit(node.target)

    def visit_NamedExpr(self, node):
        self.visit(node.value)
        saved, self.local_scopes = self.local_scopes, []   # := binds in the cell's scope
        self.visit(node.target)
        self.local_scopes = saved

    def visit_Import(self, node):
        for alias in node.names:
            self._store(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node):
        for alias in node.names:
            if alias.name != "*":
                self._store(alias.asname or alias.name)

    def _branch(self, stmts, start):
        self.defined = set(start)
        for s in stmts:
            self.visit(s)
        return self.defined

    def visit_If(self, node):
        self.visit(node.test)
        start = set(self.defined)
        a = self._branch(node.body, start)
        b = self._branch(node.orelse, start)
        self.defined = a & b

    def visit_For(self, node):
        self.visit(node.iter)
        start = set(self.defined)
        self.defined = set(start)
        self.visit(node.target)
        self._branch(node.body, self.defined)
        self._branch(node.orelse, start)
        self.defined = start          # the body may not run at all

    visit_AsyncFor = visit_For

    def visit_While(self, node):
        self.visit(node.test)
        start = set(self.defined)
        self._branch(node.body, start)
        self._branch(node.orelse, start)
        self.defined = start

    def visit_Try(self, node):
        start = set(self.defined)
        self._branch(node.body, start)
        for h in node.handlers:
            if h.type is not None:
                self.visit(h.type)
            self.defined = set(start)
            if h.name:
                self._store(h.name)
            self._branch(h.body, self.defined)
        self._branch(node.orelse, start)
        self._branch(node.finalbody, start)
        self.defined = start

    visit_TryStar = visit_Try

    def visit_match_case(self, node):
        self.visit(node.pattern)
        if node.guard is not None:
            self.visit(node.guard)
        for s in node.body:
            self.visit(s)

    def visit_Match(self, node):
        self.visit(node.subject)
        start = set(self.defined)
        for case in node.cases:
            self.defined = set(start)
            self.visit(case)
        self.defined = start

    def visit_MatchAs(self, node):
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name:
            self._store(node.name)

    def visit_MatchStar(self, node):
        if node.name:
            self._store(node.name)

    def visit_MatchMapping(self, node):
        self.generic_visit(node)
        if node.rest:
            self._store(node.rest)

    # -- nested scopes --------------------------------------------------------------------------
    def _scope_reads(self, node):
        """Names a def/class body reads from outside it (conservatively: read now)."""
        for name in _free_names(node):
            self._read(name)

    def visit_FunctionDef(self, node):
        for d in node.decorator_list:
            self.visit(d)
        self._visit_defaults(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        self._store(node.name)            # stored first: a recursive function reads itself
        self._scope_reads(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        for d in node.decorator_list:
            self.visit(d)
        for b in node.bases:
            self.visit(b)
        for k in node.keywords:
            self.visit(k.value)
        self._scope_reads(node)
        self._store(node.name)

    def _visit_defaults(self, args):
        for d in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self.visit(d)

    def visit_Lambda(self, node):
        self._visit_defaults(node.args)
        self.local_scopes.append(set(_arg_names(node.args)))
        self.visit(node.body)
        self.local_scopes.pop()

    def _comprehension(self, node, elts):
        scope: set = set()
        for i, gen in enumerate(node.generators):
            if i > 0:
                self.local_scopes.append(scope)
            self.visit(gen.iter)            # the first iterable is evaluated in the cell's scope
            if i > 0:
                self.local_scopes.pop()
            scope |= {n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
            self.local_scopes.append(scope)
            for cond in gen.ifs:
                self.visit(cond)
            self.local_scopes.pop()
        self.local_scopes.append(scope)
        for e in elts:
            self.visit(e)
        self.local_scopes.pop()

    def visit_ListComp(self, node):
        self._comprehension(node, [node.elt])

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node):
        self._comprehension(node, [node.key, node.value])


def _arg_names(args) -> list:
    every = args.posonlyargs + args.args + args.kwonlyargs
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    return [a.arg for a in every]


def _free_names(scope_node) -> list:
    """Names read inside a def/class (and scopes nested in it) that are not local to them."""
    module = ast.Module(body=[scope_node], type_ignores=[])
    import symtable
    top = symtable.symtable(ast.unparse(module), "<cell>", "exec")
    names: dict = {}

    def walk(table):
        for sym in table.get_symbols():
            # names bound in no enclosing function are global; free ones belong to an outer def
            if sym.is_referenced() and sym.is_global():
                names.setdefault(sym.get_name(), None)
        for child in table.get_children():
            walk(child)

    for child in top.get_children():
        walk(child)
    return list(names)


# ---------------------------------------------------------------------------------------------
# Sorting the free names by what they hold.

def is_array(x) -> bool:
    """A tensor of the runtime or a NumPy array (not a Tracer: those never live in a namespace)."""
    from runtime import Tensor
    return isinstance(x, (Tensor, np.ndarray))


def holds_arrays(x, depth: int = 0) -> bool:
    """x is an array, or a list/tuple/dict with an array somewhere inside."""
    if is_array(x):
        return True
    if depth > 20:
        return False
    if isinstance(x, (list, tuple)):
        return any(holds_arrays(v, depth + 1) for v in x)
    if isinstance(x, dict):
        return any(holds_arrays(v, depth + 1) for v in x.values())
    return False


def _all_leaves_hashable(x, depth=0) -> bool:
    if is_array(x):
        return True
    if isinstance(x, (list, tuple)) and depth < 20:
        return all(_all_leaves_hashable(v, depth + 1) for v in x)
    if isinstance(x, dict) and depth < 20:
        return all(_all_leaves_hashable(v, depth + 1) for v in x.values())
    try:
        hash(x)
    except TypeError:
        return False
    return True


@dataclass
class Bindings:
    """The free names of a cell, sorted: how each reaches the cell function."""
    inputs: list = field(default_factory=list)        # tensors, arrays, containers of them: traced
    statics: list = field(default_factory=list)       # hashable values: part of the cache key
    globals: dict = field(default_factory=dict)       # modules and unhashable objects
    by_identity: list = field(default_factory=list)   # globals keyed by id() (not modules)
    missing: list = field(default_factory=list)       # not in the namespace nor builtins

    @property
    def params(self) -> list:
        return self.inputs + self.statics


def classify(analysis: CellAnalysis, ns: dict) -> Bindings:
    """Sort the cell's free names by the values they hold in the namespace `ns`."""
    b = Bindings()
    for name in analysis.reads:
        if name not in ns:
            if not hasattr(builtins, name) and name not in analysis.assigned:
                b.missing.append(name)
            continue
        value = ns[name]
        if holds_arrays(value):
            b.inputs.append(name)
        elif isinstance(value, types.ModuleType):
            b.globals[name] = value
        elif isinstance(value, (list, tuple, dict)) and _all_leaves_hashable(value):
            b.inputs.append(name)     # a pytree: its numbers are keyed by value by rt.function
        else:
            try:
                hash(value)
                b.statics.append(name)
            except TypeError:
                b.globals[name] = value
                b.by_identity.append(name)
    return b


def static_key(bindings: Bindings, ns: dict) -> tuple:
    """The part of the cache key that rt.function cannot see: identities of the plain globals,
    and of the arrays that functions the cell calls read from their globals or closures (those
    are baked into the graph as constants, so rebinding them must retrace). -> ((label, id), ...)"""
    key = [(f"`{n}`", id(ns[n])) for n in bindings.by_identity]
    for n in bindings.statics:
        fn = ns[n]
        if isinstance(fn, types.FunctionType):
            key.extend((f"`{g}` (read by `{n}`)", id(v)) for g, v in arrays_read_by(fn))
    return tuple(key)


def arrays_read_by(fn) -> list:
    """(name, value) of the arrays a Python function reads from its globals or closure."""
    names, stack = set(), [fn.__code__]
    while stack:
        code = stack.pop()
        names.update(code.co_names)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    glb = fn.__globals__
    found = [(g, glb[g]) for g in sorted(names) if g in glb and holds_arrays(glb[g])]
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        try:
            value = cell.cell_contents
        except ValueError:          # an empty cell
            continue
        if holds_arrays(value):
            found.append((name, value))
    return found


def _collect(local_vars, names):
    return {n: local_vars[n] for n in names if n in local_vars}


def build_function(analysis: CellAnalysis, bindings: Bindings, filename: str, name: str = "cell"):
    """Compile the cell into `def <name>(*params): body; return {assigned: value}`.

    The body keeps the cell's line numbers; its globals are builtins plus `bindings.globals`, so
    the user's namespace is only read through parameters and never written.
    """
    body = [_copy_stmt(s) for s in analysis.tree.body]
    outputs = list(analysis.assigned)
    if analysis.last_expr:
        last = body[-1]
        body[-1] = ast.Assign(targets=[ast.Name(LAST, ast.Store())], value=last.value)
        ast.copy_location(body[-1], last)
        outputs.append(LAST)
    end = body[-1].end_lineno if body else 1
    ret = ast.Return(ast.Call(ast.Name(_COLLECT, ast.Load()),
                              [ast.Call(ast.Name("locals", ast.Load()), [], []),
                               ast.Constant(tuple(outputs))], []))
    fdef = ast.FunctionDef(name=name, args=ast.arguments(
        posonlyargs=[], args=[ast.arg(p) for p in bindings.params], vararg=None, kwonlyargs=[],
        kw_defaults=[], kwarg=None, defaults=[]), body=body + [ret], decorator_list=[],
        returns=None)
    if "type_params" in ast.FunctionDef._fields:      # Python 3.12+
        fdef.type_params = []
    for node in (ret, fdef):
        node.lineno = node.end_lineno = end
        node.col_offset = node.end_col_offset = 0
    module = ast.Module(body=[fdef], type_ignores=[])
    ast.fix_missing_locations(module)
    glb = {"__builtins__": builtins, "__name__": "__graph_cell__", _COLLECT: _collect}
    glb.update(bindings.globals)
    import runtime as rt                 # `if`/`while`/`for rt.range` on traced values -> graph ops
    rt.autograph.convert_module(module, filename)
    glb.update(rt.autograph.module_globals())
    exec(compile(module, filename, "exec"), glb)
    return glb[name]


def _copy_stmt(stmt):
    import copy
    return copy.deepcopy(stmt)


def def_statements_code(analysis: CellAnalysis, filename: str):
    """The cell's top-level def/class statements compiled alone, to run in the user's namespace
    after a successful run (so functions defined in a %%graph cell behave as in a normal cell)."""
    if not analysis.defs:
        return None
    module = ast.Module(body=[_copy_stmt(s) for s in analysis.defs], type_ignores=[])
    return compile(module, filename, "exec")
