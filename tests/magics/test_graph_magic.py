"""%%graph in a real IPython shell: binding, caching and retracing, failures that change nothing,
options, what is displayed. Values are checked against NumPy."""
import re
import warnings

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

import runtime as rt
from magic_helpers import run, svgs, user_names

SETUP = """
x = rt.asarray(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3))
w = rt.asarray(np.linspace(0.5, -0.5, 6, dtype=np.float32).reshape(3, 2))
"""
CELL = """%%graph
h = rt.tanh(x @ w)
loss = rt.mean(h * h)
loss
"""


def _np(sh, name):
    return np.asarray(sh.user_ns[name])


@pytest.fixture
def xw(ip):
    ip.run_cell(SETUP)
    return ip


# -- binding and values ---------------------------------------------------------------------------

def test_outputs_are_bound_with_numpy_values_and_last_expression_is_the_result(xw):
    x, w = _np(xw, "x"), _np(xw, "w")
    res, cap = run(xw, CELL)
    assert res.success, cap.stdout
    h = np.tanh(x @ w)
    np.testing.assert_allclose(_np(xw, "h"), h, rtol=1e-6)
    np.testing.assert_allclose(_np(xw, "loss"), np.mean(h * h), rtol=1e-6)
    assert isinstance(xw.user_ns["h"], rt.Tensor)
    np.testing.assert_allclose(np.asarray(res.result), np.mean(h * h), rtol=1e-6)
    assert "traced (first run of this cell)" in cap.stdout
    inputs = re.search(r"Inputs \((.*?)\);", cap.stdout).group(1)
    assert sorted(inputs.split(", ")) == ["w: f32[3,2]", "x: f32[4,3]"]
    assert "bound h, loss" in cap.stdout


def test_run_cell_magic_directly_returns_last_value(xw):
    with capture_output():
        value = xw.run_cell_magic("graph", "--show none", "y = x * 2\ny.sum()")
    np.testing.assert_allclose(np.asarray(value), (_np(xw, "x") * 2).sum(), rtol=1e-6)
    np.testing.assert_allclose(_np(xw, "y"), _np(xw, "x") * 2)


def test_input_is_also_an_output(xw):
    before = _np(xw, "x").copy()
    res, cap = run(xw, "%%graph --show none\nx = x + 1\n")
    assert res.success
    np.testing.assert_allclose(_np(xw, "x"), before + 1)


def test_numpy_arrays_dicts_and_static_numbers_as_inputs(ip):
    ip.run_cell("a = np.arange(6.0).reshape(2, 3)\nparams = {'w': np.ones((3, 2)), 'b': rt.zeros((2,))}\n"
                "scale = 3\nact = rt.tanh")
    res, cap = run(ip, "%%graph --show none\nout = act(a @ params['w'] + params['b']) * scale\n"
                       "pair = [out, out.sum()]")
    assert res.success, cap.stdout
    want = np.tanh(np.arange(6.0).reshape(2, 3) @ np.ones((3, 2))) * 3
    np.testing.assert_allclose(_np(ip, "out"), want)
    assert isinstance(ip.user_ns["pair"], list)
    np.testing.assert_allclose(np.asarray(ip.user_ns["pair"][1]), want.sum())
    # the static number is part of the cache key: a new value retraces and says so
    ip.run_cell("scale = 4")
    res, cap = run(ip, "%%graph --show none\nout = act(a @ params['w'] + params['b']) * scale\n"
                       "pair = [out, out.sum()]")
    assert "retrace because scale: 3 -> 4" in cap.stdout
    np.testing.assert_allclose(_np(ip, "out"), want / 3 * 4)


# -- cache hits and retraces ----------------------------------------------------------------------

def test_cache_hit_then_retrace_with_reason(xw):
    run(xw, CELL)
    res, cap = run(xw, CELL)
    assert re.search(r"cache hit: reused the graph compiled for \((w: f32\[3,2\], x: f32\[4,3\]|"
                     r"x: f32\[4,3\], w: f32\[3,2\])\)", cap.stdout), cap.stdout
    assert "traced" not in cap.stdout.split("cache hit")[0]
    xw.run_cell("x = rt.asarray(np.ones((7, 3), dtype=np.float32))")
    res, cap = run(xw, CELL)
    assert "retraced (retrace because x: f32[4,3] -> f32[7,3])" in cap.stdout
    assert re.search(r"trace \d+\.\d\d ms, optimize \d+\.\d\d ms, codegen \d+\.\d\d ms", cap.stdout)
    assert _np(xw, "h").shape == (7, 2)
    # a dtype change is named too
    xw.run_cell("x = rt.asarray(np.ones((7, 3)))")
    res, cap = run(xw, CELL)
    assert "x: f32[7,3] -> f64[7,3]" in cap.stdout


def test_a_cell_that_keeps_retracing_gets_a_graph_specific_warning(xw):
    cell = "%%graph --show none\ny = x * lr\n"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(7):
            xw.user_ns["lr"] = 0.1 * (i + 1)
            run(xw, cell)
    messages = [str(w.message) for w in caught if issubclass(w.category, rt.RetracingWarning)]
    assert len(messages) == 1                       # warned once, at the fifth trace
    assert "%%graph: this cell has been traced 5 times" in messages[0]
    assert "retrace because lr: 0.4" in messages[0] and "rt.asarray(n)" in messages[0]


def test_rebinding_a_plain_global_object_retraces_by_identity(ip):
    ip.run_cell("class Cfg:\n    __hash__ = None\n    k = 2.0\ncfg = Cfg()\nx = rt.ones((2, 2))")
    cell = "%%graph --show none\ny = x * cfg.k\n"
    run(ip, cell)
    run(ip, cell)
    ip.run_cell("cfg = Cfg(); cfg.k = 5.0")
    res, cap = run(ip, cell)
    assert "`cfg` is a different object than last time" in cap.stdout
    np.testing.assert_allclose(_np(ip, "y"), 5.0)


def test_rebinding_an_array_a_called_function_reads_retraces(ip):
    """A function from the namespace that reads a global tensor bakes it into the graph as a
    constant; rebinding that tensor must not leave a stale graph behind."""
    ip.run_cell("W = rt.ones((2, 2))\ndef layer(z):\n    return z @ W\nx = rt.ones((1, 2))")
    cell = "%%graph --show none\ny = layer(x)\n"
    run(ip, cell)
    np.testing.assert_allclose(_np(ip, "y"), [[2.0, 2.0]])
    res, cap = run(ip, cell)
    assert "cache hit" in cap.stdout
    ip.run_cell("W = rt.ones((2, 2)) * 10")
    res, cap = run(ip, cell)
    assert "retrace because `W` (read by `layer`) is a different object than last time" in cap.stdout
    np.testing.assert_allclose(_np(ip, "y"), [[20.0, 20.0]])


# -- nothing is lost on failure -------------------------------------------------------------------

FAILURES = {
    "syntax": ("%%graph\nh = rt.tanh(x @ w\nloss = 1\n", "SyntaxError"),
    "name": ("%%graph\nh = rt.tanh(x @ w)\nloss = h * undefined_name\n", "NameError"),
    "read before assigned": ("%%graph\nh = rt.tanh(x @ w)\nloss = later + h\nlater = 1\n",
                             "NameError"),
    "shape": ("%%graph\nh = rt.tanh(x @ w)\nloss = x @ x\n", "RuntimeOpError"),
    "concretization": ("%%graph\nh = rt.tanh(x @ w)\nloss = h * float(rt.sum(h))\n",
                       "ConcretizationError"),
    "autograph: one branch": ("%%graph\nh = rt.tanh(x @ w)\nif rt.sum(h) > 0:\n    loss = h\n",
                              "loss"),
    "python exception": ("%%graph\nh = rt.tanh(x @ w)\nloss = {}['missing']\n", "KeyError"),
    "run time": ("%%graph\nh = rt.tanh(x @ w)\nloss = x[idx] * 2\n", "RuntimeOpError"),
}


@pytest.mark.parametrize("kind", list(FAILURES))
def test_failure_leaves_namespace_exactly_as_before(xw, kind):
    source, error = FAILURES[kind]
    xw.run_cell("idx = rt.asarray(np.array([0, 9]))\nh = 'old h'")
    before = user_names(xw)
    res, cap = run(xw, source)
    assert not res.success
    assert error in cap.stdout + cap.stderr
    assert user_names(xw) == before          # same names, same objects
    assert xw.user_ns["h"] == "old h"
    assert "loss" not in xw.user_ns


def test_error_points_at_the_cells_own_line(xw):
    res, cap = run(xw, "%%graph\nh = rt.tanh(x @ w)\n\nloss = x @ x\n")
    out = cap.stdout + cap.stderr
    assert "line 4" in out and "loss = x @ x" in out
    assert re.search(r"at In\[\d+\]:4: loss = x @ x", out)
    # the traceback starts at the cell: the magic's machinery is not shown
    assert "graph_run.py" not in out and "function.py" not in out


def test_if_on_a_traced_value_becomes_graph_control_flow(xw):
    """Autograph converts the cell: `if` on a tensor is a cond in the graph, both ways right."""
    cell = "%%graph --show none\nh = x @ w\nif rt.sum(h) > 0:\n    y = h * 2\nelse:\n    y = -h\n"
    for sign in (1.0, -1.0):
        xw.user_ns["w"] = rt.asarray(sign * np.abs(_np(xw, "w")) + 0.01 * sign)
        xw.user_ns["x"] = rt.asarray(np.abs(_np(xw, "x")))
        res, cap = run(xw, cell)
        assert res.success, cap.stdout
        h = _np(xw, "x") @ _np(xw, "w")
        np.testing.assert_allclose(_np(xw, "y"), h * 2 if h.sum() > 0 else -h, rtol=1e-6)
    assert "cache hit" in cap.stdout          # one graph serves both branches


def test_keyboard_interrupt_while_tracing_changes_nothing(xw):
    before = user_names(xw)
    with capture_output() as cap:
        with pytest.raises(KeyboardInterrupt):
            xw.run_cell_magic("graph", "", "h = rt.tanh(x @ w)\nraise KeyboardInterrupt\n")
    assert user_names(xw) == before
    assert "interrupted; the namespace is unchanged" in cap.stderr


def test_keyboard_interrupt_while_timing_changes_nothing(xw):
    before = user_names(xw)
    calls = []

    def interrupting_op(v):        # a static function the cell calls: runs eagerly while timing
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return v
    xw.user_ns["maybe_stop"] = interrupting_op
    before = user_names(xw)
    with capture_output():
        with pytest.raises(KeyboardInterrupt):
            xw.run_cell_magic("graph", "--compare -n 1 -r 1", "h = maybe_stop(rt.tanh(x @ w))\n")
    assert user_names(xw) == before


# -- print at trace time, options, messages --------------------------------------------------------

def test_python_print_is_labelled_trace_time_and_not_repeated(xw):
    cell = "%%graph --show none\nh = x * 2\nprint('tracing with', h.shape)\n"
    res, cap = run(xw, cell)
    assert "trace-time output (Python print runs once, while tracing" in cap.stdout
    assert "tracing with (4, 3)" in cap.stdout
    res, cap = run(xw, cell)
    assert "tracing with" not in cap.stdout and "cache hit" in cap.stdout
    assert "Python print in this cell ran when it was traced, not now" in cap.stdout


def test_print_before_a_failure_is_still_shown(xw):
    res, cap = run(xw, "%%graph\nprint('about to fail', x.shape)\ny = x @ x\n")
    assert not res.success
    assert "trace-time output" in cap.stdout and "about to fail (4, 3)" in cap.stdout


def test_unknown_option_shows_usage(xw):
    res, cap = run(xw, "%%graph --bogus\ny = x\n")
    assert not res.success
    assert isinstance(res.error_in_exec, UsageError)
    assert "unrecognized arguments: --bogus" in str(res.error_in_exec)
    assert "[--compare]" in str(res.error_in_exec) and "[--show {traced,optimized,both,none}]" in str(res.error_in_exec)
    assert "y" not in xw.user_ns


def test_unknown_pass_names_the_available_ones(xw):
    res, cap = run(xw, "%%graph --passes nosuchpass\ny = x\n")
    assert isinstance(res.error_in_exec, UsageError)
    assert "unknown pass(es) nosuchpass" in str(res.error_in_exec)
    for name in rt.passes.PASSES:
        assert name in str(res.error_in_exec)


def test_help_documents_the_options(xw):
    doc = xw.find_cell_magic("graph").__doc__
    assert "(like %%timeit)" in doc
    for opt in ("--compare", "-n N", "-r R", "--show", "--code", "--no-optimize", "--passes",
                "--check", "--profile", "--explore", "--max-nodes", "-o"):
        assert opt in doc, opt


def test_a_cell_with_no_body_gets_ipythons_usage_message(ip):
    res, cap = run(ip, "%%graph\n")
    assert isinstance(res.error_in_exec, UsageError)       # IPython's own check, before the magic
    assert "cell body is empty" in str(res.error_in_exec)
    assert "Traceback" not in cap.stdout + cap.stderr


@pytest.mark.parametrize("source, message", [
    ("%%graph\n\n", "the cell is empty"),
    ("%%graph\n# only a comment\n\n", "the cell is empty"),
    ("%%graph\nimport math\nimport os.path\n", "this cell only imports"),
    ("%%graph\nn = 3\ntext = 'abc' * n\n", "this cell computes no tensors"),
])
def test_cells_without_tensors_get_a_message_not_a_traceback(ip, source, message):
    res, cap = run(ip, source)
    assert res.success
    assert message in cap.stdout
    assert "Traceback" not in cap.stdout + cap.stderr
    assert not svgs(cap)
    if "import math" in source:
        assert ip.user_ns["math"].__name__ == "math" and ip.user_ns["os"].__name__ == "os"
    if "text" in source:
        assert ip.user_ns["text"] == "abcabcabc"


def test_functions_and_classes_defined_in_the_cell_are_traced_through_and_kept(xw):
    res, cap = run(xw, "%%graph --show none\ndef layer(z):\n    return rt.tanh(z @ w)\n"
                       "class Scale:\n    k = 2.0\ny = layer(x) * Scale.k\n")
    assert res.success, cap.stdout
    want = np.tanh(_np(xw, "x") @ _np(xw, "w")) * 2
    np.testing.assert_allclose(_np(xw, "y"), want, rtol=1e-6)
    # the function works afterwards, eagerly, with the namespace's w (as in a normal cell)
    layer = xw.user_ns["layer"]
    np.testing.assert_allclose(np.asarray(layer(xw.user_ns["x"])), want / 2, rtol=1e-6)
    assert xw.user_ns["Scale"].k == 2.0
    assert not rt.is_tracer(layer(xw.user_ns["x"]))


def test_del_in_the_cell_removes_the_name_as_in_a_normal_cell(xw):
    xw.run_cell("tmp = rt.ones((4, 3))")
    res, cap = run(xw, "%%graph --show none\ny = x + tmp\ndel tmp\n")
    assert res.success, cap.stdout
    assert "tmp" not in xw.user_ns
    np.testing.assert_allclose(_np(xw, "y"), _np(xw, "x") + 1)


def test_star_import_is_refused_with_a_clear_message(xw):
    res, cap = run(xw, "%%graph\nfrom math import *\ny = x * pi\n")
    assert isinstance(res.error_in_exec, SyntaxError)
    assert "import the names you use" in str(res.error_in_exec)
    assert "y" not in xw.user_ns


@pytest.mark.parametrize("line, what", [("%time h = x * 2", "%time is a line magic"),
                                        ("!ls", "!ls is a shell command")])
def test_magic_and_shell_lines_are_explained_not_invalid_syntax(xw, line, what):
    res, cap = run(xw, f"%%graph\nh = rt.tanh(x @ w)\n  {line}\nloss = 1\n")
    e = res.error_in_exec
    assert isinstance(e, SyntaxError) and e.lineno == 3
    assert what in str(e) and "in a cell of its own" in str(e)
    assert "h" not in xw.user_ns and "loss" not in xw.user_ns


def test_show_options_choose_the_drawings(xw):
    _, cap = run(xw, "%%graph --show none\ny = rt.exp(x) * 2\n")
    assert not svgs(cap)
    _, cap = run(xw, "%%graph --show traced\ny = rt.exp(x) * 3\n")
    assert len(svgs(cap)) == 1 and "traced graph" in cap.outputs[0].data["text/plain"]
    # x + 0 is simplified away, so the optimized graph differs and both are drawn
    _, cap = run(xw, "%%graph\ny = rt.exp(x + 0.0) * 4\n")
    texts = [o.data.get("text/plain", "") for o in cap.outputs if "image/svg+xml" in o.data]
    assert len(texts) == 2 and texts[0].startswith("traced graph") and texts[1].startswith("optimized graph")


def test_code_option_shows_generated_python(xw):
    _, cap = run(xw, "%%graph --show none --code\ny = rt.exp(x) * 2\n")
    code = [o.data["text/plain"] for o in cap.outputs if "def cell(" in o.data.get("text/plain", "")]
    assert code and "exp(" in code[0]
    assert re.search(r"exp\(x\).*# In\[\d+\]:2", code[0])      # each line names its cell line


def test_no_optimize_and_pass_selection(xw):
    r = xw.run_cell_magic("graph", "-o --show none --no-optimize", "y = rt.exp(x + 0.0)\n")
    assert r.reports == [] and r.graph.format() == r.traced_graph.format()
    assert "add" in r.graph.op_counts()
    name = next(iter(rt.passes.PASSES))
    with capture_output():
        r2 = xw.run_cell_magic("graph", f"-o --show none --passes {name}", "y = rt.exp(x + 0.0)\n")
    assert [rep.name for rep in r2.reports] == [name]


def test_check_reports_agreement_and_a_real_difference(xw):
    _, cap = run(xw, "%%graph --show none --check\nh = rt.tanh(x @ w)\nloss = rt.mean(h)\n")
    texts = "\n".join(o.data.get("text/plain", "") for o in cap.outputs)
    assert "--check: eager and graph agree on all 2 output(s)" in texts
    # a value read from Python state at trace time is frozen into the graph: --check catches it
    xw.run_cell("import itertools\ncounter = itertools.count(1)")
    _, cap = run(xw, "%%graph --show none --check\ny = x * next(counter)\n")
    texts = "\n".join(o.data.get("text/plain", "") for o in cap.outputs)
    assert "eager and graph DIFFER" in texts and "y: DIFFERENT" in texts


def test_check_accepts_float32_sums_added_in_another_order_but_not_real_differences(ip):
    # row sums of 10000 float32 terms: some land near zero, where the optimizer's order of
    # additions (BLAS dot products) differs from eager's by rounding of the terms' size
    ip.run_cell("import itertools\nimport numpy as np, runtime as rt\n"
                "xs = rt.asarray(np.random.default_rng(0).normal(size=(400, 10000)).astype(np.float32))\n"
                "tick = itertools.count(1)")
    _, cap = run(ip, "%%graph --show none --check\ns = rt.sum(xs * 1.5, axis=-1)\n")
    texts = "\n".join(o.data.get("text/plain", "") for o in cap.outputs)
    assert "--check: eager and graph agree" in texts, texts
    _, cap = run(ip, "%%graph --show none --check\ns = rt.sum(xs * 1.5, axis=-1) * (1 + 1e-3 * next(tick))\n")
    texts = "\n".join(o.data.get("text/plain", "") for o in cap.outputs)
    assert "s: DIFFERENT" in texts, texts                    # a 0.1% change is still caught


def test_rt_print_style_runtime_error_message_names_the_op(xw):
    xw.run_cell("idx = rt.asarray(np.array([0, 9]))")
    res, cap = run(xw, "%%graph\ny = x[idx] * 2\n")
    assert "getitem" in cap.stdout and "out of bounds" in cap.stdout
    assert "y" not in xw.user_ns


def test_reload_ext_keeps_graph_working(xw):
    xw.run_line_magic("reload_ext", "eagermagic")
    res, cap = run(xw, "%%graph --show none\ny = x + 1\n")
    assert res.success and "traced (first run of this cell)" in cap.stdout


def test_rt_print_is_run_time_output_on_every_run(xw):
    cell = "%%graph --show none\ny = x * 2\nrt.print('sum is {}', rt.sum(y))\n"
    for expected_status in ("traced", "cache hit"):
        res, cap = run(xw, cell)
        assert expected_status in cap.stdout
        assert "── run-time output ──\nsum is " in cap.stdout
        assert "trace-time output" not in cap.stdout


def test_syntax_error_shows_the_cells_line(xw):
    res, cap = run(xw, "%%graph\ny = x * 2\nz = (y +\n")
    assert isinstance(res.error_in_exec, SyntaxError)
    assert res.error_in_exec.lineno == 3            # counted from the %%graph line, as typed
    assert "z = (y +" in cap.stdout + cap.stderr
    assert "y" not in xw.user_ns
