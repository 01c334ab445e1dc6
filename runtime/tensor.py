"""The eager Tensor and the eager interpreter (bind -> run the NumPy impl now)."""
from __future__ import annotations

import operator

import numpy as np

from . import core
from .core import Interpreter
from .errors import TracerLeakError, op_error, user_location
from .ops import elementwise as ew
from .surface import BINARY_OPERATORS, UNARY_OPERATORS, ArrayMethods

_new = object.__new__
_ndarray = np.ndarray
_PASS_THROUGH = (int, float, bool, complex, np.ndarray, np.generic)

# hook(tensor, how) for each value that leaves the runtime as NumPy or a Python number: a
# gradient tape notes it, since such a conversion cuts the path gradients can follow.
ESCAPE_HOOKS: list = []


def _escape(t, how):
    for hook in ESCAPE_HOOKS:
        hook(t, how)


class _TensorType(type):
    """Tensor's metaclass, there only so `Tensor(value)` can copy and freeze `value` while Tensor
    itself has no Python `__init__`: then `_alloc()` (type.__call__ bound to Tensor) makes an
    empty Tensor entirely in C, a fifth cheaper than object.__new__ on the eager hot path."""

    def __call__(cls, value):
        v = np.array(value)
        v.flags.writeable = False
        t = type.__call__(cls)
        t._v = v
        return t


class Tensor(ArrayMethods, metaclass=_TensorType):
    """An immutable n-dimensional array that runs each op at once (eager mode).

    >>> import runtime as rt
    >>> x = rt.asarray([[1.0, 2.0], [3.0, 4.0]])
    >>> (x @ x.T + 1).numpy()  # doctest: +NORMALIZE_WHITESPACE
    array([[ 6., 12.], [12., 26.]])
    """
    # _tm: a gradient tape's mark (runtime/autodiff/tape.py), empty until a tape meets the tensor
    __slots__ = ("_v", "_tm", "__weakref__")

    shape = property(lambda self: self._v.shape)
    dtype = property(lambda self: self._v.dtype)
    ndim = property(lambda self: self._v.ndim)
    size = property(lambda self: self._v.size)
    nbytes = property(lambda self: self._v.nbytes)

    def numpy(self) -> np.ndarray:
        """The values as a read-only NumPy array (no copy; `.copy()` it to get a writable one)."""
        if ESCAPE_HOOKS:
            _escape(self, ".numpy()")
        v = self._v.view()
        v.flags.writeable = False
        return v

    def item(self):
        if ESCAPE_HOOKS:
            _escape(self, ".item()")
        return self._v.item()

    def tolist(self):
        if ESCAPE_HOOKS:
            _escape(self, ".tolist()")
        return self._v.tolist()

    def __array__(self, dtype=None, copy=None):
        if ESCAPE_HOOKS:
            _escape(self, "np.asarray() (or another NumPy call)")
        v = self._v
        if dtype is not None and np.dtype(dtype) != v.dtype:
            return v.astype(dtype)
        if copy:
            return v.copy()
        v = v.view()                  # read-only: writing into np.asarray(t) must not change t
        v.flags.writeable = False
        return v

    def __bool__(self):
        return bool(self._v)

    def __int__(self):
        if ESCAPE_HOOKS:
            _escape(self, "int()")
        return int(self._v)

    def __float__(self):
        if ESCAPE_HOOKS:
            _escape(self, "float()")
        return float(self._v)

    def __complex__(self):
        return complex(self._v)

    def __index__(self):
        return self._v.__index__()

    def __repr__(self):
        v = self._v
        body = np.array2string(v, prefix="Tensor(", separator=", ")
        return f"Tensor({body}, dtype={v.dtype})"

    def __str__(self):
        return str(self._v)

    def __format__(self, spec):
        return format(self._v, spec)      # f"{loss:.4f}" works as for a NumPy scalar

    def _numpy_fallback(self, func, args, kwargs, name):
        """A NumPy function with no runtime op: run it on the arrays (eager only), wrap results."""
        return _from_numpy(func(*_to_numpy(args), **_to_numpy(kwargs)))

    def __reduce__(self):
        return (Tensor, (np.asarray(self._v),))


_alloc = type.__call__.__get__(Tensor)     # an empty Tensor, made in C (see _TensorType)


def wrap(r) -> Tensor:
    if r.__class__ is not _ndarray:
        r = np.asarray(r)
    t = _alloc()
    t._v = r
    return t


def _coerce(a):
    """Eager input that is not a Tensor: NumPy arrays and Python scalars pass; lists become arrays."""
    if isinstance(a, _PASS_THROUGH) or a is None:
        return a
    if isinstance(a, (list, tuple)):
        return np.asarray(a)
    if isinstance(a, ArrayMethods):   # a Tracer here means it escaped its trace
        loc = user_location()
        graph = getattr(getattr(a, "_trace", None), "graph", None)
        raise TracerLeakError(
            f"a traced value ({a!r}) was used outside the function that was being traced"
            f"{f' (`{graph.name}`)' if graph is not None else ''}{f' at {loc}' if loc else ''}. "
            "Return it from the function instead of storing it in an outside variable.")
    raise TypeError(f"expected a tensor, a NumPy array or a number, got {type(a).__name__}")


class EagerInterpreter(Interpreter):
    """Runs each op's NumPy impl at once."""

    def process(self, op, args, params):
        try:
            vals = [a._v if type(a) is Tensor else _coerce(a) for a in args]
            r = op.impl(*vals, **params)
        except Exception as e:
            raise op_error(op.name, args, params, e, user_location(), "in eager mode") from e
        if op.movement and any(type(a) is _ndarray and a.flags.writeable for a in args):
            # a view of the caller's writable array would change when they write into it
            r = tuple(map(np.array, r)) if op.multiple_results else np.array(r)
        if op.multiple_results:
            return tuple(wrap(x) for x in r)
        return wrap(r)

    def process1(self, op, x):
        try:
            r = op.impl(x._v if type(x) is Tensor else _coerce(x))
        except Exception as e:
            raise op_error(op.name, (x,), {}, e, user_location(), "in eager mode") from e
        if r.__class__ is not _ndarray:
            r = np.asarray(r)
        t = _alloc()
        t._v = r
        return t

    def process2(self, op, x, y):
        try:
            r = op.impl(x._v if type(x) is Tensor else _coerce(x),
                        y._v if type(y) is Tensor else _coerce(y))
        except Exception as e:
            raise op_error(op.name, (x, y), {}, e, user_location(), "in eager mode") from e
        if r.__class__ is not _ndarray:
            r = np.asarray(r)
        t = _alloc()
        t._v = r
        return t


EAGER = EagerInterpreter()
core.set_base_interpreter(EAGER)


# -- the eager interpreter's inline fast paths --------------------------------------------------
# `t * u` on small eager tensors is the hottest path in the runtime, and on these machines each
# Python frame or module attribute lookup costs a tenth of a small ufunc. So the eager Tensor's
# operators carry EagerInterpreter.process2's body inline for the common operands (tensors and
# Python numbers), guarded by `_eager_on_top`, which core keeps equal to "the current interpreter
# is EAGER" on every push and pop: a trace or a gradient tape pushed on top still sees every op,
# and any other operand goes the generic way (EAGER.process2).

_eager_on_top = False

# The second guarded fast path: a recording interpreter (the gradient tape) sitting directly on
# EAGER. It declares `records_inline = True` and keeps `_rec` (its mark: a tensor it tracks has
# `t._tm is tape._rec`, or its id is in `_rec.ids`), `_append` (its records list's append) and
# `_note_nondiff(name)` (for nondiff ops on tracked values); the operators below then compute
# eagerly inline and record (op, out, x, y) as the tape's own process2 would, marking `out` as
# tracked. The first two are copied into `_tape_mark`, `_tape_append` (module globals are the
# cheapest to read); the tape calls `_track_top` again whenever it changes them.
_tape_on_eager = None
_tape_mark = None
_tape_append = None


def _tracked_slow(m, *xs) -> bool:
    """The whole test behind the inline `x._tm is m`: a tensor no tape has met yet has an empty
    `_tm` slot (it gets None, so its next test is fast), and a value whose mark another tape
    replaced (or a non-Tensor) is tracked if its id is in `m.ids`."""
    ids = m.ids
    hit = False
    for x in xs:
        if type(x) is Tensor:
            try:
                if x._tm is m:
                    hit = True
                    continue
            except AttributeError:
                x._tm = None
        if ids and id(x) in ids:
            hit = True
    return hit


def _track_top(interp) -> None:
    global _eager_on_top, _tape_on_eager, _tape_mark, _tape_append
    _eager_on_top = interp is EAGER
    if getattr(interp, "records_inline", False) and interp.parent is EAGER:
        _tape_on_eager, _tape_mark, _tape_append = interp, interp._rec, interp._append
    else:
        _tape_on_eager = _tape_mark = _tape_append = None


core.on_switch.append(_track_top)
_track_top(core._interp)


def _fast(op) -> bool:
    """Ops whose impl is a one-output ufunc take the inline path."""
    return isinstance(op.impl, np.ufunc) and op.impl.nout == 1


def _fail(op, args, e):
    return op_error(op.name, args, {}, e, user_location(), "in eager mode")


# NumPy's `**` on arrays is not quite np.power: `bool_array ** 2` squares (int8, not int64).
# The eager operator calls NumPy's operator itself (at C speed); traced code gets the same from
# surface._pow_as_numpy_operator.
_OPERATOR_IMPLS = {"__pow__": operator.pow, "__rpow__": operator.pow}


def _inline_method(name, op, swapped):
    """Tensor's operator `name` (`self <op> other`, or `other <op> self` when swapped)."""
    impl, nondiff = _OPERATOR_IMPLS.get(name, op.impl), op.nondiff
    if swapped:
        def method(self, other):
            if _eager_on_top:
                if type(other) is Tensor:
                    o = other._v
                elif type(other) is float or type(other) is int:
                    o = other
                else:
                    return EAGER.process2(op, other, self)
                try:
                    r = impl(o, self._v)
                except Exception as e:
                    raise _fail(op, (other, self), e) from e
                if r.__class__ is not _ndarray:   # a NumPy scalar, from 0-d inputs
                    r = np.asarray(r)
                t = _alloc()
                t._v = r
                return t
            m = _tape_mark
            if m is not None:                  # the same, recorded (see _tape_on_eager)
                if type(other) is Tensor:
                    o = other._v
                elif type(other) is float or type(other) is int:
                    o = other
                else:
                    return _tape_on_eager.process2(op, other, self)
                try:
                    r = impl(o, self._v)
                except Exception as e:
                    raise _fail(op, (other, self), e) from e
                if r.__class__ is not _ndarray:
                    r = np.asarray(r)
                t = _alloc()
                t._v = r
                try:
                    hit = (self._tm is m or (type(other) is Tensor and other._tm is m)
                           or (m.ids and _tracked_slow(m, other, self)))
                except AttributeError:            # a tensor no tape has met yet
                    hit = _tracked_slow(m, other, self)
                if hit and not nondiff:
                    t._tm = m
                    _tape_append((op, t, other, self))
                else:
                    t._tm = None
                    if hit:
                        _tape_on_eager._note_nondiff(op.name)
                return t
            return core._interp.process2(op, other, self)
    else:
        def method(self, other):
            if _eager_on_top:
                if type(other) is Tensor:
                    o = other._v
                elif type(other) is float or type(other) is int:
                    o = other
                else:
                    return EAGER.process2(op, self, other)
                try:
                    r = impl(self._v, o)
                except Exception as e:
                    raise _fail(op, (self, other), e) from e
                if r.__class__ is not _ndarray:   # a NumPy scalar, from 0-d inputs
                    r = np.asarray(r)
                t = _alloc()
                t._v = r
                return t
            m = _tape_mark
            if m is not None:                  # the same, recorded (see _tape_on_eager)
                if type(other) is Tensor:
                    o = other._v
                elif type(other) is float or type(other) is int:
                    o = other
                else:
                    return _tape_on_eager.process2(op, self, other)
                try:
                    r = impl(self._v, o)
                except Exception as e:
                    raise _fail(op, (self, other), e) from e
                if r.__class__ is not _ndarray:
                    r = np.asarray(r)
                t = _alloc()
                t._v = r
                try:
                    hit = (self._tm is m or (type(other) is Tensor and other._tm is m)
                           or (m.ids and _tracked_slow(m, self, other)))
                except AttributeError:            # a tensor no tape has met yet
                    hit = _tracked_slow(m, self, other)
                if hit and not nondiff:
                    t._tm = m
                    _tape_append((op, t, self, other))
                else:
                    t._tm = None
                    if hit:
                        _tape_on_eager._note_nondiff(op.name)
                return t
            return core._interp.process2(op, self, other)
    method.__name__ = method.__qualname__ = name
    return method


def _inline_unary_method(name, op):
    impl, nondiff = op.impl, op.nondiff

    def method(self):
        if _eager_on_top:
            try:
                r = impl(self._v)
            except Exception as e:
                raise _fail(op, (self,), e) from e
            if r.__class__ is not _ndarray:   # a NumPy scalar, from 0-d inputs
                r = np.asarray(r)
            t = _alloc()
            t._v = r
            return t
        m = _tape_mark
        if m is not None:                      # the same, recorded (see _tape_on_eager)
            try:
                r = impl(self._v)
            except Exception as e:
                raise _fail(op, (self,), e) from e
            if r.__class__ is not _ndarray:
                r = np.asarray(r)
            t = _alloc()
            t._v = r
            try:
                hit = self._tm is m or (m.ids and _tracked_slow(m, self))
            except AttributeError:            # a tensor no tape has met yet
                hit = _tracked_slow(m, self)
            if hit and not nondiff:
                t._tm = m
                _tape_append((op, t, self))
            else:
                t._tm = None
                if hit:
                    _tape_on_eager._note_nondiff(op.name)
            return t
        return core._interp.process1(op, self)

    method.__name__ = method.__qualname__ = name
    return method


def _inline_function1(op, generic):
    """The public function `rt.<op>(x)` (generic: the elementwise table's version, for its docs)."""
    impl, nondiff = op.impl, op.nondiff

    def fn(x, /):
        if _eager_on_top and type(x) is Tensor:
            try:
                r = impl(x._v)
            except Exception as e:
                raise _fail(op, (x,), e) from e
            if r.__class__ is not _ndarray:   # a NumPy scalar, from 0-d inputs
                r = np.asarray(r)
            t = _alloc()
            t._v = r
            return t
        m = _tape_mark
        if m is not None and type(x) is Tensor:
            try:
                r = impl(x._v)
            except Exception as e:
                raise _fail(op, (x,), e) from e
            if r.__class__ is not _ndarray:
                r = np.asarray(r)
            t = _alloc()
            t._v = r
            try:
                hit = x._tm is m or (m.ids and _tracked_slow(m, x))
            except AttributeError:            # a tensor no tape has met yet
                hit = _tracked_slow(m, x)
            if hit and not nondiff:
                t._tm = m
                _tape_append((op, t, x))
            else:
                t._tm = None
                if hit:
                    _tape_on_eager._note_nondiff(op.name)
            return t
        return core._interp.process1(op, x)

    fn.__name__, fn.__qualname__, fn.__doc__ = generic.__name__, generic.__qualname__, generic.__doc__
    fn.__module__ = generic.__module__
    return fn


def _inline_function2(op, generic):
    """The public function `rt.<op>(x1, x2)`."""
    impl, nondiff = op.impl, op.nondiff

    def fn(x1, x2, /):
        if _eager_on_top:
            if type(x1) is Tensor and type(x2) is Tensor:
                a, b = x1._v, x2._v
            elif type(x1) is Tensor and (type(x2) is float or type(x2) is int):
                a, b = x1._v, x2
            else:
                return EAGER.process2(op, x1, x2)
            try:
                r = impl(a, b)
            except Exception as e:
                raise _fail(op, (x1, x2), e) from e
            if r.__class__ is not _ndarray:   # a NumPy scalar, from 0-d inputs
                r = np.asarray(r)
            t = _alloc()
            t._v = r
            return t
        m = _tape_mark
        if m is not None:                      # the same, recorded (see _tape_on_eager)
            if type(x1) is Tensor and type(x2) is Tensor:
                a, b = x1._v, x2._v
            elif type(x1) is Tensor and (type(x2) is float or type(x2) is int):
                a, b = x1._v, x2
            else:
                return _tape_on_eager.process2(op, x1, x2)
            try:
                r = impl(a, b)
            except Exception as e:
                raise _fail(op, (x1, x2), e) from e
            if r.__class__ is not _ndarray:
                r = np.asarray(r)
            t = _alloc()
            t._v = r
            try:
                hit = (x1._tm is m or (type(x2) is Tensor and x2._tm is m)
                       or (m.ids and _tracked_slow(m, x1, x2)))
            except AttributeError:            # a tensor no tape has met yet
                hit = _tracked_slow(m, x1, x2)
            if hit and not nondiff:
                t._tm = m
                _tape_append((op, t, x1, x2))
            else:
                t._tm = None
                if hit:
                    _tape_on_eager._note_nondiff(op.name)
            return t
        return core._interp.process2(op, x1, x2)

    fn.__name__, fn.__qualname__, fn.__doc__ = generic.__name__, generic.__qualname__, generic.__doc__
    fn.__module__ = generic.__module__
    return fn


def _install_fast_paths():
    for name, (op, swapped) in BINARY_OPERATORS.items():
        if _fast(op):
            setattr(Tensor, name, _inline_method(name, op, swapped))
    for name, op in UNARY_OPERATORS.items():
        if _fast(op):
            setattr(Tensor, name, _inline_unary_method(name, op))
    # rt.tanh, rt.add ...: the elementwise table's public functions, replaced in its namespace
    # before runtime/__init__ re-exports them (modules that imported one earlier keep the
    # generic version, which means the same, a frame slower).
    fast = {}
    for table, make in ((ew.UNARY_OPS, _inline_function1), (ew.BINARY_OPS, _inline_function2)):
        for name, op in table.items():
            generic = getattr(ew, name, None)
            if _fast(op) and generic is not None and getattr(generic, "__name__", None) == name:
                fast[generic] = make(op, generic)
    for attr, value in list(vars(ew).items()):     # the names and their aliases (power = pow)
        if callable(value) and value in fast:
            setattr(ew, attr, fast[value])


_install_fast_paths()


def _to_numpy(tree):
    if type(tree) is Tensor:
        return tree._v
    if isinstance(tree, (list, tuple)):
        return type(tree)(_to_numpy(t) for t in tree)
    if isinstance(tree, dict):
        return {k: _to_numpy(v) for k, v in tree.items()}
    return tree


def _from_numpy(tree):
    if isinstance(tree, (np.ndarray, np.generic)) and not isinstance(tree, (np.str_, np.bytes_)):
        return wrap(tree)
    if isinstance(tree, (list, tuple)) and not hasattr(tree, "_fields"):
        return type(tree)(_from_numpy(t) for t in tree)
    return tree
