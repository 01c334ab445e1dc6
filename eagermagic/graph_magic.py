"""The `%%graph` cell magic: run a cell as a traced, optimized, compiled graph and show it.

>>> %%graph --compare                                   # doctest: +SKIP
... h = rt.tanh(x @ w)
... loss = rt.mean(h * h)

The cell's inputs (names it reads that hold tensors or arrays) are traced; its outputs (names it
assigns) are bound in the namespace only after tracing, compiling and running all succeeded.
"""
from __future__ import annotations

import re
import sys
import types

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import Code, display

from runtime.errors import FILE_LABELS

from . import render
from .graph_run import (TRACE_OUTPUT_HEADER, CellCache, GraphResult, Options, run_graph_cell,
                        without_tensors)
from .report import PassTable

SHOW_CHOICES = ("traced", "optimized", "both", "none")


@magics_class
class GraphMagics(Magics):
    """`%%graph`: trace a cell into a graph, optimize, compile, cache, run and show it."""

    def __init__(self, shell=None, **kwargs):
        super().__init__(shell=shell, **kwargs)
        self.cache = CellCache()

    @magic_arguments()
    @argument("--compare", action="store_true",
              help="time the cell eagerly and as a graph (like %%%%timeit) and show the speed-up "
                   "and after how many calls compiling paid off")
    @argument("-n", type=int, default=0, metavar="N",
              help="with --compare: loops per timing run (default: chosen automatically)")
    @argument("-r", type=int, default=7, metavar="R", help="with --compare: timing runs (default 7)")
    @argument("--show", choices=SHOW_CHOICES, default="both",
              help="which graph to draw (default: both)")
    @argument("--code", action="store_true", help="show the generated Python code")
    @argument("--no-optimize", action="store_true", help="run no optimization pass")
    @argument("--passes", default=None, metavar="P1,P2",
              help="run only these optimization passes, in this order (comma-separated)")
    @argument("--check", action="store_true",
              help="also run the cell eagerly (on a copy of its inputs) and report any "
                   "difference between eager and graph outputs")
    @argument("--profile", action="store_true",
              help="time each node (reference interpreter) and colour the graph by it")
    @argument("--explore", action="store_true",
              help="show graphs, code, passes and timings in tabs (ipywidgets); plain output "
                   "where widgets cannot display")
    @argument("--max-nodes", type=int, default=render.DEFAULT_MAX_NODES, metavar="N",
              help="graphs with more ops are drawn collapsed, one box per source line "
                   f"(default {render.DEFAULT_MAX_NODES})")
    @argument("-o", action="store_true", dest="return_result",
              help="return a GraphResult (graphs, compiled function, timings, pass reports, "
                   ".save(path)) instead of the cell's last value")
    @cell_magic
    def graph(self, line, cell):
        """Run the cell as a graph: trace it, optimize, compile (cached by cell source and input
        signature), run, bind its outputs, and show the graph.

        Names the cell reads before assigning that hold tensors or NumPy arrays are the graph's
        inputs; names it assigns are its outputs; other values it reads (numbers, strings,
        functions) are static: part of the cache key, so a new value retraces. Python `print`
        runs once, while tracing (its output is labelled trace-time); `rt.print` runs every time.
        Outputs are bound only if everything succeeded; after an error the namespace is as it
        was. Running the cell again with the same input shapes reuses the compiled graph.
        """
        __tracebackhide__ = True
        opts, args = self._options(line)
        filename = self._register_source(line, cell)
        try:
            result = run_graph_cell(cell, self.shell.user_ns, self.cache, filename, opts)
        except KeyboardInterrupt:
            print("%%graph: interrupted; the namespace is unchanged.", file=sys.stderr)
            raise
        except Exception as e:
            raise _user_facing(e, filename)
        if result is None:
            return None
        self._show(result, args)
        if args.return_result:
            if result.value is not None:
                display(result.value)
            return result
        return result.value

    # -- options ---------------------------------------------------------------------------
    def _options(self, line):
        try:
            args = parse_argstring(self.graph, line)
        except UsageError as e:
            raise UsageError(f"%%graph: {e}\n{self.graph.parser.format_usage()}"
                             "Type %%graph? for the options.") from None
        if args.no_optimize and args.passes:
            raise UsageError("%%graph: use either --no-optimize or --passes, not both")
        passes = None
        if args.no_optimize:
            passes = ()
        elif args.passes is not None:
            import runtime as rt
            passes = tuple(p.strip() for p in args.passes.split(",") if p.strip())
            unknown = [p for p in passes if p not in rt.passes.PASSES]
            if unknown:
                raise UsageError(f"%%graph: unknown pass(es) {', '.join(unknown)}; available: "
                                 f"{', '.join(rt.passes.PASSES) or '(none registered)'}")
        if args.n < 0 or args.r < 1 or args.max_nodes < 1:
            raise UsageError("%%graph: -n must be >= 0, -r and --max-nodes >= 1")
        return Options(passes, args.check, args.compare, args.n, args.r, args.profile,
                       args.max_nodes), args

    def _register_source(self, line, cell) -> str:
        """Cache the cell text (with its %%graph line, so line numbers match what the user sees)
        in linecache under IPython's name for this cell: tracebacks show `Cell In[n], line k`."""
        n = self.shell.execution_count
        header = f"%%graph {line}".rstrip()
        filename = self.shell.compile.cache(f"{header}\n{cell}", n)
        FILE_LABELS[filename] = f"In[{n}]"     # error messages, drawings and code say In[n]
        return filename

    # -- display ---------------------------------------------------------------------------
    def _show(self, result: GraphResult, args):
        if not without_tensors(result):
            print(status_line(result))
        if result.trace_output:
            print(TRACE_OUTPUT_HEADER)
            print(result.trace_output, end="" if result.trace_output.endswith("\n") else "\n")
        if result.run_output:
            print("── run-time output ──")
            print(result.run_output, end="" if result.run_output.endswith("\n") else "\n")
        if without_tensors(result):
            what = "only imports" if _only_imports(result) else "computes no tensors"
            print(f"%%graph: this cell {what}, so there is no graph to show; it ran as plain "
                  f"Python{' and bound ' + ', '.join(result.outputs) if result.outputs else ''}.")
            return
        if args.explore:
            from .explorer import GraphExplorer, widgets_can_display
            if widgets_can_display(self.shell):
                display(GraphExplorer(result, show_code=True).widget)
                return
        for item in plain_outputs(result, args.show, args.code):
            display(item)


def status_line(result: GraphResult) -> str:
    rec = result.record
    sig = re.sub(r"<(function|class) (\S+?)( at 0x[0-9a-f]+)?>", r"\2", rec.signature)
    outs = ", ".join(result.outputs) or "nothing"
    if result.cache_hit:
        note = (" Python print in this cell ran when it was traced, not now (rt.print runs every "
                "time).") if result.printed_when_traced else ""
        return (f"%%graph: cache hit: reused the graph compiled for ({sig}); "
                f"bound {outs}. (It was traced as trace #{rec.number}: "
                f"{rec.total_ms:.1f} ms to trace and compile.){note}")
    first = result.reason == "first call"
    what = "traced" if first else "retraced"
    why = "first run of this cell" if first else result.reason
    return (f"%%graph: {what} ({why}): {rec.nodes_traced} nodes traced, {rec.nodes_optimized} "
            f"after optimizing; trace {rec.trace_ms:.2f} ms, optimize {rec.optimize_ms:.2f} ms, "
            f"codegen {rec.codegen_ms:.2f} ms. Inputs ({sig or 'none'}); bound {outs}.")


def _only_imports(result) -> bool:
    return bool(result.outputs) and all(isinstance(v, types.ModuleType) for v in result.outputs.values())


def plain_outputs(result: GraphResult, show: str = "both", code: bool = False) -> list:
    """The objects a %%graph cell displays, in order (rich reprs: SVG, HTML tables, code)."""
    items = []
    if show == "traced" or (show == "both" and not result.unchanged_by_passes):
        items.append(result.view("traced"))
    if show in ("optimized", "both"):
        items.append(result.view("optimized"))
    if show != "none" and result.reports:
        items.append(PassTable(result.reports))
    if code:
        items.append(Code(result.source, language="python"))
    if result.profile is not None:
        items.append(result.profile)
    if result.check is not None:
        items.append(result.check)
    if result.timings is not None:
        items.append(result.timings)
    return items


def _user_facing(e: BaseException, filename: str) -> BaseException:
    """The exception with a traceback that starts at the cell's own line (the machinery between
    IPython and the cell is dropped). The runtime's own errors (bad shapes, a traced value used
    as a Python bool ...) already say what, where and what to do, so their traceback also ends
    at the user's last line and their chained cause, repeated in the message, is not shown. A
    read-before-assignment is a NameError, as in a normal cell."""
    import runtime as rt
    if isinstance(e, SyntaxError):
        return _explain_magic_line(e).with_traceback(None)   # IPython lists every frame: keep few
    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    if isinstance(e, UnboundLocalError):
        name = str(e).split("'")[1] if "'" in str(e) else "?"
        new = NameError(f"name {name!r} is not defined (the cell reads it before assigning it, "
                        "and it is not in the namespace)")
        new.name = name
        new.__suppress_context__ = True
        e = new
    if tb is None:
        return e
    if isinstance(e, (rt.RuntimeOpError, rt.ConcretizationError, rt.TracerLeakError)):
        frames = []
        while tb is not None:
            frames.append(tb)
            tb = tb.tb_next
        keep = [t for t in frames if not _machinery(t.tb_frame.f_code.co_filename)] or frames[:1]
        last = frames.index(keep[-1])
        rebuilt = None
        for t in reversed(frames[:last + 1]):
            rebuilt = types.TracebackType(rebuilt, t.tb_frame, t.tb_lasti, t.tb_lineno)
        tb = rebuilt
        e.__cause__, e.__suppress_context__ = None, True
    return e.with_traceback(tb)


def _explain_magic_line(e: SyntaxError) -> SyntaxError:
    """A `%magic` or `!shell` line is IPython syntax, not Python: say so, not "invalid syntax"."""
    line = (e.text or "").lstrip()
    if not line.startswith(("%", "!")):
        return e
    what = "a shell command" if line.startswith("!") else "a line magic"
    new = SyntaxError(
        f"{line.split()[0]} is {what}, which a %%graph cell can't hold: the cell is traced as one "
        "Python function, so it may contain only Python. Run it in a cell of its own (to time "
        "this cell, use %%graph --compare)",
        (e.filename, e.lineno, e.offset, e.text, getattr(e, "end_lineno", None),
         getattr(e, "end_offset", None)))
    new.__suppress_context__ = True
    return new


def _machinery(filename: str) -> bool:
    import os
    import numpy
    import runtime
    dirs = (os.path.dirname(runtime.__file__), os.path.dirname(numpy.__file__))
    return filename.startswith(dirs) or filename.startswith("<__array_function__")
