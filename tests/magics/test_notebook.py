"""Layer 3: a short notebook using %%eager and %%graph, executed by a real kernel (nbclient).
Every output is scanned for errors (an exception in a display formatter is only an output, it
does not make nbclient raise) and the outputs are checked for what a user should see."""
import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parent / "data" / "magics_smoke.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _kernel_name(tmp_path_factory, monkeypatch_session):
    """`python3` when it launches this interpreter (the venv's own kernelspec does); otherwise a
    kernelspec written to a temporary JUPYTER_DATA_DIR that runs sys.executable."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    try:
        argv0 = KernelSpecManager().get_kernel_spec("python3").argv[0]
    except NoSuchKernel:
        argv0 = None
    if argv0 in ("python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}") or \
            (argv0 and os.path.realpath(argv0) == os.path.realpath(sys.executable)):
        return "python3"       # jupyter_client runs a bare "python" as sys.executable
    data = tmp_path_factory.mktemp("jupyter-data")
    spec = data / "kernels" / "eagermagic-magics"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "eagermagic magics test", "language": "python"}))
    monkeypatch_session.setenv("JUPYTER_DATA_DIR", str(data))
    return "eagermagic-magics"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IPYTHONDIR", str(tmp_path_factory.mktemp("ipython")))
        name = _kernel_name(tmp_path_factory, mp)
        nb = nbformat.read(NOTEBOOK, as_version=4)
        NotebookClient(nb, timeout=180, kernel_name=name, store_widget_state=True,
                       resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    return nb


def _cell(nb, tag):
    cells = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"notebook has no single cell tagged {tag!r}"
    return cells[0]


def _text(cell):
    parts = []
    for o in cell.outputs:
        if o.output_type == "stream":
            parts.append(o.text)
        elif o.output_type == "error":
            parts.append(f"{o.ename}: {o.evalue}")
        else:
            parts.append(o.get("data", {}).get("text/plain", ""))
            parts.append(re.sub(r"<[^>]+>", " ", o.get("data", {}).get("text/html", "")))
    return "\n".join(parts)


def _mimetypes(cell):
    return [m for o in cell.outputs for m in o.get("data", {})]


def test_no_cell_shows_an_error_except_the_one_meant_to(executed):
    for i, cell in enumerate(c for c in executed.cells if c.cell_type == "code"):
        tags = cell.get("metadata", {}).get("tags", [])
        errors = [o for o in cell.outputs if o.output_type == "error"]
        tracebacks = [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"
                      and "Traceback" in o.text]
        if "raises-exception" in tags:
            assert len(errors) == 1, cell.source
        else:
            assert not errors and not tracebacks, (i, cell.source, errors, tracebacks)


def test_eager_cell_shows_its_value_and_live_panel(executed):
    cell = _cell(executed, "eager")
    assert "Tensor(" in _text(cell)
    assert WIDGET_VIEW in _mimetypes(cell)          # the live tensor panel


def test_graph_cell_shows_svgs_timing_and_trace_time_print(executed):
    cell = _cell(executed, "graph")
    text = _text(cell)
    assert "traced (first run of this cell)" in text
    assert "trace-time output" in text and "traced once" in text
    assert _mimetypes(cell).count("image/svg+xml") >= 1
    svg = next(o.data["image/svg+xml"] for o in cell.outputs if "image/svg+xml" in o.get("data", {}))
    assert "<svg" in svg and "matmul" in svg
    assert re.search(r"per loop \(mean ± std\. dev\. of 2 runs, 3 loops each\)", text)
    assert "speed-up" in text and "break-even" in text
    assert "Tensor(" in text                                  # the last expression, displayed


def test_rerun_is_a_cache_hit_and_python_print_does_not_repeat(executed):
    text = _text(_cell(executed, "cache"))
    assert "cache hit" in text and "traced once" not in text


def test_explorer_widget_state_was_saved_by_the_kernel(executed):
    cell = _cell(executed, "explore")
    views = [o.data[WIDGET_VIEW]["model_id"] for o in cell.outputs if WIDGET_VIEW in o.get("data", {})]
    assert len(views) == 1
    states = executed.metadata["widgets"][WIDGET_STATE]["state"]
    tabs = [s["state"] for s in states.values() if s["model_name"] == "TabModel"]
    titles = [t["titles"] for t in tabs]
    assert ["traced graph", "optimized graph", "code", "passes", "timings", "profile"] in [list(t) for t in titles]
    outputs = [s["state"].get("outputs", []) for s in states.values() if s["model_name"] == "OutputModel"]
    assert any("image/svg+xml" in o.get("data", {}) for outs in outputs for o in outs)


def test_failed_graph_cell_points_at_its_line_and_binds_nothing(executed):
    err = _cell(executed, "error")
    text = _text(err)
    assert "RuntimeOpError" in text and "matmul" in text
    tb = "\n".join(o.traceback and "\n".join(o.traceback) for o in err.outputs if o.output_type == "error")
    assert "bad = x @ x" in re.sub(r"\x1b\[[0-9;]*m", "", tb)
    check = _text(_cell(executed, "check"))
    assert check.startswith("False ")          # `bad` was never bound
