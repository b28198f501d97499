"""Tests for scripts/pretrain_glyphs.py: the committed colour network of notebook 05 matches its
provenance, loads, and the script is deterministic (on a tiny data set, one epoch)."""
import importlib.util
import json

import numpy as np
import pytest

from cs231n_utils import transfer
from cs231n_utils.feature_cache import hash_arrays
from cs231n_utils.paths import ASSETS_DIR, REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "pretrain_glyphs.py"
NAME = "pretrained_glyphs"
TINY = dict(n_train=2, n_val=1, n_test=1, seed=0, size=32)     # 104 / 52 / 52 images


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("pretrain_glyphs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def provenance():
    return json.loads((ASSETS_DIR / f"{NAME}.json").read_text())


def test_committed_weights_match_their_checksums(provenance):
    path = ASSETS_DIR / f"{NAME}.npz"
    assert path.stat().st_size < 2 * 1024 * 1024
    assert transfer.file_sha256(path) == provenance["sha256"]
    weights = transfer.load_weights(path, expected_sha256=provenance["sha256"])
    assert hash_arrays(weights) == provenance["weights_sha256"]
    assert weights["conv1.W"].shape == (16, 3, 5, 5)
    for key in ("script", "seed", "pattern", "input_shape", "data", "data_sha256", "training",
                "val_accuracy", "test_accuracy", "normalisation", "oriented_trained",
                "oriented_init", "train_seconds"):
        assert key in provenance, key
    assert provenance["script"] == "scripts/pretrain_glyphs.py"


def test_the_committed_network_loads_and_reads_glyphs(script, provenance):
    model, meta = script.load()
    assert meta["sha256"] == provenance["sha256"]
    assert model.input_shape == (3, 32, 32) and model.output_shape == (52,)
    from cs231n_utils.glyphs import load_glyphs
    d = load_glyphs(0, 0, 3, seed=provenance["seed"], cache=False, workers=1)
    mean = np.array(provenance["normalisation"]["mean"])[None, :, None, None]
    std = np.array(provenance["normalisation"]["std"])[None, :, None, None]
    acc = model.accuracy((d["X_test"] - mean) / std, d["y_test"])
    assert acc > 0.4                  # far above chance (1/52) on letters it never saw


def test_provenance_records_the_scripts_settings_and_the_filter_numbers(script, provenance):
    assert provenance["pattern"] == script.PATTERN
    assert provenance["seed"] == script.SEED
    assert provenance["training"]["num_epochs"] == script.NUM_EPOCHS
    assert provenance["training"]["learning_rate"] == script.LEARNING_RATE
    weights = transfer.load_weights(ASSETS_DIR / f"{NAME}.npz")
    index = script.orientation_index(weights["conv1.W"])
    assert int((index >= script.ORIENTED).sum()) == provenance["oriented_trained"]
    init = script.orientation_index(script.build_model(provenance["seed"]).params["conv1.W"])
    assert int((init >= script.ORIENTED).sum()) == provenance["oriented_init"]


def test_orientation_index_of_a_grating_and_a_blob(script):
    x = np.arange(5)
    grating = np.cos(2 * np.pi * 2 * x / 5)[None, :] * np.ones((5, 1))
    yy, xx = np.mgrid[-2:3, -2:3]
    blob = np.exp(-(xx ** 2 + yy ** 2) / 2.0)
    index = script.orientation_index(np.stack([np.stack([grating] * 3), np.stack([blob] * 3)]))
    assert index[0] == pytest.approx(1.0) and index[1] == pytest.approx(0.0, abs=1e-9)


def test_same_seed_gives_identical_weights_and_files(script, tmp_path):
    m1, info1 = script.pretrain(seed=0, num_epochs=1, data_args=TINY)
    m2, info2 = script.pretrain(seed=0, num_epochs=1, data_args=TINY)
    assert hash_arrays(m1.state_dict()) == hash_arrays(m2.state_dict())
    info1.pop("train_seconds"), info2.pop("train_seconds")
    assert info1 == info2
    meta = script.write(m1, info1, tmp_path, seed=0, num_epochs=1)
    assert meta["sha256"] == transfer.file_sha256(tmp_path / f"{NAME}.npz")
    loaded, _ = script.load(tmp_path)
    assert hash_arrays(loaded.state_dict()) == hash_arrays(
        {k: v.astype(np.float64) for k, v in m1.state_dict().items()})
    ok, message = script.compare_with_committed(m1, tmp_path)
    assert ok and "identical" in message
    m1.params["fc1.b"][0] += 1e-3
    ok, message = script.compare_with_committed(m1, tmp_path)
    assert not ok and "DIFFER" in message


def test_a_candidate_is_finalised_into_the_same_files_as_a_direct_run(script, tmp_path, monkeypatch):
    for key, value in TINY.items():
        monkeypatch.setitem(script.DATA, key, value)
    monkeypatch.setattr(script, "NUM_EPOCHS", 1)
    info = script.run_candidate(tmp_path / "cand", script.UPDATE_RULE, script.LEARNING_RATE,
                                script.LR_DECAY, script.REG, 1)
    assert "test_accuracy" not in info                 # candidates never look at the test split
    meta = script.finalize(tmp_path / "cand", tmp_path / "out")
    direct, direct_info = script.pretrain(seed=script.SEED, num_epochs=1)
    assert meta["weights_sha256"] == hash_arrays(direct.state_dict())
    assert meta["test_accuracy"] == direct_info["test_accuracy"]
    assert meta["training"]["update_rule"] == script.UPDATE_RULE
    script.run_candidate(tmp_path / "other", "sgd_momentum", 1e-2, 0.9, 0.0, 1)
    with pytest.raises(SystemExit, match="defaults"):
        script.finalize(tmp_path / "other", tmp_path / "out2")


def test_provenance_records_the_update_rule_and_l2(script, provenance):
    assert provenance["training"]["update_rule"] == script.UPDATE_RULE
    assert provenance["training"]["reg"] == script.REG
    assert provenance["training"]["lr_decay"] == script.LR_DECAY
