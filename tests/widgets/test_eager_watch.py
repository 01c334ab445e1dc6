"""%%eager in a real InteractiveShell: the panel's synced widget state after cells that create,
change and delete tensors, histories, throttling, huge tensors, NaN/Inf, options, errors."""
import json
import re
import tracemalloc

import numpy as np
import pytest
from IPython.utils.capture import capture_output

import runtime as rt
from runtime import Tensor, core
from runtime.tensor import EAGER
from widget_helpers import ops_in, panel_of, panel_state, run_eager, state, text


def _stats(row):
    """min / mean / max as shown in a row."""
    t = text(row)
    return {k: float(v) for k, v in re.findall(r"(min|mean|max) ≈?(-?[\d.e+-]+)", t)}


def test_create_change_delete(ip):
    ip.user_ns.update(a=rt.asarray(np.arange(6.0).reshape(2, 3)), b=np.zeros(4),
                      kept=rt.asarray(np.ones(3)), gone=rt.asarray(np.ones(2)))
    cap, res = run_eager(ip, "new = a * 2 + 1\nb += 5\ndel gone\nn_items = 3\n")
    assert res.success
    header, rows, note = panel_state(panel_of(cap))
    assert set(rows) == {"new", "b", "gone"}          # a, kept untouched; an int is not a tensor
    new = np.arange(6.0).reshape(2, 3) * 2 + 1
    assert "f64[2,3]" in text(rows["new"])
    assert _stats(rows["new"]) == pytest.approx({"min": new.min(), "mean": new.mean(), "max": new.max()})
    assert _stats(rows["b"]) == pytest.approx({"min": 5, "mean": 5, "max": 5})   # changed in place
    assert "deleted" in text(rows["gone"])
    assert ops_in(header) == 2
    assert "2 tensors created or changed, 1 deleted" in header
    assert "done" in header


def test_result_object_matches_numpy(ip):
    ip.user_ns["x"] = rt.asarray(np.linspace(-1, 1, 50))
    cap, res = run_eager(ip, "y = rt.tanh(x) * 3.0\nz = rt.sum(y)\n", line="-o")
    r = res.result          # -o: the magic's return value is the cell's result
    y = np.tanh(np.linspace(-1, 1, 50)) * 3.0
    assert r.ops == 3
    assert r.summaries["y"].min == y.min() and r.summaries["y"].max == y.max()
    assert r.summaries["y"].mean == pytest.approx(y.mean(), rel=1e-12)
    assert r.summaries["z"].tiny == f"{y.sum():.6g}"
    assert r.success and r.seconds > 0
    assert "EagerResult" in str(r) and "y" in str(r)


def test_change_across_cells_only_shows_what_this_cell_did(ip):
    cap, res = run_eager(ip, "p = rt.ones(3)\nq = rt.zeros(2)\n")
    cap, res = run_eager(ip, "q = q + 1\n")
    _, rows, _ = panel_state(panel_of(cap))
    assert set(rows) == {"q"}


def test_last_expression_is_displayed_and_namespace_bound(ip):
    cap, res = run_eager(ip, "v = rt.ones(2) * 4\nv\n")
    # a plain InteractiveShell's display hook prints the Out[] line (a kernel's sends it)
    assert re.search(r"Out\[\d+\]: Tensor\(\[4\., 4\.\]", cap.stdout)
    assert isinstance(ip.user_ns["v"], Tensor)


def test_scalar_history_across_iterations(ip):
    # 21 ops of ~50 us or more per iteration: ticks come often enough (they adapt to the loop)
    # to see every value of loss
    ip.user_ns["x"] = rt.asarray(np.linspace(0, 1, 100_000))
    cap, res = run_eager(ip, (
        "for i in range(30):\n"
        "    h = x\n"
        "    for _ in range(20):\n"
        "        h = h * 1.0\n"
        "    loss = rt.mean(h) * (i + 1)\n"), line="-o")
    r = res.result
    expected = [0.5 * (i + 1) for i in range(30)]
    assert r.history["loss"] == pytest.approx(expected)
    _, rows, _ = panel_state(panel_of(cap))
    assert "<polyline" in rows["loss"] and "30 values seen" in text(rows["loss"])
    assert "= 15" in text(rows["loss"])


def test_history_of_a_fast_loop_is_a_faithful_sample(ip):
    # 2 ops per iteration: not every value is seen, but what is seen is in order and the last
    # point is the exact final value
    ip.user_ns["x"] = rt.asarray(np.ones(4))
    cap, res = run_eager(ip, "for i in range(500):\n    loss = rt.sum(x * float(i))\n", line="-o")
    h = res.result.history["loss"]
    assert h[-1] == 4.0 * 499
    assert len(h) >= 10
    assert all(v % 4 == 0 for v in h) and h == sorted(h) and len(set(h)) == len(h)


def test_python_floats_and_numpy_scalars_get_histories(ip):
    cap, res = run_eager(ip, "acc = 0.0\nfor i in range(40):\n    acc = acc + float(rt.sum(rt.ones(3)))\n"
                  "    m = np.float32(acc)\n", line="-o")
    r = res.result
    assert r.history["acc"][-1] == 120.0 and r.history["m"][-1] == 120.0
    assert "i" not in r.summaries          # an int loop counter is not shown unless named


def test_throttled_updates_and_exact_final_state(ip, wire):
    ip.user_ns["x"] = rt.asarray(np.ones(16, np.float32))
    cap, res = run_eager(ip, (
        "w = x\n"
        "for step in range(10_000):\n"
        "    w = w * 0.999 + 0.001\n"
        "    loss = rt.mean(w)\n"), line="-o")
    r = res.result
    panel = panel_of(cap)
    header, rows, _ = panel_state(panel)
    expected_w = np.ones(16, np.float32)
    for _ in range(10_000):
        expected_w = expected_w * np.float32(0.999) + np.float32(0.001)
    assert ops_in(header) == 30_000 == r.ops
    assert r.summaries["w"].mean == pytest.approx(float(expected_w.mean()), rel=1e-6)
    assert r.history["loss"][-1] == pytest.approx(float(expected_w.mean()), rel=1e-6)
    updates = [m for m in wire if m[1] == "comm_msg" and m[3].get("method") == "update"]
    header_id = state(panel)["children"][0].removeprefix("IPY_MODEL_")
    header_updates = [m for m in updates if m[2] == header_id]
    # one header update per live flush (<= 10 a second) plus the final one
    assert len(header_updates) <= r.seconds * 10 + 3
    assert len(updates) <= 10 * (r.seconds * 10 + 3)
    assert r.updates <= r.seconds * 10 + 2
    assert len(updates) < 10_000 / 20


def test_huge_tensor_is_sampled_not_copied(ip):
    n = 10_000
    tracemalloc.start()
    try:
        run_eager(ip, f"big = rt.full(({n}, {n}), 0.5, dtype=rt.float32)\n", line="-o --no-watch")
        ip.user_ns["big_before"] = None
        ip.user_ns["big"] = ip.user_ns["big"].at[n - 1, n - 1].set(np.nan)   # one NaN, far away
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        cap, res = run_eager(ip, "big2 = big\n", line="-o")
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    nbytes = n * n * 4
    assert peak < nbytes / 10, f"watching a {nbytes/1e6:.0f} MB tensor took {peak/1e6:.0f} MB"
    panel = panel_of(cap)
    sizes = [len(json.dumps(state(panel), default=str))]
    sizes += [len(json.dumps(state(ref), default=str)) for ref in state(panel)["children"]]
    _, rows, _ = panel_state(panel)
    row = rows["big2"]
    assert len(row) < 20_000                       # what the browser receives for this tensor
    assert "f32[10000,10000]" in text(row) and "sampled" in text(row)
    assert "<img" in row                           # a heatmap of the sample
    s = res.result.summaries["big2"]
    assert not s.exact and s.mean == 0.5 and s.sample_size <= 1 << 24


def test_nan_and_inf_are_flagged(ip):
    cap, res = run_eager(ip, "bad = rt.asarray(np.array([1.0, np.nan, np.inf, -np.inf, np.nan, 2.0]))\n"
                           "ok = rt.asarray(np.array([1.0, 2.0]))\n"
                           "allnan = np.full((3, 3), np.nan)\n", line="-o")
    r = res.result
    assert (r.summaries["bad"].n_nan, r.summaries["bad"].n_inf) == (2, 2)
    assert r.summaries["bad"].min == 1.0 and r.summaries["bad"].max == 2.0
    _, rows, _ = panel_state(panel_of(cap))
    assert "2 NaN, 2 Inf" in text(rows["bad"]) and "#fdd" in rows["bad"]      # highlighted
    assert "NaN" not in text(rows["ok"]) and "#fdd" not in rows["ok"]
    assert "9 NaN" in text(rows["allnan"]) and "no finite values" in text(rows["allnan"])


def test_watch_option_limits_names(ip):
    cap, res = run_eager(ip, "a1 = rt.ones(2)\na2 = rt.ones(3)\nk = 7\n", line="--watch a2,k")
    _, rows, _ = panel_state(panel_of(cap))
    assert set(rows) == {"a2", "k"}              # an int is shown when it is named


def test_no_watch_shows_nothing_and_runs_the_cell(ip):
    cap, res = run_eager(ip, "nw = rt.ones(2) + 1\n", line="--no-watch")
    assert not any("application/vnd.jupyter.widget-view+json" in o.data for o in cap.outputs)
    assert float(rt.sum(ip.user_ns["nw"])) == 4.0


def test_text_fallback(ip):
    cap, res = run_eager(ip, "tx = rt.asarray(np.array([1.0, np.nan]))\n", line="--text")
    assert not any("application/vnd.jupyter.widget-view+json" in o.data for o in cap.outputs)
    assert "tx" in cap.stdout and "f64[2]" in cap.stdout and "1 NaN" in cap.stdout


def test_help_documents_options(ip):
    doc = ip.find_cell_magic("eager").__doc__
    for opt in ("--watch", "--no-watch", "--text", "-o", "--interval"):
        assert opt in doc


def test_unknown_option_is_a_usage_error(ip):
    with capture_output() as cap:
        ip.run_cell("%%eager --nope\nx = 1\n")
    assert "UsageError" in cap.stderr + cap.stdout


def test_error_in_cell_shows_traceback_and_keeps_runtime_clean(ip):
    before = {k: v for k, v in vars(Tensor).items()}
    cap, res = run_eager(ip, "ok1 = rt.ones(2) * 3\nboom = 1 / 0\n")
    shown = re.sub(r"\x1b\[[0-9;]*m", "", cap.stdout + cap.stderr)       # without colours
    assert shown.count("ZeroDivisionError: division by zero") == 1
    assert not res.success and isinstance(res.error_in_exec, ZeroDivisionError)   # the cell failed
    header, rows, _ = panel_state(panel_of(cap))
    assert set(rows) == {"ok1"} and "done" in header
    assert core.current_interpreter() is EAGER
    assert {k: v for k, v in vars(Tensor).items()} == before
    assert rt.tanh is not None and rt.tanh.__code__.co_filename.endswith("tensor.py")


def test_gradient_tape_inside_the_cell_is_counted_and_correct(ip):
    ip.user_ns["w"] = rt.asarray(np.array([0.5, -1.0, 2.0]))
    cap, res = run_eager(ip, "with rt.GradientTape() as tape:\n    tape.watch(w)\n    l = rt.sum(w * w)\n"
                  "g = tape.gradient(l, w)\n", line="-o")
    r = res.result
    np.testing.assert_allclose(np.asarray(ip.user_ns["g"]), 2 * np.array([0.5, -1.0, 2.0]))
    assert r.ops >= 2          # the forward ops at least (the backward pass runs ops too)


def test_numpy_only_cell_still_updates_live(ip, wire):
    # no runtime op runs, so the op counter never ticks: the heartbeat thread keeps the panel live
    cap, res = run_eager(ip, "import time\na = np.zeros(1000)\nt_end = time.perf_counter() + 0.6\n"
                             "while time.perf_counter() < t_end:\n    a += 1\n    total = float(a.sum())\n",
                         line="-o")
    r = res.result
    panel = panel_of(cap)
    header_id = state(panel)["children"][0].removeprefix("IPY_MODEL_")
    heads = [text(m[3]["state"]["value"]) for m in wire if m[1] == "comm_msg"
             and m[2] == header_id and "value" in m[3].get("state", {})]
    live = [h for h in heads if "running" in h]
    assert len(live) >= 3 and "done" in heads[-1]
    assert r.ops == 0 and "0 ops" in heads[-1]
    assert r.summaries["a"].mean == float(ip.user_ns["a"][0])     # final state exact
    assert r.history["total"][-1] == float(ip.user_ns["total"])
    assert len(live) <= r.seconds * 10 + 2


def test_an_idle_cell_sends_the_clock_once_a_second(ip, wire):
    cap, res = run_eager(ip, "import time\nq1 = rt.ones(2)\ntime.sleep(1.5)\n", line="-o")
    header_id = state(panel_of(cap))["children"][0].removeprefix("IPY_MODEL_")
    heads = [m for m in wire if m[1] == "comm_msg" and m[2] == header_id
             and "value" in m[3].get("state", {})]
    # first scan, then the 1 s refresh of the elapsed time, then the final state: nothing else
    assert 2 <= len(heads) <= 4, [text(m[3]["state"]["value"]) for m in heads]
    assert "done" in text(heads[-1][3]["state"]["value"])


def test_plain_text_of_the_displayed_panel_is_the_final_summary(ip):
    cap, res = run_eager(ip, "pt = rt.asarray(np.array([1.0, np.inf]))\n")
    views = [o for o in cap.outputs if "application/vnd.jupyter.widget-view+json" in o.data]
    first, last = views[0].data["text/plain"], views[-1].data["text/plain"]
    assert "running" in first and "VBox" not in first
    assert "done" in last and "pt" in last and "f64[2]" in last and "1 Inf" in last


def test_empty_cell_gets_ipythons_usage_message(ip):
    cap, res = run_eager(ip, "")
    assert "cell body is empty" in cap.stderr + cap.stdout and "Traceback" not in cap.stdout


@pytest.mark.parametrize("body", ["pass\n", "import math\n", "n = 3\ntext = 'hi'\n"])
def test_cells_without_tensors_say_so(ip, body):
    cap, res = run_eager(ip, body)
    assert res.success and not cap.stderr
    header, rows, note = panel_state(panel_of(cap))
    assert rows == {} and "No tensors" in note and "0 ops" in header


def test_bad_interval_is_a_usage_error(ip):
    with capture_output() as cap:
        ip.run_cell("%%eager --interval 0\nx = 1\n")
    assert "UsageError" in cap.stderr + cap.stdout and "--interval" in cap.stderr + cap.stdout


def test_a_failing_watch_never_breaks_the_cell(ip, monkeypatch):
    import eagermagic.watch as watch_mod

    def broken(*a, **k):
        raise RuntimeError("summary exploded")
    monkeypatch.setattr(watch_mod, "summarize", broken)       # live scans fail
    cap, res = run_eager(ip, "z = rt.ones(4)\nfor i in range(200):\n    z = z * 1.0\nok = float(rt.sum(z))\n")
    assert res.success and ip.user_ns["ok"] == 4.0
    header, rows, note = panel_state(panel_of(cap))
    assert "stopped early" in note and "summary exploded" in note
    assert "f64[4]" in text(rows["z"])                        # the final state is still read


def test_an_in_place_change_anywhere_is_in_the_final_state(ip):
    ip.user_ns["grid"] = np.zeros((300, 300))
    ip.user_ns["still"] = np.zeros((300, 300))
    cap, res = run_eager(ip, "grid[7, 11] = 90_000.0\n", line="-o")
    assert set(res.result.summaries) == {"grid"}               # `still` is not shown
    assert res.result.summaries["grid"].max == 90_000.0
    assert res.result.summaries["grid"].mean == pytest.approx(1.0)
