"""The graph IR: readable text, `verify()` (accepts traced graphs, rejects broken ones) and the
reference interpreter `evaluate` (agrees with eager on generated programs)."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import runtime as rt
from runtime.graph import GraphError, Value, evaluate
from test_random_programs import programs, run_program

X = rt.asarray(np.arange(6.0).reshape(2, 3))
Y = rt.asarray(np.arange(3.0))


def traced(fn, *args):
    """A fresh traced graph (each call traces again, so tests may break it freely)."""
    return rt.function(fn, passes=()).traced_graph_for(*args)


def model(x, y):
    h = rt.tanh(x + y) * 2.0
    return rt.sum(h, axis=-1), h[0, 1:]


def test_graph_prints_as_typed_text():
    text = str(traced(model, X, Y))
    assert text == (
        "graph model(x: f64[2,3], y: f64[3]):\n"
        "  v0: f64[2,3] = add(x, y)\n"
        "  v1: f64[2,3] = tanh(v0)\n"
        "  v2: f64[2,3] = multiply(v1, 2.0)\n"
        "  v3: f64[2] = sum(v2, axis=(1,), keepdims=False)\n"
        "  v4: f64[2] = getitem(v2, index=(0, slice(1, None, None)))\n"
        "  return v3, v4")


def test_graph_text_shows_constants_and_locations():
    big = np.arange(100.0)

    def f(x):
        return x + rt.asarray([1.0, 2.0, 3.0]) + rt.sum(rt.asarray(big))

    g = traced(f, X)
    text = str(g)
    assert "c0: f64[3] = const([1. 2. 3.])" in text
    assert "const(<100 values, 0.0..99.0>)" in text
    with_locs = g.format(locations=True)
    line = f.__code__.co_firstlineno + 1
    assert all(f"test_graph.py:{line}" in ln for ln in with_locs.splitlines()[1:-1])


@pytest.mark.parametrize("fn,args", [
    (model, (X, Y)),
    (lambda x: rt.nn.softmax(x) @ rt.ones((3, 2)), (X,)),
    (lambda x, i: x.at[i].add(1.0)[::-1], (X, rt.asarray([1, 1]))),
    (lambda x: rt.split(rt.concat([x, x], axis=1), 3, axis=1), (X,)),
    (lambda x: rt.cond(rt.sum(x) > 0, lambda v: v * 2, lambda v: -v, x), (X,)),
    (lambda x: rt.fori_loop(0, 3, lambda i, v: v + i, x), (X,)),
], ids=["model", "softmax", "at_add", "split", "cond", "fori"])
def test_verify_accepts_traced_and_optimized_graphs(fn, args):
    traced(fn, *args).verify()
    rt.function(fn).graph_for(*args).verify()


# --- hand-broken graphs: verify must notice each kind of damage --------------------------------

def _break_order(g):
    g.nodes[0], g.nodes[1] = g.nodes[1], g.nodes[0]           # use before definition


def _break_type(g):
    g.nodes[1].outputs[0].shape = (7,)                        # says f64[7], computes f64[2,3]


def _break_dtype(g):
    g.nodes[2].outputs[0].dtype = np.dtype(np.int32)


def _break_output(g):
    g.outputs.append(Value((2,), np.float64))                 # returns a value nobody defines


def _break_backlink(g):
    g.nodes[1].outputs[0].node = g.nodes[0]                   # output does not point back


def _break_redefinition(g):
    g.nodes.insert(3, g.nodes[1])                             # SSA: one definition per value


def _break_op_inputs(g):
    g.inputs[1].shape = (4,)                                  # add(f64[2,3], f64[4]) is invalid


def _break_duplicate_input(g):
    g.inputs.append(g.inputs[0])


BREAKS = [(_break_order, "not defined before"), (_break_type, "f64[7]"),
          (_break_dtype, "i32"), (_break_output, "not defined"), (_break_backlink, "point back"),
          (_break_redefinition, "redefines"), (_break_op_inputs, "rejects its inputs"),
          (_break_duplicate_input, "defined twice")]


@pytest.mark.parametrize("damage,message", BREAKS, ids=[b[0].__name__ for b in BREAKS])
def test_verify_rejects_broken_graphs(damage, message):
    g = traced(model, X, Y)
    g.verify()
    damage(g)
    with pytest.raises(GraphError, match=re.escape(message)):
        g.verify()


# --- the reference interpreter ----------------------------------------------------------------

def test_evaluate_calls_on_node_for_every_node():
    g = traced(model, X, Y)
    seen = []
    out = evaluate(g, X.numpy(), Y.numpy(), on_node=lambda n, s: seen.append((n.op.name, s)))
    assert [name for name, _ in seen] == [n.op.name for n in g.nodes]
    assert all(s >= 0 for _, s in seen)
    s, h = model(X, Y)
    np.testing.assert_array_equal(out[0], s)
    np.testing.assert_array_equal(out[1], h)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.filter_too_much])
@given(programs())
def test_evaluate_agrees_with_eager_on_generated_programs(program):
    inputs, prog = program
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tensors = [rt.asarray(x) for x in inputs]
        eager = run_program(prog, tensors)
        g = traced(lambda *xs: run_program(prog, xs), *tensors)
        g.verify()
        got = evaluate(g, *inputs)
    assert len(got) == len(eager)
    for k, (a, e) in enumerate(zip(got, eager)):
        a = np.asarray(a)
        assert a.dtype == e.dtype and a.shape == e.shape, (k, prog[k])
        np.testing.assert_array_equal(a, e, err_msg=str(prog[k]))


def test_every_node_records_the_users_line_not_runtime_internals():
    def f(x):
        y = rt.nn.layer_norm(x)             # many ops inside rt.nn: all belong to this line
        return rt.nn.softmax(y)

    g = traced(f, X)
    first = f.__code__.co_firstlineno
    lines = {n.loc.lineno for n in g.nodes if n.loc is not None}
    assert lines == {first + 1, first + 2}
    assert all(n.loc.filename == __file__ for n in g.nodes if n.loc is not None)


def test_generated_code_releases_big_values_after_their_last_use():
    big = rt.ones((100, 100))
    code = rt.function(lambda a: rt.sum(rt.exp(rt.tanh(a) * 2.0) + a, axis=0), passes=()).code_for(big)
    lines = [ln.split("#")[0].strip() for ln in code.splitlines()]
    assert lines.index("del v0") == lines.index("v1 = multiply(v0, 2.0)") + 1
    assert "del a" not in lines                     # inputs belong to the caller
    small = rt.function(lambda a: rt.exp(rt.tanh(a)), passes=()).code_for(rt.ones(3))
    assert "del" not in small                       # below 16 KB a del line saves nothing
