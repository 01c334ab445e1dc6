"""The eager Tensor's inline fast paths (tensor.py) must mean exactly what the generic route
(current interpreter -> process2 -> impl -> wrap) means: same values and dtypes, same errors,
and every op still seen by an interpreter pushed on top (a trace, a tape)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import runtime as rt
from runtime import core
from runtime.surface import BINARY_OPERATORS, UNARY_OPERATORS, ArrayMethods


class Recording(core.Interpreter):
    """Sees every op, then lets the interpreter below compute it."""

    def __init__(self):
        self.seen = []

    def process(self, op, args, params):
        self.seen.append(op.name)
        return self.parent.process(op, args, params)


def _generic(name, *args):
    """The same operator through ArrayMethods' generic method (no inline path)."""
    return getattr(ArrayMethods, name)(*args)


OPERANDS = {
    "f64": np.array([0.5, -1.5, 2.0]), "f32": np.array([1.5, 0.25, -3.0], np.float32),
    "i64": np.array([3, -2, 7]), "bool": np.array([True, False, True]),
    "f32_0d": np.array(1.5, np.float32), "f64_0d": np.array(-2.0),
}
SCALARS = [2, -3, 0.5, 1e300, True, np.float64(0.5), np.float32(2.0), np.int8(3)]


@pytest.mark.parametrize("name", sorted(BINARY_OPERATORS))
@given(a=st.sampled_from(sorted(OPERANDS)), b=st.sampled_from(sorted(OPERANDS) + list(range(len(SCALARS)))))
def test_operators_match_generic_route_and_numpy(name, a, b):
    x = rt.asarray(OPERANDS[a])
    y = rt.asarray(OPERANDS[b]) if isinstance(b, str) else SCALARS[b]
    op, swapped = BINARY_OPERATORS[name]
    with np.errstate(all="ignore"):
        try:
            yv = y.numpy() if isinstance(b, str) else y
            want = getattr(x.numpy(), name)(yv)       # NumPy's own operator (`b ** 2` squares)
            if want is NotImplemented:
                want = op.impl(yv, x.numpy()) if swapped else op.impl(x.numpy(), yv)
        except Exception as e:
            with pytest.raises(rt.RuntimeOpError) as fast:
                getattr(x, name)(y)
            with pytest.raises(rt.RuntimeOpError) as slow:
                _generic(name, x, y)
            assert str(fast.value).split("\n")[0] == str(slow.value).split("\n")[0]
            assert "test_eager_fast_path.py" in str(fast.value)       # the user's line
            return
        got = getattr(x, name)(y)
        ref = _generic(name, x, y)
    assert type(got) is rt.Tensor and type(got._v) is np.ndarray
    assert got.dtype == ref.dtype == np.asarray(want).dtype
    assert got.shape == ref.shape == np.shape(want)
    np.testing.assert_array_equal(got.numpy(), np.asarray(want))


@pytest.mark.parametrize("name", sorted(UNARY_OPERATORS))
@pytest.mark.parametrize("a", ["f64", "i64", "bool", "f32_0d"])
def test_unary_operators_match_numpy(name, a):
    x = rt.asarray(OPERANDS[a])
    op = UNARY_OPERATORS[name]
    try:
        want = op.impl(OPERANDS[a])
    except TypeError:
        with pytest.raises(rt.RuntimeOpError, match=op.name):
            getattr(x, name)()
        return
    got = getattr(x, name)()
    assert type(got._v) is np.ndarray and got.dtype == want.dtype
    np.testing.assert_array_equal(got.numpy(), want)


def test_public_functions_keep_names_docs_and_weak_scalars():
    x = rt.asarray(np.array([1.0, 2.0], np.float32))
    assert rt.tanh.__name__ == "tanh" and "tanh" in rt.tanh.__doc__
    assert rt.pow is rt.power and rt.power(x, 2).dtype == np.float32
    assert rt.add(x, 1.5).dtype == np.float32                   # Python float: weak
    assert rt.add(x, np.float64(1.5)).dtype == np.float64       # NumPy scalar: strong, as NumPy
    assert rt.add(1.5, x).dtype == np.float32
    assert type(rt.exp(rt.asarray(0.0))._v) is np.ndarray       # 0-d stays an array
    assert float(rt.exp(rt.asarray(0.0))) == 1.0


def test_an_interpreter_on_top_sees_every_operator_and_function():
    x, y = rt.asarray([1.0, 2.0]), rt.asarray([3.0, 4.0])
    rec = Recording()
    with core.using(rec):
        z = rt.tanh(-(x * y + 1.0) / y) - rt.multiply(x, 2) ** 2
    assert rec.seen == ["multiply", "add", "negative", "divide", "tanh", "multiply", "pow", "subtract"]
    np.testing.assert_allclose(z.numpy(), np.tanh(-(x.numpy() * y.numpy() + 1) / y.numpy()) - (2 * x.numpy()) ** 2)
    after = x * y                                   # popped: back to plain eager
    assert rec.seen[-1] == "subtract" and type(after) is rt.Tensor


def test_tensors_closed_over_are_traced_not_computed_eagerly():
    a, b = rt.asarray([1.0, 2.0]), rt.asarray([3.0, 4.0])
    f = rt.function(lambda x: (a * b + 1) * x, passes=())
    graph = f.traced_graph_for(rt.ones(2))
    assert [n.op.name for n in graph.nodes if n.op.name != "const"] == ["multiply", "add", "multiply"]
    np.testing.assert_allclose(f(rt.ones(2)).numpy(), [4.0, 9.0])


def test_a_leaked_tracer_in_an_eager_operator_says_so():
    leaked = []
    rt.function(lambda x: leaked.append(x) or x)(rt.ones(2))
    with pytest.raises(rt.TracerLeakError):
        rt.ones(2) * leaked[0]
