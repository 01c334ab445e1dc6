"""Summaries of tensors for the `%%eager` watch: shape, dtype, min / mean / max, NaN / Inf counts.

Huge arrays are never read whole while a cell runs: statistics come from a strided view (every
k-th element along each axis, no copy), and the summary says so. Pictures (eagermagic.pictures)
are drawn from the same sample, so what reaches the browser stays a few kilobytes.

>>> import numpy as np
>>> s = summarize(np.array([1.0, np.nan, 3.0]))
>>> s.type_str, s.min, s.max, s.n_nan
('f64[3]', 1.0, 3.0, 1)
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from runtime import Tensor

LIVE_SAMPLE = 1 << 18        # elements read per tensor for a live update
EXACT_LIMIT = 1 << 24        # final summaries read every element up to this size (then sample)
_FP_SAMPLE = 2048            # elements hashed to notice in-place changes while the cell runs
_FP_EXACT_BYTES = 1 << 24    # arrays up to 16 MB are hashed whole (in-place changes seen exactly)

_SHORT = {"float": "f", "int": "i", "uint": "u", "complex": "c", "bool": "bool"}


def array_of(value):
    """The NumPy array behind a runtime Tensor or an ndarray (no copy), else None."""
    if type(value) is Tensor:
        return value._v
    if isinstance(value, np.ndarray):
        return value
    return None


def is_numeric(a: np.ndarray) -> bool:
    return a.dtype.kind in "biufc"


def type_str(a) -> str:
    """`f32[256,128]`: dtype and shape the way the runtime prints them."""
    dt = np.dtype(a.dtype)
    kind = dt.name.rstrip("0123456789")
    bits = dt.name[len(kind):]
    short = _SHORT.get(kind, dt.name)
    short = short if kind == "bool" else f"{short}{bits}"
    return f"{short}[{','.join(str(d) for d in a.shape)}]"


def strided_view(a: np.ndarray, limit: int):
    """A view of `a` with at most `limit` elements: every k-th element along each axis (the
    longest axes are thinned first, so a 2-D array keeps its 2-D look). Returns (view, steps)."""
    steps = [1] * a.ndim
    sizes = list(a.shape)
    while math.prod(sizes) > limit:
        i = max(range(a.ndim), key=lambda j: sizes[j])
        steps[i] *= 2
        sizes[i] = -(-a.shape[i] // steps[i])
    if all(s == 1 for s in steps):
        return a, tuple(steps)
    return a[tuple(slice(None, None, s) for s in steps)], tuple(steps)


def fingerprint(a: np.ndarray, exact: bool = False):
    """A cheap token that changes when the array's contents change (in-place updates included).

    Live scans hash a strided sample; `exact=True` hashes every byte of arrays up to 16 MB."""
    if exact and a.nbytes <= _FP_EXACT_BYTES:
        data = a if a.flags.c_contiguous else np.ascontiguousarray(a)
        if data.dtype.hasobject:
            return ("obj", a.shape, id(a))
        return (a.shape, a.dtype.str, hashlib.blake2b(data.reshape(-1).view(np.uint8), digest_size=16).digest())
    sample, _ = strided_view(a, _FP_SAMPLE)
    if sample.dtype.hasobject:
        return ("obj", a.shape, id(a))
    return (a.shape, a.dtype.str, hash(np.ascontiguousarray(sample).tobytes()))


@dataclass
class Summary:
    """What the watch shows for one value. `exact` is False when statistics come from a sample
    (`steps` says how it was thinned)."""
    type_str: str
    shape: tuple
    dtype: str
    size: int
    min: float | None = None
    mean: float | None = None
    max: float | None = None
    n_nan: int = 0
    n_inf: int = 0
    exact: bool = True
    steps: tuple = ()
    tiny: str | None = None          # the values themselves, when there are only a few
    numeric: bool = True
    sample: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def is_scalar(self) -> bool:
        return self.size == 1 and len(self.shape) == 0

    def stats_text(self) -> str:
        if not self.numeric:
            return "(not numeric)"
        if self.min is None:
            return "no finite values" if self.size else "empty"
        approx = "" if self.exact else "≈"
        return (f"min {approx}{fmt(self.min)}  mean {approx}{fmt(self.mean)}  "
                f"max {approx}{fmt(self.max)}")

    def bad_text(self) -> str:
        parts = []
        if self.n_nan:
            parts.append(f"{'≈' if not self.exact else ''}{self.n_nan} NaN")
        if self.n_inf:
            parts.append(f"{'≈' if not self.exact else ''}{self.n_inf} Inf")
        return ", ".join(parts)

    def sample_text(self) -> str:
        if self.exact:
            return ""
        return (f"sampled: {self.sample_size:,} of {self.size:,} values "
                f"(strides {'×'.join(str(k) for k in self.steps)})")

    @property
    def sample_size(self) -> int:
        return 0 if self.sample is None else int(self.sample.size)

    def text(self) -> str:
        """One line of plain text (terminal fallback and `-o` result)."""
        bad = self.bad_text()
        if self.tiny is not None and self.size == 1:
            return f"{self.type_str:<16} = {self.tiny}" + (f"  !! {bad}" if bad else "")
        line = f"{self.type_str:<16} {self.stats_text()}"
        if bad:
            line += f"  !! {bad}"
        if self.tiny is not None:
            line += f"  = {self.tiny}"
        if not self.exact:
            line += f"  ({self.sample_text()})"
        return line


def fmt(x, digits: int = 4) -> str:
    """A number for a row: `digits` significant digits, integers in full up to 10**12."""
    if x is None:
        return "-"
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return f"{int(x):,}" if abs(int(x)) < 10**12 else f"{float(x):.{digits}g}"
    return f"{float(x):.{digits}g}"


def summarize(value, *, limit: int | None = LIVE_SAMPLE) -> Summary | None:
    """Summarize a runtime Tensor, a NumPy array or a Python / NumPy number (else None).

    `limit`: read at most this many elements (a strided sample); None reads everything."""
    a = array_of(value)
    if a is None:
        if isinstance(value, (bool, int, float, complex, np.generic)):
            a = np.asarray(value)
        else:
            return None
    s = Summary(type_str(a), tuple(a.shape), a.dtype.name, int(a.size), numeric=is_numeric(a))
    sample, steps = (a, (1,) * a.ndim) if limit is None else strided_view(a, limit)
    s.exact = sample.size == a.size
    s.steps = steps
    s.sample = sample
    if a.size <= 8 and s.numeric:
        s.tiny = (fmt(a.item(), 6) if a.ndim == 0 and a.dtype.kind != "c"
                  else np.array2string(a, precision=4, separator=", "))
    if not s.numeric or sample.size == 0:
        return s
    _stats(s, sample, a.size)
    return s


def _stats(s: Summary, sample: np.ndarray, full_size: int) -> None:
    kind = sample.dtype.kind
    if kind == "c":                      # complex: statistics of the magnitude
        bad_nan = np.isnan(sample).sum()
        bad_inf = np.isinf(sample).sum()
        sample = np.abs(sample)
    elif kind == "f":
        bad_nan = np.count_nonzero(np.isnan(sample))
        bad_inf = np.count_nonzero(np.isinf(sample))
    else:
        bad_nan = bad_inf = 0
    scale = full_size / sample.size      # estimates from a sample are scaled to the whole
    s.n_nan = int(round(bad_nan * scale)) if bad_nan else 0
    s.n_inf = int(round(bad_inf * scale)) if bad_inf else 0
    finite = sample
    if bad_nan or bad_inf:
        finite = sample[np.isfinite(sample)]
        if finite.size == 0:
            return
    if kind == "b":
        s.min, s.max = bool(finite.min()), bool(finite.max())
        s.mean = float(np.mean(finite, dtype=np.float64))
        return
    mn, mx = finite.min(), finite.max()
    s.min = mn.item() if kind in "iu" else float(mn)
    s.max = mx.item() if kind in "iu" else float(mx)
    s.mean = float(np.mean(finite, dtype=np.float64))


def final_summary(value) -> Summary | None:
    """The summary shown when the cell has finished: every element read up to EXACT_LIMIT."""
    a = array_of(value)
    if a is not None and a.size > EXACT_LIMIT:
        return summarize(value, limit=EXACT_LIMIT)
    return summarize(value, limit=None)


def scalar_value(value):
    """A float for a number-like value (0-d tensor/array, NumPy or Python number), else None."""
    a = array_of(value)
    if a is not None:
        if a.ndim != 0 or a.dtype.kind not in "biuf":
            return None
        return float(a)
    if isinstance(value, (float, np.floating, np.integer, int)) and not isinstance(value, (bool, np.bool_)):
        return float(value)
    return None
