"""The shortcuts that keep tracing and the passes cheap per node (benchmark P5) give the answers
the long way gives: the per-trace memo of abstract_eval, fusion's pre-check that counts each
(op, shape) once, and memory planning's order when several buffers die at one node."""
import numpy as np

import runtime as rt
from runtime.passes import fusion, memory
from runtime.tracing import trace_to_graph

F32 = np.dtype(np.float32)


def types_of(graph):
    return [(n.op.name, v.shape, v.dtype) for n in graph.nodes for v in n.outputs
            if n.op.name != "const"]


def test_remembered_abstract_evals_tell_scalar_types_and_values_apart():
    def f(x, i):
        return [x * 2, x * 2.0, x * True, i * 2, i * 2.0, i * True, x * 2, x + x, x * x]

    graph = trace_to_graph(f, [((3,), F32), ((3,), np.dtype(np.int8))], ["x", "i"])[0]
    got = [dt for _, _, dt in types_of(graph)]
    want = [np.dtype(d) for d in (np.float32, np.float32, np.float32, np.int8, np.float64,
                                  np.int8, np.float32, np.float32, np.float32)]
    assert got == want


def test_an_abstract_eval_that_fails_for_a_value_is_asked_again_for_each_value():
    def f(i):
        i * 100                       # fits in int8
        i * 100
        i * 1000                      # NumPy 2 refuses a Python int out of int8's range
        return i

    try:
        trace_to_graph(f, [((3,), np.dtype(np.int8))], ["i"])
    except Exception as e:           # noqa: BLE001
        assert "1000" in str(e) and "int8" in str(e)
    else:
        raise AssertionError("i * 1000 traced")


def test_fusion_precheck_still_finds_a_big_group_after_many_small_repeats():
    def f(x, big):
        for _ in range(20):
            x = rt.exp(x) * 0.5
        return x, rt.exp(big) * 0.5 + 1.0

    spec = [((4, 4), F32), ((4096, 64), F32)]
    graph = trace_to_graph(f, spec, ["x", "big"])[0]
    assert fusion._any_group_can_pay(graph)
    graph = trace_to_graph(lambda x: f(x, np.ones((4, 4), np.float32))[0], spec[:1], ["x"])[0]
    assert not fusion._any_group_can_pay(graph)


def test_buffers_dying_at_one_node_are_reused_in_the_order_they_were_made():
    # a and b die together at c = a + b, which takes the one made last (b); c and d die
    # together at c * d, which takes d: the order values were made, never their addresses
    def f(x):
        a = rt.exp(x)
        b = rt.sin(x)
        c = a + b
        d = rt.cos(x)
        return c * d

    x = np.ones((256, 256), np.float32)
    graph = rt.function(f).lower(x).graph
    names = graph.names()
    plan = {names[v]: names[d] for v, d in graph.memory_plan.items()}
    assert plan == {"v2": "v1", "v3": "v0", "v4": "v3"}, plan
    for _ in range(3):               # the same plan again, whatever addresses the Values get
        junk = [object() for _ in range(1000)]     # noqa: F841
        again = rt.function(f).lower(x).graph
        assert {again.names()[v]: again.names()[d] for v, d in again.memory_plan.items()} == plan
    assert memory.REUSE_MIN_BYTES <= x.nbytes
