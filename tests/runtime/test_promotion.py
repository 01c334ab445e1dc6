"""NumPy 2 type promotion, every dtype pair: arrays, 0-d arrays (strong) and Python scalars
(weak), on either side. `np.result_type` is the oracle; eager results, the traced graph's types
and compiled results must all agree with it."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import runtime as rt
from rt_strategies import DTYPES

OPS = {"add": np.add, "multiply": np.multiply, "maximum": np.maximum, "subtract": np.subtract,
       "where": lambda a, b: np.where(True, a, b)}
RT_OPS = {"add": rt.add, "multiply": rt.multiply, "maximum": rt.maximum, "subtract": rt.subtract,
          "where": lambda a, b: rt.where(True, a, b)}


def operands():
    for dt in DTYPES:
        yield np.ones(2, dt)
        yield np.ones((), dt)          # 0-d arrays are strong in NumPy 2
    yield from (True, 2, 2.5)          # Python scalars are weak


@pytest.mark.parametrize("name", sorted(OPS))
def test_result_dtype_follows_np_result_type(name):
    f = rt.function(lambda a, b: RT_OPS[name](a, b), retrace_warning_after=10**6)
    checked = 0
    for a, b in itertools.product(list(operands()), repeat=2):
        if not isinstance(a, np.ndarray) and not isinstance(b, np.ndarray):
            continue
        try:
            want = np.result_type(a, b)
            OPS[name](a, b)
        except TypeError:                # e.g. bool - bool: NumPy refuses, so must we
            with pytest.raises(rt.RuntimeOpError):
                RT_OPS[name](a, b)
            continue
        ta = rt.asarray(a) if isinstance(a, np.ndarray) else a
        tb = rt.asarray(b) if isinstance(b, np.ndarray) else b
        what = f"{name}({getattr(a, 'dtype', type(a).__name__)}{np.shape(a)}, " \
               f"{getattr(b, 'dtype', type(b).__name__)}{np.shape(b)})"
        assert RT_OPS[name](ta, tb).dtype == want, f"eager {what}"
        assert f.graph_for(ta, tb).outputs[0].dtype == want, f"traced {what}"
        assert f(ta, tb).dtype == want, f"compiled {what}"
        checked += 1
    assert checked > 200
