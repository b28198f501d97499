"""Winograd's F(2x2, 3x3): the teaching helpers compute the same numbers as a direct
convolution, with the multiply counts the notebook quotes."""
import numpy as np
import pytest

from cs231n_utils import winograd as WG


def test_1d_two_outputs_with_four_multiplies(rng):
    d, g = rng.standard_normal(4), rng.standard_normal(3)
    y, products = WG.winograd_1d(d, g)
    direct = [d[0] * g[0] + d[1] * g[1] + d[2] * g[2], d[1] * g[0] + d[2] * g[1] + d[3] * g[2]]
    np.testing.assert_allclose(y, direct, rtol=1e-14)
    assert products.shape == (4,)


def test_tile_equals_direct_cross_correlation(rng):
    d, g = rng.standard_normal((4, 4)), rng.standard_normal((3, 3))
    direct = np.array([[np.sum(d[i:i + 3, j:j + 3] * g) for j in range(2)] for i in range(2)])
    np.testing.assert_allclose(WG.winograd_tile(d, g), direct, rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="needs a 4x4 tile and a 3x3 filter"):
        WG.winograd_tile(d[:3], g)


def test_transforms_only_add_and_subtract():
    assert set(np.unique(WG.B_T)) <= {-1.0, 0.0, 1.0}
    assert set(np.unique(WG.A_T)) <= {-1.0, 0.0, 1.0}
    assert WG.B_T.shape == (4, 4) and WG.G.shape == (4, 3) and WG.A_T.shape == (2, 4)
    with pytest.raises(ValueError):
        WG.G[0, 0] = 2.0                                    # read-only constants


def test_multiply_counts():
    assert WG.multiply_count() == {"direct": 36, "winograd": 16, "saving": 2.25}
    assert WG.multiply_count(4, 3) == {"direct": 144, "winograd": 36, "saving": 4.0}
    with pytest.raises(ValueError, match="m must be an integer >= 1"):
        WG.multiply_count(0)
    layer = WG.layer_multiplies(64, 32, 32, 32, 64)
    assert layer["direct"] == 64 * 64 * 32 * 32 * 32 * 9
    assert layer["saving"] == pytest.approx(2.25)
    assert WG.layer_multiplies(1, 1, 7, 7, 1)["saving"] == pytest.approx(49 * 9 / (16 * 16))


def test_filter_transform_shape_and_values(rng):
    w = rng.standard_normal((5, 3, 3, 3))
    U = WG.filter_transform(w)
    assert U.shape == (4, 4, 5, 3)
    np.testing.assert_allclose(U[:, :, 2, 1], WG.G @ w[2, 1] @ WG.G.T, rtol=1e-14)
