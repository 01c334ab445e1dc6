"""Build the tutorial notebooks from their readable sources: `python notebooks/src/build.py`.

Each `NN_name.py` here is a notebook in the "percent" format: a line `# %%` starts a code cell
(`# %% tags=["graph-cell"]` adds tags that tests look for), `# %% [markdown]` a markdown cell whose
lines start with `# `. The .ipynb files in notebooks/ are written without outputs; `--check`
only verifies they are up to date (the test suite runs that).
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

SRC = Path(__file__).resolve().parent
OUT = SRC.parent
HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?:\s+tags=(?P<tags>\[.*\]))?\s*$")
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def parse(text: str):
    cells, kind, tags, lines = [], None, [], []

    def flush():
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(re.sub(r"^# ?", "", ln) for ln in body.splitlines())
            cell = nbformat.v4.new_markdown_cell(body)
        else:
            cell = nbformat.v4.new_code_cell(body)
        if tags:
            cell.metadata["tags"] = tags
        cells.append(cell)

    for line in text.splitlines():
        m = HEADER.match(line)
        if m:
            flush()
            kind = "markdown" if m.group("md") else "code"
            tags = json.loads(m.group("tags")) if m.group("tags") else []
            lines = []
        elif kind is not None:
            lines.append(line)
    flush()
    return cells


def build(src: Path):
    nb = nbformat.v4.new_notebook()
    nb.cells = parse(src.read_text())
    for i, c in enumerate(nb.cells):
        c["id"] = f"{src.stem[:2]}-{i:02d}"        # stable ids: rebuilding changes nothing
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    return nb


def main(argv):
    check = "--check" in argv
    stale = []
    for src in sorted(SRC.glob("[0-9][0-9]_*.py")):
        out = OUT / (src.stem + ".ipynb")
        text = nbformat.writes(build(src)) + "\n"
        if check:
            if not out.exists() or out.read_text() != text:
                stale.append(out.name)
        else:
            out.write_text(text)
            print("wrote", out.relative_to(OUT.parent))
    if stale:
        print("out of date (run python notebooks/src/build.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
