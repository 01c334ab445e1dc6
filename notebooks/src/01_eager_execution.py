# %% [markdown]
# # 1. Eager execution: every op runs the moment Python reaches it
#
# Two ways to build with LEGO:
#
# - **Eager**: put one brick on, look at the tower, put the next one on. You see the tower grow,
#   you can stop anywhere, and if a brick is wrong you notice at once.
# - **Graph**: draw the whole plan first, check it, then build it in one go. Slower to start,
#   but the plan can be optimized before a single brick is placed (notebook 2).
#
# This notebook is about the first way. `runtime` (imported as `rt`) is a small tensor library
# on top of NumPy; in eager mode each call computes its result right away, exactly like NumPy
# or PyTorch. Run the cells from top to bottom.

# %%
%load_ext eagermagic
import time
import numpy as np
import runtime as rt

# %% [markdown]
# ## Ops run at once
#
# `x @ x.T + 1` is two ops, a matrix product and an addition. Each one runs when Python
# evaluates it, and `y` holds real numbers you can look at immediately.

# %%
x = rt.asarray([[1.0, 2.0], [3.0, 4.0]])
y = x @ x.T + 1
y

# %% [markdown]
# A `Tensor` wraps a NumPy array. Its shape and dtype follow NumPy's rules, `.numpy()` gives the
# array back (read-only, without a copy), and NumPy functions accept tensors.

# %%
print("shape", y.shape, "dtype", y.dtype)
print("as NumPy:", type(y.numpy()).__name__)
print("np.tanh on a tensor gives a", type(np.tanh(y)).__name__)
print("mean of each column:", y.mean(axis=0))

# %% [markdown]
# **Predict, then run.** `rt.arange(3)` holds integers. What dtype is `rt.arange(3) / 2`?
# And what does `rt.arange(3) // 2` give? (Hint: the rules are NumPy's.)

# %%
print((rt.arange(3) / 2).dtype, rt.arange(3) / 2)
print((rt.arange(3) // 2).dtype, rt.arange(3) // 2)

# %% [markdown]
# **Predict, then run.** Tensors are *immutable* (like JAX arrays and TensorFlow tensors, unlike
# NumPy arrays). What happens when you assign into one?

# %%
try:
    x[0, 0] = 100.0
except TypeError as e:
    print(type(e).__name__ + ":", e)

x2 = x.at[0, 0].set(100.0)      # the way to get an updated copy
print(x2)
print(x)                        # unchanged

# %% [markdown]
# ## Python control flow just works
#
# Because every value is concrete, `if`, `while`, `break`, printing and the debugger behave as
# they always do. Newton's method for √2 loops *until the error is small*: the number of steps
# depends on the values, which is no problem at all in eager mode. (Under tracing it is,
# as notebooks 2 and 5 show.)

# %%
a = rt.asarray(2.0)
guess = a
steps = 0
while abs(guess * guess - a) > 1e-12:
    guess = (guess + a / guess) / 2
    steps += 1
print(f"sqrt(2) ~ {float(guess):.12f} after {steps} steps")

# %% [markdown]
# ## Watching the tower grow: `%%eager`
#
# The `%%eager` cell magic runs a cell as ordinary Python, and while it runs a panel lists the
# tensors the cell creates or changes: shape, dtype, range, mean, NaN/Inf counts and a small
# picture of the values. Below, the tower gets one row of bricks per step; watch the heatmap
# fill up while the cell is still running.

# %% tags=["eager-tower"]
%%eager
tower = rt.zeros((8, 8))
for level in range(8):
    brick = rt.ones((1, 8)) * (level + 1)
    tower = rt.concat([tower[1:], brick], axis=0)   # drop the top row, add a brick row below
    time.sleep(0.15)                                # slow enough to see each step

# %% [markdown]
# The cell's names are bound as usual afterwards:

# %%
print(tower[-3:])

# %% [markdown]
# ## A value assigned over and over becomes a curve
#
# Least squares by plain gradient descent, gradients written out by hand (notebook 4 lets
# `rt.grad` do this). `loss` is assigned on every step, so the panel draws its history.
#
# **Predict, then run.** The learning rate is 0.1. Will the loss go down smoothly, oscillate,
# or blow up? What is the smallest loss it can reach, given that the targets have noise of
# standard deviation 0.1?

# %% tags=["eager-loss"]
%%eager --watch loss,w
rng = np.random.default_rng(0)
A = rt.asarray(rng.normal(size=(200, 3)))
true_w = rt.asarray([2.0, -1.0, 0.5])
b = A @ true_w + 0.1 * rt.asarray(rng.normal(size=200))

w = rt.zeros(3)
for step in range(60):
    err = A @ w - b
    loss = rt.mean(err * err)
    w = w - 0.1 * (2 / len(b)) * (A.T @ err)
    time.sleep(0.02)
print(f"final loss {float(loss):.4f}, w = {w}")

# %% [markdown]
# The loss settles near 0.01 = 0.1², the variance of the noise: the fit cannot do better than
# the noise it was given.
#
# ## What eager costs
#
# Each op goes through Python: find the op, check the inputs, call NumPy, wrap the result. For
# big arrays that overhead vanishes next to the arithmetic; for tiny ones it is a large share of
# the time (and NumPy itself pays a similar fixed cost per call).
#
# **Predict, then run.** How many times slower than NumPy is adding two 2×2 tensors? And two
# 1000×1000 ones?

# %%
small_np, big_np = np.ones((2, 2)), np.ones((1000, 1000))
small, big = rt.asarray(small_np), rt.asarray(big_np)

def best_per_call(fn, a, loops, rounds=5):
    fn(a)                                                   # warm up
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn(a)
        best = min(best, (time.perf_counter() - t0) / loops)
    return best

add = lambda a: a + a
for label, t, n, loops in (("2x2", small, small_np, 2000), ("1000x1000", big, big_np, 5)):
    t_rt, t_np = best_per_call(add, t, loops), best_per_call(add, n, loops)
    print(f"{label:>10}: rt {t_rt * 1e6:8.1f} us, NumPy {t_np * 1e6:8.1f} us, ratio {t_rt / t_np:4.1f}x")

# %% [markdown]
# That fixed cost per op is what graph mode removes: trace the code once, then run the whole
# plan without stopping at every brick. That is notebook 2.
