"""Small pictures of values as HTML strings, with no dependency beyond NumPy and the standard
library: a heatmap (a PNG written with zlib) for 2-D, a histogram or a line (inline SVG) for
1-D, and a curve for a scalar's history. Every picture is drawn from at most a few thousand
values, so it stays a few kilobytes whatever the tensor's size.

>>> import numpy as np
>>> picture_for(np.arange(100.0).reshape(10, 10)).startswith('<img')
True
"""
from __future__ import annotations

import base64
import struct
import zlib
from html import escape

import numpy as np

from .summary import Summary, strided_view

WIDTH, HEIGHT = 160, 44          # CSS pixels of the pictures in a watch row
HEAT_MAX = 48                    # heatmap cells per side
CURVE_POINTS = 240               # points drawn for a line or a history

# viridis, five stops: dark blue (low) .. yellow (high); NaN magenta, Inf orange stand out
_STOPS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], float)
NAN_RGB, INF_RGB = (255, 0, 255), (255, 120, 0)


def picture_for(sample: np.ndarray) -> str:
    """The picture for an array (already a sample of the tensor): HTML, or "" for none."""
    if sample.size < 2 or sample.dtype.kind not in "biufc":
        return ""
    if sample.dtype.kind == "c":
        sample = np.abs(sample)
    if sample.dtype.kind == "b":
        sample = sample.astype(np.uint8)
    if sample.ndim == 2 and min(sample.shape) >= 2:
        return heatmap(sample)
    flat = sample.reshape(-1)
    if sample.ndim == 1 and flat.size <= CURVE_POINTS:
        return line(flat, title="values by index")
    return histogram(flat)


def picture_html(s: Summary) -> str:
    if s.tiny is not None or s.sample is None:
        return ""
    return picture_for(s.sample)


# ---------------------------------------------------------------------------------------------
def _colours(a: np.ndarray) -> np.ndarray:
    """RGB uint8 image for a 2-D float array: finite values on viridis, NaN and Inf flagged."""
    a = a.astype(np.float64)
    finite = np.isfinite(a)
    img = np.empty(a.shape + (3,), np.uint8)
    if finite.any():
        lo, hi = a[finite].min(), a[finite].max()
        t = (a - lo) / (hi - lo) if hi > lo else np.full(a.shape, 0.5)
        t = np.where(finite, t, 0.0) * (len(_STOPS) - 1)
        stops = np.arange(len(_STOPS))
        for c in range(3):
            img[..., c] = np.interp(t, stops, _STOPS[:, c]).astype(np.uint8)
    img[np.isnan(a)] = NAN_RGB
    img[np.isinf(a)] = INF_RGB
    return img


def png(img: np.ndarray) -> bytes:
    """A PNG file for an (h, w, 3) uint8 image."""
    h, w, _ = img.shape
    raw = np.zeros((h, 1 + 3 * w), np.uint8)          # filter byte 0 (none) per row
    raw[:, 1:] = img.reshape(h, 3 * w)

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)) + chunk(b"IEND", b""))


def heatmap(a2: np.ndarray) -> str:
    small, _ = strided_view(a2, HEAT_MAX * HEAT_MAX)
    while max(small.shape) > 4 * HEAT_MAX:            # a very long thin matrix: thin it more
        small, _ = strided_view(small, small.size // 2)
    img = _colours(np.asarray(small))
    h, w = small.shape
    scale = min(WIDTH / w, 1.4 * HEIGHT / h)     # rows stay about one picture high
    data = base64.b64encode(png(img)).decode("ascii")
    title = f"heatmap of {h}×{w} cells (dark = low, yellow = high, magenta = NaN, orange = Inf)"
    return (f'<img src="data:image/png;base64,{data}" width="{max(1, round(w * scale))}" '
            f'height="{max(1, round(h * scale))}" title="{title}" '
            f'style="image-rendering:pixelated;border:1px solid #ccc;vertical-align:middle">')


def histogram(flat: np.ndarray, bins: int = 32) -> str:
    x = flat.astype(np.float64, copy=False)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return ""
    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        counts, edges = np.array([x.size]), np.array([lo, hi])
    else:
        counts, edges = np.histogram(x, bins=bins, range=(lo, hi))
    top = counts.max()
    bw = WIDTH / len(counts)
    bars = "".join(
        f'<rect x="{i * bw:.1f}" y="{HEIGHT - h:.1f}" width="{max(bw - 0.5, 0.5):.1f}" height="{h:.1f}"/>'
        for i, c in enumerate(counts) if c
        for h in [max(1.0, (HEIGHT - 2) * c / top)])
    title = escape(f"histogram of {x.size:,} values, {lo:.4g} .. {hi:.4g}")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'style="vertical-align:middle;background:#fafafa"><title>{title}</title>'
            f'<g fill="#3b6ea5">{bars}</g></svg>')


def line(values, title: str = "history", highlight_last: bool = False) -> str:
    """A polyline of `values` (NaN/Inf leave gaps, marked in red). Long series are reduced to
    the min and max of each bucket, so spikes survive the downsampling."""
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    n = y.size
    if n == 0:
        return ""
    xs = np.arange(n, dtype=np.float64)
    if n > CURVE_POINTS:
        # per bucket: its min, then its max (NaN-aware; an all-NaN bucket stays a gap)
        starts = np.linspace(0, n, CURVE_POINTS // 2, endpoint=False).astype(np.intp)
        yf = np.where(np.isfinite(y), y, np.nan)
        lo_v = np.fmin.reduceat(yf, starts)
        hi_v = np.fmax.reduceat(yf, starts)
        ends = np.append(starts[1:], n)
        xs = np.column_stack([starts, (starts + ends) / 2]).reshape(-1).astype(np.float64)
        y = np.column_stack([lo_v, hi_v]).reshape(-1)
    finite = np.isfinite(y)
    pad = 2.0
    if finite.any():
        lo, hi = y[finite].min(), y[finite].max()
    else:
        lo = hi = 0.0
    span = hi - lo if hi > lo else 1.0
    px = pad + (xs / max(n - 1, 1)) * (WIDTH - 2 * pad)
    py = HEIGHT - pad - ((y - lo) / span if hi > lo else np.full(y.shape, 0.5)) * (HEIGHT - 2 * pad)
    segments, cur = [], []
    for i in range(y.size):
        if finite[i]:
            cur.append(f"{px[i]:.1f},{py[i]:.1f}")
        elif cur:
            segments.append(cur)
            cur = []
    if cur:
        segments.append(cur)
    lines = "".join(f'<polyline points="{" ".join(s)}"/>' if len(s) > 1 else
                    f'<circle cx="{s[0].split(",")[0]}" cy="{s[0].split(",")[1]}" r="1.5" fill="#c0392b"/>'
                    for s in segments)
    marks = "".join(f'<line x1="{px[i]:.1f}" x2="{px[i]:.1f}" y1="0" y2="{HEIGHT}" stroke="#e00"/>'
                    for i in np.flatnonzero(~finite)[:20])
    last = ""
    if highlight_last and finite.any() and finite[-1]:
        last = f'<circle cx="{px[-1]:.1f}" cy="{py[-1]:.1f}" r="2" fill="#c0392b"/>'
    label = escape(f"{title}: {n:,} points, {lo:.4g} .. {hi:.4g}")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'style="vertical-align:middle;background:#fafafa"><title>{label}</title>'
            f'<g fill="none" stroke="#3b6ea5" stroke-width="1.2">{lines}</g>{marks}{last}</svg>')
