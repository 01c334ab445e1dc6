"""Automatic differentiation: a gradient tape that records on top of eager or tracing, and the
functional API (grad, value_and_grad, vjp, stop_gradient) built on it."""
from .tape import GradientTape, NoneGradientWarning, NotDifferentiableError  # noqa: F401
from .backward import backward, rule_for, unbroadcast  # noqa: F401
from .api import grad, stop_gradient, value_and_grad, vjp  # noqa: F401
