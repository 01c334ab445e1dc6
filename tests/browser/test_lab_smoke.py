"""Layer 4: the tutorials in JupyterLab, driven in Debian's Chromium by Playwright.

What only a browser can show: the graph images really load, the widgets really render (their
JavaScript side found the state the kernel sent), and a tensor watch changes on screen while its
cell is still running. Everything else is checked faster in layers 1-3.

These tests never skip: a missing chromium or JupyterLab fails them with the setup command.
`UPDATE_SCREENSHOT=1` also writes the %%graph cell's screenshot to docs/graph-cell.png.
"""
import os
import re
import shutil
import time
from pathlib import Path
from urllib.parse import unquote

import pytest

import labtools

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
EAGER_NB = "01_eager_execution.ipynb"
GRAPH_NB = "02_graphs_and_tracing.ipynb"
WATCH_MARKER = "%%eager --watch loss,w"     # the cell whose live updates are recorded
GRAPH_MARKER = "%%graph"
RUN_TIMEOUT = 90


def _serve(tmp_path_factory, app):
    missing = labtools.missing_requirements()
    if missing:
        pytest.fail("browser tests need " + "; ".join(missing) + ". " + labtools.SETUP_HINT,
                    pytrace=False)
    root = tmp_path_factory.mktemp(f"{app}-root")
    for name in (EAGER_NB, GRAPH_NB):    # copies: autosave must not touch the repo's notebooks
        shutil.copy(REPO / "notebooks" / name, root / name)
    return labtools.LabServer(root, tmp_path_factory.mktemp(f"{app}-home"), app).start()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = _serve(tmp_path_factory, "lab")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory):
    server = _serve(tmp_path_factory, "notebook")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = labtools.launch_chromium(p)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    pg = ctx.new_page()
    yield pg
    ctx.close()


# The notebook on screen: JupyterLab can restore other tabs, hidden behind it.
NB = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"


def open_notebook(page, lab, name):
    page.goto(lab.notebook_url(name))
    page.wait_for_selector(f"{NB} .jp-CodeCell", timeout=60_000)
    lab.wait_kernel_ready(name)


def run_all_cells(page):
    page.get_by_role("menuitem", name=re.compile(r"^Run$")).click()
    # anchored: "Restart Kernel and Run All Cells…" contains the same words
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()


def wait_all_executed(page, timeout=RUN_TIMEOUT):
    deadline = time.monotonic() + timeout
    prompts = []
    while time.monotonic() < deadline:
        prompts = page.eval_on_selector_all(f"{NB} .jp-CodeCell .jp-InputPrompt",
                                            "els => els.map(e => e.textContent.trim())")
        if prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts):
            return prompts
        time.sleep(0.5)
    raise AssertionError(f"cells not all executed within {timeout} s; prompts: {prompts}")


def assert_no_errors_shown(page):
    text = page.inner_text(NB)
    assert "Traceback (most recent call last)" not in text, text[-3000:]
    for bad in ("Loading widget", "Error displaying widget"):
        assert bad not in text, f"{bad!r} on the page: a widget did not render"


def images(page):
    """(naturalWidth, src) of every image in an output, each scrolled into view first (those on
    a widget tab not shown load all the same)."""
    found = []
    for img in page.query_selector_all(f"{NB} .jp-OutputArea img"):
        img.evaluate("el => el.scrollIntoView({block: 'center'})")
        page.wait_for_function("el => el.complete", arg=img, timeout=10_000)
        found.append(img.evaluate("el => [el.naturalWidth, el.src]"))
    return found


# A MutationObserver that snapshots, whenever the page changes, the row of the watch panel that
# shows `loss` (the widget whose bold name is "loss") in the watch cell, noting whether the
# cell's prompt still says [*] (running).
OBSERVE = """
([marker, name]) => {
  window.__snapshots = [];
  const cellFor = () => [...document.querySelectorAll(
      '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell')]
      .find(c => (c.querySelector('.jp-InputArea-editor')?.textContent || '').includes(marker));
  new MutationObserver(() => {
    const cell = cellFor();
    if (!cell) return;
    const running = (cell.querySelector('.jp-InputPrompt')?.textContent || '').includes('*');
    const row = [...cell.querySelectorAll('.jp-OutputArea .jupyter-widgets.widget-html')]
      .find(w => w.querySelector('b')?.textContent.trim() === name);
    if (!row) return;
    const text = row.textContent + [...row.querySelectorAll('img, svg')].map(
      i => i.outerHTML.length).join(',');
    const last = window.__snapshots[window.__snapshots.length - 1];
    if (!last || last.text !== text || last.running !== running)
      window.__snapshots.push({t: performance.now(), running, text});
  }).observe(document.body, {subtree: true, childList: true, characterData: true,
                             attributes: true});
}
"""


@pytest.mark.parametrize("app", ["lab", "notebook7"])
def test_eager_tutorial_watch_updates_while_the_cell_runs(app, request, page):
    """In JupyterLab 4 and in Notebook 7: the whole eager tutorial runs, its widgets render, and
    the watch panel changes on screen while its cell is still running."""
    lab = request.getfixturevalue(app)
    open_notebook(page, lab, EAGER_NB)
    page.evaluate(OBSERVE, [WATCH_MARKER, "loss"])
    run_all_cells(page)
    wait_all_executed(page)
    assert_no_errors_shown(page)
    snaps = page.evaluate("window.__snapshots")
    live = [s for s in snaps if s["running"]]
    distinct = {s["text"] for s in live}
    print(f"loss row: {len(snaps)} snapshots, {len(distinct)} distinct while running; "
          f"first {live[0]['text'][:80]!r} last {live[-1]['text'][:80]!r}" if live else "none")
    assert len(distinct) >= 3, (
        f"the watched `loss` changed on screen {len(distinct)} time(s) while its cell ran "
        f"(want >= 3): updates did not reach the browser during the run. Snapshots: {snaps[:5]}")
    finished = [s for s in snaps if not s["running"]]
    assert finished, "no snapshot after the cell finished"
    assert "0.0100" in finished[-1]["text"], f"final loss not shown: {finished[-1]['text'][:300]}"
    assert all(w > 0 for w, _ in images(page))
    assert page.locator(f"{NB} .jp-OutputArea .jupyter-widgets").count() >= 2


def test_graph_tutorial_draws_graphs_and_widgets(lab, page, tmp_path):
    open_notebook(page, lab, GRAPH_NB)
    run_all_cells(page)
    wait_all_executed(page)
    assert_no_errors_shown(page)

    imgs = images(page)
    svg = [(w, unquote(src)) for w, src in imgs if src.startswith("data:image/svg+xml")]
    assert svg, f"no SVG image in the outputs ({len(imgs)} images)"
    broken = [src[:120] for w, src in svg if w == 0]
    assert not broken, f"SVG images that did not load: {broken}"
    assert any("tanh" in src for _, src in svg), "no drawn graph shows the cell's tanh op"
    assert page.locator(f"{NB} .jp-OutputArea .jupyter-widgets").count() >= 1

    cell = page.locator(f"{NB} .jp-CodeCell").filter(has_text=GRAPH_MARKER).filter(
        has=page.locator(".jp-OutputArea img")).first
    cell.scroll_into_view_if_needed()
    shot = tmp_path / "graph-cell.png"
    cell.screenshot(path=str(shot))
    assert shot.stat().st_size > 5_000
    if os.environ.get("UPDATE_SCREENSHOT"):
        (REPO / "docs").mkdir(exist_ok=True)
        shutil.copy(shot, REPO / "docs" / "graph-cell.png")
