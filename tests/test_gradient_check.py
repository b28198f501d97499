"""Numerical gradients and rel_error: right on known functions, strict about dtypes and shapes."""
import numpy as np
import pytest

from cs231n_utils.gradient_check import (eval_numerical_gradient, eval_numerical_gradient_array,
                                         grad_check_sparse, rel_error)


def test_numerical_gradient_of_quadratic(rng):
    x = rng.standard_normal((3, 4))
    x0 = x.copy()
    grad = eval_numerical_gradient(lambda v: np.sum(v ** 2), x)
    assert rel_error(grad, 2 * x) < 1e-8
    np.testing.assert_array_equal(x, x0)         # x is restored after every perturbation


def test_numerical_gradient_of_array_function(rng):
    x = rng.standard_normal((2, 3))
    df = rng.standard_normal((2, 3))
    grad = eval_numerical_gradient_array(np.sin, x, df)
    assert rel_error(grad, np.cos(x) * df) < 1e-8
    A = rng.standard_normal((4, 2))
    df = rng.standard_normal((4, 3))
    grad = eval_numerical_gradient_array(lambda v: A @ v, x, df)
    assert rel_error(grad, A.T @ df) < 1e-8


def test_numerical_gradient_copies_outputs_that_alias_x(rng):
    # f returns x itself: the + and - evaluations must not end up as the same array
    x = rng.standard_normal(5)
    df = np.ones(5)
    assert rel_error(eval_numerical_gradient_array(lambda v: v, x, df), df) < 1e-8


def test_gradient_check_detects_a_wrong_gradient(rng):
    x = rng.standard_normal(6)
    numeric = eval_numerical_gradient(lambda v: np.sum(v ** 3), x)
    assert rel_error(numeric, 3 * x ** 2) < 1e-7
    assert rel_error(numeric, 2 * x ** 2) > 1e-2


def test_float32_is_refused():
    x = np.ones(3, dtype=np.float32)
    with pytest.raises(TypeError, match=r"x has dtype float32.*astype\(np.float64\)"):
        eval_numerical_gradient(np.sum, x)
    with pytest.raises(TypeError, match="float64"):
        eval_numerical_gradient_array(lambda v: v, x, np.ones(3))
    with pytest.raises(TypeError, match="numpy array"):
        eval_numerical_gradient(np.sum, [1.0, 2.0])


def test_grad_check_sparse(rng):
    x = rng.standard_normal((20, 30))
    f = lambda v: float(np.sum(np.tanh(v)))   # noqa: E731
    assert grad_check_sparse(f, x, 1 - np.tanh(x) ** 2, num_checks=15) < 1e-7
    assert grad_check_sparse(f, x, np.ones_like(x), num_checks=15) > 1e-3
    with pytest.raises(ValueError, match="analytic_grad has shape"):
        grad_check_sparse(f, x, np.ones((3, 3)))


def test_rel_error():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0                 # no division by zero
    assert rel_error(np.array([1e-12]), np.array([0.0])) == pytest.approx(1e-4)
    assert rel_error(np.empty(0), np.empty(0)) == 0.0
    assert rel_error([1, 2], [1, 2]) == 0.0
    with pytest.raises(ValueError, match=r"shapes differ, \(3,\) vs \(1, 3\)"):
        rel_error(np.zeros(3), np.zeros((1, 3)))
