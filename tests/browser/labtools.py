"""JupyterLab on loopback + Debian's Chromium through Playwright (layer 4 of TESTING.md)."""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]
SETUP_HINT = "run .ci/browser-setup.sh (Debian's chromium + fonts, and pip install -e '.[browser]')"


def missing_requirements() -> list:
    """What the browser tests need and this machine lacks (the tests fail, never skip, on it)."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    for mod, pkg in (("jupyterlab", "jupyterlab"), ("notebook", "notebook"),
                     ("playwright.sync_api", "playwright")):
        try:
            __import__(mod)
        except ImportError:
            missing.append(f"the Python package {pkg}")
    return missing


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """`jupyter lab` (or Notebook 7: app="notebook") in its own process session, with every
    Jupyter/IPython dir in `tmp`.

    The kernel is the default `python3` kernelspec of this environment, as `make lab` gets it."""

    def __init__(self, root: Path, tmp: Path, app: str = "lab"):
        assert app in ("lab", "notebook")
        self.root, self.tmp, self.app = root, tmp, app
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "jupyterlab.log"
        self.proc = None

    def start(self, timeout=60):
        env = dict(os.environ)
        for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                         ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")):
            (self.tmp / sub).mkdir(parents=True, exist_ok=True)
            env[var] = str(self.tmp / sub)
        # no "get notified about Jupyter news?" toast over the page (and the screenshot)
        news = (self.tmp / "config" / "lab" / "user-settings" / "@jupyterlab" /
                "apputils-extension" / "notification.jupyterlab-settings")
        news.parent.mkdir(parents=True, exist_ok=True)
        news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        cmd = [sys.executable, "-m", "jupyterlab" if self.app == "lab" else "notebook",
               "--no-browser", "--allow-root",
               "--ip=127.0.0.1", f"--port={self.port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}"]
        if self.app == "lab":
            cmd += ["--LabApp.news_url=",
                    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=self.root)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n{self.log()}")
            try:
                self.api("status")
                return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"jupyter lab did not answer within {timeout} s:\n{self.log()}")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)     # the server and the kernels it started
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self._log.close()

    def notebook_url(self, name: str) -> str:
        if self.app == "notebook":
            return f"{self.url}/notebooks/{name}?token={self.token}"
        # a workspace of its own, so JupyterLab restores no tab from an earlier test
        stem = Path(name).stem
        return f"{self.url}/lab/workspaces/{stem}/tree/{name}?reset&token={self.token}"

    def api(self, path: str):
        with urllib.request.urlopen(f"{self.url}/api/{path}?token={self.token}", timeout=5) as r:
            return json.loads(r.read())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def wait_kernel_ready(self, notebook: str, timeout=60):
        """Until the notebook's kernel exists, is idle, and has a browser connected. JupyterLab's
        toolbar says idle before any kernel exists; clicking Run All then opens a dialog."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            for s in self.api("sessions"):
                k = s.get("kernel") or {}
                if s.get("path", "").endswith(notebook):
                    last = k
                    if k.get("execution_state") == "idle" and k.get("connections", 0) >= 1:
                        return k
            time.sleep(0.3)
        raise AssertionError(f"kernel for {notebook} not idle+connected in {timeout} s: {last}\n"
                             f"{self.log()}")


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=CHROMIUM_FLAGS)
