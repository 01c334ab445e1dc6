"""`make demo` / `python -m eagermagic.demo`: eager and graph mode in a terminal, in a few seconds.

One small model (a dense layer, GELU, layer norm) is run eagerly, then compiled with
`rt.function`: the demo prints the graph as traced, the graph after the optimizer (and what each
pass did), the generated Python source, and a timing table eager vs graph. It uses only the
runtime and plain printing, so it runs anywhere NumPy does (no IPython, no browser).
"""
from __future__ import annotations

import inspect
import sys
import time

import numpy as np

import runtime as rt


def block(x, w, b):
    """A dense layer, GELU, layer norm: the kind of code the optimizer fuses."""
    h = rt.nn.gelu(x @ w + b)
    return rt.nn.layer_norm(h, axis=-1)


def _per_call(fn, budget: float = 0.25) -> float:
    """Seconds per call: loop counts grown until a run takes 20 ms, then the best of a few runs
    within `budget` seconds (as %timeit's autorange; the best is the least disturbed)."""
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        took = time.perf_counter() - t0
        if took >= 0.02:
            break
        number *= 2 if took * 2 >= 0.02 else 10
    best, spent = took / number, took
    while spent < budget:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        took = time.perf_counter() - t0
        best, spent = min(best, took / number), spent + took
    return best


def _fmt(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _calls(n: float) -> str:
    n = max(1, int(np.ceil(n)))
    return f"{n} call" + ("" if n == 1 else "s")


def _section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 78 - len(title)))


def main(rows: int = 512, width: int = 256) -> int:
    rng = np.random.default_rng(0)
    x = rt.asarray(rng.normal(size=(rows, width)).astype(np.float32))
    w = rt.asarray((rng.normal(size=(width, width)) / np.sqrt(width)).astype(np.float32))
    b = rt.asarray(np.zeros(width, np.float32))

    print("eagermagic demo: the same Python function, run eagerly and as a compiled graph")
    print(f"inputs: x {rows}x{width}, w {width}x{width}, b {width} (float32)")
    _section("the model")
    print(inspect.getsource(block).rstrip())

    eager = block(x, w, b)                       # eager: every op runs now, one NumPy call each
    f = rt.function(block)
    graph_out = f(x, w, b)                       # traced, optimized, compiled, run
    record = f.ledger[-1]

    _section(f"traced graph ({record.nodes_traced} nodes, constants included)")
    print(f.traced_graph_for(x, w, b))
    _section(f"optimized graph ({record.nodes_optimized} nodes, constants included)")
    print(f.graph_for(x, w, b))
    print("\npasses:")
    print(f.passes_for(x, w, b))
    _section("generated code")
    print(f.code_for(x, w, b).rstrip())

    diff = float(np.max(np.abs(graph_out.numpy() - eager.numpy())))
    t_eager = _per_call(lambda: block(x, w, b))
    t_graph = _per_call(lambda: f(x, w, b))
    compile_s = record.total_ms / 1e3
    saved = t_eager - t_graph
    _section("timing: eager vs graph (per call, best of several runs; unpinned)")
    rows_out = [
        ("eager (one NumPy call per op)", _fmt(t_eager)),
        ("graph (compiled, cache hit)", _fmt(t_graph)),
        ("speed-up", f"{t_eager / t_graph:.2f}x"),
        ("trace + optimize + codegen, once",
         f"{record.total_ms:.1f} ms (trace {record.trace_ms:.1f}, optimize {record.optimize_ms:.1f}, "
         f"codegen {record.codegen_ms:.1f})"),
        ("compiling pays off after",
         _calls(compile_s / saved) if saved > 0 else "never (the graph is not faster here)"),
        ("max |graph - eager|", f"{diff:.2e}"),
    ]
    for name, value in rows_out:
        print(f"  {name:<34} {value}")
    print("\nPinned, interleaved figures against plain NumPy: `python -m benchmarks`.")
    return 0 if diff < 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
