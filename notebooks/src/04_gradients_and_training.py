# %% [markdown]
# # 4. Gradients and training
#
# Gradients here work the way TensorFlow's and JAX's do, on the same runtime:
#
# - `rt.GradientTape` records the ops run inside a `with` block, in eager mode, and plays them
#   backwards when you ask for a gradient (TensorFlow's API).
# - `rt.grad(f)` / `rt.value_and_grad(f)` turn a function into its gradient function (JAX's API).
#   They work eagerly *and* under tracing, so a compiled training step contains its backward
#   pass and the optimizer sees forward and backward together.
#
# At the end we train a small neural network twice, eagerly with a live loss curve and compiled,
# and time the difference.

# %%
%load_ext eagermagic
import time
import numpy as np
import runtime as rt

# %% [markdown]
# ## The tape
#
# **Predict, then run.** f(x) = x³. What is df/dx at x = 2?

# %% tags=["tape"]
x = rt.asarray(2.0)
with rt.GradientTape() as tape:
    tape.watch(x)                # constants are not recorded unless watched
    y = x ** 3
print("f(2) =", float(y), "  df/dx(2) =", float(tape.gradient(y, x)))

# %% [markdown]
# The tape works on whole tensors. For `loss = sum(w * w)` the gradient is `2 w`:

# %%
w = rt.asarray([1.0, -2.0, 3.0])
with rt.GradientTape() as tape:
    tape.watch(w)
    loss = rt.sum(w * w)
tape.gradient(loss, w)

# %% [markdown]
# ## Functions that return gradients
#
# `rt.grad(f)` is a new function: call it where you would call `f`. Because it is just a
# function, it composes: `rt.grad(rt.grad(f))` is the second derivative.
#
# **Predict, then run.** For f(x) = x³, what is f''(2)?

# %% tags=["grad"]
def f(x):
    return x ** 3

df = rt.grad(f)
d2f = rt.grad(df)
print("f'(2) =", float(df(rt.asarray(2.0))), "  f''(2) =", float(d2f(rt.asarray(2.0))))

# %% [markdown]
# Trust, but check: central finite differences agree to about 8 digits (float64).

# %% tags=["finite-differences"]
def tanh_loss(w):
    return rt.sum(rt.tanh(w) ** 2)

w = rt.asarray(np.random.default_rng(0).normal(size=5))
g = rt.grad(tanh_loss)(w)
h = 1e-6
fd = np.array([(float(tanh_loss(w + h * e)) - float(tanh_loss(w - h * e))) / (2 * h)
               for e in np.eye(5)])
print("autodiff:          ", np.round(g.numpy(), 8))
print("finite differences:", np.round(fd, 8))
print("largest difference:", float(np.max(np.abs(g.numpy() - fd))))

# %% [markdown]
# ## A small data set, made here
#
# Two interleaved spirals, 400 points, one class each: not separable by a straight line, easy
# for a small network. No download: a few lines of NumPy.

# %%
rng = np.random.default_rng(0)
n = 400
label = rng.integers(0, 2, size=n)
t = rng.uniform(0.25, 1.0, size=n) * 3 * np.pi            # angle along the spiral
radius = t / (3 * np.pi)
points = np.stack([radius * np.cos(t + np.pi * label), radius * np.sin(t + np.pi * label)], axis=1)
points += 0.02 * rng.normal(size=points.shape)

X = rt.asarray(points.astype(np.float32))
Y = rt.asarray(label.astype(np.float32))
print("X:", X.shape, X.dtype, "  Y:", Y.shape, "  class counts:", np.bincount(label))

# %% [markdown]
# ## The model: a multilayer perceptron
#
# Parameters are a plain list of dicts of tensors; every function below works on any such
# nested structure (a *pytree*), and so do gradients and the optimizer.

# %%
def init_params(seed=1, sizes=(2, 32, 32, 1)):
    g = np.random.default_rng(seed)
    return [{"w": rt.asarray((g.normal(size=(i, o)) / np.sqrt(i)).astype(np.float32)),
             "b": rt.zeros(o, dtype=rt.float32)}
            for i, o in zip(sizes[:-1], sizes[1:])]

def predict(params, x):
    """Logits: positive means class 1."""
    h = x
    for layer in params[:-1]:
        h = rt.tanh(h @ layer["w"] + layer["b"])
    return (h @ params[-1]["w"] + params[-1]["b"])[:, 0]

def loss_fn(params, x, y):
    """Binary cross-entropy on logits, written stably with softplus."""
    logits = predict(params, x)
    return rt.mean(rt.nn.softplus(logits) - y * logits)

def accuracy(params, x, y):
    return float(rt.mean(rt.astype((predict(params, x) > 0) == (y > 0.5), rt.float32)))

opt = rt.optim.adam(learning_rate=0.03)
print("loss before training:", float(loss_fn(init_params(), X, Y)), "(log 2 = 0.693: a coin toss)")

# %% [markdown]
# ## Training eagerly, with a live loss curve
#
# `%%eager --watch loss` shows the loss as a curve that grows while the cell runs.
#
# **Predict, then run.** Adam with learning rate 0.03, 150 steps. Where does the loss end up:
# near 0.69, near 0.3, or close to 0?

# %% tags=["train-eager"]
%%eager --watch loss
params = init_params()
state = opt.init(params)
for step in range(150):
    loss, grads = rt.value_and_grad(loss_fn)(params, X, Y)
    params, state = opt.step(params, grads, state)
print(f"eager training: final loss {float(loss):.4f}, accuracy {accuracy(params, X, Y):.3f}")

# %% [markdown]
# ## The same step, compiled
#
# `rt.function` traces the step once (forward pass, backward pass and the Adam update), lets
# the optimizer passes rewrite the graph, generates Python code for it and reuses it on every
# later call with the same shapes.

# %% tags=["train-compiled"]
@rt.function
def train_step(params, state, x, y):
    loss, grads = rt.value_and_grad(loss_fn)(params, x, y)
    params, state = opt.step(params, grads, state)
    return params, state, loss

params_c = init_params()
state_c = opt.init(params_c)
for step in range(150):
    params_c, state_c, loss_c = train_step(params_c, state_c, X, Y)
print(f"compiled training: final loss {float(loss_c):.4f}, accuracy {accuracy(params_c, X, Y):.3f}")
print(train_step.explain())

# %% [markdown]
# **Predict, then run.** Same data, same initial parameters, same steps. Are the two final
# losses equal? (They run the same arithmetic, but the optimizer may reorder or fuse a few
# operations, so expect agreement to rounding, not necessarily to the last bit.)

# %%
print("eager:   ", float(loss))
print("compiled:", float(loss_c))
print("relative difference:", abs(float(loss) - float(loss_c)) / abs(float(loss)))

# %% [markdown]
# ## What compiling buys here
#
# One training step takes a few hundred small ops. Eagerly each goes through Python; compiled,
# the generated function runs them back to back with the graph already optimized. Timed on the
# same data, best of 3 rounds of 30 steps each:

# %% tags=["train-timing"]
def seconds_per_step(step, rounds=3, steps=30):
    best = float("inf")
    for _ in range(rounds):
        p, s = init_params(), opt.init(init_params())
        t0 = time.perf_counter()
        for _ in range(steps):
            p, s, _loss = step(p, s, X, Y)
        best = min(best, (time.perf_counter() - t0) / steps)
    return best

def eager_step(params, state, x, y):
    loss, grads = rt.value_and_grad(loss_fn)(params, x, y)
    params, state = opt.step(params, grads, state)
    return params, state, loss

t_eager = seconds_per_step(eager_step)
t_graph = seconds_per_step(train_step)
compile_ms = train_step.ledger[0].total_ms
print(f"{'':<22}{'ms per step':>12}")
print(f"{'eager':<22}{t_eager * 1e3:>12.3f}")
print(f"{'compiled':<22}{t_graph * 1e3:>12.3f}")
print(f"speed-up: {t_eager / t_graph:.1f}x; tracing + compiling cost {compile_ms:.1f} ms, "
      f"paid back after {compile_ms / max((t_eager - t_graph) * 1e3, 1e-9):.0f} steps")

# %% [markdown]
# `%%graph --compare` measures the same thing for a cell, with `%timeit`'s conventions: one
# training step written as a cell, timed eagerly (on a copy of the namespace, so nothing
# changes) and as a graph. The parameters, a list of dicts of tensors, are inputs of the graph.

# %% tags=["train-compare"]
%%graph --compare -r 3 --show none
loss_g, grads_g = rt.value_and_grad(loss_fn)(params_c, X, Y)
params_g, state_g = opt.step(params_c, grads_g, state_c)

# %% [markdown]
# ## Look inside
#
# The compiled step is ordinary Python source that you can read: the forward pass, then the
# backward pass (the names come from the graph), then the Adam update.

# %%
code = train_step.code_for(params_c, state_c, X, Y)
lines = code.splitlines()
print(f"{len(lines)} lines; the first 12:")
print("\n".join(lines[:12]))

# %% [markdown]
# ## A compiled piece inside an eager tape
#
# You can also compile just part of the work and keep the tape eager: here only the loss is an
# `rt.function`. As with `tf.function` under TensorFlow's `GradientTape`, the tape records the
# compiled call as *one* op, and that op's gradient is a compiled backward pass (traced once,
# together with the forward pass, then split in two).
#
# **Predict, then run.** How many ops does the tape record for the eager loss, and how many
# for the compiled one? Do the gradients agree?

# %% tags=["tape-compiled"]
compiled_loss = rt.function(loss_fn)
grads = {}
for name, fn in (("eager loss", loss_fn), ("compiled loss", compiled_loss)):
    with rt.GradientTape() as tape:
        tape.watch(params_c)
        value = fn(params_c, X, Y)
    ops = tape.recorded_ops()
    print(f"{name}: the tape recorded {len(ops)} op{'s' * (len(ops) != 1)}: {', '.join(ops[:4])}"
          + (" ..." if len(ops) > 4 else ""))
    grads[name] = tape.gradient(value, params_c)
worst = max(float(rt.max(rt.abs(e[k] - c[k])))
            for e, c in zip(grads["eager loss"], grads["compiled loss"]) for k in e)
print(f"largest difference between the two gradients: {worst:.1e}")

# %% [markdown]
# ## What the network learned
#
# The network's output over a grid of points, as a picture in the watch panel: the two classes
# come out as two interleaved spiral arms.

# %% tags=["boundary"]
%%eager --watch boundary
side = np.linspace(-1.1, 1.1, 48)
grid = rt.asarray(np.stack(np.meshgrid(side, side), axis=-1).reshape(-1, 2).astype(np.float32))
boundary = rt.reshape(rt.nn.sigmoid(predict(params_c, grid)), (48, 48))
