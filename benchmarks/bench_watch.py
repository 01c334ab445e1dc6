"""W1: what the `%%eager` watch costs a loop of small eager ops.

The same loop (per iteration: 3 elementwise ops on 16-element float32 tensors (W1; 4096 in W1b), an indexing op
and a scalar `loss` assigned in the namespace, so the watch has a curve to draw) timed
  - plainly (the baseline: runtime eager mode, no watch),
  - with only the op counter (eagermagic.counting.OpCounter),
  - under the watch in steady state (counter + scalar history + a namespace scan and widget
    update every 0.1 s, as in a long-running cell),
and W1c: a whole short `%%eager` cell (start snapshot, first scan, final exact scan, panel) vs
the same cell run by `run_cell`, in a real InteractiveShell.

    .venv/bin/python -m benchmarks watch --cpu-time --rounds 15

(--cpu-time times with process_time, which counts the heartbeat thread too and not other processes
sharing the core: steadier on a busy machine.)
"""
from benchmarks.harness import pin

pin()

import numpy as np  # noqa: E402

from benchmarks.harness import Bench, main  # noqa: E402

import runtime as rt  # noqa: E402

N_ITER = 2500          # 4 ops each: 10,000 ops per call (entering the counter patches
                       # Tensor, which costs Python's attribute caches a short re-warm-up)


def _namespace(n=16):
    rng = np.random.default_rng(0)
    ns = {"x": rt.asarray(rng.normal(size=n).astype("float32")),
          "w": rt.asarray(rng.normal(size=(64, 64)).astype("float32")),
          "data": rng.normal(size=(256, 256)),
          "lr": 0.1, "name": "run", "np": np, "rt": rt}
    ns.update({f"unrelated{i}": i for i in range(50)})      # a namespace of realistic size
    return ns


def make_loop(ns):
    x = ns["x"]

    def loop():
        y = x
        for _ in range(N_ITER):
            y = rt.tanh(y * 0.5 + x)
            ns["loss"] = y[0]
        return y
    return loop


def bench_w1(n=16, title="W1"):
    from eagermagic.counting import OpCounter
    from eagermagic.watch import TensorWatch, WatchPanel
    ns = _namespace(n)
    loop = make_loop(ns)
    counter = OpCounter(lambda: None)

    def counted():
        with counter:
            return loop()

    watch = TensorWatch(ns, view=WatchPanel())
    watch.counter = OpCounter(watch.tick)

    def watched():
        watch.start_heartbeat()             # as the magic does (its thread's CPU time counts)
        try:
            with watch.counter:
                return loop()
        finally:
            watch.stop_heartbeat()

    b = Bench(f"{title} %%eager watch overhead: loop of small eager ops ({n}-element float32)",
              per=4 * N_ITER, unit="op", min_time=0.05)
    b.add("eager, no watch", loop, baseline=True)
    b.add("eager + op counter only", counted)
    b.add("eager + watch (steady state)", watched)
    res = b.run(show=False)
    watch.finish()
    b.note(f"watch in steady state: {watch.ops:,} ops counted, {watch.flushes} live updates "
           f"({watch.view.messages} widget values sent) in {watch.elapsed:.2f} s; "
           f"loss history {len(watch.entries['loss'].history):,} points")
    b.note(f"overhead: counter {100 * (res.ratio('eager + op counter only') - 1):+.1f}%, "
           f"watch {100 * (res.ratio('eager + watch (steady state)') - 1):+.1f}% (medians)")
    print(res.table(), flush=True)
    print()
    return res


def bench_w1c():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from traitlets.config import Config
    c = Config()
    c.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=c)
    shell.run_line_magic("load_ext", "eagermagic")
    shell.user_ns.update(_namespace())
    cell = ("y = x\nfor _ in range(250):\n    y = rt.tanh(y * 0.5 + x)\n    loss = y[0]\n")

    def plain():
        with capture_output():
            shell.run_cell(cell)

    def eager():
        with capture_output():
            shell.run_cell("%%eager\n" + cell)

    b = Bench("W1c a whole short cell (1,000 ops): run_cell vs %%eager (panel, scans, final state)",
              min_time=0.05)
    b.add("run_cell", plain, baseline=True)
    b.add("%%eager", eager)
    res = b.run()
    InteractiveShell.clear_instance()
    return res


def bench_w1b():
    return bench_w1(4096, "W1b")


BENCHMARKS = {"W1": bench_w1, "W1b": bench_w1b, "W1c": bench_w1c}

if __name__ == "__main__":
    main(BENCHMARKS)
