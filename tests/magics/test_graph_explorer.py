"""The graph explorer (`%%graph --explore`): tabs whose state is what a browser would receive."""
import os
import subprocess
import sys

import numpy as np
from ipywidgets.widgets.widget import _instances

from magic_helpers import run

VIEW = "application/vnd.jupyter.widget-view+json"


def _displayed_widget(cap):
    views = [o.data[VIEW] for o in cap.outputs if VIEW in o.data]
    assert len(views) == 1, [list(o.data) for o in cap.outputs]
    return _instances[views[0]["model_id"]]


def _tab(box):
    return next(c for c in box.children if type(c).__name__ == "Tab")


def test_explorer_tabs_hold_graphs_code_passes_and_timings(ip):
    ip.run_cell("x = rt.asarray(np.ones((4096, 128), np.float32))")
    res, cap = run(ip, "%%graph --explore --compare -n 2 -r 2\n"
                       "s = rt.exp(x - rt.max(x, axis=-1, keepdims=True))\np = s / rt.sum(s, axis=-1, keepdims=True)\n")
    assert res.success, cap.stdout
    box = _displayed_widget(cap)
    tab = _tab(box)
    state = tab.get_state()
    assert list(state["titles"]) == ["traced graph", "optimized graph", "code", "passes", "timings"]
    assert state["selected_index"] == 1
    pages = dict(zip(state["titles"], tab.children))
    for name in ("traced graph", "optimized graph"):
        outs = pages[name].get_state()["outputs"]
        assert len(outs) == 1 and "<svg" in outs[0]["data"]["image/svg+xml"]
    assert "fused" in pages["optimized graph"].outputs[0]["data"]["image/svg+xml"]
    assert "def cell(x):" in pages["code"].get_state()["value"]
    passes_html = pages["passes"].get_state()["value"]
    assert "<table>" in passes_html and "fuse" in passes_html
    timing_html = pages["timings"].get_state()["value"]
    assert "speed-up" in timing_html and "break-even" in timing_html and "<svg" in timing_html
    assert "traced (first run of this cell)" in box.children[0].get_state()["value"]
    # the outputs were bound as usual
    assert np.asarray(ip.user_ns["p"]).shape == (4096, 128)


def test_explorer_with_profile_adds_a_profile_tab_and_colours_the_graph(ip):
    ip.run_cell("x = rt.asarray(np.ones((256, 256), np.float32))")
    res, cap = run(ip, "%%graph --explore --profile\ny = rt.tanh(x @ x)\nz = rt.sum(y)\n")
    tab = _tab(_displayed_widget(cap))
    pages = dict(zip(tab.titles, tab.children))
    assert "profile" in pages and "timings" in pages
    assert "matmul" in pages["profile"].value and "µs" in pages["profile"].value
    svg = pages["optimized graph"].outputs[0]["data"]["image/svg+xml"]
    assert "coloured by time per node" in svg and "%)" in svg
    assert "Run with --compare" in pages["timings"].value


def test_explorer_on_a_cache_hit_says_so(ip):
    ip.run_cell("x = rt.ones((3,))")
    run(ip, "%%graph --explore\ny = x * 2\n")
    res, cap = run(ip, "%%graph --explore\ny = x * 2\n")
    box = _displayed_widget(cap)
    assert "cache hit" in box.children[0].value
    pages = dict(zip(_tab(box).titles, _tab(box).children))
    assert "cache hit: paid earlier" in pages["timings"].value


TERMINAL_SCRIPT = """
get_ipython().run_line_magic("load_ext", "eagermagic")
import numpy as np, runtime as rt
x = rt.ones((3,))
get_ipython().run_cell("%%graph --explore\\ny = rt.exp(x) * 2\\n")
print("shell:", type(get_ipython()).__name__, "y =", np.asarray(y).tolist())
"""


def test_terminal_ipython_gets_plain_text_instead_of_widgets(tmp_path):
    """A real terminal IPython (its own process): the explorer falls back to text output."""
    script = tmp_path / "cell.ipy"
    script.write_text(TERMINAL_SCRIPT)
    proc = subprocess.run([sys.executable, "-m", "IPython", "--simple-prompt", "--no-banner",
                           "--HistoryManager.hist_file=:memory:", "--colors=nocolor", str(script)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "IPYTHONDIR": str(tmp_path / "ipython")})
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr
    assert "shell: TerminalInteractiveShell" in out
    assert "optimized graph: 2 ops" in out and "v0: f64[3] = exp(x)" in out
    assert "VBox(" not in out and "Tab(" not in out and "Traceback" not in out + proc.stderr
    assert "y = [5.43656365691809" in out
