"""Layer 3: every tutorial in notebooks/ executed top to bottom by a real kernel.

A notebook passes when no output anywhere is an error (nbclient only raises for exceptions in a
cell's code, not for ones inside display formatters, so every output is scanned) and it shows
what it teaches: graphs drawn as SVG, widgets displayed with their final state, timing tables,
a trained loss below a threshold. Cells the checks look at carry a tag in their metadata.
"""
import re
import subprocess
import sys
import warnings

import nbformat
import pytest

import nbtools
from nbtools import errors, outputs, svgs, tagged, text, widget_model_ids, widget_states

NOTEBOOKS = sorted(p.name for p in nbtools.NOTEBOOK_DIR.glob("*.ipynb"))
SLOW_SECONDS = 60


def test_tutorials_exist():
    assert len(NOTEBOOKS) >= 1, f"no notebooks in {nbtools.NOTEBOOK_DIR}"


def test_notebooks_are_built_from_their_sources():
    """notebooks/*.ipynb are generated from notebooks/src/*.py; a hand edit to one side only
    would make the two disagree."""
    r = subprocess.run([sys.executable, str(nbtools.NOTEBOOK_DIR / "src" / "build.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_without_outputs(name):
    nb = nbformat.read(nbtools.NOTEBOOK_DIR / name, as_version=4)
    dirty = [i for i, c in enumerate(nbtools.code_cells(nb)) if c.outputs or c.execution_count]
    assert not dirty, f"{name}: code cells {dirty} have outputs; clear them before committing"
    assert "widgets" not in nb.metadata, f"{name}: saved widget state; clear it before committing"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_has_predict_then_run_moments(name):
    nb = nbformat.read(nbtools.NOTEBOOK_DIR / name, as_version=4)
    md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert md.count("Predict, then run") + md.count("**Predict:**") >= 2, \
        f"{name}: a tutorial should ask the reader to predict before running, at least twice"


def test_kernel_runs_this_venv(jupyter_env):
    """The kernel the notebooks run in is this interpreter, where eagermagic is installed."""
    assert nbtools.kernel_python() == sys.executable


def test_default_kernel_loads_the_extension_from_the_notebooks_folder(jupyter_env):
    """What `make lab` relies on: the default `python3` kernel of this environment, started in
    notebooks/, is this interpreter and imports eagermagic as a real package (a stale editable
    install once made it an empty namespace package there, and %load_ext failed)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import sys, eagermagic\n%load_ext eagermagic\n"
        "print(sys.executable); print(eagermagic.__file__)\n"
        "print(sorted(get_ipython().magics_manager.magics['cell']))")]
    from nbclient import NotebookClient
    NotebookClient(nb, timeout=60, kernel_name="python3",
                   resources={"metadata": {"path": str(nbtools.NOTEBOOK_DIR)}}).execute()
    shown = text(nb.cells[0].outputs).split("\n")
    assert shown[0] == sys.executable, shown
    assert shown[1] == str(nbtools.REPO / "eagermagic" / "__init__.py"), shown
    assert "'eager'" in shown[2] and "'graph'" in shown[2], shown


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_without_errors(executed, name):
    nb, seconds = executed(name)
    found = errors(nb)
    assert not found, f"{name}: error outputs:\n" + "\n\n".join(found)
    if seconds > SLOW_SECONDS:
        warnings.warn(f"{name} took {seconds:.0f} s; tutorials should run in under a minute")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_shows_what_it_teaches(executed, name):
    assert name in CHECKS, f"{name} has no content checks: add them to CHECKS in {__file__}"
    nb, _ = executed(name)
    CHECKS[name](nb)


# -- per-notebook content checks ------------------------------------------------------------------

def _widgets_displayed(nb, cells):
    """Model ids of the widgets the cells display, each with saved state (the browser can draw it)."""
    ids = widget_model_ids(outputs(cells))
    assert ids, "no widget view displayed"
    states = widget_states(nb)
    lost = [i for i in ids if i not in states]
    assert not lost, f"widget views without saved state (would show 'Error displaying widget'): {lost}"
    return ids


def _number_after(label, s):
    m = re.search(label + r"\s*[:=]?\s*([-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?)", s)
    assert m, f"{label!r} not found in:\n{s[:2000]}"
    return float(m.group(1))


CHECKS = {}


def check_02(nb):
    first = tagged(nb, "trace-print")
    assert "Tracer<f64[3]>" in text(outputs(first)), "Python print while tracing shows a Tracer"

    graph = outputs(tagged(nb, "graph-first"))
    drawn = svgs(graph)
    assert drawn, "the %%graph cell draws no SVG graph"
    assert any("tanh" in s and "matmul" in s for s in drawn), "the graph lacks the cell's ops"
    assert "traced (first run" in text(graph)

    assert "cache hit" in text(outputs(tagged(nb, "graph-hit")))
    (explorer,) = _widgets_displayed(nb, tagged(nb, "graph-explore"))
    titles = [t for st in widget_states(nb).values() if st["model_name"] == "TabModel"
              for t in st["state"].get("titles", [])]
    for page in ("traced graph", "optimized graph", "code", "passes", "profile"):
        assert page in titles, f"explorer tab {page!r} missing: {titles}"
    assert len(nbtools.widget_tree_svgs(nb, explorer)) >= 2, "explorer tabs hold no drawn graphs"
    retrace = text(outputs(tagged(nb, "graph-retrace")))
    assert "retrace" in retrace and "x: f32[64,128] -> f32[32,128]" in retrace, retrace

    once = text(outputs(tagged(nb, "print-first")))
    assert "trace-time" in once and "Python print: Tracer" in once, once
    assert re.search(r"rt\.print: mean of x is -?\d", once), once
    again = text(outputs(tagged(nb, "print-second")))
    assert re.search(r"rt\.print: mean of x is -?\d", again), again
    assert "Python print: Tracer" not in again, "Python print ran again on a cache hit"

    loop = text(outputs(tagged(nb, "retrace-loop")))
    assert "5 trace(s)" in loop and "p: 1.0 -> 2.0" in loop and "RetracingWarning" in loop, loop
    assert "1 trace(s)" in text(outputs(tagged(nb, "retrace-fixed")))
    static = text(outputs(tagged(nb, "static")))
    assert "2 trace(s)" in static and "1 cache hit(s)" in static, static
    assert "Ways out" in text(outputs(tagged(nb, "concretization")))


CHECKS["02_graphs_and_tracing.ipynb"] = check_02


def _has_cluster(svg_docs):
    """A fused group is drawn as a Graphviz cluster (a box around the ops it runs together)."""
    return any('class="cluster"' in s for s in svg_docs)


def check_03(nb):
    steps = text(outputs(tagged(nb, "pass-by-pass")))
    for what in ("after fold", "folded", "x**3", "merged", "removed", "after fuse", "after memory"):
        assert what in steps, f"pass-by-pass output lacks {what!r}:\n{steps[:3000]}"

    messy = outputs(tagged(nb, "graph-messy"))
    drawn = svgs(messy)
    assert len(drawn) >= 2, "traced and optimized graphs should both be drawn"
    assert _has_cluster(drawn), "the optimized graph shows no fused group"
    assert "optimization passes" in text(messy)

    assert "agree" in text(outputs(tagged(nb, "graph-check")))

    fused = outputs(tagged(nb, "graph-fused"))
    assert _has_cluster(svgs(fused)), "layer_norm is not drawn as a fused group"
    assert "for lo in range" in text(fused), "--code shows no generated loop"
    assert "matmul(" in text(fused), "the text promises BLAS row sums"

    compare = text(outputs(tagged(nb, "compare")))
    for what in ("eager", "graph", "speed-up", "break-even", "mean ± std. dev. of 3 runs"):
        assert what in compare, f"timing table lacks {what!r}:\n{compare}"

    sweep = text(outputs(tagged(nb, "sweep")))
    rows = re.findall(r"^\s*([\d,]+)\s+([\d.]+) us\s+([\d.]+) us\s+([\d.]+)x", sweep, flags=re.M)
    assert [r[0] for r in rows] == ["10", "1,000", "100,000", "1,000,000"], sweep
    assert "speed-up" in text(outputs(tagged(nb, "no-pay-matmul")))
    assert "(50 traces)" in text(outputs(tagged(nb, "no-pay-shapes")))


CHECKS["03_optimization_and_speed.ipynb"] = check_03


def check_01(nb):
    tower_cells = tagged(nb, "eager-tower")
    (tower,) = _widgets_displayed(nb, tower_cells)
    panel = nbtools.widget_tree_text(nb, tower)
    assert "tower" in panel and "f64[8,8]" in panel and "max 8" in panel, panel
    assert "data:image/png" in nbtools.widget_tree_raw(nb, tower), "no heatmap of the 8x8 tower"

    loss_cells = tagged(nb, "eager-loss")
    (watch,) = _widgets_displayed(nb, loss_cells)
    panel = nbtools.widget_tree_text(nb, watch)
    assert "loss" in panel and "w" in panel and "f64[3]" in panel, panel
    assert "tower" not in panel, "--watch loss,w showed other names"
    assert nbtools.widget_tree_svgs(nb, watch), "the loss history is not drawn as a curve"
    final = _number_after("final loss", text(outputs(loss_cells)))
    assert final < 0.02, f"gradient descent did not converge: final loss {final}"


CHECKS["01_eager_execution.ipynb"] = check_01


def check_05(nb):
    failure = text(outputs(tagged(nb, "failure")))
    assert "ConcretizationError" in failure and "Ways out" in failure, failure
    assert re.search(r"\[ ?-?1\.? +3\.? +-2\.? +0\.5\]", text(outputs(tagged(nb, "fix-where")))), \
        "rt.where did not flip the negative-sum vector"
    cond = outputs(tagged(nb, "fix-cond"))
    drawn = svgs(cond)
    assert drawn and _has_cluster(drawn) and "negative" in drawn[0], \
        "the cond node should be drawn with its branches as sub-graph clusters"
    assert "2 trace(s)" in text(outputs(tagged(nb, "fix-static")))
    auto = text(outputs(tagged(nb, "autograph")))
    assert "traces: 1" in auto and "= cond(" in auto, auto
    loop = text(outputs(tagged(nb, "while")))
    assert "traces: 1" in loop and "= while_loop(" in loop, loop
    assert "sqrt(1e+06) = 1000.000000" in loop, loop
    unroll = text(outputs(tagged(nb, "unroll")))
    assert "300 nodes traced" in unroll and "1 node traced" in unroll, unroll
    assert "same result: True" in unroll
    explicit = text(outputs(tagged(nb, "explicit")))
    assert "10 1024.0" in explicit and "fori_loop:  10" in explicit, explicit
    limits = text(outputs(tagged(nb, "limits")))
    assert "AutographError" in limits and "`return` inside a `while`" in limits, limits
    assert "is at index 1" in text(outputs(tagged(nb, "limits-fixed")))


CHECKS["05_control_flow.ipynb"] = check_05


def check_06(nb):
    err = nbtools.expected_error(nb, "trace-error")
    assert err["ename"] == "RuntimeOpError", err
    assert "matmul(f64[4,3], f64[4,2]) failed while tracing" in err["evalue"], err["evalue"]
    assert "h = x @ w" in err["evalue"] and "hint:" in err["evalue"], err["evalue"]
    # an ordinary cell is named as the user sees it, not by the kernel's temporary file
    assert re.search(r"In\[\d+\]:\d+", err["evalue"]) and "ipykernel_" not in err["evalue"], err["evalue"]

    err = nbtools.expected_error(nb, "graph-error")
    assert re.search(r"at In\[\d+\]:3: out = h @ w", err["evalue"]), err["evalue"]
    assert "out = h @ w" in err["traceback"], "the traceback does not show the cell's line"
    unchanged = text(outputs(tagged(nb, "unchanged")))
    assert "the value h had before" in unchanged and "False" in unchanged, \
        "a failed %%graph cell changed the namespace"

    err = nbtools.expected_error(nb, "run-error")
    assert "failed while running compiled function `pick_row`" in err["evalue"], err["evalue"]
    assert "return x[i] * 2" in err["evalue"] and "generated code" in err["evalue"], err["evalue"]
    assert re.search(r"In\[\d+\]:\d+", err["evalue"]) and "ipykernel_" not in err["evalue"], err["evalue"]

    err = nbtools.expected_error(nb, "leak")
    assert err["ename"] == "TracerLeakError" and "saved[0] + 1" in err["evalue"], err

    differ = text(outputs(tagged(nb, "check-differ")))
    assert "DIFFER" in differ and "noise" in differ, differ
    fixed = outputs(tagged(nb, "check-fixed"))
    assert any("random_normal" in s for s in svgs(fixed)), "rt.random.normal not drawn in the graph"

    eagerly = text(outputs(tagged(nb, "run-eagerly")))
    assert "h is Tracer" in eagerly and "h is Tensor" in eagerly, eagerly
    code = text(outputs(tagged(nb, "code")))
    assert code.lstrip().startswith("def layer(") and "maximum(" in code and "multiply(" in code
    assert "max difference eager vs compiled: 0.0" in text(outputs(tagged(nb, "compare-modes")))


CHECKS["06_debugging.ipynb"] = check_06


def check_04(nb):
    assert "df/dx(2) = 12.0" in text(outputs(tagged(nb, "tape")))
    assert "f''(2) = 12.0" in text(outputs(tagged(nb, "grad")))
    fd = _number_after("largest difference", text(outputs(tagged(nb, "finite-differences"))))
    assert fd < 1e-6, f"autodiff and finite differences disagree by {fd}"

    eager_cells = tagged(nb, "train-eager")
    (watch,) = _widgets_displayed(nb, eager_cells)
    panel = nbtools.widget_tree_text(nb, watch)
    assert "loss" in panel, panel
    assert nbtools.widget_tree_svgs(nb, watch), "no live loss curve"
    eager_out = text(outputs(eager_cells))
    assert _number_after("final loss", eager_out) < 0.05, eager_out
    assert _number_after("accuracy", eager_out) > 0.95, eager_out

    compiled = text(outputs(tagged(nb, "train-compiled")))
    assert _number_after("final loss", compiled) < 0.05, compiled
    assert "1 trace(s)" in compiled and "149 cache hit(s)" in compiled, compiled

    timing = text(outputs(tagged(nb, "train-timing")))
    eager_ms = _number_after(r"\neager", timing)
    graph_ms = _number_after("compiled", timing)
    assert eager_ms > 0 and graph_ms > 0 and "speed-up" in timing, timing

    compare = text(outputs(tagged(nb, "train-compare")))
    for what in ("params_c", "speed-up", "break-even", "mean ± std. dev. of 3 runs"):
        assert what in compare, f"%%graph --compare on a training step lacks {what!r}:\n{compare}"

    taped = text(outputs(tagged(nb, "tape-compiled")))
    assert _number_after("eager loss: the tape recorded", taped) > 10, taped
    assert "compiled loss: the tape recorded 1 op: loss_fn (compiled)" in taped, taped
    assert _number_after("between the two gradients:", taped) < 1e-5, taped

    (boundary,) = _widgets_displayed(nb, tagged(nb, "boundary"))
    assert "f32[48,48]" in nbtools.widget_tree_text(nb, boundary)
    assert "data:image/png" in nbtools.widget_tree_raw(nb, boundary), "no picture of the boundary"


CHECKS["04_gradients_and_training.ipynb"] = check_04
