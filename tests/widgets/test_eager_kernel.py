"""Layer 2b, run in a separate pytest process: an in-process kernel cannot share this process
with the plain InteractiveShell.instance() of the other widget tests (see TESTING.md)."""
import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).parent


def test_live_updates_in_an_inprocess_kernel():
    env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1")
    proc = subprocess.run(
        [sys.executable, "-Xfrozen_modules=off", "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(HERE / "kernel_live_check.py")],
        cwd=HERE.parent.parent, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "4 passed" in proc.stdout      # every check ran (none skipped or deselected)
