"""The op counter's copies of the runtime's inline fast paths behave exactly like the runtime's
own (values, dtypes, errors), count every op once, and are all put back afterwards."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import runtime as rt
from runtime import Tensor, core
from runtime.ops import elementwise as ew
from runtime.surface import BINARY_OPERATORS, UNARY_OPERATORS
from runtime.tensor import EAGER
from eagermagic.counting import OpCounter

OPERANDS = {
    "tensor f32": lambda: rt.asarray(np.array([0.5, -2.0, 3.0], np.float32)),
    "tensor i64": lambda: rt.asarray(np.array([1, -2, 3])),
    "tensor bool": lambda: rt.asarray(np.array([True, False, True])),
    "float": lambda: 1.5,
    "int": lambda: 2,
    "ndarray": lambda: np.array([2.0, 1.0, -1.0]),
    "list": lambda: [1.0, 2.0, 3.0],
    "none": lambda: None,
}


def _outcome(fn):
    try:
        with np.errstate(all="ignore"):
            r = fn()
    except Exception as e:          # the same error type and message, or the same value
        return ("error", type(e).__name__, str(e).split(" at ")[0])
    if isinstance(r, Tensor):
        return ("tensor", r.dtype, r.shape, np.asarray(r).tobytes())   # NaN-safe, bit-exact
    return ("other", repr(r))


def _counted(fn):
    with OpCounter(lambda: None) as c:
        out = _outcome(fn)
    return out, c.ops


@pytest.mark.parametrize("name", sorted(BINARY_OPERATORS))
@pytest.mark.parametrize("left", ["tensor f32", "tensor i64", "tensor bool"])
@pytest.mark.parametrize("right", sorted(OPERANDS))
def test_operators_match_the_runtime(name, left, right):
    fn = lambda: getattr(OPERANDS[left](), name)(OPERANDS[right]())   # noqa: E731
    plain = _outcome(fn)
    counted, ops = _counted(fn)
    assert counted == plain
    if plain[0] == "tensor":
        assert ops == 1 + 1 + ("tensor" in right)    # rt.asarray is an op too, once per operand


@pytest.mark.parametrize("name", sorted(UNARY_OPERATORS))
@pytest.mark.parametrize("operand", ["tensor f32", "tensor i64", "tensor bool"])
def test_unary_operators_match_the_runtime(name, operand):
    fn = lambda: getattr(OPERANDS[operand](), name)()   # noqa: E731
    assert _counted(fn)[0] == _outcome(fn)


@pytest.mark.parametrize("name", sorted(ew.UNARY_OPS))
def test_unary_functions_match_the_runtime(name):
    for operand in ("tensor f32", "tensor i64", "float", "ndarray"):
        fn = lambda: getattr(rt, name)(OPERANDS[operand]())   # noqa: E731
        with np.errstate(all="ignore"):
            assert _counted(fn)[0] == _outcome(fn), operand


@pytest.mark.parametrize("name", sorted(ew.BINARY_OPS))
def test_binary_functions_match_the_runtime(name):
    for a in ("tensor f32", "tensor i64", "float"):
        for b in ("tensor f32", "int", "ndarray"):
            fn = lambda: getattr(rt, name)(OPERANDS[a](), OPERANDS[b]())   # noqa: E731
            with np.errstate(all="ignore"):
                assert _counted(fn)[0] == _outcome(fn), (a, b)


@given(st.lists(st.sampled_from(["add", "mul", "neg", "tanh", "sum", "getitem", "np_exp",
                                 "maximum", "rsub"]), min_size=1, max_size=40))
def test_every_op_is_counted_once(program):
    x = rt.asarray(np.linspace(0.1, 1.0, 5))
    steps = {"add": lambda y: y + y, "mul": lambda y: y * 0.5, "neg": lambda y: -y,
             "tanh": rt.tanh, "sum": lambda y: rt.sum(y, keepdims=True) + y,
             "getitem": lambda y: y[::-1], "np_exp": np.exp,
             "maximum": lambda y: rt.maximum(y, 0.2), "rsub": lambda y: 1.0 - y}
    cost = {"sum": 2}
    with OpCounter(lambda: None, every=3) as c:
        y = x
        for s in program:
            y = steps[s](y)
    assert c.ops == sum(cost.get(s, 1) for s in program)


def test_ticks_every_n_ops_and_restores_everything():
    before_tensor = dict(vars(Tensor))
    before_rt = {k: v for k, v in vars(rt).items() if callable(v)}
    before_ew = {k: v for k, v in vars(ew).items() if callable(v)}
    ticks = []
    with OpCounter(lambda: ticks.append(1), every=4) as c:
        assert c.fast_paths
        assert core.current_interpreter() is c.interp
        y = rt.ones(3)
        for _ in range(9):
            y = y * 2.0
    assert c.ops == 10 and len(ticks) == 2
    assert core.current_interpreter() is EAGER
    assert dict(vars(Tensor)) == before_tensor
    assert {k: v for k, v in vars(rt).items() if callable(v)} == before_rt
    assert {k: v for k, v in vars(ew).items() if callable(v)} == before_ew


def test_under_a_tape_ops_reach_the_tape_and_are_counted():
    w = rt.asarray(np.array([1.0, 2.0]))
    with OpCounter(lambda: None) as c:
        with rt.GradientTape() as tape:
            tape.watch(w)
            loss = rt.sum(rt.tanh(w * w))
        g = tape.gradient(loss, w)
    expected = 2 * np.array([1.0, 2.0]) * (1 - np.tanh(np.array([1.0, 4.0])) ** 2)
    np.testing.assert_allclose(np.asarray(g), expected)
    assert c.ops >= 3


def test_inside_rt_function_tracing_is_not_disturbed():
    f = rt.function(lambda a: rt.tanh(a * 2.0) + 1.0)
    x = rt.asarray(np.array([0.1, 0.2]))
    with OpCounter(lambda: None):
        out = f(x)
    np.testing.assert_allclose(np.asarray(out), np.tanh(np.array([0.2, 0.4])) + 1.0)


def test_errors_name_the_users_line_not_the_counter(tmp_path):
    a, b = rt.asarray(np.ones(4)), rt.asarray(np.ones(5))
    for bad in (lambda: a + b, lambda: rt.add(a, b), lambda: a @ b):
        plain, counted = None, None
        try:
            bad()
        except Exception as e:
            plain = str(e)
        with OpCounter(lambda: None):
            try:
                bad()
            except Exception as e:
                counted = str(e)
        assert plain and counted == plain
        assert "test_eager_counting.py" in counted and "counting.py" not in counted.replace(
            "test_eager_counting.py", "")
