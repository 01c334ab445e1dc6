"""G1: what a `%%graph` cell costs on a cache hit, against the same cell run eagerly.

The DESIGN.md cell (`h = rt.tanh(x @ w); loss = rt.mean(h * h)`, x f32[256,512], w f32[512,128])
and a 20-step elementwise chain on f32[256,512], each timed as
  - `run_cell` of the plain cell (eager: the baseline),
  - `%%graph --show none` on a cache hit (cell analysis, cache lookup, compiled run, binding;
    the status line printed but nothing drawn),
  - the cell's compiled `rt.function` called directly (what the magic adds is the difference).
G2: one-time cost of a first `%%graph` run with drawing (trace, optimize, codegen, two SVGs by
`dot`), per cell. A benchmark prints figures; it asserts nothing.

    .venv/bin/python benchmarks/bench_graph_magic.py      # or: python -m benchmarks graph_magic
"""
from benchmarks.harness import pin

pin()

from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from IPython.utils.capture import capture_output  # noqa: E402
from traitlets.config import Config  # noqa: E402

from benchmarks.harness import Bench, main  # noqa: E402

CELLS = {
    "matmul+tanh+mean": "h = rt.tanh(x @ w)\nloss = rt.mean(h * h)\n",
    "20-step chain": "y = x\nfor i in range(20):\n    y = y * 0.9 + 0.1\n",
}


def _shell():
    c = Config()
    c.HistoryManager.hist_file = ":memory:"
    sh = InteractiveShell.instance(config=c)
    sh.run_line_magic("load_ext", "eagermagic")
    sh.run_cell("import numpy as np, runtime as rt\n"
                "x = rt.asarray(np.random.default_rng(0).normal(size=(256, 512)).astype('float32'))\n"
                "w = rt.asarray(np.random.default_rng(1).normal(size=(512, 128)).astype('float32'))")
    return sh


def bench_g1():
    sh = _shell()
    results = []
    for label, cell in CELLS.items():
        with capture_output():
            r = sh.run_cell_magic("graph", "-o --show none", cell)
        fn, args = r.function, [sh.user_ns[n] for n in r.inputs + r.statics]

        def plain(cell=cell):
            with capture_output():
                sh.run_cell(cell)

        def graph(cell=cell):
            with capture_output():
                sh.run_cell("%%graph --show none\n" + cell)

        b = Bench(f"G1 {label}: eager cell vs %%graph cell (cache hit) vs compiled call", min_time=0.05)
        b.add("run_cell (eager)", plain, baseline=True)
        b.add("%%graph cell", graph)
        b.add("compiled rt.function", lambda fn=fn, args=args: fn(*args))
        results.append(b.run())
    InteractiveShell.clear_instance()
    return results


def bench_g2():
    sh = _shell()
    magics = sh.magics_manager.registry["GraphMagics"]

    def first_run(cell):
        magics.cache.clear()             # a new cell: trace, optimize, codegen, draw both graphs
        with capture_output():
            sh.run_cell("%%graph\n" + cell)

    b = Bench("G2 first %%graph run with both graphs drawn by dot (one-time cost)", min_time=0.2)
    first = list(CELLS.items())
    b.add(first[0][0], lambda: first_run(first[0][1]), baseline=True)
    b.add(first[1][0], lambda: first_run(first[1][1]))
    res = b.run()
    InteractiveShell.clear_instance()
    return res


BENCHMARKS = {"G1": bench_g1, "G2": bench_g2}

if __name__ == "__main__":
    main(BENCHMARKS)
