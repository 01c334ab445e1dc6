"""The `%%eager` panel: ipywidgets' own controls only (an HTML header, one HTML row per name),
and the same watch as plain text for terminals. The rows are HTML with inline SVG / PNG
pictures, so no custom JavaScript is needed; only rows whose HTML changed are sent.

>>> import numpy as np
>>> from eagermagic.watch import TensorWatch
>>> ns = {}
>>> w = TensorWatch(ns, view=WatchPanel())
>>> ns["x"] = np.arange(3.0)
>>> _ = w.finish()
>>> "x" in w.view.rows and "f64[3]" in w.view.rows["x"].value
True
"""
from __future__ import annotations

import time
from html import escape

from .pictures import line, picture_html

_ROW = ("display:flex;gap:14px;align-items:center;font-family:var(--jp-code-font-family,monospace);"
        "font-size:12px;line-height:1.3;padding:1px 0")
_BAD = "background:#fdd;color:#b00;font-weight:bold;padding:0 4px;border-radius:3px"


def row_html(e) -> str:
    """One row of the panel as HTML (what the browser receives for this name)."""
    name = f'<b style="min-width:7em">{escape(e.name)}</b>'
    if e.deleted or e.summary is None:
        return (f'<div style="{_ROW};color:#888">{name.replace("<b ", "<s ").replace("</b>", "</s>")}'
                f'<span>deleted</span></div>')
    s = e.summary
    parts = [name, f'<span style="min-width:10em;color:#555">{escape(s.type_str)}</span>']
    if e.kind == "scalar":
        value = s.tiny if s.tiny is not None else s.stats_text()
        parts.append(f'<span style="min-width:8em">= {escape(value)}</span>')
        if e.history and len(e.history) > 1:
            parts.append(line(e.track.array(), title=f"{e.name} over time", highlight_last=True))
            parts.append(f'<span style="color:#777">{e.track.seen:,} values seen</span>')
    else:
        parts.append(f'<span style="min-width:24em">{escape(s.stats_text())}</span>')
        if s.tiny is not None:
            parts.append(f'<span>= {escape(s.tiny)}</span>')
    bad = s.bad_text()
    if bad:
        parts.append(f'<span style="{_BAD}" title="non-finite values">{escape(bad)}</span>')
    if e.kind != "scalar":
        pic = picture_html(s)
        if pic:
            parts.append(pic)
    note = s.sample_text()
    if note:
        parts.append(f'<span style="color:#777">{escape(note)}</span>')
    return f'<div style="{_ROW}">{"".join(parts)}</div>'


def header_text(w, final: bool) -> str:
    live = [e for e in w.entries.values() if not e.deleted]
    gone = len(w.entries) - len(live)
    what = f"{len(live)} tensor{'s' if len(live) != 1 else ''} created or changed"
    if gone:
        what += f", {gone} deleted"
    state = f"done in {w.elapsed:.3g} s" if final else f"running, {w.elapsed:.3g} s"
    ops = f"{w.ops:,} op{'s' if w.ops != 1 else ''}" if w.counter is not None else "ops not counted"
    return f"%%eager · {state} · {ops} · {what}"


class WatchPanel:
    """The widget: a header (state, op count, time) and a row per watched name.

    `.widget` is what gets displayed; `.messages` counts the value changes sent to the browser."""

    def __init__(self):
        import ipywidgets as W
        self._W = W
        self.header = W.HTML(value="<b>%%eager</b> · starting")
        self.rows_box = W.VBox([])
        self.rows: dict[str, object] = {}
        self.note = W.HTML(value="")
        self.widget = W.VBox([self.header, self.rows_box, self.note],
                             layout=W.Layout(border="1px solid #ddd", padding="4px 8px"))
        self.widget.add_class("eagermagic-watch")
        self.messages = 0
        self.setup_seconds = 0.0
        self._head_ops, self._head_time = -1, 0.0

    def _set(self, widget, value):
        if widget.value != value:
            widget.value = value
            self.messages += 1

    def update(self, w, changed, final: bool) -> None:
        t0 = time.thread_time()
        fresh = [n for n in changed if n not in self.rows]
        for name in fresh:
            self.rows[name] = self._W.HTML(value="")
        if fresh:
            order = [e.name for e in w.shown() if e.name in self.rows]
            self.rows_box.children = tuple(self.rows[n] for n in order)
            self.messages += 1
        self.setup_seconds = time.thread_time() - t0       # one-time cost, for the throttle
        for name in changed:
            self._set(self.rows[name], row_html(w.entries[name]))
        # the clock alone is not news: when no row changed and no op ran, the header (elapsed
        # time) is refreshed once a second, not at every scan
        now, ops = time.perf_counter(), w.ops
        if final or changed or ops != self._head_ops or now - self._head_time >= 1.0:
            self._head_ops, self._head_time = ops, now
            head = escape(header_text(w, final))
            if not final:
                head = f'<span style="color:#2a7">●</span> {head}'
            self._set(self.header, f'<span style="font-family:monospace;font-size:12px">{head}</span>')
        if final:
            notes = []
            if not w.entries:
                notes.append("No tensors, arrays or numbers were created or changed by this cell.")
            if w.error is not None:
                notes.append(f"The live view stopped early ({type(w.error).__name__}: {w.error}); "
                             "the final state above was read after the cell.")
            self._set(self.note, "<br>".join(f'<span style="color:#777;font-size:12px">{escape(n)}</span>'
                                             for n in notes))


def text_report(w) -> str:
    """The watch as plain text (a terminal IPython, or `--text`)."""
    lines = [header_text(w, final=True)]
    width = max([len(e.name) for e in w.entries.values()] + [4])
    for e in w.shown():
        if e.deleted or e.summary is None:
            lines.append(f"  {e.name:<{width}}  deleted")
            continue
        text = e.summary.text()
        if e.history and len(e.history) > 1:
            h = e.history
            text += f"  (history: {len(h):,} values, first {h[0]:.4g}, last {h[-1]:.4g})"
        lines.append(f"  {e.name:<{width}}  {text}")
    if w.error is not None:
        lines.append(f"  (live view stopped early: {type(w.error).__name__}: {w.error})")
    return "\n".join(lines)
