"""A small shared timing harness: pinned, warmed up, auto-ranged, interleaved, compared.

Every benchmark file starts like this, *before* NumPy (or anything importing it) is imported,
because OpenBLAS/MKL/OpenMP read their thread counts once, when they are loaded:

    from benchmarks.harness import pin; pin()      # one core, one thread (may re-exec)
    import numpy as np
    from benchmarks.harness import Bench

    def bench_p1():
        b = Bench("P1 eager dispatch", per=100, unit="op")
        b.add("numpy", lambda: chain_numpy(x), baseline=True)
        b.add("runtime eager", lambda: chain_rt(t))
        return b.run()                             # prints the table, returns the results

    BENCHMARKS = {"P1": bench_p1}                  # what `python -m benchmarks p1` finds

`pin()` sets OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS (and a few friends) to 1
and pins the process to one CPU with `os.sched_setaffinity`. If NumPy was already imported with
other settings, it re-executes the interpreter with the same command line (`sys.orig_argv`) so
the settings apply from the start. The CPU is the one idle the longest over 0.1 s (the machine
is shared); `EAGERMAGIC_BENCH_CPU=1` picks one.

Timing follows `timeit`: the garbage collector is off inside a timed loop, each variant's loop
count is auto-ranged once (1, 2, 5, 10, 20, 50 ... until a loop takes `min_time`), then every
round runs each variant once in a rotated order, so slow drift (another process, frequency
changes) hits all variants alike. The table shows best and median per call (or per unit, with
`per=`), and ratios against the baseline measured in the same run. A benchmark prints figures;
it never asserts on time.

This module imports nothing heavy (no NumPy) so `pin()` can run first.
"""
from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
_REEXEC_MARK = "EAGERMAGIC_BENCH_REEXEC"
_pinned_cpu: int | None = None

# Defaults that `python -m benchmarks --rounds N --min-time S` can change for every benchmark.
DEFAULTS = {"rounds": 7, "min_time": 0.02, "warmup": 0.01,
            "timer": os.environ.get("EAGERMAGIC_BENCH_CLOCK", "wall")}
# "wall" is timeit's clock (perf_counter). "cpu" (process_time) counts only the time this process
# ran, so another process sharing the core does not inflate it: steadier on a busy shared machine.
# `--cpu-time` or EAGERMAGIC_BENCH_CLOCK=cpu selects it.
TIMERS = {"wall": time.perf_counter, "cpu": time.process_time}


def _clock():
    return TIMERS[DEFAULTS["timer"]]


def pin(cpu: int | None = None) -> int | None:
    """One thread per library and one CPU for this process; call before importing NumPy.

    Returns the CPU the process now runs on (None where affinity is not supported).
    """
    global _pinned_cpu
    need = [v for v in THREAD_VARS if os.environ.get(v) != "1"]
    for v in THREAD_VARS:
        os.environ[v] = "1"
    if need and _loaded_blas() and not os.environ.get(_REEXEC_MARK):
        # Too late for this process: the BLAS already started its threads. Start afresh.
        os.environ[_REEXEC_MARK] = "1"
        sys.stdout.flush()
        sys.stderr.flush()
        argv = list(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])
        os.execv(sys.executable, [sys.executable, *argv[1:]])
    if hasattr(os, "sched_setaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        if cpu is None:
            env = os.environ.get("EAGERMAGIC_BENCH_CPU")
            cpu = int(env) if env else _idlest(allowed)
        if cpu not in allowed:
            cpu = allowed[0]
        os.sched_setaffinity(0, {cpu})
        _pinned_cpu = cpu
    return _pinned_cpu


def _idlest(cpus: list, window: float = 0.1) -> int:
    """The CPU that was idle the longest over `window` seconds (these machines are shared: a
    test run or another benchmark on the same core would distort every figure)."""
    def idle():
        out = {}
        try:
            with open("/proc/stat") as f:
                for line in f:
                    name, *vals = line.split()
                    if name.startswith("cpu") and name != "cpu":
                        out[int(name[3:])] = int(vals[3]) + int(vals[4])    # idle + iowait
        except OSError:
            pass
        return out
    before = idle()
    time.sleep(window)
    after = idle()
    return max(cpus, key=lambda c: (after.get(c, 0) - before.get(c, 0), -c))


def _loaded_blas() -> bool:
    return any(m in sys.modules for m in ("numpy", "scipy", "torch", "jax"))


def environment() -> str:
    """One line describing what the figures were measured on."""
    parts = [f"Python {platform.python_version()}"]
    np = sys.modules.get("numpy")
    if np is not None:
        parts.append(f"numpy {np.__version__}")
    cpu = f"cpu {_pinned_cpu}" if _pinned_cpu is not None else "UNPINNED"
    threads = "1 thread" if all(os.environ.get(v) == "1" for v in THREAD_VARS[:3]) else "threads NOT limited"
    parts += [cpu, threads, platform.machine(), f"{DEFAULTS['timer']} clock"]
    return ", ".join(parts)


def optional(module: str):
    """Import a peer library (torch, jax, autograd ...) if it is installed, else None."""
    try:
        return __import__(module, fromlist=["_"])
    except Exception:   # ImportError, or a broken install: peers are never required
        return None


# ------------------------------------------------------------------------------------------------
def _loop(fn, number: int) -> float:
    """Seconds for `number` calls of fn, with the garbage collector off (as timeit does)."""
    clock = _clock()
    gc_was = gc.isenabled()
    gc.disable()
    try:
        t0 = clock()
        for _ in range(number):
            fn()
        return clock() - t0
    finally:
        if gc_was:
            gc.enable()


def autorange(fn, min_time: float) -> int:
    """The smallest loop count in 1, 2, 5, 10, 20, 50 ... whose loop takes >= min_time seconds."""
    i = 1
    while True:
        for k in (1, 2, 5):
            n = i * k
            if _loop(fn, n) >= min_time:
                return n
        i *= 10


@dataclass
class Variant:
    name: str
    fn: object
    baseline: bool = False
    setup: object = None            # called before every single timed call, outside the timer
    number: int = 0
    samples: list = field(default_factory=list)    # seconds per call, one per round (or call)
    error: str | None = None

    @property
    def best(self) -> float:
        return min(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


@dataclass
class Result:
    title: str
    per: float
    unit: str
    variants: list
    notes: list

    def __getitem__(self, name) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)

    @property
    def baseline(self) -> Variant | None:
        return next((v for v in self.variants if v.baseline and not v.error), None)

    def ratio(self, name, stat: str = "median") -> float:
        """`name`'s time over the baseline's (both best, or both median)."""
        return getattr(self[name], stat) / getattr(self.baseline, stat)

    def table(self) -> str:
        base = self.baseline
        unit = f"per {self.unit}" if self.unit else "per call"
        rows = [f"{self.title}", f"  ({environment()})",
                f"  {'variant':<28} {'best ' + unit:>16} {'median ' + unit:>18} {'x base (best)':>14} "
                f"{'x base (median)':>16}  loops x rounds"]
        for v in self.variants:
            if v.error:
                rows.append(f"  {v.name:<28} {v.error}")
                continue
            b, m = v.best / self.per, v.median / self.per
            rb = f"{v.best / base.best:.2f}x" if base else "-"
            rm = f"{v.median / base.median:.2f}x" if base else "-"
            mark = "  (baseline)" if v is base else ""
            rows.append(f"  {v.name:<28} {fmt_time(b):>16} {fmt_time(m):>18} {rb:>14} {rm:>16}  "
                        f"{v.number} x {len(v.samples)}{mark}")
        rows += [f"  {n}" for n in self.notes]
        return "\n".join(rows)

    def __str__(self):
        return self.table()


def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


class Bench:
    """Several variants of one workload, timed interleaved; `run()` prints and returns a Result.

    per: how many units one call does (e.g. 100 ops): times are shown per unit.
    """

    def __init__(self, title: str, *, per: float = 1, unit: str = "", rounds: int | None = None,
                 min_time: float | None = None):
        self.title = title
        self.per = per
        self.unit = unit
        self.rounds = rounds or DEFAULTS["rounds"]
        self.min_time = min_time or DEFAULTS["min_time"]
        self.variants: list[Variant] = []
        self.notes: list[str] = []

    def add(self, name: str, fn, *, baseline: bool = False, setup=None) -> "Bench":
        """A variant: `fn()` is timed. With `setup`, each sample is one call `fn(setup())` with
        setup outside the timer (for things that can only run once, like a first trace)."""
        self.variants.append(Variant(name, fn, baseline, setup))
        return self

    def add_peer(self, name: str, make):
        """A variant from an optional library: `make()` returns fn, or None / raises if missing."""
        try:
            fn = make()
        except Exception as e:   # a peer that is missing or broken is reported, never fatal
            fn, why = None, f"not available ({type(e).__name__}: {e})"[:70]
        else:
            why = "not installed"
        if fn is None:
            v = Variant(name, None)
            v.error = why
            self.variants.append(v)
        else:
            self.add(name, fn)
        return self

    def note(self, text: str) -> "Bench":
        self.notes.append(text)
        return self

    def _sample(self, v: Variant) -> float:
        if v.setup is None:
            return _loop(v.fn, v.number) / v.number
        total, clock = 0.0, _clock()
        for _ in range(v.number):
            arg = v.setup()
            gc_was = gc.isenabled()
            gc.disable()
            try:
                t0 = clock()
                v.fn(arg)
                total += clock() - t0
            finally:
                if gc_was:
                    gc.enable()
        return total / v.number

    def run(self, show: bool = True) -> Result:
        live = [v for v in self.variants if v.error is None]
        for v in live:                      # warm up and choose the loop count
            try:
                if v.setup is None:
                    deadline = time.perf_counter() + DEFAULTS["warmup"]
                    v.fn()
                    while time.perf_counter() < deadline:
                        v.fn()
                    v.number = autorange(v.fn, self.min_time)
                else:
                    v.fn(v.setup())
                    v.number = 1
            except Exception as e:   # a variant that fails is shown as failed, the rest still run
                v.error = f"FAILED: {type(e).__name__}: {e}"[:100]
        live = [v for v in live if v.error is None]
        for r in range(self.rounds):        # interleaved, rotating who goes first
            k = r % len(live) if live else 0
            for v in live[k:] + live[:k]:
                v.samples.append(self._sample(v))
        res = Result(self.title, self.per, self.unit, self.variants, self.notes)
        if show:
            print(res.table(), flush=True)
            print()
        return res


def select(benchmarks: dict, wanted) -> dict:
    """The entries of {id: fn} that the command-line words pick (case-insensitive; `p3` picks
    P3a, P3b, P3c; `p1` picks P1 and P1g)."""
    if not wanted:
        return dict(benchmarks)
    out = {}
    for key, fn in benchmarks.items():
        k = key.lower()
        for w in wanted:
            w = w.lower()
            if k == w or (k.startswith(w) and not k[len(w)].isdigit()):
                out[key] = fn
    return out


def main(benchmarks: dict, argv=None) -> None:
    """Entry point for one benchmark file run as a script: run the ids named in argv (or all)."""
    argv = sys.argv[1:] if argv is None else argv
    chosen = select(benchmarks, argv)
    if not chosen:
        raise SystemExit(f"no benchmark matches {argv}; known: {', '.join(benchmarks)}")
    for fn in chosen.values():
        fn()
