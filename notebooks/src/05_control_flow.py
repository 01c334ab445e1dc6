# %% [markdown]
# # 5. Control flow: `if` and `while` on values a tracer doesn't have
#
# In eager mode an `if` on a tensor is just an `if`: the value is there. While tracing, only the
# shape and dtype are (notebook 2), so Python cannot decide which way to go. This notebook shows
# the failure, the three ways out, the automatic conversion that rt.function does for you
# (autograph), and the explicit control-flow ops `rt.cond`, `rt.while_loop` and `rt.fori_loop`.

# %%
%load_ext eagermagic
import numpy as np
import runtime as rt

x = rt.asarray([1.0, -3.0, 2.0, -0.5])

# %% [markdown]
# ## The failure
#
# `flip_if_negative` flips the sign of `x` when its sum is negative. Eagerly, fine:

# %%
def flip_if_negative(x):
    if rt.sum(x) < 0:
        return -x
    return x

print(flip_if_negative(x))

# %% [markdown]
# **Predict, then run.** The same function traced, with the automatic conversion switched off
# (`autograph=False`). What happens?

# %% tags=["failure"]
plain = rt.function(flip_if_negative, autograph=False)
try:
    plain(x)
except rt.ConcretizationError as e:
    print("ConcretizationError:", e)

# %% [markdown]
# The message says where (the `if` line), why (the value is `bool[]`, computed from `x`, and
# has no value yet), and the ways out. Here are three.
#
# ## Way out 1: choose values with `rt.where`
#
# `rt.where(cond, a, b)` computes both `a` and `b` and picks elementwise. Fine when both sides
# are cheap and safe to compute.

# %% tags=["fix-where"]
@rt.function(autograph=False)
def flip_where(x):
    return rt.where(rt.sum(x) < 0, -x, x)

print(flip_where(x), flip_where(-x))

# %% [markdown]
# ## Way out 2: choose computations with `rt.cond`
#
# `rt.cond(pred, true_fn, false_fn, *operands)` traces *both* functions into sub-graphs and
# runs only one of them, chosen at run time. Drawn, the `cond` node holds its two branches:

# %% tags=["fix-cond"]
%%graph --show optimized
y = rt.cond(rt.sum(x) < 0, lambda v: -v, lambda v: v, x)

# %%
print(y)

# %% [markdown]
# ## Way out 3: make the deciding value static
#
# When the condition is about configuration, not data, pass it as a static argument: its value
# is known while tracing, and each value gets its own trace.

# %% tags=["fix-static"]
@rt.function(static_argnames=("flip",), autograph=False)
def maybe_flip(x, flip):
    if flip:                    # a Python bool, known while tracing
        return -x
    return x

print(maybe_flip(x, True), maybe_flip(x, False))
print(maybe_flip.explain())

# %% [markdown]
# (There is a fourth, for debugging: run compiled functions eagerly, notebook 6.)
#
# ## Autograph: the conversion rt.function does for you
#
# By default `rt.function` rewrites `if` and `while` statements whose condition turns out to be
# traced into `rt.cond` and `rt.while_loop`, `for i in rt.range(n)` into `rt.fori_loop`, and
# conditional expressions (`a if c else b`) into `rt.cond` too. Conditions on ordinary Python
# values still run as written.
#
# **Predict, then run.** With autograph on, `flip_if_negative` compiles. How many traces for a
# positive and a negative `x` of the same shape?

# %% tags=["autograph"]
converted = rt.function(flip_if_negative)
print(converted(x), converted(-x))
print("traces:", converted.trace_count)
print(converted.graph_for(x))

# %% [markdown]
# One: both branches are in the graph, and the choice happens when it runs. This is the code
# autograph generated from the function (you never need to read it, but it is not magic):

# %%
print(rt.autograph.to_source(flip_if_negative))

# %% [markdown]
# ## Loops whose length depends on the data
#
# Newton's method from notebook 1 loops until the error is small. **Predict, then run.**
# Starting from `a`, how many steps does it take for `a = 2` and for `a = 10⁶`, and how many
# traces does it need for both?

# %% tags=["while"]
@rt.function
def newton_sqrt(a):
    guess = a
    steps = rt.asarray(0)
    while rt.abs(guess * guess - a) > 1e-9 * a:
        guess = (guess + a / guess) / 2
        steps = steps + 1
    return guess, steps

for a in (2.0, 1e6):
    root, steps = newton_sqrt(rt.asarray(a))
    print(f"sqrt({a:g}) = {float(root):.6f} after {int(steps)} steps")
print("traces:", newton_sqrt.trace_count)
print(newton_sqrt.graph_for(rt.asarray(2.0)))

# %% [markdown]
# ## `range` unrolls, `rt.range` loops
#
# A Python `for i in range(100)` runs while tracing, so the graph gets 100 copies of the body
# ("unrolled"). `for i in rt.range(100)` becomes one `fori_loop` node.
#
# **Predict, then run.** How many nodes does each graph have?

# %% tags=["unroll"]
v = rt.asarray(np.linspace(-1, 1, 8))

@rt.function
def unrolled(v):
    for i in range(100):
        v = rt.sin(v) + 0.1
    return v

@rt.function
def looped(v):
    for i in rt.range(100):
        v = rt.sin(v) + 0.1
    return v

print("range(100):   ", len(unrolled.traced_graph_for(v).nodes), "nodes traced")
print("rt.range(100):", len(looped.traced_graph_for(v).nodes), "node traced")
print("same result:", bool(rt.all(unrolled(v) == looped(v))))

# %% [markdown]
# Unrolling is not wrong: it gives the optimizer straight-line code, and it is what you want for
# a handful of iterations. For long loops it makes big graphs that are slow to trace and
# compile; `%%graph` collapses such graphs when drawing them.
#
# ## The explicit ops
#
# Autograph only writes calls to these; you can call them directly (in eager mode they are
# plain Python loops):

# %% tags=["explicit"]
count, value = rt.while_loop(lambda s: s[0] < 10,
                             lambda s: (s[0] + 1, s[1] * 2),
                             (rt.asarray(0), rt.asarray(1.0)))
print("while_loop:", int(count), float(value))
total = rt.fori_loop(0, 5, lambda i, acc: acc + i, rt.asarray(0))
print("fori_loop: ", int(total))

# %% [markdown]
# ## What autograph cannot convert
#
# `break` and `continue` convert (autograph turns them into a flag and guarded code). Some
# Python does not map onto graph control flow, for example a `return` inside a loop whose
# condition is traced. The error explains what to write instead:

# %% tags=["limits"]
@rt.function
def first_negative(x):
    i = rt.asarray(0)
    while i < x.shape[0]:
        if x[i] < 0:
            return i
        i = i + 1
    return i

try:
    first_negative(x)
except rt.autograph.AutographError as e:
    print("AutographError:", e)

# %% [markdown]
# Rewritten with `break`, as the message suggests, it converts:

# %% tags=["limits-fixed"]
@rt.function
def first_negative(x):
    i = rt.asarray(0)
    while i < x.shape[0]:
        if x[i] < 0:
            break
        i = i + 1
    return i

print("first negative entry of", x, "is at index", int(first_negative(x)))
