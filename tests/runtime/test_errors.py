"""Error messages say which op, which shapes/dtypes, the user's file:line, in eager mode and at
trace time alike; concretization and tracer-leak errors say what, where and what to do."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import runtime as rt

X = rt.asarray(np.arange(6.0).reshape(2, 3))
HERE = "test_errors.py"


def line_after_next():
    """The caller's line number + 2: the failing call, written under a `with pytest.raises`."""
    return sys._getframe(1).f_lineno + 2


def check(info, *pieces, line=None, mode=None):
    msg = str(info.value)
    for p in pieces:
        assert p in msg, f"{p!r} not in:\n{msg}"
    if line is not None:
        assert f"{HERE}:{line}" in msg, f"line {line} not in:\n{msg}"
    if mode is not None:
        assert mode in msg, f"{mode!r} not in:\n{msg}"
    return msg


# Each case: (name, a function that fails given a tensor-or-tracer `a` (f64[2,3]), what the
# message must contain). The failing call is on the function's last line.
def bad_broadcast(a):
    return a + rt.ones((3, 2))


def bad_axis(a):
    return rt.sum(a, axis=5)


def bad_argmax_axis(a):
    return rt.argmax(a, axis=-3)


def bad_dtype(a):
    return a.astype("float-ish")


def bad_zeros_dtype(a):
    return a + rt.zeros(3, dtype="complex-ish")


def bad_arg(a):
    return rt.exp("abc")


def bad_where_arg(a):
    return rt.where(a > 0, "yes", a)


def bad_matmul(a):
    return a @ a


def bad_reshape(a):
    return rt.reshape(a, (4, 2))


def bad_concat(a):
    return rt.concat([a, rt.ones((2, 2))], axis=0)


def bad_permute(a):
    return rt.permute_dims(a, (0, 0))


def bad_index(a):
    return a[0, 0, 0]


def bad_zeros_shape(a):
    return a + rt.zeros((2, -1))


def bad_random_shape(a):
    return a + rt.random.normal(size=(-3,))


def bad_integer_range(a):
    return a + rt.random.integers(0, 300, size=3, dtype=rt.uint8)


CASES = [
    (bad_zeros_shape, ["full(shape=(2, -1)", "negative dimensions"]),
    (bad_random_shape, ["random_normal(shape=(-3,)", "negative dimensions"]),
    (bad_integer_range, ["random_integers(", "out of bounds for uint8"]),
    (bad_broadcast, ["add(f64[2,3], f64[3,2])", "broadcast"]),
    (bad_axis, ["sum(f64[2,3]", "axis 5", "out of bounds"]),
    (bad_argmax_axis, ["argmax(f64[2,3]", "axis -3"]),
    (bad_dtype, ["astype(f64[2,3]", "unknown dtype 'float-ish'"]),
    (bad_zeros_dtype, ["full(", "unknown dtype 'complex-ish'"]),
    (bad_arg, ["exp(str 'abc')", "expected a tensor"]),
    (bad_where_arg, ["where(bool[2,3], str 'yes', f64[2,3])", "expected a tensor"]),
    (bad_matmul, ["matmul(f64[2,3], f64[2,3])", "hint:"]),
    (bad_reshape, ["reshape(f64[2,3], (4, 2))", "size 6"]),
    (bad_concat, ["concat(", "f64[2,3]", "f64[2,2]"]),
    (bad_permute, ["permute_dims(f64[2,3]", "not a permutation"]),
    (bad_index, ["getitem(f64[2,3]", "too many indices"]),
]


def _line_of_return(fn):
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return start + len(lines) - 1


@pytest.mark.parametrize("fn,pieces", CASES, ids=[c[0].__name__ for c in CASES])
def test_bad_input_errors_name_op_shapes_and_line_eagerly_and_while_tracing(fn, pieces):
    line = _line_of_return(fn)
    with pytest.raises(rt.RuntimeOpError) as info:
        fn(X)
    check(info, *pieces, line=line, mode="in eager mode")
    f = rt.function(fn)
    with pytest.raises(rt.RuntimeOpError) as info:
        f(X)
    check(info, *pieces, line=line, mode="while tracing")
    assert f.trace_count == 0


def test_error_objects_carry_the_op_and_location():
    with pytest.raises(rt.RuntimeOpError) as info:
        bad_axis(X)
    assert info.value.op == "sum" and info.value.loc.lineno == _line_of_return(bad_axis)
    assert info.value.loc.line == "return rt.sum(a, axis=5)"


# --- concretization -------------------------------------------------------------------------

def branchy(x, y):
    s = rt.sum(y * 2.0)
    if s > 0:
        return x
    return -x


@pytest.mark.parametrize("what,body,needle", [
    ("if", None, "bool()"),
    ("int", lambda x, y: x * int(rt.sum(y)), "int()"),
    ("float", lambda x, y: x * float(y[0]), "float()"),
    ("asarray", lambda x, y: x * np.asarray(y), "NumPy array"),
    ("item", lambda x, y: x * y.sum().item(), ".item()"),
    ("format", lambda x, y: x * len(f"{rt.sum(y):.2f}"), "formatted number"),
])
def test_concretization_error_names_line_input_and_ways_out(what, body, needle):
    fn = body or branchy
    f = rt.function(fn, autograph=False)       # autograph would turn the `if` into rt.cond
    ln = line_after_next()
    with pytest.raises(rt.ConcretizationError) as info:
        f(X, X[0])
    msg = str(info.value)
    assert needle in msg
    if what == "if":
        assert f"{HERE}:{branchy.__code__.co_firstlineno + 2}" in msg and "if s > 0:" in msg
    else:
        assert f"{HERE}:" in msg and f"{HERE}:{ln}" not in msg   # the traced line, not the call
    assert "`y` (f64[3])" in msg and "`x`" not in msg.split("Ways out")[0], msg
    assert "Ways out" in msg and "static" in msg and "run_functions_eagerly" in msg
    assert f.trace_count == 0


def test_len_and_shapes_of_tracers_are_concrete():
    f = rt.function(lambda x: x * len(x) + x.shape[1] + x.ndim)
    np.testing.assert_array_equal(f(X), np.arange(6.0).reshape(2, 3) * 2 + 3 + 2)


# --- tracer leaks ---------------------------------------------------------------------------

def test_leaked_tracer_error():
    kept = []

    def leaky(x):
        kept.append(x * 2)
        return x + 1

    rt.function(leaky)(X)
    ln = line_after_next()
    with pytest.raises(rt.TracerLeakError) as info:
        kept[0] + 1.0
    check(info, "traced value", "outside the function", "`leaky`", "Return it", line=ln)
    ln = line_after_next()
    with pytest.raises(rt.TracerLeakError) as info:
        rt.sum(kept[0])
    check(info, line=ln)
    with pytest.raises(rt.TracerLeakError) as info:
        rt.function(lambda a: a + kept[0])(X)
    check(info, "trace that has finished")


@pytest.mark.parametrize("fn,builtin", [(bad_index, IndexError), (bad_broadcast, ValueError),
                                        (bad_arg, TypeError), (bad_axis, IndexError),
                                        (bad_reshape, ValueError)],
                         ids=["index", "broadcast", "arg", "axis", "reshape"])
def test_op_errors_are_also_the_builtin_error_numpy_raises(fn, builtin):
    """`except IndexError:` (or ValueError, TypeError) written for NumPy keeps working."""
    for run in (fn, rt.function(fn)):
        with pytest.raises(builtin) as info:
            run(X)
        assert isinstance(info.value, rt.RuntimeOpError)


def test_run_time_index_error_in_compiled_code_is_an_index_error():
    f = rt.function(lambda a, i: a[i])
    with pytest.raises(IndexError, match="out of bounds"):
        f(X, rt.asarray([9]))
