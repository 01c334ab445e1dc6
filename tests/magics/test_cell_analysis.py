"""Cell analysis: which names a cell reads before assigning (inputs), which it assigns (outputs).
Property tests generate cells and use Python itself as the oracle: the cell turned into a function
of its inputs gives the same values as the cell run in a namespace; %%graph gives eager's values."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import runtime as rt
from eagermagic.cell import analyze, build_function, classify
from magic_helpers import run


@pytest.mark.parametrize("source, reads, assigned", [
    ("h = x @ w\nloss = (h * h).mean()\nloss", ["x", "w"], ["h", "loss"]),
    ("x += 1", ["x"], ["x"]),
    ("if c:\n    y = 1\nelse:\n    y = 2\nz = y", ["c"], ["y", "z"]),
    ("if c:\n    y = 1\nz = y", ["c", "y"], ["y", "z"]),            # y may be unassigned
    ("for i in range(3):\n    s = s + i", ["range", "s"], ["i", "s"]),
    ("t = [a * i for i in range(n)]", ["range", "n", "a"], ["t"]),   # i is the comprehension's
    ("def f(z):\n    return z @ w + g(z)\nq = f(x)", ["w", "g", "x"], ["f", "q"]),
    ("class A:\n    k = K\n    def m(self):\n        return self.k * w2", ["K", "w2"], ["A"]),
    ("import numpy as np\nfrom os import path", [], ["np", "path"]),
    ("f = lambda t: t * u", ["u"], ["f"]),
    ("(y := 3) + y", [], ["y"]),
    ("try:\n    y = 1\nexcept E as e:\n    y = e\nz = y", ["E", "y"], ["y", "e", "z"]),
    ("def outer(a):\n    def inner():\n        return a + b\n    return inner", ["b"], ["outer"]),
])
def test_reads_and_assigned_names(source, reads, assigned):
    a = analyze(source)
    assert a.reads == reads and a.assigned == assigned


@pytest.mark.parametrize("source, message", [
    ("return 3", "'return' outside function"),
    ("x = yield 3", "'yield' outside function"),
    ("await thing()", "'await' is not supported"),
])
def test_statements_illegal_in_a_cell_stay_illegal(source, message):
    with pytest.raises(SyntaxError, match=message):
        analyze(source)


def test_classify_sorts_values_by_kind():
    ns = dict(x=rt.ones((2, 3)), w=np.ones((3, 4)), n=3, np=np, p={"w": np.ones(2)},
              cfg=[1, 2], s={1}, f=len)
    a = analyze("h = x @ w * n + p['w'].sum() + len(cfg) + len(s) + f(cfg) + np.pi + undefined")
    b = classify(a, ns)
    assert b.inputs == ["x", "w", "p", "cfg"]        # arrays, and containers (keyed leaf-wise)
    assert b.statics == ["n", "f"]                   # hashable: part of the cache key
    assert b.globals == {"np": np, "s": {1}} and b.by_identity == ["s"]
    assert b.missing == ["undefined"]


# -- property: the cell as a function of its inputs behaves like the cell -------------------------

NAMES = ["a", "b", "c", "d"]


@st.composite
def statements(draw, depth=0):
    kind = draw(st.sampled_from(["assign", "aug", "if", "for"] if depth < 2 else ["assign", "aug"]))
    target = draw(st.sampled_from(NAMES))
    x, y = draw(st.sampled_from(NAMES)), draw(st.sampled_from(NAMES))
    if kind == "assign":
        expr = draw(st.sampled_from([f"{x} + {y}", f"{x} * 0.5 - {y}", f"rt.tanh({x})",
                                     f"rt.sum({x}, axis=0, keepdims=True) + {y}", f"{x}"]))
        return [f"{target} = {expr}"]
    if kind == "aug":
        return [f"{target} += {x}"]
    body = draw(st.lists(statements(depth + 1), min_size=1, max_size=3))
    inner = ["    " + line for stmt in body for line in stmt]
    if kind == "if":
        flag = draw(st.sampled_from(["flag", "not flag"]))
        orelse = draw(st.lists(statements(depth + 1), max_size=2))
        head = [f"if {flag}:"] + inner
        return head + (["else:"] + ["    " + line for s in orelse for line in s] if orelse else [])
    return [f"for _k in range({draw(st.integers(0, 2))}):"] + inner


cells = st.lists(statements(), min_size=1, max_size=6).map(
    lambda stmts: "\n".join(line for s in stmts for line in s))


def _namespace(present, flag):
    rng = np.random.default_rng(0)
    ns = {"rt": rt, "flag": flag}
    for n in present:
        ns[n] = rt.asarray(rng.normal(size=(3, 4)))
    return ns


@settings(max_examples=60, deadline=None)
@given(cells, st.sets(st.sampled_from(NAMES)), st.booleans())
def test_cell_function_matches_running_the_cell(source, present, flag):
    ns = _namespace(present, flag)
    expected = dict(ns)
    try:
        exec(compile(source, "<cell>", "exec"), expected)
        error = None
    except NameError as e:
        error = e
    a = analyze(source)
    b = classify(a, ns)
    fn = build_function(a, b, "<cell>")
    if error is not None:
        with pytest.raises(NameError):         # UnboundLocalError is a NameError
            fn(*[ns[p] for p in b.params])
        return
    got = fn(*[ns[p] for p in b.params])
    for name in a.assigned:
        if name in got:
            np.testing.assert_allclose(np.asarray(got[name]), np.asarray(expected[name]))
        else:
            assert expected.get(name) is ns.get(name)   # not assigned on this path


# the test sets every name it uses on each example, so sharing the shell across examples is safe
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells, st.booleans())
def test_graph_cell_matches_eager_cell(ip, source, flag):
    """The same cell through %%graph and as plain Python: every name ends up with the same value."""
    ns = _namespace(NAMES, flag)
    ip.user_ns.update(ns)
    eager = dict(ns)
    exec(compile(source, "<cell>", "exec"), eager)
    res, cap = run(ip, "%%graph --show none\n" + source + "\n")
    assert res.success, cap.stdout
    for name in NAMES:
        np.testing.assert_allclose(np.asarray(ip.user_ns[name]), np.asarray(eager[name]),
                                   rtol=1e-12, atol=1e-12)


FAILING_LINES = ["boom = undefined_name + 1", "boom = a @ rt.ones((5, 5))",
                 "boom = {}['missing']", "boom = rt.reshape(a, (7,))"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells, st.booleans(), st.sampled_from(FAILING_LINES), st.integers(0, 100))
def test_a_failing_graph_cell_never_changes_the_namespace(ip, source, flag, bad, where):
    """Whatever the cell did before the failing line, nothing of it reaches the namespace."""
    lines = source.split("\n")
    top = [i for i, line in enumerate(lines) if not line.startswith((" ", "else"))] + [len(lines)]
    at = top[where % len(top)]                       # between top-level statements
    broken = "\n".join(lines[:at] + [bad] + lines[at:])
    ip.user_ns.update(_namespace(NAMES, flag))
    before = {k: v for k, v in ip.user_ns.items() if not k.startswith("_")}
    res, cap = run(ip, "%%graph --show none\n" + broken + "\n")
    assert not res.success
    after = {k: v for k, v in ip.user_ns.items() if not k.startswith("_")}
    assert after.keys() == before.keys() and all(after[k] is before[k] for k in before)
