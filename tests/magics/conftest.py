"""Each magics test gets the session shell (tests/conftest.py) with its namespace restored
afterwards and the %%graph cache cleared."""
import pytest

from magic_helpers import graph_magics


@pytest.fixture
def ip(shell):
    saved = dict(shell.user_ns)
    graph_magics(shell).cache.clear()
    shell.run_cell("import numpy as np, runtime as rt")
    yield shell
    shell.user_ns.clear()
    shell.user_ns.update(saved)
