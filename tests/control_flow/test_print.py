"""rt.print prints every time a compiled function runs and survives every pass; Python's print
runs once, while tracing; the hooks let a front end tell the two apart."""
import contextlib
import io

import numpy as np
import pytest

import runtime as rt
from runtime.passes import DEFAULT_PIPELINE


def traced_and_printing(x):
    print("tracing with", x)                       # Python: once, at trace time
    rt.print("x = {} total {:.1f}", x, rt.sum(x))  # runtime: every call
    if rt.sum(x) > 0:                              # autograph -> cond holding a print
        rt.print("positive branch {}", rt.max(x))
        y = x * 2
    else:
        y = -x
    return y


@pytest.mark.parametrize("passes", [None, ()] + [(p,) for p in DEFAULT_PIPELINE])
def test_rt_print_runs_on_every_call_and_python_print_once(passes, capsys):
    f = rt.function(traced_and_printing, passes=passes)
    f(rt.asarray([1.0, 2.0]))
    f(rt.asarray([3.0, 4.0]))
    f(rt.asarray([-1.0, -2.0]))
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "tracing with Tracer<f64[2]>",
        "x = [1. 2.] total 3.0", "positive branch 2.0",
        "x = [3. 4.] total 7.0", "positive branch 4.0",
        "x = [-1. -2.] total -3.0",
    ]


def test_print_nodes_survive_the_pipeline_even_with_unused_results(capsys):
    def f(x):
        rt.cond(rt.sum(x) > 0, lambda: (rt.print("side effect only {}", x), x)[1], lambda: x)
        return x + 1
    g = rt.function(f)
    graph = g.graph_for(rt.ones(2))
    assert "cond_effectful" in graph.op_counts()
    g(rt.ones(2))
    g(rt.ones(2))
    assert capsys.readouterr().out.count("side effect only [1. 1.]") == 2


def test_print_inside_loops_prints_each_iteration(capsys):
    def f(x):
        for i in rt.range(3):
            rt.print("i={} x={}", i, x)
            x = x * 2
        return x
    rt.function(f)(rt.asarray(1.0))
    assert capsys.readouterr().out.splitlines() == ["i=0 x=1.0", "i=1 x=2.0", "i=2 x=4.0"]


def test_eager_rt_print_prints_now(capsys):
    rt.print("value {}", rt.asarray(5))
    assert capsys.readouterr().out == "value 5\n"


def test_generated_code_has_the_print_line():
    src = rt.function(traced_and_printing).code_for(rt.ones(2))
    assert "debug_print(x, " in src and "fmt='x = {} total {:.1f}'" in src


def test_hooks_separate_trace_time_and_run_time_output(capsys):
    trace_buf, run_lines = io.StringIO(), []
    old_trace = rt.set_trace_hook(lambda name: contextlib.redirect_stdout(trace_buf))
    old_print = rt.set_print_hook(run_lines.append)
    try:
        f = rt.function(traced_and_printing)
        f(rt.asarray([1.0, 2.0]))
        f(rt.asarray([1.0, 2.0]))
    finally:
        rt.set_trace_hook(old_trace)
        rt.set_print_hook(old_print)
    assert trace_buf.getvalue() == "tracing with Tracer<f64[2]>\n"
    assert run_lines == ["x = [1. 2.] total 3.0", "positive branch 2.0"] * 2
    assert capsys.readouterr().out == ""


def test_bad_format_is_reported_while_tracing():
    f = rt.function(lambda x: (rt.print("{} {}", x), x)[1])
    with pytest.raises(rt.RuntimeOpError, match="does not fit 1 value"):
        f(rt.ones(2))


def test_print_has_the_side_effect_property():
    op = rt.OPS["debug_print"]
    assert op.side_effect and not op.pure and op.nondiff


def test_gradients_ignore_prints_and_backward_does_not_print_again(capsys):
    def f(w):
        def loss(w):
            rt.print("w={}", w)
            return rt.sum(w * w)
        return rt.grad(loss)(w)
    g = rt.function(f)(rt.asarray([1.0, 3.0]))
    np.testing.assert_allclose(np.asarray(g), [2.0, 6.0])
    assert capsys.readouterr().out == "w=[1. 3.]\n"


def test_prints_nested_in_a_differentiated_loop_print_once_per_iteration(capsys):
    def loss(w):
        v = w
        for i in rt.range(3):
            if rt.sum(v) > 0:
                rt.print("iter {}", i)
                v = v * 1.5
            else:
                v = v - 1.0
        return rt.sum(v * v)

    def grad_of_loss(w):
        return rt.grad(loss)(w)
    f = rt.function(grad_of_loss)
    np.testing.assert_allclose(np.asarray(f(rt.asarray([1.0, 2.0]))), 2 * 1.5 ** 6 * np.array([1.0, 2.0]))
    assert capsys.readouterr().out.splitlines() == ["iter 0", "iter 1", "iter 2"]
    f.traced_graph_for(rt.asarray([1.0, 2.0])).verify()       # the backward's print-free copies too
