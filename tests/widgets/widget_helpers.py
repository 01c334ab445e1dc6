"""Reading the %%eager panel the way the browser would: from widget states (get_state())."""
import html
import re

from ipywidgets.widgets.widget import _instances
from IPython.utils.capture import capture_output

VIEW = "application/vnd.jupyter.widget-view+json"


def run_eager(ip, body, line=""):
    """Run `%%eager <line>` with `body` as typed text; returns (captured output, ExecutionResult)."""
    with capture_output() as cap:
        res = ip.run_cell(f"%%eager {line}\n{body}", store_history=True)
    return cap, res


def panel_of(cap):
    # displayed once, then updated in place (same display id) with the final plain text
    views = list(dict.fromkeys(o.data[VIEW]["model_id"] for o in cap.outputs if VIEW in o.data))
    assert len(views) == 1, f"expected one widget displayed, got {len(views)}"
    return _instances[views[0]]


def state(widget_or_ref):
    if isinstance(widget_or_ref, str):
        widget_or_ref = _instances[widget_or_ref.removeprefix("IPY_MODEL_")]
    return widget_or_ref.get_state()


def panel_state(panel):
    """(header text, {name: row html}, note text), read from synced state only."""
    top = state(panel)
    header, rows_box, note = (state(ref) for ref in top["children"])
    rows = {}
    for ref in rows_box["children"]:
        value = state(ref)["value"]
        rows[row_name(value)] = value
    return text(header["value"]), rows, text(note["value"])


def row_name(value):
    m = re.search(r"<(?:b|s)\b[^>]*>(.*?)</(?:b|s)>", value)
    return html.unescape(m.group(1))


def text(value):
    """Visible text of an HTML snippet (tags dropped, entities decoded)."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", value))).strip()


def ops_in(header):
    m = re.search(r"([\d,]+) ops?\b", header)
    return int(m.group(1).replace(",", "")) if m else None
