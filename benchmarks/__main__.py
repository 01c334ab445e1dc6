"""`python -m benchmarks [ids ...] [--rounds N] [--min-time S] [--list]`

Runs every benchmarks/bench_*.py (each exposes `BENCHMARKS = {"P1": fn, ...}`), or only the
workloads named: `python -m benchmarks p1 p2` (case-insensitive; `p3` picks P3a/P3b/P3c, a
file's short name like `runtime` picks all of bench_runtime.py). Pinned to one core and one
thread before anything imports NumPy.
"""
from benchmarks.harness import pin

pin()      # first: before any benchmark module imports NumPy

import argparse  # noqa: E402
import importlib  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

from benchmarks import harness  # noqa: E402


def discover() -> dict:
    """{short name: module} for every bench_*.py next to this file, in name order."""
    here = pathlib.Path(__file__).parent
    mods = {}
    for path in sorted(here.glob("bench_*.py")):
        short = path.stem[len("bench_"):]
        mods[short] = importlib.import_module(f"benchmarks.{path.stem}")
    return mods


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ids", nargs="*", help="workload ids (p1 p2 p5 ...) or file short names")
    ap.add_argument("--rounds", type=int, help=f"rounds per workload (default {harness.DEFAULTS['rounds']})")
    ap.add_argument("--min-time", type=float, help="seconds per timed loop "
                    f"(default {harness.DEFAULTS['min_time']})")
    ap.add_argument("--cpu-time", action="store_true", help="time with process CPU time instead of "
                    "wall time (steadier when other processes share the core)")
    ap.add_argument("--list", action="store_true", help="list the workloads and exit")
    args = ap.parse_args(argv)
    if args.rounds:
        harness.DEFAULTS["rounds"] = args.rounds
    if args.min_time:
        harness.DEFAULTS["min_time"] = args.min_time
    if args.cpu_time:
        harness.DEFAULTS["timer"] = "cpu"

    mods = discover()
    plan = []
    for short, mod in mods.items():
        table = getattr(mod, "BENCHMARKS", {})
        if args.list:
            print(f"{short:<12} {', '.join(table)}")
            continue
        picked = table if short in [w.lower() for w in args.ids] else harness.select(table, args.ids)
        plan += list(picked.values())
    if args.list:
        return 0
    if not plan:
        known = ", ".join(k for m in mods.values() for k in getattr(m, "BENCHMARKS", {}))
        print(f"no benchmark matches {args.ids}; known: {known}", file=sys.stderr)
        return 2
    print(f"# eagermagic benchmarks ({harness.environment()})\n", flush=True)
    t0 = time.perf_counter()
    failed = []
    for fn in plan:
        try:
            fn()
        except Exception:        # one broken workload should not hide the others' figures
            failed.append(fn.__name__)
            traceback.print_exc()
            print(flush=True)
    print(f"# done in {time.perf_counter() - t0:.1f} s"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
