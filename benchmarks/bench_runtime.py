"""Runtime speed: P1 eager dispatch, P2 the compiled chain, P5 trace + optimize + codegen cost.

    python -m benchmarks p1 p2 p5          (or: python -m benchmarks.bench_runtime p1)

Targets (shared/BENCHMARKS.md): P1 <= 1.8x raw NumPy per op; P2 <= 1.1x per op plus <= 5 us
per call; P5 <= 5 ms at 100 ops and <= 50 ms at 1000, linear in N.
"""
from benchmarks.harness import pin

pin()      # before NumPy is imported

import numpy as np  # noqa: E402

import runtime as rt  # noqa: E402
from benchmarks.harness import Bench, fmt_time, main, optional  # noqa: E402

CHAIN = 100          # ops per chain in P1 and P2: 25 x (tanh, multiply, add, exp)
SMALL = 16           # elements: small enough that dispatch, not arithmetic, is what we time


def chain(x, c, d, tanh, exp, n=CHAIN):
    """The P1/P2 workload for any library: values stay in [0.6, 2.2] however long it runs."""
    for _ in range(n // 4):
        x = tanh(x)
        x = x * c
        x = x + d
        x = exp(x)
    return x


def _inputs(dtype=np.float64):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, SMALL).astype(dtype)
    return x, np.full(SMALL, 0.5, dtype), np.full(SMALL, 0.25, dtype)


def _check_same(a, b, what):
    if not np.allclose(np.asarray(a), np.asarray(b), rtol=1e-6):
        raise AssertionError(f"{what} computes something else than NumPy: the benchmark is void")


# -- P1 ---------------------------------------------------------------------------------------
def bench_p1():
    x, c, d = _inputs()
    tx, tc, td = rt.asarray(x), rt.asarray(c), rt.asarray(d)
    _check_same(chain(tx, tc, td, rt.tanh, rt.exp), chain(x, c, d, np.tanh, np.exp), "rt eager")

    class Minimal:              # the smallest possible wrapper: what any eager framework pays
        __slots__ = ("v",)

        def __init__(self, v):
            self.v = v

        def __add__(self, o):
            return Minimal(self.v + o.v)

        def __mul__(self, o):
            return Minimal(self.v * o.v)

    mtanh = lambda m: Minimal(np.tanh(m.v))  # noqa: E731
    mexp = lambda m: Minimal(np.exp(m.v))  # noqa: E731
    mx, mc, md = Minimal(x), Minimal(c), Minimal(d)

    b = Bench(f"P1 eager dispatch: chain of {CHAIN} ops (tanh, *, +, exp) on {SMALL} float64",
              per=CHAIN, unit="op")
    b.add("numpy", lambda: chain(x, c, d, np.tanh, np.exp), baseline=True)
    b.add("runtime eager (rt.tanh, +, *)", lambda: chain(tx, tc, td, rt.tanh, rt.exp))
    b.add("runtime eager via np.tanh", lambda: chain(tx, tc, td, np.tanh, np.exp))
    b.add("minimal Python wrapper", lambda: chain(mx, mc, md, mtanh, mexp))
    b.add_peer("torch eager", lambda: _torch_p1(x, c, d))
    b.add_peer("jax op-by-op", lambda: _jax_p1(x, c, d))
    res = b.run(show=False)
    b.note(f"target: runtime eager <= 1.80x numpy per op; measured "
           f"{res.ratio('runtime eager (rt.tanh, +, *)'):.2f}x (median), "
           f"{res.ratio('runtime eager (rt.tanh, +, *)', 'best'):.2f}x (best)")
    print(res.table(), "\n", flush=True)
    return res


def _torch_p1(x, c, d):
    torch = optional("torch")
    if torch is None:
        return None
    torch.set_num_threads(1)
    tx, tc, td = (torch.from_numpy(a) for a in (x, c, d))
    return lambda: chain(tx, tc, td, torch.tanh, torch.exp)


def _jax_p1(x, c, d):
    jnp = optional("jax.numpy")
    if jnp is None:
        return None
    jx, jc, jd = (jnp.asarray(a) for a in (x, c, d))
    return lambda: chain(jx, jc, jd, jnp.tanh, jnp.exp).block_until_ready()


# -- P2 ---------------------------------------------------------------------------------------
def bench_p2():
    x, c, d = _inputs()
    tx, tc, td = rt.asarray(x), rt.asarray(c), rt.asarray(d)
    compiled = rt.function(lambda x, c, d: chain(x, c, d, rt.tanh, rt.exp), name="chain")
    _check_same(compiled(tx, tc, td), chain(x, c, d, np.tanh, np.exp), "rt.function")
    one = rt.function(lambda x, d: x + d, name="one_op")
    one(tx, td)
    entry = compiled.lower(tx, tc, td)
    passes, generated = [r.name for r in entry.reports], entry.compiled.fn
    arrays = compiled._key((x, c, d), {})[1]      # in the graph's input order

    b = Bench(f"P2 compiled chain: rt.function of the P1 chain ({CHAIN} ops, {SMALL} float64)",
              per=CHAIN, unit="op")
    b.add("numpy", lambda: chain(x, c, d, np.tanh, np.exp), baseline=True)
    b.add("rt.function(tensors)", lambda: compiled(tx, tc, td))
    b.add("rt.function(ndarrays)", lambda: compiled(x, c, d))
    b.add("generated code alone", lambda: generated(*arrays))
    b.add_peer("jax.jit", lambda: _jax_p2(x, c, d))
    res = b.run(show=False)

    calls = Bench("P2 per-call overhead: rt.function(lambda x, d: x + d) vs NumPy's x + d", per=1)
    calls.add("numpy x + d", lambda: x + d, baseline=True)
    calls.add("rt.function(tensors)", lambda: one(tx, td))
    calls.add("rt.function(ndarrays)", lambda: one(x, d))
    cres = calls.run(show=False)
    per_op = res.ratio("generated code alone")
    chain_overhead = res["rt.function(tensors)"].median - res["generated code alone"].median
    overhead = cres["rt.function(tensors)"].median - cres["numpy x + d"].median
    b.note(f"passes: {', '.join(passes) or '(none)'}")
    b.note(f"per op (the generated code): {per_op:.2f}x numpy (target <= 1.10x); per call on top: "
           f"{fmt_time(chain_overhead)} here, {fmt_time(overhead)} for a one-op function "
           f"(target <= 5 us); whole call {res.ratio('rt.function(tensors)'):.2f}x")
    print(res.table(), "\n", flush=True)
    print(cres.table(), "\n", flush=True)
    return res, cres


def _jax_p2(x, c, d):
    jax = optional("jax")
    if jax is None:
        return None
    jnp = jax.numpy
    f = jax.jit(lambda x, c, d: chain(x, c, d, jnp.tanh, jnp.exp))
    jx, jc, jd = (jnp.asarray(a) for a in (x, c, d))
    f(jx, jc, jd).block_until_ready()
    return lambda: f(jx, jc, jd).block_until_ready()


# -- P5 ---------------------------------------------------------------------------------------
def bench_p5(sizes=(10, 100, 1000)):
    from runtime import codegen, passes
    from runtime.tracing import trace_to_graph

    x = rt.asarray(np.ones((256, 256), np.float32))
    spec = [((256, 256), np.dtype(np.float32))]
    print("P5 trace + optimize + codegen of a chain of N elementwise ops on (256, 256) float32\n"
          "  (a fresh function each sample so no cache helps; total = rt.function(f).lower(x);\n"
          "   the phases timed apart on fresh inputs with the same clock; medians)")
    print(f"  {'N':>5} {'total ms':>9} {'trace':>8} {'optimize':>9} {'codegen':>8} {'us/op':>7}"
          f" {'nodes traced -> optimized':>26}  target")
    rows = {}
    for n in sizes:
        def model(n=n):
            return lambda x: chain(x, 0.5, 0.25, rt.tanh, rt.exp, n)

        def traced(n=n):
            return trace_to_graph(model(n), spec, ["x"])[0]

        b = Bench(f"P5 N={n}", per=1, rounds=max(3, min(9, 3000 // n)))
        b.add("total", lambda f: f.lower(x), setup=lambda n=n: rt.function(model(n), name=f"chain{n}"))
        b.add("trace", lambda fn: trace_to_graph(fn, spec, ["x"]), setup=model)
        b.add("optimize", lambda g: passes.optimize(g), setup=traced)
        b.add("codegen", lambda g: codegen.compile_graph(g), setup=lambda: passes.optimize(traced())[0])
        res = b.run(show=False)
        ms = {v.name: v.median * 1e3 for v in res.variants}
        g = traced()
        rows[n] = ms["total"]
        target = {100: "<= 5 ms", 1000: "<= 50 ms"}.get(n, "")
        print(f"  {n:>5} {ms['total']:>9.2f} {ms['trace']:>8.2f} {ms['optimize']:>9.2f} {ms['codegen']:>8.2f}"
              f" {ms['total'] * 1e3 / n:>7.1f} {len(g.nodes):>12} -> {len(passes.optimize(g)[0].nodes):<12}"
              f"  {target}", flush=True)
    if 100 in rows and 1000 in rows:
        print(f"  linearity: ms(1000) / ms(100) = {rows[1000] / rows[100]:.1f} (10 is linear)")
    print(f"  passes: {', '.join(rt.passes.DEFAULT_PIPELINE) or '(none)'}\n", flush=True)
    return rows


BENCHMARKS = {"P1": bench_p1, "P2": bench_p2, "P5": bench_p5}

if __name__ == "__main__":
    main(BENCHMARKS)
