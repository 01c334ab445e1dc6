"""Control flow in compiled code: what a loop iteration and a cond cost, against plain NumPy.

CF1  a loop of 200 small steps (x = tanh(x * a) + b on 64 float64): a Python loop in NumPy, the
     same loop eagerly on tensors, rt.fori_loop compiled (one node; each iteration calls the
     compiled body), and the loop unrolled by tracing a Python `for` (200 nodes).
CF2  a cond choosing between two 3-op branches, per call: NumPy with a Python `if`, eager
     tensors, and compiled via autograph (the `if` becomes one cond node).

    .venv/bin/python -m benchmarks control_flow
"""
from benchmarks.harness import pin

pin()

import numpy as np  # noqa: E402

import runtime as rt  # noqa: E402
from benchmarks.harness import Bench  # noqa: E402

STEPS, N = 200, 64


def bench_cf1():
    rng = np.random.default_rng(0)
    x, a, b = rng.normal(size=N), 0.9, rng.normal(size=N)
    tx, tb = rt.asarray(x), rt.asarray(b)

    def numpy_loop(x):
        for _ in range(STEPS):
            x = np.tanh(x * a) + b
        return x

    def rt_loop(x, b):
        return rt.fori_loop(0, STEPS, lambda i, v: rt.tanh(v * a) + b, x)

    def unrolled(x, b):
        for _ in range(STEPS):
            x = rt.tanh(x * a) + b
        return x

    loop, unroll = rt.function(rt_loop), rt.function(unrolled)
    np.testing.assert_allclose(np.asarray(loop(tx, tb)), numpy_loop(x), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(unroll(tx, tb)), numpy_loop(x), rtol=1e-12)
    bench = Bench(f"CF1 loop of {STEPS} steps (tanh(x*a)+b on {N} float64)", per=STEPS, unit="step")
    bench.add("numpy python loop", lambda: numpy_loop(x), baseline=True)
    bench.add("eager rt.fori_loop", lambda: rt_loop(tx, tb))
    bench.add("compiled rt.fori_loop", lambda: loop(tx, tb))
    bench.add("compiled, unrolled", lambda: unroll(tx, tb))
    return bench.run()


def choose(x):
    if rt.sum(x) > 0:
        y = rt.tanh(x) * 2.0 + 1.0
    else:
        y = rt.exp(x) - x * 0.5
    return y


def bench_cf2():
    x = np.random.default_rng(1).normal(size=N)
    tx = rt.asarray(x)

    def numpy_choose(x):
        if np.sum(x) > 0:
            return np.tanh(x) * 2.0 + 1.0
        return np.exp(x) - x * 0.5

    compiled = rt.function(choose)
    np.testing.assert_allclose(np.asarray(compiled(tx)), numpy_choose(x), rtol=1e-12)
    assert "cond" in compiled.graph_for(tx).op_counts()
    bench = Bench(f"CF2 cond between two 3-op branches ({N} float64), per call", per=1)
    bench.add("numpy python if", lambda: numpy_choose(x), baseline=True)
    bench.add("eager tensors", lambda: choose(tx))
    bench.add("compiled (autograph cond)", lambda: compiled(tx))
    return bench.run()


BENCHMARKS = {"CF1": bench_cf1, "CF2": bench_cf2}
