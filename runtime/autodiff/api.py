"""Functional autodiff: `rt.grad`, `rt.value_and_grad`, `rt.vjp`, and `rt.stop_gradient`.

Each is a `GradientTape` used for one call: the arguments to differentiate are watched (as
fresh objects, so a closure over the same tensor stays a constant, as in JAX), the function
runs, and the backward pass is replayed. Eagerly that computes gradients now; inside
`rt.function` it writes the backward pass into the same graph as the forward pass.
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import core
from ..core import Op, bind
from ..pytree import flatten, unflatten
from .tape import GradientTape, NoneGradientWarning, NotDifferentiableError, _type_str, is_inexact

# -- stop_gradient ----------------------------------------------------------------------------

stop_gradient_op = Op(
    "stop_gradient", lambda x: x, lambda x: (getattr(x, "shape", ()), np.result_type(x)),
    vjp=(None,), emit="{0}", elementwise=True,
    doc="Identity whose gradient is zero. By the time a pass sees it the gradient has been "
        "taken (tapes run while tracing), so removing it from a traced graph is safe.")


def stop_gradient(x):
    """`x` itself, but gradients do not flow back through it (a constant to every tape).

    Works on a tensor or a list/tuple/dict of them.

    >>> import runtime as rt
    >>> rt.grad(lambda x: rt.sum(x * rt.stop_gradient(x)))(rt.asarray([3.0]))
    Tensor([3.], dtype=float64)
    """
    leaves, tree = flatten(x)
    return unflatten(tree, [bind(stop_gradient_op, leaf) for leaf in leaves])


# -- helpers ----------------------------------------------------------------------------------

def _outer_tapes():
    interp = core.current_interpreter()
    while interp is not None:
        if isinstance(interp, GradientTape):
            yield interp
        interp = interp.parent


def _fresh(x, where: str):
    """A new object for argument leaf `x`, so only the argument (not other uses of the same
    tensor, e.g. in a closure) is watched. If an outer tape follows `x`, the copy is made by an
    op, so the outer tape sees the link and can differentiate through us (higher order)."""
    from ..ops.creation import asarray
    from ..ops.elementwise import positive
    from ..surface import ArrayMethods
    from ..tensor import Tensor, wrap
    from ..tracing import Tracer, _make_tracer
    if not isinstance(x, ArrayMethods):
        if not isinstance(x, (int, float, complex, np.ndarray, np.generic)):
            raise TypeError(f"{where} is a {type(x).__name__}: only tensors, NumPy arrays and "
                            "numbers (or lists/tuples/dicts of them) can be differentiated")
        x = asarray(x)
    if not is_inexact(x):
        raise NotDifferentiableError(
            f"{where} is {_type_str(x)}: gradients exist only with respect to floating-point "
            "inputs (integer and boolean values are not differentiable). Pass it as a float "
            "(x.astype(rt.float64)), or leave it out of argnums")
    if any(t.tracks(x) for t in _outer_tapes()):
        return positive(x)
    if type(x) is Tensor:
        return wrap(x._v)
    if type(x) is Tracer:
        return _make_tracer(x._trace, x._val)
    return positive(x)


def _argnums(argnums, nargs, name):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for a in nums:
        if not -nargs <= a < nargs:
            raise ValueError(f"{name}: argnums {argnums!r} is out of range for {nargs} positional "
                             "argument(s)")
    return single, tuple(a % nargs for a in nums)


def _scalar_check(out, name):
    if not hasattr(out, "shape"):
        if isinstance(out, (int, float)):
            return
        raise TypeError(f"{name}: the function must return a scalar tensor, got {type(out).__name__}"
                        " (with has_aux=True it returns (scalar, aux))")
    if out.shape != ():
        raise TypeError(f"{name}: the function must return a scalar, got shape {out.shape}. "
                        "Reduce it (rt.sum / rt.mean), or use rt.vjp for non-scalar outputs")
    if not is_inexact(out):
        raise NotDifferentiableError(
            f"{name}: the function returns {_type_str(out)}: integer and boolean results are not "
            "differentiable (comparisons, argmax, casts to int ...)")


def _run_taped(fun, args, kwargs, nums, name, lenient=False):
    """Run fun with the leaves of args[nums] watched. -> (tape, out, per-argnum (leaves, tree,
    watched mask)). lenient (vjp): integer/boolean leaves pass through unwatched (cotangent None)
    instead of raising."""
    args = list(args)
    tape = GradientTape(persistent=True)
    watched = []
    for a in nums:
        leaves, tree = flatten(args[a])
        mask = [not lenient or is_inexact(x) or isinstance(x, float) for x in leaves]
        fresh = [_fresh(x, f"{name}: argument {a}" + (f" leaf {i}" if len(leaves) > 1 else ""))
                 if m else x for i, (x, m) in enumerate(zip(leaves, mask))]
        watched.append((fresh, tree, mask))
        args[a] = unflatten(tree, fresh)
    with tape:
        for fresh, _, mask in watched:
            tape.watch([x for x, m in zip(fresh, mask) if m])
        out = fun(*args, **kwargs)
    return tape, out, watched


def _regroup(watched, grads):
    """Per-argnum trees of gradients (None for leaves that were not watched)."""
    it = iter(grads)
    return [unflatten(tree, [next(it) if m else None for m in mask]) for _, tree, mask in watched]


def _warn_cut(tape, name):
    """A zero gradient because the argument's value left the runtime (.numpy(), float()):
    almost always a mistake, so say where it happened."""
    where = "".join(f"\n  - {how} on a value computed from the argument ({t}){f' at {loc}' if loc else ''}"
                    for how, t, loc in tape._cuts)
    warnings.warn(f"{name}: some gradients are zero because the path to the result was cut: the "
                  f"tape cannot follow NumPy arrays or Python numbers:{where}\n  Keep the "
                  "computation in rt operations to differentiate through it.",
                  NoneGradientWarning, stacklevel=3)


def _zeros_for(leaves):
    from ..ops.creation import zeros_like
    return [zeros_like(x) for x in leaves]


# -- value_and_grad / grad ----------------------------------------------------------------------

def value_and_grad(fun, argnums=0, has_aux=False):
    """A function returning `(fun(*args), gradient)` of a scalar-valued `fun`.

    argnums: which positional argument(s) to differentiate (int or tuple; a tuple gives a tuple
    of gradients). Arguments may be lists/tuples/dicts of tensors; gradients have the same
    structure. has_aux: `fun` returns `(value, aux)`; the result is `((value, aux), grad)`.

    >>> import runtime as rt
    >>> loss = lambda w: rt.sum(w ** 2)
    >>> rt.value_and_grad(loss)(rt.asarray([1.0, 2.0]))
    (Tensor(5., dtype=float64), Tensor([2., 4.], dtype=float64))
    """
    def value_and_grad_fn(*args, **kwargs):
        name = f"value_and_grad({getattr(fun, '__name__', 'f')})"
        single, nums = _argnums(argnums, len(args), name)
        tape, out, watched = _run_taped(fun, args, kwargs, nums, name)
        if has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise TypeError(f"{name}: has_aux=True needs the function to return (value, aux)")
            value, aux = out
        else:
            value = out
        _scalar_check(value, name)
        sources = [x for fresh, _, mask in watched for x, m in zip(fresh, mask) if m]
        grads = tape._gradient([value], sources, [None]) if hasattr(value, "shape") else [None] * len(sources)
        if tape._cuts and any(g is None for g in grads):
            _warn_cut(tape, name)
        tape._release()
        zeros = iter(_zeros_for([s for s, g in zip(sources, grads) if g is None]))
        per_arg = _regroup(watched, [next(zeros) if g is None else g for g in grads])
        g = per_arg[0] if single else tuple(per_arg)
        return ((value, aux), g) if has_aux else (value, g)

    value_and_grad_fn.__name__ = f"value_and_grad_{getattr(fun, '__name__', 'f')}"
    value_and_grad_fn.__doc__ = fun.__doc__
    return value_and_grad_fn


def grad(fun, argnums=0, has_aux=False):
    """The gradient of scalar-valued `fun` with respect to argument(s) `argnums`.

    Works eagerly and inside `rt.function` (the backward pass is then compiled and optimized
    with the forward pass), and nests: `rt.grad(rt.grad(f))` is the second derivative.

    >>> import runtime as rt
    >>> rt.grad(lambda x: rt.sum(rt.sin(x)))(rt.asarray([0.0]))
    Tensor([1.], dtype=float64)
    """
    vg = value_and_grad(fun, argnums, has_aux)

    def grad_fn(*args, **kwargs):
        out, g = vg(*args, **kwargs)
        return (g, out[1]) if has_aux else g

    grad_fn.__name__ = f"grad_{getattr(fun, '__name__', 'f')}"
    grad_fn.__doc__ = fun.__doc__
    return grad_fn


# -- vjp ----------------------------------------------------------------------------------------

def vjp(fun, *primals, has_aux=False):
    """Run `fun(*primals)` and return `(out, vjp_fn)` (plus `aux` with has_aux=True).

    `vjp_fn(cotangent)` (cotangent shaped like `out`) returns a tuple with one cotangent per
    primal, each shaped like that primal (None for integer or boolean primals, which are not
    differentiable; integer outputs take no part either). It can be called several times.

    >>> import runtime as rt
    >>> out, f_vjp = rt.vjp(lambda x: x * 3.0, rt.asarray([1.0, 2.0]))
    >>> f_vjp(rt.ones(2))
    (Tensor([3., 3.], dtype=float64),)
    """
    name = f"vjp({getattr(fun, '__name__', 'f')})"
    tape, out, watched = _run_taped(fun, primals, {}, tuple(range(len(primals))), name, lenient=True)
    if has_aux:
        out, aux = out
    out_leaves, out_tree = flatten(out)
    sources = [x for fresh, _, mask in watched for x, m in zip(fresh, mask) if m]

    def vjp_fn(cotangent):
        ct_leaves, ct_tree = flatten(cotangent)
        if ct_tree != out_tree:
            raise ValueError(f"{name}: the cotangent must have the structure of the output "
                             f"({len(out_leaves)} tensor(s) in {out_tree!r}), got {ct_tree!r}")
        for o, c in zip(out_leaves, ct_leaves):
            if getattr(o, "shape", ()) != getattr(c, "shape", ()):
                raise ValueError(f"{name}: cotangent shape {getattr(c, 'shape', ())} does not "
                                 f"match the output's {getattr(o, 'shape', ())}")
        pairs = [(o, c) for o, c in zip(out_leaves, ct_leaves) if is_inexact(o)]  # skip int outputs
        grads = tape._gradient([o for o, _ in pairs], sources, [c for _, c in pairs])
        zeros = iter(_zeros_for([s for s, g in zip(sources, grads) if g is None]))
        return tuple(_regroup(watched, [next(zeros) if g is None else g for g in grads]))

    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)
