"""Finite-difference gradient checks for any forward function.

For a forward function ``fun`` and an upstream gradient ``dout`` (the gradient of some
cost with respect to ``fun``'s output), the gradient of ``sum(fun(...) * dout)`` with
respect to each array input is what a correct backward returns. Central differences
estimate it one element at a time::

    d/dx[k] ~ (sum(fun(x + eps e_k) * dout) - sum(fun(x - eps e_k) * dout)) / (2 eps)

and :func:`relative_error` compares the two as the course does,
``||analytic - numeric|| / (||analytic|| + ||numeric||)``. Use float64 inputs, a random
(not all-ones) ``dout``, and inputs without exact ties for max-pooling.

Example
-------
>>> import numpy as np
>>> from cnnstep import conv_forward, conv_backward
>>> from cnnstep.gradcheck import check_gradients
>>> rng = np.random.default_rng(0)
>>> A, W, b = rng.normal(size=(2, 5, 5, 3)), rng.normal(size=(3, 3, 3, 4)), rng.normal(size=(1, 1, 1, 4))
>>> hp = {"stride": 2, "pad": 1}
>>> Z, cache = conv_forward(A, W, b, hp)
>>> dZ = rng.normal(size=Z.shape)
>>> dA, dW, db = conv_backward(dZ, cache)
>>> result = check_gradients(lambda A_prev, W, b: conv_forward(A_prev, W, b, hp),
...                          {"A_prev": A, "W": W, "b": b}, {"A_prev": dA, "W": dW, "b": db}, dZ)
>>> result.passed
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from cnnstep._kernels import checks as _checks

__all__ = ["numerical_gradient", "relative_error", "check_gradients", "check_blocks", "GradcheckResult"]

DEFAULT_EPS = 1e-6
DEFAULT_TOL = 1e-7


def _output(result) -> np.ndarray:
    """The forward's output: the first item when it returns ``(output, cache)``."""
    if isinstance(result, tuple):
        result = result[0]
    return np.asarray(result, dtype=np.float64)


def _float64_inputs(inputs: Mapping, func: str) -> dict:
    if not isinstance(inputs, Mapping):
        raise TypeError(f"{func}: inputs must be a dict of argument name -> value, got {_checks.show(inputs)}")
    return {
        name: (
            _checks.real_array(value, func, f"inputs[{name!r}]").astype(np.float64)
            if isinstance(value, np.ndarray)
            else value
        )
        for name, value in inputs.items()
    }


def numerical_gradient(fun: Callable, inputs: Mapping, wrt: str, dout, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Central-difference gradient of ``sum(fun(**inputs) * dout)`` with respect to ``inputs[wrt]``.

    Parameters
    ----------
    fun : callable
        Called as ``fun(**inputs)``; returns the output array, or a tuple whose first
        item is the output (as the blocks' ``(output, cache)``).
    inputs : dict of str -> value
        The arguments. Arrays are copied to float64 before being perturbed; the caller's
        arrays are never modified.
    wrt : str
        The name of the array input to differentiate with respect to.
    dout : ndarray, shape of fun's output
        The upstream gradient.
    eps : float
        The step of the central difference.

    Returns
    -------
    grad : ndarray of float64, shape of ``inputs[wrt]``
    """
    func = "numerical_gradient"
    values = _float64_inputs(inputs, func)
    if wrt not in values or not isinstance(values[wrt], np.ndarray):
        raise ValueError(
            f"{func}: wrt must name an array input, got {wrt!r}; array inputs: "
            f"{sorted(k for k, v in values.items() if isinstance(v, np.ndarray))}"
        )
    eps = _checks.positive_number(eps, func, "eps")
    dout = np.asarray(_checks.real_array(dout, func, "dout"), dtype=np.float64)
    x = values[wrt]
    grad = np.zeros_like(x)
    flat_x, flat_grad = x.reshape(-1), grad.reshape(-1)
    for k in range(flat_x.size):
        saved = flat_x[k]
        flat_x[k] = saved + eps
        plus = _output(fun(**values))
        flat_x[k] = saved - eps
        minus = _output(fun(**values))
        flat_x[k] = saved
        if plus.shape != dout.shape:
            raise ValueError(f"{func}: dout must have the shape of fun's output {plus.shape}, got {dout.shape}")
        flat_grad[k] = np.sum((plus - minus) * dout) / (2 * eps)
    return grad


def relative_error(analytic, numeric) -> float:
    """``||analytic - numeric|| / (||analytic|| + ||numeric||)``, 0.0 when both are zero."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"relative_error: the gradients differ in shape: {a.shape} vs {n.shape}")
    denominator = np.linalg.norm(a) + np.linalg.norm(n)
    if denominator == 0:
        return 0.0
    return float(np.linalg.norm(a - n) / denominator)


@dataclass
class GradcheckResult:
    """Relative error per checked input, and whether every one is within ``tol``."""

    errors: dict = field(default_factory=dict)
    tol: float = DEFAULT_TOL

    @property
    def passed(self) -> bool:
        # A NaN error (a NaN gradient) is a failure, never a pass.
        return all(err <= self.tol for err in self.errors.values())

    @property
    def worst(self) -> float:
        return max(self.errors.values(), default=0.0)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        lines = [f"{name:>12}: relative error {err:.3e}" for name, err in self.errors.items()]
        lines.append(f"{'passed' if self.passed else 'FAILED'} (tolerance {self.tol:.0e})")
        return "\n".join(lines)


def check_gradients(
    fun: Callable, inputs: Mapping, grads: Mapping, dout, *, eps: float = DEFAULT_EPS, tol: float = DEFAULT_TOL
) -> GradcheckResult:
    """Compare analytic gradients with finite differences.

    Parameters
    ----------
    fun : callable
        The forward, called as ``fun(**inputs)`` (see :func:`numerical_gradient`).
    inputs : dict of str -> value
        The forward's arguments.
    grads : dict of str -> ndarray
        The analytic gradient (from the backward under test) for each input to check,
        keyed by the input's name.
    dout : ndarray
        The upstream gradient the analytic gradients were computed with.
    eps, tol : float
        Finite-difference step; largest relative error that passes.

    Returns
    -------
    GradcheckResult
        ``.errors`` maps each name to its relative error; ``.passed`` is True when all are
        at most ``tol``; ``str(result)`` is a small report.
    """
    func = "check_gradients"
    if not isinstance(grads, Mapping) or not grads:
        raise TypeError(f"{func}: grads must be a non-empty dict of input name -> gradient, got {_checks.show(grads)}")
    result = GradcheckResult(tol=tol)
    for name, analytic in grads.items():
        if name not in inputs:
            raise ValueError(f"{func}: grads names {name!r}, which is not one of the inputs {sorted(inputs)}")
        analytic = _checks.real_array(analytic, func, f"grads[{name!r}]")
        expected = np.shape(inputs[name])
        if analytic.shape != expected:
            raise ValueError(
                f"{func}: grads[{name!r}] must have the shape of inputs[{name!r}] {expected}, got {analytic.shape}"
            )
        numeric = numerical_gradient(fun, inputs, name, dout, eps=eps)
        err = relative_error(analytic, numeric)
        result.errors[name] = err if np.isfinite(err) else float("inf")
    return result


# --------------------------------------------------------------------------- the blocks' own check

BLOCK_CASES = (
    ("conv stride 1, pad 0", (2, 5, 5, 3), (3, 3, 3, 4), {"stride": 1, "pad": 0}),
    ("conv stride 2, pad 1", (2, 7, 6, 2), (3, 3, 2, 3), {"stride": 2, "pad": 1}),
    ("conv 4x4 'same'", (2, 6, 5, 2), (4, 4, 2, 3), {"stride": 1, "pad": "same"}),
    ("conv 4x2, asymmetric pad", (1, 5, 6, 2), (4, 2, 2, 2), {"stride": (2, 1), "pad": ((2, 0), (1, 3))}),
)
POOL_CASES = (
    ("pool 2x2/2", (2, 4, 4, 2), {"f": 2, "stride": 2}),
    ("pool 3x3/1 (overlapping)", (2, 5, 5, 2), {"f": 3, "stride": 1}),
    ("pool 3x3/2 'same'", (2, 5, 6, 2), {"f": 3, "stride": 2, "pad": "same"}),
)


def check_blocks(seed: int = 0, tol: float = DEFAULT_TOL) -> list[tuple[str, GradcheckResult]]:
    """Check ``conv_backward`` and ``pool_backward`` (both modes) on small float64 cases.

    Returns a list of ``(case name, GradcheckResult)``; every result passes when the
    blocks are right.
    """
    from cnnstep import conv_backward, conv_forward, pool_backward, pool_forward

    rng = np.random.default_rng(_checks.seed(seed, "check_blocks"))
    _checks.positive_number(tol, "check_blocks", "tol")
    results = []
    for name, a_shape, w_shape, hp in BLOCK_CASES:
        A_prev, W = rng.normal(size=a_shape), rng.normal(size=w_shape)
        b = rng.normal(size=(1, 1, 1, w_shape[3]))
        Z, cache = conv_forward(A_prev, W, b, hp)
        dZ = rng.normal(size=Z.shape)
        dA, dW, db = conv_backward(dZ, cache)
        result = check_gradients(
            lambda A_prev, W, b, hp=hp: conv_forward(A_prev, W, b, hp),
            {"A_prev": A_prev, "W": W, "b": b},
            {"A_prev": dA, "W": dW, "b": db},
            dZ,
            tol=tol,
        )
        results.append((name, result))
    for name, shape, hp in POOL_CASES:
        # distinct values: max-pooling is differentiable away from ties
        A_prev = rng.permutation(np.arange(np.prod(shape), dtype=np.float64)).reshape(shape) / 10.0
        for mode in ("max", "average"):
            A, cache = pool_forward(A_prev, hp, mode=mode)
            dA = rng.normal(size=A.shape)
            dA_prev = pool_backward(dA, cache, mode=mode)
            result = check_gradients(
                lambda A_prev, hp=hp, mode=mode: pool_forward(A_prev, hp, mode=mode),
                {"A_prev": A_prev},
                {"A_prev": dA_prev},
                dA,
                tol=tol,
            )
            results.append((f"{name} {mode}", result))
    return results
