"""Shared test settings. In CI a skipped test counts as a failure: a test that cannot run there
means something CI should have installed is missing."""
import os

import pytest
from hypothesis import HealthCheck, settings
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

settings.register_profile("ci", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if os.environ.get("CI") and rep.skipped and not hasattr(rep, "wasxfail"):
        rep.outcome = "failed"
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else rep.longrepr
        rep.longrepr = f"skipped in CI (CI treats a skip as a failure): {reason}"


@pytest.fixture(scope="session")
def shell():
    """One real IPython shell for the session (history in memory), the extension loaded the way
    a user loads it. Tests restore its namespace through their own `ip` fixtures."""
    c = Config()
    c.HistoryManager.hist_file = ":memory:"
    sh = InteractiveShell.instance(config=c)
    sh.run_line_magic("load_ext", "eagermagic")
    yield sh
    InteractiveShell.clear_instance()
