# %% [markdown]
# # 3. Optimization and speed: what the plan buys, and when it doesn't
#
# Once the whole computation is a graph, it can be rewritten before it runs: constant parts
# computed once, expensive ops replaced by cheap equal ones, repeated work merged, unused work
# dropped, chains of elementwise ops run together over cache-sized blocks, buffers reused.
# This notebook shows each pass on a real example, then measures eager against graph on small
# and large tensors, finds the break-even point, and shows where graph mode does not pay.
#
# (Timings are from this machine and vary from run to run; the ratios are what matter.)

# %%
%load_ext eagermagic
import math
import time
import numpy as np
import runtime as rt

rng = np.random.default_rng(0)
print("default pipeline:", " -> ".join(rt.passes.DEFAULT_PIPELINE))

# %% [markdown]
# ## One messy function, pass by pass
#
# Each line below gives one pass something to do.
#
# **Predict, then run.** The traced graph printed below has 12 lines (the pass reports count 15
# nodes: small constants like the `2` and the `3` are nodes too, printed inline). How many ops
# will be left at the end?

# %%
def messy(x):
    c = rt.exp(rt.asarray(1.0, dtype=rt.float32)) * 2   # only constants: fold computes it once
    a = x ** 3 * 1.0                                    # x**3 -> x*x*x, *1.0 dropped: simplify
    b = rt.tanh(x) + rt.tanh(x)                         # tanh(x) twice: cse keeps one
    unused = rt.sin(x)                                  # never used: dce drops it
    return rt.sum(a * c + b, axis=-1)                   # an elementwise chain + a row sum: fuse

x = rt.asarray(rng.normal(size=(512, 512)).astype(np.float32))

# %% tags=["pass-by-pass"]
pipeline = rt.passes.DEFAULT_PIPELINE
print(rt.function(messy, passes=()).graph_for(x))
for k, name in enumerate(pipeline):
    entry = rt.function(messy, passes=pipeline[:k + 1]).lower(x)
    report = entry.reports[-1]
    print(f"\n── after {name}: {report.nodes_before} -> {report.nodes_after} nodes; "
          f"{', '.join(f'{k}: {v}' for k, v in report.changes.items()) or 'no change'}")
    if report.changes and name != "memory":
        print(entry.graph)

# %% [markdown]
# One op: everything was fused into a single loop over blocks of rows.
#
# The same code as a `%%graph` cell, drawn: the traced graph, the optimized one (a fused group
# is drawn as a box around the ops it runs together) and the pass table. Hover over an op to see
# which line it came from. One difference: in a cell, every name it assigns is an output (it is
# bound in the notebook afterwards), so `unused = rt.sin(x)` is not dead code here and stays.

# %% tags=["graph-messy"]
%%graph
c = rt.exp(rt.asarray(1.0, dtype=rt.float32)) * 2
a = x ** 3 * 1.0
b = rt.tanh(x) + rt.tanh(x)
unused = rt.sin(x)
out = rt.sum(a * c + b, axis=-1)

# %% [markdown]
# Rewritten code must compute the same thing. `--check` runs a cell both ways (eagerly on a copy
# of its inputs, and as a graph) and compares every output. `x**3` → `x*x*x` is not bit-exact in
# float32 (within 2 ulp, as `runtime/passes/simplify.py` documents), so the comparison uses a
# tolerance:

# %% tags=["graph-check"]
%%graph --check --show none
cube = x ** 3 * 1.0
twice = rt.tanh(x) + rt.tanh(x)

# %% [markdown]
# ## Fusion, drawn
#
# Layer normalization is a chain of elementwise ops and row reductions. Eagerly, each op walks
# the whole array and writes a new one; fused, the generated code walks the rows in blocks that
# stay in the CPU cache and reuses a few scratch buffers. Look for `matmul` in the code: row sums
# run as BLAS dot products over chunks of each row, then add the chunks' partial sums. That
# changes the order of the additions, so like `x**3` it is a documented inexact rewrite (within
# about 5 ulp, as is NumPy's own sum).

# %% tags=["graph-fused"]
%%graph --show optimized --code
y = rt.nn.layer_norm(x)

# %% [markdown]
# ## Timing one cell: `%%graph --compare`
#
# `--compare` times the cell eagerly (on a copy of the namespace) and as a graph, with
# `%%timeit`'s conventions, and keeps the one-off costs (trace, optimize, codegen, first call)
# apart from the steady state.
#
# **Predict, then run.** GELU on a 512×512 tensor: how much faster is the compiled cell?
# 1.5×, 5×, 50×?

# %% tags=["compare"]
%%graph --compare -r 3 --show none
y = 0.5 * x * (1.0 + rt.tanh(0.7978845608 * (x + 0.044715 * x ** 3)))

# %% [markdown]
# Most of that is one rewrite: NumPy's `x ** 3` costs 30–60 times more than `x * x * x`. The
# rest is fusion and buffer reuse.
#
# ## Small and large tensors, and the break-even point
#
# The compiled function saves time on every call, but tracing and compiling cost something
# once. The break-even point is the number of calls after which compiling has paid for itself.
#
# **Predict, then run.** For which sizes does graph mode win, and for which does it lose?

# %% tags=["sweep"]
def gelu(x):
    return 0.5 * x * (1.0 + rt.tanh(0.7978845608 * (x + 0.044715 * x ** 3)))

def per_call(fns, x, budget=0.15, rounds=5):
    """Best seconds per call of each function, loops sized so one round of each takes about
    budget/rounds; rounds alternate between the functions so that a busy moment of the machine
    hits them alike."""
    for fn in fns:                                 # warm up (caches, BLAS threads)
        fn(x)
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fns[0](x)
        if time.perf_counter() - t0 > budget / rounds / 4 or n > 1e6:
            break
        n *= 4
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            for _ in range(n):
                fn(x)
            best[i] = min(best[i], (time.perf_counter() - t0) / n)
    return best

print(f"{'elements':>10} {'eager':>12} {'graph':>12} {'speed-up':>9} {'compile':>9} {'break-even':>11}")
for size in (10, 1_000, 100_000, 1_000_000):
    xs = rt.asarray(rng.normal(size=size).astype(np.float32))
    compiled = rt.function(gelu)
    t0 = time.perf_counter()
    compiled(xs)                                   # trace + optimize + codegen + first run
    first = time.perf_counter() - t0
    t_eager, t_graph = per_call([gelu, compiled], xs)
    saved = t_eager - t_graph
    calls = max(1, math.ceil(first / saved)) if saved > 0 else 0
    even = f"{calls:,} call{'s' if calls > 1 else ''}" if calls else "never"
    print(f"{size:>10,} {t_eager * 1e6:>9.1f} us {t_graph * 1e6:>9.1f} us {t_eager / t_graph:>8.1f}x "
          f"{first * 1e3:>6.1f} ms {even:>11}")

# %% [markdown]
# For tiny tensors the work per op is a few nanoseconds, so both modes spend their time in
# Python: the graph saves a little dispatch per op but pays for argument checking per call, and
# the speed-up is about 1 (or below). From thousands of elements up, the rewrites and fusion
# dominate and compiling pays for itself within a handful of calls.
#
# ## When graph mode does not pay
#
# 1. **Tiny tensors, few ops**: see the first row above.
# 2. **One big op**: a matrix product spends all its time inside BLAS; there is nothing to fuse
#    or rewrite, so the graph is about as fast (expect a ratio near 1; this machine's noise
#    moves it a little either way).
# 3. **Called once**: the trace and compile cost is never paid back.
# 4. **Shapes that keep changing**: every new shape is a new trace (notebook 2), so every call
#    pays the compile cost.
#
# **Predict, then run.** The matrix product first:

# %% tags=["no-pay-matmul"]
a = rt.asarray(rng.normal(size=(300, 300)).astype(np.float32))
matmul = lambda a: a @ a
matmul_c = rt.function(matmul)
matmul_c(a)
t_eager, t_graph = per_call([matmul, matmul_c], a)
print(f"300x300 matmul: eager {t_eager * 1e3:.2f} ms, graph {t_graph * 1e3:.2f} ms, "
      f"speed-up {t_eager / t_graph:.2f}x")

# %% [markdown]
# And a function whose input shape changes on every call, so that every call traces:

# %% tags=["no-pay-shapes"]
def normalize(v):
    return (v - rt.mean(v)) / rt.std(v)

normalize_c = rt.function(normalize, retrace_warning_after=1000)
lengths = range(100, 150)
t0 = time.perf_counter()
vectors = [rt.asarray(rng.normal(size=n)) for n in lengths]
for v in vectors:
    normalize(v)
t_eager = time.perf_counter() - t0
t0 = time.perf_counter()
for v in vectors:
    normalize_c(v)
t_graph = time.perf_counter() - t0
print(f"{len(lengths)} calls, each with a new length: eager {t_eager * 1e3:.1f} ms, "
      f"graph {t_graph * 1e3:.1f} ms ({normalize_c.trace_count} traces)")

# %% [markdown]
# Padding inputs to a few fixed sizes ("bucketing") is the usual way out: a few traces, then
# cache hits.
#
# ## Summary
#
# | situation | graph mode |
# |---|---|
# | many elementwise ops on large tensors | much faster: rewrites, fusion, buffer reuse |
# | tiny tensors | about the same: both are Python overhead |
# | one big BLAS op | the same |
# | called once, or new shapes on every call | slower: tracing is never paid back |
