"""Timing eager against graph runs of one cell, with `%%timeit`'s conventions.

One-time costs (trace, optimize, codegen, first call) are kept apart from the steady state,
because mixing them is the classic way to mislead. The result says how much faster the graph
runs and after how many calls compiling paid for itself.

>>> t = measure(lambda: sum(range(100)), number=10, repeat=3)
>>> t.loops, t.repeat
(10, 3)
"""
from __future__ import annotations

import html
import math
import timeit
from dataclasses import dataclass

from IPython.core.magics.execution import TimeitResult, _format_time


def measure(fn, number: int = 0, repeat: int = 7, precision: int = 3,
            min_seconds: float = 0.2) -> TimeitResult:
    """Time `fn()` like %%timeit: `number` loops per run (0 = auto-ranged: powers of ten until
    one run takes `min_seconds`), `repeat` runs; returns IPython's own TimeitResult."""
    timer = timeit.Timer(fn)
    if number <= 0:
        for index in range(10):
            number = 10 ** index
            if timer.timeit(number) >= min_seconds:
                break
    runs = timer.repeat(repeat, number)
    return TimeitResult(number, repeat, min(runs) / number, max(runs) / number, runs, 0.0, precision)


@dataclass
class Timings:
    """Eager vs graph timing of one cell. Times in seconds; one-time costs in milliseconds."""
    eager: TimeitResult
    graph: TimeitResult
    trace_ms: float
    optimize_ms: float
    codegen_ms: float
    first_call_ms: float | None     # None on a cache hit (measured when the graph was compiled)
    cache_hit: bool

    @property
    def speedup(self) -> float:
        """Eager time per run over graph time per run (> 1: the graph is faster)."""
        return self.eager.average / self.graph.average if self.graph.average > 0 else math.inf

    @property
    def compile_ms(self) -> float:
        return self.trace_ms + self.optimize_ms + self.codegen_ms

    @property
    def one_time_ms(self) -> float:
        """What compiling costs beyond the steady state: trace + optimize + codegen + the extra
        time of the first call."""
        extra = 0.0
        if self.first_call_ms is not None:
            extra = max(0.0, self.first_call_ms - self.graph.average * 1e3)
        return self.compile_ms + extra

    @property
    def break_even(self) -> int | None:
        """Calls after which graph mode's total time (compile once + runs) is below eager's;
        None when the graph is not faster per run, so it never pays off."""
        saved_ms = (self.eager.average - self.graph.average) * 1e3
        if saved_ms <= 0:
            return None
        return max(1, math.ceil(self.one_time_ms / saved_ms))

    # -- text ------------------------------------------------------------------------------------
    def rows(self) -> list:
        """(label, value) rows of the table, as shown."""
        one_time = "already paid (cache hit)" if self.cache_hit else f"{self.one_time_ms:.2f} ms"
        rows = [("eager", str(self.eager)), ("graph", str(self.graph)),
                ("speed-up", f"{self.speedup:.2f}x" + (" (graph slower)" if self.speedup < 1 else "")),
                ("trace", f"{self.trace_ms:.2f} ms"), ("optimize", f"{self.optimize_ms:.2f} ms"),
                ("codegen", f"{self.codegen_ms:.2f} ms")]
        if self.first_call_ms is not None:
            rows.append(("first call", f"{self.first_call_ms:.3f} ms"))
        rows.append(("one-time cost", one_time))
        be = self.break_even
        rows.append(("break-even", "never: the graph is not faster per run" if be is None
                     else f"after {be:,} call{'s' if be != 1 else ''}"))
        return rows

    def __str__(self):
        width = max(len(k) for k, _ in self.rows())
        return "\n".join(f"{k:<{width}}  {v}" for k, v in self.rows())

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    def _repr_html_(self):
        cells = "".join(f"<tr><th style='text-align:left;white-space:nowrap'>{html.escape(k)}</th>"
                        f"<td style='text-align:left'>{html.escape(v)}</td></tr>" for k, v in self.rows())
        return (f"<div style='display:flex;gap:2em;align-items:flex-start'>"
                f"<table>{cells}</table>{self.chart_svg()}</div>")

    def chart_svg(self) -> str:
        """A small bar chart of time per run, eager against graph (hand-made SVG, no dependency)."""
        bars = [("eager", self.eager.average, self.eager.stdev, "#d9822b"),
                ("graph", self.graph.average, self.graph.stdev, "#2b6cd9")]
        top = max(m + s for _, m, s, _ in bars) or 1.0
        w, bar_w, h = 300, 170, 26
        parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h * 2 + 30}' "
                 f"role='img' aria-label='time per run'>",
                 "<text x='0' y='12' font-size='11' font-family='sans-serif'>time per run</text>"]
        for i, (name, mean, std, color) in enumerate(bars):
            y = 18 + i * h
            length = max(1.0, bar_w * mean / top)
            err = bar_w * std / top
            parts.append(f"<text x='0' y='{y + 14}' font-size='11' font-family='sans-serif'>"
                         f"{html.escape(name)}</text>")
            parts.append(f"<rect x='45' y='{y + 3}' width='{length:.1f}' height='{h - 8}' "
                         f"fill='{color}'><title>{html.escape(name)}: "
                         f"{html.escape(_format_time(mean))} per run</title></rect>")
            parts.append(f"<line x1='{45 + length - err:.1f}' x2='{45 + length + err:.1f}' "
                         f"y1='{y + h / 2:.1f}' y2='{y + h / 2:.1f}' stroke='black'/>")
            parts.append(f"<text x='{min(45 + length + err + 4, w - 60):.1f}' y='{y + 14}' "
                         f"font-size='10' font-family='sans-serif'>"
                         f"{html.escape(_format_time(mean))}</text>")
        parts.append("</svg>")
        return "".join(parts)
