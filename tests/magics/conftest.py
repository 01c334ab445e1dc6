"""One real IPython shell for the whole session (history in memory), the extension loaded the
way a user loads it; each test gets the shell with its namespace restored afterwards."""
import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from magic_helpers import graph_magics


@pytest.fixture(scope="session")
def shell():
    c = Config()
    c.HistoryManager.hist_file = ":memory:"
    sh = InteractiveShell.instance(config=c)
    sh.run_line_magic("load_ext", "eagermagic")
    yield sh
    InteractiveShell.clear_instance()


@pytest.fixture
def ip(shell):
    saved = dict(shell.user_ns)
    graph_magics(shell).cache.clear()
    shell.run_cell("import numpy as np, runtime as rt")
    yield shell
    shell.user_ns.clear()
    shell.user_ns.update(saved)
