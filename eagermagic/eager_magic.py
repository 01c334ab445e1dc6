"""The `%%eager` cell magic: run a cell as ordinary Python, watching its tensors live.

>>> %%eager                                             # doctest: +SKIP
... for step in range(100):
...     loss = rt.mean((x @ w - y) ** 2)
...     w = w - 0.1 * rt.grad(lambda w: rt.mean((x @ w - y) ** 2))(w)

While the cell runs, a panel lists the tensors and NumPy arrays it creates or changes (shape,
dtype, min / mean / max, NaN and Inf counts, a small picture), the number of runtime ops executed
and the time; a number assigned again and again (`loss`) is drawn as a curve. Where widgets
cannot display (a terminal IPython) a plain-text summary is printed at the end instead.
"""
from __future__ import annotations

import time

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from .summary import Summary
from .counting import OpCounter
from .watch import TensorWatch, WatchPanel, text_report


class EagerResult:
    """What `%%eager -o` returns: the final summaries, histories, op count and time.

    >>> r = _                                           # doctest: +SKIP
    >>> r.ops, r.seconds, r.summaries["loss"].mean, r.history["loss"][-1]   # doctest: +SKIP
    """

    def __init__(self, watch: TensorWatch | None, seconds: float, success: bool, error=None,
                 updates: int = 0):
        self.seconds = seconds
        self.success = success
        self.error = error                    # the exception the cell raised, if any
        self.updates = updates                # live updates sent to the panel
        self.ops = watch.ops if watch is not None and watch.counter is not None else None
        entries = watch.shown() if watch is not None else []
        self.summaries: dict[str, Summary] = {e.name: e.summary for e in entries if not e.deleted}
        self.history: dict[str, list] = {e.name: list(e.history) for e in entries
                                         if e.history and not e.deleted}
        self.deleted: list[str] = [e.name for e in entries if e.deleted]
        self._text = text_report(watch) if watch is not None else ""

    def __str__(self):
        ops = f"{self.ops:,} ops" if self.ops is not None else "ops not counted"
        status = "" if self.success else f", failed: {type(self.error).__name__}: {self.error}"
        head = f"<EagerResult: {ops} in {self.seconds:.3g} s, {len(self.summaries)} tensors{status}>"
        return head + ("\n" + self._text if self._text else "")

    __repr__ = __str__

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


class _PanelOutput:
    """The panel widget as displayed: its widget view, with `text` as the text/plain part."""

    def __init__(self, panel, text):
        self.panel, self.text = panel, text

    def _repr_mimebundle_(self, **kwargs):
        data = dict(self.panel.widget._repr_mimebundle_(**kwargs))
        data["text/plain"] = self.text
        return data


def _widgets_can_display(shell) -> bool:
    """False in a terminal IPython (nothing could draw a widget there) or without ipywidgets."""
    if "Terminal" in type(shell).__name__:
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def _split_names(text):
    if not text:
        return None
    names = [n for part in text for n in part.replace(",", " ").split() if n]
    return names or None


@magics_class
class EagerMagics(Magics):
    """`%%eager`: run a cell eagerly with a live view of its tensors."""

    @magic_arguments()
    @argument("--watch", nargs="+", default=None, metavar="NAMES",
              help="show only these names (comma- or space-separated, e.g. --watch loss,w); "
                   "Python ints and _-names are shown only when named here")
    @argument("--no-watch", action="store_true",
              help="no panel and no op counting: just run the cell (and time it for -o)")
    @argument("--text", action="store_true",
              help="print a plain-text summary at the end instead of the live widget panel")
    @argument("--interval", type=float, default=0.1, metavar="SECONDS",
              help="least time between two live updates (default 0.1: at most 10 per second)")
    @argument("-o", action="store_true", dest="return_result",
              help="return an EagerResult: final summaries, histories of scalars, op count, time")
    @cell_magic
    def eager(self, line, cell):
        """Run the cell as ordinary Python, with a live panel of the tensors it creates or changes.

        The panel shows each tensor or NumPy array (name, shape, dtype, min/mean/max, NaN and Inf
        counts, a small picture), the runtime ops executed so far and the elapsed time; a number
        assigned repeatedly (a loss in a loop) is drawn as a curve of its history. Updates are
        sent while the cell runs (at most ~10 per second); the final state is read exactly after
        the cell. In a terminal, a plain-text summary is printed at the end.

        Ops are the runtime's eager ops (an op with several results counts once per result); a
        call of a compiled `rt.function` counts once per result, not per op inside it. NumPy
        calls on NumPy arrays are not ops, but the arrays they make are watched like tensors.
        """
        args = parse_argstring(self.eager, line)
        shell = self.shell
        if args.no_watch:
            t0 = time.perf_counter()
            res = _run_nested(shell, cell)
            seconds = time.perf_counter() - t0
            if args.return_result:
                return EagerResult(None, seconds, res.success, res.error_in_exec or res.error_before_exec)
            return None

        if not args.interval > 0:
            raise UsageError(f"%%eager --interval must be a positive number of seconds, got "
                             f"{args.interval}")
        names = _split_names(args.watch)
        panel = None
        if not args.text and _widgets_can_display(shell):
            panel = WatchPanel()
            shown = display(_PanelOutput(panel, "%%eager: live tensor watch (a widget; running)"),
                            display_id=True)
        watch = TensorWatch(shell.user_ns, names, view=panel, interval=args.interval)
        watch.counter = OpCounter(watch.tick)
        if panel is not None:
            watch.start_heartbeat()          # live updates even while no runtime op runs
        try:
            with watch.counter:
                res = _run_nested(shell, cell)
        finally:
            try:
                watch.finish()
            except Exception as e:           # never hide the cell's own outcome behind ours
                watch.error = e
        if panel is None:
            print(text_report(watch))
        else:   # the same widget, with the final summary as its plain text (saved notebooks,
            # nbconvert and frontends without widgets show that instead of a widget repr)
            shown.update(_PanelOutput(panel, text_report(watch)))
        if args.return_result:
            return EagerResult(watch, watch.elapsed, res.success,
                               res.error_in_exec or res.error_before_exec, watch.flushes)
        return None


def _run_nested(shell, cell):
    """Run the cell through the shell (the last expression is displayed, errors shown as usual).
    A nested run_cell clears the display hook's link to the *outer* cell's result when it ends;
    put it back so what this magic returns (-o) still becomes the outer cell's result.

    A cell that raised has shown its traceback already; the outer cell is marked as failed too
    (its result's error_in_exec), so the kernel replies "error": Run All stops there and
    nbclient raises, as for any failing cell, without printing the traceback twice."""
    outer = getattr(shell.displayhook, "exec_result", None)
    try:
        res = shell.run_cell(cell, store_history=False)
    finally:
        if hasattr(shell.displayhook, "exec_result"):
            shell.displayhook.exec_result = outer
    if outer is not None and not res.success and outer.success:
        outer.error_in_exec = res.error_in_exec or res.error_before_exec
    return res
