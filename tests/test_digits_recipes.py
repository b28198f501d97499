"""scripts/digits_recipes.py and the files it committed (05's recipe, ensemble and filter sizes)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from cs231n_utils.paths import asset
from cs231n_utils.results import read_results
from cs231n_utils.transfer import file_sha256, load_weights

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("digits_recipes", ROOT / "scripts" / "digits_recipes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_results_match_the_script_settings_and_weights():
    s = _script()
    data = read_results(s.RESULTS_NAME, check=s.check_results, script="scripts/digits_recipes.py")
    assert data["recipe"]["pattern"] == s.PATTERN_BN and data["recipe"]["num_epochs"] == s.EPOCHS
    assert data["search"]["learning_rates"] == list(s.LEARNING_RATES)
    means = {float(lr): np.mean(a) for lr, a in data["search"]["best_val_acc"].items()}
    assert np.mean(data["search"]["best_val_acc"][str(data["recipe"]["learning_rate"])]) == max(means.values())
    assert data["ensemble"]["seeds"] == list(range(s.MEMBERS))
    for name, pattern in s.VARIANTS.items():
        assert data["filter_sizes"][name]["pattern"] == pattern
        assert len(data["filter_sizes"][name]["val_acc"]) == s.NUM_SEEDS
    path = asset(s.WEIGHTS_NAME)
    assert path.stat().st_size < 2_000_000
    assert file_sha256(path) == data["weights_sha256"]
    weights = load_weights(path, expected_sha256=data["weights_sha256"])
    assert {k.split(".", 1)[0] for k in weights} == {f"m{i}" for i in range(s.MEMBERS)}


def test_check_results_refuses_a_broken_file():
    s = _script()
    data = read_results(s.RESULTS_NAME)
    data["recipe"]["learning_rate"] = 0.3
    with pytest.raises(ValueError, match="learning rate"):
        s.check_results(data)
