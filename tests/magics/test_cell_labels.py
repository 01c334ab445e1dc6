"""Errors raised by runtime ops in ordinary notebook cells name the cell as In[n] (the way
IPython's tracebacks do), not by the generated filename IPython compiled the cell under."""
import re

import eagermagic


def test_an_eager_error_in_an_ordinary_cell_names_in_n(shell):
    shell.run_cell("import runtime as rt")
    res = shell.run_cell("a = rt.ones(3)\nb = rt.ones(4)\nc = a + b\n", store_history=True)
    msg = str(res.error_in_exec)
    assert f"In[{res.execution_count}]:3: c = a + b" in msg, msg
    assert "ipython-input" not in msg


def test_a_trace_error_in_an_ordinary_cell_names_in_n(shell):
    res = shell.run_cell("import runtime as rt\n@rt.function\ndef f(x):\n    s = float(x.sum())\n"
                         "    return x * s\nf(rt.ones(2))\n", store_history=True)
    msg = str(res.error_in_exec)
    assert f"In[{res.execution_count}]:4" in msg, msg


def test_unloading_the_extension_takes_the_labels_away(shell):
    eagermagic.unload_ipython_extension(shell)
    try:
        res = shell.run_cell("import runtime as rt\nrt.ones(3) + rt.ones(4)\n", store_history=True)
        assert not re.search(r"In\[\d+\]", str(res.error_in_exec))
    finally:
        eagermagic.load_ipython_extension(shell)
    res = shell.run_cell("rt.ones(3) + rt.ones(4)\n", store_history=True)
    assert f"In[{res.execution_count}]:1" in str(res.error_in_exec)
