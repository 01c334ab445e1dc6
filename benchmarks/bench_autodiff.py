"""Autodiff speed: P1g (eager ops on a gradient tape, and forward + backward) and P4 (an MLP
training step, eager and compiled, against the same step written by hand in NumPy).

    python -m benchmarks p1g p4 [--cpu-time]    (or: python -m benchmarks.bench_autodiff)

On a machine others are using, --cpu-time (process time instead of wall time) gives figures
that do not depend on their load.

Targets (shared/BENCHMARKS.md): P1g <= 2.2x raw NumPy per op while recording, <= 6x per forward
op for forward + backward; P4 compiled <= 1.05x and eager <= 1.15x the hand-written NumPy step.
"""
from benchmarks.harness import pin

pin()      # before NumPy is imported

import numpy as np  # noqa: E402

import runtime as rt  # noqa: E402
from benchmarks.bench_runtime import CHAIN, SMALL, _inputs, chain  # noqa: E402
from benchmarks.harness import Bench, main, optional  # noqa: E402


# -- P1g ----------------------------------------------------------------------------------------
def bench_p1g():
    x, c, d = _inputs()
    tx, tc, td = rt.asarray(x), rt.asarray(c), rt.asarray(d)

    def record():
        with rt.GradientTape() as tape:
            tape.watch(tx)
            chain(tx, tc, td, rt.tanh, rt.exp)
        return tape

    def forward_backward():
        with rt.GradientTape() as tape:
            tape.watch(tx)
            y = chain(tx, tc, td, rt.tanh, rt.exp)
        return tape.gradient(y, tx)

    g = forward_backward()
    ag = optional("autograd")
    if ag is not None:       # the gradient is right, or the timing means nothing
        import autograd.numpy as anp
        ref = ag.grad(lambda v: anp.sum(chain(v, c, d, anp.tanh, anp.exp)))(x)
        if not np.allclose(g.numpy(), ref, rtol=1e-9):
            raise AssertionError("the taped gradient differs from autograd's: the benchmark is void")

    b = Bench(f"P1g eager with a gradient tape: chain of {CHAIN} ops (tanh, *, +, exp) on {SMALL} "
              "float64", per=CHAIN, unit="forward op")
    b.add("numpy forward", lambda: chain(x, c, d, np.tanh, np.exp), baseline=True)
    b.add("runtime eager, no tape", lambda: chain(tx, tc, td, rt.tanh, rt.exp))
    b.add("runtime eager, tape recording", record)
    b.add("runtime forward + backward", forward_backward)
    b.add_peer("autograd forward + backward", lambda: _autograd_p1g(x, c, d))
    b.add_peer("torch recording", lambda: _torch_p1g(x, c, d, backward=False))
    b.add_peer("torch forward + backward", lambda: _torch_p1g(x, c, d, backward=True))
    res = b.run(show=False)
    b.note(f"targets: recording <= 2.20x, forward + backward <= 6.00x numpy per forward op; "
           f"measured {res.ratio('runtime eager, tape recording'):.2f}x and "
           f"{res.ratio('runtime forward + backward'):.2f}x (median), "
           f"{res.ratio('runtime eager, tape recording', 'best'):.2f}x and "
           f"{res.ratio('runtime forward + backward', 'best'):.2f}x (best)")
    print(res.table(), "\n", flush=True)
    return res


def _autograd_p1g(x, c, d):
    ag = optional("autograd")
    if ag is None:
        return None
    import autograd.numpy as anp
    g = ag.grad(lambda v: anp.sum(chain(v, c, d, anp.tanh, anp.exp)))
    return lambda: g(x)


def _torch_p1g(x, c, d, backward):
    torch = optional("torch")
    if torch is None:
        return None
    torch.set_num_threads(1)
    tc, td = torch.tensor(c), torch.tensor(d)

    def run():
        tx = torch.tensor(x, requires_grad=True)
        y = chain(tx, tc, td, torch.tanh, torch.exp)
        if backward:
            y.sum().backward()
    return run


# -- P4 -----------------------------------------------------------------------------------------
SIZES = (784, 512, 256, 10)
BATCH = 128
LR = 0.01


def _mlp_data(dtype=np.float32):
    rng = np.random.default_rng(0)
    params = {}
    for i, (m, n) in enumerate(zip(SIZES, SIZES[1:])):
        params[f"w{i}"] = (rng.normal(size=(m, n)) / np.sqrt(m)).astype(dtype)
        params[f"b{i}"] = np.zeros(n, dtype)
    x = rng.normal(size=(BATCH, SIZES[0])).astype(dtype)
    y = np.eye(SIZES[-1], dtype=dtype)[rng.integers(0, SIZES[-1], BATCH)]
    return params, x, y


def numpy_step(p, x, y):
    """The baseline: forward, backward and SGD written by hand (what a careful person writes)."""
    z0 = x @ p["w0"] + p["b0"]
    h0 = np.maximum(z0, 0)
    z1 = h0 @ p["w1"] + p["b1"]
    h1 = np.maximum(z1, 0)
    logits = h1 @ p["w2"] + p["b2"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    loss = -np.mean(np.sum(y * (shifted - np.log(s)), axis=1))
    dlogits = (e / s - y) / x.shape[0]
    dh1 = dlogits @ p["w2"].T
    dz1 = dh1 * (z1 > 0)
    dh0 = dz1 @ p["w1"].T
    dz0 = dh0 * (z0 > 0)
    grads = {"w2": h1.T @ dlogits, "b2": dlogits.sum(0), "w1": h0.T @ dz1, "b1": dz1.sum(0),
             "w0": x.T @ dz0, "b0": dz0.sum(0)}
    return {k: p[k] - LR * grads[k] for k in p}, loss


def mlp_loss(p, x, y):
    h = rt.nn.relu(rt.matmul(x, p["w0"]) + p["b0"])
    h = rt.nn.relu(rt.matmul(h, p["w1"]) + p["b1"])
    logits = rt.matmul(h, p["w2"]) + p["b2"]
    return -rt.mean(rt.sum(y * rt.nn.log_softmax(logits), axis=-1))


_sgd = rt.optim.sgd(LR)


def rt_step(p, x, y):
    loss, g = rt.value_and_grad(mlp_loss)(p, x, y)
    return _sgd.step(p, g, None)[0], loss


def bench_p4():
    params, x, y = _mlp_data()
    tp = {k: rt.asarray(v) for k, v in params.items()}
    tx, ty = rt.asarray(x), rt.asarray(y)
    compiled = rt.function(rt_step)

    ref_p, ref_loss = numpy_step(params, x, y)
    for name, (p, loss) in (("eager", rt_step(tp, tx, ty)), ("compiled", compiled(tp, tx, ty))):
        if not (np.allclose(float(loss), ref_loss, rtol=1e-4) and
                all(np.allclose(p[k].numpy(), ref_p[k], rtol=1e-3, atol=1e-5) for k in ref_p)):
            raise AssertionError(f"the {name} step computes something else than the NumPy step")

    b = Bench(f"P4 MLP training step: batch {BATCH}, {'-'.join(map(str, SIZES))}, ReLU, softmax "
              "cross-entropy, SGD, float32", per=1, unit="step")
    b.add("hand-written numpy", lambda: numpy_step(params, x, y), baseline=True)
    b.add("runtime compiled (rt.function)", lambda: compiled(tp, tx, ty))
    b.add("runtime eager (value_and_grad)", lambda: rt_step(tp, tx, ty))
    compiled_loss = rt.function(mlp_loss)      # one op on the tape, compiled backward
    b.add("eager tape, compiled loss",
          lambda: _sgd.step(tp, rt.value_and_grad(compiled_loss)(tp, tx, ty)[1], None))
    b.add_peer("autograd", lambda: _autograd_p4(params, x, y))
    b.add_peer("torch eager", lambda: _torch_p4(params, x, y))
    res = b.run(show=False)
    b.note(f"targets: compiled <= 1.05x, eager <= 1.15x; measured "
           f"{res.ratio('runtime compiled (rt.function)'):.2f}x and "
           f"{res.ratio('runtime eager (value_and_grad)'):.2f}x (median), "
           f"{res.ratio('runtime compiled (rt.function)', 'best'):.2f}x and "
           f"{res.ratio('runtime eager (value_and_grad)', 'best'):.2f}x (best)")
    b.note(f"compiled graph: {len(compiled.traced_graph_for(tp, tx, ty))} nodes traced, "
           f"{len(compiled.graph_for(tp, tx, ty))} after the optimizer")
    print(res.table(), "\n", flush=True)
    return res


def _autograd_p4(params, x, y):
    ag = optional("autograd")
    if ag is None:
        return None
    import autograd.numpy as anp

    def loss(p):
        h = anp.maximum(anp.dot(x, p["w0"]) + p["b0"], 0)
        h = anp.maximum(anp.dot(h, p["w1"]) + p["b1"], 0)
        logits = anp.dot(h, p["w2"]) + p["b2"]
        shifted = logits - anp.max(logits, axis=1, keepdims=True)
        return -anp.mean(anp.sum(y * (shifted - anp.log(anp.sum(anp.exp(shifted), axis=1,
                                                                    keepdims=True))), axis=1))
    vg = ag.value_and_grad(loss)

    def step():
        value, g = vg(params)
        return {k: params[k] - LR * g[k] for k in params}, value
    return step


def _torch_p4(params, x, y):
    torch = optional("torch")
    if torch is None:
        return None
    torch.set_num_threads(1)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    tx, ty = torch.tensor(x), torch.tensor(y)

    def step():
        h = torch.relu(tx @ tp["w0"] + tp["b0"])
        h = torch.relu(h @ tp["w1"] + tp["b1"])
        loss = -(ty * torch.log_softmax(h @ tp["w2"] + tp["b2"], dim=1)).sum(1).mean()
        grads = torch.autograd.grad(loss, list(tp.values()))
        with torch.no_grad():
            return {k: v - LR * g for (k, v), g in zip(tp.items(), grads)}, loss
    return step


BENCHMARKS = {"P1g": bench_p1g, "P4": bench_p4}

if __name__ == "__main__":
    main(BENCHMARKS)
