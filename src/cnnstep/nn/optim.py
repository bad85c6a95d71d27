"""Optimizers: SGD with momentum, and Adam.

``step(params_and_grads)`` takes an iterable of ``(key, param, grad)`` triples -- what
``Sequential.params_and_grads()`` returns, keys such as ``"0.W"`` (layer index, parameter
name) -- and updates each ``param`` array in place. The optimizer's state (velocities,
moments) is kept per key, so the same optimizer must be given the same keys step after step.
"""

from __future__ import annotations

import math

import numpy as np

from cnnstep._kernels import checks as _checks

__all__ = ["Optimizer", "SGD", "Adam"]


def _number(
    value, func: str, name: str, low: float, high: float = math.inf, low_open: bool = True, high_open: bool = True
) -> float:
    """A real number in the interval (low, high) (ends open or closed as told)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{func}: {name} must be a number, got {_checks.show(value)}")
    value = float(value)
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (math.isfinite(value) and above and below):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{func}: {name} must be in {interval}, got {value!r}")
    return value


class Optimizer:
    """What SGD and Adam share: the learning rate, per-key state, the checks of a step."""

    def __init__(self, lr: float):
        self.lr = _number(lr, type(self).__name__, "lr", 0.0)
        self.state: dict = {}

    def config(self) -> dict:
        """A JSON-able dict: the optimizer's type and hyperparameters."""
        return {"type": type(self).__name__, **self._args()}

    def _args(self) -> dict:
        return {"lr": self.lr}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self._args().items())})"

    def _slots(self, key, param, grad, func: str, count: int) -> list:
        """Check one triple; return the ``count`` state arrays kept for ``key`` (zeros at first)."""
        if not isinstance(param, np.ndarray) or param.dtype.kind != "f":
            raise TypeError(
                f"{func}: the parameter {key!r} must be a float ndarray (updated in place), got {_checks.show(param)}"
            )
        if np.shape(grad) != param.shape:
            raise ValueError(
                f"{func}: the gradient of {key!r} must have the parameter's shape {param.shape}, got {np.shape(grad)}"
            )
        slots = self.state.get(key)
        if slots is None:
            slots = self.state[key] = [np.zeros_like(param) for _ in range(count)]
        elif slots[0].shape != param.shape:
            raise ValueError(
                f"{func}: the parameter {key!r} changed shape from {slots[0].shape} to {param.shape}; "
                f"use a new optimizer for a new model"
            )
        return slots

    def step(self, params_and_grads) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum::

        v <- momentum * v + grad
        param <- param - lr * v

    Parameters
    ----------
    lr : float > 0
    momentum : float in [0, 1)
        0 gives plain SGD.
    """

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__(lr)
        self.momentum = _number(momentum, "SGD", "momentum", 0.0, 1.0, low_open=False)

    def _args(self) -> dict:
        return {"lr": self.lr, "momentum": self.momentum}

    def step(self, params_and_grads) -> None:
        """Update every ``param`` of the ``(key, param, grad)`` triples in place."""
        for key, param, grad in params_and_grads:
            (velocity,) = self._slots(key, param, grad, "SGD.step", 1)
            velocity *= self.momentum
            velocity += grad
            param -= self.lr * velocity


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), with bias-corrected moments::

        m <- beta1 * m + (1 - beta1) * grad
        v <- beta2 * v + (1 - beta2) * grad**2
        param <- param - lr * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps)

    ``t`` counts the steps taken for each key.

    Parameters
    ----------
    lr : float > 0
    beta1, beta2 : float in [0, 1)
    eps : float > 0
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1 = _number(beta1, "Adam", "beta1", 0.0, 1.0, low_open=False)
        self.beta2 = _number(beta2, "Adam", "beta2", 0.0, 1.0, low_open=False)
        self.eps = _number(eps, "Adam", "eps", 0.0)
        self.steps: dict = {}

    def _args(self) -> dict:
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def step(self, params_and_grads) -> None:
        """Update every ``param`` of the ``(key, param, grad)`` triples in place."""
        for key, param, grad in params_and_grads:
            m, v = self._slots(key, param, grad, "Adam.step", 2)
            t = self.steps[key] = self.steps.get(key, 0) + 1
            m *= self.beta1
            m += (1 - self.beta1) * grad
            v *= self.beta2
            v += (1 - self.beta2) * np.square(grad)
            m_hat = m / (1 - self.beta1**t)
            v_hat = v / (1 - self.beta2**t)
            param -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
