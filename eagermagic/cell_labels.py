"""Name notebook cells as In[n] in the runtime's messages, drawings and generated code.

IPython compiles every cell under a generated filename (`/tmp/ipykernel_4242/1234567.py` in a
kernel, `<ipython-input-5-...>` in a terminal) and keeps which execution count each one belongs
to. The runtime cannot import IPython, so the extension lends it a labeler that asks the shell:
an error in an ordinary eager cell then says `In[5]:2: y = a + b`, as IPython's own tracebacks
say `Cell In[5], line 2`.
"""
from __future__ import annotations

from runtime.errors import FILE_LABELERS


class _CellLabeler:
    def __init__(self, shell):
        self.shell = shell

    def __call__(self, filename: str) -> str | None:
        # IPython's CachingCompiler (and ipykernel's) map each cell's filename to its number
        n = getattr(self.shell.compile, "_filename_map", {}).get(filename)
        return f"In[{n}]" if n is not None else None


def label_cells(shell) -> None:
    if not any(isinstance(f, _CellLabeler) and f.shell is shell for f in FILE_LABELERS):
        FILE_LABELERS.append(_CellLabeler(shell))


def unlabel_cells(shell) -> None:
    FILE_LABELERS[:] = [f for f in FILE_LABELERS if not (isinstance(f, _CellLabeler) and f.shell is shell)]
