"""Numerical gradients (数值梯度) and the relative error used to compare them with analytic ones.

Centred differences: df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2h), error O(h^2).
In float64 with h = 1e-5 a correct backward pass agrees to a relative error around 1e-8 or
better; 1e-2 or worse almost always means a bug.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["eval_numerical_gradient", "eval_numerical_gradient_array", "rel_error",
           "grad_check_sparse"]


def _require_float64(x: np.ndarray, name: str) -> None:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}")
    if x.dtype != np.float64:
        raise TypeError(f"{name} has dtype {x.dtype}; numerical gradients need float64 "
                        f"(use {name}.astype(np.float64))")


def eval_numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray,
                            h: float = 1e-5) -> np.ndarray:
    """Gradient of a scalar function `f` at `x` (any shape) by centred differences.

    `x` is perturbed in place and restored, so `f` must read it each call. Returns an array
    with the shape of `x`.
    """
    _require_float64(x, "x")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        fxph = float(f(x))
        x[ix] = old - h
        fxmh = float(f(x))
        x[ix] = old
        grad[ix] = (fxph - fxmh) / (2 * h)
        it.iternext()
    return grad


def eval_numerical_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                                  df: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Gradient of sum(f(x) * df) with respect to `x`, for an array-valued `f`.

    This is what a backward pass computes when the upstream gradient is `df` (same shape as
    `f(x)`). Returns an array with the shape of `x`.
    """
    _require_float64(x, "x")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = old - h
        neg = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def grad_check_sparse(f: Callable[[np.ndarray], float], x: np.ndarray, analytic_grad: np.ndarray,
                      num_checks: int = 10, h: float = 1e-5, seed: int = 0) -> float:
    """Compare `analytic_grad` with centred differences at `num_checks` random entries.

    Returns the largest relative error seen. Cheap enough for big parameter arrays.
    """
    _require_float64(x, "x")
    if analytic_grad.shape != x.shape:
        raise ValueError(f"analytic_grad has shape {analytic_grad.shape} but x has {x.shape}")
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(num_checks):
        ix = tuple(int(rng.integers(n)) for n in x.shape)
        old = x[ix]
        x[ix] = old + h
        fxph = float(f(x))
        x[ix] = old - h
        fxmh = float(f(x))
        x[ix] = old
        num = (fxph - fxmh) / (2 * h)
        ana = float(analytic_grad[ix])
        worst = max(worst, abs(num - ana) / max(1e-8, abs(num) + abs(ana)))
    return worst


def rel_error(x, y) -> float:
    """Largest elementwise relative error max |x - y| / max(1e-8, |x| + |y|).

    Raises ValueError when the shapes differ (a silent broadcast would hide a bug).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error: shapes differ, {x.shape} vs {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))
