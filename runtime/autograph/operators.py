"""What converted code calls (as `ag__.name`): the functional forms of `if`, `while` and `for`
on traced values, lazy `and`/`or`/`not`, and the placeholder for a variable with no value yet.

Converted code only reaches these when a condition is traced; Python-valued conditions run
the original statement unchanged.
"""
from __future__ import annotations

from .. import control_flow as cf
from ..errors import SourceLoc
from ..ops import elementwise as ew


class AutographError(Exception):
    """Converted control flow cannot express what the code does (break, return, a variable ...)."""


class Undefined(cf.Missing):
    """The value of a variable that has none yet at this point (assigned in one branch only,
    or first assigned inside a loop). Using it raises an error that names the variable."""
    __slots__ = ("name", "why")

    def __init__(self, name, why):
        self.name, self.why = name, why

    def __repr__(self):
        return f"<no value yet: {self.name}>"

    def _fail(self, *_a, **_k):
        raise NameError(f"variable `{self.name}` has no value here: {self.why}")

    __bool__ = __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _fail
    __truediv__ = __rtruediv__ = __matmul__ = __rmatmul__ = __pow__ = __neg__ = _fail
    __getitem__ = __call__ = __iter__ = __len__ = __lt__ = __gt__ = __le__ = __ge__ = _fail
    __float__ = __int__ = __index__ = _fail

    def __getattr__(self, attr):
        if attr.startswith("__"):          # protocol lookups (copy, numpy ...): not a use
            raise AttributeError(attr)
        self._fail()


def undefined_names(values):
    return [v.name for v in values if isinstance(v, Undefined)]


def vars(frame_locals: dict, names: tuple, why: str):  # noqa: A001  (ag__.vars)
    """The current values of `names` (Undefined for those without a value yet)."""
    return tuple(frame_locals[n] if n in frame_locals else Undefined(n, why) for n in names)


def is_traced(x) -> bool:
    return cf.is_traced(x)


def is_range_loop(it) -> bool:
    """A `for` over rt.range while tracing: it becomes one loop node."""
    return isinstance(it, cf.Range) and cf.tracing()


def _loc(filename, lineno, func):
    return SourceLoc(filename, lineno, func)


# -- boolean operators in converted tests -------------------------------------------------------

def and_(*thunks):
    """`a and b and ...` with Python's short-circuit for Python values, logical_and for traced."""
    v = thunks[0]()
    for t in thunks[1:]:
        if is_traced(v):
            v = ew.logical_and(v, t())
        elif not v:
            return v
        else:
            v = t()
    return v


def or_(*thunks):
    v = thunks[0]()
    for t in thunks[1:]:
        if is_traced(v):
            v = ew.logical_or(v, t())
        elif v:
            return v
        else:
            v = t()
    return v


def not_(v):
    return ew.logical_not(v) if is_traced(v) else not v


# -- conditional expressions ---------------------------------------------------------------------

def if_exp(test, true_fn, false_fn, where):
    """`a if test else b`: Python's (one side evaluated) for a Python test; a cond whose
    branches are the two sides when the test is traced (both are traced, as with `if`)."""
    if not is_traced(test):
        return true_fn() if test else false_fn()
    return cf.cond_traced(test, lambda: true_fn(), lambda: false_fn(), (), loc=_loc(*where))


# -- statements --------------------------------------------------------------------------------

def if_stmt(test, true_fn, false_fn, values, out_names, where):
    """`if test:` on a traced value -> rt.cond. Branches take `values` (the variables they
    assign) and return the variables in `out_names` (or the function's return value)."""
    filename, lineno, func = where
    loc = _loc(filename, lineno, func)

    def checked(fn, branch):
        def run(*vals):
            out = fn(*vals)
            if out_names is None:
                return out
            return tuple(_mark(v, n, branch, lineno) for v, n in zip(out, out_names))
        return run

    res = cf.cond_traced(test, checked(true_fn, "true"), checked(false_fn, "false"), values,
                         out_names=list(out_names) if out_names is not None else None, loc=loc,
                         in_names=_param_names(true_fn))
    return res


def _param_names(fn):
    code = fn.__code__
    return list(code.co_varnames[:code.co_argcount])


def _mark(v, name, branch, lineno):
    if isinstance(v, Undefined):
        other = "false (else)" if branch == "true" else "true"
        return Undefined(name, f"it is assigned only in the {other} branch of the `if` at line "
                               f"{lineno}, whose condition is a traced value. Give `{name}` a value "
                               "before the `if` (or in both branches).")
    return v


def while_stmt(cond_fn, body_fn, values, names, live_out, where):
    """`while test:` on a traced value -> rt.while_loop over the variables the body assigns."""
    filename, lineno, func = where
    loc = _loc(filename, lineno, func)
    carry_idx = _carry(values, names, live_out, lineno, "while")
    if not carry_idx:
        raise AutographError(
            f"the `while` loop at {loc} changes no variable, so on a traced condition it "
            "would never end (a loop on traced values must update a variable its condition reads)")

    def full(carry):
        vals = list(values)
        for i, v in zip(carry_idx, carry):
            vals[i] = v
        return vals

    cnames = [names[i] for i in carry_idx]
    def body(c):
        out = body_fn(*full(c))
        return tuple(out[i] for i in carry_idx)

    out = cf.while_traced(lambda c: cond_fn(*full(c)), body,
                          tuple(values[i] for i in carry_idx), cnames, loc)
    return tuple(full(out))


def for_stmt(rng, body_fn, values, names, live_out, where, target, carry_target=None,
             break_flag=None):
    """`for i in rt.range(...)` while tracing -> one loop node over the assigned variables.
    Returns (the loop target's value after the loop, *values), as Python leaves it: the value
    the target had at the end of the last iteration that ran (the one that hit `break`, if
    any), unchanged when the loop runs zero times.

    With `carry_target` (the target's name) the body also returns the target first, and the
    loop carries it: needed when a `break` (the `break_flag` variable) can stop the loop early
    or the body assigns the target itself (a nested loop reusing the name ...)."""
    filename, lineno, func = where
    loc = _loc(filename, lineno, func)
    carry_idx = _carry(values, names, live_out, lineno, "for")

    def full(carry):
        vals = list(values)
        for i, v in zip(carry_idx, carry):
            vals[i] = v
        return vals

    cnames = [names[i] for i in carry_idx]
    if carry_target is None:
        def body(i, c):
            out = body_fn(i, *full(c))
            return tuple(out[k] for k in carry_idx)

        out = cf.loop_over_range(rng, body, tuple(values[i] for i in carry_idx), cnames, loc)
        return (_last_index(rng, target),) + tuple(full(out))

    flag_at = names.index(break_flag) if break_flag is not None else None

    def tracked(i, c):
        vals = full(c[1:])
        out = body_fn(i, *vals)
        end = out[0]
        if flag_at is not None:     # an iteration after the `break` ran nothing: keep the old
            end = ew.where(vals[flag_at], c[0], end)
        return (end,) + tuple(out[1:][k] for k in carry_idx)

    out = cf.loop_over_range(rng, tracked, (_first_index(rng),) + tuple(values[i] for i in carry_idx),
                             [carry_target] + cnames, loc)
    return (_if_ran(rng, out[0], target),) + tuple(full(out[1:]))


def _first_index(rng):
    """An int64 start value for the carried loop target (replaced by the first iteration)."""
    import numpy as np
    from ..ops.creation import astype
    from ..tensor import Tensor
    return Tensor(np.int64(rng.start)) if not is_traced(rng.start) else astype(rng.start, np.int64)


def _ran(rng):
    """Whether `rng` runs at least once: a bool, or a traced bool for traced bounds."""
    if rng.static:
        return len(range(int(rng.start), int(rng.stop), rng.step)) > 0
    return ew.greater(rng.stop, rng.start) if rng.step > 0 else ew.less(rng.stop, rng.start)


def _if_ran(rng, value, old):
    """`value` if the loop ran at least once, else the target's value before it."""
    ran = _ran(rng)
    if isinstance(ran, bool):
        return value if ran else old
    return value if isinstance(old, Undefined) else ew.where(ran, value, old)


def _last_index(rng, old):
    """The loop target after `for i in rng` (unchanged when the loop runs zero times)."""
    import numpy as np
    from ..tensor import Tensor
    if rng.static:
        r = range(int(rng.start), int(rng.stop), rng.step)
        return Tensor(np.int64(r[-1])) if len(r) else old
    return _if_ran(rng, ew.subtract(rng.stop, rng.step), old)


def _carry(values, names, live_out, lineno, kind):
    """Indices of the loop variables: assigned in the body and defined before the loop.
    A variable first assigned inside the loop is a temporary unless it is used after it."""
    idx = []
    for i, (v, n) in enumerate(zip(values, names)):
        if isinstance(v, Undefined):
            if n in live_out:
                raise AutographError(
                    f"variable `{n}` is first assigned inside the `{kind}` loop at line {lineno} "
                    "(a loop on traced values) and used after it or in the next iteration. Give "
                    f"`{n}` a value of the right shape and dtype before the loop.")
            continue
        idx.append(i)
    return idx


def python_loop_test(value, lineno):
    """A `while` that started on a Python condition must stay on one: a traced condition now
    means a loop variable became traced inside the loop."""
    if is_traced(value):
        raise AutographError(
            f"the condition of the `while` loop at line {lineno} was a Python value when the loop "
            "started but is a traced value now: a variable it reads became traced inside the "
            "loop. Give the loop's variables tensor values before it (e.g. x = rt.asarray(1.0)) "
            "so the whole loop becomes one graph loop.")
    return value


def unsupported(what, kind, lineno, fix):
    """Raised (only) when a converted statement's condition really is traced."""
    raise AutographError(f"`{what}` inside {kind} (line {lineno}) cannot be turned into graph "
                         f"control flow. {fix}")


# -- calls: helpers the converted code calls are converted too --------------------------------

def call(f, *args, **kwargs):
    """`f(*args)` from converted code: a user function is converted before it runs; a runtime
    function (rt.grad, rt.cond, rt.scan ...) gets its user-function arguments converted."""
    from . import convert_user_function as conv
    if getattr(f, "__module__", None) and f.__module__.split(".")[0] == "runtime":
        args = tuple(conv(a) for a in args)
        kwargs = {k: conv(v) for k, v in kwargs.items()}
        return f(*args, **kwargs)
    return conv(f)(*args, **kwargs)
