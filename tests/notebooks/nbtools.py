"""Run notebooks in a real kernel and read what they show (layer 3 of TESTING.md).

The kernel is this interpreter (`sys.executable`), through a kernelspec written into a temporary
JUPYTER_DATA_DIR, so a user-level `python3` kernelspec pointing at another Python can't shadow it.
"""
from __future__ import annotations

import base64
import json
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = REPO / "notebooks"
KERNEL_NAME = "eagermagic-test"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def isolated_jupyter_env(tmp: Path) -> dict:
    """Environment variables for a Jupyter that reads nothing from the user's home, with a
    kernelspec that runs this very interpreter (where eagermagic is installed)."""
    data = tmp / "data"
    spec_dir = data / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "eagermagic tests (this venv)",
        "language": "python",
    }))
    env = {"JUPYTER_DATA_DIR": str(data), "JUPYTER_CONFIG_DIR": str(tmp / "config"),
           "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"), "IPYTHONDIR": str(tmp / "ipython"),
           "JUPYTER_PLATFORM_DIRS": "1"}
    for d in ("config", "runtime", "ipython"):
        (tmp / d).mkdir(exist_ok=True)
    return env


def kernel_python(kernel_name: str = KERNEL_NAME) -> str:
    """The interpreter the named kernelspec launches (what `jupyter kernelspec list` would use)."""
    from jupyter_client.kernelspec import KernelSpecManager
    return KernelSpecManager().get_kernel_spec(kernel_name).argv[0]


def execute(path: Path, timeout: int = 120, allow_errors: bool = False) -> tuple:
    """Execute a notebook top to bottom; returns (executed notebook, seconds)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=KERNEL_NAME, allow_errors=allow_errors,
                            resources={"metadata": {"path": str(path.parent)}},
                            store_widget_state=True)
    t0 = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - t0


# -- reading outputs -----------------------------------------------------------------------------

def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def tagged(nb, tag: str):
    """The code cells carrying `tag` in their metadata (how notebooks mark cells tests look at)."""
    cells = [c for c in code_cells(nb) if tag in c.get("metadata", {}).get("tags", [])]
    assert cells, f"no cell is tagged {tag!r}: the notebook changed, update the test"
    return cells


def expected_error(nb, tag: str) -> dict:
    """The error output of the cell tagged `tag`, which must also be tagged raises-exception and
    must really have failed (a cell that stops failing is a changed lesson)."""
    (cell,) = tagged(nb, tag)
    assert EXPECTED_ERROR_TAG in cell.metadata.get("tags", []), f"{tag}: not tagged raises-exception"
    errs = [o for o in cell.outputs if o.output_type == "error"]
    assert errs, f"the cell tagged {tag!r} was expected to raise, and did not"
    return {"ename": errs[0].ename, "evalue": errs[0].evalue,
            "traceback": _ANSI.sub("", "\n".join(errs[0].traceback))}


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def outputs(cells):
    return [o for c in cells for o in c.get("outputs", [])]


EXPECTED_ERROR_TAG = "raises-exception"   # Jupyter's own tag: nbclient and JupyterLab go on


def errors(nb) -> list:
    """Every error output, with the cell it came from, except in cells tagged raises-exception
    (failing on purpose; their checks assert the error). nbclient raises for an exception in a
    cell's code, but one inside a display formatter (`_repr_svg_` raising ...) is only an output."""
    found = []
    for i, c in enumerate(code_cells(nb)):
        for o in c.get("outputs", []):
            if EXPECTED_ERROR_TAG in c.get("metadata", {}).get("tags", []) \
                    and o.get("output_type") == "error":
                continue
            if o.get("output_type") == "error":
                found.append(f"cell {i}: {o.get('ename')}: {o.get('evalue')}\n"
                             f"--- source ---\n{c.source}")
            elif o.get("output_type") == "stream" and o.get("name") == "stderr" \
                    and "Traceback (most recent call last)" in o.get("text", ""):
                found.append(f"cell {i}: traceback on stderr:\n{o['text']}")
    return found


def text(outs) -> str:
    """Everything the outputs show as text: streams, text/plain, and HTML with its tags removed."""
    parts = []
    for o in outs:
        if o.get("output_type") == "stream":       # a stream may come in pieces: glue them
            if parts and parts[-1].endswith("\x00"):
                parts[-1] = parts[-1][:-1] + _join(o.get("text", "")) + "\x00"
            else:
                parts.append(_join(o.get("text", "")) + "\x00")
        elif o.get("output_type") == "error":
            parts.append(f"{o.get('ename')}: {o.get('evalue')}")
        else:
            data = o.get("data", {})
            if "text/html" in data:
                parts.append(re.sub(r"<[^>]+>", " ", _join(data["text/html"])))
            if "text/plain" in data:
                parts.append(_join(data["text/plain"]))
            if "text/markdown" in data:
                parts.append(_join(data["text/markdown"]))
    return "\n".join(p.rstrip("\x00") for p in parts)


def _join(v):
    return "".join(v) if isinstance(v, list) else v


def svgs(outs) -> list:
    """SVG documents the outputs display: as image/svg+xml, or inline <svg> inside HTML
    (including <img src="data:image/svg+xml..."> data URLs)."""
    found = []
    for o in outs:
        data = o.get("data", {})
        if "image/svg+xml" in data:
            found.append(_join(data["image/svg+xml"]))
        html = _join(data.get("text/html", ""))
        found += re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
        for m in re.finditer(r'src="data:image/svg\+xml(;base64)?,([^"]+)"', html):
            raw = m.group(2)
            found.append(base64.b64decode(raw).decode() if m.group(1) else unquote(raw))
    return found


def widget_model_ids(outs) -> list:
    return [_as_dict(o["data"][WIDGET_VIEW])["model_id"] for o in outs
            if WIDGET_VIEW in o.get("data", {})]


def _as_dict(v):
    return json.loads(v) if isinstance(v, str) else v


def widget_states(nb) -> dict:
    """model_id -> {"model_name": ..., "state": {...}} as nbclient saved it at the end of the run."""
    meta = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {})
    return meta.get("state", {})


def widget_tree_text(nb, model_id: str) -> str:
    """All text a widget and its children hold (values, descriptions, HTML with its tags removed),
    for content checks. Output widgets are followed into their captured outputs."""
    return re.sub(r"<[^>]+>", " ", widget_tree_raw(nb, model_id))


def widget_tree_raw(nb, model_id: str, _seen=None) -> str:
    """Like widget_tree_text, with HTML values as they are (to look for <img> and <svg>)."""
    states = widget_states(nb)
    seen = _seen if _seen is not None else set()
    if model_id in seen or model_id not in states:
        return ""
    seen.add(model_id)
    st = states[model_id]["state"]
    parts = []
    for key in ("value", "description", "placeholder", "tooltip"):
        v = st.get(key)
        if isinstance(v, str):
            parts.append(v)
    for o in st.get("outputs", []) or []:
        parts.append(text([o]))
        parts += svgs([o])
        for mid in widget_model_ids([o]):
            parts.append(widget_tree_raw(nb, mid, seen))
    for ref in _refs(st):
        parts.append(widget_tree_raw(nb, ref, seen))
    return "\n".join(p for p in parts if p)


def widget_tree_svgs(nb, model_id: str, _seen=None) -> list:
    states = widget_states(nb)
    seen = _seen if _seen is not None else set()
    if model_id in seen or model_id not in states:
        return []
    seen.add(model_id)
    st = states[model_id]["state"]
    found = []
    for key in ("value",):
        v = st.get(key)
        if isinstance(v, str):
            found += svgs([{"data": {"text/html": v}}])
    outs = st.get("outputs", []) or []
    found += svgs(outs)
    for mid in widget_model_ids(outs) + _refs(st):
        found += widget_tree_svgs(nb, mid, seen)
    return found


def _refs(state) -> list:
    """Model ids a widget's state refers to ("IPY_MODEL_<id>" strings, e.g. a Box's children)."""
    out = []

    def walk(v):
        if isinstance(v, str) and v.startswith("IPY_MODEL_"):
            out.append(v[len("IPY_MODEL_"):])
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
    for k, v in state.items():
        if k != "outputs":
            walk(v)
    return out
