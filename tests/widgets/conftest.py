"""Each widgets test gets the session shell (tests/conftest.py) with its namespace restored
afterwards. `wire` records what the widgets send."""
import time

import comm
import pytest
from comm.base_comm import BaseComm


@pytest.fixture
def ip(shell):
    saved = dict(shell.user_ns)
    shell.run_cell("import numpy as np, runtime as rt")
    yield shell
    shell.user_ns.clear()
    shell.user_ns.update(saved)


class RecordingComm(BaseComm):
    """A comm that keeps every message it would send to the frontend (with the time)."""
    sent: list = []

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        RecordingComm.sent.append((time.perf_counter(), msg_type, self.comm_id, data))


@pytest.fixture
def wire():
    """comm's documented hook (`comm.create_comm` "is intended to be replaced") pointed at a
    recording comm: the list of (time, msg_type, comm_id, data) the browser would receive."""
    old = comm.create_comm
    RecordingComm.sent = []
    comm.create_comm = RecordingComm
    yield RecordingComm.sent
    comm.create_comm = old
