"""A terminal IPython (no widget frontend) gets a plain-text summary at the end, no widget."""
import os
import pathlib
import subprocess
import sys

CODE = ("get_ipython().run_line_magic('load_ext', 'eagermagic'); import numpy as np, runtime as rt; "
        "get_ipython().run_cell_magic('eager', '', "
        "'x = rt.ones(3) * 2\\nbad = np.array([np.nan, 1.0])\\nfor i in range(50):\\n"
        "    loss = rt.sum(x) * i\\nx\\n')")


def test_terminal_ipython_prints_a_text_summary(tmp_path):
    ipython = pathlib.Path(sys.executable).with_name("ipython")
    env = dict(os.environ, IPYTHONDIR=str(tmp_path))
    proc = subprocess.run([str(ipython), "--no-banner", "--HistoryManager.hist_file=:memory:",
                           "-c", CODE], capture_output=True, text=True, timeout=120, env=env,
                          cwd=tmp_path)
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr
    assert "Tensor([2., 2., 2.]" in out                       # the last expression, as usual
    assert "VBox" not in out and "widget" not in out.lower()   # no widget repr in a terminal
    lines = {ln.split()[0]: ln for ln in out.splitlines()[1:] if ln.startswith("  ")}
    assert "%%eager · done" in out and "102 ops" in out
    assert "f64[3]" in lines["x"] and "min 2" in lines["x"]
    assert "1 NaN" in lines["bad"]
    assert "history:" in lines["loss"] and "last 294" in lines["loss"]   # sampled: 2 ops a step
