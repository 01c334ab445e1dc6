"""The benchmark runner works (figures are printed, never asserted): `python -m benchmarks`
pins itself to one CPU and one BLAS thread before NumPy loads, lists and selects workloads,
and prints a table of ratios against the NumPy baseline measured in the same run."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=env)


def test_list_names_the_runtime_workloads():
    proc = _run("--list")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^runtime\s+P1, P2, P5$", proc.stdout, re.M)


def test_a_selected_workload_runs_pinned_and_prints_ratios():
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "4"}       # pin() must set it back to 1
    env.pop("EAGERMAGIC_BENCH_REEXEC", None)
    proc = _run("p2", "--rounds", "1", "--min-time", "0.001", env=env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(r"cpu \d+, 1 thread", out)
    assert "P2 compiled chain" in out and "P1 eager" not in out and "P5" not in out
    assert re.search(r"^  numpy\s+.*1\.00x\s+1\.00x.*\(baseline\)$", out, re.M)
    assert re.search(r"^  rt\.function\(tensors\)\s+[\d.]+ [mun]?s\s+[\d.]+ [mun]?s\s+[\d.]+x", out, re.M)


def test_unknown_workload_is_an_error_that_lists_the_known_ones():
    proc = _run("p99")
    assert proc.returncode == 2 and "P1" in proc.stderr and "P5" in proc.stderr
