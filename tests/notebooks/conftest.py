"""Fixtures for layer 3: an isolated Jupyter environment and notebooks executed once per test module."""

import pytest

import nbtools


@pytest.fixture(scope="module")
def jupyter_env(tmp_path_factory):
    """Point Jupyter at a temporary data/config/runtime dir holding a kernelspec for this venv."""
    env = nbtools.isolated_jupyter_env(tmp_path_factory.mktemp("jupyter"))
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        yield env


@pytest.fixture(scope="module")
def executed(jupyter_env):
    """`executed("01_eager_execution.ipynb")` -> (notebook with outputs, seconds), run once.
    Module-scoped like jupyter_env, so the environment changes end with this module."""
    cache = {}

    def run(name):
        if name not in cache:
            cache[name] = nbtools.execute(nbtools.NOTEBOOK_DIR / name)
        return cache[name]
    return run
