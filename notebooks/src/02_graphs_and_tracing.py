# %% [markdown]
# # 2. Graphs and tracing: draw the plan first
#
# Back to LEGO. The second way to build is to draw the whole plan before placing a brick: which
# bricks, in which order, connected how. A plan can be checked, simplified and then built quickly
# in one go, and built again and again without thinking about it. That plan is a **graph**.
#
# `rt.function` (like `tf.function` and `jax.jit`) makes the plan by **tracing**: it calls your
# Python function once with stand-ins called *tracers* instead of real tensors, and records every
# op the function applies to them. The `%%graph` cell magic does the same to a whole cell.

# %%
%load_ext eagermagic
import numpy as np
import runtime as rt

# %% [markdown]
# ## What tracing sees: shapes and dtypes, not values
#
# **Predict, then run.** The function below calls Python's `print` on its argument. What will
# it print when we call it with `[1.0, 2.0, 3.0]`?

# %% tags=["trace-print"]
@rt.function
def scaled_tanh(x, scale):
    print("  (Python print while tracing) x is", x)
    return rt.tanh(x) * scale

x = rt.asarray([1.0, 2.0, 3.0])
scaled_tanh(x, 2.0)

# %% [markdown]
# Not the numbers: a `Tracer<f64[3]>`, a stand-in that knows only the shape `[3]` and the dtype
# `f64`. The plan is built from that; the values flow through it later.
#
# **Predict, then run.** Call it again with different values of the same shape. Does the
# `print` run again?

# %%
scaled_tanh(rt.asarray([4.0, 5.0, 6.0]), 2.0)

# %% [markdown]
# It does not: the function was not traced again, the compiled plan for "one `f64[3]` and
# scale 2.0" was reused. Python code in the function (like that `print`) runs only while
# tracing. The ledger says what happened:

# %%
scaled_tanh.explain()

# %% [markdown]
# ## The plan, as text and as code
#
# The graph prints as typed text, one line per op. `scale` is not an input: it was a Python
# number, so its value went into the plan as a constant.

# %%
print(scaled_tanh.graph_for(x, 2.0))

# %% [markdown]
# Compiling turns the graph into ordinary Python source, one line per op, with the line of your
# code each op came from:

# %%
print(scaled_tanh.code_for(x, 2.0))

# %% [markdown]
# ## A cell as a graph: `%%graph`
#
# `%%graph` turns a cell into a function: names the cell reads that hold tensors become inputs,
# names it assigns become outputs. It traces, optimizes, compiles and runs it, binds the outputs,
# and draws the graph: green ovals are inputs, blue ones outputs, boxes are ops with their output
# shape and dtype. Hover over a box to see the line it came from.

# %%
rng = np.random.default_rng(0)
x = rt.asarray(rng.normal(size=(64, 128)).astype(np.float32))
w = rt.asarray((rng.normal(size=(128, 32)) / np.sqrt(128)).astype(np.float32))

# %% tags=["graph-first"]
%%graph
h = rt.tanh(x @ w)
loss = rt.mean(h * h)

# %% [markdown]
# `h` and `loss` are now ordinary tensors in the notebook:

# %%
print(h.shape, float(loss))

# %% [markdown]
# **Predict, then run.** The next cell is the same cell again, with the same shapes. What will
# `%%graph` do this time?

# %% tags=["graph-hit"]
%%graph --show none
h = rt.tanh(x @ w)
loss = rt.mean(h * h)

# %% [markdown]
# A cache hit. `--explore` shows a cell in tabs instead: the traced graph, the optimized graph, the
# generated code, the pass report and the timings; with `--profile` each node of the optimized
# graph is coloured by the time it took, so you see where the time goes.

# %% tags=["graph-explore"]
%%graph --explore --profile
h = rt.tanh(x @ w)
loss = rt.mean(h * h)

# %% [markdown]
# Nothing was traced or compiled for these two cells. Now the batch gets smaller. **Predict:** hit or
# retrace, and what reason will it give?

# %%
x = rt.asarray(rng.normal(size=(32, 128)).astype(np.float32))

# %% tags=["graph-retrace"]
%%graph --show none
h = rt.tanh(x @ w)
loss = rt.mean(h * h)

# %% [markdown]
# ## `print` runs once, `rt.print` every time
#
# Python's `print` in a traced cell runs while tracing (and prints tracers); `%%graph` labels
# that output *trace-time*. `rt.print` is an op in the graph: it prints real values on every run.
#
# **Predict, then run** both cells: which lines appear the second time?

# %% tags=["print-first"]
%%graph --show none
print("Python print:", x)
rt.print("rt.print: mean of x is {}", rt.mean(x))
y = x * 2

# %% tags=["print-second"]
%%graph --show none
print("Python print:", x)
rt.print("rt.print: mean of x is {}", rt.mean(x))
y = x * 2

# %% [markdown]
# ## Retracing, and how to read its reasons
#
# A plan is made for one input signature: shapes, dtypes and the *values* of non-tensor
# arguments. Each new signature is a new trace, which costs time (milliseconds here, far more
# for big models).
#
# **Predict, then run.** How many times does `power_sum` get traced in this loop?

# %% tags=["retrace-loop"]
@rt.function
def power_sum(x, p):
    return rt.sum(x ** p)

for p in [1.0, 2.0, 3.0, 4.0, 5.0]:
    power_sum(x, p)
print(power_sum.explain())

# %% [markdown]
# Five traces, one per value of `p`, each with its reason (`p: 1.0 -> 2.0` ...), and a
# `RetracingWarning` after the fifth. When a number changes on every call, pass it as a tensor:
# then it is an input of the plan, not a constant baked into it.

# %% tags=["retrace-fixed"]
@rt.function
def power_sum_t(x, p):
    return rt.sum(x ** p)

for p in [1.0, 2.0, 3.0, 4.0, 5.0]:
    power_sum_t(x, rt.asarray(p))
print(power_sum_t.explain())

# %% [markdown]
# ## Static arguments
#
# Sometimes you *want* one plan per value: a string that picks the activation, a layer count,
# a flag. Declare such arguments static; Python `if`s on them are then fine, because their
# value is known while tracing.
#
# **Predict, then run.** Three calls, two distinct activations: how many traces?

# %% tags=["static"]
@rt.function(static_argnames=("activation",))
def layer(x, w, activation):
    h = x @ w
    if activation == "relu":           # a Python `if` on a static value: decided while tracing
        return rt.nn.relu(h)
    return rt.tanh(h)

layer(x, w, "relu")
layer(x, w, "tanh")
layer(x, w, "relu")
print(layer.explain())

# %% [markdown]
# What does *not* work is asking a tracer for its value: while tracing there is none. `rt.function`
# rewrites `if` and `while` statements and `a if cond else b` on tensors into graph control flow
# for you (autograph, notebook 5), but turning a tensor into a Python number (`float(t)`,
# `int(t)`, `t.item()`) needs the value itself. The error says where, why, and the ways out:

# %% tags=["concretization"]
@rt.function
def normalized(x):
    total = float(rt.sum(x))      # a Python float: the value, now
    return x / total

try:
    normalized(x)
except rt.ConcretizationError as e:
    print(e)
