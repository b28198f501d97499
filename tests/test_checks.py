"""The shared input checks: one integer check, settings dicts, arrays."""
import numpy as np
import pytest

from cs231n_utils import checks


@pytest.mark.parametrize("value", [3, np.int64(3), np.int8(3)])
def test_check_int_accepts_integers(value):
    assert checks.check_int(value, "n", 1, 5) == 3
    assert type(checks.check_int(value, "n")) is int


@pytest.mark.parametrize("value", [True, 3.0, "3", None, np.float64(3)])
def test_check_int_refuses_non_integers(value):
    with pytest.raises(TypeError, match=r"n must be an integer, got"):
        checks.check_int(value, "n")


def test_check_int_bounds_name_the_limit():
    with pytest.raises(ValueError, match=r"n must be >= 1, got 0"):
        checks.check_int(0, "n", 1)
    with pytest.raises(ValueError, match=r"n must be <= 5, got 6"):
        checks.check_int(6, "n", 1, 5)


def test_int_setting_names_the_dict_and_key():
    assert checks.int_setting({"stride": 2}, "stride", 1, 1, "conv_param") == 2
    assert checks.int_setting({}, "stride", 1, 1, "conv_param") == 1
    with pytest.raises(ValueError, match=r"conv_param\['pad'\] must be >= 0, got -1"):
        checks.int_setting({"pad": -1}, "pad", 0, 0, "conv_param")
    with pytest.raises(ValueError, match=r"pool_param\['pool_height'\] is missing"):
        checks.int_setting({}, "pool_height", None, 1, "pool_param")


def test_check_keys_and_array():
    with pytest.raises(ValueError, match="unknown key 'strid'"):
        checks.check_keys({"strid": 1}, checks.CONV_KEYS, "conv_param")
    with pytest.raises(TypeError, match="astype"):
        checks.check_array(np.zeros((2, 2), dtype=int), "x")
    with pytest.raises(ValueError, match="1 NaN/inf"):
        checks.check_array(np.array([1.0, np.nan]), "x")
