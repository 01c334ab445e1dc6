"""The live tensor watch behind `%%eager`: which names changed, their summaries and histories
(the panel that shows them is in watch_panel.py).

How it stays cheap: while the cell runs, eagermagic.counting.OpCounter counts the runtime's
eager ops in C and every `every` ops calls `TensorWatch.tick()`, which notes new values of
scalar names (so a loss assigned in a loop becomes a curve; `every` adapts so that ticks are at
least TICK_GAP apart and as frequent as the history needs) and, when at least `interval` seconds
have passed, scans the user's namespace for tensors that were created or changed and hands them
to the view. The recurring work of a scan (summaries, pictures, sending) is kept under ~2.5% of
the run by pushing the next scan away, and only rows whose text changed are sent. When no op
runs (NumPy-only code, a sleep) a heartbeat thread does the scans. After the cell, `finish()`
reads every value again, exactly, so the final state is right however live updates were thinned.

>>> import numpy as np
>>> ns = {}
>>> w = TensorWatch(ns)
>>> ns["x"] = np.ones(3)
>>> w.finish()
['x']
>>> w.entries["x"].summary.type_str
'f64[3]'
"""
from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass

import numpy as np

from runtime import Tensor

from .summary import Summary, array_of, final_summary, fingerprint, scalar_value, summarize

_MISSING = object()
MAX_HISTORY = 100_000
EVERY_MAX = 256          # ops between ticks at most (the op counter's `every` adapts below it)
EXACT_SNAPSHOT_BYTES = 1 << 26   # at a cell's start, arrays are hashed whole up to 64 MB in all
TICK_GAP = 100e-6        # ticks (~1 us each) closer than this would cost over ~1% of the run


# ---------------------------------------------------------------------------------------------
# What is watched

def _ref(v):
    """Something that returns `v` while it lives, without keeping big arrays alive."""
    try:
        return weakref.ref(v)
    except TypeError:
        return lambda: v


def watch_kind(v, named: bool = False) -> str | None:
    """'array' for tensors and NumPy arrays, 'scalar' for numbers worth a curve, else None.
    Python ints are loop counters more often than results: only watched when named."""
    if type(v) is Tensor or isinstance(v, np.ndarray):
        return "scalar" if v.ndim == 0 and array_of(v).dtype.kind in "biuf" else "array"
    if isinstance(v, (float, np.floating, np.integer)) and not isinstance(v, np.bool_):
        return "scalar"
    if named and isinstance(v, int) and not isinstance(v, bool):
        return "scalar"
    return None


class History:
    """The values a scalar name took, oldest first. Past MAX_HISTORY points every 2nd, then 4th
    ... value is kept, so the curve's shape survives and memory stays bounded."""
    __slots__ = ("values", "stride", "seen", "_arr")

    def __init__(self):
        self.values: list[float] = []
        self.stride = 1
        self.seen = 0                   # values added, kept or not
        self._arr = np.empty(0)         # `values` as an array, converted a piece at a time

    def add(self, x: float) -> None:
        self.seen += 1
        if self.seen % self.stride:
            return
        self.values.append(x)
        if len(self.values) > MAX_HISTORY:
            del self.values[1::2]
            self.stride *= 2
            self._arr = np.empty(0)

    def array(self) -> np.ndarray:
        """The values as a float array; each call converts only what was added since the last."""
        n = len(self._arr)
        if n < len(self.values):
            self._arr = np.concatenate([self._arr, np.asarray(self.values[n:], np.float64)])
        return self._arr


@dataclass
class Entry:
    """One row of the watch: a name the cell created, changed or deleted."""
    name: str
    kind: str                              # "array" or "scalar"
    summary: Summary | None = None
    ref: object = None                     # returns the value last summarized (weakly held)
    sfp: object = None                     # fingerprint of an ndarray when last summarized
    history: list | None = None            # scalars: the values seen, oldest first
    track: History | None = None           # ... and the History they are kept in
    changes: int = 0                       # times a scan saw a new value
    deleted: bool = False
    order: int = 0


@dataclass
class _Before:
    ref: object
    sfp: object
    efp: object


class TensorWatch:
    """Tracks the tensors and numbers a cell creates or changes in namespace `ns`.

    names: only these names (None: every tensor, NumPy array and float the cell touches).
    view: an object with `update(watch, changed_names, final)` (the widget panel), or None.

    Scalar names are *tracked*: at every tick an identity test notes a new value (converted to
    a float later, at a scan), so a loss assigned in a loop gets one point per value whenever the
    loop body runs at least `every` ops (else a regular sample of them). A name becomes tracked
    when the cell starts (if it already holds a number), when a scan finds it, or at the first
    tick after the namespace grew (a new name appeared).
    """

    def __init__(self, ns: dict, names=None, *, view=None, interval: float = 0.1,
                 clock=time.perf_counter):
        self.ns = ns
        self.names = set(names) if names else None
        self.view = view
        self.interval = interval
        self.clock = clock
        self.entries: dict[str, Entry] = {}
        self.histories: dict[str, History] = {}
        # tracked scalar names: [last object seen, objects not yet in the history, name, History]
        self._tracks: dict[str, list] = {}
        self._track_list: list[list] = []
        self._streak = 0                       # >0: ticks in a row that saw new values, <0: quiet
        self.counter = None                    # the OpCounter, while ops are counted
        self.flushes = 0
        self.scan_seconds = 0.0                # time spent in live scans and updates
        self.error: BaseException | None = None
        self._lock = threading.Lock()          # one scan at a time (ticks and the heartbeat)
        self._heartbeat = None
        self.before: dict[str, _Before] = {}
        budget = EXACT_SNAPSHOT_BYTES      # hashing every byte of every array would cost each cell
        for name, v in list(ns.items()):
            kind = watch_kind(v, self._named(name)) if self._wanted(name) else None
            if kind is None:
                continue
            nd = isinstance(v, np.ndarray)
            efp = None
            if nd and v.nbytes <= budget:
                efp = fingerprint(v, exact=True)
                budget -= v.nbytes
            self.before[name] = _Before(_ref(v), fingerprint(v) if nd else None, efp)
            if kind == "scalar":
                self._track(name, v)
        self._known = set(ns)
        self._ns_len = len(ns)
        self.t0 = self.last_tick = clock()
        self.t1: float | None = None
        self.next_flush = self.t0           # the first tick scans at once: names are found early

    # -- which names ------------------------------------------------------------------------
    def _named(self, name) -> bool:
        return self.names is not None and name in self.names

    def _wanted(self, name) -> bool:
        if self.names is not None:
            return name in self.names
        return not name.startswith("_")      # IPython's _, __, _i3, _5 ... are history, not results

    @property
    def ops(self) -> int:
        return self.counter.ops if self.counter is not None else 0

    @property
    def elapsed(self) -> float:
        return (self.t1 if self.t1 is not None else self.clock()) - self.t0

    # -- called by the op counter every few ops ------------------------------------------------
    def tick(self) -> None:
        """Note new values of tracked names (an identity test each), adapt how often ticks
        come, and scan the namespace when the time has come. Never raises an Exception: the
        watch must not break the user's cell (a failure stops the live view; `finish` still
        reads the final state)."""
        try:
            self._tick()
        except Exception as e:
            self.error = e
            self.next_flush = float("inf")
            self._track_list = []
            if self.counter is not None:
                self.counter.every = 1 << 30

    def _tick(self) -> None:
        ns = self.ns
        if len(ns) != self._ns_len and self._lock.acquire(False):
            try:
                self._discover()
            finally:
                self._lock.release()
        seen_new = False
        if self._track_list:
            get = ns.get
            for tr in self._track_list:
                v = get(tr[2], _MISSING)
                if v is not tr[0]:
                    tr[0] = v
                    tr[1].append(v)
                    seen_new = True
        now = self.clock()
        self._adapt(now - self.last_tick, seen_new)
        self.last_tick = now
        if now >= self.next_flush and self._lock.acquire(False):
            try:
                self._flush()
            finally:
                self._lock.release()

    def _adapt(self, gap: float, seen_new: bool) -> None:
        """Ticks as rare as possible, as frequent as the history needs: a tracked number that
        changed at every tick for a while means values may be missed (tick twice as often, if
        ticks stay at least TICK_GAP apart); a few quiet ticks, or ticks closer than TICK_GAP,
        mean ticks can be rarer. `gap` covered the counter's `last_len` ops."""
        c = self.counter
        if c is None:
            return
        ahead = gap / max(c.last_len, 1) * c.every      # the gap to expect at the current rate
        if ahead < TICK_GAP:
            self._streak = 0
            if c.every < EVERY_MAX:
                c.every *= 2
        elif seen_new:
            self._streak = self._streak + 1 if self._streak > 0 else 1
            if self._streak >= 3 and ahead >= 2 * TICK_GAP and c.every > 1:
                c.every //= 2
                self._streak = 0
        else:
            self._streak = self._streak - 1 if self._streak < 0 else -1
            if self._streak <= -4 and c.every < EVERY_MAX:
                c.every *= 2
                self._streak = 0

    # -- when no op runs: a heartbeat thread ------------------------------------------------------
    def start_heartbeat(self) -> None:
        """Keep the panel alive while no runtime op runs (a NumPy-only loop, a sleep, I/O): a
        daemon thread scans when the op counter has not ticked for two intervals. Reading the
        namespace from another thread is safe in CPython; a value changing during the scan is
        read again, exactly, by `finish()`."""
        if self._heartbeat is not None:
            return
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name="eagermagic-watch", daemon=True)
        self._heartbeat.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            now = self.clock()
            if now - self.last_tick >= 2 * self.interval and now >= self.next_flush \
                    and self._lock.acquire(False):
                try:
                    if not self._stop.is_set():
                        self._flush()
                finally:
                    self._lock.release()

    def stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._stop.set()
            self._heartbeat.join()
            self._heartbeat = None

    def _discover(self) -> None:
        """The namespace changed size: track new names that hold numbers."""
        ns = self.ns
        self._ns_len = len(ns)
        for name in [n for n in ns if n not in self._known]:
            self._known.add(name)
            if self._wanted(name) and watch_kind(ns[name], self._named(name)) == "scalar":
                self._track(name, _MISSING)

    def _track(self, name, last) -> list:
        tr = self._tracks.get(name)
        if tr is None:
            hist = self.histories.setdefault(name, History())
            tr = self._tracks[name] = [last, [], name, hist]
            self._track_list = list(self._tracks.values())
        return tr

    def _untrack(self, name) -> None:
        tr = self._tracks.pop(name, None)
        if tr is not None:
            self._drain_one(tr)
            self._track_list = list(self._tracks.values())
        self._known.discard(name)

    @staticmethod
    def _drain_one(tr) -> None:
        hist = tr[3]
        pending, tr[1] = tr[1], []          # (a tick may append meanwhile: to the new list)
        for v in pending:
            if type(v) is Tensor and v._v.ndim == 0 and v._v.dtype.kind in "biuf":
                hist.add(float(v._v))        # the common case (a 0-d tensor), quickly
                continue
            x = scalar_value(v)
            if x is not None:
                hist.add(x)

    def _drain(self) -> None:
        """Turn the objects noted by `tick` into history points."""
        for tr in self._track_list:
            if tr[1]:
                self._drain_one(tr)

    def _flush(self) -> None:
        """A live update (the caller holds the lock)."""
        now = self.clock()
        cpu = time.thread_time()             # the cost that counts: this thread's CPU time
        try:
            changed = self.scan(final=False)
            if self.view is not None:
                self.view.update(self, changed, final=False)
            self.flushes += 1
            done = self.clock()
            self.scan_seconds += done - now
            # at most 10 updates a second, and the recurring work (summaries, pictures, sending)
            # at most ~2.5% of the run; making a row's widgets happens once, so it is not counted
            cost = time.thread_time() - cpu - getattr(self.view, "setup_seconds", 0.0)
            self.next_flush = done + max(self.interval, 40 * cost)
        except Exception as e:               # the watch must never break the user's cell
            self.error = e
            self.next_flush = float("inf")
            self._tracks.clear()
            self._track_list = []

    # -- scanning the namespace ------------------------------------------------------------------
    def scan(self, final: bool = False) -> list[str]:
        """Names whose row must be redrawn: created, changed or deleted since the last scan (all
        relative to the cell's start), or with new history points. With `final`, every value
        is read exactly."""
        changed = []
        seen = set()
        for name, v in list(self.ns.items()):
            if not self._wanted(name):
                continue
            kind = watch_kind(v, self._named(name))
            if kind is None:
                continue
            seen.add(name)
            if kind == "scalar":
                tr = self._track(name, _MISSING)
                if tr[0] is not v:               # the scan sees a value the ticks did not
                    tr[0] = v
                    tr[1].append(v)
            if self._unchanged(name, v, final):
                continue
            self._update(name, v, kind, final)
            changed.append(name)
        for name, e in self.entries.items():
            if name not in seen and not e.deleted:
                e.deleted = True
                self._untrack(name)
                changed.append(name)
        for name in self.before:
            if name not in seen and name not in self.entries:
                self.entries[name] = Entry(name, "array", deleted=True, order=len(self.entries))
                self._untrack(name)
                changed.append(name)
        for tr in self._track_list:              # new history points: redraw the curve
            if tr[1] and tr[2] in self.entries and tr[2] not in changed:
                changed.append(tr[2])
        self._drain()
        return changed

    def _unchanged(self, name, v, final) -> bool:
        e = self.entries.get(name)
        is_nd = isinstance(v, np.ndarray)
        if e is not None and not e.deleted:
            if e.ref() is not v:
                return False
            if final and (e.summary is None or not e.summary.exact or is_nd):
                # read again, exactly: the live summary may be a sample, or the array may have
                # changed in place where the sampled fingerprint did not look
                return is_nd and e.sfp == fingerprint(v, exact=True) and e.summary.exact
            return not is_nd or e.sfp == fingerprint(v)
        if e is None:
            b = self.before.get(name)
            if b is not None and b.ref() is v:
                if not is_nd:
                    return True
                if final and b.efp is not None:
                    return b.efp == fingerprint(v, exact=True)
                return b.sfp == fingerprint(v)     # (arrays past the snapshot budget: sampled)
        return False

    def _update(self, name, v, kind, final) -> None:
        summary = final_summary(v) if final else summarize(v)     # (first: it may fail)
        sfp = fingerprint(v, exact=final) if isinstance(v, np.ndarray) else None
        e = self.entries.get(name)
        if e is None or e.deleted or e.kind != kind:
            e = self.entries[name] = Entry(name, kind, order=e.order if e else len(self.entries))
        e.summary, e.ref, e.sfp = summary, _ref(v), sfp
        e.changes += 1
        if kind == "scalar":
            e.track = self.histories[name]
            e.history = e.track.values
        elif name in self._tracks:             # a number became an array
            self._untrack(name)

    # -- the end ------------------------------------------------------------------------------
    def finish(self) -> list[str]:
        """The exact final state: read every watched value again (after the cell ended)."""
        self.stop_heartbeat()
        self.t1 = self.clock()
        self.next_flush = float("inf")      # no more live updates
        with self._lock:
            changed = self.scan(final=True)
        if self.view is not None:
            self.view.update(self, changed, final=True)
        return changed

    def shown(self) -> list[Entry]:
        """Entries in the order they first appeared."""
        return sorted(self.entries.values(), key=lambda e: e.order)


# the panel and the text report live in watch_panel.py; imported here for callers of this module
from .watch_panel import WatchPanel, header_text, row_html, text_report  # noqa: E402,F401
