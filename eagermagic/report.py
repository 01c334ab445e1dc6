"""Small reports a `%%graph` cell shows: what each pass did, eager-vs-graph differences
(`--check`), and where the time goes node by node (`--profile`). Each prints as text and shows as
an HTML table in a notebook.
"""
from __future__ import annotations

import html
import time
from dataclasses import dataclass, field

import numpy as np

from .render import loc_text


def _table(head, rows) -> str:
    th = "".join(f"<th style='text-align:left'>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(c))}</td>"
                                    for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _text_table(head, rows) -> str:
    cols = list(zip(head, *rows)) if rows else [(h,) for h in head]
    widths = [max(len(str(c)) for c in col) for col in cols]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head, *rows]]
    return "\n".join(lines)


def _kb(n: int) -> str:
    return f"{n / 1024:,.1f} KB" if n < 1 << 20 else f"{n / (1 << 20):,.1f} MB"


class PassTable:
    """What each optimization pass changed (from rt.function's PassReports)."""

    HEAD = ("pass", "nodes", "intermediates", "ms", "what changed")

    def __init__(self, reports):
        self.reports = list(reports)

    def rows(self):
        return [(r.name, f"{r.nodes_before} -> {r.nodes_after}",
                 f"{_kb(r.bytes_before)} -> {_kb(r.bytes_after)}", f"{r.ms:.2f}",
                 ", ".join(f"{k}: {v}" for k, v in r.changes.items()) or "no change")
                for r in self.reports]

    def __str__(self):
        if not self.reports:
            return "no optimization passes ran"
        return "optimization passes:\n" + _text_table(self.HEAD, self.rows())

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    def _repr_html_(self):
        if not self.reports:
            return "<p>no optimization passes ran</p>"
        return "<b>optimization passes</b>" + _table(self.HEAD, self.rows())


# ---------------------------------------------------------------------------------------------
# --check

def _tolerance(dtype):
    kind, size = np.dtype(dtype).kind, np.dtype(dtype).itemsize
    if kind not in "fc":
        return 0.0, 0.0
    if size <= 2 or (kind == "c" and size <= 4):
        return 1e-2, 1e-3
    if size <= 4 or (kind == "c" and size <= 8):
        return 1e-4, 1e-5
    return 1e-9, 1e-12


@dataclass
class CheckReport:
    """Eager outputs against graph outputs, one row per output."""
    rows: list = field(default_factory=list)    # (name, ok, detail)

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.rows)

    @property
    def differences(self) -> list:
        return [(n, d) for n, ok, d in self.rows if not ok]

    def __str__(self):
        if self.ok:
            return (f"--check: eager and graph agree on all {len(self.rows)} output(s)"
                    + "".join(f"\n  {n}: {d}" for n, _, d in self.rows))
        return ("--check: eager and graph DIFFER:" +
                "".join(f"\n  {n}: {'ok, ' if ok else 'DIFFERENT, '}{d}" for n, ok, d in self.rows))

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    def _repr_html_(self):
        head = "eager and graph agree" if self.ok else "eager and graph DIFFER"
        color = "#2e7d32" if self.ok else "#c62828"
        rows = [(n, "same" if ok else "DIFFERENT", d) for n, ok, d in self.rows]
        return (f"<b style='color:{color}'>--check: {head}</b>"
                + _table(("output", "", "detail"), rows))


def _leaves(tree, prefix):
    tp = type(tree)
    if tp is dict:
        for k in sorted(tree, key=repr):
            yield from _leaves(tree[k], f"{prefix}[{k!r}]" if prefix else str(k))
    elif tp in (list, tuple):
        for i, x in enumerate(tree):
            yield from _leaves(x, f"{prefix}[{i}]")
    else:
        yield prefix, tree


def _as_array(x):
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return np.asarray(x)
    return None


def compare_leaf(a, b) -> tuple:
    """(same?, detail) for one eager value `a` against one graph value `b`."""
    xa, xb = _as_array(a), _as_array(b)
    if xa is None or xb is None:
        if xa is not None or xb is not None:
            return False, f"eager gave {type(a).__name__}, graph gave {type(b).__name__}"
        try:
            same = bool(a == b)
        except Exception:
            same = a is b
        return same, "equal" if same else f"eager {a!r} vs graph {b!r}"
    if xa.shape != xb.shape:
        return False, f"shape: eager {xa.shape} vs graph {xb.shape}"
    if xa.dtype != xb.dtype:
        return False, f"dtype: eager {xa.dtype} vs graph {xb.dtype}"
    rtol, atol = _tolerance(xa.dtype)
    if xa.dtype.kind not in "fc":
        bad = int(np.count_nonzero(xa != xb))
        return bad == 0, "equal" if bad == 0 else f"{bad} of {xa.size} elements differ"
    nan_a, nan_b = np.isnan(xa), np.isnan(xb)
    if not np.array_equal(nan_a, nan_b):
        return False, f"NaN in different places ({int(nan_a.sum())} eager, {int(nan_b.sum())} graph)"
    fa, fb = np.where(nan_a, 0, xa), np.where(nan_b, 0, xb)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(fa.astype(np.complex128 if xa.dtype.kind == "c" else np.float64) - fb)
        diff = np.where(fa == fb, 0, diff)       # equal infinities
    worst = float(diff.max()) if diff.size else 0.0
    # an element near zero is held to rtol of 1% of the array's largest magnitude: a float32 sum
    # of many terms that nearly cancel carries rounding errors of the terms' size, not its own
    # (and the optimizer may add in another order: blas_rows in runtime/passes/simplify.py)
    finite = np.abs(fb[np.isfinite(fb)])
    floor = 0.01 * float(finite.max()) if finite.size else 0.0
    ok = bool(np.all(diff <= atol + rtol * np.maximum(np.abs(fb), floor))) if diff.size else True
    return ok, f"max abs difference {worst:.3g} (rtol {rtol:g}, atol {atol:g})"


def compare_outputs(eager: dict, graph: dict) -> CheckReport:
    """Compare every output leaf of the eager run with the graph run's."""
    report = CheckReport()
    ea, ga = dict(_leaves(eager, "")), dict(_leaves(graph, ""))
    for name in list(dict.fromkeys([*ga, *ea])):
        if name not in ea:
            report.rows.append((name, False, "only the graph run produced it"))
        elif name not in ga:
            report.rows.append((name, False, "only the eager run produced it"))
        else:
            ok, detail = compare_leaf(ea[name], ga[name])
            report.rows.append((name, ok, detail))
    return report


# ---------------------------------------------------------------------------------------------
# --profile

@dataclass
class ProfileReport:
    """Time per node of the optimized graph, from the reference interpreter (`rt.evaluate` with
    `on_node`), best of several runs. The compiled code runs the same ops, minus interpreter
    overhead, so the shares say where the time goes."""
    seconds: dict                 # node -> seconds (best run)
    runs: int
    total: float

    @classmethod
    def measure(cls, graph, arrays, min_runs: int = 3, max_runs: int = 20, budget: float = 0.2):
        import runtime as rt
        best: dict = {}
        runs, start = 0, time.perf_counter()
        while runs < min_runs or (runs < max_runs and time.perf_counter() - start < budget):
            this: dict = {}
            rt.evaluate(graph, *arrays, on_node=lambda n, s: this.__setitem__(n, this.get(n, 0.0) + s))
            for n, s in this.items():
                best[n] = min(best.get(n, s), s)
            runs += 1
        seconds = {n: s for n, s in best.items() if n.op.name != "const"}
        return cls(seconds, runs, sum(seconds.values()))

    def top(self, k: int = 10) -> list:
        return sorted(self.seconds.items(), key=lambda kv: -kv[1])[:k]

    HEAD = ("op", "result", "time", "share", "where")

    def rows(self, k: int = 10):
        total = self.total or 1.0
        return [(n.op.name, ", ".join(v.type_str for v in n.outputs), f"{s * 1e6:,.1f} µs",
                 f"{100 * s / total:.1f}%", loc_text(n.loc)) for n, s in self.top(k)]

    def __str__(self):
        return (f"profile: {self.total * 1e3:.3f} ms per run in the reference interpreter "
                f"(best of {self.runs} runs), slowest nodes:\n" + _text_table(self.HEAD, self.rows()))

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    def _repr_html_(self):
        return (f"<b>profile</b>: {self.total * 1e3:.3f} ms per run in the reference interpreter "
                f"(best of {self.runs} runs); slowest nodes:" + _table(self.HEAD, self.rows()))
