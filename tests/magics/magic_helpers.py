"""Helpers for the magics tests."""
from IPython.utils.capture import capture_output


def graph_magics(sh):
    return sh.magics_manager.registry["GraphMagics"]


def run(sh, source):
    """run_cell as typed text; returns (ExecutionResult, captured output)."""
    with capture_output() as cap:
        res = sh.run_cell(source)
    return res, cap


def svgs(cap):
    return [o.data["image/svg+xml"] for o in cap.outputs if "image/svg+xml" in o.data]


def user_names(sh):
    """Name -> identity of every user-visible value (IPython's own `_` names excluded)."""
    return {k: id(v) for k, v in sh.user_ns.items() if not k.startswith("_")}
