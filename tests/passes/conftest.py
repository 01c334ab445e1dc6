"""Small thresholds for the optimizer tests: with them, arrays of a few dozen elements already
fuse into loops of several blocks (with a shorter last block) and reuse buffers, so generated
programs exercise the same code paths as the big arrays of the benchmarks, quickly."""
import pytest

from runtime.passes import fusion, memory, simplify


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(fusion, "CHUNK_ELEMENTS", 2)
    monkeypatch.setattr(fusion, "ROW_BLOCK_BYTES", 64)
    monkeypatch.setattr(memory, "REUSE_MIN_BYTES", 1)
    yield


@pytest.fixture
def exact_only():
    """Only exact rewrites (x**3 -> x*x*x is inexact, by up to 2 ulp)."""
    simplify.simplify_options(inexact=())
    yield
    simplify.simplify_options(None)
