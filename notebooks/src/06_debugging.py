# %% [markdown]
# # 6. Debugging graph code
#
# Graph mode runs code that you did not write line by line: a trace of your code, rewritten by
# the optimizer, turned into generated Python. When something goes wrong you need to get back to
# *your* line. This notebook goes through the tools:
#
# 1. errors name the op, its input types, and your line, both while tracing and at run time;
# 2. `%%graph --check` runs a cell eagerly and as a graph and compares the results;
# 3. `rt.run_functions_eagerly(True)` switches every compiled function back to plain Python;
# 4. the generated code is ordinary Python you can read, and tracebacks show it.
#
# Some cells below fail on purpose (they carry the `raises-exception` tag, so "Run All" goes on
# past them). Read their error messages: that is the point.

# %%
%load_ext eagermagic
import numpy as np
import runtime as rt

rng = np.random.default_rng(0)
x = rt.asarray(rng.normal(size=(4, 3)))
w = rt.asarray(rng.normal(size=(3, 2)))

# %% [markdown]
# ## An error while tracing points at your line
#
# **Predict, then run.** `w_wrong` has the wrong shape for `x @ w_wrong`. Which line will the
# error name, and what will it suggest?

# %% tags=["raises-exception", "trace-error"]
@rt.function
def predict(x, w):
    h = x @ w
    return rt.tanh(h)

w_wrong = rt.ones((4, 2))
predict(x, w_wrong)

# %% [markdown]
# The last lines say it all: the op (`matmul`), its inputs as the tracer saw them
# (`f64[4,3]`, `f64[4,2]`), that it happened *while tracing*, the line `h = x @ w`, and a hint.
#
# ## In a `%%graph` cell: the cell's own line, and nothing lost
#
# A failing `%%graph` cell shows the line of the cell, and binds nothing: names keep the values
# they had before. **Predict, then run:** what will `print(h)` show after the failing cell?

# %%
h = "the value h had before"

# %% tags=["raises-exception", "graph-error"]
%%graph
h = rt.tanh(x @ w)
out = h @ w

# %% tags=["unchanged"]
print(h)
print("out" in globals())

# %% [markdown]
# ## An error at run time, in compiled code
#
# Some errors only exist at run time, when values are known: an index that is out of range, for
# example. The error names the op, the line it was traced from, and the line of generated code
# that failed.

# %% tags=["raises-exception", "run-error"]
@rt.function
def pick_row(x, i):
    return x[i] * 2

print(pick_row(x, rt.asarray(1)))
pick_row(x, rt.asarray(10))

# %% [markdown]
# ## A traced value that escapes
#
# Tracers only exist while the function is being traced. Storing one outside (in a list, a
# global, an attribute) and using it later is a classic tracing bug; the error says where it was
# used and what to do.

# %% tags=["raises-exception", "leak"]
saved = []

@rt.function
def leaky(x):
    h = rt.tanh(x)
    saved.append(h)          # keeps a Tracer alive after tracing ends
    return h * 2

leaky(x)
saved[0] + 1

# %% [markdown]
# ## `--check`: is the graph doing what the eager code does?
#
# Tracing runs your Python once. Anything that is not a runtime op (here NumPy's random number
# generator) runs at that moment, and its result is baked into the graph as a constant. Eager
# code draws a new number every time; the graph would reuse the same one forever.
#
# **Predict, then run.** `--check` runs the cell both ways. Do they agree?

# %% tags=["check-differ"]
%%graph --check --show none
noise = np.random.default_rng().normal(size=3)
y = x * 0 + noise

# %% [markdown]
# They don't, and `--check` says which outputs differ. The fix is to draw random numbers with
# the runtime's own ops, which stay in the graph and draw fresh values on every run. (The
# check compares values, so it cannot compare two random draws; we look at the graph instead.)

# %% tags=["check-fixed"]
%%graph --show optimized
noise = rt.random.normal(size=3)
y = x * 0 + noise

# %% [markdown]
# ## `rt.run_functions_eagerly`: plain Python again
#
# When the graph version misbehaves and you want `print`, `pdb` and real values inside the
# function, switch compiled functions back to eager execution. Nothing else changes.
#
# **Predict, then run.** What does the `print` inside `debug_me` show with and without the
# switch?

# %% tags=["run-eagerly"]
@rt.function
def debug_me(x, w):
    h = x @ w
    print("  inside debug_me, h is", type(h).__name__, getattr(h, "shape", None))
    return rt.tanh(h)

print("compiled:")
debug_me(x, w)
rt.run_functions_eagerly(True)
try:
    print("eagerly:")
    debug_me(x, w)
finally:
    rt.run_functions_eagerly(False)

# %% [markdown]
# Compiled, `print` ran once while tracing and saw a `Tracer`; eagerly it sees a real `Tensor`
# on every call (and `breakpoint()` would stop there too).
#
# ## Reading the generated code
#
# Every compiled function is Python source, one line per op, each line ending with the line of
# your code it came from. Tracebacks through compiled code show these lines (as in the run-time
# error above). `f.code_for(...)` prints it; `%%graph --code` shows it under the graph.

# %% tags=["code"]
@rt.function
def layer(x, w):
    h = x @ w
    h = h - rt.mean(h, axis=0)
    return rt.nn.relu(h) ** 2

print(layer.code_for(x, w))

# %% [markdown]
# `relu(h) ** 2` became a multiplication (strength reduction), and `relu` itself is a
# `maximum`: the code shows what really runs, not what was written. When a number looks wrong,
# compare: the traced graph (`layer.traced_graph_for(x, w)`), the optimized one
# (`layer.graph_for(x, w)`), the code, and the eager result.

# %% tags=["compare-modes"]
eager = rt.nn.relu((x @ w) - rt.mean(x @ w, axis=0)) ** 2
print("max difference eager vs compiled:", float(rt.max(rt.abs(eager - layer(x, w)))))
print(layer.traced_graph_for(x, w))
