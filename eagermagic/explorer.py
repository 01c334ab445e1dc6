"""The graph explorer of `%%graph --explore`: traced graph, optimized graph, generated code, pass
report and timings in tabs (ipywidgets core controls and `Output` only, no custom JavaScript).
With `--profile` the optimized graph's nodes are coloured by the time they took.

>>> ex = GraphExplorer(result)          # doctest: +SKIP  (result from `%%graph -o`)
>>> ex.widget                           # doctest: +SKIP  (an ipywidgets.VBox: status + Tab)
"""
from __future__ import annotations

import html


def widgets_can_display(shell) -> bool:
    """False where a widget would only print its repr: no ipywidgets, or a terminal IPython."""
    import importlib.util
    if importlib.util.find_spec("ipywidgets") is None:
        return False
    return "Terminal" not in type(shell).__name__


def _pre(text: str) -> str:
    return (f"<pre style='font-size:12px;line-height:1.35;max-height:480px;overflow:auto'>"
            f"{html.escape(text)}</pre>")


class GraphExplorer:
    """Tabs over a GraphResult. `.widget` is the ipywidgets box to display; `.tab` its Tab;
    `.pages` maps tab title -> the widget on that page."""

    def __init__(self, result, show_code: bool = True):
        import ipywidgets as W
        from .graph_magic import status_line
        from .report import PassTable

        self.result = result
        pages = {}
        for which in ("traced", "optimized"):
            out = W.Output(layout=W.Layout(max_height="600px", overflow="auto"))
            out.append_display_data(result.view(which))
            pages[f"{which} graph"] = out
        if show_code:
            pages["code"] = W.HTML(_pre(result.source))
        pages["passes"] = W.HTML(PassTable(result.reports)._repr_html_())
        if result.timings is not None:
            pages["timings"] = W.HTML(result.timings._repr_html_())
        else:
            pages["timings"] = W.HTML(_pre(_one_time_costs(result) +
                                           "\n\nRun with --compare to time eager against graph."))
        if result.profile is not None:
            pages["profile"] = W.HTML(result.profile._repr_html_())
        if result.check is not None:
            pages["check"] = W.HTML(result.check._repr_html_())
        self.pages = pages
        self.tab = W.Tab(children=list(pages.values()), titles=list(pages))
        self.tab.selected_index = list(pages).index("optimized graph")
        self.status = W.HTML(f"<code>{html.escape(status_line(result))}</code>")
        self.widget = W.VBox([self.status, self.tab])


def _one_time_costs(result) -> str:
    rec = result.record
    return (f"trace {rec.trace_ms:.2f} ms, optimize {rec.optimize_ms:.2f} ms, codegen "
            f"{rec.codegen_ms:.2f} ms ({'cache hit: paid earlier' if result.cache_hit else 'this run'})")
