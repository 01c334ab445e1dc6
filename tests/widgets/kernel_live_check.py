"""Layer 2b: the comm messages an in-process ipykernel sends while a %%eager cell runs.

Run in its own pytest process (test_eager_kernel.py does that): the in-process kernel's shell
clashes with the plain InteractiveShell.instance() the other widget tests use.
"""
import re
import time

import pytest


@pytest.fixture(scope="module")
def kernel():
    import ipykernel.kernelbase
    from ipykernel.inprocess.manager import InProcessKernelManager
    km = InProcessKernelManager()
    km.start_kernel()
    ipykernel.kernelbase.Kernel._instance = km.kernel     # comms publish through Kernel.instance()
    kc = km.client()
    kc.start_channels()
    run(kc, "%load_ext eagermagic\nimport numpy as np, runtime as rt")
    yield kc
    kc.stop_channels()
    km.shutdown_kernel()


def run(kc, code, timeout=120):
    """Execute `code`; return every iopub message up to the kernel going idle."""
    kc.execute(code)
    out, deadline = [], time.time() + timeout
    while time.time() < deadline:
        msgs = kc.iopub_channel.get_msgs()
        out += msgs
        if any(m["msg_type"] == "status" and m["content"]["execution_state"] == "idle" for m in msgs):
            return out
        time.sleep(0.01)
    raise TimeoutError(code)


def header_updates(msgs):
    """(time, header text) of every update of the panel's header widget, in order."""
    view = next(m for m in msgs if m["msg_type"] == "display_data"
                and "application/vnd.jupyter.widget-view+json" in m["content"]["data"])
    panel_id = view["content"]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
    opens = {m["content"]["comm_id"]: m["content"]["data"]["state"]
             for m in msgs if m["msg_type"] == "comm_open"}
    header_id = opens[panel_id]["children"][0].removeprefix("IPY_MODEL_")
    return [(m["header"]["date"].timestamp(), re.sub(r"<[^>]+>", "", m["content"]["data"]["state"]["value"]))
            for m in msgs if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == header_id
            and "value" in m["content"]["data"].get("state", {})]


def ops(text):
    return int(re.search(r"([\d,]+) ops", text).group(1).replace(",", ""))


def test_updates_arrive_while_the_cell_runs(kernel):
    # runs for a second whatever the machine's speed; 3 ops per iteration, 1 before the loop
    msgs = run(kernel, "%%eager\nimport time\nw = rt.ones(16)\nn = 0\nt_end = time.perf_counter() + 1.0\n"
                       "while time.perf_counter() < t_end:\n"
                       "    w = w * 0.9999 + 0.0001\n    loss = rt.mean(w)\n    n += 1\n")
    n = kernel.kernel.shell.user_ns["n"]
    idle = next(m["header"]["date"].timestamp() for m in msgs
                if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle")
    updates = header_updates(msgs)
    live = [(t, s) for t, s in updates if "running" in s]
    final = updates[-1][1]
    assert "done" in final and ops(final) == 1 + 3 * n           # the final state is exact
    assert len(live) >= 3, updates          # (about 10 on an idle machine; fewer when it is busy)
    counts = [ops(s) for _, s in live]
    assert counts == sorted(counts) and counts[-1] < ops(final)  # sent mid-run, mid-run values
    assert live[-1][0] - live[0][0] > 0.3                        # spread over the run, not a burst
    assert all(t < idle for t, _ in live)
    elapsed = float(re.search(r"done in ([\d.e+-]+) s", final).group(1))
    assert len(live) <= elapsed * 10 + 2                         # throttled: at most ~10 a second


def test_row_values_stream_too(kernel):
    msgs = run(kernel, "%%eager\nfor i in range(30_000):\n    loss = rt.sum(rt.ones(4) * float(i))\n")
    rows = [m for m in msgs if m["msg_type"] == "comm_msg"
            and "loss" in str(m["content"]["data"].get("state", {}).get("value", ""))]
    assert len(rows) >= 2                   # the loss row (value and curve) was redrawn live
    last = re.sub(r"<[^>]+>", " ", rows[-1]["content"]["data"]["state"]["value"])
    assert "= 119996 " in last                  # the last value, exactly


def test_numpy_only_cell_updates_from_the_heartbeat(kernel):
    msgs = run(kernel, "%%eager\nimport time\na = np.zeros(1000)\nt_end = time.perf_counter() + 0.8\n"
                       "while time.perf_counter() < t_end:\n    a += 1\n")
    idle = next(m["header"]["date"].timestamp() for m in msgs
                if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle")
    updates = header_updates(msgs)
    live = [(t, s) for t, s in updates if "running" in s]
    assert len(live) >= 3 and all(t < idle for t, _ in live)
    assert live[-1][0] - live[0][0] > 0.3
    assert "done" in updates[-1][1]


def test_a_failing_cell_fails_in_the_kernel_too(kernel):
    """The kernel replies "error" (so Run All stops there and nbclient raises), and the
    traceback is shown once."""
    msg_id = kernel.execute("%%eager\nok = rt.ones(2) * 3\nboom = 1 / 0\n")
    reply = kernel.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kernel.get_shell_msg(timeout=60)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "ZeroDivisionError"
    msgs = kernel.iopub_channel.get_msgs()
    errors = [m for m in msgs if m["msg_type"] == "error"]
    assert len(errors) == 1 and errors[0]["content"]["ename"] == "ZeroDivisionError"
    assert float(kernel.kernel.shell.user_ns["ok"][0]) == 3.0      # what ran before the error stays
    run(kernel, "%%eager\nfine = rt.ones(2)\n")                      # and the next cell runs fine
    assert "fine" in kernel.kernel.shell.user_ns
