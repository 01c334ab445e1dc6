"""runtime: a NumPy tensor runtime with an eager mode and a traced, compiled graph mode.

>>> import numpy as np, runtime as rt
>>> x = rt.asarray(np.arange(6.0).reshape(2, 3))
>>> y = rt.tanh(x @ x.T) + 1            # eager: runs now
>>> f = rt.function(lambda a: rt.sum(rt.exp(a), axis=-1))
>>> f(x).shape                          # traced once, compiled, run
(2,)
"""
from . import tensor as _tensor  # installs the eager interpreter  # noqa: F401
from .core import OPS, Op, bind
from .dtypes import (bool_, complex64, complex128, float16, float32, float64, int8, int16, int32,
                     int64, uint8, uint16, uint32, uint64)
from .errors import (ConcretizationError, ImmutableTensorError, RuntimeOpError, SourceLoc,
                     TracerLeakError)
from .tensor import Tensor
from .tracing import Tracer, is_tracer
from .graph import Graph, GraphError, evaluate
from .function import Function, RetracingWarning, function, functions_run_eagerly, run_functions_eagerly
from .ops.elementwise import *  # noqa: F401,F403  (the elementwise table's public functions)
from .ops.elementwise import clip, power, where
from .ops.reduction import (all, any, argmax, argmin, cumsum, cumulative_sum, max, mean, min,
                            prod, std, sum, var)
from .ops.linalg import dot, matmul, matrix_transpose, outer, tensordot, vecdot
from .ops.movement import (broadcast_arrays, broadcast_to, concat, expand_dims, flip, moveaxis,
                           pad, permute_dims, ravel, repeat, reshape, split, squeeze, stack,
                           swapaxes, tile, transpose)
from .ops.creation import (arange, asarray, astype, eye, full, full_like, linspace, ones,
                           ones_like, zeros, zeros_like)
from .pytree import tree_map
from . import nn, random, passes  # noqa: E402
from .autodiff import (GradientTape, NoneGradientWarning, NotDifferentiableError, grad,  # noqa: E402
                       stop_gradient, value_and_grad, vjp)
from . import optim  # noqa: E402
from .control_flow import ControlFlowError, Range as range, cond, fori_loop, scan, while_loop  # noqa: E402,A001
from . import autograph, control_flow_vjp as _control_flow_vjp  # noqa: E402,F401
from .debug_print import print, set_print_hook, set_trace_hook  # noqa: E402,A001

concatenate = concat
array = asarray
abs = globals()["abs"]
pow = power
