"""Tests for cs231n_utils.filters: Gabor kernels, bar images, tuning, hand-made 3x3 filters."""
import numpy as np
import pytest

from cs231n_utils import filters
from cs231n_utils.filters import (HAND_FILTERS, UnknownFilterError, bar_image, complex_cell_response,
                                  gabor_kernel, get_filter, orientation_tuning, simple_cell_map)

ANGLES = np.arange(0, 180, 15)


# ---- gabor_kernel ---------------------------------------------------------------------------

def test_gabor_shape_dtype_and_zero_mean():
    k = gabor_kernel(15, 30, wavelength=6, sigma=3)
    assert k.shape == (15, 15)
    assert k.dtype == np.float64
    assert abs(k.mean()) < 1e-12
    k_raw = gabor_kernel(15, 30, wavelength=6, sigma=3, zero_mean=False)
    assert k_raw.mean() > 1e-3  # cosine-phase Gabor has a positive centre lobe
    assert np.allclose(k, k_raw - k_raw.mean())


def test_gabor_even_phase_has_bright_centre_and_is_symmetric():
    k = gabor_kernel(11, 0, wavelength=6, sigma=2.5, zero_mean=False)
    assert k[5, 5] == pytest.approx(1.0)
    assert k[5, 5] == k.max()
    assert np.allclose(k, k[::-1, ::-1])  # even filter: point symmetric


def test_gabor_odd_phase_is_antisymmetric():
    k = gabor_kernel(11, 45, wavelength=6, sigma=2.5, phase=90, zero_mean=False)
    assert np.allclose(k, -k[::-1, ::-1], atol=1e-12)


def test_gabor_orientation_vertical_stripes_constant_down_columns():
    # theta = 90: a vertical-bar detector; with gamma tiny the envelope barely changes
    # along the stripes, so every column varies little from row to row compared with across.
    k = gabor_kernel(15, 90, wavelength=6, sigma=3, gamma=1e-3, zero_mean=False)
    assert np.abs(np.diff(k, axis=0)).max() < 1e-6
    assert np.abs(np.diff(k, axis=1)).max() > 0.1


def test_gabor_rotating_by_90_matches_rot90():
    k0 = gabor_kernel(13, 0, wavelength=5, sigma=2.5, gamma=0.5)
    k90 = gabor_kernel(13, 90, wavelength=5, sigma=2.5, gamma=0.5)
    assert np.allclose(np.rot90(k0), k90, atol=1e-12)


def test_gabor_orientation_is_periodic_180():
    assert np.allclose(gabor_kernel(9, 20, 5, 2), gabor_kernel(9, 200, 5, 2), atol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"wavelength": 0}, "wavelength"),
    ({"sigma": -1}, "sigma"),
    ({"gamma": 0}, "gamma"),
    ({"wavelength": float("nan")}, "wavelength"),
])
def test_gabor_bad_parameters_name_the_argument(kwargs, match):
    args = {"size": 9, "theta": 0, "wavelength": 5, "sigma": 2}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        gabor_kernel(**args)


@pytest.mark.parametrize("size", [2, 0, -3])
def test_gabor_too_small(size):
    with pytest.raises(ValueError, match="at least 3"):
        gabor_kernel(size, 0, 5, 2)


@pytest.mark.parametrize("size", [9.0, "9", True])
def test_gabor_size_must_be_int(size):
    with pytest.raises(TypeError, match="size"):
        gabor_kernel(size, 0, 5, 2)


def test_gabor_wavelength_must_be_number():
    with pytest.raises(TypeError, match="wavelength"):
        gabor_kernel(9, 0, "five", 2)


# ---- bar_image -------------------------------------------------------------------------------

def test_bar_horizontal_and_vertical():
    h = bar_image(9, 0, width=1)
    assert h.dtype == np.float64
    assert np.array_equal(h[4], np.ones(9))
    assert h.sum() == pytest.approx(9.0)
    v = bar_image(9, 90, width=1)
    assert np.allclose(v, h.T)
    assert np.array_equal(v[:, 4], np.ones(9))


def test_bar_diagonal_goes_bottom_left_to_top_right():
    d = bar_image(9, 45, width=1)
    # counter-clockwise as displayed: the bar rises to the right, so it passes (0, 8) and (8, 0)
    assert d[0, 8] > 0.5 and d[8, 0] > 0.5
    assert d[0, 0] == 0 and d[8, 8] == 0


def test_bar_values_in_unit_interval_and_width_scales_area():
    thin = bar_image(21, 30, width=1)
    thick = bar_image(21, 30, width=3)
    assert thin.min() >= 0 and thick.max() <= 1
    assert thick.sum() > 2.5 * thin.sum()


def test_bar_length_and_center():
    short = bar_image(15, 0, width=1, length=5)
    assert short.sum() == pytest.approx(5.0)
    assert np.array_equal(np.nonzero(short[7])[0], np.arange(5, 10))
    moved = bar_image(15, 0, width=1, center=(3, 7))
    assert np.array_equal(moved[3], np.ones(15))
    assert moved[7].sum() == 0


def test_bar_errors():
    with pytest.raises(ValueError, match="width"):
        bar_image(9, 0, width=0)
    with pytest.raises(ValueError, match="length"):
        bar_image(9, 0, width=1, length=-2)
    with pytest.raises(ValueError, match="center"):
        bar_image(9, 0, width=1, center=(1, 2, 3))


# ---- orientation_tuning ------------------------------------------------------------------------

@pytest.mark.parametrize("theta", [0, 30, 45, 60, 90, 105, 135, 165])
def test_tuning_peaks_at_own_angle(theta):
    k = gabor_kernel(15, theta, wavelength=6, sigma=3, gamma=0.5)
    r = orientation_tuning(k, ANGLES)
    assert ANGLES[np.argmax(r)] == theta
    # and the orthogonal bar gives a much weaker response
    ortho = (theta + 90) % 180
    assert r[list(ANGLES).index(ortho)] < 0.2 * r.max()


def test_tuning_matches_manual_dot_product():
    k = gabor_kernel(11, 20, 5, 2.5)
    r = orientation_tuning(k, [20, 110], width=2)
    assert r[0] == pytest.approx(np.sum(k * bar_image(11, 20, 2)))
    assert r[1] == pytest.approx(np.sum(k * bar_image(11, 110, 2)))


def test_tuning_rectify():
    k = gabor_kernel(15, 45, 6, 3, gamma=0.5)
    raw = orientation_tuning(k, ANGLES)
    rect = orientation_tuning(k, ANGLES, rectify=True)
    assert raw.min() < 0
    assert np.array_equal(rect, np.maximum(raw, 0))


def test_tuning_errors():
    with pytest.raises(ValueError, match="square"):
        orientation_tuning(np.zeros((3, 4)), [0])
    with pytest.raises(ValueError, match="angles"):
        orientation_tuning(np.zeros((3, 3)), [])


# ---- simple / complex cells ------------------------------------------------------------------

def test_simple_cell_map_matches_loops(rng):
    img = rng.standard_normal((8, 10))
    k = rng.standard_normal((3, 4))
    out = simple_cell_map(k, img, rectify=False)
    assert out.shape == (6, 7)
    ref = np.array([[np.sum(img[i:i + 3, j:j + 4] * k) for j in range(7)] for i in range(6)])
    assert np.allclose(out, ref)
    assert np.allclose(simple_cell_map(k, img), np.maximum(ref, 0))


def test_simple_cell_map_errors():
    with pytest.raises(ValueError, match="smaller than the kernel"):
        simple_cell_map(np.zeros((5, 5)), np.zeros((4, 9)))
    with pytest.raises(ValueError, match="2-D"):
        simple_cell_map(np.zeros((3, 3, 3)), np.zeros((9, 9)))


def test_complex_cell_is_position_invariant_but_orientation_selective():
    k = gabor_kernel(11, 90, wavelength=6, sigma=2.5, gamma=0.5)
    # a vertical bar at different columns: the complex cell responds the same
    responses = [complex_cell_response(k, bar_image(31, 90, 2, center=(15, c))) for c in (8, 15, 22)]
    assert max(responses) - min(responses) < 1e-9
    # while the simple cell at the centre only fires when the bar is under it
    centre = [simple_cell_map(k, bar_image(31, 90, 2, center=(15, c)))[10, 10] for c in (8, 15, 22)]
    assert centre[1] > 5 * max(centre[0], centre[2], 1e-9)
    # a horizontal bar drives it far less
    assert complex_cell_response(k, bar_image(31, 0, 2)) < 0.2 * responses[0]


# ---- hand-made filters ---------------------------------------------------------------------------

def test_hand_filters_names_and_dtype():
    assert set(HAND_FILTERS) == {"identity", "sobel_x", "sobel_y", "laplacian", "box_blur",
                                 "gaussian_blur", "sharpen"}
    for name, k in HAND_FILTERS.items():
        assert k.shape == (3, 3) and k.dtype == np.float64, name


def test_hand_filter_sums():
    # blurs and identity/sharpen keep brightness (sum 1); derivative filters ignore it (sum 0)
    for name in ("identity", "box_blur", "gaussian_blur", "sharpen"):
        assert HAND_FILTERS[name].sum() == pytest.approx(1.0), name
    for name in ("sobel_x", "sobel_y", "laplacian"):
        assert HAND_FILTERS[name].sum() == pytest.approx(0.0), name


def test_sobel_x_finds_vertical_edges():
    img = np.zeros((6, 6))
    img[:, 3:] = 1.0  # vertical edge: dark left, bright right
    gx = simple_cell_map(get_filter("sobel_x"), img, rectify=False)
    gy = simple_cell_map(get_filter("sobel_y"), img, rectify=False)
    assert gx.max() == pytest.approx(4.0)
    assert np.all(gy == 0)
    assert np.allclose(get_filter("sobel_y"), get_filter("sobel_x").T)


def test_identity_filter_returns_image(rng):
    img = rng.standard_normal((5, 5))
    out = simple_cell_map(get_filter("identity"), img, rectify=False)
    assert np.allclose(out, img[1:-1, 1:-1])


def test_hand_filters_read_only_and_get_filter_copies():
    with pytest.raises(ValueError):
        HAND_FILTERS["sharpen"][0, 0] = 7.0
    k = get_filter("sharpen")
    k[0, 0] = 7.0
    assert HAND_FILTERS["sharpen"][0, 0] == 0.0


def test_get_filter_unknown_lists_valid_names():
    with pytest.raises(KeyError) as info:
        get_filter("sobel")
    msg = str(info.value)
    assert msg.startswith("unknown filter 'sobel'")
    for name in HAND_FILTERS:
        assert name in msg
    with pytest.raises(ValueError):
        get_filter("blur")
    assert issubclass(UnknownFilterError, KeyError)


def test_module_all_is_importable():
    for name in filters.__all__:
        assert hasattr(filters, name)
