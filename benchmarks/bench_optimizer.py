"""The optimizer: P3a GELU, P3b layernorm, P3c softmax (speed), P6 GELU's peak memory.

    python -m benchmarks p3 p6          (or: python -m benchmarks.bench_optimizer p3a)

Targets (shared/BENCHMARKS.md): P3a >= 6x naive NumPy, P3b >= 3.9x, P3c >= 1.8x (ratios printed
as naive time / variant time, so bigger is better); P6 <= 1 array of extra memory beyond the
output. The compiled variants compile exactly the naive code (the `naive_*` functions run on
rt tensors under rt.function); the hand-written rows show what a careful person writes.
"""
from benchmarks.harness import pin

pin()      # before NumPy is imported

import math  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

import runtime as rt  # noqa: E402
from benchmarks.harness import Bench, main  # noqa: E402

C = math.sqrt(2.0 / math.pi)


# -- the naive code a user writes (works on NumPy arrays and on rt tensors alike) --------------
def naive_gelu(x, tanh=np.tanh):
    return 0.5 * x * (1.0 + tanh(C * (x + 0.044715 * x ** 3)))


def naive_layernorm(x, mean=np.mean, sqrt=np.sqrt):
    mu = mean(x, axis=-1, keepdims=True)
    d = x - mu
    var = mean(d * d, axis=-1, keepdims=True)
    return d / sqrt(var + 1e-5)


def naive_softmax(x, amax=np.max, exp=np.exp, total=np.sum):
    e = exp(x - amax(x, axis=-1, keepdims=True))
    return e / total(e, axis=-1, keepdims=True)


def rt_gelu(x):
    return naive_gelu(x, rt.tanh)


def rt_layernorm(x):
    return naive_layernorm(x, rt.mean, rt.sqrt)


def rt_softmax(x):
    return naive_softmax(x, rt.max, rt.exp, rt.sum)


# -- what a careful person writes by hand -----------------------------------------------------
def hand_gelu(x, block=1 << 16):
    out = np.empty_like(x)
    t, u = np.empty(block, x.dtype), np.empty(block, x.dtype)
    for i in range(0, x.size, block):
        j = min(i + block, x.size)
        xb, tb, ub = x[i:j], t[:j - i], u[:j - i]
        np.multiply(xb, xb, out=tb)
        np.multiply(tb, xb, out=tb)
        np.multiply(tb, 0.044715, out=tb)
        np.add(tb, xb, out=tb)
        np.multiply(tb, C, out=tb)
        np.tanh(tb, out=tb)
        np.add(tb, 1.0, out=tb)
        np.multiply(xb, 0.5, out=ub)
        np.multiply(ub, tb, out=out[i:j])
    return out


def hand_rows(x, body, rows):
    out = np.empty_like(x)
    for i in range(0, x.shape[0], rows):
        body(x[i:i + rows], out[i:i + rows])
    return out


def _ln_rows(xb, ob):
    d = xb - xb.mean(axis=-1, keepdims=True)
    np.multiply(d, d, out=ob)
    s = ob.mean(axis=-1, keepdims=True)
    s += 1e-5
    np.sqrt(s, out=s)
    np.divide(d, s, out=ob)


def _sm_rows(xb, ob):
    np.subtract(xb, xb.max(axis=-1, keepdims=True), out=ob)
    np.exp(ob, out=ob)
    ob /= ob.sum(axis=-1, keepdims=True)


def _check(a, b, what, rtol):
    a, b = np.asarray(a), np.asarray(b)
    if not np.allclose(a, b, rtol=rtol, atol=rtol):
        raise AssertionError(f"{what} differs from naive NumPy (max {np.max(np.abs(a - b))}): "
                             "the benchmark is void")


def _speed(title, naive, rt_fn, x, hand=None, rtol=1e-5, extra=()):
    f = rt.function(rt_fn)
    t = rt.asarray(x)
    _check(f(t), naive(x), f"compiled {rt_fn.__name__}", rtol)
    unfused = rt.function(rt_fn, passes=["fold", "simplify", "cse", "dce"])
    b = Bench(title)
    b.add("numpy naive", lambda: naive(x), baseline=True)
    for name, fn in extra:
        b.add(name, fn)
    if hand is not None:
        _check(hand(x), naive(x), "hand-written NumPy", rtol)
        b.add("numpy hand-written", lambda: hand(x))
    b.add("rt.function (all passes)", lambda: f(t))
    b.add("rt.function (no fuse/memory)", lambda: unfused(t))
    res = b.run(show=False)
    _print_speedups(res)
    print(f.lower(t).source)
    print("\n".join(f"  {r}" for r in f.lower(t).reports))
    print()
    return res


def _print_speedups(res):
    """The table, with ratios as speed-ups (naive time / variant time), the way targets are set."""
    print(res.table())
    base = res.baseline
    for v in res.variants:
        if v.error is None and v is not base:
            print(f"  speed-up of {v.name:<30} best {base.best / v.best:6.2f}x   "
                  f"median {base.median / v.median:6.2f}x")


def bench_p3a():
    x = np.random.default_rng(0).normal(size=10 ** 7).astype(np.float32)
    cube = lambda: 0.5 * x * (1.0 + np.tanh(C * (x + 0.044715 * (x * x * x))))  # noqa: E731
    return _speed("P3a GELU (tanh form), 1e7 float32: target >= 6x naive", naive_gelu, rt_gelu, x,
                  hand_gelu, extra=[("numpy naive with x*x*x", cube)])


def bench_p3b():
    x = np.random.default_rng(0).normal(size=(1000, 10000)).astype(np.float32)
    return _speed("P3b layernorm over rows, (1000, 10000) float32: target >= 3.9x", naive_layernorm,
                  rt_layernorm, x, lambda x: hand_rows(x, _ln_rows, 3), rtol=1e-4)


def bench_p3c():
    x = np.random.default_rng(0).normal(size=(1000, 10000)).astype(np.float32)
    return _speed("P3c softmax over rows, (1000, 10000) float32: target >= 1.8x", naive_softmax,
                  rt_softmax, x, lambda x: hand_rows(x, _sm_rows, 3))


def _peak_alloc(fn):
    """Peak bytes allocated during fn(), as tracemalloc sees them (NumPy reports to it)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    r = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del r
    return peak - base


def bench_p6():
    n = 10 ** 7
    x = np.random.default_rng(0).normal(size=n)          # float64: one array is 80 MB
    t = rt.asarray(x)
    f = rt.function(rt_gelu)
    f(t)                                                  # compile outside the measurement
    donating = rt.function(rt_gelu, donate_argnames="x")
    rows = [("numpy naive", lambda: naive_gelu(x)),
            ("numpy hand-written", lambda: hand_gelu(x)),
            ("rt.function (all passes)", lambda: f(t))]
    print("P6 peak extra memory of GELU, 1e7 float64 (one array = 80 MB): target <= 1 array "
          "beyond the output")
    for name, fn in rows:
        extra = _peak_alloc(fn) - x.nbytes
        print(f"  {name:<32} {extra / 1e6:8.1f} MB  = {extra / x.nbytes:5.2f} arrays beyond the output")
    donated = rt.asarray(x.copy())
    donating(rt.asarray(x[:8].copy()))                    # a small trace to warm the import path
    alloc = _peak_alloc(lambda: donating(donated))
    print(f"  {'rt.function, x donated':<32} {alloc / 1e6:8.1f} MB  = {alloc / x.nbytes:5.2f} arrays "
          "allocated in all (the output is written into x's buffer)")
    print(f.lower(t).source)
    print()


BENCHMARKS = {"P3a": bench_p3a, "P3b": bench_p3b, "P3c": bench_p3c, "P6": bench_p6}

if __name__ == "__main__":
    main(BENCHMARKS)
