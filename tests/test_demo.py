"""`make demo` (python -m eagermagic.demo) runs headless and shows what it promises: the traced
and the optimized graph, the generated code (valid Python), and the eager-vs-graph timing table."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _section(text, title):
    start = text.index(f"== {title}")
    body = text[text.index("\n", start) + 1:]
    end = body.find("\n== ")
    return body if end < 0 else body[:end]


def test_demo_prints_graphs_code_and_timing_table():
    proc = subprocess.run([sys.executable, "-m", "eagermagic.demo"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout

    traced = _section(out, "traced graph")
    assert traced.startswith("graph block(x: f32[512,256], w: f32[256,256], b: f32[256]):")
    assert "= matmul(x, w)" in traced and "tanh(" in traced and "pow(" in traced
    assert re.search(r"^  return v\d+$", traced, re.M)

    optimized = _section(out, "optimized graph")
    assert optimized.startswith("graph block(")
    assert "pow(" not in optimized.split("passes:")[0]          # x**3 was rewritten to multiplies
    assert "simplify" in optimized and "memory" in optimized    # the pass report

    code = _section(out, "generated code")
    assert code.startswith("def block(x, w, b):")
    compile(code, "<demo code>", "exec")                        # what is shown is real Python
    assert "matmul(x, w)" in code and "# demo.py:" in code      # lines point at the model's source

    table = _section(out, "timing: eager vs graph")
    for row in ("eager (one NumPy call per op)", "graph (compiled, cache hit)"):
        assert re.search(re.escape(row) + r"\s+[\d.]+ (s|ms|us|ns)$", table, re.M), table
    assert re.search(r"speed-up\s+[\d.]+x", table)
    assert re.search(r"trace \+ optimize \+ codegen, once\s+[\d.]+ ms \(trace", table)
    diff = float(re.search(r"max \|graph - eager\|\s+(\S+)", table).group(1))
    assert diff < 1e-3
